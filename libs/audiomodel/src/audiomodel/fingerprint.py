"""Audio fingerprints that survive re-encoding, resampling, gain, noise, trimming and speed changes.

A track is reduced to *landmarks* (spectral peaks) and the landmarks to 32-bit *hashes* of groups
of four peaks; two recordings of the same audio share many hashes at times related by one straight
line ``t_ref = scale * t_query + offset``. The idea is Panako's (Six & Leman, "Panako: a
scalable acoustic fingerprinting system handling time-scale and pitch modification", ISMIR 2014):
a speed change by a factor ``s`` (a record played fast: time *and* pitch scale together) moves
every log-frequency by the same ``log2(s)`` and multiplies every time interval by ``1/s``, so
differences of log-frequencies and ratios of time intervals do not change. This module is
written from that idea; no code is borrowed.

Pipeline and why each step survives each transform:

1. **Mono at 8 kHz** (:data:`SAMPLE_RATE`). Downmixing and resampling (soxr) put every input, any
   rate and channel count, on one grid: a 48 kHz copy and a 22.05 kHz mono Ogg give the same
   signal below 4 kHz, which is where music's tonal peaks are and what MP3 at 64 kbps and Vorbis
   q0 keep (both low-pass far above 4 kHz and spend their bits there). It is also what makes the
   fingerprint cheap: 8,000 samples per second to analyse whatever the source rate.
2. **Log-frequency spectrogram** (:data:`BINS_PER_OCTAVE` bands from :data:`FMIN` to
   :data:`FMAX`, a triangular filterbank over a 1,024-point STFT, hop 32 ms). On a log axis a
   speed change is a *shift*, not a stretch, so the shape around each peak is unchanged and the
   peak stays a peak (a linear axis would spread high peaks apart and squeeze low ones together).
   Power in dB: gain is an additive constant, which peak picking ignores.
3. **Peaks** are local maxima over a (time x log-frequency) neighbourhood that stand above the
   frame's mean by :data:`PEAK_OVER_MEAN_DB`. Relative tests only: -9 dB of gain changes no
   decision; white noise at 20 dB SNR fills the valleys but leaves the strong tonal maxima
   (their local SNR is far above 20 dB). The dominant peaks of a neighbourhood are what lossy
   codecs preserve (they drop what is masked *by* those peaks). Each peak's time and frequency
   are refined by a parabola through its neighbours, so quantisation later sees sub-bin values.
4. **Quadruplet hashes.** Each peak (the anchor) is joined with triples of the next few peaks
   in time. The hash packs quantised ``f2 - f1``, ``f3 - f2`` and ``f4 - f3`` (log-frequency
   differences: invariant to the speed change's shift) and ``(t2 - t1) / (t4 - t1)``,
   ``(t3 - t1) / (t4 - t1)`` (ratios of intervals: invariant to its time scale), plus two coarse,
   *nearly* invariant fields that make hashes rarer: the anchor's octave and the octave of
   ``t4 - t1`` (a 3 % change crosses a field's boundary for ~4 % of hashes). Quantisation is
   coarse where the transforms jitter most (1/12 octave for frequency differences, eighths for
   ratios: a peak moved by noise or a codec by a fraction of a band or a frame rarely changes a
   field). Four peaks rather than Panako's three: ~10 more bits per hash, so a 10 s query meets
   ~100x fewer random postings in a large index. Excerpts cut anywhere give the same hashes away
   from their edges (trimming). References keep a small fan-out (:data:`REFERENCE_FAN_OUT`,
   compact index); queries use a wider one (:data:`QUERY_FAN_OUT`), so a reference hash whose
   middle peaks the query lost to noise is still formed from the query's surviving peaks.
5. **Matching** (:func:`align`): every hash the query shares with a reference votes for a line
   ``t_ref = a * t_query + b`` for each time scale ``a`` in a grid around 1 (up to
   :data:`MAX_SPEED_CHANGE`); the best-supported (reference, scale, offset) wins. Each query
   *anchor* votes once per cell (its several hashes are not independent evidence), and the
   agreeing anchors must span :data:`MIN_MATCHED_S`: a repeated chord piling up at one instant is
   not a match. Random collisions scatter over offsets; a real match piles up in one cell. A
   coarse pass over offsets at scale 1 first drops hits that cannot reach :data:`MIN_ALIGNED`,
   which is most of them in a large index. Long queries vote per window (:data:`WINDOW_S`), so
   the scale grid need only be as fine as one window requires.

Measured (``bench/fingerprint.py``, held-out music against a 1,000 h index): see
``bench/README.md`` and ``libs/index/README.md``.

The decode pass owns the samples: :class:`Fingerprinter` takes the same ``(frames, channels)``
blocks the validator decodes (int16 or float, any rate) and keeps bounded state (the resampler,
a few seconds of spectrogram, and the peaks: ~12 per second), so a track is fingerprinted
without a second decode. :func:`landmarks` is the one-call form for an array in memory.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import scipy.fft
import scipy.ndimage
import scipy.sparse

__all__ = [
    "FRAME_RATE",
    "QUERY_FAN_OUT",
    "REFERENCE_FAN_OUT",
    "Alignment",
    "FingerprintError",
    "Fingerprinter",
    "Hashes",
    "Landmarks",
    "align",
    "hashes",
    "landmarks",
    "read_landmarks",
]

SAMPLE_RATE = 8000
N_FFT = 1024
HOP = 256
FRAME_RATE = SAMPLE_RATE / HOP  # 31.25 frames per second: one time unit of hashes and matches
FMIN = 130.0
FMAX = 3700.0
BINS_PER_OCTAVE = 36
# Peak neighbourhood: +-PEAK_HALF_T frames (+-160 ms) by +-PEAK_HALF_F bands (+-1/6 octave).
PEAK_HALF_T = 5
PEAK_HALF_F = 6
PEAK_OVER_MEAN_DB = 6.0
SILENCE_DB = -75.0  # band power (dB re a full-scale sine) under which nothing is a peak
# Frames of spectrogram analysed per peak-picking pass (plus context on both sides).
CHUNK_FRAMES = 1024
READ_BLOCK_FRAMES = 65536  # what the validator decodes at a time

REFERENCE_FAN_OUT = 4
QUERY_FAN_OUT = 7
MIN_SPAN = 2  # frames between anchor and third peak (64 ms) ...
MAX_SPAN = 63  # ... up to ~2 s
DF_STEP = 3.0  # bands per quantisation step of a frequency difference (1/12 octave)
DF_LEVELS = 20  # steps each side of zero: differences up to 60 bands (1.7 octaves)
RATIO_LEVELS = 8

MAX_SPEED_CHANGE = 0.06  # scales 0.94-1.06 are searched
SCALE_STEP = 0.0075
WINDOW_S = 15.0
OFFSET_BIN = 4  # frames (128 ms) per offset cell; cells are also counted shifted by half
MIN_ALIGNED = 6  # query anchors in one cell (summed over windows) for a match
MIN_SCORE = 0.04
MIN_MATCHED_S = 1.0  # the agreeing anchors must span at least this much of the query

_EPS = 1e-10


class FingerprintError(ValueError):
    """Bad parameters for fingerprinting (not bad audio: silence just gives no landmarks)."""


FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Landmarks:
    """Spectral peaks of one recording, sorted by time.

    ``times`` in frames of 1 / :data:`FRAME_RATE` s from the start (float64, sub-frame),
    ``bands`` in log-frequency bands above :data:`FMIN` (float32, sub-band), ``duration_s`` of
    the audio they came from. A recording gives ~10-20 peaks per second; silence gives none.
    """

    times: npt.NDArray[np.float64]
    bands: FloatArray
    duration_s: float

    def __len__(self) -> int:
        return int(self.times.shape[0])


@dataclass(frozen=True)
class Hashes:
    """Triplet hashes (uint32) and their anchors' times (uint32 frames), in landmark order."""

    hashes: npt.NDArray[np.uint32]
    times: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


