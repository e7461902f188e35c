"""LSB steganalysis of integer PCM: carve payloads from the low bits, and estimate how many of
them were replaced.

The threat is a real recording whose least significant bit(s) carry a payload, wholly or from
the first sample on for part of the file (the WAV loaders described by Turla in 2019 and by
BlackBerry Cylance in 2019 hid PE files this way). Two lines of attack run over the same
stream of blocks, with memory bounded by ``carve_bytes`` x 8 frames of low bits plus at most
8192 segment sums per channel:

**Carving** (as zsteg does for pictures). From the first ``carve_bytes`` of capacity, byte
streams are built from the low bit plane(s): 1 and 2 low bits; channels interleaved in file
order and each channel alone; bytes packed LSB-first and MSB-first (see
:mod:`audiomodel.corpus.stego_embed` for the exact layout). Each stream is searched for file
signatures confirmed by the fields that follow them, a 4-byte little- or big-endian length
prefix followed by a recognised payload, and runs of text, script or base64. A hit is
``stego.lsb_payload``. Carving finds any payload with a recognisable head, at any embedded
fraction, with essentially no false flags; it cannot see encrypted or compressed-headerless
payloads, payloads that start at a sample index that is not a multiple of 8 / ``bits``, or
layouts other than the ones above (a keyed, scattered order).

**Statistics** (weighted stego-signal analysis, after Fridrich & Goljan 2004 and Ker & Böhme
2008, adapted to 1-D audio). Every sample is predicted from its neighbours on both sides by a
two-sided linear interpolator fitted per ~1.4 s window (16 taps each side, least squares on the
window's exact autocorrelation, constrained to predict a constant exactly) and applied by
overlap-save in 4096-point FFT blocks. LSB replacement pushes an even sample up or an odd one
down, so the prediction residual ``r`` correlates with the parity sign ``c = +1 (odd) / -1
(even)``: ``E[r * c] = p / 2`` where ``p`` is the share of samples whose LSB was replaced by
random bits, and 0 in a recording whose parity owes nothing to its neighbours. Residuals are weighted by the inverse local residual power (per 128
samples), so smooth and quiet passages, where the low bits are predictable, carry the
verdict. Sums are kept per channel and per 4096-frame segment; a z-score under the clean
hypothesis is computed for every prefix of the file (embedders fill from the first sample),
channels pooled or one channel alone. The best prefix gives ``estimated_fraction`` (each
segment counted at its own measured rate) and, when the z-score, the rate inside the prefix
and the fraction are all high, ``stego.lsb_statistical``. The same sum against bit 1 tells
whether 2 bits were used.

What can and cannot be detected (``bench/stego_eval.py`` on ~640 real clips: game music and
sound effects decoded from Vorbis, tracker renders, drum samples, espeak-ng speech, each also
shifted by one LSB; plus the same clips dithered and noise-shaped):

* No clean clip was flagged, by carving or statistics. The statistic stays within |z| < 4 on
  natural clips; quiet passages with a DC offset reach z ~ 300 but a replaced-bit rate of at
  most ~0.35, against ~0.85-1 where bits were really replaced, which is what the flag tests.
* Random bits (no header to carve: what an encrypted or compressed payload looks like)
  replacing 100 / 50 / 25 / 10 % of the LSBs from the first sample are flagged in 92 / 89 /
  88 / 83 % of the 120 clips of 5 s or more (1 bit; 2 bits within ~4 points): speech in
  100 % from 25 % up, music in 89 / 85 / 83 / 79 %. Band-limited audio (anything decoded from
  MP3/Vorbis/AAC and saved as WAV, most speech, steep anti-alias filters) is the easy case:
  the interpolator predicts to about one LSB. The misses are loud material with content up
  to Nyquist (bright synths, drums, music resampled to 8-22 kHz) and short clips. In the dev
  corpus' held-out split, whose covers include single drum hits, 11 of 14 random payloads at
  50-100 % of the capacity are flagged; the three misses are clips of 0.1-2.7 s whose
  interpolation residual is 300-1,000 LSB, with no length header. There a +-1 LSB change is
  below what so few samples can resolve (z ~ p sqrt(N) / (2 sigma) stays under the flag's 6),
  and no test of the low bits alone can do better: the replaced bits are as random as the
  ones they replace.
* A **length header** is what short clips give away instead: a loader must know where an
  encrypted payload ends. When the low bits open with a 4-byte length (either byte order)
  that fits the capacity, followed by bytes that pass a uniformity check (bit balance and
  byte counts in every 256-byte chunk of the first 4 KiB), the finding is
  ``stego.lsb_length_header``. Random low bits spell such a length with chance C / 2**32 per
  reading (C the capacity in bytes), so the test runs only while all readings together stay
  under 1e-3 (up to ~16 s of 44.1 kHz stereo, ~65 s of mono), and only when the header's
  carriers are loud (the bits above the ones used vary): a file opening in silence or a
  fade spells small numbers by itself (a drum hit in the dev corpus spells 407). On the 660
  clean clips of ``bench/stego_eval.py`` it flagged none. With it, random payloads behind a
  length prefix in 40 clips of every length (``--min-embed-seconds 0``) are flagged in
  78 / 88 / 90 / 95 % at 10 / 25 / 50 / 100 % (1 bit; 75 / 82 / 85 / 93 % without a prefix)
  and 85 / 93 / 97 / 97 % (2 bits; 65 / 75 / 85 / 93 %); the held-out split gained one.
* Structured payloads (executables with runs of zero bytes, ASCII text) change the low bits
  less than random bits do: carving finds them (all zip/ELF/text payloads in the benchmark,
  at every fraction, and all 26 in the held-out split at 50-100 %), and
  ``estimated_fraction`` understates them (a run of equal bits is a constant shift that the
  interpolator follows).
* A digital gain just under 2x or 4x (+6.00 dB is 1.995x) leaves the low bit a function of
  the level, and the parity residual then reads like replaced bits (z = 13-69 on dev-corpus
  clips given +6 dB). Replacement does the opposite to the low bit: it makes it a coin, so
  the flag is dropped when the low bit is too predictable from the bits above it
  (``lsb_determinism``, the balance of each value pair against a fair coin's) to carry the
  estimated share. On the same corpus this changed no detection in ``bench/stego_eval.py``.
* Clipped samples (at full scale, or on a loud flat top) are left out of the statistic: their
  parity is fixed by the clip level and their residual by the interpolator's overshoot, so a
  clean master driven into clipping read as fully replaced (z = 42 on a dev-corpus clip).
* Digital silence whose noise is well below one LSB and white, sitting near a half-LSB
  offset, is indistinguishable from replaced silence (both are fair coin flips between an
  even value and the next odd one). The flag then asks for a rate near 1
  (``sublsb_share``), and such a file can still be flagged.
* An encrypted headerless payload in a small share of a loud, noisy, full-band recording is
  essentially undetectable: its bits are as random as the low bits they replace. So is a
  payload spread by a key at a low rate, and LSB matching (+-1) rather than replacement.
* The classic pairs-of-values chi-square test is not used: it calls almost every smooth
  16-bit music file "embedded".

Input: blocks of integer samples as stored, shape (frames, channels), in file order. 16-bit
audio comes as int16. Wider samples come as int32 **left-justified** (what
soundfile reads with ``dtype="int32"``: a 24-bit sample ``s`` arrives as ``s << 8``);
pass ``justify="right"`` for right-justified values. 8-bit PCM (int16 from soundfile, i.e.
``s << 8``, or uint8 right-justified) is carved only: its low bit is noise in any recording.
Float blocks are skipped (a float file has no integer low bits to replace). Lossy-decoded
audio (MP3, Ogg, AAC decoded by the validator) must not be given here: its low bits are the
decoder's rounding, and a payload could not survive the encoder anyway.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.fft
from scipy.special import gammaln

from audiomodel.findings import Finding, finding
from audiomodel.payload import (
    PayloadKind,
    byte_entropy,
    confirm_signature,
    find_signatures,
    identify_payload,
)

__all__ = ["FEATURE_NAMES", "LsbAnalyzer", "StegoReport", "analyse_lsb"]

# -- statistics --------------------------------------------------------------------------------
_TAPS = 16  # interpolator taps on each side
_SUB = 128  # frames per weight sub-block
_SEG_SUBS = 32  # sub-blocks per stored segment (4096 frames)
# The residual is filtered by overlap-save in short FFT blocks (a 4096-point transform stays in
# cache: three times faster per sample than one 65,536-point transform), and the interpolator
# is fitted once per window of _WINDOW_BLOCKS blocks (~1.4 s at 44.1 kHz).
_BLOCK = 4096  # FFT size
_EDGE = 64  # frames dropped at each side of a block (> _TAPS: circular-filter edges)
_HOP = _BLOCK - 2 * _EDGE  # 3968 = 31 sub-blocks of residual per FFT block
_WINDOW_BLOCKS = 16
_STRIDE = _WINDOW_BLOCKS * _HOP  # 63488 frames = 496 sub-blocks between windows
_WINDOW = _STRIDE + 2 * _EDGE  # frames per fitting window
_FLOOR = 1.0  # LSB^2 added to the local residual power before weighting
_MIN_FRAMES = 4 * _SUB + 2 * _EDGE  # shorter input gives no statistics
# Flag thresholds, chosen on the false-flag measurements in bench/stego_eval.py.
_Z_FLAG = 6.0
_RATE_FLAG = 0.5  # replaced bits give ~0.85-1 in the prefix; clean biases stay under ~0.35
_FRACTION_FLAG = 0.05
_SUBLSB_RATE = 0.8  # rate needed when all the evidence comes from sub-LSB passages
_Z_ESTIMATE = 5.0  # below this the estimate is noise and estimated_fraction is 0
_PREFIX_MIN_SHARE = 0.02  # shortest prefix scanned, as a share of the file
_MAX_SEGMENTS = 8192  # per-segment sums kept; neighbours merge beyond (bounded memory)
_PAIR_EVIDENCE = 200.0  # samples beyond a fair coin's imbalance needed to judge determinism
_DETERMINISM_SLACK = 0.5

# -- carving ----------------------------------------------------------------------------------
_MAX_CARVE_CHANNELS = 8
_MIN_TEXT = 32  # printable run worth reporting (a random byte is printable with p = 0.38)
_MIN_PREFIXED_TEXT = 12
# A length header before random-looking bytes (what an encrypted payload needs: its loader must
# know where it ends). Random low bits spell a length that fits a capacity of C bytes with
# chance C / 2**32 per reading, so the test only runs where all its readings together stay
# under _HEADER_CHANCE: short files, where the statistics have too few samples.
_HEADER_MIN = 256  # shortest body a header may announce
_HEADER_CHANCE = 1e-3
_RANDOM_CHUNK = 256  # bytes per uniformity check
_RANDOM_CHUNKS = 16  # chunks checked from the start of the body
_MAX_FINDINGS = 3
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
_WORDISH = np.zeros(256, dtype=bool)
for _lo, _hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)):
    _WORDISH[_lo : _hi + 1] = True
_WORDISH[[0x20, 0x0A]] = True
# Bytes made of one 2-bit group repeated, or of two equal nibbles: what the low bits of a slowly
# varying signal pack into (0x55 "U", 0x33 "3", 0x66 "f", ...).
_PATTERNED = np.array(
    [(b >> 4) == (b & 15) or len({(b >> s) & 3 for s in (0, 2, 4, 6)}) == 1 for b in range(256)]
)
_BASE64 = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}")
_HEX = re.compile(rb"[0-9a-fA-F]{64,}")
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[0x20, 0x09, 0x0A, 0x0D]] = True
_KIND_RANK = {
    PayloadKind.EXECUTABLE: 0,
    PayloadKind.ARCHIVE: 1,
    PayloadKind.SCRIPT: 2,
    PayloadKind.DOCUMENT: 3,
    PayloadKind.IMAGE: 4,
    PayloadKind.AUDIO: 5,
    PayloadKind.TEXT: 6,
}

# Keys of StegoReport.features: "analysed" is 0 for float input, "statistics" 0 for 8-bit PCM
# (carved only) and for input too short to measure.
FEATURE_NAMES = (
    "frames",
    "analysed",
    "statistics",
    "carve_streams",
    "carve_hits",
    "ws_rate",
    "ws_z",
    "bit1_rate",
    "prefix_rate",
    "prefix_z",
    "prefix_share",
    "prefix_fraction",
    "prefix_channel",
    "sublsb_share",
    "quiet_share",
    "residual_rms",
    "lsb_determinism",
    "estimated_fraction",
)

BitOrder = Literal["lsb_first", "msb_first"]
_ORDERS: tuple[BitOrder, ...] = ("lsb_first", "msb_first")
_Ints = npt.NDArray[np.signedinteger[Any]]  # right-justified samples: int16 or int32


@dataclass
class StegoReport:
    """What the LSB analysis found."""

    findings: list[Finding]
    estimated_fraction: float  # estimated share of low bits replaced (0..1)
    features: dict[str, float] = field(default_factory=dict)  # statistics, for model and evidence


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: PayloadKind
    name: str
    byte_offset: int
    prefix: str  # "le", "be" or "none"
    payload_bytes: int  # from the length prefix, else 0
    preview: str


# =============================================================================================
# statistics
# =============================================================================================


@lru_cache(maxsize=4)
def _cos_tables(dtype: str) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.float64]]:
    """cos(k w) for every rfft bin of a block and k = 1.._TAPS, (bins, taps); and the
    (2 _TAPS + 1, bins) matrix that turns a block power spectrum into its circular
    autocorrelation at lags 0..2 _TAPS (DC and Nyquist counted once, other bins twice)."""
    bins = _BLOCK // 2 + 1
    omega = np.arange(bins) * (2.0 * np.pi / _BLOCK)
    full = np.cos(np.outer(omega, np.arange(1, _TAPS + 1))).astype(dtype)
    weights = np.full(bins, 2.0 / _BLOCK)
    weights[[0, -1]] = 1.0 / _BLOCK
    to_acf = np.cos(np.outer(np.arange(2 * _TAPS + 1), omega)) * weights
    return full, to_acf


_ANTI_DIAGONAL = (np.arange(2 * _TAPS)[:, None] + np.arange(2 * _TAPS)[None, :]).ravel()


def _block_excess(framed: npt.NDArray[np.floating], blocks: int) -> npt.NDArray[np.float64]:
    """What the blocks' circular autocorrelations, summed, hold beyond the window's own
    sum x[n] x[n+l] at lags 0..2 _TAPS: the products that wrap around each block (its end
    times its start), and the pairs inside two neighbouring blocks' 2 _EDGE-frame overlap,
    counted twice. At 16 taps the fit needs the sums to ~1e-5 of the signal power (smooth
    music is predicted to about one LSB), so these are taken out exactly.

    ``framed`` is (channels, blocks, _BLOCK), consecutive blocks _HOP frames apart.
    """
    span = 2 * _TAPS
    # Lag l wraps sum_{m<l} tail[span - l + m] head[m]: an anti-diagonal of the reversed
    # tail-by-head product matrix.
    ends = np.einsum("cbi,cbj->ij", framed[..., : _BLOCK - span - 1 : -1], framed[..., :span])
    excess = np.zeros(span + 1)
    excess[1:] = np.bincount(_ANTI_DIAGONAL, weights=ends.ravel(), minlength=2 * span)[:span]
    if blocks > 1:
        # Pairs inside an overlap: the linear autocorrelation of each overlap, by a zero-padded
        # FFT, summed.
        overlap = 2 * _EDGE
        spectrum = scipy.fft.rfft(framed[:, 1:, :overlap], n=2 * overlap, axis=-1)
        power = np.einsum("cnb->b", spectrum.real**2 + spectrum.imag**2)
        excess += scipy.fft.irfft(power.astype(np.float64), n=2 * overlap)[: span + 1]
    return excess


def _interpolation_residual(window: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Residual of a two-sided interpolator fitted to ``window`` (channels, frames).

    The interpolator predicts x[n] from x[n-k] + x[n+k], k = 1.._TAPS, never from x[n], so
    the residual of a replaced sample keeps its full embedding change. Coefficients come from
    the window's autocorrelation, summed over its FFT blocks and channels (white quantisation
    noise of 1/12 LSB^2 added so digital silence gives a zero predictor). The filter runs by
    overlap-save in ``_BLOCK``-point blocks (zero-padded past the end). Returns (channels,
    frames - 2 _EDGE).
    """
    channels, frames = window.shape
    blocks = max(1, -(-(frames - 2 * _EDGE) // _HOP))
    padded = blocks * _HOP + 2 * _EDGE
    if padded > frames:
        window = np.concatenate([window, np.zeros((channels, padded - frames), window.dtype)], 1)
    step_channel, step_frame = window.strides
    framed = np.lib.stride_tricks.as_strided(
        window,
        shape=(channels, blocks, _BLOCK),
        strides=(step_channel, _HOP * step_frame, step_frame),
        writeable=False,
    )
    spectrum = scipy.fft.rfft(framed, axis=-1)  # (channels, blocks, bins)
    full, to_acf = _cos_tables(window.dtype.str)
    parts = spectrum.view(window.dtype).reshape(-1, 2 * spectrum.shape[-1])
    power = np.einsum("ib,ib->b", parts, parts).reshape(-1, 2).sum(axis=1)
    # einsum, not @: BLAS would spin up threads for these small products and cost more than
    # it saves on a shared core.
    circular = np.einsum("lb,b->l", to_acf, power.astype(np.float64))
    acf = circular - _block_excess(framed, blocks)  # sum x[n] x[n+l] over the window, exactly
    acf[0] += acf[0] * 1e-6 + channels * frames / 12.0
    k = np.arange(1, _TAPS + 1)
    normal = acf[np.abs(k[:, None] - k[None, :])] + acf[k[:, None] + k[None, :]]
    # Least squares under the constraint sum(2 a_k) = 1: a constant (a DC offset in digital
    # silence) is then predicted exactly, instead of leaving a tiny constant residual that
    # correlates with the constant parity of the silence.
    unit, free = np.linalg.solve(normal, np.stack([np.ones(_TAPS), acf[k]], axis=1)).T
    coef = free + unit * (0.5 - free.sum()) / unit.sum()
    response = (1.0 - 2.0 * np.einsum("bk,k->b", full, coef.astype(full.dtype))).astype(full.dtype)
    spectrum *= response
    residual: npt.NDArray[np.floating] = scipy.fft.irfft(
        spectrum, n=_BLOCK, axis=-1, overwrite_x=True
    )
    return residual[..., _EDGE : _BLOCK - _EDGE].reshape(channels, -1)[:, : frames - 2 * _EDGE]


# Columns of the per-segment, per-channel sums.
_A, _B, _V, _A1, _AQ = range(5)  # sum w*r*c; sum w; sum w^2*r^2; sum w*r*c1; _A over sub-LSB blocks
_COLUMNS = 5


def lsb_determinism(pair_parity: npt.NDArray[np.integer]) -> float:
    """How far the low bit follows from the bits above it.

    ``pair_parity`` counts samples per value, pairs (2m, 2m + 1) side by side. The measure is
    the excess of |n_even - n_odd| over what a fair coin gives for each pair's count, as a
    share of the most it could be: about 0 where the low bit is noise (a recording, or bits
    replaced by a payload), 1 where a digital gain just under 2x (+6.00 dB is 1.995x) or 4x
    left it a function of the level, about 1 - f after a share f of such low bits was replaced.
    0 when the pairs hold too few samples to tell.
    """
    counts = pair_parity.reshape(-1, 2)
    n = counts.sum(axis=1)
    seen = n >= 2
    total = n[seen].astype(np.float64)
    imbalance = np.abs(counts[seen, 0] - counts[seen, 1]).astype(np.float64)
    # E|n_even - n_odd| for a fair coin: 2 n C(n - 1, floor((n - 1) / 2)) / 2^n.
    half = np.floor((total - 1) / 2)
    log_choose = gammaln(total) - gammaln(half + 1) - gammaln(total - half)
    fair = 2 * total * np.exp(log_choose - total * math.log(2.0))
    room = float((total - fair).sum())
    if room < _PAIR_EVIDENCE:
        return 0.0
    return float((imbalance - fair).sum() / room)


class _ParityStatistics:
    """Weighted residual-parity sums per channel and segment, streamed over fixed windows.

    Windows start at fixed frame indices, so the sums do not depend on how the caller cut the
    stream into blocks. A segment starts as 32 sub-blocks (4096 frames); when there are more
    than ``_MAX_SEGMENTS`` of them, neighbours are merged and segments double, so memory stays
    bounded for any duration.
    """

    def __init__(
        self,
        channels: int,
        dtype: type[np.floating],
        bits_per_sample: int,
        count_values: bool = True,
    ) -> None:
        self.channels = channels
        self.dtype = dtype
        self._loud = 1 << (bits_per_sample - 2)  # half of full scale
        # Samples per value pair (2m, 2m + 1) and parity, the pair index folded to 16 bits.
        self.pair_parity = np.zeros(1 << 17, dtype=np.int64)
        self.count_values = count_values
        self._full = (1 << (bits_per_sample - 1)) - 1  # +full scale; -full - 1 is below it
        self._pending: list[_Ints] = []
        self._pending_frames = 0
        self._segments: list[npt.NDArray[np.float64]] = []  # each (n, channels, _COLUMNS)
        self._segment_count = 0
        self.segment_subblocks = _SEG_SUBS
        self._partial = np.zeros((channels, _COLUMNS))  # sums of the segment being filled
        self._partial_subblocks = 0
        self.residual_power = 0.0
        self.quiet_subblocks = 0
        self.subblocks = 0

    def update(self, values: _Ints) -> None:
        self._pending.append(values)
        self._pending_frames += values.shape[0]
        if self._pending_frames >= _WINDOW:
            self._drain(final=False)

    def _drain(self, *, final: bool) -> None:
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        start = 0
        while data.shape[0] - start >= _WINDOW:
            self._window(data[start : start + _WINDOW])
            start += _STRIDE
        if final and data.shape[0] - start >= _MIN_FRAMES:
            self._window(data[start:])
            start = data.shape[0]
        rest = data[start:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_frames = rest.shape[0]

    def _window(self, values: _Ints) -> None:
        by_channel = np.ascontiguousarray(values.T)  # (channels, frames): rows reshape freely
        residual = _interpolation_residual(by_channel.astype(self.dtype))
        usable = (residual.shape[1] // _SUB) * _SUB
        if usable == 0:
            return
        residual = residual[:, :usable]
        if self.count_values:
            self._count_pairs(by_channel[:, _EDGE : _EDGE + usable])  # each frame once
        self._drop_clipped(by_channel[:, _EDGE - 1 : _EDGE + usable + 1], residual)
        # Per sub-block sums of r * c, c = 2 b - 1 for bit b: sum(r c) = 2 sum(r b) - sum(r), by
        # two-operand einsums that multiply and add in one pass without temporaries.
        low = by_channel[:, _EDGE : _EDGE + usable] & 3
        by_sub = residual.reshape(-1, _SUB)
        bit0 = (low & 1).astype(residual.dtype).reshape(-1, _SUB)
        bit1 = (low >> 1).astype(residual.dtype).reshape(-1, _SUB)
        total = np.einsum("ij->i", by_sub)

        def per_channel(sums: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
            return np.asarray(sums, dtype=np.float64).reshape(self.channels, -1)

        rc0 = per_channel(2.0 * np.einsum("ij,ij->i", by_sub, bit0) - total)
        rc1 = per_channel(2.0 * np.einsum("ij,ij->i", by_sub, bit1) - total)
        energy = per_channel(np.einsum("ij,ij->i", by_sub, by_sub))
        # The weight comes from the whole sub-block's power; one sample's own share of it is
        # 1/128 and symmetric in its parity, so it does not bias the sum.
        weight = 1.0 / (_FLOOR + energy / _SUB)
        sub_lsb = energy < _SUB  # residual power under 1 LSB^2: silence, or replaced silence
        rows = np.stack(
            [
                weight * rc0,
                weight * _SUB,
                # Variance under the clean hypothesis, with at least the rounding noise (1/12
                # LSB^2) per sample: a residual far smaller than that is arithmetic, not
                # evidence (a held constant leaves float round-off that would otherwise give
                # a z growing with the square root of its length).
                weight * weight * (energy + _SUB / 12.0),
                weight * rc1,
                weight * rc0 * sub_lsb,
            ],
            axis=-1,
        ).transpose(1, 0, 2)  # (sub-blocks, channels, _COLUMNS)
        self.residual_power += float(energy.sum())
        self.quiet_subblocks += int(np.count_nonzero(energy < 4.0 * _SUB))
        self.subblocks += energy.size
        self._add(rows)

    def _add(self, rows: npt.NDArray[np.float64]) -> None:
        need = self.segment_subblocks - self._partial_subblocks
        if rows.shape[0] < need:
            self._partial += rows.sum(axis=0)
            self._partial_subblocks += rows.shape[0]
            return
        first = self._partial + rows[:need].sum(axis=0)
        rest = rows[need:]
        whole = (rest.shape[0] // self.segment_subblocks) * self.segment_subblocks
        full = rest[:whole].reshape(-1, self.segment_subblocks, self.channels, _COLUMNS).sum(axis=1)
        self._segments.append(np.concatenate([first[None], full]))
        self._segment_count += 1 + full.shape[0]
        self._partial = rest[whole:].sum(axis=0)
        self._partial_subblocks = rest.shape[0] - whole
        if self._segment_count > _MAX_SEGMENTS:
            self._merge()

    def _merge(self) -> None:
        merged = np.concatenate(self._segments)
        if merged.shape[0] % 2:
            # The odd last segment becomes half of the next, larger one.
            self._partial = self._partial + merged[-1]
            self._partial_subblocks += self.segment_subblocks
            merged = merged[:-1]
        self._segments = [merged.reshape(-1, 2, self.channels, _COLUMNS).sum(axis=1)]
        self._segment_count = self._segments[0].shape[0]
        self.segment_subblocks *= 2

    def _count_pairs(self, measured: _Ints) -> None:
        """Samples per value pair and parity: the value folded to 17 bits is both (pair in the
        high bits, parity in the low one); 16-bit values need no folding."""
        for row in measured:
            if row.dtype == np.int16:
                self.pair_parity[: 1 << 16] += np.bincount(row.view(np.uint16), minlength=1 << 16)
            else:
                self.pair_parity += np.bincount(row & 0x1FFFF, minlength=1 << 17)

    def _drop_clipped(self, span: _Ints, residual: npt.NDArray[np.floating]) -> None:
        """Zero the residual of clipped samples (at full scale, or on a loud flat top).

        Their parity is fixed by the clip level and their residual by the interpolator's
        overshoot, so a clean clipped track would read as replaced bits. ``span`` holds one
        frame more on each side than ``residual``. Only windows that reach full scale or sit
        on their extremes are looked at closely, and in them only loud samples.
        """
        centre = span[:, 1:-1]
        high, low = int(centre.max()), int(centre.min())
        if high < self._loud and low > -self._loud:
            return
        # Unclipped sound touches its extremes once or twice; a flat top sits on them.
        unclipped = -self._full < low and high < self._full
        if unclipped and np.count_nonzero(centre == high) + np.count_nonzero(centre == low) <= 4:
            return
        rows, cols = np.nonzero((centre >= self._loud) | (centre <= -self._loud))
        if rows.size == 0:
            return
        value = centre[rows, cols]
        clipped = (value >= self._full) | (value <= -self._full)
        clipped |= (value == span[rows, cols]) | (value == span[rows, cols + 2])
        residual[rows[clipped], cols[clipped]] = 0.0

    def finish(self) -> npt.NDArray[np.float64]:
        """Per-segment sums, shape (segments, channels, _COLUMNS); the last may be partial."""
        if self._pending_frames:
            self._drain(final=True)
        parts = list(self._segments)
        if self._partial_subblocks:
            parts.append(self._partial[None])
        return np.concatenate(parts) if parts else np.zeros((0, self.channels, _COLUMNS))


def _prefix_end(cum: npt.NDArray[np.float64]) -> tuple[int, float]:
    """End segment and z of the best prefix of cumulative sums ``cum`` (segments, _COLUMNS)."""
    first = min(max(math.ceil(_PREFIX_MIN_SHARE * len(cum)) - 1, 0), len(cum) - 1)
    z = np.divide(
        cum[first:, _A],
        np.sqrt(cum[first:, _V]),
        out=np.zeros(len(cum) - first),
        where=cum[first:, _V] > 0,
    )
    top = float(z.max())
    if top <= 0:
        return len(cum) - 1, 0.0
    # Past the end of a payload, digital silence adds no evidence and no variance: z stays on a
    # plateau. The prefix ends where the plateau starts (within 1 sigma of the top).
    end = first + int(np.argmax(z >= top - 1.0))
    return end, float(z[end - first])


def _rate(sums: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """2 * sum(w r c) / sum(w) and its standard error under the clean hypothesis, per row."""
    a, b, v = sums[..., _A], sums[..., _B], sums[..., _V]
    rate = np.divide(2.0 * a, b, out=np.zeros_like(a), where=b > 0)
    spread = np.divide(2.0 * np.sqrt(v), b, out=np.full_like(a, np.inf), where=b > 0)
    return np.stack([rate, spread], axis=-1)


def _replaced_share(local: npt.NDArray[np.float64], *, fallback: float) -> float:
    """Share of all low bits replaced, from per-segment, per-channel (rate, spread) ``local``.

    A segment whose rate is measured to +-0.25 counts at that rate (unclipped, so the noise of
    clean segments averages out); one too loud to measure takes the mean of the nearest
    measured segments before and after it in its channel (a payload ending inside a loud
    passage is then split between the two); a channel with nothing measured takes
    ``fallback``.
    """
    rate, spread = local[..., 0], local[..., 1]
    count = rate.shape[0]
    measured = spread <= 0.25
    index = np.broadcast_to(np.arange(count)[:, None], rate.shape)
    before = np.maximum.accumulate(np.where(measured, index, -1), axis=0)
    after = np.minimum.accumulate(np.where(measured, index, count)[::-1], axis=0)[::-1]
    guess = np.clip(rate, 0.0, 1.0)
    from_before = np.take_along_axis(guess, np.clip(before, 0, count - 1), axis=0)
    from_after = np.take_along_axis(guess, np.clip(after, 0, count - 1), axis=0)
    has_before, has_after = before >= 0, after < count
    sides = has_before.astype(np.float64) + has_after
    neighbours = np.divide(
        from_before * has_before + from_after * has_after,
        sides,
        out=np.full_like(rate, min(max(fallback, 0.0), 1.0)),
        where=sides > 0,
    )
    filled = np.where(measured, rate, neighbours)
    return float(min(max(filled.mean(), 0.0), 1.0))


def _parity_estimates(segments: npt.NDArray[np.float64]) -> dict[str, float]:
    """Whole-file and best-prefix rate estimates with their z-scores under the clean hypothesis.

    ``segments`` holds per-segment, per-channel sums (segments, channels, _COLUMNS).
    ``ws_rate`` / ``ws_z``: the whole file, channels pooled. ``prefix_*``: the prefix (at least
    2 % of the file) with the highest z, over the channels pooled or any one channel alone
    (``prefix_channel``, -1 for pooled), since embedders fill from the first sample;
    ``prefix_share`` is its share of the file and ``prefix_rate`` the share of replaced low
    bits inside it (channels weighted equally). ``prefix_fraction``: the estimated share of the
    whole file's low bits replaced (see :func:`_replaced_share`). ``bit1_rate`` is about the rate for 2-bit embedding and
    about 0 for 1-bit. ``sublsb_share``: share of the prefix's evidence from sub-blocks whose
    residual is under one LSB (silence), where a sub-LSB DC offset can mimic embedding.
    """
    names = (
        "ws_rate",
        "ws_z",
        "bit1_rate",
        "prefix_rate",
        "prefix_z",
        "prefix_share",
        "prefix_fraction",
    )
    out = dict.fromkeys((*names, "prefix_channel", "sublsb_share"), 0.0)
    if segments.shape[0] == 0 or segments[..., _B].sum() <= 0:
        return out
    channels = segments.shape[1]
    pooled = segments.sum(axis=1)
    total = pooled.sum(axis=0)
    out["ws_rate"] = float(2.0 * total[_A] / total[_B])
    out["ws_z"] = float(total[_A] / math.sqrt(total[_V])) if total[_V] > 0 else 0.0
    out["bit1_rate"] = float(total[_A1] / total[_B])

    per_channel = np.cumsum(segments, axis=0)
    layouts = [(-1, np.cumsum(pooled, axis=0))] + (
        [(c, per_channel[:, c]) for c in range(channels)] if channels > 1 else []
    )
    best = max(((*_prefix_end(cum), layout) for layout, cum in layouts), key=lambda t: t[1])
    end, z, layout = best
    if z <= 0:
        return out
    chosen = per_channel[end, layout] if layout >= 0 else per_channel[end].sum(axis=0)
    out["prefix_z"] = z
    out["prefix_channel"] = float(layout)
    out["prefix_share"] = (end + 1) / segments.shape[0]  # segments are equal but the last
    out["sublsb_share"] = (
        float(min(max(chosen[_AQ] / chosen[_A], 0.0), 1.0)) if chosen[_A] > 0 else 0.0
    )

    # Rates per channel (weights differ between channels: a replaced channel is noisier than a
    # clean one, so pooling would understate a one-channel payload). A channel's prefix rate is
    # used where it is measured to +-0.25, the pooled rate elsewhere.
    pooled_rate = min(max(float(_rate(per_channel[end].sum(axis=0))[0]), 0.0), 1.0)
    channel_rate = _rate(per_channel[end])  # (channels, 2)
    fill = np.where(channel_rate[:, 1] <= 0.25, np.clip(channel_rate[:, 0], 0.0, 1.0), pooled_rate)
    out["prefix_rate"] = float(fill[layout]) if layout >= 0 else float(fill.mean())
    out["prefix_fraction"] = _replaced_share(
        _rate(segments), fallback=out["prefix_rate"] * out["prefix_share"]
    )
    return out


# =============================================================================================
# carving
# =============================================================================================


def _printable_preview(data: bytes, limit: int = 40) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[:limit])


def _text_hits(stream: npt.NDArray[np.uint8], data: bytes, min_len: int) -> list[_Hit]:
    """Runs of printable bytes that read like prose, code or base64 (not a repeated pattern)."""
    mask = _PRINTABLE[stream]
    # A run of 2k - 1 or more bytes holds an aligned block of k: no such block, no run (the
    # usual case for low bits of sound, checked without finding every run).
    k = max(1, (min_len + 1) // 2)
    if not mask[: mask.size // k * k].reshape(-1, k).all(axis=1).any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    keep = (ends - starts) >= min_len
    hits: list[_Hit] = []
    for start, end in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
        hit = _judge_text(stream[start:end], data[start:end], start)
        if hit is not None:
            hits.append(hit)
    return hits


def _judge_text(
    run: npt.NDArray[np.uint8], text: bytes, offset: int, *, min_distinct: int = 10
) -> _Hit | None:
    """Text if ``run`` reads like prose, code or base64/hex rather than a slowly varying signal.

    The low bits of a quiet, smooth passage pack into printable but patterned bytes
    ("UUUUefffwwww3333", or letters from a narrow range such as "eWUdpEeuWvTgTVwV"): runs of
    one byte, bytes made of one repeated 2-bit group, few distinct characters, no spaces.
    Prose and code have spaces between words; base64 uses most of its 64 symbols.
    """
    if np.unique(run).size < min_distinct or _WORDISH[run].mean() < 0.7 or byte_entropy(run) < 2.8:
        return None
    repeats = (run[1:] == run[:-1]) & (run[1:] != 0x20)
    if repeats.mean() > 0.1 or _PATTERNED[run].mean() > 0.2:
        return None
    if _WHITESPACE[run].mean() >= 0.05:
        guess = identify_payload(text)
        if guess.kind == PayloadKind.SCRIPT:
            return _Hit(PayloadKind.SCRIPT, guess.name, offset, "none", 0, _printable_preview(text))
        return _Hit(PayloadKind.TEXT, "text", offset, "none", 0, _printable_preview(text))
    for pattern, name, distinct in ((_BASE64, "base64", 24), (_HEX, "hex", 12)):
        for match in pattern.finditer(text):
            chunk = match.group()
            classes = sum(
                any(lo <= c <= hi for c in chunk)
                for lo, hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A))
            )
            if len(set(chunk)) >= distinct and classes >= 2:
                where = offset + match.start()
                return _Hit(
                    PayloadKind.TEXT,
                    name,
                    where,
                    "none",
                    0,
                    _printable_preview(chunk),
                )
    return None


def _signature_hits(data: bytes) -> list[_Hit]:
    hits: list[_Hit] = []
    head = identify_payload(data[:4096])
    if (
        head.kind in _KIND_RANK
        and head.kind != PayloadKind.TEXT
        and confirm_signature(head.name, data, 0)
    ):
        hits.append(_Hit(head.kind, head.name, 0, "none", 0, _printable_preview(data[:16])))
    for offset, name, kind in find_signatures(data, limit=64):
        if offset and confirm_signature(name, data, offset):
            hits.append(
                _Hit(kind, name, offset, "none", 0, _printable_preview(data[offset : offset + 16]))
            )
    return hits


def _length_fields(head: bytes) -> tuple[tuple[int, str], tuple[int, str]]:
    """The first 4 bytes read as a length, little- and big-endian, with their labels."""
    return (int.from_bytes(head[:4], "little"), "le"), (int.from_bytes(head[:4], "big"), "be")


def _prefixed_hits(stream: npt.NDArray[np.uint8], data: bytes, capacity: int) -> list[_Hit]:
    """A 4-byte length that fits the capacity, followed by a recognised payload."""
    hits: list[_Hit] = []
    if len(data) < 8:
        return hits
    for size, label in _length_fields(data):
        if not 8 <= size <= capacity - 4:
            continue
        body = data[4 : 4 + size]
        guess = identify_payload(body[:4096])
        if (
            guess.kind in _KIND_RANK
            and guess.kind != PayloadKind.TEXT
            and confirm_signature(guess.name, body, 0)
        ):
            hits.append(_Hit(guess.kind, guess.name, 4, label, size, _printable_preview(body[:16])))
            continue
        run = stream[4 : 4 + size]
        printable = _PRINTABLE[run]
        need = min(size, run.size)
        if need >= _MIN_PREFIXED_TEXT and printable[:need].all():
            text = _judge_text(run[:need], body[:need], 4, min_distinct=min(8, need // 2))
            if text is not None:
                hits.append(_Hit(text.kind, text.name, 4, label, size, text.preview))
    return hits


def _length_header(
    stream: npt.NDArray[np.uint8], capacity: int, carriers: npt.NDArray[np.uint8], bits: int
) -> tuple[str, int] | None:
    """A 4-byte length that fits ``capacity``, followed by bytes that look uniformly random.

    The chance bound assumes the header's bits would be random in a clean file, which holds
    only where its carriers are loud: the bits above the ``bits`` used must vary (at least
    half of them distinct). A file that opens in silence or a fade spells small numbers in
    its low bits (zeros, then a few ones) and is not tested.
    """
    above = carriers[: 32 // bits] >> bits
    if np.unique(above).size < above.size // 2:
        return None
    for size, label in _length_fields(stream[:4].tobytes()):
        body = stream[4 : 4 + size]
        # Up to the whole capacity: an embedder may announce more than fits and cut the rest.
        if _HEADER_MIN <= size <= capacity and body.size >= _HEADER_MIN and _looks_random(body):
            return label, size
    return None


def _looks_random(body: npt.NDArray[np.uint8]) -> bool:
    """Every 256-byte chunk of the body's first 4 KiB looks like uniform random bytes.

    Low bits of quiet or slowly varying sound fail this (runs of equal bits, a few repeated
    byte values); loud sound and random payloads pass. Bounds are ~5 sigma for random bytes.
    """
    chunks = min(body.size // _RANDOM_CHUNK, _RANDOM_CHUNKS)
    rows = body[: chunks * _RANDOM_CHUNK].reshape(chunks, _RANDOM_CHUNK)
    # 2048 bits a row: mean 1024, sigma 22.6 (signed: an unsigned sum would wrap below 1024).
    ones = np.unpackbits(rows, axis=1).sum(axis=1, dtype=np.int64)
    if np.any(np.abs(ones - 1024) > 113):
        return False
    # Each value turns up about once in 256 random bytes; 9 or more times has p ~ 1e-6 each.
    counts = np.zeros((chunks, 256), dtype=np.int32)
    np.add.at(counts, (np.arange(chunks)[:, None], rows), 1)
    return bool(counts.max() <= 8)


def _pack_stream(
    low: npt.NDArray[np.uint8], bits: int, order: BitOrder, n_bytes: int
) -> npt.NDArray[np.uint8]:
    """Bytes carried by the low ``bits`` of ``low`` (carrier order), as the embedder packs them."""
    if bits == 1:
        carriers = low[: n_bytes * 8] & 1
        return np.packbits(carriers, bitorder="little" if order == "lsb_first" else "big")
    crumbs = (low[: (low.size // 4) * 4][: n_bytes * 4] & 3).reshape(-1, 4)
    shifts = (0, 2, 4, 6) if order == "lsb_first" else (6, 4, 2, 0)
    packed = (crumbs[:, 0] << shifts[0]).astype(np.uint8, copy=False)
    for column in (1, 2, 3):
        packed |= crumbs[:, column] << shifts[column]
    return packed


def _carve(
    low: npt.NDArray[np.uint8], frames: int, channels: int, carve_bytes: int
) -> tuple[list[Finding], dict[str, float]]:
    """Search every stream layout in the buffered low bits ``low`` (frames, channels)."""
    layouts: list[tuple[str, npt.NDArray[np.uint8], int]] = [
        ("interleaved", low.reshape(-1), frames * channels)
    ]
    if channels > 1:
        layouts += [
            (str(ch), low[:, ch], frames) for ch in range(min(channels, _MAX_CARVE_CHANNELS))
        ]
    found: list[tuple[_Hit, int, str, str]] = []
    headers: list[tuple[_Hit, int, str, str]] = []
    streams = 0
    chance = 0.0  # that a clean file's random low bits spell a fitting length somewhere
    for channel, carriers, total_carriers in layouts:
        carriers = np.ascontiguousarray(carriers)
        for bits in (1, 2):
            capacity = total_carriers * bits // 8
            for order in _ORDERS:
                stream = _pack_stream(carriers, bits, order, carve_bytes)
                if stream.size < 8:
                    continue
                streams += 1
                data = stream.tobytes()
                hits = (
                    _prefixed_hits(stream, data, capacity)
                    + _signature_hits(data)
                    + _text_hits(stream, data, _MIN_TEXT)
                )
                if hits:
                    best = min(
                        hits, key=lambda h: (_KIND_RANK[h.kind], h.prefix == "none", h.byte_offset)
                    )
                    found.append((best, bits, order, channel))
                chance += 2 * max(capacity - _HEADER_MIN, 0) / 2**32  # both byte orders
                if not hits and (header := _length_header(stream, capacity, carriers, bits)):
                    prefix, size = header
                    hit = _Hit(PayloadKind.HIGH_ENTROPY, "random", 4, prefix, size, "")
                    headers.append((hit, bits, order, channel))
    header_findings = (
        [_header_finding(*headers[0], chance=chance)]
        if headers and not found and chance <= _HEADER_CHANCE
        else []
    )
    found.sort(key=lambda f: (_KIND_RANK[f[0].kind], f[0].prefix == "none", f[0].byte_offset))
    findings = [
        _payload_finding(hit, bits, order, channel)
        for hit, bits, order, channel in found[:_MAX_FINDINGS]
    ]
    return findings + header_findings, {
        "carve_streams": float(streams),
        "carve_hits": float(len(found)),
    }


def _header_finding(hit: _Hit, bits: int, order: str, channel: str, *, chance: float) -> Finding:
    where = "all channels interleaved" if channel == "interleaved" else f"channel {channel}"
    return finding(
        "stego.lsb_length_header",
        f"The low {bits} bit(s) of {where}, read {order.replace('_', '-')}, open with a "
        f"{hit.payload_bytes}-byte length ({hit.prefix.upper()}) that fits the file, followed "
        f"by random-looking bytes: the layout of an encrypted hidden payload (a clean file "
        f"shows this by chance with p < {chance:.1g}).",
        stream=f"b{bits},{order},{channel}",
        bits=bits,
        bit_order=order,
        channel=channel,
        length_prefix=hit.prefix,
        payload_bytes=hit.payload_bytes,
        chance=float(f"{chance:.3g}"),
    )


def _payload_finding(hit: _Hit, bits: int, order: str, channel: str) -> Finding:
    where = "all channels interleaved" if channel == "interleaved" else f"channel {channel}"
    size = (
        f", a {hit.payload_bytes}-byte length prefix ({hit.prefix.upper()})"
        if hit.prefix != "none"
        else ""
    )
    message = (
        f"The low {bits} bit(s) of {where}, read {order.replace('_', '-')}, hold {hit.kind} data "
        f"({hit.name}) at byte {hit.byte_offset}{size}."
    )
    return finding(
        "stego.lsb_payload",
        message,
        stream=f"b{bits},{order},{channel}",
        bits=bits,
        bit_order=order,
        channel=channel,
        found=hit.name,
        kind=str(hit.kind),
        byte_offset=hit.byte_offset,
        sample_offset=hit.byte_offset * 8 // bits,
        length_prefix=hit.prefix,
        payload_bytes=hit.payload_bytes,  # from the length prefix; 0 without one
        preview=hit.preview,
    )


# =============================================================================================
# the analyzer
# =============================================================================================


class LsbAnalyzer:
    """Streamed LSB steganalysis of integer PCM blocks; see the module docstring.

    Parameters
    ----------
    bits_per_sample : int
        Bits of the stored samples: 8, 16, 24 or 32.
    channels : int
        Channels per frame.
    carve_bytes : int
        Bytes of each carved stream (the first ``carve_bytes`` of its capacity).
    justify : {"left", "right"}
        Where a sample narrower than its container dtype sits: ``"left"`` (soundfile's int32
        for 24-bit, int16 for 8-bit) or ``"right"`` (the value as is).
    statistics : bool
        Run the parity statistics (on for 16 bits and wider; 8-bit PCM is only carved).
    count_values : bool
        Count the samples per value pair for ``lsb_determinism``. A caller that already keeps
        a histogram of the 16-bit values passes False and hands it to :meth:`report`.
    """

    def __init__(
        self,
        *,
        bits_per_sample: int,
        channels: int,
        carve_bytes: int = 1 << 16,
        justify: Literal["left", "right"] = "left",
        statistics: bool = True,
        count_values: bool = True,
    ) -> None:
        if bits_per_sample not in (8, 16, 24, 32):
            raise ValueError(f"bits_per_sample must be 8, 16, 24 or 32, got {bits_per_sample}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if carve_bytes < 64:
            raise ValueError(f"carve_bytes must be >= 64, got {carve_bytes}")
        if justify not in ("left", "right"):
            raise ValueError(f"justify must be 'left' or 'right', got {justify!r}")
        self.bits_per_sample = bits_per_sample
        self.channels = channels
        self.carve_bytes = carve_bytes
        self.justify = justify
        self._frames = 0
        self._skipped: str | None = None
        # Per-channel 1-bit streams need 8 frames per byte; the rest need fewer.
        self._carve_frames = 8 * carve_bytes
        self._low = np.zeros((self._carve_frames, channels), dtype=np.uint8)
        self._low_frames = 0
        wide = bits_per_sample > 24
        self._stats = (
            _ParityStatistics(
                channels, np.float64 if wide else np.float32, bits_per_sample, count_values
            )
            if statistics and bits_per_sample >= 16
            else None
        )

    def _values(self, block: npt.NDArray[np.generic]) -> _Ints | None:
        """The stored integers right-justified (int16 for 16-bit, else int32), or None for float."""
        if np.issubdtype(block.dtype, np.floating):
            self._skipped = "float samples have no integer low bits"
            return None
        if not np.issubdtype(block.dtype, np.integer):
            raise ValueError(f"blocks must be integer samples, got {block.dtype}")
        arr = block.reshape(-1, 1) if block.ndim == 1 else block
        if arr.ndim != 2 or arr.shape[1] != self.channels:
            raise ValueError(f"blocks must be (frames, {self.channels}), got {block.shape}")
        container_bits = arr.dtype.itemsize * 8
        if container_bits < self.bits_per_sample:
            raise ValueError(f"{arr.dtype} cannot hold {self.bits_per_sample}-bit samples")
        shift = container_bits - self.bits_per_sample if self.justify == "left" else 0
        if arr.dtype == np.int16 and shift == 0:
            # A copy: the statistics keep a tail across calls, and a caller may refill its
            # buffer (soundfile's blocks(out=...) does).
            return np.array(arr, dtype=np.int16, order="C")
        wide: npt.NDArray[np.int64] = np.asarray(arr, dtype=np.int64)
        return np.asarray(wide >> shift, dtype=np.int32)

    def update(self, block: np.ndarray) -> None:
        """Take the next block of integer samples as stored, shape (frames, channels)."""
        values = self._values(block)
        if values is None or values.shape[0] == 0:
            return
        if self._low_frames < self._carve_frames:
            take = min(values.shape[0], self._carve_frames - self._low_frames)
            # The low byte: carving reads the low 1-2 bits, the header test the bits above them.
            self._low[self._low_frames : self._low_frames + take] = (values[:take] & 0xFF).astype(
                np.uint8
            )
            self._low_frames += take
        self._frames += values.shape[0]
        if self._stats is not None:
            self._stats.update(values)

    @property
    def wants_value_counts(self) -> bool:
        """Made with ``count_values=False``: :meth:`report` needs the 16-bit histogram."""
        return self._stats is not None and not self._stats.count_values

    def report(self, value_counts: npt.NDArray[np.integer] | None = None) -> StegoReport:
        """Carve the buffered low bits, finish the statistics and judge.

        ``value_counts``: a histogram of the whole file's 16-bit values (65536 bins, uint16
        order), for an analyzer made with ``count_values=False``.
        """
        # The same keys for every file (zeros where nothing was measured), for the learned model.
        features = dict.fromkeys(FEATURE_NAMES, 0.0)
        features["frames"] = float(self._frames)
        if self._skipped is not None or self._frames == 0:
            return StegoReport([], 0.0, features)
        features["analysed"] = 1.0
        findings, carve_features = _carve(
            self._low[: self._low_frames], self._frames, self.channels, self.carve_bytes
        )
        features.update(carve_features)
        estimated = 0.0
        if self._stats is not None:
            stats = _parity_estimates(self._stats.finish())
            features.update(stats)
            features["statistics"] = 1.0
            subblocks = max(self._stats.subblocks, 1)
            features["quiet_share"] = self._stats.quiet_subblocks / subblocks
            features["residual_rms"] = math.sqrt(self._stats.residual_power / (subblocks * _SUB))
            pairs = self._stats.pair_parity if value_counts is None else value_counts
            determinism = lsb_determinism(pairs)
            features["lsb_determinism"] = determinism
            if stats["prefix_z"] >= _Z_ESTIMATE:
                estimated = min(max(stats["prefix_fraction"], 0.0), 1.0)
            features["estimated_fraction"] = estimated
            if _statistically_replaced(stats, estimated, determinism):
                findings.append(_statistical_finding(stats, estimated))
        return StegoReport(findings, estimated, features)


def _statistically_replaced(stats: dict[str, float], estimated: float, determinism: float) -> bool:
    """The flag rule; thresholds measured by bench/stego_eval.py (see the module docstring)."""
    if stats["prefix_z"] < _Z_FLAG or estimated < _FRACTION_FLAG:
        return False
    # Replacing a share f of the low bits leaves a determinism of at most about 1 - f. A low bit
    # that follows the level more than that (digital gain near 2x) cannot hold the estimated
    # payload: the parity-residual correlation comes from the gain.
    if estimated > 1.0 - determinism + _DETERMINISM_SLACK:
        return False
    # Evidence from silence is ambiguous with sub-LSB noise at a half-LSB offset unless the
    # parity is fully random (rate ~1), as it is where every low bit was replaced: the rate
    # needed rises with the share of the evidence that comes from sub-LSB passages.
    needed = _RATE_FLAG + (_SUBLSB_RATE - _RATE_FLAG) * stats["sublsb_share"]
    return stats["prefix_rate"] >= needed


def _statistical_finding(stats: dict[str, float], estimated: float) -> Finding:
    bits = 2 if stats["bit1_rate"] > 0.5 * stats["ws_rate"] and stats["ws_rate"] > 0.1 else 1
    return finding(
        "stego.lsb_statistical",
        f"The low bits of the first {stats['prefix_share']:.0%} of the samples look replaced "
        f"(rate {stats['prefix_rate']:.2f}, z = {stats['prefix_z']:.1f}); about "
        f"{estimated:.0%} of the low bits carry something other than the sound.",
        estimated_fraction=round(estimated, 3),
        prefix_share=round(stats["prefix_share"], 3),
        prefix_rate=round(stats["prefix_rate"], 3),
        z=round(stats["prefix_z"], 1),
        likely_bits=bits,
        sublsb_share=round(stats["sublsb_share"], 3),
    )


def analyse_lsb(
    blocks: Iterable[np.ndarray],
    *,
    bits_per_sample: int,
    channels: int,
    carve_bytes: int = 1 << 16,
    justify: Literal["left", "right"] = "left",
    statistics: bool = True,
) -> StegoReport:
    """Run :class:`LsbAnalyzer` over ``blocks`` (see it for the parameters) and report."""
    analyzer = LsbAnalyzer(
        bits_per_sample=bits_per_sample,
        channels=channels,
        carve_bytes=carve_bytes,
        justify=justify,
        statistics=statistics,
    )
    for block in blocks:
        analyzer.update(block)
    return analyzer.report()
