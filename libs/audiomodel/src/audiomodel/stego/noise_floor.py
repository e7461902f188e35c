"""The LSB-scale noise floor, calibrated against the clip itself: +-1 embedding in integer PCM.

LSB matching (+-1 where the bit differs) and steghide (it swaps sample values an odd distance
apart, keeping the histogram) leave the parity statistic at zero. What they cannot avoid is
adding noise: a share ``c`` of the samples changed by ``d`` adds ``c E[d^2]`` LSB^2 of *white*
noise, at every frequency and at every moment, whatever the sound does.

Why a floor tells: a clip has a spectral floor, the lowest level it reaches in some band. Where a
band holds no sound (above a codec's or a resampler's low-pass, above a synthesiser's or a
speech model's bandwidth, above the anti-alias filter of audio rendered at a lower rate, in the
gaps of a chiptune's harmonics), what is left there is the rounding to integers: uniform, white,
exactly 1/12 LSB^2 per sample (Widrow's quantisation theorem, for sound many LSB wide). Nothing
a codec or a resampler produces sits *just above* that floor in a band with no sound, and
most real recordings' noise (converter, room, tape) is far above one LSB (some sit just under:
see below), while band-limited audio is at the floor. The embedding lifts the floor of every
band to ``1/12 + c E[d^2]`` (LSB matching of a share ``u`` of the capacity: ``c = u / 2``,
``d = +-1``; steghide: about a quarter of the samples at its full capacity, +-1 at high rates,
up to +-19 at low ones in 16-bit audio, so its added power does not fall with the rate as
fast as its share does).

The calibration is twofold, both from the clip itself:

- *absolute*: the reference floor is the rounding noise, 1/12 LSB^2, which every integer clip
  has whatever its sound; a floor measured in a band with no sound cannot be lower, and one
  above it in *every* stretch of the clip where a band is empty, steadily (a payload does not
  follow the envelope), is what whole-file embedding (steghide's keyed spread) leaves;
- *relative*: embedders that fill from the first sample leave the rest of the clip as it was:
  the clip's other stretches give its own floor, and a leading run whose floor sits above it
  by a constant amount is what a payload does (a fade or a new instrument changes the floor
  with the sound, so it is measured per stretch where a band is empty). The lift must also be
  *white*: +-1 noise lifts every band alike, so across the bands quiet in the rest of the clip
  the head stands above the rest by the same amount in each. Where a sound is loud, what it
  leaks into those bands (a gentle filter's stopband: a synthesised explosion's first seconds)
  lifts the floor too, falling as the sound decays, but as unevenly as the sound's spectrum
  falls off: many times more next to the sound than far from it (``max_lift_spread``).

What reads the same and is innocent: dither (TPDF adds 1/6 LSB^2 of white noise to the
rounding, as much as LSB matching of a third of the capacity) and a real recording whose
converter noise sits steadily just under one LSB (a 24-bit drum sample rendered to 16 bits in
the train split reads 0.67 LSB^2 over the rounding floor, LSB matching of the whole capacity
0.5). So the clip's floor alone is *reported* (an info finding, from ``excess_report``, above
dither) and flagged only far above both (``excess_flag``, with a steady floor: ``max_spread``);
what is *flagged* is the relative test, a leading run of stretches whose cleanest floors stand
``prefix_contrast`` above the rest of the same clip: nothing in a recording adds an
envelope-independent layer of white noise to its first seconds and stops. Thresholds:
``model/stego-floor.json``, written by ``bench/stego_floor_fit.py`` from the train split;
figures in ``libs/audiomodel/docs/steganalysis.md``. Where every band holds sound (a
full-band recording, noise) no floor is read, and +-1 payloads there stay undetectable.

Measure: non-overlapping Hann frames of 1024 samples per channel; a frame whose samples span
at least 8 LSB holds sound (rounding noise is dense there, and digital silence is left to the
other tests); its periodogram (a white noise of variance s^2 reads s^2 in every bin) is averaged
in 32 bands of 16 bins. A stretch of 16 frames keeps, per band, the median over its sound
frames; the stretch's floor is the lowest band median from 9 % to 97 % of Nyquist, divided by
the bias that median-then-minimum has on white noise (:data:`WHITE_BIAS`, measured by the
tests): the floor in LSB^2 of white noise; the stretch's 28 band medians are kept with it (the
lift's whiteness). Memory: a float and 28 float32 per stretch (0.37 s at 44.1 kHz) and channel:
~10 MB for 4 h of 44.1 kHz stereo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, Severity, finding
from audiomodel.stego.kernels import band_levels, frame_medians, windowed_frames

__all__ = [
    "FLOOR_FEATURES",
    "STRETCH_FRAMES",
    "FloorModel",
    "FloorSummary",
    "NoiseFloor",
    "judge_floor",
    "load_floor_model",
    "summarise_floor",
]

_FFT = 1024
_BAND_BINS = 16
_BANDS = _FFT // 2 // _BAND_BINS  # 32 bands over bins 1..512
_FIRST_BAND, _LAST_BAND = 3, 31  # 9 %..97 % of Nyquist: above DC drift, below the band edge
_STRETCH = 16  # frames per stretch
_CHUNK = 64  # frames transformed at a time (see NoiseFloor._frames_of)
STRETCH_FRAMES = _STRETCH * _FFT  # samples per channel in a stretch (0.37 s at 44.1 kHz)
_MIN_SOUND_FRAMES = 6  # sound frames a stretch needs to give a floor
_SOUND_SPAN = 8  # LSB a frame must span to hold sound
FLOOR_MODEL_PATH = "model/stego-floor.json"
ROUNDING = 1.0 / 12.0  # LSB^2: uniform rounding to integers
_REFERENCE_QUANTILE = 0.1
# Median over a stretch of 16 frames, then the minimum over 28 bands, of the band levels of white
# noise of variance 1 (Hann-windowed, 16-bin bands): measured in the tests, 1e5 draws.
WHITE_BIAS = 0.77
# A band is quiet in the rest of the clip when its level there is within this factor of the
# rest's floor (its lowest band): what the head's lift is compared across (see summarise_floor).
_QUIET_FACTOR = 2.0

# Keys of the features this module adds to the analyzer's report.
FLOOR_FEATURES = (
    "floor_stretches",
    "floor_empty_share",
    "floor_reference",
    "floor_level",
    "floor_excess",
    "floor_spread",
    "floor_prefix_share",
    "floor_changed_share",
)


@lru_cache(maxsize=1)
def _window() -> tuple[npt.NDArray[np.float32], float]:
    window = np.hanning(_FFT + 2)[1:-1]  # no zero end points: every sample counts
    return window.astype(np.float32), float((window**2).sum())


def _nanmedian_frames(levels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``np.nanmedian(levels, axis=2)``, the same values to the bit, without its masked-array
    path (a quarter of the steganalysis' time on 30 s clips) or a sort along a strided axis:
    in one compiled pass (:func:`~audiomodel.stego.kernels.frame_medians`)."""
    channels, stretches, _, bands = levels.shape
    medians = np.empty((channels, stretches, bands))
    frame_medians(levels, medians)
    return medians


