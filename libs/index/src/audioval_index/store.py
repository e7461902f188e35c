"""The embedded fingerprint index: references in SQLite, postings in immutable sorted segments.

Layout of an index directory (created on first use)::

    refs.sqlite            references (id, list, path, track id, duration, added_at, deleted)
                           and the list of live segments; WAL mode, so readers never wait
    segments/NAME.hash.npy sorted uint32 hashes of one segment
    segments/NAME.post.npy uint64 postings in the same order: ref << 32 | anchor time (frames)
    write.lock             held (flock) by the one writer

A writer buffers postings in memory and flushes them as a new segment; the segment files are
written first (temporary name, then rename), and the segment's row and the references it holds
are committed in one SQLite transaction, so a reader sees a reference together with all of its
postings or not at all. Segments never change: merging (tiered, LSM-like: four segments of one
size tier become one) writes a new segment and swaps the rows in one transaction. Deleting a
reference marks it (a tombstone, filtered out of every match at once); compaction drops its
postings. Readers map segments read-only and look hashes up with ``np.searchsorted``.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from audiomodel.fingerprint import (
    COARSE_BIN,
    FRAME_RATE,
    MIN_ALIGNED,
    QUERY_FAN_OUT,
    REFERENCE_FAN_OUT,
    WINDOW_S,
    Hashes,
    Landmarks,
    align,
    hashes,
)

__all__ = [
    "LISTS",
    "FingerprintIndex",
    "IndexStats",
    "IndexStoreError",
    "IndexWriter",
    "Match",
    "Reference",
    "ReferenceWriter",
    "open_index",
]

KNOWN_BAD = "known-bad"
LISTS = (KNOWN_BAD, "catalogue")
# Postings buffered by a writer before they become a segment (12 bytes each: ~48 MB).
FLUSH_ENTRIES = 4_000_000
# Segments of one size tier (a factor of TIER_RATIO apart) merged together once there are this many.
MERGE_FAN_IN = 4
TIER_RATIO = 4
TIER_BASE = 65_536
# Tombstoned postings, as a share of all, above which a delete compacts the whole index.
COMPACT_DELETED_SHARE = 0.25
# A hash with more postings than this in the whole index is skipped at query time: it is too
# common to identify anything (a stop word) and would cost most of the query's time.
MAX_POSTINGS_PER_HASH = 4096
# Hits one query may gather; past it the commonest hashes are skipped (a 10 s query against
# 1,000 h of music gathers ~5,000 on average: the budget only bounds the worst case).
MAX_HITS = 100_000
# References one query aligns at most (or the query's match limit, if larger): the hits are
# first voted into a coarse (reference, time offset) histogram, and only the references with the
# highest peaks are aligned, so a popular song uploaded many times costs a lookup no more than
# one with a few copies. Alignment costs ~hits x 17 scales per reference; the vote ~hits once.
# Known-bad references are aligned beyond it, and reported beyond the match limit: a known-bad
# copy must not be crowded out by catalogue copies of the same song.
MAX_ALIGNED = 12
LOCK_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (
    ref INTEGER PRIMARY KEY AUTOINCREMENT,
    list TEXT NOT NULL,
    path TEXT,
    track_id TEXT,
    duration_s REAL NOT NULL,
    hashes INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    purged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS refs_track ON refs (track_id);
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY,
    entries INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', 0);
"""


class IndexStoreError(RuntimeError):
    """The index cannot be opened or written (bad URI, unwritable directory, lock timeout)."""


@dataclass(frozen=True)
class Reference:
    """One reference recording in the index."""

    ref: int
    list: str
    path: str | None
    track_id: str | None
    duration_s: float
    hashes: int
    added_at: str
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Match:
    """A reference found in a query: ``score`` in [0, 1], times in seconds.

    ``query_start_s`` and ``ref_start_s`` are where the matched stretch starts in each;
    ``matched_s`` how long it lasts in the query; ``scale`` the reference seconds per query
    second (1.03: the query plays 3 % fast); ``count`` the hashes that agree.
    """

    ref: int
    list: str
    score: float
    query_start_s: float
    ref_start_s: float
    matched_s: float
    scale: float
    count: int
    path: str | None
    track_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexStats:
    references: int
    deleted: int
    segments: int
    entries: int
    bytes: int
    hours: float


