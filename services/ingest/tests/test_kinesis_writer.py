"""ChunkWriter: re-chunking, batch limits and retries of refused records.

A unit test of the retry logic, so Kinesis is a thin fake that refuses what each test says;
the end-to-end tests in test_ingest_server.py write to the real emulator.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from audioval.v1 import pipeline_pb2
from audioval_ingest.kinesis_writer import (
    BatchLimits,
    ChunkWriter,
    KinesisWriteError,
    RetryPolicy,
    WriteCancelledError,
    chunk_record_bytes,
)
from audioval_ingest.settings import IngestSettings
from audioval_pipeline.shards import (
    HASH_KEY_SPACE,
    ShardMap,
    ShardPacer,
    hash_key,
    spread_hash_keys,
)

TRACK = "trk_" + "0" * 32
THROTTLED = "ProvisionedThroughputExceededException"
KIB = 1024
MIB = 1024 * KIB


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutRecords",
    )


# What one PutRecords call does: accept all (None), refuse the records at these positions
# (a set), or fail the whole call (an exception).
Step = None | set[int] | Exception


@dataclass
class FakeKinesis:
    """Accepts or refuses records as scripted; remembers every call."""

    script: list[Step] = field(default_factory=list)
    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        assert StreamName == "stream-a"
        self.calls.append(Records)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        refused = step or set()
        results: list[dict[str, str]] = []
        for position, _record in enumerate(Records):
            if position in refused:
                results.append({"ErrorCode": THROTTLED, "ErrorMessage": "slow down"})
            else:
                results.append(
                    {"ShardId": "shardId-000000000000", "SequenceNumber": str(next(self._sequence))}
                )
        return {"FailedRecordCount": len(refused), "Records": results}

    def indices(self, call: int) -> list[int]:
        return [_decode(r["Data"]).index for r in self.calls[call]]


def _decode(data: bytes) -> pipeline_pb2.ChunkRecord:
    record = pipeline_pb2.ChunkRecord()
    record.ParseFromString(data)
    return record


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _writer(kinesis: FakeKinesis, sleeps: Sleeps, **kwargs: Any) -> ChunkWriter:
    # uniform(a, b) -> b: the largest delay full jitter can pick, so bounds are checked exactly.
    options: dict[str, Any] = {"sleep": sleeps, "uniform": lambda _a, b: b}
    options.update(kwargs)
    return ChunkWriter(kinesis, stream_name="stream-a", track_id=TRACK, **options)


def test_only_the_refused_records_are_sent_again() -> None:
    kinesis = FakeKinesis(script=[{1, 4, 7}, None])
    sleeps = Sleeps()
    writer = _writer(kinesis, sleeps, limits=BatchLimits(record_data_bytes=100))
    writer.write(os.urandom(1000))
    locations = writer.close()
    assert len(kinesis.calls) == 2
    assert kinesis.indices(0) == list(range(10))
    assert kinesis.indices(1) == [1, 4, 7]
    assert [loc.index for loc in locations] == list(range(10))
    # Accepted on the first call: sequence numbers 1000.. in order, skipping the refused.
    first = [int(loc.sequence_number) for i, loc in enumerate(locations) if i not in {1, 4, 7}]
    assert first == list(range(1000, 1007))
    assert [int(locations[i].sequence_number) for i in (1, 4, 7)] == [1007, 1008, 1009]
    assert all(loc.stream_name == "stream-a" and loc.size_bytes == 100 for loc in locations)
    assert sleeps.delays == [RetryPolicy().base_delay_s]


def test_refused_records_are_retried_with_growing_capped_backoff() -> None:
    kinesis = FakeKinesis(script=[{0}, {0}, {0}, {0}, {0}, None])
    sleeps = Sleeps()
    retry = RetryPolicy(max_attempts=10, base_delay_s=0.1, max_delay_s=0.5, max_total_s=60)
    writer = _writer(kinesis, sleeps, limits=BatchLimits(record_data_bytes=10), retry=retry)
    writer.write(b"x" * 30)
    assert len(writer.close()) == 3
    assert sleeps.delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert [len(call) for call in kinesis.calls] == [3, 1, 1, 1, 1, 1]


def test_full_jitter_draws_between_zero_and_the_cap() -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        drawn.append((a, b))
        return a

    kinesis = FakeKinesis(script=[{0}, {0}, None])
    writer = _writer(kinesis, Sleeps(), uniform=uniform, limits=BatchLimits(record_data_bytes=10))
    writer.write(b"y" * 10)
    writer.close()
    base = RetryPolicy().base_delay_s
    assert drawn == [(0.0, base), (0.0, 2 * base)]


def test_a_throttled_or_unreachable_call_is_retried_whole() -> None:
    kinesis = FakeKinesis(
        script=[
            _client_error(THROTTLED),
            _client_error("InternalFailure", 500),
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            None,
        ]
    )
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10))
    writer.write(b"z" * 25)
    assert [loc.size_bytes for loc in writer.close()] == [10, 10, 5]
    assert [kinesis.indices(i) for i in range(4)] == [[0, 1, 2]] * 4


def test_exhausted_attempts_raise_a_clear_error() -> None:
    kinesis = FakeKinesis(script=[{0, 1}] * 10)
    sleeps = Sleeps()
    retry = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.01, max_total_s=60)
    writer = _writer(kinesis, sleeps, limits=BatchLimits(record_data_bytes=10), retry=retry)
    writer.write(b"a" * 30)
    with pytest.raises(
        KinesisWriteError, match=r"2 of 3 records refused by stream-a .*4 calls without progress"
    ):
        writer.close()
    assert len(kinesis.calls) == 4
    assert len(sleeps.delays) == 3


def test_calls_that_move_some_records_do_not_use_up_the_attempts() -> None:
    # Each call refuses every record but the first: a shard at its limit, draining slowly.
    kinesis = FakeKinesis(script=[set(range(1, 10))] * 9)
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01, max_total_s=60)
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10), retry=retry)
    writer.write(b"c" * 100)
    writer.close()
    assert len(kinesis.calls) == 10


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    kinesis = FakeKinesis(script=[{0}] * 10)
    retry = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=1.0, max_total_s=0.5)
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10), retry=retry)
    writer.write(b"b" * 10)
    with pytest.raises(KinesisWriteError, match="out of time"):
        writer.close()
    assert len(kinesis.calls) == 1


def test_retries_stop_at_the_callers_deadline() -> None:
    kinesis = FakeKinesis(script=[{0}] * 10)
    writer = _writer(
        kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10), time_left=lambda: 0.01
    )
    writer.write(b"c" * 10)
    with pytest.raises(KinesisWriteError, match="out of time"):
        writer.close()
    assert len(kinesis.calls) == 1


def test_a_cancelled_caller_stops_the_retries() -> None:
    kinesis = FakeKinesis(script=[{0}] * 10)
    writer = _writer(
        kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10), keep_going=lambda: False
    )
    writer.write(b"d" * 10)
    with pytest.raises(WriteCancelledError):
        writer.close()
    assert len(kinesis.calls) == 1


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException"])
def test_a_non_retryable_error_fails_at_once(code: str) -> None:
    kinesis = FakeKinesis(script=[_client_error(code)])
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10))
    writer.write(b"e" * 10)
    with pytest.raises(KinesisWriteError, match=code):
        writer.close()
    assert len(kinesis.calls) == 1


def test_batches_hold_at_most_500_records() -> None:
    kinesis = FakeKinesis()
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10))
    writer.write(os.urandom(10 * 1234 + 3))
    locations = writer.close()
    assert [len(call) for call in kinesis.calls] == [500, 500, 235]
    assert len(locations) == 1235
    assert [i for call in range(3) for i in kinesis.indices(call)] == list(range(1235))


def test_batches_stay_within_5_mib_and_records_within_512_kib() -> None:
    kinesis = FakeKinesis()
    writer = _writer(kinesis, Sleeps())
    data = os.urandom(12 * MIB + 777)
    for start in range(0, len(data), 3 * MIB + 5):
        writer.write(data[start : start + 3 * MIB + 5])
    locations = writer.close()
    for call in kinesis.calls:
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in call) <= 5 * MIB
        assert all(r["PartitionKey"] == TRACK for r in call)
    records = [_decode(r["Data"]) for call in kinesis.calls for r in call]
    assert all(len(r.data) <= 512 * KIB for r in records)
    assert b"".join(r.data for r in records) == data
    assert len(locations) == -(-len(data) // (512 * KIB))


def test_full_batches_are_sent_while_the_upload_streams_in() -> None:
    kinesis = FakeKinesis()
    writer = _writer(kinesis, Sleeps())
    most_buffered = 0
    for _ in range(40):  # 40 MiB in 1 MiB messages
        writer.write(b"\x00" * MIB)
        most_buffered = max(most_buffered, writer.buffered_bytes)
    assert len(kinesis.calls) >= 7  # batches left before close
    # Never more than one batch plus one partial record in memory.
    assert most_buffered <= 5 * MIB + 512 * KIB
    writer.close()
    assert writer.buffered_bytes == 0


def test_a_record_that_cannot_fit_a_batch_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        ChunkWriter(
            FakeKinesis(),
            stream_name="stream-a",
            track_id=TRACK,
            limits=BatchLimits(record_data_bytes=1000, max_bytes=1000),
        )


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    record_size=st.integers(min_value=1, max_value=64),
    refused=st.sets(st.integers(min_value=0, max_value=20), max_size=5),
)
def test_records_reassemble_to_the_upload_however_it_was_split(
    data: bytes, cuts: list[int], record_size: int, refused: set[int]
) -> None:
    kinesis = FakeKinesis(script=[refused])
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=record_size))
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for start, end in itertools.pairwise(bounds):
        writer.write(data[start:end])
    locations = writer.close()
    latest = {}
    for call in kinesis.calls:  # the last copy of each index is the one that was accepted
        for r in call:
            record = _decode(r["Data"])
            latest[record.index] = record
    records = [latest[i] for i in range(len(latest))]
    assert b"".join(r.data for r in records) == data
    assert all(r.track_id == TRACK for r in records)
    assert [r.offset for r in records] == [i * record_size for i in range(len(records))]
    assert all(len(r.data) == record_size for r in records[:-1])
    assert [loc.size_bytes for loc in locations] == [len(r.data) for r in records]
    assert len({loc.sequence_number for loc in locations}) == len(locations)


# -- the call window --------------------------------------------------------------------------


def test_after_a_partial_refusal_calls_carry_what_the_shard_took_then_grow() -> None:
    # The first call takes 2 of 10: the next carries 2, then 4 after that one went through.
    kinesis = FakeKinesis(script=[set(range(2, 10)), None, None])
    sleeps = Sleeps()
    writer = _writer(kinesis, sleeps, limits=BatchLimits(record_data_bytes=100))
    writer.write(os.urandom(1000))
    locations = writer.close()
    assert [len(call) for call in kinesis.calls] == [10, 2, 4, 2]
    assert [i for call in range(1, 4) for i in kinesis.indices(call)] == list(range(2, 10))
    assert sleeps.delays == [RetryPolicy().base_delay_s]  # no wait after a call taken whole
    assert [loc.index for loc in locations] == list(range(10))


def test_a_call_that_took_nothing_leaves_one_record_to_probe_with() -> None:
    kinesis = FakeKinesis(script=[set(range(5)), {0}, None, None])
    writer = _writer(kinesis, Sleeps(), limits=BatchLimits(record_data_bytes=10))
    writer.write(b"w" * 50)
    writer.close()
    assert [len(call) for call in kinesis.calls] == [5, 1, 1, 2, 2]


# -- records built without copies ------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=2**32 - 1),
    offset=st.integers(min_value=0, max_value=2**63 - 1),
    data=st.binary(max_size=300),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_chunk_record_bytes_are_protobufs_own_serialization(
    index: int, offset: int, data: bytes, kind: type
) -> None:
    expected = pipeline_pb2.ChunkRecord(
        track_id=TRACK, index=index, offset=offset, data=data
    ).SerializeToString()
    assert chunk_record_bytes(TRACK, index, offset, kind(data)) == expected


def test_chunk_record_bytes_of_a_full_record_round_trip() -> None:
    data = os.urandom(512 * KIB)
    record = _decode(chunk_record_bytes(TRACK, 7, 7 * 512 * KIB, memoryview(data)))
    assert (record.track_id, record.index, record.offset, record.data) == (
        TRACK,
        7,
        7 * 512 * KIB,
        data,
    )


# -- pacing to the shard's budget ------------------------------------------------------------


@dataclass
class ManualClock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ClockSleeps(Sleeps):
    """Sleeps that move a manual clock on."""

    clock: ManualClock = field(default_factory=ManualClock)

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.clock.now += seconds


def test_the_pacer_lets_one_seconds_budget_through_then_makes_calls_wait() -> None:
    clock = ManualClock()
    pacer = ShardPacer(1000.0, 10.0, clock=clock)
    assert pacer.reserve("s", "shard-0", 600, 1) == 0.0
    assert pacer.reserve("s", "shard-0", 400, 1) == 0.0
    assert pacer.reserve("s", "shard-0", 500, 1) == pytest.approx(0.5)  # in debt: wait for it
    assert pacer.reserve("s", "shard-1", 1000, 1) == 0.0  # another shard, its own budget
    clock.now += 0.5
    assert pacer.reserve("s", "shard-0", 250, 1) == pytest.approx(0.25)
    clock.now += 60.0  # an idle shard holds one second's worth, no more
    assert pacer.reserve("s", "shard-0", 1000, 1) == 0.0
    assert pacer.reserve("s", "shard-0", 1, 1) == pytest.approx(0.001)


def test_the_pacer_counts_records_too() -> None:
    pacer = ShardPacer(1e9, 10.0, clock=ManualClock())
    assert pacer.reserve("s", "shard-0", 1, 10) == 0.0
    assert pacer.reserve("s", "shard-0", 1, 5) == pytest.approx(0.5)


def test_paced_calls_fit_the_shards_budget_and_wait_for_it() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    kinesis = FakeKinesis()
    writer = _writer(kinesis, sleeps, pacer=pacer)
    data = os.urandom(3 * MIB)
    for start in range(0, len(data), MIB):
        writer.write(data[start : start + MIB])
    locations = writer.close()
    # 512 KiB records plus framing: two would pass the 1 MiB a shard takes a second.
    assert [len(call) for call in kinesis.calls] == [1] * 6
    sent = sum(len(r["Data"]) + len(r["PartitionKey"]) for call in kinesis.calls for r in call)
    # The first second's worth goes at once; the rest at 1 MiB/s.
    assert sum(sleeps.delays) == pytest.approx((sent - MIB) / MIB)
    assert b"".join(_decode(r["Data"]).data for c in kinesis.calls for r in c) == data
    assert len(locations) == 6


def test_writers_sharing_a_pacer_share_the_shards_budget() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(2000.0, 1000.0, clock=sleeps.clock)
    sent = 0
    for name in (b"a", b"b"):  # one after the other, on one shard
        kinesis = FakeKinesis()
        writer = _writer(kinesis, sleeps, pacer=pacer, limits=BatchLimits(record_data_bytes=100))
        writer.write(name * 3000)
        writer.close()
        assert all(
            sum(len(r["Data"]) + len(r["PartitionKey"]) for r in c) <= 2000 for c in kinesis.calls
        )
        sent += sum(len(r["Data"]) + len(r["PartitionKey"]) for c in kinesis.calls for r in c)
    # Together at 2,000 B/s after the first second's worth, as if one writer had sent it all.
    assert sum(sleeps.delays) == pytest.approx((sent - 2000) / 2000)


def test_a_pacing_wait_past_the_callers_deadline_fails_the_write() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    kinesis = FakeKinesis()
    writer = _writer(kinesis, sleeps, pacer=pacer, time_left=lambda: 0.2)
    writer.write(os.urandom(3 * MIB))
    # Two 512 KiB records fit the first second; the third would wait ~0.5 s, past the 0.2 s.
    with pytest.raises(KinesisWriteError, match="out of time"):
        writer.close()
    assert len(kinesis.calls) == 2
    assert sum(sleeps.delays) < 0.01


def test_a_cancelled_caller_does_not_wait_for_budget() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    kinesis = FakeKinesis()
    writer = _writer(kinesis, sleeps, pacer=pacer, keep_going=lambda: False)
    writer.write(os.urandom(3 * MIB))
    with pytest.raises(WriteCancelledError):
        writer.close()
    assert sleeps.delays == []
    assert len(kinesis.calls) < 6


def test_two_records_of_the_default_size_fit_one_seconds_budget_of_a_shard() -> None:
    ingest = IngestSettings()
    largest = chunk_record_bytes(TRACK, 2**32 - 1, 2**63 - 1, b"\xff" * ingest.record_data_bytes)
    assert ingest.record_data_bytes <= 512 * KIB
    assert 2 * (len(largest) + len(TRACK)) <= ingest.shard_write_bytes_per_s
    sleeps = ClockSleeps()
    pacer = ShardPacer(ingest.shard_write_bytes_per_s, clock=sleeps.clock)
    kinesis = FakeKinesis()
    writer = _writer(
        kinesis,
        sleeps,
        pacer=pacer,
        limits=BatchLimits(record_data_bytes=ingest.record_data_bytes),
    )
    writer.write(os.urandom(4 * ingest.record_data_bytes))
    writer.close()
    assert [len(call) for call in kinesis.calls] == [2, 2]


def test_headroom_slows_the_refill_but_not_the_first_seconds_burst() -> None:
    clock = ManualClock()
    pacer = ShardPacer(1000.0, 1000.0, headroom=0.1, clock=clock)
    assert pacer.call_bytes == 1000.0
    assert pacer.reserve("s", "shard-0", 1000, 1) == 0.0
    assert pacer.reserve("s", "shard-0", 900, 1) == pytest.approx(1.0)  # 900 B/s after it


def test_refused_records_give_their_budget_back() -> None:
    clock = ManualClock()
    pacer = ShardPacer(1000.0, 1000.0, clock=clock)
    pacer.reserve("s", "shard-0", 1000, 2)
    pacer.refund("s", "shard-0", 400, 1)
    assert pacer.reserve("s", "shard-0", 400, 1) == 0.0
    pacer.refund("s", "shard-0", 5000, 5)  # never more than one second's worth
    assert pacer.reserve("s", "shard-0", 1000, 1) == 0.0
    assert pacer.reserve("s", "shard-0", 100, 1) == pytest.approx(0.1)


# -- the shard map ------------------------------------------------------------------------------

HALF = 2**127


def _hash_key(key: str) -> int:
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big")


def _shard(shard_id: str, first: int, last: int, *, closed: bool = False) -> dict[str, Any]:
    sequence = {"StartingSequenceNumber": "1"}
    if closed:
        sequence["EndingSequenceNumber"] = "9"
    return {
        "ShardId": shard_id,
        "HashKeyRange": {"StartingHashKey": str(first), "EndingHashKey": str(last)},
        "SequenceNumberRange": sequence,
    }


@dataclass
class ShardListing:
    """list_shards in two pages: a closed parent, then its two open children."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def list_shards(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.fail:
            raise _client_error("LimitExceededException")
        if "NextToken" not in request:
            return {"Shards": [_shard("shardId-0", 0, 2**128 - 1, closed=True)], "NextToken": "t"}
        return {"Shards": [_shard("shardId-1", 0, HALF - 1), _shard("shardId-2", HALF, 2**128 - 1)]}


