"""audioval infrastructure as Pulumi components (one per concept, each with a typed args class)."""

from audioval_infra.autoscaler import StreamSetAutoscaler, StreamSetAutoscalerArgs
from audioval_infra.buckets import EncryptedBucket, EncryptedBucketArgs
from audioval_infra.config import EmrConfig, ServiceSize, StackConfig
from audioval_infra.emr import RayEmrCluster, RayEmrClusterArgs
from audioval_infra.encryption import StackKey, StackKeyArgs
from audioval_infra.fleet import ServiceFleet, ServiceFleetArgs
from audioval_infra.iam import ServiceRole, ServiceRoleArgs
from audioval_infra.network import Network, NetworkArgs
from audioval_infra.queue import ManifestQueue, ManifestQueueArgs
from audioval_infra.streams import StreamRegistry, StreamRegistryArgs, StreamSet, StreamSetArgs
from audioval_infra.verdicts import VerdictTable, VerdictTableArgs

__all__ = [
    "EmrConfig",
    "EncryptedBucket",
    "EncryptedBucketArgs",
    "ManifestQueue",
    "ManifestQueueArgs",
    "Network",
    "NetworkArgs",
    "RayEmrCluster",
    "RayEmrClusterArgs",
    "ServiceFleet",
    "ServiceFleetArgs",
    "ServiceRole",
    "ServiceRoleArgs",
    "ServiceSize",
    "StackConfig",
    "StackKey",
    "StackKeyArgs",
    "StreamRegistry",
    "StreamRegistryArgs",
    "StreamSet",
    "StreamSetArgs",
    "StreamSetAutoscaler",
    "StreamSetAutoscalerArgs",
    "VerdictTable",
    "VerdictTableArgs",
]
