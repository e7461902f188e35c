"""Write an upload's bytes to one Kinesis stream as ChunkRecords, batch by batch, as they arrive.

The upload is cut into slices of at most ``record_data_bytes`` (each a binary
``pipeline_pb2.ChunkRecord`` with PartitionKey = track id, so every slice of a track lands on
one shard, in order). Records are grouped into PutRecords calls of at most 500 records and
5 MiB (data + partition keys); a batch is sent as soon as it cannot take another record, so
memory stays bounded by about one batch whatever the upload's size.

PutRecords can accept some records of a call and refuse others (``FailedRecordCount > 0``,
usually ``ProvisionedThroughputExceededException``). Only the refused records are sent again,
after an exponential backoff with full jitter, within a bounded number of attempts and time.

Every call costs CPU in proportion to the bytes it carries (boto3 base64s them into JSON and
signs the body), refused ones included. So a writer whose shard is at its limit sends no more
records a call than the shard took last time: a call window, cut to what a call accepted (one
record when it took none) and doubled after a call that took everything, up to the batch. A
shard that takes 1 MiB a second then costs about one extra record per retry, not the rest of
a 5 MiB batch.

Refused records are still sent twice. A :class:`ShardPacer`, shared by every writer of the
process, keeps them from being sent at all: it holds each shard's write budget as Kinesis
publishes it (1 MiB and 1,000 records a second) and makes a call wait until the budget it
needs is there, the way the Kinesis Producer Library limits its rate per shard. Calls then
carry at most one second of a shard's budget: all records of a track go to one shard, so a
bigger call could never be taken whole. A writer finds its shard before its first call in a
:class:`ShardMap` (ListShards, cached: the MD5 of the partition key falls in one open shard's
hash-key range, as Kinesis places records) and trusts the shard every answer names over it.
Both live in :mod:`audioval_pipeline.shards`, which the local stack's fault proxy uses too.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from audioval.v1 import pipeline_pb2
from audioval_ingest.metrics import KINESIS_PUT_RETRIES, KINESIS_REFUSED_RECORDS
from audioval_pipeline.shards import ShardMap, ShardPacer

__all__ = [
    "BatchLimits",
    "ChunkWriter",
    "KinesisWriteError",
    "RetryPolicy",
    "WriteCancelledError",
    "chunk_record_bytes",
]

log = logging.getLogger(__name__)

# Whole-call errors worth another try: throttling and the service's own failures.
_RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class KinesisWriteError(Exception):
    """Records could not be written: retries exhausted, out of time, or a non-retryable error."""


class WriteCancelledError(Exception):
    """The caller asked to stop (the client went away) while a batch was being retried."""


@dataclass(frozen=True)
class BatchLimits:
    """How bytes are cut into records and records grouped into PutRecords calls."""

    record_data_bytes: int = 512 * 1024
    max_records: int = 500
    # Data + partition keys of one call, as Kinesis counts them.
    max_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on resending refused records: attempts per batch, backoff and total time."""

    max_attempts: int = 10
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    max_total_s: float = 30.0

    def backoff(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt - 1))]."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** min(attempt - 1, 32))
        return uniform(0.0, cap)


@dataclass
class _Entry:
    index: int
    size: int  # bytes of file data
    data: bytes  # the serialized ChunkRecord


