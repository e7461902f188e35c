"""Data sent as sound: find keyed modulation (FSK/AFSK), demodulate it, carve what it carried.

The physical reason this works: a microphone, a voice or an instrument never puts its energy
into two exact frequencies that take turns at a crystal-stable symbol clock for seconds. A
modem does nothing else. Binary FSK (Bell 103/202, RTTY, minimodem at any rate) keys a constant
envelope between a *mark* and a *space* tone; every change of tone happens on a multiple of the
symbol period ``T``. So the detector asks two questions of a pair of narrow bands:

1. **Do they take turns?** The normalised band-energy difference ``(e1 - e2) / (e1 + e2)``
   swings from +1 to -1 and back while the sum stays up (constant envelope). Two notes of a
   chord are both on; a melody moves through many bands; Morse keys one tone on and off.
2. **On a steady clock?** The times the difference crosses zero are all multiples of ``T``:
   their phase ``exp(2j*pi*t/T)`` agrees (coherence near 1, measured with the textbook
   Rayleigh statistic). Players and singers drift by tens of milliseconds; a sound card's clock
   does not drift by a microsecond within seconds.

Tone pairs come from the strongest narrow spectral peaks of each ~3 s chunk (generic: any
shift, any rate) and from the tone plans of common modems whose tones sit on a peak (Bell 103
originate/answer, Bell 202, V.23, RTTY 170/425/850 Hz shifts, minimodem's own defaults for any
rate: mark = rate/2 + 600 Hz, space = mark + 5/6 rate). Where none of those keys, minimodem's
plans at its common rates are tested too wherever their tones stand over the floor and their
bands take turns: under chords as loud as the modem, the chords' partials outshine its tones as
peaks. Where a pair keys at a steady clock,
:func:`demodulate_fsk` does what a receiver does (non-coherent: tone energy over one symbol,
compared; asynchronous framing re-synchronised on every start bit, 8-N-1 as minimodem sends)
and the recovered bytes are carved with :mod:`audiomodel.payload`. A keying is *reported* only
with more than a clock: bytes that frame, a standard modem's tone plan (or minimodem's, whose
tones name its rate) with frames above chance, or a near-perfect clock over thousands of
changes (:attr:`Transmission.flagged`); a clock alone turns up in ~3 % of real music clips (two
partials beating steadily).

Under music the modem does not dominate the chunk: each band's slow floor (the music's share)
is taken off before the tones' turns are timed (where tones name minimodem's rate and the single
changes keep only a loose clock that is no fraction of it, the changes are re-read through a
filter one symbol of that rate long), and a cheap look at every chunk while nothing keys (do
a candidate pair's fast energy changes anti-correlate: two tones taking turns?) sends it to the
full test.

What music can still do: a chiptune arpeggio switches between exact tones at the frame rate of
its player (50/60 Hz), on a steady clock. It repeats a short cycle, though: the symbol sequence
of data does not (``PERIODIC_AGREEMENT_MAX``). DTMF digits and Morse key tones on and off
(the envelope does not hold, ``MIN_ENVELOPE_HOLD``) at a rate below ``MIN_BAUD``.

What this does not see: modems above ~5000 Bd; tones above ``MAX_TONE_HZ`` (~8 kHz) are
looked for only by the keyed-band search (up to the reduced rate's Nyquist, 10.9-11.9 kHz at
44.1-48 kHz; the box decimator folds tones above ~13 kHz down into that band, so only tones within
~1 kHz of the reduced Nyquist stay unseen); QAM and PSK faster than ~120 Bd or of order above 4 (BPSK and
QPSK up to ~120 Bd on a 300-4000 Hz carrier are found by their phase: :func:`detect_phase_keying`),
and many-tone MFSK like ggwave (its symbols last 20-60 ms: a pair of its
tones takes turns too rarely in 3 s to time a clock). Where neither peaks nor plans key, pairs
of bands whose keyed parts take turns are tested whatever their tones
(:mod:`audiomodel.keyed_bands`), and a clock the intervals between changes no longer keep is
looked for in the phase of the single changes against a line of the change spectrum
(:func:`_clock_by_phase`); where the tones name a rate, that rate's clock is looked for in the
phase of the changes over the whole chunk (:func:`_whole_chunk_keying`: a fast modem under
music keeps it where the short stretch the pair test times holds no clock), over a whole
transmission where chunk boundaries cut a short burst (:func:`_named_clock_over_transmission`),
and for minimodem's plans whose tones stand over the floor while music hides their turn-taking
(:func:`_standing_plans_clock`), and in the band above a plan's higher tone where the music
drowns the lower one (:func:`_sideband_keying`). RTTY is read into its text (:func:`baudot_text`). Under music a
modem is still missed where that search refines its
tones too far off for the pair test (~50 Hz bins), where the music times its changes too
loosely for any clock, and where the music
garbles its frames to chance (2400-4800 Bd: minimodem's own receiver gets 2-20 % of the bytes
back; a strong symbol-rate line in the change spectrum is there, but one real music clip of
~100 shows such a line too, so it is no evidence alone). See FINDINGS.md.

The API takes the mono signal at a reduced rate (``>= 20 kHz``; :func:`reduced_rate`):
demodulating needs phase and sample timing that a shared magnitude spectrogram does not keep.
:class:`ModemScanner` takes decoded blocks in file order and keeps only the chunks where a
modem keyed (bounded by ``MAX_KEPT_SECONDS``), so memory does not grow with the track.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft
from scipy.ndimage import median_filter

from audiomodel.cyclic import (
    KEYED_REPORT_RATIO,
    LIGHT_EVERY,
    CyclicLine,
    CyclicTransmission,
    conversion_shifts,
    cyclic_lines,
    cyclic_transmissions,
    keyed_band_lines,
)
from audiomodel.findings import Finding, Severity, finding
from audiomodel.keyed_bands import keyed_band_pairs
from audiomodel.keyed_tones import KeyedToneScanner
from audiomodel.modem_kernels import (
    band_energy,
    change_times,
    clock_coherence,
    decimate,
    group_sums,
    keyed_difference,
    moving_max,
    percentiles,
    phasor_run,
    place_band,
    row_medians,
    symbol_sums,
    turn_correlation,
)
from audiomodel.payload import (
    DANGEROUS_KINDS,
    confirm_signature,
    find_signatures,
    identify_payload,
)

__all__ = [
    "Demodulated",
    "Keying",
    "ModemScanner",
    "PhaseKeying",
    "Transmission",
    "baudot_text",
    "demodulate_fsk",
    "detect_keying",
    "detect_phase_keying",
    "reduced_rate",
    "scan_modem",
]

Floats = npt.NDArray[np.float64]

# Tones up to ~7.8 kHz stay well inside Nyquist (minimodem 4800 Bd sends 3000/7000 Hz; at 16 kHz
# the 7 kHz tone sits so close to Nyquist that a box decimator garbles 18 % of its frames).
TARGET_RATE = 20000
CHUNK = 65536  # samples per analysed chunk (~3 s at 22-24 kHz): one FFT of it serves every test
MIN_CHUNK_S = 0.75
MIN_TONE_HZ = 300.0  # telephone-band and acoustic modems stay above the bass (and its beats)
MAX_TONE_HZ = 7800.0  # the peaks' and the plans' pairs (the keyed-band search goes higher)
MIN_SHIFT_HZ = 80.0
BAND_HALF = 0.75  # each tone's band, in tone shifts either side: the other tone stays out
MIN_BAUD = 30.0  # Morse, DTMF dialling, tremolo and arpeggios of real tempo sit below
MAX_PAIRS = 4  # pair tests per chunk (the cost bound)
# While nothing keys, a chunk after the first gets a cheap look (TURN_TAKING_GATE) that sends
# it to the full test where two tones take turns; a hit analyses its neighbours in full.
# (Analysing one idle chunk in two in full as well cost ~20 % more on real music and found no
# transmission the look missed: where the look misses a keyed chunk, it passes a neighbour.)
# Correlation of the fast energy changes (the slow floor taken off, as in the pair test) of a
# candidate pair's two bands: keyed tones take turns, so they anti-correlate (-0.4 to -0.6
# where a minimodem keys under music at -6..+6 dB; -0.6 to -0.9 alone); a note's partials rise
# and fall together or apart at random (real music's candidate pairs: -0.29 at the lowest,
# 1st percentile -0.22, median +0.12).
TURN_TAKING_GATE = -0.35
ENVELOPE_SAMPLES = 4096  # per pair test: ~0.2 s of a 4800 Bd modem, a whole chunk at 150 Bd
MIN_TRANSITIONS = 40  # tone changes in a chunk before a clock is timed
SLOW_KEYING_MAX_BAUD = 60.0  # ... or MIN_RAYLEIGH_Z changes for a clock up to this rate
# Rayleigh coherence of the change intervals at the symbol rate: 1 for a clean clock, ~0.6
# under music that leaves the modem receivable (changes jittered by ~0.15 symbol), ~1/sqrt(n)
# for changes at random times; n * coherence^2 (the Rayleigh Z) must also be significant.
MIN_COHERENCE = 0.5
MIN_RAYLEIGH_Z = 30.0
# The lines of the change spectrum whose clock the single changes' phase is tested against
# (:func:`_clock_by_phase`): the strongest few, each this far over the local median (a keyed
# modem's symbol-rate line stands 35-180x over it under music at -6..+6 dB)
PHASE_CLOCK_LINES = 4
PHASE_CLOCK_MIN_LINE = 30.0
CLOCK_SPREAD = 0.1  # a transmission's chunks are timed together when their clocks are this close
# A symbol sequence that agrees with itself shifted by a short period this often is a cycle
# (an arpeggio), not data: bytes of text or code agree ~55-75% at their best short period.
PERIODIC_AGREEMENT_MAX = 0.93
PERIODIC_MAX_CYCLE = 6  # symbols: a cycle of a few notes repeats within it, a run of bytes in 10
# A keying is reported when the bytes demodulate as framed data, or its tones and rate fit a
# common modem's plan, or (neither) its clock is near perfect over thousands of changes: a
# clock alone at 0.8-0.97 coherence turns up in ~3 % of real music clips (steady beats between
# two partials), framing and tone plans do not.
MIN_FRAMES = 20
MIN_VALID_FRAMES = 0.9
# A standard modem's plan (tones and rate) needs frames above chance (random symbols: ~0.55)
PLAN_MIN_VALID_FRAMES = 0.7
MAX_BIT_ALTERNATION = 0.6  # share of neighbouring data bits that differ: data ~0.5 at most
MAX_ONE_BITS = 0.85  # share of data bits set: text ~0.45, random 0.5; an idle mark read as data ~1
GENERIC_COHERENCE = 0.98
GENERIC_FRAMED_COHERENCE = 0.8
GENERIC_TRANSITIONS = 2000
MIN_ENVELOPE_HOLD = 0.2  # 10th/90th percentile of the pair's energy while keying (FSK ~0.3-1)
# Tones that are lines are not keyed (:func:`_tone_line_share`). A symbol lasting 1/baud s spreads
# its tone's power over ~baud Hz, so the strongest 1 % of a keyed band's bins hold little of it:
# the weaker band 0.09-0.57 for train minimodem at 300-4800 Bd alone (0.57: 4800 Bd, framing
# cleanly), 0.09-0.39 under train music at -4..+5 dB. An FM voice's partials are lines held for a
# note (its "keying" is two partials beating in the bands): 0.82-0.91 for the 7 of 200 fm_synth
# renditions (fresh seeds 100-139) read as minimodem's plan at 512-5079 Bd or Bell 202, framing
# at 0.71-0.81 (above PLAN_MIN_VALID_FRAMES, short of MIN_VALID_FRAMES, no named clock).
# Tones no plan knows framing cleanly are held to it too (fresh seeds 141-180: one at 0.92).
TONE_LINE_BINS = 0.01  # the share of a band's bins that its lines may fill
MAX_TONE_LINE_SHARE = 0.7  # the weaker band's power in them, above which both tones are lines
MAX_KEPT_SECONDS = 900.0  # reduced-rate audio kept for demodulation, at most
MAX_RECOVERED = 1 << 20  # bytes demodulated per transmission, at most
EPS = 1e-20


def reduced_rate(sample_rate: int) -> tuple[int, float]:
    """(decimation factor, reduced rate): the largest integer factor keeping >= 20 kHz."""
    factor = max(1, int(sample_rate) // TARGET_RATE)
    return factor, sample_rate / factor


# -- common modems: (name, baud, mark Hz, space Hz) ----------------------------------------------
COMMON_MODEMS: tuple[tuple[str, float, float, float], ...] = (
    ("Bell 103 originate", 300.0, 1270.0, 1070.0),
    ("Bell 103 answer", 300.0, 2225.0, 2025.0),
    ("Bell 202", 1200.0, 1200.0, 2200.0),
    ("V.23", 1200.0, 1300.0, 2100.0),
    ("V.21", 300.0, 980.0, 1180.0),
    ("RTTY 170 Hz shift", 45.45, 2125.0, 2295.0),
    ("RTTY 425 Hz shift", 50.0, 2125.0, 2550.0),
    ("RTTY 850 Hz shift", 50.0, 2125.0, 2975.0),
    ("RTTY (minimodem)", 45.45, 1585.0, 1415.0),
    # The US Emergency Alert System's header (47 CFR 11.31; minimodem `same`): bytes sent
    # back to back with no start or stop bits, so no 8-N-1 receiver frames them (0.41-0.56,
    # chance) and, unnamed, only a near-perfect clock reported it; named, its clock is timed
    # at the rate the plan names (train sweep: 0 -> 16 of 22 flagged, named clock Z 100-570)
    ("NOAA SAME (EAS)", 520.83, 2083.3, 1562.5),
)


SLOW_PLAN_MAX_BAUD = 100  # minimodem keys its 1415/1585 Hz plan below this rate


def _minimodem_tones(baud: float) -> tuple[float, float]:
    """minimodem's default mark/space for a rate given as a number (``man minimodem``)."""
    if baud >= 400:
        mark = baud / 2 + 600
        return mark, mark + baud * 5 / 6
    if baud >= SLOW_PLAN_MAX_BAUD:
        return 1270.0, 1070.0
    return 1585.0, 1415.0


# minimodem's tones at the rates it is most often run at (300 Bd sends Bell 103's tones, 1200 Bd
# Bell 202's): tested wherever their bands take turns, peaks or not
FIXED_PLAN_BAUDS = (300.0, 600.0, 1200.0, 2400.0, 4800.0)
FIXED_PLAN_MIN_EXCESS_DB = 3.0  # dB over the 2 kHz floor at each tone (keyed under chords: 3.6-15)
FIXED_PLANS = tuple(
    (min(pair), max(pair)) for pair in (_minimodem_tones(b) for b in FIXED_PLAN_BAUDS)
)


def _minimodem_rate(f_a: float, f_b: float, baud: float) -> float:
    """minimodem's rate when the tones fit its plan for one rate (mark = rate/2 + 600 Hz, space
    = mark + 5/6 rate: both tones name the same rate) and the clock found is a whole fraction
    of it (under music, or over runs of equal bits, the changes may time every second or
    third symbol only); else ``baud`` unchanged."""
    lo, hi = sorted((f_a, f_b))
    rate = 2 * (lo - 600)
    if rate < 400 or abs(hi - (lo + rate * 5 / 6)) > 0.06 * hi:
        return baud
    for k in (2, 3, 4):
        if abs(k * baud - rate) <= 0.05 * rate:
            return rate
    return baud


def modem_plan(baud: float, f_a: float, f_b: float) -> tuple[str, float, float]:
    """The common modem a keying matches (name, low tone, high tone), or ("FSK", f_a, f_b)."""
    lo, hi = sorted((f_a, f_b))
    for name, rate, mark, space in COMMON_MODEMS:
        want_lo, want_hi = sorted((mark, space))
        slack = 0.1 * (want_hi - want_lo) + 15
        if (
            abs(baud - rate) <= 0.03 * rate
            and abs(lo - want_lo) <= slack
            and abs(hi - want_hi) <= slack
        ):
            return name, want_lo, want_hi
    want_lo, want_hi = sorted(_minimodem_tones(round(baud)))
    if round(baud) < SLOW_PLAN_MAX_BAUD:
        # Below 100 Bd minimodem keys 1415/1585 Hz with a modulation index of 1.7 or more: the
        # tones stand as separate lines, measured to within the spectrum's resolution (train
        # mixes under music to -10 dB: both within 5 Hz). The standard plans' slack holds them.
        # 6 % of a tone is a semitone: a chiptune's arpeggio between two notes near the plan
        # (1421/1637 Hz, switched on a 60 Hz sequencer tick) must not be read as the plan.
        slack_lo = slack_hi = 0.1 * (want_hi - want_lo) + 15
    else:
        slack_lo, slack_hi = 0.06 * want_lo, 0.06 * want_hi  # keyed faster, the lines merge
    if abs(lo - want_lo) < slack_lo and abs(hi - want_hi) < slack_hi:
        return f"minimodem default for {baud:.0f} Bd", want_lo, want_hi
    return "FSK", lo, hi


def _plans_at(baud: float) -> list[tuple[str, float, float]]:
    """The common modems' (name, low tone, high tone) for a rate."""
    out = [
        (name, min(mark, space), max(mark, space))
        for name, rate, mark, space in COMMON_MODEMS
        if abs(baud - rate) <= 0.03 * rate
    ]
    lo, hi = sorted(_minimodem_tones(round(baud)))
    out.append((f"minimodem default for {baud:.0f} Bd", lo, hi))
    return out


def _plans_at_multiples(keying: Keying) -> list[tuple[str, float, float, float, float]]:
    """(name, low tone, high tone, rate, least valid share of frames) of minimodem's common
    plans at 2-4 times the clock of ``keying`` whose tone bands hold both its tones: under
    music the changes of a modem may keep every second symbol's clock only (runs of equal bits)
    and the peaks sit beside its tones; such a plan's frames are held to a named plan's bar
    (``PLAN_MIN_VALID_FRAMES``: the receiver reads the rate and tones the plan names)."""
    out = []
    for (lo, hi), rate in zip(FIXED_PLANS, FIXED_PLAN_BAUDS, strict=True):
        if not any(abs(k * keying.baud - rate) <= 0.03 * rate for k in (2, 3, 4)):
            continue
        half = BAND_HALF * (hi - lo) / 2  # well inside the bands the pair test reads
        if abs(keying.f_low - lo) <= half and abs(keying.f_high - hi) <= half:
            out.append((modem_plan(rate, lo, hi)[0], lo, hi, rate, PLAN_MIN_VALID_FRAMES))
    return out


def _plan_the_tones_name(keying: Keying) -> list[tuple[str, float, float, float, float]]:
    """(name, low tone, high tone, rate, least valid share of frames) of minimodem's plan whose
    tones the keying's are, at the rate they name, where the clock found is not that rate or a
    whole fraction of it (those are read already): minimodem's tones are a function of its
    rate, so the tones say at what rate to read, whatever clock the changes kept. Under music
    the changes of a 600 Bd minimodem were timed at 271 Bd (coherence 0.53, no fraction of
    600) on its exact tones; read at 600 Bd its frames end in a stop bit 0.82 of the time. Held
    to a named plan's bar (``PLAN_MIN_VALID_FRAMES``), as the plans at multiples are."""
    named = _named_rate(keying.f_low, keying.f_high)
    if not named or any(abs(k * keying.baud - named) <= 0.05 * named for k in (1, 2, 3, 4)):
        return []
    lo, hi = sorted(_minimodem_tones(named))
    return [(modem_plan(named, lo, hi)[0], lo, hi, named, PLAN_MIN_VALID_FRAMES)]


