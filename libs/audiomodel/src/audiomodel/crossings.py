"""Data in zero-crossing timing: cassette-tape coding (Kansas City/CUTS FSK, pulse width, biphase).

Home-computer tape formats (KCS/CUTS, ZX Spectrum, MSX, BBC, C64, Atari, TRS-80) write bits as the
time between zero crossings: each half-cycle lasts one of a small alphabet of durations (two to
four), drawn in the order the data dictates, at a steady clock. One cycle per bit is too short for
the spectral modem reader (audiomodel.modem), so this reader times the crossings instead.

The principle. A tape encoder's half-periods fall in 2-4 narrow clusters (each within a few % of
its centre) covering nearly every interval, and the sequence of cluster runs is unpredictable
(data). A microphone or synthesiser does not produce that: music and speech spread intervals
continuously (low cover); a held note repeats one interval (one cluster); a square wave of uneven
duty alternates two clusters in runs of one (no entropy); an arpeggio or two-tone alarm cycles its
clusters in long regular runs (few switches a second, a predictable next run); noise is
continuous. Crossings are taken with hysteresis (a fraction of the block's RMS) against noise, and
cluster centres must be >= 4 samples (and a cluster at most 15 % wide) so integer-sample quantisation at 8-11 kHz cannot make
clusters out of noise's 1, 2, 3 ... sample intervals. A tape writes no half-cycle far shorter
than its shortest symbol, so a window with many splinters (a limited tone re-crossing zero inside
its half-cycles, a codec's ringing) is a tone, not a tape.

The crossings are timed by one compiled pass (:func:`half_cycles`, ~0.1-0.3 ms per audio second);
a block is read in pieces ending on the 2 s windows' edges.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["TapeScanner", "half_cycles"]

_WINDOW_S = 2.0  # seconds of audio per judged window
_HYSTERESIS = 0.2  # of the block's RMS: noise below it does not cross
_MIN_CENTRE = 4.0  # samples: a shorter cluster could be integer quantisation of noise
_TOLERANCE = 0.06  # an interval belongs to a cluster within 6 % of its centre (or 1 sample: square waves step on whole samples)
_MIN_COVER = 0.8  # share of a window's intervals in its top <= 4 clusters
_MIN_SHARE = 0.05  # each counted cluster holds at least this share
_MIN_RATIO = 1.3  # the clusters' centres differ by at least this ratio
_MIN_SWITCHES = 30.0  # cluster changes a second
_MIN_ENTROPY = 0.8  # bits: conditional entropy of the next run given the previous one
_LEVEL_BAND = (0.6, 1.6)  # of the median half-cycle peak: a constant envelope
_MIN_LEVEL_SHARE = 0.9  # share of half-cycles whose peak is in that band
_SPLINTER = 0.6  # of the shortest cluster's centre: a shorter interval is a splinter ...
_MAX_SPLINTERS = 0.07  # ... and at most this share of a window's intervals may be splinters
_REPEAT_LAGS = (0.02, 0.25)  # seconds: the lags at which a beat's pattern is looked for ...
_MAX_REPEAT = 0.75  # ... and the agreement there (chance 0, 1 exact) that makes it a beat
_MIN_WINDOWS = 2  # windows that must agree (4 s of tape)


class TapeScanner:
    """Per-block reader of the mono level; flags data coded in zero-crossing intervals."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._window = int(_WINDOW_S * sample_rate)
        self._seen = 0  # samples read
        self._last_x = 0.0
        self._state = 0  # the hysteresis state (+1 / -1 / 0 before the first crossing)
        self._last_cross = -1.0
        self._intervals: list[npt.NDArray[np.float64]] = []
        self._peaks: list[npt.NDArray[np.float64]] = []  # each interval's largest |level|
        self._carry_peak = 0.0
        self._window_start = 0
        self._hits: list[tuple[float, float, list[float], float, float]] = []

    def update(self, level: npt.NDArray[np.number], /) -> None:
        x = np.ascontiguousarray(level).ravel()
        if x.dtype != np.int32:
            x = x.astype(np.float64)
        # a block is read in pieces that end on the 2 s windows' edges (the validator's blocks
        # are ~12 s), each with its own hysteresis (a fraction of the piece's RMS)
        at = 0
        while at < x.size:
            piece = x[at : at + self._window_start + self._window - self._seen]
            at += piece.size
            self._read(piece)
            if self._seen - self._window_start >= self._window:
                self._judge()

    def _read(self, x: npt.NDArray[Any]) -> None:
        # the previous crossing, counted from this piece's first sample (-1e300: none yet)
        last = self._last_cross - self._seen if self._last_cross >= 0 else -1e300
        intervals, peaks, self._state, last, self._carry_peak, self._last_x = half_cycles(
            x, _HYSTERESIS, self._state, self._last_x, last, self._carry_peak
        )
        if last > -1e299:
            self._last_cross = self._seen + last
        self._seen += x.size
        if intervals.size:
            self._intervals.append(intervals)
            self._peaks.append(peaks)

    def _judge(self) -> None:
        intervals = np.concatenate(self._intervals) if self._intervals else np.empty(0)
        peaks = np.concatenate(self._peaks) if self._peaks else np.empty(0)
        self._intervals = []
        self._peaks = []
        seconds = (self._seen - self._window_start) / self._rate
        begin = self._window_start / self._rate
        self._window_start = self._seen
        hit = _tape_window(intervals, peaks, seconds, self._rate)
        if hit is not None:
            self._hits.append((begin, begin + seconds, *hit))

    def report(self) -> list[Finding]:
        if self._seen - self._window_start >= self._window // 2:
            self._judge()
        if len(self._hits) < _MIN_WINDOWS:
            return []
        rate = self._rate
        first, last = self._hits[0], self._hits[-1]
        centres = first[2]
        micro = [round(c / rate * 1e6) for c in centres]
        return [
            finding(
                "signal.modem",
                f"Data sent as sound: {len(self._hits)} windows of {_WINDOW_S:g} s from "
                f"{first[0]:.1f} s to {last[1]:.1f} s time every half-cycle to one of "
                f"{len(centres)} durations ({', '.join(f'{m} us' for m in micro)}) in an "
                f"unpredictable order ({first[4]:.1f} bits a run, {first[3]:.0f} switches a "
                "second): cassette-tape coding (FSK, pulse width or biphase), which no "
                "microphone or instrument produces.",
                modulation="tape",
                start_s=round(first[0], 2),
                end_s=round(last[1], 2),
                windows=len(self._hits),
                half_periods_us=", ".join(str(m) for m in micro),
                switches_per_s=round(first[3], 1),
                run_entropy_bits=round(first[4], 2),
            )
        ]