def test_the_shard_map_places_keys_by_the_md5_of_the_partition_key() -> None:
    listing = ShardListing()
    shards = ShardMap(listing, clock=ManualClock())
    low = next(k for k in (f"trk_{i:032x}" for i in range(100)) if _hash_key(k) < HALF)
    high = next(k for k in (f"trk_{i:032x}" for i in range(100)) if _hash_key(k) >= HALF)
    assert shards.shard_of("s", low) == "shardId-1"
    assert shards.shard_of("s", high) == "shardId-2"
    assert listing.requests == [{"StreamName": "s"}, {"NextToken": "t"}]  # read once, cached
    shards.forget("s")
    shards.shard_of("s", low)
    assert len(listing.requests) == 4


def test_an_unreadable_shard_map_leaves_calls_unpaced() -> None:
    clock = ManualClock()
    listing = ShardListing(fail=True)
    shards = ShardMap(listing, ttl_s=10.0, clock=clock)
    assert shards.shard_of("s", TRACK) is None
    assert shards.shard_of("s", TRACK) is None
    assert len(listing.requests) == 1  # not asked again before the ttl
    clock.now += 10.0
    listing.fail = False
    assert shards.shard_of("s", TRACK) in {"shardId-1", "shardId-2"}


@dataclass
class KinesisWithShards(FakeKinesis):
    """FakeKinesis that lists one open shard and names it in its answers."""

    listed: int = 0

    def list_shards(self, **_request: Any) -> dict[str, Any]:
        self.listed += 1
        return {"Shards": [_shard("shardId-000000000000", 0, 2**128 - 1)]}


