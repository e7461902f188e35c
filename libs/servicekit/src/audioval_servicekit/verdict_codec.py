"""The verdict between the library and the API: the one conversion each way.

:func:`to_proto` turns :class:`audiomodel.verdict.Verdict` into ``audioval.v1.Verdict`` (classify
storing a judgement, rebuild storing a rejection); :func:`from_proto` turns the message back
(the CLI printing what classify stored, in the library's JSON form). It lives here, beside the
services, because it needs both the library and the API stubs, and ``audiomodel`` knows nothing
of the wire. Import it with the ``verdicts`` extra (``audioval-servicekit[verdicts]``), which
brings ``audioval-audiomodel``.

What the message carries and the library's verdict does not: ``track_id``, ``user_id``,
``judged_at`` (arguments of :func:`to_proto`). What the library's verdict carries and the
message does not: ``duration_s`` (0.0 after :func:`from_proto`). Evidence travels as a
``google.protobuf.Struct``, whose numbers are doubles: :func:`from_proto` gives whole numbers
back as ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from audiomodel import Decision, Finding, Label, Severity, Verdict
from audiomodel.findings import EvidenceValue
from audioval.v1 import verdict_pb2

__all__ = ["from_proto", "to_proto"]

_DECISIONS = {
    Decision.ACCEPT: verdict_pb2.DECISION_ACCEPT,
    Decision.REVIEW: verdict_pb2.DECISION_REVIEW,
    Decision.REJECT: verdict_pb2.DECISION_REJECT,
}
_LABELS = {Label.REAL: verdict_pb2.LABEL_REAL, Label.MOCK: verdict_pb2.LABEL_MOCK}
_SEVERITIES = {
    Severity.INFO: verdict_pb2.SEVERITY_INFO,
    Severity.SUSPICIOUS: verdict_pb2.SEVERITY_SUSPICIOUS,
    Severity.MALICIOUS: verdict_pb2.SEVERITY_MALICIOUS,
}
_DECISIONS_BACK = {wire: domain for domain, wire in _DECISIONS.items()}
_LABELS_BACK = {wire: domain for domain, wire in _LABELS.items()}
_SEVERITIES_BACK = {wire: domain for domain, wire in _SEVERITIES.items()}


def to_proto(
    verdict: Verdict, *, track_id: str, user_id: str, judged_at: datetime | None = None
) -> verdict_pb2.Verdict:
    """The library's verdict as the API message, judged ``judged_at`` (default: now)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(judged_at or datetime.now(UTC))
    return verdict_pb2.Verdict(
        track_id=track_id,
        decision=_DECISIONS[verdict.decision],
        label=_LABELS[verdict.label],
        score=verdict.score,
        findings=[_finding_to_proto(item) for item in verdict.findings],
        model_version=verdict.model_version,
        user_id=user_id,
        sha256=verdict.sha256,
        size_bytes=verdict.size_bytes,
        format=verdict.format,
        timings_ms=dict(verdict.timings_ms),
        judged_at=stamp,
    )


def from_proto(message: verdict_pb2.Verdict) -> Verdict:
    """The API message as the library's verdict; ValueError for an unset decision or label."""
    try:
        decision = _DECISIONS_BACK[message.decision]
        label = _LABELS_BACK[message.label]
    except KeyError as err:
        raise ValueError(f"verdict of track {message.track_id!r} has no {err}") from None
    return Verdict(
        decision=decision,
        label=label,
        score=message.score,
        findings=tuple(_finding_from_proto(item) for item in message.findings),
        model_version=message.model_version,
        format=message.format,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
        timings_ms=dict(message.timings_ms),
    )


def _finding_to_proto(item: Finding) -> verdict_pb2.Finding:
    evidence = struct_pb2.Struct()
    evidence.update(dict(item.evidence))
    return verdict_pb2.Finding(
        code=item.code,
        message=item.message,
        severity=_SEVERITIES[item.severity],
        evidence=evidence,
    )


def _finding_from_proto(item: verdict_pb2.Finding) -> Finding:
    # An unset severity (SEVERITY_UNSPECIFIED) reads as INFO: the decision carries the weight.
    severity = _SEVERITIES_BACK.get(item.severity, Severity.INFO)
    return Finding(item.code, item.message, severity, _evidence(item.evidence))


def _evidence(struct: struct_pb2.Struct) -> Mapping[str, EvidenceValue]:
    values = cast(dict[str, EvidenceValue], json_format.MessageToDict(struct))
    return {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in values.items()
    }
