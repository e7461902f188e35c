"""Signal features that separate recorded sound from data dressed up as samples.

Everything is streamed: :class:`SignalAnalyzer` takes blocks of decoded audio in file order and
keeps only fixed-size accumulators (a 65,536-bin histogram of 16-bit sample values, running
sums, one RMS value per 1,024 frames, and a sparse set of spectra), so memory does not grow
with the track beyond ~1 float per 1,024 frames.

What real recordings look like, against data (the reason each feature is here):

- **Sample values.** A recording uses thousands of distinct 16-bit values with a smooth,
  peaked histogram centred on zero (Laplacian-like for music and speech). Bytes read as samples
  use few values (text: ~95 printable code points) or all of them uniformly (compressed or
  random data); their histogram is spiky or flat, often off-centre (8-bit text sits at
  0x20-0x7E, a large DC offset).
- **Bytes of the samples.** Written back as 16-bit little-endian, recorded samples give
  ~35-45% printable bytes; text stored as samples gives ~100%.
- **Smoothness.** Sound is band-limited and mostly low-pass: adjacent samples correlate
  strongly (lag-1 autocorrelation 0.5-0.99 at 22-96 kHz). Bytes of data are close to white:
  correlation near 0, flat spectrum (spectral flatness near 1), little spectral slope.
- **Change over time.** Music and speech have an envelope (attacks, pauses, phrases: several
  dB of RMS variation) and a spectrum that changes (flatness varies, spectral flux); a byte
  stream is stationary.
- **Synthetic patterns.** Constants, ramps and squares have exactly-zero second differences
  almost everywhere, which recorded sound (with its noise floor) never has.
- **Structure of files.** Executables and data files hold values (tables, padding with a
  constant) and are cut into fields by runs of zero bytes: read as samples, a loud level is
  repeated exactly from one sample to the next (``hold_ratio``), and exact zeros sit right
  next to loud samples (``zero_edge_ratio``). Sound reaches a loud level and leaves it
  gradually, and digital silence fades in and out. Past ``ZERO_EDGE_DATA`` zero edges per
  sample the track is held for review whatever the model says, and a file's header (ELF,
  PE, zip, ...) at the start of the samples rejects it.

References: spectral flatness (Wiener entropy) as in Johnston 1988 / librosa's
``spectral_flatness``; lag autocorrelation and crest factor are textbook descriptors; the
byte-level view is this project's own (data hides in the bytes, not in the sound).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, Severity, finding
from audiomodel.note_runs import NoteRuns
from audiomodel.payload import confirm_signature, find_signatures
from audiomodel.sample_kernels import (
    count_values,
    level_pass,
    render_int16,
    sum_channels,
    zero_edges,
)
from audiomodel.windows import ByteMap, WindowAnalyzer, WindowReport

__all__ = ["FEATURE_NAMES", "SignalAnalyzer", "SignalReport", "channel_sum", "to_int16"]

ENVELOPE_FRAME = 1024
FFT_SIZE = 1024
SEGMENT_FRAMES = 4  # FFT frames averaged per spectrum (a Welch estimate) before measuring flatness
SPECTRA_PER_SECOND = 4.0  # sparse spectral sampling: enough for statistics, cheap at any length
# At most this many spectra are kept; past it every other one is dropped and the hop doubles,
# so long tracks stay evenly covered in bounded memory (512 x 1,023 float32 = 2 MiB).
MAX_SPECTRA = 512
SILENCE_DB = -60.0
PURE_TONE_MIN_SPECTRA = 8  # ~2 s: a single note of an instrument sample is not a "steady tone"
EPS = 1e-12
# Bytes at the start of the samples searched for a file header (the 16-bit samples' own bytes,
# or the 8-bit samples' bytes when the stored resolution is 8 bits).
HEAD_BYTES = 1 << 16
# Exact zeros next to a sample at 1/32 of full scale or more, per sample, above which the
# samples are the fields of a file: sound reaches digital silence by fading, so even hard
# edits and drum hits give a few such edges per file (at most ~0.003 per sample on 590 good
# clips of the dev corpus; binaries dressed up as audio give ~0.09).
ZERO_EDGE_DATA = 0.02
ZERO_EDGE_MIN_COUNT = 64
# ... and, at 8 bits, only where the zero code is visited next to loud samples this many times
# as often as the codes either side of it. A 16-bit zero is 1/65536 of the range: loud sound
# lands on it by chance once in ~1000 crossings. An 8-bit zero code is 256 times wider, and a
# loud tone whose slope spans tens of codes a sample lands on it every few dozen crossings:
# 8-bit two-tone (60 Hz + 3/7 kHz, 400 Hz + 5 kHz), 8-48 kHz, -1 to -12 dBFS, TPDF dither, read
# 0.5-6.5% zero edges but visit zero 0.2-2.8 times as often as the codes +-1 (2.8: a periodic
# tone starting at zero phase returns to the zero code once a period); dev-good seed 4
# test_tone-0013 and -0017 1.15. Padding is zeros: the 8-bit bad file the rule catches
# (xor_base64_as_pcm-0025, 8.3%) visits zero 14 times as often as +-1.
ZERO_CODE_EXCESS_8BIT = 4.0
# Signs of bytes that do not depend on the level's shape (see SignalAnalyzer.data_signs).
SIGN_MIN_RMS = 1024  # LSB (-30 dBFS RMS): bytes written as samples span the code range
# Total-variation distance from uniform of the low byte (16-bit) or nibble (8-bit): sound
# gives <= 0.09, and sweeps re-quantised through coarser converter chains up to 0.32, on the
# train renditions of seed 1; bytes of binaries and XORed base64 give 0.44-0.77 (8-bit:
# 0.13-0.45 against 0).
LOW_BYTE_SKEW = {16: 0.4, 8: 0.1}
# ... measured on 16-bit values used by this many samples in effect (exp of the values'
# entropy) or more: own sine tones with a period of 4-48 samples (8-48 kHz, 16/24-bit, dithered
# or faded) read 3-13, the blind-set test tone (1 kHz at 8 kHz, 24-bit) 8; bytes as 16-bit PCM:
# source code 132 (its indentation's space pairs), licence prose 280, XORed prose 278, a binary
# 1,170.
LOW_BYTE_MIN_EFFECTIVE = 32.0
WHITE_CORR = 0.1  # |lag-1|, |lag-2| correlation under which neighbours predict nothing
WHITE_FLATNESS = 0.8  # spectral flatness of white samples (random bytes: 0.88)
UNIFORM_KURTOSIS = 2.2  # uniform values 1.8, Gaussian noise 3
# ... and not piled at a ceiling. A signal generator's white noise is uniform values too (sox's
# and Audacity's "white noise" draw them evenly between +-amplitude: kurtosis 1.80), so a white
# test signal is told from bytes by what mastering did to it: a limiter or a clip piles values
# at its ceiling, the density rising towards it, and the kurtosis falls below uniform's 1.8
# (sox's white noise limited +3..+12 dB: 1.66-1.34; clipped +5..+9 dB: 1.64-1.35; two blind good
# renditions limited +8.7/+10.7 dB, rejected for white_uniform: 1.45-1.49). Bytes are uniform
# over the code range with nothing piled anywhere: random, archive, XORed-base64 and base64
# bytes as PCM on the dev corpus read 1.75-2.44.
UNIFORM_KURTOSIS_LOW = 1.7
# ... and spread to both rails, as bytes have no level: uniform 16-bit (or 8-bit) bytes put 5 %
# of their samples beyond 0.95 of full scale (random and archive bytes as PCM on the dev corpus:
# 0.047-0.052) and 1/65536 (1/256) on each rail (<= 0.004). A generator's uniform noise spreads
# to the amplitude it was set to (own sox white noise at -17.7, -4.6 and -1.8 dBFS, rejected at
# 0.99 for white_uniform alone: none beyond it), and a clip piles it on the rails.
UNIFORM_REACH = (0.95, 0.025)  # (share of full scale, least share of the samples beyond it)
UNIFORM_RAIL_MAX = 0.01  # samples on either rail, at most
# Codes of a white track's span left empty beyond what chance leaves (Poisson, exp(-samples per
# code)): a generator's floats quantised once fill every code (own sox/ffmpeg/numpy noise at -1
# to -6 dBFS: within 0.002 of chance); bytes scaled by a gain g > 1 (into a wider span) empty a
# share 1 - 1/g. See SignalAnalyzer._generator_white_noise.
GENERATOR_EMPTY_MARGIN = 0.05
# ... and counts per code dispersed as chance disperses them (variance / mean 1: own generator
# noise 0.99-1.004, random and AES bytes 1.0-1.006 but at the rails); bytes scaled by a gain g
# < 1 put two codes in one every 1 / (1 - g) codes (10 s of random words scaled 0.5-0.8:
# 1.9-4.4; the comb's excess grows with the samples per code, so short files pass it).
GENERATOR_DISPERSION = 1.3
ZERO_EDGE_SIGN = 0.005  # exact zeros next to a loud sample, per sample (good clips: <= 0.003)
DC_SIGN = 0.3  # |mean| / RMS
ONE_SIDED_MIN_S = 1.0  # sound this long that never crosses zero is not a recording
# ... nor a level that rests on one rail for this share of the samples, the other rail nearly
# unused (under RAIL_OTHER_SHARE of it), with a mean of DC_SIGN RMS or more. A converter's
# output is AC-coupled: a clipped master meets both rails within a period of its lowest
# frequency, and even a lopsided waveform clipped on one side keeps a mean near zero (good
# files with a quarter of their samples on one rail: |mean| 0.04-0.08 RMS). A file's zero
# bytes written as samples (offset 8-bit, or top bytes) sit on the negative rail: an ELF held
# 64 samples a byte (families, held_steps-0003: 80 % on the rail, mean 0.9 RMS), binaries as
# PCM (0.10-0.67 of their samples, 0.4-0.8 RMS).
RAIL_REST_SHARE = 0.25
RAIL_OTHER_SHARE = 0.1
# Codes a noise floor spreads over within two codes of zero (TPDF dither alone spans three);
# one is digital silence (noted), two a square of the lowest bit (held; see _findings).
NOISE_FLOOR_CODES = 3
# Magnitudes (16-bit codes) a sound made at 16 bits always passes through and a sound made at
# 8 bits (one code: 256) and widened never uses, even scaled down 6 dB: above a noise-shaped
# dither's reach around zero (a few codes), below half an 8-bit code (see coarse_steps).
COARSE_GAP = (16, 128)
# Lag-1 correlation from which a coarse track is sound, predictable from its neighbours (its
# power below a quarter of the sample rate): speech and music at any rate, noisy clips 0.5 and
# up; zero-padded random bytes written as high bytes 0.0 (see coarse_sound).
COARSE_SOUND_LAG1 = 0.3
LOWEST_PITCH_HZ = 20.0  # the lowest audible pitch: a waveform's period of 50 ms
AUDIBLE_CROSSINGS_PER_S = 2 * LOWEST_PITCH_HZ  # zero crossings of a waveform at 20 Hz
# Share of a spectrum's power in its strongest 4 bins (of 1,023; ``peak_ratio_median``) from
# which a track is tonal: a tone, a sweep, a square or a synthesiser's voice keeps its power
# in a few partials, however it is limited, clipped or coded. White bytes (random, archives)
# are broadband (0.02-0.03 on the dev corpus); bytes can pass it too (text and binaries,
# one-sided, pile power in the lowest bins; a short XOR key makes lines: up to 0.96), so it
# never clears a track alone: those carry a sign of bytes (data_signs) that keeps the score.
TONAL_LINE_SHARE = 0.5
# A track whose samples' values are seen a multiple of N times each (N at least 20 a second: a
# period of 50 ms or less, 20 Hz and up), for this share of the samples, is one short period
# repeated exactly: a digitally generated test signal (see SignalAnalyzer._one_period_repeated).
REPEATED_PERIOD_SHARE = 0.9

FEATURE_NAMES: tuple[str, ...] = (
    "log_distinct",
    "distinct_ratio",
    "hist_entropy",
    "hist_peakiness",
    "printable_byte_ratio",
    "byte_lane_distance",
    "dc_ratio",
    "lag1_corr",
    "lag2_corr",
    "level_usage",
    "ramp_ratio",
    "flatness_mean",
    "flatness_std",
    "spectral_slope",
    "hf_ratio",
    "flux_mean",
    "peak_ratio_median",
    "envelope_db_std",
    "envelope_db_range",
    "crest_db",
    "zcr",
    "silence_ratio",
    "clip_ratio",
    "channel_corr",
    "hold_ratio",
    "zero_edge_ratio",
)

_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
# Histogram bins are indexed by the sample's bit pattern as uint16 (value & 0xFFFF).
_VALUES = np.where(np.arange(65536) < 32768, np.arange(65536), np.arange(65536) - 65536).astype(
    np.int64
)
_SQUARES = (_VALUES * _VALUES).astype(np.float64)
# Each bin's value as a level in [-1, 1), and its square (made once, not per report).
_LEVELS = _VALUES / 32768.0
_LEVELS_SQUARED = _LEVELS * _LEVELS
# Full-scale samples: +32767 and -32768 (and -32767, which symmetric writers use).
_CLIP_BINS = np.array([32767, 32768, 32769])
# For each 16-bit sample value, how many of its two little-endian bytes are printable.
_PRINTABLE_BYTES_PER_VALUE = _PRINTABLE[_VALUES & 0xFF].astype(np.int64) + _PRINTABLE[
    (_VALUES >> 8) & 0xFF
].astype(np.int64)


def _no_lap(stage: str) -> None:
    """No profile: nothing is measured."""


def to_int16(samples: npt.NDArray[np.number]) -> npt.NDArray[np.int16]:
    """Render decoded samples as 16-bit values: floats in [-1, 1] are scaled and rounded,
    wider integers (int32 left-justified, as libsndfile gives 24/32-bit PCM) keep their top 16
    bits, int16 passes through."""
    if samples.dtype == np.int16:
        return samples.astype(np.int16, copy=False)
    if samples.dtype == np.int32:
        return np.right_shift(samples.astype(np.int32, copy=False), 16).astype(np.int16)
    if samples.dtype == np.float32:
        # One compiled pass (render_int16) gives the values of the numpy steps below.
        out = np.empty(samples.shape, dtype=np.int16)
        render_int16(np.ascontiguousarray(samples).reshape(-1), out.reshape(-1))
        return out
    # x 32768, the inverse of libsndfile's int -> float read: 16-bit values stored as float
    # come back bit-exact (their bytes matter: see byte_lane_distance).
    # A float file holding the bytes of something else has NaNs (signalling ones too, which
    # raise "invalid" on any cast) and infinities: no sample value, so they render as silence
    # and full scale rather than as whatever a cast makes.
    # float32 (what the decoder gives) stays float32: x 32768 is exact in it, so rounding
    # gives the same values as in float64 without a widened copy of the block. Values past
    # float32's range become infinities there, and clip to the same full scale.
    # In place on one scaled copy: clipping takes infinities to full scale, and leaves NaNs,
    # which alone are then set to silence (the same values as nan_to_num before the clip).
    wide = np.float32 if samples.dtype == np.float32 else np.float64
    floats: npt.NDArray[np.floating] = samples.astype(wide, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled: npt.NDArray[np.floating] = floats * floats.dtype.type(32768.0)
        np.rint(scaled, out=scaled)
        np.clip(scaled, -32768, 32767, out=scaled)
        nan = np.isnan(scaled)
        if nan.any():
            scaled[nan] = 0.0
        rendered: npt.NDArray[np.int16] = scaled.astype(np.int16)
    return rendered


def channel_sum(ints: npt.NDArray[np.int16]) -> npt.NDArray[np.int32]:
    """The sum of the channels of 16-bit samples (frames, channels), exact in int32: the mono
    level the signal, window and modem measures share (computed once per block)."""
    if ints.dtype == np.int16 and ints.shape[1] <= 64:
        # One compiled pass, no temporaries (at most 64 channels: the sum fits in int32).
        out = np.empty(ints.shape[0], dtype=np.int32)
        sum_channels(ints, out)
        return out
    # Column by column: numpy's sum over a short axis 1 is ten times slower than this.
    summed = ints[:, 0].astype(np.int32)
    for channel in range(1, ints.shape[1]):
        summed += ints[:, channel]
    return summed


class StoredLevels:
    """How many distinct values a source finer than 16 bits stores (24/32-bit PCM, float),
    counted up to :data:`NOISE_FLOOR_CODES`.

    The signal is measured on a 16-bit rendering, and 24/32-bit integers keep only their top
    16 bits (a floor): a noise floor within one 16-bit step of zero, which a 24-bit converter's
    dither or a float mix's tail spreads over many stored values, renders as the two codes -1
    and 0, which is what a square of the lowest bit looks like. Whether a near-silent track is
    two values or a noise floor is a question about the values it stores. Exact and cheap: a
    block with a value strictly between its own extremes holds three; otherwise its (at most
    two) values join a set of at most three. A track of sound settles it in its first block.
    """

    def __init__(self) -> None:
        self._values: set[float] = set()
        self._between = False  # a block held a value strictly between its extremes

    @property
    def distinct(self) -> int:
        """Distinct stored values seen, capped at :data:`NOISE_FLOOR_CODES`."""
        return NOISE_FLOOR_CODES if self._between else min(len(self._values), NOISE_FLOOR_CODES)

    def update(self, stored: npt.NDArray[np.number]) -> None:
        if self.distinct >= NOISE_FLOOR_CODES or stored.size == 0:
            return
        flat = stored.reshape(-1)
        if flat.dtype.kind == "f":
            # NaNs and infinities are not levels (they render as silence and full scale):
            # they cannot make a two-value square read as a noise floor.
            flat = flat[np.isfinite(flat)]
            if flat.size == 0:
                return
        low, high = flat.min(), flat.max()
        if low != high and bool(np.any((flat > low) & (flat < high))):
            self._between = True
            return
        self._values.update((float(low), float(high)))


@dataclass
class SignalReport:
    """Features of one decoded track, and the findings the signal alone supports."""

    features: dict[str, float]
    findings: list[Finding]
    duration_s: float
    frames: int
    sample_rate: int
    channels: int
    envelope_db: npt.NDArray[np.float32] = field(repr=False)
    windows: WindowReport | None = field(default=None, repr=False)
    """Per-window measures (1.5 s windows, hop 0.5 s): see :mod:`audiomodel.windows`."""
    data_signs: tuple[str, ...] = ()
    """Signs that the samples are bytes of data, independent of the level's shape (crest
    factor, silence): see :meth:`SignalAnalyzer.data_signs`. The learned score stands on its
    own only with one of these or when it does not rest on the level's shape alone."""
    square_wave: bool = False
    """The samples are a signal generator's square wave (see :meth:`SignalAnalyzer._square_wave`):
    two values in a steady period, which carry nothing but a frequency and a level."""


