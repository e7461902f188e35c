"""Data sent as OFDM: a cyclic prefix copies the end of every symbol to its start.

An OFDM modem (liquid-dsp's and quiet's profiles, DRM, Wi-Fi- and LTE-like waveforms, home-made
ones) sends each symbol as an inverse FFT of N samples whose carriers the data sets, and copies
the symbol's last L samples in front of it (the cyclic prefix, so that the channel's echoes do
not spill from one symbol into the next). Every symbol period P = N + L the signal repeats L
samples it sent N samples earlier. Whatever the data, that leaves two marks, both measured on
the analytic signal ``z`` of a segment (200 Hz up, so that bass and hum weigh nothing):

- its autocorrelation at lag N stands alone (``lone``): |r(N)| is about L / P of the power for
  the modem alone (less under music), the lags around N hold little (the carriers' band is
  white), and there is no peak at 2N (a copy, not a period);
- the lag product ``z[n] z*[n + N]`` is large only inside the prefixes, so it repeats every
  symbol: its spectrum holds a line at the symbol rate fs / P (``line``, over the spectrum's
  floor), and only at lag N: a few correlation widths away, the same line is gone (``specific``).

What sound does instead: a pitched note correlates at its period and at every multiple of it
(a peak at 2D too, and |r| near 1, far over L / P for any prefix the line's rate implies); an
echo, a slap-back, a Haas delay, a comb filter or a flanger at rest correlate at one lag, but
all the time, so their lag product follows the music's envelope, not a clock of P samples;
partials that beat at a rate in the line's range beat at every lag alike (not ``specific``).
The corpus' 589 good files and the good renditions of seeds 20-21 never read a segment with all
three marks at the same lag twice (FINDINGS.md, "Data sent as OFDM").

Cost: a segment of ``SEGMENT`` samples every ``HOP_S`` of audio (one real FFT and one complex
inverse FFT of twice its length); the lag products (two complex FFTs each) only for the few
candidates the autocorrelation passes. Bursts shorter than about a second may fall between the
segments read. OFDM without a prefix (zero-padded symbols) and single-carrier QAM leave no copy:
not found here (``cyclic.py`` reads the symbol clock of single-carrier modems).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
from scipy.ndimage import maximum_filter1d

from audiomodel.findings import Finding, finding

SEGMENT = 4096  # samples a reading: ~93 ms at 44.1 kHz, 12-60 symbols of 64-1024-sample FFTs
HOP_S = 2.0  # one reading every two seconds (and every segment after one that reads a prefix)
BAND_LOW_HZ = 200.0
MIN_LAG = 32  # the shortest FFT looked for (Wi-Fi's 64 at 20 MHz is 32+ samples at audio rates)
MAX_LAG = SEGMENT // 8  # the longest: the lag product needs 8+ symbols in the segment
CANDIDATES = 4  # the strongest lags examined a reading
# |r| at the lag against the median over the ring of lags around it (2-8 correlation widths
# away): the copy stands alone
MIN_R = 0.05
MIN_LONE = 4.0
MAX_DOUBLE = 0.5  # |r| at twice the lag, relative: a period repeats there, a copy does not
# The prefix is 1/32 to 1/3 of the FFT length (DVB-T 1/32-1/4, Wi-Fi 1/4, LTE 1/14 or 1/4,
# DRM's usual modes 1/9-1/4, liquid-dsp's and quiet's profiles 1/8-1/6): the line's rate is
# searched over fs / (1.33 N) .. fs / (1.03 N). A pulse wave's or a voice's envelope lines
# crowd the range's low edge (a period of 1.4-1.6 N): a line at the range's edge is no line
MIN_PREFIX = 1 / 32
MAX_PREFIX = 1 / 3
# |r| cannot exceed the prefix's share of the period (the copy is all the correlation there
# is); a small margin for the estimate's error
R_OVER_PREFIX = 1.25
R_MARGIN = 0.02
MIN_LINE = 3.0  # the symbol-rate lines (mean of HARMONICS) over the lag product spectrum's floor
MIN_SPECIFIC = 4.0  # ... over the same rate's strength a few correlation widths away
HARMONICS = 3  # the prefix's lines averaged: the symbol rate and its next two multiples
PAD = 4  # the lag product's FFT is this many times its length
PITCH_MARGIN = 2.0  # the prefix's line over the line at the lag's own rate
MIN_READINGS = 3  # readings with all the marks at one FFT length (within LAG_MATCH): the
# reading after a hit is of the same sound, so two in a row are not two chances
LAG_MATCH = 0.01
PERIOD_MATCH = 0.03  # a modem's symbol period is one number: readings agree on it


@dataclass(frozen=True, slots=True)
class OfdmReading:
    """One segment whose analytic signal repeats itself at ``lag`` every ``period`` samples."""

    start_s: float
    lag: int
    period: float
    r: float
    line: float
    specific: float


@dataclass(frozen=True, slots=True)
class OfdmTransmission:
    readings: tuple[OfdmReading, ...]
    sample_rate: int

    @property
    def lag(self) -> int:
        return int(np.median([r.lag for r in self.readings]))

    @property
    def period(self) -> float:
        return float(np.median([r.period for r in self.readings]))


class OfdmScanner:
    """Streams a mono level block by block, reading a segment every ``HOP_S``;
    :meth:`report` finds an FFT length whose cyclic prefix recurs in several readings."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = int(sample_rate)
        self.hop = max(SEGMENT, round(HOP_S * self.rate))
        self._seen = 0  # samples of the stream before the current block
        self._next = 0  # where the next reading starts
        self._partial: list[npt.NDArray[np.float32]] = []
        self._partial_size = 0
        self.readings: list[OfdmReading] = []
        self._band = np.fft.rfftfreq(2 * SEGMENT, 1 / self.rate) >= BAND_LOW_HZ
        self._band_screen = self._band[::2]  # the same frequencies at the segment's own length

    def update(self, level: npt.NDArray[np.number]) -> None:
        end = self._seen + level.shape[0]
        while self._next < end:
            start = max(self._next, self._seen) - self._seen
            take = level[start : start + SEGMENT - self._partial_size]
            self._partial.append(np.asarray(take, dtype=np.float32))
            self._partial_size += take.shape[0]
            if self._partial_size < SEGMENT:
                break  # the rest of the segment comes with the next block
            segment = np.concatenate(self._partial) if len(self._partial) > 1 else self._partial[0]
            self._partial, self._partial_size = [], 0
            found = self._read(segment, self._next)
            # Screen, then read: where a reading finds a prefix, the next one follows on at once
            # (a burst of a second or less is read whole), elsewhere one every ``HOP_S``
            self._next += SEGMENT if found else self.hop
        self._seen = end

    def _read(self, segment: npt.NDArray[np.float32], start: int) -> bool:
        if not segment.any():
            return False
        # The screen: the analytic signal's circular autocorrelation (the one-sided power
        # through a complex inverse FFT of the segment's own length; the lags read are an eighth
        # of it, so the wrapped pairs only add a little noise)
        spectrum = scipy.fft.rfft(segment)
        spectrum[~self._band_screen] = 0
        one_sided = np.zeros(SEGMENT, dtype=np.complex64)
        one_sided[: spectrum.size] = spectrum.real**2 + spectrum.imag**2
        correlation = scipy.fft.ifft(one_sided)[: 2 * MAX_LAG + 1]
        if correlation[0].real <= 0:
            return False
        r = np.abs(correlation) / correlation[0].real
        strongest = np.argpartition(r[MIN_LAG : MAX_LAG + 1], -CANDIDATES)[-CANDIDATES:] + MIN_LAG
        # The band's correlation width: the lags of the main lobe around 0 (fs / bandwidth)
        width = max(2, int(np.argmax(r[1:MIN_LAG] < 0.5)) + 1)
        candidates = [
            int(lag)
            for lag in strongest
            if r[lag] >= MIN_R
            and r[2 * lag] <= MAX_DOUBLE * r[lag]
            and _lone(r, int(lag), width) >= MIN_LONE
        ]
        if not candidates:
            return False
        # The reading: lag products of the analytic signal, zero-padded (no wrapped pairs)
        padded = scipy.fft.rfft(segment, 2 * SEGMENT)
        padded[~self._band] = 0
        analytic = np.zeros(2 * SEGMENT, dtype=np.complex64)
        analytic[: padded.size] = padded
        analytic[1 : padded.size - 1] *= 2
        z = scipy.fft.ifft(analytic)[:SEGMENT]
        found = False
        for lag in candidates:
            reading = _prefix_line(z, lag, float(r[lag]), start / self.rate)
            if reading is not None:
                self.readings.append(reading)
                found = True
        return found

    def transmissions(self) -> list[OfdmTransmission]:
        """Readings grouped by FFT length and symbol period; ``MIN_READINGS`` or more that
        agree on both are a modem."""
        groups: list[list[OfdmReading]] = []
        for reading in sorted(self.readings, key=lambda r: r.lag):
            # one transmission's lags scatter by a sample or two: chained, not to the first
            if groups and reading.lag - groups[-1][-1].lag <= max(2, LAG_MATCH * reading.lag):
                groups[-1].append(reading)
            else:
                groups.append([reading])
        found = []
        for group in groups:
            period = float(np.median([r.period for r in group]))
            agreeing = [r for r in group if abs(r.period - period) <= PERIOD_MATCH * period]
            if len(agreeing) >= MIN_READINGS:
                found.append(
                    OfdmTransmission(tuple(sorted(agreeing, key=lambda r: r.start_s)), self.rate)
                )
        return found

    def report(self) -> list[Finding]:
        return [_finding(t) for t in self.transmissions()]


