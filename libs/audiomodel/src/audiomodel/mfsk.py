"""Data sent as slow, narrow-spaced multi-tone FSK (MFSK): WSJT-X's FT8/FT4/JT65/JT9/WSPR/Q65/
FST4, fldigi's MFSK16/32, Olivia, Contestia, DominoEX/Thor, Gaussian-smoothed FSK generally.

What the other readers miss: ``tone_track`` reads short frames (~6 ms, bins of ~170 Hz), so
tones 1.5-30 Hz apart are one bin to it; ``modem`` looks for two tones; ``keyed_tones`` for
line starts across the whole band. These modes put their energy in ONE narrow line at a time,
one of M lines spaced by (a small multiple of) the symbol rate, jumping (or gliding, Gaussian
filtered) on a steady clock, for seconds to minutes.

The reading (physics first):

- **A ladder of frame lengths.** The level is cut to ~8 kHz by block means (every mode of the
  family sits in a 3 kHz voice channel) and read with Hann frames of 30-480 ms, hop a quarter
  frame: a symbol of T seconds holds in the frames of T/3-T/1.25, and its line's frequency comes
  from the phase advance over one hop (a fraction of a bin, finer than the tone spacing).
- **A narrow line.** A frame counts when its strongest bin stands far over the mean of the
  bins around it: a tone, not a formant or a noise band.
- **Holds on a linear grid finer than a semitone.** Held frequencies (runs of frames that do not
  move) fall on f0 + k x spacing, k = 0..M-1 (the grid's phase coherence is high); the
  spacing is under a semitone where they sit, which no scale has (every tuned instrument,
  arpeggiator and chiptune plays a scale), and the grid is filled: M >= 4 positions, used
  alike (coded bits, not a melody, which favours a few notes).
- **One clock.** The jumps between levels keep one period (Rayleigh coherence), the quartz
  clock of a modulator; vibrato, a siren or a sweep move continuously and hold nothing.
- **No pattern.** The level sequence repeats no short cycle (a trill or an arpeggio does).

**A gate first.** The ladder costs ~45 % of the validator when it reads everything; it reads
only the 16 s windows (+-8 s, GATE_PAD_S) where a cheap look (a 120 ms spectrum every 375 ms)
finds, in 40 % of 16 s, a *lonely* narrow line (no harmonic partner: a modulator's pure tone, where a
voice's or an instrument's note is a harmonic series) staying in one band of 1 kHz or an octave.

The finding is ``signal.modem`` (as for the other modem readers) with modulation "MFSK", the
tone count, spacing, symbol rate and time range.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from audiomodel.findings import Finding, finding
from audiomodel.tone_track import Track  # the strongest line of one frame length, frame by frame

__all__ = ["MfskScanner", "scan_mfsk"]

Floats = npt.NDArray[np.float64]

BATCH_S = 16.0  # samples gathered before a look
TARGET_RATE = 8000.0  # the level is cut to about this rate by block means
BAND_HZ = (150.0, 3800.0)  # a voice channel: where every mode of the family sits
FRAMES_S = (0.03, 0.06, 0.12, 0.24, 0.48)  # the ladder of frame lengths
HOP_DIVISOR = 4
CONTEXT_BINS = 24  # a line stands over the mean of this many bins each side
MIN_PROMINENCE = 8.0  # ... by this much (a Hann line puts ~half its power in its bin)
HOLD_TOL_BINS = 0.06  # a hold's frequency moves under this per hop
MIN_HOLDS = 40
# bands searched, in bins: up to the widest MFSK (Olivia 32/1000 at 30 ms frames, JT65 at 240
# ms), and narrower ones that leave out a melody's notes beside a narrow signal
BAND_WIDTHS_BINS = (72, 24, 8)
MIN_LEVELS = 4
MIN_GRID_COHERENCE = 0.8
MAX_GAP = 2  # grid positions a signal's levels may skip (few symbols over many tones)
MIN_FILL = 0.6  # occupied grid positions over the grid's span
MAX_LEVEL_SHARE = 2.5  # the commonest level at most this many times its fair share
MAX_SEMITONE_SHARE = 0.8  # spacing over the semitone at the lowest level
MIN_CLOCK_COHERENCE = 0.5
MIN_CLOCK_Z = 20.0
MAX_PATTERN_AGREEMENT = 0.7
MIN_JUMPS = 30
# The gate (a cheap look before the ladder): one frame length, a few spectra a second
GATE_FRAME_S = 0.12
GATE_HOP_S = 0.375
GATE_WINDOW_S = 16.0  # gate frames judged together
GATE_CANDIDATES = 3  # the lines highest over their usual level looked at, a frame
GATE_PARTNER_PROMINENCE = 4.0  # a harmonic partner: a line this far over its neighbours ...
GATE_PARTNER_RATIOS = (2.0, 3.0, 0.5, 1 / 3, 1.5, 2 / 3, 4 / 3, 0.75)  # ... at these ratios
GATE_PARTNER_LEVEL = 0.0  # ... and at least this share of its power
GATE_BAND_HZ = 1000.0  # the widest family member: Olivia 32/1000, Contestia 16/1000
GATE_SHARE = 0.4  # lonely lines in one such band in this share of a window's frames
GATE_MIN_FRAMES = 6
# the ladder reads the windows that passed and half a window either side (a transmission's start
# or end outside a window that passed; 4 s lost Contestia 16/1000 alone, 30 s at a share of 0.44)
GATE_PAD_S = 8.0
# ... and only the bands that passed, widened by half their width (at least this much) either
# side: a signal's rarely used tones may lie outside the band its lonely lines filled
GATE_BAND_MARGIN_HZ = 100.0


class _GateRows(NamedTuple):
    """Each gate frame's chosen line (bin), whether it is lonely, and its low-rate sample."""

    k: npt.NDArray[np.int64]
    lonely: npt.NDArray[np.bool_]
    at: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Reading:
    frame_s: float
    start_s: float
    end_s: float
    tones: int
    spacing_hz: float
    low_hz: float
    high_hz: float
    baud: float
    jumps: int
    clock_coherence: float
    grid_coherence: float
    pattern_agreement: float


