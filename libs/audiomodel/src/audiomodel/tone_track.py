"""Data sent as the frequency of one tone: phase-continuous FM, chirp spread spectrum, and keyed
tones in the near-ultrasonic band.

What no other reader sees (session 16's red-team survey: 0 of 24 FM cases, 2 of 18 near-
ultrasonic ones): a single tone whose frequency holds still for a symbol and then JUMPS to
another of many levels, on one steady clock. The keyed-tone search (``audiomodel.keyed_tones``)
looks for line starts, but a phase-continuous tone never starts: it moves. The FSK tests pair
two tones under 7.8 kHz.

The reading (physics first):

- **Track the dominant line.** Short Hann frames (~11.6 ms audible, ~5.3 ms near-ultrasonic,
  a quarter-frame hop); in each, the strongest bin of the band and its frequency from the phase
  advance over one hop (a phase vocoder: a steady tone's frequency to a fraction of a hertz,
  however coarse the bins). A frame counts when its line holds most of the band's power
  (audible) or stands far over the band's median (near-ultrasonic, where nothing else sounds).
- **Holds and jumps.** A hold is a run of frames whose frequency moves under a twentieth of a
  bin a hop; a jump is a hold followed within a tenth of a second by a hold elsewhere. A
  singer's vibrato, a siren or a sweep moves continuously and makes few holds and no clock.
- **One clock.** The jump times keep one period (Rayleigh coherence over the period found from
  their spacings): a modulator's symbol clock. A player's notes do not keep a quartz clock
  to a few milliseconds over dozens of notes; a sequencer does (so the next rules).
- **Many levels, not a scale, not a pattern.** The held frequencies take many distinct values
  (a byte's 256, a nibble's 16) spread over the band, not on the twelve-tone scale that every
  instrument, arpeggiator and chiptune plays (the levels' semitone phase coherence stays low),
  and the symbol sequence repeats no pattern (an arpeggio or a trill does). Near-ultrasound
  (16.5 kHz up, at rates that hold it) sounds no notes at all: there two levels suffice, as
  long as the symbols do not alternate in a pattern.
- **Chirps are de-chirped.** A LoRa-like chirp modem is a sawtooth of linear sweeps whose start
  offsets carry the symbols. The track's commonest slope is removed (frequency minus slope x
  time, modulo the swept band): each symbol becomes a held level, and the rules above apply.
  A linear sweep de-chirps to one level; a log sweep, a siren or birdsong to no steady slope.

Cost: four short gate spectra every half second; only an 8 s batch where 4 looks show a lone
line that moves (audible) or a line standing out of the near-ultrasonic band is tracked. No
real clip of the speed bench is tracked (1.9 % of the validator on its 40 clips, the gate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from audiomodel.findings import Finding, finding

__all__ = ["ToneTrackScanner", "scan_tone_track"]

Floats = npt.NDArray[np.float64]

BATCH_S = 8.0  # samples gathered before a look (a few numpy calls a file, not one per block)
GATE_EVERY_S = 0.5
GATE_FRAMES = 4  # consecutive short frames read at each look
AUDIBLE_HZ = (200.0, 8000.0)
ULTRA_LOW_HZ = 16500.0  # near-ultrasound: above what adults hear well, below what 44.1 kHz holds
ULTRA_MIN_RATE = 40000
ULTRA_REFERENCE_HZ = (6000.0, 14000.0)  # the band music's own highs are compared in
# Gate: an audible spectrum whose strongest line (+-3 bins) holds this share of the power
GATE_SHARE = 0.97
# ... a near-ultrasonic line this far over the reference band's mean bin, at -80 dBFS or more
GATE_ULTRA_RATIO = 100.0
GATE_ULTRA_LEVEL = 1e-4
GATE_HITS = 4  # looks of a batch (of 8) that must hit, a transmission of 2 s or more
GATE_PLACES = 3  # ... with the lone line in this many places (bin pairs)

FRAME_S = 0.0058  # 256 points at 44.1-48 kHz: a 50 Bd symbol holds ~10 frames, a chirp
# sweeping 70 kHz/s moves ~2 bins in one
ULTRA_FRAME_S = 0.0029  # 128 points at 44.1-48 kHz: 200 Bd symbols hold frames; tones are far
# apart up there (bins of 375 Hz)
HOP_DIVISOR = 4
# A tracked frame: the line (+-2 bins) holds this share of the audible band's power ...
FRAME_SHARE = 0.5
# ... or stands this far over the near-ultrasonic band's median bin
FRAME_ULTRA_RATIO = 30.0
HOLD_TOL_BINS = 0.03  # a hold's frequency moves under this per hop
LEVEL_TOL_BINS = 0.06  # held frequencies closer than this are one level
MAX_JUMP_S = 0.1  # a glide between holds (smoothed FM) takes at most this
MIN_JUMPS = 40
# The jumps' coherence to the clock. Near-ultrasound holds no music, so a weaker clock read
# over many jumps (Rayleigh z = jumps x coherence^2) is as sure: OFDM's symbols, where the
# strongest of its carriers changes at only some symbol edges, read 0.4-0.5 over 300+ jumps
MIN_CLOCK_COHERENCE = {"audible": 0.6, "ultra": 0.4}
MIN_CLOCK_Z = 25.0
COARSE_CLOCK_JUMPS = 300  # the clock is searched over the first jumps ...
MAX_CLOCK_JUMPS = 2000  # ... and refined over more (bounded memory and time on long tracks)
MIN_PERIOD_S, MAX_PERIOD_S = 0.004, 0.5
MIN_LEVELS = {"audible": 12, "ultra": 2}
MAX_SCALE_COHERENCE = 0.6  # notes of a tuned instrument sit on semitones: 0.8-1.0
# a symbol k ticks later (k = 1..32) agrees this often at most (an arpeggio, a trill: 0.9-1.0);
# near-ultrasound, where two levels are enough, only a strict cycle is a pattern (a binary
# payload of text or code agrees 0.75-0.9 at 8 bits)
MAX_PATTERN_AGREEMENT = {"audible": 0.8, "ultra": 0.95}
MIN_DWELL = 0.4
MIN_SYMBOLS = 64
# De-chirping: the commonest hop-to-hop rise must hold in this share of the tracked frames
CHIRP_SLOPE_SHARE = 0.4
CHIRP_MIN_RISE_BINS = 0.5  # ... a rise of at least this over 4 hops
CHIRP_RISE_WIDTH_BINS = 0.25
CHIRP_TOL_FACTOR = 3.0  # de-chirped frequencies are read 3 times coarser


@dataclass(slots=True)
class Track:
    """The dominant line of one band (or one frame length), frame by frame, over what passed a gate."""

    hop_s: float
    bin_hz: float
    times: list[Floats] = field(default_factory=list)
    freqs: list[Floats] = field(default_factory=list)

    def arrays(self) -> tuple[Floats, Floats]:
        if not self.times:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(self.times), np.concatenate(self.freqs)


@dataclass(frozen=True, slots=True)
class Reading:
    band: str
    modulation: str
    start_s: float
    end_s: float
    baud: float
    jumps: int
    coherence: float
    levels: int
    low_hz: float
    high_hz: float
    scale_coherence: float
    pattern_agreement: float
    slope_hz_s: float


def _pow2(x: float) -> int:
    return 1 << max(7, round(math.log2(max(x, 128.0))))


class ToneTrackScanner:
    """Streams a mono level block by block; :meth:`report` finds data sent as one tone's
    frequency (stepped FM, chirps, near-ultrasonic keying)."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = float(sample_rate)
        nyquist = self.rate / 2
        self.bands: dict[str, tuple[float, float]] = {
            "audible": (AUDIBLE_HZ[0], min(AUDIBLE_HZ[1], nyquist - 300.0))
        }
        if sample_rate >= ULTRA_MIN_RATE:
            self.bands["ultra"] = (ULTRA_LOW_HZ, min(nyquist - 300.0, 45000.0))
        self.frame = _pow2(FRAME_S * self.rate)  # the gate's and the audible band's frames
        self.window = np.hanning(self.frame).astype(np.float32)
        self.sizes = {"audible": self.frame, "ultra": _pow2(ULTRA_FRAME_S * self.rate)}
        self.tracks = {
            band: Track(self.sizes[band] / HOP_DIVISOR / self.rate, self.rate / self.sizes[band])
            for band in self.bands
        }
        self._pending: list[npt.NDArray[np.float32]] = []
        self._pending_size = 0
        self._offset = 0  # samples before the pending ones
        self.tracked_s = 0.0

    def update(self, level: npt.NDArray[np.number]) -> None:
        self._pending.append(np.asarray(level, dtype=np.float32))
        self._pending_size += level.shape[0]
        if self._pending_size >= BATCH_S * self.rate:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_size = [], 0
        start = self._offset
        self._offset += x.size
        bands = self._gate(x)
        if bands:
            self._track(bands, x, start)

    def _gate(self, x: npt.NDArray[np.float32]) -> list[str]:
        """Bands worth tracking: a few short spectra every half second."""
        size = self.frame
        step = round(GATE_EVERY_S * self.rate)
        starts = np.arange(0, x.size - GATE_FRAMES * size + 1, step)
        if starts.size == 0:
            return []
        frames = x[(starts[:, None] + np.arange(GATE_FRAMES * size)[None, :])]
        frames = frames.reshape(-1, size) * self.window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        need = min(GATE_HITS, starts.size)
        hit = []
        share, line = self._line_share(power, "audible")
        lone = (share.reshape(starts.size, GATE_FRAMES) >= GATE_SHARE).sum(axis=1) >= 3
        # ... and the lone line moves: a held note or a test tone stays in its bin
        where = np.unique(line.reshape(starts.size, GATE_FRAMES)[lone, 0] // 2)
        if int(lone.sum()) >= need and where.size >= min(GATE_PLACES, need):
            hit.append("audible")
        if "ultra" in self.bands:
            lo, hi = self._bins("ultra", size)
            rlo, rhi = (round(f * size / self.rate) for f in ULTRA_REFERENCE_HZ)
            top = power[:, lo:hi].max(axis=1)
            floor = power[:, rlo:rhi].mean(axis=1) + 1e-20
            amplitude = 2 * np.sqrt(top) / self.window.sum()
            ok = (top >= GATE_ULTRA_RATIO * floor) & (amplitude >= GATE_ULTRA_LEVEL)
            ok = ok.reshape(starts.size, GATE_FRAMES).mean(axis=1) >= 0.5
            if int(ok.sum()) >= need:
                hit.append("ultra")
        return hit

    def _line_share(
        self, power: npt.NDArray[np.floating], band: str
    ) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.intp]]:
        """The share of a frame's power (bins over ~100 Hz) in the band's strongest line
        (+-2 bins)."""
        size = 2 * (power.shape[1] - 1)
        lo, hi = self._bins(band, size)
        k = lo + power[:, lo:hi].argmax(axis=1)
        rows = np.arange(power.shape[0])
        base = max(1, round(100.0 * size / self.rate))
        line = np.zeros(power.shape[0])
        for d in range(-2, 3):
            at = k + d
            inside = (at >= base) & (at < power.shape[1])
            line += np.where(inside, power[rows, np.clip(at, 0, power.shape[1] - 1)], 0.0)
        return np.asarray(line / (power[:, base:].sum(axis=1) + 1e-20)), k

    def _bins(self, band: str, size: int) -> tuple[int, int]:
        lo, hi = self.bands[band]
        return max(1, round(lo * size / self.rate)), round(hi * size / self.rate)

    def _track(self, bands: list[str], x: npt.NDArray[np.float32], start: int) -> None:
        self.tracked_s += x.size / self.rate
        for band in bands:
            size = self.sizes[band]
            hop = size // HOP_DIVISOR
            if x.size < size + 2 * hop:
                continue
            window = self.window if size == self.frame else np.hanning(size).astype(np.float32)
            spectra = np.fft.rfft(sliding_window_view(x, size)[::hop] * window, axis=1)
            power = spectra.real**2 + spectra.imag**2
            rows = np.arange(power.shape[0])
            lo, hi = self._bins(band, size)
            k = lo + power[:, lo:hi].argmax(axis=1)
            if band == "audible":
                ok = self._line_share(power, band)[0] >= FRAME_SHARE
            else:
                ok = power[rows, k] >= FRAME_ULTRA_RATIO * (
                    np.median(power[:, lo:hi], axis=1) + 1e-20
                )
            # the phase advance of the line's bin over one hop gives its frequency
            here = spectra[rows[:-1], k[:-1]]
            there = spectra[rows[1:], k[:-1]]
            advance = np.angle(there * np.conj(here)) - 2 * np.pi * k[:-1] * hop / size
            advance = (advance + np.pi) % (2 * np.pi) - np.pi
            freq = (k[:-1] + advance * size / (2 * np.pi * hop)) * self.rate / size
            keep = ok[:-1] & ok[1:] & (power[rows[:-1], k[:-1]] > 0)
            track = self.tracks[band]
            track.times.append(((start + rows[:-1] * hop) / self.rate)[keep])
            track.freqs.append(freq[keep])

    def readings(self) -> list[Reading]:
        if self._pending_size >= 0.5 * self.rate:
            self._flush()
        out = []
        for band, track in self.tracks.items():
            times, freqs = track.arrays()
            if times.size < MIN_JUMPS * 2:
                continue
            found = _read(band, track, times, freqs, 0.0)
            if found is None:
                slope = _chirp_slope(track, times, freqs)
                if slope:
                    found = _read(band, track, times, freqs, slope)
            if found is not None:
                out.append(found)
        return out

    def report(self) -> list[Finding]:
        return [_finding(r) for r in self.readings()]


