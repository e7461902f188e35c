"""Serve the console with uvicorn: ``main()`` reads the settings, builds the app, and runs until
SIGTERM/SIGINT (uvicorn's own handlers stop it gracefully)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
import uvicorn

from audioval.v1 import index_pb2, index_pb2_grpc
from audioval_console.app import create_app
from audioval_console.held import HeldTracks
from audioval_console.settings import ConsoleSettings
from audioval_pipeline.clients import aws_client
from audioval_pipeline.verdict_table import VerdictTable
from audioval_servicekit.logs import configure_logging

__all__ = ["main", "reference_adder"]

log = logging.getLogger(__name__)


def reference_adder(settings: ConsoleSettings) -> Callable[[str], str] | None:
    """classify's ``IndexService.AddReference`` by track id (known-bad list); None without a
    classify address."""
    if not settings.classify_address:
        return None
    channel = grpc.insecure_channel(settings.classify_address)
    stub = index_pb2_grpc.IndexServiceStub(channel)
    token = settings.classify_token
    metadata = [("authorization", f"Bearer {token.get_secret_value()}")] if token else []

    def add(track_id: str) -> str:
        reply = stub.AddReference(
            index_pb2.AddReferenceRequest(
                track_id=track_id,
                list=index_pb2.REFERENCE_LIST_KNOWN_BAD,
                name=f"review console: {track_id}",
            ),
            timeout=30,
            metadata=metadata,
        )
        return str(reply.reference.ref)

    return add


def main() -> None:
    settings = ConsoleSettings()
    configure_logging(settings.log_level, service="console")
    table = VerdictTable(aws_client("dynamodb", settings.pipeline), settings.pipeline.verdict_table)
    held = HeldTracks(aws_client("s3", settings.pipeline), settings.pipeline.quarantine_bucket)
    app = create_app(settings, table, held, add_reference=reference_adder(settings))
    log.info("review console at %s", settings.url, extra={"url": settings.url})
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
