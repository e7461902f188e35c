"""Crash recovery, end to end: a worker killed (-9) mid-track still yields exactly one verdict.

The local stack runs in this process (``local_stack``) with a short SQS visibility, so a manifest
held by a dead rebuild worker comes back in seconds rather than the queue's 60 s. A killed
service is restarted the way the stack starts it (``python -m audioval_<name>``, same
environment, same port) and put back into ``stack.processes`` so teardown stops it.

"Exactly once" is checked where it could break: the client sees one verdict whose sha256 is the
uploaded bytes'; the verdict table item does not change after the queue has drained (so no
later delivery rewrote it); classify's log shows one newly stored verdict for the track; the
manifest queue and its dead-letter queue end empty.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
import pytest
import soundfile as sf
from pydantic import SecretStr

from audioval.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc, verdict_pb2
from audioval_cli.stack import LOCAL_KEY, Stack, StackPorts, local_stack, wait_serving
from audioval_corpus.samples import synth_music
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

T = TypeVar("T")

# A killed worker's manifest reappears when its last visibility extension lapses: keep that
# short. Retries after a failed classify call come back after RETRY_DELAY_S; with the queue's
# redrive at 5 receives that still leaves a restarting classify ~15 s before dead-lettering.
RECOVERY_ENV = {
    "AUDIOVAL_REBUILD_VISIBILITY_TIMEOUT_S": "5",
    "AUDIOVAL_REBUILD_HEARTBEAT_INTERVAL_S": "1.5",
    "AUDIOVAL_REBUILD_RETRY_DELAY_S": "3",
    "AUDIOVAL_REBUILD_RECEIVE_WAIT_S": "2",
    "AUDIOVAL_REBUILD_CLASSIFY_MAX_RECONNECT_BACKOFF_S": "1",
    # One validator actor: the one that is busy is the one that is judging our track.
    "AUDIOVAL_CLASSIFY_POOL_SIZE": "1",
}
# ~7 min of CD audio: more than one gRPC message may carry (64 MiB), so rebuild must stream it.
LARGE_TRACK_BYTES = 72 * 1024 * 1024
MESSAGE_LIMIT = 64 * 1024 * 1024
UPLOAD_CHUNK = 1024 * 1024
RATE = 44100


# --- helpers ---------------------------------------------------------------------------------


def eventually(
    probe: Callable[[], T | None], what: str, timeout_s: float, every_s: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def music_wav(size_bytes: int, seed: int) -> bytes:
    """A 44.1 kHz stereo 16-bit WAV of about ``size_bytes``: synthesised music, tiled, with a
    seeded noise floor so every track hashes differently."""
    base = synth_music(8.0, seed=seed)
    frames = (size_bytes - 44) // 4
    audio = np.tile(base, (-(-frames // len(base)), 1))[:frames]
    audio = audio + np.random.default_rng(seed).normal(0.0, 3e-4, audio.shape).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, audio, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the service and everything it started (its validator pool), as a crash would."""
    group = os.getpgid(process.pid)
    # The stack starts each service in its own session, so its group is its own; never ours.
    assert group == process.pid and group != os.getpgrp()
    os.killpg(group, signal.SIGKILL)
    process.wait(timeout=10)


def restart(stack: Stack, name: str, port: int, log_dir: Path) -> None:
    """Start ``name`` again as the stack does, with the stack's environment and port."""
    with (log_dir / f"{name}.log").open("ab") as log:
        stack.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"audioval_{name}"],
            env=stack.environment,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    wait_serving(f"127.0.0.1:{port}", time.monotonic() + 120)


def actors_validating() -> list[int]:
    """Pids of Ray workers running ``ValidatorActor.validate`` now.

    Ray retitles a worker process after the task it runs (``ray::Class.method``), so a busy
    validator actor is visible in /proc whichever node process started it.
    """
    busy = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if title.startswith(b"ray::ValidatorActor.validate"):
            busy.append(int(entry.name))
    return busy


