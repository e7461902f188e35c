"""The service fleet: ingest (one ECS service per zone), rebuild and classify on Fargate.

An internal Application Load Balancer terminates TLS and speaks gRPC to the tasks: requests to
``/audioval.v1.IngestService/*`` go to the ingest target groups (one per zone, equal weights),
``/audioval.v1.ClassifyService/*`` to classify; target health is ``grpc.health.v1.Health/Check``
(gRPC status 0). Rebuild takes no traffic from the balancer: it reaches classify through a
private DNS name. Each service's port admits only the balancer (and rebuild, for classify).

``ServiceFleet`` composes one component per concept and decides what is audioval's own: each
service's environment and task-role policy, and which service sits behind which route.

=================  ====================================================================
component          holds
=================  ====================================================================
``FleetCluster``   ECR repositories, log groups, the ECS cluster, the execution role
``GrpcBalancer``   the internal ALB, its security group, listener, target groups, rules
``FleetNetwork``   each service's security group, the private DNS name of classify
``FleetService``   one per service (ingest per zone): task role, task definition, ECS
                   service, its scaling (rebuild's on the manifest backlog too)
=================  ====================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from audioval_infra.config import ServiceSize
from audioval_infra.fleet_balancer import GrpcBalancer, GrpcBalancerArgs
from audioval_infra.fleet_cluster import FleetCluster, FleetClusterArgs
from audioval_infra.fleet_network import FleetNetwork, FleetNetworkArgs
from audioval_infra.fleet_service import (
    SERVICE_PORTS,
    FleetService,
    FleetServiceArgs,
    QueueBacklog,
)
from audioval_infra.iam import classify_policy, ingest_policy, rebuild_policy, stream_arn_pattern

__all__ = ["SERVICE_PORTS", "ServiceFleet", "ServiceFleetArgs"]


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
    # Where rebuild holds the bytes of tracks judged `review`.
    quarantine_bucket_name: pulumi.Input[str]
    quarantine_bucket_arn: pulumi.Input[str]
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
    cluster: FleetCluster
    balancer: GrpcBalancer
    network: FleetNetwork
    services: dict[str, FleetService]

    def __init__(
        self, name: str, args: ServiceFleetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:ServiceFleet", name, None, opts)
        if not args.certificate_arn:
            raise ValueError("certificateArn is required: the balancer speaks gRPC over TLS")
        if not args.client_cidrs:
            raise ValueError("clientCidrs must name who may call the services")
        self._args = args
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        subnet_ids = [args.subnets[z] for z in args.zones]

        self.cluster = FleetCluster(
            name,
            FleetClusterArgs(
                prefix=args.prefix,
                services=tuple(SERVICE_PORTS),
                key_arn=args.key_arn,
                log_retention_days=args.log_retention_days,
                moved_from=self,
            ),
            opts=child,
        )
        self.repositories = self.cluster.repositories
        self.balancer = GrpcBalancer(
            name,
            GrpcBalancerArgs(
                prefix=args.prefix,
                zones=args.zones,
                vpc_id=args.vpc_id,
                vpc_cidr=args.vpc_cidr,
                subnet_ids=subnet_ids,
                client_cidrs=args.client_cidrs,
                certificate_arn=args.certificate_arn,
                moved_from=self,
            ),
            opts=child,
        )
        self.network = FleetNetwork(
            name,
            FleetNetworkArgs(
                prefix=args.prefix,
                vpc_id=args.vpc_id,
                vpc_cidr=args.vpc_cidr,
                balancer_security_group_id=self.balancer.security_group.id,
                moved_from=self,
            ),
            opts=child,
        )
        self.services = {}
        self._add_services(args, subnet_ids)

        self.endpoint = self.balancer.endpoint
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "cluster": self.cluster.cluster.name,
                "repositories": {k: r.repository_url for k, r in self.repositories.items()},
            }
        )

    def _add_services(self, args: ServiceFleetArgs, subnet_ids: list[pulumi.Input[str]]) -> None:
        """Ingest in each zone, classify and rebuild: what each is told and allowed."""
        patterns = pulumi.Output.all(args.region, args.account_id).apply(
            lambda ra: {
                zone: stream_arn_pattern(ra[0], ra[1], args.stream_name_prefix, zone)
                for zone in args.zones
            }
        )
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

        for zone in args.zones:
            self._service(
                f"ingest-{zone}",
                "ingest",
                args.ingest,
                environment=pipeline_env.apply(functools.partial(_ingest_env, zone)),
                policy=pulumi.Output.all(
                    patterns,
                    args.registry_table_arn,
                    args.verdict_table_arn,
                    args.queue_arn,
                    args.key_arn,
                ).apply(functools.partial(_ingest_policy, zone)),
                role_description=f"ingest in {zone}",
                subnets=[args.subnets[zone]],
                target_group_arn=self.balancer.ingest_groups[zone].arn,
            )
        self._service(
            "classify",
            "classify",
            args.classify,
            environment=pipeline_env.apply(
                lambda common: {
                    **common,
                    "AUDIOVAL_CLASSIFY_HOST": "0.0.0.0",
                    "AUDIOVAL_CLASSIFY_PORT": str(SERVICE_PORTS["classify"]),
                    "AUDIOVAL_CLASSIFY_ALLOW_INSECURE_NON_LOOPBACK": "true",
                    "AUDIOVAL_CLASSIFY_STORE": "dynamodb",
                    "AUDIOVAL_CLASSIFY_VALIDATOR_WORKERS": str(max(1, args.classify.cpu // 1024)),
                }
            ),
            policy=pulumi.Output.all(args.verdict_table_arn, args.key_arn).apply(
                lambda v: classify_policy(verdict_table_arn=v[0], key_arn=v[1])
            ),
            role_description="classify service",
            subnets=subnet_ids,
            target_group_arn=self.balancer.classify_group.arn,
            registry_arn=self.network.classify_registry_arn,
        )
        self._service(
            "rebuild",
            "rebuild",
            args.rebuild,
            environment=pulumi.Output.all(
                pipeline_env, self.network.classify_address, args.quarantine_bucket_name
            ).apply(
                lambda v: {
                    **v[0],
                    "AUDIOVAL_QUARANTINE_BUCKET": v[2],
                    # Health only, checked from inside the task: loopback is enough.
                    "AUDIOVAL_REBUILD_PORT": str(SERVICE_PORTS["rebuild"]),
                    "AUDIOVAL_REBUILD_CLASSIFY_ADDRESS": v[1],
                    "AUDIOVAL_REBUILD_VISIBILITY_TIMEOUT_S": str(args.visibility_timeout_s),
                }
            ),
            policy=pulumi.Output.all(
                patterns,
                args.verdict_table_arn,
                args.queue_arn,
                args.dead_letter_queue_arn,
                args.key_arn,
                args.quarantine_bucket_arn,
            ).apply(
                lambda v: rebuild_policy(
                    stream_patterns=[v[0][z] for z in args.zones],
                    verdict_table_arn=v[1],
                    queue_arn=v[2],
                    dlq_arn=v[3],
                    key_arn=v[4],
                    quarantine_bucket_arn=v[5],
                )
            ),
            role_description="rebuild worker",
            subnets=subnet_ids,
            # Rebuild scales on manifests waiting per running task, not only on CPU.
            backlog=QueueBacklog(args.queue_name, args.backlog_per_task),
        )

    def _service(
        self,
        key: str,
        service: str,
        size: ServiceSize,
        *,
        environment: pulumi.Output[dict[str, str]],
        policy: pulumi.Output[dict[str, Any]],
        role_description: str,
        subnets: Sequence[pulumi.Input[str]],
        target_group_arn: pulumi.Input[str] | None = None,
        registry_arn: pulumi.Input[str] | None = None,
        backlog: QueueBacklog | None = None,
    ) -> None:
        """``services[key]``: ``service``'s image and log group, its role named for ``key``."""
        args = self._args
        tag = args.image_tag
        self.services[key] = FleetService(
            f"{args.prefix}-{key}",
            FleetServiceArgs(
                service=service,
                size=size,
                image=self.repositories[service].repository_url.apply(lambda url: f"{url}:{tag}"),
                environment=environment,
                region=args.region,
                log_group_name=self.cluster.log_groups[service].name,
                cluster_arn=self.cluster.cluster.arn,
                cluster_name=self.cluster.cluster.name,
                execution_role_arn=self.cluster.execution_role.role.arn,
                role_name=f"{self._name}-{key}",
                task_policy=policy,
                role_description=role_description,
                subnets=subnets,
                security_group_id=self.network.security_groups[service].id,
                target_group_arn=target_group_arn,
                registry_arn=registry_arn,
                backlog=backlog,
                moved_from=self,
            ),
            opts=pulumi.ResourceOptions(parent=self),
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
