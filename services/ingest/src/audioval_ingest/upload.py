"""One upload through the funnel: bytes -> Kinesis records, then the pending item, then the manifest.

Knows nothing of gRPC: the servicer translates requests into :meth:`UploadFunnel.start`,
:meth:`TrackUpload.add` and :meth:`TrackUpload.finish`, and the exceptions below into status
codes. Order matters: the pending item and the manifest are written only once every byte is
in Kinesis and the upload has been checked, so an upload that fails or is abandoned leaves
nothing a consumer would act on (records already in Kinesis are harmless: no manifest names
them).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf import timestamp_pb2

from audioval.v1 import pipeline_pb2
from audioval_ingest.kinesis_writer import BatchLimits, ChunkWriter, RetryPolicy
from audioval_ingest.settings import IngestSettings
from audioval_ingest.stream_set import StreamSet
from audioval_pipeline.manifest import deduplication_id, encode_manifest, group_id
from audioval_pipeline.shards import ShardMap, ShardPacer
from audioval_pipeline.verdict_table import VerdictTable
from audioval_servicekit.tracing import current_traceparent

__all__ = [
    "AwsUnavailableError",
    "InvalidUploadError",
    "TrackUpload",
    "UploadCancelledError",
    "UploadFunnel",
    "UploadMetadata",
    "UploadResult",
    "UploadTooLargeError",
    "largest_manifest_bytes",
    "new_track_id",
]

log = logging.getLogger(__name__)


class InvalidUploadError(Exception):
    """The upload breaks the protocol or its own declarations (missing fields, size mismatch)."""


class UploadTooLargeError(Exception):
    """The upload is larger than the service accepts."""


class UploadCancelledError(Exception):
    """The client went away (cancelled, deadline passed) before the upload finished."""


class AwsUnavailableError(Exception):
    """An AWS call needed to accept the upload failed after its retries."""


def new_track_id() -> str:
    """A fresh track id: ``trk_`` + 32 hex digits."""
    return "trk_" + uuid.uuid4().hex


@dataclass(frozen=True)
class UploadMetadata:
    """What the client says about the upload before its bytes."""

    user_id: str
    track_name: str
    content_type: str = ""
    size_bytes: int | None = None


@dataclass(frozen=True)
class UploadResult:
    """What was accepted: where it went and what it hashes to."""

    track_id: str
    size_bytes: int
    sha256: str
    chunk_count: int
    stream_name: str


def _printable_ascii(text: str) -> bool:
    return all("!" <= c <= "~" for c in text)


def check_metadata(meta: UploadMetadata, settings: IngestSettings) -> None:
    """Raise :class:`InvalidUploadError` / :class:`UploadTooLargeError` for unusable metadata."""
    if not meta.user_id:
        raise InvalidUploadError("metadata.user_id is required")
    if len(meta.user_id) > settings.max_user_id_length:
        raise InvalidUploadError(f"metadata.user_id longer than {settings.max_user_id_length}")
    # The user id is the SQS FIFO message group id, which allows printable ASCII only.
    if not _printable_ascii(meta.user_id):
        raise InvalidUploadError("metadata.user_id must be printable ASCII without spaces")
    if not meta.track_name.strip():
        raise InvalidUploadError("metadata.track_name is required")
    if len(meta.track_name) > settings.max_track_name_length:
        raise InvalidUploadError(
            f"metadata.track_name longer than {settings.max_track_name_length}"
        )
    if len(meta.content_type) > settings.max_content_type_length:
        raise InvalidUploadError(
            f"metadata.content_type longer than {settings.max_content_type_length}"
        )
    if meta.size_bytes is not None:
        if meta.size_bytes <= 0:
            raise InvalidUploadError("metadata.size_bytes must be positive when set")
        if meta.size_bytes > settings.max_upload_bytes:
            raise UploadTooLargeError(
                f"declared size {meta.size_bytes} exceeds the limit of {settings.max_upload_bytes} bytes"
            )


def largest_manifest_bytes(settings: IngestSettings) -> int:
    """Size of the SQS body of the largest manifest these settings allow (worst-case names)."""
    chunks = math.ceil(settings.max_upload_bytes / settings.record_data_bytes)
    location = pipeline_pb2.ChunkLocation(
        index=chunks,
        stream_name=f"{settings.pipeline.stream_name_prefix}-{settings.pipeline.availability_zone}-999",
        shard_id="shardId-000000000000",
        sequence_number="9" * 64,  # Kinesis sequence numbers run to 56 digits today
        size_bytes=settings.record_data_bytes,
    )
    one = len(encode_manifest(pipeline_pb2.Manifest(chunks=[location]))) - len(
        encode_manifest(pipeline_pb2.Manifest())
    )
    head = pipeline_pb2.Manifest(
        track_id=new_track_id(),
        user_id="u" * settings.max_user_id_length,
        # Non-ASCII names are escaped (\\uXXXX), up to 12 bytes per character in the body.
        track_name="\U0001f3b5" * settings.max_track_name_length,
        content_type="c" * settings.max_content_type_length,
        size_bytes=settings.max_upload_bytes,
        sha256="0" * 64,
        chunk_count=chunks,
        uploaded_at=timestamp_pb2.Timestamp(seconds=4_000_000_000, nanos=999_999_999),
        traceparent=f"00-{'f' * 32}-{'f' * 16}-ff",
    )
    return len(encode_manifest(head)) + chunks * (one + 2)


def _aws_error(what: str, exc: Exception) -> AwsUnavailableError:
    return AwsUnavailableError(f"{what} failed: {exc}")


class UploadFunnel:
    """Everything an upload needs: AWS clients, the stream set and the limits.

    Parameters
    ----------
    kinesis, sqs, dynamodb
        boto3 clients (made by ``aws_client``; shared by all uploads, they are thread safe).
    stream_set
        The registry reader that routes each track to an active stream.
    settings
        The ingest settings (limits, batch and retry bounds, queue and table names).
    """

    def __init__(
        self,
        *,
        kinesis: Any,
        sqs: Any,
        dynamodb: Any,
        stream_set: StreamSet,
        settings: IngestSettings,
    ) -> None:
        self._kinesis = kinesis
        self._sqs = sqs
        self._verdicts = VerdictTable(dynamodb, settings.pipeline.verdict_table)
        self._stream_set = stream_set
        self._settings = settings
        self._limits = BatchLimits(
            record_data_bytes=settings.record_data_bytes,
            max_records=settings.batch_max_records,
            max_bytes=settings.batch_max_bytes,
        )
        self._retry = RetryPolicy(
            max_attempts=settings.put_max_attempts,
            base_delay_s=settings.put_base_delay_s,
            max_delay_s=settings.put_max_delay_s,
            max_total_s=settings.put_max_total_s,
        )
        pace = settings.shard_write_bytes_per_s > 0 and settings.shard_write_records_per_s > 0
        self._pacer = (
            ShardPacer(
                settings.shard_write_bytes_per_s,
                settings.shard_write_records_per_s,
                headroom=settings.shard_write_headroom,
            )
            if pace
            else None
        )
        self._shard_map = ShardMap(kinesis) if pace else None
        self._queue_url: str | None = None
        self._queue_lock = threading.Lock()

    @property
    def settings(self) -> IngestSettings:
        return self._settings

    def start(
        self,
        meta: UploadMetadata,
        *,
        keep_going: Callable[[], bool],
        time_left: Callable[[], float | None],
    ) -> TrackUpload:
        """Check the metadata, give the track an id and route it to a stream.

        The current span (the UploadTrack call's) is the upload's trace context: the first
        chunk record and the manifest carry it on.
        """
        check_metadata(meta, self._settings)
        track_id = new_track_id()
        stream = self._stream_set.route(track_id)
        traceparent = current_traceparent()
        writer = ChunkWriter(
            self._kinesis,
            stream_name=stream,
            track_id=track_id,
            limits=self._limits,
            retry=self._retry,
            pacer=self._pacer,
            shard_map=self._shard_map,
            keep_going=keep_going,
            time_left=time_left,
            traceparent=traceparent,
        )
        return TrackUpload(self, track_id, meta, writer, keep_going, traceparent)

    def queue_url(self) -> str:
        """URL of the manifest queue, looked up once."""
        with self._queue_lock:
            if self._queue_url is None:
                queue = self._settings.pipeline.manifest_queue
                try:
                    self._queue_url = str(self._sqs.get_queue_url(QueueName=queue)["QueueUrl"])
                except (BotoCoreError, ClientError) as exc:
                    raise _aws_error(f"looking up queue {queue}", exc) from exc
            return self._queue_url

    def put_pending(self, track_id: str, meta: UploadMetadata) -> None:
        """Write the verdict table's pending item; it must not exist yet.

        Track ids are fresh uuid4s: an existing item is this very write, applied by AWS on an
        earlier attempt whose reply was lost, so it counts as written.
        """
        try:
            self._verdicts.put_pending(track_id, meta.user_id, track_name=meta.track_name)
        except (BotoCoreError, ClientError) as exc:
            raise _aws_error(f"writing the pending item of {track_id}", exc) from exc

    def forget_pending(self, track_id: str) -> None:
        """Remove a pending item whose manifest was never sent (best effort, logged)."""
        try:
            self._verdicts.forget_pending(track_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "could not remove the pending item of an unsent manifest",
                extra={"track_id": track_id, "error": str(exc)},
            )

    def send_manifest(self, manifest: pipeline_pb2.Manifest) -> None:
        """Send the manifest on the FIFO queue (group = user, dedup = track)."""
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url(),
                MessageBody=encode_manifest(manifest),
                MessageGroupId=group_id(manifest),
                MessageDeduplicationId=deduplication_id(manifest),
            )
        except (BotoCoreError, ClientError) as exc:
            raise _aws_error(f"sending the manifest of {manifest.track_id}", exc) from exc


class TrackUpload:
    """One track in flight: counts and hashes bytes as they pass to the chunk writer."""

    def __init__(
        self,
        funnel: UploadFunnel,
        track_id: str,
        meta: UploadMetadata,
        writer: ChunkWriter,
        keep_going: Callable[[], bool],
        traceparent: str = "",
    ) -> None:
        self.track_id = track_id
        self.traceparent = traceparent
        self.meta = meta
        self._funnel = funnel
        self._writer = writer
        self._keep_going = keep_going
        self._sha256 = hashlib.sha256()
        self._size = 0

    @property
    def stream_name(self) -> str:
        return self._writer.stream_name

    @property
    def size_bytes(self) -> int:
        return self._size

    def add(self, chunk: bytes) -> None:
        """Take the next piece of the file (empty pieces are ignored)."""
        if not chunk:
            return
        settings = self._funnel.settings
        if len(chunk) > settings.max_chunk_bytes:
            raise InvalidUploadError(
                f"a chunk of {len(chunk)} bytes exceeds the limit of {settings.max_chunk_bytes}"
            )
        if self._size + len(chunk) > settings.max_upload_bytes:
            raise UploadTooLargeError(
                f"upload exceeds the limit of {settings.max_upload_bytes} bytes"
            )
        declared = self.meta.size_bytes
        if declared is not None and self._size + len(chunk) > declared:
            raise InvalidUploadError(f"more bytes arrived than the declared {declared}")
        self._size += len(chunk)
        self._sha256.update(chunk)
        self._writer.write(chunk)

    def finish(self) -> UploadResult:
        """Check the whole upload, flush it, then write the pending item and the manifest."""
        if self._size == 0:
            raise InvalidUploadError("the upload carried no bytes")
        declared = self.meta.size_bytes
        if declared is not None and declared != self._size:
            raise InvalidUploadError(f"declared {declared} bytes but {self._size} arrived")
        locations = self._writer.close()
        if not self._keep_going():
            raise UploadCancelledError(f"client went away before {self.track_id} was accepted")
        uploaded_at = timestamp_pb2.Timestamp()
        uploaded_at.GetCurrentTime()
        sha256 = self._sha256.hexdigest()
        manifest = pipeline_pb2.Manifest(
            track_id=self.track_id,
            user_id=self.meta.user_id,
            track_name=self.meta.track_name,
            content_type=self.meta.content_type,
            size_bytes=self._size,
            sha256=sha256,
            chunk_count=len(locations),
            chunks=locations,
            uploaded_at=uploaded_at,
            traceparent=self.traceparent,
        )
        self._funnel.put_pending(self.track_id, self.meta)
        # Last look before the manifest makes the track real to consumers.
        if not self._keep_going():
            self._funnel.forget_pending(self.track_id)
            raise UploadCancelledError(f"client went away before {self.track_id} was accepted")
        try:
            self._funnel.send_manifest(manifest)
        except AwsUnavailableError:
            # No manifest, so no verdict will ever come: do not leave the track "pending".
            self._funnel.forget_pending(self.track_id)
            raise
        return UploadResult(
            track_id=self.track_id,
            size_bytes=self._size,
            sha256=sha256,
            chunk_count=len(locations),
            stream_name=self.stream_name,
        )