# ChunkRecord.data is field 4, traceparent field 5, both length-delimited (wire type 2).
_DATA_FIELD_KEY = bytes([4 << 3 | 2])
_TRACEPARENT_FIELD_KEY = bytes([5 << 3 | 2])


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def chunk_record_bytes(
    track_id: str,
    index: int,
    offset: int,
    data: bytes | bytearray | memoryview,
    traceparent: str = "",
) -> bytes:
    """``ChunkRecord(track_id, index, offset, data, traceparent).SerializeToString()``, copying
    ``data`` once.

    protobuf writes fields in field-number order, so the head (the fields before ``data``,
    serialized by protobuf), then ``data``'s key, length and bytes, then ``traceparent``'s is
    the same byte string; building it with one join skips the two copies of the slice that
    setting the field and serializing the message would make.
    """
    head = pipeline_pb2.ChunkRecord(track_id=track_id, index=index, offset=offset)
    parts: list[bytes | bytearray | memoryview] = [head.SerializeToString()]
    if len(data):  # proto3 leaves an empty bytes field out
        parts += (_DATA_FIELD_KEY, _varint(len(data)), data)
    if traceparent:
        tail = traceparent.encode("ascii")
        parts += (_TRACEPARENT_FIELD_KEY, _varint(len(tail)), tail)
    return b"".join(parts)


def _never_cancelled() -> bool:
    return True


def _no_deadline() -> float | None:
    return None