# (query hash index, ref, ref time) per hit of a lookup.
HitArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint32]]


@dataclass
class _Segment:
    name: str
    hashes: npt.NDArray[np.uint32]
    postings: npt.NDArray[np.uint64]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


class ReferenceWriter(abc.ABC):
    """What every index's writer shares: a reference from landmarks is hashed at reference
    fan-out, and its list checked, before the writer buffers it (:class:`IndexWriter` here,
    :class:`audioval_index.sharded.ShardedWriter` past one machine)."""

    def add(
        self,
        marks: Landmarks,
        *,
        list_name: str = "catalogue",
        path: str | None = None,
        track_id: str | None = None,
    ) -> Reference:
        return self.add_hashes(
            hashes(marks, fan_out=REFERENCE_FAN_OUT),
            duration_s=marks.duration_s,
            list_name=list_name,
            path=path,
            track_id=track_id,
        )

    def add_hashes(
        self,
        entries: Hashes,
        *,
        duration_s: float,
        list_name: str = "catalogue",
        path: str | None = None,
        track_id: str | None = None,
    ) -> Reference:
        """Add a reference from hashes already computed (reference fan-out)."""
        if list_name not in LISTS:
            raise ValueError(f"list must be one of {', '.join(LISTS)}, not {list_name!r}")
        return self._buffer(entries, float(duration_s), list_name, path, track_id)

    @abc.abstractmethod
    def _buffer(
        self,
        entries: Hashes,
        duration_s: float,
        list_name: str,
        path: str | None,
        track_id: str | None,
    ) -> Reference:
        """Give the reference its id and buffer its postings until the next flush."""

    @abc.abstractmethod
    def delete(self, ref: int) -> bool:
        """Tombstone a reference; False when there is no such live reference."""

    @abc.abstractmethod
    def compact(self) -> None:
        """Merge every segment into one and drop the postings of deleted references."""


