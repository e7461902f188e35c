"""The fleet is a composition of one component per concept, read from the URNs the program
registers under Pulumi's mocks (a URN's type is its ancestors' types joined by ``$``).

The properties of what those components create are checked in test_stack_mocks.py; here, that
each concept owns its resources: the cluster, the balancer, the task network, and one
``FleetService`` per service (ingest per zone) holding that service's role, task definition,
ECS service and scaling.
"""

from __future__ import annotations

from collections import Counter

import pulumi
import pytest

from audioval_infra.config import StackConfig
from audioval_infra.mocks import run_stack

FLEET = "audioval:fleet:ServiceFleet"
SERVICE = "audioval:fleet:FleetService"
ROLE = "audioval:iam:ServiceRole"

# (parent type, own type, name) of every resource a run registered.
Node = tuple[str | None, str, str]


@pytest.fixture(scope="module", params=("dev", "prod"))
def registered(request: pytest.FixtureRequest) -> tuple[StackConfig, list[Node]]:
    run = run_stack(str(request.param))
    monitor = pulumi.runtime.settings.get_monitor()
    nodes = []
    for urn in monitor.get_registered_resources():
        _, _, qualified, name = urn.split("::", 3)
        *ancestors, own = qualified.split("$")
        nodes.append((ancestors[-1] if ancestors else None, own, name))
    return StackConfig.from_mapping(run.stack, run.config), nodes


def _children(nodes: list[Node], parent: str) -> Counter[str]:
    return Counter(own for p, own, _ in nodes if p == parent)


def test_the_fleet_is_only_its_components(registered: tuple[StackConfig, list[Node]]) -> None:
    cfg, nodes = registered
    assert _children(nodes, FLEET) == {
        "audioval:fleet:FleetCluster": 1,
        "audioval:fleet:GrpcBalancer": 1,
        "audioval:fleet:FleetNetwork": 1,
        SERVICE: len(cfg.zones) + 2,
    }


def test_cluster_balancer_and_network_own_their_resources(
    registered: tuple[StackConfig, list[Node]],
) -> None:
    cfg, nodes = registered
    assert _children(nodes, "audioval:fleet:FleetCluster") == {
        "aws:ecr/repository:Repository": 3,
        "aws:cloudwatch/logGroup:LogGroup": 3,
        "aws:ecs/cluster:Cluster": 1,
        ROLE: 1,  # the task-execution role
    }
    assert _children(nodes, "audioval:fleet:GrpcBalancer") == {
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:lb/loadBalancer:LoadBalancer": 1,
        "aws:lb/listener:Listener": 1,
        "aws:lb/targetGroup:TargetGroup": len(cfg.zones) + 1,  # ingest per zone + classify
        "aws:lb/listenerRule:ListenerRule": 2,  # by gRPC service path
    }
    assert _children(nodes, "audioval:fleet:FleetNetwork") == {
        "aws:ec2/securityGroup:SecurityGroup": 3,  # one per service
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": 1,
        "aws:servicediscovery/service:Service": 1,  # classify, for rebuild
    }


def test_each_service_and_each_zones_ingest_has_its_own_component_with_its_resources(
    registered: tuple[StackConfig, list[Node]],
) -> None:
    cfg, nodes = registered
    keys = [f"ingest-{zone}" for zone in cfg.zones] + ["rebuild", "classify"]
    components = sorted(name for _, own, name in nodes if own == SERVICE)
    assert components == sorted(f"{cfg.prefix}-{key}" for key in keys)

    owned = {(own, name) for parent, own, name in nodes if parent == SERVICE}
    expected = set()
    for key in keys:
        name = f"{cfg.prefix}-{key}"
        expected |= {
            (ROLE, f"{cfg.prefix}-fleet-{key}"),
            ("aws:ecs/taskDefinition:TaskDefinition", name),
            ("aws:ecs/service:Service", name),
            ("aws:appautoscaling/target:Target", name),
            ("aws:appautoscaling/policy:Policy", f"{name}-cpu"),
        }
    # Rebuild alone also scales on the manifests waiting per task.
    expected.add(("aws:appautoscaling/policy:Policy", f"{cfg.prefix}-rebuild-backlog"))
    assert owned == expected
    roles = {name for parent, own, name in nodes if parent == ROLE and own == "aws:iam/role:Role"}
    assert {f"{cfg.prefix}-fleet-{key}" for key in keys} <= roles
