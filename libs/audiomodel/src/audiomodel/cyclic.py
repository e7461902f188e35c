"""Digital modulation found by its symbol clock in the signal's envelope (cyclostationarity).

A PSK, QAM or scrambled-baseband modem sends one symbol every 1/R s, each a pulse of a fixed
shape whose amplitude or phase the data picks. Whatever the data, the power of the signal
rises and falls with the pulse train: the squared envelope ``|z(t)|^2`` of the analytic signal
is periodic on average with the symbol period, so its spectrum holds a sharp line at the symbol
rate R (hundreds to thousands of Hz, held to a crystal's accuracy over the whole burst), while
the signal's own spectrum is a spread band with no line there: the line is made by thousands of
frequency pairs ``(f, f + R)`` across the band's edges, each adding a little in phase
(``E(R) = sum_f Z(f + R) Z*(f)``). This is what no microphone, voice or instrument makes:

- a sound's envelope lines come from pairs of its own spectral lines (a held note's partials
  beat at its pitch, two notes at their difference), so a handful of frequency pairs carry the
  whole envelope line; the test asks that the strongest 1 % of the pairs carry little of it
  (``MAX_TOP_PAIR_SHARE``);
- tempo, a sequencer's tick and a drum machine's loop are periodic at under ~20 Hz (a chiptune
  frame clock at 50-60 Hz): their envelope is a comb of lines at multiples of that rate, many
  of them below R; a modem's envelope holds lines only at multiples of R, so a chunk with
  strong lines below the candidate not at its multiples is not read (``MAX_STRAY_LINES``);
- vibrato, portamento and the drift of a player smear a line over many bins in ~3 s.

FSK with continuous phase keeps a constant envelope (no line; the FSK test finds its tones, and
:func:`keyed_band_lines` the symbol clock in its tones' bands, below);
OFDM's envelope is near Gaussian, its symbol rate (tens of Hz) below ``MIN_RATE_HZ``.

The test reads a segment from the middle of each analysed chunk (``modem.CHUNK`` samples at
the reduced rate): 16,384 samples (~0.7 s, 100-7,000 symbols at 150-10,000 Bd) with the band
whitened (``WHITENED``) on every chunk, and 8,192 samples lightly whitened (``LIGHT``) on every
fourth chunk and after a chunk with a line. Each reading is one real FFT of the segment, one
inverse complex FFT (the analytic signal of 200 Hz up) and one real FFT of the squared
envelope, in single precision: ~1 ms a chunk, ~5 % of the validator (FINDINGS.md; the whole
chunk read twice cost ~40 %). A line over N symbols stands ~N times over the floor, so the
bars are lower than over a whole chunk and the weakest modems under music are lost. A
transmission is consecutive chunks whose lines sit at the same rate; it is reported from
``MIN_CHUNKS`` chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.modem_kernels import row_medians

Floats = npt.NDArray[np.float64]

BAND_LOW_HZ = 200.0  # the analytic band starts here: bass and drums beat at tempo below it
MIN_RATE_HZ = 150.0  # symbol rates looked for: tempo, ticks and frame clocks sit below
MAX_RATE_HZ = 10000.0
FLOOR_BLOCK_HZ = 94.0  # the envelope spectrum's floor: the median over blocks this wide
WHITEN_BLOCK_HZ = 47.0  # the band's level: its mean (its median for lines) over blocks this wide


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of a chunk: its middle ``samples`` (a power of two), the band divided by its
    level to ``exponent``, a line counted from ``min_ratio`` over the envelope spectrum's floor.
    A line over N symbols stands ~N times over the floor of a random envelope, so the bar
    scales with the segment."""

    samples: int
    exponent: float
    min_ratio: float


