"""Compiled loops for :mod:`audiomodel.modem`: small per-pair steps that numpy (and
``scipy.ndimage``) spend more time calling than computing.

Every kernel gives exactly the numbers of the expression it replaces: minima and comparisons
only, and float arithmetic done element by element in the same order (no sums).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["change_times", "moving_max", "place_band", "subtract_floor"]


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
