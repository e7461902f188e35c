"""Fingerprints: excerpts are found again after gain, noise, resampling and speed changes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy.signal import resample_poly

from audiomodel.fingerprint import (
    FRAME_RATE,
    QUERY_FAN_OUT,
    Alignment,
    Fingerprinter,
    FingerprintError,
    Hashes,
    Landmarks,
    align,
    hashes,
    landmarks,
)

RATE = 44100


def song(seconds: float, seed: int, rate: int = RATE) -> npt.NDArray[np.float32]:
    """Music-like stereo: melody and chord notes (harmonic tones with attack and decay) at
    irregular onsets, in a scale of the song's own (random root, steps and tuning), plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros(t.size)
    steps = np.sort(rng.choice(np.arange(1, 12), 6, replace=False))
    scale = rng.uniform(100, 200) * 2 ** (np.concatenate(([0], steps)) / 12)
    for octave, mean_gap, length in ((4, 0.25, 0.4), (2, 0.7, 1.5), (2, 0.9, 1.5), (1, 0.6, 1.0)):
        onset = rng.uniform(0, mean_gap)
        while onset < seconds:
            f0 = scale[rng.integers(0, 7)] * octave * rng.choice([1, 2])
            duration = length * rng.uniform(0.5, 1.5)
            mask = (t >= onset) & (t < onset + duration)
            tt = t[mask] - onset
            envelope = np.minimum(tt / 0.01, 1) * np.exp(-tt * rng.uniform(1.5, 4))
            tone = sum(
                np.sin(2 * np.pi * f0 * h * tt) * rng.uniform(0.2, 1) / h for h in (1, 2, 3, 4)
            )
            out[mask] += 0.3 * envelope * tone
            onset += rng.exponential(mean_gap) + 0.05
    out += rng.normal(0, 0.003, t.size)
    out /= np.abs(out).max() / 0.8
    return np.stack((out, 0.9 * out), axis=1).astype(np.float32)


class Catalogue:
    """Reference hashes held in memory: just enough of an index to test the matching."""

    def __init__(self, references: list[Landmarks]) -> None:
        parts = [hashes(marks) for marks in references]
        refs = np.concatenate([np.full(len(h), i, dtype=np.uint32) for i, h in enumerate(parts)])
        all_hashes = np.concatenate([h.hashes for h in parts])
        order = np.argsort(all_hashes, kind="stable")
        self.hashes = all_hashes[order]
        self.refs = refs[order]
        self.times = np.concatenate([h.times for h in parts])[order]

    def match(self, marks: Landmarks) -> list[Alignment]:
        query: Hashes = hashes(marks, fan_out=QUERY_FAN_OUT)
        lo = np.searchsorted(self.hashes, query.hashes, side="left")
        hi = np.searchsorted(self.hashes, query.hashes, side="right")
        counts = hi - lo
        rows = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows += np.repeat(lo, counts)
        hit_query = np.repeat(np.arange(len(query), dtype=np.int64), counts)
        return align(
            query.times,
            hit_query,
            self.refs[rows],
            self.times[rows],
            query_anchors=int(np.unique(hashes(marks).times).size),
        )


@pytest.fixture(scope="module")
def songs() -> list[npt.NDArray[np.float32]]:
    return [song(60.0, seed) for seed in range(4)]


@pytest.fixture(scope="module")
def catalogue(songs: list[npt.NDArray[np.float32]]) -> Catalogue:
    return Catalogue([landmarks(y, sr=RATE) for y in songs])


def excerpt(
    y: npt.NDArray[np.float32], start_s: float, seconds: float = 10.0
) -> npt.NDArray[np.float32]:
    return y[int(start_s * RATE) : int((start_s + seconds) * RATE)]


def assert_found(found: list[Alignment], ref: int, start_s: float) -> Alignment:
    assert found, "no match"
    best = found[0]
    assert best.ref == ref
    assert 0.0 < best.score <= 1.0
    expected = start_s + best.query_start_s * best.scale
    assert abs(best.ref_start_s - expected) < 0.5
    assert best.matched_s > 5.0
    return best


