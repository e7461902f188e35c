"""The stack's configuration: typed, validated, read once from ``pulumi.Config("audioval")``.

``StackConfig.from_mapping`` is pure (a dict of the stack file's values in, a config out) so
the tests and ``__main__`` read the committed ``Pulumi.<stack>.yaml`` through the same code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EmrConfig", "ServiceSize", "StackConfig", "load_config"]


@dataclass(frozen=True)
class ServiceSize:
    """Fargate size and task counts of one service (per zone for ingest)."""

    cpu: int = 512
    memory: int = 1024
    min_tasks: int = 1
    max_tasks: int = 4
    # Target tracking: keep the service's average CPU near this percentage.
    cpu_target: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.min_tasks <= self.max_tasks:
            raise ValueError("need 0 < min_tasks <= max_tasks")


@dataclass(frozen=True)
class EmrConfig:
    """The Ray-on-EMR cluster."""

    release_label: str = "emr-7.9.0"
    master_instance_type: str = "m6i.xlarge"
    core_instance_type: str = "m6i.2xlarge"
    core_instances: int = 2
    # Managed scaling limits, in instances.
    min_instances: int = 2
    max_instances: int = 6
    ebs_gb: int = 64
    # Shut the cluster down after this long without work (None: keep it).
    idle_timeout_s: int | None = 3600


def _cidrs(values: Any, what: str) -> tuple[str, ...]:
    out = []
    for value in values or ():
        network = ipaddress.ip_network(str(value), strict=True)
        if network.prefixlen == 0:
            # The dashboard and the service ports are never open to the whole internet.
            raise ValueError(f"{what} must not contain {value}")
        out.append(str(network))
    return tuple(out)


@dataclass(frozen=True)
class StackConfig:
    """Everything a stack can set; see ``Pulumi.dev.yaml`` / ``Pulumi.prod.yaml``."""

    stack: str
    zones: tuple[str, ...]
    vpc_cidr: str = "10.40.0.0/16"
    nat_gateway_per_zone: bool = False
    baseline_streams_per_zone: int = 2
    max_streams_per_zone: int = 6
    shards_per_stream: int = 1
    stream_retention_hours: int = 24
    max_receive_count: int = 5
    visibility_timeout_s: int = 60
    certificate_arn: str = ""
    client_cidrs: tuple[str, ...] = ()
    operator_cidrs: tuple[str, ...] = ()
    image_tag: str = "latest"
    # Wheels the Ray bootstrap installs, relative to the Pulumi project directory (infra/).
    wheels_dir: str = "../dist"
    log_retention_days: int = 30
    uploads_expire_days: int = 30
    # Bytes of tracks held for review (the console's player) expire after this many days.
    quarantine_expire_days: int = 30
    results_infrequent_access_days: int = 90
    autoscaler_schedule: str = "rate(1 minute)"
    autoscaler_policy: Mapping[str, float] = field(default_factory=dict)
    ingest: ServiceSize = field(default_factory=ServiceSize)
    rebuild: ServiceSize = field(default_factory=ServiceSize)
    classify: ServiceSize = field(default_factory=lambda: ServiceSize(cpu=2048, memory=4096))
    emr: EmrConfig = field(default_factory=EmrConfig)

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("zones must name at least one availability zone")
        if len(set(self.zones)) != len(self.zones):
            raise ValueError("zones must be distinct")
        if not 1 <= self.baseline_streams_per_zone <= self.max_streams_per_zone:
            raise ValueError("need 1 <= baselineStreamsPerZone <= maxStreamsPerZone")
        if not 24 <= self.stream_retention_hours <= 8760:
            raise ValueError("streamRetentionHours must be within Kinesis' 24..8760")
        if self.max_receive_count < 1:
            raise ValueError("maxReceiveCount must be >= 1")

    @property
    def prefix(self) -> str:
        """Every physical name starts with this, so stacks can share an account."""
        return f"audioval-{self.stack}"

    @property
    def stream_name_prefix(self) -> str:
        return f"{self.prefix}-chunks"

    @property
    def registry_table_name(self) -> str:
        return f"{self.prefix}-stream-registry"

    @property
    def verdict_table_name(self) -> str:
        return f"{self.prefix}-verdicts"

    @property
    def manifest_queue_name(self) -> str:
        return f"{self.prefix}-manifests.fifo"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.prefix}-manifests-dlq.fifo"

    @classmethod
    def from_mapping(cls, stack: str, values: Mapping[str, Any]) -> StackConfig:
        """Build from the stack file's ``audioval:*`` values (keys without the namespace)."""
        known = {
            "zones",
            "vpcCidr",
            "natGatewayPerZone",
            "baselineStreamsPerZone",
            "maxStreamsPerZone",
            "shardsPerStream",
            "streamRetentionHours",
            "maxReceiveCount",
            "visibilityTimeoutSeconds",
            "certificateArn",
            "clientCidrs",
            "operatorCidrs",
            "imageTag",
            "wheelsDir",
            "logRetentionDays",
            "uploadsExpireDays",
            "resultsInfrequentAccessDays",
            "autoscaler",
            "services",
            "emr",
        }
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        services = dict(values.get("services") or {})
        autoscaler = dict(values.get("autoscaler") or {})
        emr = dict(values.get("emr") or {})
        defaults = cls(stack=stack, zones=("x",))
        return cls(
            stack=stack,
            zones=tuple(str(z) for z in values.get("zones") or ()),
            vpc_cidr=str(ipaddress.ip_network(values.get("vpcCidr", defaults.vpc_cidr))),
            nat_gateway_per_zone=bool(values.get("natGatewayPerZone", False)),
            baseline_streams_per_zone=int(values.get("baselineStreamsPerZone", 2)),
            max_streams_per_zone=int(values.get("maxStreamsPerZone", 6)),
            shards_per_stream=int(values.get("shardsPerStream", 1)),
            stream_retention_hours=int(values.get("streamRetentionHours", 24)),
            max_receive_count=int(values.get("maxReceiveCount", 5)),
            visibility_timeout_s=int(values.get("visibilityTimeoutSeconds", 60)),
            certificate_arn=str(values.get("certificateArn", "")),
            client_cidrs=_cidrs(values.get("clientCidrs"), "clientCidrs"),
            operator_cidrs=_cidrs(values.get("operatorCidrs"), "operatorCidrs"),
            image_tag=str(values.get("imageTag", "latest")),
            wheels_dir=str(values.get("wheelsDir", "../dist")),
            log_retention_days=int(values.get("logRetentionDays", 30)),
            uploads_expire_days=int(values.get("uploadsExpireDays", 30)),
            quarantine_expire_days=int(values.get("quarantineExpireDays", 30)),
            results_infrequent_access_days=int(values.get("resultsInfrequentAccessDays", 90)),
            autoscaler_schedule=str(autoscaler.pop("schedule", defaults.autoscaler_schedule)),
            autoscaler_policy={str(k): float(v) for k, v in autoscaler.items()},
            ingest=_size(services.get("ingest"), defaults.ingest),
            rebuild=_size(services.get("rebuild"), defaults.rebuild),
            classify=_size(services.get("classify"), defaults.classify),
            emr=_emr(emr),
        )


