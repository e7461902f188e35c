"""One run of the Lambda: finish provisioning, observe, decide and apply, zone by zone."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from audioval_pipeline.stream_registry import PROVISIONING, read_zone
from audioval_stream_autoscaler.actuator import StreamSetActuator
from audioval_stream_autoscaler.decision import Decision, ScalingPolicy, decide
from audioval_stream_autoscaler.metrics import collect_observation

__all__ = ["handler", "policy_from_env", "run_once"]

log = logging.getLogger(__name__)


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
        entries = read_zone(dynamodb, table, az)
        for entry in entries:
            if entry.state == PROVISIONING:
                actuator.finish_provisioning(az, entry.stream_name)
        entries = read_zone(dynamodb, table, az)
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
