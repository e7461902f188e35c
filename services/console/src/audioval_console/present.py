"""A stored verdict in plain words for the track page: findings, their evidence, matches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audiomodel.findings import CODES
from audiomodel.payload import describe_size
from audioval.v1 import verdict_pb2
from audioval_servicekit.verdict_codec import from_proto

__all__ = ["FindingView", "findings_of", "matches_of", "verdict_doc", "when"]

_SEVERITY = {
    verdict_pb2.SEVERITY_INFO: "info",
    verdict_pb2.SEVERITY_SUSPICIOUS: "suspicious",
    verdict_pb2.SEVERITY_MALICIOUS: "malicious",
}


@dataclass(frozen=True)
class FindingView:
    code: str
    severity: str
    what: str  # what the code means, from the registry (FINDINGS.md)
    message: str  # what the validator saw in this track
    evidence: list[tuple[str, str]]


def verdict_doc(verdict: verdict_pb2.Verdict) -> dict[str, object]:
    """The verdict's JSON form (as ``audioval validate`` prints it), what the picture draws."""
    return {"track_id": verdict.track_id, **from_proto(verdict).to_dict()}


def findings_of(verdict: verdict_pb2.Verdict) -> list[FindingView]:
    return [
        FindingView(
            code=f.code,
            severity=_SEVERITY.get(f.severity, "?"),
            what=CODES.get(f.code, (None, ""))[1],
            message=f.message,
            evidence=[(k, _evidence_value(k, v)) for k, v in _struct(f.evidence).items()],
        )
        for f in verdict.findings
    ]


def matches_of(verdict: verdict_pb2.Verdict) -> list[dict[str, str]]:
    """The fingerprint matches (``fingerprint.*`` findings), each as its evidence."""
    return [
        {"code": f.code, **{k: _evidence_value(k, v) for k, v in _struct(f.evidence).items()}}
        for f in verdict.findings
        if f.code.startswith("fingerprint.")
    ]


def when(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _struct(evidence: Any) -> Mapping[str, Any]:
    from google.protobuf import json_format

    value = json_format.MessageToDict(evidence)
    return value if isinstance(value, dict) else {}


def _evidence_value(key: str, value: object) -> str:
    """Offsets in hex and decimal, sizes in KiB/MiB, seconds as clock times."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _short(value)
    number = int(value) if float(value).is_integer() else value
    if isinstance(number, int) and (key.endswith("offset") or key.endswith("_at")):
        return f"byte {number:,} (0x{number:x})"
    if isinstance(number, int) and (key.endswith("bytes") or "payload" in key):
        return f"{describe_size(number)} ({number:,} bytes)"
    if key.endswith("_s") or key.endswith("seconds"):
        seconds = float(value)
        return f"{int(seconds // 60)}:{seconds % 60:06.3f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _short(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
