"""Add, remove and match index references: the domain behind IndexService, with no gRPC in it.

A recording comes as bytes (fingerprinted on the validator pool: the same actors, the same
decode pass as a judged track) or as the track id of an upload classify judged (its landmarks
were kept when it was judged). Every refusal is a :class:`~audioval_classify.judge.ClassifyError`
subclass; the servicer's one status table maps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audiomodel.fingerprint import Landmarks
from audioval_classify.identity import TrackIndex
from audioval_classify.judge import (
    ClassifyError,
    InvalidTrackError,
    NotValidatingError,
    TrackNotFoundError,
    TrackTooLargeError,
    check_track_id,
    run_on_pool,
)
from audioval_classify.pool import ValidatorPool
from audioval_classify.rescan import Rescan, Superseded
from audioval_index import LISTS, Match, Reference

__all__ = [
    "MAX_MATCHES",
    "IndexUnavailableError",
    "NoAudioError",
    "Recording",
    "ReferenceDesk",
    "ReferenceNotFoundError",
]

DEFAULT_MATCHES = 5
MAX_MATCHES = 100


class IndexUnavailableError(ClassifyError):
    """This classify holds no fingerprint index."""


class ReferenceNotFoundError(ClassifyError):
    """No live reference with this id."""


class NoAudioError(InvalidTrackError):
    """The bytes hold no audio to fingerprint (not decodable, or silence)."""


@dataclass(frozen=True)
class Recording:
    """The bytes of a recording, or the track id of an upload classify judged (one of the two)."""

    content: bytes = b""
    track_id: str = ""
    name: str = ""


class ReferenceDesk:
    """The index's references as IndexService offers them."""

    def __init__(
        self,
        index: TrackIndex | None,
        pool: ValidatorPool | None,
        *,
        max_bytes: int,
        rescan: Rescan | None = None,
    ) -> None:
        self._index = index
        self._pool = pool
        self._max_bytes = max_bytes
        self._rescan = rescan

    def _require_index(self) -> TrackIndex:
        if self._index is None:
            raise IndexUnavailableError("this classify holds no fingerprint index")
        return self._index

    def add(
        self, recording: Recording, list_name: str, *, time_left: Callable[[], float | None]
    ) -> tuple[Reference, list[Superseded]]:
        """Add the recording to ``list_name`` (``known-bad`` or ``catalogue``); a known-bad
        one is re-scanned against the catalogue: the accepted tracks it rejected come back."""
        index = self._require_index()
        if list_name not in LISTS:
            raise InvalidTrackError(f"list must be one of {', '.join(LISTS)}")
        marks = self._landmarks(index, recording, time_left)
        reference = index.add(
            marks,
            list_name=list_name,
            track_id=recording.track_id or None,
            path=recording.name or None,
        )
        superseded: list[Superseded] = []
        if self._rescan is not None and list_name == "known-bad":
            superseded = self._rescan.run(reference, marks)
        return reference, superseded

    def remove(self, ref: int) -> Reference:
        """Remove a live reference; the reference as it was."""
        index = self._require_index()
        reference = index.reference(ref)
        if reference is None or reference.deleted or not index.remove(ref):
            raise ReferenceNotFoundError(f"no reference {ref}")
        return reference

    def match(
        self, recording: Recording, *, limit: int, time_left: Callable[[], float | None]
    ) -> list[tuple[Match, Reference]]:
        """The references the recording matches, best first, each with its reference."""
        index = self._require_index()
        if limit > MAX_MATCHES:
            raise InvalidTrackError(f"limit over {MAX_MATCHES}")
        marks = self._landmarks(index, recording, time_left)
        found = []
        for match in index.match(marks, limit=limit or DEFAULT_MATCHES):
            reference = index.reference(match.ref)
            if reference is not None and not reference.deleted:  # removed meanwhile
                found.append((match, reference))
        return found

    def _landmarks(
        self, index: TrackIndex, recording: Recording, time_left: Callable[[], float | None]
    ) -> Landmarks:
        if recording.track_id and recording.content:
            raise InvalidTrackError("give the content or a track id, not both")
        if recording.track_id:
            check_track_id(recording.track_id)
            marks = index.recall(recording.track_id)
            if marks is None:
                raise TrackNotFoundError(f"no fingerprint kept for track {recording.track_id!r}")
            return marks
        if not recording.content:
            raise InvalidTrackError("content or track_id is required")
        if len(recording.content) > self._max_bytes:
            raise TrackTooLargeError(f"content over the {self._max_bytes}-byte limit")
        if self._pool is None:
            raise NotValidatingError("this replica does not decode recordings")
        verdict = run_on_pool(self._pool, recording.content, recording.name, time_left)
        if verdict.fingerprint is None or len(verdict.fingerprint) == 0:
            raise NoAudioError("the content holds no audio to fingerprint")
        return verdict.fingerprint
