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
clusters out of noise's 1, 2, 3 ... sample intervals.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["TapeScanner"]

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
        x = np.asarray(level, dtype=np.float64).ravel()
        if x.size == 0:
            return
        rms = float(np.sqrt(np.mean(x * x)))
        start = self._seen
        self._seen += x.size
        if rms > 0:
            h = _HYSTERESIS * rms
            s = np.where(x > h, 1, np.where(x < -h, -1, 0)).astype(np.int8)
            idx = np.flatnonzero(s)
            if idx.size:
                sv = s[idx]
                prev = np.concatenate(([self._state], sv[:-1]))
                at = idx[(sv != prev) & (prev != 0)]
                self._state = int(sv[-1])
                if at.size:
                    mag = np.abs(x)
                    seg = np.maximum.reduceat(mag, at)
                    head = max(self._carry_peak, float(mag[: at[0]].max()) if at[0] else 0.0)
                    peaks = np.concatenate(([head], seg[:-1]))
                    self._carry_peak = float(seg[-1])
                    before = np.where(at > 0, x[np.maximum(at - 1, 0)], self._last_x)
                    after = x[at]
                    target = np.sign(after) * h
                    span = after - before
                    frac = np.where(span != 0, (target - before) / np.where(span == 0, 1, span), 1)
                    pos = start + at - 1 + np.clip(frac, 0.0, 1.0)
                    if self._last_cross >= 0:
                        pos_all = np.concatenate(([self._last_cross], pos))
                    else:
                        pos_all = pos
                    if pos_all.size > 1:
                        self._intervals.append(np.diff(pos_all))
                        self._peaks.append(peaks[peaks.size - pos_all.size + 1 :])
                    self._last_cross = float(pos[-1])
                else:
                    self._carry_peak = max(self._carry_peak, float(np.abs(x).max()))
        self._last_x = float(x[-1])
        if self._seen - self._window_start >= self._window:
            self._judge()

    def _judge(self) -> None:
        intervals = np.concatenate(self._intervals) if self._intervals else np.empty(0)
        peaks = np.concatenate(self._peaks) if self._peaks else np.empty(0)
        self._intervals = []
        self._peaks = []
        seconds = (self._seen - self._window_start) / self._rate
        begin = self._window_start / self._rate
        self._window_start = self._seen
        hit = _tape_window(intervals, peaks, seconds)
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
    intervals: npt.NDArray[np.float64], peaks: npt.NDArray[np.float64], seconds: float
) -> tuple[list[float], float, float] | None:
    """(cluster centres, switches a second, run entropy) if the window reads as tape coding."""
    if intervals.size < 100 * seconds or peaks.size != intervals.size:
        return None
    # a tape writes every half-cycle at one level; tones summed (a beat), voices and
    # instruments swell and fade, and a beat's long interval sits at its envelope's null
    ratio = peaks / max(float(np.median(peaks)), 1e-9)
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
    return [float(c) for c in cs[keep]], switches, entropy
