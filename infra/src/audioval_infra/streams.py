"""The stream registry and each zone's stream set (its baseline of provisioned Kinesis streams).

Names, the registry's key schema and its item come from ``audioval_pipeline.stream_registry``,
which producers, the local stack and the autoscaler Lambda use too: stream ``i`` of zone ``az``
is ``<prefix>-<az>-<i>``; a baseline item is ``active`` with ``role = baseline``, so the
autoscaler never drains it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from audioval_pipeline.stream_registry import (
    ACTIVE,
    ATTRIBUTE_DEFINITIONS,
    BASELINE,
    HASH_KEY,
    RANGE_KEY,
    StreamEntry,
    stream_name,
)

__all__ = ["StreamRegistry", "StreamRegistryArgs", "StreamSet", "StreamSetArgs"]


@dataclass
class StreamRegistryArgs:
    """The registry table's name and the key that encrypts it."""

    table_name: str
    key_arn: pulumi.Input[str]


class StreamRegistry(pulumi.ComponentResource):
    """The table listing every zone's streams and their states (on demand, PITR, KMS)."""

    table: aws.dynamodb.Table

    def __init__(
        self, name: str, args: StreamRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:streams:StreamRegistry", name, None, opts)
        self.table = aws.dynamodb.Table(
            name,
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            range_key=RANGE_KEY,
            attributes=[
                {"name": a["AttributeName"], "type": a["AttributeType"]}
                for a in ATTRIBUTE_DEFINITIONS
            ],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.key_arn},
            deletion_protection_enabled=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.table.name, "arn": self.table.arn})


@dataclass
class StreamSetArgs:
    """One zone's baseline.

    Parameters
    ----------
    zone
        The availability zone (also the registry partition).
    name_prefix
        Streams are ``<name_prefix>-<zone>-<i>``.
    baseline_streams, shards_per_stream, retention_hours
        How many streams the zone always has, their shards, and how long records live.
    key_arn
        The KMS key every stream is encrypted with.
    registry_table
        Where the baseline's entries go.
    """

    zone: str
    name_prefix: str
    baseline_streams: int
    shards_per_stream: int
    retention_hours: int
    key_arn: pulumi.Input[str]
    registry_table: pulumi.Input[str]


class StreamSet(pulumi.ComponentResource):
    """A zone's baseline streams and their registry entries (state ``active``)."""

    streams: list[aws.kinesis.Stream]

    def __init__(
        self, name: str, args: StreamSetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:streams:StreamSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.streams = []
        for index in range(args.baseline_streams):
            physical = stream_name(args.name_prefix, args.zone, index)
            stream = aws.kinesis.Stream(
                physical,
                name=physical,
                shard_count=args.shards_per_stream,
                stream_mode_details={"stream_mode": "PROVISIONED"},
                retention_period=args.retention_hours,
                encryption_type="KMS",
                kms_key_id=args.key_arn,
                tags={"audioval:zone": args.zone, "audioval:role": BASELINE},
                opts=child,
            )
            item = StreamEntry(args.zone, physical, ACTIVE, BASELINE).to_item()
            aws.dynamodb.TableItem(
                f"{physical}-registry",
                table_name=args.registry_table,
                hash_key=HASH_KEY,
                range_key=RANGE_KEY,
                item=json.dumps(item, sort_keys=True),
                # The entry goes live only once its stream exists.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[stream]),
            )
            self.streams.append(stream)
        self.names = [s.name for s in self.streams]
        self.register_outputs({"zone": args.zone, "streams": self.names})