class NoiseFloor:
    """Streamed per-stretch spectral floors of integer samples, one series per channel."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._pending = np.zeros((channels, 0), dtype=np.float32)  # (channels, frames)
        # Levels of the bands read (_FIRST_BAND.._LAST_BAND) of the frames of the stretch being
        # filled, NaN for frames without sound.
        self._levels = np.zeros((channels, 0, _LAST_BAND - _FIRST_BAND), dtype=np.float64)
        self.floors: list[npt.NDArray[np.float64]] = []  # (stretches, channels) blocks
        # Each stretch's band medians (stretches, channels, bands read): the floor's spectrum.
        self.bands: list[npt.NDArray[np.float32]] = []
        # Work arrays kept from block to block: fresh large arrays cost a page fault per 4 KiB.
        self._buffers: dict[str, npt.NDArray[np.float32]] = {}

    def _scratch(self, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape:
            buffer = self._buffers[name] = np.empty(shape, np.float32)
        return buffer

    def update(self, values: npt.NDArray[np.integer[Any]]) -> None:
        """Take the next block of right-justified integer samples, (frames, channels)."""
        # float32 holds 24-bit integers exactly; wider samples lose low bits no floor reads.
        # Blocks of a multiple of _FFT frames (the validator's) leave nothing pending: their
        # frames are read from the samples as they are; a pending tail is joined as float32.
        if self._pending.shape[1]:
            block = self._scratch("block", values.T.shape)
            np.copyto(block, values.T, casting="unsafe")
            data: npt.NDArray[Any] = np.concatenate([self._pending, block], axis=1)
        else:
            data = values.T
        whole = (data.shape[1] // _FFT) * _FFT
        if whole:
            self._frames_of(data, whole // _FFT)
        rest = data[:, whole:]
        self._pending = rest.astype(np.float32)  # a copy: the caller may refill ``values``

    def _frames_of(self, data: npt.NDArray[Any], count: int) -> None:
        """Band levels of the first ``count`` whole frames of ``data`` (channels, frames)."""
        window, norm = _window()
        read = _LAST_BAND - _FIRST_BAND
        levels64 = np.empty((self.channels, count, read))
        span = np.empty((self.channels, count), dtype=np.float32)
        # _CHUNK frames at a time: the work arrays stay in cache and are the same arrays from
        # chunk to chunk (each frame's transform does not depend on the others in its call).
        chunk = (self.channels, _CHUNK, _FFT)
        for first in range(0, count, _CHUNK):
            taken = min(_CHUNK, count - first)
            # The frame mean is not removed: the Hann window keeps DC out of bins >= 2, and the
            # bands read start far above them. Each frame's span (does it hold sound?) is
            # found in the same compiled pass that windows it.
            windowed = self._scratch("windowed", chunk)[:, :taken]
            windowed_frames(data, first, window, windowed, span[:, first : first + taken])
            # Only the bands read (bins 1 + 16 _FIRST_BAND .. 1 + 16 _LAST_BAND): each band's
            # mean power (over 16: exact, a power of two) over the window's norm, in float32
            # and numpy's pairwise order for its 16 terms, in one compiled pass.
            spectrum = scipy.fft.rfft(windowed, axis=-1)
            band_levels(
                spectrum,
                1 + _FIRST_BAND * _BAND_BINS,
                read,
                np.float32(norm),
                levels64[:, first : first + taken],
            )
        levels64[span < _SOUND_SPAN] = np.nan
        levels = np.concatenate([self._levels, levels64], axis=1) if self._levels.size else levels64
        whole = (levels.shape[1] // _STRETCH) * _STRETCH
        if whole:
            self._close(levels[:, :whole].reshape(self.channels, -1, _STRETCH, levels.shape[-1]))
        self._levels = levels[:, whole:]

    def _close(self, stretches: npt.NDArray[np.float64]) -> None:
        """Floors of whole stretches, (channels, stretches, frames, bands read) of band levels."""
        used = stretches
        sound = np.count_nonzero(np.isfinite(used[..., 0]), axis=-1)  # (channels, stretches)
        medians = _nanmedian_frames(used)  # (channels, stretches, bands)
        floor = medians.min(axis=-1) / WHITE_BIAS
        floor[sound < _MIN_SOUND_FRAMES] = np.nan
        self.floors.append(floor.T)
        # The spectrum the floor is the lowest band of: is a lift white? (see summarise_floor)
        spectrum = np.where(np.isfinite(floor)[..., None], medians, np.nan).astype(np.float32)
        self.bands.append(np.transpose(spectrum, (1, 0, 2)))

    def finish(self) -> npt.NDArray[np.float64]:
        """Floors per stretch and channel, (stretches, channels), in LSB^2 of white noise.

        A last partial stretch counts when it holds enough sound frames."""
        if self._levels.shape[1] >= _MIN_SOUND_FRAMES:
            self._close(self._levels[:, None])
        self._levels = self._levels[:, :0]
        if not self.floors:
            return np.zeros((0, self.channels))
        return np.concatenate(self.floors)

    def spectra(self) -> npt.NDArray[np.float32]:
        """After :meth:`finish`: each floor's band medians, (stretches, channels, bands read),
        in the floor's units before :data:`WHITE_BIAS` (NaN where no floor was read)."""
        if not self.bands:
            return np.zeros((0, self.channels, _LAST_BAND - _FIRST_BAND), dtype=np.float32)
        return np.concatenate(self.bands)


