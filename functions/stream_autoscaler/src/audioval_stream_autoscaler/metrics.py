"""Reading what a decision needs from CloudWatch: the set's load and the manifest queue's age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from audioval_pipeline.stream_registry import ACTIVE, DRAINING, StreamEntry
from audioval_stream_autoscaler.decision import AzObservation, PeriodLoad, ScalingPolicy

__all__ = ["collect_observation"]


def collect_observation(
    cloudwatch: Any,
    *,
    az: str,
    streams: Sequence[StreamEntry],
    queue_name: str,
    now: float,
    policy: ScalingPolicy,
) -> AzObservation:
    """Read the metrics a decision needs from CloudWatch (one GetMetricData call per 500 series).

    A period with no data point counts as zero: Kinesis publishes nothing for a stream nobody
    writes to.
    """
    periods = policy.history_periods
    end = int(now // policy.period_s) * policy.period_s
    start = end - periods * policy.period_s
    queries: list[dict[str, Any]] = []
    keys: dict[str, tuple[str, str]] = {}

    def add(stream: str, metric: str) -> None:
        query_id = f"q{len(queries)}"
        keys[query_id] = (stream, metric)
        queries.append(
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Kinesis",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "StreamName", "Value": stream}],
                    },
                    "Period": policy.period_s,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
        )

    active = [s for s in streams if s.state == ACTIVE]
    draining = [s for s in streams if s.state == DRAINING]
    for entry in active:
        for metric in ("IncomingBytes", "IncomingRecords", "WriteProvisionedThroughputExceeded"):
            add(entry.stream_name, metric)
    for entry in draining:
        add(entry.stream_name, "IncomingRecords")
    queue_id = "queueage"
    queries.append(
        {
            "Id": queue_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                },
                "Period": policy.period_s,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
    )

    series: dict[str, dict[int, float]] = {}
    for batch_start in range(0, len(queries), 500):
        request: dict[str, Any] = {
            "MetricDataQueries": queries[batch_start : batch_start + 500],
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                points = series.setdefault(result["Id"], {})
                for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                    bucket = (int(stamp.timestamp()) - start) // policy.period_s
                    if 0 <= bucket < periods:
                        points[bucket] = points.get(bucket, 0.0) + float(value)
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token

    totals = [[0.0, 0.0, 0.0] for _ in range(periods)]
    draining_writes: dict[str, list[float]] = {s.stream_name: [0.0] * periods for s in draining}
    slot = {"IncomingBytes": 0, "IncomingRecords": 1, "WriteProvisionedThroughputExceeded": 2}
    for query_id, (stream, metric) in keys.items():
        for bucket, value in series.get(query_id, {}).items():
            if stream in draining_writes:
                draining_writes[stream][bucket] += value
            else:
                totals[bucket][slot[metric]] += value
    queue_points = series.get(queue_id, {})
    queue_age = queue_points[max(queue_points)] if queue_points else None
    return AzObservation(
        az=az,
        streams=tuple(streams),
        load=tuple(PeriodLoad(b, r, t) for b, r, t in totals),
        draining_writes={k: tuple(v) for k, v in draining_writes.items()},
        queue_oldest_age_s=queue_age,
    )
