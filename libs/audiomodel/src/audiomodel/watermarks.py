"""Watermark-style data hiding under real music: repeating spreading codes and phase coding.

Both hide bits in a real track without changing how it sounds much, so nothing the sample-level
readers measure moves. What they cannot hide is the keyer's own regularity, which no room,
effect, instrument or noise source has.

- **Repeating spreading codes** (DSSS: each bit times a pseudo-noise code of P chips, under the
  music). Whitened (each window's spectrum divided by its smoothed envelope), the music's
  residual decorrelates within a few samples, and the code repeats every P samples: the
  residual correlates with itself at lag P, window after window, with the sign of the product
  of the two bits it spans, so the sign changes at random from window to window. A tone or a
  loop that repeats exactly (a chiptune's periodic noise channel, a drum machine) correlates at
  its period too, but always with the same sign: a waveform that repeats is the same waveform.
  A code that never repeats (a keyed generator with a long period) leaves no such trace: this
  module does not see it.
- **Phase coding** (the opening segment's phases set to +-pi/2 by the bits): see
  :func:`phase_stats`.

A keyed-echo reader (echo hiding's delays on in turn, read from frames' cepstra) was here until
session 20: off in the validator since session 18 and info since session 17 (a square-wave test
signal and a telephone rendition read as keyed), it was removed (FINDINGS.md, session 20); git
holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, Severity, finding
from audiomodel.payload import dangerous_payload

__all__ = [
    "PhaseStats",
    "SpreadStats",
    "WatermarkScanner",
    "local_correlation",
    "pattern_coherence",
    "phase_stats",
    "spread_stats",
    "spreading_code",
]

Float = npt.NDArray[np.float64]

# -- spreading codes ------------------------------------------------------------------------
SPREAD_WINDOW = 8192
STRIDE_SECONDS = 1.5  # a window every 1.5 s from the start (~12 s read)
MIN_PERIOD = 16
MAX_SPREAD_WINDOWS = 8
MIN_CODE_STRENGTH = 50.0  # keyed correlation power at the period against the lags' median
MIN_CODE_PRESENCE = 0.5  # share of windows where |r| at the period is 4 sigma (1 / sqrt(W))
MAX_CODE_BIAS = 0.9  # a waveform that repeats (a loop, an echo) keeps one sign: ~1.0
# ... and takes both signs: real synth music repeats at whole-sample periods too (game music's
# tones at 444 samples, 4 multiples, in 71 % of its windows), always with one sign (0 of them
# negative); a code's sign follows the product of the bits (0.2-0.5 of its windows negative;
# a run of equal bits, as a binary's zero padding, makes it a waveform that repeats: unseen)
MIN_CODE_MINORITY = 0.1
# ... and whose sign pattern over the period's multiples is not a waveform's. In one window a
# waveform that repeats at P correlates at every multiple kP with one sign; one that flips under
# a shift of P (x(t + P) = -x(t): a square, triangle or any odd-harmonic oscillator at period
# 2P) alternates, -, +, -, +; no other pattern is possible (x(t + P) = c x(t) with real c needs
# c = +-1). A code's sign at kP is the mean product of bits k apart: a new draw at each k. The
# per-window |sum r(kP)| or |sum (-1)^k r(kP)| (the better) over sum |r(kP)|, weighted by the
# window's power at the multiples: synth basses at whole-sample periods (a square G2 at 44.1 kHz
# is 450.0 samples: 225 flips, 450 holds) 0.75-1.00 (3 honest synth_music renditions through
# MP3/Vorbis in seeds 38-39, flagged before this, 0.97-0.99; own looped synths 0.75-1.00);
# codes of 100-800 chips under music, WAV/MP3/Vorbis, 0.15-0.63, but a text payload's bits
# are not random (ASCII's even-distance bit products keep one sign: 127 chips x2 at 0.94,
# missed). Read where the window holds >= 6 multiples (periods up to 682 samples): with K
# multiples random signs match one of the two patterns in 4 / 2^K of the windows (1/8 at 5: a
# random-bit 819-chip code read 0.80); a synth's note period is rarely beyond that.
MAX_PATTERN_COHERENCE = 0.7
MIN_PATTERN_MULTIPLES = 6
# Full windows a code needs (~7.5 s of track): fewer decide nothing and are not whitened at
# all. A code's sign is read from window to window, so this can never be below 2.
MIN_CODE_WINDOWS = 5
# keyed power at the period against 4-6 lags off: codes 11-80 (chips of 1-3 samples, MP3 192k
# included), a synth's harmonic note at 96 kHz (own good set, seed 27) ~1
MIN_CODE_SHARPNESS = 4.0
MAX_LONE_BIAS = 0.5  # a period with no second multiple in range must change sign by itself
CODE_LAGS = 6  # the strongest lags read for the period's structure
# How the correlation at the peak lag sits inside each window (the whitened signal's products
# x(t) x(t + lag), in blocks of whole periods of at least LOCAL_BLOCK samples). A code's chips
# fill every sample, and its product over a bit is that bit's product with the bit the lag
# reaches: a new random sign every period, so one block's correlation does not predict the
# next (codes of 100-2,047 chips under music, WAV/MP3/Vorbis: block-to-block persistence -0.27
# to 0.52; the survey's 2,048-chip codes 0.50-0.60: three blocks a window, and a binary's runs of
# equal bits hold a product for several periods). A mix of periodic notes repeats a fixed
# waveform while a note holds: x(t) x(t + lag) is then periodic in t, so every block of whole
# periods sums to the same value until the next note (one note, two an octave apart of any
# shapes, a chord on a common grid: 0.80-1.00; this holds whatever sign pattern the mix gives
# the period's multiples, which MAX_PATTERN_COHERENCE reads only for one waveform's two patterns).
LOCAL_BLOCK = 256
MAX_PERSISTENCE = 0.7
# ... and a code is on in every sample at a steady level, so its correlation is spread over the
# window: the 5% largest products carry 0.21-0.46 of it (codes above). A train of clicks or
# ticks at a steady rate (a clock, a device's interference every 200 ms, a drum hit) correlates
# at its spacing only inside its events, and events that differ take either sign: a 5 Hz tick
# train in an anti-phase stereo recording's mono sum (L + R cancels but for the ticks) put
# 1.00 of it there.
LOCAL_TOP_SHARE = 0.05
MAX_CONCENTRATION = 0.75
ENVELOPE_BINS = 32  # the whitening's smoothing of the power spectrum, in bins


def _window_offset(rate: int) -> int:
    """How far into each stride its spreading window starts: the length of the keyed-echo
    reader's run of 32 frames of ~23 ms (a power of two) that went ahead of it until session 20.
    Kept, so that the windows read the same samples as before (moving them would move what
    ``stego.spread_code`` reads)."""
    return 32 * int(2 ** round(np.log2(max(rate * 0.023, 64))))


# -- spreading codes -------------------------------------------------------------------------


def _spectra_and_envelope(
    windows: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.complexfloating], Float, Float]:
    """Each window's (rows) spectrum zero-padded to twice its length, its power, and the power
    smoothed over ENVELOPE_BINS bins (the music's envelope and its loud partials' skirts) with a
    small floor: what whitening divides by."""
    n = windows.shape[1]
    spectra = scipy.fft.rfft(windows - windows.mean(axis=1, keepdims=True), n=2 * n, axis=1)
    power = spectra.real**2 + spectra.imag**2
    edges = np.cumsum(np.pad(power, ((0, 0), (ENVELOPE_BINS // 2 + 1, ENVELOPE_BINS // 2))), axis=1)
    smooth = (edges[:, ENVELOPE_BINS:] - edges[:, :-ENVELOPE_BINS]) / ENVELOPE_BINS
    smooth = smooth[:, : power.shape[1]]
    return spectra, power, smooth + smooth.mean(axis=1, keepdims=True) * 1e-4 + 1e-12


def whitened_acf(windows: npt.NDArray[np.floating]) -> Float:
    """Each window's (rows) normalised autocorrelation after whitening: its power spectrum
    divided by the spectrum smoothed over ENVELOPE_BINS bins (the music's envelope and its
    loud partials' skirts), lags 0 .. window / 2."""
    n = windows.shape[1]
    _, power, envelope = _spectra_and_envelope(windows)
    flat = power / envelope
    acf = scipy.fft.irfft(flat.astype(np.float32), axis=1)[:, : n // 2 + 1]
    return np.asarray(acf / np.maximum(acf[:, :1], 1e-12), dtype=np.float64)


@dataclass
class SpreadStats:
    windows: int = 0
    period: int = 0  # the code's period (the fundamental of the strong lags)
    peak: int = 0  # the strongest lag
    strength: float = 0.0  # keyed r^2 at the peak against the lags' median mean r^2
    presence: float = 0.0  # share of windows with |r| at the peak over 4 / sqrt(window)
    sign_bias: float = 1.0  # |mean r| / RMS r at the peak: 1 a repeating waveform, ~0 keyed
    sharpness: float = 0.0  # keyed power at the peak against 4-6 lags off it
    minority: float = 0.0  # share of the correlating windows with the rarer sign
    coherence: float = 0.0  # how well one waveform sign pattern fits r at the multiples (1: all)
    persistence: float = 0.0  # block-to-block agreement of the local correlation at the peak
    concentration: float = 0.0  # share of it carried by the 5% largest products
    multiples: int = 0  # strong lags on multiples of the period (the peak's included)
    strong: int = 0  # strong lags in all
    peaks: tuple[tuple[int, float], ...] = ()  # (lag, keyed power / the peak's)


def spread_stats(acf: Float) -> SpreadStats:
    r = acf[:, MIN_PERIOD:]
    n = 2 * (acf.shape[1] - 1)
    m2 = np.mean(r**2, axis=0)
    floor = float(np.median(m2)) + 1e-12
    mean = np.mean(r, axis=0)
    # the part of a lag's correlation power that changes from window to window
    keyed = m2 - mean**2
    k = int(np.argmax(keyed))
    rms = float(np.sqrt(m2[k]))
    # the strong lags, each the top of its +-3 neighbourhood
    peaks: list[int] = []
    heights: list[float] = []
    left = keyed.copy()
    for _ in range(CODE_LAGS):
        j = int(np.argmax(left))
        if left[j] < 0.2 * keyed[k]:
            break
        peaks.append(j + MIN_PERIOD)
        heights.append(float(left[j] / max(float(keyed[k]), 1e-12)))
        left[max(j - 3, 0) : j + 4] = -np.inf
    top = peaks[0] if peaks else MIN_PERIOD + k
    # the longest period whose multiples hold the two strongest lags and two thirds of the
    # strong ones, to the sample (a code's correlation comes back at each multiple of its period
    # exactly: its chips are on the sample grid; a note's period is fractional, so its multiples
    # drift off by a sample (a synth's 489.8 samples: 980, 1469, 1959, 2449), and a chord's
    # notes put theirs at unrelated lags)
    period, multiples = top, 1
    for divisor in range(1, 9):
        p = round(top / divisor)
        if p < MIN_PERIOD:
            break
        if top != divisor * p:
            continue
        on_grid = [q % p == 0 for q in peaks]
        count = sum(on_grid)
        if len(peaks) >= 2 and all(on_grid[:2]) and 3 * count >= 2 * len(peaks):
            period, multiples = p, count
            break
    # of the windows where the peak lag correlates, the share with the rarer sign: a waveform
    # that repeats keeps its sign (0), a code keyed by bits takes both
    strong = np.abs(r[:, k]) > 4 / np.sqrt(n)
    positive = int(np.count_nonzero(r[strong, k] > 0))
    minority = min(positive, int(strong.sum()) - positive) / max(int(strong.sum()), 1)
    # the peak's sharpness: a code's chips (held up to 3 samples) decorrelate 4 samples off the
    # period; a tone's correlation peak is as wide as its highest partial's period
    j = top - MIN_PERIOD
    side = [keyed[j + d] for d in (-6, -5, -4, 4, 5, 6) if 0 <= j + d < keyed.size]
    sharpness = float(keyed[j]) / max(max(side) if side else 0.0, float(keyed[j]) * 1e-3, 1e-12)
    return SpreadStats(
        windows=acf.shape[0],
        coherence=pattern_coherence(acf, period),
        sharpness=sharpness,
        period=period,
        peak=top,
        strength=float(keyed[k]) / floor,
        presence=float(np.mean(strong)),
        sign_bias=abs(float(mean[k])) / max(rms, 1e-12),
        minority=minority,
        multiples=multiples,
        strong=len(peaks),
        peaks=tuple(zip(peaks, heights, strict=True)),
    )


def pattern_coherence(acf: Float, period: int) -> float:
    """How well a waveform's sign pattern over the multiples of ``period`` (all one sign, or
    alternating) fits each window's correlations there, weighted by the windows' power at them;
    0 where the window holds fewer than MIN_PATTERN_MULTIPLES multiples (unread)."""
    count = (acf.shape[1] - 1) // max(period, 1)
    if count < MIN_PATTERN_MULTIPLES:
        return 0.0
    k = np.arange(1, count + 1)
    r = acf[:, period * k]
    same = np.abs(r.sum(axis=1))
    flipped = np.abs((r * (-1.0) ** k).sum(axis=1))
    fit = np.maximum(same, flipped) / np.maximum(np.abs(r).sum(axis=1), 1e-12)
    power = (r**2).sum(axis=1)
    return float((fit * power).sum() / max(float(power.sum()), 1e-12))


def whitened(windows: npt.NDArray[np.floating]) -> Float:
    """Each window (rows) whitened as in :func:`whitened_acf`: its spectrum divided by the
    square root of the smoothed power spectrum, back in time (the window's length)."""
    n = windows.shape[1]
    spectra, _, envelope = _spectra_and_envelope(windows)
    flat = spectra / np.sqrt(envelope)
    return np.asarray(scipy.fft.irfft(flat, axis=1)[:, :n], dtype=np.float64)


def local_correlation(
    windows: npt.NDArray[np.floating], period: int, lag: int
) -> tuple[float, float]:
    """(persistence, concentration) of the whitened windows' correlation at ``lag``: how well
    one block's correlation (blocks of whole ``period`` s, LOCAL_BLOCK samples at least)
    predicts the next's (1: a waveform holding, ~0: bits), and the share of the correlation
    the LOCAL_TOP_SHARE largest products carry (see the constants). Persistence is 0 where a
    window holds fewer than three blocks (unread)."""
    y = whitened(windows)
    n = y.shape[1]
    products = y[:, : n - lag] * y[:, lag:]
    top = max(1, int(LOCAL_TOP_SHARE * products.shape[1]))
    largest = -np.partition(-np.abs(products), top - 1, axis=1)[:, top - 1 : top]
    carried = np.where(np.abs(products) >= largest, products, 0.0).sum(axis=1)
    total = float(np.abs(products.sum(axis=1)).sum())
    concentration = float(np.abs(carried).sum()) / max(total, 1e-12)
    block = period * max(1, -(-LOCAL_BLOCK // period))
    count = (n - lag) // block
    if count < 3:
        return 0.0, concentration
    a = y[:, : count * block].reshape(y.shape[0], count, block)
    b = y[:, lag : lag + count * block].reshape(y.shape[0], count, block)
    c = (a * b).sum(axis=2) / np.sqrt((a * a).sum(axis=2) * (b * b).sum(axis=2) + 1e-30)
    agree = float((c[:, :-1] * c[:, 1:]).sum())
    spread = float(((c[:, :-1] ** 2 + c[:, 1:] ** 2) / 2).sum())
    return agree / max(spread, 1e-12), concentration


def spreading_code(stats: SpreadStats, max_lag: int) -> bool:
    """A whitened residual that repeats at a fixed period through the track, not as a waveform
    repeats (one sign) but as a code keyed by bits."""
    if stats.strength < MIN_CODE_STRENGTH or stats.presence < MIN_CODE_PRESENCE:
        return False
    if stats.sign_bias > MAX_CODE_BIAS or stats.minority < MIN_CODE_MINORITY:
        return False
    if stats.windows < MIN_CODE_WINDOWS or stats.sharpness < MIN_CODE_SHARPNESS:
        return False
    if stats.coherence > MAX_PATTERN_COHERENCE:
        return False  # one sign pattern at the multiples: a waveform repeating, not bits
    if stats.persistence > MAX_PERSISTENCE:
        return False  # the correlation holds from block to block: notes, not bits
    if stats.concentration > MAX_CONCENTRATION:
        return False  # the correlation sits in a few events: clicks at a steady rate
    if stats.multiples >= 2:
        return True  # the strong lags on the multiples of one period: a code's repeats
    # one strong lag, its next multiple out of range: it must change sign by itself
    return stats.strong == 1 and 2 * stats.period > max_lag and stats.sign_bias <= MAX_LONE_BIAS


# -- phase coding ---------------------------------------------------------------------------
PHASE_LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768)
QUADRATURE = 0.02  # |Re X| under 2 % of |X|: the phase within ~1.1 degrees of +-pi/2
# Of the bins that carry the segment (over 1e-3 of its loudest), the share at +-pi/2: random
# phases put 1.3 % there (dev look-alikes and sox effects 1.2-3.2 %), a phase-coded segment
# 0.89-0.98 (the survey's three and a 16,384-sample variant)
MIN_QUADRATURE_SHARE = 0.5
MIN_QUADRATURE_BINS = 256


@dataclass
class PhaseStats:
    length: int = 0
    bins: int = 0  # bins that carry the segment
    share: float = 0.0  # of them at +-pi/2
    bits: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))


def phase_stats(head: npt.NDArray[np.floating]) -> PhaseStats:
    """The track's opening segment, at each power-of-two length: how many of its bins have a
    phase of exactly +-pi/2. Phase coding (Bender et al.) sets the first segment's phases to
    +-pi/2 by the bits and keeps every later segment's phase differences; no sound sets the
    phases of hundreds of bins to a quarter turn."""
    best = PhaseStats()
    chosen: tuple[npt.NDArray[np.complex128], npt.NDArray[np.bool_]] | None = None
    for length in PHASE_LENGTHS:
        if head.size < length:
            break
        spectrum = np.fft.rfft(head[:length].astype(np.float64))
        magnitude = np.abs(spectrum)
        carried = magnitude > 1e-3 * float(magnitude.max())
        quadrature = carried & (np.abs(spectrum.real) < QUADRATURE * magnitude)
        count = int(carried.sum())
        share = float(quadrature.sum()) / max(count, 1)
        if count >= MIN_QUADRATURE_BINS and share > best.share:
            best = PhaseStats(length, count, share)
            chosen = (spectrum, quadrature)
    if chosen is not None and best.share >= MIN_QUADRATURE_SHARE:
        # the bits of the best length only, and only where they will be reported
        spectrum, quadrature = chosen
        # the payload's bins from the first run of 32 in a row at +-pi/2 (a bin there by
        # chance ahead of it would shift every byte)
        runs = np.convolve(quadrature.astype(np.int32), np.ones(32, np.int32), "valid")
        first = int(np.argmax(runs == 32)) if np.any(runs == 32) else 0
        last = int(np.flatnonzero(quadrature)[-1]) + 1
        # every bin from there on, one bit each (a bin the 16-bit rounding knocked off the
        # quarter turn still holds its place)
        best.bits = (spectrum.imag[first:last] < 0).astype(np.uint8)
    return best


# -- the scanner ----------------------------------------------------------------------------


class WatermarkScanner:
    """Keeps short stretches of the mono level at a steady stride through the track's first
    MAX_SPREAD_WINDOWS strides (a window each for the codes) and its opening (for phase coding),
    and reads them at the report. A spreading code runs through the whole track, so a sample of
    it is enough."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = sample_rate
        offset = _window_offset(sample_rate)
        stride = max(offset + SPREAD_WINDOW, int(STRIDE_SECONDS * sample_rate))
        # (start, length) of each stretch kept, in stream order: the windows, then the opening
        self._spans = [(k * stride + offset, SPREAD_WINDOW) for k in range(MAX_SPREAD_WINDOWS)]
        self._spans.append((0, PHASE_LENGTHS[-1]))
        self._kept: dict[int, list[npt.NDArray[np.float32]]] = {}
        self._position = 0

    def update(self, summed: npt.NDArray[np.integer]) -> None:
        begin, end = self._position, self._position + summed.size
        self._position = end
        for i, (start, length) in enumerate(self._spans):
            lo, hi = max(start, begin), min(start + length, end)
            if lo < hi:
                self._kept.setdefault(i, []).append(
                    summed[lo - begin : hi - begin].astype(np.float32)
                )

    def _span(self, i: int) -> npt.NDArray[np.float32]:
        parts = self._kept.get(i, [])
        return (
            np.concatenate(parts)
            if len(parts) > 1
            else (parts[0] if parts else np.zeros(0, np.float32))
        )

    def stats(self) -> SpreadStats:
        windows = [self._span(k) for k in range(MAX_SPREAD_WINDOWS)]
        full = [w for w in windows if w.size == SPREAD_WINDOW]
        spread = SpreadStats()
        # fewer windows than a code needs decide nothing: a short clip's are not whitened at
        # all (SpreadStats() then, as for no windows)
        if len(full) >= MIN_CODE_WINDOWS:
            stacked = np.stack(full)
            spread = spread_stats(whitened_acf(stacked))
            if spreading_code(spread, SPREAD_WINDOW // 2):  # only then: the windows again
                spread.persistence, spread.concentration = local_correlation(
                    stacked.astype(np.float64), spread.period, spread.peak
                )
        return spread

    def report(self) -> list[Finding]:
        if self._position < 4 * SPREAD_WINDOW:
            return []
        spread = self.stats()
        out = []
        phase = phase_stats(self._span(len(self._spans) - 1))
        if phase.share >= MIN_QUADRATURE_SHARE:
            out.append(self._phase_finding(phase))
        if spreading_code(spread, SPREAD_WINDOW // 2):
            out.append(self._spread_finding(spread))
        return out

    def _phase_finding(self, stats: PhaseStats) -> Finding:
        head = (
            f"{stats.share:.0%} of the {stats.bins} bins of the track's first {stats.length} "
            "samples have a phase of exactly +-pi/2 (random phases put 1-3 % there): phase "
            "coding, bits set as the opening segment's phases"
        )
        where: dict[str, int | float | str | bool] = {
            "segment": stats.length,
            "bins": stats.bins,
            "quadrature_share": round(stats.share, 3),
        }
        # the bits from the first quadrature bin, at each of the eight bit offsets (a bin at
        # +-pi/2 by chance ahead of the payload shifts it), either polarity
        candidates = [
            np.packbits(b[k:]).tobytes() for b in (stats.bits, 1 - stats.bits) for k in range(8)
        ]
        for data in candidates:
            kind, name, offset = dangerous_payload(data)
            if kind:
                return finding(
                    "stego.phase_coding",
                    f"{head}; read as bits they hold {kind} data ({name} header at byte {offset}).",
                    Severity.MALICIOUS,
                    **where,
                    signature=name,
                    signature_offset=offset,
                )
        return finding("stego.phase_coding", head + ".", **where)

    def _spread_finding(self, stats: SpreadStats) -> Finding:
        return finding(
            "stego.spread_code",
            f"The whitened residual repeats every {stats.period} samples through the track "
            f"(correlation power at lag {stats.peak} {stats.strength:.0f}x the lags' median, in "
            f"{stats.presence:.0%} of the windows), with a sign that changes from window to "
            f"window (bias {stats.sign_bias:.2f}): a spreading code keyed by bits under the "
            "music; no instrument or noise source repeats a noise-like waveform with a "
            "changing sign.",
            period=stats.period,
            peak_lag=stats.peak,
            strength=round(stats.strength, 1),
            presence=round(stats.presence, 3),
            sign_bias=round(stats.sign_bias, 3),
            multiples=stats.multiples,
        )
