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

import numpy as np

from audiomodel.findings import EvidenceValue, Finding, finding
from audiomodel.fingerprint import FRAME_RATE, Landmarks
from audiomodel.verdict import Decision, Label, Thresholds, Verdict, decide
from audioval_index.store import KNOWN_BAD, FingerprintIndex, Match

__all__ = [
    "MATCH_LIMIT",
    "MIN_FINDING_ALIGNED",
    "identify",
    "match_findings",
    "match_windows",
    "with_findings",
]

# References reported per query: a track rarely matches more than a few, and each is a finding.
MATCH_LIMIT = 5
# A long recording is looked up in windows of WINDOW_S every HOP_S, each window a query of the
# kind the matcher's thresholds were set for (10-20 s excerpts: no false match on >= 1,000).
# One whole long track as one query sums chance votes over all its windows: measured on
# synthetic songs, every one of 8 unrelated 180 s queries against 30 references "matched"
# (35-42 agreeing anchors, score 0.04-0.05), which as known-bad would reject innocent tracks.
# Any copy of HOP_S + WINDOW_S seconds or more holds a whole window.
WINDOW_S = 20.0
HOP_S = 10.0
# Agreeing anchors a match needs to become a finding: twice the matcher's floor (6). Windows
# alone still left chance matches between synthetic songs of one generator at 6-9 anchors
# (score 0.07-0.09; 40 of 8 x 17 windows against 30 references), while a re-encoded 15 s copy
# agrees on ~60. A reject must not rest on chance; weaker matches stay visible to MatchTrack
# and `audioval index match`, not in verdicts.
MIN_FINDING_ALIGNED = 12


def match_windows(index: FingerprintIndex, marks: Landmarks, *, limit: int) -> list[Match]:
    """References found in ``marks``, looked up window by window; per reference the best
    window's match (times in the whole recording), best first: the ``limit`` best, and every
    known-bad reference found beyond them (as :meth:`FingerprintIndex.match` reports them)."""
    if marks.duration_s <= WINDOW_S + HOP_S:
        return index.match(marks, limit=limit)
    best: dict[int, Match] = {}
    window, hop = WINDOW_S * FRAME_RATE, HOP_S * FRAME_RATE
    start = 0.0
    end_frames = marks.duration_s * FRAME_RATE
    while start < end_frames - hop or start == 0.0:
        lo, hi = np.searchsorted(marks.times, [start, start + window])
        if hi - lo > 0:
            part = Landmarks(
                times=marks.times[lo:hi],
                bands=marks.bands[lo:hi],
                duration_s=min(WINDOW_S, marks.duration_s - start / FRAME_RATE),
            )
            for match in index.match(part, limit=limit):
                held = best.get(match.ref)
                if held is None or match.score > held.score:
                    best[match.ref] = match
        start += hop
    ranked = sorted(best.values(), key=lambda m: -m.score)
    return ranked[:limit] + [m for m in ranked[limit:] if m.list == KNOWN_BAD]


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
    duplicate of itself and is skipped, and so is a match of fewer than
    :data:`MIN_FINDING_ALIGNED` agreeing anchors.
    """
    out: list[Finding] = []
    for match in matches:
        if match.count < MIN_FINDING_ALIGNED:
            continue
        where = (
            f"{match.query_start_s:.1f}-{match.query_start_s + match.matched_s:.1f} s of this "
            f"track match {match.ref_start_s:.1f} s on of"
        )
        if match.list == KNOWN_BAD:
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
    matches = match_windows(index, marks, limit=limit)
    judged = with_findings(verdict, match_findings(matches, track_id=track_id))
    timings = {**judged.timings_ms, "index_lookup": (time.perf_counter() - started) * 1e3}
    return replace(judged, timings_ms=timings), matches
