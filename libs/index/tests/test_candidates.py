"""Lookup cost is bounded by the references aligned, not by how many look alike (issue #13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audiomodel.fingerprint import REFERENCE_FAN_OUT, Hashes, align, hashes, landmarks
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex
from audioval_index import store as store_module

RATE = 22050
NEAR_DUPLICATES = 60


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    return synth_notes(40.0, seed=7, rate=RATE)


def build(root: Path, song: np.ndarray) -> tuple[FingerprintIndex, int]:
    """An index of NEAR_DUPLICATES partial copies of ``song`` (each keeping 25-60 % of its
    hashes: weaker matches than the whole song) with the whole song added in the middle."""
    entries = hashes(landmarks(song, sr=RATE), fan_out=REFERENCE_FAN_OUT)
    rng = np.random.default_rng(0)
    index = FingerprintIndex(root)
    true_ref = -1
    with index.writer() as writer:
        for i in range(NEAR_DUPLICATES):
            if i == NEAR_DUPLICATES // 2:
                true_ref = writer.add_hashes(entries, duration_s=40.0, path="whole.wav").ref
            kept = rng.random(len(entries)) < rng.uniform(0.25, 0.6)
            partial = Hashes(entries.hashes[kept], entries.times[kept])
            writer.add_hashes(partial, duration_s=40.0, path=f"part{i}.wav")
    return index, true_ref


def counting_align(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the matcher's ``align`` to record how many references each call was given."""
    aligned: list[int] = []

    def spy(query_times, hit_query, hit_ref, hit_ref_times, **kwargs):  # type: ignore[no-untyped-def]
        aligned.append(int(np.unique(hit_ref).size))
        return align(query_times, hit_query, hit_ref, hit_ref_times, **kwargs)

    monkeypatch.setattr(store_module, "align", spy)
    return aligned


def test_many_near_duplicates_still_give_the_true_best_match_aligning_at_most_k(
    tmp_path: Path, song: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, true_ref = build(tmp_path / "idx", song)
    aligned = counting_align(monkeypatch)
    query = landmarks(song[int(17 * RATE) : int(27 * RATE)], sr=RATE)
    found = index.match(query, limit=5)
    assert found[0].ref == true_ref and found[0].path == "whole.wav"
    assert len(found) == 5  # the near-duplicates match too: they are candidates
    assert aligned == [store_module.MAX_ALIGNED]
    # Without the bound every near-duplicate would have been aligned.
    monkeypatch.setattr(store_module, "MAX_ALIGNED", 10**6)
    unbounded = index.match(query, limit=5)
    assert aligned[-1] == NEAR_DUPLICATES + 1
    assert [m.to_dict() for m in found] == [m.to_dict() for m in unbounded]


def test_a_larger_match_limit_aligns_as_many_references_as_it_asks_for(
    tmp_path: Path, song: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, true_ref = build(tmp_path / "idx", song)
    aligned = counting_align(monkeypatch)
    query = landmarks(song[int(5 * RATE) : int(15 * RATE)], sr=RATE)
    found = index.match(query, limit=40)
    assert aligned == [40]
    assert found[0].ref == true_ref
    assert len(found) > store_module.MAX_ALIGNED