def _chirp_slope(track: Track, times: Floats, freqs: Floats) -> float:
    """The commonest rise (Hz/s) over one frame (4 hops, which averages out the bias of a
    chirp's frequency read at a bin it crosses) where most tracked frames rise by it, else 0."""
    span = HOP_DIVISOR
    if times.size <= span:
        return 0.0
    contiguous = np.abs(times[span:] - times[:-span] - span * track.hop_s) < 0.25 * track.hop_s
    rise = (freqs[span:] - freqs[:-span])[contiguous]
    rise = rise[np.abs(rise) > CHIRP_MIN_RISE_BINS * track.bin_hz]  # a held tone does not move
    if rise.size < MIN_JUMPS:
        return 0.0
    width = CHIRP_RISE_WIDTH_BINS * track.bin_hz
    edges = np.arange(rise.min(), rise.max() + 2 * width, width)
    if edges.size < 2 or edges.size > 100000:
        return 0.0
    counts, edges = np.histogram(rise, edges)
    best = int(counts.argmax())
    near = np.abs(rise - (edges[best] + width / 2)) <= width
    if near.sum() < CHIRP_SLOPE_SHARE * contiguous.sum():
        return 0.0
    guess = float(np.median(rise[near]) / (span * track.hop_s))
    # refined: the slope that leaves the most hop-to-hop steps flat once removed (over a
    # frame's mean, which cancels the reading's bias as the chirp crosses bins)
    step = np.diff(np.convolve(freqs, np.ones(span) / span, mode="same"))
    step = step[np.abs(np.diff(times) - track.hop_s) < 0.25 * track.hop_s]
    slopes = guess * np.linspace(0.9, 1.1, 201)
    tol = HOLD_TOL_BINS * CHIRP_TOL_FACTOR * track.bin_hz
    step = np.sort(step)
    centre = slopes * track.hop_s
    flat = np.searchsorted(step, centre + tol, "right") - np.searchsorted(step, centre - tol)
    return float(slopes[int(flat.argmax())])


