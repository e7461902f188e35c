"""The modem's compiled loops give exactly the numbers of the numpy and scipy expressions they
replace, and stay inside their arrays (run once more bounds-checked, with the compiler off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from audiomodel import modem
from audiomodel.modem_kernels import change_times, moving_max, place_band, subtract_floor


def _numpy_change_times(
    diff: npt.NDArray[np.float64], rate: float, hysteresis: float
) -> npt.NDArray[np.float64]:
    """What modem._crossings computed before the kernel: the test's oracle of the kernel."""
    high = diff > hysteresis
    decided = np.flatnonzero(high | (diff < -hysteresis))
    if decided.size < 2:
        return np.empty(0)
    levels = high[decided]
    flips = np.flatnonzero(levels[1:] != levels[:-1])
    sign = diff >= 0
    zeros = np.flatnonzero(sign[1:] != sign[:-1])
    if flips.size == 0 or zeros.size == 0:
        return np.empty(0)
    at = np.searchsorted(zeros, decided[flips + 1], side="left") - 1
    z = zeros[np.clip(at, 0, zeros.size - 1)]
    y0, y1 = diff[z], diff[z + 1]
    frac = np.where(y0 != y1, y0 / np.where(y0 != y1, y0 - y1, 1.0), 0.0)
    out: npt.NDArray[np.float64] = np.unique((z + frac) / rate)
    return out


def _diffs() -> list[npt.NDArray[np.float64]]:
    """Tone differences: edge cases, noise at several levels, smoothed, with exact zeros,
    rounded (samples exactly on the threshold), and ones that never cross zero."""
    rng = np.random.default_rng(3)
    cases = [
        np.zeros(0),
        np.zeros(1),
        np.array([0.5]),
        np.array([0.5, -0.5]),
        np.array([0.5, 0.5]),
        np.array([-0.5, 0.0, 0.5]),
        np.array([0.5, 0.1, -0.1, -0.5, 0.0, 0.5]),
        np.array([-0.0, 0.0, 0.4, -0.4]),
        np.array([0.5, 0.1, -0.2, -0.5, 0.0, 0.31]),
        np.sign(np.sin(np.linspace(0, 60, 2000))) * 0.9,  # exact zeros and flat runs
        np.sin(np.linspace(0, 300, 5000)) + rng.normal(0, 0.3, 5000),
    ]
    for n in (2, 3, 10, 300):
        for scale in (0.1, 0.3, 1.0, 3.0):
            d = rng.normal(size=n) * scale
            held = d.copy()
            held[rng.random(n) < 0.3] = 0.0
            smooth = np.convolve(d, np.ones(9) / 9, mode="same")
            cases += [d, np.round(d, 1), smooth, held, np.abs(d), np.abs(d) + 0.31]
    return cases


def test_change_times_equal_the_numpy_schmitt_trigger_to_the_bit() -> None:
    for diff in _diffs():
        for rate in (1000.0, 4410.5):
            want = _numpy_change_times(diff, rate, 0.3)
            got = change_times(diff, rate, 0.3)
            assert got.dtype == want.dtype and np.array_equal(got, want), diff
            assert np.array_equal(modem._crossings(diff, rate), want)
    noisy_tones = np.sin(np.linspace(0, 300, 5000)) + np.random.default_rng(5).normal(0, 0.3, 5000)
    assert modem._crossings(noisy_tones, 1000.0).size > 40  # the oracle is not compared on nothing


@pytest.mark.parametrize("rows", [1, 2])
def test_subtract_floor_equals_taking_off_scipys_moving_minimum(rows: int) -> None:
    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 5, 64, 301):
        for span in sorted({1, 2, 3, 4, 5, 8, 33, 70, max(1, n - 1), n, n + 1, 2 * n, 3 * n + 1}):
            energy = np.abs(rng.normal(size=(rows, n))) ** 2
            energy[:, 5:9] = 0.0  # held floors (ties)
            want = energy - minimum_filter1d(energy, span, axis=-1)
            subtract_floor(energy, span)
            assert np.array_equal(energy, want), (n, span)


@pytest.mark.slow
def test_the_kernels_stay_inside_their_arrays_bounds_checked() -> None:
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("already the bounds-checked run")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__)), "-q", "-p", "no:cacheprovider"],
        env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


@pytest.mark.parametrize("cval", [None, -np.inf, 0.5])
def test_moving_max_equals_scipys_maximum_filter(cval: float | None) -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 5, 64, 301):
        for span in sorted({1, 2, 3, 4, 5, 15, 33, max(1, n - 1), n, n + 1, 2 * n, 3 * n + 1}):
            x = rng.normal(size=n) * 10
            x[2:6] = 1.0  # plateaus (ties)
            if cval is None:
                want = maximum_filter1d(x, span)
            else:
                want = maximum_filter1d(x, span, mode="constant", cval=cval)
            assert np.array_equal(moving_max(x, span, cval=cval), want), (n, span)


def test_place_band_writes_the_tapered_bins_as_numpy_does_to_the_bit() -> None:
    rng = np.random.default_rng(6)
    spectrum = rng.normal(size=300) + 1j * rng.normal(size=300)
    spectrum[10:14] = [0.0, -0.0 + 1j, 1.0 - 0.0j, -0.0 - 0.0j]  # zeros of both signs
    for length in (8, 64, 100):
        for lo, hi, centre in ((1, 20, 10), (5, 14, 9), (250, 300, 290), (40, 41, 40), (3, 3, 3)):
            taper = np.hanning(hi - lo + 2)[1:-1]
            want = np.zeros(length, dtype=np.complex128)
            want[(np.arange(lo, hi) - centre) % length] = spectrum[lo:hi] * taper
            got = np.zeros(length, dtype=np.complex128)
            place_band(got, spectrum, lo, hi, centre, taper)
            assert np.array_equal(got.view(np.int64), want.view(np.int64)), (length, lo, hi)
