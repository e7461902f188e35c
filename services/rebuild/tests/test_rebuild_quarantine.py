"""Tracks judged ``review`` are held in the quarantine bucket, against a real moto server.

classify is replaced by a stand-in that stores the decision it is told to give (as classify
stores its verdicts) and counts its calls: what is under test is the worker's hold, not the
validator.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from google.protobuf import json_format
from pydantic import SecretStr

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_localstack import Emulator, provision, stream_name
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_rebuild.quarantine import Quarantine
from audioval_rebuild.settings import RebuildSettings
from audioval_rebuild.verdict_table import VerdictTable
from audioval_rebuild.visibility import VisibilityHeartbeat
from audioval_rebuild.worker import Outcome, RebuildWorker

WAV = b"RIFF" + b"\x00" * 4 + b"WAVEfmt " + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def pipeline() -> Iterator[PipelineSettings]:
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
        )
        provision(settings, baseline_streams=1, shards=1)
        yield settings


class StandInClassify:
    """Stores ``decision`` for every track it is asked about, like classify does."""

    def __init__(self, table: VerdictTable, decision: int) -> None:
        self._table = table
        self._decision = decision
        self.calls: list[str] = []

    def validate(self, manifest: pipeline_pb2.Manifest, content: bytes) -> verdict_pb2.Verdict:
        self.calls.append(manifest.track_id)
        verdict = verdict_pb2.Verdict(
            track_id=manifest.track_id,
            user_id=manifest.user_id,
            decision=self._decision,  # type: ignore[arg-type]
            format="wav",
            sha256=hashlib.sha256(content).hexdigest(),
        )
        self._table.put_first(verdict)
        return verdict


class FailingPuts:
    """An S3 client whose first ``failures`` PutObject calls fail as S3 would under load."""

    def __init__(self, s3: Any, failures: int) -> None:
        self._s3 = s3
        self.failures = failures

    def put_object(self, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def _send_track(
    pipeline: PipelineSettings, sqs: Any, queue_url: str, content: bytes
) -> tuple[str, str]:
    """Chunk records and a manifest for ``content``, written the way ingest writes them."""
    kinesis = aws_client("kinesis", pipeline)
    track_id = "trk_" + uuid.uuid4().hex
    stream = stream_name(pipeline, 0)
    record = pipeline_pb2.ChunkRecord(track_id=track_id, index=0, offset=0, data=content)
    reply = kinesis.put_record(
        StreamName=stream, Data=record.SerializeToString(), PartitionKey=track_id
    )
    VerdictTable(aws_client("dynamodb", pipeline), pipeline.verdict_table).put_pending(
        track_id, "user-1", track_name="song.wav"
    )
    manifest = pipeline_pb2.Manifest(
        track_id=track_id,
        user_id="user-1",
        track_name="song.wav",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        chunk_count=1,
        chunks=[
            pipeline_pb2.ChunkLocation(
                index=0,
                stream_name=stream,
                shard_id=reply["ShardId"],
                sequence_number=reply["SequenceNumber"],
                size_bytes=len(content),
            )
        ],
    )
    body = json_format.MessageToJson(manifest)
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId="user-1",
        MessageDeduplicationId=track_id,
    )
    return track_id, body


class Rig:
    def __init__(self, pipeline: PipelineSettings, decision: int, put_failures: int = 0) -> None:
        self.last_body = ""
        n = uuid.uuid4().hex[:8]
        self.pipeline = pipeline.model_copy(
            update={"manifest_queue": f"m-{n}.fifo", "dead_letter_queue": f"d-{n}.fifo"}
        )
        provision(self.pipeline, baseline_streams=1, shards=1)
        self.sqs = aws_client("sqs", self.pipeline)
        self.s3 = aws_client("s3", self.pipeline)
        self.queue_url = self.sqs.get_queue_url(QueueName=self.pipeline.manifest_queue)["QueueUrl"]
        table = VerdictTable(aws_client("dynamodb", self.pipeline), self.pipeline.verdict_table)
        self.classify = StandInClassify(table, decision)
        self.puts = FailingPuts(self.s3, put_failures)
        settings = RebuildSettings(
            port=0,
            pipeline=self.pipeline,
            receive_wait_s=1,
            visibility_timeout_s=5,
            heartbeat_interval_s=0.5,
            retry_delay_s=0,
            workers=1,
        )
        self.heartbeat = VisibilityHeartbeat(
            self.sqs, self.queue_url, interval_s=0.5, timeout_s=5
        ).start()
        self.worker = RebuildWorker(
            settings,
            sqs=self.sqs,
            kinesis=aws_client("kinesis", self.pipeline),
            verdicts=table,
            classify=self.classify,  # type: ignore[arg-type]
            queue_url=self.queue_url,
            dlq_url=self.sqs.get_queue_url(QueueName=self.pipeline.dead_letter_queue)["QueueUrl"],
            heartbeat=self.heartbeat,
            quarantine=Quarantine(self.puts, self.pipeline.quarantine_bucket),
        )

    def send(self, content: bytes) -> str:
        track_id, self.last_body = _send_track(self.pipeline, self.sqs, self.queue_url, content)
        return track_id

    def poll_until_settled(self, within: float = 30.0) -> list[Outcome]:
        """Poll until an outcome other than RETRY (bounded by a deadline)."""
        outcomes: list[Outcome] = []
        deadline = time.monotonic() + within
        while not outcomes or outcomes[-1] == Outcome.RETRY:
            assert time.monotonic() < deadline, f"gave up with {outcomes}"
            outcomes += self.worker.poll_once()
        return outcomes

    def held(self, track_id: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.get_object(Bucket=self.pipeline.quarantine_bucket, Key=track_id))
        except self.s3.exceptions.NoSuchKey:
            return None

    def close(self) -> None:
        self.heartbeat.stop()


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()


def test_a_review_verdict_holds_the_tracks_bytes_with_their_type_and_hash(
    pipeline: PipelineSettings, rigs: list[Rig]
) -> None:
    rig = Rig(pipeline, verdict_pb2.DECISION_REVIEW)
    rigs.append(rig)
    track_id = rig.send(WAV)
    assert rig.poll_until_settled() == [Outcome.JUDGED]
    held = rig.held(track_id)
    assert held is not None
    assert held["Body"].read() == WAV
    assert held["ContentType"] == "audio/wav"
    assert held["Metadata"]["sha256"] == hashlib.sha256(WAV).hexdigest()


def test_an_accepted_track_is_not_held(pipeline: PipelineSettings, rigs: list[Rig]) -> None:
    rig = Rig(pipeline, verdict_pb2.DECISION_ACCEPT)
    rigs.append(rig)
    track_id = rig.send(WAV)
    assert rig.poll_until_settled() == [Outcome.JUDGED]
    assert rig.held(track_id) is None


def test_a_failed_put_keeps_the_manifest_and_holds_the_bytes_on_its_return(
    pipeline: PipelineSettings, rigs: list[Rig]
) -> None:
    rig = Rig(pipeline, verdict_pb2.DECISION_REVIEW, put_failures=2)
    rigs.append(rig)
    track_id = rig.send(WAV)
    outcomes = rig.poll_until_settled()
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.JUDGED]
    held = rig.held(track_id)
    assert held is not None and held["Body"].read() == WAV
    # The verdict stored on the first try stands: classify is not asked again.
    assert rig.classify.calls == [track_id]
    # Once held, the same manifest sent again is dropped.
    rig.sqs.send_message(
        QueueUrl=rig.queue_url,
        MessageBody=rig.last_body,
        MessageGroupId="user-1",
        MessageDeduplicationId=f"{track_id}-again",
    )
    assert rig.poll_until_settled() == [Outcome.ALREADY_JUDGED]
    assert rig.classify.calls == [track_id]
