"""A payload under the sound: in the stereo side channel, or in a track's quiet passages.

Two places a sender can hide a file's bytes in lossless PCM without touching the level a
listener hears (issue #17, session 17; ``bench/redteam_survey.py`` families ``stereo`` and
``gaps``, and held-out variants in ``bench/quiet_codes_survey.py``):

- **The side channel.** ``S = L - R`` written 20-50 dB under the mid ``M``: the mix sounds the
  same, and ``S`` holds the payload. What an honest file puts in ``S`` is the mix's stereo
  image (music: its neighbouring samples correlate, lag-1 0.7 or more) and, where the image is
  narrow, the noise drawn per channel (dither, a converter's or a tape's hiss). That noise
  makes ``S`` white too (10 of 505 good stereo files of the dev corpus), so whiteness is no
  rule. What per-channel noise cannot make is any distribution other than a symmetric bell:
  ``S = n_L - n_R`` of two independent draws of one noise is symmetric (skewness 0), and its
  kurtosis is ``3 + (k - 3) / 2`` for the per-channel kurtosis ``k >= 1``, so never under 2
  (TPDF dither 2.7, RPDF 2.4, hiss 3); music under it only adds a heavier tail. A file's words
  are none of that: random or compressed bytes read as samples are flat (kurtosis 1.8), text's
  printable bytes lean to one side (skewed), a binary's zero words pile on exactly zero far
  more often than a noise of its width visits zero (its density there, ``1 / (sigma
  sqrt(2 pi))``), and ``M +- s`` written from integers puts ``L`` and ``R`` on the same parity in
  every sample (per-channel noise leaves the parity of ``L - R`` to chance). Each second of a
  stereo track whose ``S`` is white, above dither's level, and shows one of these signs is
  data-like; two or more such seconds are a finding.
- **Quiet passages.** A gap between songs, a fade-out's tail or a 24-bit file's noise floor
  holds a converter's noise: one bell-shaped cloud around zero, every value between its
  extremes visited (TPDF dither at 16 bits: -1, 0, +1; a 24-bit converter's floor: a Gaussian of
  a few to a few hundred steps). A payload there is codes: two values with nothing between
  (+-1, +-2: bits), four (two bits a sample), or a byte's 256 values spread flat in a 24-bit
  file's low byte while its upper bytes are silent. A quiet window (2,048 samples) whose values
  are codes with a hole between them that no unimodal noise leaves (a hole not explained by a
  coarse converter: the hit values do not sit on a lattice through zero), or that are flat and
  white over 16 or more values, or pile on exact zero as a binary's zero bytes do, is
  data-like; a fifth of a second of them is a finding.

Both read their data-like stretches back as bytes (a code per bit, per two bits, or the low
byte) and carve them for a dangerous file's signature (:func:`audiomodel.payload.
dangerous_payload`): found, the finding is malicious.

The limit, stated: a payload spread over -1/0/+1 in a gap, or over two adjacent values (0/1,
a half-step offset's sub-LSB noise does that), or a side channel of encrypted bytes shaped to a
Gaussian, reads as dither or hiss; only a carved signature (adjacent codes are carved too)
tells such a file apart. Lossy files are not read (a codec rewrites both places).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Required, TypedDict, cast

import numpy as np
import numpy.typing as npt

from audiomodel.findings import EvidenceValue, Finding, Severity, finding
from audiomodel.payload import dangerous_payload

__all__ = [
    "QuietCodesScanner",
    "SideChannelScanner",
    "gap_window_signs",
    "side_window_signs",
    "stored_steps",
]

# -- the side channel ----------------------------------------------------------------------
SIDE_WINDOW_SECONDS = 1.0
# Whiteness: a mix's stereo image correlates neighbour to neighbour (lag-1 0.71 or more over the
# dev corpus's good stereo tracks; 0.6 or more in 743 of 759 of their seconds above dither), per-
# channel noise and random or compressed words do not (under 0.3), text's bytes barely (0.45).
SIDE_WHITE = 0.6
# Above dither: S of per-channel TPDF dither is about 0.6 LSB RMS, noise-shaped dither is not
# white; a bell's shape (kurtosis) needs a few steps to be read. In stored steps (8/16-bit) or
# in steps of a wider file (whose noise floor spans more of them).
SIDE_QUICK = 4096  # a first look at each second's head ...
SIDE_QUICK_WHITE = 0.85  # ... turns away a lag-1 this far above the line (a mix's: 0.9-0.99)
SIDE_MIN_RMS = 4.0
SIDE_MIN_RMS_WIDE = 16.0
SIDE_FLAT_KURTOSIS = 2.0  # a difference of two i.i.d. noises is never flatter
SIDE_SKEW = 0.5  # ... and is symmetric (sampling error over a second: about 0.01)
# ... where the values are bounded as bytes are (printable words: 1.4-1.8); a sound's side
# leaning on a few transients is heavy-tailed (a drum machine's: 30-45)
SIDE_SKEW_KURTOSIS = 3.0
SIDE_ZERO_EXCESS = 8.0  # exact zeros over a bell's density at zero
SIDE_MIN_ZERO_SHARE = 0.05  # of exact zeros in short runs ...
SIDE_SHORT_RUN = 16  # ... of this many samples at most
SIDE_MAX_ZERO_SHARE = 0.8
SIDE_ZERO_SPIKE = 6.0  # exact zeros over the mean count of the six values beside zero
SIDE_MIN_ZERO_RUNS = 16  # short runs of zeros
# A centred voice (a drum machine's kick, a mix's bass) sounding alone is the same in both
# channels, so its side is only the two channels' own dither: TPDF's +-1 step each, +-2 between
# them, for as long as the voice sounds alone. Its exact zeros interleave with +-1s in short runs
# (a 16-bit drum machine: 85-98% of its loud zeros lie in such stretches, which read as a
# binary's zero words over the panned voices' wide side); a file's zero words sit among its
# other words (ELF sides at -20 to -50 dB: 0-36% inside such stretches). Zeros inside a stretch
# of this many samples within +-2 steps are the voice's, not counted (issue #17, session 18,
# drums20: two seed-37 drum machines). A step here is the side's own smallest value (its 1st
# percentile away from zero): a bit-crushed (8/12-bit) sample panned off centre leaves a side
# of the sample times its pan, whose tail decays onto {0, +-q, +-2q} (q: a coarse step times
# the pan, 120-250 16-bit steps) and so piles on zero in short runs among its +-q; a file's
# words scaled into the side take every small value (q = 1).
SIDE_CENTRED_STEPS = 2
SIDE_CENTRED_RUN = 16
SIDE_UNIT_PERCENTILE = 1.0
# A struck or filtered sound's tail reaches zero through small values: an undithered hat (square
# edges through a high-pass) panned off centre rings down after each edge, ..., 20, -15, -6, then
# exact zeros for a few samples before the next edge (runs under SIDE_CENTRED_RUN, so not a
# centred stretch). A file's zero words follow whatever word came before. Of the short zero runs,
# the share whose previous sample is within SIDE_TAIL_NEAR steps of zero and the one before within
# SIDE_TAIL_FAR: a blind seed-51 drum machine 0.75-0.80 in each flagged second; ELF/text/zip sides
# at -30 to -55 dB, 16/24-bit (own held-out set): 0.00-0.16 (one second 0.33). Zeros a decay
# approaches in SIDE_TAIL_SHARE of their runs are a sound's (issue #17, session 19, ffsynth21).
SIDE_TAIL_NEAR = 2
SIDE_TAIL_FAR = 8
SIDE_TAIL_SHARE = 0.5
SIDE_SAME_PARITY = 0.99  # L and R on the same parity in (nearly) every sample
SIDE_MIN_WINDOWS = 2

# -- quiet passages ---------------------------------------------------------------------------
GAP_WINDOW = 2048
# Quiet: the window's peak within this many stored steps (8/16-bit: -72 dBFS; 24/32-bit: the
# same level in their finer steps).
GAP_QUIET = 8
GAP_QUIET_WIDE = 2048
GAP_HIT_SHARE = 0.05  # a value "hit": 5% of the window
GAP_HOLE_SHARE = 0.005  # a value "skipped": under 0.5% of it
GAP_MIN_FLAT_VALUES = 16
GAP_FLAT_KURTOSIS = 2.0
GAP_WHITE = 0.2
GAP_MIN_SECONDS = 0.2
CARVE_LIMIT = 1 << 18  # bytes carved per reader at most
# ... and bytes packed from bits (each packed 32 ways: 8 alignments, 2 orders, 2 polarities; a
# fade into a half-step's noise gives honest two-value passages of minutes): a file's head, and
# the signatures in its first 4 KB
CARVE_BITS_LIMIT = 1 << 12


def _moments(s: npt.NDArray[np.float64]) -> tuple[float, float, float, float, float, float]:
    """(mean, rms about the mean, lag-1 and lag-2 correlation, skewness, kurtosis) of ``s``."""
    mean = float(s.mean())
    c = s - mean
    c2 = c * c
    var = float(c2.mean())
    if var <= 0:
        return mean, 0.0, 0.0, 0.0, 0.0, 0.0
    r1 = float(np.dot(c[:-1], c[1:])) / (var * (c.size - 1))
    r2 = float(np.dot(c[:-2], c[2:])) / (var * (c.size - 2))
    skew = float(np.dot(c2, c)) / c.size / var**1.5
    kurt = float(np.dot(c2, c2)) / c.size / var**2
    return mean, var**0.5, r1, r2, skew, kurt


def _lattice(values: npt.NDArray[np.int64]) -> int:
    """The power-of-two step every value sits on (1 for a full-resolution converter; 16 for a
    12-bit source or ditherer stored at 16 bits): a coarser converter's own steps."""
    bits = int(np.bitwise_or.reduce(values))
    return (bits & -bits) if bits else 1


