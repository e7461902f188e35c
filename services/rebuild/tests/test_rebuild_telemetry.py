"""What rebuild tells operators: throttled reads counted, and how old the oldest held manifest is.

Kinesis and SQS are thin fakes here; tests/test_e2e_telemetry.py scrapes the real worker.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import REGISTRY

from audioval.v1 import pipeline_pb2
from audioval_rebuild.reader import ReadLimits, read_track
from audioval_rebuild.visibility import VisibilityHeartbeat

TRACK = "trk_" + "1" * 32
DATA = b"a few bytes of a track"


class ThrottledOnceKinesis:
    """Throttles the first GetRecords, then serves the one record."""

    def __init__(self) -> None:
        self.throttled = False

    def get_shard_iterator(self, **_kwargs: Any) -> dict[str, Any]:
        return {"ShardIterator": "iterator-0"}

    def get_records(self, **_kwargs: Any) -> dict[str, Any]:
        if not self.throttled:
            self.throttled = True
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetRecords"
            )
        record = pipeline_pb2.ChunkRecord(track_id=TRACK, index=0, offset=0, data=DATA)
        return {
            "Records": [{"SequenceNumber": "100", "Data": record.SerializeToString()}],
            "NextShardIterator": "iterator-1",
            "MillisBehindLatest": 0,
        }


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_throttled_read_is_counted_and_retried() -> None:
    manifest = pipeline_pb2.Manifest(
        track_id=TRACK,
        user_id="u",
        size_bytes=len(DATA),
        sha256=hashlib.sha256(DATA).hexdigest(),
        chunk_count=1,
        chunks=[
            pipeline_pb2.ChunkLocation(
                index=0,
                stream_name="s",
                shard_id="shardId-0",
                sequence_number="100",
                size_bytes=len(DATA),
            )
        ],
    )
    names = ("audioval_rebuild_kinesis_throttles_total", "audioval_rebuild_kinesis_retries_total")
    before = [_sample(name, operation="get_records") for name in names]
    content = read_track(ThrottledOnceKinesis(), manifest, ReadLimits(), sleep=lambda _s: None)
    assert content == DATA
    after = [_sample(name, operation="get_records") for name in names]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1]


def test_the_oldest_held_manifests_age_is_measured_from_when_it_was_sent() -> None:
    heartbeat = VisibilityHeartbeat(object(), "queue", interval_s=60, timeout_s=30)
    assert heartbeat.oldest_age() == 0.0
    now = time.time()
    heartbeat.hold("old", "m-1", sent_at=now - 30)
    heartbeat.hold("new", "m-2", sent_at=now - 2)
    heartbeat.hold("old", "trk_relabelled")  # relabelling keeps when it was sent
    assert 30 <= heartbeat.oldest_age() < 40
    heartbeat.release("old")
    assert 2 <= heartbeat.oldest_age() < 12
    heartbeat.release("new")
    assert heartbeat.oldest_age() == 0.0
