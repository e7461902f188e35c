"""Least-privilege policy documents, one per role, and a role component that attaches one.

The document builders are pure functions of ARNs, so tests compare each role's actions and
resources with what its code calls (see the boto3 calls in ``services/*``). No ``*`` appears
in an action, and a ``*`` resource only where AWS has no resource-level permission, with the
reason beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

__all__ = [
    "ServiceRole",
    "ServiceRoleArgs",
    "autoscaler_policy",
    "classify_policy",
    "emr_instance_policy",
    "ingest_policy",
    "rebuild_policy",
    "task_execution_policy",
]

Statement = dict[str, Any]


def _allow(actions: Sequence[str], resources: Sequence[str], sid: str) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def _document(*statements: Statement) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stream_arn_pattern(region: str, account: str, stream_prefix: str, az: str) -> str:
    """Every stream of ``az``'s set, the baseline's and the autoscaler's extra ones."""
    return f"arn:aws:kinesis:{region}:{account}:stream/{stream_prefix}-{az}-*"


def ingest_policy(
    *,
    stream_pattern: str,
    registry_table_arn: str,
    verdict_table_arn: str,
    queue_arn: str,
    key_arn: str,
) -> dict[str, Any]:
    """Ingest in one zone: write chunks to its zone's streams, read the registry, send manifests.

    ``kms:GenerateDataKey`` encrypts records and messages under the stack key; SQS needs
    ``kms:Decrypt`` too on send (it checks the data key it caches).
    """
    return _document(
        # ListShards: ingest paces each shard to its budget and must know which shard a
        # track's partition key lands on (cached a minute per stream).
        _allow(
            ["kinesis:ListShards", "kinesis:PutRecords"], [stream_pattern], "WriteChunksToOwnZone"
        ),
        _allow(["dynamodb:Query"], [registry_table_arn], "ReadStreamRegistry"),
        _allow(["dynamodb:PutItem", "dynamodb:DeleteItem"], [verdict_table_arn], "PendingItem"),
        _allow(["sqs:GetQueueUrl", "sqs:SendMessage"], [queue_arn], "SendManifest"),
        _allow(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn], "EncryptWithStackKey"),
    )


def rebuild_policy(
    *,
    stream_patterns: Sequence[str],
    verdict_table_arn: str,
    queue_arn: str,
    dlq_arn: str,
    key_arn: str,
    quarantine_bucket_arn: str,
) -> dict[str, Any]:
    """Rebuild: read the records manifests name, work the queue, dead-letter poison, store
    rejections (integrity failures) in the verdict table, hold `review` tracks' bytes in the
    quarantine bucket (GetObject and ListBucket so that HEAD of a missing object says 404:
    a redelivered manifest of a review track checks whether its bytes are held)."""
    return _document(
        _allow(["kinesis:GetRecords", "kinesis:GetShardIterator"], stream_patterns, "ReadChunks"),
        _allow(
            [
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
            ],
            [queue_arn],
            # The heartbeat's ChangeMessageVisibilityBatch is authorised by
            # sqs:ChangeMessageVisibility: SQS has no separate batch permission.
            "WorkManifestQueue",
        ),
        _allow(["sqs:GetQueueUrl", "sqs:SendMessage"], [dlq_arn], "DeadLetterPoison"),
        _allow(["dynamodb:GetItem", "dynamodb:PutItem"], [verdict_table_arn], "Verdicts"),
        _allow(
            ["s3:GetObject", "s3:PutObject"], [f"{quarantine_bucket_arn}/*"], "HoldReviewTracks"
        ),
        _allow(["s3:ListBucket"], [quarantine_bucket_arn], "FindHeldTracks"),
        _allow(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn], "DecryptWithStackKey"),
    )