# Why a track was not read as data, when a bench sets this to a list (never in service)
DEBUG: list[str] | None = None


def _why(text: str) -> None:
    if DEBUG is not None:
        DEBUG.append(text)


def _read(band: str, track: Track, times: Floats, freqs: Floats, slope: float) -> Reading | None:
    tol = HOLD_TOL_BINS * track.bin_hz
    level_tol = LEVEL_TOL_BINS * track.bin_hz
    f = freqs
    if slope:
        tol, level_tol = tol * CHIRP_TOL_FACTOR, level_tol * CHIRP_TOL_FACTOR
        span = float(np.percentile(freqs, 99.5) - np.percentile(freqs, 0.5))
        if span <= 0:
            return None
        span *= 1 + track.hop_s * abs(slope) / max(span, 1e-9) / 2  # the sweep's last hop
        f = np.mod(freqs - slope * times, span)
        # a frame's mean over 4 hops: the reading's bias as the chirp crosses a bin cancels
        f = np.convolve(f, np.ones(HOP_DIVISOR) / HOP_DIVISOR, mode="same")
    # holds: runs of contiguous frames whose frequency moves under tol a hop
    contiguous = np.abs(np.diff(times) - track.hop_s) < 0.25 * track.hop_s
    same = contiguous & (np.abs(np.diff(f)) <= tol)
    edges = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1)  # exclusive, in `same`; frames first..last inclusive
    if first.size < MIN_JUMPS:
        _why(f"{band} slope {slope:.0f}: holds {first.size}")
        return None
    # a hold's level: the median of five readings spread over it (its glide tails and a
    # vibrato's swing do not pull it off its level)
    at = first[:, None] + np.round(np.outer(last - first, np.linspace(0.1, 0.9, 5))).astype(int)
    value = np.median(f[at], axis=1)
    begin, end = times[first], times[last]
    gap = begin[1:] - end[:-1]
    step = np.abs(np.diff(value))
    jump = (gap <= MAX_JUMP_S) & (step > 2 * level_tol)
    if int(jump.sum()) < MIN_JUMPS:
        _why(f"{band} slope {slope:.0f}: holds {first.size} jumps {int(jump.sum())}")
        return None
    jump_times = begin[1:][jump]
    period, coherence = _clock(jump_times)
    if (
        period == 0.0
        or coherence < MIN_CLOCK_COHERENCE[band]
        or jump_times.size * coherence**2 < MIN_CLOCK_Z
    ):
        _why(
            f"{band} slope {slope:.0f}: jumps {jump_times.size} period {period:.4f} coh {coherence:.2f}"
        )
        return None
    # the symbol sequence: each hold's level, repeated for the ticks it lasts
    # a modulator dwells on its level for a third of the symbol or more (Gaussian filtering at
    # BT 0.5 still holds about half); a frame straddling a jump, a glide's ends, a bird's
    # chirp that pauses on its last note, are shorter
    dwell = end - begin + track.hop_s * HOP_DIVISOR
    long = dwell >= MIN_DWELL * period
    value, begin, end = value[long], begin[long], end[long]
    # levels: the held values quantised to twice the level tolerance
    ids = np.round(value / (2 * level_tol)).astype(np.int64)
    levels = int(np.unique(ids).size)
    if levels < MIN_LEVELS[band]:
        _why(f"{band} slope {slope:.0f}: levels {levels}")
        return None
    ticks = np.maximum(1, np.round((end - begin + track.hop_s * HOP_DIVISOR) / period))
    ticks = ticks.astype(np.int64)
    symbols = np.repeat(ids, np.minimum(ticks, 64))
    if symbols.size < MIN_SYMBOLS:
        return None
    agreement = max(
        float((symbols[k:] == symbols[:-k]).mean()) for k in range(1, min(33, symbols.size // 2))
    )
    if agreement > MAX_PATTERN_AGREEMENT[band]:
        _why(f"{band} slope {slope:.0f}: levels {levels} agreement {agreement:.2f}")
        return None
    scale = 0.0
    if band == "audible" and not slope:
        semis = 12 * np.log2(np.maximum(value, 1.0) / 440.0)
        scale = float(np.abs(np.exp(2j * np.pi * semis).mean()))
        if scale > MAX_SCALE_COHERENCE:
            _why(f"{band}: levels {levels} scale {scale:.2f}")
            return None
    modulation = {"audible": "FM", "ultra": "near-ultrasonic FSK"}[band]
    if slope:
        modulation = "chirp" if band == "audible" else "near-ultrasonic chirp"
    return Reading(
        band=band,
        modulation=modulation,
        start_s=float(times[0]),
        end_s=float(times[-1]),
        baud=1.0 / period,
        jumps=int(jump.sum()),
        coherence=coherence,
        levels=levels,
        low_hz=float(freqs.min()),
        high_hz=float(freqs.max()),
        scale_coherence=scale,
        pattern_agreement=agreement,
        slope_hz_s=slope,
    )


def _coherence(times: Floats, periods: Floats) -> Floats:
    return np.asarray(np.abs(np.exp(2j * np.pi * times[None, :] / periods[:, None]).mean(axis=1)))


def _clock(times: Floats) -> tuple[float, float]:
    """The symbol period the jump times keep, and their coherence to it (0-1): searched over
    the first jumps on a coarse grid, refined over more of them on a fine one (a grid step
    must drift under a fraction of a period over the span read)."""
    spacing = np.diff(times)
    spacing = spacing[(spacing >= MIN_PERIOD_S) & (spacing <= MAX_PERIOD_S)]
    if spacing.size < MIN_JUMPS // 2:
        return 0.0, 0.0
    guess = float(np.median(spacing[spacing <= 1.5 * np.percentile(spacing, 25)]))
    times = times - times[0]
    coarse, fine = times[:COARSE_CLOCK_JUMPS], times[:MAX_CLOCK_JUMPS]
    best = (0.0, 0.0)
    for base in (guess, guess / 2, guess / 3):
        if base < MIN_PERIOD_S:
            continue
        periods = base * np.linspace(0.8, 1.25, 451)
        coherence = _coherence(coarse, periods)
        i = int(coherence.argmax())
        # a whole fraction of the period keeps the same phases: prefer the longest period
        if coherence[i] > best[1] + 0.1 or (best[0] == 0.0 and coherence[i] > 0):
            best = (float(periods[i]), float(coherence[i]))
    if best[0] == 0.0:
        return best
    periods = best[0] * np.linspace(0.999, 1.001, 81)
    coherence = _coherence(fine, periods)
    i = int(coherence.argmax())
    return float(periods[i]), float(coherence[i])


def _finding(r: Reading) -> Finding:
    where = f"{r.start_s:.1f}-{r.end_s:.1f} s"
    what = {
        "FM": "one tone whose frequency jumps between many levels",
        "chirp": "linear chirps whose start offsets jump (a chirp spread spectrum modem)",
        "near-ultrasonic FSK": "a near-ultrasonic tone keyed between levels",
        "near-ultrasonic chirp": "near-ultrasonic chirps whose offsets jump",
    }[r.modulation]
    return finding(
        "signal.modem",
        f"Data sent as sound: {what}, {r.levels} levels at {r.low_hz:.0f}-{r.high_hz:.0f} Hz "
        f"on a {r.baud:.1f} Bd clock (coherence {r.coherence:.2f}, {r.jumps} jumps) at {where}; "
        "notes sit on a scale and repeat, glides move continuously: a modulator keys levels.",
        modem=f"one-tone {r.modulation}",
        modulation=r.modulation,
        start_s=round(r.start_s, 2),
        end_s=round(r.end_s, 2),
        baud=round(r.baud, 2),
        jumps=r.jumps,
        clock_coherence=round(r.coherence, 3),
        levels=r.levels,
        low_hz=round(r.low_hz, 1),
        high_hz=round(r.high_hz, 1),
        scale_coherence=round(r.scale_coherence, 3),
        pattern_agreement=round(r.pattern_agreement, 3),
        chirp_slope_hz_s=round(r.slope_hz_s, 1),
    )


def scan_tone_track(level: npt.NDArray[np.number], sample_rate: int) -> list[Reading]:
    """The readings of a whole mono level (tests, benches)."""
    scanner = ToneTrackScanner(sample_rate)
    block = 1 << 16
    for i in range(0, level.shape[0], block):
        scanner.update(level[i : i + block])
    return scanner.readings()