_SIZE_KEYS = {
    "cpu": "cpu",
    "memory": "memory",
    "minTasks": "min_tasks",
    "maxTasks": "max_tasks",
    "cpuTarget": "cpu_target",
}
_EMR_KEYS = {
    "releaseLabel": "release_label",
    "masterInstanceType": "master_instance_type",
    "coreInstanceType": "core_instance_type",
    "coreInstances": "core_instances",
    "minInstances": "min_instances",
    "maxInstances": "max_instances",
    "ebsGb": "ebs_gb",
    "idleTimeoutSeconds": "idle_timeout_s",
}


def _renamed(
    values: Mapping[str, Any] | None, keys: Mapping[str, str], what: str
) -> dict[str, Any]:
    values = dict(values or {})
    unknown = set(values) - set(keys)
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return {keys[k]: v for k, v in values.items()}


def _size(values: Mapping[str, Any] | None, default: ServiceSize) -> ServiceSize:
    merged = {**default.__dict__, **_renamed(values, _SIZE_KEYS, "service size")}
    return ServiceSize(**merged)


def _emr(values: Mapping[str, Any]) -> EmrConfig:
    return EmrConfig(**_renamed(values, _EMR_KEYS, "emr"))


def load_config() -> StackConfig:
    """The running stack's config (``pulumi.Config("audioval")``), validated."""
    import pulumi

    config = pulumi.Config("audioval")
    values: dict[str, Any] = {}
    for key in (
        "zones",
        "clientCidrs",
        "operatorCidrs",
        "autoscaler",
        "services",
        "emr",
    ):
        value = config.get_object(key)
        if value is not None:
            values[key] = value
    for key in (
        "vpcCidr",
        "certificateArn",
        "imageTag",
        "wheelsDir",
    ):
        text = config.get(key)
        if text is not None:
            values[key] = text
    for key in (
        "baselineStreamsPerZone",
        "maxStreamsPerZone",
        "shardsPerStream",
        "streamRetentionHours",
        "maxReceiveCount",
        "visibilityTimeoutSeconds",
        "logRetentionDays",
        "uploadsExpireDays",
        "resultsInfrequentAccessDays",
    ):
        number = config.get_int(key)
        if number is not None:
            values[key] = number
    flag = config.get_bool("natGatewayPerZone")
    if flag is not None:
        values["natGatewayPerZone"] = flag
    return StackConfig.from_mapping(pulumi.get_stack(), values)
