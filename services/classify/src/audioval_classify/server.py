"""Start the classify service: ``serve(settings)`` builds it, ``main()`` runs it until a signal."""

from __future__ import annotations

import logging
from typing import Any

from audiomodel.validator import Limits
from audioval.v1 import classify_pb2, classify_pb2_grpc
from audioval_classify.actor_pool import ValidatorPool, connect_ray, pool_size_default
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.servicer import ClassifyServicer
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster, VerdictStore
from audioval_servicekit import (
    RunningServer,
    aws_client,
    build_server,
    configure_logging,
    run_until_signal,
)

log = logging.getLogger(__name__)

SERVICE_NAME = classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"].full_name


def serve(
    settings: ClassifySettings, *, dynamodb: Any = None, validate: bool = True
) -> RunningServer:
    """Build and start classify (``validate=False``: serve verdicts only, no validator pool)."""
    pool = None
    if validate:
        limits = Limits(
            max_bytes=settings.max_track_bytes,
            max_duration_s=settings.max_duration_s,
            time_budget_s=settings.time_budget_s,
        )
        connect_ray(settings.ray_address or None)
        pool = ValidatorPool(
            settings.pool_size or pool_size_default(),
            limits=limits,
            max_in_flight=settings.max_in_flight,
            call_timeout_s=settings.call_timeout_s or settings.time_budget_s + 60.0,
            actor_cpus=settings.actor_cpus,
        )
    store: VerdictStore
    if settings.store == "dynamodb":
        client = dynamodb or aws_client("dynamodb", settings.pipeline)
        store = DynamoVerdictStore(client, settings.pipeline.verdict_table)
    else:
        store = InMemoryVerdictStore()
    broadcaster = VerdictBroadcaster(settings.watch_queue_size)
    servicer = ClassifyServicer(store, broadcaster, pool, max_track_bytes=settings.max_track_bytes)
    running = build_server(
        settings,
        [lambda server: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )
    running.on_shutdown.append(broadcaster.close)
    if pool is not None:
        running.on_shutdown.append(pool.close)
    return running


def main() -> None:
    settings = ClassifySettings()
    configure_logging(settings.log_level, service="classify")
    run_until_signal(serve(settings), settings.grace_seconds)


if __name__ == "__main__":
    main()
