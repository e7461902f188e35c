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
from audiomodel.modem_kernels import (
    EPS,
    _numpy_sum,
    band_energy,
    change_times,
    clock_coherence,
    decimate,
    group_sums,
    keyed_difference,
    keyed_part,
    moving_max,
    percentiles,
    phasor_run,
    place_band,
    row_medians,
    subtract_floor,
    symbol_sums,
    turn_correlation,
)


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


def _same(got: npt.NDArray[np.floating] | float, want: npt.NDArray[np.floating] | float) -> bool:
    """Equal to the bit (signs of zeros too; NaN where NaN)."""
    a, b = np.asarray(got), np.asarray(want)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _runs() -> list[npt.NDArray[np.float64]]:
    """Vectors of every length class numpy's pairwise sum treats apart (under 8, up to 128,
    halved once or many times, at and beside multiples of 8), values of wide magnitudes."""
    rng = np.random.default_rng(7)
    sizes = [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 130, 255, 256, 257, 1000, 4097, 65536]
    return [rng.normal(size=n) * 10 ** rng.uniform(-6, 6, size=n) for n in sizes]


def test_numpy_sum_adds_in_numpys_own_order() -> None:
    for x in _runs():
        assert _numpy_sum(x, 0, x.size) == np.sum(x), x.size
        assert _numpy_sum(x, 1, x.size - 1) == np.sum(x[1:]), x.size


