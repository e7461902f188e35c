"""Who may reach each service's port, and the private DNS name rebuild finds classify by.

Ingest's and classify's ports admit the balancer's security group (classify's also rebuild's);
rebuild's admits nothing, its health port being checked from inside the task. Every task may
call AWS APIs over HTTPS and classify over gRPC inside the VPC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from audioval_infra.fleet_balancer import HTTPS_PORT
from audioval_infra.fleet_service import SERVICE_PORTS, children_options

__all__ = ["FleetNetwork", "FleetNetworkArgs"]


@dataclass
class FleetNetworkArgs:
    """The VPC the tasks run in and the balancer's security group.

    ``moved_from``: see :func:`audioval_infra.fleet_service.children_options`.
    """

    prefix: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    balancer_security_group_id: pulumi.Input[str]
    moved_from: pulumi.Resource | None = None


class FleetNetwork(pulumi.ComponentResource):
    """A security group per service and a private DNS namespace with classify registered."""

    security_groups: dict[str, aws.ec2.SecurityGroup]
    classify_registry_arn: pulumi.Output[str]
    classify_address: pulumi.Output[str]

    def __init__(
        self, name: str, args: FleetNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:FleetNetwork", name, None, opts)
        self._args = args
        self._child = child = children_options(self, args.moved_from)
        rebuild = self._task_sg("rebuild", [])
        self.security_groups = {
            "rebuild": rebuild,
            "ingest": self._task_sg("ingest", [args.balancer_security_group_id]),
            "classify": self._task_sg("classify", [args.balancer_security_group_id, rebuild.id]),
        }
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            name, name=f"{args.prefix}.internal", vpc=args.vpc_id, opts=child
        )
        classify = aws.servicediscovery.Service(
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
        self.classify_registry_arn = classify.arn
        self.classify_address = pulumi.Output.concat(
            "classify.", namespace.name, f":{SERVICE_PORTS['classify']}"
        )
        self.register_outputs({"classifyAddress": self.classify_address})

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