class IndexFront(abc.ABC):
    """What every index shares above its writer and its lookup: adding, deleting and compacting
    in a writer session of their own, matching, and closing as a context manager."""

    @abc.abstractmethod
    def writer(self) -> contextlib.AbstractContextManager[ReferenceWriter]:
        """The one writer session; what it buffered is committed on exit."""

    @abc.abstractmethod
    def lookup(self, query: Hashes) -> HitArrays:
        """Every posting of every query hash: (query hash index, ref, ref time) per hit."""

    @abc.abstractmethod
    def _references(self, refs: Sequence[int]) -> dict[int, Reference]: ...

    @abc.abstractmethod
    def _known_bad(self) -> npt.NDArray[np.uint32]:
        """The live known-bad references' ids, sorted, as of the last :meth:`lookup`."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self,
        marks: Landmarks,
        *,
        list_name: str = "catalogue",
        path: str | None = None,
        track_id: str | None = None,
    ) -> Reference:
        """Add one reference (a writer session of its own)."""
        with self.writer() as writer:
            return writer.add(marks, list_name=list_name, path=path, track_id=track_id)

    def delete(self, ref: int) -> bool:
        """Tombstone a reference; False when there is no such live reference."""
        with self.writer() as writer:
            return writer.delete(ref)

    def compact(self) -> None:
        """Merge every segment into one and drop the postings of deleted references."""
        with self.writer() as writer:
            writer.compact()

    def match(self, marks: Landmarks, *, limit: int = 5) -> list[Match]:
        """References found in a query's landmarks, best first (empty: nothing matches).

        At most ``limit``, and every known-bad reference that matches beyond them."""
        return matches_of(
            marks, self.lookup, self._references, known_bad=self._known_bad, limit=limit
        )


class FingerprintIndex(IndexFront):
    """An index directory: match from any number of processes, write from one at a time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            (self.root / "segments").mkdir(parents=True, exist_ok=True)
            self._db = _connect(self.root / "refs.sqlite")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise IndexStoreError(f"cannot open the index at {self.root}: {err}") from err
        self._generation = -1
        self._segments: list[_Segment] = []
        self._deleted: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self._bad: npt.NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)

    def close(self) -> None:
        self._segments = []
        self._db.close()

    # Writing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[IndexWriter]:
        """The one writer: holds the index's file lock; flushes what it buffered on exit."""
        lock_path = self.root / "write.lock"
        with lock_path.open("a+b") as lock:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise IndexStoreError(
                            f"another writer holds {lock_path} (waited {timeout_s:g} s)"
                        ) from None
                    time.sleep(0.05)
            writer = IndexWriter(self)
            try:
                yield writer
                writer.flush()
            finally:
                writer.abandon()
                fcntl.flock(lock, fcntl.LOCK_UN)

    # Reading --------------------------------------------------------------------------------

    def _refresh(self) -> None:
        (generation,) = self._db.execute(
            "SELECT value FROM meta WHERE key = 'generation'"
        ).fetchone()
        if generation == self._generation:
            return
        names = [row[0] for row in self._db.execute("SELECT name FROM segments ORDER BY name")]
        loaded = {segment.name: segment for segment in self._segments}
        segments = []
        for name in names:
            segment = loaded.get(name)
            if segment is None:
                try:
                    segment = self._load(name)
                except FileNotFoundError:
                    # A compaction replaced it between our two reads: read the list again.
                    self._generation = -1
                    return self._refresh()
            segments.append(segment)
        # One scan for both: tombstones to drop, known-bad references to align whatever else hits.
        rows = self._db.execute(
            "SELECT ref, deleted FROM refs WHERE deleted = 1 OR list = ?", (KNOWN_BAD,)
        ).fetchall()
        self._segments = segments
        self._deleted = np.asarray(sorted(r for r, dead in rows if dead), dtype=np.uint32)
        self._bad = np.asarray(sorted(r for r, dead in rows if not dead), dtype=np.uint32)
        self._generation = generation

    def _load(self, name: str) -> _Segment:
        base = self.root / "segments" / name
        return _Segment(
            name=name,
            hashes=np.load(f"{base}.hash.npy", mmap_mode="r"),
            postings=np.load(f"{base}.post.npy", mmap_mode="r"),
        )

    def lookup(
        self, query: Hashes
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """Every posting of every query hash: (query hash index, ref, ref time) per hit.

        One binary search per distinct query hash per segment; hashes with more than
        :data:`MAX_POSTINGS_PER_HASH` postings in all are skipped, and the commonest beyond a
        budget of :data:`MAX_HITS` hits; tombstoned refs dropped.
        """
        self._refresh()
        hq, refs, times = lookup_segments(
            [(s.hashes, s.postings) for s in self._segments], query.hashes, budget=MAX_HITS
        )
        if self._deleted.size:
            live = ~np.isin(refs, self._deleted)
            hq, refs, times = hq[live], refs[live], times[live]
        return hq, refs, times

    def _references(self, refs: Sequence[int]) -> dict[int, Reference]:
        marks = ",".join("?" * len(refs))
        rows = self._db.execute(
            "SELECT ref, list, path, track_id, duration_s, hashes, added_at, deleted "
            f"FROM refs WHERE ref IN ({marks})",
            [int(r) for r in refs],
        )
        return {row[0]: _reference(row) for row in rows}

    def _known_bad(self) -> npt.NDArray[np.uint32]:
        return self._bad

    def reference(self, ref: int) -> Reference | None:
        return self._references([ref]).get(ref)

    def references(self, *, include_deleted: bool = False) -> list[Reference]:
        where = "" if include_deleted else "WHERE deleted = 0"
        rows = self._db.execute(
            "SELECT ref, list, path, track_id, duration_s, hashes, added_at, deleted "
            f"FROM refs {where} ORDER BY ref"
        )
        return [_reference(row) for row in rows]

    def stats(self) -> IndexStats:
        self._refresh()
        live, deleted, seconds = self._db.execute(
            "SELECT COALESCE(SUM(deleted = 0), 0), COALESCE(SUM(deleted = 1), 0), "
            "COALESCE(SUM(CASE WHEN deleted = 0 THEN duration_s END), 0) FROM refs"
        ).fetchone()
        size = sum(f.stat().st_size for f in (self.root / "segments").glob("*.npy"))
        size += (self.root / "refs.sqlite").stat().st_size
        return IndexStats(
            references=int(live),
            deleted=int(deleted),
            segments=len(self._segments),
            entries=sum(int(s.hashes.shape[0]) for s in self._segments),
            bytes=size,
            hours=float(seconds) / 3600.0,
        )


def lookup_segments(
    segments: Sequence[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]],
    query: npt.NDArray[np.uint32],
    *,
    budget: int = MAX_HITS,
) -> HitArrays:
    """Every posting of every query hash in sorted ``(hashes, postings)`` segments.

    Returns ``(query hash index, ref, ref time)`` per hit. One binary search per distinct query
    hash per segment; hashes with more than :data:`MAX_POSTINGS_PER_HASH` postings in all the
    segments are skipped, and the commonest beyond ``budget`` hits (rarest hashes first: they
    say the most). Tombstones are the caller's to drop. A shard of a sharded index calls this
    on its own segments with its slice of the query.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.uint32))
    if query.size == 0 or not segments:
        return empty
    distinct, inverse = np.unique(query, return_inverse=True)
    bounds = []
    per_hash = np.zeros(distinct.size, dtype=np.int64)
    for segment_hashes, _ in segments:
        lo = np.searchsorted(segment_hashes, distinct, side="left")
        hi = np.searchsorted(segment_hashes, distinct, side="right")
        bounds.append((lo, hi))
        per_hash += hi - lo
    order = np.argsort(per_hash, kind="stable")
    weight = per_hash[order] * np.bincount(inverse, minlength=distinct.size)[order]
    within = np.cumsum(weight) <= budget
    usable = np.zeros(distinct.size, dtype=bool)
    usable[order[within]] = True
    usable &= per_hash <= MAX_POSTINGS_PER_HASH
    hit_query: list[npt.NDArray[np.int64]] = []
    postings: list[npt.NDArray[np.uint64]] = []
    for (_, segment_postings), (lo, hi) in zip(segments, bounds, strict=True):
        counts = np.where(usable, hi - lo, 0)[inverse]
        total = int(counts.sum())
        if total == 0:
            continue
        starts = lo[inverse]
        # Index of every posting: each query hash's range, laid end to end.
        ends = np.cumsum(counts)
        rows = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
        rows += np.repeat(starts, counts)
        hit_query.append(np.repeat(np.arange(query.size, dtype=np.int64), counts))
        postings.append(np.asarray(segment_postings[rows]))
    if not postings:
        return empty
    post = np.concatenate(postings)
    refs = (post >> np.uint64(32)).astype(np.uint32)
    times = (post & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return np.concatenate(hit_query), refs, times


def top_candidates(
    query_times: npt.NDArray[np.uint32],
    hit_query: npt.NDArray[np.int64],
    ref_idx: npt.NDArray[np.int64],
    ref_hits: npt.NDArray[np.int64],
    hit_time: npt.NDArray[np.uint32],
    *,
    k: int,
    forced: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_] | None:
    """The hits of the ``k`` references most likely to align best, or None (align them all).

    ``ref_idx``, ``ref_hits``: each hit's reference as an index into the distinct references
    hit, and each distinct reference's hit count (``np.unique(hit_ref, return_inverse=True,
    return_counts=True)``). ``forced`` (per distinct reference) are kept whatever their votes,
    on top of the ``k`` (the known-bad: a copy of the same song in the catalogue uploaded more
    than ``k`` times must not crowd one out).

    None when at most ``k`` references besides the forced ones have the
    :data:`~audiomodel.fingerprint.MIN_ALIGNED` hits a match needs at all: then nothing is
    dropped and the alignment is exactly what it would be without this step. Otherwise each
    reference's hits vote once per query anchor into cells of (window of ``WINDOW_S``, time
    offset in ``COARSE_BIN`` frames, in two half-shifted grids: a 6 % speed change stays in one
    cell over a window); a reference's votes are its best cell per window, summed over windows,
    as ``align`` sums its fine cells. A coarse cell is twelve of ``align``'s fine offset cells
    wide, so a reference's peak is about its alignment count or more; the ``k`` highest peaks
    are kept (ties: lowest ref first, as ``align`` breaks them). Cost: one sort of twice the
    hits, no per-scale work.
    """
    able = ref_hits >= MIN_ALIGNED
    if forced is not None:
        able = able & ~forced
    if int(np.count_nonzero(able)) <= k:
        return None
    q_t = query_times[hit_query].astype(np.int64)
    window = q_t // int(WINDOW_S * FRAME_RATE)
    n_windows = int(window.max()) + 1
    offset = hit_time.astype(np.int64) - q_t + int(query_times.max()) + COARSE_BIN
    n_cells = int(offset.max()) // (COARSE_BIN // 2) + 2
    stem = (ref_idx.astype(np.int64) * n_windows + window) * 2
    keys = [
        (stem + shift) * n_cells + (offset + shift * (COARSE_BIN // 2)) // COARSE_BIN
        for shift in (0, 1)
    ]
    key = np.concatenate(keys)
    voter = np.concatenate((q_t, q_t))
    # One vote per (cell, query anchor): an anchor's many hashes are one piece of evidence.
    order = np.lexsort((voter, key))
    key, voter = key[order], voter[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (voter[1:] != voter[:-1])
    cells, votes = np.unique(key[first], return_counts=True)
    # Best cell per (reference, window), then summed per reference.
    ref_window = cells // n_cells // 2
    best = np.zeros(ref_hits.size * n_windows, dtype=np.int64)
    np.maximum.at(best, ref_window, votes)
    peaks = best.reshape(ref_hits.size, n_windows).sum(axis=1)
    if forced is not None:
        peaks[forced] = -1  # ranked last, kept below: the k are chosen among the others
    ranked = np.argsort(-peaks, kind="stable")[:k]
    chosen = np.zeros(ref_hits.size, dtype=bool)
    chosen[ranked] = True
    if forced is not None:
        chosen |= forced
    return chosen[ref_idx]


def _members(refs: npt.NDArray[np.uint32], among: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Which of ``refs`` are in the sorted ``among`` (a binary search each: ``among`` may be
    large, ``refs`` are the few references with enough hits to match)."""
    if among.size == 0:
        return np.zeros(refs.size, dtype=bool)
    at = np.minimum(np.searchsorted(among, refs), among.size - 1)
    return np.asarray(among[at] == refs)


