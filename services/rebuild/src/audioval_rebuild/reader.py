"""Rebuild a track's bytes from exactly the Kinesis records its manifest names.

For each (stream, shard) the manifest uses, reading starts AT_SEQUENCE_NUMBER of the first named
record and goes forward, keeping only the named sequence numbers (other tracks' records on the
same shard are skipped). It never scans from the horizon, and it is bounded in GetRecords calls
and wall-clock time. Each record must be this track's chunk at the named index, offset and size;
the bytes must hash to the manifest's sha256.

Ingest spreads a track's records over the stream's shards, so the shards are read concurrently
(at most ``ReadLimits.parallel_shards`` at a time) and the chunks put back in index order. A
GetRecords call asks for no more records than the shard still owes this track: other tracks'
records interleave on a shard, and an unbounded call would return them all (moto has no 10 MiB
cap per call; Kinesis has, and charges every byte to the shard's 2 MiB/s).

With a :class:`ReadPacer` (shared by the process' handlers) each call first waits for its
shard's budget, as Kinesis publishes it: 5 GetRecords calls and 2 MiB a second, 5
GetShardIterator calls a second. Handlers reading many tracks at once would otherwise be
throttled in turn until their backoffs ran out.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from google.protobuf.message import DecodeError

from audioval.v1 import pipeline_pb2
from audioval_pipeline.shards import ShardPacer
from audioval_rebuild.integrity import CountMismatchError, HashMismatchError, MissingRecordError
from audioval_rebuild.metrics import KINESIS_RETRIES, KINESIS_THROTTLES

__all__ = ["ReadLimits", "ReadPacer", "ReadTimeoutError", "read_track"]

# Throttling is expected under load; botocore's standard mode retries these first.
_THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
    }
)
# The named record cannot exist where the manifest says it is.
_NOT_THERE = frozenset({"InvalidArgumentException", "ResourceNotFoundException"})


class ReadTimeoutError(Exception):
    """Reading ran out of time or of throttling retries: transient, try the manifest again."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds of one track's read."""

    max_calls: int = 1000
    records_per_call: int = 1000
    timeout_s: float = 120.0
    throttle_retries: int = 5
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    # Shards of one track read at the same time.
    parallel_shards: int = 8


