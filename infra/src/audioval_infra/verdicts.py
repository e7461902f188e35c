"""The verdict table every service shares (its item: ``audioval_pipeline.verdict_table``)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from audioval_pipeline.verdict_table import TRACK_KEY

__all__ = ["VerdictTable", "VerdictTableArgs"]


@dataclass
class VerdictTableArgs:
    """The table's name (``AUDIOVAL_VERDICT_TABLE``) and the key that encrypts it."""

    table_name: str
    key_arn: pulumi.Input[str]
    deletion_protection: bool = True


class VerdictTable(pulumi.ComponentResource):
    """One item per track (hash key ``track_id``): on demand, point-in-time recovery, KMS.

    Its stream carries each item's new image: every classify replica follows it, so
    WatchVerdicts also streams verdicts stored by the rebuild worker and other replicas.
    """

    table: aws.dynamodb.Table

    def __init__(
        self, name: str, args: VerdictTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:verdicts:VerdictTable", name, None, opts)
        self.table = aws.dynamodb.Table(
            name,
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=TRACK_KEY,
            attributes=[{"name": TRACK_KEY, "type": "S"}],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.key_arn},
            deletion_protection_enabled=args.deletion_protection,
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"name": self.table.name, "arn": self.table.arn, "stream_arn": self.table.stream_arn}
        )