def matches_of(
    marks: Landmarks,
    lookup: Callable[[Hashes], HitArrays],
    references: Callable[[Sequence[int]], dict[int, Reference]],
    *,
    known_bad: Callable[[], npt.NDArray[np.uint32]] | None = None,
    limit: int,
) -> list[Match]:
    """Look ``marks`` up (``lookup``: hits of the query hashes), align, and name the references.

    The ``limit`` best, and beyond them every known-bad reference (``known_bad()``: their sorted
    ids, read after the lookup) that matches: those are always aligned and always reported.
    """
    query = hashes(marks, fan_out=QUERY_FAN_OUT)
    own = int(np.unique(hashes(marks, fan_out=REFERENCE_FAN_OUT).times).size)
    hit_query, hit_ref, hit_time = lookup(query)
    refs, ref_idx, ref_hits = np.unique(hit_ref, return_inverse=True, return_counts=True)
    forced: npt.NDArray[np.bool_] | None = None
    if known_bad is not None and refs.size:
        bad = known_bad()
        if bad.size:
            # Only references with enough hits to match at all are looked for among them.
            able = np.flatnonzero(ref_hits >= MIN_ALIGNED)
            is_bad = np.zeros(refs.size, dtype=bool)
            is_bad[able] = _members(refs[able], bad)
            forced = is_bad if is_bad.any() else None
    keep = top_candidates(
        query.times,
        hit_query,
        ref_idx,
        ref_hits,
        hit_time,
        k=max(MAX_ALIGNED, limit),
        forced=forced,
    )
    if keep is not None:
        hit_query, hit_ref, hit_time = hit_query[keep], hit_ref[keep], hit_time[keep]
        ref_idx = ref_idx[keep]
    alignments = align(query.times, hit_query, hit_ref, hit_time, query_anchors=own, limit=limit)
    if forced is not None:
        # Known-bad references the limit left out: aligned on their own hits (a reference's
        # alignment does not depend on the other references' hits), then ranked in.
        found = {a.ref for a in alignments}
        missing = forced.copy()
        for i in np.flatnonzero(forced):  # the few known-bad candidates
            missing[i] = int(refs[i]) not in found
        if missing.any():
            mine = missing[ref_idx]
            extra = align(
                query.times,
                hit_query[mine],
                hit_ref[mine],
                hit_time[mine],
                query_anchors=own,
                limit=int(np.count_nonzero(missing)),
            )
            alignments = sorted([*alignments, *extra], key=lambda a: (-a.count, a.ref))
    if not alignments:
        return []
    rows = references([a.ref for a in alignments])
    out = []
    for a in alignments:
        reference = rows.get(a.ref)
        if reference is None or reference.deleted:
            continue
        out.append(
            Match(
                ref=a.ref,
                list=reference.list,
                score=a.score,
                query_start_s=a.query_start_s,
                ref_start_s=a.ref_start_s,
                matched_s=a.matched_s,
                scale=a.scale,
                count=a.count,
                path=reference.path,
                track_id=reference.track_id,
            )
        )
    return out


