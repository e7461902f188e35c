"""Compiled loops over a block of samples for :mod:`audiomodel.signal` and
:mod:`audiomodel.windows`: several per-sample measures in one pass, where numpy needs a pass
(and often a temporary) for each.

Every kernel gives exactly the numbers the numpy expressions it replaces give: counts are
integers, and the float sums are of integers whose partial sums stay under 2**53 (the callers
use them only where that holds: one or two 16-bit channels), so the order of summing does not
change them.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

ENVELOPE_FRAME = 1024  # levels per envelope frame (audiomodel.signal.ENVELOPE_FRAME)

__all__ = [
    "ENVELOPE_FRAME",
    "absurd_per_frame",
    "cell_sums",
    "count_values",
    "held_moves",
    "level_pass",
    "long_runs",
    "loud_zero_neighbours",
    "monotone_runs",
    "neighbour_sums",
    "render_int16",
    "sum_channels",
]


@numba.njit(cache=True, nogil=True)
def sum_channels(ints: npt.NDArray[np.int16], out: npt.NDArray[np.int32]) -> None:
    """Into ``out`` the sum of each frame's channels (``ints``: frames x channels)."""
    frames, channels = ints.shape
    # One and two channels spelled out: the compiler vectorises those loops.
    if channels == 1:
        for i in range(frames):
            out[i] = ints[i, 0]
    elif channels == 2:
        for i in range(frames):
            out[i] = np.int32(ints[i, 0]) + np.int32(ints[i, 1])
    else:
        for i in range(frames):
            total = np.int32(0)
            for k in range(channels):
                total += np.int32(ints[i, k])
            out[i] = total


@numba.njit(cache=True, nogil=True)
def absurd_per_frame(
    floats: npt.NDArray[np.floating], limit: np.floating, out: npt.NDArray[np.int32]
) -> None:
    """Into ``out`` each frame's count of the values of ``floats`` (frames x channels) that are
    not within ``limit`` of zero (NaN included): ``(~(np.abs(floats) <= limit)).sum(axis=1)``,
    whose sum over a short axis costs numpy a hundred times more (``limit`` in the dtype of
    ``floats``, as numpy compares a Python float with them)."""
    frames, channels = floats.shape
    # One and two channels spelled out: the compiler vectorises those loops.
    if channels == 1:
        for i in range(frames):
            out[i] = np.int32(not (abs(floats[i, 0]) <= limit))
    elif channels == 2:
        for i in range(frames):
            out[i] = np.int32(not (abs(floats[i, 0]) <= limit)) + np.int32(
                not (abs(floats[i, 1]) <= limit)
            )
    else:
        for i in range(frames):
            count = np.int32(0)
            for k in range(channels):
                count += np.int32(not (abs(floats[i, k]) <= limit))
            out[i] = count


@numba.njit(cache=True, nogil=True)
def count_values(
    values: npt.NDArray[np.int16],
    channels: int,
    hist: npt.NDArray[np.intp],
    same: npt.NDArray[np.intp],
    zeros: npt.NDArray[np.intp],
    loud_level: int,
) -> tuple[int, int, int, np.int64]:
    """Add the 16-bit ``values`` (interleaved frames of ``channels``) to ``hist`` (65,536 bins
    in uint16 order); write into ``same`` the positions of the values equal to the one a frame
    before, and into ``zeros`` those of the exact zeros (both in increasing order, each buffer
    at least as long as ``values``); return how many of each, how many of the repeated values
    are loud (``|v| >= loud_level``), and how many values are loud."""
    n_zeros = 0
    for i in range(values.size):
        v = values[i]
        hist[np.uint16(v)] += 1
        if v == 0:
            zeros[n_zeros] = i
            n_zeros += 1
    loud = np.int64(0)
    for i in range(values.size):
        wide = np.int64(values[i])
        loud += np.int64((-wide if wide < 0 else wide) >= loud_level)
    # Over slices (an index that cannot be negative): no check of each index.
    later, earlier = values[channels:], values[: max(values.size - channels, 0)]
    n_same = 0
    held = 0
    for i in range(later.size):
        v = later[i]
        if v == earlier[i]:
            same[n_same] = i + channels
            n_same += 1
            wide = np.int64(v)
            if (-wide if wide < 0 else wide) >= loud_level:
                held += 1
    return n_same, n_zeros, held, loud


