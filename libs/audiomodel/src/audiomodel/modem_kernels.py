"""Compiled loops for :mod:`audiomodel.modem`: small per-pair steps that numpy (and
``scipy.ndimage``) spend more time calling than computing.

Every kernel gives exactly the numbers of the expression it replaces (minima and comparisons,
float arithmetic done element by element in the same order, and sums added in numpy's own
order: :func:`_numpy_sum`, the pairwise summation numpy uses for a contiguous float64 run),
except :func:`clock_coherence` and :func:`phasor_run`, which turn phasors by complex products
instead of taking a cosine and a sine of every angle (within ~1e-12; their docstrings say why
that is enough).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "band_energy",
    "change_times",
    "clock_coherence",
    "decimate",
    "group_sums",
    "keyed_difference",
    "keyed_part",
    "moving_max",
    "percentiles",
    "phasor_run",
    "place_band",
    "row_medians",
    "subtract_floor",
    "symbol_sums",
    "turn_correlation",
]

EPS = 1e-20  # modem.EPS


@numba.njit(cache=True, nogil=True)
def _block_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """:func:`_numpy_sum` of a run of at most 128 values."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = lo + 8
    stop = lo + n - n % 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += a[i]
        i += 1
    return float(res)


@numba.njit(cache=True, nogil=True)
def _numpy_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """``np.sum(a[lo:lo + n])`` of a contiguous float64 vector, added as numpy adds it
    (``pairwise_sum`` of numpy's ``loops_utils.h``: runs under 8 in order, up to 128 in eight
    interleaved partial sums, longer ones halved at a multiple of 8, each half summed so and
    the two added), so the same number. The halving walked with a stack of its own (numba
    does not cache a function that calls itself)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    starts = np.empty(64, dtype=np.int64)
    sizes = np.empty(64, dtype=np.int64)
    steps = np.zeros(64, dtype=np.int64)  # 0: split it, 1: its first half is summed, 2: both
    firsts = np.empty(64)
    top = 0
    starts[0], sizes[0] = lo, n
    value = 0.0  # the sum last finished, handed to the run above it
    while top >= 0:
        size = sizes[top]
        if size <= 128:
            value = _block_sum(a, starts[top], size)
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if steps[top] == 0:
            steps[top] = 1
            top += 1
            starts[top], sizes[top], steps[top] = starts[top - 1], half, 0
        elif steps[top] == 1:
            firsts[top] = value
            steps[top] = 2
            top += 1
            starts[top], sizes[top], steps[top] = starts[top - 1] + half, size - half, 0
        else:
            value = firsts[top] + value
            top -= 1
    return value


@numba.njit(cache=True, nogil=True)
def _mean(a: npt.NDArray[np.float64]) -> float:
    """``a.mean()`` of a contiguous float64 vector (numpy's sum, then divided by the count)."""
    return _numpy_sum(a, 0, a.size) / a.size


@numba.njit(cache=True, nogil=True)
def _extend(
    line: npt.NDArray[np.float64],
    span: int,
    reflect: bool,
    cval: float,
    padded: npt.NDArray[np.float64],
) -> None:
    """Into ``padded`` (``line.size + span - 1`` long) ``line`` with ``span // 2`` values before
    it and the rest after, as scipy.ndimage extends it: "reflect" (d c b a | a b c d | d c b a;
    a window past a whole length on a side covers every value, however it is extended) or the
    constant ``cval``."""
    n = line.size
    before = span // 2
    for k in range(n + span - 1):
        j = k - before
        if 0 <= j < n:
            padded[k] = line[j]
        elif reflect:
            j %= 2 * n
            if j >= n:
                j = 2 * n - 1 - j
            padded[k] = line[j]
        else:
            padded[k] = cval


@numba.njit(cache=True, nogil=True)
def _moving_extreme(
    padded: npt.NDArray[np.float64],
    span: int,
    lowest: bool,
    ahead: npt.NDArray[np.float64],
    behind: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:
    """Into ``out`` the minimum (``lowest``) or maximum of each ``span`` values of ``padded``
    (van Herk / Gil-Werman: a window spans the end of one block of ``span`` and the start of the
    next, so its extreme is that of ``ahead`` at its start and ``behind`` at its end)."""
    width = padded.size
    for start in range(0, width, span):
        stop = min(start + span, width)
        best = padded[start]
        for k in range(start, stop):
            v = padded[k]
            if (v < best) if lowest else (v > best):
                best = v
            behind[k] = best
        best = padded[stop - 1]
        for k in range(stop - 1, start - 1, -1):
            v = padded[k]
            if (v < best) if lowest else (v > best):
                best = v
            ahead[k] = best
    for i in range(out.size):
        a = ahead[i]
        b = behind[i + span - 1]
        if lowest:
            out[i] = a if a <= b else b
        else:
            out[i] = a if a >= b else b


@numba.njit(cache=True, nogil=True)
def _subtract_floor(energy: npt.NDArray[np.float64], span: int) -> None:
    rows, n = energy.shape
    width = n + span - 1
    padded = np.empty(width)
    ahead = np.empty(width)
    behind = np.empty(width)
    floor = np.empty(n)
    for r in range(rows):
        line = energy[r]
        _extend(line, span, True, 0.0, padded)
        _moving_extreme(padded, span, True, ahead, behind, floor)
        for i in range(n):
            line[i] -= floor[i]


@numba.njit(cache=True, nogil=True)
def _moving_max(
    x: npt.NDArray[np.float64], span: int, reflect: bool, cval: float
) -> npt.NDArray[np.float64]:
    width = x.size + span - 1
    padded = np.empty(width)
    out = np.empty(x.size)
    _extend(x, span, reflect, cval, padded)
    _moving_extreme(padded, span, False, np.empty(width), np.empty(width), out)
    return out


def moving_max(
    x: npt.NDArray[np.float64], span: int, *, cval: float | None = None
) -> npt.NDArray[np.float64]:
    """``scipy.ndimage.maximum_filter1d(x, span)`` of a float64 vector (``span`` >= 1), ends
    reflected, or extended with ``cval`` (its ``mode="constant"``) when given."""
    return _moving_max(x, span, cval is None, 0.0 if cval is None else cval)


def subtract_floor(energy: npt.NDArray[np.float64], span: int) -> None:
    """``energy -= scipy.ndimage.minimum_filter1d(energy, span, axis=-1)`` in place (``energy``:
    a C-ordered float64 array of bands x samples; ``span`` >= 1), without the filter's copies:
    each band's moving minimum over ``span`` samples, ends reflected, taken off it."""
    _subtract_floor(energy, span)


@numba.njit(cache=True, nogil=True)
def _change_times(
    diff: npt.NDArray[np.float64], rate: float, hysteresis: float
) -> npt.NDArray[np.float64]:
    n = diff.size
    times = np.empty(n)
    count = 0
    first_zero = -1  # the first crossing (between it and the next sample), -1 while none
    last_zero = -1  # the last crossing before the sample at hand
    decided = 0  # tones decided so far (at most 2 counted)
    level = False
    for i in range(n):
        if i > 0 and (diff[i - 1] >= 0) != (diff[i] >= 0):
            last_zero = i - 1
            if first_zero < 0:
                first_zero = i - 1
        high = diff[i] > hysteresis
        if not (high or diff[i] < -hysteresis):
            continue
        if decided and high != level:
            # the change is timed at the last crossing before the new tone is decided (the
            # first one of all when none came before); -1 is filled in once it is known
            times[count] = last_zero
            count += 1
        decided = min(decided + 1, 2)
        level = high
    if decided < 2 or count == 0 or first_zero < 0:
        return np.empty(0)
    out = np.empty(count)
    for k in range(count):
        z = int(times[k])
        if z < 0:
            z = first_zero
        y0 = diff[z]
        y1 = diff[z + 1]
        frac = y0 / (y0 - y1) if y0 != y1 else 0.0
        out[k] = (z + frac) / rate
    return out


def change_times(
    diff: npt.NDArray[np.float64], rate: float, hysteresis: float
) -> npt.NDArray[np.float64]:
    """The times (s, at ``rate`` samples a second) of the changes of a Schmitt trigger on
    ``diff`` at +-``hysteresis``, each at the interpolated zero crossing last before the new
    tone is decided, sorted and without repeats; empty when fewer than two samples are decided,
    nothing changes or ``diff`` never crosses zero (``modem._crossings``)."""
    return np.unique(_change_times(diff, rate, hysteresis))


@numba.njit(cache=True, nogil=True)
def _place_band(
    row: npt.NDArray[np.complex128],
    spectrum: npt.NDArray[np.complex128],
    lo: int,
    hi: int,
    centre: int,
    taper: npt.NDArray[np.float64],
) -> None:
    length = row.size
    for k in range(lo, hi):
        s = spectrum[k]
        t = taper[k - lo]
        # numpy multiplies by the taper as by a complex number (t + 0j): the same formula
        re = s.real * t - s.imag * 0.0
        im = s.real * 0.0 + s.imag * t
        row[(k - centre) % length] = complex(re, im)


def place_band(
    row: npt.NDArray[np.complex128],
    spectrum: npt.NDArray[np.complex128],
    lo: int,
    hi: int,
    centre: int,
    taper: npt.NDArray[np.float64],
) -> None:
    """Write bins ``lo:hi`` of ``spectrum`` times ``taper`` (``hi - lo`` long) into ``row``, bin
    k at ``(k - centre) % row.size`` (a later bin over an earlier one where two meet): the band
    shifted down to 0 Hz, as ``row[(np.arange(lo, hi) - centre) % row.size] =
    spectrum[lo:hi] * taper``."""
    _place_band(row, spectrum, lo, hi, centre, taper)


@numba.njit(cache=True, nogil=True)
def _band_energy(
    energy: npt.NDArray[np.float64], span: int, with_total: bool
) -> npt.NDArray[np.float64]:
    rows, n = energy.shape
    for r in range(rows):
        line = energy[r]
        for i in range(n):
            line[i] = line[i] * line[i]
    total = np.empty(n if with_total else 0)
    if with_total:
        scale_a = _mean(energy[0]) + EPS
        scale_b = _mean(energy[1]) + EPS
        for i in range(n):
            total[i] = energy[0, i] / scale_a + energy[1, i] / scale_b
    _subtract_floor(energy, span)
    return total


def band_energy(
    energy: npt.NDArray[np.float64], span: int, *, total: bool
) -> npt.NDArray[np.float64]:
    """The two bands' energy from their envelopes' magnitudes, in place: ``energy`` (shape
    (2, n), C-ordered float64, ``np.abs`` of the envelopes) squared, then
    :func:`subtract_floor` over ``span``. Returns, when ``total``, the sum of the two squared
    bands each over its mean, before the floor is taken off (``e_a / (e_a.mean() + EPS) +
    e_b / (e_b.mean() + EPS)``), else an empty array."""
    out: npt.NDArray[np.float64] = _band_energy(energy, span, total)
    return out


@numba.njit(cache=True, nogil=True)
def _std(a: npt.NDArray[np.float64], work: npt.NDArray[np.float64]) -> float:
    """``a.std()`` (numpy's steps: the mean, the squared deviations summed, over the count)."""
    n = a.size
    m = _mean(a)
    for i in range(n):
        d = a[i] - m
        work[i] = d * d
    return float(np.sqrt(_numpy_sum(work, 0, n) / n))


@numba.njit(cache=True, nogil=True)
def _turn_correlation(e_a: npt.NDArray[np.float64], e_b: npt.NDArray[np.float64]) -> float:
    n = e_a.size
    a = np.empty(n)
    b = np.empty(n)
    work = np.empty(n)
    mean_a = _mean(e_a)
    mean_b = _mean(e_b)
    for i in range(n):
        a[i] = e_a[i] - mean_a
        b[i] = e_b[i] - mean_b
    for i in range(n):
        work[i] = a[i] * b[i]
    product = _numpy_sum(work, 0, n) / n
    spread = _std(a, work) * _std(b, work)
    return product / (spread + EPS)


def turn_correlation(e_a: npt.NDArray[np.float64], e_b: npt.NDArray[np.float64]) -> float:
    """The correlation of two bands' energies (contiguous float64 vectors of one length >= 1):
    with ``a, b`` each less its mean, ``np.mean(a * b) / (a.std() * b.std() + EPS)``."""
    return float(_turn_correlation(e_a, e_b))


@numba.njit(cache=True, nogil=True)
def _keyed_difference(
    e_a: npt.NDArray[np.float64], e_b: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    n = e_a.size
    scale_a = _mean(e_a) + EPS
    scale_b = _mean(e_b) + EPS
    total = np.empty(n)
    for i in range(n):
        e_a[i] /= scale_a
        e_b[i] /= scale_b
        total[i] = e_a[i] + e_b[i]
    gate = 0.2 * _mean(total)
    diff = np.empty(n)
    for i in range(n):
        t = total[i]
        diff[i] = (e_a[i] - e_b[i]) / ((t + gate) + EPS) if t > gate else 0.0
    return diff


def keyed_difference(
    e_a: npt.NDArray[np.float64], e_b: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Which tone holds, -1..1, where the pair keys at all (0 elsewhere): each band over its
    mean, in place (``e_a /= e_a.mean() + EPS``, the same for ``e_b``), then with ``total =
    e_a + e_b`` and ``gate = 0.2 * total.mean()``: ``np.where(total > gate, (e_a - e_b) /
    (total + gate + EPS), 0.0)``. Contiguous float64 vectors of one length >= 1."""
    out: npt.NDArray[np.float64] = _keyed_difference(e_a, e_b)
    return out


@numba.njit(cache=True, nogil=True)
def _clock_coherence(
    rates: npt.NDArray[np.float64], times: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    count = times.size
    out = np.empty(rates.size)
    if count == 0 or rates.size == 0:
        out[:] = np.nan  # the mean of nothing, as numpy gives it
        return out
    step = (rates[-1] - rates[0]) / (rates.size - 1) if rates.size > 1 else 0.0
    # Each change's phasor at the first rate, and the turn one grid step adds to it: every
    # further rate is one complex product per change, not a cosine and a sine.
    re = np.empty(count)
    im = np.empty(count)
    turn_re = np.empty(count)
    turn_im = np.empty(count)
    two_pi = 2 * np.pi
    for j in range(count):
        cycles = rates[0] * times[j]
        cycles -= np.rint(cycles)
        re[j] = math.cos(two_pi * cycles)
        im[j] = math.sin(two_pi * cycles)
        cycles = step * times[j]
        cycles -= np.rint(cycles)
        turn_re[j] = math.cos(two_pi * cycles)
        turn_im[j] = math.sin(two_pi * cycles)
    for g in range(rates.size):
        if g:
            for j in range(count):
                rotated = re[j] * turn_re[j] - im[j] * turn_im[j]
                im[j] = re[j] * turn_im[j] + im[j] * turn_re[j]
                re[j] = rotated
        # np.hypot: the C library's, as numpy's (Python's math.hypot, run without the JIT, is not)
        out[g] = np.hypot(_numpy_sum(re, 0, count) / count, _numpy_sum(im, 0, count) / count)
    return out


def clock_coherence(
    rates: npt.NDArray[np.float64], times: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The Rayleigh coherence of the times ``times`` (s; a contiguous float64 vector of one or
    more) against a clock at each of ``rates`` (Hz, float64, evenly spaced: a grid such as
    ``np.linspace`` gives): with ``cycles = np.outer(rates, times)``, less its nearest whole
    numbers, and ``angle = (2 * np.pi) * cycles``, ``np.hypot(np.cos(angle).mean(axis=1),
    np.sin(angle).mean(axis=1))``, without the matrices.

    Not those numbers to the bit: the phasors of the first rate are turned by one grid step
    per rate (a complex product, where a cosine and a sine cost ~15x more), so each rate's
    phases carry the rounding of up to ``rates.size`` products: over 81 rates, ~1e-12 of a
    coherence that the caller compares with thresholds of 0.5 and a Z of 100. (A test pins
    the bound.)"""
    grid = np.ascontiguousarray(rates, dtype=np.float64)
    if grid.size > 2 and not np.allclose(
        np.diff(grid), (grid[-1] - grid[0]) / (grid.size - 1), rtol=1e-9, atol=0.0
    ):
        raise ValueError("clock_coherence takes evenly spaced rates")
    out: npt.NDArray[np.float64] = _clock_coherence(
        grid, np.ascontiguousarray(times, dtype=np.float64)
    )
    return out


# Samples between the exact phasors of a run: from each, the next ones are one complex product
# further (the C library's cosine and sine at every sample cost ~8x more); 64 products leave
# ~1e-14 of a unit phasor, under the rounding of the angle itself (~1e-11 rad after 20 s).
PHASOR_ANCHOR = 64


@numba.njit(cache=True, nogil=True)
def _phasor_run(step: float, rate: float, start: int, stop: int) -> npt.NDArray[np.complex128]:
    out = np.empty(max(0, stop - start), dtype=np.complex128)
    turn = step / rate
    turn_re = math.cos(turn)
    turn_im = math.sin(turn)
    k = start
    while k < stop:
        # the anchors sit at whole multiples of PHASOR_ANCHOR whatever the run's start, so a
        # run that extends a kept one gives the values a run from 0 gives
        anchor = (k // PHASOR_ANCHOR) * PHASOR_ANCHOR
        angle = 0.0 + step * (anchor / rate)
        re = math.cos(angle)
        im = math.sin(angle)
        for _ in range(anchor, k):
            rotated = re * turn_re - im * turn_im
            im = re * turn_im + im * turn_re
            re = rotated
        end = min(stop, anchor + PHASOR_ANCHOR)
        for i in range(k, end):
            out[i - start] = complex(re, im)
            rotated = re * turn_re - im * turn_im
            im = re * turn_im + im * turn_re
            re = rotated
        k = end
    return out


def phasor_run(freq: float, rate: float, start: int, stop: int) -> npt.NDArray[np.complex128]:
    """``np.exp(-2j * np.pi * freq * (np.arange(start, stop) / rate))`` without its
    temporaries, to ~1e-13: the angle of sample k is ``(-2 pi freq) * (k / rate)`` rounded as
    numpy rounds it at every ``PHASOR_ANCHOR``-th sample, and the samples between are turned
    from it by one sample's angle (a complex product each). The values depend on k alone, not
    on where the run starts (a test checks both)."""
    step = float((-2j * np.pi * freq).imag)
    out: npt.NDArray[np.complex128] = _phasor_run(step, float(rate), int(start), int(stop))
    return out


@numba.njit(cache=True, nogil=True)
def _symbol_sums(
    x: npt.NDArray[np.float64], phasor: npt.NDArray[np.complex128], width: int
) -> npt.NDArray[np.complex128]:
    n = x.size
    out = np.empty(max(0, n + 1 - width), dtype=np.complex128)
    # the running sum's last ``width`` values (the sum before sample k sits at k % width): a
    # sum over one symbol is the running sum now less the one ``width`` samples back
    back_re = np.zeros(width)
    back_im = np.zeros(width)
    run_re = 0.0
    run_im = 0.0
    for k in range(n):
        # x * phasor as numpy multiplies a real by a complex number (x + 0j): the products
        # with the zero part are exact zeros, which leave a running sum that starts at +0 as
        # it is (numpy's cumulative sum adds in this order, real and imaginary apart)
        run_re += x[k] * phasor[k].real
        run_im += x[k] * phasor[k].imag
        slot = (k + 1) % width
        if k + 1 >= width:
            out[k + 1 - width] = complex(run_re - back_re[slot], run_im - back_im[slot])
        back_re[slot] = run_re
        back_im[slot] = run_im
    return out


def symbol_sums(
    x: npt.NDArray[np.float64], phasor: npt.NDArray[np.complex128], width: int
) -> npt.NDArray[np.complex128]:
    """The sums of ``x * phasor`` over each ``width`` neighbouring samples (``width`` >= 1;
    ``phasor`` at least as long as ``x``), as numpy gives them: with ``c =
    np.concatenate(([0], np.cumsum(x * phasor[:x.size])))``, ``c[width:] - c[:-width]`` (the
    signs of zero sums aside: a sliding DFT bin that is zero has no phase to keep), in one pass
    and without the temporaries."""
    out: npt.NDArray[np.complex128] = _symbol_sums(
        np.ascontiguousarray(x, dtype=np.float64), phasor, int(width)
    )
    return out


@numba.njit(cache=True, nogil=True)
def _group_sums(power: npt.NDArray[np.float64], group: int) -> npt.NDArray[np.float64]:
    count = power.size // group
    out = np.empty(count)
    for j in range(count):
        out[j] = _numpy_sum(power, j * group, group)
    return out


def group_sums(power: npt.NDArray[np.float64], group: int) -> npt.NDArray[np.float64]:
    """The sums of each ``group`` neighbouring values of a contiguous float64 vector, the
    incomplete group at its end left off: ``power[: power.size // group * group].reshape(-1,
    group).sum(axis=1)`` (``group`` >= 1)."""
    out: npt.NDArray[np.float64] = _group_sums(power, group)
    return out


@numba.njit(cache=True, nogil=True)
def _percentiles(
    x: npt.NDArray[np.float64], percents: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    ordered = np.sort(x)
    n = ordered.size
    out = np.empty(percents.size)
    for k in range(percents.size):
        if np.isnan(ordered[n - 1]):
            out[k] = np.nan  # numpy: a NaN anywhere makes every percentile NaN
            continue
        virtual = (n - 1) * (percents[k] / 100.0)
        below = np.floor(virtual)
        if virtual >= n - 1:  # numpy takes the last value (index -1) for both neighbours
            below = -1.0
            lo = hi = n - 1
        else:
            lo = int(below)
            hi = lo + 1
        t = virtual - below
        a, b = ordered[lo], ordered[hi]
        # numpy's _lerp: from the lower value up, or from the upper one down past half-way
        step = b - a
        out[k] = b - step * (1 - t) if t >= 0.5 else a + step * t
    return out


def percentiles(x: npt.NDArray[np.float64], percents: tuple[float, ...]) -> npt.NDArray[np.float64]:
    """``np.percentile(x, percents)`` of a float64 vector (of one or more values), its default
    ("linear") method, the same numbers: the order statistics of a sort, and numpy's own
    interpolation between them."""
    out: npt.NDArray[np.float64] = _percentiles(
        np.asarray(x, dtype=np.float64), np.array(percents, dtype=np.float64)
    )
    return out


@numba.njit(cache=True, nogil=True)
def _decimate(mono: npt.NDArray[Any], factor: int, scale: float) -> npt.NDArray[np.float32]:
    count = mono.size // factor
    out = np.empty(count, dtype=np.float32)
    for i in range(count):
        total = mono[i * factor]
        for phase in range(1, factor):
            total += mono[i * factor + phase]
        out[i] = np.float32(total * scale)
    return out


def decimate(mono: npt.NDArray[Any], factor: int, scale: float) -> npt.NDArray[np.float32]:
    """The box decimator: each ``factor`` neighbouring values of ``mono`` (int32, or float64)
    summed in order in its own type, times ``scale``, as float32 (the incomplete group at the
    end left off): ``summed = mono[0:usable:factor].copy(); summed += mono[phase:usable:factor]``
    for each phase, then ``(summed * scale).astype(np.float32)``."""
    out: npt.NDArray[np.float32] = _decimate(np.ascontiguousarray(mono), factor, scale)
    return out


@numba.njit(cache=True, nogil=True)
def _column_means(a: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``a.mean(axis=0)`` of a C-ordered float32 matrix of one or more rows: numpy adds the
    rows in order, in float32, then divides by their count."""
    rows, columns = a.shape
    out: npt.NDArray[np.float32] = a[0].copy()
    for i in range(1, rows):
        for j in range(columns):
            out[j] += a[i, j]
    count = np.float32(rows)
    for j in range(columns):
        out[j] = out[j] / count
    return out


@numba.njit(cache=True, nogil=True)
def _keyed_part(power: npt.NDArray[np.float32], slow: int) -> npt.NDArray[np.float32]:
    rows, columns = power.shape
    fast = np.empty_like(power)
    if rows == 0:
        return fast
    if rows <= slow:
        level = _column_means(power)
        for i in range(rows):
            for j in range(columns):
                fast[i, j] = power[i, j] - level[j]
    else:
        running = np.empty_like(power)  # the cumulative sum down each column
        running[0] = power[0]
        for i in range(1, rows):
            for j in range(columns):
                running[i, j] = running[i - 1, j] + power[i, j]
        mean = np.empty_like(power)
        half = slow // 2
        width = np.float32(slow)
        for j in range(columns):
            mean[half, j] = running[slow - 1, j] / width
        for i in range(1, rows - slow + 1):
            for j in range(columns):
                mean[half + i, j] = (running[slow + i - 1, j] - running[i - 1, j]) / width
        for i in range(half):
            mean[i] = mean[half]
        for i in range(rows - slow + half + 1, rows):
            mean[i] = mean[rows - slow + half]
        for i in range(rows):
            for j in range(columns):
                fast[i, j] = power[i, j] - mean[i, j]
        level = _column_means(fast)
        for i in range(rows):
            for j in range(columns):
                fast[i, j] -= level[j]
    spread = _column_means(fast * fast)
    for j in range(columns):
        spread[j] = np.sqrt(spread[j]) + np.float32(EPS)
    for i in range(rows):
        for j in range(columns):
            fast[i, j] = fast[i, j] / spread[j]
    return fast


def keyed_part(power: npt.NDArray[Any], slow: int) -> npt.NDArray[Any]:
    """``keyed_bands._keyed_part`` of a float32 matrix (frames x bands): each column less its
    centred running mean over ``slow`` frames (the ends the nearest whole one; with ``slow``
    frames or fewer, less its mean), less its mean, over its RMS (+ EPS), every step in
    float32 as numpy takes it (cumulative sums and column means added row after row)."""
    out: npt.NDArray[Any] = _keyed_part(np.ascontiguousarray(power), slow)
    return out


def row_medians(blocks: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.median(blocks, axis=-1)`` of finite values: each row sorted, its middle value or
    the mean of its two middle ones in the array's own dtype (the numbers ``np.median`` gives,
    which partitions and then takes ``np.mean`` of the same two; a sort of short rows costs a
    quarter of that partition at the block widths the scans use, 64-70 values)."""
    ordered = np.sort(blocks, axis=-1)
    half = ordered.shape[-1] // 2
    if ordered.shape[-1] % 2:
        out: npt.NDArray[Any] = ordered[..., half]
        return out
    out = (ordered[..., half - 1] + ordered[..., half]) / 2
    return out


def warm_up() -> None:
    """Call every kernel once on a few samples: loads each from the cache (compiling it the
    first time), where a warm-up clip holds no keyed pair for the modem to time."""
    diff = np.array([0.5, -0.5, 0.5, -0.5])
    change_times(diff, 1.0, 0.3)
    subtract_floor(np.ones((2, 8)), 3)
    moving_max(diff, 3)
    moving_max(diff, 3, cval=-np.inf)
    taper = np.ones(2)
    taper.setflags(write=False)  # as modem's cached tapers
    place_band(np.zeros(4, dtype=np.complex128), diff.astype(np.complex128), 1, 3, 2, taper)
    energy = np.ones((2, 8))
    band_energy(energy, 3, total=True)
    band_energy(energy, 3, total=False)
    turn_correlation(energy[0], energy[1])
    keyed_difference(energy[0], energy[1])
    group_sums(np.ones(300), 30)
    clock_coherence(np.array([1.0, 2.0]), diff)
    symbol_sums(diff, phasor_run(1.0, 4.0, 0, 4), 2)
    percentiles(np.arange(5.0), (5.0, 50.0, 100.0))
    decimate(np.arange(9, dtype=np.int32), 2, 0.25)
    decimate(np.arange(9.0), 2, 0.25)
    keyed_part(np.ones((30, 3), dtype=np.float32), 24)
    keyed_part(np.ones((20, 3), dtype=np.float32), 24)