def _short_zeros(
    zero: npt.NDArray[np.bool_], within: npt.NDArray[np.bool_] | None, bell: float
) -> bool:
    """Exact zeros in short runs (16 samples or fewer) make up ``SIDE_MIN_ZERO_SHARE`` (and
    ``bell``) of the samples ``within``, in ``SIDE_MIN_ZERO_RUNS`` runs or more: a binary's zero
    words scattered among its others (ELF sides: 8-31%). A mix of centred and panned voices has
    an exact-zero side wherever only the centred ones sound: stretches of a beat, hundreds of
    samples (1-4% of a drum machine's loud samples fall in short runs)."""
    starts, stops = runs_of(zero)
    short = (stops - starts) <= SIDE_SHORT_RUN
    if np.count_nonzero(short) < SIDE_MIN_ZERO_RUNS:
        return False
    in_short = covered(zero.size, starts[short], stops[short])
    base = int(np.count_nonzero(within)) if within is not None else zero.size
    hits = int(np.count_nonzero(in_short & within if within is not None else in_short))
    return hits >= max(SIDE_MIN_ZERO_SHARE, bell) * max(base, 1)


def _zero_spike(values: npt.NDArray[np.int64]) -> bool:
    """Exact zeros piled far above their neighbours (+-1..+-3): any sound's or noise's density
    is smooth across one step, however heavy its tail (a drum machine's side: 1.8-3 times), a
    binary's zero words spike there (10-60 times)."""
    counts = np.bincount(np.minimum(np.abs(values), 4), minlength=5)
    return bool(counts[0] >= SIDE_ZERO_SPIKE * (counts[1:4].sum() / 6 + 1))


