"""What an operator sees of one upload: one trace across the three services, series that move.

The real ingest, rebuild and classify servers run in this process against the AWS emulator and
the session's Ray head, each serving /metrics on its own loopback port; the test records spans
with the OpenTelemetry SDK's in-memory exporter. One process means one Prometheus registry, so
each endpoint serves every service's series: the test scrapes each endpoint all the same, and
asserts on the series the service behind it moves.
"""

from __future__ import annotations

import io
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import grpc
import pytest
import soundfile as sf
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from audioval.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc, verdict_pb2
from audioval_classify.server import serve as serve_classify
from audioval_classify.settings import ClassifySettings
from audioval_corpus.samples import synth_music
from audioval_ingest.server import serve as serve_ingest
from audioval_ingest.settings import IngestSettings
from audioval_localstack import Emulator, provision
from audioval_localstack.emulator import free_port
from audioval_localstack.ray_head import RayHead
from audioval_pipeline.settings import PipelineSettings
from audioval_rebuild.server import RebuildService
from audioval_rebuild.server import serve as serve_rebuild
from audioval_rebuild.settings import RebuildSettings
from audioval_servicekit import RunningServer
from audioval_servicekit.tracing import grpc_metadata

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], within: float = 60.0) -> T:
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@dataclass
class Stack:
    ingest: RunningServer
    rebuild: RebuildService
    classify: RunningServer
    spans: InMemorySpanExporter


def _recording_spans() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="module")
def stack(ray_cluster: RayHead) -> Iterator[Stack]:
    spans = _recording_spans()
    with Emulator() as emulator:
        pipeline = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
        )
        provision(pipeline, baseline_streams=1)
        classify = serve_classify(
            ClassifySettings(
                port=0,
                metrics_port=free_port(),
                pipeline=pipeline,
                pool_size=1,
                ray_address=ray_cluster.address,
            )
        )
        rebuild = serve_rebuild(
            RebuildSettings(
                port=0,
                metrics_port=free_port(),
                pipeline=pipeline,
                classify_address=f"127.0.0.1:{classify.port}",
                receive_wait_s=1,
                workers=1,
            )
        )
        ingest = serve_ingest(IngestSettings(port=0, metrics_port=free_port(), pipeline=pipeline))
        try:
            yield Stack(ingest, rebuild, classify, spans)
        finally:
            ingest.stop(0)
            rebuild.stop(0)
            classify.stop(0)


def _song(seed: float = 1.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, synth_music(seed), 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _upload(
    stack: Stack,
    content: bytes,
    *,
    metadata: bool = True,
    call_metadata: list[tuple[str, str]] | None = None,
) -> str:
    def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
        if metadata:
            yield ingest_pb2.UploadTrackRequest(
                metadata=ingest_pb2.TrackMetadata(user_id="u-telemetry", track_name="song.wav")
            )
        yield ingest_pb2.UploadTrackRequest(chunk=content)

    with grpc.insecure_channel(f"127.0.0.1:{stack.ingest.port}") as channel:
        reply = ingest_pb2_grpc.IngestServiceStub(channel).UploadTrack(
            requests(), timeout=30, metadata=call_metadata or []
        )
    return str(reply.track_id)


def _verdict(stack: Stack, track_id: str) -> classify_pb2.GetVerdictResponse | None:
    with grpc.insecure_channel(f"127.0.0.1:{stack.classify.port}") as channel:
        reply = classify_pb2_grpc.ClassifyServiceStub(channel).GetVerdict(
            classify_pb2.GetVerdictRequest(track_id=track_id), timeout=5
        )
    return reply if reply.state == classify_pb2.TRACK_STATE_JUDGED else None


Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: RunningServer) -> Series:
    assert server.metrics is not None
    url = f"http://127.0.0.1:{server.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


def handled(series: Series, service: str, method: str, code: str) -> float:
    return value(
        series,
        "audioval_grpc_server_handling_seconds_count",
        grpc_service=f"audioval.v1.{service}",
        grpc_method=method,
        grpc_code=code,
    )


