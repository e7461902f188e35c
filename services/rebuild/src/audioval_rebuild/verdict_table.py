"""The worker's view of the verdict table: is a track judged, and refusing one it cannot rebuild.

Items follow the pipeline contract: ``track_id`` (S, key), ``state`` ("pending" | "judged"),
``user_id``, ``verdict`` (B: binary ``audioval.v1.Verdict``), ``updated_at`` (N, epoch ms).
Classify writes judged items with the same conditional put used here, so whichever verdict is
stored first is the only one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_rebuild.integrity import HashMismatchError, IntegrityError

__all__ = ["FIRST_VERDICT_ONLY", "VerdictTable", "rejection"]

FIRST_VERDICT_ONLY = "attribute_not_exists(track_id) OR #s = :pending"

try:
    _VERSION = metadata.version("audioval-rebuild")
except metadata.PackageNotFoundError:  # running from a source tree without an install
    _VERSION = "0+unknown"
MODEL_VERSION = f"audioval-rebuild/{_VERSION}"


class VerdictTable:
    """Reads a track's state and stores a first verdict, conditionally."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def is_judged(self, track_id: str) -> bool:
        """Whether a verdict is stored for ``track_id`` (a strongly consistent read)."""
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
                    "updated_at": {"N": str(int(time.time() * 1000))},
                },
                ConditionExpression=FIRST_VERDICT_ONLY,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":pending": {"S": "pending"}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def rejection(
    manifest: pipeline_pb2.Manifest,
    error: IntegrityError,
    *,
    elapsed_ms: float,
) -> verdict_pb2.Verdict:
    """A REJECT verdict for a track whose records do not rebuild the file its manifest names.

    The track is never accepted unseen: label MOCK, score 1.0, one malicious finding with the
    error's code and evidence. ``sha256`` and ``size_bytes`` are the bytes actually rebuilt
    for a hash mismatch (every byte was read); otherwise they are left empty.
    """
    evidence = struct_pb2.Struct()
    evidence.update(dict(error.evidence))
    judged_at = timestamp_pb2.Timestamp()
    judged_at.FromDatetime(datetime.now(UTC))
    # Only a hash mismatch has rebuilt every byte; then say which bytes were refused.
    rebuilt = isinstance(error, HashMismatchError)
    return verdict_pb2.Verdict(
        track_id=manifest.track_id,
        decision=verdict_pb2.DECISION_REJECT,
        label=verdict_pb2.LABEL_MOCK,
        score=1.0,
        findings=[
            verdict_pb2.Finding(
                code=error.code,
                message=error.message,
                severity=verdict_pb2.SEVERITY_MALICIOUS,
                evidence=evidence,
            )
        ],
        model_version=MODEL_VERSION,
        user_id=manifest.user_id,
        sha256=str(error.evidence["actual"]) if rebuilt else "",
        size_bytes=int(error.evidence["size_bytes"]) if rebuilt else 0,
        format="unknown",
        timings_ms={"rebuild": elapsed_ms, "total": elapsed_ms},
        judged_at=judged_at,
    )