def modem_name(baud: float, f_a: float, f_b: float) -> str:
    """The common modem a keying matches, or "FSK"."""
    return modem_plan(baud, f_a, f_b)[0]


@dataclass(frozen=True, slots=True)
class Keying:
    """Two tones taking turns at a steady symbol clock in one stretch of audio."""

    start_s: float
    end_s: float
    f_low: float
    f_high: float
    baud: float
    coherence: float  # 0..1, how well the tone changes sit on the clock
    transitions: int
    # Rayleigh Z of the changes' phase against the rate the tones name, over whole chunks
    # (:func:`_whole_chunk_keying`); 0 where the clock was timed otherwise
    clock_z: float = 0.0

    def matches(self, other: Keying) -> bool:
        """Overlapping tones or the same clock: the same transmission when the chunks are
        neighbours (a chunk of equal bytes may time the clock at a multiple of it; a chunk under
        music may find one tone of the pair beside a partial)."""
        tones = self.f_low < other.f_high and other.f_low < self.f_high
        return tones or abs(self.baud - other.baud) <= 0.01 * self.baud


@dataclass(frozen=True, slots=True)
class Demodulated:
    """Bytes recovered from FSK with asynchronous 8-N-1 framing."""

    data: bytes
    mark_hz: float
    space_hz: float
    frames: int
    valid_ratio: float  # frames whose stop bit was a mark (a real UART stream: ~1.0)


@dataclass
class Transmission:
    """One modem transmission: merged chunk keyings, and what demodulation recovered."""

    keying: Keying
    name: str
    demodulated: Demodulated | None = None
    payload_kind: str = ""
    payload_name: str = ""
    signature_offset: int = -1
    truncated: bool = False  # audio was not kept (over MAX_KEPT_SECONDS) or the budget ran out
    # (frames, valid share) of 5-N-1.5 Baudot frames (:func:`_baudot_framing`), read where an
    # RTTY plan's 8-N-1 frames do not decide; None where not read
    baudot: tuple[int, float] | None = None
    text: str = ""  # the Baudot characters read where it is reported as RTTY (:func:`baudot_text`)
    # the weaker tone band's power share in its strongest bins (:func:`_tone_line_share`)
    tone_lines: float = field(default=0.0, repr=False)  # a measure, not what was found

    @property
    def framed(self) -> bool:
        d = self.demodulated
        return (
            d is not None
            and d.frames >= MIN_FRAMES
            and d.valid_ratio >= MIN_VALID_FRAMES
            and not _patterned(d.data)
        )

    @property
    def flagged(self) -> bool:
        """Enough evidence to report: bytes that frame, a standard modem's tone plan and rate
        with frames above chance, or a near-perfect clock. minimodem's rate-dependent plan is
        a one-parameter family that a pair of partials fits by chance now and then (~0.5 % of
        real clips, framing at ~0.35-0.55): like a standard plan, it needs frames well above
        chance, not the clean framing of a modem heard alone (under music at -6..+6 dB a
        minimodem frames at 0.75-0.85)."""
        k = self.keying
        if k.coherence >= GENERIC_COHERENCE and k.transitions >= GENERIC_TRANSITIONS:
            return True
        # Two steady lines are not keying, whatever plan the tones fit and however they frame
        # (MAX_TONE_LINE_SHARE): a symbol lasting 1/rate s spreads its tone over ~rate Hz, so
        # keyed tones keep 0.07-0.58 of the weaker band's power in its strongest 1 % of bins
        # (minimodem at 150-4800 Bd, random, text and ELF payloads, alone, under music at
        # -6..+6 dB and through MP3), and RTTY's 45-75 Bd 0.27-0.29. A signal generator or an FM
        # voice holds its partials as lines for a note or for good: an FM synth framed 0.96 on
        # minimodem's plan for 5104 Bd (lines 0.92), a clipped 60 Hz + 7 kHz two-tone through
        # MP3 framed Baudot at 1.00 on 646/1120 Hz at 50 Bd (lines 0.97): both blind good sets.
        if self.tone_lines >= MAX_TONE_LINE_SHARE:
            return False
        # Tones no plan knows: the framing must come with a clean clock (music's steady
        # patterns frame now and then, on a clock jittered by the rest of the music)
        if self.framed and (self.name != "FSK" or k.coherence >= GENERIC_FRAMED_COHERENCE):
            return True
        if self.name == "FSK":
            return False
        # A plan's tones whose named clock the changes keep over whole chunks (Rayleigh Z >=
        # WHOLE_CLOCK_MIN_Z; train music at minimodem's tones and rates: 29 at most): under
        # music that garbles a fast modem's frames to chance, the clock is still there. Its
        # frames are garbled to chance at worst (0.49-0.64 on train mixes); a steady sound
        # read by a receiver may frame far below it (an FM synth with a named clock of Z 109
        # once the turn gate was loosened in a trial: 0.24), and is no modem.
        # Not at a rate a sequencer's tick can keep (NAMED_CLOCK_MIN_BAUD): a tracker's arpeggio
        # switches notes on its tick, as steady as a crystal, and keeps a named clock at RTTY's
        # 50 Bd (a chiptune on RTTY 425 Hz shift's tones: Z 123, frames 0.49, chance).
        # Nor without frames: data keyed for seconds gives a receiver start bits every few
        # symbols, a steady tone none (a test tone's lines kept a 2400 Bd clock, Z 130, and
        # framed 2 bytes in 8 s).
        # Nor on two steady lines (the guard above): keying at a named rate (105 Bd and up)
        # spreads each tone over +-baud, so the strongest 1 % of a band's bins hold 0.07-0.15 of its power (minimodem
        # at 300-4800 Bd, alone and under music at +6..-6 dB), where a steady two-tone holds
        # all of it (a hard-clipped SMPTE two-tone through MP3, a fresh good set: Z 108 at
        # 4800 Bd on 3000/7000 Hz, frames 0.82, line share 1.00).
        d = self.demodulated
        if (
            k.clock_z >= WHOLE_CLOCK_MIN_Z
            and k.coherence >= NAMED_CLOCK_MIN_COHERENCE
            and k.baud >= NAMED_CLOCK_MIN_BAUD
            and (d is None or (d.frames >= MIN_FRAMES and d.valid_ratio >= NAMED_CLOCK_MIN_FRAMES))
        ):
            return True
        # A standard plan's tones and rate are not enough either. A held note whose partials
        # are ~600 Hz apart (the distorted guitar of real-0149, 598 Hz) beats in the 1200 and
        # 2200 Hz bands at twice its pitch: "keying" at 1150-1230 Bd with a clock of coherence
        # 0.7-0.9, i.e. Bell 202 within its 3 % rate slack, wherever the chunk boundaries fall
        # around a steady stretch of it. What a modem has and the note has not is data: its
        # 8-N-1 frames end in a stop bit far more often than chance (~0.55 with the better
        # polarity; real-0149 frames at 0.55), and its bits do not alternate on every symbol (a
        # note phase-locked to the receiver's clock frames as 0x55 again and again). Under music
        # the frames of a readable modem still end well above chance (0.8-0.9 where the strict
        # MIN_VALID_FRAMES fails). Without a demodulation (audio not kept, budget spent) the
        # plan stands alone, as before; RTTY sends 5-bit Baudot that this 8-N-1 receiver cannot
        # frame: its plans are held to Baudot's 5-N-1.5 frames instead (or 8-N-1's, which
        # minimodem sends at RTTY's rates). A tracker's arpeggio switches notes at the player's
        # 50 Hz frame tick, RTTY's 50 Bd, and may sit on RTTY's tones: a chiptune (dev good
        # set, "console output filter") keyed 2125/2550 Hz at 49.97 Bd with a clock of 0.77,
        # its symbols as varied as Baudot text (block entropy 0.81-0.94 bit a symbol, best
        # cycle agreement 0.60), but its frames end at chance: Baudot 0.45-0.54, 8-N-1 0.66.
        # Random Baudot keyed at 45.45/50 Bd frames at 1.00 as Baudot, alone and under chords
        # at -3..+6 dB (as 8-N-1: 0.58-0.68, chance too, hence the Baudot receiver).
        d = self.demodulated
        if d is None:
            return True
        framed_8n1 = (
            d.frames >= MIN_FRAMES
            and d.valid_ratio >= PLAN_MIN_VALID_FRAMES
            and not _patterned(d.data)
        )
        if framed_8n1 or not self.name.startswith("RTTY"):
            return framed_8n1
        return self.baudot is None or (
            self.baudot[0] >= MIN_FRAMES and self.baudot[1] >= PLAN_MIN_VALID_FRAMES
        )


def _cyclic(data: bytes, max_period: int = 8) -> bool:
    """Bytes that repeat a cycle, or use a handful of values, almost throughout: what a steady
    musical pattern (a chiptune arpeggio's partials beating on the note's period) parses into
    when read as 8-N-1 frames. A payload of 32+ bytes, even one padded with zeros, does not.
    A short one (MIN_FRAMES to 31 bytes) is held to the same tests scaled to its length: a
    30-byte ELF header uses ~9 values, two beating harmonics framed as ``ff00fe00...`` 3."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size < MIN_FRAMES:
        return False
    max_period = min(max_period, arr.size // 4)
    few = 12 if arr.size >= 32 else arr.size // 6  # 20-31 bytes: 3-5 values at most
    if np.unique(arr).size < few:  # a handful of values (a pattern read 8 bits at a time)
        return True
    best = max(float((arr[p:] == arr[:-p]).mean()) for p in range(1, max_period + 1))
    return best >= 0.9


def _idle(data: bytes) -> bool:
    """Bytes that are nearly all one bits (0xFF with glitches): a receiver reading an idle mark
    carrier, or a tone that sits on one band with dips that look like start bits. Data of any
    kind sets far fewer (text ~45 % of its bits, random 50 %, code and zero-padded executables
    less); the FM voice read as "FSK 1920 Bd" set ~95 %."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size < MIN_FRAMES:
        return False
    return float(np.unpackbits(arr).mean()) >= MAX_ONE_BITS


def _patterned(data: bytes) -> bool:
    """Frames that carry no data: a cycle, a handful of values, alternating bits, an idle mark."""
    return _cyclic(data) or _alternating(data) or _idle(data)


def _alternating(data: bytes) -> bool:
    """Bits that change between neighbours of a byte almost always (0x55 with slips): the
    symbols alternate on nearly every clock tick, as when two partials of a held note beat at
    twice its pitch (or a modem idles on a 0x55 preamble, which carries nothing). Data does not:
    random bytes change between 50 % of neighbouring bits, text ~49 %, code and zero-padded
    executables 7-50 %; the beating notes measured 64-87 %."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size < MIN_FRAMES:
        return False
    flips = ((arr ^ (arr >> 1)) & 0x7F).astype(np.uint8)  # bit i: data bit i != bit i + 1
    return float(np.unpackbits(flips).mean()) * 8 / 7 >= MAX_BIT_ALTERNATION


@dataclass
class ModemReport:
    transmissions: list[Transmission] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


# -- detection --------------------------------------------------------------------------------


_TOP_PEAKS = 8  # peaks a chunk's spectrum keeps ready


@dataclass(frozen=True, slots=True)
class _Spectrum:
    """A chunk's power spectrum at ~10 Hz resolution, against its floor over 2 kHz (a slow
    modem keyed with text fills a few hundred Hz around its tones)."""

    freqs: Floats
    excess_db: Floats  # level over the floor
    near_db: Floats  # the best excess within +-2 steps of each (what :meth:`at` reads)
    top: list[float]  # :meth:`peaks` up to _TOP_PEAKS, made once (the FSK and PSK tests ask)
    step: float  # Hz between neighbouring values (:meth:`at` reads it thousands of times)

    @classmethod
    def of(cls, power: Floats, bin_hz: float) -> _Spectrum:
        group = max(1, round(10.0 / bin_hz))
        usable: Any = group_sums(power, group)
        step = group * bin_hz
        smooth = np.convolve(usable, np.ones(3) / 3, mode="same")
        floor = median_filter(smooth, size=int(2000 / step) | 1, mode="nearest") + EPS
        freqs = (np.arange(usable.size) + 0.5) * step
        excess = 10 * np.log10(smooth / floor + EPS)
        near = moving_max(excess, 5, cval=-np.inf)
        between = float(freqs[1] - freqs[0]) if freqs.size > 1 else 10.0
        return cls(freqs, excess, near, _peaks(freqs, excess, _TOP_PEAKS), between)

    def peaks(self, limit: int) -> list[float]:
        """The strongest distinct narrow peaks (>= 6 dB over the floor, 150 Hz apart)."""
        if limit <= _TOP_PEAKS:
            return self.top[:limit]
        return _peaks(self.freqs, self.excess_db, limit)

    def at(self, freq: float) -> float:
        """Excess (dB) near ``freq`` (the best within +-20 Hz)."""
        i = int(freq / self.step)
        if 0 <= i < self.near_db.size:
            return max(-99.0, float(self.near_db[i]))
        return float(self.excess_db[max(0, i - 2) : i + 3].max(initial=-99.0))


def _peaks(freqs: Floats, excess_db: Floats, limit: int) -> list[float]:
    """:meth:`_Spectrum.peaks` of a spectrum's bins and excess."""
    step = float(freqs[1] - freqs[0]) if freqs.size > 1 else 10.0
    e = excess_db
    local = (e == moving_max(e, int(150 / step) | 1)) & (e > 6.0)
    local &= (freqs > MIN_TONE_HZ) & (freqs < MAX_TONE_HZ)
    idx = np.flatnonzero(local)
    order = idx[np.argsort(e[idx])[::-1][:limit]]
    return [float(freqs[i]) for i in order]


class _Spectra(dict[int, npt.NDArray[np.complex128]]):
    """The real FFTs of a stretch's middle by length (what :func:`_pair_bands` reads), and the
    turn-taking of the pairs met in it so far (:func:`_turn_taking`): one per chunk, kept with
    its transform, so every test of the chunk (the cheap look, the full test, the plans'
    clocks) computes each once."""

    __slots__ = ("keyed", "turns")

    def __init__(self, items: dict[int, npt.NDArray[np.complex128]]) -> None:
        super().__init__(items)
        # (f_a, f_b) -> (the estimate, the exact correlation or None while not needed)
        self.turns: dict[tuple[float, float], tuple[float, float | None]] = {}
        self.keyed: dict[float, list[tuple[float, float, float]]] = {}  # _keyed_pairs by rate


@dataclass(frozen=True, slots=True)
class _ChunkTransform:
    """One chunk's transform, shared by the FSK and the PSK tests: the centred samples, their
    real FFT and the coarse spectrum against its floor (and :class:`_Spectra` of the samples,
    which the tests of the chunk fill)."""

    x: Floats
    spectrum: npt.NDArray[np.complex128]
    coarse: _Spectrum
    spectra: _Spectra = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spectra", _Spectra({self.x.size: self.spectrum}))

    @classmethod
    def of(cls, x: Floats, sr: float, *, centred: bool = False) -> _ChunkTransform | None:
        """The transform of ``x`` (float64, a power-of-two length), centred first unless
        ``centred``; None when it is silent (constant)."""
        if not centred:
            x = x - x.mean()
            if not np.any(x):
                return None
        spectrum = scipy.fft.rfft(x.astype(np.float32)).astype(np.complex128)
        power = np.abs(spectrum)
        power *= power
        return cls(x, spectrum, _Spectrum.of(power, sr / x.size))


