"""Wire the components of one stack from its config; returns the stack outputs."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from audioval_infra.autoscaler import StreamSetAutoscaler, StreamSetAutoscalerArgs
from audioval_infra.buckets import EncryptedBucket, EncryptedBucketArgs
from audioval_infra.config import StackConfig
from audioval_infra.emr import RayEmrCluster, RayEmrClusterArgs
from audioval_infra.encryption import StackKey, StackKeyArgs
from audioval_infra.fleet import ServiceFleet, ServiceFleetArgs
from audioval_infra.network import Network, NetworkArgs
from audioval_infra.queue import ManifestQueue, ManifestQueueArgs
from audioval_infra.streams import StreamRegistry, StreamRegistryArgs, StreamSet, StreamSetArgs
from audioval_infra.verdicts import VerdictTable, VerdictTableArgs

__all__ = ["PROJECT_DIR", "build_stack"]

# The Pulumi project directory (infra/): relative paths in the config start here.
PROJECT_DIR = Path(__file__).resolve().parents[2]


def build_stack(cfg: StackConfig) -> dict[str, pulumi.Input[object]]:
    """Create every component of the stack ``cfg`` describes; returns its outputs by name."""
    region = aws.get_region_output().region
    account_id = aws.get_caller_identity_output().account_id
    prefix = cfg.prefix

    key = StackKey(prefix, StackKeyArgs(alias=prefix))
    network = Network(
        prefix,
        NetworkArgs(cidr=cfg.vpc_cidr, zones=cfg.zones, nat_per_zone=cfg.nat_gateway_per_zone),
    )

    registry = StreamRegistry(
        f"{prefix}-registry",
        StreamRegistryArgs(table_name=cfg.registry_table_name, key_arn=key.arn),
    )
    stream_sets = {
        zone: StreamSet(
            f"{prefix}-streams-{zone}",
            StreamSetArgs(
                zone=zone,
                name_prefix=cfg.stream_name_prefix,
                baseline_streams=cfg.baseline_streams_per_zone,
                shards_per_stream=cfg.shards_per_stream,
                retention_hours=cfg.stream_retention_hours,
                key_arn=key.arn,
                registry_table=registry.table.name,
            ),
        )
        for zone in cfg.zones
    }
    queue = ManifestQueue(
        f"{prefix}-manifests",
        ManifestQueueArgs(
            queue_name=cfg.manifest_queue_name,
            dead_letter_queue_name=cfg.dead_letter_queue_name,
            key_arn=key.arn,
            max_receive_count=cfg.max_receive_count,
            visibility_timeout_s=cfg.visibility_timeout_s,
        ),
    )
    verdicts = VerdictTable(
        f"{prefix}-verdicts", VerdictTableArgs(table_name=cfg.verdict_table_name, key_arn=key.arn)
    )
    autoscaler = StreamSetAutoscaler(
        f"{prefix}-stream-autoscaler",
        StreamSetAutoscalerArgs(
            zones=cfg.zones,
            stream_name_prefix=cfg.stream_name_prefix,
            registry_table_name=registry.table.name,
            registry_table_arn=registry.table.arn,
            manifest_queue_name=queue.queue.name,
            key_arn=key.arn,
            region=region,
            account_id=account_id,
            policy={
                "max_streams": cfg.max_streams_per_zone,
                "shards_per_stream": cfg.shards_per_stream,
                "retention_s": cfg.stream_retention_hours * 3600,
                **cfg.autoscaler_policy,
            },
            schedule=cfg.autoscaler_schedule,
            log_retention_days=cfg.log_retention_days,
            tags={"audioval:stack": cfg.stack},
        ),
    )

    uploads = EncryptedBucket(
        f"{prefix}-uploads",
        EncryptedBucketArgs("uploads", key.arn, expire_days=cfg.uploads_expire_days),
    )
    results = EncryptedBucket(
        f"{prefix}-results",
        EncryptedBucketArgs(
            "results",
            key.arn,
            infrequent_access_days=cfg.results_infrequent_access_days,
            versioned=True,
        ),
    )
    # The bytes of tracks judged `review`, written by rebuild for the review console.
    quarantine = EncryptedBucket(
        f"{prefix}-quarantine",
        EncryptedBucketArgs("quarantine", key.arn, expire_days=cfg.quarantine_expire_days),
    )
    artifacts = EncryptedBucket(
        f"{prefix}-artifacts", EncryptedBucketArgs("artifacts", key.arn, force_destroy=True)
    )
    logs = EncryptedBucket(
        f"{prefix}-logs", EncryptedBucketArgs("logs", key.arn, expire_days=cfg.log_retention_days)
    )

    wheels_dir = (PROJECT_DIR / cfg.wheels_dir).resolve()
    ray = RayEmrCluster(
        f"{prefix}-ray",
        RayEmrClusterArgs(
            config=cfg.emr,
            vpc_id=network.vpc.id,
            subnet_id=network.private_subnets[cfg.zones[0]].id,
            operator_cidrs=cfg.operator_cidrs,
            key_arn=key.arn,
            uploads_bucket_arn=uploads.bucket.arn,
            results_bucket_arn=results.bucket.arn,
            artifacts_bucket=artifacts.bucket.bucket,
            artifacts_bucket_arn=artifacts.bucket.arn,
            logs_bucket=logs.bucket.bucket,
            logs_bucket_arn=logs.bucket.arn,
            wheels=_ray_wheels(wheels_dir),
        ),
    )

    fleet = ServiceFleet(
        f"{prefix}-fleet",
        ServiceFleetArgs(
            prefix=prefix,
            zones=cfg.zones,
            vpc_id=network.vpc.id,
            vpc_cidr=cfg.vpc_cidr,
            subnets={zone: subnet.id for zone, subnet in network.private_subnets.items()},
            client_cidrs=cfg.client_cidrs or (cfg.vpc_cidr,),
            certificate_arn=cfg.certificate_arn,
            image_tag=cfg.image_tag,
            region=region,
            account_id=account_id,
            key_arn=key.arn,
            stream_name_prefix=cfg.stream_name_prefix,
            registry_table_name=registry.table.name,
            registry_table_arn=registry.table.arn,
            verdict_table_name=verdicts.table.name,
            verdict_table_arn=verdicts.table.arn,
            queue_name=queue.queue.name,
            queue_arn=queue.queue.arn,
            dead_letter_queue_name=queue.dead_letter_queue.name,
            dead_letter_queue_arn=queue.dead_letter_queue.arn,
            quarantine_bucket_name=quarantine.bucket.bucket,
            quarantine_bucket_arn=quarantine.bucket.arn,
            max_receive_count=cfg.max_receive_count,
            visibility_timeout_s=cfg.visibility_timeout_s,
            ingest=cfg.ingest,
            rebuild=cfg.rebuild,
            classify=cfg.classify,
            log_retention_days=cfg.log_retention_days,
        ),
    )

    return {
        "ingestEndpoint": fleet.endpoint,
        "classifyEndpoint": fleet.endpoint,
        "streamRegistryTable": registry.table.name,
        "streamNamePrefix": cfg.stream_name_prefix,
        "streams": {zone: s.names for zone, s in stream_sets.items()},
        "manifestQueueName": queue.queue.name,
        "manifestQueueUrl": queue.queue.url,
        "deadLetterQueueName": queue.dead_letter_queue.name,
        "verdictTable": verdicts.table.name,
        "uploadsBucket": uploads.bucket.bucket,
        "resultsBucket": results.bucket.bucket,
        "artifactsBucket": artifacts.bucket.bucket,
        "quarantineBucket": quarantine.bucket.bucket,
        "rayClusterId": ray.cluster.id,
        "rayDashboardUrl": ray.dashboard_url,
        "rayDashboardTunnel": ray.cluster.id.apply(_tunnel_command),
        "imageRepositories": {k: r.repository_url for k, r in fleet.repositories.items()},
        "autoscalerFunction": autoscaler.function.name,
        "kmsKeyArn": key.arn,
    }


def _ray_wheels(directory: Path) -> list[Path]:
    """The workspace wheels Ray nodes need: all but this program's own (it would bring Pulumi)."""
    if not directory.is_dir():
        return []
    return sorted(
        w for w in directory.glob("audioval*.whl") if not w.name.startswith("audioval_infra-")
    )


def _tunnel_command(cluster_id: str) -> str:
    """The SSM port-forwarding command that makes the dashboard http://localhost:8265."""
    return (
        "aws ssm start-session --document-name AWS-StartPortForwardingSession "
        "--parameters portNumber=8265,localPortNumber=8265 --target "
        f"$(aws emr list-instances --cluster-id {cluster_id} --instance-group-types MASTER "
        "--query 'Instances[0].Ec2InstanceId' --output text)"
    )
