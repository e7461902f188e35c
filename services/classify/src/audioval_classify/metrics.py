"""Classify's Prometheus series (served on ``AUDIOVAL_CLASSIFY_METRICS_PORT`` with the server's).

Verdicts by decision are ``audioval_verdicts_total`` (:mod:`audioval_servicekit.metrics`, which
rebuild shares). The pool's load is read from the pool when scraped.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

from audioval_servicekit.metrics import LATENCY_BUCKETS

__all__ = [
    "POOL_ACTORS",
    "POOL_BUSY_ACTORS",
    "POOL_IN_FLIGHT",
    "POOL_QUEUED",
    "VALIDATOR_STAGE_SECONDS",
]

VALIDATOR_STAGE_SECONDS = Histogram(
    "audioval_validator_stage_seconds",
    "Time the validator spent on each track in each stage of its verdict's timings "
    "(hash, container, decode_and_signal, modem, ..., total).",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
POOL_IN_FLIGHT = Gauge(
    "audioval_classify_pool_in_flight",
    "Tracks accepted by the validator pool and not finished (running plus queued); "
    "at max_in_flight ValidateTrack answers RESOURCE_EXHAUSTED.",
)
POOL_QUEUED = Gauge(
    "audioval_classify_pool_queued",
    "Tracks waiting for a free validator actor.",
)
POOL_BUSY_ACTORS = Gauge(
    "audioval_classify_pool_busy_actors",
    "Validator actors judging a track now.",
)
POOL_ACTORS = Gauge(
    "audioval_classify_pool_actors",
    "Validator actors in the pool.",
)
