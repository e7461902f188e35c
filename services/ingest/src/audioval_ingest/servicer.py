"""IngestService: translates the UploadTrack stream into an upload through the funnel.

The protocol checks live here (metadata first and only first, then chunks); the work lives in
:mod:`audioval_ingest.upload`. Every domain error becomes a status code through ``_STATUS``,
the one place that mapping is made (applied by :func:`audioval_servicekit.status_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import grpc

from audioval.v1 import ingest_pb2, ingest_pb2_grpc
from audioval_ingest.kinesis_writer import KinesisWriteError, WriteCancelledError
from audioval_ingest.stream_set import NoActiveStreamError, StreamRegistryError
from audioval_ingest.upload import (
    AwsUnavailableError,
    InvalidUploadError,
    UploadCancelledError,
    UploadFunnel,
    UploadMetadata,
    UploadTooLargeError,
)
from audioval_servicekit import StatusTable, note, status_errors

__all__ = ["IngestServicer"]

log = logging.getLogger(__name__)

# Domain error -> status code, most specific first. Anything else is a bug and surfaces as
# UNKNOWN through gRPC's own handling (with its traceback in the log).
_STATUS: StatusTable = (
    (InvalidUploadError, grpc.StatusCode.INVALID_ARGUMENT),
    (UploadTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (UploadCancelledError, grpc.StatusCode.CANCELLED),
    (WriteCancelledError, grpc.StatusCode.CANCELLED),
    (AwsUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (KinesisWriteError, grpc.StatusCode.UNAVAILABLE),
    (StreamRegistryError, grpc.StatusCode.UNAVAILABLE),
    (NoActiveStreamError, grpc.StatusCode.UNAVAILABLE),
)
_refusing = status_errors(_STATUS, logger=log, what="upload")


def _requests(
    requests: Iterable[ingest_pb2.UploadTrackRequest],
) -> Iterator[ingest_pb2.UploadTrackRequest]:
    """The client's messages; a cancelled or expired call ends as UploadCancelledError."""
    iterator = iter(requests)
    while True:
        try:
            request = next(iterator)
        except StopIteration:
            return
        except grpc.RpcError as exc:  # gRPC raises this from the iterator once the call is over
            raise UploadCancelledError("client went away mid-upload") from exc
        yield request


def _metadata(request: ingest_pb2.UploadTrackRequest) -> UploadMetadata:
    meta = request.metadata
    return UploadMetadata(
        user_id=meta.user_id,
        track_name=meta.track_name,
        content_type=meta.content_type if meta.HasField("content_type") else "",
        size_bytes=meta.size_bytes if meta.HasField("size_bytes") else None,
    )


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    """Accepts uploads: metadata, then chunks, then one response once all is in the funnel."""

    def __init__(self, funnel: UploadFunnel) -> None:
        self._funnel = funnel

    @_refusing
    def UploadTrack(
        self,
        request_iterator: Iterator[ingest_pb2.UploadTrackRequest],
        context: grpc.ServicerContext,
    ) -> ingest_pb2.UploadTrackResponse:
        note(received_bytes=0)
        requests = _requests(request_iterator)
        first = next(requests, None)
        if first is None or first.WhichOneof("payload") != "metadata":
            raise InvalidUploadError("the first message must carry metadata")
        upload = self._funnel.start(
            _metadata(first), keep_going=context.is_active, time_left=context.time_remaining
        )
        note(track_id=upload.track_id)
        log.info(
            "upload started",
            extra={
                "track_id": upload.track_id,
                "user_id": upload.meta.user_id,
                "stream": upload.stream_name,
                "declared_bytes": upload.meta.size_bytes,
            },
        )
        for request in requests:
            if request.WhichOneof("payload") == "metadata":
                raise InvalidUploadError("metadata may only be sent in the first message")
            if not context.is_active():
                raise UploadCancelledError("client went away mid-upload")
            # An unset payload and an empty chunk both carry no bytes: nothing to do.
            upload.add(request.chunk)
            note(received_bytes=upload.size_bytes)
        result = upload.finish()
        log.info(
            "upload accepted",
            extra={
                "track_id": result.track_id,
                "user_id": upload.meta.user_id,
                "size_bytes": result.size_bytes,
                "chunk_count": result.chunk_count,
                "stream": result.stream_name,
                "sha256": result.sha256,
            },
        )
        return ingest_pb2.UploadTrackResponse(
            track_id=result.track_id, size_bytes=result.size_bytes, sha256=result.sha256
        )
