"""The worker's client of ``ClassifyService.ValidateTrackStream``: chunks, a deadline, a token.

Streaming, not one inline message: a rebuilt track may be far larger than a gRPC message may be.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from opentelemetry import trace

from audioval.v1 import classify_pb2, classify_pb2_grpc, pipeline_pb2, verdict_pb2
from audioval_rebuild.settings import RebuildSettings
from audioval_servicekit.tracing import grpc_metadata

# Well under gRPC's default 4 MiB message limit, large enough that framing costs nothing.
STREAM_CHUNK_BYTES = 1024 * 1024

__all__ = ["ClassifyClient", "open_classify_channel"]

tracer = trace.get_tracer(__name__)


def open_classify_channel(settings: RebuildSettings) -> grpc.Channel:
    """A channel to classify: TLS when a CA file is configured."""
    options = [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        # gRPC's default reconnect backoff grows to 120 s; a restarted classify should be found
        # again before many manifests have burnt a receive each.
        ("grpc.max_reconnect_backoff_ms", int(settings.classify_max_reconnect_backoff_s * 1000)),
        (
            "grpc.initial_reconnect_backoff_ms",
            int(min(1.0, settings.classify_max_reconnect_backoff_s) * 1000),
        ),
    ]
    if settings.classify_tls_ca_file is not None:
        credentials = grpc.ssl_channel_credentials(settings.classify_tls_ca_file.read_bytes())
        return grpc.secure_channel(settings.classify_address, credentials, options=options)
    return grpc.insecure_channel(settings.classify_address, options=options)


class ClassifyClient:
    """Sends a rebuilt track to classify; classify judges it and stores the verdict."""

    def __init__(
        self, channel: grpc.Channel, *, deadline_s: float, auth_token: str | None = None
    ) -> None:
        self._stub = classify_pb2_grpc.ClassifyServiceStub(channel)
        self._deadline_s = deadline_s
        self._metadata = [("authorization", f"Bearer {auth_token}")] if auth_token else []

    def validate(self, manifest: pipeline_pb2.Manifest, content: bytes) -> verdict_pb2.Verdict:
        """The stored verdict on ``content``; raises ``grpc.RpcError`` on any non-OK status.

        The call is a CLIENT span of the current trace, whose context classify continues.
        """
        with tracer.start_as_current_span(
            "audioval.v1.ClassifyService/ValidateTrackStream", kind=trace.SpanKind.CLIENT
        ):
            reply: classify_pb2.ValidateTrackStreamResponse = self._stub.ValidateTrackStream(
                _messages(manifest, content),
                timeout=self._deadline_s,
                metadata=[*self._metadata, *grpc_metadata()],
            )
        return reply.verdict


def _messages(
    manifest: pipeline_pb2.Manifest, content: bytes
) -> Iterator[classify_pb2.ValidateTrackStreamRequest]:
    yield classify_pb2.ValidateTrackStreamRequest(
        header=classify_pb2.TrackHeader(
            track_id=manifest.track_id,
            user_id=manifest.user_id,
            track_name=manifest.track_name,
            sha256=manifest.sha256,
            size_bytes=len(content),
        )
    )
    view = memoryview(content)
    for start in range(0, len(content), STREAM_CHUNK_BYTES):
        yield classify_pb2.ValidateTrackStreamRequest(
            chunk=bytes(view[start : start + STREAM_CHUNK_BYTES])
        )