@dataclass(frozen=True)
class FloorModel:
    """The decision's thresholds (``model/stego-floor.json``; see :func:`judge_floor`)."""

    version: str
    empty_below: float  # LSB^2: a stretch floor under this has a band with no sound
    min_empty_stretches: int  # stretches with an empty band needed to judge
    excess_flag: float  # LSB^2 over the rounding floor: flagged, when the floor is steady
    max_spread: float  # the floor's 90th over 10th percentile, at most (steady: white noise)
    excess_report: float  # LSB^2 over the rounding floor: reported as info ...
    report_below: float  # ... up to this: the most +-1 embedding adds (more is the sound's noise)
    prefix_contrast: float  # LSB^2: a prefix's floor above the rest of the clip
    max_lift_spread: float  # a prefix's lift across the quiet bands, 75th over 10th pct, at most


@lru_cache(maxsize=1)
def load_floor_model() -> FloorModel:
    """The shipped thresholds (plain JSON, versioned, written by ``bench/stego_floor_fit.py``)."""
    text = (resources.files("audiomodel") / FLOOR_MODEL_PATH).read_text()
    raw = json.loads(text)
    return FloorModel(
        version=str(raw["version"]),
        empty_below=float(raw["empty_below"]),
        min_empty_stretches=int(raw["min_empty_stretches"]),
        excess_flag=float(raw["excess_flag"]),
        max_spread=float(raw["max_spread"]),
        excess_report=float(raw["excess_report"]),
        report_below=float(raw["report_below"]),
        prefix_contrast=float(raw["prefix_contrast"]),
        max_lift_spread=float(raw["max_lift_spread"]),
    )