def test_excerpt_matches_its_song_at_its_place(songs, catalogue) -> None:
    found = catalogue.match(landmarks(excerpt(songs[2], 23.3), sr=RATE))
    best = assert_found(found, 2, 23.3)
    assert best.scale == pytest.approx(1.0, abs=0.01)
    assert best.score > 0.5


def test_excerpt_after_minus_9_db_and_noise_at_20_db_snr_still_matches(songs, catalogue) -> None:
    clip = excerpt(songs[1], 31.7) * np.float32(10 ** (-9 / 20))
    power = float(np.mean(clip.astype(np.float64) ** 2))
    noisy = clip + np.random.default_rng(5).normal(0, np.sqrt(power / 100), clip.shape)
    assert_found(catalogue.match(landmarks(noisy.astype(np.float32), sr=RATE)), 1, 31.7)


def test_excerpt_resampled_to_48_khz_still_matches(songs, catalogue) -> None:
    clip = resample_poly(excerpt(songs[0], 12.1), 160, 147, axis=0).astype(np.float32)
    assert_found(catalogue.match(landmarks(clip, sr=48000)), 0, 12.1)


@pytest.mark.parametrize("speed", [1.03, 0.97])
def test_speed_change_of_3_percent_matches_with_its_time_scale(songs, catalogue, speed) -> None:
    # Played faster: fewer samples at the same rate, so time and pitch scale together.
    clip = resample_poly(excerpt(songs[3], 20.0), 100, round(100 * speed), axis=0)
    best = assert_found(catalogue.match(landmarks(clip.astype(np.float32), sr=RATE)), 3, 20.0)
    assert best.scale == pytest.approx(speed, abs=0.012)


def test_unrelated_music_does_not_match(catalogue) -> None:
    for seed in (10, 11, 12):
        assert catalogue.match(landmarks(excerpt(song(20.0, seed), 3.0), sr=RATE)) == []


def test_blocks_fed_in_any_sizes_give_the_same_landmarks() -> None:
    y = song(40.0, 7, rate=8000)  # at the fingerprint's own rate: no resampler in the way
    whole = landmarks(y, sr=8000)
    streamed = Fingerprinter(8000)
    for start, size in zip(
        range(0, y.shape[0], 777), [777] * (y.shape[0] // 777 + 1), strict=False
    ):
        streamed.update(y[start : start + size])
    parts = streamed.finish()
    assert len(whole) > 10 * 40
    np.testing.assert_allclose(parts.times, whole.times)
    np.testing.assert_allclose(parts.bands, whole.bands)
    assert parts.duration_s == pytest.approx(40.0)


def test_int16_blocks_give_the_landmarks_of_their_float_values() -> None:
    y = song(15.0, 8)
    ints = np.round(y * 32767).astype(np.int16)
    a, b = landmarks(ints, sr=RATE), landmarks(ints.astype(np.float32) / 32768, sr=RATE)
    np.testing.assert_allclose(a.times, b.times)


def test_silence_has_no_landmarks_and_no_hashes() -> None:
    marks = landmarks(np.zeros((RATE * 5, 2), dtype=np.float32), sr=RATE)
    assert len(marks) == 0
    assert len(hashes(marks)) == 0
    assert marks.duration_s == pytest.approx(5.0)


def test_hash_times_are_anchor_frames() -> None:
    marks = landmarks(song(10.0, 9), sr=RATE)
    h = hashes(marks)
    assert h.hashes.dtype == np.uint32
    assert h.times.max() <= 10.0 * FRAME_RATE
    assert set(np.unique(h.times)) <= set(np.rint(marks.times).astype(np.uint32))


def test_bad_shapes_and_rates_are_refused() -> None:
    with pytest.raises(FingerprintError):
        Fingerprinter(0)
    with pytest.raises(FingerprintError):
        Fingerprinter(RATE).update(np.zeros((2, 2, 2), dtype=np.float32))
