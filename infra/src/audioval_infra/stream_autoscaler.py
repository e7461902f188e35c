"""Grow and shrink each availability zone's Kinesis stream set from its CloudWatch metrics.

This module is the autoscaler Lambda's whole code: it imports only boto3 and the standard
library, so Pulumi ships this one file as the function's archive (``handler`` is the entry).

The registry is the table producers read (``audioval_ingest.stream_set``): partition key
``az``, sort key ``stream_name``, attribute ``state``. Producers route only to ``active``
streams. This module adds two attributes and one state:

- ``role``: ``baseline`` (owned by Pulumi, never touched here) or ``extra`` (added here);
- ``provisioning``: an extra stream being created, encrypted and given its retention; producers
  ignore it until it turns ``active``;
- ``created_at`` / ``draining_since``: epoch seconds of the last scale action on the item.

Life of an extra stream: ``provisioning`` -> ``active`` -> ``draining`` -> removed (or back to
``active`` if load returns while it drains). Removal is safe when all three hold:

1. it has been draining for ``drain_quiet_s`` and CloudWatch saw no record written to it over
   that window (producers re-read the registry every 5 s, or use a copy up to 60 s old when the
   registry is unreadable; an upload routed before the drain keeps writing until it ends);
2. the manifest queue holds nothing older than that quiet window plus ``manifest_slack_s``
   (a manifest is sent right after its track's last record, so every manifest that names the
   stream is older than the window; the slack covers a slow SendMessage and manifests that
   SQS's age metric stops counting after their third receive on their way to the DLQ);
3. or, whatever the queue says, the stream's retention has passed since the quiet window began:
   its records have expired, so nothing can read them any more (the hard bound).

Manifests already in the dead-letter queue that name a removed stream cannot be rebuilt once the
stream is gone: redrive the DLQ within the stream's retention.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ACTIVE",
    "BASELINE",
    "DRAINING",
    "EXTRA",
    "PROVISIONING",
    "Action",
    "AzObservation",
    "Decision",
    "PeriodLoad",
    "ScalingPolicy",
    "StreamEntry",
    "StreamSetActuator",
    "collect_observation",
    "decide",
    "handler",
    "run_once",
    "stream_name",
]

log = logging.getLogger(__name__)

ACTIVE = "active"
DRAINING = "draining"
PROVISIONING = "provisioning"
BASELINE = "baseline"
EXTRA = "extra"

# Kinesis' write limits of one provisioned shard.
SHARD_BYTES_PER_S = 1024 * 1024
SHARD_RECORDS_PER_S = 1000


def stream_name(prefix: str, az: str, index: int) -> str:
    """The name of stream ``index`` of ``az``'s set (the same scheme as the local stack)."""
    return f"{prefix}-{az}-{index}"


