"""Keyed echoes and repeating spreading codes under a music-like signal (audiomodel.watermarks)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.signal

from audiomodel.watermarks import WatermarkScanner

RATE = 22050
SECONDS = 12.0


def music_like(seed: int, noise_level: float = 1.0) -> npt.NDArray[np.float64]:
    """Coloured noise (a falling spectrum) under a few changing notes with their harmonics.
    Real music is far more predictable than the noise: a code 25 dB under a noisy track is 25
    dB under its whitened residual too, out of this reader's reach, so the code tests turn the
    noise down (a tonal mix, as the survey's train music is)."""
    rng = np.random.default_rng(seed)
    n = int(RATE * SECONDS)
    noise = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.normal(size=n))
    t = np.arange(n) / RATE
    notes = np.repeat(220 * 2 ** (rng.integers(0, 12, 48) / 12), n // 48 + 1)[:n]
    phase = 2 * np.pi * np.cumsum(notes) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    return np.asarray(
        noise_level * noise / noise.std() + 0.5 * tone * (1 + 0.3 * np.sin(2 * np.pi * t))
    )


def delayed(x: npt.NDArray[np.float64], d: int) -> npt.NDArray[np.float64]:
    return np.concatenate([np.zeros(d), x[: x.size - d]])


def codes(x: npt.NDArray[np.float64]) -> set[str]:
    scanner = WatermarkScanner(RATE)
    ints = np.round(x / np.abs(x).max() * 20000).astype(np.int32)
    for start in range(0, ints.size, 8192):
        scanner.update(ints[start : start + 8192])
    return {f.code for f in scanner.report()}


def keyed(
    x: npt.NDArray[np.float64], delays: tuple[int, int], segment: int, seed: int
) -> npt.NDArray[np.float64]:
    bits = np.random.default_rng(seed).integers(0, 2, x.size // segment + 1)
    mixer = np.repeat(bits, segment)[: x.size].astype(np.float64)
    return x + 0.4 * ((1 - mixer) * delayed(x, delays[0]) + mixer * delayed(x, delays[1]))


def test_echo_keyed_between_two_delays_is_found() -> None:
    x = music_like(1)
    assert "stego.keyed_echo" in codes(keyed(x, (25, 38), 2048, 2))
    assert "stego.keyed_echo" in codes(keyed(x, (60, 44), 4096, 3))


def test_fixed_and_sweeping_echoes_are_not_keyed() -> None:
    x = music_like(4)
    # a fixed reflection (a room's floor bounce) is on in every frame
    assert not codes(x + 0.5 * delayed(x, 30))
    # a flanger: the delay sweeps 10-60 samples and back, continuously
    t = np.arange(x.size) / RATE
    d = 35 + 25 * np.sin(2 * np.pi * 0.3 * t)
    swept = x + 0.6 * np.interp(np.arange(x.size) - d, np.arange(x.size), x)
    assert not codes(swept)
    assert not codes(x)


def spread(
    x: npt.NDArray[np.float64], chips: int, db: float, repeat: bool, keyed: bool
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(chips)
    count = x.size // chips + 1
    if repeat:
        code = np.tile(np.where(rng.random(chips) < 0.5, -1.0, 1.0), count)
    else:
        code = np.where(rng.random(count * chips) < 0.5, -1.0, 1.0)
    bits = rng.integers(0, 2, count) * 2.0 - 1 if keyed else np.ones(count)
    s = (code * np.repeat(bits, chips))[: x.size]
    return x + s * x.std() / s.std() * 10 ** (db / 20)


def test_repeating_code_keyed_by_bits_is_found() -> None:
    x = music_like(5, noise_level=0.03)
    assert "stego.spread_code" in codes(spread(x, 1023, -25, repeat=True, keyed=True))
    assert "stego.spread_code" in codes(spread(x, 700, -30, repeat=True, keyed=True))


def test_noise_loops_and_unrepeated_codes_are_not_codes() -> None:
    x = music_like(6, noise_level=0.03)
    # a code that never repeats: white noise to this reader (the limit)
    assert "stego.spread_code" not in codes(spread(x, 1023, -25, repeat=False, keyed=True))
    # a noise loop repeated sample-exactly (one sign): a waveform that repeats, not a keyed code
    assert "stego.spread_code" not in codes(spread(x, 1023, -25, repeat=True, keyed=False))
    assert "stego.spread_code" not in codes(x)
