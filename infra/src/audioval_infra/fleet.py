"""The service fleet: ingest (one ECS service per zone), rebuild and classify on Fargate.

An internal Application Load Balancer terminates TLS and speaks gRPC to the tasks: requests to
``/audioval.v1.IngestService/*`` go to the ingest target groups (one per zone, equal weights),
``/audioval.v1.ClassifyService/*`` to classify; target health is ``grpc.health.v1.Health/Check``
(gRPC status 0). Rebuild takes no traffic from the balancer: it reaches classify through a
private DNS name. Each service's port admits only the balancer (and rebuild, for classify).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from audioval_infra.config import ServiceSize
from audioval_infra.iam import (
    ServiceRole,
    ServiceRoleArgs,
    classify_policy,
    ingest_policy,
    rebuild_policy,
    stream_arn_pattern,
    task_execution_policy,
)

__all__ = ["SERVICE_PORTS", "ServiceFleet", "ServiceFleetArgs"]

SERVICE_PORTS = {"ingest": 50051, "rebuild": 50052, "classify": 50053}
HEALTH_PATH = "/grpc.health.v1.Health/Check"
HTTPS_PORT = 443


@dataclass
class ServiceFleetArgs:
    """Where the fleet runs, what it talks to, and how big it is.

    ``pipeline`` holds the names every service reads from ``AUDIOVAL_*`` (the registry table,
    stream prefix, queues, verdict table); ``client_cidrs`` may reach the balancer on 443.
    """

    prefix: str
    zones: Sequence[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnets: Mapping[str, pulumi.Input[str]]
    client_cidrs: Sequence[str]
    certificate_arn: str
    image_tag: str
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    stream_name_prefix: str
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    verdict_table_name: pulumi.Input[str]
    verdict_table_arn: pulumi.Input[str]
    queue_name: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    dead_letter_queue_arn: pulumi.Input[str]
    max_receive_count: int
    visibility_timeout_s: int
    ingest: ServiceSize
    rebuild: ServiceSize
    classify: ServiceSize
    log_retention_days: int = 30
    # Rebuild scales out when visible manifests per running task exceed this.
    backlog_per_task: float = 20.0


class ServiceFleet(pulumi.ComponentResource):
    """ECR repositories, the ECS cluster, the gRPC load balancer and the three services."""

    endpoint: pulumi.Output[str]
    repositories: dict[str, aws.ecr.Repository]

    def __init__(
        self, name: str, args: ServiceFleetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:ServiceFleet", name, None, opts)
        if not args.certificate_arn:
            raise ValueError("certificateArn is required: the balancer speaks gRPC over TLS")
        if not args.client_cidrs:
            raise ValueError("clientCidrs must name who may call the services")
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._targets: dict[str, aws.appautoscaling.Target] = {}
        child = self._child

        self.repositories = {
            service: aws.ecr.Repository(
                f"{args.prefix}-{service}",
                name=f"{args.prefix}/{service}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.key_arn}],
                opts=child,
            )
            for service in SERVICE_PORTS
        }
        self.log_groups = {
            service: aws.cloudwatch.LogGroup(
                f"{name}-{service}",
                name=f"/audioval/{args.prefix}/{service}",
                retention_in_days=args.log_retention_days,
                opts=child,
            )
            for service in SERVICE_PORTS
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

        # -- network: balancer, security groups, private DNS ------------------------------
        self.alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=args.vpc_id,
            description="gRPC clients to the audioval balancer",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": HTTPS_PORT,
                    "to_port": HTTPS_PORT,
                    "cidr_blocks": list(args.client_cidrs),
                    "description": "gRPC over TLS from clients",
                }
            ],
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": SERVICE_PORTS["ingest"],
                    "to_port": SERVICE_PORTS["classify"],
                    "cidr_blocks": [args.vpc_cidr],
                    "description": "to the tasks",
                }
            ],
            opts=child,
        )
        self.rebuild_sg = self._task_sg("rebuild", [])
        self.ingest_sg = self._task_sg("ingest", [self.alb_sg.id])
        self.classify_sg = self._task_sg("classify", [self.alb_sg.id, self.rebuild_sg.id])
        subnet_ids = [args.subnets[z] for z in args.zones]
        self.balancer = aws.lb.LoadBalancer(
            name,
            internal=True,
            load_balancer_type="application",
            security_groups=[self.alb_sg.id],
            subnets=subnet_ids,
            drop_invalid_header_fields=True,
            opts=child,
        )
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            name, name=f"{args.prefix}.internal", vpc=args.vpc_id, opts=child
        )
        classify_discovery = aws.servicediscovery.Service(
            f"{name}-classify",
            name="classify",
            dns_config={
                "namespace_id": namespace.id,
                "dns_records": [{"ttl": 10, "type": "A"}],
                "routing_policy": "MULTIVALUE",
            },
            health_check_custom_config={},
            opts=child,
        )
        classify_address = pulumi.Output.concat(
            "classify.", namespace.name, f":{SERVICE_PORTS['classify']}"
        )

        # -- target groups and routing ----------------------------------------------------
        ingest_groups = {
            zone: self._target_group(f"ingest-{zone}", "ingest") for zone in args.zones
        }
        classify_group = self._target_group("classify", "classify")
        listener = aws.lb.Listener(
            name,
            load_balancer_arn=self.balancer.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            certificate_arn=args.certificate_arn,
            default_actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {"content_type": "text/plain", "status_code": "404"},
                }
            ],
            opts=child,
        )
        aws.lb.ListenerRule(
            f"{name}-ingest",
            listener_arn=listener.arn,
            priority=10,
            conditions=[{"path_pattern": {"values": ["/audioval.v1.IngestService/*"]}}],
            actions=[
                {
                    "type": "forward",
                    "forward": {
                        "target_groups": [
                            {"arn": g.arn, "weight": 1} for g in ingest_groups.values()
                        ]
                    },
                }
            ],
            opts=child,
        )
        aws.lb.ListenerRule(
            f"{name}-classify",
            listener_arn=listener.arn,
            priority=20,
            conditions=[{"path_pattern": {"values": ["/audioval.v1.ClassifyService/*"]}}],
            actions=[{"type": "forward", "target_group_arn": classify_group.arn}],
            opts=child,
        )

        # -- roles ------------------------------------------------------------------------
        patterns = pulumi.Output.all(args.region, args.account_id).apply(
            lambda ra: {
                zone: stream_arn_pattern(ra[0], ra[1], args.stream_name_prefix, zone)
                for zone in args.zones
            }
        )
        self.task_roles: dict[str, ServiceRole] = {}
        for zone in args.zones:
            policy = pulumi.Output.all(
                patterns,
                args.registry_table_arn,
                args.verdict_table_arn,
                args.queue_arn,
                args.key_arn,
            ).apply(functools.partial(_ingest_policy, zone))
            self.task_roles[f"ingest-{zone}"] = ServiceRole(
                f"{name}-ingest-{zone}",
                ServiceRoleArgs("ecs-tasks.amazonaws.com", policy, f"ingest in {zone}"),
                opts=child,
            )
        self.task_roles["rebuild"] = ServiceRole(
            f"{name}-rebuild",
            ServiceRoleArgs(
                "ecs-tasks.amazonaws.com",
                pulumi.Output.all(
                    patterns,
                    args.verdict_table_arn,
                    args.queue_arn,
                    args.dead_letter_queue_arn,
                    args.key_arn,
                ).apply(
                    lambda v: rebuild_policy(
                        stream_patterns=[v[0][z] for z in args.zones],
                        verdict_table_arn=v[1],
                        queue_arn=v[2],
                        dlq_arn=v[3],
                        key_arn=v[4],
                    )
                ),
                "rebuild worker",
            ),
            opts=child,
        )
        self.task_roles["classify"] = ServiceRole(
            f"{name}-classify",
            ServiceRoleArgs(
                "ecs-tasks.amazonaws.com",
                pulumi.Output.all(args.verdict_table_arn, args.key_arn).apply(
                    lambda v: classify_policy(verdict_table_arn=v[0], key_arn=v[1])
                ),
                "classify service",
            ),
            opts=child,
        )

        # -- services ---------------------------------------------------------------------
        pipeline_env = pulumi.Output.all(
            args.region,
            args.registry_table_name,
            args.queue_name,
            args.dead_letter_queue_name,
            args.verdict_table_name,
        ).apply(
            lambda v: {
                "AUDIOVAL_AWS_REGION": v[0],
                "AUDIOVAL_STREAM_REGISTRY_TABLE": v[1],
                "AUDIOVAL_STREAM_NAME_PREFIX": args.stream_name_prefix,
                "AUDIOVAL_MANIFEST_QUEUE": v[2],
                "AUDIOVAL_DEAD_LETTER_QUEUE": v[3],
                "AUDIOVAL_MAX_RECEIVE_COUNT": str(args.max_receive_count),
                "AUDIOVAL_VERDICT_TABLE": v[4],
            }
        )
        self.services: dict[str, aws.ecs.Service] = {}
        for zone in args.zones:
            env = pipeline_env.apply(functools.partial(_ingest_env, zone))
            self._service(
                f"ingest-{zone}",
                "ingest",
                args.ingest,
                env,
                [args.subnets[zone]],
                self.ingest_sg,
                target_group=ingest_groups[zone],
            )
        classify_env = pipeline_env.apply(
            lambda common: {
                **common,
                "AUDIOVAL_CLASSIFY_HOST": "0.0.0.0",
                "AUDIOVAL_CLASSIFY_PORT": str(SERVICE_PORTS["classify"]),
                "AUDIOVAL_CLASSIFY_ALLOW_INSECURE_NON_LOOPBACK": "true",
                "AUDIOVAL_CLASSIFY_STORE": "dynamodb",
                "AUDIOVAL_CLASSIFY_VALIDATOR_WORKERS": str(max(1, args.classify.cpu // 1024)),
            }
        )
        self._service(
            "classify",
            "classify",
            args.classify,
            classify_env,
            subnet_ids,
            self.classify_sg,
            target_group=classify_group,
            registry_arn=classify_discovery.arn,
        )
        rebuild_env = pulumi.Output.all(pipeline_env, classify_address).apply(
            lambda v: {
                **v[0],
                # Health only, checked from inside the task: loopback is enough.
                "AUDIOVAL_REBUILD_PORT": str(SERVICE_PORTS["rebuild"]),
                "AUDIOVAL_REBUILD_CLASSIFY_ADDRESS": v[1],
                "AUDIOVAL_REBUILD_VISIBILITY_TIMEOUT_S": str(args.visibility_timeout_s),
            }
        )
        self._service("rebuild", "rebuild", args.rebuild, rebuild_env, subnet_ids, self.rebuild_sg)
        self._rebuild_backlog_scaling(args)

        self.endpoint = self.balancer.dns_name.apply(lambda dns: f"{dns}:{HTTPS_PORT}")
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "cluster": self.cluster.name,
                "repositories": {k: r.repository_url for k, r in self.repositories.items()},
            }
        )

    # -- helpers ----------------------------------------------------------------------------

    def _task_sg(self, service: str, sources: Sequence[pulumi.Input[str]]) -> aws.ec2.SecurityGroup:
        port = SERVICE_PORTS[service]
        return aws.ec2.SecurityGroup(
            f"{self._args.prefix}-{service}-tasks",
            vpc_id=self._args.vpc_id,
            description=f"audioval {service} tasks",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "security_groups": list(sources),
                    "description": f"gRPC to {service}",
                }
            ]
            if sources
            else [],
            # AWS APIs (through NAT and the gateway endpoints) and classify: HTTPS and gRPC out.
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": HTTPS_PORT,
                    "to_port": HTTPS_PORT,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "AWS APIs",
                },
                {
                    "protocol": "tcp",
                    "from_port": SERVICE_PORTS["classify"],
                    "to_port": SERVICE_PORTS["classify"],
                    "cidr_blocks": [self._args.vpc_cidr],
                    "description": "classify",
                },
            ],
            opts=self._child,
        )

    def _target_group(self, name: str, service: str) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{self._args.prefix}-{name}",
            port=SERVICE_PORTS[service],
            protocol="HTTP",
            protocol_version="GRPC",
            target_type="ip",
            vpc_id=self._args.vpc_id,
            deregistration_delay=30,
            health_check={
                "enabled": True,
                "protocol": "HTTP",
                "path": HEALTH_PATH,
                # gRPC status OK; a server going down reports NOT_SERVING, which is not 0.
                "matcher": "0",
                "interval": 10,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
            opts=self._child,
        )

    def _service(
        self,
        name: str,
        service: str,
        size: ServiceSize,
        environment: pulumi.Output[dict[str, str]],
        subnets: Sequence[pulumi.Input[str]],
        security_group: aws.ec2.SecurityGroup,
        *,
        target_group: aws.lb.TargetGroup | None = None,
        registry_arn: pulumi.Input[str] | None = None,
    ) -> None:
        args = self._args
        port = SERVICE_PORTS[service]
        image = self.repositories[service].repository_url.apply(
            lambda url: f"{url}:{args.image_tag}"
        )
        containers = pulumi.Output.all(
            image, environment, self.log_groups[service].name, args.region
        ).apply(
            lambda v: json.dumps(
                [
                    {
                        "name": service,
                        "image": v[0],
                        "essential": True,
                        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
                        "environment": [
                            {"name": k, "value": val} for k, val in sorted(v[1].items())
                        ],
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
        task = aws.ecs.TaskDefinition(
            f"{args.prefix}-{name}",
            family=f"{args.prefix}-{name}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(size.cpu),
            memory=str(size.memory),
            execution_role_arn=self.execution_role.role.arn,
            task_role_arn=self.task_roles[name].role.arn,
            container_definitions=containers,
            volumes=[{"name": "tmp"}],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            opts=self._child,
        )
        ecs_service = aws.ecs.Service(
            f"{args.prefix}-{name}",
            cluster=self.cluster.arn,
            task_definition=task.arn,
            launch_type="FARGATE",
            desired_count=size.min_tasks,
            network_configuration={
                "subnets": list(subnets),
                "security_groups": [security_group.id],
                "assign_public_ip": False,
            },
            load_balancers=(
                [
                    {
                        "target_group_arn": target_group.arn,
                        "container_name": service,
                        "container_port": port,
                    }
                ]
                if target_group is not None
                else []
            ),
            service_registries={"registry_arn": registry_arn} if registry_arn is not None else None,
            health_check_grace_period_seconds=60 if target_group is not None else None,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            propagate_tags="SERVICE",
            # The scaling policies own the task count once the service exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"]),
        )
        self.services[name] = ecs_service
        resource_id = pulumi.Output.all(self.cluster.name, ecs_service.name).apply(
            lambda v: f"service/{v[0]}/{v[1]}"
        )
        target = aws.appautoscaling.Target(
            f"{args.prefix}-{name}",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=resource_id,
            min_capacity=size.min_tasks,
            max_capacity=size.max_tasks,
            opts=self._child,
        )
        aws.appautoscaling.Policy(
            f"{args.prefix}-{name}-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": size.cpu_target,
                "predefined_metric_specification": {
                    "predefined_metric_type": "ECSServiceAverageCPUUtilization"
                },
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 60,
            },
            opts=self._child,
        )
        self._targets[name] = target

    def _rebuild_backlog_scaling(self, args: ServiceFleetArgs) -> None:
        """Rebuild scales on manifests waiting per running task, not only on CPU."""
        target = self._targets["rebuild"]
        aws.appautoscaling.Policy(
            f"{args.prefix}-rebuild-backlog",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": args.backlog_per_task,
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
                                    "dimensions": [{"name": "QueueName", "value": args.queue_name}],
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
                                        {"name": "ClusterName", "value": self.cluster.name},
                                        {
                                            "name": "ServiceName",
                                            "value": self.services["rebuild"].name,
                                        },
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
            },
            opts=self._child,
        )


def _ingest_policy(zone: str, values: list[Any]) -> dict[str, Any]:
    patterns, registry_arn, verdict_arn, queue_arn, key_arn = values
    return ingest_policy(
        stream_pattern=patterns[zone],
        registry_table_arn=registry_arn,
        verdict_table_arn=verdict_arn,
        queue_arn=queue_arn,
        key_arn=key_arn,
    )


def _ingest_env(zone: str, common: dict[str, str]) -> dict[str, str]:
    return {
        **common,
        "AUDIOVAL_AVAILABILITY_ZONE": zone,
        "AUDIOVAL_INGEST_HOST": "0.0.0.0",
        "AUDIOVAL_INGEST_PORT": str(SERVICE_PORTS["ingest"]),
        # TLS ends at the balancer; only its security group reaches this port.
        "AUDIOVAL_INGEST_ALLOW_INSECURE_NON_LOOPBACK": "true",
    }