# Why a track was not read as data, when a bench sets this to a list (never in service)
DEBUG: list[str] | None = None


def _why(text: str) -> None:
    if DEBUG is not None:
        DEBUG.append(text)


@functools.lru_cache(maxsize=16)
def _hann(size: int) -> npt.NDArray[np.float32]:
    window = np.hanning(size).astype(np.float32)
    window.flags.writeable = False
    return window


def _pow2(x: float) -> int:
    return 1 << max(5, round(math.log2(max(x, 32.0))))


class MfskScanner:
    """Streams a mono level block by block; :meth:`report` finds slow narrow-spaced MFSK."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = float(sample_rate)
        self.step = max(1, int(sample_rate // TARGET_RATE))
        self.low_rate = self.rate / self.step
        self.sizes = sorted({_pow2(s * self.low_rate) for s in FRAMES_S})
        self.windows = {n: _hann(n) for n in self.sizes}
        self.tracks = {
            n: Track(n / HOP_DIVISOR / self.low_rate, self.low_rate / n) for n in self.sizes
        }
        self._pending: list[npt.NDArray[np.number]] = []
        self._pending_size = 0
        self._offset = 0  # low-rate samples before the pending ones
        self.gate_size = _pow2(GATE_FRAME_S * self.low_rate)
        self.gate_window = _hann(self.gate_size)
        self.gate_hop = max(1, round(GATE_HOP_S * self.low_rate))
        # the previous batch (raw, its start) and its gate rows
        self._previous: tuple[list[npt.NDArray[np.number]], int] | None = None
        self._previous_rows: _GateRows | None = None
        self._read_until = 0  # low-rate samples the ladder has read (or passed over) up to
        self._read_ahead = 0  # ... and up to where it reads the next batch (a window's pad)
        self._read_band = BAND_HZ  # ... and the band (Hz) it reads there
        self.seconds_seen = 0.0  # batches looked at and read in full (benches)
        self.seconds_read = 0.0

    def update(self, level: npt.NDArray[np.number]) -> None:
        """Keeps ``level`` as given (not copied: the caller must not change it afterwards);
        only the gate's frames are converted until a batch is read."""
        self._pending.append(np.asarray(level))
        self._pending_size += level.shape[0]
        if self._pending_size >= BATCH_S * self.rate:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        blocks, size = self._pending, self._pending_size
        self._pending, self._pending_size = [], 0
        start = self._offset
        self._offset += size // self.step
        # the gate: the full ladder reads only the 16 s windows (of this batch and the one
        # before it) where a cheap look finds a lonely narrow line staying in a narrow band,
        # GATE_PAD_S either side
        rows = self._gate_rows(blocks, size, start)
        passed = self._gate_passes(rows)
        self._previous_rows = rows
        self.seconds_seen += size / self.rate
        pad = round(GATE_PAD_S * self.low_rate)
        if passed is not None:
            first, last = passed[0][0] - pad, passed[0][1] + pad
            band = passed[1]
            if self._read_ahead > start:  # the previous pass's pad: its band too
                band = (min(band[0], self._read_band[0]), max(band[1], self._read_band[1]))
            if self._previous is not None and first < start:
                self._read([*self._previous[0], *blocks], self._previous[1], first, last, band)
            else:
                self._read(blocks, start, first, last, band)
            self._read_ahead, self._read_band = last, passed[1]
        elif self._read_ahead > start:
            self._read(blocks, start, start, self._read_ahead, self._read_band)
        self._previous = (blocks, start)

    def _read(
        self,
        blocks: list[npt.NDArray[np.number]],
        start: int,
        first: int,
        last: int,
        band: tuple[float, float] = BAND_HZ,
    ) -> None:
        """The ladder over low-rate samples ``first`` to ``last`` of ``blocks`` (which start at
        low-rate sample ``start``), less what it has read already, in ``band`` (Hz)."""
        first = max(first, start, self._read_until)
        x = np.concatenate(blocks)[(first - start) * self.step : (last - start) * self.step]
        if x.size < self.step * self.sizes[0]:
            return
        x = x.astype(np.float32, copy=False)
        self._read_until = first + x.size // self.step
        self.seconds_read += x.size / self.rate
        usable = x.size - x.size % self.step
        low = x[:usable].reshape(-1, self.step).mean(axis=1) if self.step > 1 else x
        for size in self.sizes:
            self._track(size, low, first, band)

    def _gate_frames(
        self, blocks: list[npt.NDArray[np.number]], total: int
    ) -> npt.NDArray[np.float32]:
        """The gate's frames at the low rate (block sums), copied out of the batch's blocks
        (a third of its samples: the batch itself is neither joined nor converted)."""
        size, step = self.gate_size, self.step
        span, hop = size * step, self.gate_hop * step
        starts = np.arange(0, total - span + 1, hop)
        raw = np.empty((starts.size, span), np.float32)
        offsets = np.concatenate([[0], np.cumsum([b.shape[0] for b in blocks])])
        b = 0
        for j, first in enumerate(starts.tolist()):
            while offsets[b + 1] <= first:
                b += 1
            filled, at, i = 0, first, b
            while filled < span:
                o = at - int(offsets[i])
                take = min(span - filled, blocks[i].shape[0] - o)
                raw[j, filled : filled + take] = blocks[i][o : o + take]
                filled, at, i = filled + take, at + take, i + 1
        frames = raw.reshape(starts.size, size, step)
        level = frames[..., 0].copy()
        for i in range(1, step):  # block sums (strided adds: cheaper than a reduction)
            level += frames[..., i]
        return level

    def _gate_rows(self, blocks: list[npt.NDArray[np.number]], total: int, start: int) -> _GateRows:
        """Each gate frame's chosen line (the narrow line highest over its bin's usual level)
        and whether it is lonely: no line at a harmonic ratio beside it. A modulator puts out a
        pure tone; a voice's or an instrument's note is a harmonic series (a lone sine from a
        synthesiser or a whistle passes, and the ladder judges it)."""
        size = self.gate_size
        if total < size * self.step:
            return _GateRows(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int64))
        level = self._gate_frames(blocks, total)
        spectra = scipy.fft.rfft(level * self.gate_window, axis=1)  # (4x numpy's, float32)
        power = spectra.real**2 + spectra.imag**2
        width = 2 * CONTEXT_BINS + 1
        padded = np.pad(power, ((0, 0), (CONTEXT_BINS + 1, CONTEXT_BINS)), mode="edge")
        cums = np.cumsum(padded, axis=1)
        # the neighbours' sum, and a floor under it (a codec's empty bands hold no line)
        around = cums[:, width:] - cums[:, :-width]
        around += width * (1e-6 * power.mean(axis=1, keepdims=True) + 1e-20)
        lo = max(1, round(BAND_HZ[0] * size / self.low_rate))
        hi = min(size // 2 - 1, round(BAND_HZ[1] * size / self.low_rate))
        band = power[:, lo:hi]
        line = band * width >= MIN_PROMINENCE * around[:, lo:hi]
        middle = band.shape[0] // 2
        usual = np.partition(band, middle, axis=0)[middle] + 1e-6 * band.mean() + 1e-20
        score = np.where(line, band / usual, 0.0)
        # the few lines highest over their usual level, best first
        top = np.argpartition(-score, GATE_CANDIDATES - 1, axis=1)[:, :GATE_CANDIDATES]
        rows = np.arange(score.shape[0])[:, None]
        top = np.take_along_axis(top, np.argsort(-score[rows, top], axis=1), axis=1)
        candidate = lo + top
        lonely = score[rows, top] > 0
        # harmonic partners (a bin either side) in the voice channel
        ratios = np.asarray(GATE_PARTNER_RATIOS)
        near = np.round(candidate[:, :, None] * ratios).astype(np.int64)
        near = (near[..., None] + np.arange(-1, 2)).reshape(*candidate.shape, -1)
        inside = (near >= lo) & (near < hi)
        at = (rows[:, :, None], np.clip(near, lo, hi - 1))
        partner = (power[at] * width >= GATE_PARTNER_PROMINENCE * around[at]) & (
            power[at] >= GATE_PARTNER_LEVEL * power[rows, candidate][..., None]
        )
        lonely &= ~(inside & partner).any(axis=2)
        # each frame's best lonely line (or its best line, not lonely)
        pick = lonely.argmax(axis=1)
        k = candidate[rows[:, 0], pick]
        lonely = lonely[rows[:, 0], pick]
        sample = start + np.arange(k.size, dtype=np.int64) * self.gate_hop
        return _GateRows(k.astype(np.int64), lonely, sample)

    def _gate_passes(self, rows: _GateRows) -> tuple[tuple[int, int], tuple[float, float]] | None:
        """The low-rate samples spanned by the windows of 16 s (of this batch's gate frames
        and the previous batch's) that pass, and the band (Hz) holding every band that passed
        them, widened by GATE_BAND_MARGIN_HZ or half its width either side; or None."""
        k, lonely, at = rows
        if self._previous_rows is not None:
            k = np.concatenate([self._previous_rows.k, k])
            lonely = np.concatenate([self._previous_rows.lonely, lonely])
            at = np.concatenate([self._previous_rows.at, at])
        if int(lonely.sum()) < GATE_MIN_FRAMES:
            return None
        # bands of 1 kHz, or an octave where that is narrower (a melody's notes spread over
        # octaves; the widest MFSK spans 1 kHz from 1 kHz up)
        edges = np.arange(self.gate_size // 2 + 2)
        band = max(1, round(GATE_BAND_HZ * self.gate_size / self.low_rate))
        tops = np.minimum(edges + np.minimum(band, np.maximum(edges, 1)), edges.size - 1)
        window = max(8, round(GATE_WINDOW_S / GATE_HOP_S))
        starts = range(0, max(1, k.size - window + 1), max(1, window // 4))
        span: tuple[int, int] | None = None
        low, high = edges.size, 0  # gate bins
        for first in sorted({*starts, max(0, k.size - window)}):
            kk = k[first : first + window][lonely[first : first + window]]
            need = max(GATE_MIN_FRAMES, GATE_SHARE * min(window, k.size))
            if kk.size < need:
                continue
            counts = np.bincount(kk, minlength=self.gate_size // 2 + 1)
            cums = np.concatenate([[0], np.cumsum(counts)])
            full = np.flatnonzero(cums[tops] - cums[edges] >= need)
            if full.size:
                end = int(at[min(first + window, k.size) - 1]) + self.gate_size
                span = (int(at[first]) if span is None else span[0], end)
                # the lonely lines in the bands that passed
                kk = kk[(kk >= edges[full[0]]) & (kk < tops[full[-1]])]
                low, high = min(low, int(kk.min())), max(high, int(kk.max()) + 1)
        if span is None:
            return None
        hz = self.low_rate / self.gate_size
        margin = max(GATE_BAND_MARGIN_HZ, 0.5 * (high - low) * hz)
        return span, (low * hz - margin, high * hz + margin)

    def _track(
        self,
        size: int,
        x: npt.NDArray[np.float32],
        start: int,
        within: tuple[float, float] = BAND_HZ,
    ) -> None:
        hop = size // HOP_DIVISOR
        if x.size < size + 2 * hop:
            return
        lo = max(1, round(max(BAND_HZ[0], within[0]) * size / self.low_rate))
        hi = min(size // 2 - 1, round(min(BAND_HZ[1], within[1]) * size / self.low_rate))
        if hi <= lo:
            return
        frames = sliding_window_view(x, size)[::hop] * self.windows[size]
        spectra = scipy.fft.rfft(frames, axis=1)  # single precision, ~4x numpy's on rows
        # the power of the bins read and of the bins around them (the spectrum's edge bins
        # repeated past its ends, as a box over 2 x CONTEXT_BINS + 1 bins needs)
        a, b = max(0, lo - CONTEXT_BINS - 1), min(spectra.shape[1], hi + CONTEXT_BINS)
        near = spectra[:, a:b]
        power = near.real**2 + near.imag**2
        width = 2 * CONTEXT_BINS + 1
        before, after = CONTEXT_BINS + 1 - (lo - a), CONTEXT_BINS - (b - hi)
        padded = np.pad(power, ((0, 0), (max(0, before), max(0, after))), mode="edge")
        cums = np.cumsum(padded, axis=1)
        context = (cums[:, width:] - cums[:, :-width]) / width  # bins lo..hi
        band = power[:, lo - a : hi - a]
        # narrow lines: bins standing far over the bins around them ...
        line = band >= MIN_PROMINENCE * (context[:, : hi - lo] + 1e-20)
        # ... and of them, the one highest over its own bin's usual level (the median over the
        # batch): music's held harmonics sit at their usual level, a keyed tone comes and goes
        usual = np.median(band[::HOP_DIVISOR], axis=0) + 1e-20  # frames that do not overlap
        k = lo + np.where(line, band / usual, 0.0).argmax(axis=1)
        rows = np.arange(power.shape[0])
        ok = line[rows, k - lo] & (band[rows, k - lo] > 0)
        here = spectra[rows[:-1], k[:-1]]
        there = spectra[rows[1:], k[:-1]]
        advance = np.angle(there * np.conj(here)) - 2 * np.pi * k[:-1] * hop / size
        advance = (advance + np.pi) % (2 * np.pi) - np.pi
        freq = (k[:-1] + advance * size / (2 * np.pi * hop)) * self.low_rate / size
        keep = ok[:-1] & ok[1:]
        track = self.tracks[size]
        track.times.append(((start + rows[:-1] * hop) / self.low_rate)[keep])
        track.freqs.append(freq[keep])

    def readings(self) -> list[Reading]:
        if self._pending_size >= 2.0 * self.rate:
            self._flush()
        out = []
        for size, track in self.tracks.items():
            times, freqs = track.arrays()
            if times.size < 2 * MIN_HOLDS:
                continue
            found = _read(size / self.low_rate, track, times, freqs)
            if found is not None:
                out.append(found)
        if not out:
            return []
        # one transmission read at several frame lengths: the most certain reading
        return [max(out, key=lambda r: r.jumps * r.clock_coherence**2)]

    def report(self) -> list[Finding]:
        return [_finding(r) for r in self.readings()]


def _holds(track: Track, times: Floats, freqs: Floats) -> tuple[Floats, Floats, Floats]:
    """Runs of contiguous frames whose frequency does not move: (level, start, end)."""
    tol = HOLD_TOL_BINS * track.bin_hz
    contiguous = np.abs(np.diff(times) - track.hop_s) < 0.25 * track.hop_s
    same = contiguous & (np.abs(np.diff(freqs)) <= tol)
    edges = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1)
    if first.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    at = first[:, None] + np.round(np.outer(last - first, np.linspace(0.0, 1.0, 3))).astype(int)
    return np.median(freqs[at], axis=1), times[first], times[last]


def _read(frame_s: float, track: Track, times: Floats, freqs: Floats) -> Reading | None:
    value, begin, end = _holds(track, times, freqs)
    if value.size < MIN_HOLDS:
        _why(f"{frame_s * 1e3:.0f} ms: holds {value.size}")
        return None
    # the band most holds sit in, at a few widths (an MFSK signal is narrow; a melody's notes
    # spread over octaves)
    bins = np.floor(value / track.bin_hz).astype(np.int64)
    counts = np.bincount(bins - bins.min())
    seen = -1
    for width in BAND_WIDTHS_BINS:
        window = np.convolve(counts, np.ones(width, dtype=np.int64))[: counts.size]
        top = int(window.argmax())  # the window ending at bin `top`
        inside = (bins - bins.min() <= top) & (bins - bins.min() > top - width)
        if int(inside.sum()) == seen:  # the same holds as the wider band's
            continue
        seen = int(inside.sum())
        found = _read_band(frame_s, track, value[inside], begin[inside], end[inside], width)
        if found is not None:
            return found
    return None


def _read_band(
    frame_s: float, track: Track, value: Floats, begin: Floats, end: Floats, width: int
) -> Reading | None:
    tag = f"{frame_s * 1e3:.0f} ms {width} bins"
    if value.size < MIN_HOLDS:
        _why(f"{tag}: holds in band {value.size}")
        return None
    # the spacing: the commonest small step between consecutive distinct holds, then the grid
    # it implies refined by phase coherence
    steps = np.abs(np.diff(value))
    steps = steps[steps > 2 * HOLD_TOL_BINS * track.bin_hz]
    if steps.size < MIN_JUMPS:
        _why(f"{tag}: steps {steps.size}")
        return None
    spacing, grid = _grid(value, steps, track.bin_hz)
    if spacing <= 0 or grid < MIN_GRID_COHERENCE:
        _why(f"{tag}: spacing {spacing:.2f} grid {grid:.2f}")
        return None
    phase = float(np.angle(np.exp(2j * np.pi * value / spacing).mean()))
    offset = phase / (2 * np.pi) * spacing
    k = np.round((value - offset) / spacing).astype(np.int64)
    on = np.abs(value - offset - k * spacing) <= 0.2 * spacing
    k, value, begin, end = k[on], value[on], begin[on], end[on]
    used, share = np.unique(k, return_counts=True)
    # the signal's grid positions: the run of used positions (gaps of at most MAX_GAP) holding
    # the most holds; strays of music or noise that fall on the grid lie apart from it
    group = np.concatenate([[0], np.cumsum(np.diff(used) > MAX_GAP)])
    best = int(np.bincount(group, weights=share).argmax())
    real, share = used[group == best], share[group == best]
    if real.size < MIN_LEVELS:
        _why(f"{tag}: levels {real.size} spacing {spacing:.2f}")
        return None
    span = int(real.max() - real.min() + 1)
    fill = real.size / span
    # the commonest level but one over a fair share (one level may be a sync or pilot tone,
    # as JT65's and Q65's are)
    level_share = np.sort(share)[-2] / (share.sum() / real.size)
    low = float(offset + real.min() * spacing)
    semitone = low * (2 ** (1 / 12) - 1)
    if fill < MIN_FILL or level_share > MAX_LEVEL_SHARE or spacing > MAX_SEMITONE_SHARE * semitone:
        _why(
            f"{tag}: levels {real.size} fill {fill:.2f} share {level_share:.1f} "
            f"spacing {spacing:.2f} semitone {semitone:.1f}"
        )
        return None
    inside = (k >= real.min()) & (k <= real.max())
    k, begin, end = k[inside], begin[inside], end[inside]
    jump = (np.diff(k) != 0) & (begin[1:] - end[:-1] <= 2 * frame_s)
    jump_times = begin[1:][jump]
    if jump_times.size < MIN_JUMPS:
        _why(f"{tag}: jumps {jump_times.size}")
        return None
    period, coherence = _clock(jump_times, frame_s)
    if (
        period == 0
        or coherence < MIN_CLOCK_COHERENCE
        or jump_times.size * coherence**2 < (MIN_CLOCK_Z)
    ):
        _why(f"{tag}: jumps {jump_times.size} period {period:.4f} clock {coherence:.2f}")
        return None
    ticks = np.clip(np.round((end - begin + frame_s) / period), 1, 64).astype(np.int64)
    symbols = np.repeat(k, ticks)
    lags = range(1, min(33, symbols.size // 2))
    agreement = max((float((symbols[i:] == symbols[:-i]).mean()) for i in lags), default=1.0)
    if agreement > MAX_PATTERN_AGREEMENT:
        _why(f"{tag}: pattern {agreement:.2f}")
        return None
    return Reading(
        frame_s=frame_s,
        start_s=float(begin.min()),
        end_s=float(end.max() + frame_s),
        tones=int(span),
        spacing_hz=spacing,
        low_hz=low,
        high_hz=float(offset + real.max() * spacing),
        baud=1.0 / period,
        jumps=int(jump_times.size),
        clock_coherence=coherence,
        grid_coherence=grid,
        pattern_agreement=agreement,
    )


def _grid(value: Floats, steps: Floats, bin_hz: float) -> tuple[float, float]:
    """The linear grid the held levels sit on: (spacing Hz, phase coherence 0-1). The largest
    spacing whose coherence is near the best (a grid's fractions fit it as well)."""
    lo = 0.3 * bin_hz  # finer than this, the phase reading cannot place a level
    hi = 1.5 * float(np.percentile(steps, 50))
    if hi <= lo:
        return 0.0, 0.0
    # coarse: steps of 1 % over a few hundred holds (bounded time on long tracks)
    candidates = np.exp(np.arange(math.log(lo), math.log(hi), 0.01))
    sample = value[:: max(1, value.size // 300)]
    coherence = _coherence(sample, candidates)
    best = float(coherence.max())
    good = np.flatnonzero(coherence >= best - 0.05)
    i = int(good.max())
    # refined around it over more holds
    fine = candidates[i] * np.linspace(0.985, 1.015, 61)
    sample = value[:2000]
    near = _coherence(sample, fine)
    j = int(near.argmax())
    return float(fine[j]), float(near[j])


def _clock(times: Floats, frame_s: float) -> tuple[float, float]:
    """The period the jump times keep and their coherence to it (0-1)."""
    spacing = np.diff(times)
    spacing = spacing[spacing > 0.5 * frame_s]
    if spacing.size < MIN_JUMPS // 2:
        return 0.0, 0.0
    guess = float(np.median(spacing[spacing <= 1.5 * np.percentile(spacing, 25)]))
    t = times[:2000] - times[0]
    best = (0.0, 0.0)
    for base in (guess, guess / 2, guess / 3):
        if base < 0.4 * frame_s:
            continue
        periods = base * np.linspace(0.8, 1.25, 451)
        coherence = _coherence(t, periods)
        i = int(coherence.argmax())
        if coherence[i] > best[1] + 0.1 or (best[0] == 0.0 and coherence[i] > 0):
            best = (float(periods[i]), float(coherence[i]))
    if best[0] == 0.0:
        return best
    periods = best[0] * np.linspace(0.995, 1.005, 101)
    coherence = _coherence(t, periods)
    i = int(coherence.argmax())
    return float(periods[i]), float(coherence[i])


def _coherence(values: Floats, periods: Floats) -> Floats:
    """The phase coherence of ``values`` to each of ``periods``: |mean exp(2 pi i v / p)|
    (as whole turns dropped before the cosine and sine: the same to ~1e-15, ~1.7x quicker)."""
    turns = values[None, :] / periods[:, None]
    turns -= np.round(turns)
    turns *= 2 * np.pi
    coherence: Floats = np.hypot(np.cos(turns).mean(axis=1), np.sin(turns).mean(axis=1))
    return coherence


def _finding(r: Reading) -> Finding:
    return finding(
        "signal.modem",
        f"Data sent as sound: multi-tone FSK, {r.tones} tones {r.spacing_hz:.2f} Hz apart at "
        f"{r.low_hz:.0f}-{r.high_hz:.0f} Hz on a {r.baud:.2f} Bd clock (coherence "
        f"{r.clock_coherence:.2f}, {r.jumps} jumps) at {r.start_s:.1f}-{r.end_s:.1f} s; "
        "a linear grid of tones finer than a semitone, all used, on a quartz clock: "
        "no scale, voice or instrument plays that.",
        modem="MFSK",
        modulation="MFSK",
        tones=r.tones,
        spacing_hz=round(r.spacing_hz, 3),
        baud=round(r.baud, 3),
        low_hz=round(r.low_hz, 1),
        high_hz=round(r.high_hz, 1),
        start_s=round(r.start_s, 2),
        end_s=round(r.end_s, 2),
        jumps=r.jumps,
        clock_coherence=round(r.clock_coherence, 3),
        grid_coherence=round(r.grid_coherence, 3),
        pattern_agreement=round(r.pattern_agreement, 3),
        frame_ms=round(r.frame_s * 1e3, 1),
    )


def scan_mfsk(level: npt.NDArray[np.number], sample_rate: int) -> list[Reading]:
    """The readings of a whole mono level (tests, benches)."""
    scanner = MfskScanner(sample_rate)
    block = 1 << 16
    for i in range(0, level.shape[0], block):
        scanner.update(level[i : i + block])
    return scanner.readings()