@dataclass(frozen=True)
class FloorSummary:
    """What the floors say. LSB^2 throughout; ``excess`` is over the rounding floor 1/12.

    ``level``: the median floor over the stretches with an empty band (channels pooled);
    ``reference``: the 10th percentile of those floors (the clip's own cleanest stretches);
    ``spread``: their 90th percentile over the 10th (white noise: ~1.15);
    ``prefix_share`` and ``prefix_excess``: the leading run of those stretches whose floor
    stands above the rest (what an embedder filling from the first sample leaves), as a share
    of them, and how far its cleanest stretches stand above the rest's median;
    ``prefix_lift_spread``: how unevenly that run stands above the rest across the bands quiet
    in the rest, its lift's 75th percentile over its 10th (white +-1 noise: ~1.2; 1.0 when no
    spectrum was given, see :func:`_lift_spread`).
    """

    stretches: int = 0
    empty: int = 0
    level: float = 0.0
    reference: float = 0.0
    excess: float = 0.0
    spread: float = 0.0
    prefix_share: float = 0.0
    prefix_excess: float = 0.0
    prefix_lift_spread: float = 1.0
    first_empty: int = 0  # stretch index of the first empty-band stretch
    last_empty: int = 0

    def features(self) -> dict[str, float]:
        changed = max(self.excess, self.prefix_excess * self.prefix_share, 0.0)
        return {
            "floor_stretches": float(self.stretches),
            "floor_empty_share": self.empty / self.stretches if self.stretches else 0.0,
            "floor_reference": self.reference,
            "floor_level": self.level,
            "floor_excess": self.excess,
            "floor_spread": self.spread,
            "floor_prefix_share": self.prefix_share,
            "floor_changed_share": changed,
        }