def _candidate_pairs(spectrum: _Spectrum, nyquist: float) -> list[tuple[float, float, bool]]:
    """Tone pairs worth a test: half the tests for common tone plans (suggested by the strongest
    peaks first), half for pairs of peaks (the best supported first: a pair is as good as its
    weaker tone stands over the floor). (low, high, from a plan)."""
    freqs = spectrum.peaks(8)
    planned: list[tuple[float, float]] = []
    # Common tone plans with a peak near a tone (CPFSK with a small shift may show one tone
    # only, or sidebands of the framing beside both)
    for rank, f in enumerate(freqs):  # the strongest peak's plans first
        for _, _, mark, space in COMMON_MODEMS:
            if min(abs(f - mark), abs(f - space)) < min(100.0, abs(mark - space) / 2):
                planned.append((min(mark, space), max(mark, space)))
        for baud in (0.75 * (f - 600), 2 * (f - 600)):  # f as minimodem's space, or its mark
            if baud >= 400 and rank < 4:
                mark, space = _minimodem_tones(baud)
                planned.append((min(mark, space), max(mark, space)))
    generic = [(min(a, b), max(a, b)) for i, a in enumerate(freqs[:5]) for b in freqs[i + 1 : 5]]
    plans = _best_supported(planned, spectrum, nyquist, MAX_PAIRS // 2, [], ranked=False)
    peaks = _best_supported(generic, spectrum, nyquist, MAX_PAIRS - len(plans), plans)
    return [(a, b, True) for a, b in plans] + [(a, b, False) for a, b in peaks]


def _best_supported(
    pairs: list[tuple[float, float]],
    spectrum: _Spectrum,
    nyquist: float,
    limit: int,
    taken: list[tuple[float, float]],
    *,
    ranked: bool = True,
) -> list[tuple[float, float]]:
    """The first ``limit`` pairs whose weaker tone stands over the floor: in the given order
    (plans come by the strength of the peak that suggested them), or the best supported first."""
    seen = list(taken)
    tried: set[tuple[float, float]] = set()  # met already (common plans repeat): skipped again
    scored: list[tuple[float, float, float]] = []
    supported = 0
    for a, b in pairs:
        if not ranked and supported >= limit:
            break  # in the given order: the later pairs cannot come first
        if (a, b) in tried:
            continue
        tried.add((a, b))
        if b - a < MIN_SHIFT_HZ or b >= min(MAX_TONE_HZ, nyquist - 100):
            continue
        if any(abs(a - c) < 0.03 * a and abs(b - d) < 0.03 * b for c, d in seen):
            continue
        seen.append((a, b))
        scored.append((min(spectrum.at(a), spectrum.at(b)), a, b))
        supported += scored[-1][0] > 0.0
    if ranked:
        scored.sort(reverse=True)
    return [(a, b) for support, a, b in scored if support > 0.0][:limit]


@lru_cache(maxsize=256)
def _taper(width: int) -> Floats:
    """A Hann taper over ``width`` bins (its zero ends left off), made once per width."""
    taper: Floats = np.hanning(width + 2)[1:-1]
    taper.setflags(write=False)
    return taper


def _band_envelope(
    spectrum: npt.NDArray[np.complex128], bin_hz: float, centre: float, half: float, length: int
) -> npt.NDArray[np.complex128]:
    """Complex envelope of the band ``centre +- half`` from a full FFT, ``length`` samples long
    (an FFT filter bank: one transform of the chunk serves every band)."""
    out: npt.NDArray[np.complex128] = _band_envelopes(spectrum, bin_hz, (centre,), half, length)[0]
    return out


def _band_envelopes(
    spectrum: npt.NDArray[np.complex128],
    bin_hz: float,
    centres: tuple[float, ...],
    half: float,
    length: int,
) -> npt.NDArray[np.complex128]:
    """:func:`_band_envelope` of several bands of one width, shape (bands, length): one inverse
    transform call serves them all (the same values as one call each)."""
    h = max(1, int(half / bin_hz))
    shifted = np.zeros((len(centres), length), dtype=np.complex128)
    for row, centre in zip(shifted, centres, strict=True):
        c = round(centre / bin_hz)
        lo, hi = max(1, c - h), min(spectrum.size, c + h + 1)
        place_band(row, spectrum, lo, hi, c, _taper(hi - lo))
    # (in place: the bands placed are not read again; the same numbers as out of place)
    out: npt.NDArray[np.complex128] = scipy.fft.ifft(shifted, axis=-1, overwrite_x=True)
    return out


def _crossings(diff: Floats, rate: float, hysteresis: float = 0.3) -> Floats:
    """Times (s) at which ``diff`` goes from one tone to the other: a Schmitt trigger on +-0.3,
    each change timed at the last zero crossing before the new tone is decided."""
    times: Floats = change_times(diff, rate, hysteresis)
    return times


def _interval_coherence(intervals: Floats, rates: Floats) -> Floats:
    """|mean exp(2j pi f dt)| over the intervals between tone changes, for each rate f: 1 when
    every interval is a whole number of symbols. Local intervals, so a clock error of a few
    tenths of a percent (or a slow drift) costs nothing."""
    cycles = np.outer(rates, intervals).astype(np.float32)
    cycles -= np.rint(cycles)
    angle = (2 * np.pi) * cycles
    out: Floats = np.hypot(np.cos(angle).mean(axis=1), np.sin(angle).mean(axis=1)).astype(
        np.float64
    )
    return out


def _symbol_rate(times: Floats, max_baud: float) -> tuple[float, float]:
    """The steady clock of the tone changes (Hz) and its coherence, or (0, coherence)."""
    runs = np.diff(times)
    # Data changes tone after 1, 2, 3... symbols: a change and the next of the same direction
    # are 2, 3, 4... symbols apart (one direction may be timed late, the pair is not), so the
    # short ones give the period, roughly; coherence over the intervals decides between the
    # guesses and refines the winner.
    short = percentiles(times[2:] - times[:-2], (5, 15, 30))
    guesses = (np.arange(1, 13)[None, :] / short[:, None]).ravel()
    candidates = guesses[(guesses >= MIN_BAUD) & (guesses <= max_baud)]
    # A clock much slower than the changes themselves agrees with any short interval: the
    # symbol period cannot be much longer than the typical run (1-2 symbols in data).
    # Nearly any data has one-symbol runs (the stop bit of a zero byte, the start bit of 0xFF):
    # the shortest runs bound the period from above, so a tenth or a half of the rate (which
    # runs of equal bytes, 10 symbols a frame, also fit) is not taken for it.
    candidates = candidates[candidates >= 0.7 / float(percentiles(runs, (10,))[0])]
    if candidates.size == 0:
        return 0.0, 0.0
    # Between changes of the same direction (space->mark to space->mark): whatever delays one
    # direction more than the other cancels out.
    intervals = (times[2:] - times[:-2])[:160]
    grid = (candidates[:, None] * (1 + np.linspace(-0.1, 0.1, 11))[None, :]).ravel()
    coh = _interval_coherence(intervals, grid).reshape(candidates.size, -1)
    best_i = coh.argmax(axis=1)
    best = coh[np.arange(candidates.size), best_i]
    rates = grid.reshape(candidates.size, -1)[np.arange(candidates.size), best_i]
    good = np.flatnonzero(best >= max(MIN_COHERENCE, best.max() - 0.03))
    if good.size == 0:  # no clock: the common case for music, decided on 160 intervals
        return 0.0, float(best.max())
    k = int(good[np.argmin(rates[good])])
    # refine the chosen rate on a finer grid
    fine = rates[k] * (1 + np.linspace(-0.006, 0.006, 25))
    fc = _interval_coherence((times[2:] - times[:-2])[:800], fine)
    j = int(fc.argmax())
    # then on the whole span, changes of one direction only (the clock's phase must hold for
    # seconds): resolution ~ 1 / span
    same = times[::2][:: max(1, times.size // 500)]
    finest = fine[j] * (1 + np.linspace(-0.004, 0.004, 41))
    phase = np.abs(np.exp(2j * np.pi * np.outer(finest, same - same[0])).mean(axis=1))
    return float(finest[int(phase.argmax())]), float(fc[j])


_ChangePower = tuple[int, npt.NDArray[np.floating[Any]], Floats, Floats, int]
_last_change_power: list[tuple[Floats, float, _ChangePower] | None] = [None]


def _change_power(diff: Floats, rate: float) -> _ChangePower:
    """(size, Hz, power, local median floor, bins with a floor) of the spectrum of the change
    signal ``|d diff/dt|`` (mean removed), the floor the median of each 64 bins. The clock
    from lines and the clock from phase both read it for one ``diff`` in turn: the last one is
    kept (the same object, not a copy: it is not written to)."""
    last = _last_change_power[0]
    if last is not None and last[0] is diff and last[1] == rate:
        return last[2]
    g = np.abs(np.diff(diff))
    g -= g.mean()
    power: Floats = np.abs(scipy.fft.rfft(g)) ** 2
    freqs = np.fft.rfftfreq(g.size, 1 / rate)
    block = 64
    usable = int(power.size // block * block)
    floor: Floats = np.repeat(row_medians(power[:usable].reshape(-1, block)), block)
    out: _ChangePower = (int(g.size), freqs, power, floor, usable)
    _last_change_power[0] = (diff, rate, out)
    return out


def _clock_lines(diff: Floats, rate: float, max_baud: float) -> Floats:
    """Candidate clocks from the spectrum of the change signal ``|d diff/dt|``: a steady clock
    puts lines at the symbol rate and, with 8-N-1 framing, at multiples of a tenth of it. The
    lines are an average over every symbol of the chunk, so they stand out under music where
    single changes are timed badly."""
    _, freqs, power, floor, usable = _change_power(diff, rate)
    ok = (freqs[:usable] >= MIN_BAUD / 10) & (freqs[:usable] <= max_baud)
    ratio = np.where(ok, power[:usable] / (floor + EPS), 0.0)
    top = np.argpartition(ratio, -4)[-4:]
    lines = freqs[top[ratio[top] > 30.0]]  # 15 dB over the local median
    if lines.size == 0:
        return np.empty(0)
    candidates = np.unique(np.round(np.outer(lines, np.arange(1, 13)).ravel(), 1))
    out: Floats = candidates[(candidates >= MIN_BAUD) & (candidates <= max_baud)].astype(np.float64)
    return out


def _clock_by_lines(diff: Floats, rate: float, max_baud: float) -> tuple[float, float, Floats]:
    """(baud, coherence, change times) from the smoothed change signal, or (0, 0, [])."""
    cumulative = np.concatenate(([0.0], np.cumsum(diff)))
    for baud in _clock_lines(diff, rate, max_baud)[:4].tolist():
        found = _clock_at(cumulative, rate, baud, max_baud)
        if found[0] > 0:
            return found
    return 0.0, 0.0, np.empty(0)


def _clock_by_phase(
    diff: Floats, times: Floats, rate: float, max_baud: float
) -> tuple[float, float, Floats]:
    """(baud, coherence, change times) from the strongest lines of the change signal ``diff``,
    judged by the phase of its single changes (``times``, :func:`_crossings`) against one clock
    over the whole chunk; or (0, 0, []).

    Under music each change is timed with a jitter that two changes (an interval) add up, so
    the interval coherence of :func:`_symbol_rate` may stay below ``MIN_COHERENCE`` where the
    changes themselves still sit on the grid of the symbol clock: ``|mean exp(2j pi f t)|``
    over the change times ``t`` is the Rayleigh statistic of their phase against the clock
    (0.55-0.6 where a 600 Bd minimodem keys at about 0 dB under music and the change spectrum
    shows its line 150x over the floor; changes at random times give ~1/sqrt(n)). The rate is
    one of the lines (the clock the whole chunk keeps), refined within a bin of it.
    """
    if times.size < MIN_TRANSITIONS:
        return 0.0, 0.0, np.empty(0)
    g_size, freqs, power, floor, usable = _change_power(diff, rate)
    ok = (freqs[:usable] >= MIN_BAUD) & (freqs[:usable] <= max_baud)
    ratio = np.where(ok, power[:usable] / (floor + EPS), 0.0)
    top = np.argpartition(ratio, -PHASE_CLOCK_LINES)[-PHASE_CLOCK_LINES:]
    lines = freqs[top[ratio[top] > PHASE_CLOCK_MIN_LINE]]
    if lines.size == 0:
        return 0.0, 0.0, np.empty(0)
    # within a bin of each line (the clock's phase must hold over the whole chunk)
    step = rate / g_size
    grid = (lines[:, None] + step * np.linspace(-1.0, 1.0, 9)[None, :]).ravel()
    t = (times - times[0])[:: max(1, times.size // 400)]
    cycles = np.outer(grid, t).astype(np.float32)
    cycles -= np.rint(cycles)
    angle = (2 * np.pi) * cycles
    coh = np.hypot(np.cos(angle).mean(axis=1), np.sin(angle).mean(axis=1)).astype(np.float64)
    best = int(coh.argmax())
    if coh[best] < MIN_COHERENCE or times.size * coh[best] ** 2 < MIN_RAYLEIGH_Z:
        return 0.0, 0.0, np.empty(0)
    return float(grid[best]), float(coh[best]), times


def _clock_at(
    cumulative: Floats, rate: float, baud: float, max_baud: float
) -> tuple[float, float, Floats]:
    """(baud, coherence, change times) of the change signal (given as its running sum) read
    through a filter one symbol of ``baud`` long, when its changes sit on a clock within 1 % of
    ``baud``; else (0, 0, [])."""
    width = max(1, round(rate / baud))
    # a symbol-long average: the matched filter for one symbol of a keyed tone
    smooth = (cumulative[width:] - cumulative[:-width]) / width
    times = _crossings(smooth, rate) + width / (2 * rate)
    if times.size < MIN_TRANSITIONS:
        return 0.0, 0.0, np.empty(0)
    grid = baud * (1 + np.linspace(-0.01, 0.01, 21))
    coh = _interval_coherence((times[2:] - times[:-2])[:400], grid)
    if coh.max() < MIN_COHERENCE:
        return 0.0, 0.0, np.empty(0)
    found, coherence = _symbol_rate(times, max_baud)
    if coherence >= MIN_COHERENCE and abs(found - baud) < 0.02 * baud:
        return found, coherence, times
    return float(grid[int(coh.argmax())]), float(coh.max()), times


def _named_rate(f_a: float, f_b: float) -> float:
    """The rate minimodem's default plan names for these tones (mark = rate/2 + 600 Hz, space
    = mark + 5/6 rate, both within 3 %), or 0."""
    lo, hi = sorted((f_a, f_b))
    rate = 2 * (lo - 600)
    if rate < 400 or abs(hi - (lo + rate * 5 / 6)) > 0.03 * hi:
        return 0.0
    return rate


def _symbols(times: Floats, baud: float, first_high: bool) -> npt.NDArray[np.bool_]:
    """The symbol sequence rebuilt from the change times: each run lasts a whole number of
    symbols."""
    runs = np.maximum(1, np.rint(np.diff(times) * baud).astype(np.int64))
    runs = np.minimum(runs, 64)
    values = (np.arange(runs.size) % 2 == 0) != (not first_high)
    out: npt.NDArray[np.bool_] = np.repeat(values, runs)
    return out


def _periodic_agreement(bits: npt.NDArray[np.bool_], max_period: int = 24) -> tuple[float, int]:
    """Best agreement of the symbol sequence with itself shifted by 1..max_period symbols,
    over symbols near a change (idle carrier agrees with anything). A sequence shorter than
    three times ``max_period`` is tested up to a third of its length, down to twice the longest
    cycle the guard looks for (``PERIODIC_MAX_CYCLE``): a slow modem's pair window (~1.3 s)
    holds ~60 symbols at 45.45 Bd, and read as "cannot tell" (a cycle) it was never keyed."""
    max_period = min(max_period, bits.size // 3)
    if max_period < 2 * PERIODIC_MAX_CYCLE:
        return 1.0, 1
    changes = np.flatnonzero(bits[1:] != bits[:-1])
    if changes.size < 8:
        return 1.0, 1
    active = np.zeros(bits.size, dtype=bool)
    for c in changes[:: max(1, changes.size // 2000)].tolist():
        active[max(0, c - 10) : c + 11] = True
    best, period = 0.0, 1
    for p in range(1, max_period + 1):
        sel = active[:-p]
        if sel.sum() < 32:
            continue
        agree = float((bits[:-p][sel] == bits[p:][sel]).mean())
        if agree > best + 0.01:
            best, period = agree, p
    return best, period


def _pair_bands(
    x: Floats,
    spectra: dict[int, npt.NDArray[np.complex128]],
    rate: float,
    f_a: float,
    f_b: float,
    *,
    fast: bool = False,
    coarse: bool = False,
) -> tuple[Floats, Floats, Floats, float, float] | None:
    """The energy of the two bands of a pair over time with their slow floor taken off, their
    sum before that (each band at its mean), the envelope rate and the fastest clock the pair
    can carry; None when the envelope would be too short.

    Wide shifts allow fast clocks, which many changes time well in a short window (the middle
    of the chunk; ``spectra`` holds its transform by length); narrow shifts (slow modems) are
    timed over the whole chunk at a low envelope rate. Either way a few transforms of ~4k
    points; ``fast`` rounds their length up to one the FFT is quick at (the envelope rate
    then rises by a little) and leaves the sum out (empty); ``coarse`` (with ``fast``) takes
    the envelopes at ``TURN_ESTIMATE_SAMPLING`` times the band's width instead (the same band,
    sampled ~3x more sparsely: :func:`_turn_taking`'s estimate).
    """
    shift = f_b - f_a
    half = BAND_HALF * shift
    max_baud = min(2.2 * shift, 0.4 * rate)
    env_rate = min(rate, 2.5 * max_baud + 4 * half)
    n = min(x.size, 1 << int(np.ceil(np.log2(ENVELOPE_SAMPLES * rate / env_rate))))
    if n & (n - 1):
        n = 1 << int(np.log2(n))
    if n not in spectra:
        start = (x.size - n) // 2
        spectra[n] = scipy.fft.rfft(x[start : start + n])
    spectrum = spectra[n]
    bin_hz = rate / n
    length = int(n * env_rate / rate)
    if length < 64:
        return None
    if fast:
        length = scipy.fft.next_fast_len(length)
        if coarse:
            bins = 2 * max(1, int(half / bin_hz)) + 1  # as _band_envelopes places them
            # a power of two: the FFT's plans for a few lengths are kept and reused, where a
            # length per band width is planned afresh for nearly every pair
            length = min(length, 1 << (TURN_ESTIMATE_SAMPLING * bins - 1).bit_length())
    env_rate = length * rate / n
    energy = np.abs(_band_envelopes(spectrum, bin_hz, (f_a, f_b), half, length))
    # Under music each band also holds the music's energy, which changes slowly next to the
    # symbols: the band's floor over a dozen of the fastest symbols is taken off, leaving the
    # tone keyed on and off.
    # (the cheap look, ``fast``, times no clock: it needs no sum of the bands each at its mean)
    span = max(3, int(12 / shift * env_rate))
    raw_total = band_energy(energy, span, total=not fast)
    e_a, e_b = energy
    return e_a, e_b, raw_total, env_rate, max_baud


def _test_pair(
    x: Floats,
    spectra: dict[int, npt.NDArray[np.complex128]],
    rate: float,
    f_a: float,
    f_b: float,
    *,
    robust: bool = True,
) -> tuple[float, float, int, float, float] | None:
    """(baud, coherence, transitions, envelope hold, periodic agreement) of one pair, or None."""
    bands = _pair_bands(x, spectra, rate, f_a, f_b)
    if bands is None:
        return None
    e_a, e_b, raw_total, env_rate, max_baud = bands
    # Each tone at its own level: a channel that attenuates one tone more (the decimator, a
    # speaker) would otherwise shift every change of one direction against the other.
    diff = keyed_difference(e_a, e_b)
    times = _crossings(diff, env_rate)
    if times.size >= MIN_TRANSITIONS:
        baud, coherence = _symbol_rate(times, max_baud)
    elif times.size >= MIN_RAYLEIGH_Z:
        # A slow modem's chunk holds fewer changes than MIN_TRANSITIONS (TDD's Baudot 5-N-2 at
        # 45.45 Bd changes ~2.5 times in a character's 8 symbols: 30-36 changes a ~2.7 s
        # chunk); as few as can reach the Rayleigh bar (MIN_RAYLEIGH_Z at coherence 1) are
        # timed, for a slow clock only (a faster one keys more changes than that in a chunk:
        # fewer are music's, and would send more chunks to the full test)
        baud, coherence = _symbol_rate(times, min(max_baud, SLOW_KEYING_MAX_BAUD))
    else:
        baud, coherence = 0.0, 0.0
    if robust and (baud <= 0 or coherence < MIN_COHERENCE):
        # single changes timed too badly (music in the bands): time the clock from the lines
        # (for a common plan's tones only: a pair of peaks needs framing to be reported, which
        # music this loud breaks anyway)
        changes = times
        baud, coherence, times = _clock_by_lines(diff, env_rate, max_baud)
        if baud <= 0 or coherence < MIN_COHERENCE:
            baud, coherence, times = _clock_by_phase(diff, changes, env_rate, max_baud)
    named = _named_rate(f_a, f_b) if robust else 0.0
    # (The named rate is only as good as the tones' estimate, +-6 %: a clock near it stands.)
    near = abs(baud - named) <= 0.1 * named
    fraction = any(abs(k * baud - named) <= 0.05 * named for k in (2, 3, 4))
    if named and coherence < GENERIC_FRAMED_COHERENCE and not near and not fraction:
        # Tones that name minimodem's rate, a clock that is no fraction of it and sits only
        # loosely: under loud music the single changes may time a wrong clock (600 Bd read as
        # 190-280 Bd at 0.6-0.75) where the changes read through a filter one symbol of the
        # named rate long sit on it. A clock the changes already keep cleanly is the sound's
        # own (a real clip's partials beating at 1069 Bd, 0.87, re-timed at its tones' 933 Bd
        # framed at 0.82).
        found = _clock_at(np.concatenate(([0.0], np.cumsum(diff))), env_rate, named, max_baud)
        if found[0] > 0:
            baud, coherence, times = found
    if baud <= 0:
        return None
    if robust:
        baud, coherence = _plan_clock(times, f_a, f_b, baud, coherence)
    # While keying (from the first change to the last), does the envelope hold?
    first, last = int(times[0] * env_rate), int(times[-1] * env_rate)
    span = raw_total[first : last + 1]
    width = max(1, int(env_rate / baud))
    smooth = np.convolve(span, np.ones(width) / width, mode="valid") if span.size > width else span
    low, high = percentiles(smooth, (10, 90))
    hold = float(low / (high + EPS))
    first_high = bool(diff[min(diff.size - 1, int(times[0] * env_rate) + 1)] > 0)
    agreement, period = _periodic_agreement(_symbols(times, baud, first_high))
    # A cycle of a few notes (an arpeggio, a trill) repeats within 6 symbols; a run of equal
    # bytes in 8-N-1 repeats every 10.
    periodic = agreement if period <= PERIODIC_MAX_CYCLE else 0.0
    return baud, coherence, int(times.size), hold, periodic


# A standard plan's rate is taken for the clock when the changes sit on it nearly as well as on
# the clock found (the intervals of a zero-rich stream, 10 symbols each, also fit a clock 2.5x
# slower: Bell 103's 300 Bd read as 116-124 Bd under music, train split)
PLAN_CLOCK_SLACK = 0.05
PLAN_CLOCK_SLOWER = 2.0


def _plan_clock(
    times: Floats, f_a: float, f_b: float, baud: float, coherence: float
) -> tuple[float, float]:
    """(baud, coherence): the rate of the standard modem whose tones these are (Bell 103/202,
    V.21, V.23, RTTY), when the clock found is at least ``PLAN_CLOCK_SLOWER`` times slower and
    the changes keep the plan's within ``PLAN_CLOCK_SLACK`` of it; else the clock found. The tones name the rate: whatever clock the changes also fit
    (a whole fraction of it, or one that runs of equal bytes fit), the plan's is the one a
    receiver would use."""
    lo, hi = sorted((f_a, f_b))
    intervals = (times[2:] - times[:-2])[:400]
    if intervals.size < MIN_TRANSITIONS // 2:
        return baud, coherence
    for _, rate, mark, space in COMMON_MODEMS:
        want_lo, want_hi = sorted((mark, space))
        slack = 0.1 * (want_hi - want_lo) + 15
        # only a clock at least twice slower: what runs of equal bits fit (a sound periodic at
        # a subharmonic of both fits a clock near the plan's too, and is no modem)
        if (
            baud > rate / PLAN_CLOCK_SLOWER
            or abs(lo - want_lo) > slack
            or abs(hi - want_hi) > slack
        ):
            continue
        grid = rate * (1 + np.linspace(-0.01, 0.01, 21))
        coh = _interval_coherence(intervals, grid)
        k = int(coh.argmax())
        if coh[k] >= max(MIN_COHERENCE, coherence - PLAN_CLOCK_SLACK):
            return float(grid[k]), float(coh[k])
    return baud, coherence


# The turn-taking of a pair is first estimated from its band envelopes sampled more sparsely
# (at TURN_ESTIMATE_SAMPLING to twice that times the band's width instead of ~5.7 times: the
# same band-limited envelopes, at about half the cost; the length is the power of two at or
# above, so the FFT plans of a few lengths serve every pair); the estimate stands where it is
# this far from the gate it is compared with. Over the 672 pairs the cheap look met in 186
# chunks of 40 real tracks the estimate was at most 0.017 off the correlation (99th percentile
# 0.012; 0.030 and 0.015 at exactly twice the width); where it is closer to the gate the
# correlation itself is computed, so the answer is the correlation's.
TURN_ESTIMATE_SAMPLING = 2
TURN_ESTIMATE_MARGIN = 0.1


def _turn_taking(
    x: Floats,
    spectra: dict[int, npt.NDArray[np.complex128]],
    rate: float,
    f_a: float,
    f_b: float,
    gate: float | None = None,
) -> float:
    """Correlation of the fast energy changes of the bands of ``f_a`` and ``f_b`` (the bands,
    stretch and floor of :func:`_test_pair`): near -1 when two tones take turns. With a
    ``gate``, a value on the same side of it as the correlation (its estimate, where that is
    ``TURN_ESTIMATE_MARGIN`` or more from the gate: the caller only compares it with the gate);
    remembered per pair where ``spectra`` is a chunk's :class:`_Spectra`."""
    memo = spectra.turns if isinstance(spectra, _Spectra) else None
    estimate, exact = memo.get((f_a, f_b), (np.nan, None)) if memo is not None else (np.nan, None)
    if exact is not None:
        return exact
    if gate is not None:
        if np.isnan(estimate):
            estimate = _turn_correlation(x, spectra, rate, f_a, f_b, coarse=True)
        if abs(estimate - gate) >= TURN_ESTIMATE_MARGIN:
            if memo is not None:
                memo[(f_a, f_b)] = (estimate, None)
            return estimate
    exact = _turn_correlation(x, spectra, rate, f_a, f_b, coarse=False)
    if memo is not None:
        memo[(f_a, f_b)] = (estimate, exact)
    return exact


def _turn_correlation(
    x: Floats,
    spectra: dict[int, npt.NDArray[np.complex128]],
    rate: float,
    f_a: float,
    f_b: float,
    *,
    coarse: bool,
) -> float:
    """:func:`_turn_taking`'s correlation, or its estimate (``coarse``)."""
    bands = _pair_bands(x, spectra, rate, f_a, f_b, fast=True, coarse=coarse)
    if bands is None:
        return 0.0
    return turn_correlation(bands[0], bands[1])


def _fixed_plans(
    chunk: _ChunkTransform,
    spectra: dict[int, npt.NDArray[np.complex128]],
    rate: float,
    candidates: list[tuple[float, float, bool]],
) -> list[tuple[float, float, bool]]:
    """minimodem's tone pairs at its common rates (``FIXED_PLAN_BAUDS``) whose bands take turns,
    where the chunk's peaks did not suggest them: under loud chords a keyed pair's tones need
    not stand out as peaks (a chord's partials stand higher), while their bands still take
    turns (-0.5 to -0.7 where a 600 Bd minimodem keys 0-3 dB over held chords)."""
    out: list[tuple[float, float, bool]] = []
    for lo, hi in FIXED_PLANS:
        if hi >= min(MAX_TONE_HZ, rate / 2 - 100):
            continue
        if any(abs(lo - a) < 0.03 * lo and abs(hi - b) < 0.03 * hi for a, b, _ in candidates):
            continue
        # each keyed tone still lifts its band over the floor (the cost bound: most real
        # chunks hold no such pair)
        if min(chunk.coarse.at(lo), chunk.coarse.at(hi)) < FIXED_PLAN_MIN_EXCESS_DB:
            continue
        if _turn_taking(chunk.x, spectra, rate, lo, hi, TURN_TAKING_GATE) <= TURN_TAKING_GATE:
            out.append((lo, hi, True))
    return out


# What the cheap look saw in a chunk: nothing taking turns, only pairs the keyed-band search
# found (of 185 looks at 40 real tracks, 7 passed, 5 of them so), or a pair of the chunk's peaks,
# a plan's tones, or a plan's named clock
LOOK_NOTHING, LOOK_KEYED_ONLY, LOOK_TURNS = 0, 1, 2


def _takes_turns(chunk: _ChunkTransform, rate: float) -> int:
    """Whether a candidate pair of the chunk's tones takes turns (the cheap look the scanner
    gives every chunk while nothing keys: two band envelopes per pair, no clock): ``LOOK_*``."""
    spectra = chunk.spectra
    candidates = _candidate_pairs(chunk.coarse, rate / 2)
    if (
        any(
            _turn_taking(chunk.x, spectra, rate, f_a, f_b, TURN_TAKING_GATE) <= TURN_TAKING_GATE
            for f_a, f_b, _ in candidates
        )
        or bool(_fixed_plans(chunk, spectra, rate, candidates))
        # minimodem's tones standing over the floor, barely taking turns, on their named clock
        or _standing_plans_clock(chunk, rate, spectra, 0.0, 0.0) is not None
    ):
        return LOOK_TURNS
    # tones that are neither the chunk's peaks nor a plan's (a modem under music); the search
    # costs about a third of the look above
    return LOOK_KEYED_ONLY if _keyed_pairs(chunk, rate) else LOOK_NOTHING


def _keyed_keying(
    chunk: _ChunkTransform, sr: float, offset_s: float, end_s: float
) -> Keying | None:
    """The full test of a chunk where only the keyed-band search's pairs took turns: those
    pairs, or the band above a plan's higher tone (:func:`_or_sideband`: under music as loud as
    a fast modem its pair need not take turns, and the look does not read that band). The
    peaks' pairs and the plans' tones were below the turn gate in the look: clocked anyway, they
    time music's partials."""
    pairs = _keyed_candidates(chunk, sr, [])
    found = _best_keying(chunk.x, chunk.spectra, sr, pairs, offset_s, end_s)
    return _or_sideband(found, chunk, sr, chunk.spectra, offset_s, end_s)


def detect_keying(
    y: npt.NDArray[np.floating], sr: float, *, offset_s: float = 0.0
) -> Keying | None:
    """Find FSK keying in one stretch (~1-4 s) of mono audio at a reduced rate.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono samples, any scale, at ``sr`` (>= ~20 kHz for the fastest modems).
    sr : float
        Sample rate in Hz.
    offset_s : float
        Where ``y`` starts in the track (for the reported time range).

    Returns
    -------
    Keying or None
        The best-clocked tone pair whose changes sit on a steady clock, that keeps a constant
        envelope and does not repeat a short cycle; None when nothing keys.
    """
    n = np.size(y)
    if n < MIN_CHUNK_S * sr:
        return None
    chunk = _stretch_transform(y, sr)
    return None if chunk is None else _keying(chunk, sr, offset_s, offset_s + n / sr)


def _stretch_transform(y: npt.NDArray[np.floating], sr: float) -> _ChunkTransform | None:
    """The transform of a stretch of any length (zero-padded to a power of two after centring:
    a length the FFT is fast at), or None when it is silent."""
    x = np.asarray(y, dtype=np.float64)
    n = x.size
    if n & (n - 1):  # a track's last chunk
        x = x - x.mean()
        if not np.any(x):
            return None
        padded = np.concatenate((x, np.zeros((1 << int(np.ceil(np.log2(n)))) - n)))
        return _ChunkTransform.of(padded, sr, centred=True)
    return _ChunkTransform.of(x, sr)


def _keying(chunk: _ChunkTransform, sr: float, offset_s: float, end_s: float) -> Keying | None:
    """:func:`detect_keying` on a chunk already transformed (a power-of-two length): the pairs
    the chunk's peaks suggest, and where none of them keys, minimodem's common plans whose
    bands take turns (their wide bands also hold a slower plan's tones: they come second)."""
    x, spectrum = chunk.x, chunk.coarse
    spectra = chunk.spectra
    candidates = _candidate_pairs(spectrum, sr / 2)
    best = _best_keying(x, spectra, sr, candidates, offset_s, end_s)
    turns = best is not None  # something keys, or (below) takes turns
    if best is None:
        fixed = _fixed_plans(chunk, spectra, sr, candidates)
        best = _best_keying(x, spectra, sr, fixed, offset_s, end_s)
        # a plan that keys takes turns too (its bands passed the gate): its named clock over
        # the whole chunk is timed as a peak pair's is
        turns = bool(fixed)
        if best is None:
            keyed = _keyed_candidates(chunk, sr, candidates + fixed)
            best = _best_keying(x, spectra, sr, keyed, offset_s, end_s)
            turns = bool(fixed or keyed)
    if not turns:
        found = best or _standing_plans_clock(chunk, sr, spectra, offset_s, end_s)
    else:
        found = _over_whole_chunk(chunk, sr, spectra, candidates, best, offset_s, end_s)
    return _or_sideband(found, chunk, sr, spectra, offset_s, end_s)


def _or_sideband(
    found: Keying | None,
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """``found``, or where it is nothing or tones no plan knows, a keying the band above a
    plan's higher tone times (:func:`_sideband_keying`): under music as loud as a fast modem
    the pair tests time nothing, or a stray pair of the music's peaks."""
    if found is not None and modem_name(found.baud, found.f_low, found.f_high) != "FSK":
        return found
    return _sideband_keying(chunk, sr, spectra, offset_s, end_s) or found


def _keyed_pairs(chunk: _ChunkTransform, sr: float) -> list[tuple[float, float, float]]:
    """Tone pairs whose bands take turns in the chunk, wherever the tones sit (searched once
    per chunk: the cheap look and the full test both ask)."""
    found = chunk.spectra.keyed.get(sr)
    if found is None:
        found = chunk.spectra.keyed[sr] = keyed_band_pairs(
            chunk.x,
            sr,
            min_hz=MIN_TONE_HZ,
            # up to the reduced rate's Nyquist: an attacker sets minimodem's tones anywhere
            # (`-M 10000 -S 11000`), and no peak or plan suggests such a pair
            max_hz=sr / 2 - 100,
            min_shift_hz=MIN_SHIFT_HZ,
            upper_from_hz=MAX_TONE_HZ,
        )
    return found


def _keyed_candidates(
    chunk: _ChunkTransform, sr: float, tested: list[tuple[float, float, bool]]
) -> list[tuple[float, float, bool]]:
    """Tone pairs whose bands take turns, whatever their tones (:mod:`audiomodel.keyed_bands`),
    not tested already: under music a modem's tones need be neither the chunk's peaks nor a
    known plan's. Tested as plans are (the clock may be timed from its lines), since the
    turn-taking itself, not a peak, put them forward."""
    return [
        (lo, hi, True)
        for lo, hi, _ in _keyed_pairs(chunk, sr)
        if not any(abs(lo - a) < 0.03 * lo and abs(hi - b) < 0.03 * hi for a, b, _ in tested)
    ]


def _best_keying(
    x: Floats,
    spectra: dict[int, npt.NDArray[np.complex128]],
    sr: float,
    pairs: list[tuple[float, float, bool]],
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """The best-clocked of ``pairs`` (low, high, from a plan) that keys, or None."""
    best: Keying | None = None
    best_rank = 0.0
    for f_a, f_b, planned in pairs:
        result = _test_pair(x, spectra, sr, f_a, f_b, robust=planned)
        if result is None:
            continue
        baud, coherence, transitions, hold, agreement = result
        if (
            coherence < MIN_COHERENCE
            or transitions * coherence**2 < MIN_RAYLEIGH_Z
            or hold < MIN_ENVELOPE_HOLD
            or agreement > PERIODIC_AGREEMENT_MAX
        ):
            continue
        # a common modem's tone plan explains the keying better than a pair of stray peaks;
        # its exact tones demodulate better than the peaks' estimates
        baud = _minimodem_rate(f_a, f_b, baud)
        name, lo, hi = modem_plan(baud, f_a, f_b)
        keying = Keying(offset_s, end_s, lo, hi, baud, coherence, transitions)
        rank = coherence + (0.1 if name != "FSK" else 0.0)
        if best is None or rank > best_rank:
            best, best_rank = keying, rank
    return best


# -- a named rate's clock over whole chunks ---------------------------------------------------
#
# Where the tones name a rate (minimodem's plan, whose tones are a function of its rate, or a
# standard modem's), the clock need not be found: it is known, and a modem's changes keep its
# phase over the whole chunk. Under music as loud as a fast modem (2400-4800 Bd at ~0 dB) the
# ~0.2 s stretch the pair test times holds too few cleanly timed changes for any clock, but over
# the whole ~2.7 s chunk, read through a filter one symbol long, thousands of changes keep the
# phase of the named clock: the Rayleigh Z (changes x coherence^2) of a minimodem keyed at
# 1200-4800 Bd under music at -5..+6 dB reaches 100-3700 in the chunks it fills, where the same
# statistic at minimodem's tones and rates over train music (4,132 chunk-plans of 600 files,
# renditions included) is 4 at the median and 29 at its highest. A steady beat at the named
# rate keeps it too, but repeats a cycle of a symbol or two (the periodic guard).
WHOLE_CLOCK_MIN_Z = 100.0
WHOLE_CLOCK_GRID = 0.004  # +- share of the named rate searched (the crystal's and the tones' slack)
WHOLE_CLOCK_CHANGES = 1500  # changes whose phase is searched at most (the cost bound)
NAMED_CLOCK_MIN_FRAMES = 0.4  # a named clock reported alone: its frames no worse than garbled
# ... and its changes locked to it, not loosely over very many: Z grows with the changes, and a
# hard-clipped FM synth through two codecs (fresh good seed 15) reached Z 163 on minimodem's
# 4800 Bd tones from ~1,400 changes at a coherence of 0.34. minimodem under train music, every
# mode and level of the session-12 sweep, flagged with Z >= 100: coherence 0.47 at the lowest
NAMED_CLOCK_MIN_COHERENCE = 0.4
# A tracker ticks at 2/5 of its tempo in BPM (32-255: 12.8-102 Hz; 50 Hz by default): a named
# clock at or below that is kept by a chiptune's arpeggio too, and is no evidence alone
NAMED_CLOCK_MIN_BAUD = 105.0
# symbols over which a named clock's pair energy is averaged before its hold is judged
HOLD_TREND_SYMBOLS = 16


def _named_rates(f_a: float, f_b: float) -> list[float]:
    """The rates these tones name: minimodem's plan, and the standard plans with these tones."""
    lo, hi = sorted((f_a, f_b))
    out = [rate] if (rate := _named_rate(lo, hi)) else []
    for _, rate, mark, space in COMMON_MODEMS:
        want_lo, want_hi = sorted((mark, space))
        slack = 0.1 * (want_hi - want_lo) + 15
        if abs(lo - want_lo) <= slack and abs(hi - want_hi) <= slack and rate >= MIN_BAUD:
            out.append(rate)
    return out


def _over_whole_chunk(
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    candidates: list[tuple[float, float, bool]],
    best: Keying | None,
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """``best``, or a keying of tones that name a rate whose clock the whole chunk keeps
    (:func:`_whole_chunk_keying`) over it, where the chunk keys or takes turns at all (the
    cost bound: most music neither): under music a fast modem's changes may time a wrong clock
    on wrong tones. A plan's keying at a whole fraction of the named rate stands (the changes
    of a modem at 300 Bd keep a 600 Bd clock too)."""
    whole = _whole_chunk_keying(chunk, sr, spectra, candidates, offset_s, end_s)
    if whole is not None and (
        best is None
        or modem_name(best.baud, best.f_low, best.f_high) == "FSK"
        or not any(abs(k * best.baud - whole.baud) <= 0.03 * whole.baud for k in (1, 2, 3, 4))
    ):
        return whole
    return _with_named_clock(best, whole)


def _with_named_clock(best: Keying | None, whole: Keying | None) -> Keying | None:
    """``best`` carrying the Rayleigh Z of the named clock the whole chunk keeps, where that
    clock is its own rate or a whole multiple of it: the evidence of the clock is not dropped
    because the pair test timed the same transmission first (a minimodem at 1200 Bd under
    music, its pair test's clock at coherence 0.99, whole-chunk Z in the hundreds, frames
    diluted to ~0.65 by the music-only chunks kept either side)."""
    if best is None or whole is None or whole.clock_z <= best.clock_z:
        return best
    return replace(best, clock_z=whole.clock_z)


# Where no pair passes the turn-taking gate, minimodem's common plans whose tones both stand over
# the floor (FIXED_PLAN_MIN_EXCESS_DB) and whose bands anti-correlate at all (a note's partials
# rise and fall together: > 0) have their named clock timed over the chunk anyway: a modem under
# music as loud as it keeps its tones and its clock while the music's own energy in the two
# bands hides the turn-taking (a 600 Bd minimodem +3 dB over train music: -0.14, Z 236). Over
# 1,224 good files (train corpus, dev good sets 1-2: chiptunes, FM synths, DTMF, test tones),
# 298 chunk-plans pass this gate and their named clocks reach Z 8 at most (WHOLE_CLOCK_MIN_Z is
# 100); among all 1,584 chunk-plans with standing tones, 69 (a test signal, bands rising
# together at +0.89).
STANDING_TURN_GATE = 0.0


def _standing_plans_clock(
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """The best keying of minimodem's common plans whose tones stand over the floor, whose
    bands anti-correlate (``STANDING_TURN_GATE``) and whose named clock the chunk keeps
    (:func:`_whole_chunk_clock`); None where none does."""
    return _best_plan_keying(
        chunk,
        sr,
        spectra,
        (offset_s, end_s),
        stands=lambda lo, hi: (
            min(chunk.coarse.at(lo), chunk.coarse.at(hi)) >= FIXED_PLAN_MIN_EXCESS_DB
        ),
        gate=STANDING_TURN_GATE,
        clock=_whole_chunk_clock,
    )


def _best_plan_keying(
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    span: tuple[float, float],
    *,
    stands: Callable[[float, float], bool],
    gate: float,
    clock: Callable[
        [_ChunkTransform, float, float, float, float], tuple[float, float, int, float] | None
    ],
) -> Keying | None:
    """The keying of the common plan (below Nyquist, its tones as ``stands`` asks) whose bands
    anti-correlate to ``gate`` or below and whose ``clock`` (baud, coherence, changes, Z) is
    a named plan's with the highest Z; None where none is."""
    best: Keying | None = None
    for (lo, hi), named in zip(FIXED_PLANS, FIXED_PLAN_BAUDS, strict=True):
        if hi >= min(MAX_TONE_HZ, sr / 2 - 100) or not stands(lo, hi):
            continue
        if _turn_taking(chunk.x, spectra, sr, lo, hi, gate) > gate:
            continue
        found = clock(chunk, sr, lo, hi, named)
        if found is None:
            continue
        baud, coherence, changes, z = found
        name, plan_lo, plan_hi = modem_plan(baud, lo, hi)
        if name != "FSK" and (best is None or z > best.clock_z):
            best = Keying(*span, plan_lo, plan_hi, baud, coherence, changes, z)
    return best


def _whole_chunk_keying(
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    candidates: list[tuple[float, float, bool]],
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """A pair whose tones name a rate, whose bands take turns (``TURN_TAKING_GATE``: the cost
    bound, most music passes no pair) and whose changes over the whole chunk keep the phase of
    that rate's clock (``WHOLE_CLOCK_MIN_Z``), with a steady envelope and no short cycle; the
    best such, or None. The pairs: minimodem's at its common rates (their tones need not stand
    over the floor: under chords they do not), and the chunk's candidates that name a rate."""
    pairs = [(lo, hi) for lo, hi in FIXED_PLANS]
    pairs += [(a, b) for a, b, _ in candidates if _named_rates(a, b) and (a, b) not in pairs]
    best: Keying | None = None
    seen: set[tuple[float, float, float]] = set()
    for lo, hi in pairs:
        if hi >= min(MAX_TONE_HZ, sr / 2 - 100):
            continue
        if _turn_taking(chunk.x, spectra, sr, lo, hi, TURN_TAKING_GATE) > TURN_TAKING_GATE:
            continue
        for named in _named_rates(lo, hi):
            if (lo, hi, named) in seen:
                continue
            seen.add((lo, hi, named))
            found = _whole_chunk_clock(chunk, sr, lo, hi, named)
            if found is None:
                continue
            baud, coherence, changes, z = found
            name, plan_lo, plan_hi = modem_plan(baud, lo, hi)
            if name == "FSK":
                continue
            keying = Keying(offset_s, end_s, plan_lo, plan_hi, baud, coherence, changes, z)
            if best is None or z > best.clock_z:
                best = keying
    return best


def _whole_chunk_clock(
    chunk: _ChunkTransform,
    sr: float,
    f_a: float,
    f_b: float,
    named: float,
    *,
    keyed_span: bool = False,
) -> tuple[float, float, int, float] | None:
    """(baud, coherence, changes, Rayleigh Z) of the changes between the bands of ``f_a`` and
    ``f_b`` over the whole chunk against a clock within ``WHOLE_CLOCK_GRID`` of ``named``, when
    Z reaches ``WHOLE_CLOCK_MIN_Z``, the pair's energy holds while it keys and its symbols
    repeat no short cycle; else None."""
    n = chunk.x.size
    shift = f_b - f_a
    half = BAND_HALF * shift
    env_rate = min(sr, 2.5 * named + 4 * half)
    length = scipy.fft.next_fast_len(int(n * env_rate / sr))
    env_rate = length * sr / n
    if env_rate < 2 * named:
        return None
    energy = np.abs(_band_envelopes(chunk.spectrum, sr / n, (f_a, f_b), half, length))
    raw_total = band_energy(energy, max(3, int(12 / shift * env_rate)), total=True)
    edge = length // 32  # the circular envelope wraps at its ends
    diff = keyed_difference(energy[0], energy[1])[edge:-edge]
    return _named_clock(diff, raw_total, env_rate, edge, named, keyed_span=keyed_span)


def _named_clock(
    level: Floats,
    raw_total: Floats,
    env_rate: float,
    edge: int,
    named: float,
    *,
    keyed_span: bool,
) -> tuple[float, float, int, float] | None:
    """(baud, coherence, changes, Rayleigh Z) of the changes of ``level`` (an envelope at
    ``env_rate`` with ``edge`` samples left off each end, which swings with the keying) against
    a clock within ``WHOLE_CLOCK_GRID`` of ``named``, when Z reaches ``WHOLE_CLOCK_MIN_Z``, the
    pair's energy (``raw_total``, the whole envelope) holds while it keys and its symbols repeat
    no short cycle; else None. ``keyed_span``: the energy is judged where it keys only (a
    stretch longer than the keying)."""
    width = max(1, round(env_rate / named))
    cumulative = np.concatenate(([0.0], np.cumsum(level)))
    smooth = (cumulative[width:] - cumulative[:-width]) / width  # one symbol: the matched filter
    times = _crossings(smooth, env_rate)
    if times.size < MIN_TRANSITIONS or times.size < WHOLE_CLOCK_MIN_Z:
        return None
    t = times - times[0]
    grid = named * (1 + np.linspace(-WHOLE_CLOCK_GRID, WHOLE_CLOCK_GRID, 81))
    coh = clock_coherence(grid, t[:: max(1, t.size // WHOLE_CLOCK_CHANGES)])
    k = int(coh.argmax())
    baud = float(grid[k])
    coherence = float(np.abs(np.exp(2j * np.pi * baud * t).mean()))
    z = times.size * coherence**2
    if z < WHOLE_CLOCK_MIN_Z:
        return None
    # the envelope holds while keying, and the symbols are no cycle of a few (a beat)
    first = int((times[0] * env_rate) + edge)
    last = int((times[-1] * env_rate) + edge)
    if keyed_span:
        first, last = _keyed_span(times, baud, env_rate, edge, (first, last))
    span = raw_total[first : last + 1]
    smoothed = (
        np.convolve(span, np.ones(width) / width, mode="valid") if span.size > width else span
    )
    low, high = percentiles(smoothed, (10, 90))
    # ... over the span, or against its own trend over HOLD_TREND_SYMBOLS symbols: under music
    # louder than the modem the bands' energy is the music's, which rises and falls with its
    # notes (tens to hundreds of symbols at >= 105 Bd), while a tone keyed on and off dips
    # within a few symbols either way
    trend = _moving_mean(smoothed, min(smoothed.size, HOLD_TREND_SYMBOLS * width))
    trend_low, trend_high = percentiles(smoothed / (trend + EPS), (10, 90))
    hold = float(max(low / (high + EPS), trend_low / (trend_high + EPS)))
    first_high = bool(smooth[min(smooth.size - 1, int(times[0] * env_rate) + 1)] > 0)
    agreement, period = _periodic_agreement(_symbols(times, baud, first_high))
    if hold < MIN_ENVELOPE_HOLD or (
        period <= PERIODIC_MAX_CYCLE and agreement > PERIODIC_AGREEMENT_MAX
    ):
        return None
    return baud, coherence, int(times.size), float(z)


# -- the keyed spectrum above the music -------------------------------------------------------
#
# Keying spreads each tone over about the symbol rate, and the part of that spread above the
# higher tone carries the clock on its own: that band's energy rises and falls with the keying.
# Music's energy falls with frequency, so under music as loud as a fast modem (2400-4800 Bd at
# ~0 dB, tones at 1.8-7 kHz) the lower tone's band is the music's, the pair no longer takes
# turns cleanly and no pair clock is timed, while the band from the higher tone up by 1.5
# symbol rates may still keep the named clock: Rayleigh Z 367-543 on the two train mixes that
# every other test missed; 335 for 4800 Bd under noise shaped as music's, 6 dB over it. (At
# 2400 Bd alone the band keeps little for text, Z 9-23: its level decides "on" at twice the
# band's mean, which a band keyed half the time barely reaches; zero-rich bytes, or a burst
# filling part of the chunk, reach it (/bin/true alone: Z 250-1460). It adds evidence under
# music, never replaces the pair test.) Over half of dev good set 1 (200 files: chiptunes, FM synths, DTMF, test tones,
# music) the same band timed at minimodem's rates reaches Z 22 at most (WHOLE_CLOCK_MIN_Z is
# 100). The gate: the higher tone stands over the floor and the pair's bands anti-correlate at
# all (the cost bound; a note's partials rise and fall together).
SIDEBAND_MIN_EXCESS_DB = 3.0
SIDEBAND_TURN_GATE = 0.0
SIDEBAND_SYMBOLS = 1.5  # the band above the higher tone, in symbol rates
# the plans timed so: a higher tone above the bulk of music's energy (minimodem at 2400 and 4800 Bd,
# 3.8 and 7 kHz); the slower plans' bands above their tones lie in it (the cost bound too: real
# music passes the gate mostly at 300-600 Bd's tones)
SIDEBAND_MIN_TONE_HZ = 3000.0


def _sideband_keying(
    chunk: _ChunkTransform,
    sr: float,
    spectra: dict[int, npt.NDArray[np.complex128]],
    offset_s: float,
    end_s: float,
) -> Keying | None:
    """The best keying of minimodem's common plans whose higher tone sits above
    ``SIDEBAND_MIN_TONE_HZ`` and stands over the floor, whose bands anti-correlate
    (``SIDEBAND_TURN_GATE``) and whose named clock the band above the higher tone keeps
    (:func:`_sideband_clock`); None where none does."""
    return _best_plan_keying(
        chunk,
        sr,
        spectra,
        (offset_s, end_s),
        stands=lambda lo, hi: (
            hi >= SIDEBAND_MIN_TONE_HZ and chunk.coarse.at(hi) >= SIDEBAND_MIN_EXCESS_DB
        ),
        gate=SIDEBAND_TURN_GATE,
        clock=_sideband_clock,
    )


def _sideband_clock(
    chunk: _ChunkTransform, sr: float, f_a: float, f_b: float, named: float
) -> tuple[float, float, int, float] | None:
    """(baud, coherence, changes, Rayleigh Z) of the rises and falls of the band from ``f_b``
    up by ``SIDEBAND_SYMBOLS`` times ``named`` (to 0.95 of Nyquist) against a clock within
    ``WHOLE_CLOCK_GRID`` of ``named``, when Z reaches ``WHOLE_CLOCK_MIN_Z``, the pair's energy
    holds while it keys (:data:`MIN_ENVELOPE_HOLD`) and its changes repeat no short cycle; else
    None."""
    n = chunk.x.size
    top = min(f_b + SIDEBAND_SYMBOLS * named, 0.95 * sr / 2)
    if top - f_b < 0.5 * named:
        return None
    half = (top - f_b) / 2
    shift = f_b - f_a
    pair_half = BAND_HALF * shift
    env_rate = min(sr, 2.5 * named + 4 * max(half, pair_half))
    length = scipy.fft.next_fast_len(int(n * env_rate / sr))
    env_rate = length * sr / n
    if env_rate < 2 * named:
        return None
    bands = _band_envelopes(chunk.spectrum, sr / n, (f_b + half,), half, length)
    pair = np.abs(_band_envelopes(chunk.spectrum, sr / n, (f_a, f_b), pair_half, length))
    band = np.abs(bands)
    band = np.concatenate((band, band))  # band_energy works on pairs of bands
    band_energy(band, max(3, int(12 / shift * env_rate)), total=False)
    raw_total = band_energy(pair, max(3, int(12 / shift * env_rate)), total=True)
    edge = length // 32
    level = keyed_difference(band[0], np.ones(length))[edge:-edge]  # the band over its mean
    return _named_clock(level, raw_total, env_rate, edge, named, keyed_span=True)


# -- phase keying (BPSK, QPSK) -------------------------------------------------------------------
#
# A phase-keyed carrier is one narrow spectral line whose phase, mixed down to baseband around
# the carrier, jumps by pi (BPSK) or by multiples of pi/2 (QPSK) at instants on a steady symbol
# lattice, while its amplitude holds (unshaped keying) or dips to zero at each change and holds
# between them (raised-cosine shaped PSK31). The M-th power of the baseband signal removes M-ary
# phase keying (the carrier-recovery trick of a Costas loop): the keyed carrier's band spreads
# its energy over the band, its M-th power puts nearly all of it into one line. A note holds or
# glides its phase (its band is one line already, or its M-th power spreads further under
# vibrato); tremolo keeps the line; two beating partials reverse the phase on every tick of their
# beat, which carries nothing (data has runs of one and of several symbols).

PSK_MIN_CARRIER_HZ = 300.0
PSK_MAX_CARRIER_HZ = 4000.0
PSK_BAND_HALF = 120.0  # Hz either side of the carrier: the main lobe of keying up to ~100 Bd
PSK_MIN_EXCESS_DB = 15.0  # the gate: a narrow line this far over the 2 kHz floor
PSK_CANDIDATES = 4  # carriers tested per chunk (the cost bound; a chord's partials come first)
PSK_MIN_BAUD = 2.0
PSK_MAX_BAUD = 120.0
# Share of the band's energy in its strongest single line: a tone (steady, tremolo, a slight
# vibrato) keeps most of it in the carrier; keying at 2+ Bd spreads it (<~0.2 for random data)
PSK_MAX_PLAIN_LINE = 0.35
# ... and the M-th power puts it back into one line: keyed 0.7-0.97 (QPSK at -6 dB under a
# chord the least); the candidates of 589 real music and speech clips (1,507 past the test
# above) reach 0.43 at most (99th percentile 0.32)
PSK_MIN_POWER_LINE = 0.6
PSK_MIN_COHERENCE = 0.7  # changes' phase against one symbol clock over the window (Rayleigh)
PSK_MIN_CHUNK_TRANSITIONS = 8  # on-lattice changes in a window (10 Bd random data: 8-16 a chunk)
# ... and their Rayleigh Z (changes * coherence^2): few changes must sit on the lattice closely
PSK_MIN_RAYLEIGH_Z = 6.0
PSK_MIN_TRANSITIONS = 32  # ... and over the whole transmission, before it is reported
PSK_WINDOW_CHUNKS = 8  # chunks (~20 s) whose changes are timed together: 2 Bd gives ~20
# Chunks bridged within a transmission: a slow keying leaves whole chunks without a change
# (its band is one line there, and the gate turns them away)
PSK_BRIDGE_CHUNKS = 4
MAX_PHASE_LINES = 20000  # chunks' candidates kept per track (a ~15 h transmission)
PSK_RUN_SHARE = (0.1, 0.9)  # share of one-symbol runs: data has both short and long runs


@dataclass(frozen=True, slots=True)
class PhaseKeying:
    """A carrier whose phase is keyed (order 2: BPSK, 4: QPSK) on a steady symbol lattice."""

    start_s: float
    end_s: float
    carrier_hz: float
    baud: float
    order: int
    coherence: float
    transitions: int  # phase changes on the lattice
    line_share: float  # the M-th power's energy in one line

    @property
    def modulation(self) -> str:
        return "BPSK" if self.order == 2 else "QPSK"


@lru_cache(maxsize=64)
def _line_bins(size: int, rate: float, max_hz: float) -> tuple[npt.NDArray[np.intp], Floats]:
    """The bins of a ``size``-point FFT at ``rate`` within +-max_hz (in the FFT's order) and
    their frequencies, made once per size."""
    freqs = scipy.fft.fftfreq(size, 1 / rate)
    bins = np.flatnonzero(np.abs(freqs) <= max_hz)
    bins.setflags(write=False)
    return bins, freqs[bins]


# A line of share p on the 4x-padded grid is at most 1/(4n) cycles from a point of the 2x grid,
# where the share is at least (sqrt(p) c - sqrt(1 - p) sqrt(1 - c^2))^2, c = |Dirichlet(1/(4n))|
# >= sin(pi/4) / (pi/4): at p = 0.6, 0.178. Under this on the 2x grid, no line reaches 0.6.
# Any finer grid keeps the bound (its points are nearer, c only grows): the check pads to the
# power of two at or above 2n, a fast transform where 2n has a large prime factor.
_HALF_GRID_BOUND = 0.17


def _line_share(
    w: npt.NDArray[np.complex128], rate: float, max_hz: float, *, at_least: float = 0.0
) -> tuple[float, float]:
    """(share of the energy of ``w`` in its strongest single line within +-max_hz, its Hz);
    with ``at_least`` = PSK_MIN_POWER_LINE, (0, 0) when a coarser grid shows no line reaches
    it (the 4x-padded transform is then left out)."""
    n = w.size
    total = float(np.sum(np.abs(w) ** 2)) * n + EPS
    if at_least >= PSK_MIN_POWER_LINE:
        # the (at least) 2x grid, one 2x bin beyond +-max_hz: the 4x grid's lines are within
        # half a bin of it
        size = 1 << (2 * n - 1).bit_length()
        bins, _ = _line_bins(size, rate, max_hz + rate / (2 * n))
        half = scipy.fft.fft(w, size)[bins]
        if float(np.max(half.real**2 + half.imag**2, initial=0.0)) < _HALF_GRID_BOUND * total:
            return 0.0, 0.0
    bins, freqs = _line_bins(4 * n, rate, max_hz)
    spec = np.abs(scipy.fft.fft(w, 4 * n)[bins]) ** 2  # bin 0 is always among them
    k = int(spec.argmax())
    return float(spec[k]) / total, float(freqs[k])


def _moving_mean(x: npt.NDArray[Any], width: int) -> npt.NDArray[Any]:
    c = np.concatenate(([0], np.cumsum(x)))
    out = (c[width:] - c[:-width]) / width
    pad = width - 1
    return np.concatenate((np.full(pad // 2, out[0]), out, np.full(pad - pad // 2, out[-1])))


def _phase_changes(
    z: npt.NDArray[np.complex128], rate: float, order: int, line_hz: float
) -> Floats:
    """Times (s) of the phase changes of a keyed carrier: the reference phase comes from the
    M-th power (derotated by its line, smoothed over ~0.3 s, unwrapped), the symbols are read
    against it (BPSK: one axis; QPSK: both axes at 45 degrees)."""
    t = np.arange(z.size) / rate
    power = z**order / (np.abs(z) ** (order - 1) + EPS) * np.exp(-2j * np.pi * line_hz * t)
    width = max(3, int(0.3 * rate))
    smooth = _moving_mean(power.real, width) + 1j * _moving_mean(power.imag, width)
    reference = (np.unwrap(np.angle(smooth)) + 2 * np.pi * line_hz * t) / order
    w = z * np.exp(-1j * reference)
    if order == 4:
        w = w * np.exp(-1j * np.pi / 4)
    level = np.sqrt(_moving_mean(np.abs(z) ** 2, width)) + EPS
    axes = [w.real / level] if order == 2 else [w.real / level, w.imag / level]
    times = np.sort(np.concatenate([_crossings(a, rate, hysteresis=0.3) for a in axes]))
    if times.size > 1:  # a QPSK change of both axes at once is one change
        times = times[np.concatenate(([True], np.diff(times) > 3.0 / rate))]
    return times


def _phase_lattice(times: Floats, max_baud: float) -> tuple[float, float, int, float]:
    """(baud, interval coherence, changes on the lattice, share of one-symbol runs)."""
    intervals = np.diff(times)
    if intervals.size < PSK_MIN_CHUNK_TRANSITIONS:
        return 0.0, 0.0, 0, 0.0
    # The symbol period is no longer than the shortest runs (data has one-symbol runs): a
    # much slower clock agrees with any short interval.
    slowest = max(PSK_MIN_BAUD, 0.7 / float(percentiles(intervals, (10,))[0]))
    if slowest >= max_baud:
        return 0.0, 0.0, 0, 0.0
    grid = np.geomspace(slowest, max_baud, 1200)
    coh = _interval_coherence(intervals[:300], grid)
    best = float(coh.max())
    if best < PSK_MIN_COHERENCE:
        return 0.0, best, 0, 0.0
    # every multiple of the rate fits too: the slowest that fits (data has odd and even runs,
    # so half the rate does not), at the top of its peak
    first = int(np.flatnonzero(coh >= best - 0.05)[0])
    while first + 1 < coh.size and coh[first + 1] >= coh[first]:
        first += 1
    # then the lattice over the whole stretch: every change's phase against one clock (a few
    # changes a second time a slow clock only this way, to ~1 %)
    fine = float(grid[first]) * (1 + np.linspace(-0.06, 0.06, 241))
    clock = np.exp(2j * np.pi * np.outer(fine, times - times[0])).mean(axis=1)
    k = int(np.abs(clock).argmax())
    # ... and finer, for a lattice timed over many seconds
    finer = float(fine[k]) * (1 + np.linspace(-0.003, 0.003, 121))
    clock = np.exp(2j * np.pi * np.outer(finer, times - times[0])).mean(axis=1)
    k = int(np.abs(clock).argmax())
    rate, coherence = float(finer[k]), float(np.abs(clock[k]))
    offset = (rate * (times - times[0]) - np.angle(clock[k]) / (2 * np.pi)) % 1.0
    on = int(np.count_nonzero(np.minimum(offset, 1 - offset) < 0.2))
    runs = np.rint(intervals * rate)
    single = float(np.mean(runs == 1))
    return rate, coherence, on, single


@dataclass(frozen=True, slots=True)
class _PhaseLine:
    """A carrier in one chunk whose band is spread but whose M-th power is one line, with the
    times of its phase changes (s, in the track)."""

    carrier_hz: float
    order: int
    share: float
    times: Floats
    max_baud: float


def _phase_lines(
    y: npt.NDArray[np.floating],
    sr: float,
    offset_s: float,
    chunk: _ChunkTransform | None = None,
) -> list[_PhaseLine]:
    """The phase-keyed carrier candidates of one stretch (most chunks: none, after the gate);
    ``chunk``, the transform of the whole stretch when its length is a power of two (shared
    with :func:`detect_keying`)."""
    size = np.size(y)
    if size < MIN_CHUNK_S * sr:
        return []
    n = 1 << int(np.log2(size))  # the middle power-of-two stretch: a fast transform
    start = (size - n) // 2
    if chunk is None or chunk.x.size != n:
        x = np.asarray(y, dtype=np.float64)
        chunk = _ChunkTransform.of(x[start : start + n], sr)
        if chunk is None:
            return []
    spectrum, coarse = chunk.spectrum, chunk.coarse
    bin_hz = sr / n
    top = min(PSK_MAX_CARRIER_HZ, sr / 2 - 2 * PSK_BAND_HALF)
    carriers = [
        f
        for f in coarse.peaks(8)
        if PSK_MIN_CARRIER_HZ <= f <= top and coarse.at(f) >= PSK_MIN_EXCESS_DB
    ][:PSK_CANDIDATES]
    if not carriers:
        return []
    length = n >> max(0, int(np.log2(sr / (4 * PSK_BAND_HALF))))  # envelope at ~500-1000 Hz
    env_rate = length * sr / n
    edge = length // 64  # the circular envelope wraps at its ends
    begin = offset_s + (start + edge * n / length) / sr
    out = []
    for carrier in carriers:
        z = _band_envelope(spectrum, bin_hz, carrier, PSK_BAND_HALF, length)[edge:-edge]
        unit = z / (np.abs(z) + EPS)
        for order in (2, 4):
            share, line_hz = _line_share(
                unit**order * np.abs(z), env_rate, order * 20.0, at_least=PSK_MIN_POWER_LINE
            )
            if share >= PSK_MIN_POWER_LINE:
                # a tone (steady, tremolo) keeps its band in one line: no keying (asked only
                # of a band whose M-th power is one line, the few that get here)
                if _line_share(z, env_rate, PSK_BAND_HALF)[0] > PSK_MAX_PLAIN_LINE:
                    break
                times = begin + _phase_changes(z, env_rate, order, line_hz)
                line = _PhaseLine(
                    carrier + line_hz / order, order, share, times, min(PSK_MAX_BAUD, env_rate / 6)
                )
                out.append(line)
                break
    return out


def _lattice_keying(lines: list[_PhaseLine]) -> PhaseKeying | None:
    """The keying of one carrier's changes over one or more neighbouring chunks, when they sit
    on a steady lattice with runs of data; None otherwise."""
    times = np.concatenate([line.times for line in lines])
    if times.size < 2:
        return None
    baud, coherence, on, single = _phase_lattice(times, min(line.max_baud for line in lines))
    if (
        baud <= 0
        or coherence < PSK_MIN_COHERENCE
        or on < PSK_MIN_CHUNK_TRANSITIONS
        or on * coherence**2 < PSK_MIN_RAYLEIGH_Z
        or not PSK_RUN_SHARE[0] <= single <= PSK_RUN_SHARE[1]
    ):
        return None
    return PhaseKeying(
        start_s=float(times[0]),
        end_s=float(times[-1]),
        carrier_hz=float(np.mean([line.carrier_hz for line in lines])),
        baud=baud,
        order=lines[0].order,
        coherence=coherence,
        transitions=on,
        line_share=float(np.mean([line.share for line in lines])),
    )


def detect_phase_keying(
    y: npt.NDArray[np.floating], sr: float, *, offset_s: float = 0.0
) -> PhaseKeying | None:
    """Find a phase-keyed carrier (BPSK or QPSK, 2-120 Bd) in one stretch of mono audio.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono samples, any scale, at ``sr`` (a reduced rate; 8 kHz and up).
    sr : float
        Sample rate in Hz.
    offset_s : float
        Where ``y`` starts in the track (for the reported time range).

    Returns
    -------
    PhaseKeying or None
        The keyed carrier with its rate and order, when a narrow dominant line's band is
        spread but its M-th power is one line, and its phase changes sit on a steady lattice
        with runs of data; None otherwise (the common case, decided by the gate). A slow
        keying (a few changes a second) needs a longer stretch: :class:`ModemScanner` times
        it over neighbouring chunks.
    """
    found = [k for line in _phase_lines(y, sr, offset_s) if (k := _lattice_keying([line]))]
    return max(found, key=lambda k: k.coherence, default=None)


# -- demodulation -------------------------------------------------------------------------------


# A transmission's receivers read the same tones over the same kept audio (from its start) several
# times: each tone's phasors are made once and kept while the transmission is read, at most this
# many samples in all (ModemScanner.report lets them go).
PHASOR_SAMPLES = 1 << 21
_phasors: dict[tuple[float, float], npt.NDArray[np.complex128]] = {}


def _phasor(sr: float, freq: float, size: int) -> npt.NDArray[np.complex128]:
    """``exp(-2j pi freq t)`` at ``t = np.arange(size) / sr``, each value the number that
    expression gives (a longer run of the same tone extends the one kept)."""
    key = (sr, freq)
    have = _phasors.get(key)
    if have is not None and have.size >= size:
        return have[:size]
    start = 0 if have is None else have.size
    tail = phasor_run(freq, sr, start, size)  # compiled, the numbers of the expression above
    out = tail if have is None else np.concatenate((have, tail))
    _phasors.pop(key, None)
    while _phasors and sum(p.size for p in _phasors.values()) + size > PHASOR_SAMPLES:
        _phasors.pop(next(iter(_phasors)))  # the oldest first
    if size <= PHASOR_SAMPLES:
        _phasors[key] = out
    return out


def _tone_magnitude(x: Floats, sr: float, freq: float, width: int) -> Floats:
    """|sum over one symbol of x * exp(-j w t)| at every sample (a sliding DFT bin)."""
    window = symbol_sums(x, _phasor(sr, freq, x.size), width)  # in one compiled pass
    out = np.zeros(x.size)
    out[width // 2 : width // 2 + window.size] = np.abs(window)
    return out


def _frames(
    mark: npt.NDArray[np.bool_], samples_per_bit: float, data_bits: int, limit: int
) -> tuple[list[int], int, int]:
    """Asynchronous framing: a start bit (mark -> space) re-synchronises the clock, then
    ``data_bits`` LSB first sampled mid-bit, then a stop bit (mark). (values, frames, valid).

    Every falling edge is read as a frame at once (its bits, its value, where the receiver
    looks next after it); only the walk from one frame to the next is sequential. After a
    framed value the receiver looks for the next start bit from the middle of the stop bit
    (so 1, 1.5 or 2 stop bits all read); after a bad stop bit, one bit on.
    """
    falling = np.flatnonzero(mark[:-1] & ~mark[1:]) + 1
    offsets = (np.arange(data_bits + 2) + 0.5) * samples_per_bit
    frame_len = offsets[-1]
    starts = falling[falling + frame_len < mark.size]  # frames that end inside the signal
    if starts.size == 0:
        return [], 0, 0
    bits = mark[(starts[:, None] + offsets[None, :]).astype(np.int64)]
    values = (bits[:, 1 : data_bits + 1].astype(np.int64) @ (1 << np.arange(data_bits))).tolist()
    glitch = bits[:, 0].tolist()  # a mark where the start bit should be: not a frame
    stop = bits[:, -1].tolist()
    after_valid = np.searchsorted(starts, (starts + frame_len).astype(np.int64)).tolist()
    after_bad = np.searchsorted(starts, starts + int(samples_per_bit)).tolist()
    read: list[int] = []
    frames = valid = 0
    k, count = 0, len(glitch)
    while k < count and len(read) < limit:
        if glitch[k]:
            k += 1
            continue
        frames += 1
        if stop[k]:
            valid += 1
            read.append(values[k])
            k = after_valid[k]
        else:
            k = after_bad[k]
    return read, frames, valid


def _uart(
    mark: npt.NDArray[np.bool_], samples_per_bit: float, limit: int
) -> tuple[bytes, int, int]:
    """Asynchronous 8-N-1 framing (:func:`_frames` with 8 data bits). (data, frames, valid)."""
    read, frames, valid = _frames(mark, samples_per_bit, 8, limit)
    return bytes(read), frames, valid


def demodulate_fsk(
    y: npt.NDArray[np.floating],
    sr: float,
    f_low: float,
    f_high: float,
    baud: float,
    *,
    limit: int = MAX_RECOVERED,
) -> Demodulated:
    """Non-coherent FSK receiver with asynchronous 8-N-1 framing, both tone polarities tried.

    Tone energy is compared over one symbol (a sliding DFT bin at each tone); the polarity
    whose frames end in a mark stop bit most often is the real one.
    """
    x = np.asarray(y, dtype=np.float64)
    width = max(2, round(sr / baud))
    low = _tone_magnitude(x, sr, f_low, width)
    high = _tone_magnitude(x, sr, f_high, width)
    best: Demodulated | None = None
    for mark_is_low in (True, False):
        mark = (low > high) if mark_is_low else (high > low)
        data, frames, valid = _uart(mark, sr / baud, limit)
        ratio = valid / frames if frames else 0.0
        candidate = Demodulated(
            data=data,
            mark_hz=f_low if mark_is_low else f_high,
            space_hz=f_high if mark_is_low else f_low,
            frames=frames,
            valid_ratio=ratio,
        )
        if best is None or _polarity_rank(candidate) > _polarity_rank(best):
            best = candidate
    assert best is not None
    return best


def _polarity_rank(d: Demodulated) -> tuple[bool, float, int]:
    """How well one polarity of a receiver reads: zero-rich bytes first (an executable's: its
    other polarity reads as an idle mark's 0xFF, which frames almost as validly, and under
    music at a transmission's edges may frame a little better), then the share of valid
    frames, then the bytes. (Only zero-rich bytes: a tone that sits on one band reads as 0xFF
    one way and as bytes of mostly ones, 0xBF 0xAF, the other, neither of them data.)"""
    arr = np.frombuffer(d.data, dtype=np.uint8)
    zero_rich = arr.size >= MIN_FRAMES and float(np.unpackbits(arr).mean()) <= 1 - MAX_ONE_BITS
    return zero_rich, d.valid_ratio, len(d.data)


def _baudot_framing(
    x: Floats, sr: float, f_low: float, f_high: float, baud: float
) -> tuple[int, float]:
    """(frames, share ending in a mark stop bit) of asynchronous 5-N-1.5 (Baudot, as RTTY
    sends it) read from ``x``, the better of both tone polarities."""
    width = max(2, round(sr / baud))
    low = _tone_magnitude(x, sr, f_low, width)
    high = _tone_magnitude(x, sr, f_high, width)
    spb = sr / baud
    best = (0, 0.0)
    for mark in (low > high, high > low):
        # every falling edge read as a frame at once; only the walk is sequential (as _uart)
        falling = np.flatnonzero(mark[:-1] & ~mark[1:]) + 1
        starts = falling[falling + 6.5 * spb < mark.size]
        glitch = mark[(starts + 0.5 * spb).astype(np.int64)].tolist()
        stop = mark[(starts + 6.5 * spb).astype(np.int64)].tolist()
        # after a framed character the receiver waits out its stop bit; after a bad one, a bit
        after_valid = np.searchsorted(starts, (starts + 7.0 * spb).astype(np.int64)).tolist()
        after_bad = np.searchsorted(starts, (starts + spb).astype(np.int64)).tolist()
        frames = valid = 0
        k, count = 0, len(glitch)
        while k < count:
            if glitch[k]:
                k += 1
                continue
            frames += 1
            if stop[k]:
                valid += 1
                k = after_valid[k]
            else:
                k = after_bad[k]
        ratio = valid / frames if frames else 0.0
        if ratio > best[1]:
            best = (frames, ratio)
    return best


def _trim_to_keying(x: Floats, sr: float, keying: Keying) -> Floats:
    """The part of ``x`` where the pair's tones are on (the kept chunks may hold music only at
    their edges, which would demodulate into garbage bytes)."""
    width = max(2, round(sr / keying.baud))
    energy = _tone_magnitude(x, sr, keying.f_low, width) + _tone_magnitude(
        x, sr, keying.f_high, width
    )
    hop = max(1, int(sr / 50))
    blocks = energy[: energy.size // hop * hop].reshape(-1, hop).mean(axis=1)
    if blocks.size == 0:
        return x
    on = np.flatnonzero(blocks > 0.3 * np.percentile(blocks, 90))
    if on.size == 0:
        return x
    return x[max(0, (on[0] - 1) * hop) : min(x.size, (on[-1] + 2) * hop)]


def _clock_keeping_part(x: Floats, sr: float, keying: Keying) -> Floats | None:
    """The part of ``x`` where the tones' changes keep the clock (:func:`_clock_keeping_run`),
    or None where no run does. Under music holding partials in the tones' bands (chords at the
    modem's level) the tones' energy is "on" all along, while only the modem's changes keep its
    clock: the music either side frames as garbage and dilutes the modem's frames."""
    width = max(2, round(sr / keying.baud))
    # the changes a receiver slices: the tones' one-symbol magnitudes, each at its level
    low = _tone_magnitude(x, sr, keying.f_low, width)
    high = _tone_magnitude(x, sr, keying.f_high, width)
    times = _crossings(keyed_difference(low, high), sr)
    run = _clock_keeping_run(times, keying.baud)
    if run is None:
        return None
    # the run, and a frame (KEYED_SPAN_FRAME_SYMBOLS symbols) either side: its first change
    # may be a frame's second (a start bit after idle is one change), its last a stop bit's
    slack = KEYED_SPAN_FRAME_SYMBOLS * width
    first = int(times[run[0]] * sr) - slack
    last = int(times[run[1]] * sr) + slack
    return x[max(0, first) : min(x.size, last)]


def _tone_line_share(x: Floats, sr: float, keying: Keying) -> float:
    """The power share of each tone's band (BAND_HALF shifts either side) held by its strongest
    TONE_LINE_BINS of bins over ``x`` (at most TRANSMISSION_CLOCK_SAMPLES), the weaker band's: ~1
    where both tones are steady lines, well under 1 where they are keyed (MAX_TONE_LINE_SHARE)."""
    x = x[:TRANSMISSION_CLOCK_SAMPLES]
    if x.size < MIN_CHUNK_S * sr:
        return 0.0
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / sr)
    half = BAND_HALF * (keying.f_high - keying.f_low)
    shares = []
    for tone in (keying.f_low, keying.f_high):
        band = power[(freqs > tone - half) & (freqs < tone + half)]
        total = float(band.sum())
        if band.size == 0 or total <= EPS:
            return 0.0
        top = max(1, int(band.size * TONE_LINE_BINS))
        shares.append(float(np.sort(band)[-top:].sum()) / total)
    return min(shares)


# -- streaming over a whole track -------------------------------------------------------------------


class ModemScanner:
    """Scan decoded audio for modems, block by block, in file order.

    Parameters
    ----------
    sample_rate : int
        Frames per second of the blocks.
    channels : int
        Channels per frame; they are mixed to mono.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.factor, self.rate = reduced_rate(sample_rate)
        self.channels = channels
        self._pending: list[npt.NDArray[np.float32]] = []
        self._pending_len = 0
        self._rest: npt.NDArray[Any] = np.empty(0)  # input frames not a whole factor yet
        self._chunks = 0
        self._previous: npt.NDArray[np.float32] | None = None
        self._previous_transform: _ChunkTransform | None = None  # of the previous chunk
        self._previous_kept = False
        self._previous_skipped = False
        self._keep_next = False
        self._turns_before = False  # the cheap look at the previous chunk passed
        # (chunk index, keying or None, audio) of the chunks kept for demodulation
        self._kept: list[tuple[int, Keying | None, npt.NDArray[np.float32]]] = []
        self._kept_samples = 0
        self._hits: list[tuple[int, Keying]] = []
        self._phase_lines: list[tuple[int, _PhaseLine]] = []
        self._cyclic_lines: list[tuple[int, CyclicLine]] = []
        self._cyclic_follow = False  # the last chunk held a line: read the next one lightly too
        self._keyed_lines: list[tuple[int, CyclicLine]] = []
        # multi-tone FSK in the whole band, at the full rate (audiomodel.keyed_tones)
        self._keyed_tones = KeyedToneScanner(sample_rate)

    def update(
        self, block: npt.NDArray[np.number], *, summed: npt.NDArray[np.int32] | None = None
    ) -> None:
        """Add a block of decoded frames, shape (frames, channels) or (frames,); ``summed``,
        for 16-bit blocks, is the sum of their channels when the caller has it (one pass
        fewer)."""
        arr = np.asarray(block)
        if arr.ndim == 1:
            arr = arr[:, None]
        # Channels summed and the box decimator run in exact integer arithmetic on 16-bit
        # input (one pass per channel and per phase; numpy's reductions along a short axis
        # are several times slower); floats only at the reduced rate.
        wide = np.int32 if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2 else np.float64
        mono: npt.NDArray[Any]
        if summed is not None and wide is np.int32 and summed.shape[0] == arr.shape[0]:
            mono = summed
        else:
            mono = arr[:, 0].astype(wide)
            for c in range(1, arr.shape[1]):
                mono += arr[:, c]
        self._keyed_tones.update(mono)
        if self._rest.size:
            mono = np.concatenate((self._rest.astype(wide), mono))
        usable = mono.size // self.factor * self.factor
        self._rest = mono[usable:].copy()
        reduced = decimate(mono, self.factor, 1.0 / (self.factor * arr.shape[1]))
        self._pending.append(reduced)
        self._pending_len += reduced.size
        while self._pending_len >= CHUNK:
            joined = np.concatenate(self._pending)
            self._analyse(joined[:CHUNK])
            rest = joined[CHUNK:]
            self._pending = [rest] if rest.size else []
            self._pending_len = rest.size

    def _keep(self, index: int, keying: Keying | None, audio: npt.NDArray[np.float32]) -> None:
        if self._kept_samples + audio.size <= MAX_KEPT_SECONDS * self.rate:
            self._kept.append((index, keying, audio))
            self._kept_samples += audio.size

    def _analyse(self, chunk: npt.NDArray[np.float32]) -> None:
        index = self._chunks
        self._chunks += 1
        # a chunk is analysed in full after tones took turns (a burst there may go on into
        # this one); the track's first chunk too takes the cheap look first (a modem in it
        # takes turns as one anywhere else does, and a keying in the next chunk analyses it)
        skip = not self._keep_next and not self._turns_before
        at = self._at(index)
        # One transform of a whole chunk serves the FSK and the PSK tests.
        whole = chunk.size == CHUNK  # the track's last chunk is shorter (zero-padded)
        shared = _ChunkTransform.of(chunk.astype(np.float64), self.rate) if whole else None
        transform = shared if whole else _stretch_transform(chunk, self.rate)
        look = LOOK_NOTHING
        if skip and transform is not None:
            look = _takes_turns(transform, self.rate)
        turns = look != LOOK_NOTHING
        if turns:
            skip = False  # two tones take turns here: a short burst may sit in this chunk only
        # ... but the first chunk's look lends the next chunk no full analysis: a first chunk
        # analysed in full that keys nothing leaves the next to its own look (as it always
        # did; lent, FM bells' turns went on to clock a modem in the next chunk)
        self._turns_before = turns and index > 0
        if skip or transform is None:  # skipped, or silent
            keying = None
        elif look == LOOK_KEYED_ONLY:
            keying = _keyed_keying(transform, self.rate, at, at + chunk.size / self.rate)
        else:
            keying = _keying(transform, self.rate, at, at + chunk.size / self.rate)
        # Phase keying on every chunk (a slow one needs several chunks' changes); its gate, a
        # narrow line far over the floor, turns most chunks away after one transform.
        for line in _phase_lines(chunk, self.rate, at, shared):
            if len(self._phase_lines) < MAX_PHASE_LINES:
                self._phase_lines.append((index, line))
        # PSK, QAM and scrambled baseband by the symbol-rate line of their envelope
        if shared is not None and len(self._cyclic_lines) < MAX_PHASE_LINES:
            # the light reading (a clean modem) on every fourth chunk: a transmission spans
            # several, and a chunk with a line has the next read lightly too (its second chunk)
            light = index % LIGHT_EVERY == 0 or self._cyclic_follow
            found = cyclic_lines(shared.x, self.rate, at, at + chunk.size / self.rate, light=light)
            self._cyclic_follow = bool(found)
            self._cyclic_lines.extend((index, line) for line in found)
        # keyed tones without framing: their bands' energies, where the FSK test looks in full
        if shared is not None and not skip and len(self._keyed_lines) < MAX_PHASE_LINES:
            end = at + chunk.size / self.rate
            keyed = keyed_band_lines(shared.spectrum, self.rate, at, end)
            self._keyed_lines.extend((index, line) for line in keyed)
        if keying is not None:
            if self._previous is not None and self._previous_skipped:
                earlier = (
                    None
                    if self._previous_transform is None
                    else _keying(
                        self._previous_transform,
                        self.rate,
                        self._at(index - 1),
                        self._at(index - 1) + self._previous.size / self.rate,
                    )
                )
                if earlier is not None:
                    self._hits.append((index - 1, earlier))
            self._hits.append((index, keying))
            if self._previous is not None and not self._previous_kept:
                self._keep(index - 1, None, self._previous)  # the transmission may start there
            self._keep(index, keying, chunk)
            self._keep_next = True
            self._previous_kept = True
        elif self._keep_next:
            self._keep(index, None, chunk)  # ... or end there
            self._keep_next = False
            self._previous_kept = True
        else:
            self._previous_kept = False
        self._previous = chunk
        self._previous_transform = transform
        self._previous_skipped = skip

    def _at(self, index: int) -> float:
        return index * CHUNK / self.rate

    def report(self, *, deadline: float | None = None, clipped: bool = False) -> ModemReport:
        """Findings for the whole track; ``deadline`` (``time.perf_counter()`` value) stops
        demodulating when reached (detection findings are still reported); ``clipped``: the
        track sits at full scale (``signal.clipping``), so a clipped conversion's shifted band
        may line its envelope (:func:`~audiomodel.cyclic.conversion_shifts`)."""
        if self._pending_len:
            tail = np.concatenate(self._pending)
            if tail.size >= MIN_CHUNK_S * self.rate:
                self._analyse(tail)
            elif self._keep_next:  # too short to time a clock, but a transmission may end in it
                self._keep(self._chunks, None, tail)
                self._chunks += 1
            self._pending, self._pending_len = [], 0
        report = ModemReport()
        for group in _group_hits(self._hits):
            transmission = self._transmission(group, deadline)
            report.transmissions.append(transmission)
            if transmission.flagged:
                report.findings.extend(_findings(transmission))
        for phased in _phase_transmissions(self._phase_lines):
            if phased.transitions >= PSK_MIN_TRANSITIONS:
                report.findings.append(_phase_finding(phased))
        # the symbol-rate line of the envelope: PSK, QAM, scrambled baseband (and FSK whose
        # bands the whitening turns into a keyed envelope), reported with its own evidence
        shifts = conversion_shifts(self.sample_rate) if clipped else ()
        cyclic = cyclic_transmissions(self._cyclic_lines, conversion_rates=shifts)
        report.findings.extend(map(_cyclic_finding, cyclic))
        # keyed tones by their bands' energies: what the tests above miss (no framing), so
        # only where none of them found data (a PSK carrier's reversals key its bands too)
        if not any(f.code == "signal.modem" for f in report.findings):
            keyed = cyclic_transmissions(
                self._keyed_lines, min_ratio=KEYED_REPORT_RATIO, keyed=True
            )
            report.findings.extend(map(_cyclic_finding, keyed))
        report.findings.extend(self._keyed_tones.report())
        _phasors.clear()
        return report

    def _transmission(
        self, group: list[tuple[int, Keying]], deadline: float | None
    ) -> Transmission:
        group = _well_clocked(group)
        first, last = group[0][0], group[-1][0]
        keyings = [k for _, k in group]
        # the chunk whose tones fit a common modem's plan, else the best clocked one
        best = max(
            keyings, key=lambda k: (modem_name(k.baud, k.f_low, k.f_high) != "FSK", k.coherence)
        )
        baud = best.baud
        keying = Keying(
            keyings[0].start_s,
            keyings[-1].end_s,
            best.f_low,
            best.f_high,
            baud,
            float(np.mean([k.coherence for k in keyings])),
            sum(k.transitions for k in keyings),
            max(k.clock_z for k in keyings),
        )
        transmission = Transmission(keying, modem_name(baud, best.f_low, best.f_high))
        kept = [(i, a) for i, _, a in self._kept if first - 1 <= i <= last + 1]
        audio = [a for _, a in kept]
        covered = {i for i, _, _ in self._kept}
        if not all(i in covered for i in range(first, last + 1)) or (
            deadline is not None and time.perf_counter() > deadline
        ):
            transmission.truncated = True
        if not audio or (deadline is not None and time.perf_counter() > deadline):
            return transmission
        x = np.concatenate(audio).astype(np.float64)
        self._demodulate(transmission, x, kept, first)
        _baudot_on_half_symbols(transmission, x, self.rate, best)
        _named_clock_over_transmission(transmission, x, self.rate)
        _submultiple_clock(transmission, x, self.rate)
        return transmission

    def _demodulate(
        self,
        transmission: Transmission,
        x: Floats,
        kept: list[tuple[int, npt.NDArray[np.float32]]],
        first: int,
    ) -> Transmission:
        """Read the transmission's audio ``x`` with its plan's (or a common plan's) receiver."""
        keying = transmission.keying
        baud = keying.baud
        if transmission.name == "FSK":
            # No plan fits the tones found. Does a common modem's plan at this rate frame
            # better (the peaks of a fast CPFSK signal sit beside its tones)? The framing of
            # 3 s decides (music finds a clock now and then; demodulating all of it would cost
            # more than finding it). Those 3 s start where the transmission may: in the chunk
            # kept before the first that keys (it may be music alone) or in that one; the
            # head that frames better is taken.
            keyed_from = sum(a.size for i, a in kept if i < first)
            head_len = int(3 * self.rate)
            heads = [x[s : s + head_len] for s in ((0, keyed_from) if keyed_from else (0,))]
            head_x, best_head = max(
                (
                    (h, demodulate_fsk(h, self.rate, keying.f_low, keying.f_high, baud))
                    for h in heads
                ),
                key=lambda trial: trial[1].valid_ratio,
            )
            plans = [(name, lo, hi, baud, MIN_VALID_FRAMES) for name, lo, hi in _plans_at(baud)]
            plans += _plans_at_multiples(keying) + _plan_the_tones_name(keying)
            for name, lo, hi, rate, least in plans:
                trial = demodulate_fsk(head_x, self.rate, lo, hi, rate)
                if (
                    trial.frames >= MIN_FRAMES
                    and trial.valid_ratio >= least
                    and trial.valid_ratio > best_head.valid_ratio
                ):
                    best_head = trial
                    keying = replace(keying, f_low=lo, f_high=hi, baud=rate)
                    transmission.keying, transmission.name = keying, name
            baud = keying.baud
            if transmission.name == "FSK" and (
                best_head.frames < MIN_FRAMES or best_head.valid_ratio < MIN_VALID_FRAMES
            ):
                transmission.demodulated = best_head
                _measure_baudot(transmission, x, self.rate)
                return transmission
        x = trimmed = _trim_to_keying(x, self.rate, keying)
        demodulated = demodulate_fsk(x, self.rate, keying.f_low, keying.f_high, baud)
        # Framed short of data: is it music either side of the stretch that keeps the clock?
        # Read again only where framing could report it (tones no plan knows need a clean
        # clock: GENERIC_FRAMED_COHERENCE; music's transmissions mostly have neither, and the
        # reading costs a demodulation)
        part = (
            _clock_keeping_part(x, self.rate, keying)
            if demodulated.valid_ratio < MIN_VALID_FRAMES
            and (transmission.name != "FSK" or keying.coherence >= GENERIC_FRAMED_COHERENCE)
            else None
        )
        if part is not None and part.size < x.size:
            trial = demodulate_fsk(part, self.rate, keying.f_low, keying.f_high, baud)
            if trial.frames >= MIN_FRAMES and trial.valid_ratio > demodulated.valid_ratio:
                x, demodulated = part, trial
        transmission.demodulated = demodulated
        # a part too short to resolve lines in (MIN_CHUNK_S: it read 0, "keyed", for an FM
        # synth's 0.18 s) is judged by the audio where the tones are on
        lines_x = x if x.size >= MIN_CHUNK_S * self.rate else trimmed
        transmission.tone_lines = _tone_line_share(lines_x, self.rate, keying)
        if transmission.framed:
            _carve(transmission, demodulated.data)
        else:
            _measure_baudot(transmission, x, self.rate)
        return transmission


# -- a named clock over the whole transmission -------------------------------------------------
#
# A transmission shorter than a few chunks is cut by their boundaries: a 4 s minimodem burst under
# music fills two ~2.7 s chunks by half each, and each half keeps the named clock's phase too
# weakly (chunk Z 50-70 under music at 0..+3 dB) where the whole burst, timed at once, keeps it
# strongly. Where a transmission is found but does not report, each of minimodem's common plans
# (and the plan its own tones name) is timed over its kept audio at once: the Rayleigh Z adds up
# over the burst as the changes keep one phase across the chunk boundary. The guards of the
# whole-chunk clock hold (the pair's energy while keying, no short cycle, frames no worse than
# garbled), and the threshold is the same: music does not keep a named rate's phase for seconds.
TRANSMISSION_CLOCK_SAMPLES = 1 << 19  # kept audio timed at once, at most (~22 s: the cost bound)


KEYED_SPAN_CHANGES = 64  # changes whose phase is averaged to tell where the clock is kept
# |mean phase| of that many changes: ~0.11 (1/sqrt(64)) at random times, above 0.35 with odds
# of e^-7.8 (~0.04 %) per window; a modem under music keeps 0.4-0.9 where it keys
KEYED_SPAN_MIN_COHERENCE = 0.35
KEYED_SPAN_FRAME_SYMBOLS = 10  # an 8-N-1 frame


def _clock_keeping_run(times: Floats, baud: float) -> tuple[int, int] | None:
    """(first, last) change of the run of changes that keeps the clock at ``baud`` best: each
    interval between neighbouring changes scores how nearly it is whole symbols (the cosine of
    its phase: it does not drift with a clock a little off, as the changes' own phase does),
    less ``KEYED_SPAN_MIN_COHERENCE``; the run is the stretch of the highest total. A random
    interval scores that much less on average, so music either side adds nothing. An interval
    under half a symbol (music's chatter about the slicer) or over a frame's
    ``KEYED_SPAN_FRAME_SYMBOLS`` (a gap) is no symbol interval and scores 0. None where there
    are too few changes to tell, or no run of ``KEYED_SPAN_CHANGES`` keeps the clock."""
    if times.size < 2 * KEYED_SPAN_CHANGES:
        return None
    symbols = np.diff(times) * baud
    whole = (symbols >= 0.5) & (symbols <= KEYED_SPAN_FRAME_SYMBOLS)
    score = np.where(whole, np.cos(2 * np.pi * symbols), 0.0) - KEYED_SPAN_MIN_COHERENCE
    total = np.concatenate(([0.0], np.cumsum(score)))
    lowest = np.minimum.accumulate(total)
    end = int(np.argmax(total - lowest))  # the run ends after interval end - 1 ...
    start = int(np.argmin(total[: end + 1]))  # ... and starts at interval start
    if end - start < KEYED_SPAN_CHANGES:
        return None
    return start, end  # changes: the run's first interval starts at one, its last ends at the other


def _keyed_span(
    times: Floats, baud: float, env_rate: float, edge: int, whole: tuple[int, int]
) -> tuple[int, int]:
    """The envelope samples from the first to the last change whose neighbourhood keeps the
    clock at ``baud`` (``whole`` where none does)."""
    if times.size < 2 * KEYED_SPAN_CHANGES:
        return whole
    phase = np.exp(2j * np.pi * baud * times)
    local = np.abs(_moving_mean(phase, KEYED_SPAN_CHANGES))
    keyed = np.flatnonzero(local >= KEYED_SPAN_MIN_COHERENCE)
    if keyed.size == 0:
        return whole
    half = KEYED_SPAN_CHANGES // 2  # the windows are centred on their change
    lo = int(times[max(0, keyed[0] - half)] * env_rate) + edge
    hi = int(times[min(times.size - 1, keyed[-1] + half)] * env_rate) + edge
    return lo, hi


def _named_clock_over_transmission(transmission: Transmission, x: Floats, rate: float) -> None:
    """Where ``transmission`` does not report, time the named clocks of minimodem's common plans
    and of its own tones over its kept audio ``x`` at once (:func:`_whole_chunk_clock`); the
    best that reaches ``WHOLE_CLOCK_MIN_Z`` replaces its plan, rate and Z, and its audio is read
    again with that plan's receiver."""
    if transmission.flagged or transmission.truncated:
        return
    k = transmission.keying
    segment = x[:TRANSMISSION_CLOCK_SAMPLES]
    if segment.size < MIN_CHUNK_S * rate:
        return
    # the transform of the whole segment (up to 2^19 samples, and its coarse spectrum) is made
    # when a plan's bands first take turns: on music's transmissions mostly none do, and the
    # turn-taking reads its own shorter transforms of the middle
    chunk: _ChunkTransform | None = None
    pairs = [(lo, hi, named) for (lo, hi), named in zip(FIXED_PLANS, FIXED_PLAN_BAUDS, strict=True)]
    pairs += [
        (k.f_low, k.f_high, named)
        for named in _named_rates(k.f_low, k.f_high)
        if named >= NAMED_CLOCK_MIN_BAUD  # a sequencer's tick keeps the slower ones
    ]
    middle: dict[int, npt.NDArray[np.complex128]] = {}  # of the audio, not of its padding
    best: tuple[float, float, float, float, int, float] | None = None
    for lo, hi, named in pairs:
        if hi >= min(MAX_TONE_HZ, rate / 2 - 100):
            continue
        # the plan's bands take turns in the middle of the transmission, however weakly
        # (STANDING_TURN_GATE): steady partials beating at a named rate rise and fall together
        if _turn_taking(segment, middle, rate, lo, hi, STANDING_TURN_GATE) > STANDING_TURN_GATE:
            continue
        chunk = chunk or _stretch_transform(segment, rate)
        if chunk is None:
            return  # silent
        found = _whole_chunk_clock(chunk, rate, lo, hi, named, keyed_span=True)
        if found is not None and (best is None or found[3] > best[5]):
            best = (lo, hi, *found)
    if best is None:
        return
    lo, hi, baud, _, _, z = best  # the coherence stays the pair test's (music dilutes this one)
    name, plan_lo, plan_hi = modem_plan(baud, lo, hi)
    if name == "FSK":
        return
    demodulated = demodulate_fsk(x, rate, plan_lo, plan_hi, baud)
    keying = replace(k, f_low=plan_lo, f_high=plan_hi, baud=baud, clock_z=max(k.clock_z, z))
    trial = Transmission(keying, name, demodulated, tone_lines=_tone_line_share(x, rate, keying))
    # bits that alternate on nearly every symbol (a held note beating at the rate, read in
    # phase with it) or a handful of values are no data, whatever the clock
    if trial.flagged and not _patterned(demodulated.data):
        transmission.keying, transmission.name = keying, name
        transmission.demodulated = demodulated
        transmission.baudot = None
        transmission.tone_lines = trial.tone_lines


# A plan's tones keyed at a whole fraction of its named rate (direwolf's 300 Bd AX.25 on Bell
# 202's 1200/2200 Hz tones): every change sits on the named rate's lattice too, so the named
# clock is timed (Z 300-600) and a receiver at that rate reads each bit k times over, bytes of
# bit runs that `_patterned` rejects (frames 0.31; through MP3 or Vorbis 0.35-0.37, unpatterned). The changes tell the two apart: on the
# lattice of rate/k their phase still agrees where the keying is that slow, and splits into k
# phases (coherence ~0) where it keys at the named rate. Read again at the slowest such rate.
SUBMULTIPLE_STEPS = (4, 3, 2)
SUBMULTIPLE_MIN_COHERENCE = 0.8  # the changes' phase on rate/k, against 0.98 on the named rate
SUBMULTIPLE_CHANGES = 4000  # changes whose phase is measured at most (the cost bound)


def _change_coherence(x: Floats, rate: float, f_low: float, f_high: float, baud: float) -> Floats:
    """How well the intervals between the tone changes of ``x`` (as the pair test times them)
    are whole symbols of ``baud / k``, for each of ``(1, *SUBMULTIPLE_STEPS)``."""
    steps = np.array((1, *SUBMULTIPLE_STEPS), dtype=np.float64)
    bands = _pair_bands(x[: 1 << 18], {}, rate, f_low, f_high)
    if bands is None:
        return np.zeros(steps.size)
    e_a, e_b, _, env_rate, _ = bands
    times = _crossings(keyed_difference(e_a, e_b), env_rate)[:SUBMULTIPLE_CHANGES]
    if times.size < MIN_TRANSITIONS:
        return np.zeros(steps.size)
    return _interval_coherence(times[2:] - times[:-2], baud / steps)


def _submultiple_clock(transmission: Transmission, x: Floats, rate: float) -> None:
    """Where a plan's named clock is kept but its receiver's bytes do not report (runs of
    repeated bits, or frames under chance once a codec blurs them), read the audio again at the
    slowest whole fraction of the rate whose lattice the changes keep."""
    k, d = transmission.keying, transmission.demodulated
    if (
        transmission.flagged
        or transmission.truncated
        or transmission.name == "FSK"
        or d is None
        or k.clock_z < WHOLE_CLOCK_MIN_Z
    ):
        return
    x = _trim_to_keying(x, rate, k)
    coherence = _change_coherence(x, rate, k.f_low, k.f_high, k.baud)
    if coherence[0] < MIN_COHERENCE:
        return
    for step, kept in zip(SUBMULTIPLE_STEPS, coherence[1:], strict=True):
        baud = k.baud / step
        if kept < SUBMULTIPLE_MIN_COHERENCE * coherence[0] or baud < NAMED_CLOCK_MIN_BAUD:
            continue
        demodulated = demodulate_fsk(x, rate, k.f_low, k.f_high, baud)
        keying = replace(k, baud=baud)
        name = f"{transmission.name} tones at 1/{step} rate"
        trial = Transmission(keying, name, demodulated, tone_lines=transmission.tone_lines)
        if trial.flagged and not _patterned(demodulated.data):
            transmission.keying, transmission.name = keying, name
            transmission.demodulated = demodulated
            transmission.baudot = None
        return


# -- Baudot keyed with 1.5 stop bits ---------------------------------------------------------
#
# RTTY sends 5-bit Baudot with 1.5 stop bits: after each stop bit the following changes fall half
# a symbol off the clock, so the changes keep the half-symbol lattice (2x the rate: minimodem's
# `--tx rtty` is timed at 90.9 Bd, random Baudot at 50 Bd at 100 Bd) or a clock of a few of its
# steps (2/3 of the rate, or the rate itself), and no pair test times RTTY's own rate. Where a
# pair keys on such a clock, its Baudot frames at the RTTY rate whose half-symbol lattice the
# clock fits decide: random Baudot frames at ~1.0, a tracker's arpeggio at its 50 Hz tick, which
# is RTTY's rate, at chance (0.45-0.54).
RTTY_RATES = tuple(sorted({rate for name, rate, _, _ in COMMON_MODEMS if name.startswith("RTTY")}))
BAUDOT_LATTICE_STEPS = (1, 2, 3, 4)  # the clock found times these is twice the RTTY rate
# Baudot with 2 stop bits (TDD, minimodem `tdd`) has no half symbols: its changes sit on whole
# symbols, which every whole multiple of the rate fits as well, and the pair test may take one
# (a few changes a chunk, or glitches under music that make short runs and bar the rate itself:
# 3x and 5x of 45.45 Bd were timed on the train sweep)
BAUDOT_HARMONICS = (3, 4, 5)
BAUDOT_MAX_SECONDS = 30.0  # audio framed at most (the cost bound; a rate is decided well before)
BAUDOT_OTHER_TONES = "RTTY (Baudot, other tones)"


def _baudot_on_half_symbols(
    transmission: Transmission, x: Floats, sr: float, found: Keying
) -> None:
    """Where the transmission's clock fits the half-symbol lattice of an RTTY rate and it is not
    reported otherwise, its Baudot frames at that rate: when they end in a stop bit beyond
    chance (an RTTY plan's tones: ``PLAN_MIN_VALID_FRAMES``; other tones, as framed bytes of
    unknown tones: ``MIN_VALID_FRAMES``), the transmission becomes RTTY at that rate. ``found``
    is the chunk keying whose tones the pair test found (a receiver may have replaced them)."""
    k = transmission.keying
    if transmission.framed or (transmission.name.startswith("RTTY") and transmission.flagged):
        return
    for rate in RTTY_RATES:
        half_symbols = any(
            abs(found.baud * m - 2 * rate) <= 0.03 * 2 * rate for m in BAUDOT_LATTICE_STEPS
        )
        whole_symbols = any(abs(found.baud - k * rate) <= 0.03 * k * rate for k in BAUDOT_HARMONICS)
        if not half_symbols and not whole_symbols:
            continue
        name, lo, hi, need = BAUDOT_OTHER_TONES, found.f_low, found.f_high, MIN_VALID_FRAMES
        for plan, _, mark, space in COMMON_MODEMS:
            want_lo, want_hi = sorted((mark, space))
            slack = 0.1 * (want_hi - want_lo) + 15
            if (
                plan.startswith("RTTY")
                and abs(lo - want_lo) <= slack
                and abs(hi - want_hi) <= slack
            ):
                name, lo, hi, need = plan, want_lo, want_hi, PLAN_MIN_VALID_FRAMES
                break
        trial = replace(k, baud=rate, f_low=lo, f_high=hi)
        y = _trim_to_keying(x, sr, trial)[: int(BAUDOT_MAX_SECONDS * sr)]
        frames, valid = _baudot_framing(y, sr, lo, hi, rate)
        if frames >= MIN_FRAMES and valid >= need:
            transmission.keying, transmission.name = trial, name
            transmission.baudot = (frames, valid)
            transmission.text = baudot_text(y, sr, lo, hi, rate)
            return


def _measure_baudot(transmission: Transmission, x: Floats, rate: float) -> None:
    """Baudot framing, for an RTTY plan about to be reported without 8-N-1 frames above chance
    (the only place it is needed)."""
    if transmission.name.startswith("RTTY") and transmission.flagged:
        k = transmission.keying
        transmission.baudot = _baudot_framing(x, rate, k.f_low, k.f_high, k.baud)
        if transmission.flagged:
            transmission.text = baudot_text(x, rate, k.f_low, k.f_high, k.baud)


# ITA2 letters and the US teleprinter's figures (minimodem's), indexed by the 5-bit code with
# the first data bit as the lowest; "\x0e" shifts to figures, "\x0f" to letters, "\a" rings.
BAUDOT_LETTERS = "\0E\nA SIU\rDRJNFCKTZLWHYPQOBG\x0eMXV\x0f"
BAUDOT_FIGURES = "\x003\n- \a87\r$4',!:(5\")2#6019?&\x0e./;\x0f"
BAUDOT_TEXT_CHARS = 200  # characters read for the evidence, at most (~4 s of RTTY at 50 Bd)


def baudot_text(
    x: Floats,
    sr: float,
    f_low: float,
    f_high: float,
    baud: float,
    *,
    limit: int = BAUDOT_TEXT_CHARS,
) -> str:
    """The text of asynchronous Baudot (5 data bits, a stop bit or more) keyed in ``x``, read
    in the tone polarity whose frames end in a stop bit most often, as a teleprinter prints it:
    the letters and figures shifts followed, a space shifting back to letters (unshift on
    space, as minimodem sends: it sends no letters shift after a space), control codes dropped.

    Each start bit (mark -> space) re-synchronises the clock; bits are sampled mid-bit and the
    next start bit is looked for from the middle of the stop bit (1, 1.5 or 2 stop bits).
    """
    width = max(2, round(sr / baud))
    low = _tone_magnitude(x, sr, f_low, width)
    high = _tone_magnitude(x, sr, f_high, width)
    best: tuple[float, list[int]] = (-1.0, [])
    for mark in (low > high, high > low):
        read, frames, valid = _frames(mark, sr / baud, 5, limit)
        ratio = valid / frames if frames else 0.0
        if ratio > best[0]:
            best = (ratio, read)
    text: list[str] = []
    table = BAUDOT_LETTERS
    for code in best[1]:
        char = table[code]
        if char == "\x0e":
            table = BAUDOT_FIGURES
        elif char == "\x0f" or char == " ":
            table = BAUDOT_LETTERS
        if char not in "\0\a\x0e\x0f":
            text.append(char)
    return "".join(text)


def _well_clocked(group: list[tuple[int, Keying]]) -> list[tuple[int, Keying]]:
    """The chunks of a transmission whose clock is at most ``CLOCK_SPREAD`` below that of the
    chunk it is named by (the one whose tones fit a common modem's plan, else the best
    clocked): a chunk the modem fills only in part (its first or last) keeps a loose clock of
    the changes it holds (0.5-0.6 against 0.9 where the modem fills the chunk) and would
    otherwise drag the transmission's clock, and move the stretch demodulated, into the music
    around it (its audio is still demodulated: the chunks either side of the kept ones are)."""
    named = max(
        (k for _, k in group),
        key=lambda k: (modem_name(k.baud, k.f_low, k.f_high) != "FSK", k.coherence),
    )
    return [(i, k) for i, k in group if k.coherence >= named.coherence - CLOCK_SPREAD]


def _group_hits(hits: list[tuple[int, Keying]]) -> list[list[tuple[int, Keying]]]:
    """Consecutive chunks (one missed chunk bridged) keying the same way are one transmission."""
    groups: list[list[tuple[int, Keying]]] = []
    for index, keying in hits:
        if (
            groups
            and index - groups[-1][-1][0] <= 2
            and any(k.matches(keying) for _, k in groups[-1])
        ):
            groups[-1].append((index, keying))
        else:
            groups.append([(index, keying)])
    return groups


def _phase_transmissions(lines: list[tuple[int, _PhaseLine]]) -> list[PhaseKeying]:
    """Neighbouring chunks (a few missed chunks bridged) with the same carrier and order are one
    transmission; its lattice is timed over windows of ``PSK_WINDOW_CHUNKS`` chunks (a slow
    keying has a few changes a chunk; a long one may drift a little), and the changes of the
    windows on a lattice add up."""
    groups: list[list[tuple[int, _PhaseLine]]] = []
    for index, line in lines:
        home = next(
            (
                g
                for g in groups
                if index - g[-1][0] <= PSK_BRIDGE_CHUNKS
                and g[-1][1].order == line.order
                and abs(g[-1][1].carrier_hz - line.carrier_hz) <= 15.0
            ),
            None,
        )
        if home is None:
            groups.append([(index, line)])
        else:
            home.append((index, line))
    out = []
    for group in groups:
        windows = [
            _lattice_keying([line for _, line in group[i : i + PSK_WINDOW_CHUNKS]])
            for i in range(0, len(group), PSK_WINDOW_CHUNKS)
        ]
        ks = [k for k in windows if k is not None]
        if not ks:
            continue
        best = max(ks, key=lambda k: k.coherence)
        if any(abs(k.baud - best.baud) > 0.03 * best.baud for k in ks):
            ks = [k for k in ks if abs(k.baud - best.baud) <= 0.03 * best.baud]
        out.append(
            replace(
                best,
                start_s=ks[0].start_s,
                end_s=ks[-1].end_s,
                coherence=float(np.mean([k.coherence for k in ks])),
                transitions=sum(k.transitions for k in ks),
                line_share=float(np.mean([k.line_share for k in ks])),
            )
        )
    return out


def _phase_finding(k: PhaseKeying) -> Finding:
    where = f"{k.start_s:.1f}-{k.end_s:.1f} s"
    return finding(
        "signal.modem",
        f"Data sent as sound: {k.modulation} {k.baud:.2f} Bd on a {k.carrier_hz:.0f} Hz carrier "
        f"at {where}; the carrier's phase jumps by multiples of {'pi' if k.order == 2 else 'pi/2'} "
        f"on a steady symbol clock ({k.transitions} changes, coherence {k.coherence:.2f}) and its "
        f"{k.order}th power is one line ({k.line_share:.0%} of the band), which no instrument or "
        "voice does.",
        start_s=round(k.start_s, 2),
        end_s=round(k.end_s, 2),
        baud=round(k.baud, 2),
        carrier_hz=round(k.carrier_hz, 1),
        modulation=k.modulation,
        order=k.order,
        transitions=k.transitions,
        clock_coherence=round(k.coherence, 3),
        power_line_share=round(k.line_share, 3),
        modem=f"generic {k.modulation}",
    )


def _cyclic_finding(t: CyclicTransmission) -> Finding:
    where = f"{t.start_s:.1f}-{t.end_s:.1f} s"
    if t.keyed:
        return finding(
            "signal.modem",
            f"Data sent as sound: keyed tones (FSK-like), symbol rate {t.rate_hz:.0f} Bd, at "
            f"{where}; the energy of the tones' bands switches on a steady symbol clock (a line "
            f"{t.ratio:.0f}x over the floor in {t.chunks} chunks), which no instrument or voice "
            "does.",
            start_s=round(t.start_s, 2),
            end_s=round(t.end_s, 2),
            baud=round(t.rate_hz, 1),
            modulation="keyed tones",
            band_line_ratio=round(t.ratio, 1),
            top_pair_share=round(t.top_pair_share, 3),
            chunks=t.chunks,
            modem="generic FSK (no framing read)",
        )
    return finding(
        "signal.modem",
        f"Data sent as sound: digital modulation (PSK/QAM-like or baseband), symbol rate "
        f"{t.rate_hz:.0f} Bd, at {where}; the signal's power rises and falls on a steady symbol "
        f"clock (a line {t.ratio:.0f}x over the floor of its envelope's spectrum in {t.chunks} "
        f"chunks) made by the whole band at once (the strongest 1 % of frequency pairs carry "
        f"{t.top_pair_share:.0%}), which no instrument or voice does.",
        start_s=round(t.start_s, 2),
        end_s=round(t.end_s, 2),
        baud=round(t.rate_hz, 1),
        modulation="cyclostationary",
        envelope_line_ratio=round(t.ratio, 1),
        top_pair_share=round(t.top_pair_share, 3),
        chunks=t.chunks,
        modem="generic digital modulation",
    )


def _carve(transmission: Transmission, data: bytes) -> None:
    guess = identify_payload(data)
    transmission.payload_kind = guess.kind.value
    transmission.payload_name = guess.name
    if guess.is_dangerous:
        transmission.signature_offset = 0
        return
    for offset, name, kind in find_signatures(data):
        if confirm_signature(name, data, offset):
            transmission.payload_kind, transmission.payload_name = kind.value, name
            transmission.signature_offset = offset
            return


_DANGEROUS = {kind.value for kind in DANGEROUS_KINDS}  # transmissions keep the kind's value


def _findings(t: Transmission) -> list[Finding]:
    k = t.keying
    where = f"{k.start_s:.1f}-{k.end_s:.1f} s"
    label = t.name if t.name != "FSK" else "generic"
    evidence: dict[str, int | float | str | bool] = {
        "start_s": round(k.start_s, 2),
        "end_s": round(k.end_s, 2),
        "baud": round(k.baud, 2),
        "tone_low_hz": round(k.f_low, 1),
        "tone_high_hz": round(k.f_high, 1),
        "clock_coherence": round(k.coherence, 3),
        "modem": label,
    }
    recovered = ""
    d = t.demodulated
    if d is not None and t.framed:
        evidence.update(
            bytes_recovered=len(d.data),
            valid_frames=round(d.valid_ratio, 3),
            payload=t.payload_name or "binary",
        )
        recovered = f", {len(d.data):,} bytes recovered (8-N-1, {d.valid_ratio:.0%} valid frames)"
    if k.clock_z > 0:
        evidence["named_clock_z"] = round(k.clock_z, 1)
    if t.text:
        evidence["text"] = t.text
        recovered += f", Baudot text {t.text[:40]!r}"
    if t.truncated:
        evidence["truncated"] = True
    head = f"FSK {k.baud:.0f} Bd ({label}, {k.f_low:.0f}/{k.f_high:.0f} Hz) at {where}"
    out = [
        finding(
            "signal.modem",
            f"Data sent as sound: {head}{recovered}; two exact tones take turns on a steady "
            f"symbol clock (coherence {k.coherence:.2f}), which no instrument or voice does.",
            **evidence,
        )
    ]
    if t.payload_kind in _DANGEROUS and d is not None:
        kind = t.payload_kind
        out.append(
            finding(
                "signal.modem_payload",
                f"{head}: the demodulated bytes carry {kind} data ({t.payload_name} header at "
                f"byte {t.signature_offset}).",
                Severity.MALICIOUS,
                **evidence,
                signature=t.payload_name,
                signature_offset=t.signature_offset,
            )
        )
    return out


def scan_modem(y: npt.NDArray[np.number], sr: int, *, deadline: float | None = None) -> ModemReport:
    """Scan a whole decoded signal, shape (frames,) or (frames, channels), at its own rate."""
    scanner = ModemScanner(sr, 1 if np.ndim(y) == 1 else int(np.shape(y)[1]))
    for block in _blocks(np.asarray(y), 1 << 16):
        scanner.update(block)
    return scanner.report(deadline=deadline)


def _blocks(y: npt.NDArray[np.number], size: int) -> Iterable[npt.NDArray[np.number]]:
    for start in range(0, y.shape[0], size):
        yield y[start : start + size]
