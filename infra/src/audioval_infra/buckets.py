"""S3 buckets: encrypted with the stack key, public access blocked, TLS only, with lifecycle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

__all__ = ["EncryptedBucket", "EncryptedBucketArgs"]


@dataclass
class EncryptedBucketArgs:
    """Lifecycle: objects expire after ``expire_days`` and/or move to Standard-IA after
    ``infrequent_access_days`` (None: never); unfinished multipart uploads go after 7 days."""

    purpose: str
    key_arn: pulumi.Input[str]
    expire_days: int | None = None
    infrequent_access_days: int | None = None
    versioned: bool = False
    force_destroy: bool = False


class EncryptedBucket(pulumi.ComponentResource):
    """A private bucket. Its name is generated (S3 names are global); read it from outputs."""

    bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: EncryptedBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:storage:EncryptedBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            name,
            force_destroy=args.force_destroy,
            tags={"audioval:purpose": args.purpose},
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.key_arn,
                    },
                    # One data key per bucket instead of per object: far fewer KMS calls.
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(_tls_only),
            opts=child,
        )
        if args.versioned:
            aws.s3.BucketVersioning(
                name,
                bucket=self.bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            )
        rules: list[Any] = [
            {
                "id": "abort-incomplete-multipart",
                "status": "Enabled",
                "filter": {},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ]
        if args.expire_days is not None:
            rules.append(
                {
                    "id": "expire",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.expire_days},
                    "noncurrent_version_expiration": {"noncurrent_days": args.expire_days},
                }
            )
        if args.infrequent_access_days is not None:
            rules.append(
                {
                    "id": "infrequent-access",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [
                        {"days": args.infrequent_access_days, "storage_class": "STANDARD_IA"}
                    ],
                }
            )
        aws.s3.BucketLifecycleConfiguration(name, bucket=self.bucket.id, rules=rules, opts=child)
        self.register_outputs({"name": self.bucket.bucket, "arn": self.bucket.arn})


def _tls_only(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlainHttp",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
