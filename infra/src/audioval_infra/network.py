"""A VPC with one public and one private subnet per zone, NAT egress and free gateway endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

__all__ = ["Network", "NetworkArgs", "subnet_cidrs"]


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private subnet CIDRs: the VPC cut in 16 equal blocks, privates first.

    Private subnets hold the services, the load balancer and EMR; public ones only NAT.
    """
    blocks = [str(b) for b in ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4)]
    if 2 * zones > len(blocks):
        raise ValueError(f"{vpc_cidr} is too small for {zones} zones")
    return blocks[8 : 8 + zones], blocks[:zones]


@dataclass
class NetworkArgs:
    """``nat_per_zone`` trades one NAT gateway's cost for surviving a zone's loss."""

    cidr: str
    zones: Sequence[str]
    nat_per_zone: bool = False


class Network(pulumi.ComponentResource):
    """The VPC; ``private_subnets`` maps each zone to its private subnet."""

    vpc: aws.ec2.Vpc
    private_subnets: dict[str, aws.ec2.Subnet]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("audioval:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            opts=child,
        )
        public_cidrs, private_cidrs = subnet_cidrs(args.cidr, len(args.zones))
        self.private_subnets = {}
        nats: list[aws.ec2.NatGateway] = []
        private_tables: list[aws.ec2.RouteTable] = []
        for index, zone in enumerate(args.zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=zone,
                tags={"Name": f"{name}-public-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            if args.nat_per_zone or index == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        opts=child,
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidrs[index],
                availability_zone=zone,
                # EMR's v2 managed service policy acts only on subnets carrying this tag.
                tags={
                    "Name": f"{name}-private-{zone}",
                    "for-use-with-amazon-emr-managed-policies": "true",
                },
                opts=child,
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[-1].id}],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private.id, route_table_id=table.id, opts=child
            )
            private_tables.append(table)
            self.private_subnets[zone] = private
        region = aws.get_region_output().region
        for service in ("s3", "dynamodb"):
            # Gateway endpoints cost nothing and keep this traffic off the NAT gateways.
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=pulumi.Output.concat("com.amazonaws.", region, f".{service}"),
                vpc_endpoint_type="Gateway",
                route_table_ids=[t.id for t in private_tables],
                opts=child,
            )
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "private_subnet_ids": [s.id for s in self.private_subnets.values()],
            }
        )