def segments_to_merge(segments: Sequence[tuple[str, int]]) -> list[str] | None:
    """The first :data:`MERGE_FAN_IN` segments of the smallest size tier that holds that many
    (tiers :data:`TIER_RATIO` apart from :data:`TIER_BASE` entries); None when no tier does."""
    tiers: dict[int, list[str]] = {}
    for name, entries in segments:
        tier = 0 if entries <= TIER_BASE else int(np.log(entries / TIER_BASE) / np.log(TIER_RATIO))
        tiers.setdefault(tier, []).append(name)
    full = [group for _, group in sorted(tiers.items()) if len(group) >= MERGE_FAN_IN]
    return full[0][:MERGE_FAN_IN] if full else None


def merge_segments(
    segments: Sequence[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]],
    deleted: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]:
    """One sorted segment of ``segments``' postings, without those of the ``deleted`` refs."""
    hashes_ = np.concatenate([np.asarray(h) for h, _ in segments])
    postings = np.concatenate([np.asarray(p) for _, p in segments])
    if deleted.size:
        live = ~np.isin((postings >> np.uint64(32)).astype(np.uint32), deleted)
        hashes_, postings = hashes_[live], postings[live]
    # Timsort (numpy's stable sort) merges the already-sorted runs in about linear time.
    order = np.argsort(hashes_, kind="stable")
    return hashes_[order], postings[order]


