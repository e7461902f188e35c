"""Parse and check the manifest ingest sends on the FIFO queue.

The body's codec is :mod:`audioval_pipeline.manifest` (ingest encodes with it); what rebuild
adds is its own policy. Two ways to fail, because they are handled differently:

- :func:`parse_manifest` raises :class:`~audioval_rebuild.integrity.PoisonManifestError` when the
  body is not a manifest naming a track and a user. Nothing can be said about any track; the
  message goes to the dead-letter queue as it is.
- :func:`check_manifest` raises an :class:`~audioval_rebuild.integrity.IntegrityError` when
  the manifest names its track and user but disagrees with itself (count, indices, sizes, hash
  format) or is too large. The track is refused with a verdict, so its uploader learns it was.
"""

from __future__ import annotations

import re

from audioval.v1 import pipeline_pb2
from audioval_pipeline.manifest import ManifestDecodeError, decode_manifest
from audioval_rebuild.integrity import (
    CountMismatchError,
    HashMismatchError,
    MissingRecordError,
    PoisonManifestError,
    TrackTooLargeError,
)

__all__ = ["MAX_RECORD_DATA_BYTES", "check_manifest", "parse_manifest"]

# Kinesis refuses records over 1 MiB; a chunk claiming more cannot exist.
MAX_RECORD_DATA_BYTES = 1024 * 1024
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_SEQUENCE_NUMBER = re.compile(r"[0-9]{1,128}")


def parse_manifest(body: str) -> pipeline_pb2.Manifest:
    """The manifest in an SQS body, with a usable track id and user id.

    :func:`audioval_pipeline.manifest.decode_manifest`, its failures raised as
    ``PoisonManifestError`` (not JSON, not a manifest, no track id or user id that can serve as
    an SQS deduplication / group id).
    """
    try:
        return decode_manifest(body)
    except ManifestDecodeError as exc:
        raise PoisonManifestError(str(exc)) from exc


def check_manifest(manifest: pipeline_pb2.Manifest, *, max_track_bytes: int) -> None:
    """Check that ``manifest`` describes a file that can be rebuilt; lower-case its sha256.

    Raises
    ------
    TrackTooLargeError
        ``size_bytes`` is over ``max_track_bytes``.
    CountMismatchError
        ``chunk_count`` is not the number of chunks, indices are not 0..n-1 in order, a size is
        impossible, a record is named twice, or sizes do not sum to ``size_bytes``.
    MissingRecordError
        A chunk does not say where its record is.
    HashMismatchError
        ``sha256`` is not a hex sha256.
    """
    _check(manifest, max_track_bytes)
    manifest.sha256 = manifest.sha256.lower()


def _check(manifest: pipeline_pb2.Manifest, max_track_bytes: int) -> None:
    if manifest.size_bytes > max_track_bytes:
        raise TrackTooLargeError(
            f"track is {manifest.size_bytes} bytes; the limit is {max_track_bytes}",
            size_bytes=manifest.size_bytes,
            limit=max_track_bytes,
        )
    if manifest.size_bytes < 0:
        raise CountMismatchError("negative size_bytes", size_bytes=manifest.size_bytes)
    if manifest.chunk_count != len(manifest.chunks):
        raise CountMismatchError(
            f"chunk_count says {manifest.chunk_count} but {len(manifest.chunks)} chunks are listed",
            chunk_count=manifest.chunk_count,
            listed=len(manifest.chunks),
        )
    if not _SHA256_HEX.fullmatch(manifest.sha256):
        raise HashMismatchError("manifest sha256 is not 64 hex digits")
    seen: set[tuple[str, str, str]] = set()
    total = 0
    for position, chunk in enumerate(manifest.chunks):
        if chunk.index != position:
            raise CountMismatchError(
                f"chunk at position {position} has index {chunk.index}",
                position=position,
                index=chunk.index,
            )
        if not (0 < chunk.size_bytes <= MAX_RECORD_DATA_BYTES):
            raise CountMismatchError(
                f"chunk {position} claims {chunk.size_bytes} bytes",
                index=position,
                size_bytes=chunk.size_bytes,
            )
        if not (
            chunk.stream_name
            and chunk.shard_id
            and _SEQUENCE_NUMBER.fullmatch(chunk.sequence_number)
        ):
            raise MissingRecordError(
                f"chunk {position} has no stream record location", index=position
            )
        where = (chunk.stream_name, chunk.shard_id, chunk.sequence_number)
        if where in seen:
            raise CountMismatchError(f"chunk {position} names a record twice", index=position)
        seen.add(where)
        total += chunk.size_bytes
    if total != manifest.size_bytes:
        raise CountMismatchError(
            f"chunk sizes sum to {total}, size_bytes says {manifest.size_bytes}",
            sum_of_chunks=total,
            size_bytes=manifest.size_bytes,
        )