class ChunkWriter:
    """Re-chunks one track's bytes into Kinesis records and writes them batch by batch.

    Parameters
    ----------
    kinesis
        A boto3 Kinesis client (anything with ``put_records``).
    stream_name, track_id
        Where the records go and which track they belong to (also the partition key).
    limits, retry
        Record/batch sizes and the retry bounds for refused records.
    pacer
        The process' shard budgets; None sends calls as soon as they are ready.
    shard_map
        Where the track's shard is looked up before its first answer names it (with a pacer).
    keep_going
        Called before each wait; returning False stops with :class:`WriteCancelledError`
        (e.g. ``context.is_active``).
    time_left
        Seconds the caller still has (e.g. ``context.time_remaining``), or None for no
        deadline; a backoff that would outlast it fails the write instead of sleeping.
    traceparent
        The upload's W3C trace context, carried by the first record only (a reader joins the
        trace from it; on every record it would cost a shard's 1 MiB/s its second record).
    sleep, uniform
        Injectable so retry tests run without waiting.
    """

    def __init__(
        self,
        kinesis: Any,
        *,
        stream_name: str,
        track_id: str,
        limits: BatchLimits = BatchLimits(),
        retry: RetryPolicy = RetryPolicy(),
        pacer: ShardPacer | None = None,
        shard_map: ShardMap | None = None,
        keep_going: Callable[[], bool] = _never_cancelled,
        time_left: Callable[[], float | None] = _no_deadline,
        traceparent: str = "",
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._kinesis = kinesis
        self._stream = stream_name
        self._track_id = track_id
        self._partition_key_bytes = len(track_id.encode("utf-8"))
        self._limits = limits
        self._retry = retry
        self._pacer = pacer
        self._shard_map = shard_map
        self._shard_id: str | None = None  # looked up, then as the answers name it
        self._keep_going = keep_going
        self._time_left = time_left
        self._traceparent = traceparent
        self._sleep = sleep
        self._uniform = uniform
        # Largest framing a record can have (largest index and offset, 4-byte data length):
        # used to flush a batch as soon as the next full record could not fit.
        framing = len(
            pipeline_pb2.ChunkRecord(
                track_id=track_id, index=2**32 - 1, offset=2**63 - 1
            ).SerializeToString()
        )
        self._max_entry_bytes = limits.record_data_bytes + framing + 5 + self._partition_key_bytes
        if self._max_entry_bytes > limits.max_bytes:
            raise ValueError("a full record does not fit in one batch; lower record_data_bytes")
        self._partial = bytearray()
        self._batch: list[_Entry] = []
        self._batch_bytes = 0
        self._next_index = 0
        self._offset = 0
        self._locations: dict[int, pipeline_pb2.ChunkLocation] = {}
        self._closed = False
        self.calls = 0  # PutRecords calls made, for logs and tests
        # Records the next call may carry: what the shard took last time (module docstring).
        self._window = limits.max_records

    @property
    def stream_name(self) -> str:
        return self._stream

    @property
    def buffered_bytes(self) -> int:
        """File bytes held in memory and not yet accepted by Kinesis."""
        return len(self._partial) + sum(e.size for e in self._batch)

    def write(self, data: bytes) -> None:
        """Take the next bytes of the file; sends every batch that fills up."""
        if self._closed:
            raise RuntimeError("write after close")
        size = self._limits.record_data_bytes
        view = memoryview(data)
        if self._partial:
            take = min(size - len(self._partial), len(view))
            self._partial += view[:take]
            view = view[take:]
            if len(self._partial) == size:
                self._emit(self._partial)
                self._partial.clear()
        while len(view) >= size:
            self._emit(view[:size])
            view = view[size:]
        if len(view):
            self._partial += view

    def close(self) -> list[pipeline_pb2.ChunkLocation]:
        """Send what is left; the location of every record, in file order."""
        if self._closed:
            raise RuntimeError("closed twice")
        if self._partial:
            self._emit(self._partial)
            self._partial.clear()
        self._flush()
        self._closed = True
        return [self._locations[i] for i in range(self._next_index)]

    def _emit(self, data: bytearray | memoryview) -> None:
        # The record is built from the caller's buffer with one copy (the buffer is reused).
        record = chunk_record_bytes(
            self._track_id,
            self._next_index,
            self._offset,
            data,
            self._traceparent if self._next_index == 0 else "",
        )
        entry = _Entry(index=self._next_index, size=len(data), data=record)
        self._next_index += 1
        self._offset += len(data)
        cost = len(record) + self._partition_key_bytes
        if self._batch and self._batch_bytes + cost > self._limits.max_bytes:
            self._flush()
        self._batch.append(entry)
        self._batch_bytes += cost
        full = len(self._batch) >= self._limits.max_records or (
            self._batch_bytes + self._max_entry_bytes > self._limits.max_bytes
        )
        if full:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        self._put(self._batch)
        self._batch = []
        self._batch_bytes = 0

    def _cost(self, entry: _Entry) -> int:
        return len(entry.data) + self._partition_key_bytes

    def _next_call(self, pending: list[_Entry]) -> list[_Entry]:
        """The records of the next call: the window, and with a pacer one second's budget."""
        sent = pending[: self._window]
        if self._pacer is None:
            return sent
        size, most_records = 0, self._pacer.call_records
        for count, entry in enumerate(sent):
            size += self._cost(entry)
            if count and (size > self._pacer.call_bytes or count >= most_records):
                return sent[:count]
        return sent

    def _wait_for_budget(self, sent: list[_Entry]) -> bool:
        """Reserve the call's budget and wait for it; False when the call goes out unpaced."""
        if self._pacer is None:
            return False
        if self._shard_id is None and self._shard_map is not None:
            self._shard_id = self._shard_map.shard_of(self._stream, self._track_id)
        if self._shard_id is None:
            return False
        delay = self._pacer.reserve(
            self._stream, self._shard_id, sum(self._cost(e) for e in sent), len(sent)
        )
        if delay <= 0:
            return True
        deadline = self._time_left()
        if deadline is not None and delay >= deadline:
            raise KinesisWriteError(
                f"out of time: shard {self._shard_id} of {self._stream} has no write budget "
                f"for {delay:.1f} s, the caller has {deadline:.1f} s left"
            )
        if not self._keep_going():
            raise WriteCancelledError(f"upload of {self._track_id} cancelled")
        self._sleep(delay)
        return True

    def _put(self, batch: list[_Entry]) -> None:
        pending = batch
        started = time.monotonic()
        attempt = 0  # consecutive calls that got no record through
        while pending:
            sent = self._next_call(pending)
            paced = self._wait_for_budget(sent)
            refused, reason, answered = self._attempt(sent)
            if paced and refused and self._pacer is not None and self._shard_id is not None:
                # Another producer used the shard: what it refused, it did not charge.
                self._pacer.refund(
                    self._stream, self._shard_id, sum(self._cost(e) for e in refused), len(refused)
                )
            pending = refused + pending[len(sent) :]
            accepted = len(sent) - len(refused)
            if answered:
                # Per-record answers say how much the shard takes now; a whole-call failure
                # (5xx, connection, throttled call) says nothing about it.
                self._window = (
                    min(self._limits.max_records, 2 * self._window)
                    if not refused
                    else max(1, accepted)
                )
            if not refused:
                attempt = 0
                continue
            KINESIS_REFUSED_RECORDS.labels(reason).inc(len(refused))
            # A call that moved some records is progress, not a failure: on a shard at its
            # limit every batch takes several calls, each accepting a share.
            attempt = 1 if accepted else attempt + 1
            log.info(
                "records refused; retrying",
                extra={
                    "track_id": self._track_id,
                    "stream": self._stream,
                    "refused": len(refused),
                    "pending": len(pending),
                    "attempt": attempt,
                    "reason": reason,
                },
            )
            # The batch's records not yet written: refused now, or waiting behind the window.
            what = f"{len(pending)} of {len(batch)} records refused by {self._stream} ({reason})"
            if attempt >= self._retry.max_attempts:
                raise KinesisWriteError(f"{what}; gave up after {attempt} calls without progress")
            delay = self._retry.backoff(attempt, self._uniform)
            budget = self._retry.max_total_s - (time.monotonic() - started)
            deadline = self._time_left()
            if deadline is not None:
                budget = min(budget, deadline)
            if delay >= budget:
                raise KinesisWriteError(
                    f"{what}; out of time after {attempt} attempts ({time.monotonic() - started:.1f} s)"
                )
            if not self._keep_going():
                raise WriteCancelledError(f"upload of {self._track_id} cancelled")
            self._sleep(delay)
            KINESIS_PUT_RETRIES.inc()

    def _attempt(self, pending: list[_Entry]) -> tuple[list[_Entry], str, bool]:
        """One PutRecords call: the entries refused, why, and whether it answered per record."""
        self.calls += 1
        records = [{"Data": e.data, "PartitionKey": self._track_id} for e in pending]
        try:
            response = self._kinesis.put_records(StreamName=self._stream, Records=records)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _RETRYABLE_CALL_ERRORS or status >= 500:
                return pending, code or f"HTTP {status}", False
            raise KinesisWriteError(f"PutRecords to {self._stream} failed: {exc}") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            return pending, type(exc).__name__, False
        results = response.get("Records", [])
        if len(results) != len(pending):
            raise KinesisWriteError(
                f"PutRecords to {self._stream} answered {len(results)} results for {len(pending)} records"
            )
        refused: list[_Entry] = []
        reasons: set[str] = set()
        for entry, result in zip(pending, results, strict=True):
            code = result.get("ErrorCode")
            if code:
                if code.startswith("KMS") and code != "KMSThrottlingException":
                    raise KinesisWriteError(
                        f"{self._stream} refused record {entry.index}: {code}: {result.get('ErrorMessage', '')}"
                    )
                refused.append(entry)
                reasons.add(str(code))
                continue
            shard_id = str(result["ShardId"])
            if self._pacer is not None and shard_id != self._shard_id:
                # The call went out unpaced, or paced against a shard the map got wrong:
                # charge the shard that took it, and read the map again next time.
                if self._shard_id is not None and self._shard_map is not None:
                    self._shard_map.forget(self._stream)
                self._shard_id = shard_id
                self._pacer.reserve(
                    self._stream, shard_id, sum(self._cost(e) for e in pending), len(pending)
                )
            self._locations[entry.index] = pipeline_pb2.ChunkLocation(
                index=entry.index,
                stream_name=self._stream,
                shard_id=result["ShardId"],
                sequence_number=result["SequenceNumber"],
                size_bytes=entry.size,
            )
        return refused, ", ".join(sorted(reasons)), True
