"""Multi-tone FSK (MFSK): data keyed as sets of pure tones on a linear grid, in the whole band.

ggwave-like protocols send each symbol as one or several pure tones chosen from a set of
frequencies on a regular grid (a start frequency plus whole steps of 20-100 Hz); every tone
switches on one common symbol clock, and the subset of tones changes from symbol to symbol as
the data does. They play in the audible band (1.9-6.3 kHz for ggwave) and near-ultrasound
(15-20 kHz), alone or quietly under music. The modem stage times binary FSK, PSK and keyed
bands; it never sees tones that appear and vanish a few at a time from a set of dozens.

What sets such a transmission apart from sound (the physical reasons the rules work):

* a modulator's tone is PURE: one narrow line, no harmonic series. A note of an instrument,
  a voice or a chiptune's square wave has partials at 2f, 3f ... that start with it;
* its tones sit on a LINEAR grid (f0 + k x spacing). Notes sit on a logarithmic one (12 to
  the octave), so their fundamentals fit no common spacing;
* its lines start AND end on one steady symbol clock. A sequenced synth's notes start on its
  beat grid but fade as their envelopes decay; a test tone or a pilot never switches; a sweep
  glides (its line moves to the next bin, it does not appear where none was);
* the chosen subsets carry data: they do not cycle (an arpeggio, a warble, a trill repeat a
  few line sets), and the clock is not a sound chip player's 50/60 Hz tick divided down (a
  tracker switches its arpeggio notes on that tick);
* an alphabet: the same few tones come back again and again (a melody's notes do too, but
  then the grid and the harmonics tell).

DTMF (two tones from two groups spaced ~10 % apart: no linear grid, and digits separated by
silence) is the DTMF scan's business and fails the grid.

Single-tone keying (Olivia-like: one tone of 8-64 a symbol; DominoEX-like incremental
keying, the tone stepping from the last by the data) is the same test with one tone at a time.

Once a stretch's line starts keep a clock, the tones are read again in spectra centred in the
symbols (a short frame where a line first appears straddles the symbol change and its bins are
too wide for tones 20-45 Hz apart), and from those readings a payload keyed as nibbles is
carved when a file signature shows.

Cost: one ~43 ms spectrum every 3 s of audio (the gate: three narrow lines 20 dB over their
neighbours with no harmonic partner, or nothing but two or more such lines, or one alone that
a second spectrum 0.25 s away finds moved); only around a gate hit is a ~21 ms short-time
spectrum taken over 2 s, kept and followed on only when its pure line starts keep a clock.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, Severity, finding
from audiomodel.payload import DANGEROUS_KINDS, confirm_signature, find_signatures

__all__ = ["KeyedToneEvidence", "KeyedToneScanner", "scan_keyed_tones"]

Floats = npt.NDArray[np.float64]

MIN_RATE = 8000
LOW_HZ = 300.0  # under this, mains hum and its harmonics are lines that key nothing
HIGH_HZ = 22000.0
NYQUIST_GUARD_HZ = 300.0  # converters' anti-alias filters roll off the last few hundred Hz
GATE_S = 0.0427  # 2048 points at 48 kHz: 23 Hz bins, half ggwave's tone spacing
GATE_EVERY_S = 3.0
# A narrow line: a local maximum over a millionth (-60 dB) of its spectrum's power (a line
# that far under the mix carries nothing a microphone would get back) and, in the gate, 20 dB
# over the larger of single bins GATE_SIDE away either side (past the window's main lobe); the
# gate hits at GATE_MIN_PURE such lines with no harmonic partner, or at 2+ and nothing else
# (589 good files of the dev corpus: ~1 gate spectrum in 30)
GATE_LINE_OVER = 100.0
GATE_SIDE = (4, 8)
GATE_MIN_PURE = 3
# A lone pure line must have moved this much later (several symbols of 5-40 Bd): one tone of
# an alphabet of 8-64 is rarely keyed again at once; a test tone or a held note stays
REKEY_S = 0.25
FRAME_S = 0.0213  # 1024 points at 48 kHz: 47 Hz bins (ggwave's grid), 10.7 ms hops
# In 21 ms frames: 10 dB over the mean of the bins FRAME_SIDE away on the side that holds more
LINE_OVER = 10.0
FRAME_SIDE = (3, 10)
MIN_LINE_SHARE = 1e-6
# A harmonic partner: a line within this many bins of f/3, f/2, 2f or 3f
PARTNER_REACH = 1
PARTNER_OVER = 3.0  # in the gate: a partial 5 dB over its sides is a partner
PARTNER_RATIOS = (1 / 3, 1 / 2, 2.0, 3.0)
# A stretch whose pure line starts keep a clock (z >= 8 over its ~2 s; music's onsets rarely
# do once its partials are left out) is followed on FOLLOW_S past its end, again and again
FOLLOW_Z = 8.0
FOLLOW_MIN_STARTS = 6
FOLLOW_S = 2.0
# The tones are read again in spectra centred in the symbols of a clocked stretch, each as
# long as a power of two fits in this share of a symbol (the rest leaves room for the clock's
# error and the modulator's ramps), at most SYMBOL_MAX_S (an 11.7 Hz bin at 48 kHz)
SYMBOL_SHARE = 0.75
MAX_CARVED_STRETCHES = 64  # the symbols kept for carving (a transmission's first minutes)
SYMBOL_MAX_S = 0.086
GLIDE_BINS = 4  # a sweep moving up to 4 bins a frame (~18 kHz/s at 48 kHz) is a glide
PAD_S = 1.0  # analysed either side of a gate hit (a clocked stretch is followed on)
STEADY_SHARE = 0.8  # a line present in 80 % of a stretch's frames does not switch
MIN_KEYINGS_PER_TONE = 2  # a modem's alphabet is a few tones used again and again
# The clock: Rayleigh z of the line starts, each weighted by the lines that started at once
# (200 periods tried: z >= 15 leaves ~200 x exp(-15) ~ 6e-5 for starts at random times); the
# ENDS keep the same clock (z >= 10 at that one period). Symbols of 25-250 ms (4-40 Bd): a
# 21 ms frame could not hold a shorter symbol's line twice; over the air MFSK symbols are
# 40-200 ms (ggwave's fastest hold 64 ms against echoes).
MIN_CHANGES = 24
MIN_SYMBOL_S = 0.025
MAX_SYMBOL_S = 0.25
MIN_CLOCK_Z = 15.0
CLOCK_PERIODS = 200  # log-spaced, 1.2 % apart: a clock's peak over seconds of symbols is wider
CLOCK_REACH_S = 0.011  # a start within a frame hop of a tick keeps the clock
MIN_END_Z = 10.0
# The grid: the keyed tones' frequencies (interpolated between bins) fit f0 + k x spacing,
# 20-200 Hz, with a mean phase coherence of 0.8 (a tone 0.1 step off the grid costs 0.2) over
# at least MIN_TONES tones (chance: a few random frequencies fit some spacing)
MIN_TONES = 6
MIN_SPACING_HZ = 20.0
MAX_SPACING_HZ = 200.0
MIN_GRID_COHERENCE = 0.8
GRID_GAPS = 6
# ... and a Rayleigh z (tones x coherence^2) of MIN_GRID_Z: the search tries hundreds of
# spacings, and a few tones fit one of them by chance (an FM synthesiser's 6 sidebands read
# 0.93 on a 93 Hz "grid"); tones read inside the symbols fit a true grid at 0.95-1.0
MIN_GRID_Z = 7.5
GRID_TIE = 0.03  # coherences this close are one fit (the coarser spacing is the grid)
# The symbols do not cycle: the symbol 2-32 ticks later repeats at most this share of changed
# symbols (a warble or an arpeggio: 0.9 and more; random data 1/alphabet)
MAX_CYCLE = 32
MIN_CYCLE_COMPARISONS = 8
MAX_REPEATS = 0.6
PLAYER_TICKS_HZ = (50.0, 60.0)
MAX_TICK_Z = 10.0  # exp(-10) x 2 ticks ~ 1e-4 for data
MAX_ANALYSED_S = 300.0  # bound the work on a file whose whole length passes the gate


@dataclass(slots=True)
class KeyedToneEvidence:
    """What the analysed stretches of a file showed (summed over the file)."""

    analysed_s: float = 0.0
    # (time s, bin centre Hz) of each pure line that appeared and held, and of each line that
    # ended; read at the tones keyed again and again over the file (see :meth:`keyed_events`)
    start_events: list[tuple[Floats, Floats]] = field(default_factory=list)
    end_events: list[tuple[Floats, Floats]] = field(default_factory=list)
    start_times: list[float] = field(default_factory=list)  # lines appeared at keyed tones, s
    start_weights: list[int] = field(default_factory=list)  # lines that appeared at once
    end_times: list[float] = field(default_factory=list)  # a keyed tone's line ended, s
    end_weights: list[int] = field(default_factory=list)
    # per keyed bin's centre (Hz): [sum of the interpolated offsets (Hz), keyings]
    keyed: dict[float, list[float]] = field(default_factory=dict)
    # per tone (rounded to 0.1 Hz at its symbol spectrum's bin): [sum of the interpolated
    # frequencies (Hz), keyings], read in spectra centred in the symbols (see
    # :meth:`KeyedToneScanner._symbol_tones`): what the grid test reads when there are enough
    symbol_keyed: dict[float, list[float]] = field(default_factory=dict)
    frame_bin_hz: float = 0.0  # the short frames' bin width
    # per clocked stretch: (each symbol's centre s, each line's symbol, each line's Hz) as read
    # inside the symbols: what the payload is carved from once the grid is known
    symbols: list[tuple[Floats, npt.NDArray[np.intp], Floats]] = field(default_factory=list)
    grid_tones: list[float] = field(default_factory=list)  # what :meth:`grid` last fitted
    # per stretch: (first frame's time s, hop s, lines per frame packed to bits, bins)
    line_frames: list[tuple[float, float, npt.NDArray[np.uint8], int]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.start_times)

    def keyed_events(self) -> None:
        """Fill the start and end times (weighted by the lines at once) from the events at the
        tones keyed MIN_KEYINGS_PER_TONE times or more over the file: a modem's alphabet is a few
        fixed tones used again and again; a hi-hat's or a glide's new lines land anywhere."""
        keyed = {hz for hz, (_, count) in self.keyed.items() if count >= MIN_KEYINGS_PER_TONE}
        for events, times, weights in (
            (self.start_events, self.start_times, self.start_weights),
            (self.end_events, self.end_times, self.end_weights),
        ):
            times.clear()
            weights.clear()
            if not events or not keyed:
                continue
            at = np.concatenate([t for t, _ in events])
            hz = np.concatenate([h for _, h in events])
            at = at[np.isin(hz, np.fromiter(keyed, dtype=np.float64))]
            unique, counts = np.unique(at, return_counts=True)
            times.extend(unique.tolist())
            weights.extend(counts.tolist())

    def tones_hz(self, period: float = 0.0) -> list[float]:
        """The keyed tones (keyed MIN_KEYINGS_PER_TONE times or more), interpolated; given a
        symbol ``period``, only those keyed that often ON its clock (within a frame hop of a
        tick): music's lines that start anywhere under a transmission are not its tones."""
        keyed = {
            centre: centre + offset / count
            for centre, (offset, count) in self.keyed.items()
            if count >= MIN_KEYINGS_PER_TONE
        }
        if period > 0 and self.start_events:
            times = np.concatenate([t for t, _ in self.start_events])
            hz = np.concatenate([h for _, h in self.start_events])
            phase = np.angle(np.exp(2j * np.pi * times / period) / self._tick_phase(period))
            on = np.abs(phase) <= 2 * np.pi * CLOCK_REACH_S / period
            hz_on, counts = np.unique(hz[on], return_counts=True)
            clocked = set(hz_on[counts >= MIN_KEYINGS_PER_TONE].tolist())
            keyed = {c: f for c, f in keyed.items() if c in clocked}
        return sorted(keyed.values())

    def symbol_tones_hz(self) -> list[float]:
        """The tones keyed MIN_KEYINGS_PER_TONE times or more as read inside symbols (a line
        that was not there the symbol before), each the mean of its interpolated readings."""
        return sorted(
            total / count
            for total, count in self.symbol_keyed.values()
            if count >= MIN_KEYINGS_PER_TONE
        )

    def _tick_phase(self, period: float) -> complex:
        """The clock's phase (unit phasor) at ``period``, from the weighted start times."""
        weights = np.asarray(self.start_weights, dtype=np.float64)
        phasor = complex(np.exp(2j * np.pi * np.asarray(self.start_times) / period) @ weights)
        return phasor / abs(phasor) if abs(phasor) > 0 else 1.0

    def clock(self) -> tuple[float, float, float]:
        """(symbol period s, coherence, Rayleigh z) of the start times weighted by the lines
        that started at once: the longest period they keep (a clock of period T is kept at T/2,
        T/3 ... too). z = |sum w exp(2 pi i t / T)|^2 / sum w^2 is ~1 for random times."""
        if self.changes < MIN_CHANGES:
            return 0.0, 0.0, 0.0
        times = np.asarray(self.start_times)
        weights = np.asarray(self.start_weights, dtype=np.float64)
        periods = _periods()
        phases = np.exp(2j * np.pi * times[None, :] / periods[:, None]) @ weights
        coherence = np.abs(phases) / weights.sum()
        z = np.abs(phases) ** 2 / float(np.dot(weights, weights))
        good = np.flatnonzero(z >= max(MIN_CLOCK_Z, 0.8 * z.max()))
        best = int(good[-1]) if good.size else int(np.argmax(z))
        return float(periods[best]), float(coherence[best]), float(z[best])

    def end_clock(self, period: float) -> float:
        """Rayleigh z of the line ends (weighted) at ``period``."""
        return _rayleigh(self.end_times, self.end_weights, period)

    def tick_z(self) -> float:
        """Rayleigh z of the starts at a sound chip player's tick (50 or 60 Hz, the larger):
        a tracker switches its arpeggios on that tick, whatever longer clock they keep too."""
        return max(
            _rayleigh(self.start_times, self.start_weights, 1 / hz) for hz in PLAYER_TICKS_HZ
        )

    def grid(self, period: float = 0.0) -> tuple[float, float]:
        """(spacing Hz, coherence) of the linear grid the keyed tones fit best: the mean of
        exp(2 pi i f / spacing) over the tones, 1 when every tone is a whole number of steps
        from the others. Spacings tried: each gap between neighbouring tones over 1-4."""
        tones = np.asarray(self.tones_hz(period))
        read = np.asarray(self.symbol_tones_hz())
        if tones.size and read.size:
            # the tones as read inside the symbols, where a line keyed on the clock stands
            # (music's lines that change between symbols under a transmission are not its)
            bin_hz = self.frame_bin_hz or 1.0
            read = read[np.abs(read[:, None] - tones[None, :]).min(axis=1) <= bin_hz]
            if read.size >= MIN_TONES:
                tones = read
        self.grid_tones = tones.tolist()
        if tones.size < MIN_TONES:
            return 0.0, 0.0
        best = (0.0, 0.0)
        # the commonest gaps between neighbouring tones (rounded to 1 Hz), over 1-4
        gaps, counts = np.unique(np.rint(np.diff(tones)), return_counts=True)
        candidates = {
            float(g / k)
            for g in gaps[np.argsort(counts)[::-1][:GRID_GAPS]]
            for k in range(1, 5)
            if MIN_SPACING_HZ <= g / k <= MAX_SPACING_HZ
        }
        fits = []
        for spacing in sorted(candidates):
            trial = spacing * np.linspace(0.98, 1.02, 41)
            coherence = np.abs(np.exp(2j * np.pi * tones[None, :] / trial[:, None]).mean(axis=1))
            at = int(np.argmax(coherence))
            fits.append((float(trial[at]), float(coherence[at])))
        if fits:
            # a grid of spacing s fits s/2, s/3 ... as well, and a finer one fits stray tones
            # better: the coarsest spacing that fits nearly as well as the best is the grid
            top = max(c for _, c in fits)
            best = max((f for f in fits if f[1] >= top - GRID_TIE), key=lambda f: f[0])
        return best

    def repeats(self, period: float) -> float:
        """The largest share, over cycles of 2-32 symbols, of changed symbols that the symbol a
        cycle later repeats (half its lines or more): an arpeggio, a warble, a trill or a
        looped melody cycles through a few line sets; data does not."""
        if period <= 0 or not self.line_frames or not self.start_times:
            return 0.0
        weights = np.asarray(self.start_weights, dtype=np.float64)
        starts = np.exp(2j * np.pi * np.asarray(self.start_times) / period) @ weights
        first_tick = float(np.angle(starts)) / (2 * np.pi) * period
        agree = np.zeros(MAX_CYCLE + 1)
        count = np.zeros(MAX_CYCLE + 1)
        for t0, hop_s, packed, bins in self.line_frames:
            lines = np.unpackbits(packed, axis=1, count=bins).astype(bool)
            first = math.ceil((t0 - first_tick) / period)
            ticks = (
                first_tick + (first + np.arange(int(lines.shape[0] * hop_s / period) + 1)) * period
            )
            # the frame starting nearest the middle of each symbol
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


