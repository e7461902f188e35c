"""The modem's inner transforms, written for speed, give the same arrays as their plain forms:
a band's bins placed by a modulo index, the Schmitt trigger of whole-array ``np.where`` passes,
the keyed-band floor of whole-array expressions, and one change spectrum read by both clocks."""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt
import pytest
import scipy.fft

from audiomodel import modem
from audiomodel.keyed_bands import SLOW_FRAMES, _keyed_part

Floats = npt.NDArray[np.float64]


def plain_band_envelopes(
    spectrum: npt.NDArray[np.complex128],
    bin_hz: float,
    centres: tuple[float, ...],
    half: float,
    length: int,
) -> npt.NDArray[np.complex128]:
    h = max(1, int(half / bin_hz))
    shifted = np.zeros((len(centres), length), dtype=np.complex128)
    for row, centre in zip(shifted, centres, strict=True):
        c = round(centre / bin_hz)
        lo, hi = max(1, c - h), min(spectrum.size, c + h + 1)
        row[(np.arange(lo, hi) - c) % length] = spectrum[lo:hi] * modem._taper(hi - lo)
    out: npt.NDArray[np.complex128] = scipy.fft.ifft(shifted, axis=-1)
    return out


def plain_keyed_part(power: Floats, slow: int = SLOW_FRAMES) -> Floats:
    n = power.shape[0]
    cs = np.cumsum(power, axis=0)
    mean = np.empty_like(power)
    half = slow // 2
    mean[half : n - slow + half + 1] = (
        np.concatenate((cs[slow - 1 : slow], cs[slow:] - cs[:-slow])) / slow
    )
    mean[:half] = mean[half]
    mean[n - slow + half + 1 :] = mean[n - slow + half]
    fast = power - mean
    fast -= fast.mean(axis=0)
    out: Floats = fast / (np.sqrt((fast**2).mean(axis=0)) + 1e-20)
    return out


@pytest.mark.parametrize("size", [129, 4097, 32769])
def test_band_envelopes_place_bins_as_the_modulo_index_does(size: int) -> None:
    rng = np.random.default_rng(size)
    spectrum = rng.normal(size=size) + 1j * rng.normal(size=size)
    checked = 0
    for _ in range(200):
        bin_hz = float(rng.uniform(0.2, 20.0))
        half = float(rng.uniform(0.5, 400.0))
        length = int(rng.integers(16, 9000))  # short ones wrap the band around the array
        centres = (float(rng.uniform(0, size * bin_hz)), float(rng.uniform(0, size * bin_hz)))
        h = max(1, int(half / bin_hz))
        if any(
            min(size, round(c / bin_hz) + h + 1) <= max(1, round(c / bin_hz) - h) for c in centres
        ):
            continue  # no bins in a band: neither form applies
        got = modem._band_envelopes(spectrum, bin_hz, centres, half, length)
        assert np.array_equal(got, plain_band_envelopes(spectrum, bin_hz, centres, half, length))
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("frames", [SLOW_FRAMES + 1, 256, 300])
def test_keyed_part_matches_whole_array_expressions(frames: int) -> None:
    # float32, as keyed_bands computes it (its Floats annotation is the loose one)
    power = cast(Floats, np.random.default_rng(frames).random((frames, 37)).astype(np.float32))
    assert np.array_equal(_keyed_part(power), plain_keyed_part(power))


def test_both_clocks_read_one_change_spectrum_per_signal() -> None:
    rng = np.random.default_rng(5)
    diff = np.sign(np.sin(2 * np.pi * 300 * np.arange(4000) / 2000.0)) + rng.normal(0, 0.2, 4000)
    first = modem._change_power(diff, 2000.0)
    assert modem._change_power(diff, 2000.0) is first  # kept for the same signal
    other = diff.copy()
    again = modem._change_power(other, 2000.0)
    assert again is not first  # a new signal (even with equal values) is transformed anew
    assert all(np.array_equal(a, b) for a, b in zip(first[1:4], again[1:4], strict=True))
    lines = modem._clock_lines(diff, 2000.0, 800.0)
    # a 300 Hz square wave changes sign 600 times a second: the clock is 600 Bd
    assert lines.size and np.any(np.abs(lines - 600.0) < 1.0)
