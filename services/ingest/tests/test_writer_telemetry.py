"""What the chunk writer tells operators: the trace context on the first record, refusals counted.

A thin fake Kinesis, as in test_kinesis_writer.py; the end-to-end trace through the emulator is
tests/test_e2e_telemetry.py.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from audioval.v1 import pipeline_pb2
from audioval_ingest.kinesis_writer import BatchLimits, ChunkWriter, chunk_record_bytes
from audioval_ingest.settings import IngestSettings
from audioval_pipeline.shards import ShardPacer

TRACK = "trk_" + "0" * 32
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
THROTTLED = "ProvisionedThroughputExceededException"


@dataclass
class FakeKinesis:
    """Refuses the positions each call's step names; remembers every call."""

    script: list[set[int]] = field(default_factory=list)
    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.calls.append(Records)
        refused = self.script.pop(0) if self.script else set()
        results = [
            {"ErrorCode": THROTTLED, "ErrorMessage": "slow down"}
            if position in refused
            else {"ShardId": "shardId-000000000000", "SequenceNumber": str(next(self._sequence))}
            for position in range(len(Records))
        ]
        return {"FailedRecordCount": len(refused), "Records": results}


def _record(data: bytes) -> pipeline_pb2.ChunkRecord:
    record = pipeline_pb2.ChunkRecord()
    record.ParseFromString(data)
    return record


def _writer(kinesis: FakeKinesis, **kwargs: Any) -> ChunkWriter:
    return ChunkWriter(
        kinesis,
        stream_name="stream-a",
        track_id=TRACK,
        sleep=lambda _s: None,
        uniform=lambda _a, b: b,
        **kwargs,
    )


@given(
    index=st.integers(min_value=0, max_value=2**32 - 1),
    data=st.binary(max_size=300),
    traceparent=st.sampled_from(["", TRACEPARENT]),
)
def test_chunk_record_bytes_with_a_trace_context_are_protobufs_own_serialization(
    index: int, data: bytes, traceparent: str
) -> None:
    expected = pipeline_pb2.ChunkRecord(
        track_id=TRACK, index=index, offset=5, data=data, traceparent=traceparent
    ).SerializeToString()
    assert chunk_record_bytes(TRACK, index, 5, data, traceparent) == expected


def test_only_the_first_record_carries_the_uploads_trace_context() -> None:
    kinesis = FakeKinesis()
    writer = _writer(kinesis, limits=BatchLimits(record_data_bytes=100), traceparent=TRACEPARENT)
    writer.write(os.urandom(350))
    writer.close()
    records = [_record(r["Data"]) for call in kinesis.calls for r in call]
    assert [r.traceparent for r in records] == [TRACEPARENT, "", "", ""]


def test_a_record_from_before_trace_context_still_parses() -> None:
    old = pipeline_pb2.ChunkRecord(track_id=TRACK, index=0, data=b"abc").SerializeToString()
    assert _record(old).traceparent == ""


def test_refused_records_and_retries_are_counted() -> None:
    def refused() -> float:
        value = REGISTRY.get_sample_value(
            "audioval_ingest_kinesis_refused_records_total", {"error_code": THROTTLED}
        )
        return value or 0.0

    def retries() -> float:
        return REGISTRY.get_sample_value("audioval_ingest_kinesis_put_retries_total") or 0.0

    before = (refused(), retries())
    kinesis = FakeKinesis(script=[{1, 2}, {0}])
    writer = _writer(kinesis, limits=BatchLimits(record_data_bytes=100))
    writer.write(os.urandom(400))
    writer.close()
    assert (refused() - before[0], retries() - before[1]) == (3, 2)


def test_two_default_records_fit_a_shards_second_with_the_trace_context_on_the_first() -> None:
    ingest = IngestSettings()
    sleeps: list[float] = []
    now = [100.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pacer = ShardPacer(ingest.shard_write_bytes_per_s, clock=lambda: now[0])
    kinesis = FakeKinesis()
    writer = ChunkWriter(
        kinesis,
        stream_name="stream-a",
        track_id="trk_" + "f" * 32,
        limits=BatchLimits(record_data_bytes=ingest.record_data_bytes),
        pacer=pacer,
        traceparent=TRACEPARENT,
        sleep=sleep,
        uniform=lambda _a, b: b,
    )
    writer.write(os.urandom(4 * ingest.record_data_bytes))
    writer.close()
    assert [len(call) for call in kinesis.calls] == [2, 2]
