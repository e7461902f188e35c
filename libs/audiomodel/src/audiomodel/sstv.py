"""Pictures sent as sound: slow-scan TV, weather fax and satellite APT.

A picture (or any file's bytes shown as pixels) scanned line by line onto one carrier: SSTV
(Robot, Martin, Scottie, PD, Wraase ...) and HF fax send each pixel's brightness as the carrier's
frequency (about 1500 Hz black to 2300 Hz white), APT as the amplitude of a 2400 Hz subcarrier.
Whatever the mode, the line is the unit: a scanner paints lines at a fixed rate from a quartz
clock, and marks each line with a sync the receiver locks to.

The reading (physics first):

- **One carrier fills a band.** A cheap gate: a few short spectra every half second; a look hits
  when nearly all its power lies in the picture band (FM, ~1-2.6 kHz), or when one steady line
  holds a good share of it (an AM subcarrier). Music spreads its power over octaves.
- **Track the carrier.** Only batches the gate passes are demodulated: the band is cut from the
  batch's spectrum and shifted to baseband (a few kHz of complex samples); the frequency is the
  phase advance per sample, the amplitude its magnitude.
- **A line clock.** The track (frequency for FM, amplitude for AM) folded at one period repeats
  line after line. Two readings of it, both at one period across the whole transmission:
  sync pulses to a frequency outside the picture band (SSTV's 1200 Hz, a few per cent of the
  line), strictly periodic (Rayleigh coherence of their starts near 1); or, where there is no
  sync below the band (fax, APT), the track's own correlation at the line period, far over its
  correlation at half the period. A player does not hold a period to a millisecond over dozens
  of lines; a siren or an LFO does, so the next rule.
- **A line is a picture, not a sweep.** Within each line the carrier's frequency or amplitude
  goes up and down many times (pixels, edges, sync, porches): its total variation is many times
  its range. A siren, a vibrato, an LFO sweep or a test sweep goes up and down once or twice a
  period. A microphone, a voice or an instrument does not move one pure tone across a fixed band
  in a repeating arbitrary shape; a scanner does.

Cost: sixteen short spectra per 8 s of sound; only a batch the gate passes is demodulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["SstvScanner", "scan_sstv"]

Floats = npt.NDArray[np.float64]

BATCH_S = 8.0
GATE_EVERY_S = 0.5
GATE_FRAME_S = 0.02  # ~20 ms: a few pixels of FM spread over the band, still one carrier
# FM picture band with sync: SSTV's 1200 Hz sync to 2300 Hz white, with the FM's own sidebands
FM_BAND_HZ = (1000.0, 2600.0)
GATE_FM_SHARE = 0.85  # share of a look's power (above 100 Hz) in the band
# AM subcarrier: its line (+-2 bins) holds this share of the look's power, at one place
GATE_AM_SHARE = 0.25
AM_BAND_HZ = (1500.0, 3500.0)  # where a subcarrier is looked for (APT's 2400 Hz)
AM_HALF_WIDTH_HZ = 2200.0  # APT's sidebands reach +-2080 Hz (4160 words/s)
GATE_HITS = 0.75  # share of the looks of a batch that must hit
SKIRT_HZ = 200.0  # the demodulated band's edges roll off over this
TRACK_RATE = 4000.0  # the baseband track's sample rate (about)
SMOOTH_S = 0.001  # the frequency read over 1 ms (a pixel of a fast mode is ~0.3-0.5 ms)
SYNC_BELOW_HZ = 1350.0  # under the picture band's black (1500 Hz): SSTV's 1200 Hz sync
SYNC_MIN_S = 0.003  # a sync pulse lasts this at least (Martin 4.9 ms, Robot/Scottie 9, PD 20)
MIN_PERIOD_S, MAX_PERIOD_S = 0.05, 1.2  # line periods: fast SSTV ~60 ms to PD290's ~0.94 s
MIN_LINES = 30
MIN_SYNC_COHERENCE = 0.8
MAX_SYNC_DUTY = 0.2
LINE_WINDOW_S = 24.0  # the line clock is looked for in windows of this, half overlapping
MIN_LINE_CORRELATION = 0.5  # the track against itself one line later
MIN_CORRELATION_LEAD = 0.3  # ... over its correlation half a line later
MIN_WIGGLE = (
    4.5  # a line's total variation over the track's range (a sweep, a vibrato, an arpeggio: <= 3.3)
)
WIGGLE_PERCENTILE = 90.0
WIGGLE_STEP_S = 0.001
WIGGLE_DEADBAND = 0.02
MIN_AM_DEPTH = 0.3  # an AM picture's envelope spans black to white (APT's depth ~0.87)
MAX_CARRIER_DRIFT = 0.005  # an AM subcarrier's frequency over 0.1 s, as a share of it
MIN_FM_SPAN_HZ = 300.0
MAX_FM_BEAT = 0.35  # the envelope's median deviation over its median (SSTV <= 0.02, a voice 0.5)  # a picture's pixels span the band (1500-2300 Hz black to white)
MIN_AMPLITUDE = 30.0  # the carrier's level in 16-bit counts (-60 dBFS) below which it is not read


@dataclass(frozen=True, slots=True)
class Reading:
    modulation: str  # "sstv" (FM with sync below the band), "fax" (FM), "apt" (AM)
    start_s: float
    end_s: float
    period_s: float
    lines: int
    coherence: float  # sync starts' coherence to the period (sstv), else the line correlation
    wiggle: float
    low_hz: float
    high_hz: float
    sync_ms: float
    mode: str


@dataclass(slots=True)
class Segment:
    start_s: float
    rate: float
    kind: str  # "fm" or "am"
    centre_hz: float
    freq: list[npt.NDArray[np.float32]]
    amp: list[npt.NDArray[np.float32]]
    fm_batches: int = 0  # batches whose power lay in the FM picture band


class SstvScanner:
    """Streams a mono level block by block; :meth:`report` finds a picture sent line by line
    on one carrier (SSTV, fax, APT)."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = float(sample_rate)
        self.frame = 1 << max(6, round(math.log2(GATE_FRAME_S * self.rate)))
        self.window = np.hanning(self.frame).astype(np.float32)
        self._pending: list[npt.NDArray[np.number]] = []
        self._pending_size = 0
        self.batch = round(BATCH_S * self.rate)
        self._offset = 0
        self.segments: list[Segment] = []
        self._open: Segment | None = None
        self.tracked_s = 0.0

    def update(self, level: npt.NDArray[np.number]) -> None:
        # the blocks are kept as given (the validator hands each reader a fresh array); only
        # a batch the gate passes is converted and joined
        self._pending.append(level)
        self._pending_size += level.shape[0]
        while self._pending_size >= self.batch:
            self._flush()

    def _take(self, start: int, size: int) -> npt.NDArray[np.float32]:
        """Samples start..start+size of the pending blocks (fewer at their end), as floats."""
        out, at = [], 0
        for block in self._pending:
            n = block.shape[0]
            if at + n > start and at < start + size:
                out.append(block[max(0, start - at) : start + size - at])
            at += n
            if at >= start + size:
                break
        if not out:
            return np.zeros(0, dtype=np.float32)
        joined = np.concatenate(out) if len(out) > 1 else out[0]
        return np.asarray(joined, dtype=np.float32)

    def _flush(self) -> None:
        """One batch of exactly ``self.batch`` samples (the last one zero-padded), so that
        every batch's track has the same rate."""
        if not self._pending:
            return
        size = min(self.batch, self._pending_size)
        start = self._offset
        self._offset += size
        kind, centre = self._gate(size)
        if kind:
            self._track(self._take(0, size), start, kind, centre)
        else:
            self._open = None
        # drop the batch's samples; a block it ends inside keeps its rest
        at, rest = 0, []
        for block in self._pending:
            n = block.shape[0]
            if at + n > size:
                rest.append(block[max(0, size - at) :])
            at += n
        self._pending = rest
        self._pending_size = sum(b.shape[0] for b in rest)

    def _gate(self, samples: int) -> tuple[str, float]:
        """("fm", band centre), ("am" or "am+fm", carrier) when most looks of the batch show
        one carrier."""
        size = self.frame
        step = round(GATE_EVERY_S * self.rate)
        starts = np.arange(0, samples - size + 1, step)
        if starts.size < 4:
            return "", 0.0
        frames = np.stack([self._take(int(s), size) for s in starts])
        spectra = np.fft.rfft(frames * self.window)
        power = spectra.real**2 + spectra.imag**2
        hz = self.rate / size
        base = max(1, round(100.0 / hz))
        total = power[:, base:].sum(axis=1) + 1e-20
        need = GATE_HITS * starts.size
        lo, hi = (round(f / hz) for f in FM_BAND_HZ)
        fm = int((power[:, lo:hi].sum(axis=1) >= GATE_FM_SHARE * total).sum()) >= need
        alo, ahi = (round(f / hz) for f in AM_BAND_HZ)
        top = power[:, alo:ahi].max(axis=1)
        # the line's 5 bins hold at most 5 times its top: most music stops here
        if int((5 * top >= GATE_AM_SHARE * total).sum()) >= need:
            k = alo + power[:, alo:ahi].argmax(axis=1)
            rows = np.arange(power.shape[0])
            line = sum(power[rows, np.clip(k + d, 0, power.shape[1] - 1)] for d in range(-2, 3))
            ok = line >= GATE_AM_SHARE * total
            if int(ok.sum()) >= need:
                place = np.bincount(k[ok]).argmax()
                if int((np.abs(k[ok] - place) <= 1).sum()) >= need:
                    # one steady line: read wide around it (an FM picture on it is read too,
                    # "am+fm" when the band holds the power as an FM picture's does)
                    return "am+fm" if fm else "am", float(place * hz)
        if fm:
            return "fm", sum(FM_BAND_HZ) / 2
        return "", 0.0

    def _track(self, x: npt.NDArray[np.float32], start: int, kind: str, centre: float) -> None:
        self.tracked_s += x.size / self.rate
        n = self.batch
        spectrum = np.fft.rfft(x, n)
        hz = self.rate / n
        m = 1 << round(math.log2(TRACK_RATE / hz))  # baseband points: rate m * hz
        half = (FM_BAND_HZ[1] - FM_BAND_HZ[0]) / 2 if kind == "fm" else AM_HALF_WIDTH_HZ
        c = round(centre / hz)
        w = min(round((half + SKIRT_HZ) / hz), m // 2 - 1, c - 1)
        # a cosine skirt at the band's edges: a brick wall would ring a tone at the edge
        # across the whole batch
        edge = max(1, round(SKIRT_HZ / hz))
        taper = np.ones(w + 1)
        taper[-edge:] = np.cos(np.linspace(0, np.pi / 2, edge)) ** 2
        base = np.zeros(m, dtype=np.complex128)
        base[: w + 1] = spectrum[c : c + w + 1] * taper
        base[-w:] = spectrum[c - w : c] * taper[w:0:-1]
        z = np.fft.ifft(base) * (m / n) * 2
        rate = m * hz
        amp = np.abs(z)
        smooth = max(1, round(SMOOTH_S * rate))
        turn = z[1:] * np.conj(z[:-1])
        if smooth > 1:
            turn = np.convolve(turn, np.ones(smooth), mode="same")
        freq = centre + np.angle(turn) * rate / (2 * np.pi)
        freq = np.concatenate([freq[:1], freq])
        keep = round(x.size / n * m)  # a short last batch: its zero padding left out
        freq, amp = freq[:keep], amp[:keep]
        seg = self._open  # batches gated one after another make one segment (same rate)
        if seg is None:
            seg = Segment(start / self.rate, rate, kind, centre, [], [])
            self.segments.append(seg)
        seg.fm_batches += "fm" in kind
        seg.freq.append(freq.astype(np.float32))
        seg.amp.append(amp.astype(np.float32))
        self._open = seg

    def readings(self) -> list[Reading]:
        if self._pending_size >= 2.0 * self.rate:
            self._flush()
        self._pending, self._pending_size = [], 0
        out = []
        for seg in self.segments:
            found = _read(seg)
            if found is not None:
                out.append(found)
        return out

    def report(self) -> list[Finding]:
        return [_finding(r) for r in self.readings()]


# Why a segment was not read as a picture, when a bench sets this to a list (never in service)
DEBUG: list[str] | None = None


def _why(text: str) -> None:
    if DEBUG is not None:
        DEBUG.append(text)


def _read(seg: Segment) -> Reading | None:
    freq = np.concatenate(seg.freq).astype(np.float64)
    amp = np.concatenate(seg.amp).astype(np.float64)
    rate = seg.rate
    if freq.size < MIN_LINES * MIN_PERIOD_S * rate:
        return None
    on = amp >= max(MIN_AMPLITUDE, 0.1 * float(np.percentile(amp, 90)))
    if on.mean() < 0.5:
        _why(f"on {on.mean():.2f}")
        return None
    end_s = seg.start_s + freq.size / rate
    span = float(np.subtract(*np.percentile(freq[on], [98, 2])))
    # the frequency carries the picture, and one carrier in the picture band holds the power
    # (a voice's harmonics read wide make a frequency that jumps, but spread over octaves)
    # ... whose envelope holds steady (FM keeps its amplitude; harmonics read together beat)
    middle = float(np.median(amp[on]))
    beat = float(np.median(np.abs(amp[on] - middle))) / (middle + 1e-12)
    _why(f"beat {beat:.3f}")
    if span >= MIN_FM_SPAN_HZ and 2 * seg.fm_batches >= len(seg.freq) and beat <= MAX_FM_BEAT:
        found = _sync_reading(seg, freq, on, rate, end_s)
        if found is not None:
            return found
        track = np.where(on, freq, np.median(freq[on]))
        return _line_reading(seg, track, freq[on], rate, end_s, "fax")
    # one steady carrier: its amplitude may carry the picture. A subcarrier is made by a
    # crystal: over 0.1 s it holds its frequency to a fraction of a per cent, where a sung or
    # played note's vibrato swings 1-3 %
    _why(f"fm span {span:.0f} Hz")
    tenth = max(1, round(0.1 * rate))
    held = np.median(freq[: freq.size - freq.size % tenth].reshape(-1, tenth), axis=1)
    drift = float(np.subtract(*np.percentile(held, [98, 2])))
    if drift > MAX_CARRIER_DRIFT * float(np.median(held)):
        _why(f"carrier drift {drift:.1f} Hz")
        return None
    low, high = np.percentile(amp[on], [2, 98])
    if high - low < MIN_AM_DEPTH * high:  # a steady tone through a codec wobbles a few per cent
        _why(f"am depth {(high - low) / (high + 1e-12):.2f}")
        return None
    track = amp / (np.percentile(amp, 99) + 1e-12)
    return _line_reading(seg, track, freq[on], rate, end_s, "apt")


def _sync_reading(
    seg: Segment, freq: Floats, on: npt.NDArray[np.bool_], rate: float, end_s: float
) -> Reading | None:
    """Sync pulses below the picture band, at one period."""
    low = (freq < SYNC_BELOW_HZ) & on
    edges = np.diff(np.concatenate([[0], low.astype(np.int8), [0]]))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1)
    keep = (last - first) >= SYNC_MIN_S * rate
    first, last = first[keep], last[keep]
    if first.size < MIN_LINES:
        _why(f"syncs {first.size}")
        return None
    duty = float((last - first).sum() / freq.size)
    if duty > MAX_SYNC_DUTY:
        _why(f"sync duty {duty:.2f}")
        return None
    times = first / rate
    period = _period(times)
    if period == 0.0:
        _why("no sync period")
        return None
    period, coherence = _refine(times, period)
    lines = round((times[-1] - times[0]) / period) + 1
    if coherence < MIN_SYNC_COHERENCE or lines < MIN_LINES:
        _why(f"sync period {period:.4f} coherence {coherence:.2f} lines {lines}")
        return None
    image = freq[on & ~low]
    wiggle = _wiggle(np.where(on, freq, SYNC_BELOW_HZ), period, rate)
    if wiggle < MIN_WIGGLE:
        _why(f"sync wiggle {wiggle:.1f}")
        return None
    sync_ms = float(np.median(last - first) / rate * 1e3)
    return Reading(
        "sstv",
        seg.start_s + times[0],
        end_s,
        period,
        lines,
        coherence,
        wiggle,
        float(np.percentile(image, 2)) if image.size else 0.0,
        float(np.percentile(image, 98)) if image.size else 0.0,
        sync_ms,
        _mode(period, sync_ms),
    )