def _index_of(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


@dataclass(frozen=True)
class ScalingPolicy:
    """When to add, drain and remove streams. Times in seconds, loads as fractions of capacity.

    Parameters
    ----------
    max_streams
        Largest number of active (plus provisioning) streams in one zone's set.
    shards_per_stream
        Shards of every stream (the baseline's and the extras').
    period_s
        CloudWatch period of one data point.
    scale_out_periods, scale_out_throttled_periods
        Add a stream when at least ``scale_out_throttled_periods`` of the last
        ``scale_out_periods`` saw a throttled write...
    scale_out_utilisation
        ...or when every one of those periods loaded the set above this fraction.
    scale_out_cooldown_s
        Least time between two additions in one zone (a new stream takes a minute to create).
    scale_in_periods, scale_in_utilisation
        Drain an extra stream when none of the last ``scale_in_periods`` was throttled and in
        every one the load would fill the set *without* that stream to at most this fraction.
    scale_in_cooldown_s
        Least time since the zone's last addition or drain before draining (no flapping).
    drain_quiet_s, manifest_slack_s, retention_s
        The removal conditions of the module docstring.
    """

    max_streams: int = 8
    shards_per_stream: int = 1
    period_s: int = 60
    scale_out_periods: int = 3
    scale_out_throttled_periods: int = 2
    scale_out_utilisation: float = 0.8
    scale_out_cooldown_s: float = 180.0
    scale_in_periods: int = 15
    scale_in_utilisation: float = 0.3
    scale_in_cooldown_s: float = 900.0
    drain_quiet_s: float = 900.0
    manifest_slack_s: float = 600.0
    retention_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.max_streams < 1 or self.shards_per_stream < 1 or self.period_s < 1:
            raise ValueError("max_streams, shards_per_stream and period_s must be >= 1")
        if not 1 <= self.scale_out_throttled_periods <= self.scale_out_periods:
            raise ValueError("need 1 <= scale_out_throttled_periods <= scale_out_periods")
        if not 0 < self.scale_in_utilisation < self.scale_out_utilisation <= 1:
            raise ValueError("need 0 < scale_in_utilisation < scale_out_utilisation <= 1")

    @property
    def history_periods(self) -> int:
        """How many periods of metrics a decision looks at."""
        quiet = -(-int(self.drain_quiet_s) // self.period_s)
        return max(self.scale_out_periods, self.scale_in_periods, quiet)

    def stream_capacity(self) -> tuple[float, float]:
        """Bytes and records one stream takes in one period."""
        return (
            float(SHARD_BYTES_PER_S * self.shards_per_stream * self.period_s),
            float(SHARD_RECORDS_PER_S * self.shards_per_stream * self.period_s),
        )


@dataclass(frozen=True)
class StreamEntry:
    """One registry item."""

    az: str
    name: str
    state: str
    role: str
    created_at: float = 0.0
    draining_since: float | None = None


@dataclass(frozen=True)
class PeriodLoad:
    """What the zone's active streams took in during one period (sums over the set)."""

    incoming_bytes: float = 0.0
    incoming_records: float = 0.0
    throttled: float = 0.0


@dataclass(frozen=True)
class AzObservation:
    """Everything a decision for one zone reads; ``load`` and ``draining_writes`` oldest first.

    ``draining_writes`` maps each draining stream to its records written per period;
    ``queue_oldest_age_s`` is the manifest queue's ApproximateAgeOfOldestMessage (None when
    CloudWatch has no recent point, which blocks removal until the hard bound).
    """

    az: str
    streams: tuple[StreamEntry, ...]
    load: tuple[PeriodLoad, ...]
    draining_writes: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    queue_oldest_age_s: float | None = None


@dataclass(frozen=True)
class Action:
    """One change to a zone's set: ``add``, ``reactivate``, ``drain`` or ``remove``."""

    kind: str
    az: str
    stream: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """The actions for one zone (removals first, then at most one scaling step) and why."""

    az: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()


def _utilisation(load: PeriodLoad, streams: int, policy: ScalingPolicy) -> float:
    if streams <= 0:
        return float("inf")
    cap_bytes, cap_records = policy.stream_capacity()
    return max(
        load.incoming_bytes / (cap_bytes * streams), load.incoming_records / (cap_records * streams)
    )


def _removable(
    entry: StreamEntry, obs: AzObservation, now: float, policy: ScalingPolicy
) -> tuple[bool, str]:
    since = entry.draining_since if entry.draining_since is not None else now
    drained_for = now - since
    if drained_for < policy.drain_quiet_s:
        return False, f"{entry.name}: draining for {drained_for:.0f}s < {policy.drain_quiet_s:.0f}s"
    quiet_periods = -(-int(policy.drain_quiet_s) // policy.period_s)
    writes = obs.draining_writes.get(entry.name, ())
    recent = writes[-quiet_periods:]
    if any(w > 0 for w in recent):
        return False, f"{entry.name}: still written to within the quiet window"
    if drained_for >= policy.drain_quiet_s + policy.retention_s:
        return True, f"{entry.name}: retention passed since it went quiet"
    age = obs.queue_oldest_age_s
    if age is None:
        return False, f"{entry.name}: manifest queue age unknown; waiting for the hard bound"
    if age + policy.manifest_slack_s >= policy.drain_quiet_s:
        return False, f"{entry.name}: manifest queue holds messages {age:.0f}s old"
    return True, f"{entry.name}: quiet and no manifest old enough to name it"


def decide(obs: AzObservation, now: float, policy: ScalingPolicy) -> Decision:
    """What to do with one zone's stream set now. Pure: reads nothing but its arguments.

    Parameters
    ----------
    obs
        The zone's registry entries and metrics (see :class:`AzObservation`).
    now
        Epoch seconds (the registry's timestamps are epoch seconds too).
    policy
        Thresholds and limits.

    Returns
    -------
    Decision
        Removals of draining streams that are safe to delete, then at most one of: ``add`` a
        stream, ``reactivate`` a draining one (cheaper than a new one), or ``drain`` the newest
        active extra stream.
    """
    actions: list[Action] = []
    notes: list[str] = []
    draining = sorted(
        (s for s in obs.streams if s.state == DRAINING), key=lambda s: _index_of(s.name)
    )
    active = [s for s in obs.streams if s.state == ACTIVE]
    provisioning = [s for s in obs.streams if s.state == PROVISIONING]

    recent_out = obs.load[-policy.scale_out_periods :]
    throttled_periods = sum(1 for p in recent_out if p.throttled > 0)
    hot = len(recent_out) == policy.scale_out_periods and all(
        _utilisation(p, len(active), policy) >= policy.scale_out_utilisation for p in recent_out
    )
    wants_more = throttled_periods >= policy.scale_out_throttled_periods or hot
    last_change = max(
        [s.created_at for s in obs.streams if s.role == EXTRA]
        + [s.draining_since or 0.0 for s in draining],
        default=0.0,
    )

    reactivating: str | None = None
    if wants_more and draining:
        # Load is back: the newest draining stream is warm and costs nothing to take back.
        reactivating = draining[-1].name
        why = f"{throttled_periods} throttled of last {len(recent_out)} periods" + (
            ", set hot" if hot else ""
        )
        actions.append(Action("reactivate", obs.az, reactivating, why))

    for entry in draining:
        if entry.name == reactivating or entry.role != EXTRA:
            continue
        ok, why = _removable(entry, obs, now, policy)
        if ok:
            actions.append(Action("remove", obs.az, entry.name, why))
        else:
            notes.append(why)

    if reactivating is not None:
        return Decision(obs.az, tuple(actions), tuple(notes))

    if wants_more:
        if provisioning:
            notes.append(f"{provisioning[0].name} is still being provisioned")
        elif len(active) >= policy.max_streams:
            notes.append(f"at max_streams={policy.max_streams}; cannot add")
        elif now - last_change < policy.scale_out_cooldown_s:
            notes.append("scale-out cooldown")
        else:
            taken = [_index_of(s.name) for s in obs.streams]
            prefix = _name_prefix(obs)
            name = f"{prefix}-{max(taken, default=-1) + 1}"
            why = f"{throttled_periods} throttled of last {len(recent_out)} periods" + (
                ", set hot" if hot else ""
            )
            actions.append(Action("add", obs.az, name, why))
        return Decision(obs.az, tuple(actions), tuple(notes))

    extras = sorted((s for s in active if s.role == EXTRA), key=lambda s: _index_of(s.name))
    recent_in = obs.load[-policy.scale_in_periods :]
    if extras and not provisioning:
        idle = (
            len(recent_in) == policy.scale_in_periods
            and all(p.throttled == 0 for p in recent_in)
            and all(
                _utilisation(p, len(active) - 1, policy) <= policy.scale_in_utilisation
                for p in recent_in
            )
        )
        if not idle:
            notes.append("load does not fit one stream fewer")
        elif now - last_change < policy.scale_in_cooldown_s:
            notes.append("scale-in cooldown")
        else:
            actions.append(
                Action(
                    "drain",
                    obs.az,
                    extras[-1].name,
                    f"last {len(recent_in)} periods fit {len(active) - 1} streams",
                )
            )
    return Decision(obs.az, tuple(actions), tuple(notes))


def _name_prefix(obs: AzObservation) -> str:
    """``<prefix>-<az>`` from any entry's name (every name is ``<prefix>-<az>-<index>``)."""
    for entry in obs.streams:
        head, _, tail = entry.name.rpartition("-")
        if tail.isdigit():
            return head
    raise ValueError(f"zone {obs.az} has no stream to take the name scheme from")


# -- reading the registry and CloudWatch -----------------------------------------------------


def _entry(item: Mapping[str, Any]) -> StreamEntry:
    def number(key: str) -> float | None:
        value = item.get(key, {}).get("N")
        return float(value) if value is not None else None

    return StreamEntry(
        az=item["az"]["S"],
        name=item["stream_name"]["S"],
        state=item.get("state", {}).get("S", ""),
        role=item.get("role", {}).get("S", BASELINE),
        created_at=number("created_at") or 0.0,
        draining_since=number("draining_since"),
    )


def read_registry(dynamodb: Any, table: str, az: str) -> tuple[StreamEntry, ...]:
    """Every registry entry of ``az`` (strongly consistent, all pages)."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "az = :az",
        "ExpressionAttributeValues": {":az": {"S": az}},
        "ConsistentRead": True,
    }
    entries: list[StreamEntry] = []
    while True:
        page = dynamodb.query(**request)
        entries.extend(_entry(item) for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return tuple(sorted(entries, key=lambda e: _index_of(e.name)))
        request["ExclusiveStartKey"] = last


def collect_observation(
    cloudwatch: Any,
    *,
    az: str,
    streams: Sequence[StreamEntry],
    queue_name: str,
    now: float,
    policy: ScalingPolicy,
) -> AzObservation:
    """Read the metrics a decision needs from CloudWatch (one GetMetricData call per 500 series).

    A period with no data point counts as zero: Kinesis publishes nothing for a stream nobody
    writes to.
    """
    periods = policy.history_periods
    end = int(now // policy.period_s) * policy.period_s
    start = end - periods * policy.period_s
    queries: list[dict[str, Any]] = []
    keys: dict[str, tuple[str, str]] = {}

    def add(stream: str, metric: str) -> None:
        query_id = f"q{len(queries)}"
        keys[query_id] = (stream, metric)
        queries.append(
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Kinesis",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "StreamName", "Value": stream}],
                    },
                    "Period": policy.period_s,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
        )

    active = [s for s in streams if s.state == ACTIVE]
    draining = [s for s in streams if s.state == DRAINING]
    for entry in active:
        for metric in ("IncomingBytes", "IncomingRecords", "WriteProvisionedThroughputExceeded"):
            add(entry.name, metric)
    for entry in draining:
        add(entry.name, "IncomingRecords")
    queue_id = "queueage"
    queries.append(
        {
            "Id": queue_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                },
                "Period": policy.period_s,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
    )

    series: dict[str, dict[int, float]] = {}
    for batch_start in range(0, len(queries), 500):
        request: dict[str, Any] = {
            "MetricDataQueries": queries[batch_start : batch_start + 500],
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                points = series.setdefault(result["Id"], {})
                for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                    bucket = (int(stamp.timestamp()) - start) // policy.period_s
                    if 0 <= bucket < periods:
                        points[bucket] = points.get(bucket, 0.0) + float(value)
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token

    totals = [[0.0, 0.0, 0.0] for _ in range(periods)]
    draining_writes: dict[str, list[float]] = {s.name: [0.0] * periods for s in draining}
    slot = {"IncomingBytes": 0, "IncomingRecords": 1, "WriteProvisionedThroughputExceeded": 2}
    for query_id, (stream, metric) in keys.items():
        for bucket, value in series.get(query_id, {}).items():
            if stream in draining_writes:
                draining_writes[stream][bucket] += value
            else:
                totals[bucket][slot[metric]] += value
    queue_points = series.get(queue_id, {})
    queue_age = queue_points[max(queue_points)] if queue_points else None
    return AzObservation(
        az=az,
        streams=tuple(streams),
        load=tuple(PeriodLoad(b, r, t) for b, r, t in totals),
        draining_writes={k: tuple(v) for k, v in draining_writes.items()},
        queue_oldest_age_s=queue_age,
    )


# -- changing the registry and Kinesis -------------------------------------------------------


class StreamSetActuator:
    """Applies actions to the registry and Kinesis; every step is idempotent and resumable.

    Parameters
    ----------
    dynamodb, kinesis
        boto3 clients.
    table
        The registry table.
    shards, retention_hours, kms_key_id
        What every extra stream gets (the baseline's settings); ``kms_key_id`` None leaves a
        stream unencrypted (only for the local emulator).
    tags
        Tags of every extra stream (so cost reports and operators can find them).
    clock, sleep, wait_s
        Epoch-seconds clock, sleeper and how long one call waits for a stream to turn ACTIVE.
    """

    def __init__(
        self,
        dynamodb: Any,
        kinesis: Any,
        *,
        table: str,
        shards: int,
        retention_hours: int,
        kms_key_id: str | None,
        tags: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        wait_s: float = 120.0,
    ) -> None:
        self._db = dynamodb
        self._kinesis = kinesis
        self._table = table
        self._shards = shards
        self._retention_hours = retention_hours
        self._kms_key_id = kms_key_id
        self._tags = dict(tags or {})
        self._clock = clock
        self._sleep = sleep
        self._wait_s = wait_s

    def apply(self, action: Action) -> None:
        """Carry out one action (raises if a conditional write finds the item changed)."""
        if action.kind == "add":
            self.add(action.az, action.stream)
        elif action.kind == "drain":
            self._set_state(action.az, action.stream, DRAINING, expect=ACTIVE)
        elif action.kind == "reactivate":
            self._set_state(action.az, action.stream, ACTIVE, expect=DRAINING)
        elif action.kind == "remove":
            self.remove(action.az, action.stream)
        else:
            raise ValueError(f"unknown action {action.kind!r}")

    def add(self, az: str, name: str) -> bool:
        """Register ``name`` as provisioning, create it, and finish it if it turns ACTIVE soon.

        The registry item is written first so a crash between the two steps leaves something the
        next run finds and finishes. Returns True when the stream is active.
        """
        self._db.put_item(
            TableName=self._table,
            Item={
                "az": {"S": az},
                "stream_name": {"S": name},
                "state": {"S": PROVISIONING},
                "role": {"S": EXTRA},
                "created_at": {"N": str(int(self._clock()))},
            },
            ConditionExpression="attribute_not_exists(stream_name)",
        )
        return self.finish_provisioning(az, name)

    def finish_provisioning(self, az: str, name: str) -> bool:
        """Create / encrypt / extend retention as needed, then mark the stream active."""
        summary = self._summary(name)
        if summary is None:
            self._kinesis.create_stream(
                StreamName=name,
                ShardCount=self._shards,
                StreamModeDetails={"StreamMode": "PROVISIONED"},
            )
        summary = self._wait_active(name)
        if summary is None:
            return False
        if self._tags:
            # Tagging twice with the same values changes nothing, so a resumed run may repeat it.
            self._kinesis.add_tags_to_stream(StreamName=name, Tags=self._tags)
        if self._kms_key_id and summary.get("EncryptionType") != "KMS":
            self._kinesis.start_stream_encryption(
                StreamName=name, EncryptionType="KMS", KeyId=self._kms_key_id
            )
            summary = self._wait_active(name)
            if summary is None:
                return False
        if int(summary.get("RetentionPeriodHours", 24)) < self._retention_hours:
            self._kinesis.increase_stream_retention_period(
                StreamName=name, RetentionPeriodHours=self._retention_hours
            )
            if self._wait_active(name) is None:
                return False
        self._set_state(az, name, ACTIVE, expect=PROVISIONING)
        return True

    def remove(self, az: str, name: str) -> None:
        """Delete the stream, then its registry item (a crash in between is finished next run)."""
        with contextlib.suppress(self._kinesis.exceptions.ResourceNotFoundException):
            self._kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        self._db.delete_item(
            TableName=self._table,
            Key={"az": {"S": az}, "stream_name": {"S": name}},
            ConditionExpression="#s = :draining AND #r = :extra",
            ExpressionAttributeNames={"#s": "state", "#r": "role"},
            ExpressionAttributeValues={":draining": {"S": DRAINING}, ":extra": {"S": EXTRA}},
        )

    def _set_state(self, az: str, name: str, state: str, *, expect: str) -> None:
        now = str(int(self._clock()))
        names = {"#s": "state", "#r": "role"}
        values: dict[str, Any] = {
            ":new": {"S": state},
            ":old": {"S": expect},
            ":extra": {"S": EXTRA},
        }
        if state == DRAINING:
            update = "SET #s = :new, draining_since = :now"
            values[":now"] = {"N": now}
        else:
            # Becoming active again counts as a scale action for the cooldowns.
            update = "SET #s = :new, created_at = :now REMOVE draining_since"
            values[":now"] = {"N": now}
        self._db.update_item(
            TableName=self._table,
            Key={"az": {"S": az}, "stream_name": {"S": name}},
            UpdateExpression=update,
            # Baseline streams belong to Pulumi: only extra ones change state here.
            ConditionExpression="#s = :old AND #r = :extra",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def _summary(self, name: str) -> dict[str, Any] | None:
        try:
            summary: dict[str, Any] = self._kinesis.describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"
            ]
        except self._kinesis.exceptions.ResourceNotFoundException:
            return None
        return summary

    def _wait_active(self, name: str) -> dict[str, Any] | None:
        deadline = self._clock() + self._wait_s
        while True:
            summary = self._summary(name)
            if summary is not None and summary.get("StreamStatus") == "ACTIVE":
                return summary
            if self._clock() >= deadline:
                return None
            self._sleep(2.0)


# -- one run ---------------------------------------------------------------------------------


def run_once(
    *,
    dynamodb: Any,
    kinesis: Any,
    cloudwatch: Any,
    table: str,
    zones: Iterable[str],
    queue_name: str,
    policy: ScalingPolicy,
    actuator: StreamSetActuator,
    now: float | None = None,
) -> list[Decision]:
    """Finish provisioning, decide and apply, zone by zone; returns what was decided."""
    decisions = []
    for az in zones:
        at = time.time() if now is None else now
        entries = read_registry(dynamodb, table, az)
        for entry in entries:
            if entry.state == PROVISIONING:
                actuator.finish_provisioning(az, entry.name)
        entries = read_registry(dynamodb, table, az)
        obs = collect_observation(
            cloudwatch, az=az, streams=entries, queue_name=queue_name, now=at, policy=policy
        )
        decision = decide(obs, at, policy)
        for action in decision.actions:
            log.info(json.dumps({"event": "scale", **action.__dict__}))
            actuator.apply(action)
        decisions.append(decision)
    return decisions


def policy_from_env(env: Mapping[str, str]) -> ScalingPolicy:
    """A policy from ``AUTOSCALER_*`` variables (unset ones keep their defaults)."""
    policy = ScalingPolicy()
    changes: dict[str, Any] = {}
    for name, default in policy.__dict__.items():
        raw = env.get(f"AUTOSCALER_{name.upper()}")
        if raw is not None:
            # Config values arrive as text of floats ("6.0"); int fields take their integer.
            changes[name] = int(float(raw)) if isinstance(default, int) else float(raw)
    return replace(policy, **changes)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: one run over every configured zone (the schedule calls it)."""
    import boto3

    logging.getLogger().setLevel(logging.INFO)
    env = os.environ
    policy = policy_from_env(env)
    dynamodb = boto3.client("dynamodb")
    kinesis = boto3.client("kinesis")
    actuator = StreamSetActuator(
        dynamodb,
        kinesis,
        table=env["AUTOSCALER_REGISTRY_TABLE"],
        shards=policy.shards_per_stream,
        retention_hours=int(policy.retention_s // 3600),
        kms_key_id=env.get("AUTOSCALER_KMS_KEY_ID") or None,
        tags=json.loads(env.get("AUTOSCALER_STREAM_TAGS", "{}")),
        # Leave time in the Lambda's budget for the other zones.
        wait_s=float(env.get("AUTOSCALER_WAIT_S", "60")),
    )
    decisions = run_once(
        dynamodb=dynamodb,
        kinesis=kinesis,
        cloudwatch=boto3.client("cloudwatch"),
        table=env["AUTOSCALER_REGISTRY_TABLE"],
        zones=json.loads(env["AUTOSCALER_ZONES"]),
        queue_name=env["AUTOSCALER_MANIFEST_QUEUE"],
        policy=policy,
        actuator=actuator,
    )
    return {
        d.az: {"actions": [a.__dict__ for a in d.actions], "notes": list(d.notes)}
        for d in decisions
    }
