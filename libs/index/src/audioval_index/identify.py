"""What an index match means for a verdict: ``fingerprint.known_bad`` and ``fingerprint.duplicate``.

``audiomodel`` computes the landmarks (``validate_*(..., fingerprint=True)``) and knows nothing
of stores; this module looks them up here and turns the matches into audiomodel findings, then
re-decides the verdict with :func:`audiomodel.decide` (a known-bad match is MALICIOUS: reject;
a catalogue match is INFO: the decision stands). ``audioval validate --index`` and classify's
judge both call :func:`identify`, so the two say the same thing about the same match.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from audiomodel.findings import EvidenceValue, Finding, finding
from audiomodel.fingerprint import Landmarks
from audiomodel.verdict import Decision, Label, Thresholds, Verdict, decide
from audioval_index.store import FingerprintIndex, Match

__all__ = ["MATCH_LIMIT", "identify", "match_findings", "with_findings"]

# References reported per query: a track rarely matches more than a few, and each is a finding.
MATCH_LIMIT = 5


def _evidence(match: Match) -> dict[str, EvidenceValue]:
    evidence: dict[str, EvidenceValue] = {
        "ref": match.ref,
        "list": match.list,
        "score": round(match.score, 4),
        "query_start_s": round(match.query_start_s, 3),
        "query_end_s": round(match.query_start_s + match.matched_s, 3),
        "ref_start_s": round(match.ref_start_s, 3),
        "ref_end_s": round(match.ref_start_s + match.matched_s * match.scale, 3),
        "matched_s": round(match.matched_s, 3),
        "scale": round(match.scale, 4),
    }
    if match.track_id:
        evidence["track_id"] = match.track_id
    if match.path:
        evidence["path"] = match.path
    return evidence


def match_findings(matches: Sequence[Match], *, track_id: str | None = None) -> list[Finding]:
    """One finding per matched reference: known-bad ones reject, catalogue ones inform.

    A catalogue reference holding ``track_id`` itself (the same upload judged again) is not a
    duplicate of itself and is skipped.
    """
    out: list[Finding] = []
    for match in matches:
        where = (
            f"{match.query_start_s:.1f}-{match.query_start_s + match.matched_s:.1f} s of this "
            f"track match {match.ref_start_s:.1f} s on of"
        )
        if match.list == "known-bad":
            name = match.track_id or match.path or f"ref {match.ref}"
            out.append(
                finding(
                    "fingerprint.known_bad",
                    f"{where} known-bad reference {name} (score {match.score:.2f}).",
                    **_evidence(match),
                )
            )
        elif not (track_id and match.track_id == track_id):
            original = match.track_id or match.path or f"ref {match.ref}"
            out.append(
                finding(
                    "fingerprint.duplicate",
                    f"{where} catalogue track {original} (score {match.score:.2f}).",
                    **_evidence(match),
                )
            )
    return out


def with_findings(verdict: Verdict, extra: Sequence[Finding]) -> Verdict:
    """The verdict with ``extra`` findings added and the decision re-decided.

    The findings decide as :func:`audiomodel.decide` says; the result is never milder than the
    verdict was (its score and decision already hold the model's say)."""
    if not extra:
        return verdict
    decision, _, score = decide(extra, None, Thresholds())
    order = [Decision.ACCEPT, Decision.REVIEW, Decision.REJECT]
    decision = max(decision, verdict.decision, key=order.index)
    findings = sorted((*verdict.findings, *extra), key=lambda f: -f.severity)
    return replace(
        verdict,
        decision=decision,
        label=Label.REAL if decision is Decision.ACCEPT else Label.MOCK,
        score=max(score, verdict.score),
        findings=tuple(findings),
    )


def identify(
    verdict: Verdict,
    index: FingerprintIndex,
    *,
    marks: Landmarks | None = None,
    track_id: str | None = None,
    limit: int = MATCH_LIMIT,
) -> tuple[Verdict, list[Match]]:
    """Look the track's landmarks (``marks``, else ``verdict.fingerprint``) up in ``index``.

    Returns the verdict with the fingerprint findings added and re-decided, and the matches.
    A verdict without landmarks (nothing decoded) is returned as it is.
    """
    marks = marks if marks is not None else verdict.fingerprint
    if marks is None or len(marks) == 0:
        return verdict, []
    started = time.perf_counter()
    matches = index.match(marks, limit=limit)
    judged = with_findings(verdict, match_findings(matches, track_id=track_id))
    timings = {**judged.timings_ms, "index_lookup": (time.perf_counter() - started) * 1e3}
    return replace(judged, timings_ms=timings), matches
