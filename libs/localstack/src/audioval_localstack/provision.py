"""Create the pipeline's resources: stream set + registry, FIFO manifest queue + DLQ, verdicts,
the quarantine bucket.

Idempotent: running it twice changes nothing. The same calls work against AWS, but there the
Pulumi program owns these resources; this is for the local stack and tests.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from audioval_pipeline import stream_registry
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.stream_registry import ACTIVE, StreamEntry
from audioval_pipeline.verdict_table import TRACK_KEY

__all__ = ["provision", "stream_name"]


def stream_name(settings: PipelineSettings, index: int, az: str | None = None) -> str:
    """Stream ``index`` of the zone's set (``az`` defaults to the settings' zone)."""
    return stream_registry.stream_name(
        settings.stream_name_prefix, az or settings.availability_zone, index
    )


def provision(
    settings: PipelineSettings,
    *,
    baseline_streams: int = 2,
    shards: int | None = None,
    wait_s: float = 30.0,
) -> dict[str, Any]:
    """Create everything (streams of ``shards``, default ``settings.shards_per_stream``);
    returns the names and URLs created (or found)."""
    shards = shards or settings.shards_per_stream
    kinesis = aws_client("kinesis", settings)
    sqs = aws_client("sqs", settings)
    dynamodb = aws_client("dynamodb", settings)
    _table(
        dynamodb,
        settings.stream_registry_table,
        [(stream_registry.HASH_KEY, "S"), (stream_registry.RANGE_KEY, "S")],
    )
    # Classify follows the verdict table's stream to tell watchers of every stored verdict.
    _table(dynamodb, settings.verdict_table, [(TRACK_KEY, "S")], stream_view="NEW_IMAGE")
    streams = [stream_name(settings, i) for i in range(baseline_streams)]
    for name in streams:
        # Create and accept "in use": ListStreams pages (10 names a page in the emulator), so a
        # listing is no proof a stream is missing, and create-then-catch is race-free anyway.
        with contextlib.suppress(kinesis.exceptions.ResourceInUseException):
            kinesis.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + wait_s
    for name in streams:
        while (
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
                "StreamStatus"
            ]
            != "ACTIVE"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {name} did not become ACTIVE")
            time.sleep(0.05)
        # A baseline stream, as Pulumi registers it in AWS.
        entry = StreamEntry(settings.availability_zone, name, ACTIVE)
        stream_registry.put_entry(dynamodb, settings.stream_registry_table, entry)
    dlq_url = sqs.create_queue(
        QueueName=settings.dead_letter_queue,
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "MessageRetentionPeriod": "1209600",
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=settings.manifest_queue,
        Attributes={
            "FifoQueue": "true",
            # Deduplication is by track id (MessageDeduplicationId), never by content.
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    _bucket(aws_client("s3", settings), settings.quarantine_bucket, settings.aws_region)
    return {
        "streams": streams,
        "queue_url": queue_url,
        "dlq_url": dlq_url,
        "verdict_table": settings.verdict_table,
        "stream_registry_table": settings.stream_registry_table,
        "quarantine_bucket": settings.quarantine_bucket,
    }


def _bucket(s3: Any, name: str, region: str) -> None:
    """Create the bucket (private by default), or find it made already."""
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(
            Bucket=name, **({"CreateBucketConfiguration": location} if location else {})
        )


def _table(
    dynamodb: Any, name: str, keys: list[tuple[str, str]], *, stream_view: str | None = None
) -> None:
    """Create the table (with a stream of ``stream_view`` images), or turn its stream on."""
    stream = {"StreamEnabled": True, "StreamViewType": stream_view} if stream_view else None
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys],
            KeySchema=[
                {"AttributeName": k, "KeyType": kt}
                for (k, _), kt in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
            **({"StreamSpecification": stream} if stream else {}),
        )
    except dynamodb.exceptions.ResourceInUseException:
        # A table made before it had a stream (an older emulator state) gets one.
        if stream is not None:
            spec = dynamodb.describe_table(TableName=name)["Table"].get("StreamSpecification")
            if not (spec or {}).get("StreamEnabled"):
                dynamodb.update_table(TableName=name, StreamSpecification=stream)
        return
    dynamodb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
