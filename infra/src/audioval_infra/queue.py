"""The FIFO manifest queue and its dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

__all__ = ["ManifestQueue", "ManifestQueueArgs"]


@dataclass
class ManifestQueueArgs:
    """Names as the services read them (``AUDIOVAL_MANIFEST_QUEUE`` / ``..._DEAD_LETTER_QUEUE``).

    ``max_receive_count`` receives move a manifest to the DLQ; ``visibility_timeout_s`` is the
    queue default (the rebuild worker sets its own on receive and renews it).
    """

    queue_name: str
    dead_letter_queue_name: str
    key_arn: pulumi.Input[str]
    max_receive_count: int = 5
    visibility_timeout_s: int = 60
    retention_s: int = 4 * 24 * 3600
    dead_letter_retention_s: int = 14 * 24 * 3600


class ManifestQueue(pulumi.ComponentResource):
    """FIFO (group = track by default, see audioval_pipeline.manifest), deduplicated by track id (never by content), KMS, DLQ with redrive."""

    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue

    def __init__(
        self, name: str, args: ManifestQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:queue:ManifestQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not args.queue_name.endswith(".fifo") or not args.dead_letter_queue_name.endswith(
            ".fifo"
        ):
            raise ValueError("FIFO queue names end in .fifo")
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=args.dead_letter_queue_name,
            message_retention_seconds=args.dead_letter_retention_s,
            fifo_queue=True,
            content_based_deduplication=False,
            kms_master_key_id=args.key_arn,
            kms_data_key_reuse_period_seconds=300,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            name,
            name=args.queue_name,
            visibility_timeout_seconds=args.visibility_timeout_s,
            message_retention_seconds=args.retention_s,
            # Throughput scales per message group (the track by default), not per queue.
            deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count}
                )
            ),
            fifo_queue=True,
            # Ingest sets MessageDeduplicationId = track id; content never decides.
            content_based_deduplication=False,
            kms_master_key_id=args.key_arn,
            kms_data_key_reuse_period_seconds=300,
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "name": self.queue.name,
                "url": self.queue.url,
                "dead_letter_name": self.dead_letter_queue.name,
            }
        )
