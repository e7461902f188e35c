"""Compiled loops for :mod:`audiomodel.modem`: small per-pair steps that numpy (and
``scipy.ndimage``) spend more time calling than computing.

Every kernel gives exactly the numbers of the expression it replaces: minima and comparisons
only, and float arithmetic done element by element in the same order (no sums).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["change_times", "subtract_floor"]


@numba.njit(cache=True, nogil=True)
def _subtract_floor(energy: npt.NDArray[np.float64], span: int) -> None:
    rows, n = energy.shape
    before = span // 2
    width = n + span - 1
    padded = np.empty(width)
    ahead = np.empty(width)  # the minimum from each sample to the end of its block of span
    behind = np.empty(width)  # the minimum from the start of its block to each sample
    for r in range(rows):
        line = energy[r]
        for k in range(width):
            j = k - before
            if j < 0 or j >= n:
                # scipy.ndimage's "reflect" extension (d c b a | a b c d | d c b a); a window
                # past a whole length on a side covers every value, however it is extended
                j %= 2 * n
                if j >= n:
                    j = 2 * n - 1 - j
            padded[k] = line[j]
        # van Herk / Gil-Werman: the window at i spans the end of one block and the start of
        # the next, so its minimum is the lesser of ahead[i] and behind[i + span - 1]
        for start in range(0, width, span):
            stop = min(start + span, width)
            low = padded[start]
            for k in range(start, stop):
                v = padded[k]
                if v < low:
                    low = v
                behind[k] = low
            low = padded[stop - 1]
            for k in range(stop - 1, start - 1, -1):
                v = padded[k]
                if v < low:
                    low = v
                ahead[k] = low
        for i in range(n):
            a = ahead[i]
            b = behind[i + span - 1]
            line[i] -= a if a <= b else b


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