# 0.5 whitens the band (what finds a modem under music), over 16,384 samples (~0.7 s: 100-7,000
# symbols at 150-10,000 Bd). 0.25 keeps half its shape in dB (what finds a clean modem whose
# pulse has far, sign-alternating sidelobes: whitened, pairs across each lobe boundary cancel
# the main lobe's line); such a modem stands alone and strong, so this reading takes a shorter
# segment, a higher bar, and every ``LIGHT_EVERY``-th chunk only (``light``)
WHITENED = Reading(16384, 0.5, 50.0)
LIGHT = Reading(8192, 0.25, 100.0)
LIGHT_EVERY = 4  # chunks: the light reading's cost is held to a fraction of the whitened one's
CANDIDATES = 4  # lines examined a chunk (the strongest)
TOP_PAIRS = 0.01  # the share of frequency pairs whose contribution is weighed
MAX_TOP_PAIR_SHARE = 0.35  # of the line carried by the strongest 1 % of pairs
MAX_STRAY_LINES = 3  # strong envelope lines below the rate that are not its multiples
RATE_MATCH = 0.002  # relative: chunks of one transmission share the rate this closely
MIN_CHUNKS = 2
# ... and reported when their median line stands this far over the floor. Good renditions
# the scan had not seen (fresh set seed 10: a Vorbis synth at 32 kHz, a hard-clipped 16 kHz
# chiptune, a Vorbis tone at -89 dBFS) kept lines at 2-3 chunks of 59, 61 and 108x: the
# chance lines of a clip's or a codec's products. direwolf's QPSK, 8PSK and G3RUH read
# 220-1,370x alone and at 0 dB under music, 110-1,030x at -10 dB (one 8PSK mix, 110x, and
# the -20 dB ones at 87-234x are among those given up).
MIN_REPORT_RATIO = 150.0
# Sample rates audio is mastered, clipped and stored at (converters, DAWs, codecs, telephony)
STANDARD_RATES_HZ = (
    8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000,
)  # fmt: skip
MAX_CONVERSION_STEP = 4  # a source rate at most this many times the file's
# a spectral line: its bin over its block's median over 16,384 samples; a held partial stands
# over a noise-like band in proportion to the segment, so the bar scales with it (25 over 8,192;
# over 8,192 samples at 50, clipped synth chords' products were read as data)
PARTIAL_POWER = 50.0
PARTIAL_SAMPLES = 16384
MIN_LINE_PAIRS = 2  # pairs of lines the rate apart that make the envelope line a sound's


@dataclass(frozen=True, slots=True)
class CyclicLine:
    """One chunk's symbol-rate line: the rate (Hz = Bd), its power over the floor, the share
    of it carried by the strongest pairs, and the chunk's time span."""

    rate_hz: float
    ratio: float
    top_pair_share: float
    start_s: float
    end_s: float


def _floor(power: Floats, block: int) -> Floats:
    """A robust floor of ``power`` per bin: the median of each block of ``block`` bins,
    the larger of a block's and its neighbours' medians (a line near a block edge)."""
    blocks = power.size // block
    medians = row_medians(power[: blocks * block].reshape(blocks, block))
    padded = np.concatenate((medians[:1], medians, medians[-1:]))
    smooth = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    floor = np.repeat(smooth, block)
    if floor.size < power.size:
        floor = np.concatenate((floor, np.full(power.size - floor.size, floor[-1])))
    return floor + 1e-30


