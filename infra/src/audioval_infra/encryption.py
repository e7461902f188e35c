"""The stack's customer-managed KMS key: streams, queues, tables and buckets are encrypted with it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

__all__ = ["StackKey", "StackKeyArgs"]


@dataclass
class StackKeyArgs:
    """``alias`` becomes ``alias/<alias>``; deletion waits ``deletion_window_days``."""

    alias: str
    deletion_window_days: int = 30


class StackKey(pulumi.ComponentResource):
    """One symmetric key with yearly rotation. Its key policy is AWS' default (the account
    decides through IAM), so each role's own policy says which key actions it may use."""

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:security:StackKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            name,
            description=f"{args.alias}: streams, queues, tables and buckets",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias", name=f"alias/{args.alias}", target_key_id=self.key.key_id, opts=child
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