class Pipeline:
    """The test's view of the stack: gRPC stubs and the AWS resources behind it."""

    def __init__(self, stack: Stack, log_dir: Path) -> None:
        self.stack = stack
        self.log_dir = log_dir
        options = [
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
        ]
        self._channels = [
            grpc.insecure_channel(f"127.0.0.1:{stack.ports.ingest}", options=options),
            grpc.insecure_channel(f"127.0.0.1:{stack.ports.classify}", options=options),
        ]
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._channels[0])
        self.classify = classify_pb2_grpc.ClassifyServiceStub(self._channels[1])
        settings = PipelineSettings(
            aws_endpoint_url=stack.emulator.endpoint_url,
            aws_access_key_id=SecretStr(LOCAL_KEY),
            aws_secret_access_key=SecretStr(LOCAL_KEY),
        )
        self.settings = settings
        self.sqs = aws_client("sqs", settings)
        self.dynamodb = aws_client("dynamodb", settings)
        self.queue_url = self.sqs.get_queue_url(QueueName=settings.manifest_queue)["QueueUrl"]
        self.dlq_url = self.sqs.get_queue_url(QueueName=settings.dead_letter_queue)["QueueUrl"]

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def upload(self, content: bytes, user_id: str, name: str) -> str:
        def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
            yield ingest_pb2.UploadTrackRequest(
                metadata=ingest_pb2.TrackMetadata(
                    user_id=user_id, track_name=name, size_bytes=len(content)
                )
            )
            for offset in range(0, len(content), UPLOAD_CHUNK):
                yield ingest_pb2.UploadTrackRequest(chunk=content[offset : offset + UPLOAD_CHUNK])

        receipt = self.ingest.UploadTrack(requests(), timeout=120)
        assert receipt.sha256 == hashlib.sha256(content).hexdigest()
        return str(receipt.track_id)

    def verdict(self, track_id: str) -> verdict_pb2.Verdict | None:
        """The judged verdict, or None while pending or while classify is unreachable."""
        try:
            reply = self.classify.GetVerdict(
                classify_pb2.GetVerdictRequest(track_id=track_id), timeout=5
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                return None
            raise
        if reply.state == classify_pb2.TRACK_STATE_JUDGED:
            judged: verdict_pb2.Verdict = reply.verdict
            return judged
        assert reply.state == classify_pb2.TRACK_STATE_PENDING
        return None

    def item(self, track_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.settings.verdict_table,
            Key={"track_id": {"S": track_id}},
            ConsistentRead=True,
        )["Item"]
        return item

    def queue_counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def log_entries(self, service: str, track_id: str) -> list[dict[str, Any]]:
        """The JSON log lines ``service`` wrote about ``track_id`` (every process, in order)."""
        lines = (self.log_dir / f"{service}.log").read_text(errors="replace").splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in entries if e.get("track_id") == track_id]

    def stored_by_classify(self, track_id: str) -> int:
        """How many times classify logged storing a new verdict for ``track_id``."""
        entries = self.log_entries("classify", track_id)
        return sum(1 for e in entries if e.get("msg") == "judged" and e.get("new") is True)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    log_dir = tmp_path_factory.mktemp("recovery-logs")
    with pytest.MonkeyPatch.context() as env:
        # local_stack gives its children os.environ plus its own settings.
        for key, value in RECOVERY_ENV.items():
            env.setenv(key, value)
        ports = StackPorts.free()
        with local_stack(ports, log_dir=log_dir) as stack:
            view = Pipeline(stack, log_dir)
            try:
                yield view
            finally:
                view.close()


