"""Tone pairs that take turns, found without knowing the tones: candidates for the FSK test.

A binary FSK modem of any plan keys one constant-level signal between two narrow bands: while
one band holds the tone the other is empty, so the energy of the two bands moves in opposite
directions at every symbol change, and their sum holds. Music puts energy into the same bands,
but that energy is not keyed with the modem's symbols: taken off as each band's slowly varying
share (the band's running mean over a few dozen frames), it leaves the keyed part, where the
two tone bands anti-correlate (-0.5 to -0.95 where a minimodem keys 0-6 dB under music), while
the partials of music rise and fall together (onsets) or independently (the most
anti-correlated band pair of a chunk of real music, train split: median -0.15, 5th percentile
-0.31, lowest -0.58 in 267 chunks, where a glide moves a note between bands). The anti-correlation survives any averaging over
time (the shares of a frame at one tone and at the other add up to one), so a frame longer
than a symbol still sees it: frames of ~5 ms (bands of ~190 Hz) find minimodem's pairs from
300 to 4800 Bd under music (a 4800 Bd pair as well as with ~1.3 ms frames, at a quarter of the
cost). Nothing here depends on a tone plan; :mod:`audiomodel.modem` times the clock of each
pair found and decides.

The pair is refined on frames ~20 ms long (~50 Hz bins), by the same statistic restricted to
the bins beside each coarse tone.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from audiomodel.modem_kernels import keyed_part

__all__ = ["keyed_band_pairs"]

Floats = npt.NDArray[np.float64]

# Frame lengths (s) of the search: ~5.3 ms (bands of ~190 Hz: Bell 103's 200 Hz shift is two
# bands). Frames do not overlap (the statistic needs many frames, not smooth ones).
SEARCH_FRAMES_S = (128 / 24000,)
REFINE_FRAME_S = 512 / 24000  # ~21 ms: ~47 Hz bins
# Frames used at each length, at most (evenly spread over the stretch): the statistic needs a
# few hundred frames, not all of them (the cost bound)
SEARCH_FRAMES = 256
SLOW_FRAMES = 24  # each band's running mean over this many frames is the music's slow share
# A pair is a candidate when its bands' keyed parts anti-correlate at least this much. Real
# music's most anti-correlated pair of a chunk passes it in ~1-3 % of chunks (the cost: the FSK
# test runs on it and turns it away: it finds no clock, or the clock frames at chance);
# chiptune arpeggios and multi-tone test signals, whose notes do take turns, more often.
KEYED_PAIR_GATE = -0.45
MIN_BAND_GAP = 2  # bins between the two bands (neighbouring bins: a glide, or one tone's skirt)
EPS = 1e-20


def _frames_pow2(seconds: float, rate: float) -> int:
    return max(8, 1 << round(float(np.log2(seconds * rate))))


@lru_cache(maxsize=16)
def _taper32(width: int) -> npt.NDArray[np.float32]:
    """The Hann taper of a frame ``width`` long (its zero ends left off), float32, made once."""
    taper = np.hanning(width + 2)[1:-1].astype(np.float32)
    taper.setflags(write=False)
    return taper


@lru_cache(maxsize=64)
def _upper_pairs(size: int, gap: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``np.triu_indices(size, gap)``, made once per (size, gap): the band pairs at least
    ``gap`` bands apart."""
    ii, jj = np.triu_indices(size, gap)
    ii.setflags(write=False)
    jj.setflags(write=False)
    return ii, jj


def _band_power(
    x: Floats, rate: float, width: int, min_hz: float, max_hz: float, stride: int = 1
) -> tuple[Floats, Floats]:
    """(bin centres Hz, power (frames, bins)) of Hann frames ``width`` long, every ``stride``-th
    of the non-overlapping ones, for the bins between ``min_hz`` and ``max_hz``."""
    step = width * stride
    count = (x.size - width) // step + 1 if x.size >= width else 0
    # (the frames of sliding_window_view(x, width)[::step], made with one stride trick; each
    # rounded to float32 and tapered in one pass, the numbers of astype then multiply)
    frames = as_strided(x, (count, width), (step * x.strides[0], x.strides[0]), writeable=False)
    spectrum = scipy.fft.rfft(np.multiply(frames, _taper32(width), dtype=np.float32), axis=1)
    bin_hz = rate / width
    lo = max(0, int(np.ceil(min_hz / bin_hz - 0.5)))
    hi = min(spectrum.shape[1], int(max_hz / bin_hz) + 1)
    part = spectrum[:, lo:hi]
    power: Floats = part.real**2 + part.imag**2  # float32: a correlation needs no more
    return np.arange(lo, hi) * bin_hz, power


def _keyed_part(power: Floats, slow: int = SLOW_FRAMES) -> Floats:
    """Each band's power (a column) less its centred running mean over ``slow`` frames, at
    unit RMS: the share of the band that changes faster than the music's spectrum does (the
    ends get the mean of the nearest whole window; in float32, one compiled pass per step:
    :func:`audiomodel.modem_kernels.keyed_part`)."""
    out: Floats = keyed_part(power, slow)
    return out


