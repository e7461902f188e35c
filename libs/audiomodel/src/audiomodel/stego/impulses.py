"""Lone displaced samples: histogram-preserving embedding (steghide) read as discrete impulses.

steghide keeps the first-order histogram by *exchanging* values: a sample whose low bit must
change takes the value of another sample that needs the opposite change, within a radius.
Measured on a train-split clip at 25 % of its capacity: 6.4 % of the samples changed, 92 %
of them by +-1 and the rest by an odd +-3..+-19 (the exchange partner's distance), at
positions spread over the whole file, independently of the sound and of each other. The +-1
changes are white noise under the sound's own (:mod:`~audiomodel.stego.noise_floor`); the
large ones are the tell: one sample moved by 5-19 LSB while both its neighbours stay put.

Why nothing innocent does that where the sound is predictable: after a converter's
anti-alias filter, a codec's synthesis filter or a resampler, every event is band-limited and
spans many samples; dither and rounding are continuous and at most about one LSB; a click or
a crossover kink moves a run of samples together. A lone sample displaced by ``d`` leaves a
precise trace in the two-sided interpolation residual of :mod:`~audiomodel.stego.statistics`
(which predicts each sample from its neighbours, never from itself): ``d`` at the sample and
``-a_k d`` at the sample k away, ``a_k`` being the interpolator's own coefficients. The test
fits that template to the residual around every outlier and counts the outliers it explains
to within the local noise and is even about the sample as that trace is (an *impulse*; a
step, an edge or a kink leaves an odd trace), in sub-blocks where the sound is predicted to
within ``_MAX_SIGMA`` LSB (elsewhere a 19 LSB jump hides under the prediction error). A sound
event has the wrong shape (a kink or a zero-crossing glitch of a synthesised wave leaves an
asymmetric residual spread over several samples), so it does not fit.

Calibration against the clip itself: the rate is per *predictable* sub-block, so a loud or
full-band clip is not judged on few blocks (``_MIN_ROWS``); impulses must be many
(``_MIN_EVENTS``) and frequent among those blocks (``_MIN_RATE``) where a recording's odd
glitch is one or two. A clip with fewer predictable blocks is still judged when the impulses
stand in most of them (``_DENSE_SHARE``, at least ``_DENSE_EVENTS``): at low sample rates and in
loud clips the only such blocks are often stretches of digital silence, and steghide, exchanging
a zero with a partner up to 19 values away, leaves there a lone odd sample of 9-19 LSB among
its +-1 changes (train split, three 8 and 22.05 kHz clips: 8/8, 18/18, 9/9 blocks with an
impulse; the cover had none, as the silence did not qualify). A recording's glitch, a
synthesiser's click or a test signal puts impulses in a few of its predictable blocks (good
files: at most 6 of 116, 3 of 39). What stays out of reach: +-1-only embedding (LSB matching; its changes
are under the rounding noise sample by sample), and clips with no predictable passage
(full-band loud audio, low sample rates): no block qualifies.

The payload is *not* estimated from the impulses: their rate does not follow the payload
(train split: clips at 5 % of steghide's capacity show as many impulses per predictable block as
clips at 25-60 %, since a small payload leaves steghide fewer exchange partners near each
sample, so more of its changes are large). Where the clip has a band with no sound, the
changes lift its noise floor by their mean square, ``c E[d^2]`` LSB^2
(:mod:`~audiomodel.stego.noise_floor`); ``|d| >= 1``, so that excess bounds the changed share
``c`` from above, and the finding quotes it as an upper bound on the payload.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["IMPULSE_FEATURES", "ImpulseCounter", "impulse_flagged", "judge_impulses"]

_SUB = 128  # frames per sub-block, as the parity statistic's
_K = 4  # template half-width (samples each side)
_MIN_SIGMA, _MAX_SIGMA = 0.25, 2.0  # LSB: the sub-block's residual without its largest sample
_PEAK = 8  # LSB: the sub-block holds sound (not digital silence)
_OUTLIER_SIGMAS = 6.0
_OUTLIER_LSB = 4.5
_MAX_MISFIT = 3.0  # residual left after the template fit, in units of the local noise power
_MAX_ASYMMETRY = 2.5  # odd part of the residual around the sample, in the same units
_MIN_EVENTS = 12
_MIN_ROWS = 300
_MIN_RATE = 4e-3  # impulses per qualifying sub-block
_DENSE_EVENTS = 8  # with fewer than _MIN_ROWS sub-blocks: impulses needed ...
_DENSE_SHARE = 0.5  # ... in at least this share of them
# A candidate beside a clip is the clip's trace, not an exchange (see _beside_clip): a hard clip
# joins a flat top to a slope, a kink whose interpolation residual is even and sits on the
# corner sample (an impulse the size of the slope there), and a sample cut at the rail is
# displaced from the band-limited wave it belonged to, alone (a sample held at the rail has its
# residual zeroed by StegoStatistics._drop_clipped, so its neighbour carries the clip's trace).
# Dev good sets: a 1 kHz sine at 8 kHz clipped +8.7 dB (24-bit: each candidate 2 LSB from the
# rail), an 8-bit two-tone clipped +5.7 dB (flat tops 2-6 codes under the rail), an explosion
# clipped then lowered to -40 dBFS (16-bit, flat tops at +-333 +- 2 LSB of shaped dither) read
# 29-100 such impulses. steghide's exchanges fall anywhere; in digital silence its lone odd
# sample is the sub-block's peak but has no flat neighbour and no rail.
_CLIP_LSB = 4
# Impulses on a grid are a sequencer's: a drum machine or a synthesiser plays the same sound
# (its samples, its glitches) at each hit, on the tempo's grid, so a naive oscillator's edge
# through a filter or a blip's cut-off leaves its impulse at the same offset in every hit
# (dev renditions: an 808 kit's hats at -27 dBFS, 55 impulses at two offsets of its 16th
# notes; a click track's blips on the beat). steghide's exchanges fall at positions
# independent of each other: three equally spaced impulses are a coincidence (about 3 M / N
# per pair of neighbours, M impulses in N frames). An impulse one of three equally spaced to
# within _GRID_SLACK frames (a grid position truncated to a whole frame, swing on every other
# step), among its _GRID_NEIGHBOURS nearest later impulses, is left out of the count.
_GRID_SLACK = 1
# A candidate whose neighbours' second differences (less the curve's) hold under this share of
# its own is a corner (see _at_a_corner): a displaced sample's hold all of it, a corner's none.
_CORNER_SHARE = 0.5
_CORNER_STRAIGHT_LSB = 3  # |D2| two and three samples either side: the pieces are lines
_GRID_NEIGHBOURS = 16
# A candidate a slope change explains _KINK_BETTER times better than a displaced sample is a
# kink (see _a_kink): a tone whose frequency steps (SSTV's pixels, an FSK modem without phase
# smoothing, a synthesiser's glide quantised per sample) keeps its value and changes its slope
# at the step, between samples; the interpolation residual of a kink is even like a displaced
# sample's but wider (its slopes reach every tap). A sample displaced off a curve has no slope
# change, so the kink fits it no better than the impulse does.
_KINK_OFFSETS = (-0.4, -0.2, 0.0, 0.2, 0.4)  # where between the samples the slope changes
_KINK_BETTER = 2.0
_KINK_BEND = True
_MAX_KEPT = 1 << 16  # impulse frames kept for the grid (steghide at full rate: far fewer)
FULL_CAPACITY_CHANGED = 0.24  # share of samples steghide changes at its full capacity

IMPULSE_FEATURES = ("impulse_rows", "impulse_events", "impulse_rate", "impulse_amplitude")


class ImpulseCounter:
    """Counts lone displaced samples in the interpolation residual, window by window."""

    def __init__(self) -> None:
        self.rows = 0  # qualifying sub-blocks
        self.events = 0  # impulses found in them
        self.amplitude = 0.0  # sum of the impulses' fitted |d|
        self.first_frame = -1  # frame of the first and last impulse (file order)
        self.last_frame = -1
        self._hits: list[int] = []  # their frames, up to _MAX_KEPT (see on_a_grid)

    def update(
        self,
        residual: npt.NDArray[np.floating[Any]],
        coef: npt.NDArray[np.floating[Any]],
        peak: npt.NDArray[np.integer[Any]],
        energy: npt.NDArray[np.floating[Any]],
        start_frame: int,
        *,
        top: npt.NDArray[np.floating[Any]] | None = None,
        samples: npt.NDArray[np.integer[Any]] | None = None,
        full: int | None = None,
    ) -> None:
        """One window: ``residual`` (channels, frames), a whole number of sub-blocks; ``peak``
        the samples' largest |value| per sub-block and ``energy`` the residual's sum of
        squares per sub-block, both (channels, sub-blocks);
        ``coef`` the interpolator's a_1..a_K.. (at least ``_K``); ``start_frame`` the file
        frame of column 0; ``top``, when given, the residual's largest |value| per sub-block
        (what the test would otherwise find itself); ``samples``, when given, the samples the
        residual belongs to (channels, frames), and ``full`` their full scale: candidates beside
        a clip are not counted (see ``_CLIP_LSB``)."""
        channels, frames = residual.shape
        subs = frames // _SUB
        if top is None:
            top = np.abs(residual).reshape(channels, subs, _SUB).max(axis=-1)
        rest = np.maximum(np.asarray(energy, dtype=np.float64) - top.astype(np.float64) ** 2, 0.0)
        sigma = np.sqrt(rest / (_SUB - 1))
        qualifying = (sigma >= _MIN_SIGMA) & (sigma <= _MAX_SIGMA)
        if not qualifying.any():
            return
        qualifying &= peak >= _PEAK
        self.rows += int(np.count_nonzero(qualifying))
        outlier = qualifying & (top >= np.maximum(_OUTLIER_LSB, _OUTLIER_SIGMAS * sigma))
        if not outlier.any():
            return
        channel, sub = np.nonzero(outlier)
        blocks = residual.reshape(channels, subs, _SUB)
        at = sub * _SUB + np.abs(blocks[channel, sub]).argmax(axis=-1)
        inside = (at >= _K) & (at < frames - _K)
        channel, sub, at = channel[inside], sub[inside], at[inside]
        a = np.asarray(coef[:_K], dtype=np.float64)
        template = np.concatenate([-a[::-1], [1.0], -a])
        offsets = np.arange(-_K, _K + 1)
        windows = np.asarray(residual[channel[:, None], at[:, None] + offsets], dtype=np.float64)
        amplitude = windows @ template / (template @ template)
        misfit = ((windows - amplitude[:, None] * template) ** 2).sum(axis=1)
        power = sigma[channel, sub] ** 2
        noise = (2 * _K) * power  # one degree of freedom went to the fit
        # A lone sample's trace is even about it; a step (an edge, a kink) is odd, and with a
        # short interpolator the template alone would take a step of 12 LSB for an impulse.
        odd = ((windows[:, _K + 1 :] - windows[:, _K - 1 :: -1]) ** 2).sum(axis=1)
        fits = (misfit <= _MAX_MISFIT * noise) & (odd <= _MAX_ASYMMETRY * (2 * _K) * power)
        if fits.any():
            fits[fits] = ~_a_kink(windows[fits], misfit[fits], coef)
        if samples is not None and fits.any():
            fits &= ~_beside_clip(
                samples, channel, at, peak[channel, sub], sigma[channel, sub], full
            )
            fits &= ~_at_a_corner(samples, channel, at)
        if not fits.any():
            return
        self.events += int(np.count_nonzero(fits))
        self.amplitude += float(np.abs(amplitude[fits]).sum())
        frames_hit = start_frame + at[fits]
        if len(self._hits) < _MAX_KEPT:
            self._hits.extend(frames_hit.tolist())
        if self.first_frame < 0:
            self.first_frame = int(frames_hit.min())
        self.last_frame = max(self.last_frame, int(frames_hit.max()))

    def on_a_grid(self) -> int:
        """How many impulses recur on a grid beyond chance: each one of three equally spaced
        (to within ``_GRID_SLACK`` frames) among the impulses near it (see
        ``_GRID_NEIGHBOURS``)."""
        if not self._hits:
            return 0
        frames = np.sort(np.array(self._hits, dtype=np.int64))
        n = frames.size
        grid = np.zeros(n, dtype=bool)
        for k in range(1, min(_GRID_NEIGHBOURS, n - 1) + 1):
            first, second = frames[:-k], frames[k:]
            third = 2 * second - first  # where a third impulse would be, one spacing on
            at = np.searchsorted(frames, third - _GRID_SLACK)
            inside = at < n
            found = np.zeros(first.size, dtype=bool)
            found[inside] = frames[at[inside]] <= third[inside] + _GRID_SLACK
            # impulses a frame or two apart (two channels, one event) set no spacing
            found &= second - first > 2 * _GRID_SLACK
            if found.any():
                i = np.flatnonzero(found)
                grid[i] = True
                grid[i + k] = True
                grid[at[i]] = True
        # Beyond chance: impulses at random frames fall in such triples too, each about
        # 1 - exp(-3 K (2 slack + 1) M / span) of the time (measured on random frames: M = 55
        # in 400,000 frames 1.4%, M = 2,000 50%), so steghide's keep their count.
        span = max(int(frames[-1] - frames[0]) + 1, 1)
        chance = 1.0 - np.exp(-3.0 * _GRID_NEIGHBOURS * (2 * _GRID_SLACK + 1) * n / span)
        return max(0, int(np.count_nonzero(grid) - np.ceil(chance * n)))

    def features(self) -> dict[str, float]:
        return {
            "impulse_rows": float(self.rows),
            "impulse_events": float(self.events),
            "impulse_rate": self.events / self.rows if self.rows else 0.0,
            "impulse_amplitude": self.amplitude / self.events if self.events else 0.0,
        }


def _beside_clip(
    samples: npt.NDArray[np.integer[Any]],
    channel: npt.NDArray[np.intp],
    at: npt.NDArray[np.intp],
    peak: npt.NDArray[np.integer[Any]],
    sigma: npt.NDArray[np.floating[Any]],
    full: int | None,
) -> npt.NDArray[np.bool_]:
    """Whether each candidate (``channel``, ``at``) or a neighbour is a clip: part of a flat top
    (two adjacent samples within the tolerance of each other and of the sub-block's ``peak``)
    or at the rail (within it of ``full``). The tolerance is ``_CLIP_LSB`` or 4 times the
    sub-block's noise ``sigma``, whichever is larger: dither scatters a clipped top by that."""
    window = np.abs(np.asarray(samples[channel[:, None], at[:, None] + np.arange(-2, 3)], np.int64))
    tol = np.maximum(_CLIP_LSB, 4.0 * np.asarray(sigma, dtype=np.float64))[:, None]
    level = np.abs(np.asarray(peak, dtype=np.int64))[:, None]  # a wrapped minimum, unwrapped
    high = window >= level - tol
    flat = high[:, :-1] & high[:, 1:] & (np.abs(np.diff(window, axis=1)) <= tol)
    clipped: npt.NDArray[np.bool_] = np.asarray(flat.any(axis=1))
    if full is not None:
        clipped |= (window[:, 1:4] >= full - tol).any(axis=1)
    return clipped


def _at_a_corner(
    samples: npt.NDArray[np.integer[Any]],
    channel: npt.NDArray[np.intp],
    at: npt.NDArray[np.intp],
) -> npt.NDArray[np.bool_]:
    """Whether each candidate is a waveform's corner rather than a displaced sample, by the
    second differences ``D2`` of the samples around it, less the curve's own (their mean two
    and three samples away, where neither leaves a trace).

    A sample displaced by ``d`` off a curve puts ``-2d`` in ``D2`` at itself and ``+d`` at
    each neighbour; a synthesiser's naive waveform (a triangle's peak, an envelope's hard
    attack, a ramp meeting its reset) breaks its slope at one exact sample, a lone ``D2``
    spike with nothing beside it (or, between two samples, split over both with one sign),
    which the interpolation residual reads as a lone impulse too. A candidate whose
    neighbours' ``D2`` hold against its own less than ``_CORNER_SHARE`` of it (a displaced
    sample's hold all of it) is a corner."""
    rows = np.asarray(samples[channel[:, None], at[:, None] + np.arange(-4, 5)], dtype=np.float64)
    second = rows[:, :-2] - 2 * rows[:, 1:-1] + rows[:, 2:]  # D2 at at-3 .. at+3
    curve = (second[:, 0] + second[:, 1] + second[:, 5] + second[:, 6]) / 4
    centre = second[:, 3] - curve
    # what the neighbours hold against the centre (a corner between two samples splits its
    # spike over both, of one sign: nothing against it)
    against = -(second[:, 2] + second[:, 4] - 2 * curve) * np.sign(centre)
    # ... on straight segments: a naive waveform's pieces are lines (their D2 the rounding's
    # and the dither's, a few LSB); a sound's curve bends on both sides
    straight = (np.abs(second[:, [0, 1, 5, 6]]) <= _CORNER_STRAIGHT_LSB).all(axis=1)
    corner: npt.NDArray[np.bool_] = straight & (against < _CORNER_SHARE * np.abs(centre))
    return corner


def _residual_of(
    wave: npt.NDArray[np.float64], a: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The interpolation residual at samples -_K.._K of ``wave`` (rows; samples -_K - T ..
    _K + T, T = ``a.size``)."""
    taps = a.size
    out = wave[:, taps : taps + 2 * _K + 1].copy()
    for k in range(1, taps + 1):
        out -= a[k - 1] * (
            wave[:, taps - k : taps - k + 2 * _K + 1] + wave[:, taps + k : taps + k + 2 * _K + 1]
        )
    return out


def kink_templates(coef: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """The interpolation residual, samples -_K.._K about the candidate, of a tone's frequency
    step at each offset f of ``_KINK_OFFSETS``, shape (offsets, 2, 2 _K + 1): a slope change
    (the wave ``|n - f|``, a line either side, whose own residual is zero since the
    interpolator's weights sum to one) and a curvature change (``(n - f) |n - f|``: where the
    step falls on a crest the slope holds and the bend changes). ``coef``: the interpolator's
    a_1..a_T, all of them (the pieces reach every tap)."""
    a = np.asarray(coef, dtype=np.float64)
    n = np.arange(-_K - a.size, _K + a.size + 1, dtype=np.float64)
    t = n[None, :] - np.asarray(_KINK_OFFSETS)[:, None]  # (offsets, samples)
    slope = _residual_of(np.abs(t), a)
    bend = _residual_of(t * np.abs(t), a)
    return np.stack([slope, bend], axis=1)


def _a_kink(
    windows: npt.NDArray[np.float64],
    misfit: npt.NDArray[np.float64],
    coef: npt.NDArray[np.floating[Any]],
) -> npt.NDArray[np.bool_]:
    """Whether each candidate's residual ``windows`` (candidates, 2 _K + 1) is a frequency
    step's rather than a displaced sample's: the step's two templates (fitted together at their
    best offset) leave under 1 / ``_KINK_BETTER`` of the impulse template's ``misfit``."""
    return kink_misfit(windows, coef) * _KINK_BETTER <= misfit


def kink_misfit(
    windows: npt.NDArray[np.float64], coef: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.float64]:
    """What the best fit of :func:`kink_templates` leaves of each window's energy."""
    templates = kink_templates(coef)[:, : 2 if _KINK_BEND else 1]  # (offsets, pieces, samples)
    gram = np.einsum("opk,oqk->opq", templates, templates)  # (offsets, pieces, pieces)
    proj = np.einsum("opk,ck->cop", templates, windows)  # (candidates, offsets, pieces)
    coeffs = np.linalg.solve(gram[None], proj[..., None])[..., 0]
    explained = (coeffs * proj).sum(axis=-1)  # (candidates, offsets)
    best: npt.NDArray[np.float64] = (windows**2).sum(axis=1) - explained.max(axis=1)
    return best


def impulse_flagged(counter: ImpulseCounter) -> bool:
    """Many lone impulses off any grid (see ``_GRID_SLACK``), frequent among the clip's
    predictable sub-blocks; or, in a clip with few such sub-blocks, impulses in most of them."""
    rows = counter.rows

    def many(events: int) -> bool:
        if rows >= _MIN_ROWS:
            return events >= _MIN_EVENTS and events / rows >= _MIN_RATE
        return events >= _DENSE_EVENTS and events >= _DENSE_SHARE * rows

    # The grid (a sort of every impulse kept) is asked only where the count alone flags.
    return many(counter.events) and many(counter.events - counter.on_a_grid())


def judge_impulses(
    counter: ImpulseCounter, *, changed_share: float, samples: int
) -> Finding | None:
    """``stego.displaced_samples`` when :func:`impulse_flagged`.

    ``changed_share``: the noise floor's excess in LSB^2 (0 when no floor was read), an upper
    bound on the share of samples changed; the payload bound is quoted as a share of steghide's
    capacity (it changes about 0.24 of the samples at full capacity) and in bytes.
    """
    if not impulse_flagged(counter):
        return None
    features = counter.features()
    capacity_share = min(1.0, changed_share / FULL_CAPACITY_CHANGED)
    # steghide's capacity is ~ one bit per 2 samples (its graph vertices are sample pairs) less
    # its header: bytes = share * samples / 16
    payload_bytes = capacity_share * samples / 16.0
    estimate = (
        f"; the noise floor bounds the changes to {changed_share:.1%} of the samples, at most "
        f"{capacity_share:.0%} of steghide's capacity ({payload_bytes:,.0f} bytes)"
        if changed_share > 0
        else "; the payload's size is not measurable here (no band of the clip is empty)"
    )
    return finding(
        "stego.displaced_samples",
        f"{counter.events} samples in the clip's predictable passages stand alone, displaced "
        f"by {features['impulse_amplitude']:.0f} LSB on average from what both neighbours "
        f"predict (one per {1.0 / features['impulse_rate']:.0f} of the {counter.rows} "
        f"predictable blocks of {_SUB} samples; a recording has none): the value exchanges of "
        f"histogram-preserving embedding "
        f"(steghide){estimate}.",
        impulses=counter.events,
        predictable_subblocks=counter.rows,
        impulse_rate=round(features["impulse_rate"], 4),
        mean_displacement_lsb=round(features["impulse_amplitude"], 1),
        changed_share_at_most=round(changed_share, 4),
        steghide_capacity_fraction_at_most=round(capacity_share, 3),
        estimated_payload_bytes_at_most=round(payload_bytes),
        start_frame=counter.first_frame,
        end_frame=counter.last_frame + 1,
    )
