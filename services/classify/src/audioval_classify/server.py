"""Start the classify service: ``serve(settings)`` builds it, ``main()`` runs it until a signal."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from audiomodel import Limits
from audioval.v1 import classify_pb2, classify_pb2_grpc, index_pb2, index_pb2_grpc
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.identity import TrackIndex
from audioval_classify.judge import TrackJudge
from audioval_classify.metrics import POOL_ACTORS, POOL_BUSY_ACTORS, POOL_IN_FLIGHT, POOL_QUEUED
from audioval_classify.pool import ValidatorPool
from audioval_classify.ray_connection import (
    StartupInterrupted,
    connect_ray,
    disconnect_ray,
    pool_size_default,
    wait_for_gcs,
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
    stop: threading.Event | None = None,
) -> RunningServer:
    """Build and start classify (``validate=False``: serve verdicts only, no validator pool).

    With the dynamodb store a :class:`VerdictStreamFollower` publishes verdicts stored by
    others (the rebuild worker, other replicas) to this replica's watchers; ``dynamodb`` and
    ``dynamodbstreams`` replace the clients made from the settings.

    Start-up waits for the Ray cluster to accept connections (``ray_connect_timeout_s``), so a
    replica may start alongside its head; ``stop`` set meanwhile (a SIGTERM) raises
    :class:`StartupInterrupted`. The stream follower starts first, so it finds its place in
    the stream while the validator actors load. Health says SERVING only once every actor has
    its model. The log line ``classify start-up`` gives each stage's seconds.
    """
    startup = _Stopwatch()
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
    if follower is not None:
        follower.start()
    pool: ValidatorPool | None = None
    try:
        pool = _validator_pool(settings, startup, stop) if validate else None
        index = TrackIndex.open(settings.index_dir) if settings.index_dir and validate else None
        judge = TrackJudge(
            store, broadcaster, pool, max_track_bytes=settings.max_track_bytes, index=index
        )
        servicer = ClassifyServicer(judge)
        rescan = Rescan(index, store, broadcaster) if index is not None else None
        references = IndexServicer(
            ReferenceDesk(index, pool, max_bytes=settings.max_track_bytes, rescan=rescan)
        )
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
        if pool is not None:
            pool.close()
        raise
    startup.lap("serving_s")
    if follower is not None:
        # Stop reading before the watchers' streams end, so nothing is published after.
        running.on_shutdown.append(functools.partial(_stop_follower, follower))
        # Verdicts stored after serve() returns reach watchers once the follower holds its
        # place in the stream; a stream that cannot be read yet only delays that (it retries).
        if not follower.ready.wait(FOLLOWER_READY_TIMEOUT_S):
            log.warning("verdict stream not followed yet; retrying in the background")
        startup.lap("follower_s")
    running.on_shutdown.append(broadcaster.close)
    if pool is not None:
        running.on_shutdown.append(pool.close)
    if index is not None:
        running.on_shutdown.append(index.close)
    log.info("classify start-up", extra=startup.laps)
    return running


def _validator_pool(
    settings: ClassifySettings, startup: _Stopwatch, stop: threading.Event | None
) -> ValidatorPool:
    """Join Ray (waiting for a cluster still starting) and start the actors, models loaded."""
    deadline = time.monotonic() + settings.ray_connect_timeout_s
    if settings.ray_address:
        wait_for_gcs(settings.ray_address, deadline, stop=stop)
        startup.lap("ray_wait_s")
    connect_ray(settings.ray_address or None, retry_until=deadline)
    startup.lap("ray_join_s")
    limits = Limits(
        max_bytes=settings.max_track_bytes,
        max_duration_s=settings.max_duration_s,
        time_budget_s=settings.time_budget_s,
    )
    pool = ValidatorPool(
        settings.pool_size or pool_size_default(),
        limits=limits,
        max_in_flight=settings.max_in_flight,
        call_timeout_s=settings.call_timeout_s or settings.time_budget_s + 60.0,
        actor_cpus=settings.actor_cpus,
        fingerprint=bool(settings.index_dir),
    )
    _export_load(pool)
    startup.lap("pool_s")
    return pool


class _Stopwatch:
    """Seconds each start-up stage took (``imports_s``: from the process' start to here)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        if (age := _process_age_s()) is not None:
            self.laps["imports_s"] = round(age, 2)
        self._last = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.laps[stage] = round(now - self._last, 2)
        self._last = now


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux; None elsewhere)."""
    try:
        # Field 22 of /proc/self/stat, in clock ticks since boot; the fields after the
        # command name (which may hold spaces) start at field 3.
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(stat[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


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
        running = serve(settings, stop=requested)
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