def _correlation(fast: Floats, block: int = 128) -> Floats:
    """Correlation matrix of the columns of ``fast`` (zero mean, unit RMS), summed over blocks
    of frames: one product over hundreds of frames hands itself to a threaded BLAS whose start
    costs ~10x the product on a loaded machine."""
    out: Floats = np.zeros((fast.shape[1], fast.shape[1]), dtype=fast.dtype)
    for start in range(0, fast.shape[0], block):
        part = fast[start : start + block]
        out += part.T @ part
    out /= max(1, fast.shape[0])
    return out


def _refine(
    x: Floats, rate: float, f_lo: float, f_hi: float, half_hz: float, min_shift: float
) -> tuple[float, float]:
    """The pair of ~47 Hz bins within ``half_hz`` of each coarse tone whose keyed parts
    anti-correlate most (the coarse tones when too few frames)."""
    width = _frames_pow2(REFINE_FRAME_S, rate)
    if x.size < 4 * SLOW_FRAMES * width:
        return f_lo, f_hi
    freqs, power = _band_power(x, rate, width, f_lo - half_hz, f_hi + half_hz)
    near_lo = np.flatnonzero(np.abs(freqs - f_lo) <= half_hz)
    near_hi = np.flatnonzero(np.abs(freqs - f_hi) <= half_hz)
    if near_lo.size == 0 or near_hi.size == 0:
        return f_lo, f_hi
    fast = _keyed_part(power[:, np.concatenate((near_lo, near_hi))])
    corr = _correlation(fast)[: near_lo.size, near_lo.size :]
    apart = (freqs[near_hi][None, :] - freqs[near_lo][:, None]) >= min_shift
    corr = np.where(apart, corr, np.inf)
    i, j = np.unravel_index(int(np.argmin(corr)), corr.shape)
    if not np.isfinite(corr[i, j]):
        return f_lo, f_hi
    return float(freqs[near_lo[i]]), float(freqs[near_hi[j]])


def keyed_band_pairs(
    x: npt.NDArray[np.floating],
    rate: float,
    *,
    min_hz: float,
    max_hz: float,
    min_shift_hz: float,
    limit: int = 2,
    upper_from_hz: float | None = None,
) -> list[tuple[float, float, float]]:
    """Pairs of bands whose keyed parts anti-correlate: (low Hz, high Hz, correlation), the
    most anti-correlated first, at most ``limit``, each at least ``KEYED_PAIR_GATE``; and,
    where ``upper_from_hz`` is given, at most one more pair whose higher tone sits above it,
    ranked on its own (a band searched beyond the usual one never displaces a pair in it).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Mono samples (a few seconds) at ``rate``.
    rate : float
        Sample rate in Hz.
    min_hz, max_hz : float
        Where tones may sit.
    min_shift_hz : float
        The smallest distance between the two tones.
    limit : int
        Pairs returned at most (besides the one above ``upper_from_hz``).
    upper_from_hz : float, optional
        Where the upper band's own ranking starts.
    """
    y = np.asarray(x, dtype=np.float64)
    found: list[tuple[float, float, float, float]] = []  # (corr, lo, hi, bin Hz)
    limits = {False: limit, True: 0 if upper_from_hz is None else 1}  # by: higher tone upper
    for seconds in SEARCH_FRAMES_S:
        width = _frames_pow2(seconds, rate)
        stride = max(1, y.size // width // SEARCH_FRAMES)
        freqs, power = _band_power(y, rate, width, min_hz, max_hz, stride)
        bin_hz = rate / width
        if freqs.size < MIN_BAND_GAP + 1 or power.shape[0] < 2 * SLOW_FRAMES:
            continue
        corr = _correlation(_keyed_part(power))
        gap = max(MIN_BAND_GAP, int(np.ceil(min_shift_hz / bin_hz)))
        ii, jj = _upper_pairs(freqs.size, gap)
        values = corr[ii, jj]
        if values.size == 0 or values.min() > KEYED_PAIR_GATE:
            # no pair reaches the gate (music's common case): nothing to rank (a NaN min
            # is not over the gate and goes on to the ranking, as before)
            continue
        upper = freqs[jj] >= (np.inf if upper_from_hz is None else upper_from_hz)
        for in_upper, most in limits.items():
            (where,) = np.nonzero(upper == in_upper)
            for k in where[np.argsort(values[where])[: 2 * most]].tolist():
                if values[k] > KEYED_PAIR_GATE:
                    break
                lo = max(min_hz, float(freqs[ii[k]]))
                found.append((float(values[k]), lo, float(freqs[jj[k]]), bin_hz))
    found.sort()
    out: list[tuple[float, float, float]] = []
    taken = {False: 0, True: 0}
    for corr_value, lo, hi, bin_hz in found:
        in_upper = upper_from_hz is not None and hi >= upper_from_hz
        if taken[in_upper] >= limits[in_upper]:
            continue
        # the same pair seen at both frame lengths, or at neighbouring bins: once
        if any(abs(lo - a) <= bin_hz and abs(hi - b) <= bin_hz for a, b, _ in out):
            continue
        f_lo, f_hi = _refine(y, rate, lo, hi, bin_hz * 0.75, min_shift_hz)
        out.append((f_lo, f_hi, corr_value))
        taken[in_upper] += 1
        if sum(taken.values()) >= sum(limits.values()):
            break
    return out