class KeyedToneScanner:
    """Streams a mono level block by block; :meth:`report` says whether MFSK was keyed."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = int(sample_rate)
        self.active = self.rate >= MIN_RATE
        self.evidence = KeyedToneEvidence()
        self._position = 0  # samples seen
        self._next_gate = 0  # absolute sample index of the next gate spectrum
        self._next_free = 0  # absolute sample index up to which stretches were analysed
        self.gate_points = _pow2(GATE_S * self.rate)
        self.frame = _pow2(FRAME_S * self.rate)
        self.hop = self.frame // 2
        self.evidence.frame_bin_hz = self.rate / self.frame
        self._gate_band = _band(self.rate, self.gate_points, GATE_SIDE[1])
        self._band = _band(self.rate, self.frame, FRAME_SIDE[1])
        self._gate_partners = _partner_index(self._gate_band.start, self._gate_band.stop)
        self._partners = _partner_index(self._band.start, self._band.stop)
        self._tail: npt.NDArray[np.number] = np.empty(0, dtype=np.float32)  # last PAD_S seen
        self._follow_until = 0  # absolute sample index up to which a hit's stretch goes on
        # the last clocked stretch's (symbol period s, a tick's time s), and the time (s) up to
        # which the symbols were read on a clock
        self._clock: tuple[float, float] | None = None
        self._symbols_until = 0.0

    def update(self, level: npt.NDArray[np.number]) -> None:
        start = self._position
        end = self._position = start + level.shape[0]
        if not self.active or self.evidence.analysed_s >= MAX_ANALYSED_S:
            return
        pad = round(PAD_S * self.rate)
        spans: list[tuple[int, int]] = []  # absolute sample spans to analyse
        if self._follow_until > start:  # a hit near the previous block's end goes on here
            spans.append((start, min(end, self._follow_until)))
        every = round(GATE_EVERY_S * self.rate)
        first = max(self._next_gate - start, 0)
        offsets = np.arange(first, level.shape[0] - self.gate_points + 1, every)
        if offsets.size:
            self._next_gate = start + int(offsets[-1]) + every
            stack = np.stack([level[o : o + self.gate_points] for o in offsets])
            windowed = np.multiply(stack, _hann(self.gate_points), dtype=np.float32)
            power = np.abs(scipy.fft.rfft(windowed, axis=1)) ** 2
            lines, linish = _lines(power, self._gate_band, GATE_SIDE, GATE_LINE_OVER)
            if lines.any():
                # a spectrum of several pure tones (under music), or of nothing but pure tones
                pure = (lines & ~_partnered(linish, self._gate_partners)).sum(axis=1)
                hits = (pure >= GATE_MIN_PURE) | ((pure >= 2) & (pure == lines.sum(axis=1)))
                # or one pure line and not even a weak partial anywhere else: a single-tone
                # modem (one tone of many per symbol) alone; sound holds partials. A test
                # tone or a held note is that too, but a modem's tone is rekeyed: a second
                # spectrum a few symbols away must hold a pure line at another bin
                lone = np.flatnonzero((pure == 1) & (linish.sum(axis=1) == 1) & ~hits)
                for row in lone.tolist():
                    hits[row] = self._rekeyed(level, int(offsets[row]), lines[row])
                for at in (start + offsets[hits]).tolist():
                    spans.append((at - pad, at + self.gate_points + pad))
                    self._follow_until = max(self._follow_until, at + self.gate_points + pad)
        if spans:
            self._analyse_spans(spans, level, start)
        # the stretch before a hit early in the next block is in this one's tail
        # (over as many blocks as that takes: a block may be shorter than a gate's spacing)
        keep = round((GATE_EVERY_S + PAD_S) * self.rate)
        if level.shape[0] >= keep or not self._tail.size:
            self._tail = level[-keep:]
        else:
            self._tail = np.concatenate((self._tail, level))[-keep:]

    def _rekeyed(
        self, level: npt.NDArray[np.number], offset: int, line: npt.NDArray[np.bool_]
    ) -> bool:
        """Whether the gate spectrum REKEY_S after (or before, at the block's end) the one at
        ``offset`` holds a pure line away from ``line``'s bin."""
        gap = round(REKEY_S * self.rate)
        other = offset + gap if offset + gap + self.gate_points <= level.shape[0] else offset - gap
        if other < 0:
            return False
        segment = np.multiply(
            level[other : other + self.gate_points], _hann(self.gate_points), dtype=np.float32
        )
        power = (np.abs(scipy.fft.rfft(segment)) ** 2)[None, :]
        lines, linish = _lines(power, self._gate_band, GATE_SIDE, GATE_LINE_OVER)
        # (the spectrum may straddle a symbol change: the last symbol's tone fading beside it)
        pure = lines & ~_partnered(linish, self._gate_partners)
        return bool((pure & ~_widened(line[None, :], 1)).any())

    def _analyse_spans(
        self, spans: list[tuple[int, int]], level: npt.NDArray[np.number], start: int
    ) -> None:
        tail = self._tail
        origin = start - tail.shape[0]  # absolute index of the tail's first sample
        end = start + level.shape[0]

        def joined(lo: int, hi: int) -> npt.NDArray[np.float32]:
            """Samples ``lo``-``hi`` (absolute) of the tail and the block, as float32: only the
            stretches read are converted, not the whole block (~12 s) a gate hit falls in."""
            return _joined(tail, level, lo - origin, hi - origin)

        pending = _merged_spans(spans)
        while pending:
            lo, hi = pending.pop(0)
            free = self._next_free
            lo = max(lo, free, origin)
            hi = min(hi, end)
            if hi - lo < 8 * self.frame:
                continue
            # (a stretch that follows a clocked one on is read whatever it keeps)
            following = lo < self._follow_until
            stretch = joined(lo, hi)
            read_until = round(self._symbols_until * self.rate)
            clocked = self._analyse(stretch, lo / self.rate, keep=following)
            self._next_free = max(free, hi - self.frame)  # the next stretch follows on
            # a stretch that keeps starting pure lines is followed on, forward (into the next
            # block too) until it stops, and back to the previous gate: a transmission is read
            # whole, music's lone hit is not
            if clocked:
                self._follow_until = max(self._follow_until, hi + round(FOLLOW_S * self.rate))
                if hi < end and not pending:
                    pending.append((hi - self.frame, self._follow_until))
                back = max(free, origin)
                if lo - back >= 8 * self.frame:
                    stretch = joined(back, lo + self.frame)
                    self._analyse(stretch, back / self.rate, keep=True, symbols=False)
                # the symbols before, on this clock (what was read before it was found too)
                unread = max(origin, read_until)
                if lo - unread >= 8 * self.frame:
                    self._read_symbols(
                        joined(unread, lo + self.frame),
                        unread / self.rate,
                        again=True,
                    )

    def _analyse(
        self, x: npt.NDArray[np.float32], t0: float, *, keep: bool = False, symbols: bool = True
    ) -> bool:
        """Read a stretch's line starts; when they keep a clock of their own (Rayleigh z over
        FOLLOW_Z at some symbol period), or ``keep``, add its starts, ends, tones and line sets
        to the evidence, and (``symbols``) the tones read inside its symbols on the last clock
        found. Returns whether they kept a clock."""
        n = (x.size - self.frame) // self.hop + 1
        ev = self.evidence
        ev.analysed_s += x.size / self.rate
        frames = np.lib.stride_tricks.sliding_window_view(x, self.frame)[:: self.hop][:n]
        power = np.abs(scipy.fft.rfft(frames * _hann(self.frame), axis=1)) ** 2
        ratio = _line_ratio(power, self._band, FRAME_SIDE)
        peak = (ratio > LINE_OVER) & (power[:, self._band] > _floor(power))
        # A line near this bin (a tone between two bins, a line that glides one bin a frame)
        near = _widened(peak, 1)
        steady = near.mean(axis=0) >= STEADY_SHARE
        # A start: a line appears where no line was (nor next to it) and holds the next frame
        # (a symbol of 20 ms or more; noise peaks and a cymbal's partials do not hold) ...
        new = peak[1:-1] & ~near[:-2] & near[2:] & ~steady[None, :]
        # ... and is pure: no line starts with it at f/3, f/2, 2f or 3f (a note's partials do)
        new &= ~_partnered(new, self._partners)
        # A glide (a sweep, a slide) moves its line a bin or more a frame: it looks like a line
        # that ends where a new one starts a few bins away. Where a line stood within
        # GLIDE_BINS the frame before a start (after an end), the line must hold one frame
        # longer at its bin (must have held one frame longer), as a keyed tone does
        glide = _widened(peak, GLIDE_BINS)
        later = np.zeros_like(new)
        later[:-1] = near[3:]
        new &= ~glide[:-2] | later
        hop_s = self.hop / self.rate
        at = np.flatnonzero(new.any(axis=1))
        clocked = False
        phases = np.zeros(0, dtype=np.complex128)
        if at.size >= FOLLOW_MIN_STARTS:
            weights = new[at].sum(axis=1).astype(np.float64)
            phases = np.exp(2j * np.pi * at[None, :] * hop_s / _periods()[:, None]) @ weights
            clocked = bool((np.abs(phases) ** 2).max() >= FOLLOW_Z * float(weights @ weights))
        if not (clocked or keep):
            return False
        if clocked:
            # the stretch's own clock: its period and where a tick falls (s)
            best = int(np.argmax(np.abs(phases)))
            period = float(_periods()[best])
            tick = (float(np.angle(phases[best])) / (2 * np.pi) % 1.0) * period + hop_s
            self._clock = (period, t0 + tick)
        if symbols and self._clock is not None:
            # the symbols read on the stretch's clock, or on the clocked stretch's it follows
            self._read_symbols(x, t0)
        # An end: a line held two frames and is gone (nor next to it) the frame after
        gone = peak[:-2] & near[1:-1] & ~near[2:] & ~steady[None, :]
        earlier = np.zeros_like(gone)
        earlier[1:] = near[:-3]
        gone &= ~glide[2:] | earlier
        bin_hz = self.rate / self.frame
        for mask, lag, events in ((new, 1, ev.start_events), (gone, 2, ev.end_events)):
            rows, cols = np.nonzero(mask)
            times: Floats = t0 + (rows + lag).astype(np.float64) * hop_s
            centres: Floats = np.round((self._band.start + cols) * bin_hz, 1).astype(np.float64)
            events.append((times, centres))
        # Each keyed tone's frequency, interpolated between bins (a parabola through the log
        # powers of the line's bin and its neighbours): what the grid test reads
        rows, cols = np.nonzero(new)
        if rows.size:
            bins = self._band.start + cols
            logs = np.log(power[(rows + 1)[:, None], bins[:, None] + np.arange(-1, 2)] + 1e-30)
            curve = np.minimum(logs[:, 0] - 2 * logs[:, 1] + logs[:, 2], -1e-12)
            offset = 0.5 * (logs[:, 0] - logs[:, 2]) / curve
            for b, off in zip(bins.tolist(), np.clip(offset, -0.5, 0.5).tolist(), strict=True):
                acc = ev.keyed.setdefault(round(b * bin_hz, 1), [0.0, 0])
                acc[0] += off * bin_hz
                acc[1] += 1
        ev.line_frames.append(
            (t0, hop_s, np.packbits(near & ~steady[None, :], axis=1), near.shape[1])
        )
        return clocked

    def _read_symbols(self, x: npt.NDArray[np.float32], t0: float, *, again: bool = False) -> None:
        """:meth:`_symbol_tones` of a stretch starting at ``t0`` s, on the last clock found,
        from where the symbols were last read on (``again``: all of it)."""
        if self._clock is None:
            return
        period, tick = self._clock
        skip = 0 if again else max(0, round((self._symbols_until - t0) * self.rate))
        if x.size - skip < 8 * self.frame:
            return
        self._symbols_until = max(self._symbols_until, t0 + x.size / self.rate)
        t0 += skip / self.rate
        self._symbol_tones(x[skip:], t0, period, (tick - t0) % period)

    def _symbol_tones(
        self, x: npt.NDArray[np.float32], t0: float, period: float, tick: float
    ) -> None:
        """Read the tones in spectra centred in each symbol of a clocked stretch. A 21 ms frame
        where a line first appears straddles the symbol change (its tone is read half from
        the symbol before, and a modulator that switches phase-discontinuously smears it),
        and its 47 Hz bins cannot part tones 20-45 Hz apart; a window as long as most of a
        symbol, placed inside it, holds one steady set of tones and resolves them. A line
        counts where the symbol before held none within a bin of it (a keying)."""
        rate = self.rate
        points = self.frame
        while 2 * points <= SYMBOL_SHARE * period * rate and 2 * points <= SYMBOL_MAX_S * rate:
            points *= 2
        # the line appears in the frame whose second half holds the new symbol: its change is
        # about half a frame after the start frame's first sample
        change = tick + 0.5 * self.frame / rate
        # (from the first whole symbol: the stretch may start inside one)
        first_centre = (change + period / 2) % period
        centres = first_centre + period * np.arange(int(x.size / rate / period) + 1)
        first = np.rint(centres * rate - points / 2).astype(np.intp)
        first = first[(first >= 0) & (first + points <= x.size)]
        if first.size < 3:
            return
        frames = x[first[:, None] + np.arange(points)[None, :]]
        power = np.abs(scipy.fft.rfft(frames * _hann(points), axis=1)) ** 2
        band = _band(rate, points, FRAME_SIDE[1])
        ratio = _line_ratio(power, band, FRAME_SIDE)
        peak = (ratio > LINE_OVER) & (power[:, band] > _floor(power))
        peak &= ~_partnered(peak, _partner_index(band.start, band.stop))
        near = _widened(peak, 1)
        keyed = peak[1:] & ~near[:-1]
        bin_hz = rate / points
        # every line's frequency, interpolated between bins (a parabola through the log powers
        # of its bin and its neighbours)
        rows, cols = np.nonzero(peak)
        bins = band.start + cols
        logs = np.log(power[rows[:, None], bins[:, None] + np.arange(-1, 2)] + 1e-30)
        curve = np.minimum(logs[:, 0] - 2 * logs[:, 1] + logs[:, 2], -1e-12)
        offset = np.clip(0.5 * (logs[:, 0] - logs[:, 2]) / curve, -0.5, 0.5)
        line_hz = (bins + offset) * bin_hz
        if len(self.evidence.symbols) < MAX_CARVED_STRETCHES:
            self.evidence.symbols.append(
                (t0 + (first + points / 2) / rate, rows.astype(np.intp), line_hz)
            )
        # the keyings: lines the symbol before did not hold
        keyed_lines = keyed[rows - 1, cols] & (rows > 0)
        bins, hz_read = bins[keyed_lines], line_hz[keyed_lines]
        for b, hz in zip(bins.tolist(), hz_read.tolist(), strict=True):
            acc = self.evidence.symbol_keyed.setdefault(round(b * bin_hz, 1), [0.0, 0])
            acc[0] += hz
            acc[1] += 1

    def report(self) -> list[Finding]:
        if not self.active:
            return []
        self.evidence.keyed_events()
        return _findings(self.evidence)


def scan_keyed_tones(level: npt.NDArray[np.number], sample_rate: int) -> KeyedToneScanner:
    """Scan a whole mono level at once (tests, benches), in blocks as the validator feeds it."""
    scanner = KeyedToneScanner(sample_rate)
    for start in range(0, max(level.shape[0], 1), 1 << 16):
        scanner.update(level[start : start + (1 << 16)])
    return scanner


@lru_cache(maxsize=1)
def _periods() -> Floats:
    """The symbol periods a clock is looked for at (s)."""
    periods = np.geomspace(MIN_SYMBOL_S, MAX_SYMBOL_S, CLOCK_PERIODS)
    periods.flags.writeable = False
    return periods


def _pow2(points: float) -> int:
    return 1 << max(6, round(math.log2(points)))


@lru_cache(maxsize=8)
def _hann(points: int) -> npt.NDArray[np.float32]:
    window: npt.NDArray[np.float32] = np.hanning(points).astype(np.float32)
    window.flags.writeable = False
    return window


def _band(rate: int, points: int, far: int) -> slice:
    """The analysed bins: LOW_HZ up to HIGH_HZ or near Nyquist, leaving ``far`` bins below."""
    top = min(HIGH_HZ, rate / 2 - NYQUIST_GUARD_HZ)
    return slice(max(math.ceil(LOW_HZ * points / rate), far + 1), math.floor(top * points / rate))


def _lines(
    power: npt.NDArray[np.floating], band: slice, side: tuple[int, int], over: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(lines, partials) per spectrum (row) and band bin: a local maximum ``over`` (PARTNER_OVER)
    times its floor, and over a millionth (-60 dB) of its spectrum's power. The floor: on each
    side the larger of two single bins ``side`` bins away (past the window's main lobe), the
    higher side taken. A few slices and no running sums: this runs on every gate spectrum of
    every file."""
    lo, hi = band.start, band.stop
    near, far = side
    centre = power[:, lo:hi]
    below = np.maximum(power[:, lo - near : hi - near], power[:, lo - far : hi - far])
    above = np.maximum(_shifted(power, lo + near, hi + near), _shifted(power, lo + far, hi + far))
    floor = np.maximum(below, above)
    peak = (centre >= power[:, lo - 1 : hi - 1]) & (centre >= power[:, lo + 1 : hi + 1])
    peak &= centre > _floor(power)
    return peak & (centre > over * floor), peak & (centre > PARTNER_OVER * floor)


def _shifted(power: npt.NDArray[np.floating], lo: int, hi: int) -> npt.NDArray[np.floating]:
    """``power[:, lo:hi]``, the bins past the spectrum's end read as zero."""
    if hi <= power.shape[1]:
        return power[:, lo:hi]
    out = np.zeros((power.shape[0], hi - lo), dtype=power.dtype)
    out[:, : power.shape[1] - lo] = power[:, lo:]
    return out


def _floor(power: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    floor: npt.NDArray[np.floating] = MIN_LINE_SHARE * power.sum(axis=1, keepdims=True)
    return floor


@lru_cache(maxsize=16)
def _partner_index(start: int, stop: int) -> tuple[npt.NDArray[np.intp], ...]:
    """Per harmonic ratio, each band bin's partner bin as an index into the band (or -1)."""
    bins = np.arange(start, stop)
    out = []
    for ratio in PARTNER_RATIOS:
        index = np.rint(bins * ratio).astype(np.intp) - start
        index[(index < 0) | (index >= bins.size)] = -1
        index.flags.writeable = False
        out.append(index)
    return tuple(out)


def _widened(lines: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_]:
    """Per row: the bins within ``reach`` bins of a line."""
    wide = lines.copy()
    for step in range(1, reach + 1):
        wide[:, step:] |= lines[:, :-step]
        wide[:, :-step] |= lines[:, step:]
    return wide


def _joined(
    tail: npt.NDArray[np.number], level: npt.NDArray[np.number], lo: int, hi: int
) -> npt.NDArray[np.float32]:
    """``np.concatenate((tail, level)).astype(np.float32)[lo:hi]`` with only that part
    converted (each value rounds to float32 on its own: the same numbers)."""
    t = tail.shape[0]
    if lo >= t:
        return level[lo - t : hi - t].astype(np.float32)
    if hi <= t:
        return tail[lo:hi].astype(np.float32)
    return np.concatenate((tail[lo:], level[: hi - t])).astype(np.float32)


def _partnered(
    lines: npt.NDArray[np.bool_], partners: tuple[npt.NDArray[np.intp], ...]
) -> npt.NDArray[np.bool_]:
    """Per row and band bin: a line (within PARTNER_REACH bins) at a harmonic ratio."""
    wide = _widened(lines, PARTNER_REACH)
    wide = np.concatenate((wide, np.zeros((wide.shape[0], 1), dtype=bool)), axis=1)  # -1: none
    out = np.zeros(lines.shape, dtype=bool)
    for index in partners:
        out |= wide[:, index]
    return out


def _line_ratio(
    power: npt.NDArray[np.floating], band: slice, side: tuple[int, int]
) -> npt.NDArray[np.float64]:
    """Per spectrum (row) and band bin: 0 where the bin is no local maximum, else its power
    over the mean power of the bins beside it on the side that holds more (``side`` = first,
    last bin away): a line on a sloping floor is measured against the higher slope."""
    near, far = side
    lo, hi = band.start, band.stop
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


def _merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _rayleigh(times: list[float], weights: list[int], period: float) -> float:
    if period <= 0 or not times:
        return 0.0
    w = np.asarray(weights, dtype=np.float64)
    phase = np.exp(2j * np.pi * np.asarray(times) / period) @ w
    return float(np.abs(phase) ** 2 / np.dot(w, w))


def _findings(ev: KeyedToneEvidence) -> list[Finding]:
    period, coherence, z = ev.clock()
    if z < MIN_CLOCK_Z:
        return []
    end_z = ev.end_clock(period)
    if end_z < MIN_END_Z:
        return []
    spacing, grid = ev.grid(period)
    if grid < MIN_GRID_COHERENCE or len(ev.grid_tones) * grid**2 < MIN_GRID_Z:
        return []
    repeats = ev.repeats(period)
    tick_z = ev.tick_z()
    if repeats >= MAX_REPEATS or tick_z >= MAX_TICK_Z:
        return []
    tones = ev.tones_hz(period)
    start, end = min(ev.start_times), max(ev.start_times)
    out = [
        finding(
            "signal.modem",
            f"Data sent as sound (multi-tone FSK): pure tones at {len(tones)} frequencies on a "
            f"{spacing:.1f} Hz grid ({tones[0]:.0f}-{tones[-1]:.0f} Hz) start {ev.changes:,} "
            f"times and end on one steady {1 / period:.1f} Bd symbol clock, the tone sets not "
            f"cycling (at most {repeats:.0%} repeat), at {start:.1f}-{end:.1f} s; notes have "
            "partials, sit on no linear grid and fade with their envelopes.",
            start_s=round(start, 2),
            end_s=round(end, 2),
            baud=round(1 / period, 1),
            modulation="MFSK",
            band_low_hz=round(tones[0], 1),
            band_high_hz=round(tones[-1], 1),
            tones=len(tones),
            grid_spacing_hz=round(spacing, 2),
            grid_coherence=round(grid, 3),
            line_changes=ev.changes,
            coherence=round(coherence, 3),
            rayleigh_z=round(z, 1),
            end_rayleigh_z=round(end_z, 1),
            cycle_repeats=round(repeats, 3),
            player_tick_z=round(tick_z, 1),
        )
    ]
    carved = carve(ev, spacing)
    if carved is not None:
        kind, name, offset, length, order = carved
        out.append(
            finding(
                "signal.modem_payload",
                f"Multi-tone FSK at {1 / period:.1f} Bd on a {spacing:.1f} Hz grid: its tones "
                f"read as {order} carry {kind} data ({name} header at byte {offset} of "
                f"{length:,} recovered).",
                Severity.MALICIOUS,
                **out[0].evidence,
                signature=name,
                signature_offset=offset,
                bytes_recovered=length,
                symbol_reading=order,
            )
        )
    return out


def carve(ev: KeyedToneEvidence, spacing: float) -> tuple[str, str, int, int, str] | None:
    """(kind, signature, offset, bytes, reading) of a dangerous file carved from the symbols,
    or None. Each line read inside a symbol is a whole number of grid steps from the lowest
    keyed tone; the alphabets tried are the ones modulators use for bytes: 16 tones a group,
    each group's tone a nibble (ggwave-like, one to several groups at once), and one tone of
    16 or 18 a symbol whose STEP from the last tone is the nibble (DominoEX-like incremental
    keying: +1 or +2 and the nibble, modulo the alphabet). Nibbles pair to bytes high-first and
    low-first at both alignments; a signature must be confirmed by its header's fields."""
    tones = np.asarray(ev.grid_tones)
    if spacing <= 0 or tones.size == 0:
        return None
    f0 = float(tones.min())
    streams: dict[str, list[int]] = {}
    for _, rows, hz in sorted(ev.symbols, key=lambda stretch: float(stretch[0][0])):
        steps = (hz - f0) / spacing
        on = (np.abs(steps - np.rint(steps)) <= 0.25) & (steps > -0.5)
        index = np.rint(steps[on]).astype(np.int64)
        row = rows[on]
        per_symbol = [index[row == r] for r in np.unique(row)]
        if len(per_symbol) < 4:
            continue
        counts = np.bincount([len(k) for k in per_symbol])
        groups = int(np.argmax(counts))
        top = int(index.max())
        readings: dict[str, list[int]] = {}
        for k in per_symbol:
            # nibble groups: one tone in each of ``groups`` blocks of 16
            if len(k) == groups and np.array_equal(np.sort(k // 16), np.arange(groups)):
                readings.setdefault("nibbles in 16-tone groups", []).extend(
                    (np.sort(k) % 16).tolist()
                )
        if groups == 1:
            single = [int(k[0]) for k in per_symbol if len(k) == 1]
            for alphabet in (16, 18):
                if top >= alphabet:
                    continue
                for lead in (1, 2):
                    steps_read = [(b - a - lead) % alphabet for a, b in itertools.pairwise(single)]
                    if max(steps_read, default=99) < 16:
                        name = f"steps of {alphabet} tones less {lead}"
                        readings.setdefault(name, []).extend(steps_read)
        for name, nibbles in readings.items():
            streams.setdefault(name, []).extend(nibbles)
    for name, nibbles in streams.items():
        codes = np.asarray(nibbles, dtype=np.uint8)
        for shift in (0, 1):
            pairs = codes[shift : shift + (codes.size - shift) // 2 * 2].reshape(-1, 2)
            for first, label in ((0, "high-first"), (1, "low-first")):
                data = (pairs[:, first] << 4 | pairs[:, 1 - first]).astype(np.uint8).tobytes()
                for offset, signature, kind in find_signatures(data):
                    if kind in DANGEROUS_KINDS and confirm_signature(signature, data, offset):
                        return kind.value, signature, offset, len(data), f"{name}, {label}"
    return None
