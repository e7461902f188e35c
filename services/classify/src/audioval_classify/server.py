"""Start the classify service: ``serve(settings)`` builds it, ``main()`` runs it until a signal."""

from __future__ import annotations

import logging

from audioval.v1 import classify_pb2, classify_pb2_grpc
from audioval_servicekit import RunningServer, build_server, configure_logging, run_until_signal

from audioval_classify.servicer import ClassifyServicer
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster

log = logging.getLogger(__name__)

SERVICE_NAME = classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"].full_name


def serve(settings: ClassifySettings) -> RunningServer:
    """Build and start classify."""
    store = InMemoryVerdictStore()
    broadcaster = VerdictBroadcaster(settings.watch_queue_size)
    servicer = ClassifyServicer(store, broadcaster)
    running = build_server(
        settings,
        [lambda server: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )
    running.on_shutdown.append(broadcaster.close)
    return running


def main() -> None:
    settings = ClassifySettings()
    configure_logging(settings.log_level, service="classify")
    run_until_signal(serve(settings), settings.grace_seconds)


if __name__ == "__main__":
    main()