class SignalAnalyzer:
    """Accumulates signal features over blocks of decoded audio.

    Parameters
    ----------
    sample_rate : int
        Frames per second.
    channels : int
        Channels per frame.
    bits_per_sample : int, optional
        Resolution the samples were stored with (8, 16, 24, 32); None for lossy or float.
    byte_map : ByteMap, optional
        Where frames sit in the file (uncompressed PCM), so findings about a part of the
        track give its byte range as well as its time range.
    transform_coded : bool
        The samples are a transform codec's decode (MP3, Vorbis, Opus; see
        :class:`~audiomodel.windows.WindowAnalyzer`).
    lap : callable, optional
        Called with a stage name ("signal", "windows") when that stage's work is done, to
        charge the CPU time since the previous call to it (the validator's profile).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        channels: int,
        bits_per_sample: int | None = None,
        byte_map: ByteMap | None = None,
        lap: Callable[[str], None] | None = None,
        transform_coded: bool = False,
        stored_finer: bool = False,
    ) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise ValueError(f"bad stream parameters: {sample_rate} Hz, {channels} channels")
        self.sample_rate = sample_rate
        self.channels = channels
        # Stored resolution (8-bit audio can only use 256 levels); lossy and float sources are
        # measured on their 16-bit rendering.
        self.level_bits = min(bits_per_sample or 16, 16)
        self._hist = np.zeros(65536, dtype=np.intp)
        self._notes = NoteRuns(sample_rate)  # a square synth's notes (audiomodel.note_runs)
        self._used_bins = np.zeros(0, dtype=np.intp)
        self._used_at = -1  # the sample count ``_used_bins`` was found at
        # Where count_values writes the positions of a block's repeats and zeros (reused).
        self._positions = np.zeros((2, 0), dtype=np.intp)
        self._n = 0  # samples (all channels)
        self._frames = 0
        # Sums over the mono level ``S`` (the integer sum of the channels; the mono mix is
        # S / (32768 channels), a scale the correlations do not see). Lagged products are
        # centred with the global mean at the end, so block boundaries do not change the
        # result: per lag, sum(a*b), sum(a), sum(b), pairs.
        self._lag_sums = np.zeros((2, 4))
        self._mono_sum = 0.0
        self._mono_sumsq = 0.0
        self._mono_n = 0
        self._ramp = 0
        self._audible = 0
        self._zero_cross = 0
        self._mid_side = np.zeros(2)  # sum((l+r)^2), sum((l-r)^2) of channels 1, 2 (of 3+)
        self._scale = 1.0 / (32768.0 * channels)  # S -> mono mix in [-1, 1]
        # Sample-to-sample structure, per channel: a level "loud" enough to hold is 16 steps of
        # the stored resolution; a "big" neighbour of an exact zero is 1/32 of full scale.
        step = 1 << (16 - self.level_bits)
        self._hold_level = 16 * step
        self._big_level = max(1024, 16 * step)
        self._held = 0
        self._loud_pairs = 0
        self._zero_edges = 0
        self._near_zero_edges = 0  # loud neighbours of the codes +-1 (8-bit only)
        self._last_frame = np.zeros((0, channels), dtype=np.int16)
        # The last two frames: a zero's edges are judged once the frame after it is seen.
        self._zero_tail = np.zeros((0, channels), dtype=np.int16)
        self._head: list[bytes] = []
        self._head_bytes = 0
        self._envelope: list[npt.NDArray[np.float32]] = []
        self._spectra: list[npt.NDArray[np.float32]] = []
        self._carry = np.zeros(0, dtype=np.float64)  # levels not yet in an envelope frame
        self._prev = np.zeros(0, dtype=np.int32)  # the last 2 levels of the previous block
        seg = FFT_SIZE * SEGMENT_FRAMES
        self._spectrum_hop = max(seg, int(sample_rate / SPECTRA_PER_SECOND))
        self._next_spectrum = 0  # frame index where the next sampled spectrum starts
        self._spec_carry = np.zeros(0, dtype=np.float64)  # levels a segment may still need
        self._window = np.hanning(FFT_SIZE).astype(np.float32)
        self._byte_map = byte_map
        self._lap = lap or _no_lap
        # The stored values of a source finer than its 16-bit rendering (fed by
        # update_stored), for the silence policy's two codes.
        self._stored_levels = StoredLevels() if stored_finer else None
        self._windows = WindowAnalyzer(
            sample_rate=sample_rate,
            channels=channels,
            level_bits=self.level_bits,
            transform_coded=transform_coded,
        )

    @property
    def value_counts(self) -> npt.NDArray[np.intp]:
        """Samples seen per 16-bit value (65536 bins, in uint16 order: 0 ... 32767, -32768 ...
        -1)."""
        return self._hist

    def update_stored(self, stored: npt.NDArray[np.number]) -> None:
        """The stored values of a block (24/32-bit integers or floats) of an analyzer made with
        ``stored_finer``, beside the 16-bit rendering :meth:`update` takes."""
        if self._stored_levels is not None:
            self._stored_levels.update(stored)

    def update(
        self,
        ints: npt.NDArray[np.int16],
        floats: npt.NDArray[np.floating] | None = None,
        *,
        summed: npt.NDArray[np.int32] | None = None,
    ) -> None:
        """Add one block of 16-bit samples, shape (frames, channels); ``floats``, for a float
        file, are the decoded values the 16-bit samples were rendered from; ``summed``, the
        block's :func:`channel_sum` when the caller has it.

        16-bit PCM arrives as stored; anything else is first rendered to 16 bits with
        :func:`to_int16` (the features do not need more resolution, and one integer path keeps
        the per-block cost to a few passes over the block).
        """
        if ints.ndim != 2 or ints.shape[1] != self.channels:
            raise ValueError(f"expected (frames, {self.channels}) samples, got {ints.shape}")
        if ints.shape[0] == 0:
            return
        block_start = self._frames
        # One pass over the values: the histogram, where a sample repeats the one a frame
        # before it, and the exact zeros (for the held levels and zero edges here and in the
        # windows), and how many of the block's values are loud (held levels: see
        # _count_structure).
        flat = ints.reshape(-1)
        if self._positions.shape[1] < flat.size:
            self._positions = np.empty((2, flat.size), dtype=np.intp)
        n_same, n_zeros, held, loud_count = count_values(
            flat,
            self.channels,
            self._hist,
            self._positions[0],
            self._positions[1],
            self._hold_level,
        )
        same = self._positions[0, :n_same].copy()
        zero_at = self._positions[1, :n_zeros].copy()
        self._n += ints.size
        self._frames += ints.shape[0]

        if summed is None:
            summed = channel_sum(ints)
        self._notes.update(summed)
        # The level as floats, written where the windows join it to their carry (an array kept
        # from block to block; every measure that keeps some of it copies that part).
        level = self._windows.level_slot(summed.size)
        passed = None
        energies = None
        if self.channels <= 2:
            # One compiled pass writes the level and finds its lagged sums, crossings, ramps
            # and the energies of the envelope's whole frames after the carry's (every sum is
            # an integer under 2**53 for one or two 16-bit channels: the numbers of the float
            # dot products in _update_pairs and _update_envelope).
            start = self._envelope_start(summed.size)
            rest = summed.size - start
            energies = np.empty(rest // ENVELOPE_FRAME)
            passed = level_pass(summed, 2 * self.channels, level, start, energies)
        else:
            np.copyto(level, summed)
        # The block's sum of squares, from the envelope's frames when it is exact there: for
        # one or two 16-bit channels every square and partial sum is an integer under 2**53,
        # so any order of summing gives the number the block's own dot product gives.
        envelope_sumsq = self._update_envelope(level, energies)
        sumsq = envelope_sumsq if self.channels <= 2 else float(np.dot(level, level))
        if self.channels > 2:
            # Mid/side energies of the first two channels (for exactly two, the mid is the
            # level and the side follows from the histogram's sum of squares at the end).
            mid = ints[:, 0].astype(np.float64)
            mid += ints[:, 1]
            side = ints[:, 0].astype(np.float64)
            side -= ints[:, 1]
            self._mid_side += (float(np.dot(mid, mid)), float(np.dot(side, side)))
        self._update_pairs(summed, level, sumsq, passed)
        self._update_structure(
            ints, zeros=bool(n_zeros), loud=int(loud_count), same=same, zero_at=zero_at, held=held
        )
        if self._head_bytes < HEAD_BYTES:
            self._keep_head(ints)
        self._update_spectra(level, block_start)
        self._lap("signal")
        self._windows.update(ints, floats, level, held=same, zeros=zero_at)
        self._lap("windows")

    def _update_pairs(
        self,
        summed: npt.NDArray[np.int32],
        level: npt.NDArray[np.float64],
        sumsq: float,
        passed: tuple[np.int64, ...] | None = None,
    ) -> None:
        """Lagged products, zero crossings and ramps of the level: within the block, and the
        few pairs and triples that straddle the previous block's last two samples; ``passed``,
        what :func:`level_pass` found in the block (one or two channels)."""
        n = summed.size
        if passed is not None:
            total_i, lag1, lag2, crossings, audible, ramps = passed
            total = float(total_i)
            products = (float(lag1), float(lag2))
            for lag in (1, 2):
                if n > lag:
                    self._lag_sums[lag - 1] += (
                        products[lag - 1],
                        total - float(level[n - lag :].sum()),
                        total - float(level[:lag].sum()),
                        n - lag,
                    )
            self._zero_cross += int(crossings)
            self._audible += int(audible)
            self._ramp += int(ramps)
        else:
            total = float(level.sum())
            for lag in (1, 2):
                if n > lag:
                    self._lag_sums[lag - 1] += (
                        float(np.dot(level[:-lag], level[lag:])),
                        total - float(level[n - lag :].sum()),
                        total - float(level[:lag].sum()),
                        n - lag,
                    )
            negative = summed < 0
            self._zero_cross += int(np.count_nonzero(negative[1:] != negative[:-1]))
            self._count_ramps(summed)
        self._mono_sum += total
        self._mono_sumsq += sumsq
        self._mono_n += n

        prev = self._prev
        if prev.size:
            edge = np.concatenate([prev, summed[:2]])
            edge_f = edge.astype(np.float64)
            first = prev.size  # index of this block's first sample in ``edge``
            for lag in (1, 2):
                # Pairs (i, i + lag) with i in the previous block and i + lag in this one.
                starts = np.arange(max(first - lag, 0), min(first, edge.size - lag))
                if starts.size:
                    a, b = edge_f[starts], edge_f[starts + lag]
                    self._lag_sums[lag - 1] += (float(a @ b), a.sum(), b.sum(), starts.size)
            self._zero_cross += int((edge[first - 1] < 0) != (edge[first] < 0))
            # Ramp triples centred on the previous block's last sample and this one's first.
            self._count_ramps(edge[max(first - 2, 0) : first + 2])
        self._prev = np.concatenate([prev, summed[-2:]])[-2:]

    def _update_structure(
        self,
        ints: npt.NDArray[np.int16],
        *,
        zeros: bool,
        loud: int | None = None,
        same: npt.NDArray[np.intp] | None = None,
        zero_at: npt.NDArray[np.intp] | None = None,
        held: int | None = None,
    ) -> None:
        """Held loud levels and zero-to-loud edges per channel, across block boundaries;
        ``zeros``: whether the block holds an exact zero (its histogram says); ``loud``, how
        many of the block's values are loud (``|v| >= hold level``); ``same`` and ``zero_at``,
        where the block's flat values repeat the one a frame before and where they are zero,
        and ``held``, how many of those repeats are loud, when the caller has them."""
        self._count_structure(ints, loud, same, held)
        if self._last_frame.shape[0]:
            self._count_structure(np.concatenate([self._last_frame, ints[:1]]))
        self._last_frame = ints[-1:].copy()
        # Zero edges: every frame but the last is judged now (it needs the frame after it).
        tail = self._zero_tail
        if zero_at is not None and (zeros or (tail.shape[0] and (tail[-1] == 0).any())):
            self._zero_edges += self._count_joined_zero_edges(tail, ints, zero_at)
        elif zeros or (tail.shape[0] and (tail[-1] == 0).any()):
            data = np.concatenate([tail, ints]) if tail.shape[0] else ints
            first = max(tail.shape[0] - 1, 0)
            self._zero_edges += self._count_zero_edges(data, first, data.shape[0] - 1)
        if self.level_bits == 8:
            self._near_zero_edges += self._count_near_zero_edges(ints)
        self._zero_tail = np.concatenate([tail, ints[-2:]])[-2:]

    def _count_structure(
        self,
        ints: npt.NDArray[np.int16],
        loud_count: int | None = None,
        same: npt.NDArray[np.intp] | None = None,
        held: int | None = None,
    ) -> None:
        """Held loud levels and loud samples after the first frame of ``ints``; ``loud_count``,
        how many values of ``ints`` are loud, ``same``, where its flat values equal the one a
        frame before, and ``held``, how many of those are loud, when the caller has them."""
        if ints.shape[0] < 2:
            return
        if loud_count is not None:
            # The loud samples counted with the histogram, the first frame's taken out. The held
            # ones among the few samples equal to the one before them in their channel.
            level = self._hold_level
            first = np.abs(ints[0].astype(np.int32)) >= level
            self._loud_pairs += loud_count - int(np.count_nonzero(first))
            if held is not None:
                self._held += held
                return
            ch = ints.shape[1]
            flat = ints.reshape(-1)
            if same is None:
                same = np.flatnonzero(flat[ch:] == flat[:-ch]) + ch
            if same.size:
                self._held += int(np.count_nonzero(np.abs(flat[same].astype(np.int32)) >= level))
            return
        magnitude = np.abs(ints).view(np.uint16)  # |-32768| wraps to 32768 as uint16
        loud = magnitude[1:] >= self._hold_level
        self._held += int(np.count_nonzero((ints[1:] == ints[:-1]) & loud))
        self._loud_pairs += int(np.count_nonzero(loud))

    def _count_joined_zero_edges(
        self,
        tail: npt.NDArray[np.int16],
        ints: npt.NDArray[np.int16],
        zero_at: npt.NDArray[np.intp],
    ) -> int:
        """:meth:`_count_zero_edges` of the tail's last frame and every frame of the block but
        its last (the tail and the block joined), the block's exact zeros at the flat positions
        ``zero_at`` (increasing), without joining the block to the tail: the frames whose
        neighbours straddle the two (the tail's last and the block's first) are judged in a join
        of at most four frames, the block's inner frames in place, their zeros a slice of
        ``zero_at`` (no copy of the block, nor of its zeros' positions)."""
        ch = ints.shape[1]
        n = ints.shape[0]
        held = tail.shape[0]
        first = max(held - 1, 0)
        # Frames judged in the join: from the tail's last to the block's first, each with the
        # frame after it in the join (the block's last frame waits for the next block).
        junction = np.concatenate([tail, ints[:2]]) if held else ints[:2]
        judged = held + 1 if n >= 2 else held
        edges = 0
        if judged > first:
            edges += self._count_zero_edges(junction, first, judged)
        if n >= 3:
            # The block's frames 1 .. n - 2: both neighbours within the block.
            inner = zero_at[np.searchsorted(zero_at, ch) : np.searchsorted(zero_at, (n - 1) * ch)]
            if inner.size:
                edges += int(zero_edges(ints.reshape(-1), inner, ch, self._big_level))
        return edges

    def _count_zero_edges(
        self,
        data: npt.NDArray[np.int16],
        first: int,
        stop: int,
        at: npt.NDArray[np.intp] | None = None,
    ) -> int:
        """Loud neighbours (same channel) of the exact zeros in frames ``first`` to ``stop - 1``
        of ``data`` (their flat positions ``at``, when the caller has them), a zero crossing
        aside.

        A waveform crossing zero exactly on a sample (a test tone whose period divides the
        sample rate: 4 kHz at 48 kHz crosses on every sixth sample) puts the zero between two
        loud samples that mirror each other: a sine is odd about its zero crossing, so its
        neighbours are +-A sin(wT), equal but for rounding (within 1/8 here). A file's zero
        padding has another zero, or a value of either sign and any size, on its other side
        (bytes give such a mirror pair to one zero edge in 10-20).
        """
        # Sample by sample over the interleaved values (compiled: zero_edges): a zero's
        # neighbours in its channel sit one frame (``ch`` values) before and after it.
        ch = data.shape[1]
        flat = data.reshape(-1)
        if at is None:
            at = np.flatnonzero(flat[first * ch : stop * ch] == 0) + first * ch
        if at.size == 0:
            return 0
        return int(zero_edges(flat, at, ch, self._big_level))

    def _count_near_zero_edges(self, ints: npt.NDArray[np.int16]) -> int:
        """Loud neighbours (same channel, within the block) of the codes one step either side
        of zero: what sound that lands on the zero code by chance lands on as often."""
        step = 1 << (16 - self.level_bits)
        flat = ints.reshape(-1)
        ch = ints.shape[1]
        at = np.flatnonzero(np.abs(flat.astype(np.int32)) == step)
        at = at[(at >= ch) & (at < flat.size - ch)]
        if at.size == 0:
            return 0
        big = self._big_level
        before = np.abs(flat[at - ch].astype(np.int32)) >= big
        after = np.abs(flat[at + ch].astype(np.int32)) >= big
        return int(np.count_nonzero(before)) + int(np.count_nonzero(after))

    def _zero_is_padding(self) -> bool:
        """Whether exact zeros sit next to loud samples more often than a waveform passing the
        zero code would put them there (always at 16 bits; see ``ZERO_CODE_EXCESS_8BIT``)."""
        if self.level_bits != 8:
            return True
        near = self._near_zero_edges / 2  # per code, the two codes either side
        return self._zero_edge_count() >= ZERO_CODE_EXCESS_8BIT * near

    def _zero_edge_count(self) -> int:
        """Zero edges so far, the last frame's zeros judged without a frame after them."""
        tail = self._zero_tail
        if tail.shape[0] < 2:  # no frame, or a single one: it has no neighbour
            return self._zero_edges
        loud_before = np.abs(tail[-2].astype(np.int32)) >= self._big_level
        return self._zero_edges + int(np.count_nonzero((tail[-1] == 0) & loud_before))

    def _keep_head(self, ints: npt.NDArray[np.int16]) -> None:
        if self.level_bits == 8:
            # 8-bit samples rendered to 16 bits: the stored byte is the high byte, offset back.
            stored = ((ints.reshape(-1).view(np.uint16) >> 8).astype(np.uint8)) ^ np.uint8(0x80)
            raw = stored[: HEAD_BYTES - self._head_bytes].tobytes()
        else:
            raw = ints.reshape(-1)[: (HEAD_BYTES - self._head_bytes + 1) // 2].tobytes()
        self._head.append(raw)
        self._head_bytes += len(raw)

    def _head_signature(self) -> tuple[int, str, str] | None:
        """A confirmed file header in the first bytes of the samples: (offset, name, kind)."""
        head = b"".join(self._head)[:HEAD_BYTES]
        for offset, name, kind in find_signatures(head, limit=8):
            if confirm_signature(name, head, offset):
                return offset, name, str(kind)
        return None

    def _count_ramps(self, levels: npt.NDArray[np.int32]) -> None:
        """Ramps: the integer levels move by the same non-zero step again and again.

        Recorded sound, even coarsely quantised, almost never does; counters and sawtooths
        always do. Counted on every inner sample of ``levels`` where the signal is not digital
        silence (one or two channels: in :func:`level_pass`, over whole blocks).
        """
        if levels.size < 3:
            return
        step = np.diff(levels)
        inner = levels[1:-1]
        limit = 2 * self.channels
        audible = np.abs(inner) > limit
        self._audible += int(np.count_nonzero(audible))
        same = step[1:] == step[:-1]
        at = np.flatnonzero(same)
        if at.size * 8 < same.size:
            # Sound repeats a step rarely: only those few places are looked at further.
            steady = (step[1:][at] != 0) & audible[at]
        else:
            steady = same & (step[1:] != 0) & audible
        self._ramp += int(np.count_nonzero(steady))

    def _envelope_start(self, n: int) -> int:
        """Where the block's first whole envelope frame after the carry's starts (``n``
        levels: the block's size when the carry and the block fill no frame)."""
        carry = self._carry.size
        return min(ENVELOPE_FRAME - carry, n) if carry else 0

    def _update_envelope(
        self, level: npt.NDArray[np.float64], whole_frames: npt.NDArray[np.float64] | None = None
    ) -> float:
        """RMS per envelope frame; returns the block's sum of squares of ``level``, as the
        frames' sums, the new carry's and the old carry's give it; ``whole_frames``, the sums
        of squares of the frames after :meth:`_envelope_start`, when the caller has them.

        The carry completes one frame with the block's first levels, and the rest of the
        frames are read in place (not from a copy of the carry and the block joined): a
        frame's sum of squares is an integer under 2**53 (1,024 squares of at most 64
        channels' sum), the same however the frames are laid out."""
        carry = self._carry
        carried = float(np.dot(carry, carry)) if carry.size else 0.0
        start = 0
        energies = []
        if carry.size:
            start = self._envelope_start(level.size)
            head = np.concatenate([carry, level[:start]])
            if head.size < ENVELOPE_FRAME:
                self._carry = head
                return float(np.dot(head, head)) - carried
            energies.append(np.einsum("ij,ij->i", head[None, :], head[None, :]))
        rest = level[start:]
        whole = rest.size - rest.size % ENVELOPE_FRAME
        if whole and whole_frames is not None:
            energies.append(whole_frames)
        elif whole:
            frames = rest[:whole].reshape(-1, ENVELOPE_FRAME)
            energies.append(np.einsum("ij,ij->i", frames, frames))
        total = -carried
        if energies:
            energy = np.concatenate(energies) if len(energies) > 1 else energies[0]
            total += float(energy.sum())
            rms = np.sqrt(energy / ENVELOPE_FRAME) * self._scale
            self._envelope.append((20.0 * np.log10(rms + EPS)).astype(np.float32))
        self._carry = rest[whole:].copy()
        return total + float(np.dot(self._carry, self._carry))

    def _update_spectra(self, level: npt.NDArray[np.float64], block_start: int) -> None:
        """Sampled spectra, one Welch estimate (4 windowed FFT frames) per hop, one batched FFT
        per block; a segment may straddle blocks (the carry keeps what it still needs)."""
        seg = FFT_SIZE * SEGMENT_FRAMES
        carry = self._spec_carry
        data_start = block_start - carry.size
        data_end = block_start + level.size
        while self._next_spectrum + seg <= data_end:
            room = MAX_SPECTRA - len(self._spectra)
            last = min(data_end - seg, self._next_spectrum + (room - 1) * self._spectrum_hop)
            starts = np.arange(self._next_spectrum, last + 1, self._spectrum_hop) - data_start
            segments = np.empty((starts.size, seg), dtype=np.float32)
            for row, start in enumerate(starts.tolist()):
                if start >= carry.size:
                    segments[row] = level[start - carry.size : start - carry.size + seg]
                else:
                    segments[row, : carry.size - start] = carry[start:]
                    segments[row, carry.size - start :] = level[: seg - (carry.size - start)]
            segments *= np.float32(self._scale)
            frames = segments.reshape(-1, FFT_SIZE)
            frames *= self._window  # in place: the same products as a windowed copy
            power = np.abs(scipy.fft.rfft(frames, axis=1)) ** 2
            power = power.reshape(starts.size, SEGMENT_FRAMES, -1).mean(axis=1)
            self._spectra.extend(power[:, 1:].astype(np.float32))  # no DC: measured apart
            self._next_spectrum += starts.size * self._spectrum_hop
            if len(self._spectra) >= MAX_SPECTRA:
                self._spectra = self._spectra[::2]
                self._spectrum_hop *= 2
        keep = max(0, data_end - max(self._next_spectrum, data_end - seg))
        if keep == 0:
            self._spec_carry = np.zeros(0)
        elif keep <= level.size:
            self._spec_carry = level[level.size - keep :].copy()
        else:
            self._spec_carry = np.concatenate([carry[carry.size - (keep - level.size) :], level])

    # -- results -----------------------------------------------------------------------------

    def report(self) -> SignalReport:
        """Features and signal findings for everything seen so far."""
        features = self._features()
        envelope = np.concatenate(self._envelope) if self._envelope else np.zeros(0, np.float32)
        self._lap("signal")
        self._windows.coarse_steps = self.coarse_sound(features)
        windows = self._windows.report(self._byte_map)
        self._lap("windows")
        findings = self._findings(features)
        if not any(f.code == "signal.silence" for f in findings):
            findings.extend(windows.findings)
        return SignalReport(
            features=features,
            findings=findings,
            duration_s=self._frames / self.sample_rate,
            frames=self._frames,
            sample_rate=self.sample_rate,
            channels=self.channels,
            envelope_db=envelope,
            windows=windows,
            data_signs=self.data_signs(features),
            square_wave=self._used().size == 2 and self._square_wave(features),
        )

    def _features(self) -> dict[str, float]:
        n = max(self._n, 1)
        hist = self._hist
        nonzero = hist[self._used()]
        distinct = int(nonzero.size)
        p = nonzero / n
        # Level statistics come from the exact histogram of 16-bit values: no per-sample pass.
        # The counts as floats once (what each dot with a float table would convert them to).
        counts = hist.astype(np.float64)
        mean = float(np.dot(counts, _LEVELS)) / n
        rms = math.sqrt(float(np.dot(counts, _LEVELS_SQUARED)) / n)
        peak = self._peak()
        envelope = np.concatenate(self._envelope) if self._envelope else np.zeros(1, np.float32)
        audible = envelope[envelope > SILENCE_DB]
        spectral = self._spectral_features()
        mid_energy, side_energy = (float(e) for e in self._mid_side)
        if self.channels == 2:
            # (l + r)^2 + (l - r)^2 = 2 (l^2 + r^2), summed: the side needs no pass of its own.
            mid_energy = self._mono_sumsq
            side_energy = 2.0 * float(np.dot(counts, _SQUARES)) - mid_energy
        return {
            "log_distinct": math.log10(distinct + 1),
            "distinct_ratio": distinct / min(n, 65536),
            "hist_entropy": float(-(p * np.log2(p)).sum()) / 16.0,
            # Share of samples on the single most common value (constants, padding, text spikes).
            "hist_peakiness": float(nonzero.max() / n) if distinct else 1.0,
            "printable_byte_ratio": float(np.dot(hist, _PRINTABLE_BYTES_PER_VALUE)) / (2.0 * n),
            "byte_lane_distance": self._byte_lane_distance(),
            "dc_ratio": abs(mean) / (rms + EPS),
            "lag1_corr": self._lag_corr(0),
            "lag2_corr": self._lag_corr(1),
            # log2 of the levels used over the levels the stored resolution offers.
            "level_usage": math.log2(distinct + 1) / self.level_bits,
            "ramp_ratio": self._ramp / max(self._audible, 1),
            **spectral,
            "envelope_db_std": float(audible.std()) if audible.size > 1 else 0.0,
            "envelope_db_range": float(np.percentile(audible, 95) - np.percentile(audible, 5))
            if audible.size > 1
            else 0.0,
            "crest_db": 20.0 * math.log10((peak + EPS) / (rms + EPS)),
            "zcr": self._zero_cross / max(self._frames, 1),
            "silence_ratio": float(np.mean(envelope <= SILENCE_DB)),
            "clip_ratio": float(hist[_CLIP_BINS].sum()) / n,
            # 2 sum(lr) / sum(l^2 + r^2): the correlation of the channels when their levels match,
            # from mid/side energies; 1 for mono.
            "channel_corr": float((mid_energy - side_energy) / (mid_energy + side_energy + EPS))
            if self.channels > 1
            else 1.0,
            # Share of loud samples that repeat the previous one exactly, and exact zeros next
            # to a loud sample per sample: the structure of files, not of sound.
            "hold_ratio": self._held / max(self._loud_pairs, 1),
            "zero_edge_ratio": self._zero_edge_count() / n,
        }

    def data_signs(self, f: dict[str, float]) -> tuple[str, ...]:
        """Signs, each with a physical reason, that the samples are bytes of data.

        The learned model leans on the level's shape (crest factor, silence ratio), which
        mastering changes without making sound into data: a limiter or a hard clip brings any
        master to a 0-3 dB crest factor (a square wave has 0 dB, a sine 3 dB, random bytes
        4.8 dB), and a quiet master reads as "mostly silent" against an absolute -60 dBFS.
        These signs do not depend on the level's shape:

        - ``low_byte``: the low byte of loud 16-bit samples is not uniform. The value of any
          signal whose amplitude spans many 256-step bands, taken modulo 256, is uniform (its
          density is smooth at that scale, and a converter's noise floor smooths it further);
          bytes of text, base64, code or tables written as samples put their own, skewed
          byte distribution in that lane (8-bit: the low nibble). Only for loud tracks, and
          not when the track is one short period repeated exactly (a generated test signal):
          its values are one period's few hundred, so no density is smoothed at that scale.
        - ``white_uniform``: white (no correlation with the neighbours at lags 1 and 2, a flat
          spectrum) and spread evenly over its range (kurtosis under 2.2: uniform values give
          1.8). Physical noise that white is a sum of many small causes, Gaussian by the
          central limit theorem (kurtosis 3); random or compressed bytes are uniform. Not
          under 1.7: a generator's uniform white noise through a limiter or a clip piles its
          values at the ceiling (``UNIFORM_KURTOSIS_LOW``), which bytes never do; and spread to
          both rails, not to a level a generator was set to (``UNIFORM_REACH``).
        - ``zero_edges``: exact zeros next to loud samples (the zero-padded fields of files;
          see ``zero_edge_ratio``). Not ``hold_ratio``: a hard clip holds its ceiling exactly,
          and values held as steps have their own finding (``signal.held_steps``). Not in
          8-bit audio (as in :mod:`audiomodel.windows`): zero is one of only 256 levels there,
          so loud, bright sound lands on it beside a loud sample by chance, and an 8-bit
          file's zero bytes decode to the negative rail, so zero padding leaves no zero edges.
        - ``one_sided``: a mean of 0.3 RMS or more: microphones and converters
          are AC-coupled (printable text and base64 are all positive).

        All signs need an RMS level of ``SIGN_MIN_RMS`` or more: bytes as samples span the
        code range, and a quiet master's few loud samples prove nothing.
        """
        signs: list[str] = []
        n = max(self._n, 1)
        rms_lsb = math.sqrt(float(np.dot(self._hist, _SQUARES)) / n)
        if rms_lsb < SIGN_MIN_RMS:
            return ()
        skewed = self._low_byte_skew() >= LOW_BYTE_SKEW.get(self.level_bits, 0.4)
        if skewed and not self._one_period_repeated():
            signs.append("low_byte")
        if (
            max(abs(f["lag1_corr"]), abs(f["lag2_corr"])) < WHITE_CORR
            and f["flatness_mean"] >= WHITE_FLATNESS
            and UNIFORM_KURTOSIS_LOW <= self._kurtosis() < UNIFORM_KURTOSIS
            and self._uniform_to_the_rails()
        ):
            signs.append("white_uniform")
        if (
            f["zero_edge_ratio"] >= ZERO_EDGE_SIGN
            and self.level_bits > 8
            and not self.coarse_sound(f)
        ):
            signs.append("zero_edges")
        if f["dc_ratio"] >= DC_SIGN:
            signs.append("one_sided")
        return tuple(signs)

    def _uniform_to_the_rails(self) -> bool:
        """Values that reach full scale as uniform bytes do (``UNIFORM_REACH``) without piling
        on a rail (``UNIFORM_RAIL_MAX``): not a generator's noise set to a level, or clipped."""
        n = max(self._n, 1)
        edge, least = UNIFORM_REACH
        beyond = float(self._hist[np.abs(_VALUES) >= edge * 32768].sum()) / n
        _, rail, other = self._rail_rest()
        return beyond >= least and max(rail, other) <= UNIFORM_RAIL_MAX

    def _rail_rest(self) -> tuple[str, float, float]:
        """(the busier rail, its share of the samples, the other rail's share). The rails of
        the stored resolution: -32768 (and -32767) and the top code (32767 at 16 bits)."""
        n = max(self._n, 1)
        top = (1 << 15) - (1 << (16 - self.level_bits))
        low = float(self._hist[0x8000] + self._hist[0x8001]) / n
        high = float(self._hist[top]) / n
        return ("negative", low, high) if low >= high else ("positive", high, low)

    def _one_period_repeated(self) -> bool:
        """True when the track is one period of 50 ms or less repeated exactly, from the
        histogram alone: nearly every sample (``REPEATED_PERIOD_SHARE``) has a value seen a
        multiple of N times (within one count per multiple, and one for the cut edge), N being
        the most common count among values seen 20 times a second or more. A generated test
        signal (a square, a sawtooth) repeats one period's values N times; bytes of a file
        give each value its own count (a payload looped every 50 ms or less would be a few KB
        repeated hundreds of times, and is judged by the other signs and the model)."""
        counts = self._hist[self._used()]
        seconds = self._frames / self.sample_rate
        frequent = counts[counts >= LOWEST_PITCH_HZ * seconds]
        if frequent.size == 0 or counts.sum() == 0:
            return False
        sizes, times = np.unique(frequent, return_counts=True)
        periods = int(sizes[np.argmax(times)])
        multiple = np.maximum(np.rint(counts / periods), 1)
        fits = np.abs(counts - multiple * periods) <= multiple + 1
        return bool(counts[fits].sum() >= REPEATED_PERIOD_SHARE * counts.sum())

    def _square_wave(self, f: dict[str, float]) -> bool:
        """True when the samples are a periodic square wave, the test signal of every signal
        generator: two values swinging symmetrically about zero (``v`` and ``-v``, or ``-v - 1``
        in two's complement) beyond the lowest codes, each held for a share of the track, with
        over half of the power in the strongest few bins of the spectrum (a square's
        fundamental carries 8/pi^2 = 81% of it).

        Not a square wave: a constant (one value); bytes 0x00/0xFF in runs (0 and -1, or 255
        and -256 with 0 and -1); a short byte pattern (values that are not each other's
        negatives); bits sent as the polarity of +-v (a run length per bit: a broadband
        spectrum, no line carries half the power)."""
        used = self._used()
        if used.size != 2:
            return False
        low, high = sorted(int(v) for v in _VALUES[used])
        step = 1 << (16 - self.level_bits)
        counts = self._hist[used]
        balanced = bool(counts.min() >= 0.1 * counts.sum())
        periodic = f["peak_ratio_median"] >= TONAL_LINE_SHARE
        return high > 2 * step and low + high in (0, -1) and balanced and periodic

    def _triangle_wave(self, f: dict[str, float]) -> bool:
        """True when evenly spread values are a waveform oscillating at an audible rate: a
        triangle (or a band-limited sawtooth) spends equal time at every level by its shape,
        and its neighbours predict each other (lag-1 or lag-2 correlation past
        ``WHITE_CORR``); it crosses zero twice per cycle, 40 times a second or more at 20 Hz
        and up. A ramp sweeps the range once (one crossing); uniform random bytes are white."""
        smooth = max(abs(f["lag1_corr"]), abs(f["lag2_corr"])) >= WHITE_CORR
        seconds = self._frames / self.sample_rate
        return smooth and self._zero_cross >= AUDIBLE_CROSSINGS_PER_S * seconds

    def _generator_white_noise(self, f: dict[str, float]) -> bool:
        """True when evenly spread, white values are a noise generator's output at a level it
        was set to, not bytes. A generator (sox ``synth whitenoise``, ffmpeg ``anoisesrc``,
        numpy's uniform draws) makes floats between +-amplitude and quantises them once: every
        code of its span is used, as often as chance allows, and the span ends where the
        amplitude was set. Bytes have no level: as 8, 16 or 24-bit PCM they reach past 0.95 of
        full scale (``UNIFORM_REACH``), clipped or not, and bytes scaled into a narrower
        span land on a lattice that leaves codes empty (a gain of 0.8 empties every fifth).
        A generator at full scale has bytes' numbers and stays held."""
        white = (
            max(abs(f["lag1_corr"]), abs(f["lag2_corr"])) < WHITE_CORR
            and f["flatness_mean"] >= WHITE_FLATNESS
        )
        edge, least = UNIFORM_REACH
        reach = float(self._hist[np.abs(_VALUES) >= edge * 32768].sum()) / max(self._n, 1)
        if not white or self.level_bits < 16 or reach >= least:
            # Set to full scale, or bytes clipped by an effect (sox reverb on random bytes:
            # 1.2 % on each rail, 5.7 % beyond 0.95): bytes' own reach.
            return False
        used = self._used() ^ 0x8000  # value order, offset by 32768
        first, last = int(used.min()), int(used.max())
        span = last + 1 - first
        # Codes left empty by chance alone (Poisson), plus a margin.
        empty = 1.0 - used.size / span
        if empty > math.exp(-self._n / span) + GENERATOR_EMPTY_MARGIN:
            return False
        # Counts per code as even as chance makes them (Poisson: variance = mean) in the middle
        # of the span (a dither's tails taper at its ends); a gain under 1 merges two codes
        # into one every 1 / (1 - g) codes, a comb of double counts. Channels written as
        # copies count each sample once per channel.
        counts = np.roll(self._hist, 32768)[first : last + 1].astype(np.float64)
        edge = span // 10
        middle = counts[edge : span - edge]
        copies = self.channels if f["channel_corr"] > 0.999 else 1
        if middle.size < 256 or middle.mean() <= 0:
            return False
        return bool(middle.var() / middle.mean() <= GENERATOR_DISPERSION * copies)

    def _kurtosis(self) -> float:
        """Kurtosis (m4 / m2^2) of the sample values, from the histogram: 3 for Gaussian
        noise, 1.8 for uniform values, 1.5 for a sine."""
        n = max(self._n, 1)
        mean = float(np.dot(self._hist, _VALUES)) / n
        centred = _VALUES - mean
        squares = centred * centred
        m2 = float(np.dot(self._hist, squares)) / n
        m4 = float(np.dot(self._hist, squares * squares)) / n
        return m4 / (m2 * m2) if m2 > 0 else 0.0

    def _low_byte_skew(self) -> float:
        """Total-variation distance from uniform of the stored values' low half (the low byte
        of 16-bit samples, the low nibble of 8-bit ones), over the samples within 3/4 of the
        peak (a limiter or a constant-amplitude tone piles values at its ceiling, within one
        band); 0 when fewer than 256 values (64 for 8-bit) are in use (a square or a
        few-valued signal decides its low byte by itself)."""
        half = self.level_bits // 2
        shift = 16 - self.level_bits
        ceiling = 0.75 * self._peak() * 32768
        used = self._used()  # the bins with samples, in the same (uint16) order
        values = _VALUES[used]
        keep = np.abs(values) <= ceiling
        values = values[keep] >> shift
        counts = self._hist[used[keep]]
        if values.size < max(64, 1 << half) or counts.sum() == 0:
            return 0.0
        if self.level_bits == 16:
            # A tone whose period is a few samples (1 kHz at 8 kHz: 8) puts nearly all its
            # samples on one value per phase, blurred by a dither or a fade into a few hundred
            # values used a few times: the low byte of so few values is decided by where they
            # fall, not smoothed. Judged by the effective number of values (the exponential of
            # their entropy), which bytes of a file keep high (see LOW_BYTE_MIN_EFFECTIVE).
            share_of = counts / float(counts.sum())
            effective = math.exp(-float(np.dot(share_of, np.log(share_of))))
            if effective < LOW_BYTE_MIN_EFFECTIVE:
                return 0.0
        residue = np.bincount(values & ((1 << half) - 1), weights=counts, minlength=1 << half)
        share = residue.astype(np.float64) / float(residue.sum())
        return float(0.5 * np.abs(share - 1.0 / (1 << half)).sum())

    def _byte_lane_distance(self) -> float:
        """Total-variation distance between the low-byte and high-byte distributions.

        A file's bytes packed two to a 16-bit sample put the same kind of byte in both lanes, so
        the two distributions nearly coincide (distance ~0). In recorded 16-bit sound the low
        byte is close to uniform while the high byte clusters near 0x00 and 0xFF (distance
        0.5-1). 8-bit audio rendered to 16 bits has a zero low byte (distance ~1).
        """
        grid = self._hist.reshape(256, 256)  # [high byte, low byte] (bins are uint16 patterns)
        total = grid.sum()
        if total == 0:
            return 0.0
        high = grid.sum(axis=1) / total
        low = grid.sum(axis=0) / total
        return float(0.5 * np.abs(high - low).sum())

    def _flat_histogram(self) -> bool:
        """True when the values cover a quarter of full scale or more with near-equal counts.

        Recorded sound has a peaked (Laplacian- or arcsine-like) value distribution; a ramp, a
        counter or uniform random bytes fill their range evenly. Needs enough samples for the
        counts to be meaningful.
        """
        if self._n < 50_000:
            return False
        used = self._used()
        if used.size < 2:
            return False
        # Value order (-32768 ... 32767) of the bins (uint16 order): the top bit flipped.
        by_order = used ^ 0x8000
        first, last = int(by_order.min()), int(by_order.max())
        if last + 1 - first < 16384:
            return False
        by_value = np.roll(self._hist, 32768)  # bin order -> value order
        span = by_value[first : last + 1]
        # Compare coarse bins (256 values each) so quantisation gaps do not matter.
        coarse = np.add.reduceat(span, np.arange(0, span.size, 256))[:-1]
        if coarse.size < 8 or coarse.mean() <= 0:
            return False
        return bool(coarse.std() / coarse.mean() < 0.25)

    def coarse_sound(self, f: dict[str, float]) -> bool:
        """Whether a track stored at 16 bits is a sound made at 8 bits (or coarser): it moves
        in steps of an 8-bit code or more (no sample in :data:`COARSE_GAP` either side of
        zero, some beyond it) and is predictable from its neighbours
        (:data:`COARSE_SOUND_LAG1`).

        An 8-bit sound (a retro sample, a game's effects, u-law telephone audio) widened to 16
        bits keeps its values on multiples of 256, and a gain, a normalisation or a resample
        with dither after that only blurs each level by a few codes: the band between the
        dither around zero and the first level stays empty, which no sound made at 16 bits
        leaves (every waveform crossing zero passes through it). Such a track's zero edges
        are judged as an 8-bit file's are (a neighbour of zero one or two of its steps away is
        not "loud"). Data written as samples fills the band: a binary's small words, and
        text with zero padding, whose (character, 0) words are 32-126; bytes written into the
        high byte leave it empty, but are white (lag-1 correlation ~0), which sound is not.
        """
        if self.level_bits <= 8 or self._n == 0 or f["lag1_corr"] < COARSE_SOUND_LAG1:
            return False
        low, high = COARSE_GAP
        hist = self._hist  # uint16 order: v >= 0 at v, v < 0 at 65536 + v
        in_gap = int(hist[low:high].sum()) + int(hist[65536 - high + 1 : 65536 - low + 1].sum())
        beyond = int(hist[high:32768].sum()) + int(hist[32768 : 65536 - high + 1].sum())
        return in_gap == 0 and beyond > 0

    def _used(self) -> npt.NDArray[np.intp]:
        """The histogram's non-empty bins (uint16 order), found once for all the samples seen
        (the features and findings of a report each need them)."""
        if self._used_at != self._n:
            self._used_bins = np.flatnonzero(self._hist)
            self._used_at = self._n
        return self._used_bins

    def _peak(self) -> float:
        """Largest absolute sample value seen, in [0, 1]."""
        used = self._used()
        if used.size == 0:
            return 0.0
        # The used bins are in uint16 order: the largest positive value is the last bin under
        # 32768, the most negative the first bin from it (value = bin - 65536).
        split = int(np.searchsorted(used, 32768))
        top = int(used[split - 1]) if split else 0
        bottom = 65536 - int(used[split]) if split < used.size else 0
        return float(max(top, bottom)) / 32768.0

    def _lag_corr(self, index: int) -> float:
        """Autocorrelation of the mono mix at lag ``index + 1``, centred on the global mean."""
        products, first, second, pairs = self._lag_sums[index]
        if pairs < 1:
            return 0.0
        m = self._mono_sum / max(self._mono_n, 1)
        covariance = (products - m * (first + second) + pairs * m * m) / pairs
        variance = self._mono_sumsq / max(self._mono_n, 1) - m * m
        return float(covariance / (variance + EPS))

    def _spectral_features(self) -> dict[str, float]:
        names = (
            "flatness_mean",
            "flatness_std",
            "spectral_slope",
            "hf_ratio",
            "flux_mean",
            "peak_ratio_median",
        )
        power = np.zeros((0, 0))
        if self._spectra:
            # One stack, its rows summed along their contiguous axis (the same pairwise sums
            # as each spectrum's own), the silent ones dropped.
            stacked = np.stack(self._spectra)
            power = stacked[stacked.sum(axis=1) > EPS * stacked.shape[1]].astype(np.float64)
        if not power.shape[0] and self._spec_carry.size >= FFT_SIZE // 4:
            # Shorter than one segment (tiny files are common among data in disguise): measure
            # what there is, zero-padded, rather than report a spectrum of nothing.
            padded = np.zeros(FFT_SIZE * SEGMENT_FRAMES, dtype=np.float32)
            tail = (self._spec_carry[-padded.size :] * self._scale).astype(np.float32)
            padded[: tail.size] = tail
            frames = padded.reshape(SEGMENT_FRAMES, FFT_SIZE)[: max(1, -(-tail.size // FFT_SIZE))]
            padded_power = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
            power = padded_power.mean(axis=0)[None, 1:].astype(np.float64)
        if not power.shape[0]:
            return dict.fromkeys(names, 0.0)
        # power: (segments, bins)
        total = power.sum(axis=1, keepdims=True)
        flatness = np.exp(np.mean(np.log(power + EPS), axis=1)) / (power.mean(axis=1) + EPS)
        bins = power.shape[1]
        freqs = np.arange(1, bins + 1, dtype=np.float64)
        normalised = power / total
        mean_spectrum = normalised.mean(axis=0)
        slope = float(np.polyfit(np.log(freqs), np.log(mean_spectrum + EPS), 1)[0])
        flux = (
            np.abs(np.diff(normalised, axis=0)).sum(axis=1) / 2.0
            if power.shape[0] > 1
            else np.zeros(1)
        )
        # A pure tone concentrates its energy in a handful of bins (window main lobe).
        top = np.partition(normalised, -4, axis=1)[:, -4:].sum(axis=1)
        return {
            "flatness_mean": float(flatness.mean()),
            "flatness_std": float(flatness.std()),
            "spectral_slope": slope,
            "hf_ratio": float(mean_spectrum[bins // 2 :].sum()),
            "flux_mean": float(flux.mean()),
            "peak_ratio_median": float(np.median(top)),
        }

    def _findings(self, f: dict[str, float]) -> list[Finding]:
        out: list[Finding] = []
        if self._frames == 0:
            return out
        header = self._head_signature()
        if header is not None:
            offset, name, kind = header
            out.append(
                finding(
                    "signal.data_as_audio",
                    f"The samples are the bytes of a file ({name}, {kind}): its header sits at "
                    f"byte {offset} of the sample data.",
                    found=name,
                    kind=kind,
                    byte_offset=offset,
                )
            )
        distinct = int(self._used().size)
        peak_lsb = self._peak() * 32768
        # Silence policy, in codes of the stored resolution (an 8-bit code is 256 16-bit LSBs):
        # a track that never leaves the two codes either side of zero has no sound to judge
        # and no room for a file's bytes, which span the code range.
        # - Three or more codes: a noise floor. A converter's dither or a microphone's noise at
        #   that level spreads over the codes around zero (TPDF dither alone spans -1, 0, +1):
        #   a quiet room or a tone at -90 dBFS, not data. Noted, not held.
        # - One code: digital silence (or a DC offset of a code or two). Not sound, but not
        #   data either: one value holds nothing, and silent tracks are published (a pregap, a
        #   silent interlude, a render of a voice too quiet for its width). Noted, not held.
        # - Two codes: a square of the lowest bit (bytes 0x00/0xFF in runs), whose run lengths
        #   can carry bits; no converter's noise stays on two codes. Held for review.
        step = 1 << (16 - self.level_bits)
        if peak_lsb <= 2.0 * step:
            if distinct >= NOISE_FLOOR_CODES:
                out.append(
                    finding(
                        "signal.silence",
                        f"The track is near silence: {distinct} codes within {peak_lsb:.0f} LSB "
                        "of zero, a converter's noise floor (noted, not held).",
                        Severity.INFO,
                        peak_lsb=round(peak_lsb, 2),
                        distinct_values=distinct,
                    )
                )
                return out
            if distinct == 1:
                out.append(
                    finding(
                        "signal.silence",
                        "The track is digital silence throughout: one value, no sound and no "
                        "data in its samples (noted, not held).",
                        Severity.INFO,
                        peak_lsb=round(peak_lsb, 2),
                        distinct_values=distinct,
                    )
                )
                return out
            stored = self._stored_levels.distinct if self._stored_levels is not None else 2
            if stored >= NOISE_FLOOR_CODES:
                # Two codes only in the 16-bit rendering: the stored values (24-bit, float) are
                # a noise floor finer than one 16-bit step (see StoredLevels).
                out.append(
                    finding(
                        "signal.silence",
                        f"The track is near silence: within {peak_lsb:.1f} 16-bit LSB of zero, "
                        "a noise floor finer than 16 bits stored as many values (noted, not held).",
                        Severity.INFO,
                        peak_lsb=round(peak_lsb, 2),
                        distinct_values=distinct,
                        stored_values_at_least=stored,
                    )
                )
                return out
            out.append(
                finding(
                    "signal.silence",
                    "The track never leaves two codes next to zero: a square of the lowest bit, "
                    "whose run lengths can carry bits; no converter's noise stays on two codes.",
                    peak_lsb=round(peak_lsb, 2),
                    distinct_values=distinct,
                )
            )
            return out
        if (
            f["zero_edge_ratio"] >= ZERO_EDGE_DATA
            and self._zero_edge_count() >= ZERO_EDGE_MIN_COUNT
            and not self.coarse_sound(f)
            and header is None
            and self._zero_is_padding()
        ):
            out.append(
                finding(
                    "signal.data_as_audio",
                    f"{f['zero_edge_ratio']:.1%} of the samples are exact zeros next to a loud "
                    "sample: the zero-padded fields of a file, not sound, which fades in and "
                    "out of silence.",
                    Severity.SUSPICIOUS,
                    zero_edge_ratio=round(f["zero_edge_ratio"], 4),
                    zero_edges=self._zero_edge_count(),
                )
            )
        audible_s = self._frames / self.sample_rate * (1.0 - f["silence_ratio"])
        if self._zero_cross == 0 and audible_s >= ONE_SIDED_MIN_S and distinct > 4:
            out.append(
                finding(
                    "signal.one_sided",
                    f"The waveform never crosses zero in {audible_s:.1f} s of sound: recorded "
                    "sound swings both ways (microphones and converters are AC-coupled); text "
                    "and many binaries written as samples are all positive.",
                    audible_s=round(audible_s, 2),
                    dc_ratio=round(f["dc_ratio"], 4),
                )
            )
        elif audible_s >= ONE_SIDED_MIN_S and distinct > 4 and f["dc_ratio"] >= DC_SIGN:
            rail, share, other = self._rail_rest()
            if share >= RAIL_REST_SHARE and other <= RAIL_OTHER_SHARE * share:
                out.append(
                    finding(
                        "signal.one_sided",
                        f"The level rests on the {rail} rail for {share:.0%} of the samples "
                        f"with a mean of {f['dc_ratio']:.2f} RMS: converters are AC-coupled "
                        "and meet both rails when they clip; a file's zero bytes written as "
                        "samples rest on one.",
                        rail_share=round(share, 4),
                        dc_ratio=round(f["dc_ratio"], 4),
                    )
                )
        # A few values within two steps of the stored resolution around zero are its lowest
        # codes (a quiet 8-bit master: its step is -48 dBFS), not a constant, ramp or square.
        lowest_codes = distinct >= 2 and peak_lsb <= 2 * step
        # ... nor a square synth's notes: half periods repeating for ticks (note_runs).
        few_values = (
            distinct <= 4
            and not lowest_codes
            and not self._square_wave(f)
            and not self._notes.notes()
        )
        if few_values or f["ramp_ratio"] > 0.5:
            out.append(
                finding(
                    "signal.synthetic",
                    "The samples follow a synthetic pattern (constant, ramp or square) rather than sound.",
                    distinct_values=distinct,
                    ramp_ratio=round(f["ramp_ratio"], 4),
                )
            )
        elif (
            self._flat_histogram()
            and not self._triangle_wave(f)
            and not self._generator_white_noise(f)
        ):
            out.append(
                finding(
                    "signal.synthetic",
                    "The sample values are spread evenly over a wide range, as a ramp, counter or "
                    "uniform random bytes are; recorded sound clusters around zero.",
                    distinct_values=distinct,
                )
            )
        elif (
            f["peak_ratio_median"] > 0.97
            and f["envelope_db_std"] < 1.0
            and f["flux_mean"] < 0.05
            and len(self._spectra) >= PURE_TONE_MIN_SPECTRA
        ):
            # Nearly all energy in a handful of bins, the same bins at the same level all along:
            # a test tone. Struck or blown instruments (toms, ocarinas) decay or swell.
            out.append(
                finding(
                    "signal.pure_tone",
                    "The track is one steady tone from start to end.",
                    peak_energy_share=round(f["peak_ratio_median"], 4),
                    envelope_db_std=round(f["envelope_db_std"], 3),
                )
            )
        if f["clip_ratio"] > 0.01:
            out.append(
                finding(
                    "signal.clipping",
                    f"{f['clip_ratio']:.1%} of samples sit at full scale.",
                    clip_ratio=round(f["clip_ratio"], 4),
                )
            )
        return out
