"""Ray on an EMR cluster: a bootstrap action from this repo installs audioval and starts Ray."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from audioval_infra.config import EmrConfig
from audioval_infra.iam import ServiceRole, ServiceRoleArgs, emr_instance_policy

__all__ = [
    "BOOTSTRAP_SCRIPT",
    "RAY_DASHBOARD_PORT",
    "RAY_VERSION",
    "RayEmrCluster",
    "RayEmrClusterArgs",
]

BOOTSTRAP_SCRIPT = Path(__file__).parent / "assets" / "ray-bootstrap.sh"
RAY_DASHBOARD_PORT = 8265
# The release the services and the batch job are tested with (uv.lock pins ray[default]).
RAY_VERSION = "2.60.0"
# EMR's v2 managed policies act only on resources carrying this tag.
EMR_MANAGED_TAG = {"for-use-with-amazon-emr-managed-policies": "true"}


@dataclass
class RayEmrClusterArgs:
    """Where the cluster runs and what it may touch.

    Parameters
    ----------
    config
        Release, instance types and scaling limits.
    vpc_id, subnet_id
        The cluster lives in one private subnet (EMR instance groups are single-zone).
    operator_cidrs
        The only addresses admitted to the Ray dashboard port; empty: SSM port forwarding only.
    uploads_bucket, results_bucket, artifacts_bucket, logs_bucket
        ``(name, arn)`` outputs of the buckets; artifacts holds the bootstrap script and wheels.
    wheels
        Wheel files to upload under ``wheels/`` (``uv build --all-packages --wheel``).
    """

    config: EmrConfig
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    operator_cidrs: Sequence[str]
    key_arn: pulumi.Input[str]
    uploads_bucket_arn: pulumi.Input[str]
    results_bucket_arn: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    artifacts_bucket_arn: pulumi.Input[str]
    logs_bucket: pulumi.Input[str]
    logs_bucket_arn: pulumi.Input[str]
    wheels: Sequence[Path] = ()


class RayEmrCluster(pulumi.ComponentResource):
    """The cluster, its roles and security groups, managed scaling and the bootstrap upload.

    Outputs ``cluster_id``, ``primary_dns`` and ``dashboard_url`` (reachable from the operator
    CIDRs; through SSM use ``http://localhost:8265``, see the README).
    """

    cluster: aws.emr.Cluster

    def __init__(
        self, name: str, args: RayEmrClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:ray:RayEmrCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config

        script = aws.s3.BucketObjectv2(
            f"{name}-bootstrap",
            bucket=args.artifacts_bucket,
            key="bootstrap/ray-bootstrap.sh",
            source=pulumi.FileAsset(str(BOOTSTRAP_SCRIPT)),
            opts=child,
        )
        wheel_objects = [
            aws.s3.BucketObjectv2(
                f"{name}-wheel-{wheel.name}",
                bucket=args.artifacts_bucket,
                key=f"wheels/{wheel.name}",
                source=pulumi.FileAsset(str(wheel)),
                opts=child,
            )
            for wheel in args.wheels
        ]
        if not args.wheels:
            pulumi.log.warn(
                "no audioval wheels to upload: run `uv build --all-packages --wheel -o dist` "
                "before `pulumi up`, or the Ray bootstrap has nothing to install",
                resource=self,
            )

        # EMR fills the managed groups' rules itself; the program owns none of them.
        managed = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                vpc_id=args.vpc_id,
                description=f"EMR managed: {role}",
                revoke_rules_on_delete=True,
                tags=EMR_MANAGED_TAG,
                opts=child,
            )
            for role in ("primary", "core", "service-access")
        }
        dashboard = aws.ec2.SecurityGroup(
            f"{name}-dashboard",
            vpc_id=args.vpc_id,
            description="Ray dashboard: operator CIDRs only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": RAY_DASHBOARD_PORT,
                    "to_port": RAY_DASHBOARD_PORT,
                    "cidr_blocks": list(args.operator_cidrs),
                    "description": "Ray dashboard from operators",
                }
            ]
            if args.operator_cidrs
            else [],
            tags=EMR_MANAGED_TAG,
            opts=child,
        )

        service_role = ServiceRole(
            f"{name}-service",
            ServiceRoleArgs(
                service_principal="elasticmapreduce.amazonaws.com",
                # EMR's service role is AWS-managed (v2: scoped to resources tagged
                # for-use-with-amazon-emr-managed-policies); our inline part adds the key.
                policy=pulumi.Output.from_input(args.key_arn).apply(
                    lambda key: {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "LocalDiskEncryptionGrants",
                                "Effect": "Allow",
                                "Action": ["kms:CreateGrant", "kms:DescribeKey"],
                                "Resource": [key],
                            }
                        ],
                    }
                ),
                description="EMR service role",
                managed_policy_arns=[
                    "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
                ],
            ),
            opts=child,
        )
        instance_policy = pulumi.Output.all(
            args.uploads_bucket_arn,
            args.results_bucket_arn,
            args.artifacts_bucket_arn,
            args.logs_bucket_arn,
            args.key_arn,
        ).apply(
            lambda v: emr_instance_policy(
                uploads_bucket_arn=v[0],
                results_bucket_arn=v[1],
                artifacts_bucket_arn=v[2],
                logs_bucket_arn=v[3],
                key_arn=v[4],
            )
        )
        instance_role = ServiceRole(
            f"{name}-instance",
            ServiceRoleArgs(
                service_principal="ec2.amazonaws.com",
                policy=instance_policy,
                description="EMR nodes running Ray: their buckets only",
                # SSM port forwarding to the dashboard; the agent's registration calls have no
                # resource-level scoping, which is why AWS' own policy uses "*".
                managed_policy_arns=["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(name, role=instance_role.role.name, opts=child)

        security = aws.emr.SecurityConfiguration(
            name,
            configuration=pulumi.Output.from_input(args.key_arn).apply(
                lambda key: json.dumps(
                    {
                        "EncryptionConfiguration": {
                            "EnableInTransitEncryption": False,
                            "EnableAtRestEncryption": True,
                            "AtRestEncryptionConfiguration": {
                                "S3EncryptionConfiguration": {
                                    "EncryptionMode": "SSE-KMS",
                                    "AwsKmsKey": key,
                                },
                                "LocalDiskEncryptionConfiguration": {
                                    "EncryptionKeyProviderType": "AwsKms",
                                    "AwsKmsKey": key,
                                    "EnableEbsEncryption": True,
                                },
                            },
                        }
                    },
                    sort_keys=True,
                )
            ),
            opts=child,
        )

        core_group: Any = {
            "instance_type": cfg.core_instance_type,
            "instance_count": cfg.core_instances,
            "ebs_configs": [{"size": cfg.ebs_gb, "type": "gp3", "volumes_per_instance": 1}],
        }
        auto_termination: Any = (
            {"idle_timeout": cfg.idle_timeout_s} if cfg.idle_timeout_s is not None else None
        )
        bootstrap_args: list[pulumi.Input[str]] = [
            pulumi.Output.concat("s3://", args.artifacts_bucket, "/wheels/"),
            RAY_VERSION,
            str(RAY_DASHBOARD_PORT),
        ]
        bootstrap: Any = {
            "name": "install audioval and start Ray",
            "path": pulumi.Output.concat("s3://", args.artifacts_bucket, "/", script.key),
            "args": bootstrap_args,
        }
        self.cluster = aws.emr.Cluster(
            name,
            name=name,
            release_label=cfg.release_label,
            applications=["Hadoop"],
            service_role=service_role.role.arn,
            security_configuration=security.name,
            log_uri=pulumi.Output.concat("s3://", args.logs_bucket, "/emr/"),
            ec2_attributes={
                "subnet_id": args.subnet_id,
                "instance_profile": profile.arn,
                "emr_managed_master_security_group": managed["primary"].id,
                "emr_managed_slave_security_group": managed["core"].id,
                "service_access_security_group": managed["service-access"].id,
                "additional_master_security_groups": dashboard.id,
            },
            master_instance_group={"instance_type": cfg.master_instance_type},
            core_instance_group=core_group,
            bootstrap_actions=[bootstrap],
            auto_termination_policy=auto_termination,
            keep_job_flow_alive_when_no_steps=True,
            tags=EMR_MANAGED_TAG,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[script, *wheel_objects]),
        )
        aws.emr.ManagedScalingPolicy(
            name,
            cluster_id=self.cluster.id,
            compute_limits=[
                {
                    "unit_type": "Instances",
                    "minimum_capacity_units": cfg.min_instances,
                    "maximum_capacity_units": cfg.max_instances,
                    "maximum_core_capacity_units": cfg.max_instances,
                }
            ],
            opts=child,
        )
        self.dashboard_security_group = dashboard
        self.primary_dns = self.cluster.master_public_dns
        self.dashboard_url = pulumi.Output.concat(
            "http://", self.cluster.master_public_dns, f":{RAY_DASHBOARD_PORT}"
        )
        self.register_outputs(
            {
                "cluster_id": self.cluster.id,
                "primary_dns": self.primary_dns,
                "dashboard_url": self.dashboard_url,
            }
        )
