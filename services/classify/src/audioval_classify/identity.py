"""The fingerprint index as classify holds it: look tracks up, admit accepted ones.

One classify process holds the index directory (``AUDIOVAL_CLASSIFY_INDEX_DIR``) and is its
one writer: accepted tracks join the ``catalogue`` list (reference = track id) and references
are added and removed through it. Other processes on the same machine may still write (the
index's file lock serialises them: ``audioval index add`` into the stack's index works while
it runs) and every process reads. Several replicas on several machines cannot share one
directory: that needs the index sharded by hash range over Ray actors, one writer per shard
(the next slice of #13), with segments in S3.

Calls are serialised by a lock: the index keeps one SQLite connection and a cached list of
segments, neither meant for concurrent use from the servicer's threads. A lookup takes
milliseconds (``libs/index/README.md``), well under a track's validation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from audiomodel import Verdict
from audiomodel.fingerprint import Landmarks
from audioval_index import FingerprintIndex, Match, Reference, identify, match_windows

__all__ = ["CATALOGUE", "KNOWN_BAD", "TrackIndex"]

log = logging.getLogger(__name__)

CATALOGUE = "catalogue"
KNOWN_BAD = "known-bad"


class TrackIndex:
    """Known-bad references and the accepted catalogue, for one classify process."""

    def __init__(self, index: FingerprintIndex) -> None:
        self._index = index
        self._lock = threading.Lock()
        # The landmarks of every upload judged (~12 peaks a second, 12 bytes each: ~40 KB per
        # 4-minute track), so an upload can be added as a reference or matched by its id.
        self._tracks = index.root / "tracks"
        self._tracks.mkdir(exist_ok=True)

    @classmethod
    def open(cls, directory: str | Path) -> TrackIndex:
        """The index in ``directory`` (created on first use)."""
        return cls(FingerprintIndex(Path(directory).expanduser()))

    def close(self) -> None:
        with self._lock:
            self._index.close()

    def identify(self, verdict: Verdict, track_id: str) -> tuple[Verdict, list[Match]]:
        """The verdict with ``fingerprint.*`` findings for what the track's landmarks match
        (a track is never a duplicate of its own catalogue entry)."""
        with self._lock:
            return identify(verdict, self._index, track_id=track_id)

    def match(self, marks: Landmarks, *, limit: int = 5) -> list[Match]:
        """References found in ``marks`` (window by window, as :func:`identify` looks)."""
        with self._lock:
            return match_windows(self._index, marks, limit=limit)

    def admit(self, marks: Landmarks, track_id: str) -> Reference:
        """Add an accepted track to the catalogue under its track id."""
        return self.add(marks, list_name=CATALOGUE, track_id=track_id)

    def add(
        self,
        marks: Landmarks,
        *,
        list_name: str,
        track_id: str | None = None,
        path: str | None = None,
    ) -> Reference:
        """Add one reference (``ValueError`` for an unknown list)."""
        with self._lock:
            return self._index.add(marks, list_name=list_name, track_id=track_id, path=path)

    def remove(self, ref: int) -> bool:
        """Delete a reference; False when there is no such live reference."""
        with self._lock:
            return self._index.delete(ref)

    def remember(self, track_id: str, marks: Landmarks) -> None:
        """Keep an upload's landmarks under its track id (written whole or not at all)."""
        path = self._track_path(track_id)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        with partial.open("wb") as out:
            np.savez(
                out,
                times=marks.times,
                bands=marks.bands,
                duration_s=np.float64(marks.duration_s),
            )
        partial.replace(path)

    def recall(self, track_id: str) -> Landmarks | None:
        """The landmarks kept for an upload, or None for a track never judged with them."""
        try:
            with np.load(self._track_path(track_id)) as data:
                return Landmarks(
                    times=data["times"].astype(np.float64),
                    bands=data["bands"].astype(np.float32),
                    duration_s=float(data["duration_s"]),
                )
        except FileNotFoundError:
            return None

    def _track_path(self, track_id: str) -> Path:
        # Track ids are any string up to 128 characters: the file is named by their hash.
        return self._tracks / f"{hashlib.sha256(track_id.encode()).hexdigest()[:40]}.npz"

    def reference(self, ref: int) -> Reference | None:
        with self._lock:
            return self._index.reference(ref)
