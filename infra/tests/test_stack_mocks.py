"""The Pulumi program for each committed stack (dev, prod), run under Pulumi's mocks.

Each test reads what the program would send to the AWS provider and checks a property an
operator relies on: encryption everywhere, the FIFO queue and its DLQ, the baseline streams per
zone, least-privilege IAM, no world-open ports, outputs, and names the services really read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audioval_infra.autoscaler import HANDLER
from audioval_infra.config import StackConfig
from audioval_infra.mocks import ACCOUNT, REGION, StackRun
from audioval_localstack import stream_name
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.stream_registry import BASELINE
from audioval_stream_autoscaler import policy_from_env

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000-key"
STREAM = "aws:kinesis/stream:Stream"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"

WORLD = {"0.0.0.0/0", "::/0"}


def _config(run: StackRun) -> StackConfig:
    return StackConfig.from_mapping(run.stack, run.config)


def _policy(run: StackRun, role: str) -> dict[str, tuple[list[str], list[str]]]:
    """``{sid: (actions, resources)}`` of the inline policy of ``role`` (a logical name)."""
    document = json.loads(run.named(ROLE_POLICY, f"{role}-policy").inputs["policy"])
    statements = document["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    return {s["Sid"]: (s["Action"], s["Resource"]) for s in statements}


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


# -- encryption ------------------------------------------------------------------------------


def test_every_stream_is_kms_encrypted_with_the_configured_retention(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    streams = stack_run.of_type(STREAM)
    assert streams
    for stream in streams:
        assert stream.inputs["encryptionType"] == "KMS"
        assert stream.inputs["kmsKeyId"] == KEY_ARN
        assert stream.inputs["retentionPeriod"] == cfg.stream_retention_hours
        assert stream.inputs["shardCount"] == cfg.shards_per_stream
        assert stream.inputs["streamModeDetails"] == {"streamMode": "PROVISIONED"}


def test_every_queue_and_table_is_kms_encrypted(stack_run: StackRun) -> None:
    queues = stack_run.of_type(QUEUE)
    tables = stack_run.of_type(TABLE)
    assert len(queues) == 2 and len(tables) == 2
    for queue in queues:
        assert queue.inputs["kmsMasterKeyId"] == KEY_ARN
    for table in tables:
        assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"


def test_every_bucket_is_kms_encrypted_private_tls_only_and_has_a_lifecycle(
    stack_run: StackRun,
) -> None:
    buckets = {b.name for b in stack_run.of_type(BUCKET)}
    assert {n.rsplit("-", 1)[-1] for n in buckets} == {
        "uploads",
        "results",
        "artifacts",
        "logs",
        "quarantine",
    }
    for name in buckets:
        sse = stack_run.named(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            name,
        ).inputs["rules"][0]
        assert sse["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": KEY_ARN,
        }
        block = stack_run.named(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name
        ).inputs
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"):
            assert block[flag] is True
        assert block["restrictPublicBuckets"] is True
        policy = json.loads(
            stack_run.named("aws:s3/bucketPolicy:BucketPolicy", name).inputs["policy"]
        )
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rules = stack_run.named(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name
        ).inputs["rules"]
        assert any("abortIncompleteMultipartUpload" in r for r in rules)
    uploads = next(n for n in buckets if n.endswith("uploads"))
    rules = stack_run.named(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", uploads
    ).inputs["rules"]
    expiry = [r["expiration"]["days"] for r in rules if "expiration" in r]
    assert expiry == [_config(stack_run).uploads_expire_days]
    quarantine = next(n for n in buckets if n.endswith("quarantine"))
    rules = stack_run.named(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", quarantine
    ).inputs["rules"]
    expiry = [r["expiration"]["days"] for r in rules if "expiration" in r]
    assert expiry == [_config(stack_run).quarantine_expire_days]


def test_the_stack_key_rotates(stack_run: StackRun) -> None:
    (key,) = stack_run.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True


# -- queue -----------------------------------------------------------------------------------


def test_manifest_queue_is_fifo_deduplicated_by_track_with_a_fifo_dlq(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    queue = stack_run.named(QUEUE, f"{cfg.prefix}-manifests")
    dlq = stack_run.named(QUEUE, f"{cfg.prefix}-manifests-dlq")
    assert queue.inputs["name"] == cfg.manifest_queue_name
    assert dlq.inputs["name"] == cfg.dead_letter_queue_name
    for q in (queue, dlq):
        assert q.inputs["fifoQueue"] is True
        assert q.inputs["contentBasedDeduplication"] is False
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": _arn("sqs", cfg.dead_letter_queue_name),
        "maxReceiveCount": stack_run.config["maxReceiveCount"],
    }
    assert queue.inputs["visibilityTimeoutSeconds"] == stack_run.config["visibilityTimeoutSeconds"]
    allow = stack_run.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")[0].inputs
    assert json.loads(allow["redriveAllowPolicy"])["sourceQueueArns"] == [
        _arn("sqs", cfg.manifest_queue_name)
    ]


# -- stream sets -----------------------------------------------------------------------------


def test_each_configured_zone_has_its_baseline_streams_named_as_producers_expect(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    zones = stack_run.config["zones"]
    baseline = stack_run.config["baselineStreamsPerZone"]
    settings = PipelineSettings(stream_name_prefix=cfg.stream_name_prefix)
    expected = {
        zone: [stream_name(settings, i, az=zone) for i in range(baseline)] for zone in zones
    }
    assert stack_run.outputs["streams"] == expected
    names = sorted(s.inputs["name"] for s in stack_run.of_type(STREAM))
    assert names == sorted(n for group in expected.values() for n in group)

    items = [
        json.loads(i.inputs["item"]) for i in stack_run.of_type("aws:dynamodb/tableItem:TableItem")
    ]
    registered = {(i["az"]["S"], i["stream_name"]["S"]): i for i in items}
    assert set(registered) == {(z, n) for z, group in expected.items() for n in group}
    for item in registered.values():
        assert item["state"] == {"S": "active"}
        assert item["role"] == {"S": BASELINE}
    registry = stack_run.named(TABLE, f"{cfg.prefix}-registry").inputs
    assert (registry["hashKey"], registry["rangeKey"]) == ("az", "stream_name")


def test_autoscaler_gets_the_stacks_limits_and_runs_one_at_a_time(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    (function,) = stack_run.of_type("aws:lambda/function:Function")
    env = function.inputs["environment"]["variables"]
    policy = policy_from_env(env)
    assert policy.max_streams == stack_run.config["maxStreamsPerZone"]
    assert policy.shards_per_stream == cfg.shards_per_stream
    assert policy.retention_s == cfg.stream_retention_hours * 3600
    assert json.loads(env["AUTOSCALER_ZONES"]) == list(cfg.zones)
    assert env["AUTOSCALER_REGISTRY_TABLE"] == cfg.registry_table_name
    assert env["AUTOSCALER_MANIFEST_QUEUE"] == cfg.manifest_queue_name
    assert env["AUTOSCALER_KMS_KEY_ID"] == KEY_ARN
    assert function.inputs["handler"] == HANDLER
    assert function.inputs["reservedConcurrentExecutions"] == 1
    (rule,) = stack_run.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["scheduleExpression"] == cfg.autoscaler_schedule


# -- IAM -------------------------------------------------------------------------------------


def test_ingest_may_write_only_its_zones_streams_and_send_manifests(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    for zone in cfg.zones:
        policy = _policy(stack_run, f"{cfg.prefix}-fleet-ingest-{zone}")
        assert policy == {
            "WriteChunksToOwnZone": (
                ["kinesis:ListShards", "kinesis:PutRecords"],
                [_arn("kinesis", f"stream/{cfg.stream_name_prefix}-{zone}-*")],
            ),
            "ReadStreamRegistry": (
                ["dynamodb:Query"],
                [_arn("dynamodb", f"table/{cfg.registry_table_name}")],
            ),
            "PendingItem": (
                ["dynamodb:DeleteItem", "dynamodb:PutItem"],
                [_arn("dynamodb", f"table/{cfg.verdict_table_name}")],
            ),
            "SendManifest": (
                ["sqs:GetQueueUrl", "sqs:SendMessage"],
                [_arn("sqs", cfg.manifest_queue_name)],
            ),
            "EncryptWithStackKey": (["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN]),
        }


def test_rebuild_may_read_streams_work_the_queue_and_hold_review_tracks_only(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    policy = _policy(stack_run, f"{cfg.prefix}-fleet-rebuild")
    quarantine = f"arn:aws:s3:::{stack_run.outputs['quarantineBucket']}"
    assert policy == {
        "ReadChunks": (
            ["kinesis:GetRecords", "kinesis:GetShardIterator"],
            [_arn("kinesis", f"stream/{cfg.stream_name_prefix}-{z}-*") for z in cfg.zones],
        ),
        "WorkManifestQueue": (
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ],
            [_arn("sqs", cfg.manifest_queue_name)],
        ),
        "DeadLetterPoison": (
            ["sqs:GetQueueUrl", "sqs:SendMessage"],
            [_arn("sqs", cfg.dead_letter_queue_name)],
        ),
        "Verdicts": (
            ["dynamodb:GetItem", "dynamodb:PutItem"],
            [_arn("dynamodb", f"table/{cfg.verdict_table_name}")],
        ),
        "HoldReviewTracks": (["s3:GetObject", "s3:PutObject"], [f"{quarantine}/*"]),
        "FindHeldTracks": (["s3:ListBucket"], [quarantine]),
        "DecryptWithStackKey": (["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN]),
    }


def test_classify_may_touch_only_the_verdict_table_and_read_its_stream(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    table = _arn("dynamodb", f"table/{cfg.verdict_table_name}")
    assert _policy(stack_run, f"{cfg.prefix}-fleet-classify") == {
        "Verdicts": (
            ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem"],
            [table],
        ),
        "FollowVerdictStream": (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [f"{table}/stream/*"],
        ),
        "DecryptVerdictStream": (["kms:Decrypt"], [KEY_ARN]),
    }


def test_the_verdict_table_streams_new_images_and_no_other_table_streams(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    verdicts = stack_run.named(TABLE, f"{cfg.prefix}-verdicts").inputs
    assert (verdicts["streamEnabled"], verdicts["streamViewType"]) == (True, "NEW_IMAGE")
    registry = stack_run.named(TABLE, f"{cfg.prefix}-registry").inputs
    assert not registry.get("streamEnabled")


def test_emr_nodes_may_touch_only_their_buckets(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    bucket = {
        purpose: f"arn:aws:s3:::{cfg.prefix}-{purpose}-0a1b2c"
        for purpose in ("uploads", "results", "artifacts", "logs")
    }
    assert _policy(stack_run, f"{cfg.prefix}-ray-instance") == {
        "ListOwnBuckets": (
            ["s3:ListBucket"],
            [bucket["uploads"], bucket["results"], bucket["artifacts"]],
        ),
        "ReadUploadsAndArtifacts": (
            ["s3:GetObject"],
            [f"{bucket['uploads']}/*", f"{bucket['artifacts']}/*"],
        ),
        "WriteResults": (
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            [f"{bucket['results']}/*"],
        ),
        "WriteLogs": (["s3:PutObject"], [f"{bucket['logs']}/*"]),
        "BucketKey": (["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN]),
    }


# Statements whose "*" resource AWS requires (no resource-level permissions exist).
STAR_RESOURCE_ALLOWED = {
    ("ReadMetrics", "cloudwatch:GetMetricData"),
    ("EcrLogin", "ecr:GetAuthorizationToken"),
}


def test_no_policy_grants_a_wildcard_action_or_an_unjustified_wildcard_resource(
    stack_run: StackRun,
) -> None:
    policies = stack_run.of_type(ROLE_POLICY)
    assert len(policies) >= 7
    for recorded in policies:
        for statement in json.loads(recorded.inputs["policy"])["Statement"]:
            for action in statement["Action"]:
                assert "*" not in action, (recorded.name, action)
            if "*" in statement["Resource"]:
                for action in statement["Action"]:
                    assert (statement["Sid"], action) in STAR_RESOURCE_ALLOWED, recorded.name


def test_every_role_is_assumable_only_by_its_service(stack_run: StackRun) -> None:
    principals = set()
    for role in stack_run.of_type("aws:iam/role:Role"):
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        principals.add(statement["Principal"]["Service"])
    assert principals == {
        "ecs-tasks.amazonaws.com",
        "lambda.amazonaws.com",
        "elasticmapreduce.amazonaws.com",
        "ec2.amazonaws.com",
    }


# -- network exposure ------------------------------------------------------------------------


def _ingress(run: StackRun) -> list[tuple[str, dict[str, Any]]]:
    rules = [(g.name, r) for g in run.of_type(SECURITY_GROUP) for r in g.inputs.get("ingress", [])]
    rules += [
        (r.name, r.inputs)
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    ]
    rules += [
        (r.name, r.inputs)
        for r in run.of_type("aws:ec2/securityGroupRule:SecurityGroupRule")
        if r.inputs.get("type") == "ingress"
    ]
    return rules


def test_no_security_group_admits_the_world(stack_run: StackRun) -> None:
    rules = _ingress(stack_run)
    assert rules
    for group, rule in rules:
        cidrs = set(rule.get("cidrBlocks", [])) | set(rule.get("ipv6CidrBlocks", []))
        cidrs |= {rule.get("cidrIpv4"), rule.get("cidrIpv6")} - {None}
        assert not cidrs & WORLD, group


def test_dashboard_and_service_ports_admit_only_configured_sources(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    by_port: dict[int, list[dict[str, Any]]] = {}
    for _, rule in _ingress(stack_run):
        for port in range(int(rule["fromPort"]), int(rule["toPort"]) + 1):
            by_port.setdefault(port, []).append(rule)
    dashboard = by_port.get(8265, [])
    assert [r["cidrBlocks"] for r in dashboard] == (
        [list(cfg.operator_cidrs)] if cfg.operator_cidrs else []
    )
    for port in (50051, 50053):
        assert by_port[port]
        for rule in by_port[port]:
            assert rule.get("cidrBlocks", []) == []  # security groups only: the balancer
            assert rule["securityGroups"]
    assert 50052 not in by_port  # rebuild's health port is checked from inside the task
    (https,) = by_port[443]
    assert https["cidrBlocks"] == list(cfg.client_cidrs)


def test_world_open_cidrs_in_config_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.0\.0\.0/0"):
        StackConfig.from_mapping("x", {"zones": ["a"], "operatorCidrs": ["0.0.0.0/0"]})
    with pytest.raises(ValueError, match=r"::/0"):
        StackConfig.from_mapping("x", {"zones": ["a"], "clientCidrs": ["::/0"]})


def test_unknown_config_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown config keys"):
        StackConfig.from_mapping("x", {"zones": ["a"], "zone": "b"})


# -- services and the balancer ---------------------------------------------------------------


def _containers(run: StackRun) -> dict[str, dict[str, Any]]:
    out = {}
    for task in run.of_type(TASK_DEFINITION):
        (container,) = json.loads(task.inputs["containerDefinitions"])
        out[task.inputs["family"]] = container
    return out


def test_services_read_the_names_the_stack_created(
    stack_run: StackRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audioval_classify.settings import ClassifySettings
    from audioval_ingest.settings import IngestSettings
    from audioval_rebuild.settings import RebuildSettings

    cfg = _config(stack_run)
    containers = _containers(stack_run)
    assert set(containers) == {
        *(f"{cfg.prefix}-ingest-{z}" for z in cfg.zones),
        f"{cfg.prefix}-rebuild",
        f"{cfg.prefix}-classify",
    }
    kinds = {"ingest": IngestSettings, "rebuild": RebuildSettings, "classify": ClassifySettings}
    for family, container in containers.items():
        env = {e["name"]: e["value"] for e in container["environment"]}
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            settings = kinds[container["name"]]()
        pipeline = settings.pipeline
        assert pipeline.stream_registry_table == cfg.registry_table_name
        assert pipeline.stream_name_prefix == cfg.stream_name_prefix
        assert pipeline.manifest_queue == cfg.manifest_queue_name
        assert pipeline.dead_letter_queue == cfg.dead_letter_queue_name
        assert pipeline.verdict_table == cfg.verdict_table_name
        assert pipeline.max_receive_count == stack_run.config["maxReceiveCount"]
        assert pipeline.aws_region == REGION
        assert pipeline.aws_endpoint_url is None
        port = {"ingest": 50051, "rebuild": 50052, "classify": 50053}[container["name"]]
        assert settings.port == port
        assert container["healthCheck"]["command"] == [
            "CMD",
            "grpc-health-probe",
            f"127.0.0.1:{port}",
        ]
        if container["name"] == "ingest":
            zone = family.removeprefix(f"{cfg.prefix}-ingest-")
            assert pipeline.availability_zone == zone
        if container["name"] == "rebuild":
            assert pipeline.quarantine_bucket == stack_run.outputs["quarantineBucket"]
            assert settings.classify_address == f"classify.{cfg.prefix}.internal:50053"


def test_the_balancer_is_internal_speaks_grpc_over_tls_and_checks_grpc_health(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    (balancer,) = stack_run.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert balancer.inputs["internal"] is True
    (listener,) = stack_run.of_type("aws:lb/listener:Listener")
    assert listener.inputs["protocol"] == "HTTPS"
    assert listener.inputs["certificateArn"] == cfg.certificate_arn
    groups = stack_run.of_type("aws:lb/targetGroup:TargetGroup")
    assert len(groups) == len(cfg.zones) + 1  # ingest per zone + classify
    for group in groups:
        assert group.inputs["protocolVersion"] == "GRPC"
        assert group.inputs["healthCheck"]["path"] == "/grpc.health.v1.Health/Check"
        assert group.inputs["healthCheck"]["matcher"] == "0"


def test_each_zones_ingest_runs_in_that_zones_subnet_and_every_service_autoscales(
    stack_run: StackRun,
) -> None:
    cfg = _config(stack_run)
    services = {s.name: s for s in stack_run.of_type("aws:ecs/service:Service")}
    for zone in cfg.zones:
        network = services[f"{cfg.prefix}-ingest-{zone}"].inputs["networkConfiguration"]
        assert network["subnets"] == [f"{cfg.prefix}-private-{zone}-id"]
        assert network["assignPublicIp"] is False
    for name in ("rebuild", "classify"):
        subnets = services[f"{cfg.prefix}-{name}"].inputs["networkConfiguration"]["subnets"]
        assert subnets == [f"{cfg.prefix}-private-{z}-id" for z in cfg.zones]
    targets = {t.name: t.inputs for t in stack_run.of_type("aws:appautoscaling/target:Target")}
    assert set(targets) == set(services)
    assert targets[f"{cfg.prefix}-classify"]["maxCapacity"] == cfg.classify.max_tasks
    assert targets[f"{cfg.prefix}-rebuild"]["minCapacity"] == cfg.rebuild.min_tasks


# -- Ray on EMR ------------------------------------------------------------------------------


def test_emr_bootstraps_ray_from_this_repo_with_managed_scaling(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    (cluster,) = stack_run.of_type("aws:emr/cluster:Cluster")
    (action,) = cluster.inputs["bootstrapActions"]
    script = stack_run.named("aws:s3/bucketObjectv2:BucketObjectv2", f"{cfg.prefix}-ray-bootstrap")
    assert action["path"] == f"s3://{cfg.prefix}-artifacts-0a1b2c/{script.inputs['key']}"
    assert action["args"][0] == f"s3://{cfg.prefix}-artifacts-0a1b2c/wheels/"
    assert cluster.inputs["releaseLabel"] == cfg.emr.release_label
    assert cluster.inputs["ec2Attributes"]["subnetId"] == f"{cfg.prefix}-private-{cfg.zones[0]}-id"
    (scaling,) = stack_run.of_type("aws:emr/managedScalingPolicy:ManagedScalingPolicy")
    (limits,) = scaling.inputs["computeLimits"]
    assert (limits["minimumCapacityUnits"], limits["maximumCapacityUnits"]) == (
        cfg.emr.min_instances,
        cfg.emr.max_instances,
    )
    (security,) = stack_run.of_type("aws:emr/securityConfiguration:SecurityConfiguration")
    at_rest = json.loads(security.inputs["configuration"])["EncryptionConfiguration"]
    assert at_rest["EnableAtRestEncryption"] is True


# -- outputs ---------------------------------------------------------------------------------


def test_outputs_say_where_everything_is(stack_run: StackRun) -> None:
    cfg = _config(stack_run)
    out = stack_run.outputs
    assert out["ingestEndpoint"].endswith(".elb.amazonaws.com:443")
    assert out["classifyEndpoint"] == out["ingestEndpoint"]
    assert out["streamRegistryTable"] == cfg.registry_table_name
    assert out["manifestQueueName"] == cfg.manifest_queue_name
    assert out["manifestQueueUrl"].endswith(f"/{cfg.manifest_queue_name}")
    assert out["deadLetterQueueName"] == cfg.dead_letter_queue_name
    assert out["verdictTable"] == cfg.verdict_table_name
    assert out["rayDashboardUrl"] == "http://ip-10-40-128-10.ec2.internal:8265"
    assert "AWS-StartPortForwardingSession" in out["rayDashboardTunnel"]
    assert out["rayClusterId"] in out["rayDashboardTunnel"]
    assert set(out["imageRepositories"]) == {"ingest", "rebuild", "classify"}
    for name in (
        "uploadsBucket",
        "resultsBucket",
        "artifactsBucket",
        "quarantineBucket",
        "autoscalerFunction",
    ):
        assert out[name]


def test_ray_nodes_get_the_workspace_wheels_but_not_the_pulumi_program(tmp_path: Path) -> None:
    from audioval_infra.stack import _ray_wheels

    for name in (
        "audioval_infra-0.1.0-py3-none-any.whl",
        "audioval_classify-0.1.0-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "other-1.0-py3-none-any.whl").write_bytes(b"")
    assert [w.name for w in _ray_wheels(tmp_path)] == ["audioval_classify-0.1.0-py3-none-any.whl"]
    assert _ray_wheels(tmp_path / "missing") == []


def test_ray_nodes_run_batch_jobs_with_the_installed_interpreter() -> None:
    # `audioval batch` submits `"${AUDIOVAL_PYTHON:-python}" -m audioval_classify.batch`; a bare
    # `python` on an EMR node is not the venv the bootstrap installs the wheels into.
    import audioval_infra

    bootstrap = Path(audioval_infra.__file__).parent / "assets" / "ray-bootstrap.sh"
    text = bootstrap.read_text()
    assert "venv=/opt/audioval" in text
    assert "Environment=AUDIOVAL_PYTHON=${venv}/bin/python" in text
