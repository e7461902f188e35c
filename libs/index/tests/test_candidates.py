"""Lookup cost is bounded by the references aligned, not by how many look alike (issue #13);
known-bad references are aligned and reported whatever outranks them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiomodel import Decision
from audiomodel.fingerprint import REFERENCE_FAN_OUT, Hashes, align, hashes, landmarks
from audiomodel.validator import validate_bytes
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex
from audioval_index import store as store_module
from audioval_index.identify import MATCH_LIMIT, MIN_FINDING_ALIGNED, identify

RATE = 22050
NEAR_DUPLICATES = 60


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    return synth_notes(40.0, seed=7, rate=RATE)


def wav(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


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


def build_with_known_bad(root: Path, song: np.ndarray) -> tuple[FingerprintIndex, int]:
    """NEAR_DUPLICATES catalogue copies of ``song`` keeping 60-95 % of its hashes, then one
    known-bad copy keeping 30 %: it matches (~20 agreeing anchors on a 10 s excerpt) but more
    weakly than every catalogue copy, so the coarse vote and the match limit both rank it last."""
    entries = hashes(landmarks(song, sr=RATE), fan_out=REFERENCE_FAN_OUT)
    rng = np.random.default_rng(1)
    index = FingerprintIndex(root)
    with index.writer() as writer:
        for i in range(NEAR_DUPLICATES):
            kept = rng.random(len(entries)) < rng.uniform(0.6, 0.95)
            partial = Hashes(entries.hashes[kept], entries.times[kept])
            writer.add_hashes(partial, duration_s=40.0, path=f"copy{i}.wav")
        kept = rng.random(len(entries)) < 0.3
        bad = writer.add_hashes(
            Hashes(entries.hashes[kept], entries.times[kept]),
            duration_s=40.0,
            list_name="known-bad",
            path="carrier.wav",
            track_id="t-bad",
        )
    return index, bad.ref


def test_a_known_bad_copy_outranked_by_many_catalogue_copies_is_still_aligned_and_reported(
    tmp_path: Path, song: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, bad_ref = build_with_known_bad(tmp_path / "idx", song)
    aligned = counting_align(monkeypatch)
    query = landmarks(song[int(17 * RATE) : int(27 * RATE)], sr=RATE)
    found = index.match(query, limit=5)
    # The five best (all catalogue copies), then the known-bad copy beyond the limit.
    assert [m.list for m in found] == ["catalogue"] * 5 + ["known-bad"]
    assert found[-1].ref == bad_ref and found[-1].count >= MIN_FINDING_ALIGNED
    # Aligned beyond the cap: the top MAX_ALIGNED and it, then it alone (the limit left it out).
    assert aligned == [store_module.MAX_ALIGNED + 1, 1]
    # The same matches as aligning every candidate and reporting them all.
    monkeypatch.setattr(store_module, "MAX_ALIGNED", 10**6)
    everything = index.match(query, limit=10**6)
    assert len(everything) == NEAR_DUPLICATES + 1 and everything[-1].ref == bad_ref
    assert [m.to_dict() for m in found] == [m.to_dict() for m in everything[:5]] + [
        everything[-1].to_dict()
    ]


def test_a_lookup_without_a_known_bad_candidate_aligns_only_the_cap(
    tmp_path: Path, song: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, bad_ref = build_with_known_bad(tmp_path / "idx", song)
    assert index.delete(bad_ref)  # a tombstoned known-bad reference is no candidate
    aligned = counting_align(monkeypatch)
    found = index.match(landmarks(song[int(17 * RATE) : int(27 * RATE)], sr=RATE), limit=5)
    assert [m.list for m in found] == ["catalogue"] * 5
    assert aligned == [store_module.MAX_ALIGNED]


def test_a_verdict_gets_the_known_bad_finding_however_many_catalogue_copies_match_better(
    tmp_path: Path, song: np.ndarray
) -> None:
    index, bad_ref = build_with_known_bad(tmp_path / "idx", song)
    verdict = validate_bytes(wav(song), fingerprint=False)
    # The whole 40 s song: looked up in windows (identify's path), MATCH_LIMIT (5) per window.
    judged, matches = identify(verdict, index, marks=landmarks(song, sr=RATE))
    assert len(matches) == MATCH_LIMIT + 1 and matches[-1].ref == bad_ref
    (hit,) = [f for f in judged.findings if f.code == "fingerprint.known_bad"]
    assert hit.evidence["ref"] == bad_ref and hit.evidence["track_id"] == "t-bad"
    assert judged.decision is Decision.REJECT
