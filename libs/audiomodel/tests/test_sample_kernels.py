"""The compiled per-sample loops give exactly the numbers of the numpy expressions they replace."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from audiomodel import signal
from audiomodel.sample_kernels import (
    ENVELOPE_FRAME,
    absurd_per_frame,
    cell_sums,
    count_values,
    held_moves,
    level_pass,
    long_runs,
    loud_zero_neighbours,
    monotone_runs,
    neighbour_sums,
    render_int16,
    sort_moves,
    sum_channels,
    zero_edges,
)
from audiomodel.signal import channel_sum
from audiomodel.windows import _PRINTABLE


def _samples(frames: int, channels: int, seed: int) -> npt.NDArray[np.int16]:
    """Loud noise with exact zeros, held runs, a ramp and both rails in it."""
    rng = np.random.default_rng(seed)
    ints = rng.normal(0, 6000, (frames, channels)).clip(-32768, 32767).astype(np.int16)
    ints[10:30] = 0
    ints[40:60] = 5000
    ints[70:170] = (np.arange(100, dtype=np.int16) * 7 - 300)[:, None]
    ints[200] = -32768
    ints[201] = 32767
    return ints


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_count_values_adds_the_histogram_and_finds_repeats_and_zeros(channels: int) -> None:
    flat = _samples(5000, channels, seed=channels).reshape(-1)
    hist = np.ones(65536, dtype=np.intp)
    same = np.full(flat.size, -1, dtype=np.intp)
    zeros = np.full(flat.size, -1, dtype=np.intp)
    n_same, n_zeros, held, loud_values = count_values(flat, channels, hist, same, zeros, 2048)
    np.testing.assert_array_equal(hist, 1 + np.bincount(flat.view(np.uint16), minlength=65536))
    expected_same = np.flatnonzero(flat[channels:] == flat[:-channels]) + channels
    np.testing.assert_array_equal(same[:n_same], expected_same)
    np.testing.assert_array_equal(zeros[:n_zeros], np.flatnonzero(flat == 0))
    assert n_zeros >= 20 * channels and n_same >= 19 * channels
    loud = np.abs(flat[expected_same].astype(np.int32)) >= 2048
    assert held == int(np.count_nonzero(loud)) >= 19 * channels
    magnitude = np.abs(flat.astype(np.int32))
    assert loud_values == int(np.count_nonzero(magnitude >= 2048)) > 0
    assert (flat == -32768).any()  # counted as loud: |-32768| does not wrap


@pytest.mark.parametrize(("channels", "frame_start"), [(1, 0), (2, 0), (2, 700)])
def test_level_pass_matches_lagged_products_crossings_ramps_and_frame_energies(
    channels: int, frame_start: int
) -> None:
    level = channel_sum(_samples(5000, channels, seed=10 + channels))
    limit = 2 * channels
    floats = np.empty(level.size)
    energies = np.empty((level.size - frame_start) // ENVELOPE_FRAME)
    total, lag1, lag2, crossings, audible, ramps = level_pass(
        level, limit, floats, frame_start, energies
    )
    wide = level.astype(np.int64)
    np.testing.assert_array_equal(floats, wide)
    assert total == int(wide.sum())
    assert lag1 == int(np.dot(wide[:-1], wide[1:]))
    assert lag2 == int(np.dot(wide[:-2], wide[2:]))
    negative = level < 0
    assert crossings == int(np.count_nonzero(negative[1:] != negative[:-1]))
    inner = wide[1:-1]
    step = np.diff(wide)
    loud = np.abs(inner) > limit
    assert audible == int(np.count_nonzero(loud))
    assert ramps == int(np.count_nonzero((step[1:] == step[:-1]) & (step[1:] != 0) & loud))
    assert ramps >= 90  # the ramp is found
    frames = floats[frame_start : frame_start + energies.size * ENVELOPE_FRAME]
    squares = frames.reshape(-1, ENVELOPE_FRAME) ** 2
    np.testing.assert_array_equal(energies, squares.sum(axis=1))
    assert ENVELOPE_FRAME == signal.ENVELOPE_FRAME


def test_level_pass_of_fewer_than_three_levels_counts_no_inner_samples() -> None:
    none = np.zeros(0)
    two = level_pass(np.array([5, -5], dtype=np.int32), 2, np.empty(2), 0, none)
    assert two == (0, -25, 0, 1, 0, 0)
    assert level_pass(np.zeros(0, dtype=np.int32), 2, none, 0, none) == (0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize(("channels", "count_low"), [(1, True), (2, True), (2, False), (3, True)])
def test_cell_sums_match_numpy_sums_and_byte_lanes(channels: int, count_low: bool) -> None:
    cells, length = 3, 1001  # an odd count of values per cell: the kernel's tail too
    ints = _samples(cells * length, channels, seed=20 + channels)
    mono = channel_sum(ints).astype(np.float64).reshape(cells, length)
    words = ints.reshape(-1).view(np.uint16).reshape(cells, length * channels)
    lags = np.empty((4, cells))
    lanes = np.zeros((cells, 257), dtype=np.uint32)
    cell_sums(mono, words, _PRINTABLE, count_low, lags, lanes)
    np.testing.assert_array_equal(lags[0], mono.sum(axis=1))
    np.testing.assert_array_equal(lags[1], np.einsum("ij,ij->i", mono, mono))
    np.testing.assert_array_equal(lags[2], np.einsum("ij,ij->i", mono[:, 1:], mono[:, :-1]))
    np.testing.assert_array_equal(lags[3], np.einsum("ij,ij->i", mono[:, 2:], mono[:, :-2]))
    for c in range(cells):
        np.testing.assert_array_equal(lanes[c, :256], np.bincount(words[c] >> 8, minlength=256))
        printable = int(_PRINTABLE[words[c] & 0xFF].sum()) if count_low else 0
        assert lanes[c, 256] == printable


def test_render_int16_scales_rounds_half_to_even_clips_and_silences_nan() -> None:
    halves = [0.0, 0.5 / 32768, 1.5 / 32768, -2.5 / 32768]
    extremes = [0.999, 1.0, -1.0, 7.0, -7.0, np.inf, -np.inf, np.nan, 3e38, -3e38]
    floats = np.array([*halves, *extremes], dtype=np.float32)
    out = np.empty(floats.size, dtype=np.int16)
    render_int16(floats, out)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.rint(floats * np.float32(32768.0)).clip(-32768, 32767)
    expected = np.where(np.isnan(scaled), 0, scaled).astype(np.int16)
    np.testing.assert_array_equal(out, expected)
    assert out.tolist()[:4] == [0, 0, 2, -2]


def test_long_runs_finds_the_climbs_then_the_falls_of_at_least_the_steps_needed() -> None:
    rng = np.random.default_rng(3)
    coarse = rng.normal(0, 1, 4000).round(1)
    coarse[100:140] = np.arange(40)  # a climb of 39 steps
    coarse[500:530] = 5.0  # flat: a climb and a fall at once
    coarse[900:960] = -np.arange(60)  # a fall
    need = 12
    expected = []
    d = np.diff(coarse)
    for way in (d >= 0, d <= 0):
        edges = np.flatnonzero(np.diff(np.concatenate([[False], way, [False]]).astype(np.int8)))
        starts, ends = edges[::2], edges[1::2]
        keep = ends - starts >= need
        expected += list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))
    found = [tuple(row) for row in long_runs(coarse, need).tolist()]
    assert found == expected
    assert len(found) >= 4


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_sum_channels_adds_each_frames_channels_exactly(channels: int) -> None:
    ints = _samples(3000, channels, seed=30 + channels)
    out = np.empty(ints.shape[0], dtype=np.int32)
    sum_channels(ints, out)
    np.testing.assert_array_equal(out, ints.astype(np.int32).sum(axis=1))
    strided = ints[::2, ::-1]  # any layout
    out = np.empty(strided.shape[0], dtype=np.int32)
    sum_channels(strided, out)
    np.testing.assert_array_equal(out, strided.astype(np.int32).sum(axis=1))


@pytest.mark.parametrize("channels", [1, 2])
def test_zero_edges_counts_loud_neighbours_of_zeros_but_not_mirrored_crossings(
    channels: int,
) -> None:
    ints = _samples(4000, channels, seed=40 + channels)
    ints[300] = 0
    ints[299], ints[301] = 9000, -9000  # a crossing on a sample: no edge
    ints[400] = 0
    ints[399], ints[401] = 9000, 9000  # the same sign: two edges
    flat = ints.reshape(-1)
    at = np.flatnonzero(flat[:-channels] == 0)
    big = 1024
    before = flat[np.maximum(at - channels, 0)].astype(np.int32)
    after = flat[at + channels].astype(np.int32)
    has_before = at >= channels
    crossing = (
        has_before & (before * after < 0) & (8 * np.abs(before + after) <= np.abs(before - after))
    )
    edges = (has_before & (np.abs(before) >= big)).astype(np.int64)
    edges += np.abs(after) >= big
    assert zero_edges(flat, at, channels, big) == int(edges[~crossing].sum())
    assert zero_edges(flat, np.array([300 * channels]), channels, big) == 0
    assert zero_edges(flat, np.array([400 * channels]), channels, big) == 2


@pytest.mark.parametrize(("rows", "reach"), [(1, 24), (7, 24), (3, 300)])
def test_neighbour_sums_equal_the_shifted_adds_to_the_bit(rows: int, reach: int) -> None:
    rng = np.random.default_rng(rows)
    counts = rng.integers(0, 40, (rows, 256)) * (rng.random((rows, 256)) < 0.3)
    p = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    expected = p.copy()
    for shift in range(1, min(reach, 256)):
        expected[:, shift:] += p[:, :-shift]
        expected[:, :-shift] += p[:, shift:]
    out = np.full_like(p, np.nan)
    neighbour_sums(p, reach, out)
    assert out.tobytes() == expected.tobytes()


def _numpy_monotone_runs(
    level: npt.NDArray[np.float64], bounds: list[tuple[int, int]], rise: float, steps: int
) -> list[tuple[int, int]]:
    """The runs as the windows' numpy pass found them, stretch by stretch."""
    found = []
    for begin, end in bounds:
        v = level[begin:end]
        if v.size < 2 or v.max() - v.min() < rise:
            continue
        d = np.diff(v)
        moves = np.flatnonzero(d)
        if moves.size < steps:
            continue
        up = d[moves] > 0
        turns = np.flatnonzero(up[1:] != up[:-1])
        first = np.concatenate([[0], turns + 1])
        last = np.concatenate([turns, [moves.size - 1]])
        keep = last - first + 1 >= steps
        start, stop = moves[first[keep]], moves[last[keep]] + 1
        ok = np.abs(v[stop] - v[start]) >= rise
        found += [(begin + a, begin + b) for a, b in zip(start[ok], stop[ok], strict=True)]
    return found


