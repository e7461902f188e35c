"""Start the rebuild worker: a health-only gRPC server and the manifest loop threads.

``serve(settings)`` builds and starts both; ``main()`` runs them until SIGTERM/SIGINT. On
shutdown health goes NOT_SERVING, the workers stop between messages, then the server stops.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import grpc

from audioval_pipeline.clients import aws_client
from audioval_rebuild.classify_client import ClassifyClient, open_classify_channel
from audioval_rebuild.manifest_pool import KeyedLocks, ManifestPool
from audioval_rebuild.metrics import MANIFESTS_IN_FLIGHT, OLDEST_MANIFEST_AGE
from audioval_rebuild.quarantine import Quarantine
from audioval_rebuild.reader import ReadPacer
from audioval_rebuild.settings import RebuildSettings
from audioval_rebuild.verdict_table import VerdictTable
from audioval_rebuild.visibility import VisibilityHeartbeat
from audioval_rebuild.worker import RebuildWorker
from audioval_servicekit import RunningServer, build_server, configure_logging, run_until_signal
from audioval_servicekit.tracing import configure_tracing

__all__ = ["RebuildService", "main", "serve"]

log = logging.getLogger(__name__)


@dataclass
class RebuildService:
    """The running worker: its health server, loop threads and heartbeat."""

    server: RunningServer
    workers: list[RebuildWorker]
    pool: ManifestPool
    heartbeat: VisibilityHeartbeat
    stop_event: threading.Event
    join_timeout_s: float
    threads: list[threading.Thread] = field(default_factory=list)
    owned_channel: grpc.Channel | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def stop_workers(self) -> None:
        """End the loops between messages; a track still in flight after the timeout is left
        to SQS (its visibility lapses and another worker takes it)."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=self.join_timeout_s)
            if thread.is_alive():
                log.warning("worker still busy at shutdown", extra={"thread": thread.name})
        if not self.pool.wait_idle(self.join_timeout_s):
            log.warning(
                "manifests still in flight at shutdown", extra={"in_flight": self.pool.busy}
            )
        self.heartbeat.stop()
        if self.owned_channel is not None:
            self.owned_channel.close()
        log.info("rebuild worker stopped", extra={"track_id": None})

    def stop(self, grace: float) -> None:
        """Health NOT_SERVING, workers stopped, then the server (``RunningServer.stop``)."""
        self.server.stop(grace)


def serve(
    settings: RebuildSettings,
    *,
    sqs: Any = None,
    kinesis: Any = None,
    dynamodb: Any = None,
    s3: Any = None,
    classify_channel: grpc.Channel | None = None,
) -> RebuildService:
    """Build and start the health server and ``settings.workers`` loop threads.

    Clients default to ``aws_client(..., settings.pipeline)`` and a channel to
    ``settings.classify_address``; pass them to share or wrap them (a passed channel is not
    closed on stop). Raises if the manifest queue or dead-letter queue does not exist.
    """
    sqs = sqs or aws_client("sqs", settings.pipeline)
    kinesis = kinesis or aws_client("kinesis", settings.pipeline)
    dynamodb = dynamodb or aws_client("dynamodb", settings.pipeline)
    bucket = settings.pipeline.quarantine_bucket
    quarantine = Quarantine(s3 or aws_client("s3", settings.pipeline), bucket) if bucket else None
    queue_url = sqs.get_queue_url(QueueName=settings.pipeline.manifest_queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=settings.pipeline.dead_letter_queue)["QueueUrl"]
    owned = None
    if classify_channel is None:
        classify_channel = owned = open_classify_channel(settings)
    token = settings.classify_auth_token
    classify = ClassifyClient(
        classify_channel,
        deadline_s=settings.classify_deadline_s,
        auth_token=token.get_secret_value() if token else None,
    )
    verdicts = VerdictTable(dynamodb, settings.pipeline.verdict_table)
    heartbeat = VisibilityHeartbeat(
        sqs,
        queue_url,
        interval_s=settings.heartbeat_interval_s,
        timeout_s=settings.visibility_timeout_s,
    ).start()
    MANIFESTS_IN_FLIGHT.set_function(heartbeat.held)
    OLDEST_MANIFEST_AGE.set_function(heartbeat.oldest_age)
    stop_event = threading.Event()
    # One pool and one set of order locks for every receive loop of the process.
    pool = ManifestPool(settings.manifest_concurrency)
    order = KeyedLocks()
    pace = (
        settings.shard_read_calls_per_s > 0
        and settings.shard_read_bytes_per_s > 0
        and settings.shard_iterator_calls_per_s > 0
    )
    read_pacer = (
        ReadPacer(
            settings.shard_read_calls_per_s,
            settings.shard_read_bytes_per_s,
            settings.shard_iterator_calls_per_s,
        )
        if pace
        else None
    )
    workers = [
        RebuildWorker(
            settings,
            sqs=sqs,
            kinesis=kinesis,
            verdicts=verdicts,
            classify=classify,
            queue_url=queue_url,
            dlq_url=dlq_url,
            heartbeat=heartbeat,
            stop=stop_event,
            pool=pool,
            order=order,
            read_pacer=read_pacer,
            quarantine=quarantine,
        )
        for _ in range(settings.workers)
    ]
    # No servicers: the port is for health checks (and reflection) only.
    running = build_server(settings, [], [])
    service = RebuildService(
        server=running,
        workers=workers,
        pool=pool,
        heartbeat=heartbeat,
        stop_event=stop_event,
        join_timeout_s=settings.receive_wait_s + settings.grace_seconds + 1.0,
        owned_channel=owned,
    )
    running.on_shutdown.append(service.stop_workers)
    for index, worker in enumerate(workers):
        thread = threading.Thread(
            target=_run_worker,
            args=(worker, running, stop_event),
            name=f"rebuild-worker-{index}",
            daemon=True,
        )
        service.threads.append(thread)
        thread.start()
    log.info(
        "rebuild worker started",
        extra={
            "track_id": None,
            "workers": settings.workers,
            "concurrency": pool.size,
            "ordered_by": settings.ordered_by,
            "queue": queue_url,
        },
    )
    return service


def _run_worker(worker: RebuildWorker, running: RunningServer, stop: threading.Event) -> None:
    try:
        worker.run()
    finally:
        if not stop.is_set():
            # A loop that ended on its own is a broken worker: let health checks see it.
            log.error("worker loop ended unexpectedly", extra={"track_id": None})
            running.set_serving(False)


def main() -> None:
    settings = RebuildSettings()
    configure_logging(settings.log_level, service="rebuild")
    configure_tracing("rebuild", otlp_endpoint=settings.trace_otlp_endpoint)
    service = serve(settings)
    run_until_signal(service.server, settings.grace_seconds)


if __name__ == "__main__":
    main()
