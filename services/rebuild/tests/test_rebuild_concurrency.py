"""Rebuild's concurrency, with in-memory fakes (fast): shards read in parallel, manifests handled
at the same time, order kept per track, throttled reads retried without losing a record."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_pipeline.manifest import encode_manifest
from audioval_rebuild.manifest_pool import KeyedLocks, ManifestPool
from audioval_rebuild.reader import ReadLimits, ReadPacer, read_track
from audioval_rebuild.settings import RebuildSettings
from audioval_rebuild.visibility import VisibilityHeartbeat
from audioval_rebuild.worker import Outcome, RebuildWorker

STREAM = "chunks-0"
CHUNK = 1000


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        operation,
    )


@dataclass
class FakeKinesis:
    """Shards as lists of (sequence number, data); GetRecords can be slowed and throttled."""

    latency_s: float = 0.0
    throttle_every: int = 0  # every n-th GetRecords call is throttled (0: never)
    shards: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    most_in_flight: int = 0
    calls: int = 0
    throttled: int = 0
    limits_asked: list[int] = field(default_factory=list)
    _sequence: int = 1000

    def put(self, shard: str, data: bytes) -> str:
        with self.lock:
            self._sequence += 1
            self.shards.setdefault(shard, []).append((self._sequence, data))
            return str(self._sequence)

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        records = self.shards[kwargs["ShardId"]]
        at = int(kwargs["StartingSequenceNumber"])
        position = next(i for i, (seq, _) in enumerate(records) if seq >= at)
        return {"ShardIterator": f"{kwargs['ShardId']}|{position}"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        shard, position_text = ShardIterator.split("|")
        with self.lock:
            self.calls += 1
            self.limits_asked.append(Limit)
            if self.throttle_every and self.calls % self.throttle_every == 0:
                self.throttled += 1
                raise _throttled("GetRecords")
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency_s)  # a service's latency, not a wait for a state
            records = self.shards[shard]
            position = int(position_text)
            page = records[position : position + Limit]
            return {
                "Records": [{"SequenceNumber": str(seq), "Data": data} for seq, data in page],
                "NextShardIterator": f"{shard}|{position + len(page)}",
                "MillisBehindLatest": 0 if position + len(page) >= len(records) else 1000,
            }
        finally:
            with self.lock:
                self.in_flight -= 1


def write_track(
    kinesis: FakeKinesis, content: bytes, shards: int, *, track_id: str = "", others: bool = False
) -> pipeline_pb2.Manifest:
    """``content`` as chunk records, record i on shard i % shards (as ingest spreads them)."""
    track_id = track_id or "trk_" + uuid.uuid4().hex
    chunks = []
    for index, offset in enumerate(range(0, len(content), CHUNK)):
        shard = f"shardId-{index % shards:012d}"
        data = content[offset : offset + CHUNK]
        if others:  # another track's record before each of ours, on the same shard
            noise = pipeline_pb2.ChunkRecord(track_id="trk_other", index=index, data=b"x" * 10)
            kinesis.put(shard, noise.SerializeToString())
        record = pipeline_pb2.ChunkRecord(track_id=track_id, index=index, offset=offset, data=data)
        sequence = kinesis.put(shard, record.SerializeToString())
        chunks.append(
            pipeline_pb2.ChunkLocation(
                index=index,
                stream_name=STREAM,
                shard_id=shard,
                sequence_number=sequence,
                size_bytes=len(data),
            )
        )
    return pipeline_pb2.Manifest(
        track_id=track_id,
        user_id="user-1",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        chunk_count=len(chunks),
        chunks=chunks,
    )


# -- reading a track --------------------------------------------------------------------------


def test_a_track_spread_over_shards_is_read_in_parallel_and_reassembled_in_order() -> None:
    kinesis = FakeKinesis(latency_s=0.05)
    content = os.urandom(12 * CHUNK + 17)
    manifest = write_track(kinesis, content, shards=4, others=True)
    assert read_track(kinesis, manifest, ReadLimits(parallel_shards=4)) == content
    assert kinesis.most_in_flight == 4


def test_with_one_parallel_shard_the_shards_are_read_one_after_another() -> None:
    kinesis = FakeKinesis(latency_s=0.01)
    content = os.urandom(8 * CHUNK)
    manifest = write_track(kinesis, content, shards=4)
    assert read_track(kinesis, manifest, ReadLimits(parallel_shards=1)) == content
    assert kinesis.most_in_flight == 1


def test_get_records_asks_only_for_the_records_the_shard_still_owes() -> None:
    kinesis = FakeKinesis()
    content = os.urandom(6 * CHUNK)
    manifest = write_track(kinesis, content, shards=2, others=True)
    assert read_track(kinesis, manifest, ReadLimits(records_per_call=1000)) == content
    # 3 of ours per shard, another track's record before each: never more than 3 asked for.
    assert max(kinesis.limits_asked) == 3
    assert min(kinesis.limits_asked) >= 1


def test_throttled_reads_are_retried_and_no_record_is_lost() -> None:
    kinesis = FakeKinesis(throttle_every=2)
    content = os.urandom(20 * CHUNK + 3)
    manifest = write_track(kinesis, content, shards=4, others=True)
    limits = ReadLimits(throttle_retries=10, backoff_base_s=0.001, backoff_cap_s=0.005)
    assert read_track(kinesis, manifest, limits) == content
    assert kinesis.throttled > 0


# -- handling manifests -----------------------------------------------------------------------


@dataclass
class FakeSqs:
    """A queue whose one receive hands out ``messages``; records deletes and visibility."""

    messages: list[dict[str, Any]]
    deleted: list[str] = field(default_factory=list)
    returned: list[tuple[str, int]] = field(default_factory=list)
    asked_for: list[int] = field(default_factory=list)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.asked_for.append(kwargs["MaxNumberOfMessages"])
        taken = self.messages[: kwargs["MaxNumberOfMessages"]]
        del self.messages[: len(taken)]
        return {"Messages": taken}

    def delete_message(self, **kwargs: Any) -> None:
        self.deleted.append(kwargs["ReceiptHandle"])

    def change_message_visibility(self, **kwargs: Any) -> None:
        self.returned.append((kwargs["ReceiptHandle"], kwargs["VisibilityTimeout"]))


@dataclass
class FakeVerdicts:
    judged: set[str] = field(default_factory=set)

    def is_judged(self, track_id: str) -> bool:
        return track_id in self.judged


@dataclass
class FakeClassify:
    """Stores a verdict per call; ``gate`` runs before it (to hold calls in flight)."""

    verdicts: FakeVerdicts
    gate: Callable[[pipeline_pb2.Manifest], None] = lambda manifest: None
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def validate(self, manifest: pipeline_pb2.Manifest, content: bytes) -> verdict_pb2.Verdict:
        self.gate(manifest)
        with self.lock:
            self.calls.append(manifest.track_id)
            self.verdicts.judged.add(manifest.track_id)
        return verdict_pb2.Verdict(track_id=manifest.track_id, decision=verdict_pb2.DECISION_ACCEPT)


def message(manifest: pipeline_pb2.Manifest, handle: str) -> dict[str, Any]:
    return {
        "ReceiptHandle": handle,
        "MessageId": handle,
        "Body": encode_manifest(manifest),
        "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": manifest.user_id},
    }


def make_worker(
    sqs: FakeSqs, kinesis: FakeKinesis, classify: FakeClassify, **settings: Any
) -> RebuildWorker:
    rebuild = RebuildSettings(receive_wait_s=0, **settings)
    heartbeat = VisibilityHeartbeat(sqs, "queue", interval_s=1.0, timeout_s=60)  # not started
    return RebuildWorker(
        rebuild,
        sqs=sqs,
        kinesis=kinesis,
        verdicts=classify.verdicts,  # type: ignore[arg-type]
        classify=classify,  # type: ignore[arg-type]
        queue_url="queue",
        dlq_url="dlq",
        heartbeat=heartbeat,
        pool=ManifestPool(rebuild.manifest_concurrency),
        order=KeyedLocks(),
    )


def test_an_albums_manifests_from_one_fifo_group_are_judged_at_the_same_time() -> None:
    kinesis = FakeKinesis()
    manifests = [write_track(kinesis, os.urandom(3 * CHUNK), shards=2) for _ in range(4)]
    # Each classify call waits until all four are in flight: only concurrent handling passes.
    barrier = threading.Barrier(4, timeout=10)
    classify = FakeClassify(FakeVerdicts(), gate=lambda manifest: barrier.wait())
    sqs = FakeSqs([message(m, f"h{i}") for i, m in enumerate(manifests)])
    worker = make_worker(sqs, kinesis, classify, concurrency=4)
    assert worker.poll_once() == [Outcome.JUDGED] * 4
    assert sorted(sqs.deleted) == ["h0", "h1", "h2", "h3"]  # deleted once judged, each
    assert sorted(classify.calls) == sorted(m.track_id for m in manifests)


def test_a_receive_asks_for_no_more_manifests_than_free_slots() -> None:
    kinesis = FakeKinesis()
    manifests = [write_track(kinesis, os.urandom(CHUNK), shards=1) for _ in range(5)]
    classify = FakeClassify(FakeVerdicts())
    sqs = FakeSqs([message(m, f"h{i}") for i, m in enumerate(manifests)])
    worker = make_worker(sqs, kinesis, classify, concurrency=3)
    assert worker.poll_once() == [Outcome.JUDGED] * 3
    assert worker.poll_once() == [Outcome.JUDGED] * 2
    assert sqs.asked_for == [3, 3]
    assert worker.pool.busy == 0
    assert worker.pool.threads <= 3


def test_a_manifest_sent_again_for_a_track_waits_for_the_first_and_is_dropped() -> None:
    kinesis = FakeKinesis()
    manifest = write_track(kinesis, os.urandom(2 * CHUNK), shards=2)
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def gate(manifest: pipeline_pb2.Manifest) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.05)  # hold the call so a second one for the track would overlap
        with lock:
            in_flight -= 1

    classify = FakeClassify(FakeVerdicts(), gate=gate)
    sqs = FakeSqs([message(manifest, "first"), message(manifest, "again")])
    worker = make_worker(sqs, kinesis, classify, concurrency=4)
    outcomes = worker.poll_once()
    assert sorted(outcomes) == sorted([Outcome.JUDGED, Outcome.ALREADY_JUDGED])
    assert classify.calls == [manifest.track_id]  # judged once
    assert most == 1
    assert sorted(sqs.deleted) == ["again", "first"]


def test_ordered_by_user_judges_one_users_manifests_one_after_another() -> None:
    kinesis = FakeKinesis()
    manifests = [write_track(kinesis, os.urandom(CHUNK), shards=1) for _ in range(3)]
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def gate(manifest: pipeline_pb2.Manifest) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1

    classify = FakeClassify(FakeVerdicts(), gate=gate)
    sqs = FakeSqs([message(m, f"h{i}") for i, m in enumerate(manifests)])
    worker = make_worker(sqs, kinesis, classify, concurrency=4, ordered_by="user")
    assert worker.poll_once() == [Outcome.JUDGED] * 3
    assert most == 1


def test_manifests_received_after_stop_are_handed_back_at_once() -> None:
    kinesis = FakeKinesis()
    manifest = write_track(kinesis, os.urandom(CHUNK), shards=1)
    classify = FakeClassify(FakeVerdicts())
    sqs = FakeSqs([message(manifest, "h0")])
    worker = make_worker(sqs, kinesis, classify, concurrency=2)
    worker.stop.set()
    assert worker.poll_once() == [Outcome.RELEASED]
    assert sqs.returned == [("h0", 0)] and not sqs.deleted


def test_concurrency_follows_the_cpus_unless_set() -> None:
    cpus = os.cpu_count() or 1
    assert RebuildSettings().manifest_concurrency == max(4, min(64, 4 * cpus))
    assert RebuildSettings(concurrency=3).manifest_concurrency == 3


@pytest.mark.parametrize("size", [1, 3])
def test_the_pool_never_runs_more_than_its_slots(size: int) -> None:
    pool = ManifestPool(size)
    running = 0
    most = 0
    lock = threading.Lock()

    def job() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    futures = []
    for _ in range(10):
        assert pool.reserve(1, timeout_s=5) == 1
        futures.append(pool.submit(job))
    for future in futures:
        future.result(timeout=5)
    assert most <= size
    assert pool.wait_idle(5)
    assert pool.threads <= size


def test_reads_wait_for_each_shards_budget_instead_of_being_throttled() -> None:
    clock = [100.0]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock[0] += seconds

    kinesis = FakeKinesis()
    content = os.urandom(12 * CHUNK)
    # Another track's record before each of ours, one record a call: 23 calls from our first.
    manifest = write_track(kinesis, content, shards=1, others=True)
    pacer = ReadPacer(5.0, 1e9, 5.0, clock=lambda: clock[0])
    limits = ReadLimits(records_per_call=1)
    assert read_track(kinesis, manifest, limits, sleep=sleep, pacer=pacer) == content
    # 5 calls a second: the first 5 go at once, every later one waits its 0.2 s turn.
    assert kinesis.calls == 23
    assert sum(waited) == pytest.approx((kinesis.calls - 5) / 5.0, abs=0.05)
