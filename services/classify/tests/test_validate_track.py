"""ValidateTrack on a real classify server: the library's verdict, stored once, over the wire."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import soundfile as sf

from audiomodel import validate_bytes
from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.server import serve
from audioval_classify.settings import ClassifySettings
from audioval_corpus import threats
from audioval_corpus.samples import synth_music
from audioval_localstack import Emulator, provision
from audioval_localstack.ray_head import RayHead
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_servicekit import RunningServer


@pytest.fixture(scope="module")
def song() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, synth_music(4.0), 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def pipeline() -> Iterator[PipelineSettings]:
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        provision(settings, baseline_streams=1)
        yield settings


@pytest.fixture(scope="module")
def server(pipeline: PipelineSettings, ray_cluster: RayHead) -> Iterator[RunningServer]:
    running = serve(
        ClassifySettings(port=0, pipeline=pipeline, pool_size=1, ray_address=ray_cluster.address)
    )
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[classify_pb2_grpc.ClassifyServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield classify_pb2_grpc.ClassifyServiceStub(channel)


def test_the_verdict_over_the_wire_is_the_library_verdict(
    stub: classify_pb2_grpc.ClassifyServiceStub, song: bytes
) -> None:
    bad = threats.append_payload(song, threats.make_payload("elf", 8000))
    for content, track in ((song, "t-song"), (bad, "t-bad")):
        reply = stub.ValidateTrack(
            classify_pb2.ValidateTrackRequest(track_id=track, content=content, user_id="u1"),
            timeout=60,
        )
        local = validate_bytes(content)
        assert (
            verdict_pb2.Decision.Name(reply.verdict.decision)
            == f"DECISION_{local.decision.value.upper()}"
        )
        assert reply.verdict.score == pytest.approx(local.score)
        assert [f.code for f in reply.verdict.findings] == [f.code for f in local.findings]
        assert reply.verdict.track_id == track and reply.verdict.user_id == "u1"


def test_a_track_is_judged_once_and_get_verdict_returns_it(
    stub: classify_pb2_grpc.ClassifyServiceStub, song: bytes
) -> None:
    request = classify_pb2.ValidateTrackRequest(track_id="t-once", content=song, user_id="u1")
    first = stub.ValidateTrack(request, timeout=60).verdict
    second = stub.ValidateTrack(request, timeout=60).verdict
    assert first.judged_at == second.judged_at
    got = stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="t-once"), timeout=10)
    assert got.state == classify_pb2.TRACK_STATE_JUDGED and got.verdict == first


def test_a_pending_track_reads_as_pending(
    stub: classify_pb2_grpc.ClassifyServiceStub, pipeline: PipelineSettings
) -> None:
    DynamoVerdictStore(aws_client("dynamodb", pipeline), pipeline.verdict_table).mark_pending(
        "t-pending", "u2"
    )
    got = stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="t-pending"), timeout=10)
    assert got.state == classify_pb2.TRACK_STATE_PENDING and not got.HasField("verdict")


def test_content_that_does_not_match_its_sha256_is_data_loss(
    stub: classify_pb2_grpc.ClassifyServiceStub, song: bytes
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ValidateTrack(
            classify_pb2.ValidateTrackRequest(track_id="t-lie", content=song, sha256="0" * 64),
            timeout=30,
        )
    assert err.value.code() == grpc.StatusCode.DATA_LOSS


def test_garbage_gets_a_rejecting_verdict_not_an_error(
    stub: classify_pb2_grpc.ClassifyServiceStub,
) -> None:
    reply = stub.ValidateTrack(
        classify_pb2.ValidateTrackRequest(content=np.random.default_rng(1).bytes(5000)), timeout=30
    )
    assert reply.verdict.decision == verdict_pb2.DECISION_REJECT
    assert reply.verdict.track_id.startswith("sha_")


def test_the_first_stored_verdict_wins_in_dynamodb(pipeline: PipelineSettings) -> None:
    store = DynamoVerdictStore(aws_client("dynamodb", pipeline), pipeline.verdict_table)
    store.mark_pending("t-race", "u")
    first, new1 = store.put_if_absent(
        verdict_pb2.Verdict(track_id="t-race", decision=verdict_pb2.DECISION_ACCEPT)
    )
    second, new2 = store.put_if_absent(
        verdict_pb2.Verdict(track_id="t-race", decision=verdict_pb2.DECISION_REJECT)
    )
    assert (new1, new2) == (True, False)
    assert second.decision == verdict_pb2.DECISION_ACCEPT == first.decision


def _stream(
    header: classify_pb2.TrackHeader | None, content: bytes, chunk: int = 64 * 1024
) -> Iterator[classify_pb2.ValidateTrackStreamRequest]:
    if header is not None:
        yield classify_pb2.ValidateTrackStreamRequest(header=header)
    for start in range(0, len(content), chunk):
        yield classify_pb2.ValidateTrackStreamRequest(chunk=content[start : start + chunk])


def test_a_streamed_track_gets_the_verdict_of_the_same_bytes_inline(
    stub: classify_pb2_grpc.ClassifyServiceStub, song: bytes
) -> None:
    bad = threats.append_payload(song, threats.make_payload("zip", 30_000))
    header = classify_pb2.TrackHeader(
        track_id="t-streamed",
        user_id="u3",
        track_name="streamed.wav",
        sha256=hashlib.sha256(bad).hexdigest(),
        size_bytes=len(bad),
    )
    streamed = stub.ValidateTrackStream(_stream(header, bad), timeout=60).verdict
    inline = stub.ValidateTrack(
        classify_pb2.ValidateTrackRequest(track_id="t-inline", content=bad), timeout=60
    ).verdict
    assert streamed.track_id == "t-streamed" and streamed.user_id == "u3"
    assert streamed.decision == inline.decision == verdict_pb2.DECISION_REJECT
    assert [f.code for f in streamed.findings] == [f.code for f in inline.findings]
    assert streamed.sha256 == inline.sha256 and streamed.size_bytes == len(bad)


def test_a_malformed_stream_gets_a_precise_status(
    stub: classify_pb2_grpc.ClassifyServiceStub, song: bytes
) -> None:
    header = classify_pb2.TrackHeader(track_id="t-bad-stream", size_bytes=len(song))
    cases: list[tuple[Iterator[classify_pb2.ValidateTrackStreamRequest], grpc.StatusCode]] = [
        (_stream(None, song), grpc.StatusCode.INVALID_ARGUMENT),  # no header first
        (iter([]), grpc.StatusCode.INVALID_ARGUMENT),  # nothing at all
        (  # a second header
            iter([classify_pb2.ValidateTrackStreamRequest(header=header)] * 2),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (_stream(header, song[:-10]), grpc.StatusCode.DATA_LOSS),  # fewer bytes than announced
        (_stream(header, song + b"x"), grpc.StatusCode.INVALID_ARGUMENT),  # more than announced
        (
            _stream(classify_pb2.TrackHeader(track_id="t-huge", size_bytes=1 << 40), b""),
            grpc.StatusCode.OUT_OF_RANGE,
        ),
    ]
    for messages, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.ValidateTrackStream(messages, timeout=30)
        assert err.value.code() == code, err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.GetVerdict(classify_pb2.GetVerdictRequest(track_id="t-bad-stream"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, "nothing stored for a refused stream"