def test_monotone_runs_are_the_climbs_and_falls_the_numpy_pass_finds() -> None:
    rng = np.random.default_rng(5)
    level = np.cumsum(rng.integers(-40, 41, 20_000)).astype(np.float64)
    level[1000:1400] = np.repeat(np.arange(100) * 50.0, 4)  # a climb of 100 steps with ties
    level[5000:5300] = 8000.0 - np.arange(300) * 30.0  # a fall
    level[9000:9100] = 3.0  # flat
    bounds = [(0, 30), (900, 1500), (4990, 5400), (8990, 9200), (12_000, 20_000), (20_000, 20_001)]
    starts = np.array([b for b, _ in bounds], dtype=np.intp)
    ends = np.array([e for _, e in bounds], dtype=np.intp)
    for rise, steps in ((4096.0, 32), (100.0, 5), (1e9, 2)):
        runs = monotone_runs(level, starts, ends, rise, steps)
        assert [tuple(r) for r in runs.tolist()] == _numpy_monotone_runs(level, bounds, rise, steps)
    assert len(monotone_runs(level, starts, ends, 4096.0, 32)) >= 2


@pytest.mark.parametrize(("channels", "cut_frames"), [(1, []), (2, []), (2, [700, 1500])])
def test_held_moves_are_the_loud_held_values_and_the_moves_numpy_finds(
    channels: int, cut_frames: list[int]
) -> None:
    ints = _samples(3000, channels, seed=30 + channels)
    ints[500:540] = 3000  # held, then left by a leap
    ints[699:702] = -4000  # held across a cut
    flat = ints.reshape(-1)
    cell_values = 1000 * channels
    cells = flat.size // cell_values
    cuts = np.array([f * channels for f in cut_frames], dtype=np.intp)
    held = np.flatnonzero(flat[channels:] == flat[:-channels]) + channels

    def within(later: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        keep = np.ones(later.size, dtype=bool)
        for cut in cuts.tolist():
            keep &= ~((later >= cut) & (later < cut + channels))
        return keep

    kept = held[within(held)]
    values = flat[kept].astype(np.int32)
    expected_loud = np.bincount(kept[np.abs(values) >= 2048] // cell_values, minlength=cells)
    after = kept + channels
    ok = (after < flat.size) & (values != 0)
    ok[ok] &= within(after[ok])
    leaps = flat[np.minimum(after, flat.size - 1)].astype(np.int32) - values
    moved = ok & (leaps != 0)

    loud_held = np.zeros(cells, dtype=np.int64)
    at = np.empty(held.size, dtype=np.intp)
    left = np.empty(held.size, dtype=np.int32)
    leap = np.empty(held.size, dtype=np.int32)
    n = held_moves(flat, held, channels, 2048, cell_values, cuts, loud_held, at, left, leap)
    np.testing.assert_array_equal(loud_held, expected_loud)
    np.testing.assert_array_equal(at[:n], kept[moved])
    np.testing.assert_array_equal(left[:n], values[moved])
    np.testing.assert_array_equal(leap[:n], leaps[moved])
    assert n > 0 and loud_held.sum() > 0


@pytest.mark.parametrize("channels", [1, 2])
def test_sort_moves_counts_what_numpy_counts_of_the_moves(channels: int) -> None:
    rng = np.random.default_rng(50 + channels)
    # a staircase of held levels left by leaps of every size, crests (a peak straddled by two
    # equal samples), a clip ceiling, and noise
    frames = 6000
    levels = rng.choice([-9000, -3000, -40, 0, 25, 2500, 7000, 12000], size=frames // 3)
    ints = np.repeat(levels, 3)[:, None].repeat(channels, axis=1).astype(np.int16)
    ints[:2000] += rng.integers(-3, 4, (2000, channels)).astype(np.int16)
    for peak in range(2100, 5800, 37):
        ints[peak - 3 : peak + 3] = np.array([0, 4000, 9000, 9000, 4000, 0])[:, None]
    ints[5900:5950] = 32767
    flat = ints.reshape(-1)
    cell_values = 500 * channels
    cells = flat.size // cell_values
    held = np.flatnonzero(flat[channels:] == flat[:-channels]) + channels
    at = np.empty(held.size, dtype=np.intp)
    value = np.empty(held.size, dtype=np.int32)
    move = np.empty(held.size, dtype=np.int32)
    loud = np.zeros(cells, dtype=np.int64)
    none = np.zeros(0, dtype=np.intp)
    moved = held_moves(flat, held, channels, 2048, cell_values, none, loud, at, value, move)
    grid = flat.reshape(cells, cell_values)
    top = grid.max(axis=1).astype(np.int32) - 64
    bottom = grid.min(axis=1).astype(np.int32) + 64
    # the numpy expressions the kernel replaces (WindowAnalyzer._cells before it)
    h, v, leap = at[:moved].copy(), value[:moved].copy(), move[:moved].copy()
    cell_of = h // cell_values
    inside = (v < top[cell_of]) & (v > bottom[cell_of])
    h, v, leap, cell_of = h[inside], v[inside], leap[inside], cell_of[inside]
    expected_moves = np.bincount(cell_of, minlength=cells)
    expected_glides = np.bincount(cell_of[np.abs(leap) < 6144], minlength=cells)
    expected_left = np.bincount(cell_of * 256 + (v >> 8) + 128, minlength=cells * 256)
    big = np.abs(leap) >= 2048
    before = h - 3 * channels
    after = np.minimum(h + 2 * channels, flat.size - 1)
    two_back = flat[np.maximum(h - 2 * channels, 0)].astype(np.int32)
    entry = v - two_back
    rise = two_back - flat[np.maximum(before, 0)].astype(np.int32)
    fall = flat[after].astype(np.int32) - (v + leap)
    crest = (before >= 0) & (h + 2 * channels < flat.size) & (entry != 0)
    crest &= ((entry > 0) != (leap > 0)) & ((rise > 0) == (entry > 0)) & (rise != 0)
    crest &= ((fall > 0) == (leap > 0)) & (fall != 0)
    expected_crests = np.bincount(cell_of[big & crest], minlength=cells)
    big &= ~crest

    counts = [np.zeros(cells, dtype=np.int64) for _ in range(3)]
    left = np.zeros((cells, 256), dtype=np.int64)
    steps = sort_moves(
        flat, at, value, move, moved, channels, cell_values, top, bottom, 6144, 2048,
        counts[0], counts[1], left, counts[2],
    )  # fmt: skip
    np.testing.assert_array_equal(counts[0], expected_moves)
    np.testing.assert_array_equal(counts[1], expected_glides)
    np.testing.assert_array_equal(left.reshape(-1), expected_left)
    np.testing.assert_array_equal(counts[2], expected_crests)
    np.testing.assert_array_equal(at[:steps], h[big])
    np.testing.assert_array_equal(move[:steps], leap[big])
    assert expected_crests.sum() > 10 and steps > 10 and (~inside).any()
    assert expected_glides.sum() < expected_moves.sum()


@pytest.mark.parametrize(
    ("channels", "cut_frames"), [(1, []), (2, []), (2, [700, 1500]), (3, [999])]
)
def test_loud_zero_neighbours_are_the_loud_samples_beside_zeros_numpy_finds(
    channels: int, cut_frames: list[int]
) -> None:
    ints = _samples(3000, channels, seed=40 + channels)
    ints[690:700] = 0  # zeros up to a cut, and a loud frame after it
    ints[700] = 9000
    ints[998:1000] = 0
    ints[1000] = -9000
    ints[1500] = 0  # a zero on a cut, a loud frame before it
    ints[1499] = 9000
    ints[0] = 0  # no frame before
    ints[-1] = 0  # no frame after
    flat = ints.reshape(-1)
    cell_values = 500 * channels
    cells = flat.size // cell_values
    cuts = np.array([f * channels for f in cut_frames], dtype=np.intp)
    zeros = np.flatnonzero(flat == 0)

    def within(later: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        keep = np.ones(later.size, dtype=bool)
        for cut in cuts.tolist():
            keep &= ~((later >= cut) & (later < cut + channels))
        return keep

    expected = np.zeros(cells, dtype=np.int64)
    for shift in (-channels, channels):
        near = zeros + shift
        inside = (near >= 0) & (near < flat.size) & within(zeros if shift < 0 else near)
        near = near[inside]
        loud = np.abs(flat[near].astype(np.int32)) >= 1024
        expected += np.bincount(near[loud] // cell_values, minlength=cells)
    out = np.zeros(cells, dtype=np.int64)
    loud_zero_neighbours(flat, zeros, channels, 1024, cell_values, cuts, out)
    np.testing.assert_array_equal(out, expected)
    assert out.sum() > 0


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_absurd_per_frame_counts_values_beyond_the_limit_and_nans_as_numpy_does(
    channels: int, dtype: type
) -> None:
    rng = np.random.default_rng(channels)
    floats = (rng.normal(0, 10, (1000, channels))).astype(dtype)
    floats.flat[::7] = np.nan
    floats.flat[::11] = np.inf
    floats.flat[::13] = -16.0  # on the limit: not counted
    floats.flat[::17] = np.nextafter(dtype(16.0), dtype(17.0))  # just past it: counted
    with np.errstate(invalid="ignore"):
        expected = (~(np.abs(floats) <= 16.0)).sum(axis=1, dtype=np.int32)
    out = np.empty(floats.shape[0], dtype=np.int32)
    absurd_per_frame(floats, floats.dtype.type(16.0), out)
    np.testing.assert_array_equal(out, expected)
    assert expected.max() >= 1  # the values past the limit were there to count
    absurd_per_frame(floats[::-2], floats.dtype.type(16.0), out[:500])  # any stride
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(
            out[:500], (~(np.abs(floats[::-2]) <= 16.0)).sum(axis=1, dtype=np.int32)
        )