def test_a_writer_paces_its_first_call_when_the_map_names_its_shard() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    pacer.reserve("stream-a", "shardId-000000000000", MIB, 1)  # another track spent the second
    kinesis = KinesisWithShards()
    shards = ShardMap(kinesis, clock=sleeps.clock)
    writer = _writer(kinesis, sleeps, pacer=pacer, shard_map=shards)
    writer.write(os.urandom(100 * KIB))
    writer.close()
    assert sleeps.delays[0] == pytest.approx((100 * KIB + 100) / MIB, rel=0.01)
    assert kinesis.listed == 1


def test_an_answer_from_another_shard_is_charged_there_and_the_map_read_again() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    listing = ShardListing()  # the map says shardId-1 or -2; the fake answers shardId-000...
    shards = ShardMap(listing, clock=sleeps.clock)
    kinesis = FakeKinesis()
    writer = _writer(kinesis, sleeps, pacer=pacer, shard_map=shards)
    writer.write(os.urandom(MIB))
    writer.close()
    assert len(listing.requests) == 2  # the writer trusts the answer from then on
    # The shard that answered was charged: its next call of one second's worth must wait.
    assert pacer.reserve("stream-a", "shardId-000000000000", MIB, 1) > 0.5
    # The map was dropped: the next writer reads it again.
    second = _writer(FakeKinesis(), sleeps, pacer=pacer, shard_map=shards)
    second.write(os.urandom(KIB))
    second.close()
    assert len(listing.requests) == 4


