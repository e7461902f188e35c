"""Index matches as verdict findings: ``fingerprint.known_bad`` rejects, ``fingerprint.duplicate`` informs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from audiomodel import Decision
from audiomodel.validator import validate_bytes
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex
from audioval_index.identify import identify

RATE = 44100


def wav(y: npt.NDArray[np.float32], rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def original() -> npt.NDArray[np.float32]:
    return synth_notes(30.0, seed=11, rate=RATE)


@pytest.fixture
def index(tmp_path: Path, original: npt.NDArray[np.float32]) -> FingerprintIndex:
    index = FingerprintIndex(tmp_path / "idx")
    marks = validate_bytes(wav(original), fingerprint=True).fingerprint
    assert marks is not None
    index.add(marks, list_name="known-bad", path="payload-carrier.wav", track_id="t-bad")
    return index


def test_a_known_bad_track_reencoded_with_gain_and_resampling_is_rejected(
    index: FingerprintIndex, original: npt.NDArray[np.float32]
) -> None:
    # 20 s from 5 s in, 6 dB quieter, resampled to 48 kHz.
    copy = resample_poly(original[5 * RATE : 25 * RATE] * 0.5, 160, 147).astype(np.float32)
    verdict = validate_bytes(wav(copy, 48000), fingerprint=True)
    judged, matches = identify(verdict, index)
    assert matches and matches[0].list == "known-bad"
    assert judged.decision is Decision.REJECT and judged.score >= 0.99
    (hit,) = [f for f in judged.findings if f.code == "fingerprint.known_bad"]
    assert hit is judged.findings[0]  # the heaviest finding leads
    ev = hit.evidence
    assert ev["list"] == "known-bad" and ev["track_id"] == "t-bad"
    assert ev["path"] == "payload-carrier.wav" and isinstance(ev["ref"], int)
    assert 0 < float(ev["score"]) <= 1 and float(ev["matched_s"]) >= 10
    assert float(ev["ref_start_s"]) == pytest.approx(5.0 + float(ev["query_start_s"]), abs=0.5)
    assert float(ev["query_end_s"]) > float(ev["query_start_s"])
    assert "index_lookup" in judged.timings_ms


def test_unrelated_audio_is_judged_as_without_the_index(index: FingerprintIndex) -> None:
    verdict = validate_bytes(wav(synth_notes(20.0, seed=12, rate=RATE)), fingerprint=True)
    judged, matches = identify(verdict, index)
    assert matches == []
    assert judged.decision is verdict.decision and judged.findings == verdict.findings


def test_a_catalogue_match_is_a_duplicate_naming_the_original_and_decides_nothing(
    tmp_path: Path, original: npt.NDArray[np.float32]
) -> None:
    index = FingerprintIndex(tmp_path / "cat")
    first = validate_bytes(wav(original), fingerprint=True)
    assert first.fingerprint is not None
    index.add(first.fingerprint, list_name="catalogue", track_id="t-original")
    again = validate_bytes(wav(original[RATE:] * 0.7), fingerprint=True)
    judged, _ = identify(again, index, track_id="t-copy")
    (dup,) = [f for f in judged.findings if f.code == "fingerprint.duplicate"]
    assert dup.evidence["track_id"] == "t-original" and dup.severity.name == "INFO"
    assert judged.decision is again.decision
    # The original judged again is not a duplicate of itself.
    self_judged, _ = identify(first, index, track_id="t-original")
    assert not any(f.code == "fingerprint.duplicate" for f in self_judged.findings)


def test_a_verdict_without_landmarks_is_left_alone(index: FingerprintIndex) -> None:
    verdict = validate_bytes(b"\x7fELF" + bytes(4000), fingerprint=True)
    assert identify(verdict, index) == (verdict, [])


def test_a_long_track_is_looked_up_window_by_window(tmp_path: Path) -> None:
    """Unrelated long audio does not pile chance votes into a match; a copy inside it is found."""
    from audiomodel.fingerprint import landmarks

    index = FingerprintIndex(tmp_path / "many")
    refs = [synth_notes(60.0, seed=500 + i, rate=RATE) for i in range(10)]
    with index.writer() as writer:
        for i, y in enumerate(refs):
            writer.add(landmarks(y, sr=RATE), list_name="known-bad", track_id=f"kb{i}")
    long_track = synth_notes(180.0, seed=900, rate=RATE)
    clean = validate_bytes(wav(long_track), fingerprint=True)
    judged, _ = identify(clean, index)
    assert not any(f.code.startswith("fingerprint.") for f in judged.findings)
    # 25 s of kb3 (from 20 s in), 6 dB quieter, spliced in at 90 s.
    spliced = long_track.copy()
    spliced[90 * RATE : 115 * RATE] = refs[3][20 * RATE : 45 * RATE] * 0.5
    judged, _ = identify(validate_bytes(wav(spliced), fingerprint=True), index)
    (hit,) = [f for f in judged.findings if f.code == "fingerprint.known_bad"]
    assert hit.evidence["track_id"] == "kb3" and judged.decision is Decision.REJECT
    assert 85 <= float(hit.evidence["query_start_s"]) <= 115