def summarise_floor(
    floors: npt.NDArray[np.float64],
    empty_below: float,
    spectra: npt.NDArray[np.floating[Any]] | None = None,
) -> FloorSummary:
    """Pool the per-stretch, per-channel ``floors`` and, when given, their band ``spectra``
    (:meth:`NoiseFloor.spectra`; see :class:`FloorSummary`)."""
    if floors.size == 0:
        return FloorSummary()
    # A stretch's floor: the lowest over its channels (a payload is in every channel it fills;
    # a channel holding the sound's full band gives no reading).
    readable = np.where(np.isnan(floors), np.inf, floors)
    lowest = np.argmin(readable, axis=1)
    per_stretch = readable[np.arange(readable.shape[0]), lowest]
    empty = np.isfinite(per_stretch) & (per_stretch < empty_below)
    stretches = int(np.count_nonzero(np.isfinite(per_stretch)))
    if not empty.any():
        return FloorSummary(stretches=stretches)
    values = per_stretch[empty]
    index = np.flatnonzero(empty)
    # The clip's own reference: its cleanest stretches (a low quantile, not the minimum, so one
    # lucky stretch does not set it). A payload lifts every stretch; a real noise floor near one
    # LSB moves with the sound and reaches down to the rounding floor somewhere.
    reference = float(np.quantile(values, _REFERENCE_QUANTILE))
    level = float(np.median(values))
    # How far the floor moves between stretches: white noise read over 16 frames scatters by
    # ~5 % (a ratio ~1.15 here); a real noise floor moves with the sound and a fade.
    spread = float(np.quantile(values, 1.0 - _REFERENCE_QUANTILE)) / max(reference, 1e-9)
    # The leading run (embedders fill from the first sample): the change point that splits the
    # empty-band stretches, in order, into a head and a tail of least squared deviation from
    # their means (at least 3 on each side); its contrast is how far the head's cleanest
    # stretches stand above the tail's median (a payload lifts every stretch it reaches).
    prefix_share, prefix_excess, lift_spread = 0.0, 0.0, 1.0
    if values.size >= 6:
        ends = np.arange(3, values.size - 2)
        total, squares = np.cumsum(values), np.cumsum(values**2)
        head_sse = squares[ends - 1] - total[ends - 1] ** 2 / ends
        rest = values.size - ends
        tail_sum = total[-1] - total[ends - 1]
        tail_sse = (squares[-1] - squares[ends - 1]) - tail_sum**2 / rest
        end = int(ends[np.argmin(head_sse + tail_sse)])
        contrast = float(np.quantile(values[:end], _REFERENCE_QUANTILE)) - float(
            np.median(values[end:])
        )
        if contrast > 0:
            prefix_share, prefix_excess = end / values.size, contrast
            if spectra is not None:
                lift_spread = _lift_spread(spectra[index, lowest[index]], end)
    return FloorSummary(
        stretches=stretches,
        empty=int(values.size),
        level=level,
        reference=reference,
        excess=reference - ROUNDING,
        spread=spread,
        prefix_share=prefix_share,
        prefix_excess=prefix_excess,
        prefix_lift_spread=lift_spread,
        first_empty=int(index[0]),
        last_empty=int(index[-1]),
    )


def _lift_spread(spectra: npt.NDArray[np.floating[Any]], end: int) -> float:
    """How unevenly the first ``end`` stretches of ``spectra`` (stretches, bands; the empty-band
    stretches, in order) stand above the rest, across the bands quiet in the rest.

    A payload's +-1 noise is white: it lifts every band alike, so over the bands where the rest
    of the clip is quiet (within :data:`_QUIET_FACTOR` of its lowest band: the rounding, or the
    sound's own quiet stopband) the head's median stands above the rest's by the same amount in
    each. What a loud opening leaks into those bands (a filter's stopband, a decaying noise
    effect's first seconds, whose floor falls with its envelope) follows the sound's spectrum:
    it lifts the bands next to the sound many times more than the far ones. The spread is the
    lifts' 75th percentile over their 10th (not the 90th: the cover's own sound may differ
    between the head and the rest in a band or two at the edge of the quiet ones). The quiet
    bands are at least the rest's two lowest (a codec's low-pass may leave one band empty near
    Nyquist); infinite when fewer than two bands were read (nothing to tell a white lift by).
    """
    with np.errstate(all="ignore"):
        head = np.nanmedian(spectra[:end], axis=0)
        rest = np.nanmedian(spectra[end:], axis=0)
    quiet = np.isfinite(head) & np.isfinite(rest) & (rest <= _QUIET_FACTOR * np.nanmin(rest))
    if np.count_nonzero(quiet) < 2:  # a lift is white or not across two bands at least
        quiet[np.argsort(np.where(np.isfinite(head), rest, np.nan))[:2]] = True
        quiet &= np.isfinite(head) & np.isfinite(rest)
    lift = head[quiet] - rest[quiet]
    if lift.size < 2:
        return float("inf")
    low = float(np.quantile(lift, _REFERENCE_QUANTILE))
    high = float(np.quantile(lift, 0.75))
    return high / low if low > 0 else float("inf")