def assert_judged_exactly_once(pipeline: Pipeline, track_id: str, content: bytes) -> None:
    verdict = eventually(lambda: pipeline.verdict(track_id), f"the verdict of {track_id}", 90)
    assert verdict.track_id == track_id
    assert verdict.sha256 == hashlib.sha256(content).hexdigest()
    assert verdict.size_bytes == len(content)
    first_item = pipeline.item(track_id)
    assert first_item["state"]["S"] == "judged"
    # The worker deletes the manifest only after the verdict is stored; nothing is left over.
    eventually(
        lambda: pipeline.queue_counts(pipeline.queue_url) == (0, 0),
        "the manifest queue to drain",
        30,
    )
    assert pipeline.queue_counts(pipeline.dlq_url) == (0, 0), "nothing was dead-lettered"
    again = eventually(lambda: pipeline.verdict(track_id), "the verdict again", 10)
    assert again.judged_at == verdict.judged_at
    assert again == verdict
    # Written once: the conditional put kept the first item (same time, same bytes).
    assert pipeline.item(track_id) == first_item
    assert verdict_pb2.Verdict.FromString(first_item["verdict"]["B"]) == verdict
    assert pipeline.stored_by_classify(track_id) == 1


# --- tests -----------------------------------------------------------------------------------


def test_an_uploaded_track_is_found_and_an_unknown_id_is_not_found(pipeline: Pipeline) -> None:
    content = music_wav(256 * 1024, seed=1)
    track_id = pipeline.upload(content, "recovery", "small.wav")
    verdict = eventually(lambda: pipeline.verdict(track_id), "the small track's verdict", 60)
    assert verdict.sha256 == hashlib.sha256(content).hexdigest()
    unknown = "trk_" + uuid.uuid4().hex
    with pytest.raises(grpc.RpcError) as err:
        pipeline.classify.GetVerdict(classify_pb2.GetVerdictRequest(track_id=unknown), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_rebuild_killed_mid_track_and_restarted_still_judges_it_once(pipeline: Pipeline) -> None:
    stack = pipeline.stack
    content = music_wav(LARGE_TRACK_BYTES, seed=2)
    track_id = pipeline.upload(content, "recovery", "long-rebuild.wav")
    # The manifest is in flight: a rebuild worker has received it and is reading the records.
    eventually(
        lambda: pipeline.queue_counts(pipeline.queue_url)[1] > 0, "rebuild to take the manifest", 30
    )
    kill_hard(stack.processes["rebuild"])
    assert pipeline.item(track_id)["state"]["S"] == "pending", "killed before it was judged"
    assert pipeline.queue_counts(pipeline.queue_url)[1] == 1, "the dead worker still holds it"
    restart(stack, "rebuild", stack.ports.rebuild, pipeline.log_dir)
    assert_judged_exactly_once(pipeline, track_id, content)
    # The dead worker logged nothing about it; the new one got it redelivered and finished it.
    (finished,) = pipeline.log_entries("rebuild", track_id)
    assert finished["msg"] in ("judged", "already judged; dropping the duplicate manifest")
    assert finished["receive_count"] >= 2


def test_classify_killed_mid_validation_and_restarted_still_judges_it_once(
    pipeline: Pipeline,
) -> None:
    stack = pipeline.stack
    content = music_wav(LARGE_TRACK_BYTES, seed=3)
    classify = stack.processes["classify"]
    track_id = pipeline.upload(content, "recovery", "long-classify.wav")
    # The one validator actor at work is on our track: nothing else is in flight.
    eventually(actors_validating, "classify's validator actor to start on the track", 60, 0.01)
    # Killing classify (the actors' owner) ends its actors too: Ray reaps an owner's actors.
    kill_hard(classify)
    assert pipeline.item(track_id)["state"]["S"] == "pending", "killed before it was judged"
    restart(stack, "classify", stack.ports.classify, pipeline.log_dir)
    assert_judged_exactly_once(pipeline, track_id, content)
    # Rebuild saw its call fail with the crash and retried the manifest until classify was back.
    seen = [(e["msg"], e.get("error_code")) for e in pipeline.log_entries("rebuild", track_id)]
    assert seen[0] == ("classify failed; will retry", "UNAVAILABLE")
    assert seen[-1][0] == "judged"
