"""Ingest's Prometheus series (served with every server's on ``AUDIOVAL_INGEST_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["KINESIS_PUT_RETRIES", "KINESIS_REFUSED_RECORDS"]

KINESIS_REFUSED_RECORDS = Counter(
    "audioval_ingest_kinesis_refused_records_total",
    "Chunk records PutRecords did not take, by error code (throttling is "
    "ProvisionedThroughputExceededException); each is sent again.",
    ["error_code"],
)
KINESIS_PUT_RETRIES = Counter(
    "audioval_ingest_kinesis_put_retries_total",
    "PutRecords calls made again after a backoff because records were refused.",
)
