"""Re-scan: a new known-bad reference finds the accepted tracks that already copy it.

Nothing is decoded again: the reference's landmarks are matched against the index's postings,
window by window (``audioval_index.match_windows``: 20 s every 10 s, so a copy of any part of it
is found and chance votes do not pile up over a long reference) with a high match limit, and the
catalogue references that match name the accepted tracks. Each such
track's stored verdict is superseded (reject, ``fingerprint.known_bad``) through the store's one
audited ``supersede`` write, which replaces only the exact verdict read; the new verdict reaches
``WatchVerdicts`` and the track leaves the catalogue.

Here it runs in the classify process that holds the index, inside AddReference; with the index
sharded over Ray actors each shard would match its own postings (the next slice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from audiomodel import Decision
from audiomodel.fingerprint import Landmarks
from audioval.v1 import verdict_pb2
from audioval_classify.identity import CATALOGUE, TrackIndex
from audioval_classify.store import VerdictBroadcaster, VerdictStore
from audioval_index import Match, Reference, match_findings, with_findings
from audioval_index.identify import MIN_FINDING_ALIGNED
from audioval_servicekit.verdict_codec import from_proto, to_proto

__all__ = ["RESCAN_MATCH_LIMIT", "RESCAN_MIN_ALIGNED", "Rescan", "Superseded"]

log = logging.getLogger(__name__)

# Catalogue tracks one reference may turn up (copies of one recording; more are reported on
# the next re-scan of the same reference).
RESCAN_MATCH_LIMIT = 1000
# Agreeing anchors a re-scan match needs: what a verdict's fingerprint finding needs.
RESCAN_MIN_ALIGNED = MIN_FINDING_ALIGNED


@dataclass(frozen=True)
class Superseded:
    """A track whose accepted verdict a re-scan replaced."""

    track_id: str
    verdict: verdict_pb2.Verdict


class Rescan:
    """Supersedes the verdicts of accepted tracks that match a new known-bad reference."""

    def __init__(
        self, index: TrackIndex, store: VerdictStore, broadcaster: VerdictBroadcaster
    ) -> None:
        self._index = index
        self._store = store
        self._broadcaster = broadcaster

    def run(self, reference: Reference, marks: Landmarks) -> list[Superseded]:
        """Find the catalogue tracks that match ``reference`` (its ``marks``) and reject them."""
        out: list[Superseded] = []
        for match in self._index.match(marks, limit=RESCAN_MATCH_LIMIT):
            if match.list != CATALOGUE or not match.track_id or match.ref == reference.ref:
                continue
            if match.count < RESCAN_MIN_ALIGNED:
                continue
            done = self._supersede(match, reference)
            if done is not None:
                out.append(done)
        log.info(
            "re-scan",
            extra={"ref": reference.ref, "superseded": [s.track_id for s in out]},
        )
        return out

    def _supersede(self, match: Match, reference: Reference) -> Superseded | None:
        track_id = str(match.track_id)
        stored = self._store.get(track_id)
        if stored is None or stored.decision != verdict_pb2.DECISION_ACCEPT:
            return None
        # The match was found from the reference's side: seen from the track, query and
        # reference swap (times, and the time scale inverts).
        seen_from_track = Match(
            ref=reference.ref,
            list=reference.list,
            score=match.score,
            query_start_s=match.ref_start_s,
            ref_start_s=match.query_start_s,
            matched_s=match.matched_s * match.scale,
            scale=1.0 / match.scale if match.scale else 1.0,
            count=match.count,
            path=reference.path,
            track_id=reference.track_id,
        )
        verdict = with_findings(from_proto(stored), match_findings([seen_from_track]))
        if verdict.decision is not Decision.REJECT:
            return None
        message = to_proto(verdict, track_id=track_id, user_id=stored.user_id)
        reason = f"fingerprint.known_bad: reference {reference.ref} added"
        if not self._store.supersede(message, replaces=stored, reason=reason):
            return None  # judged again meanwhile: the stored verdict is not the one we read
        self._broadcaster.publish(message, supersedes=True)
        # No longer accepted: the track leaves the catalogue.
        self._index.remove(match.ref)
        return Superseded(track_id, message)
