"""The compiled steganalysis loops give exactly what the numpy passes they replace give."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from audiomodel.stego import kernels
from audiomodel.stego.carving import _PRINTABLE
from audiomodel.stego.comb import populated_runs
from audiomodel.stego.impulses import ImpulseCounter
from audiomodel.stego.statistics import _fair_imbalance, _fair_table


def numpy_band_levels(spectrum: np.ndarray, first: int, bands: int, norm: float) -> np.ndarray:
    """The noise floor's band levels as numpy computed them (float32, numpy's pairwise order)."""
    part = spectrum[..., first : first + 16 * bands]
    power = np.square(part.real)
    power += np.square(part.imag)
    power = power.reshape(*power.shape[:-1], bands, 16)
    half = power[..., :8] + power[..., 8:]
    quarter = half[..., 0::2] + half[..., 1::2]
    eighth = quarter[..., 0::2] + quarter[..., 1::2]
    out = eighth[..., 0] + eighth[..., 1]
    out /= 16
    out /= np.float32(norm)
    assert np.array_equal(out, power.sum(axis=-1) / 16 / np.float32(norm))  # numpy's own sum
    return out.astype(np.float64)


@pytest.mark.parametrize("scale", [0.3, 40.0, 20000.0])
def test_band_levels_equal_numpy_to_the_bit(scale: float) -> None:
    rng = np.random.default_rng(int(scale))
    frames = np.rint(rng.standard_normal((2, 37, 1024)) * scale).astype(np.float32)
    spectrum = scipy.fft.rfft(frames * np.hanning(1026)[1:-1].astype(np.float32), axis=-1)
    out = np.full((2, 37, 28), np.nan)
    kernels.band_levels(spectrum, 49, 28, np.float32(383.6), out)
    expected = numpy_band_levels(spectrum, 49, 28, 383.6)
    assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_subblock_extremes_equal_numpy_abs_max(dtype: type) -> None:
    rng = np.random.default_rng(3)
    residual = (rng.standard_normal((2, 130 * 128)) * 3).astype(np.float32)
    residual[0, 5] = -np.inf
    residual[1, 300] = np.nan
    residual[1, 1000:1128] = -0.0
    info = np.iinfo(dtype)
    samples = rng.integers(-2000, 2000, (2, 130 * 128 + 7)).astype(dtype)
    samples[0, 20] = info.min  # abs wraps: numpy's max skips it
    samples[1, 140:268] = info.min  # a whole sub-block of it
    samples[0, 700] = info.max
    # both rails in one sub-block: its span (65,535 at 16 bits) does not fit the sample dtype,
    # and a span taken in that dtype wraps to a small negative number, a "plateau"
    samples[1, 1500], samples[1, 1510] = info.min, info.max
    view = samples[:, 3 : 3 + 130 * 128]  # strided rows, as the statistics pass them
    top, peak, span = kernels.subblock_extremes(residual, view, 128)
    expected_top = np.abs(residual).reshape(2, -1, 128).max(axis=-1)
    expected_peak = np.abs(view).reshape(2, -1, 128).max(axis=-1)
    blocks = view.reshape(2, -1, 128).astype(np.int64)
    assert top.dtype == expected_top.dtype and peak.dtype == expected_peak.dtype
    assert top.tobytes() == expected_top.tobytes()
    assert peak.tobytes() == expected_peak.tobytes()
    assert np.array_equal(span, blocks.max(axis=-1) - blocks.min(axis=-1))
    assert span[1, (1500 - 3) // 128] == int(info.max) - int(info.min)
    # float64 residuals (32-bit PCM) take numpy's path: the same three answers
    top64, peak64, span64 = kernels.subblock_extremes(residual.astype(np.float64), view, 128)
    assert np.array_equal(top64, expected_top.astype(np.float64), equal_nan=True)
    assert np.array_equal(peak64, expected_peak) and np.array_equal(span64, span)


def test_impulse_counter_counts_the_same_given_the_maxima() -> None:
    rng = np.random.default_rng(8)
    residual = rng.normal(0, 0.6, (2, 64 * 128)).astype(np.float32)
    residual[:, 3000] += 12.0
    residual[1, 7001] -= 9.0
    energy = np.einsum("ij,ij->i", *(2 * [residual.reshape(-1, 128)])).reshape(2, -1)
    peak = np.full((2, 64), 100)
    coef = np.full(16, 1 / 32)
    alone, given = ImpulseCounter(), ImpulseCounter()
    alone.update(residual, coef, peak, energy.astype(np.float64), 10)
    top, _, _ = kernels.subblock_extremes(residual, peak.repeat(128, axis=1), 128)
    given.update(residual, coef, peak, energy.astype(np.float64), 10, top=top)
    assert alone.events >= 2
    assert vars(alone) == vars(given)


@pytest.mark.parametrize("k", [1, 16])
def test_has_aligned_run_equals_the_block_test(k: int) -> None:
    rng = np.random.default_rng(k)
    for trial in range(40):
        stream = rng.integers(0, 256, 4096 + trial, dtype=np.uint8)
        if trial % 3 == 0:
            start = rng.integers(0, 4000)
            stream[start : start + 40] = rng.integers(0x41, 0x5A, 40)
        mask = _PRINTABLE[stream]
        expected = bool(mask[: mask.size // k * k].reshape(-1, k).all(axis=1).any())
        assert kernels.has_aligned_run(stream, _PRINTABLE, k) == expected


def test_populated_runs_find_every_run() -> None:
    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 65536):
        hist = rng.integers(0, 3, size) * rng.integers(0, 2, size)
        edges = np.diff(np.concatenate([[0], (hist > 0).astype(np.int8), [0]]))
        starts, ends = populated_runs(hist)
        np.testing.assert_array_equal(starts, np.flatnonzero(edges == 1))
        np.testing.assert_array_equal(ends, np.flatnonzero(edges == -1))


def test_determinism_terms_are_the_pairs_seen_twice_with_the_fair_imbalance() -> None:
    rng = np.random.default_rng(6)
    counts = rng.integers(0, 40, (5000, 2))
    counts[::7] = 0
    counts[1::11, 0] = 1
    counts[1::11, 1] = 0
    counts[3::500] = rng.integers(9000, 90000, (10, 2))  # past the table: computed
    table = _fair_table()
    room, excess = kernels.determinism_terms(counts, table, _fair_imbalance)
    # What lsb_determinism computed with numpy: the formula for every pair, the table's
    # values where the count is in it.
    n = counts.sum(axis=1)
    seen = n >= 2
    total = n[seen].astype(np.float64)
    fair = _fair_imbalance(total)
    common = n[seen] < table.size
    assert not common.all()
    fair[common] = table[n[seen][common]]
    imbalance = np.abs(counts[seen, 0] - counts[seen, 1]).astype(np.float64)
    assert room.tobytes() == (total - fair).tobytes()
    assert excess.tobytes() == (imbalance - fair).tobytes()


def test_zero_clipped_zeroes_the_loud_samples_at_full_scale_or_on_a_flat_top() -> None:
    rng = np.random.default_rng(9)
    span = rng.integers(-32768, 32768, (2, 5002)).astype(np.int16)
    span[0, 100:110] = 20000  # a loud flat top
    span[1, 50] = 32767
    span[1, 900] = -32768
    residual = rng.standard_normal((2, 6000)).astype(np.float32)[:, :5000]  # strided rows
    expected = residual.copy()
    centre = span[:, 1:-1]
    rows, cols = np.nonzero((centre >= 16384) | (centre <= -16384))
    value = centre[rows, cols]
    clipped = (value >= 32767) | (value <= -32767)
    clipped |= (value == span[rows, cols]) | (value == span[rows, cols + 2])
    expected[rows[clipped], cols[clipped]] = 0.0
    strided = np.zeros((2, 10000), np.float32)[:, ::2]  # rows not contiguous: same result
    strided[...] = residual
    kernels.zero_clipped(span, residual, 16384, 32767)
    assert residual.tobytes() == expected.tobytes()
    kernels.zero_clipped(span, strided, 16384, 32767)
    assert strided.tobytes() == expected.tobytes()
    assert residual[0, 100:108].tolist() == [0.0] * 8


def test_count_low_bits_adds_the_bincount_and_counts_zeros() -> None:
    rng = np.random.default_rng(10)
    values = rng.integers(-(1 << 23), 1 << 23, 50_000).astype(np.int32)
    values[::97] = 0
    values[1::89] = 1 << 17  # a multiple of 2**17: bin 0, not a zero
    counts = rng.integers(0, 5, 1 << 17)
    expected = counts + np.bincount(values & 0x1FFFF, minlength=1 << 17)
    zeros = kernels.count_low_bits(values, counts)
    np.testing.assert_array_equal(counts, expected)
    assert zeros == np.count_nonzero(values == 0)


def test_count_near_zero_adds_the_quiet_samples_histogram() -> None:
    rng = np.random.default_rng(11)
    values = rng.integers(-(1 << 18), 1 << 18, (20_000, 2)).astype(np.int32)
    values[5] = (-(1 << 16), (1 << 16) - 1)
    counts = np.zeros(2 << 16, dtype=np.int64)
    flat = values.reshape(-1)
    quiet = flat[np.abs(flat) < (1 << 16)]
    expected = np.bincount(quiet + (1 << 16), minlength=2 << 16)
    kernels.count_near_zero(values, counts, 1 << 16)
    np.testing.assert_array_equal(counts, expected)
    values[7, 1] = np.iinfo(np.int32).min  # full-scale negative: far from zero, not counted
    again = np.zeros_like(counts)
    kernels.count_near_zero(values, again, 1 << 16)
    wide = values.reshape(-1).astype(np.int64)
    quiet = wide[np.abs(wide) < (1 << 16)]
    np.testing.assert_array_equal(again, np.bincount(quiet + (1 << 16), minlength=2 << 16))


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
@pytest.mark.parametrize("channels", [1, 2])
def test_windowed_frames_equal_numpy_window_product_and_span(dtype: type, channels: int) -> None:
    rng = np.random.default_rng(channels)
    samples = rng.normal(0, 3000, (5 * 1024 + 17, channels)).clip(-32768, 32767).astype(dtype)
    samples[1024:2048] = 7  # a flat frame: span 0
    by_channel = samples.T  # (channels, frames), as the noise floor reads a block
    window = np.hanning(1026)[1:-1].astype(np.float32)
    out = np.full((channels, 3, 1024), np.nan, dtype=np.float32)
    span = np.full((channels, 3), np.nan, dtype=np.float32)
    kernels.windowed_frames(by_channel, 1, window, out, span)
    frames = by_channel[:, 1024 : 4 * 1024].astype(np.float32).reshape(channels, 3, 1024)
    assert out.tobytes() == np.multiply(frames, window).tobytes()
    assert span.tobytes() == (frames.max(axis=-1) - frames.min(axis=-1)).tobytes()
    assert (span[:, 0] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    ("channels", "frames", "lags"),
    [(2, 5000, 32), (3, 4099, 32), (1, 40, 32), (1, 20, 32), (2, 700, 10)],
)
def test_window_autocorrelation_is_the_exact_lagged_sum_over_channels(
    dtype: type, exact: bool, channels: int, frames: int, lags: int
) -> None:
    rng = np.random.default_rng(3)
    window = rng.integers(-(1 << 15), 1 << 15, (channels, frames)).astype(dtype)
    window[0, :3] = -(1 << 15)  # the largest product, 2**30
    out = np.full(lags + 1, np.nan)
    autocorrelation = (
        kernels.window_autocorrelation_exact if exact else kernels.window_autocorrelation
    )
    autocorrelation(window, lags, out)
    wide = window.astype(np.int64)
    expected = [
        int((wide[:, : max(frames - lag, 0)] * wide[:, lag:]).sum()) for lag in range(lags + 1)
    ]
    assert out.tolist() == [float(e) for e in expected]  # 16-bit products: exact in float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolation_residual_is_the_two_sided_filter_away_from_the_edges(dtype: type) -> None:
    rng = np.random.default_rng(4)
    window = np.rint(rng.standard_normal((2, 3000)) * 3000).astype(dtype)
    coef = rng.standard_normal(16) * 0.05
    out = np.full((2, 3000 - 128), np.nan, dtype=dtype)
    kernels.interpolation_residual(window, coef, 64, out)
    taps = np.concatenate([-coef[::-1], [1.0], -coef])
    expected = np.stack([np.convolve(row.astype(np.float64), taps, "valid") for row in window])
    expected = expected[:, 64 - 16 : 3000 - 64 - 16]
    tolerance = 1e-9 if dtype == np.float64 else 1e-3  # float32: the stored rounding
    assert np.abs(out - expected).max() <= tolerance * np.abs(window).max()


def test_parity_rows_weigh_each_sub_blocks_parity_sums_by_its_power() -> None:
    rng = np.random.default_rng(5)
    samples = rng.integers(-300, 300, (2, 8 * 128)).astype(np.int16)
    residual = (rng.standard_normal((2, 8 * 128)) * np.repeat([0.3, 1.0, 4.0, 30.0], 256)).astype(
        np.float32
    )
    rows = np.full((8, 2, 5), np.nan)
    energy = np.full((2, 8), np.nan)
    kernels.parity_rows(residual, samples, 128, 1.0, rows, energy)
    r = residual.astype(np.float64).reshape(2, 8, 128)
    c0 = 2.0 * (samples & 1).reshape(2, 8, 128) - 1
    c1 = 2.0 * ((samples >> 1) & 1).reshape(2, 8, 128) - 1
    power = (r * r).sum(axis=-1)
    weight = 1.0 / (1.0 + power / 128)
    rc0 = (r * c0).sum(axis=-1)
    expected = np.stack(
        [
            weight * rc0,
            weight * 128,
            weight**2 * (power + 128 / 12.0),
            weight * (r * c1).sum(axis=-1),
            weight * rc0 * (power < 128),
        ],
        axis=-1,
    ).transpose(1, 0, 2)
    np.testing.assert_allclose(energy, power, rtol=1e-12)
    np.testing.assert_allclose(rows, expected, rtol=1e-9, atol=1e-12)
    assert (rows[:, :, 4][power.T >= 128] == 0).all() and (rows[:, :, 4][power.T < 128] != 0).all()


@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("carriers", [0, 7, 64, 8 * 100 + 3, 4 * 100 + 2])
def test_pack_low_bits_equals_packbits_and_the_crumb_packing_of_a_strided_column(
    bits: int, carriers: int
) -> None:
    low = np.random.default_rng(carriers + bits).integers(0, 256, (carriers, 2), dtype=np.uint8)
    column = low[:, 1]  # a channel's carriers, read where they lie
    for n_bytes in (1 << 16, 5):
        lsb, msb = kernels.pack_low_bits(column, bits, n_bytes)
        if bits == 1:
            taken = column[: 8 * n_bytes] & 1
            expected = (np.packbits(taken, bitorder="little"), np.packbits(taken, bitorder="big"))
        else:
            crumbs = (column[: 4 * min(carriers // 4, n_bytes)] & 3).astype(np.uint8).reshape(-1, 4)
            expected = (
                crumbs[:, 0] | crumbs[:, 1] << 2 | crumbs[:, 2] << 4 | crumbs[:, 3] << 6,
                crumbs[:, 0] << 6 | crumbs[:, 1] << 4 | crumbs[:, 2] << 2 | crumbs[:, 3],
            )
        for got, want in zip((lsb, msb), expected, strict=True):
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, want)