@numba.njit(cache=True, nogil=True)
def level_pass(
    level: npt.NDArray[np.int32],
    limit: int,
    floats: npt.NDArray[np.float64],
    frame_start: int,
    energies: npt.NDArray[np.float64],
) -> tuple[np.int64, np.int64, np.int64, np.int64, np.int64, np.int64]:
    """Over the mono level of a block: (sum, sum of x[i] x[i+1], sum of x[i] x[i+2], sign
    changes (x < 0 against x >= 0) between neighbours, inner samples with ``|x| > limit``,
    inner samples where the level moves by the same non-zero step again and is above
    ``limit``), exact in integers (and as floats: for one or two 16-bit channels, under 2**53
    for blocks of up to 2**20 frames; the validator's have 2**18). Also writes the level into
    ``floats`` (as long), and into ``energies`` the sums of squares of its whole frames of
    ``ENVELOPE_FRAME`` levels from ``frame_start`` on (as many as ``energies`` holds).

    Simple loops, one measure each, over slices (an index that cannot be negative): the
    compiler vectorises them."""
    n = level.size
    total = np.int64(0)
    for i in range(n):
        x = np.int64(level[i])
        floats[i] = x
        total += x
    later, earlier = level[1:], level[:-1]
    lag1 = np.int64(0)
    crossings = np.int64(0)
    for i in range(later.size):
        lag1 += np.int64(later[i]) * np.int64(earlier[i])
        crossings += (earlier[i] < 0) != (later[i] < 0)
    after, before = level[2:], level[:-2]
    lag2 = np.int64(0)
    for i in range(after.size):
        lag2 += np.int64(after[i]) * np.int64(before[i])
    inner = level[1:-1]
    audible = np.int64(0)
    ramps = np.int64(0)
    for i in range(inner.size):
        # The inner sample (level[i + 1]): its steps in and out.
        x = np.int64(inner[i])
        loud = (-x if x < 0 else x) > limit
        step_out = np.int64(after[i]) - x
        audible += loud
        ramps += loud & (step_out != 0) & (step_out == x - np.int64(before[i]))
    for frame in range(energies.size):
        first = frame_start + frame * ENVELOPE_FRAME
        part = level[first : first + ENVELOPE_FRAME]
        energy = np.int64(0)
        for i in range(part.size):
            energy += np.int64(part[i]) * np.int64(part[i])
        energies[frame] = energy
    return total, lag1, lag2, crossings, audible, ramps


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _row_sums(row: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Sum, sum of squares, lag-1 and lag-2 products of ``row``, whole numbers whose partial
    sums stay under 2**53 (a cell of one or two 16-bit channels' sum): exact in any order, so
    the compiler may reorder (and vectorise) the sums."""
    s1 = 0.0
    s2 = 0.0
    for i in range(row.size):
        s1 += row[i]
        s2 += row[i] * row[i]
    later, earlier = row[1:], row[:-1]
    r1 = 0.0
    for i in range(later.size):
        r1 += later[i] * earlier[i]
    after, before = row[2:], row[:-2]
    r2 = 0.0
    for i in range(after.size):
        r2 += after[i] * before[i]
    return s1, s2, r1, r2


@numba.njit(cache=True, nogil=True)
def cell_sums(
    mono: npt.NDArray[np.float64],
    words: npt.NDArray[np.uint16],
    printable: npt.NDArray[np.bool_],
    count_low: bool,
    lags: npt.NDArray[np.float64],
    lanes: npt.NDArray[np.uint32],
) -> None:
    """Per cell (row of ``mono``, (cells, frames), and of ``words``, (cells, values)): into
    ``lags`` rows 0-3 (4, cells) the sum, the sum of squares and the lag-1 and lag-2 products
    of the level; into ``lanes`` the counts of the high bytes (columns 0-255) and, with
    ``count_low``, of the printable low bytes (column 256)."""
    cells = mono.shape[0]
    # Four partial counts, each value's into the one its position picks: sound's high bytes
    # sit on a few bins, and one count would wait on its own last increment of the same bin.
    parts = np.zeros((4, 256), dtype=np.uint32)
    for c in range(cells):
        lags[0, c], lags[1, c], lags[2, c], lags[3, c] = _row_sums(mono[c])
        values = words[c]
        parts[:] = 0
        low = 0
        whole = values.size - values.size % 4
        for i in range(0, whole, 4):
            u0, u1, u2, u3 = values[i], values[i + 1], values[i + 2], values[i + 3]
            parts[0, u0 >> 8] += 1
            parts[1, u1 >> 8] += 1
            parts[2, u2 >> 8] += 1
            parts[3, u3 >> 8] += 1
            low += int(printable[u0 & 0xFF]) + int(printable[u1 & 0xFF])
            low += int(printable[u2 & 0xFF]) + int(printable[u3 & 0xFF])
        for i in range(whole, values.size):
            u = values[i]
            parts[0, u >> 8] += 1
            low += int(printable[u & 0xFF])
        for b in range(256):
            lanes[c, b] += parts[0, b] + parts[1, b] + parts[2, b] + parts[3, b]
        if count_low:
            lanes[c, 256] += low


@numba.njit(cache=True, nogil=True)
def zero_edges(
    flat: npt.NDArray[np.int16], at: npt.NDArray[np.intp], channels: int, big: int
) -> np.int64:
    """Loud neighbours (``|v| >= big``) in their channel (a frame, ``channels`` values, before
    and after) of the exact zeros at the positions ``at`` of ``flat`` (each with a frame after
    it), but none for a zero between two loud samples of opposite sign that mirror each other
    within 1/8 (a waveform crossing zero on a sample)."""
    edges = np.int64(0)
    for j in range(at.size):
        p = at[j]
        after = np.int64(flat[p + channels])
        has_before = p >= channels
        if has_before:
            before = np.int64(flat[p - channels])
            mirrored = 8 * abs(before + after) <= abs(before - after)
            if before * after < 0 and mirrored:
                continue
            edges += abs(before) >= big
        edges += abs(after) >= big
    return edges


@numba.njit(cache=True, nogil=True)
def long_runs(coarse: npt.NDArray[np.float64], need: int) -> npt.NDArray[np.intp]:
    """The runs of at least ``need`` steps of ``coarse`` that never fall (``d >= 0``), then
    those that never climb (``d <= 0``), ``d`` its first difference: rows (first step, one past
    the last step), in the order found."""
    steps = coarse.size - 1
    out = np.empty((2 * (steps // max(need, 1) + 1), 2), dtype=np.intp)
    found = 0
    for way in (1.0, -1.0):
        start = -1
        for i in range(steps + 1):
            going = i < steps and (coarse[i + 1] - coarse[i]) * way >= 0
            if going:
                if start < 0:
                    start = i
            elif start >= 0:
                if i - start >= need:
                    out[found, 0] = start
                    out[found, 1] = i
                    found += 1
                start = -1
    return out[:found]


@numba.njit(cache=True, nogil=True)
def render_int16(floats: npt.NDArray[np.float32], out: npt.NDArray[np.int16]) -> None:
    """``floats`` (float32 in [-1, 1]) x 32768, rounded half to even, clipped to 16 bits;
    NaN renders as 0 (infinities clip to full scale)."""
    scale = np.float32(32768.0)
    for i in range(floats.size):
        v = floats[i] * scale
        if v != v:
            out[i] = 0
            continue
        r = np.rint(v)
        if r > 32767.0:
            r = 32767.0
        elif r < -32768.0:
            r = -32768.0
        out[i] = np.int16(r)


@numba.njit(cache=True, nogil=True)
def neighbour_sums(p: npt.NDArray[np.float64], reach: int, out: npt.NDArray[np.float64]) -> None:
    """Into ``out`` (the shape of ``p``, rows x columns) each value of ``p`` plus its neighbours
    in its row up to ``reach - 1`` columns away, added in the order of the numpy expression it
    replaces (``out = p.copy()``, then for each shift from 1 up ``out[:, shift:] +=
    p[:, :-shift]`` and ``out[:, :-shift] += p[:, shift:]``): the same sums to the bit, with the
    row in cache instead of two passes over the whole table per shift."""
    rows, columns = p.shape
    for r in range(rows):
        row = p[r]
        acc = out[r]
        for j in range(columns):
            acc[j] = row[j]
        for shift in range(1, min(reach, columns)):
            for j in range(shift, columns):
                acc[j] += row[j - shift]
            for j in range(columns - shift):
                acc[j] += row[j + shift]


@numba.njit(cache=True, nogil=True)
def monotone_runs(
    level: npt.NDArray[np.float64],
    begins: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
    rise: float,
    steps: int,
) -> npt.NDArray[np.intp]:
    """In each stretch ``level[begins[k]:ends[k]]`` (increasing, not overlapping), the runs of
    at least ``steps`` strict steps that all go the same way (ties do not break a run), from
    its first to its last step, that climb or fall by ``rise`` or more: rows (first frame of
    the first step, frame after the last step), in order. A stretch whose extremes are less
    than ``rise`` apart holds none and is not followed step by step."""
    room = 0
    for k in range(begins.size):
        room += (ends[k] - begins[k]) // max(steps, 1) + 1
    out = np.empty((room, 2), dtype=np.intp)
    found = 0
    for k in range(begins.size):
        begin, end = begins[k], ends[k]
        if end - begin < 2:
            continue
        high = level[begin]
        low = high
        for j in range(begin, end):
            value = level[j]
            if value > high:
                high = value
            if value < low:
                low = value
        if high - low < rise:
            continue
        count = 0
        first = 0
        last = 0
        up = False
        for j in range(begin, end - 1):
            step = level[j + 1] - level[j]
            if step == 0:
                continue
            going_up = step > 0
            if count and going_up != up:
                if count >= steps and abs(level[last + 1] - level[first]) >= rise:
                    out[found, 0] = first
                    out[found, 1] = last + 1
                    found += 1
                count = 0
            if count == 0:
                first = j
                up = going_up
            last = j
            count += 1
        if count >= steps and abs(level[last + 1] - level[first]) >= rise:
            out[found, 0] = first
            out[found, 1] = last + 1
            found += 1
    return out[:found]


@numba.njit(cache=True, nogil=True)
def _at_cut(position: int, cuts: npt.NDArray[np.intp], channels: int) -> bool:
    """Whether ``position`` is in the first frame of a piece after the first (``cuts``: the
    increasing flat positions where those pieces start)."""
    k = np.searchsorted(cuts, position, side="right") - 1
    return bool(k >= 0 and position < cuts[k] + channels)


@numba.njit(cache=True, nogil=True)
def loud_zero_neighbours(
    flat: npt.NDArray[np.int16],
    zeros: npt.NDArray[np.intp],
    channels: int,
    big: int,
    cell_values: int,
    cuts: npt.NDArray[np.intp],
    out: npt.NDArray[np.int64],
) -> None:
    """Add to ``out`` (per cell of ``cell_values`` values) the loud neighbours (``|v| >=
    big``), a frame (``channels`` values) before and after in the same piece, of the exact
    zeros at the flat positions ``zeros``: each counted in its own cell. A neighbour before
    does not count from a zero in the first frame of a piece after the first (``cuts``: where
    those pieces start), nor one after that is in such a frame."""
    for j in range(zeros.size):
        p = zeros[j]
        # Loudness first: most zeros sit among zeros, and the cuts are few.
        before = p - channels
        if (
            before >= 0
            and abs(np.int32(flat[before])) >= big
            and not (cuts.size and _at_cut(p, cuts, channels))
        ):
            out[before // cell_values] += 1
        after = p + channels
        if (
            after < flat.size
            and abs(np.int32(flat[after])) >= big
            and not (cuts.size and _at_cut(after, cuts, channels))
        ):
            out[after // cell_values] += 1


@numba.njit(cache=True, nogil=True)
def held_moves(
    flat: npt.NDArray[np.int16],
    held: npt.NDArray[np.intp],
    channels: int,
    loud: int,
    cell_values: int,
    cuts: npt.NDArray[np.intp],
    loud_held: npt.NDArray[np.int64],
    at: npt.NDArray[np.intp],
    values: npt.NDArray[np.int32],
    leaps: npt.NDArray[np.int32],
) -> int:
    """The held values (flat positions ``held``, increasing, each equal to the value a frame
    before it; those in the first frame of a piece after the first left out, see ``cuts``):
    into ``loud_held`` (per cell of ``cell_values`` values) how many are loud (``|v| >=
    loud``); into ``at``, ``values`` and ``leaps`` (each as long as ``held``) those left by a
    move in the frame after them (a non-zero value, the next frame in the same piece), their
    value and the move; returns how many moved."""
    moved = 0
    for j in range(held.size):
        p = held[j]
        if cuts.size and _at_cut(p, cuts, channels):
            continue
        v = np.int32(flat[p])
        if abs(v) >= loud:
            loud_held[p // cell_values] += 1
        after = p + channels
        if after >= flat.size or v == 0:
            continue
        if cuts.size and _at_cut(after, cuts, channels):
            continue
        leap = np.int32(flat[after]) - v
        if leap != 0:
            at[moved] = p
            values[moved] = v
            leaps[moved] = leap
            moved += 1
    return moved


@numba.njit(cache=True, nogil=True)
def sort_moves(
    flat: npt.NDArray[np.int16],
    at: npt.NDArray[np.intp],
    values: npt.NDArray[np.int32],
    leaps: npt.NDArray[np.int32],
    moved: int,
    channels: int,
    cell_values: int,
    top: npt.NDArray[np.int32],
    bottom: npt.NDArray[np.int32],
    glide_leap: int,
    step_leap: int,
    moves: npt.NDArray[np.int64],
    glides: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    crests: npt.NDArray[np.int64],
) -> int:
    """The first ``moved`` moves :func:`held_moves` found, sorted in one pass: those whose held
    value lies strictly between its cell's ``bottom`` and ``top`` (a clip ceiling's band is no
    move) counted per cell into ``moves``, those under ``glide_leap`` into ``glides``, their
    levels by high byte (-128..127, per cell) into ``left`` (cells, 256); of the leaps of
    ``step_leap`` or more, the crests (a peak straddled by two equal samples: the entry, rise
    and fall around the pair as ``WindowAnalyzer._cells`` reads them) counted into ``crests``
    and the rest, the steps, written back to the front of ``at`` and ``leaps`` in order;
    returns how many steps."""
    size = flat.size
    steps = 0
    for j in range(moved):
        p = at[j]
        v = np.int64(values[j])
        leap = np.int64(leaps[j])
        cell = p // cell_values
        if not (v < top[cell] and v > bottom[cell]):
            continue
        moves[cell] += 1
        if abs(leap) < glide_leap:
            glides[cell] += 1
        left[cell, (v >> 8) + 128] += 1
        if abs(leap) < step_leap:
            continue
        before = p - 3 * channels
        two_back = np.int64(flat[max(p - 2 * channels, 0)])
        entry = v - two_back
        rise = two_back - np.int64(flat[max(before, 0)])
        fall = np.int64(flat[min(p + 2 * channels, size - 1)]) - (v + leap)
        crest = before >= 0 and p + 2 * channels < size and entry != 0
        crest = crest and ((entry > 0) != (leap > 0)) and ((rise > 0) == (entry > 0))
        crest = crest and rise != 0 and ((fall > 0) == (leap > 0)) and fall != 0
        if crest:
            crests[cell] += 1
            continue
        at[steps] = p
        leaps[steps] = leap
        steps += 1
    return steps