# -- spreading a track over shards -----------------------------------------------------------


@dataclass
class FourShards(FakeKinesis):
    """Places each record as Kinesis does on a stream of four evenly split shards."""

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.calls.append(Records)
        results = [
            {
                "ShardId": f"shardId-{hash_key(r['PartitionKey'], r.get('ExplicitHashKey')) * 4 // HASH_KEY_SPACE:012d}",
                "SequenceNumber": str(next(self._sequence)),
            }
            for r in Records
        ]
        return {"FailedRecordCount": 0, "Records": results}


def test_a_spread_track_lands_on_every_shard_and_each_shard_is_paced_on_its_own() -> None:
    sleeps = ClockSleeps()
    pacer = ShardPacer(float(MIB), 1000.0, clock=sleeps.clock)
    kinesis = FourShards()
    writer = _writer(kinesis, sleeps, pacer=pacer, spread=8)
    data = os.urandom(8 * 512 * KIB)
    writer.write(data)
    locations = writer.close()
    # Records 0-3 and 4-7 each cover the four shards: two ~512 KiB records per shard.
    assert [
        sum(1 for loc in locations if loc.shard_id == f"shardId-{s:012d}") for s in range(4)
    ] == [2] * 4
    assert all("ExplicitHashKey" in r for call in kinesis.calls for r in call)
    # 4 MiB over four shards of 1 MiB/s each: about one second, not the four one shard needs.
    assert sum(sleeps.delays) < 1.1
    records = sorted((_decode(r["Data"]) for c in kinesis.calls for r in c), key=lambda r: r.index)
    assert b"".join(r.data for r in records) == data


def test_spread_hash_keys_put_any_aligned_run_of_records_on_distinct_shards() -> None:
    for n in (1, 2, 4, 8):
        for track in (TRACK, "trk_" + "f" * 32, "trk_" + "7" * 32):
            shards = [k * n // HASH_KEY_SPACE for k in spread_hash_keys(track, 8)]
            for start in range(0, 8, n):
                assert len(set(shards[start : start + n])) == n