def test_one_uploads_spans_from_ingest_rebuild_and_classify_share_one_trace(
    stack: Stack,
) -> None:
    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span("bandcloud upload") as client:
        # The client's context goes with the call, as bandCloud's gRPC instrumentation sends it.
        track_id = _upload(stack, _song(), call_metadata=grpc_metadata())
    trace_id = client.get_span_context().trace_id
    eventually(lambda: _verdict(stack, track_id))

    def joined() -> list[ReadableSpan] | None:
        mine = [s for s in stack.spans.get_finished_spans() if s.context.trace_id == trace_id]
        names = {s.name for s in mine}
        wanted = {
            "audioval.v1.IngestService/UploadTrack",
            "rebuild.track",
            "rebuild.read_track",
            "audioval.v1.ClassifyService/ValidateTrackStream",
            "classify.validate",
        }
        return mine if wanted <= names else None

    spans = eventually(joined, within=30)
    by_name = {s.name: s for s in spans}
    ingest = by_name["audioval.v1.IngestService/UploadTrack"]
    assert ingest.parent is not None and ingest.parent.span_id == client.get_span_context().span_id
    rebuild = by_name["rebuild.track"]
    assert rebuild.parent is not None and rebuild.parent.span_id == ingest.context.span_id
    # Classify's server span is the child of rebuild's client span, itself in rebuild's span.
    server = [
        s
        for s in spans
        if s.name == "audioval.v1.ClassifyService/ValidateTrackStream"
        and s.kind is trace.SpanKind.SERVER
    ]
    (client_call,) = [
        s
        for s in spans
        if s.name == "audioval.v1.ClassifyService/ValidateTrackStream"
        and s.kind is trace.SpanKind.CLIENT
    ]
    assert client_call.parent is not None and client_call.parent.span_id == rebuild.context.span_id
    assert [s.parent.span_id for s in server if s.parent] == [client_call.context.span_id]
    assert by_name["classify.validate"].parent.span_id == server[0].context.span_id  # type: ignore[union-attr]


def test_an_upload_moves_each_services_series(stack: Stack) -> None:
    before = {
        "ingest": scrape(stack.ingest),
        "rebuild": scrape(stack.rebuild.server),
        "classify": scrape(stack.classify),
    }
    track_id = _upload(stack, _song(2.0))
    with pytest.raises(grpc.RpcError) as refused:
        _upload(stack, b"no metadata first", metadata=False)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    judged = eventually(lambda: _verdict(stack, track_id))
    decision = verdict_pb2.Decision.Name(judged.verdict.decision)
    decision = decision.removeprefix("DECISION_").lower()

    # rebuild settles the manifest just after classify answers: wait for its count.
    def rebuild_done() -> dict[str, float] | None:
        after = scrape(stack.rebuild.server)
        moved = value(after, "audioval_rebuild_manifests_total", outcome="judged") - value(
            before["rebuild"], "audioval_rebuild_manifests_total", outcome="judged"
        )
        return (
            {"judged": moved, "age": value(after, "audioval_rebuild_oldest_manifest_age_seconds")}
            if moved
            else None
        )

    assert eventually(rebuild_done, within=15) == {"judged": 1.0, "age": 0.0}

    ingest = scrape(stack.ingest)
    assert (
        handled(ingest, "IngestService", "UploadTrack", "OK")
        - handled(before["ingest"], "IngestService", "UploadTrack", "OK")
        == 1
    )
    assert (
        handled(ingest, "IngestService", "UploadTrack", "INVALID_ARGUMENT")
        - handled(before["ingest"], "IngestService", "UploadTrack", "INVALID_ARGUMENT")
        == 1
    )
    assert ingest.keys() & {("audioval_ingest_kinesis_put_retries_total", frozenset())}

    classify = scrape(stack.classify)
    old = before["classify"]
    assert (
        handled(classify, "ClassifyService", "ValidateTrackStream", "OK")
        - handled(old, "ClassifyService", "ValidateTrackStream", "OK")
        == 1
    )
    assert (
        value(classify, "audioval_verdicts_total", decision=decision)
        - value(old, "audioval_verdicts_total", decision=decision)
        == 1
    )
    assert (
        value(classify, "audioval_validator_stage_seconds_count", stage="total")
        - value(old, "audioval_validator_stage_seconds_count", stage="total")
        == 1
    )
    assert value(classify, "audioval_classify_pool_actors") == 1
    assert value(classify, "audioval_classify_pool_in_flight") == 0
    # No series names a user or a track.
    for name, labels in classify:
        assert not {k for k, _ in labels} & {"user_id", "track_id"}, name
        assert not any(v in {track_id, "u-telemetry"} for _, v in labels), name


def test_validate_track_calls_are_counted_under_the_status_each_got(stack: Stack) -> None:
    before = scrape(stack.classify)
    content = _song(3.0)
    with grpc.insecure_channel(f"127.0.0.1:{stack.classify.port}") as channel:
        classify = classify_pb2_grpc.ClassifyServiceStub(channel)
        classify.ValidateTrack(classify_pb2.ValidateTrackRequest(content=content), timeout=120)
        with pytest.raises(grpc.RpcError) as corrupted:
            classify.ValidateTrack(
                classify_pb2.ValidateTrackRequest(content=content, sha256="0" * 64), timeout=30
            )
    assert corrupted.value.code() is grpc.StatusCode.DATA_LOSS
    after = scrape(stack.classify)
    moved = {
        code: handled(after, "ClassifyService", "ValidateTrack", code)
        - handled(before, "ClassifyService", "ValidateTrack", code)
        for code in ("OK", "DATA_LOSS", "UNKNOWN")
    }
    assert moved == {"OK": 1, "DATA_LOSS": 1, "UNKNOWN": 0}