def _lone(r: npt.NDArray[np.float32], lag: int, width: int) -> float:
    """|r| at ``lag`` over the median of the lags 3-12 correlation widths around it."""
    ring = np.concatenate(
        [r[max(1, lag - 12 * width) : lag - 3 * width], r[lag + 3 * width : lag + 12 * width]]
    )
    if ring.size == 0:
        return 0.0
    return float(r[lag] / max(float(np.median(ring)), 1e-3))


def _prefix_line(
    z: npt.NDArray[np.complex64], lag: int, r: float, start_s: float
) -> OfdmReading | None:
    """The symbol-rate line of the lag product at ``lag``, if it is there and only there."""
    n = z.shape[0]
    size = PAD * n  # zero-padded: the line's rate between the segment's own bins

    def cycle_power(at: int) -> npt.NDArray[np.float32]:
        product = z[: n - at] * np.conj(z[at:])
        product = (product - product.mean()) * np.hanning(n - at).astype(np.float32)
        spectrum = scipy.fft.fft(product, size)
        return np.asarray(spectrum.real**2 + spectrum.imag**2, dtype=np.float32)

    power = cycle_power(lag)
    low = max(1, int(size / ((1 + MAX_PREFIX) * lag)))
    high = int(size / ((1 + MIN_PREFIX) * lag))
    if high <= low:
        return None
    # The prefix is a short window every period: its line comes with harmonics of nearly its
    # strength, a beat or an envelope's wobble mostly without. The rate is the one whose first
    # HARMONICS lines are strongest on average (each the best bin within the zero padding)
    peaks = maximum_filter1d(power, 2 * PAD + 1)
    rates = np.arange(low, high)
    if HARMONICS * rates[-1] + PAD >= size // 2:
        return None
    comb = sum(peaks[h * rates] for h in range(1, HARMONICS + 1)) / HARMONICS
    k = low + int(np.argmax(comb))
    if k in (low, high - 1):
        return None
    floor = float(np.median(power[max(1, low // 2) : HARMONICS * high])) + 1e-30
    line = float(comb[k - low]) / floor
    period = size / k
    prefix_share = max(period - lag, 0.0) / period
    if line < MIN_LINE or r > R_OVER_PREFIX * prefix_share + R_MARGIN:
        return None
    # A voice or a note that repeats every ``lag`` samples pulses at that very rate: its
    # envelope's line sits at size / lag, the prefix's below it
    pitch = round(size / lag)
    if power[pitch - PAD : pitch + PAD + 1].max() * PITCH_MARGIN > power[k]:
        return None
    aside = cycle_power(lag + max(8, lag // 16))[k - PAD : k + PAD + 1].max()
    specific = float(power[k]) / max(float(aside), floor * 1e-3)
    if specific < MIN_SPECIFIC:
        return None
    return OfdmReading(start_s, lag, period, r, line, specific)


def _finding(transmission: OfdmTransmission) -> Finding:
    readings = transmission.readings
    rate = transmission.sample_rate
    start_s, end_s = readings[0].start_s, readings[-1].start_s + SEGMENT / rate
    lag, period = transmission.lag, transmission.period
    symbol_rate = rate / period
    return finding(
        "signal.modem",
        f"Data sent as sound: OFDM with a cyclic prefix at {start_s:.1f}-{end_s:.1f} s: the "
        f"signal repeats itself {lag} samples later ({lag / rate * 1e3:.2f} ms, the FFT length) "
        f"in windows that recur every {period:.0f} samples ({symbol_rate:.0f} symbols a "
        f"second) in {len(readings)} readings; no instrument, voice or room copies its last "
        f"milliseconds in front of each symbol.",
        start_s=round(start_s, 2),
        end_s=round(end_s, 2),
        modulation="OFDM",
        modem="OFDM with a cyclic prefix",
        fft_length=lag,
        symbol_period_samples=round(period, 1),
        baud=round(symbol_rate, 1),
        readings=len(readings),
        correlation=round(max(r.r for r in readings), 3),
        line_over_floor=round(max(r.line for r in readings), 1),
    )