def _period(times: Floats) -> float:
    """The commonest spacing of event times to a later one (within 3 events), or 0."""
    d = np.concatenate([times[k:] - times[:-k] for k in (1, 2, 3) if times.size > k])
    d = d[(d >= MIN_PERIOD_S) & (d <= MAX_PERIOD_S)]
    if d.size < MIN_LINES:
        return 0.0
    counts, edges = np.histogram(d, np.arange(MIN_PERIOD_S, MAX_PERIOD_S + 0.002, 0.002))
    counts[:-1] += counts[1:]  # 4 ms wide, 2 ms apart: a spacing on a bin's edge counts whole
    # the line is the shortest spacing nearly as common as the commonest (2 and 3 lines apart
    # are as common)
    best = int(np.flatnonzero(counts >= 0.7 * counts.max())[0])
    if counts[best] < MIN_LINES // 2:
        return 0.0
    near = np.abs(d - (edges[best] + 0.002)) <= 0.003
    return float(np.median(d[near]))


def _refine(times: Floats, period: float) -> tuple[float, float]:
    """The period near ``period`` to which the times are most coherent, and that coherence."""
    span = max(times[-1] - times[0], period)
    # a grid finer than the coherence peak (width ~ period^2 / span)
    periods = period + np.linspace(-1, 1, 201) * min(0.02 * period, 4 * period**2 / span)
    turns = times[None, :2000] / periods[:, None]
    turns -= np.round(turns)
    turns *= 2 * np.pi
    coh = np.hypot(np.cos(turns).mean(axis=1), np.sin(turns).mean(axis=1))
    best = int(coh.argmax())
    return float(periods[best]), float(coh[best])


