"""Data sent in the near-ultrasonic band (14 kHz up to Nyquist), quietly under music.

Phones and laptops play and hear up to ~20 kHz, and few adults hear much above 15 kHz: ggwave's
"ultrasound" protocols, proximity beacons and hand-made FSK put data there, often at -20 to
-30 dB under music. The modem stage works at ~20 kHz and never sees it.

What a recording or a mix holds above ~14 kHz (the physical reason the rules work):

* noise-like energy (cymbals, breath, air, tape hiss): no narrow lines that hold;
* weak harmonics of the notes below, which move with those notes; chiptunes and synths that
  are not band-limited fold (alias) their harmonics all over the band, and those lines change
  when the notes change: on the beat grid of the music, where the audible band changes too;
* steady lines: a 19 kHz FM stereo pilot, a 15.734 kHz CRT line whine, a switch-mode whine.
  They never switch.

A modulator keys narrow lines on a symbol clock of its own:

* MFSK (ggwave, beacons; symbols longer than the ~21 ms analysis frame): new lines appear at
  a few fixed frequencies, hold a symbol and are replaced, so their starts AND their ends keep
  one steady clock (the change times agree in phase: Rayleigh's test). A sequenced synth's
  aliased partials start on its beat grid too, but fade as its notes decay: their ends keep no
  clock. What starts and ends on a clock and is still not data: a melody whose notes are the
  ticks (the audible band changes at them), a warble or an arpeggio (its symbols cycle), a
  sound chip player's 50/60 Hz tick (the starts keep it);
* binary FSK faster than a frame (hundreds of baud): both lines look steady in a frame, but
  their powers in frames of one shift cycle rise and fall in turn (their fast parts
  anti-correlate); two steady lines, noise and a line gliding slowly do not.

Cost: one 4096-point spectrum every half second (the gate); only where that spectrum holds a
narrow line well over its neighbours is the stretch around it analysed (a short-time spectrum
of ~21 ms frames, and the mix-down of at most a few line pairs over at most 2 s a stretch).
Sample rates under 32 kHz are skipped: their band stops below 16 kHz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, finding

__all__ = ["UltrasonicEvidence", "UltrasonicScanner", "scan_ultrasonic"]

Floats = npt.NDArray[np.float64]

MIN_RATE = 32000  # under this the band above 14 kHz is (nearly) empty
LOW_EDGE_HZ = 14000.0  # adults hear little above; music holds little but air and partials here
NYQUIST_GUARD_HZ = 300.0  # converters' anti-alias filters roll off the last few hundred Hz
GATE_POINTS = 4096  # ~85 ms at 48 kHz: resolves lines 12 Hz apart, spreads noise thin
GATE_EVERY_S = 0.5
# A narrow line: a local maximum 15 dB (gate) or 10 dB (frames) over the mean of the bins
# beside it on its higher side (GATE_SIDE / FRAME_SIDE bins away: past the window's main lobe),
# and over a millionth (-60 dB) of its spectrum's power (a line that far under the mix carries
# nothing a microphone would get back). A noise bin exceeds 10x the mean of 8 neighbours with
# probability ~1e-4; a frame's line must also hold the next frame (see _analyse). The gate's
# 15 dB passes binary FSK whose turns spread its lines (300 Bd, 600 Hz shift: 15-16 dB) and
# 11 % of the gate spectra of good renditions (synths that alias; 5 % at 20 dB).
GATE_LINE_OVER_FLOOR = 30.0
GATE_SIDE = (5, 24)
LINE_OVER_FLOOR = 10.0
FRAME_SIDE = (3, 10)
MIN_LINE_SHARE = 1e-6
PAD_S = 0.25  # analysed around a gated spectrum: consecutive ones (0.5 s apart) join up
FRAME_S = 0.0213  # 1024 points at 48 kHz: 47 Hz bins (ggwave's tone grid), 10.7 ms hops
STEADY_SHARE = 0.8  # a line present in 80 % of frames does not switch (pilot, whine)
MIN_KEYINGS_PER_TONE = 3  # a modem's alphabet is a few tones used again and again
# MFSK decision: lines start on a clock (Rayleigh z of the weighted start phases; ~400 periods
# are tried, so z >= 15 leaves ~400 x exp(-15) ~ 1e-4 for starts at random times) and END on
# the same clock (z >= 10 at that one period: exp(-10) ~ 5e-5), at two tones or more (a single
# tone switched on and off is a test burst). A sequenced synth's aliased partials start on its
# beat grid, with its notes, but fade out as its envelopes decay: their ends keep no clock
# (z 0-6 on the good sets' synths and chiptunes, 9-63 for keyed MFSK under music).
MIN_CHANGES = 24
MIN_CLOCK_Z = 15.0
MIN_END_Z = 10.0
# A chiptune's player switches its arpeggios and vibrato on a 50/60 Hz tick (16.7-20 ms) whose
# line changes keep a clock at both ends; a symbol must be longer to be read (over the air, MFSK
# symbols are 40-200 ms: ggwave's fastest hold 64 ms against echoes). A 21 ms frame could not
# hold a shorter symbol's line twice anyway.
MIN_SYMBOL_S = 0.025
MAX_SYMBOL_S = 0.25
MIN_TONES = 2
MAX_CYCLE = 8
MIN_CYCLE_COMPARISONS = 8
MAX_REPEATS = 0.8
PLAYER_TICKS_HZ = (50.0, 60.0)
MAX_TICK_Z = 10.0  # exp(-10) x 2 ticks ~ 1e-4 for data (its changes: z 0-2 at either)
MAX_AUDIBLE_LOCK = 0.3
AUDIBLE_LOW_HZ = 150.0
AUDIBLE_HIGH_HZ = 12000.0  # the audible band, read away from the high lines' leakage
# Fast FSK: candidate pairs among the strongest mean-spectrum peaks, 100 Hz to 2 kHz apart
MAX_PAIR_LINES = 4
FAST_LINE_SHARE = 0.3
PAIR_OVER_SIDES = 4.0  # 6 dB: a keyed pair's mean spectrum holds two humps, not two thin lines
MIN_SHIFT_HZ = 100.0
MAX_SHIFT_HZ = 2000.0
TREND_FRAMES = 16  # frames of half a shift cycle: ~13 ms at a 600 Hz shift
MAX_TURN_CORRELATION = -0.5
MIN_PAIR_SECONDS = 1.0
PAIR_WINDOW_S = 2.0  # of each analysed stretch, mixed down for the pair test
MAX_PAIR_MIXED_S = 20.0  # per file: the pair test's cost bound
MAX_ANALYSED_S = 600.0  # bound the work on a file whose whole length passes the gate


@dataclass(slots=True)
class UltrasonicEvidence:
    """What the analysed stretches of a file showed (summed over the file)."""

    analysed_s: float = 0.0
    change_times: list[float] = field(default_factory=list)  # a line appeared and held, s
    change_weights: list[int] = field(default_factory=list)  # lines that appeared at once
    keyed_bins_hz: set[float] = field(default_factory=set)
    end_times: list[float] = field(default_factory=list)  # a keyed line ended, s
    end_weights: list[int] = field(default_factory=list)
    # per analysed stretch: (its first frame's time s, the hop s, its keyed lines per frame
    # packed to bits, band bins): the symbols are read from them once the clock is known
    line_frames: list[tuple[float, float, npt.NDArray[np.uint8], int]] = field(default_factory=list)
    audible_times: list[Floats] = field(default_factory=list)  # every analysed frame, s
    audible_change: list[Floats] = field(default_factory=list)  # standardised per stretch
    pair_hz: tuple[float, float] = (0.0, 0.0)
    pair_correlation: float = 0.0
    pair_seconds: float = 0.0
    pair_start_s: float = 0.0
    pair_end_s: float = 0.0

    @property
    def changes(self) -> int:
        return len(self.change_times)

    @property
    def start_s(self) -> float:
        return min(self.change_times, default=0.0)

    @property
    def end_s(self) -> float:
        return max(self.change_times, default=0.0)

    def tones_hz(self) -> list[float]:
        """The keyed frequencies, neighbouring bins (one tone between two) taken as one."""
        tones: list[float] = []
        for hz in sorted(self.keyed_bins_hz):
            if not tones or hz - tones[-1] > 60.0:
                tones.append(hz)
        return tones

    def clock(self) -> tuple[float, float, float]:
        """(symbol period s, coherence, Rayleigh z) of the change times, weighted by the lines
        that changed (an MFSK symbol changes most of its tones at once; stray lines come one by
        one): the longest period they keep (a clock of period T is kept at T/2, T/3 ... too).
        z = |sum w exp(2 pi i t / T)|^2 / sum w^2 is ~1 for changes at random times (the chance
        it exceeds z is exp(-z))."""
        if self.changes < MIN_CHANGES:
            return 0.0, 0.0, 0.0
        times = np.asarray(self.change_times)
        weights = np.asarray(self.change_weights, dtype=np.float64)
        periods = np.geomspace(MIN_SYMBOL_S, MAX_SYMBOL_S, 400)
        phases = np.exp(2j * np.pi * times[None, :] / periods[:, None]) @ weights
        coherence = np.abs(phases) / weights.sum()
        z = np.abs(phases) ** 2 / float(np.dot(weights, weights))
        good = np.flatnonzero(z >= max(MIN_CLOCK_Z, 0.8 * z.max()))
        best = int(good[-1]) if good.size else int(np.argmax(z))
        return float(periods[best]), float(coherence[best]), float(z[best])

    def audible_lock(self, period: float) -> float:
        """How far the audible band's change stands over its mean (in standard deviations) in
        the frames where the line clock ticks: ~0 where the lines keep a clock of their own,
        0.5 and more where they change with the notes (a melody's steps are its onsets)."""
        if period <= 0 or not self.audible_times or not self.change_times:
            return 0.0
        weights = np.asarray(self.change_weights, dtype=np.float64)
        starts = np.exp(2j * np.pi * np.asarray(self.change_times) / period) @ weights
        times = np.concatenate(self.audible_times)
        offset = np.angle(np.exp(2j * np.pi * times / period) / starts)
        hop = float(np.median(np.diff(self.audible_times[0]))) if times.size > 1 else period
        ticks = np.abs(offset) <= np.pi * hop / period
        if not ticks.any():
            return 0.0
        return float(np.concatenate(self.audible_change)[ticks].mean())

    def repeats(self, period: float) -> float:
        """The largest share, over cycles of 2-8 symbols, of changed symbols that the symbol a
        cycle later repeats (half their lines or more): an arpeggio, a warble or a tracker's
        vibrato cycles through a few line sets; data does not (random symbols agree by chance:
        1/2 for binary FSK, 1/16 and less for MFSK)."""
        if period <= 0 or not self.line_frames or not self.change_times:
            return 0.0
        weights = np.asarray(self.change_weights, dtype=np.float64)
        starts = np.exp(2j * np.pi * np.asarray(self.change_times) / period) @ weights
        first_tick = float(np.angle(starts)) / (2 * np.pi) * period
        agree = np.zeros(MAX_CYCLE + 1)
        count = np.zeros(MAX_CYCLE + 1)
        for t0, hop_s, packed, bins in self.line_frames:
            lines = np.unpackbits(packed, axis=1, count=bins).astype(bool)
            # the frame starting nearest the middle of each symbol
            first = math.ceil((t0 - first_tick) / period)
            ticks = (
                first_tick + (first + np.arange(int(lines.shape[0] * hop_s / period) + 1)) * period
            )
            at = np.rint((ticks + period / 2 - hop_s - t0) / hop_s).astype(int)
            at = at[(at >= 0) & (at < lines.shape[0])]
            symbols = lines[at]
            sizes = symbols.sum(axis=1)
            changed = np.ones(at.size, dtype=bool)
            changed[1:] = (symbols[1:] != symbols[:-1]).any(axis=1)
            changed &= sizes > 0
            for cycle in range(2, min(MAX_CYCLE, at.size - 1) + 1):
                k = np.flatnonzero(changed[: at.size - cycle])
                if k.size == 0:
                    continue
                shared = (symbols[k] & symbols[k + cycle]).sum(axis=1)
                agree[cycle] += float((2 * shared >= sizes[k]).sum())
                count[cycle] += k.size
        valid = count >= MIN_CYCLE_COMPARISONS
        return float((agree[valid] / count[valid]).max()) if valid.any() else 0.0

    def tick_z(self) -> float:
        """Rayleigh z of the line starts at a sound chip player's tick (50 or 60 Hz: a PAL or
        NTSC frame), the larger: a tracker switches its arpeggios on that tick, so its line
        changes keep it whatever longer clock they seem to keep too."""
        if not self.change_times:
            return 0.0
        weights = np.asarray(self.change_weights, dtype=np.float64)
        times = np.asarray(self.change_times)
        return max(
            float(np.abs(np.exp(2j * np.pi * times * hz) @ weights) ** 2 / np.dot(weights, weights))
            for hz in PLAYER_TICKS_HZ
        )

    def end_clock(self, period: float) -> float:
        """Rayleigh z of the line ends (weighted) at ``period``."""
        if period <= 0 or not self.end_times:
            return 0.0
        weights = np.asarray(self.end_weights, dtype=np.float64)
        phase = np.exp(2j * np.pi * np.asarray(self.end_times) / period) @ weights
        return float(np.abs(phase) ** 2 / np.dot(weights, weights))


class UltrasonicScanner:
    """Streams a mono level block by block; :meth:`report` says whether data keyed above 14 kHz."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = int(sample_rate)
        self.active = self.rate >= MIN_RATE
        self.evidence = UltrasonicEvidence()
        self._position = 0  # samples seen
        self._next_gate = 0  # absolute sample index of the next gate spectrum
        self.frame = 1 << round(math.log2(FRAME_S * self.rate)) if self.active else 2
        self.hop = self.frame // 2
        self._gate_window = _hann(GATE_POINTS)
        self._frame_window = _hann(self.frame)
        nyquist = self.rate / 2 - NYQUIST_GUARD_HZ
        self._gate_band = _bins(LOW_EDGE_HZ, nyquist, self.rate, GATE_POINTS)
        self._band = _bins(LOW_EDGE_HZ, nyquist, self.rate, self.frame)
        self._audible = _bins(AUDIBLE_LOW_HZ, AUDIBLE_HIGH_HZ, self.rate, self.frame)
        # turn-taking sums per pair of lines (Hz, Hz): [d1.d2, d1.d1, d2.d2, seconds, start, end]
        self._pairs: dict[tuple[float, float], list[float]] = {}
        self._mixed_s = 0.0

    def update(self, level: npt.NDArray[np.number]) -> None:
        start = self._position
        self._position += level.shape[0]
        if not self.active or self.evidence.analysed_s >= MAX_ANALYSED_S:
            return
        every = round(GATE_EVERY_S * self.rate)
        # (a gate spectrum that would straddle the previous block starts this one instead)
        first = max(self._next_gate - start, 0)
        offsets = np.arange(first, level.shape[0] - GATE_POINTS + 1, every)
        if offsets.size == 0:
            return
        self._next_gate = start + int(offsets[-1]) + every
        stack = np.stack([level[o : o + GATE_POINTS] for o in offsets]).astype(np.float32)
        spectra = np.abs(scipy.fft.rfft(stack * self._gate_window, axis=1)) ** 2
        lined = _lines(spectra, self._gate_band, GATE_LINE_OVER_FLOOR, GATE_SIDE).any(axis=1)
        if not lined.any():
            return
        pad = round(PAD_S * self.rate)
        for lo, hi in _merged_spans(offsets[lined], GATE_POINTS, pad, level.shape[0]):
            self._analyse(np.asarray(level[lo:hi], dtype=np.float32), (start + lo) / self.rate)

    def _analyse(self, x: npt.NDArray[np.float32], t0: float) -> None:
        n = (x.size - self.frame) // self.hop + 1
        if n < 8:
            return
        ev = self.evidence
        ev.analysed_s += x.size / self.rate
        frames = np.lib.stride_tricks.sliding_window_view(x, self.frame)[:: self.hop][:n]
        power = np.abs(scipy.fft.rfft(frames * self._frame_window, axis=1)) ** 2
        peak = _lines(power, self._band, LINE_OVER_FLOOR, FRAME_SIDE)
        # A line near this bin (a tone between two bins, a line that glides one bin a frame)
        near = peak.copy()
        near[:, 1:] |= peak[:, :-1]
        near[:, :-1] |= peak[:, 1:]
        steady = near.mean(axis=0) >= STEADY_SHARE
        # A change: a line appears where no line was (nor next to it) and holds the next frame
        # (a symbol of 20 ms or more; a cymbal's partials and noise peaks do not hold), in a bin
        # that keys again and again in the stretch (a modem's alphabet is a few fixed tones; a
        # hi-hat's or a glide's new lines land anywhere)
        new = peak[1:-1] & ~near[:-2] & near[2:] & ~steady[None, :]
        new &= new.sum(axis=0)[None, :] >= MIN_KEYINGS_PER_TONE
        # An end: a line held two frames and is gone (nor next to it) the frame after; a
        # modem's tones end when their symbol does, on its clock, a note's partials fade out
        gone = peak[:-2] & near[1:-1] & ~near[2:] & ~steady[None, :]
        gone &= new.sum(axis=0)[None, :] >= MIN_KEYINGS_PER_TONE
        ends = np.flatnonzero(gone.any(axis=1))
        ev.end_times.extend((t0 + (ends + 2) * self.hop / self.rate).tolist())
        ev.end_weights.extend(gone[ends].sum(axis=1).tolist())
        at = np.flatnonzero(new.any(axis=1))
        frame_s = self.hop / self.rate
        ev.change_times.extend((t0 + (at + 1) * frame_s).tolist())
        ev.change_weights.extend(new[at].sum(axis=1).tolist())
        binhz = self.rate / self.frame
        keyed = np.flatnonzero(new.any(axis=0))
        ev.keyed_bins_hz.update(((self._band.start + keyed) * binhz).round(1).tolist())
        ev.line_frames.append(
            (t0, frame_s, np.packbits(near & ~steady[None, :], axis=1), near.shape[1])
        )
        # How much the audible band changed (this frame or the one before), standardised
        change = _audible_change(power[:, self._audible], float(power.sum(axis=1).max()))
        change[1:] = np.maximum(change[1:], change[:-1])
        spread = float(change.std())
        ev.audible_times.append(t0 + np.arange(n, dtype=np.float64) * frame_s)
        ev.audible_change.append((change - change.mean()) / spread if spread > 0 else change * 0)
        # Fast FSK: the peaks of the stretch's mean spectrum, taken two by two
        mean = power.mean(axis=0, keepdims=True)
        ratio = _line_ratio(mean, self._band, FRAME_SIDE)[0]
        # (a tone keyed faster than a frame is in nearly every frame: its line looks steady)
        peaks = np.flatnonzero((ratio > PAIR_OVER_SIDES) & (near.mean(axis=0) >= FAST_LINE_SHARE))
        if peaks.size >= 2:
            strongest = peaks[np.argsort(ratio[peaks])[::-1][:MAX_PAIR_LINES]]
            self._turns(x, t0, np.sort(self._band.start + strongest) * binhz)

    def _turns(self, x: npt.NDArray[np.float32], t0: float, hz: Floats) -> None:
        """Two lines whose powers in frames of one shift cycle rise and fall in turn."""
        if self._mixed_s >= MAX_PAIR_MIXED_S:
            return
        x = x[: round(PAIR_WINDOW_S * self.rate)]
        seconds = x.size / self.rate
        self._mixed_s += seconds
        phase = (2 * np.pi * np.arange(x.size) / self.rate).astype(np.float32)
        sums = {}
        for i, f1 in enumerate(hz):
            for f2 in hz[i + 1 :]:
                if not MIN_SHIFT_HZ <= f2 - f1 <= MAX_SHIFT_HZ:
                    continue
                for f in (f1, f2):
                    if f not in sums:
                        mixed = x * np.exp(-1j * np.float32(f) * phase)
                        sums[f] = np.concatenate([[0], np.cumsum(mixed, dtype=np.complex128)])
                length = max(round(self.rate / (f2 - f1)), 8)
                hop = max(length // 2, 1)
                starts = np.arange((x.size - length) // hop + 1) * hop
                if starts.size < 4 * TREND_FRAMES:
                    continue
                d1 = _fast_part(np.abs(sums[f1][starts + length] - sums[f1][starts]) ** 2)
                d2 = _fast_part(np.abs(sums[f2][starts + length] - sums[f2][starts]) ** 2)
                acc = self._pairs.setdefault((float(f1), float(f2)), [0, 0, 0, 0, t0, t0])
                acc[0] += float(np.dot(d1, d2))
                acc[1] += float(np.dot(d1, d1))
                acc[2] += float(np.dot(d2, d2))
                acc[3] += seconds
                acc[5] = t0 + seconds

    def report(self) -> list[Finding]:
        if not self.active:
            return []
        ev = self.evidence
        for (f1, f2), (cross, e1, e2, seconds, first, last) in self._pairs.items():
            r = cross / math.sqrt(e1 * e2) if e1 * e2 > 0 else 0.0
            if seconds >= MIN_PAIR_SECONDS and r < ev.pair_correlation:
                ev.pair_hz, ev.pair_correlation, ev.pair_seconds = (f1, f2), r, seconds
                ev.pair_start_s, ev.pair_end_s = first, last
        return _findings(ev)


def scan_ultrasonic(level: npt.NDArray[np.number], sample_rate: int) -> UltrasonicScanner:
    """Scan a whole mono level at once (tests, benches), in blocks as the validator feeds it."""
    scanner = UltrasonicScanner(sample_rate)
    for start in range(0, max(level.shape[0], 1), 1 << 18):
        scanner.update(level[start : start + (1 << 18)])
    return scanner


@lru_cache(maxsize=8)
def _hann(points: int) -> npt.NDArray[np.float32]:
    window: npt.NDArray[np.float32] = np.hanning(points).astype(np.float32)
    window.flags.writeable = False
    return window


def _bins(low_hz: float, high_hz: float, rate: int, points: int) -> slice:
    return slice(math.ceil(low_hz * points / rate), max(1, math.floor(high_hz * points / rate)))


def _lines(
    power: npt.NDArray[np.floating], band: slice, over: float, side: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Per spectrum (row) and band bin: a narrow line ``over`` times its sides (see
    :func:`_line_ratio`) and over a millionth of its spectrum's power."""
    least = MIN_LINE_SHARE * power.sum(axis=1, keepdims=True)
    result: npt.NDArray[np.bool_] = (_line_ratio(power, band, side) > over) & (
        power[:, band] > least
    )
    return result


def _line_ratio(
    power: npt.NDArray[np.floating], band: slice, side: tuple[int, int]
) -> npt.NDArray[np.float64]:
    """Per spectrum (row) and band bin: 0 where the bin is no local maximum, else its power
    over the mean power of the bins beside it on the HIGHER side (``side`` = first, last bin
    away): music's high band falls steeply with frequency, so a floor read over the whole band
    would pass its low end."""
    near, far = side
    lo, hi = band.start, band.stop
    # Only the band and its sides are summed, by running sums read at shifted slices (the
    # sides past the spectrum's end count as empty; their bins are not counted)
    first = lo - far
    stop = min(hi + far + 1, power.shape[1])
    cums = np.zeros((power.shape[0], hi + far + 2 - first))
    np.cumsum(power[:, first:stop], axis=1, out=cums[:, 1 : stop - first + 1])
    cums[:, stop - first + 1 :] = cums[:, stop - first : stop - first + 1]
    count = near - far - 1
    left = (cums[:, lo - near + 1 - first : hi - near + 1 - first] - cums[:, : hi - lo]) / -count
    right_count = np.clip(stop - np.arange(lo, hi) - near, 1, far - near + 1)
    right = (
        cums[:, lo + far + 1 - first : hi + far + 1 - first]
        - cums[:, lo + near - first : hi + near - first]
    ) / right_count
    high = power[:, lo:hi]
    peak = (high >= power[:, lo - 1 : hi - 1]) & (high >= power[:, lo + 1 : hi + 1])
    floor = np.maximum(np.maximum(left, right), 1e-30)
    ratio: npt.NDArray[np.float64] = np.where(peak, high / floor, 0.0)
    return ratio


def _merged_spans(
    offsets: npt.NDArray[np.int64], width: int, pad: int, size: int
) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for o in offsets.tolist():
        lo, hi = max(0, o - pad), min(size, o + width + pad)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def _fast_part(power: Floats) -> Floats:
    """A tone's frame powers less their moving mean over ``TREND_FRAMES``: a modem's turns (a few
    frames each) stay, a line gliding slowly between the two tones (vibrato) and the music's
    swells go. (First differences would keep the turns too, but double the music's noise.)"""
    kernel = np.ones(TREND_FRAMES) / TREND_FRAMES
    fast: Floats = power - np.convolve(power, kernel, mode="same")
    return fast


def _audible_change(audible: npt.NDArray[np.floating], loudest: float) -> Floats:
    """Per frame, how much the audible band changed from the frame before: the summed absolute
    change of ~24 log-spaced bands' log power (a note that starts, ends or moves; a beat), over
    a floor 50 dB under the stretch's loudest frame (whole spectrum: under data alone,
    quantisation noise and leakage do not change)."""
    edges = np.unique(np.geomspace(1, audible.shape[1], 25).astype(int) - 1)
    bands = np.add.reduceat(audible, edges, axis=1).astype(np.float64)
    floor = 1e-5 * loudest / bands.shape[1] + 1e-9
    logs = np.log10(np.maximum(bands, floor))
    change = np.zeros(logs.shape[0])
    change[1:] = np.abs(logs[1:] - logs[:-1]).sum(axis=1)
    return change


def _findings(ev: UltrasonicEvidence) -> list[Finding]:
    out: list[Finding] = []
    period, coherence, z = ev.clock()
    tones = ev.tones_hz()
    end_z = ev.end_clock(period)
    lock = ev.audible_lock(period)
    repeats = ev.repeats(period)
    if (
        z >= MIN_CLOCK_Z
        and end_z >= MIN_END_Z
        and len(tones) >= MIN_TONES
        and lock <= MAX_AUDIBLE_LOCK
        and repeats < MAX_REPEATS
        and ev.tick_z() < MAX_TICK_Z
    ):
        where = f"{ev.start_s:.1f}-{ev.end_s:.1f} s"
        out.append(
            finding(
                "signal.modem",
                f"Data sent as sound above {LOW_EDGE_HZ / 1000:.0f} kHz (near-ultrasonic MFSK): "
                f"narrow lines at {len(tones)} fixed frequencies ({tones[0] / 1000:.1f}-"
                f"{tones[-1] / 1000:.1f} kHz) start {ev.changes:,} times and end on one steady "
                f"{1 / period:.1f} Bd symbol clock (coherence {coherence:.2f}), at {where}; "
                "music's partials up there start with its notes and fade with them.",
                start_s=round(ev.start_s, 2),
                end_s=round(ev.end_s, 2),
                baud=round(1 / period, 1),
                modulation="ultrasonic MFSK",
                band_low_hz=round(tones[0], 1),
                band_high_hz=round(tones[-1], 1),
                tones=len(tones),
                line_changes=ev.changes,
                coherence=round(coherence, 3),
                rayleigh_z=round(z, 1),
                end_rayleigh_z=round(end_z, 1),
                audible_lock=round(lock, 3),
                cycle_repeats=round(repeats, 3),
                player_tick_z=round(ev.tick_z(), 1),
            )
        )
    if ev.pair_correlation <= MAX_TURN_CORRELATION and ev.pair_seconds >= MIN_PAIR_SECONDS:
        low, high = ev.pair_hz
        where = f"{ev.pair_start_s:.1f}-{ev.pair_end_s:.1f} s"
        out.append(
            finding(
                "signal.modem",
                f"Data sent as sound above {LOW_EDGE_HZ / 1000:.0f} kHz (near-ultrasonic FSK): "
                f"two narrow lines at {low:.0f} and {high:.0f} Hz take turns faster than 20 ms "
                f"(their fast power changes correlate {ev.pair_correlation:.2f}), at {where}; "
                "steady lines (a pilot, a whine) and partials do not.",
                start_s=round(ev.pair_start_s, 2),
                end_s=round(ev.pair_end_s, 2),
                modulation="ultrasonic FSK",
                mark_hz=round(low, 1),
                space_hz=round(high, 1),
                shift_hz=round(high - low, 1),
                turn_correlation=round(ev.pair_correlation, 3),
            )
        )
    return out