def _reference(row: Sequence[Any]) -> Reference:
    return Reference(
        ref=int(row[0]),
        list=str(row[1]),
        path=row[2],
        track_id=row[3],
        duration_s=float(row[4]),
        hashes=int(row[5]),
        added_at=str(row[6]),
        deleted=bool(row[7]),
    )


class IndexWriter(ReferenceWriter):
    """Adds and deletes references; get one from :meth:`FingerprintIndex.writer`."""

    def __init__(self, index: FingerprintIndex) -> None:
        self._index = index
        self._db = index._db
        self._hashes: list[npt.NDArray[np.uint32]] = []
        self._postings: list[npt.NDArray[np.uint64]] = []
        self._buffered = 0
        self._open = False

    def _begin(self) -> None:
        if not self._open:
            self._db.execute("BEGIN IMMEDIATE")
            self._open = True

    def _buffer(
        self,
        entries: Hashes,
        duration_s: float,
        list_name: str,
        path: str | None,
        track_id: str | None,
    ) -> Reference:
        self._begin()
        added_at = _now()
        cursor = self._db.execute(
            "INSERT INTO refs (list, path, track_id, duration_s, hashes, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (list_name, path, track_id, duration_s, len(entries), added_at),
        )
        ref = int(cursor.lastrowid or 0)
        if len(entries):
            self._hashes.append(entries.hashes)
            self._postings.append(
                (np.uint64(ref) << np.uint64(32)) | entries.times.astype(np.uint64)
            )
            self._buffered += len(entries)
        if self._buffered >= FLUSH_ENTRIES:
            self.flush()
        return Reference(ref, list_name, path, track_id, duration_s, len(entries), added_at)

    def delete(self, ref: int) -> bool:
        self.flush()
        self._begin()
        changed = self._db.execute(
            "UPDATE refs SET deleted = 1 WHERE ref = ? AND deleted = 0", (int(ref),)
        ).rowcount
        self._bump()
        self._commit()
        if changed:
            self._compact_if_worth_it()
        return bool(changed)

    def flush(self) -> None:
        """Write what is buffered as a segment and commit it with its references."""
        if self._buffered:
            hashes_ = np.concatenate(self._hashes)
            postings = np.concatenate(self._postings)
            order = np.argsort(hashes_, kind="stable")
            name = self._write_segment(hashes_[order], postings[order])
            self._db.execute(
                "INSERT INTO segments (name, entries, created_at) VALUES (?, ?, ?)",
                (name, int(hashes_.size), _now()),
            )
            self._hashes, self._postings, self._buffered = [], [], 0
        if self._open:
            self._bump()
            self._commit()
        self._merge_tiers()

    def abandon(self) -> None:
        """Roll back what was not flushed (an exception inside the writer session)."""
        if self._open:
            self._db.execute("ROLLBACK")
            self._open = False
        self._hashes, self._postings, self._buffered = [], [], 0

    def _commit(self) -> None:
        if self._open:
            self._db.execute("COMMIT")
            self._open = False

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def _write_segment(
        self, hashes_: npt.NDArray[np.uint32], postings: npt.NDArray[np.uint64]
    ) -> str:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        base = self._index.root / "segments" / name
        for suffix, array in ((".hash.npy", hashes_), (".post.npy", postings)):
            temporary = Path(f"{base}{suffix}.tmp")
            with temporary.open("wb") as out:
                np.save(out, np.ascontiguousarray(array))
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(Path(f"{base}{suffix}"))
        return name

    def _segments(self) -> list[tuple[str, int]]:
        return [
            (str(name), int(entries))
            for name, entries in self._db.execute(
                "SELECT name, entries FROM segments ORDER BY name"
            )
        ]

    def _merge_tiers(self) -> None:
        """Merge MERGE_FAN_IN segments of one size tier until no tier holds that many."""
        while True:
            names = segments_to_merge(self._segments())
            if names is None:
                return
            self._merge(names)

    def compact(self, *, full: bool = True) -> None:
        self.flush()
        names = [name for name, _ in self._segments()]
        if full and names:
            self._merge(names, purge=True)

    def _compact_if_worth_it(self) -> None:
        dead, total = self._db.execute(
            "SELECT COALESCE(SUM(CASE WHEN deleted = 1 AND purged = 0 THEN hashes END), 0), "
            "COALESCE(SUM(CASE WHEN purged = 0 THEN hashes END), 0) FROM refs"
        ).fetchone()
        if total and dead / total > COMPACT_DELETED_SHARE:
            self.compact(full=True)

    def _merge(self, names: list[str], *, purge: bool = False) -> None:
        """Replace segments by one (sorted merge), dropping postings of deleted references."""
        index = self._index
        parts = [index._load(name) for name in names]
        deleted = np.asarray(
            [row[0] for row in self._db.execute("SELECT ref FROM refs WHERE deleted = 1")],
            dtype=np.uint32,
        )
        hashes_, postings = merge_segments([(p.hashes, p.postings) for p in parts], deleted)
        name = self._write_segment(hashes_, postings) if hashes_.size else None
        self._begin()
        self._db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in names])
        if name is not None:
            self._db.execute(
                "INSERT INTO segments (name, entries, created_at) VALUES (?, ?, ?)",
                (name, int(hashes_.size), _now()),
            )
        if purge:
            self._db.execute("UPDATE refs SET purged = 1 WHERE deleted = 1")
        self._bump()
        self._commit()
        del parts
        for old in names:  # readers that mapped them keep their mappings (POSIX unlink)
            for suffix in (".hash.npy", ".post.npy"):
                with contextlib.suppress(FileNotFoundError):
                    (index.root / "segments" / f"{old}{suffix}").unlink()


def open_index(uri: str | os.PathLike[str]) -> FingerprintIndex:
    """The index at a local directory (``/path``, ``file:///path``), created on first use.

    A running stack's index (a ``grpc://`` URI) comes with classify's index service.
    """
    text = os.fspath(uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise IndexStoreError(
            f"{scheme}:// indexes are not supported yet: give a local directory (the embedded index)"
        )
    return FingerprintIndex(Path(text).expanduser())
