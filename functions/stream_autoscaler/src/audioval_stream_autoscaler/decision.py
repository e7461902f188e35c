"""What to do with one zone's stream set: a pure function of the registry and the metrics.

The rules (when to add, drain and remove a stream) are the package docstring's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audioval_pipeline.stream_registry import (
    ACTIVE,
    DRAINING,
    EXTRA,
    PROVISIONING,
    StreamEntry,
    index_of,
)

__all__ = [
    "SHARD_BYTES_PER_S",
    "SHARD_RECORDS_PER_S",
    "Action",
    "AzObservation",
    "Decision",
    "PeriodLoad",
    "ScalingPolicy",
    "decide",
]

# Kinesis' write limits of one provisioned shard.
SHARD_BYTES_PER_S = 1024 * 1024
SHARD_RECORDS_PER_S = 1000


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
        return (
            False,
            f"{entry.stream_name}: draining for {drained_for:.0f}s < {policy.drain_quiet_s:.0f}s",
        )
    quiet_periods = -(-int(policy.drain_quiet_s) // policy.period_s)
    writes = obs.draining_writes.get(entry.stream_name, ())
    recent = writes[-quiet_periods:]
    if any(w > 0 for w in recent):
        return False, f"{entry.stream_name}: still written to within the quiet window"
    if drained_for >= policy.drain_quiet_s + policy.retention_s:
        return True, f"{entry.stream_name}: retention passed since it went quiet"
    age = obs.queue_oldest_age_s
    if age is None:
        return False, f"{entry.stream_name}: manifest queue age unknown; waiting for the hard bound"
    if age + policy.manifest_slack_s >= policy.drain_quiet_s:
        return False, f"{entry.stream_name}: manifest queue holds messages {age:.0f}s old"
    return True, f"{entry.stream_name}: quiet and no manifest old enough to name it"


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
        (s for s in obs.streams if s.state == DRAINING), key=lambda s: index_of(s.stream_name)
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
        [s.created_at or 0.0 for s in obs.streams if s.role == EXTRA]
        + [s.draining_since or 0.0 for s in draining],
        default=0.0,
    )

    reactivating: str | None = None
    if wants_more and draining:
        # Load is back: the newest draining stream is warm and costs nothing to take back.
        reactivating = draining[-1].stream_name
        why = f"{throttled_periods} throttled of last {len(recent_out)} periods" + (
            ", set hot" if hot else ""
        )
        actions.append(Action("reactivate", obs.az, reactivating, why))

    for entry in draining:
        if entry.stream_name == reactivating or entry.role != EXTRA:
            continue
        ok, why = _removable(entry, obs, now, policy)
        if ok:
            actions.append(Action("remove", obs.az, entry.stream_name, why))
        else:
            notes.append(why)

    if reactivating is not None:
        return Decision(obs.az, tuple(actions), tuple(notes))

    if wants_more:
        if provisioning:
            notes.append(f"{provisioning[0].stream_name} is still being provisioned")
        elif len(active) >= policy.max_streams:
            notes.append(f"at max_streams={policy.max_streams}; cannot add")
        elif now - last_change < policy.scale_out_cooldown_s:
            notes.append("scale-out cooldown")
        else:
            taken = [index_of(s.stream_name) for s in obs.streams]
            prefix = _name_prefix(obs)
            name = f"{prefix}-{max(taken, default=-1) + 1}"
            why = f"{throttled_periods} throttled of last {len(recent_out)} periods" + (
                ", set hot" if hot else ""
            )
            actions.append(Action("add", obs.az, name, why))
        return Decision(obs.az, tuple(actions), tuple(notes))

    extras = sorted((s for s in active if s.role == EXTRA), key=lambda s: index_of(s.stream_name))
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
                    extras[-1].stream_name,
                    f"last {len(recent_in)} periods fit {len(active) - 1} streams",
                )
            )
    return Decision(obs.az, tuple(actions), tuple(notes))


def _name_prefix(obs: AzObservation) -> str:
    """``<prefix>-<az>`` from any entry's name (every name is ``<prefix>-<az>-<index>``)."""
    for entry in obs.streams:
        head, _, tail = entry.stream_name.rpartition("-")
        if tail.isdigit():
            return head
    raise ValueError(f"zone {obs.az} has no stream to take the name scheme from")
