"""The ECS cluster and what every task of the fleet shares: image repositories, log groups and
the execution role that pulls those images and writes those logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from audioval_infra.fleet_service import children_options
from audioval_infra.iam import ServiceRole, ServiceRoleArgs, task_execution_policy

__all__ = ["FleetCluster", "FleetClusterArgs"]


@dataclass
class FleetClusterArgs:
    """One ECR repository and one log group per name in ``services``.

    Repositories are immutable-tagged, scanned on push and encrypted with ``key_arn``.
    ``moved_from``: see :func:`audioval_infra.fleet_service.children_options`.
    """

    prefix: str
    services: Sequence[str]
    key_arn: pulumi.Input[str]
    log_retention_days: int
    moved_from: pulumi.Resource | None = None


class FleetCluster(pulumi.ComponentResource):
    """ECR repositories, log groups, the ECS cluster (Container Insights on) and the
    task-execution role."""

    repositories: dict[str, aws.ecr.Repository]
    log_groups: dict[str, aws.cloudwatch.LogGroup]
    cluster: aws.ecs.Cluster
    execution_role: ServiceRole

    def __init__(
        self, name: str, args: FleetClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:FleetCluster", name, None, opts)
        child = children_options(self, args.moved_from)
        self.repositories = {
            service: aws.ecr.Repository(
                f"{args.prefix}-{service}",
                name=f"{args.prefix}/{service}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.key_arn}],
                opts=child,
            )
            for service in args.services
        }
        self.log_groups = {
            service: aws.cloudwatch.LogGroup(
                f"{name}-{service}",
                name=f"/audioval/{args.prefix}/{service}",
                retention_in_days=args.log_retention_days,
                opts=child,
            )
            for service in args.services
        }
        self.cluster = aws.ecs.Cluster(
            name,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=child,
        )
        execution_policy = pulumi.Output.all(
            [r.arn for r in self.repositories.values()],
            [g.arn for g in self.log_groups.values()],
        ).apply(lambda v: task_execution_policy(repository_arns=v[0], log_group_arns=v[1]))
        self.execution_role = ServiceRole(
            f"{name}-execution",
            ServiceRoleArgs(
                service_principal="ecs-tasks.amazonaws.com",
                policy=execution_policy,
                description="ECS: pull audioval images, write their logs",
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "cluster": self.cluster.name,
                "repositories": {k: r.repository_url for k, r in self.repositories.items()},
            }
        )