def judge_floor(
    summary: FloorSummary,
    model: FloorModel,
    *,
    samples: int,
    bits_per_sample: int,
    stretch_frames: int,
) -> Finding | None:
    """``stego.lsb_noise_excess``: white LSB-scale noise above what the clip's own floor allows.

    Flagged (suspicious) when the clip's floor, measured where a band holds no sound, stands
    ``excess_flag`` above the rounding floor, steadily, or a leading stretch stands
    ``prefix_contrast`` above the rest; reported (info) from ``excess_report`` up to
    ``report_below`` (LSB matching of the whole capacity adds 0.5 LSB^2: a floor higher above
    the rounding is the recording's own noise, and says nothing). The evidence estimates the payload
    from the excess power (``c`` changed samples of +-1: ``c`` LSB^2).
    """
    if summary.empty < model.min_empty_stretches:
        return None
    whole = summary.excess
    steady = summary.spread <= model.max_spread
    if not (whole >= model.excess_flag and steady) and whole > model.report_below:
        # Above what +-1 embedding can add to the rounding floor: the recording's own noise.
        whole = 0.0
    # A payload's +-1 noise is white: it lifts every band quiet in the rest of the clip alike.
    # A loud opening's leak into those bands (a filter's stopband, a decaying noise effect's
    # first seconds: its floor falls with its envelope) lifts them as unevenly as the sound's
    # spectrum falls off: a head whose lift is not white is the sound (see _lift_spread).
    white = summary.prefix_lift_spread <= model.max_lift_spread
    prefix = (
        summary.prefix_excess if summary.prefix_excess >= model.prefix_contrast and white else 0.0
    )
    if whole < model.excess_report and prefix == 0.0:
        return None
    flagged = (whole >= model.excess_flag and steady) or prefix > 0.0
    if prefix > 0.0 and (whole < model.excess_flag or prefix * summary.prefix_share > whole):
        changed, share, where = prefix, summary.prefix_share, "the first"
    else:
        changed, share, where = max(whole, 0.0), 1.0, "all"
    changed = min(changed, 1.0)
    # +-1 matching changes half the samples it uses; steghide ~a quarter at its full capacity.
    matching_fraction = min(1.0, 2.0 * changed) * share
    payload_bytes = matching_fraction * samples / 8.0
    steghide_fraction = min(1.0, changed / 0.24) * share
    start = summary.first_empty * stretch_frames
    end = (summary.last_empty + 1) * stretch_frames
    severity_word = "looks carried" if flagged else "may be carried"
    return finding(
        "stego.lsb_noise_excess",
        f"Where a band of the clip holds no sound, its noise floor is {summary.level:.3f} LSB^2 "
        f"against the {ROUNDING:.3f} that rounding to {bits_per_sample}-bit integers leaves "
        f"({'in ' + where + f' {share:.0%} of the clip' if share < 1 else 'throughout'}): "
        f"white +-1 noise on about {changed:.1%} of the samples. A payload {severity_word} in "
        f"the low bits (about {payload_bytes:,.0f} bytes: {matching_fraction:.0%} of a 1-bit "
        f"capacity as LSB matching, or {steghide_fraction:.0%} of steghide's).",
        None if flagged else Severity.INFO,
        floor_lsb2=round(summary.level, 4),
        reference_lsb2=round(summary.reference, 4),
        excess_lsb2=round(whole, 4),
        prefix_share=round(summary.prefix_share, 3),
        prefix_excess_lsb2=round(summary.prefix_excess, 4),
        changed_share=round(changed, 4),
        estimated_fraction=round(matching_fraction, 3),
        estimated_payload_bytes=round(payload_bytes),
        steghide_capacity_fraction=round(steghide_fraction, 3),
        start_frame=start,
        end_frame=end,
    )
