"""The stream-set autoscaler: its decision function, then its effect on a registry and Kinesis
in the local emulator (moto server), read back through the producers' own ``StreamSet``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from audioval_ingest.stream_set import StreamSet
from audioval_localstack import Emulator, provision
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.stream_registry import (
    ACTIVE,
    BASELINE,
    DRAINING,
    EXTRA,
    StreamEntry,
    read_zone,
)
from audioval_stream_autoscaler import (
    Action,
    AzObservation,
    PeriodLoad,
    ScalingPolicy,
    StreamSetActuator,
    decide,
    run_once,
)

AZ = "local-a"
NOW = 1_800_000_000.0
POLICY = ScalingPolicy(max_streams=3, drain_quiet_s=300, manifest_slack_s=60, retention_s=3600)
MIB = 1024 * 1024


def _stream(index: int, state: str = ACTIVE, role: str = BASELINE, **kw: Any) -> StreamEntry:
    return StreamEntry(AZ, f"audioval-chunks-{AZ}-{index}", state, role, **kw)


def _quiet(periods: int = 15) -> tuple[PeriodLoad, ...]:
    return tuple(PeriodLoad() for _ in range(periods))


def _throttled(periods: int = 15, hot: int = 3) -> tuple[PeriodLoad, ...]:
    calm = [PeriodLoad(10 * MIB, 100, 0)] * (periods - hot)
    return (*calm, *[PeriodLoad(60 * MIB, 5000, 40)] * hot)


# -- decisions -------------------------------------------------------------------------------


def test_sustained_throttling_adds_the_next_stream() -> None:
    obs = AzObservation(AZ, (_stream(0), _stream(1)), _throttled())
    (action,) = decide(obs, NOW, POLICY).actions
    assert (action.kind, action.stream) == ("add", f"audioval-chunks-{AZ}-2")


def test_one_throttled_period_is_not_sustained() -> None:
    obs = AzObservation(AZ, (_stream(0),), _throttled(hot=1))
    assert decide(obs, NOW, POLICY).actions == ()


def test_a_set_running_hot_without_throttles_grows_too() -> None:
    hot = PeriodLoad(incoming_bytes=0.9 * 60 * MIB, incoming_records=10, throttled=0)
    obs = AzObservation(AZ, (_stream(0),), (*_quiet(12), hot, hot, hot))
    assert [a.kind for a in decide(obs, NOW, POLICY).actions] == ["add"]


def test_no_stream_is_added_past_max_streams() -> None:
    streams = (_stream(0), _stream(1), _stream(2, role=EXTRA))
    decision = decide(AzObservation(AZ, streams, _throttled()), NOW, POLICY)
    assert decision.actions == ()
    assert any("max_streams" in n for n in decision.notes)


def test_additions_wait_for_the_cooldown() -> None:
    streams = (_stream(0), _stream(1, role=EXTRA, created_at=NOW - 30))
    assert decide(AzObservation(AZ, streams, _throttled()), NOW, POLICY).actions == ()


def test_idle_set_drains_its_newest_extra_stream_never_a_baseline_one() -> None:
    old = NOW - 3600
    streams = (
        _stream(0),
        _stream(1, role=EXTRA, created_at=old),
        _stream(2, role=EXTRA, created_at=old),
    )
    (action,) = decide(AzObservation(AZ, streams, _quiet()), NOW, POLICY).actions
    assert (action.kind, action.stream) == ("drain", f"audioval-chunks-{AZ}-2")
    only_baseline = (_stream(0), _stream(1))
    assert decide(AzObservation(AZ, only_baseline, _quiet()), NOW, POLICY).actions == ()


def test_load_that_needs_every_stream_keeps_them_all() -> None:
    # 25 MiB/min per period into two one-shard streams: one stream alone would be 42% full.
    busy = tuple(PeriodLoad(25 * MIB, 100, 0) for _ in range(15))
    streams = (_stream(0), _stream(1, role=EXTRA, created_at=NOW - 3600))
    assert decide(AzObservation(AZ, streams, busy), NOW, POLICY).actions == ()


@dataclass
class DrainCase:
    drained_for: float
    writes: tuple[float, ...]
    queue_age: float | None
    removed: bool


@pytest.mark.parametrize(
    "case",
    [
        DrainCase(drained_for=100, writes=(0,) * 15, queue_age=0, removed=False),  # too soon
        DrainCase(drained_for=400, writes=(*(0,) * 14, 3), queue_age=0, removed=False),  # written
        DrainCase(drained_for=400, writes=(0,) * 15, queue_age=250, removed=False),  # old manifest
        DrainCase(drained_for=400, writes=(0,) * 15, queue_age=None, removed=False),  # unknown
        DrainCase(drained_for=400, writes=(0,) * 15, queue_age=100, removed=True),
        DrainCase(drained_for=4000, writes=(0,) * 15, queue_age=None, removed=True),  # retention
    ],
)
def test_a_draining_stream_is_removed_only_when_nothing_can_still_need_it(
    case: DrainCase,
) -> None:
    draining = _stream(1, DRAINING, EXTRA, created_at=0, draining_since=NOW - case.drained_for)
    obs = AzObservation(
        AZ,
        (_stream(0), draining),
        _quiet(),
        draining_writes={draining.stream_name: case.writes},
        queue_oldest_age_s=case.queue_age,
    )
    kinds = [a.kind for a in decide(obs, NOW, POLICY).actions]
    assert kinds == (["remove"] if case.removed else [])


def test_load_returning_reactivates_a_draining_stream_instead_of_creating_one() -> None:
    draining = _stream(2, DRAINING, EXTRA, draining_since=NOW - 60)
    obs = AzObservation(AZ, (_stream(0), _stream(1), draining), _throttled())
    (action,) = decide(obs, NOW, POLICY).actions
    assert (action.kind, action.stream) == ("reactivate", draining.stream_name)


def test_policy_refuses_thresholds_that_would_flap() -> None:
    with pytest.raises(ValueError):
        ScalingPolicy(scale_in_utilisation=0.9, scale_out_utilisation=0.8)


# -- against the emulator --------------------------------------------------------------------


@dataclass
class Stack:
    settings: PipelineSettings
    dynamodb: Any
    kinesis: Any
    cloudwatch: Any
    key_id: str


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def stack(emulator: Emulator) -> Iterator[Stack]:
    emulator.reset()
    settings = PipelineSettings(
        aws_endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",  # type: ignore[arg-type]
        aws_secret_access_key="testing",  # type: ignore[arg-type]
        availability_zone=AZ,
        stream_registry_table=f"registry-{uuid.uuid4().hex[:8]}",
    )
    provision(settings, baseline_streams=2)
    key_id = aws_client("kms", settings).create_key()["KeyMetadata"]["KeyId"]
    yield Stack(
        settings,
        aws_client("dynamodb", settings),
        aws_client("kinesis", settings),
        aws_client("cloudwatch", settings),
        key_id,
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _put(
    cloudwatch: Any, namespace: str, metric: str, dims: dict[str, str], at: float, value: float
) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Value": value,
            }
        ],
    )


def _run(stack: Stack, clock: Clock, policy: ScalingPolicy) -> list[Any]:
    actuator = StreamSetActuator(
        stack.dynamodb,
        stack.kinesis,
        table=stack.settings.stream_registry_table,
        shards=1,
        retention_hours=48,
        kms_key_id=stack.key_id,
        tags={"audioval:stack": "test"},
        clock=clock,
        sleep=lambda _: None,
        wait_s=0,
    )
    return run_once(
        dynamodb=stack.dynamodb,
        kinesis=stack.kinesis,
        cloudwatch=stack.cloudwatch,
        table=stack.settings.stream_registry_table,
        zones=[AZ],
        queue_name=stack.settings.manifest_queue,
        policy=policy,
        actuator=actuator,
        now=clock.now,
    )


def _producer(stack: Stack, clock: Clock) -> StreamSet:
    return StreamSet(
        stack.dynamodb,
        table=stack.settings.stream_registry_table,
        availability_zone=AZ,
        ttl_s=5.0,
        clock=clock,
    )


def _routes(producer: StreamSet, tracks: int = 400) -> set[str]:
    return {producer.route(f"track-{i}") for i in range(tracks)}


def test_sustained_throttling_adds_an_encrypted_stream_producers_then_use(stack: Stack) -> None:
    clock = Clock(float(int(datetime.now(UTC).timestamp()) // 60 * 60))
    baseline = [f"{stack.settings.stream_name_prefix}-{AZ}-{i}" for i in range(2)]
    producer = _producer(stack, clock)
    assert _routes(producer) == set(baseline)
    for minutes_ago in (1, 2, 3):
        for name in baseline:
            _put(
                stack.cloudwatch,
                "AWS/Kinesis",
                "WriteProvisionedThroughputExceeded",
                {"StreamName": name},
                clock.now - 60 * minutes_ago + 5,
                25,
            )

    (decision,) = _run(stack, clock, POLICY)

    added = f"{stack.settings.stream_name_prefix}-{AZ}-2"
    assert [(a.kind, a.stream) for a in decision.actions] == [("add", added)]
    summary = stack.kinesis.describe_stream_summary(StreamName=added)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["EncryptionType"] == "KMS"
    assert summary["KeyId"] == stack.key_id
    assert summary["RetentionPeriodHours"] == 48
    tags = stack.kinesis.list_tags_for_stream(StreamName=added)["Tags"]
    assert {"Key": "audioval:stack", "Value": "test"} in tags
    entries = {
        e.stream_name: e
        for e in read_zone(stack.dynamodb, stack.settings.stream_registry_table, AZ)
    }
    assert (entries[added].state, entries[added].role) == (ACTIVE, EXTRA)

    clock.now += 6  # past the producers' cache TTL
    assert _routes(producer) == {*baseline, added}


def test_idle_drains_waits_for_consumers_then_removes_and_producers_skip_it(stack: Stack) -> None:
    table = stack.settings.stream_registry_table
    start = float(int(datetime.now(UTC).timestamp()) // 60 * 60)
    clock = Clock(start)
    extra = f"{stack.settings.stream_name_prefix}-{AZ}-2"
    actuator = StreamSetActuator(
        stack.dynamodb,
        stack.kinesis,
        table=table,
        shards=1,
        retention_hours=24,
        kms_key_id=None,
        clock=Clock(start - 7200),
        wait_s=0,
    )
    assert actuator.add(AZ, extra) is True
    producer = _producer(stack, clock)
    assert extra in _routes(producer)

    # Idle for the whole window: the extra stream drains.
    (decision,) = _run(stack, clock, POLICY)
    assert [(a.kind, a.stream) for a in decision.actions] == [("drain", extra)]
    entries = {e.stream_name: e for e in read_zone(stack.dynamodb, table, AZ)}
    assert entries[extra].state == DRAINING
    assert entries[extra].draining_since == start

    # Producers stop routing to it once their cache expires, for every track.
    clock.now += 6
    assert extra not in _routes(producer, tracks=2000)

    # A manifest older than the quiet window is still queued: the stream stays.
    clock.now = start + POLICY.drain_quiet_s + 60
    queue = {"QueueName": stack.settings.manifest_queue}
    _put(stack.cloudwatch, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, clock.now - 50, 900)
    (decision,) = _run(stack, clock, POLICY)
    assert decision.actions == ()
    assert stack.kinesis.describe_stream_summary(StreamName=extra)

    # The consumers caught up (nothing queued is older than the stream going quiet): removed.
    clock.now += 120
    _put(stack.cloudwatch, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, clock.now - 50, 20)
    (decision,) = _run(stack, clock, POLICY)
    assert [(a.kind, a.stream) for a in decision.actions] == [("remove", extra)]
    assert not _stream_exists(stack.kinesis, extra)
    names = {e.stream_name for e in read_zone(stack.dynamodb, table, AZ)}
    assert names == {f"{stack.settings.stream_name_prefix}-{AZ}-{i}" for i in range(2)}


def test_a_stream_still_written_to_is_not_removed(stack: Stack) -> None:
    table = stack.settings.stream_registry_table
    start = float(int(datetime.now(UTC).timestamp()) // 60 * 60)
    extra = f"{stack.settings.stream_name_prefix}-{AZ}-2"
    actuator = StreamSetActuator(
        stack.dynamodb,
        stack.kinesis,
        table=table,
        shards=1,
        retention_hours=24,
        kms_key_id=None,
        clock=Clock(start),
        wait_s=0,
    )
    actuator.add(AZ, extra)
    actuator.apply(Action("drain", AZ, extra, "test"))
    clock = Clock(start + POLICY.drain_quiet_s + 60)
    # A producer with a stale registry copy wrote to it a minute ago.
    written = {"StreamName": extra}
    _put(stack.cloudwatch, "AWS/Kinesis", "IncomingRecords", written, clock.now - 70, 4)
    queue = {"QueueName": stack.settings.manifest_queue}
    _put(stack.cloudwatch, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, clock.now - 50, 0)
    (decision,) = _run(stack, clock, POLICY)
    assert decision.actions == ()
    assert any("still written" in n for n in decision.notes)
    assert _stream_exists(stack.kinesis, extra)


def test_baseline_streams_cannot_be_drained_by_the_actuator(stack: Stack) -> None:
    actuator = StreamSetActuator(
        stack.dynamodb,
        stack.kinesis,
        table=stack.settings.stream_registry_table,
        shards=1,
        retention_hours=24,
        kms_key_id=None,
    )
    baseline = f"{stack.settings.stream_name_prefix}-{AZ}-0"
    with pytest.raises(stack.dynamodb.exceptions.ConditionalCheckFailedException):
        actuator.apply(Action("drain", AZ, baseline, "test"))
    entries = {
        e.stream_name: e
        for e in read_zone(stack.dynamodb, stack.settings.stream_registry_table, AZ)
    }
    assert entries[baseline].state == ACTIVE


def _stream_exists(kinesis: Any, name: str) -> bool:
    """Asked of the stream itself: ListStreams pages, and the emulator is shared by the run."""
    try:
        kinesis.describe_stream_summary(StreamName=name)
    except kinesis.exceptions.ResourceNotFoundException:
        return False
    return True
