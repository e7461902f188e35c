"""Test tones rounded without dither: what rounded_curves explains, and what it must not."""

from __future__ import annotations

import numpy as np

from audiomodel.findings import finding
from audiomodel.rounded_curves import (
    RoundedCurves,
    few_sinusoids,
    locally_sinusoidal,
    repeats_exactly,
)

RATE = 48000


def _tone(frames: int = 1 << 16, freq: float = 1000.0, amp: float = 20000.0) -> np.ndarray:
    t = np.arange(frames)
    return np.round(amp * np.sin(2 * np.pi * freq * t / RATE)).astype(np.int64)


def _replace(values: np.ndarray, share: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = values.copy()
    hit = rng.random(out.shape) < share
    out[hit] = (out[hit] & ~1) | rng.integers(0, 2, int(hit.sum()))
    return out


def test_a_whole_period_tone_repeats_and_a_replaced_one_does_not() -> None:
    tone = _tone()[:, None].astype(np.float64)
    assert repeats_exactly(tone)
    for share in (0.05, 0.1, 1.0):
        assert not repeats_exactly(_replace(tone.astype(np.int64), share).astype(np.float64))


def test_digital_silence_and_few_levels_are_not_a_tone() -> None:
    assert not repeats_exactly(np.zeros((1 << 16, 1)))
    square = np.where((np.arange(1 << 16) // 24) % 2 == 0, 1000.0, -1000.0)[:, None]
    assert not repeats_exactly(square)


def test_a_rounded_8bit_sine_is_a_few_sinusoids_and_a_counter_is_not() -> None:
    sine = np.round(120 * np.sin(2 * np.pi * 997 * np.arange(1 << 15) / 44100))[:, None]
    assert few_sinusoids(sine)
    counter = ((np.arange(1 << 15) % 256) - 128.0)[:, None]
    assert not few_sinusoids(counter)
    slow_ramp = np.round(np.linspace(-30000, 30000, 1 << 15))[:, None]  # a ramp of the corpus
    assert not few_sinusoids(slow_ramp)
    assert not few_sinusoids(_replace(sine.astype(np.int64), 0.1).astype(np.float64))


def test_a_sweep_is_locally_a_sinusoid_and_bytes_are_not() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 8000
    sweep = 120 * np.sin(2 * np.pi * (20 * t + 700 * t * t))
    shaped = np.diff(rng.uniform(-1, 1, t.size + 1))  # high-passed dither, as a shaper makes
    values = np.round(sweep + shaped)[:, None]
    assert locally_sinusoidal(values, 0, values.shape[0])
    data = values.copy()
    data[4000:8000, 0] = rng.integers(-128, 128, 4000)
    assert not locally_sinusoidal(data, 0, data.shape[0])
    # a span beyond the head kept is not judged
    assert not locally_sinusoidal(values, 0, values.shape[0] + 1)


def test_explain_drops_the_parity_flag_of_a_tone_only() -> None:
    flag = finding("stego.lsb_statistical", "low bits", prefix_share=1.0)
    other = finding("signal.data_segment", "bytes", start_frame=0, end_frame=10)
    clean = RoundedCurves(1)
    clean.update(_tone()[:, None].astype(np.int16))
    assert clean.explain([flag, other]) == [other]
    attacked = RoundedCurves(1)
    attacked.update(_replace(_tone(), 0.1)[:, None].astype(np.int16))
    assert attacked.explain([flag]) == [flag]
