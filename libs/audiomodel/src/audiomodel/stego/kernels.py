"""Compiled loops of the steganalysis: one pass where numpy takes several, the same results.

Each kernel gives exactly what the numpy expression it replaces gives (integers, maxima,
table look-ups, comparisons: nothing whose value depends on an order of summation), so the
analysis' features and findings do not move by a bit. The tests run each kernel against that
expression. The parity statistic's kernels at the end are the exception: they replace FFT
arithmetic with direct sums in float64, closer to exact than what they replace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "count_low_bits",
    "count_near_zero",
    "determinism_terms",
    "frame_medians",
    "has_aligned_run",
    "interpolation_residual",
    "pack_low_bits",
    "parity_rows",
    "subblock_extremes",
    "window_autocorrelation",
    "window_autocorrelation_exact",
    "windowed_frames",
    "zero_clipped",
]


@numba.njit(cache=True)
def _subblock_extremes(
    residual_bits: Any, samples: Any, sub: int, top: Any, high: Any, low: Any
) -> None:
    # One channel (contiguous rows); simple compare-and-keep loops the compiler vectorises.
    # |x| of a float is its bit pattern without the sign bit, and those patterns order as the
    # values do, NaN above all: the integer maximum is numpy's maximum of |x|, NaN included.
    for s in range(top.size):
        base = s * sub
        most = np.int32(0)
        for i in range(sub):
            value = residual_bits[base + i] & np.int32(0x7FFFFFFF)
            if value > most:
                most = value
        top[s] = most
        up = samples[base]
        down = up
        for i in range(sub):
            value = samples[base + i]
            if value > up:
                up = value
            if value < down:
                down = value
        high[s] = up
        low[s] = down


def subblock_extremes(
    residual: npt.NDArray[np.floating[Any]], samples: npt.NDArray[np.signedinteger[Any]], sub: int
) -> tuple[
    npt.NDArray[np.floating[Any]], npt.NDArray[np.signedinteger[Any]], npt.NDArray[np.int64]
]:
    """Per sub-block of ``sub`` frames of (channels, frames) arrays whose rows are contiguous:
    the largest |residual| and the largest |sample|, exactly as
    ``np.abs(a).reshape(channels, -1, sub).max(axis=-1)`` gives them (a NaN residual gives
    NaN; the sample dtype's minimum, whose abs wraps to itself, is no candidate: sub-blocks
    holding it are left to numpy), and the span of the samples (largest minus least, exact in
    64 bits)."""
    channels, frames = residual.shape
    subs = frames // sub
    if residual.dtype != np.float32:
        # The bit-pattern maximum below reads 32-bit floats; 32-bit PCM's residual is float64.
        top64 = np.abs(residual).reshape(channels, subs, sub).max(axis=-1)
        blocks = samples.reshape(channels, subs, sub)
        span64 = blocks.max(axis=-1).astype(np.int64) - blocks.min(axis=-1).astype(np.int64)
        return top64, np.abs(blocks).max(axis=-1), span64
    top_bits = np.empty((channels, subs), dtype=np.int32)
    high = np.empty((channels, subs), dtype=samples.dtype)
    low = np.empty((channels, subs), dtype=samples.dtype)
    for c in range(channels):
        _subblock_extremes(
            np.ascontiguousarray(residual[c]).view(np.int32),
            np.ascontiguousarray(samples[c]),
            sub,
            top_bits[c],
            high[c],
            low[c],
        )
    top = top_bits.view(np.float32)
    floor = np.iinfo(samples.dtype).min
    wide = low.astype(np.int64)
    span = high.astype(np.int64) - wide
    peak = np.maximum(high, -wide).astype(samples.dtype)
    wrapped = wide == floor
    if wrapped.any():
        channel, block = np.nonzero(wrapped)
        rows = samples.reshape(channels, -1, sub)[channel, block]
        peak[channel, block] = np.abs(rows).max(axis=-1)
    return top, peak, span


@numba.njit(cache=True, nogil=True)
def pack_low_bits(carriers: Any, bits: int, n_bytes: int) -> tuple[Any, Any]:
    """The bytes the low ``bits`` (1 or 2) of ``carriers`` (uint8, any stride) carry, packed
    LSB-first and MSB-first, from at most ``n_bytes`` bytes of capacity, in one pass: what
    ``np.packbits(carriers[: 8 n] & 1, bitorder=...)`` gives for 1 bit (a last partial byte
    padded with zero bits), and for 2 bits each whole group of four carriers ``c0..c3`` as
    ``c0 | c1 << 2 | c2 << 4 | c3 << 6`` and ``c0 << 6 | c1 << 4 | c2 << 2 | c3``."""
    if bits == 1:
        count = min(carriers.size, n_bytes * 8)
        size = (count + 7) // 8
        lsb = np.zeros(size, dtype=np.uint8)
        msb = np.zeros(size, dtype=np.uint8)
        for j in range(count // 8):
            low = 0
            high = 0
            for k in range(8):
                bit = carriers[8 * j + k] & 1
                low |= bit << k
                high |= bit << (7 - k)
            lsb[j] = low
            msb[j] = high
        for i in range((count // 8) * 8, count):
            bit = carriers[i] & 1
            lsb[i >> 3] |= bit << (i & 7)
            msb[i >> 3] |= bit << (7 - (i & 7))
        return lsb, msb
    size = min(carriers.size // 4, n_bytes)
    lsb = np.empty(size, dtype=np.uint8)
    msb = np.empty(size, dtype=np.uint8)
    for j in range(size):
        c0 = carriers[4 * j] & 3
        c1 = carriers[4 * j + 1] & 3
        c2 = carriers[4 * j + 2] & 3
        c3 = carriers[4 * j + 3] & 3
        lsb[j] = c0 | (c1 << 2) | (c2 << 4) | (c3 << 6)
        msb[j] = (c0 << 6) | (c1 << 4) | (c2 << 2) | c3
    return lsb, msb


@numba.njit(cache=True)
def has_aligned_run(stream: Any, table: Any, k: int) -> bool:
    """Whether some aligned block of ``k`` bytes of ``stream`` is all ``table``-true:
    ``table[stream][: size // k * k].reshape(-1, k).all(axis=1).any()``."""
    for start in range(0, (stream.size // k) * k, k):
        whole = True
        for i in range(start, start + k):
            if not table[stream[i]]:
                whole = False
                break
        if whole:
            return True
    return False


@numba.njit(cache=True)
def _determinism_terms(counts: Any, table: Any) -> tuple[Any, Any, Any, Any, Any]:
    pairs = counts.shape[0]
    room = np.empty(pairs, dtype=np.float64)
    excess = np.empty(pairs, dtype=np.float64)
    beyond = np.empty(pairs, dtype=np.intp)  # where n is past the table
    beyond_n = np.empty(pairs, dtype=np.int64)
    beyond_imbalance = np.empty(pairs, dtype=np.int64)
    kept = 0
    past = 0
    for j in range(pairs):
        even = np.int64(counts[j, 0])
        odd = np.int64(counts[j, 1])
        n = even + odd
        if n < 2:
            continue
        if n < table.size:
            fair = table[n]
            room[kept] = np.float64(n) - fair
            excess[kept] = np.float64(abs(even - odd)) - fair
        else:
            beyond[past] = kept
            beyond_n[past] = n
            beyond_imbalance[past] = abs(even - odd)
            past += 1
        kept += 1
    return (
        room[:kept].copy(),
        excess[:kept].copy(),
        beyond[:past].copy(),
        beyond_n[:past].copy(),
        beyond_imbalance[:past].copy(),
    )


def determinism_terms(
    counts: npt.NDArray[np.integer[Any]],
    table: npt.NDArray[np.float64],
    fair: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For each value pair (rows of ``counts``, (pairs, 2)) seen at least twice, in order:
    ``n - fair(n)`` and ``|n_even - n_odd| - fair(n)`` (``n`` the pair's samples; ``fair``
    the fair coin's mean imbalance, from ``table`` where ``n`` is in it, else computed by
    ``fair`` on the float64 counts, element by element)."""
    room, excess, beyond, beyond_n, beyond_imbalance = _determinism_terms(counts, table)
    if beyond.size:
        total = beyond_n.astype(np.float64)
        expected = fair(total)
        room[beyond] = total - expected
        excess[beyond] = beyond_imbalance.astype(np.float64) - expected
    return room, excess


@numba.njit(cache=True)
def band_levels(spectrum: Any, first_bin: int, bands: int, norm: np.float32, out: Any) -> None:
    """Into ``out`` (channels, frames, bands): the mean power of each band of 16 bins of
    ``spectrum`` (channels, frames, bins) from ``first_bin`` on, over ``norm``, in float32 as
    ``noise_floor`` computes it with numpy (re^2 + im^2 rounded to float32, the 16 terms added
    in numpy's pairwise order: halves, then neighbours in three rounds)."""
    channels, frames = spectrum.shape[0], spectrum.shape[1]
    power = np.empty(16, dtype=np.float32)
    half = np.empty(8, dtype=np.float32)
    for c in range(channels):
        for f in range(frames):
            for b in range(bands):
                at = first_bin + 16 * b
                for i in range(16):
                    value = spectrum[c, f, at + i]
                    re = value.real
                    im = value.imag
                    power[i] = re * re + im * im
                for i in range(8):
                    half[i] = power[i] + power[i + 8]
                quarter0 = half[0] + half[1]
                quarter1 = half[2] + half[3]
                quarter2 = half[4] + half[5]
                quarter3 = half[6] + half[7]
                total = (quarter0 + quarter1) + (quarter2 + quarter3)
                out[c, f, b] = (total / np.float32(16.0)) / norm


@numba.njit(cache=True)
def frame_medians(levels: Any, out: Any) -> None:
    """Into ``out`` (channels, stretches, bands) the median over the frames (axis 2) of
    ``levels`` (channels, stretches, frames, bands), NaN left out and NaN where all are: what
    ``np.nanmedian(levels, axis=2)`` gives, to the bit (the two middle values of the sorted
    non-NaN ones, the same value twice for an odd count, added and halved). A stretch's few
    values are sorted by insertion, where numpy sorts along a strided axis."""
    channels, stretches, frames, bands = levels.shape
    ordered = np.empty(frames, dtype=np.float64)
    for c in range(channels):
        for s in range(stretches):
            for b in range(bands):
                count = 0
                for f in range(frames):
                    value = levels[c, s, f, b]
                    if np.isnan(value):
                        continue
                    at = count
                    while at > 0 and ordered[at - 1] > value:
                        ordered[at] = ordered[at - 1]
                        at -= 1
                    ordered[at] = value
                    count += 1
                if count == 0:
                    out[c, s, b] = np.nan
                    continue
                high = count // 2
                low = high if count % 2 == 1 else high - 1
                out[c, s, b] = (ordered[low] + ordered[high]) / 2.0


@numba.njit(cache=True)
def _zero_clipped(span: Any, residual: Any, loud: int, full: int) -> None:
    for i in range(residual.size):
        value = span[i + 1]
        loud_sample = value >= loud or value <= -loud
        if loud_sample and (
            value >= full or value <= -full or value == span[i] or value == span[i + 2]
        ):
            residual[i] = 0.0


def zero_clipped(
    span: npt.NDArray[np.signedinteger[Any]],
    residual: npt.NDArray[np.floating[Any]],
    loud: int,
    full: int,
) -> None:
    """Zero ``residual`` (channels, frames) where the sample (``span``, one frame more on each
    side) is at least ``loud`` from zero and at full scale (``full``) or equal to a neighbour."""
    for c in range(residual.shape[0]):
        row = residual[c]
        work = row if row.flags.c_contiguous else row.copy()
        _zero_clipped(np.ascontiguousarray(span[c]), work, loud, full)
        if work is not row:
            row[...] = work


@numba.njit(cache=True)
def _count_low_bits(values: Any, counts: Any, mask: int) -> int:
    zeros = 0
    for i in range(values.size):
        value = values[i]
        counts[value & mask] += 1
        if value == 0:
            zeros += 1
    return zeros


def count_low_bits(
    values: npt.NDArray[np.signedinteger[Any]], counts: npt.NDArray[np.int64]
) -> int:
    """Add to ``counts`` (2**k bins) the samples of ``values`` per ``value & (2**k - 1)``, as
    ``counts += np.bincount(values & (2**k - 1), minlength=2**k)`` does; returns how many
    are exactly 0."""
    return int(_count_low_bits(np.ascontiguousarray(values).reshape(-1), counts, counts.size - 1))


@numba.njit(cache=True)
def _count_near_zero(values: Any, counts: Any, reach: int) -> None:
    for i in range(values.size):
        value = np.int64(values[i])  # widened: the dtype's minimum has no absolute value in it
        if -reach < value < reach:
            counts[value + reach] += 1


def count_near_zero(
    values: npt.NDArray[np.signedinteger[Any]], counts: npt.NDArray[np.int64], reach: int
) -> None:
    """Add to ``counts`` (2 ``reach`` bins, bin ``v + reach`` for value ``v``) the samples of
    ``values`` with ``|v| < reach``. The dtype's minimum (a full-scale negative sample of 24- or
    32-bit audio) is far from zero and not counted."""
    _count_near_zero(np.ascontiguousarray(values).reshape(-1), counts, reach)


@numba.njit(cache=True, nogil=True)
def _windowed_float_frames(samples: Any, first: int, window: Any, out: Any, span: Any) -> None:
    # Float samples: a NaN is skipped by the comparisons as it always was (numpy's max would
    # propagate it), so their extremes keep this compare-and-keep loop.
    channels, count, size = out.shape
    for c in range(channels):
        for f in range(count):
            base = (first + f) * size
            row = out[c, f]
            up = np.float32(samples[c, base])
            down = up
            for i in range(size):
                value = np.float32(samples[c, base + i])
                row[i] = value * window[i]
                if value > up:
                    up = value
                if value < down:
                    down = value
            span[c, f] = up - down


@numba.njit(cache=True, nogil=True)
def _windowed_integer_frames(samples: Any, first: int, window: Any, out: Any, span: Any) -> None:
    # Each frame is first gathered into a contiguous buffer of its own integer type (a block's
    # channel is strided: frames x channels read by channel), so the integer extremes and the
    # window's products run as vector loops (a float compare-and-keep loop does not vectorise).
    # Converting to float32 keeps the order of integers, so the float32 of the integer extremes
    # are the extremes of the float32 values: the same span.
    channels, count, size = out.shape
    frame = np.empty(size, dtype=samples.dtype)
    for c in range(channels):
        for f in range(count):
            base = (first + f) * size
            source = samples[c, base : base + size]
            for i in range(size):
                frame[i] = source[i]
            up = frame[0]
            down = up
            for i in range(size):
                value = frame[i]
                up = max(up, value)
                down = min(down, value)
            row = out[c, f]
            for i in range(size):
                row[i] = np.float32(frame[i]) * window[i]
            span[c, f] = np.float32(up) - np.float32(down)


def windowed_frames(
    samples: npt.NDArray[Any],
    first: int,
    window: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    span: npt.NDArray[np.float32],
) -> None:
    """Frames ``first``, ``first + 1``, ... of ``samples`` (channels, frames; any layout and
    dtype, integers of up to 24 bits or float32), ``window.size`` frames each, as float32
    times ``window`` into ``out`` (channels, frames taken, ``window.size``), and each frame's
    largest minus smallest value into ``span`` (channels, frames taken): in one compiled pass
    per frame, exactly what converting to float32, ``np.multiply(frame, window)`` and
    ``frame.max() - frame.min()`` give."""
    if np.issubdtype(samples.dtype, np.integer):
        _windowed_integer_frames(samples, first, window, out, span)
    else:
        _windowed_float_frames(samples, first, window, out, span)


# The parity statistic's interpolator (audiomodel.stego.statistics), computed directly: these
# replace FFT arithmetic, not a numpy expression, so their sums are exact or closer to exact
# than what they replace, not equal to it to the bit.


@numba.njit(cache=True, fastmath=True)
def window_autocorrelation(window: Any, lags: int, out: Any) -> None:
    """Into ``out`` (``lags`` + 1) the sum over channels of sum_n x[n] x[n + l] of
    ``window`` (channels, frames), l = 0..``lags``, in float64. Products of samples up to 24
    bits and their sums over a window are exact in float64, so the order of the additions
    (reassociated to vectorise) does not change the value for 16-bit PCM."""
    channels, frames = window.shape
    for lag in range(lags + 1):
        out[lag] = 0.0
    for c in range(channels):
        row = window[c]
        for lag in range(lags + 1):
            # Slices indexed from 0 (an index that could be negative would cost a wrap-around
            # test per element and keep the loop from vectorising).
            head = row[: frames - lag]
            tail = row[lag:]
            total = 0.0
            for n in range(frames - lag):
                total += np.float64(head[n]) * np.float64(tail[n])
            out[lag] += total


# Lags summed in one pass over a row by window_autocorrelation_exact: the interpolator's 33
# (2 x 16 + 1) in three passes, each loading a sample once for eleven products where a pass per
# lag loads it twice for one (half the time on 16-bit music).
_LAGS_PER_PASS = 11


@numba.njit(cache=True, fastmath=True)
def _eleven_lags(row: Any, first: int, lags: int, span: int, out: Any) -> None:
    """Add to ``out[first + k]``, k = 0..10 (those up to ``lags``), sum_{n < span} x[n] x[n + lag]
    of ``row``; a lag past ``lags`` repeats ``lags`` (in reach of every n < span) and is not
    kept. Eleven named sums: the compiler keeps them in registers and vectorises over n."""
    head = row[:span]
    lag0 = row[min(first, lags) :]
    lag1 = row[min(first + 1, lags) :]
    lag2 = row[min(first + 2, lags) :]
    lag3 = row[min(first + 3, lags) :]
    lag4 = row[min(first + 4, lags) :]
    lag5 = row[min(first + 5, lags) :]
    lag6 = row[min(first + 6, lags) :]
    lag7 = row[min(first + 7, lags) :]
    lag8 = row[min(first + 8, lags) :]
    lag9 = row[min(first + 9, lags) :]
    lag10 = row[min(first + 10, lags) :]
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = t8 = t9 = t10 = 0.0
    for n in range(span):
        x = np.float64(head[n])
        t0 += x * np.float64(lag0[n])
        t1 += x * np.float64(lag1[n])
        t2 += x * np.float64(lag2[n])
        t3 += x * np.float64(lag3[n])
        t4 += x * np.float64(lag4[n])
        t5 += x * np.float64(lag5[n])
        t6 += x * np.float64(lag6[n])
        t7 += x * np.float64(lag7[n])
        t8 += x * np.float64(lag8[n])
        t9 += x * np.float64(lag9[n])
        t10 += x * np.float64(lag10[n])
    sums = (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10)
    for k in range(_LAGS_PER_PASS):
        if first + k <= lags:
            out[first + k] += sums[k]


@numba.njit(cache=True, fastmath=True)
def window_autocorrelation_exact(window: Any, lags: int, out: Any) -> None:
    """:func:`window_autocorrelation` of a window of samples of at most 16 bits (any float
    dtype): every product (< 2**31) and every partial sum of up to 64 channels' window of
    65536 frames (< 2**53) is an integer float64 holds exactly, so the sums may be taken in
    any order, the same to the bit. Eleven lags per pass over the row, for n up to
    frames - ``lags`` (every lag in reach), then each lag's last products."""
    channels, frames = window.shape
    for lag in range(lags + 1):
        out[lag] = 0.0
    span = max(frames - lags, 0)
    for c in range(channels):
        row = window[c]
        for first in range(0, lags + 1, _LAGS_PER_PASS):
            _eleven_lags(row, first, lags, span, out)
        for lag in range(lags + 1):
            total = 0.0
            for n in range(span, frames - lag):
                total += np.float64(row[n]) * np.float64(row[n + lag])
            out[lag] += total


# Fast-math without reassociation: each sample's taps are subtracted in the order k = 1, 2, ...
# (the value does not depend on how many taps a pass over the chunk takes), multiply-subtracts
# fused as before.
_IN_ORDER = {"contract", "nnan", "ninf", "nsz", "arcp", "afn"}


@numba.njit(cache=True, fastmath=_IN_ORDER)
def interpolation_residual(window: Any, coef: Any, edge: int, out: Any) -> None:
    """Into ``out`` (channels, frames - 2 ``edge``) x[n] - sum_k a_k (x[n-k] + x[n+k]) of
    ``window`` (channels, frames), n = ``edge``..frames - ``edge`` - 1, a_k = ``coef[k - 1]``
    (``edge`` >= the taps), subtracted k after k in float64, in chunks that stay in cache,
    four taps per pass over a chunk (a quarter of the loads and stores of its sums)."""
    channels, frames = window.shape
    taps = coef.size
    width = frames - 2 * edge
    chunk = 512
    acc = np.empty(chunk, dtype=np.float64)
    for c in range(channels):
        row = window[c]
        dest = out[c]
        for start in range(0, width, chunk):
            size = min(chunk, width - start)
            base = start + edge
            centre = row[base : base + size]
            for i in range(size):
                acc[i] = np.float64(centre[i])
            k = 1
            while k + 3 <= taps:
                a0, a1, a2, a3 = coef[k - 1], coef[k], coef[k + 1], coef[k + 2]
                # Slices indexed from 0, as in window_autocorrelation.
                left0 = row[base - k : base - k + size]
                right0 = row[base + k : base + k + size]
                left1 = row[base - k - 1 : base - k - 1 + size]
                right1 = row[base + k + 1 : base + k + 1 + size]
                left2 = row[base - k - 2 : base - k - 2 + size]
                right2 = row[base + k + 2 : base + k + 2 + size]
                left3 = row[base - k - 3 : base - k - 3 + size]
                right3 = row[base + k + 3 : base + k + 3 + size]
                for i in range(size):
                    value = acc[i] - a0 * (np.float64(left0[i]) + np.float64(right0[i]))
                    value = value - a1 * (np.float64(left1[i]) + np.float64(right1[i]))
                    value = value - a2 * (np.float64(left2[i]) + np.float64(right2[i]))
                    acc[i] = value - a3 * (np.float64(left3[i]) + np.float64(right3[i]))
                k += 4
            while k <= taps:
                a = coef[k - 1]
                left = row[base - k : base - k + size]
                right = row[base + k : base + k + size]
                for i in range(size):
                    acc[i] -= a * (np.float64(left[i]) + np.float64(right[i]))
                k += 1
            kept = dest[start : start + size]
            for i in range(size):
                kept[i] = acc[i]


@numba.njit(cache=True, fastmath=True)
def parity_rows(
    residual: Any, samples: Any, sub: int, floor: float, rows: Any, energy: Any
) -> None:
    """The parity statistic's per-sub-block sums of ``residual`` and ``samples`` (channels,
    frames; frames a multiple of ``sub``) in one pass, in float64: into ``energy`` (channels,
    sub-blocks) sum r^2, and into ``rows`` (sub-blocks, channels, 5) with w = 1 / (``floor`` +
    energy / ``sub``) and c0, c1 = +-1 from bits 0 and 1: w sum(r c0), w ``sub``,
    w^2 (energy + ``sub`` / 12), w sum(r c1), and w sum(r c0) where energy < ``sub``."""
    channels, frames = residual.shape
    subs = frames // sub
    for c in range(channels):
        r = residual[c]
        x = samples[c]
        for s in range(subs):
            values = r[s * sub : (s + 1) * sub]
            words = x[s * sub : (s + 1) * sub]
            total = 0.0
            low = 0.0
            high = 0.0
            power = 0.0
            for i in range(sub):
                value = np.float64(values[i])
                bits = words[i]
                total += value
                power += value * value
                low += value * np.float64(bits & 1)
                high += value * np.float64(bits & 2)
            rc0 = 2.0 * low - total
            rc1 = high - total  # bit 1 read as 0 / 2
            weight = 1.0 / (floor + power / sub)
            energy[c, s] = power
            rows[s, c, 0] = weight * rc0
            rows[s, c, 1] = weight * sub
            rows[s, c, 2] = weight * weight * (power + sub / 12.0)
            rows[s, c, 3] = weight * rc1
            rows[s, c, 4] = weight * rc0 if power < sub else 0.0