def _wiggle(track: Floats, period: float, rate: float) -> float:
    """A line's total variation (read at ~1 ms, steps under 2 % of the track's range left out:
    a noisy held tone's jitter) over the track's range, at the 90th percentile of the lines (a
    picture may be mostly blank; the lines that carry its bytes wiggle)."""
    step = max(1, round(WIGGLE_STEP_S * rate))
    # the carrier's spikes where its amplitude dips (the phase turns fast there) clipped off
    lo, hi = np.percentile(track, [1, 99])
    if hi - lo <= 0:
        return 0.0
    track = np.clip(track, lo, hi)
    t = track[: track.size - track.size % step].reshape(-1, step).mean(axis=1)
    per = round(period * rate / step)
    lines = t.size // per
    if per < 8 or lines < 3:
        return 0.0
    rows = t[: lines * per].reshape(lines, per)
    moves = np.abs(np.diff(rows, axis=1))
    total = np.where(moves >= WIGGLE_DEADBAND * (hi - lo), moves, 0.0).sum(axis=1)
    return float(np.percentile(total / (hi - lo), WIGGLE_PERCENTILE))


def _line_reading(
    seg: Segment, track: Floats, carrier: Floats, rate: float, end_s: float, modulation: str
) -> Reading | None:
    """The track (or its edges) one line later, far more alike than half a line later, over
    some window of the transmission (fax's phasing lines, APT's syncs and telemetry wedges; a
    photo's vertical edges)."""
    step = max(1, round(0.002 * rate))  # read at ~2 ms
    t = track[: track.size - track.size % step].reshape(-1, step).mean(axis=1)
    lo, hi = np.percentile(t, [1, 99])
    edges = np.abs(np.diff(np.clip(t, lo, hi)))
    r = rate / step
    size = round(LINE_WINDOW_S * r)
    best: tuple[float, int, Floats] | None = None
    starts = range(0, max(1, edges.size - size // 2), size // 2)
    for start, series in ((s, x) for s in starts for x in (edges, t)):
        e = series[start : start + size]
        e = e - e.mean()
        n = e.size
        if n < MIN_LINES * MIN_PERIOD_S * r:
            break
        fft = 1 << (2 * n - 1).bit_length()
        spec = np.fft.rfft(e, fft)
        ac = np.fft.irfft(spec.real**2 + spec.imag**2, fft)[:n]
        ac /= ac[0] + 1e-20
        ac /= (n - np.arange(n)) / n  # unbiased
        a, b = round(MIN_PERIOD_S * r), min(round(MAX_PERIOD_S * r), n // MIN_LINES)
        if b <= a + 2:
            break
        lag = a + int(ac[a:b].argmax())
        lead = float(ac[lag]) - float(ac[max(1, lag // 2 - 1) : lag // 2 + 2].max())
        if best is None or lead > best[0]:
            best = (lead, lag, ac)
    if best is None:
        _why(f"{modulation}: too short for lines")
        return None
    lead, lag, ac = best
    # the line is the shortest period: a sub-multiple that repeats as well is the period
    for k in range(12, 1, -1):
        sub = round(lag / k)
        if sub < round(MIN_PERIOD_S * r) or ac[sub - 1 : sub + 2].max() < ac[lag] - 0.15:
            continue
        at = sub - 1 + int(ac[sub - 1 : sub + 2].argmax())
        its = float(ac[at]) - float(ac[max(1, at // 2 - 1) : at // 2 + 2].max())
        if its >= MIN_CORRELATION_LEAD:  # a line of its own, not a slow track's long reach
            lag, lead = at, its
            break
    corr = float(ac[lag])
    if corr < MIN_LINE_CORRELATION or lead < MIN_CORRELATION_LEAD:
        _why(f"{modulation} lag {lag / r:.3f} corr {corr:.2f} lead {lead:.2f}")
        return None
    n = t.size
    # the period refined from the peak's neighbours (parabola)
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    period = (lag + shift) / r
    wiggle = _wiggle(track, period, rate)
    if wiggle < MIN_WIGGLE:
        _why(f"{modulation} wiggle {wiggle:.1f}")
        return None
    return Reading(
        modulation,
        seg.start_s,
        end_s,
        period,
        int(n // (period * r)),
        corr,
        wiggle,
        float(np.percentile(carrier, 2)) if carrier.size else 0.0,
        float(np.percentile(carrier, 98)) if carrier.size else 0.0,
        0.0,
        _mode(period, 0.0) if modulation == "fax" else "APT (2 lines/s)",
    )


# Line periods (ms) of common modes, for the evidence only (the rules above do not use them)
_MODES = {
    "Robot 36": 150.0,
    "Robot 72": 300.0,
    "Martin M1": 446.4,
    "Martin M2": 226.8,
    "Scottie S1": 428.2,
    "Scottie S2": 277.7,
    "Scottie DX": 1050.3,
    "Wraase SC2-180": 711.4,
    "PD 90": 703.0,
    "PD 120": 508.5,
    "PD 180": 754.3,
    "fax 120 lpm": 500.0,
    "fax 60 lpm": 1000.0,
    "fax 240 lpm": 250.0,
}


def _mode(period: float, sync_ms: float) -> str:
    ms = period * 1e3
    name, at = min(_MODES.items(), key=lambda kv: abs(kv[1] - ms))
    return name if abs(at - ms) <= 0.01 * at else "unknown"


def _finding(r: Reading) -> Finding:
    what = {
        "sstv": "slow-scan TV (FM, sync pulses below the picture band)",
        "fax": "fax (FM picture lines)",
        "apt": "APT (an AM subcarrier's picture lines)",
    }[r.modulation]
    return finding(
        "signal.modem",
        f"A picture sent as sound: {what}, {r.lines} lines of {r.period_s * 1e3:.1f} ms "
        f"(mode guess: {r.mode}) at {r.start_s:.1f}-{r.end_s:.1f} s, the carrier at "
        f"{r.low_hz:.0f}-{r.high_hz:.0f} Hz; one carrier traced line after line on a quartz "
        "clock: any bytes can be its pixels, and no voice or instrument plays that.",
        modem="SSTV/fax",
        modulation=r.modulation,
        line_ms=round(r.period_s * 1e3, 2),
        lines=r.lines,
        mode=r.mode,
        start_s=round(r.start_s, 2),
        end_s=round(r.end_s, 2),
        coherence=round(r.coherence, 3),
        wiggle=round(r.wiggle, 1),
        low_hz=round(r.low_hz, 1),
        high_hz=round(r.high_hz, 1),
        sync_ms=round(r.sync_ms, 1),
    )


def scan_sstv(level: npt.NDArray[np.number], sample_rate: int) -> list[Reading]:
    """The readings of a whole mono level (tests, benches)."""
    scanner = SstvScanner(sample_rate)
    block = 1 << 16
    for i in range(0, level.shape[0], block):
        scanner.update(level[i : i + block])
    return scanner.readings()