def _whitened(
    band: npt.NDArray[np.complex64], exponent: float, block: int
) -> npt.NDArray[np.complex64]:
    """``band`` over its local level (blocks of ``block`` bins): music's energy falls
    by tens of dB from the bass up and would otherwise bury a modem's band in its own beating;
    divided out, every frequency pair weighs by how much the modem holds of it."""
    power = (band.real**2 + band.imag**2).astype(np.float64)
    blocks = max(1, power.size // block)
    level = power[: blocks * block].reshape(blocks, -1).mean(axis=1)
    level = np.repeat(level, block)
    if level.size < power.size:
        level = np.concatenate((level, np.full(power.size - level.size, level[-1])))
    whitened: npt.NDArray[np.complex64] = (band / (level + 1e-30) ** exponent).astype(np.complex64)
    return whitened


def _top_pair_share(band: npt.NDArray[np.complex64], lag: int) -> float:
    """The share of ``sum_f Z(f + lag) Z*(f)`` carried by its strongest ``TOP_PAIRS`` terms
    (each term's part along the sum): ~1 when a few pairs of lines make it, small when the
    whole band adds in phase."""
    terms = band[lag:] * np.conj(band[:-lag])
    total = terms.sum()
    if abs(total) == 0:
        return 1.0
    along = (terms * np.conj(total) / abs(total)).real
    k = max(8, int(TOP_PAIRS * along.size))
    top = np.partition(along, along.size - k)[-k:]
    return float(min(1.0, max(0.0, top.sum() / along.sum())))


def cyclic_lines(
    x: Floats, sr: float, start_s: float, end_s: float, *, light: bool
) -> list[CyclicLine]:
    """Symbol-rate lines of one chunk ``x`` (centred, at ``sr``, spanning ``start_s``-``end_s``):
    lines of the squared envelope at ``MIN_RATE_HZ``-``MAX_RATE_HZ`` standing over the floor,
    made by the whole band (``MAX_TOP_PAIR_SHARE``), not by pairs of spectral lines, in a chunk
    whose envelope has few other lines below them; read ``WHITENED``, and ``LIGHT`` too when
    ``light``."""
    found: list[CyclicLine] = []
    for reading in (WHITENED, LIGHT) if light else (WHITENED,):
        size = min(reading.samples, x.size)
        middle = (x.size - size) // 2
        spectrum = scipy.fft.rfft(x[middle : middle + size].astype(np.float32))
        for line in _lines_whitened(spectrum, size, sr, (start_s, end_s), reading):
            _add_if_new_rate(found, line)
    return found


def _add_if_new_rate(found: list[CyclicLine], line: CyclicLine) -> None:
    """Keep ``line`` unless a kept one has its rate (within ``RATE_MATCH``)."""
    if all(abs(line.rate_hz - f.rate_hz) > RATE_MATCH * line.rate_hz for f in found):
        found.append(line)


def _lines_whitened(
    spectrum: npt.NDArray[np.complex64],
    size: int,
    sr: float,
    span: tuple[float, float],
    reading: Reading,
) -> list[CyclicLine]:
    """:func:`cyclic_lines` of one reading of the chunk's first ``size`` samples (``spectrum``,
    their real FFT)."""
    bin_hz = sr / size
    low = int(BAND_LOW_HZ / bin_hz)
    level_block = max(1, round(WHITEN_BLOCK_HZ / bin_hz))
    analytic = np.zeros(size, dtype=np.complex64)
    analytic[low : spectrum.size - 1] = _whitened(spectrum[low:-1], reading.exponent, level_block)
    envelope = scipy.fft.ifft(analytic)
    power_env = np.abs(scipy.fft.rfft(envelope.real**2 + envelope.imag**2))
    power_env *= power_env
    ratio = power_env / _floor(power_env, max(1, round(FLOOR_BLOCK_HZ / bin_hz)))
    lo = int(MIN_RATE_HZ / bin_hz)
    hi = min(ratio.size - 1, int(min(MAX_RATE_HZ, 0.9 * sr / 2) / bin_hz))
    if hi <= lo:
        return []
    window = ratio[lo:hi]
    strong = np.flatnonzero(window >= reading.min_ratio)
    if strong.size == 0:
        return []
    order = strong[np.argsort(window[strong])[::-1]]
    band = analytic[low : spectrum.size - 1]
    lines: list[CyclicLine] = []
    seen: list[int] = []
    line_powers: Floats | None = None  # of the raw band
    strong_all = np.flatnonzero(ratio[int(20 / bin_hz) : hi] >= reading.min_ratio) + int(
        20 / bin_hz
    )
    for i in order:
        lag = int(i + lo)
        if any(abs(lag - s) <= 3 for s in seen):
            continue
        seen.append(lag)
        if len(seen) > CANDIDATES:
            break
        # lines below the rate that are not its multiples: a periodic sound's comb
        below = strong_all[strong_all < lag - 3]
        multiple = below * 1.0 / lag
        stray = np.abs(multiple - np.round(multiple)) * lag > 3
        # runs of adjacent bins are one line
        stray_lines = np.unique(below[stray] // 4).size
        if stray_lines > MAX_STRAY_LINES:
            continue
        if line_powers is None:  # made when first needed
            line_powers = _line_powers(spectrum[low:-1], level_block)
        partial = PARTIAL_POWER * size / PARTIAL_SAMPLES
        if _line_pairs(line_powers, lag, partial) >= MIN_LINE_PAIRS:
            continue
        share = _top_pair_share(band, lag)
        if share <= MAX_TOP_PAIR_SHARE:
            rate = _refined(power_env, lag) * bin_hz
            lines.append(CyclicLine(rate, float(window[i]), share, *span))
    return lines


def _line_powers(band: npt.NDArray[np.complex64], block: int) -> Floats:
    """The band's power over the median of its block of ``block`` bins: a spectral line
    (a partial held over the chunk) stands hundreds of times over it, a spread band's bins ~1."""
    power = (band.real**2 + band.imag**2).astype(np.float64)
    blocks = max(1, power.size // block)
    level = row_medians(power[: blocks * block].reshape(blocks, -1))
    level = np.repeat(level, block)
    if level.size < power.size:
        level = np.concatenate((level, np.full(power.size - level.size, level[-1])))
    ratio: Floats = power / (level + 1e-30)
    return ratio


def _line_pairs(lines: Floats, lag: int, partial: float) -> int:
    """How many spectral lines of the band (``lines``: :func:`_line_powers`) have another
    ``lag`` bins above them (within tuning and a little vibrato): a held note's partials, or two
    notes' partials, or a clipped chord's products beat in the envelope at their spacing; a
    modem's spectrum is a spread band whose line is made by the whole band, not by lines."""
    peaks = np.flatnonzero(lines >= partial)
    if peaks.size < 2:
        return 0
    reach = max(2, int(0.004 * lag))
    at = np.searchsorted(peaks, peaks + lag - reach)
    ends = np.searchsorted(peaks, peaks + lag + reach, side="right")
    paired = peaks[ends > at]
    return int(np.unique(paired // 8).size)  # neighbouring bins of one line count once


def _refined(power: Floats, peak: int) -> float:
    """The line's frequency in bins, between bins (the power-weighted centre of the peak and
    its neighbours)."""
    part = power[peak - 1 : peak + 2]
    return float(peak + (part[2] - part[0]) / max(1e-30, part.sum()))


@dataclass(frozen=True, slots=True)
class CyclicTransmission:
    """Chunks whose envelopes hold a line at one symbol rate."""

    rate_hz: float
    start_s: float
    end_s: float
    chunks: int
    ratio: float  # the median line over the floor
    top_pair_share: float  # the median share of the strongest pairs
    keyed: bool = False  # found in the tone bands' energies (keyed tones), not the envelope


def conversion_shifts(sample_rate: float) -> tuple[float, ...]:
    """Envelope line rates a clipped master converted from another standard rate makes in a
    file stored at ``sample_rate``.

    Hard clipping at the source's rate A folds the products above its Nyquist frequency about
    A/2 (x -> A - x); sox's resampler, a DAW or the store clips the conversion's overshoots
    again at the file's rate B, folding about B/2 (y -> B - y). Twice folded, every component x
    has a companion at x - (A - B): the whole band shifted by a fixed amount, which the
    envelope reads as a line at ``A mod B`` (or ``B - A mod B``) made by every frequency pair
    at once, like a modem's (own renditions: a clipped sweep made at 48 kHz, stored at
    44.1 kHz as WAV, MP3 or Vorbis, read at 3,900.4 Bd, 195-349x)."""
    shifts = set()
    # converted down only: a source at a lower rate holds nothing above its own Nyquist
    # frequency for the file's clip to fold again (a 44.1 kHz sweep clipped, stored at 48 kHz,
    # keeps no line); and by one converter's step (at most 4x)
    for source in STANDARD_RATES_HZ:
        if not sample_rate < source <= MAX_CONVERSION_STEP * sample_rate:
            continue
        folded = source % sample_rate
        shift = min(folded, sample_rate - folded)
        if MIN_RATE_HZ <= shift <= MAX_RATE_HZ:
            shifts.add(float(shift))
    return tuple(sorted(shifts))


def cyclic_transmissions(
    lines: list[tuple[int, CyclicLine]],
    *,
    min_ratio: float = MIN_REPORT_RATIO,
    keyed: bool = False,
    conversion_rates: tuple[float, ...] = (),
) -> list[CyclicTransmission]:
    """Group chunk lines at one rate (``RATE_MATCH``; one missed chunk bridged) into
    transmissions of at least ``MIN_CHUNKS`` chunks whose median line reaches ``min_ratio``;
    a rate that is a multiple of a slower one found over the same chunks is that one's
    harmonic and not reported apart. ``keyed``: the lines are :func:`keyed_band_lines`'.
    ``conversion_rates`` (:func:`conversion_shifts`, given for a clipped file): a
    transmission at one of these rates is the clipped conversion's shifted band, not data."""
    groups: list[list[tuple[int, CyclicLine]]] = []
    for index, line in sorted(lines, key=lambda item: (item[0], item[1].rate_hz)):
        home = next(
            (
                g
                for g in groups
                if 0 < index - g[-1][0] <= 2
                and abs(g[-1][1].rate_hz - line.rate_hz) <= RATE_MATCH * line.rate_hz
            ),
            None,
        )
        if home is None:
            groups.append([(index, line)])
        else:
            home.append((index, line))
    found = []
    for group in groups:
        chunks = {i for i, _ in group}
        ratio = float(np.median([line.ratio for _, line in group]))
        if len(chunks) < MIN_CHUNKS or ratio < min_ratio:
            continue
        rate = float(np.median([line.rate_hz for _, line in group]))
        if any(abs(rate - shift) <= RATE_MATCH * shift for shift in conversion_rates):
            continue
        found.append(
            CyclicTransmission(
                rate,
                min(line.start_s for _, line in group),
                max(line.end_s for _, line in group),
                len(chunks),
                ratio,
                float(np.median([line.top_pair_share for _, line in group])),
                keyed,
            )
        )
    kept: list[CyclicTransmission] = []
    for t in sorted(found, key=lambda t: t.rate_hz):
        harmonic = any(
            k.start_s < t.end_s
            and t.start_s < k.end_s
            and abs(t.rate_hz / k.rate_hz - round(t.rate_hz / k.rate_hz)) * k.rate_hz
            <= RATE_MATCH * t.rate_hz
            for k in kept
        )
        if not harmonic:
            kept.append(t)
    return kept


# -- keyed tones: the symbol clock in the band energies (FSK and MFSK without framing) --------
#
# A keyed FSK (or MFSK) transmitter holds a constant envelope, so the whole band's squared
# envelope has no line; but each tone's *band* is switched on and off at symbol boundaries
# only. A band of width W around a tone, read through a tapered window, has an energy that
# is high while its tone is sent, low while another is, and crosses between on the symbol
# clock whatever the data or the framing: its squared envelope is periodic on average with
# the symbol period (the filtered pulses' squares add up to a comb dipping at every boundary),
# so its spectrum holds a line at the symbol rate R when W exceeds R. The sum of the tones'
# bands is constant: the line is in the parts, not in the whole. Music's bands beat at the
# differences of their partials (a pair of spectral lines: the line-pair guard), at its tempo
# and a sequencer's tick with the pattern's repeats below (the stray-line guard).


@dataclass(frozen=True, slots=True)
class BandPlan:
    """Bands ``width_hz`` wide (half overlapping, Hann-tapered) read for lines at
    ``min_rate_hz``-``max_rate_hz`` (a band's energy carries rates up to ~half its width)."""

    width_hz: float
    min_rate_hz: float
    max_rate_hz: float


BAND_PLANS = (
    BandPlan(300.0, 40.0, 150.0),
    BandPlan(1200.0, 150.0, 600.0),
    BandPlan(4800.0, 600.0, 2400.0),
)
KEYED_LOW_HZ = 300.0  # tones looked for: the FSK test's range
KEYED_HIGH_HZ = 7800.0
KEYED_FLOOR_HZ = 20.0  # the band energy spectrum's floor: block medians this wide
KEYED_MIN_RATIO = 30.0  # a band's line over its floor, in the second-best band at that rate
KEYED_REPORT_RATIO = 120.0  # ... and a transmission when its median line stands this far
KEYED_CANDIDATES = 3  # lines examined a plan and chunk (the strongest)
HELD_BINS = 0.01  # the share of a band's bins whose power is weighed ...
MAX_HELD_SHARE = 0.6  # ... and at most this much of it there: a keyed tone is spread
KEYED_STRAY_FROM_HZ = 8.0  # tempo and pattern lines looked for from here up
PATTERN_SYMBOLS = 8  # repeating patterns looked for: up to this many symbols long
# ... each line at a whole fraction of the rate held under this share of the rate's line
# (direwolf's HDLC flags, 8 symbols repeated between frames, keep theirs at <= 0.12 of the
# 300 Bd line); at sequencer tick rates (50-60 Hz frame clocks and 100-105 Hz tracker ticks,
# where a chiptune's arpeggio held 0.08-0.28) the bar is the stricter one
PATTERN_SHARE = 0.25
PATTERN_SHARE_SLOW = 0.05
TICK_MAX_HZ = 105.0


def keyed_band_lines(
    spectrum: npt.NDArray[np.complexfloating], sr: float, start_s: float, end_s: float
) -> list[CyclicLine]:
    """Symbol-rate lines of the tone bands' energies of one chunk (``spectrum``: the real FFT
    of the whole chunk, at ``sr``): lines standing ``KEYED_MIN_RATIO`` over the floor in at
    least two bands (two tones, or a tone's two flanks), not made by a pair of spectral lines,
    with the band's energy holding few other lines below them."""
    size = 2 * (spectrum.size - 1)
    bin_hz = sr / size
    found: list[CyclicLine] = []
    for plan in BAND_PLANS:
        for line in _keyed_plan_lines(spectrum, size, bin_hz, plan, (start_s, end_s)):
            _add_if_new_rate(found, line)
    return found


def _keyed_plan_lines(
    spectrum: npt.NDArray[np.complexfloating],
    size: int,
    bin_hz: float,
    plan: BandPlan,
    span: tuple[float, float],
) -> list[CyclicLine]:
    """:func:`keyed_band_lines` of one :class:`BandPlan`: each band's energy over the whole
    chunk (one inverse FFT of its bins), its spectrum over block medians."""
    width = scipy.fft.next_fast_len(int(plan.width_hz / bin_hz))
    low = int(KEYED_LOW_HZ / bin_hz)
    high = min(spectrum.size, int(KEYED_HIGH_HZ / bin_hz))
    starts = np.arange(low, high - width, width // 2)
    if starts.size < 2:
        return []
    index = starts[:, None] + np.arange(width)[None, :]
    bands = (spectrum[index] * np.hanning(width)).astype(np.complex64)
    envelope = scipy.fft.ifft(bands, axis=1)
    energy = envelope.real**2 + envelope.imag**2
    energy /= energy.mean(axis=1, keepdims=True) + 1e-30
    energy -= 1.0
    spectrum_energy = scipy.fft.rfft(energy, axis=1)
    block = max(4, round(KEYED_FLOOR_HZ / bin_hz))
    lo = int(plan.min_rate_hz / bin_hz)
    hi = min(spectrum_energy.shape[1] - 1, int(plan.max_rate_hz / bin_hz))
    # the floor over whole blocks from a block under the rates to a block over them
    first = max(0, lo // block - 1)
    blocks = min(spectrum_energy.shape[1] // block, hi // block + 2) - first
    part = spectrum_energy[:, first * block : (first + blocks) * block]
    power = (part.real**2 + part.imag**2).astype(np.float32)
    medians = row_medians(power.reshape(power.shape[0], blocks, block))
    padded = np.concatenate((medians[:, :1], medians, medians[:, -1:]), axis=1)
    smooth = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    ratios = power / (np.repeat(smooth, block, axis=1) + 1e-30)
    offset = first * block  # bins of the energy spectrum before the first column
    lo -= offset
    hi -= offset
    ranked = np.sort(ratios[:, lo:hi], axis=0)
    second = ranked[-2]
    strong = np.flatnonzero(second >= KEYED_MIN_RATIO)
    if strong.size == 0:
        return []
    lines: list[CyclicLine] = []
    seen: list[int] = []
    partial = PARTIAL_POWER * size / PARTIAL_SAMPLES
    for i in strong[np.argsort(second[strong])[::-1]]:
        column = int(i + lo)
        lag = column + offset
        if any(abs(lag - s) <= 3 for s in seen):
            continue
        seen.append(lag)
        if len(seen) > KEYED_CANDIDATES:
            break
        best_two = np.argsort(ratios[:, column])[-2:]
        if any(
            _keyed_band_rejected(bands[b], ratios[b], offset, lag, bin_hz, partial)
            for b in best_two
        ):
            continue
        # one band made by its whole spread suffices (the other may hold a tone whose idle
        # pattern's line pairs dominate it, as direwolf's HDLC flags do)
        share = min(_top_pair_share(bands[b], lag) for b in best_two)
        if share > MAX_TOP_PAIR_SHARE:
            continue
        held = min(_held_share(bands[b]) for b in best_two)
        if held > MAX_HELD_SHARE:
            continue
        rate = (_refined(power[best_two[-1]].astype(np.float64), column) + offset) * bin_hz
        lines.append(CyclicLine(rate, float(second[i]), share, *span))
    return lines


def _held_share(band: npt.NDArray[np.complex64]) -> float:
    """The share of a band's power in its strongest ``HELD_BINS`` of bins: a tone keyed at R
    Bd spreads over ~R Hz (a few per cent of the power in any 1 % of the bins), a held note's
    partial, a test tone or a steady square wave stays in one bin (most of it)."""
    power = band.real**2 + band.imag**2
    top = max(1, int(HELD_BINS * power.size))
    total = float(power.sum())
    if total <= 0.0:
        return 1.0
    return float(np.partition(power, power.size - top)[-top:].sum()) / total


def _keyed_band_rejected(
    band: npt.NDArray[np.complex64],
    ratios: npt.NDArray[np.float32],
    offset: int,
    lag: int,
    bin_hz: float,
    partial: float,
) -> bool:
    """A band's line at ``lag`` bins is a sound's: two spectral lines of the band lie ``lag``
    apart (partials beating), the band's energy holds more than ``MAX_STRAY_LINES`` strong
    lines below it that are not its multiples (a tempo's comb), or a line at a whole fraction
    of it (a repeating pattern)."""
    levels = _line_powers(band, max(1, round(WHITEN_BLOCK_HZ / bin_hz)))
    if _line_pairs(levels, lag, partial) >= MIN_LINE_PAIRS:
        return True
    start = max(0, int(KEYED_STRAY_FROM_HZ / bin_hz) - offset)  # columns of ``ratios``
    below = np.flatnonzero(ratios[start : lag - offset - 3] >= KEYED_MIN_RATIO) + start + offset
    multiple = below / lag
    stray = np.abs(multiple - np.round(multiple)) * lag > 3
    if np.unique(below[stray] // 4).size > MAX_STRAY_LINES:
        return True
    # a pattern of a few symbols repeating (an arpeggio on a sound driver's frame tick) puts
    # lines at whole fractions of its tick; data does not repeat
    line = float(ratios[lag - offset])
    bar = PATTERN_SHARE_SLOW if lag * bin_hz <= TICK_MAX_HZ else PATTERN_SHARE
    for k in range(2, PATTERN_SYMBOLS + 1):
        for j in range(1, k):
            at = round(lag * j / k) - offset
            if at >= 2 and float(ratios[at - 2 : at + 3].max()) >= bar * line:
                return True
    return False
