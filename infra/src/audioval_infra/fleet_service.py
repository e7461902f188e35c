"""One service of the fleet on Fargate: its task role, task definition, ECS service and scaling.

The component is the same for every service; what differs comes in through its args: the
container's environment, the task role's policy, the subnets and security group, whether the
balancer forwards to it (a target group) or others find it by private DNS (a registry), and
whether it scales on a queue's backlog besides CPU. Ingest has one per zone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from audioval_infra.config import ServiceSize
from audioval_infra.iam import ServiceRole, ServiceRoleArgs

__all__ = [
    "SERVICE_PORTS",
    "FleetService",
    "FleetServiceArgs",
    "QueueBacklog",
    "children_options",
]

TargetTracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgsDict

# The port each service's settings default to; the images and the balancer use the same.
SERVICE_PORTS = {"ingest": 50051, "rebuild": 50052, "classify": 50053}


def children_options(
    component: pulumi.Resource, moved_from: pulumi.Resource | None
) -> pulumi.ResourceOptions:
    """Options for ``component``'s children, aliased to ``moved_from`` when given.

    The fleet's components take over resources that were the fleet's own children before it
    was split: the alias keeps their URNs, so a deployed stack updates in place, not replaces.
    """
    aliases = [pulumi.Alias(parent=moved_from)] if moved_from is not None else None
    return pulumi.ResourceOptions(parent=component, aliases=aliases)


@dataclass(frozen=True)
class QueueBacklog:
    """Scale out when visible messages of ``queue_name`` per running task exceed ``per_task``."""

    queue_name: pulumi.Input[str]
    per_task: float


@dataclass
class FleetServiceArgs:
    """What one ECS service runs, where, under which role, and who reaches it.

    ``service`` (``ingest``, ``rebuild``, ``classify``) names the container, its port and its
    log stream prefix; ``role_name`` is the logical name of its task role. ``moved_from``: see
    :func:`children_options`.
    """

    service: str
    size: ServiceSize
    image: pulumi.Input[str]
    environment: pulumi.Input[Mapping[str, str]]
    region: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    role_name: str
    task_policy: pulumi.Input[Mapping[str, Any]]
    role_description: str
    subnets: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str] | None = None
    registry_arn: pulumi.Input[str] | None = None
    backlog: QueueBacklog | None = None
    moved_from: pulumi.Resource | None = None


class FleetService(pulumi.ComponentResource):
    """A Fargate service with its task role, task definition and target-tracking scaling."""

    role: ServiceRole
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service
    scaling_target: aws.appautoscaling.Target

    def __init__(
        self, name: str, args: FleetServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:FleetService", name, None, opts)
        child = children_options(self, args.moved_from)
        self.role = ServiceRole(
            args.role_name,
            ServiceRoleArgs("ecs-tasks.amazonaws.com", args.task_policy, args.role_description),
            opts=child,
        )
        self.task_definition = aws.ecs.TaskDefinition(
            name,
            family=name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.size.cpu),
            memory=str(args.size.memory),
            execution_role_arn=args.execution_role_arn,
            task_role_arn=self.role.role.arn,
            container_definitions=_container_definitions(args),
            volumes=[{"name": "tmp"}],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            opts=child,
        )
        balanced = args.target_group_arn is not None
        port = SERVICE_PORTS[args.service]
        self.service = aws.ecs.Service(
            name,
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.size.min_tasks,
            network_configuration={
                "subnets": list(args.subnets),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            load_balancers=(
                [
                    {
                        "target_group_arn": args.target_group_arn,
                        "container_name": args.service,
                        "container_port": port,
                    }
                ]
                if balanced
                else []
            ),
            service_registries=(
                {"registry_arn": args.registry_arn} if args.registry_arn is not None else None
            ),
            health_check_grace_period_seconds=60 if balanced else None,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            propagate_tags="SERVICE",
            # The scaling policies own the task count once the service exists.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=["desiredCount"])
            ),
        )
        resource_id = pulumi.Output.all(args.cluster_name, self.service.name).apply(
            lambda v: f"service/{v[0]}/{v[1]}"
        )
        self.scaling_target = aws.appautoscaling.Target(
            name,
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=resource_id,
            min_capacity=args.size.min_tasks,
            max_capacity=args.size.max_tasks,
            opts=child,
        )
        self._track(
            f"{name}-cpu",
            {
                "target_value": args.size.cpu_target,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ECSServiceAverageCPUUtilization"
                },
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 60,
            },
            child,
        )
        if args.backlog is not None:
            self._track(
                f"{name}-backlog",
                _backlog_tracking(args.backlog, args.cluster_name, self.service.name),
                child,
            )
        self.register_outputs(
            {
                "service": self.service.name,
                "taskDefinition": self.task_definition.arn,
                "taskRole": self.role.role.arn,
            }
        )

    def _track(
        self, name: str, configuration: TargetTracking, opts: pulumi.ResourceOptions
    ) -> aws.appautoscaling.Policy:
        """A target-tracking policy on this service's task count."""
        target = self.scaling_target
        return aws.appautoscaling.Policy(
            name,
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=configuration,
            opts=opts,
        )


def _backlog_tracking(
    backlog: QueueBacklog, cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]
) -> TargetTracking:
    """Messages waiting per running task, not only CPU (rebuild's manifests)."""
    return {
        "target_value": backlog.per_task,
        "customized_metric_specification": {
            "metrics": [
                {
                    "id": "visible",
                    "return_data": False,
                    "metric_stat": {
                        "stat": "Sum",
                        "metric": {
                            "namespace": "AWS/SQS",
                            "metric_name": "ApproximateNumberOfMessagesVisible",
                            "dimensions": [{"name": "QueueName", "value": backlog.queue_name}],
                        },
                    },
                },
                {
                    "id": "tasks",
                    "return_data": False,
                    "metric_stat": {
                        "stat": "Average",
                        "metric": {
                            "namespace": "ECS/ContainerInsights",
                            "metric_name": "RunningTaskCount",
                            "dimensions": [
                                {"name": "ClusterName", "value": cluster_name},
                                {"name": "ServiceName", "value": service_name},
                            ],
                        },
                    },
                },
                {
                    "id": "backlog",
                    "expression": "visible / IF(tasks > 0, tasks, 1)",
                    "label": "manifests per rebuild task",
                    "return_data": True,
                },
            ]
        },
        "scale_in_cooldown": 300,
        "scale_out_cooldown": 60,
    }


def _container_definitions(args: FleetServiceArgs) -> pulumi.Output[str]:
    """The one container: the image, its environment, the image's health probe, awslogs."""
    service = args.service
    port = SERVICE_PORTS[service]
    return pulumi.Output.all(args.image, args.environment, args.log_group_name, args.region).apply(
        lambda v: json.dumps(
            [
                {
                    "name": service,
                    "image": v[0],
                    "essential": True,
                    "portMappings": [{"containerPort": port, "protocol": "tcp"}],
                    "environment": [{"name": k, "value": val} for k, val in sorted(v[1].items())],
                    "healthCheck": {
                        "command": ["CMD", "grpc-health-probe", f"127.0.0.1:{port}"],
                        "interval": 15,
                        "timeout": 5,
                        "retries": 3,
                        "startPeriod": 30,
                    },
                    "readonlyRootFilesystem": True,
                    "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": v[2],
                            "awslogs-region": v[3],
                            "awslogs-stream-prefix": service,
                        },
                    },
                }
            ],
            sort_keys=True,
        )
    )
