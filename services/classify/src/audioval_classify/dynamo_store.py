"""Verdicts in DynamoDB: exactly one per track, by conditional writes.

Item: ``track_id`` (S, key), ``state`` ("pending" | "judged"), ``user_id``, ``verdict`` (B: the
binary ``audioval.v1.Verdict``), ``updated_at`` (N, epoch ms). Ingest writes the pending item;
the first verdict stored for a track wins and later ones read it back.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from audioval.v1 import verdict_pb2
from audioval_classify.store import TrackLookup

FIRST_VERDICT_ONLY = "attribute_not_exists(track_id) OR #s = :pending"


class DynamoVerdictStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put_if_absent(self, verdict: verdict_pb2.Verdict) -> tuple[verdict_pb2.Verdict, bool]:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "track_id": {"S": verdict.track_id},
                    "state": {"S": "judged"},
                    "user_id": {"S": verdict.user_id},
                    "verdict": {"B": verdict.SerializeToString()},
                    "updated_at": {"N": str(int(time.time() * 1000))},
                },
                ConditionExpression=FIRST_VERDICT_ONLY,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":pending": {"S": "pending"}},
            )
            return verdict, True
        except self._db.exceptions.ConditionalCheckFailedException:
            stored = self.get(verdict.track_id)
            if stored is None:  # judged item without a verdict: should not happen; keep ours
                raise
            return stored, False

    def _item(self, track_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, Key={"track_id": {"S": track_id}}, ConsistentRead=True
        ).get("Item")
        return item

    def get(self, track_id: str) -> verdict_pb2.Verdict | None:
        return self.lookup(track_id)[1]

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        item = self._item(track_id)
        if item is None:
            return TrackLookup.UNKNOWN, None
        if item.get("state", {}).get("S") == "judged" and "verdict" in item:
            return TrackLookup.JUDGED, verdict_pb2.Verdict.FromString(item["verdict"]["B"])
        return TrackLookup.PENDING, None

    def mark_pending(self, track_id: str, user_id: str) -> None:
        # Already pending or judged is fine: the item exists either way.
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.put_item(
                TableName=self._table,
                Item={
                    "track_id": {"S": track_id},
                    "state": {"S": "pending"},
                    "user_id": {"S": user_id},
                    "updated_at": {"N": str(int(time.time() * 1000))},
                },
                ConditionExpression="attribute_not_exists(track_id)",
            )
