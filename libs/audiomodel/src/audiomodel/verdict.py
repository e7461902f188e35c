"""The verdict on one track, and the rule that turns findings and a score into a decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audiomodel.findings import Finding, Severity

if TYPE_CHECKING:
    from audiomodel.fingerprint import Landmarks

__all__ = ["Decision", "Label", "Thresholds", "Verdict", "decide"]


class Decision(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


class Label(StrEnum):
    REAL = "real"
    MOCK = "mock"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs of the learned model; stored with the model, chosen by the training script."""

    review: float = 0.5
    reject: float = 0.85


@dataclass(frozen=True, slots=True)
class Verdict:
    """One judgement of one track."""

    decision: Decision
    label: Label
    score: float
    findings: tuple[Finding, ...]
    model_version: str
    format: str
    size_bytes: int
    sha256: str
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    # Decoded audio length (0 when nothing decoded): what "x realtime" is measured against.
    duration_s: float = 0.0
    # The track's fingerprint landmarks when the caller asked for them (``fingerprint=True``):
    # for the index lookup, never part of the verdict's JSON or API form.
    fingerprint: Landmarks | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        """The one JSON form of a verdict (``audioval validate``, ``audioval upload`` and the
        batch job print it, adding ``path`` and their own keys): see "Verdict JSON" in
        ``FINDINGS.md``. Score, duration and timings are rounded (6, 3 and 3 decimals)."""
        return {
            "verdict": self.decision.value,
            "label": self.label.value,
            "score": round(self.score, 6),
            "findings": [f.to_dict() for f in self.findings],
            "model_version": self.model_version,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "duration_s": round(self.duration_s, 3),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Verdict:
        """The verdict :meth:`to_dict` wrote (keys it does not know, such as ``path``, are
        ignored; optional ones default). Raises KeyError or ValueError for a malformed one."""
        return cls(
            decision=Decision(doc["verdict"]),
            label=Label(doc["label"]),
            score=float(doc["score"]),
            findings=tuple(
                Finding(
                    code=str(item["code"]),
                    message=str(item.get("message", "")),
                    severity=Severity[str(item.get("severity", "info")).upper()],
                    evidence=dict(item.get("evidence", {})),
                )
                for item in doc.get("findings", ())
            ),
            model_version=str(doc.get("model_version", "")),
            format=str(doc.get("format", "")),
            size_bytes=int(doc.get("size_bytes", 0)),
            sha256=str(doc.get("sha256", "")),
            timings_ms={str(k): float(v) for k, v in doc.get("timings_ms", {}).items()},
            duration_s=float(doc.get("duration_s", 0.0)),
        )


def decide(
    findings: Sequence[Finding], model_score: float | None, thresholds: Thresholds
) -> tuple[Decision, Label, float]:
    """Combine hard findings with the learned score into (decision, label, score).

    A MALICIOUS finding rejects whatever the model says; a SUSPICIOUS one holds for review at
    least. Without a model score (nothing decodable to score) the findings alone decide. The
    reported score is the model's, raised to the floor each severity implies, so that a
    rejected track never shows a reassuring score.
    """
    worst = max((f.severity for f in findings), default=Severity.INFO)
    by_findings = {Severity.MALICIOUS: Decision.REJECT, Severity.SUSPICIOUS: Decision.REVIEW}.get(
        worst, Decision.ACCEPT
    )
    score = 0.0 if model_score is None else float(min(max(model_score, 0.0), 1.0))
    if score >= thresholds.reject:
        by_score = Decision.REJECT
    elif score >= thresholds.review:
        by_score = Decision.REVIEW
    else:
        by_score = Decision.ACCEPT
    decision = max(by_findings, by_score, key=_SEVERITY_ORDER.index)
    if worst >= Severity.MALICIOUS:
        score = max(score, 0.99)
    elif worst >= Severity.SUSPICIOUS:
        score = max(score, thresholds.review)
    label = Label.REAL if decision is Decision.ACCEPT else Label.MOCK
    return decision, label, score


_SEVERITY_ORDER = [Decision.ACCEPT, Decision.REVIEW, Decision.REJECT]