@pytest.mark.parametrize("group", [1, 2, 3, 8, 9, 30, 129])
def test_group_sums_equal_numpys_sums_of_the_reshaped_rows(group: int) -> None:
    for x in _runs():
        want = x[: x.size // group * group].reshape(-1, group).sum(axis=1)
        assert _same(group_sums(x, group), want), (x.size, group)


@pytest.mark.parametrize("total", [True, False])
def test_band_energy_squares_sums_and_takes_the_floor_off_as_numpy_does(total: bool) -> None:
    rng = np.random.default_rng(8)
    for n in (1, 7, 64, 301, 5000):
        for span in (1, 3, 40, n + 2):
            magnitude = np.abs(rng.normal(size=(2, n)) + 1j * rng.normal(size=(2, n)))
            magnitude[:, 3:6] = 0.0
            energy = magnitude**2
            e_a, e_b = energy
            want_total = e_a / (e_a.mean() + EPS) + e_b / (e_b.mean() + EPS)
            want = energy - minimum_filter1d(energy, span, axis=-1)
            got = magnitude.copy()
            got_total = band_energy(got, span, total=total)
            assert _same(got, want), (n, span)
            assert _same(got_total, want_total if total else np.empty(0)), (n, span)


def test_turn_correlation_is_numpys_correlation_to_the_bit() -> None:
    rng = np.random.default_rng(9)
    for n in (1, 2, 9, 130, 2816, 6250):
        e_a = np.abs(rng.normal(size=n)) ** 2
        for e_b in (np.abs(rng.normal(size=n)) ** 2, 2.0 - e_a, np.zeros(n), e_a.copy()):
            a, b = e_a - e_a.mean(), e_b - e_b.mean()
            want = float(np.mean(a * b) / (a.std() * b.std() + EPS))
            assert _same(turn_correlation(e_a, e_b), want), n


def test_keyed_difference_is_numpys_expression_to_the_bit() -> None:
    rng = np.random.default_rng(10)
    for n in (1, 5, 129, 4096):
        e_a = np.abs(rng.normal(size=n)) ** 2
        e_b = np.abs(rng.normal(size=n)) ** 2
        e_b[: n // 3] = 0.0  # one tone held: below the gate in places
        want_a, want_b = e_a.copy(), e_b.copy()
        want_a /= want_a.mean() + EPS
        want_b /= want_b.mean() + EPS
        total = want_a + want_b
        keyed = total > 0.2 * total.mean()
        want = np.where(keyed, (want_a - want_b) / (total + 0.2 * total.mean() + EPS), 0.0)
        got = keyed_difference(e_a, e_b)
        assert _same(got, want) and _same(e_a, want_a) and _same(e_b, want_b), n


def test_percentiles_are_numpys_linear_percentiles_to_the_bit() -> None:
    rng = np.random.default_rng(11)
    percents = (0, 5, 10, 15, 30, 50, 90, 99.9, 100)
    for n in (1, 2, 3, 10, 161, 1000):
        # the modem's inputs: intervals, runs, smoothed energy (none negative; ties; zeros)
        for x in (
            np.abs(rng.normal(size=n)),
            np.round(np.abs(rng.normal(size=n)), 1),
            np.cumsum(np.abs(rng.normal(size=n))),
            np.zeros(n),
        ):
            assert _same(percentiles(x, percents), np.percentile(x, percents)), n
            assert _same(percentiles(x, (10,))[0], np.percentile(x, 10)), n
    assert np.isnan(percentiles(np.array([1.0, np.nan, 2.0]), (10, 90))).all()


@pytest.mark.parametrize("factor", [1, 2, 3, 9])
def test_decimate_sums_and_scales_as_the_numpy_decimator(factor: int) -> None:
    rng = np.random.default_rng(12)
    for channels in (1, 2, 6):
        for mono in (
            rng.integers(-32768 * channels, 32768 * channels, size=10007).astype(np.int32),
            rng.normal(size=10007),
        ):
            usable = mono.size // factor * factor
            summed = mono[0:usable:factor].copy()
            for phase in range(1, factor):
                summed += mono[phase:usable:factor]
            scale = 1.0 / (factor * channels)
            want = (summed * scale).astype(np.float32)
            assert _same(decimate(mono, factor, scale), want), (factor, channels, mono.dtype)


def _numpy_keyed_part(power: npt.NDArray[np.float32], slow: int) -> npt.NDArray[np.float32]:
    """What keyed_bands._keyed_part computed before the kernel."""
    n = power.shape[0]
    if n <= slow:
        fast = power - power.mean(axis=0)
    else:
        cs = np.cumsum(power, axis=0)
        mean = np.empty_like(power)
        half = slow // 2
        whole = mean[half : n - slow + half + 1]
        whole[0] = cs[slow - 1]
        np.subtract(cs[slow:], cs[:-slow], out=whole[1:])
        whole /= slow
        mean[:half] = mean[half]
        mean[n - slow + half + 1 :] = mean[n - slow + half]
        fast = np.subtract(power, mean, out=mean)
        fast -= fast.mean(axis=0)
    square = fast * fast
    out: npt.NDArray[np.float32] = np.divide(fast, np.sqrt(square.mean(axis=0)) + EPS, out=square)
    return out


@pytest.mark.parametrize("slow", [1, 2, 24, 25])
def test_keyed_part_is_the_numpy_running_mean_and_scaling_to_the_bit(slow: int) -> None:
    rng = np.random.default_rng(13)
    for shape in ((1, 4), (20, 10), (24, 5), (25, 3), (129, 33), (256, 44), (2000, 7)):
        power = (np.abs(rng.normal(size=shape)) ** 2 * 10 ** rng.uniform(-3, 3)).astype(np.float32)
        power[:, 0] = 0.0  # a silent band
        assert _same(keyed_part(power, slow), _numpy_keyed_part(power, slow)), (shape, slow)


def test_clock_coherence_is_numpys_outer_product_coherence_within_its_rounding() -> None:
    rng = np.random.default_rng(8)
    checked = 0
    for count in (1, 2, 7, 129, 1500):
        for keyed in (False, True):
            named = float(rng.uniform(300, 4800))
            t = np.sort(rng.uniform(0, 2.7, count))
            if keyed:  # changes near a clock's ticks
                t = np.round(t * named) / named + rng.normal(0, 0.1 / named, count)
            t -= t[0]
            rates = named * (1 + np.linspace(-0.004, 0.004, 81))
            cycles = np.outer(rates, t).astype(np.float64)
            cycles -= np.rint(cycles)
            angle = (2 * np.pi) * cycles
            want = np.hypot(np.cos(angle).mean(axis=1), np.sin(angle).mean(axis=1))
            got = clock_coherence(rates, t)
            assert np.max(np.abs(got - want)) < 1e-11, (count, keyed)
            checked += 1
    assert checked == 10


def test_clock_coherence_takes_a_grid_only() -> None:
    with pytest.raises(ValueError, match="evenly spaced"):
        clock_coherence(np.array([300.0, 301.0, 305.0]), np.array([0.0, 0.1]))


def test_phasor_run_is_numpys_complex_exponential_within_its_rounding() -> None:
    # the rates and tones of the receivers (reduced rates, plan and peak tones), runs from the
    # start and extending a kept one; the error bound grows with the angle (its own rounding)
    for rate in (16000.0, 22050.0, 24000.0, 14700.0):
        for freq in (300.0, 1070.0, 1478.6666666666665, 2110.25390625, 7000.0):
            whole = phasor_run(freq, rate, 0, 90000)
            for start, stop in ((0, 1), (0, 70001), (70001, 90000), (5, 5), (63, 200)):
                want = np.exp(-2j * np.pi * freq * (np.arange(start, stop) / rate))
                got = phasor_run(freq, rate, start, stop)
                assert np.max(np.abs(got - want), initial=0.0) < 1e-10, (rate, freq, start)
                # the values depend on the sample, not on where the run starts
                assert _same(got, whole[start:stop]), (rate, freq, start)
    freq64 = np.float64(933.0413818359375)  # a tone estimated by numpy, not a Python float
    want = np.exp(-2j * np.pi * freq64 * (np.arange(3000) / 24000.0))
    assert np.max(np.abs(phasor_run(freq64, 24000.0, 0, 3000) - want)) < 1e-12


def test_symbol_sums_are_the_running_sums_differences_to_the_bit() -> None:
    rng = np.random.default_rng(14)
    for n in (0, 1, 2, 17, 5000):
        x = rng.normal(size=n) * 10 ** rng.uniform(-3, 4)
        if n > 4:
            x[:3] = [0.0, -0.0, 0.0]  # exact zeros at the start: zero sums of either sign
        phasor = np.exp(-2j * np.pi * 1234.5 * (np.arange(n + 3) / 22050.0))
        for width in (1, 2, 3, 18, n, n + 1, n + 2):
            if width < 1:
                continue
            c = np.concatenate(([0], np.cumsum(x * phasor[:n])))
            want = c[width:] - c[:-width]
            got = symbol_sums(x, phasor, width)
            # the same sums (a zero's sign aside: the receiver reads their magnitudes)
            assert got.shape == want.shape and np.array_equal(got, want), (n, width)
            assert _same(np.abs(got), np.abs(want)), (n, width)


def test_row_medians_equal_numpys_median_to_the_bit() -> None:
    rng = np.random.default_rng(15)
    for shape in ((117, 70), (234, 35), (40, 64), (3, 5, 64), (4, 1), (1, 2)):
        for dtype in (np.float32, np.float64):
            values = (rng.lognormal(size=shape) * 1e3).astype(dtype)
            values[..., ::7] = values[..., :1]  # ties
            want = np.median(values, axis=-1)
            got = row_medians(values)
            assert got.dtype == want.dtype and np.array_equal(got, want), (shape, dtype)
    # a wrong middle (the upper one alone) would differ: the test can fail
    even = np.array([[1.0, 2.0, 4.0, 8.0]])
    assert row_medians(even)[0] == 3.0