def _tape_window(
    intervals: npt.NDArray[np.float64], peaks: npt.NDArray[np.float64], seconds: float, rate: int
) -> tuple[list[float], float, float] | None:
    """(cluster centres, switches a second, run entropy) if the window reads as tape coding."""
    if intervals.size < 100 * seconds or peaks.size != intervals.size:
        return None
    # a tape writes every half-cycle at one level; tones summed (a beat), voices and
    # instruments swell and fade, and a beat's long interval sits at its envelope's null
    # (judged first on at most ~2,000 evenly spaced half-cycles: music is turned away there, at
    # a tenth of the cost of the whole window; a window that passes is judged in full)
    step = max(1, peaks.size // 2000)
    for part in (peaks[::step], peaks) if step > 1 else (peaks,):
        ratio = part / max(float(np.median(part)), 1e-9)
        if np.mean((ratio > _LEVEL_BAND[0]) & (ratio < _LEVEL_BAND[1])) < _MIN_LEVEL_SHARE:
            return None
    d = intervals[intervals >= _MIN_CENTRE * (1 - _TOLERANCE)]
    if d.size < 0.9 * intervals.size:
        return None
    # clusters: peaks of a histogram of log-durations, 2 % wide bins, smoothed over 3
    logs = np.log(d)
    lo = float(logs.min())
    bins = np.floor((logs - lo) / 0.02).astype(np.int64)
    hist = np.bincount(bins).astype(np.float64)
    smooth = np.convolve(hist, np.ones(3), mode="same")
    order = np.argsort(smooth)[::-1]
    centres: list[float] = []
    for b in order[:40]:
        if smooth[b] < _MIN_SHARE * d.size:
            break
        members = d[np.abs(bins - b) <= 1]
        if members.size == 0:
            continue
        c = float(members.mean())
        if all(abs(np.log(c / o)) > np.log(_MIN_RATIO) for o in centres):
            centres.append(c)
        if len(centres) == 4:
            break
    if len(centres) < 2:
        return None
    cs = np.array(sorted(centres))
    if cs[0] < _MIN_CENTRE:
        return None
    # a tape writes no half-cycle much shorter than its shortest symbol: a tone re-crossing
    # zero inside its half-cycles (a limited test tone's codec ringing) splinters them, and
    # its pieces make a second cluster (seed 29 test_tone-0019: 9 % splinters; tape through
    # Vorbis or MP3 <= 5 %)
    if np.mean(intervals < _SPLINTER * cs[0]) > _MAX_SPLINTERS:
        return None
    tol = np.maximum(_TOLERANCE * cs, np.minimum(1.0, 0.15 * cs))
    dist = np.abs(intervals[:, None] - cs[None, :])
    label = np.argmin(dist, axis=1)
    inside = dist[np.arange(intervals.size), label] <= tol[label]
    if inside.mean() < _MIN_COVER:
        return None
    labels = np.where(inside, label, -1)
    shares = np.bincount(labels[inside], minlength=cs.size) / intervals.size
    keep = shares >= _MIN_SHARE
    if keep.sum() < 2:
        return None
    # runs of one label: switches a second and the unpredictability of the next run
    change = np.flatnonzero(np.diff(labels)) + 1
    edges = np.concatenate(([0], change, [labels.size]))
    run_label = labels[edges[:-1]]
    run_len = np.minimum(np.diff(edges), 32)
    switches = change.size / seconds
    if switches < _MIN_SWITCHES:
        return None
    sym = (run_label + 1) * 64 + run_len
    if sym.size < 20:
        return None
    pairs = sym[:-1] * 512 + sym[1:]
    _, joint = np.unique(pairs, return_counts=True)
    _, marg = np.unique(sym[:-1], return_counts=True)
    n = pairs.size
    h_joint = -float(np.sum(joint / n * np.log2(joint / n)))
    h_prev = -float(np.sum(marg / n * np.log2(marg / n)))
    entropy = h_joint - h_prev
    if entropy < _MIN_ENTROPY:
        return None
    if _beat_repeat(intervals, labels, float(cs[0]), rate) >= _MAX_REPEAT:
        return None
    return [float(c) for c in cs[keep]], switches, entropy


def _beat_repeat(
    intervals: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], shortest: float, rate: int
) -> float:
    """How well a window's half-cycle durations are foretold by themselves a period earlier, at
    the best period of 20-250 ms: the share of time whose cluster (or none) equals the one a lag
    before, as a fraction of the way from chance (the sum of the squared shares) to 1.

    Why: steady tones summed (DTMF, a dial or busy tone, a chord) cross zero at times set by
    the phase of their beat, so their pattern of durations repeats with the beat's period (and
    its multiples); a tape's durations follow its data, which no lag foretells."""
    step = max(1.0, shortest / 2)  # samples a grid step
    ends = np.round(np.cumsum(intervals) / step).astype(np.int64)
    painted = np.repeat(labels, np.diff(np.concatenate(([0], ends))))  # each step's cluster
    n = painted.size
    lo, hi = (int(lag * rate / step) for lag in _REPEAT_LAGS)
    hi = min(hi, n // 2)
    if hi <= lo:
        return 0.0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    agree = np.zeros(hi - lo)
    chance = 0.0
    for k in range(-1, int(labels.max()) + 1):
        ind = (painted == k).astype(np.float64)
        share = float(ind.mean())
        chance += share * share
        spec = np.fft.rfft(ind, size)
        agree += np.fft.irfft(spec * np.conj(spec), size)[lo:hi]
    agree /= n - np.arange(lo, hi)
    if chance >= 1.0:
        return 1.0
    return (float(agree.max()) - chance) / (1.0 - chance)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _square_sum(x: npt.NDArray[Any]) -> float:
    """The sum of squares (in any order: fastmath lets the loop run in SIMD lanes)."""
    total = 0.0
    for i in range(x.size):
        v = float(x[i])
        total += v * v
    return total


@numba.njit(cache=True, nogil=True)
def half_cycles(
    x: npt.NDArray[Any],
    fraction: float,
    state: int,
    last_x: float,
    last_cross: float,
    peak: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int, float, float, float]:
    """One block's half-cycles: (durations, each one's largest |level|, the hysteresis state,
    the last crossing counted from the block's first sample, the open half-cycle's peak so far,
    the last sample). A crossing is a change of side past +-fraction x the block's RMS (samples
    inside the band keep the side), placed by linear interpolation to the band's edge between
    the sample before it and the sample that crossed; a half-cycle is counted only when the
    crossing before it is known (``last_cross`` > -1e299)."""
    n = x.size
    total = _square_sum(x)
    durations = np.empty(n, dtype=np.float64)
    peaks = np.empty(n, dtype=np.float64)
    count = 0
    if total <= 0.0:
        for i in range(n):
            peak = max(peak, abs(float(x[i])))
        return durations[:0], peaks[:0], state, last_cross, peak, float(x[n - 1])
    h = fraction * math.sqrt(total / n)
    before = last_x
    for i in range(n):
        v = float(x[i])
        mag = abs(v)
        side = (v > h) - (v < -h)
        if side * state < 0 or (state == 0 and side != 0):
            if state != 0:
                span = v - before
                frac = (side * h - before) / span if span != 0.0 else 1.0
                frac = min(max(frac, 0.0), 1.0)
                pos = i - 1 + frac
                if last_cross > -1e299:
                    durations[count] = pos - last_cross
                    peaks[count] = peak
                    count += 1
                last_cross = pos
                peak = mag
            else:
                peak = max(peak, mag)
            state = side
        else:
            peak = max(peak, mag)
        before = v
    return durations[:count], peaks[:count], state, last_cross, peak, before