def _filterbank() -> scipy.sparse.csr_matrix:
    """Triangular filters, one per 1/BINS_PER_OCTAVE octave, over the STFT's linear bins.

    Shape (n_fft // 2 + 1, n_bands). At the low end bands are narrower than an STFT bin and the
    filters interpolate between bins; at the high end each band sums several bins.
    """
    n_bands = int(np.floor(BINS_PER_OCTAVE * np.log2(FMAX / FMIN)))
    centres = FMIN * 2.0 ** (np.arange(-1, n_bands + 1) / BINS_PER_OCTAVE)
    freqs = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    bin_width = SAMPLE_RATE / N_FFT
    weights = np.zeros((freqs.size, n_bands), dtype=np.float32)
    for band in range(n_bands):  # built once at import: 154 bands
        lo, mid, hi = centres[band], centres[band + 1], centres[band + 2]
        # Never narrower than one STFT bin, so low bands still see the nearest bins.
        lo = min(lo, mid - bin_width)
        hi = max(hi, mid + bin_width)
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        weights[:, band] = np.clip(np.minimum(rise, fall), 0.0, None)
    weights /= weights.sum(axis=0, keepdims=True)
    return scipy.sparse.csr_matrix(weights.T)


_FILTERS = _filterbank()
N_BANDS = _FILTERS.shape[0]
_WINDOW = np.hanning(N_FFT).astype(np.float32)
# A full-scale sine's peak power through the window: the 0 dB reference.
_POWER_REF = float((_WINDOW.sum() / 2) ** 2)


