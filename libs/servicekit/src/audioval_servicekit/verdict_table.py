"""The verdict table every service shares: one item per track, one verdict ever.

Item: ``track_id`` (S, key), ``state`` ("pending" | "judged"), ``user_id``, ``verdict`` (B: the
binary ``audioval.v1.Verdict``), ``updated_at`` (N, epoch ms). Ingest writes the pending item;
classify (a judged track) and rebuild (a track it could not rebuild) store verdicts with the
same conditional put, so whichever verdict is stored first is the only one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from enum import Enum
from typing import Any

from audioval.v1 import verdict_pb2

__all__ = ["FIRST_VERDICT_ONLY", "TrackLookup", "VerdictTable", "verdict_from_item"]

FIRST_VERDICT_ONLY = "attribute_not_exists(track_id) OR #s = :pending"


class TrackLookup(Enum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    JUDGED = "judged"


def verdict_from_item(item: Mapping[str, Any]) -> verdict_pb2.Verdict | None:
    """The verdict a table item holds (an item from GetItem or a stream record's image).

    None for a pending item. Raises ``google.protobuf.message.DecodeError`` when the stored
    bytes are not a ``Verdict``.
    """
    if item.get("state", {}).get("S") != "judged" or "verdict" not in item:
        return None
    return verdict_pb2.Verdict.FromString(item["verdict"]["B"])


def _now_ms() -> str:
    return str(int(time.time() * 1000))


class VerdictTable:
    """Reads and conditional writes of the verdict table (boto3 DynamoDB client passed in)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        """The track's state and, when judged, its verdict, from one strongly consistent read."""
        item = self._db.get_item(
            TableName=self._table, Key={"track_id": {"S": track_id}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return TrackLookup.UNKNOWN, None
        verdict = verdict_from_item(item)
        if verdict is not None:
            return TrackLookup.JUDGED, verdict
        return TrackLookup.PENDING, None

    def get(self, track_id: str) -> verdict_pb2.Verdict | None:
        return self.lookup(track_id)[1]

    def is_judged(self, track_id: str) -> bool:
        """Whether a verdict is stored (reads the state only)."""
        item = self._db.get_item(
            TableName=self._table,
            Key={"track_id": {"S": track_id}},
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "state"},
        ).get("Item")
        return item is not None and item.get("state", {}).get("S") == "judged"

    def put_first(self, verdict: verdict_pb2.Verdict) -> bool:
        """Store ``verdict`` unless the track is judged already; True when it was stored."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "track_id": {"S": verdict.track_id},
                    "state": {"S": "judged"},
                    "user_id": {"S": verdict.user_id},
                    "verdict": {"B": verdict.SerializeToString()},
                    "updated_at": {"N": _now_ms()},
                },
                ConditionExpression=FIRST_VERDICT_ONLY,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":pending": {"S": "pending"}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_pending(self, track_id: str, user_id: str) -> None:
        """Record that a track is in flight; an existing item (pending or judged) is left alone."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.put_item(
                TableName=self._table,
                Item={
                    "track_id": {"S": track_id},
                    "state": {"S": "pending"},
                    "user_id": {"S": user_id},
                    "updated_at": {"N": _now_ms()},
                },
                ConditionExpression="attribute_not_exists(track_id)",
            )