class ReadPacer:
    """Each shard's read budget, shared by the readers of one process.

    GetRecords: ``calls_per_s`` calls and ``bytes_per_s`` bytes a second (the bytes are known
    only from the answer, so they are charged after it and the next call waits off the debt);
    GetShardIterator: ``iterator_calls_per_s`` calls a second.
    """

    def __init__(
        self,
        calls_per_s: float = 5.0,
        bytes_per_s: float = 2 * 1024 * 1024,
        iterator_calls_per_s: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._records = ShardPacer(bytes_per_s, calls_per_s, clock=clock)
        self._iterators = ShardPacer(1e18, iterator_calls_per_s, clock=clock)  # calls only

    def before_get_records(self, stream: str, shard: str) -> float:
        """Take one GetRecords call of the shard's budget; seconds to wait before making it."""
        return self._records.reserve(stream, shard, 0, 1)

    def after_get_records(self, stream: str, shard: str, size: int) -> None:
        """Charge the bytes the answer carried."""
        self._records.reserve(stream, shard, size, 0)

    def before_get_shard_iterator(self, stream: str, shard: str) -> float:
        return self._iterators.reserve(stream, shard, 0, 1)


@dataclass
class _Reader:
    kinesis: Any
    manifest: pipeline_pb2.Manifest
    limits: ReadLimits
    sleep: Callable[[float], object]
    deadline: float
    # Offset of each chunk in the file, by index.
    offsets: list[int]
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    pacer: ReadPacer | None = None

    def _pace(self, delay: float) -> None:
        if delay <= 0:
            return
        if delay >= self._remaining_s():
            raise ReadTimeoutError(f"no read budget for track {self.manifest.track_id} in time")
        self.sleep(delay)

    def _count_call(self) -> int:
        """One more GetRecords call (shards are read concurrently); the count before it."""
        with self.lock:
            self.calls += 1
            return self.calls - 1

    def _remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def _call(self, operation: str, where: tuple[str, str], **kwargs: Any) -> dict[str, Any]:
        """Call Kinesis on the shard ``where`` (stream, shard) within its read budget, backing
        off (full jitter, bounded) when throttled past botocore's retries."""
        attempt = 0
        while True:
            if self._remaining_s() <= 0:
                raise ReadTimeoutError(f"reading track {self.manifest.track_id} took too long")
            if self.pacer is not None:
                self._pace(
                    self.pacer.before_get_records(*where)
                    if operation == "get_records"
                    else self.pacer.before_get_shard_iterator(*where)
                )
            try:
                response: dict[str, Any] = getattr(self.kinesis, operation)(**kwargs)
                if self.pacer is not None and operation == "get_records":
                    size = sum(len(r.get("Data", b"")) for r in response.get("Records", []))
                    self.pacer.after_get_records(*where, size)
                return response
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _THROTTLING:
                    raise
                KINESIS_THROTTLES.labels(operation).inc()
                if attempt >= self.limits.throttle_retries:
                    raise ReadTimeoutError(
                        f"{operation} still throttled after {attempt} backoffs"
                    ) from exc
            cap = min(self.limits.backoff_cap_s, self.limits.backoff_base_s * 2**attempt)
            pause = random.uniform(0, cap)
            if pause >= self._remaining_s():
                raise ReadTimeoutError(f"{operation} throttled until the read deadline")
            self.sleep(pause)
            attempt += 1
            KINESIS_RETRIES.labels(operation).inc()

    def _iterator(self, stream: str, shard: str, kind: str, sequence_number: str) -> str:
        try:
            response = self._call(
                "get_shard_iterator",
                (stream, shard),
                StreamName=stream,
                ShardId=shard,
                ShardIteratorType=kind,
                StartingSequenceNumber=sequence_number,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_THERE:
                raise MissingRecordError(
                    f"no record {sequence_number} on {stream}/{shard} ({code})",
                    stream_name=stream,
                    shard_id=shard,
                    sequence_number=sequence_number,
                ) from exc
            raise
        return str(response["ShardIterator"])

    def read_shard(
        self, stream: str, shard: str, wanted: dict[int, pipeline_pb2.ChunkLocation]
    ) -> dict[int, bytes]:
        """Data of every wanted record of one shard, by chunk index."""
        found: dict[int, bytes] = {}
        remaining = dict(wanted)
        first = min(remaining)
        iterator: str | None = self._iterator(stream, shard, "AT_SEQUENCE_NUMBER", str(first))
        last_seen: int | None = None
        while remaining:
            if iterator is None:
                self._missing(stream, shard, remaining, "the shard is closed and ended")
            made = self._count_call()
            if made >= self.limits.max_calls:
                self._missing(stream, shard, remaining, f"not found in {made} GetRecords calls")
            try:
                # No more records than this shard still owes: the rest are other tracks'.
                response = self._call(
                    "get_records",
                    (stream, shard),
                    ShardIterator=iterator,
                    Limit=min(self.limits.records_per_call, len(remaining)),
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "ExpiredIteratorException":
                    # Iterators live 5 minutes; resume right after the last record seen.
                    kind, number = (
                        ("AT_SEQUENCE_NUMBER", min(remaining))
                        if last_seen is None
                        else ("AFTER_SEQUENCE_NUMBER", last_seen)
                    )
                    iterator = self._iterator(stream, shard, kind, str(number))
                    continue
                if code in _NOT_THERE:
                    self._missing(stream, shard, remaining, code)
                raise
            records = response.get("Records", [])
            for record in records:
                sequence = int(record["SequenceNumber"])
                last_seen = sequence
                location = remaining.pop(sequence, None)
                if location is not None:  # else another track's record: skip it
                    found[location.index] = self._chunk(record["Data"], location)
            if not remaining:
                break
            # Sequence numbers only grow within a shard: one we passed is not coming.
            if last_seen is not None and min(remaining) < last_seen:
                self._missing(stream, shard, remaining, "passed without finding it")
            if not records and response.get("MillisBehindLatest") == 0:
                self._missing(stream, shard, remaining, "reached the tip of the shard")
            iterator = response.get("NextShardIterator")
        return found

    def _missing(
        self, stream: str, shard: str, remaining: dict[int, pipeline_pb2.ChunkLocation], why: str
    ) -> NoReturn:
        sequence = min(remaining)
        location = remaining[sequence]
        raise MissingRecordError(
            f"record {sequence} (chunk {location.index}) on {stream}/{shard}: {why}",
            stream_name=stream,
            shard_id=shard,
            sequence_number=str(sequence),
            index=location.index,
            missing=len(remaining),
        )

    def _chunk(self, data: bytes, location: pipeline_pb2.ChunkLocation) -> bytes:
        record = pipeline_pb2.ChunkRecord()
        try:
            record.ParseFromString(data)
        except DecodeError as exc:
            raise MissingRecordError(
                f"record {location.sequence_number} is not a chunk record",
                sequence_number=location.sequence_number,
                index=location.index,
            ) from exc
        if record.track_id != self.manifest.track_id:
            raise MissingRecordError(
                f"record {location.sequence_number} belongs to another track",
                sequence_number=location.sequence_number,
                index=location.index,
            )
        if record.index != location.index:
            raise CountMismatchError(
                f"record {location.sequence_number} is chunk {record.index}, not {location.index}",
                index=location.index,
                record_index=record.index,
            )
        if len(record.data) != location.size_bytes:
            raise CountMismatchError(
                f"chunk {location.index} has {len(record.data)} bytes, manifest says "
                f"{location.size_bytes}",
                index=location.index,
                record_bytes=len(record.data),
                manifest_bytes=location.size_bytes,
            )
        expected_offset = self.offsets[location.index]
        if record.offset != expected_offset:
            raise CountMismatchError(
                f"chunk {location.index} is at offset {record.offset}, expected {expected_offset}",
                index=location.index,
                offset=record.offset,
                expected_offset=expected_offset,
            )
        return bytes(record.data)


_Group = tuple[tuple[str, str], dict[int, pipeline_pb2.ChunkLocation]]


def _read_shards(reader: _Reader, groups: list[_Group], parallel: int) -> list[dict[int, bytes]]:
    """Every group's chunks, read by up to ``parallel`` threads; the first failure is raised.

    Daemon threads, not an executor: a read stuck in an HTTP call must not hold up the
    process' exit (its time is bounded by the read deadline anyway).
    """
    if len(groups) == 1 or parallel <= 1:
        return [reader.read_shard(stream, shard, wanted) for (stream, shard), wanted in groups]
    results: list[dict[int, bytes] | None] = [None] * len(groups)
    errors: list[BaseException] = []
    lock = threading.Lock()
    todo = iter(range(len(groups)))

    def work() -> None:
        while True:
            with lock:
                if errors:
                    return  # the track has failed: start no other shard
                position = next(todo, None)
            if position is None:
                return
            (stream, shard), wanted = groups[position]
            try:
                results[position] = reader.read_shard(stream, shard, wanted)
            except BaseException as exc:  # handed to the caller's thread below
                with lock:
                    errors.append(exc)
                return

    threads = [
        threading.Thread(target=work, name="rebuild-read", daemon=True)
        for _ in range(min(parallel, len(groups)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [found for found in results if found is not None]


def read_track(
    kinesis: Any,
    manifest: pipeline_pb2.Manifest,
    limits: ReadLimits | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    pacer: ReadPacer | None = None,
) -> bytes:
    """The track's bytes, read from the records its (already checked) manifest names.

    Parameters
    ----------
    kinesis
        A boto3 Kinesis client (from ``audioval_pipeline.clients.aws_client``).
    manifest
        A manifest that passed :func:`audioval_rebuild.manifest.parse_manifest`.
    limits
        Call, time and throttling bounds.
    sleep
        How to wait between throttled calls (the worker passes its stop event's ``wait``).
    pacer
        The process' per-shard read budgets; None calls as soon as it can.

    Raises
    ------
    MissingRecordError, CountMismatchError, HashMismatchError
        The records do not rebuild the file the manifest describes (permanent).
    ReadTimeoutError
        Time or throttling retries ran out (transient).
    botocore.exceptions.ClientError
        Any other AWS failure, after botocore's retries (transient).
    """
    limits = limits or ReadLimits()
    offsets = [0, *itertools.accumulate(c.size_bytes for c in manifest.chunks)]
    reader = _Reader(
        kinesis,
        manifest,
        limits,
        sleep,
        time.monotonic() + limits.timeout_s,
        offsets,
        pacer=pacer,
    )
    groups: dict[tuple[str, str], dict[int, pipeline_pb2.ChunkLocation]] = {}
    for chunk in manifest.chunks:
        groups.setdefault((chunk.stream_name, chunk.shard_id), {})[int(chunk.sequence_number)] = (
            chunk
        )
    parts: dict[int, bytes] = {}
    for found in _read_shards(reader, list(groups.items()), limits.parallel_shards):
        parts.update(found)
    if len(parts) != manifest.chunk_count:
        raise CountMismatchError(
            f"rebuilt {len(parts)} chunks, manifest names {manifest.chunk_count}",
            rebuilt=len(parts),
            chunk_count=manifest.chunk_count,
        )
    content = b"".join(parts[i] for i in range(manifest.chunk_count))
    digest = hashlib.sha256(content).hexdigest()
    if digest != manifest.sha256.lower():
        raise HashMismatchError(
            f"rebuilt bytes hash to {digest}, manifest says {manifest.sha256}",
            expected=manifest.sha256,
            actual=digest,
            size_bytes=len(content),
        )
    return content
