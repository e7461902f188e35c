"""Near-identical tracks across a batch's catalogue: ``DEST/duplicates.jsonl``.

The batch job asks its actors for each file's landmarks from the validator's own decode pass
(no second decode) and keeps them next to the results (``DEST/fingerprints/part-*.npz``, ~40 KB
per 4-minute track), so a resumed run groups the files of every run, not only its own. At the
end every fingerprinted file joins a scratch embedded index, and each is looked up there by
three 20 s windows (at a quarter, half and three quarters of its length): a file whose window
matches another file with the agreeing anchors a verdict finding needs
(:data:`audioval_index.identify.MIN_FINDING_ALIGNED`), and whose length is within
:data:`LENGTH_RATIO` of it, is a near-identical copy (a re-encode, a resample, a trim, a speed
change of a few percent). Copies are grouped transitively (union-find); each group is one line::

    {"group": 0, "size": 3, "keys": ["a.flac", "b/a.mp3", "c.ogg"],
     "links": [{"key": "b/a.mp3", "other": "a.flac", "score": 0.41, "matched_s": 19.8,
                "query_start_s": 60.0, "ref_start_s": 61.9}, ...]}

Cost: three window queries per file against an index of the whole catalogue (~25 ms each at
1,000 h, ``libs/index/README.md``): ~0.1 s per file on one core, under its validation.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from audiomodel.fingerprint import FRAME_RATE, Landmarks
from audioval_index import FingerprintIndex
from audioval_index.identify import MIN_FINDING_ALIGNED, WINDOW_S

__all__ = ["LENGTH_RATIO", "duplicate_groups", "pack_landmarks", "unpack_landmarks"]

# Lengths of two near-identical tracks differ by at most this factor (trims, +-6 % speed).
LENGTH_RATIO = 1.25
PROBES = (0.25, 0.5, 0.75)  # where in a track its query windows sit


def pack_landmarks(tracks: Mapping[str, Landmarks]) -> bytes:
    """Many tracks' landmarks as one ``.npz`` (keys, offsets, times, bands, durations)."""
    keys = list(tracks)
    sizes = [len(tracks[k]) for k in keys]
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        keys=np.asarray(keys, dtype=str),
        offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        times=np.concatenate([tracks[k].times for k in keys] or [np.zeros(0)]).astype(np.float32),
        bands=np.concatenate([tracks[k].bands for k in keys] or [np.zeros(0, np.float32)]).astype(
            np.float32
        ),
        durations=np.asarray([tracks[k].duration_s for k in keys], dtype=np.float64),
    )
    return buffer.getvalue()


def unpack_landmarks(data: bytes) -> Iterator[tuple[str, Landmarks]]:
    """The tracks :func:`pack_landmarks` packed."""
    with np.load(io.BytesIO(data)) as arrays:
        offsets = arrays["offsets"]
        times, bands = arrays["times"], arrays["bands"]
        for i, key in enumerate(arrays["keys"]):
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            yield (
                str(key),
                Landmarks(
                    times=times[lo:hi].astype(np.float64),
                    bands=bands[lo:hi].astype(np.float32),
                    duration_s=float(arrays["durations"][i]),
                ),
            )


def _window(marks: Landmarks, at: float) -> Landmarks:
    """The WINDOW_S seconds centred at fraction ``at`` of the track (the whole of a short one)."""
    if marks.duration_s <= WINDOW_S:
        return marks
    start = min(max(at * marks.duration_s - WINDOW_S / 2, 0.0), marks.duration_s - WINDOW_S)
    lo, hi = np.searchsorted(marks.times, [start * FRAME_RATE, (start + WINDOW_S) * FRAME_RATE])
    return Landmarks(times=marks.times[lo:hi], bands=marks.bands[lo:hi], duration_s=WINDOW_S)


def duplicate_groups(tracks: Iterable[tuple[str, Landmarks]]) -> list[dict[str, Any]]:
    """Groups of near-identical tracks (two or more keys each), largest first."""
    held = {key: marks for key, marks in tracks if len(marks)}
    keys = sorted(held)
    parent = {key: key for key in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    links: list[dict[str, Any]] = []
    scratch = Path(tempfile.mkdtemp(prefix="duplicates-"))
    try:
        with FingerprintIndex(scratch) as index:
            key_of: dict[int, str] = {}
            with index.writer() as writer:
                for key in keys:
                    key_of[writer.add(held[key], path=key).ref] = key
            for key in keys:
                marks = held[key]
                best: dict[str, dict[str, Any]] = {}
                for at in PROBES:
                    for match in index.match(_window(marks, at), limit=10):
                        other = key_of.get(match.ref)
                        if other is None or other == key or match.count < MIN_FINDING_ALIGNED:
                            continue
                        ratio = marks.duration_s / max(held[other].duration_s, 1e-9)
                        if not 1 / LENGTH_RATIO <= ratio <= LENGTH_RATIO:
                            continue
                        if other not in best or match.score > best[other]["score"]:
                            offset = max(at * marks.duration_s - WINDOW_S / 2, 0.0)
                            best[other] = {
                                "key": key,
                                "other": other,
                                "score": round(float(match.score), 4),
                                "matched_s": round(float(match.matched_s), 3),
                                "query_start_s": round(float(offset + match.query_start_s), 3),
                                "ref_start_s": round(float(match.ref_start_s), 3),
                            }
                for other, link in sorted(best.items()):
                    links.append(link)
                    parent[root(key)] = root(other)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    members: dict[str, list[str]] = {}
    for key in keys:
        members.setdefault(root(key), []).append(key)
    groups = sorted((m for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    out = []
    for number, group in enumerate(groups):
        inside = set(group)
        out.append(
            {
                "group": number,
                "size": len(group),
                "keys": group,
                "links": [link for link in links if link["key"] in inside],
            }
        )
    return out


def duplicates_jsonl(groups: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(group, separators=(",", ":")) + "\n" for group in groups)