def _mono(block: npt.NDArray[np.generic]) -> FloatArray:
    """A block (frames,) or (frames, channels) of int or float samples as mono float32 in [-1, 1]."""
    data = np.asarray(block)
    if data.ndim == 1:
        data = data[:, None]
    elif data.ndim != 2:
        raise FingerprintError(f"samples must be (frames,) or (frames, channels), not {data.shape}")
    scale = 1.0
    if np.issubdtype(data.dtype, np.integer):
        scale = float(np.iinfo(data.dtype).max) + 1.0
    # Channel by channel (a handful): a mean along a short axis 1 is ~5x slower in numpy.
    mono = data[:, 0].astype(np.float32)
    for channel in range(1, data.shape[1]):
        mono += data[:, channel]
    if scale * data.shape[1] != 1.0:
        mono *= np.float32(1.0 / (scale * data.shape[1]))
    return mono


class _Resampler:
    """Streaming conversion to :data:`SAMPLE_RATE` (soxr when installed, else a polyphase filter)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._stream = None
        if rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="LQ")

    def __call__(self, mono: FloatArray, last: bool = False) -> FloatArray:
        if self._stream is None:
            return mono
        out: FloatArray = self._stream.resample_chunk(mono, last=last)
        return out


class Fingerprinter:
    """Landmarks of a track from blocks of decoded samples, in file order.

    ``update`` takes ``(frames, channels)`` or ``(frames,)`` arrays of int16/int32 or float
    samples at ``sample_rate`` (the validator's decode blocks as they are); ``finish`` returns
    the :class:`Landmarks`. Memory is bounded: the resampler's state, under two chunks of
    spectrogram (2 x 1,024 frames x 154 bands of float32, ~1.3 MB) and the peaks.
    """

    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0:
            raise FingerprintError(f"sample rate must be positive, not {sample_rate}")
        self._resample = _Resampler(int(sample_rate))
        self._rate = int(sample_rate)
        self._input_frames = 0
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)  # 8 kHz samples not yet framed
        self._spec: list[FloatArray] = []  # log-power frames not yet decided, with context
        self._spec_start = 0  # global frame index of the first row held in _spec
        self._decided = 0  # frames before this have had their peaks picked
        self._frames = 0  # spectrogram frames computed so far
        self._times: list[npt.NDArray[np.float64]] = []
        self._bands: list[FloatArray] = []
        self._finished = False

    def update(self, block: npt.NDArray[np.generic]) -> None:
        if self._finished:
            raise FingerprintError("update after finish")
        mono = _mono(block)
        self._input_frames += mono.shape[0]
        self._feed(self._resample(mono))

    def finish(self) -> Landmarks:
        if not self._finished:
            self._finished = True
            self._feed(self._resample(np.zeros(0, dtype=np.float32), last=True))
            self._pick(final=True)
        times = np.concatenate(self._times) if self._times else np.zeros(0, dtype=np.float64)
        bands = np.concatenate(self._bands) if self._bands else np.zeros(0, dtype=np.float32)
        return Landmarks(times=times, bands=bands, duration_s=self._input_frames / self._rate)

    def _feed(self, samples: FloatArray) -> None:
        if samples.size:
            self._pending = np.concatenate((self._pending, samples))
        count = 0 if self._pending.size < N_FFT else 1 + (self._pending.size - N_FFT) // HOP
        if count == 0:
            return
        frames = np.lib.stride_tricks.sliding_window_view(self._pending, N_FFT)[::HOP][:count]
        spectrum = scipy.fft.rfft(frames * _WINDOW, axis=1, workers=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        banded = np.asarray(_FILTERS @ power.T).T
        log_power = (10.0 * np.log10(banded + np.float32(_EPS * _POWER_REF))).astype(np.float32)
        log_power -= np.float32(10.0 * np.log10(_POWER_REF))
        self._spec.append(np.ascontiguousarray(log_power))
        self._frames += count
        self._pending = self._pending[count * HOP :]
        if self._frames - self._decided >= CHUNK_FRAMES + PEAK_HALF_T + 1:
            self._pick(final=False)

    def _pick(self, *, final: bool) -> None:
        if not self._spec:
            return
        spec = np.concatenate(self._spec) if len(self._spec) > 1 else self._spec[0]
        end = self._frames if final else self._frames - PEAK_HALF_T - 1
        if end > self._decided:
            lo = self._decided - self._spec_start
            hi = end - self._spec_start
            times, bands = _peaks(spec, lo, hi, at_start=self._spec_start == 0, at_end=final)
            self._times.append(times + self._spec_start)
            self._bands.append(bands)
            self._decided = end
        keep_from = max(self._decided - PEAK_HALF_T - 1, self._spec_start)
        self._spec = [spec[keep_from - self._spec_start :]]
        self._spec_start = keep_from


def _peaks(
    spec: FloatArray, lo: int, hi: int, *, at_start: bool, at_end: bool
) -> tuple[npt.NDArray[np.float64], FloatArray]:
    """Peaks of rows [lo, hi) of a log-power spectrogram (frames, bands), with sub-bin refinement.

    Rows outside [lo, hi) are context; the filter treats the array's edges as -inf, which is
    right only at the true start or end of the signal (``at_start``/``at_end``), the only
    places where [lo, hi) reaches an edge.
    """
    del at_start, at_end  # the caller keeps PEAK_HALF_T rows of context away from the true edges
    local_max = scipy.ndimage.maximum_filter(
        spec, size=(2 * PEAK_HALF_T + 1, 2 * PEAK_HALF_F + 1), mode="constant", cval=-np.inf
    )
    rows = spec[lo:hi]
    floor = rows.mean(axis=1, keepdims=True) + np.float32(PEAK_OVER_MEAN_DB)
    is_peak = (rows == local_max[lo:hi]) & (rows > floor) & (rows > np.float32(SILENCE_DB))
    r, c = np.nonzero(is_peak)
    r = r + lo
    n_rows, n_cols = spec.shape
    centre = spec[r, c]
    # Parabolic refinement along each axis (a neighbour off the array counts as the centre).
    left = spec[r, np.maximum(c - 1, 0)]
    right = spec[r, np.minimum(c + 1, n_cols - 1)]
    before = spec[np.maximum(r - 1, 0), c]
    after = spec[np.minimum(r + 1, n_rows - 1), c]
    df = _vertex(left, centre, right)
    dt = _vertex(before, centre, after)
    times = (r - lo).astype(np.float64) + lo + dt
    bands = (c + df).astype(np.float32)
    order = np.argsort(times, kind="stable")
    return times[order], bands[order]


def _vertex(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, a), (0, b), (1, c)."""
    curvature = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature < 0, 0.5 * (a - c) / curvature, 0.0)
    clipped: FloatArray = np.clip(np.nan_to_num(offset), -0.5, 0.5).astype(np.float32)
    return clipped


