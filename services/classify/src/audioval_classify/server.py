"""Start the classify service: ``serve(settings)`` builds it, ``main()`` runs it until a signal."""

from __future__ import annotations

import functools
import logging
from typing import Any

from audiomodel import Limits
from audioval.v1 import classify_pb2, classify_pb2_grpc, index_pb2, index_pb2_grpc
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.identity import TrackIndex
from audioval_classify.metrics import POOL_ACTORS, POOL_BUSY_ACTORS, POOL_IN_FLIGHT, POOL_QUEUED
from audioval_classify.pool import ValidatorPool
from audioval_classify.ray_connection import (
    StartupInterrupted,
    connect_ray,
    disconnect_ray,
    pool_size_default,
)
from audioval_classify.references import ReferenceDesk
from audioval_classify.rescan import Rescan
from audioval_classify.servicer import ClassifyServicer, IndexServicer
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster, VerdictStore
from audioval_classify.verdict_stream import VerdictStreamFollower
from audioval_pipeline.clients import aws_client
from audioval_servicekit import (
    RunningServer,
    build_server,
    configure_logging,
    run_until_signal,
    stop_requested,
)
from audioval_servicekit.tracing import configure_tracing

log = logging.getLogger(__name__)

SERVICE_NAME = classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"].full_name
INDEX_SERVICE_NAME = index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name


# How long start-up waits for the stream follower to hold its place in the stream, and how
# long shutdown waits for its thread (it may be inside an AWS call).
FOLLOWER_READY_TIMEOUT_S = 10.0
FOLLOWER_STOP_TIMEOUT_S = 5.0


def serve(
    settings: ClassifySettings,
    *,
    dynamodb: Any = None,
    dynamodbstreams: Any = None,
    validate: bool = True,
) -> RunningServer:
    """Build and start classify (``validate=False``: serve verdicts only, no validator pool).

    With the dynamodb store a :class:`VerdictStreamFollower` publishes verdicts stored by
    others (the rebuild worker, other replicas) to this replica's watchers; ``dynamodb`` and
    ``dynamodbstreams`` replace the clients made from the settings.
    """
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
            fingerprint=bool(settings.index_dir),
        )
        _export_load(pool)
    broadcaster = VerdictBroadcaster(
        settings.watch_queue_size, recent_tracks=settings.watch_recent_tracks
    )
    store: VerdictStore
    follower: VerdictStreamFollower | None = None
    if settings.store == "dynamodb":
        client = dynamodb or aws_client("dynamodb", settings.pipeline)
        store = DynamoVerdictStore(client, settings.pipeline.verdict_table)
        follower = VerdictStreamFollower(
            client,
            dynamodbstreams or _streams_client(settings),
            settings.pipeline.verdict_table,
            broadcaster.publish,
            poll_interval_s=settings.stream_poll_interval_s,
            max_backoff_s=settings.stream_max_backoff_s,
        )
    else:
        store = InMemoryVerdictStore()
    index = TrackIndex.open(settings.index_dir) if settings.index_dir and validate else None
    servicer = ClassifyServicer(
        store, broadcaster, pool, max_track_bytes=settings.max_track_bytes, index=index
    )
    rescan = Rescan(index, store, broadcaster) if index is not None else None
    references = IndexServicer(
        ReferenceDesk(index, pool, max_bytes=settings.max_track_bytes, rescan=rescan)
    )
    if follower is not None:
        follower.start()
    try:
        running = build_server(
            settings,
            [
                lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, s),
                lambda s: index_pb2_grpc.add_IndexServiceServicer_to_server(references, s),
            ],
            [SERVICE_NAME, INDEX_SERVICE_NAME],
        )
    except BaseException:
        if follower is not None:
            follower.stop(FOLLOWER_STOP_TIMEOUT_S)
        raise
    if follower is not None:
        # Stop reading before the watchers' streams end, so nothing is published after.
        running.on_shutdown.append(functools.partial(_stop_follower, follower))
        # Verdicts stored after serve() returns reach watchers once the follower holds its
        # place in the stream; a stream that cannot be read yet only delays that (it retries).
        if not follower.ready.wait(FOLLOWER_READY_TIMEOUT_S):
            log.warning("verdict stream not followed yet; retrying in the background")
    running.on_shutdown.append(broadcaster.close)
    if pool is not None:
        running.on_shutdown.append(pool.close)
    if index is not None:
        running.on_shutdown.append(index.close)
    return running


def _export_load(pool: ValidatorPool) -> None:
    """Read the pool's load into its gauges whenever they are scraped."""
    POOL_IN_FLIGHT.set_function(lambda: pool.load()[0])
    POOL_QUEUED.set_function(lambda: pool.load()[1])
    POOL_BUSY_ACTORS.set_function(lambda: pool.load()[2])
    POOL_ACTORS.set(pool.size)


def _streams_client(settings: ClassifySettings) -> Any:
    # The follower retries on its own schedule (and must stop promptly on shutdown): botocore
    # tries each call at most twice instead of the pipeline's usual attempts.
    pipeline = settings.pipeline.model_copy(
        update={"aws_max_attempts": min(2, settings.pipeline.aws_max_attempts)}
    )
    return aws_client("dynamodbstreams", pipeline)


def _stop_follower(follower: VerdictStreamFollower) -> None:
    follower.stop(FOLLOWER_STOP_TIMEOUT_S)


def main() -> None:
    """Serve until SIGTERM/SIGINT, then drain, leave Ray (stopping a private one) and exit 0.

    The signal handlers go in before ``serve``: a signal during start-up (joining Ray, creating
    the pool, following the stream) then stops the server as soon as it is up.
    """
    settings = ClassifySettings()
    configure_logging(settings.log_level, service="classify")
    configure_tracing("classify", otlp_endpoint=settings.trace_otlp_endpoint)
    requested = stop_requested()
    try:
        running = serve(settings)
    except StartupInterrupted:
        log.info("stopped while starting")
        disconnect_ray()
        return
    try:
        run_until_signal(running, settings.grace_seconds, requested)
    finally:
        disconnect_ray()


if __name__ == "__main__":
    main()
