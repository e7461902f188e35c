"""Applying a decision: the registry's extra-stream items and the Kinesis streams behind them.

Every registry write goes through :mod:`audioval_pipeline.stream_registry` (the record's one
home); this module orders them with the Kinesis calls so each step is idempotent and resumable.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from audioval_pipeline.stream_registry import (
    ACTIVE,
    DRAINING,
    EXTRA,
    PROVISIONING,
    StreamEntry,
    delete_drained_extra,
    move_extra,
    put_entry,
)
from audioval_stream_autoscaler.decision import Action

__all__ = ["StreamSetActuator"]


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
        entry = StreamEntry(az, name, PROVISIONING, EXTRA, created_at=self._clock())
        put_entry(self._db, self._table, entry, only_new=True)
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
        delete_drained_extra(self._db, self._table, az, name)

    def _set_state(self, az: str, name: str, state: str, *, expect: str) -> None:
        move_extra(self._db, self._table, az, name, state=state, expect=expect, now=self._clock())

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