def _side_unit(side: npt.NDArray[np.int64]) -> float:
    """The side's own smallest step: its 1st percentile away from zero (1 for a file's scaled
    words or dither; a coarse sample's step times its pan)."""
    size = np.abs(side)
    nonzero = size[size > 0]
    return max(1.0, float(np.percentile(nonzero, SIDE_UNIT_PERCENTILE))) if nonzero.size else 1.0


def _centred_stretches(side: npt.NDArray[np.int64], unit: float) -> npt.NDArray[np.bool_]:
    """Samples in stretches of ``SIDE_CENTRED_RUN`` or more whose side stays within dither's
    +-``SIDE_CENTRED_STEPS`` of its own smallest step: a centred voice sounding alone, or a
    coarse sample's decayed tail (see the constants)."""
    starts, stops = runs_of(np.abs(side) <= SIDE_CENTRED_STEPS * unit)
    long = (stops - starts) >= SIDE_CENTRED_RUN
    return covered(side.size, starts[long], stops[long])


def runs_of(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(starts, stops) of the runs of True in ``mask``, stops exclusive."""
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def covered(
    size: int, starts: npt.NDArray[np.intp], stops: npt.NDArray[np.intp]
) -> npt.NDArray[np.bool_]:
    """The samples of ``size`` inside any of the runs ``starts``-``stops`` (stops exclusive)."""
    marks = np.zeros(size + 1, np.int32)
    np.add.at(marks, starts, 1)
    np.add.at(marks, stops, -1)
    out: npt.NDArray[np.bool_] = np.cumsum(marks[:-1]) > 0
    return out


def _decayed_zeros(side: npt.NDArray[np.int64], zero: npt.NDArray[np.bool_], unit: float) -> bool:
    """Most short runs of ``zero`` are approached by a decaying tail (see SIDE_TAIL_SHARE)."""
    starts, stops = runs_of(zero)
    keep = ((stops - starts) <= SIDE_SHORT_RUN) & (starts >= 2)
    starts = starts[keep]
    if not starts.size:
        return False
    near = np.abs(side[starts - 1]) <= SIDE_TAIL_NEAR * unit
    far = np.abs(side[starts - 2]) <= SIDE_TAIL_FAR * unit
    return float(np.mean(near & far)) >= SIDE_TAIL_SHARE


def side_window_signs(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], *, wide: bool = False
) -> list[str]:
    """The signs of a file's words in one window's side channel ``left - right`` (stored
    integer steps); empty when the side is music, dither-level, or a bell of noise."""
    side = left - right
    c = side.astype(np.float64)
    c -= c.mean()
    power = float(np.dot(c, c))
    if power <= 0 or abs(float(np.dot(c[:-1], c[1:]))) > SIDE_WHITE * power:
        return []  # music (correlation is the same in any step)
    step = _lattice(left | right)
    if step > 1:
        side //= step
    _, rms, r1, r2, skew, kurt = _moments(side.astype(np.float64))
    if rms < (SIDE_MIN_RMS_WIDE if wide else SIDE_MIN_RMS):
        return []
    if abs(r1) > SIDE_WHITE or abs(r2) > SIDE_WHITE:
        return []
    signs = []
    if kurt <= SIDE_FLAT_KURTOSIS:
        signs.append("flat")
    if abs(skew) >= SIDE_SKEW and kurt <= SIDE_SKEW_KURTOSIS:
        signs.append("skewed")
    # exact zeros where the channels are loud (a pause rendered as digital silence zeroes both
    # channels, and so the side, honestly)
    loud = (np.abs(left) + np.abs(right)) // step >= 4 * rms
    unit = _side_unit(side)
    loud &= ~_centred_stretches(side, unit)
    if np.count_nonzero(loud) >= 0.1 * side.size:
        zero = (side == 0) & loud
        share = float(np.count_nonzero(zero)) / float(np.count_nonzero(loud))
        # ... and as interleaved with non-zero words under the same loud mid (a mono source
        # whose per-channel noise shows only in its pauses has a side of exact zeros wherever
        # the mid is loud: 96-100% of those samples in a good 24-bit speech file)
        bell = SIDE_ZERO_EXCESS / (rms * np.sqrt(2 * np.pi))
        if (
            share <= SIDE_MAX_ZERO_SHARE
            and _short_zeros(zero, loud, bell)
            # (against the side's own nearest values: a coarse sample's side never takes
            # +-1..3, only multiples of its step; a white crushed hat passes through zero as
            # often as through any of them)
            and _zero_spike(np.rint(side[loud] / unit).astype(np.int64))
            and not _decayed_zeros(side, zero, unit)  # a sound's tails ringing down to zero
        ):
            signs.append("zeros")
    if (
        float(np.mean((side & 1) == 0)) >= SIDE_SAME_PARITY
        and float(np.mean(((left // step) & 1) == 0)) < 0.9
    ):
        signs.append("same_parity")
    return signs


def _shift(stored: npt.NDArray[np.integer], bits: int) -> int:
    """How far left of its own steps a stored value sits (8-bit rendered to 16 bits, 24-bit
    left-justified in int32 by libsndfile: 8)."""
    if (bits == 8 and stored.dtype == np.int16) or (bits >= 24 and stored.dtype == np.int32):
        return 8
    return 0


def stored_steps(stored: npt.NDArray[np.integer], bits: int) -> npt.NDArray[np.int64]:
    """Stored values in their own steps."""
    return stored.astype(np.int64) >> _shift(stored, bits)


class SideChannelEvidence(TypedDict, total=False):
    """What ``stego.side_channel_data`` reports; the carved file's keys only where one was."""

    seconds: Required[int]  # seconds flagged
    of_seconds: Required[int]  # seconds read
    first_s: Required[float]
    last_s: Required[float]
    signs: Required[dict[str, int]]  # each sign read: the flagged seconds that showed it
    carved_kind: str
    carved_name: str
    carved_offset: int


class QuietCodesEvidence(TypedDict, total=False):
    """What ``stego.quiet_codes`` reports; the span only where a window was flagged, the carved
    file's keys only where one was."""

    data_like_s: Required[float]  # seconds of the quiet windows flagged
    quiet_windows: Required[int]
    signs: Required[dict[str, int]]  # each sign read: the flagged windows that showed it
    first_s: float
    last_s: float
    carved_kind: str
    carved_name: str
    carved_offset: int
    lane: str  # where the carved bytes were read ("low byte", ...)


def _finding(code: str, message: str, evidence: Mapping[str, object], *, carved: bool) -> Finding:
    """The finding, malicious where a dangerous file was carved (its code's default severity
    otherwise). ``signs`` is a mapping, which JSON and the API's Struct carry but
    ``EvidenceValue`` (scalars) does not name: hence the cast."""
    severity = Severity.MALICIOUS if carved else None
    return finding(code, message + ".", severity, **cast("dict[str, EvidenceValue]", evidence))


class SideChannelScanner:
    """``update(stored)`` with each block of a 2-channel integer PCM track's stored values,
    then ``report()`` (see the module's docstring)."""

    def __init__(self, rate: int, bits: int) -> None:
        self.window = max(1024, int(rate * SIDE_WINDOW_SECONDS))
        self.bits = bits
        self.wide = bits > 16
        self._carry: npt.NDArray[np.integer] | None = None
        self.windows = 0
        self.flagged: list[tuple[int, list[str]]] = []  # (window index, signs)
        self._carved: list[bytes] = []
        self._carved_size = 0

    def update(self, stored: npt.NDArray[np.integer]) -> None:
        x = stored if self._carry is None else np.concatenate([self._carry, stored])
        shift = _shift(stored, self.bits)
        full = x.shape[0] // self.window * self.window
        if full:
            # a first look at every window's head at once: most of a mix's seconds turn away
            # here, before a window is widened
            heads = x[:full].reshape(-1, self.window, 2)[:, :SIDE_QUICK].astype(np.float64)
            side = heads[:, :, 0] - heads[:, :, 1]
            side -= side.mean(axis=1, keepdims=True)
            power = np.einsum("ij,ij->i", side, side)
            lag = np.einsum("ij,ij->i", side[:, :-1], side[:, 1:])
            look = (power > 0) & (lag <= SIDE_QUICK_WHITE * power)
        for index, start in enumerate(range(0, full, self.window)):
            if not look[index]:
                self.windows += 1
                continue
            w = x[start : start + self.window].astype(np.int64) >> shift
            signs = side_window_signs(w[:, 0], w[:, 1], wide=self.wide)
            if signs:
                self.flagged.append((self.windows, signs))
                step = _lattice(w[:, 0] | w[:, 1])
                self._carve((w[:, 0] - w[:, 1]) // step, "same_parity" in signs)
            self.windows += 1
        self._carry = x[full:].copy() if full < x.shape[0] else None

    def _carve(self, side: npt.NDArray[np.int64], halved: bool) -> None:
        if self._carved_size >= CARVE_LIMIT:
            return
        codes = side >> 1 if halved else side
        low, high = int(codes.min()), int(codes.max())
        if high - low < 256:
            data = (codes & 0xFF).astype(np.uint8).tobytes()
        elif high - low < 65536:
            data = (codes & 0xFFFF).astype("<u2").tobytes()
        else:
            return
        self._carved.append(data)
        self._carved_size += len(data)

    def report(self) -> list[Finding]:
        if len(self.flagged) < SIDE_MIN_WINDOWS:
            return []
        counts: dict[str, int] = {}
        for _, signs in self.flagged:
            for sign in signs:
                counts[sign] = counts.get(sign, 0) + 1
        seconds = [round(i * SIDE_WINDOW_SECONDS, 1) for i, _ in self.flagged]
        kind, name, offset = dangerous_payload(b"".join(self._carved)[:CARVE_LIMIT])
        message = (
            f"The side channel (L - R) is white and shaped as a file's words, not as noise drawn "
            f"per channel, in {len(self.flagged)} of {self.windows} seconds"
        )
        evidence: SideChannelEvidence = {
            "seconds": len(self.flagged),
            "of_seconds": self.windows,
            "first_s": seconds[0],
            "last_s": seconds[-1],
            "signs": counts,
        }
        if kind:
            evidence["carved_kind"] = kind
            evidence["carved_name"] = name
            evidence["carved_offset"] = offset
            message += f"; read back as bytes it holds a {name} ({kind})"
        return [_finding("stego.side_channel_data", message, evidence, carved=bool(kind))]


def gap_window_signs(v: npt.NDArray[np.int64]) -> list[str]:
    """The signs of codes in one quiet window's stored values ``v``; empty for a noise floor."""
    low = int(v.min())
    counts = np.bincount(v - low)
    n = v.size
    hit = np.flatnonzero(counts >= GAP_HIT_SHARE * n)
    signs = []
    if hit.size >= 2:
        values = hit + low
        step = int(np.gcd.reduce(np.diff(values)))
        between = counts[hit[0] : hit[-1] + 1]
        # a value between two hit ones skipped, and the hit values not on a coarse converter's
        # lattice through zero
        holes = bool(np.any(between < GAP_HOLE_SHARE * n))
        if step > 1 and int(values[0]) % step != 0 and holes:
            signs.append("codes_with_holes")
    if np.count_nonzero(counts) >= GAP_MIN_FLAT_VALUES:
        _, rms, r1, _, _, kurt = _moments(v.astype(np.float64))
        if rms > 0 and kurt <= GAP_FLAT_KURTOSIS and abs(r1) <= GAP_WHITE:
            signs.append("flat")
        # a binary's zero bytes: exact zeros far above a bell's density at zero, interleaved
        # (not a stretch of digital silence beside a noise floor)
        zero = v == 0
        share = float(np.count_nonzero(zero)) / n
        bell = SIDE_ZERO_EXCESS / (rms * np.sqrt(2 * np.pi))
        if rms >= 4 and share >= bell and _short_zeros(zero, None, bell) and _zero_spike(v):
            signs.append("zeros")
    return signs


def _runs(indices: npt.NDArray[np.intp]) -> list[tuple[int, int]]:
    """Runs of consecutive indices as (first, last)."""
    if not indices.size:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1)
    firsts = np.concatenate([[indices[0]], indices[breaks + 1]])
    lasts = np.concatenate([indices[breaks], [indices[-1]]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts, strict=True)]


class QuietCodesScanner:
    """``update(stored)`` with each block of an integer PCM track's stored values (any channel
    count), then ``report()`` (see the module's docstring)."""

    def __init__(self, rate: int, bits: int) -> None:
        self.rate = rate
        self.bits = bits
        self.quiet = GAP_QUIET_WIDE if bits > 16 else GAP_QUIET
        self._carry: npt.NDArray[np.integer] | None = None
        self.quiet_windows = 0
        self.flagged = 0
        self.first_s: float | None = None
        self.last_s = 0.0
        self.frames = 0
        self.signs: dict[str, int] = {}
        self._bits: list[npt.NDArray[np.uint8]] = []
        self._bits_size = 0
        self._bytes: list[bytes] = []
        self._carved_size = 0

    def update(self, stored: npt.NDArray[np.integer]) -> None:
        x = stored if self._carry is None else np.concatenate([self._carry, stored])
        full = x.shape[0] // GAP_WINDOW * GAP_WINDOW
        if full:
            # the peaks in the stored dtype (no widening of loud windows: the common case)
            # a window quiet in every channel (its interleaved frames contiguous: one fast pass)
            flat = x[:full].reshape(-1, GAP_WINDOW * x.shape[1])
            limit = self.quiet << _shift(stored, self.bits)
            quiet = (flat.max(axis=1) <= limit) & (flat.min(axis=1) >= -limit)
            channels = x.shape[1]
            frames = x[:full]
            indices = np.flatnonzero(quiet)
            if indices.size:
                # a converter's floor at its lowest (one value, or three adjacent ones with the
                # middle no hole: silence, TPDF dither) holds neither codes nor bits: set aside
                # in one pass, without a window's judgement
                q = flat[indices].reshape(indices.size, GAP_WINDOW, channels)
                q = np.ascontiguousarray(q.transpose(0, 2, 1))  # (windows, channels, samples)
                low, high = q.min(axis=2), q.max(axis=2)
                step = 1 << _shift(stored, self.bits)
                middle = np.count_nonzero(q == ((low + high) // 2)[:, :, None], axis=2)
                middle = middle >= GAP_HOLE_SHARE * GAP_WINDOW  # not a hole
                plain = (high == low) | ((high - low == 2 * step) & middle)
                self.quiet_windows += int(np.count_nonzero(plain))
                judged = dict.fromkeys(zip(*np.nonzero(~plain), strict=True))
            for first, last in _runs(indices):
                for c in range(channels):
                    lane = frames[:, c]
                    kept: list[npt.NDArray[np.int64]] = []
                    for w in range(first, last + 1):
                        row = int(np.searchsorted(indices, w))
                        if (row, c) not in judged:
                            continue
                        v = stored_steps(lane[w * GAP_WINDOW : (w + 1) * GAP_WINDOW], self.bits)
                        if self._window(v, self.frames + w * GAP_WINDOW):
                            kept.append(v)
                    if kept:
                        self._keep(lane, first, last, kept)
            self.frames += full
        self._carry = x[full:].copy() if full < x.shape[0] else None

    def _window(self, v: npt.NDArray[np.int64], frame: int) -> bool:
        """Judge one quiet window; True when its values are worth carving."""
        self.quiet_windows += 1
        signs = gap_window_signs(v)
        low, high = int(v.min()), int(v.max())
        if signs:
            self.flagged += 1
            seconds = frame / self.rate
            self.first_s = seconds if self.first_s is None else self.first_s
            self.last_s = seconds + GAP_WINDOW / self.rate
            for sign in signs:
                self.signs[sign] = self.signs.get(sign, 0) + 1
        # two values (a bit each: carved even when adjacent, a half-step's noise looks the same)
        # or a data-like window within a byte's span
        return high - low == 1 or (bool(signs) and high - low < 256)

    def _keep(
        self,
        lane: npt.NDArray[np.integer],
        first: int,
        last: int,
        kept: list[npt.NDArray[np.int64]],
    ) -> None:
        """Keep a quiet run's values for carving, extended sample by sample into the edges of
        the gap while they stay among its values (a payload starts at the gap's first sample,
        not at a window's)."""
        low = min(int(v.min()) for v in kept)
        high = max(int(v.max()) for v in kept)
        two = all(np.unique(v).size <= 2 for v in kept) and (
            np.unique(np.concatenate(kept)).size == 2
        )
        if (two and self._bits_size >= CARVE_BITS_LIMIT) or (
            not two and self._carved_size >= CARVE_LIMIT
        ):
            return
        shift = _shift(lane, self.bits)
        start, stop = first * GAP_WINDOW, (last + 1) * GAP_WINDOW
        # the edges lie within a window either side (the windows next to the run are not quiet)
        lo, hi = max(0, start - GAP_WINDOW), min(lane.size, stop + GAP_WINDOW)
        edge = lane[lo:hi]
        if two:  # bits: only the two codes (a fade's last samples are not among them)
            inside = (edge == (low << shift)) | (edge == (high << shift))
        else:
            inside = (edge >= (low << shift)) & (edge <= (high << shift))
        before = np.flatnonzero(~inside[: start - lo])
        start = lo + int(before[-1]) + 1 if before.size else lo
        after = np.flatnonzero(~inside[stop - lo :])
        stop = stop + int(after[0]) if after.size else hi
        v = stored_steps(lane[start:stop], self.bits)
        if two:
            if self._bits_size < CARVE_BITS_LIMIT:
                self._bits.append((v[: 8 * CARVE_BITS_LIMIT] != low).astype(np.uint8))
                self._bits_size += min(v.size, 8 * CARVE_BITS_LIMIT) // 8
        elif high - low < 256:
            self._bytes.append((v & 0xFF).astype(np.uint8).tobytes())
            self._carved_size += v.size

    @staticmethod
    def _carve_bits(bits: npt.NDArray[np.uint8]) -> tuple[str, str, int, str]:
        """A dangerous file in ``bits`` packed as bytes at any of 8 alignments, either bit
        order, either polarity."""
        for shift in range(8):
            for order in ("big", "little"):
                for invert in (0, 1):
                    b = bits[shift:] ^ np.uint8(invert)
                    data = np.packbits(b[: b.size // 8 * 8], bitorder=order).tobytes()
                    kind, name, offset = dangerous_payload(data)
                    if kind:
                        return kind, name, offset, "bits"
        return "", "", -1, ""

    def _carve(self) -> tuple[str, str, int, str]:
        if self._bits:
            # every gap's bits in order, and the first gap's alone (where a file's head is)
            every = np.concatenate(self._bits)[: 8 * CARVE_BITS_LIMIT]
            for bits in (every, self._bits[0])[: len(self._bits)]:
                found = self._carve_bits(bits)
                if found[0]:
                    return found
        if self._bytes:
            data = b"".join(self._bytes)
            raw = np.frombuffer(data, np.uint8)
            for flip in (0, 0x80):  # signed bytes, or offset by 128
                kind, name, offset = dangerous_payload((raw ^ np.uint8(flip)).tobytes())
                if kind:
                    return kind, name, offset, "low byte"
        return "", "", -1, ""

    def report(self) -> list[Finding]:
        kind, name, offset, lane = self._carve()
        data_seconds = self.flagged * GAP_WINDOW / self.rate
        if not kind and data_seconds < GAP_MIN_SECONDS:
            return []
        evidence: QuietCodesEvidence = {
            "data_like_s": round(data_seconds, 2),
            "quiet_windows": self.quiet_windows,
            "signs": self.signs,
        }
        if self.first_s is not None:
            evidence["first_s"] = round(self.first_s, 2)
            evidence["last_s"] = round(self.last_s, 2)
        message = (
            f"Quiet passages ({data_seconds:.2f} s of them) hold codes, not a noise floor: "
            "values with holes between them or spread flat, as bits or bytes written there"
        )
        if kind:
            evidence["carved_kind"] = kind
            evidence["carved_name"] = name
            evidence["carved_offset"] = offset
            evidence["lane"] = lane
            message += f"; read back as {lane} they hold a {name} ({kind})"
        return [_finding("stego.quiet_codes", message, evidence, carved=bool(kind))]
