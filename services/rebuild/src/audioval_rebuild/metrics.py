"""Rebuild's Prometheus series (served on ``AUDIOVAL_REBUILD_METRICS_PORT`` with the server's).

The manifests held (received, not yet settled) are read when scraped: their number, and the age
of the oldest one since ingest sent it, which is how far the funnel lags behind uploads.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "KINESIS_RETRIES",
    "KINESIS_THROTTLES",
    "MANIFESTS",
    "MANIFESTS_IN_FLIGHT",
    "OLDEST_MANIFEST_AGE",
]

KINESIS_THROTTLES = Counter(
    "audioval_rebuild_kinesis_throttles_total",
    "Kinesis reads refused as throttled after botocore's own retries, by operation.",
    ["operation"],
)
KINESIS_RETRIES = Counter(
    "audioval_rebuild_kinesis_retries_total",
    "Kinesis reads made again after a throttling backoff, by operation.",
    ["operation"],
)
MANIFESTS = Counter(
    "audioval_rebuild_manifests_total",
    "Manifests handled, by outcome (judged, already_judged, refused, poison, retry, released).",
    ["outcome"],
)
MANIFESTS_IN_FLIGHT = Gauge(
    "audioval_rebuild_manifests_in_flight",
    "Manifests received and not yet deleted or handed back.",
)
OLDEST_MANIFEST_AGE = Gauge(
    "audioval_rebuild_oldest_manifest_age_seconds",
    "Seconds since ingest sent the oldest manifest received and not yet settled (0: none).",
)
