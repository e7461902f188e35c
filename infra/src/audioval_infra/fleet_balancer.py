"""The fleet's internal gRPC load balancer: TLS on 443, routing by gRPC service path.

Requests to ``/audioval.v1.IngestService/*`` go to the ingest target groups (one per zone, equal
weights), ``/audioval.v1.ClassifyService/*`` to classify's; anything else gets a 404. Target
health is ``grpc.health.v1.Health/Check`` answering gRPC status 0 (SERVING), so a task that
turns NOT_SERVING on shutdown is drained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from audioval_infra.fleet_service import SERVICE_PORTS, children_options

__all__ = ["HEALTH_PATH", "HTTPS_PORT", "GrpcBalancer", "GrpcBalancerArgs"]

HEALTH_PATH = "/grpc.health.v1.Health/Check"
HTTPS_PORT = 443


@dataclass
class GrpcBalancerArgs:
    """Where the balancer runs, who may call it, and the certificate it presents.

    ``zones`` get an ingest target group each. ``moved_from``: see
    :func:`audioval_infra.fleet_service.children_options`.
    """

    prefix: str
    zones: Sequence[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    client_cidrs: Sequence[str]
    certificate_arn: str
    moved_from: pulumi.Resource | None = None


class GrpcBalancer(pulumi.ComponentResource):
    """An internal ALB, its security group, the HTTPS listener, target groups and path rules."""

    security_group: aws.ec2.SecurityGroup
    balancer: aws.lb.LoadBalancer
    listener: aws.lb.Listener
    ingest_groups: dict[str, aws.lb.TargetGroup]
    classify_group: aws.lb.TargetGroup
    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: GrpcBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:fleet:GrpcBalancer", name, None, opts)
        self._args = args
        self._child = child = children_options(self, args.moved_from)
        self.security_group = aws.ec2.SecurityGroup(
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
        self.balancer = aws.lb.LoadBalancer(
            name,
            internal=True,
            load_balancer_type="application",
            security_groups=[self.security_group.id],
            subnets=list(args.subnet_ids),
            drop_invalid_header_fields=True,
            opts=child,
        )
        self.ingest_groups = {
            zone: self._target_group(f"ingest-{zone}", "ingest") for zone in args.zones
        }
        self.classify_group = self._target_group("classify", "classify")
        self.listener = aws.lb.Listener(
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
            listener_arn=self.listener.arn,
            priority=10,
            conditions=[{"path_pattern": {"values": ["/audioval.v1.IngestService/*"]}}],
            actions=[
                {
                    "type": "forward",
                    "forward": {
                        "target_groups": [
                            {"arn": g.arn, "weight": 1} for g in self.ingest_groups.values()
                        ]
                    },
                }
            ],
            opts=child,
        )
        aws.lb.ListenerRule(
            f"{name}-classify",
            listener_arn=self.listener.arn,
            priority=20,
            conditions=[{"path_pattern": {"values": ["/audioval.v1.ClassifyService/*"]}}],
            actions=[{"type": "forward", "target_group_arn": self.classify_group.arn}],
            opts=child,
        )
        self.endpoint = self.balancer.dns_name.apply(lambda dns: f"{dns}:{HTTPS_PORT}")
        self.register_outputs({"endpoint": self.endpoint})

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
