"""Rebuild a track's bytes from exactly the Kinesis records its manifest names.

For each (stream, shard) the manifest uses, reading starts AT_SEQUENCE_NUMBER of the first named
record and goes forward, keeping only the named sequence numbers (other tracks' records on the
same shard are skipped). It never scans from the horizon, and it is bounded in GetRecords calls
and wall-clock time. Each record must be this track's chunk at the named index, offset and size;
the bytes must hash to the manifest's sha256.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from google.protobuf.message import DecodeError

from audioval.v1 import pipeline_pb2
from audioval_rebuild.integrity import CountMismatchError, HashMismatchError, MissingRecordError
from audioval_rebuild.metrics import KINESIS_RETRIES, KINESIS_THROTTLES

__all__ = ["ReadLimits", "ReadTimeoutError", "read_track"]

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

    def _remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call Kinesis, backing off (full jitter, bounded) when throttled past botocore's retries."""
        attempt = 0
        while True:
            if self._remaining_s() <= 0:
                raise ReadTimeoutError(f"reading track {self.manifest.track_id} took too long")
            try:
                response: dict[str, Any] = getattr(self.kinesis, operation)(**kwargs)
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
            if self.calls >= self.limits.max_calls:
                self._missing(
                    stream, shard, remaining, f"not found in {self.calls} GetRecords calls"
                )
            self.calls += 1
            try:
                response = self._call(
                    "get_records", ShardIterator=iterator, Limit=self.limits.records_per_call
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


def read_track(
    kinesis: Any,
    manifest: pipeline_pb2.Manifest,
    limits: ReadLimits | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
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
    reader = _Reader(kinesis, manifest, limits, sleep, time.monotonic() + limits.timeout_s, offsets)
    groups: dict[tuple[str, str], dict[int, pipeline_pb2.ChunkLocation]] = {}
    for chunk in manifest.chunks:
        groups.setdefault((chunk.stream_name, chunk.shard_id), {})[int(chunk.sequence_number)] = (
            chunk
        )
    parts: dict[int, bytes] = {}
    for (stream, shard), wanted in groups.items():
        parts.update(reader.read_shard(stream, shard, wanted))
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