def landmarks(y: npt.NDArray[np.generic], *, sr: int) -> Landmarks:
    """Landmarks of samples held in memory: ``y`` (frames,) or (frames, channels), rate ``sr``."""
    fingerprinter = Fingerprinter(sr)
    step = 1 << 18
    for start in range(0, max(len(y), 1), step):
        fingerprinter.update(y[start : start + step])
    return fingerprinter.finish()


def read_landmarks(source: str | os.PathLike[str] | BinaryIO) -> Landmarks:
    """Decode a file (soundfile, in blocks, as the validator reads it) and return its landmarks.

    Raises whatever soundfile raises for input it cannot decode (``sf.LibsndfileError``,
    ``RuntimeError``) and ``OSError`` for a file that cannot be opened.
    """
    import soundfile as sf

    with sf.SoundFile(source) as audio:
        fingerprinter = Fingerprinter(audio.samplerate)
        while True:
            block = audio.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            fingerprinter.update(block)
    return fingerprinter.finish()


def hashes(marks: Landmarks, *, fan_out: int = REFERENCE_FAN_OUT) -> Hashes:
    """Quadruplet hashes of landmarks: each peak with every triple of the next ``fan_out`` peaks.

    Bits (high to low): log-frequency differences 1->2, 2->3, 3->4 (6 bits each), time ratios
    (t2 - t1) / (t4 - t1) and (t3 - t1) / (t4 - t1) (4 bits each), the anchor's octave (3) and
    the octave of the span t4 - t1 (3): 32 bits.
    """
    times, bands = marks.times, marks.bands
    n = times.shape[0]
    out_h: list[npt.NDArray[np.uint32]] = []
    out_t: list[npt.NDArray[np.uint32]] = []
    for j, k, m in itertools.combinations(range(1, fan_out + 1), 3):
        if n <= m:
            continue
        anchor = np.arange(n - m)
        t1, t2, t3, t4 = times[anchor], times[anchor + j], times[anchor + k], times[anchor + m]
        f1, f2, f3, f4 = bands[anchor], bands[anchor + j], bands[anchor + k], bands[anchor + m]
        span = t4 - t1
        d12 = np.rint((f2 - f1) / DF_STEP)
        d23 = np.rint((f3 - f2) / DF_STEP)
        d34 = np.rint((f4 - f3) / DF_STEP)
        keep = (
            (span >= MIN_SPAN)
            & (span <= MAX_SPAN)
            & (np.abs(d12) <= DF_LEVELS)
            & (np.abs(d23) <= DF_LEVELS)
            & (np.abs(d34) <= DF_LEVELS)
        )
        if not keep.any():
            continue
        span, t1 = span[keep], t1[keep]
        r2 = np.minimum(((t2[keep] - t1) / span * RATIO_LEVELS).astype(np.int64), RATIO_LEVELS - 1)
        r3 = np.minimum(((t3[keep] - t1) / span * RATIO_LEVELS).astype(np.int64), RATIO_LEVELS - 1)
        octave = np.clip((f1[keep] / BINS_PER_OCTAVE).astype(np.int64), 0, 7)
        span_octave = np.clip(np.log2(span).astype(np.int64), 0, 7)
        value = (
            ((d12[keep].astype(np.int64) + DF_LEVELS) << 26)
            | ((d23[keep].astype(np.int64) + DF_LEVELS) << 20)
            | ((d34[keep].astype(np.int64) + DF_LEVELS) << 14)
            | (r2 << 10)
            | (r3 << 6)
            | (octave << 3)
            | span_octave
        )
        out_h.append(value.astype(np.uint32))
        out_t.append(np.rint(t1).astype(np.uint32))
    if not out_h:
        return Hashes(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))
    return Hashes(np.concatenate(out_h), np.concatenate(out_t))


