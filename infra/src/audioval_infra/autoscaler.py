"""The stream-set autoscaler: a scheduled Lambda that reads CloudWatch metrics and grows or
drains each zone's stream set.

Its code is the ``audioval_stream_autoscaler`` package (``functions/stream_autoscaler``); the
archive holds that package and ``audioval_pipeline/stream_registry.py`` with its package's
``__init__.py`` (both standard library only): the Lambda runtime adds boto3, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

import audioval_pipeline
import audioval_stream_autoscaler
from audioval_infra.iam import ServiceRole, ServiceRoleArgs, autoscaler_policy, stream_arn_pattern
from audioval_stream_autoscaler import ScalingPolicy, policy_from_env

__all__ = [
    "HANDLER",
    "StreamSetAutoscaler",
    "StreamSetAutoscalerArgs",
    "archive_files",
    "lambda_code",
]

HANDLER = "audioval_stream_autoscaler.handler.handler"
# Of audioval_pipeline the function needs the registry record only.
_PIPELINE_MODULES = ("__init__.py", "stream_registry.py")


def archive_files() -> dict[str, dict[str, Path]]:
    """The archive's files: top-level package -> file name -> the source file it is made of."""
    function = Path(audioval_stream_autoscaler.__file__).parent
    pipeline = Path(audioval_pipeline.__file__).parent
    return {
        function.name: {p.name: p for p in sorted(function.glob("*.py"))},
        pipeline.name: {name: pipeline / name for name in _PIPELINE_MODULES},
    }


def lambda_code() -> pulumi.AssetArchive:
    """The function's archive: its package and the registry module, one folder each."""
    return pulumi.AssetArchive(
        {
            package: pulumi.AssetArchive(
                {name: pulumi.FileAsset(str(path)) for name, path in files.items()}
            )
            for package, files in archive_files().items()
        }
    )


@dataclass
class StreamSetAutoscalerArgs:
    """What the function manages and how.

    ``policy`` holds :class:`~audioval_stream_autoscaler.ScalingPolicy` fields
    (``max_streams``, ``shards_per_stream``, ``retention_s``, thresholds); they reach the
    function as ``AUTOSCALER_<FIELD>`` variables.
    """

    zones: Sequence[str]
    stream_name_prefix: str
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    manifest_queue_name: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    policy: Mapping[str, float] = field(default_factory=dict)
    schedule: str = "rate(1 minute)"
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class StreamSetAutoscaler(pulumi.ComponentResource):
    """Lambda + its role + log group + an EventBridge schedule that invokes it."""

    function: aws.lambda_.Function

    def __init__(
        self, name: str, args: StreamSetAutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:streams:StreamSetAutoscaler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        unknown = set(args.policy) - set(ScalingPolicy().__dict__)
        if unknown:
            raise ValueError(f"unknown autoscaler policy fields: {sorted(unknown)}")
        # Fails here, at preview, on thresholds the function would refuse at run time.
        policy_from_env({f"AUTOSCALER_{k.upper()}": str(v) for k, v in args.policy.items()})
        function_name = f"{name}"
        log_group = aws.cloudwatch.LogGroup(
            name,
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        patterns = pulumi.Output.all(args.region, args.account_id).apply(
            lambda ra: [
                stream_arn_pattern(ra[0], ra[1], args.stream_name_prefix, zone)
                for zone in args.zones
            ]
        )
        policy = pulumi.Output.all(
            patterns, args.registry_table_arn, args.key_arn, log_group.arn
        ).apply(
            lambda v: autoscaler_policy(
                stream_patterns=v[0], registry_table_arn=v[1], key_arn=v[2], log_group_arn=v[3]
            )
        )
        self.role = ServiceRole(
            f"{name}-role",
            ServiceRoleArgs(
                service_principal="lambda.amazonaws.com",
                policy=policy,
                description="stream-set autoscaler: extra streams, registry, metrics",
            ),
            opts=child,
        )
        environment = pulumi.Output.all(
            args.registry_table_name, args.manifest_queue_name, args.key_arn
        ).apply(
            lambda v: {
                "AUTOSCALER_REGISTRY_TABLE": v[0],
                "AUTOSCALER_MANIFEST_QUEUE": v[1],
                "AUTOSCALER_KMS_KEY_ID": v[2],
                "AUTOSCALER_ZONES": json.dumps(list(args.zones)),
                "AUTOSCALER_STREAM_TAGS": json.dumps(dict(args.tags), sort_keys=True),
                **{f"AUTOSCALER_{k.upper()}": str(v) for k, v in sorted(args.policy.items())},
            }
        )
        self.function = aws.lambda_.Function(
            name,
            name=function_name,
            runtime="python3.12",
            handler=HANDLER,
            code=lambda_code(),
            role=self.role.role.arn,
            timeout=300,
            memory_size=256,
            # One run at a time: two runs deciding on the same registry would race.
            reserved_concurrent_executions=1,
            environment={"variables": environment},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-schedule", schedule_expression=args.schedule, opts=child
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule", rule=rule.name, arn=self.function.arn, opts=child
        )
        aws.lambda_.Permission(
            f"{name}-schedule",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        self.register_outputs({"function_name": self.function.name})
