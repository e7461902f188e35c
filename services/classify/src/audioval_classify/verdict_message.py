"""The library's :class:`~audiomodel.verdict.Verdict` as the API's ``audioval.v1.Verdict``."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import struct_pb2, timestamp_pb2

from audiomodel import Verdict
from audioval.v1 import verdict_pb2

_DECISIONS = {
    "accept": verdict_pb2.DECISION_ACCEPT,
    "review": verdict_pb2.DECISION_REVIEW,
    "reject": verdict_pb2.DECISION_REJECT,
}
_LABELS = {"real": verdict_pb2.LABEL_REAL, "mock": verdict_pb2.LABEL_MOCK}


def to_proto(verdict: Verdict, *, track_id: str, user_id: str) -> verdict_pb2.Verdict:
    """The library's verdict as the API message."""
    judged_at = timestamp_pb2.Timestamp()
    judged_at.FromDatetime(datetime.now(UTC))
    message = verdict_pb2.Verdict(
        track_id=track_id,
        decision=_DECISIONS[verdict.decision.value],
        label=_LABELS[verdict.label.value],
        score=verdict.score,
        model_version=verdict.model_version,
        user_id=user_id,
        sha256=verdict.sha256,
        size_bytes=verdict.size_bytes,
        format=verdict.format,
        timings_ms=dict(verdict.timings_ms),
        judged_at=judged_at,
    )
    for item in verdict.findings:
        evidence = struct_pb2.Struct()
        evidence.update(dict(item.evidence))
        message.findings.add(
            code=item.code, message=item.message, severity=int(item.severity), evidence=evidence
        )
    return message