@dataclass(frozen=True)
class Alignment:
    """One reference's best alignment with a query.

    ``ref`` is the caller's reference number; ``count`` the query anchors (peaks) whose hashes
    agree on one line ``t_ref = scale * t_query + offset`` (summed over the query's windows);
    ``score`` that count over the query's anchors, clipped to [0, 1] (1: every anchor a
    reference of the query itself would store is found in place). Times in seconds.
    """

    ref: int
    count: int
    score: float
    scale: float
    query_start_s: float
    ref_start_s: float
    matched_s: float


_SCALES = 1.0 + np.arange(
    -MAX_SPEED_CHANGE, MAX_SPEED_CHANGE + SCALE_STEP / 2, SCALE_STEP, dtype=np.float64
)


COARSE_BIN = 48  # frames (1.5 s): more than a window's drift at the largest speed change


def _coarse_support(
    hit_query: npt.NDArray[np.int64],
    ref_idx: npt.NDArray[np.int64],
    query_times: npt.NDArray[np.uint32],
    hit_ref_times: npt.NDArray[np.uint32],
    min_aligned: int,
) -> npt.NDArray[np.bool_]:
    q_t = query_times[hit_query].astype(np.int64)
    offset = hit_ref_times.astype(np.int64) - q_t + int(query_times.max()) + COARSE_BIN
    window = q_t // int(WINDOW_S * FRAME_RATE)
    stem = (ref_idx.astype(np.int64) * (window.max() + 1) + window) * (
        int(offset.max()) // (COARSE_BIN // 2) + 2
    )
    supported = np.zeros(hit_query.size, dtype=bool)
    for shift in (0, COARSE_BIN // 2):
        key = stem + (offset + shift) // COARSE_BIN
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        supported |= counts[inverse] >= min_aligned
    return supported


def align(
    query_times: npt.NDArray[np.uint32],
    hit_query: npt.NDArray[np.int64],
    hit_ref: npt.NDArray[np.uint32],
    hit_ref_times: npt.NDArray[np.uint32],
    *,
    query_anchors: int,
    limit: int = 10,
    min_aligned: int = MIN_ALIGNED,
    min_score: float = MIN_SCORE,
) -> list[Alignment]:
    """Best alignments, best first, of hash hits between a query and stored references.

    ``hit_query[i]`` indexes ``query_times`` (the query hash that hit), ``hit_ref[i]`` and
    ``hit_ref_times[i]`` are the posting it found. Votes are counted per (window of
    :data:`WINDOW_S`, reference, scale, offset cell); each query *anchor* (peak) votes once
    per cell, however many of its hashes hit. ``query_anchors``: the distinct anchor times of
    the query's reference-density hashes (the score's denominator).
    Fully vectorised; the cost is ~(hits x scales).
    """
    if hit_query.size == 0 or query_anchors <= 0:
        return []
    # Only references with enough hits at all can reach min_aligned in one cell.
    refs, ref_idx, ref_hits = np.unique(hit_ref, return_inverse=True, return_counts=True)
    candidates = ref_hits >= min_aligned
    if not candidates.any():
        return []
    keep = candidates[ref_idx]
    # Coarse pass: a line (any scale in range) stays within one cell of COARSE_BIN frames of
    # offset at scale 1 over a window, in one of two half-shifted grids. Hits in a coarse cell
    # with fewer than min_aligned votes cannot be part of a match; most random hits go here.
    keep &= _coarse_support(hit_query, ref_idx, query_times, hit_ref_times, min_aligned)
    if not keep.any():
        return []
    q_idx = hit_query[keep]
    cand_refs, cand = np.unique(ref_idx[keep], return_inverse=True)
    refs = refs[cand_refs]
    q_t = query_times[q_idx].astype(np.float64)
    r_t = hit_ref_times[keep].astype(np.float64)
    window = (q_t / (WINDOW_S * FRAME_RATE)).astype(np.int64)
    n_windows = int(window.max()) + 1
    n_scales = _SCALES.size
    pad = int(np.ceil(float(query_times.max()) * (1 + MAX_SPEED_CHANGE) / OFFSET_BIN)) + 2
    n_cells = int(np.ceil(float(hit_ref_times.max()) / OFFSET_BIN)) + pad + 2
    # Cell of each (hit, scale): offsets binned twice, half a cell apart (the shift is the
    # lowest digit), so a line near a cell edge is still counted whole in one of them.
    offsets = r_t[:, None] - _SCALES[None, :] * q_t[:, None]
    stem = (cand.astype(np.int64) * n_windows + window)[:, None] * n_scales + np.arange(n_scales)
    # Votes are anchors, not hashes: the quads of one anchor peak are not independent evidence.
    voter = np.repeat(query_times[q_idx].astype(np.int64), n_scales)
    keys = []
    for shift in (0, 1):
        cell = np.floor((offsets + shift * OFFSET_BIN / 2) / OFFSET_BIN).astype(np.int64) + pad
        keys.append(((stem * n_cells + cell) * 2 + shift).ravel())
    key = np.concatenate(keys)
    voters = np.concatenate((voter, voter))
    # One vote per (cell, query hash): a hash repeated in the reference counts once.
    order = np.lexsort((voters, key))
    key_sorted, voter_sorted = key[order], voters[order]
    first = np.ones(key_sorted.size, dtype=bool)
    first[1:] = (key_sorted[1:] != key_sorted[:-1]) | (voter_sorted[1:] != voter_sorted[:-1])
    cells, counts = np.unique(key_sorted[first], return_counts=True)
    # Per (candidate, window): the best cell; per candidate: the sum over its windows.
    cw = cells // 2 // n_cells // n_scales
    order = np.lexsort((-counts, cw))
    cw_sorted = cw[order]
    head = np.ones(cw_sorted.size, dtype=bool)
    head[1:] = cw_sorted[1:] != cw_sorted[:-1]
    top_cells, top_counts = cells[order][head], counts[order][head]
    top_cand = cw_sorted[head] // n_windows
    totals = np.bincount(top_cand, weights=top_counts, minlength=refs.size).astype(np.int64)
    ranked = np.argsort(-totals, kind="stable")
    results: list[Alignment] = []
    for c in ranked[:limit]:  # at most `limit` candidates: not a per-hit loop
        total = int(totals[c])
        score = min(1.0, total / query_anchors)
        if total < min_aligned or score < min_score:
            break  # ranked: the rest have fewer
        mine = np.flatnonzero(top_cand == c)
        strongest = top_cells[mine[np.argmax(top_counts[mine])]]
        shift = strongest % 2
        scale_idx = (strongest // 2 // n_cells) % n_scales
        cell = (strongest // 2) % n_cells - pad
        scale = float(_SCALES[scale_idx])
        offset = (cell + 0.5) * OFFSET_BIN - shift * OFFSET_BIN / 2
        # The candidate's hits on that line (within a cell): their extent is the match.
        on_line = (cand == c) & (np.abs(r_t - scale * q_t - offset) <= OFFSET_BIN)
        q_on = q_t[on_line]
        if q_on.size == 0 or np.ptp(q_on) < MIN_MATCHED_S * FRAME_RATE:
            continue  # a pile-up at one instant (a repeated chord), not a stretch of audio
        q_start = float(q_on.min())
        results.append(
            Alignment(
                ref=int(refs[c]),
                count=total,
                score=round(score, 4),
                scale=round(scale, 4),
                query_start_s=round(q_start / FRAME_RATE, 3),
                ref_start_s=round(max(0.0, scale * q_start + offset) / FRAME_RATE, 3),
                matched_s=round(float(np.ptp(q_on)) / FRAME_RATE, 3),
            )
        )
    return results
