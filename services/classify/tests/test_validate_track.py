"""ValidateTrack on a real classify server: the library's verdict, stored once, over the wire."""

from __future__ import annotations

import io
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import soundfile as sf

from audiomodel.corpus import threats
from audiomodel.corpus.samples import synth_music
from audiomodel.validator import validate_bytes
from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.server import serve
from audioval_classify.settings import ClassifySettings
from audioval_localstack import Emulator, provision
from audioval_localstack.ray_head import RayHead
from audioval_servicekit import PipelineSettings, RunningServer, aws_client


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