def classify_policy(*, verdict_table_arn: str, key_arn: str) -> dict[str, Any]:
    """Classify: read and conditionally write verdicts, follow the table's stream.

    ``DescribeTable`` finds the stream's current ARN (``LatestStreamArn``), so no
    ``ListStreams`` (which would need ``*``). Stream ARNs are ``<table arn>/stream/<label>``
    and the label changes whenever the stream is re-enabled.
    Table reads and writes use the table's key through the grant DynamoDB made at creation,
    but stream records of a table under a customer-managed key are decrypted for the reader:
    ``kms:Decrypt`` on the stack key, nothing more (AWS CDK's ``grantStreamRead`` adds the same,
    aws-cdk#23400).
    """
    return _document(
        _allow(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"],
            [verdict_table_arn],
            "Verdicts",
        ),
        _allow(
            ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
            [f"{verdict_table_arn}/stream/*"],
            "FollowVerdictStream",
        ),
        _allow(["kms:Decrypt"], [key_arn], "DecryptVerdictStream"),
    )


def autoscaler_policy(
    *,
    stream_patterns: Sequence[str],
    registry_table_arn: str,
    key_arn: str,
    log_group_arn: str,
) -> dict[str, Any]:
    """The stream-set autoscaler: manage extra streams, edit the registry, read metrics."""
    return _document(
        _allow(
            [
                "kinesis:CreateStream",
                "kinesis:AddTagsToStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:StartStreamEncryption",
                "kinesis:IncreaseStreamRetentionPeriod",
                "kinesis:DeleteStream",
            ],
            stream_patterns,
            "ManageExtraStreams",
        ),
        _allow(
            ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [registry_table_arn],
            "EditStreamRegistry",
        ),
        # Kinesis checks the caller may use the key when it turns encryption on.
        _allow(["kms:GenerateDataKey", "kms:DescribeKey"], [key_arn], "EncryptNewStreams"),
        # GetMetricData has no resource-level permissions: AWS requires "*" here.
        _allow(["cloudwatch:GetMetricData"], ["*"], "ReadMetrics"),
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"], "Logs"),
    )


def task_execution_policy(
    *, repository_arns: Sequence[str], log_group_arns: Sequence[str]
) -> dict[str, Any]:
    """What ECS needs to start a task: pull its image, write its logs."""
    return _document(
        # GetAuthorizationToken is account-wide: AWS requires "*" here.
        _allow(["ecr:GetAuthorizationToken"], ["*"], "EcrLogin"),
        _allow(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            repository_arns,
            "PullImages",
        ),
        _allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{arn}:*" for arn in log_group_arns],
            "Logs",
        ),
    )


def emr_instance_policy(
    *,
    uploads_bucket_arn: str,
    results_bucket_arn: str,
    artifacts_bucket_arn: str,
    logs_bucket_arn: str,
    key_arn: str,
) -> dict[str, Any]:
    """EMR nodes (Ray head and workers): read uploads and artifacts, write results and logs."""
    return _document(
        _allow(
            ["s3:ListBucket"],
            [uploads_bucket_arn, results_bucket_arn, artifacts_bucket_arn],
            "ListOwnBuckets",
        ),
        _allow(
            ["s3:GetObject"],
            [f"{uploads_bucket_arn}/*", f"{artifacts_bucket_arn}/*"],
            "ReadUploadsAndArtifacts",
        ),
        _allow(
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            [f"{results_bucket_arn}/*"],
            "WriteResults",
        ),
        _allow(["s3:PutObject"], [f"{logs_bucket_arn}/*"], "WriteLogs"),
        _allow(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn], "BucketKey"),
    )


@dataclass
class ServiceRoleArgs:
    """A role ``service_principal`` may assume, with one inline policy.

    ``policy`` is a policy document (resolved from outputs by the caller);
    ``managed_policy_arns`` are AWS-managed policies the service requires.
    """

    service_principal: str
    policy: pulumi.Input[Mapping[str, Any]]
    description: str
    managed_policy_arns: Sequence[str] = ()


class ServiceRole(pulumi.ComponentResource):
    """An IAM role with exactly one inline policy (plus any AWS-managed ones named)."""

    role: aws.iam.Role

    def __init__(
        self, name: str, args: ServiceRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:iam:ServiceRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        assume = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": args.service_principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        self.role = aws.iam.Role(
            name,
            assume_role_policy=json.dumps(assume),
            description=args.description,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.from_input(args.policy).apply(
                lambda doc: json.dumps(doc, sort_keys=True)
            ),
            opts=child,
        )
        for index, arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-managed-{index}", role=self.role.name, policy_arn=arn, opts=child
            )
        self.register_outputs({"arn": self.role.arn, "name": self.role.name})
