"""The embedded index: add, match, delete, persist, merge, one writer at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from audiomodel.fingerprint import Hashes, Landmarks, landmarks
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex, IndexStoreError, open_index
from audioval_index import store as store_module

RATE = 22050


@pytest.fixture(scope="module")
def tracks() -> list[npt.NDArray[np.float32]]:
    return [synth_notes(40.0, seed=seed, rate=RATE) for seed in range(3)]


@pytest.fixture(scope="module")
def marks(tracks: list[npt.NDArray[np.float32]]) -> list[Landmarks]:
    return [landmarks(y, sr=RATE) for y in tracks]


def cut(y: npt.NDArray[np.float32], start_s: float) -> Landmarks:
    return landmarks(y[int(start_s * RATE) : int((start_s + 10) * RATE)], sr=RATE)


def test_added_references_are_matched_best_first_with_the_contract_fields(
    tmp_path: Path, tracks, marks
) -> None:
    index = FingerprintIndex(tmp_path / "idx")
    with index.writer() as writer:
        refs = [
            writer.add(m, list_name=name, path=f"song{i}.wav")
            for i, (m, name) in enumerate(
                zip(marks, ["catalogue", "known-bad", "catalogue"], strict=True)
            )
        ]
    assert [r.ref for r in refs] == sorted({r.ref for r in refs})
    found = index.match(cut(tracks[1], 17.0))
    assert found, "the excerpt's song is in the index"
    best = found[0]
    assert (best.ref, best.list, best.path) == (refs[1].ref, "known-bad", "song1.wav")
    assert 0 < best.score <= 1
    assert abs(best.ref_start_s - (17.0 + best.query_start_s)) < 0.5
    assert best.matched_s > 5
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert set(best.to_dict()) >= {
        "ref",
        "list",
        "score",
        "query_start_s",
        "ref_start_s",
        "matched_s",
    }


def test_unrelated_audio_matches_nothing(tmp_path: Path, marks) -> None:
    index = FingerprintIndex(tmp_path / "idx")
    with index.writer() as writer:
        for m in marks:
            writer.add(m)
    assert index.match(cut(synth_notes(12.0, seed=99, rate=RATE), 1.0)) == []


def test_a_deleted_reference_is_not_matched_and_compaction_drops_its_postings(
    tmp_path: Path, tracks, marks
) -> None:
    index = FingerprintIndex(tmp_path / "idx")
    with index.writer() as writer:
        keep = writer.add(marks[0])
        gone = writer.add(marks[2])
    entries_before = index.stats().entries
    assert index.match(cut(tracks[2], 5.0))[0].ref == gone.ref
    assert index.delete(gone.ref) is True
    assert index.delete(gone.ref) is False  # already deleted
    assert index.match(cut(tracks[2], 5.0)) == []
    index.compact()
    stats = index.stats()
    assert stats.entries == entries_before - gone.hashes
    assert (stats.references, stats.deleted) == (1, 1)
    assert index.match(cut(tracks[0], 20.0))[0].ref == keep.ref
    assert index.reference(gone.ref) is not None and index.reference(gone.ref).deleted


def test_a_reopened_index_still_holds_what_was_added(tmp_path: Path, tracks, marks) -> None:
    with FingerprintIndex(tmp_path / "idx") as index:
        ref = index.add(marks[1], list_name="known-bad", track_id="t-1").ref
    with open_index(f"file://{tmp_path / 'idx'}") as reopened:
        found = reopened.match(cut(tracks[1], 3.0))
        assert (found[0].ref, found[0].list, found[0].track_id) == (ref, "known-bad", "t-1")
        assert [r.ref for r in reopened.references()] == [ref]


def test_a_reader_sees_references_once_the_writer_flushes(tmp_path: Path, tracks, marks) -> None:
    writer_side = FingerprintIndex(tmp_path / "idx")
    reader_side = FingerprintIndex(tmp_path / "idx")
    with writer_side.writer() as writer:
        writer.add(marks[0])
        assert reader_side.match(cut(tracks[0], 10.0)) == []  # not committed yet
    assert reader_side.match(cut(tracks[0], 10.0))


def test_small_segments_are_merged_as_they_accumulate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "TIER_BASE", 100)
    index = FingerprintIndex(tmp_path / "idx")
    rng = np.random.default_rng(0)
    for _ in range(9):
        times = np.sort(rng.integers(0, 5000, 80)).astype(np.uint32)
        entries = Hashes(rng.integers(0, 2**32, 80, dtype=np.uint32), times)
        with index.writer() as writer:
            writer.add_hashes(entries, duration_s=160.0)
    stats = index.stats()
    assert stats.entries == 9 * 80
    assert stats.segments < store_module.MERGE_FAN_IN
    assert len(list((tmp_path / "idx" / "segments").glob("*.npy"))) == 2 * stats.segments


def test_a_second_writer_waits_for_the_first_then_gives_up(tmp_path: Path) -> None:
    index = FingerprintIndex(tmp_path / "idx")
    other = FingerprintIndex(tmp_path / "idx")
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with index.writer():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(IndexStoreError, match="another writer"), other.writer(timeout_s=0.2):
            pass
    finally:
        release.set()
        thread.join()
    with other.writer(timeout_s=5):
        pass


def test_an_unknown_list_is_refused_and_nothing_is_added(tmp_path: Path, marks) -> None:
    index = FingerprintIndex(tmp_path / "idx")
    with pytest.raises(ValueError, match="list must be one of"), index.writer() as writer:
        writer.add(marks[0], list_name="blocklist")
    assert index.references() == []


def test_a_remote_index_uri_is_not_served_yet() -> None:
    with pytest.raises(IndexStoreError, match="not supported yet"):
        open_index("grpc://127.0.0.1:50053")
