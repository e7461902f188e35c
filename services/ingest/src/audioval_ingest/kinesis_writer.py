"""Write an upload's bytes to one Kinesis stream as ChunkRecords, batch by batch, as they arrive.

The upload is cut into slices of at most ``record_data_bytes`` (each a binary
``pipeline_pb2.ChunkRecord`` with PartitionKey = track id, so every slice of a track lands on
one shard, in order). Records are grouped into PutRecords calls of at most 500 records and
5 MiB (data + partition keys); a batch is sent as soon as it cannot take another record, so
memory stays bounded by about one batch whatever the upload's size.

PutRecords can accept some records of a call and refuse others (``FailedRecordCount > 0``,
usually ``ProvisionedThroughputExceededException``). Only the refused records are sent again,
after an exponential backoff with full jitter, within a bounded number of attempts and time.
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

__all__ = [
    "BatchLimits",
    "ChunkWriter",
    "KinesisWriteError",
    "RetryPolicy",
    "WriteCancelledError",
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
    keep_going
        Called before each backoff; returning False stops with :class:`WriteCancelledError`
        (e.g. ``context.is_active``).
    time_left
        Seconds the caller still has (e.g. ``context.time_remaining``), or None for no
        deadline; a backoff that would outlast it fails the write instead of sleeping.
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
        keep_going: Callable[[], bool] = _never_cancelled,
        time_left: Callable[[], float | None] = _no_deadline,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._kinesis = kinesis
        self._stream = stream_name
        self._track_id = track_id
        self._partition_key_bytes = len(track_id.encode("utf-8"))
        self._limits = limits
        self._retry = retry
        self._keep_going = keep_going
        self._time_left = time_left
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
                self._emit(bytes(self._partial))
                self._partial.clear()
        while len(view) >= size:
            self._emit(bytes(view[:size]))
            view = view[size:]
        if len(view):
            self._partial += view

    def close(self) -> list[pipeline_pb2.ChunkLocation]:
        """Send what is left; the location of every record, in file order."""
        if self._closed:
            raise RuntimeError("closed twice")
        if self._partial:
            self._emit(bytes(self._partial))
            self._partial.clear()
        self._flush()
        self._closed = True
        return [self._locations[i] for i in range(self._next_index)]

    def _emit(self, data: bytes) -> None:
        record = pipeline_pb2.ChunkRecord(
            track_id=self._track_id, index=self._next_index, offset=self._offset, data=data
        ).SerializeToString()
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

    def _put(self, batch: list[_Entry]) -> None:
        pending = batch
        started = time.monotonic()
        attempt = 0  # consecutive calls that got no record through
        while True:
            before = len(pending)
            pending, reason = self._attempt(pending)
            if not pending:
                return
            # A call that moved some records is progress, not a failure: on a shard at its
            # limit every batch takes several calls, each accepting a share.
            attempt = 1 if len(pending) < before else attempt + 1
            log.info(
                "records refused; retrying",
                extra={
                    "track_id": self._track_id,
                    "stream": self._stream,
                    "refused": len(pending),
                    "attempt": attempt,
                    "reason": reason,
                },
            )
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

    def _attempt(self, pending: list[_Entry]) -> tuple[list[_Entry], str]:
        """One PutRecords call; the entries still to send and why they were refused."""
        self.calls += 1
        records = [{"Data": e.data, "PartitionKey": self._track_id} for e in pending]
        try:
            response = self._kinesis.put_records(StreamName=self._stream, Records=records)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _RETRYABLE_CALL_ERRORS or status >= 500:
                return pending, code or f"HTTP {status}"
            raise KinesisWriteError(f"PutRecords to {self._stream} failed: {exc}") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            return pending, type(exc).__name__
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
            self._locations[entry.index] = pipeline_pb2.ChunkLocation(
                index=entry.index,
                stream_name=self._stream,
                shard_id=result["ShardId"],
                sequence_number=result["SequenceNumber"],
                size_bytes=entry.size,
            )
        return refused, ", ".join(sorted(reasons))
