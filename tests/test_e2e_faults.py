"""The funnel under AWS' bad days: 50 concurrent uploads through a local stack failing 20% of calls.

The services talk to the emulator through the fault layer: Kinesis' per-shard limits are
enforced (two one-shard streams, so the uploads contend for 2 MiB/s) and one AWS call in five
is answered with a throttle, a 500/503, or held past the client's read timeout. Every upload
must still end with exactly the verdict of the bytes that were sent.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf

from audioval.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from audioval_cli.stack import Stack, StackPorts, local_stack
from audioval_corpus.samples import synth_music

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UPLOADS = 50
FAULT_RATE = 0.2
# The services' AWS timeouts, shortened so a held request costs seconds, not the default 10 s
# (the proxy holds timeouts one second longer than this); a long poll must stay under it.
SERVICE_ENV = {
    "AUDIOVAL_AWS_READ_TIMEOUT_S": "4",
    "AUDIOVAL_REBUILD_RECEIVE_WAIT_S": "2",
    # A manifest that failed transiently comes back after 2 s rather than 10 s.
    "AUDIOVAL_REBUILD_RETRY_DELAY_S": "2",
    "AUDIOVAL_REBUILD_WORKERS": "4",
    # A worker handles the messages of one receive in turn: one at a time spreads the 50
    # manifests over the four workers instead of queueing ten behind one.
    "AUDIOVAL_REBUILD_RECEIVE_MAX_MESSAGES": "1",
    "AUDIOVAL_CLASSIFY_POOL_SIZE": "2",
    # Two one-shard streams (the local stack makes 4 shards a stream): the uploads contend.
    "AUDIOVAL_SHARDS_PER_STREAM": "1",
    # Ingest unpaced, so the shards must push back: a paced writer stays under the proxy's
    # limits, and whether its timing jitter ever crosses them depends on the machine's load
    # (a busy CI machine wrote 19 MB without one refusal). The pacer has its own tests.
    "AUDIOVAL_INGEST_SHARD_WRITE_BYTES_PER_S": "0",
    "AUDIOVAL_INGEST_SHARD_WRITE_RECORDS_PER_S": "0",
}
UPLOAD_TIMEOUT_S = 120.0
VERDICT_DEADLINE_S = 170.0


def _payload(i: int) -> bytes:
    """A few hundred KB: mostly short pieces of music, every fifth random bytes as PCM."""
    buffer = io.BytesIO()
    if i % 5 == 4:
        noise = np.random.default_rng(i).integers(-32768, 32767, size=(88200, 2), dtype=np.int16)
        sf.write(buffer, noise, 44100, format="WAV", subtype="PCM_16")
    else:
        seconds = 1.5 + (i % 4) * 0.5
        sf.write(buffer, synth_music(seconds, seed=i), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@dataclass
class _Outcome:
    index: int
    sha256: str
    track_id: str = ""
    receipt_sha256: str = ""
    verdict_sha256: str = ""
    error: str = ""


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    logs = tmp_path_factory.mktemp("fault-logs")
    with pytest.MonkeyPatch.context() as env:
        for name, value in SERVICE_ENV.items():
            env.setenv(name, value)
        with local_stack(
            StackPorts.free(),
            log_dir=logs,
            fault_rate=FAULT_RATE,
            fault_kinds=("throttle", "5xx", "timeout"),
            fault_seed=2024,
        ) as stack:
            yield stack, logs


def _upload_and_wait(stack: Stack, i: int, deadline: float) -> _Outcome:
    content = _payload(i)
    outcome = _Outcome(index=i, sha256=hashlib.sha256(content).hexdigest())

    def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
        yield ingest_pb2.UploadTrackRequest(
            metadata=ingest_pb2.TrackMetadata(
                user_id=f"user-{i}", track_name=f"track-{i}.wav", size_bytes=len(content)
            )
        )
        for start in range(0, len(content), 128 * 1024):
            yield ingest_pb2.UploadTrackRequest(chunk=content[start : start + 128 * 1024])

    with (
        grpc.insecure_channel(f"127.0.0.1:{stack.ports.ingest}") as ingest_channel,
        grpc.insecure_channel(f"127.0.0.1:{stack.ports.classify}") as classify_channel,
    ):
        try:
            receipt = ingest_pb2_grpc.IngestServiceStub(ingest_channel).UploadTrack(
                requests(), timeout=UPLOAD_TIMEOUT_S
            )
        except grpc.RpcError as err:
            outcome.error = f"upload: {err.code().name}: {err.details()}"
            return outcome
        outcome.track_id = receipt.track_id
        outcome.receipt_sha256 = receipt.sha256
        classify = classify_pb2_grpc.ClassifyServiceStub(classify_channel)
        delay = 0.2
        while time.monotonic() < deadline:
            try:
                reply = classify.GetVerdict(
                    classify_pb2.GetVerdictRequest(track_id=receipt.track_id), timeout=10
                )
                if reply.state == classify_pb2.TRACK_STATE_JUDGED:
                    outcome.verdict_sha256 = reply.verdict.sha256
                    return outcome
            except grpc.RpcError as err:
                if err.code() not in (
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    outcome.error = f"GetVerdict: {err.code().name}: {err.details()}"
                    return outcome
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        outcome.error = "no verdict before the deadline"
        return outcome


def test_fifty_concurrent_uploads_each_get_the_verdict_of_their_own_bytes_despite_faults(
    faulty_stack: tuple[Stack, Path],
) -> None:
    stack, logs = faulty_stack
    assert stack.proxy is not None
    deadline = time.monotonic() + VERDICT_DEADLINE_S
    with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
        outcomes = list(pool.map(lambda i: _upload_and_wait(stack, i, deadline), range(UPLOADS)))
    stats = stack.proxy.stats()
    failed = [o for o in outcomes if o.error]
    assert not failed, (failed, stats, logs)
    for outcome in outcomes:
        assert outcome.receipt_sha256 == outcome.sha256, outcome
        assert outcome.verdict_sha256 == outcome.sha256, outcome
    assert len({o.track_id for o in outcomes}) == UPLOADS
    # The faults did happen: every kind was injected and the shards pushed back.
    assert all(n > 0 for n in stats.injected.values()), stats
    assert stats.throttled_records > 0, stats
