"""Test signals rounded to few bits without dither: low bits that a curve, not a payload, fixes.

A generator (sox ``synth``, a signal generator, a resampler fed one) computes a smooth curve and
the converter rounds it to the stored step. Without dither every stored value, low bits included,
is then ``round(curve(t))``: a deterministic function of a few parameters. Readers that judge low
bits or whiteness read that function as structure (the parity statistic finds the same rounding
pattern in every period of a tone and calls it replaced bits; the ramp count sees a sine's slope
held for dozens of samples near each zero crossing; a sweep is white over half a second). This
reader keeps the head of the stored values (the first :data:`HEAD_FRAMES` frames) and, only when
one of those findings was made, asks whether a few-parameter model explains the samples there:

- **exact repetition** (for ``stego.lsb_statistical``): a tone whose period is a whole number of
  samples (or a resampled one whose period is a rational number of samples) repeats sample for
  sample after rounding: ``x[n + P] == x[n]`` on every sample. A payload written over a share
  ``f`` of the low bits changes about ``f / 2`` of the samples and breaks the repetition on about
  ``f`` of the pairs; the exemption asks for :data:`REPEAT_SHARE` (so 2 % replaced is still
  judged).
- **a few sinusoids within rounding** (for the ramp of ``signal.synthetic``): up to
  :data:`SINES` sinusoids fitted by least squares (frequencies refined) leave, after undithered
  rounding, a residual within half a step on all but a few samples (a fitted model is a little
  off near the half-step boundaries: 0.5-0.7 % on a rounded 8-bit sine) with the RMS of uniform
  rounding (0.29 step). A counter or sawtooth (the ramps the rule is for) is no few sinusoids;
  LSB replacement at 10 % leaves 6-7 % of the samples beyond half a step.
- **locally a sinusoid** (for ``signal.data_segment``): a sweep covers a wide band in half a
  second, so a predictor fitted to the window gains nothing, but in every short frame it is one
  sinusoid: an order-4 predictor fitted per :data:`FRAME` samples cancels it to the converter's
  dither. The bytes of a file are not predictable at any scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

from audiomodel.findings import Finding

__all__ = ["HEAD_FRAMES", "RoundedCurves"]

HEAD_FRAMES = 1 << 18  # frames of stored values kept (about 6 s at 44.1 kHz; 33 s at 8 kHz)
# Exact repetition: pairs one period apart that are equal (a replaced share f breaks ~f of them).
REPEAT_SHARE = 0.99
MIN_PERIODS = 4  # the judged span holds at least this many periods
MIN_DISTINCT = 16  # ... and sound, not a few held levels (digital silence repeats at every lag)
PERIOD_CANDIDATES = 8  # autocorrelation peaks tried as the period
# A few sinusoids within rounding.
SINES = 4
SINE_WINDOW = 4096
SINE_WINDOWS = 3
MIN_CYCLES = 4  # periods of the strongest sinusoid in a window
BEYOND_HALF_STEP = 0.02  # share of samples more than half a step from the model
ROUNDING_RMS = 0.35  # steps: uniform rounding leaves 0.29
# Locally a sinusoid.
FRAME = 256
ORDER = 4
LOCAL_GAIN_DB = 10.0  # an order-4 predictor cancels a sinusoid to the dither (25-40 dB at 8 bits)
UNPREDICTED_SHARE = 0.05  # frames of the span the predictor may fail (a sweep's ends, a click)


class RoundedCurves:
    """Keeps the head of integer stored values; :meth:`explain` drops the findings it explains."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._head = np.zeros((HEAD_FRAMES, channels), dtype=np.int32)
        self._kept = 0
        self._frames = 0

    def update(self, block: npt.NDArray[Any]) -> None:
        arr = block.reshape(-1, 1) if block.ndim == 1 else block
        self._frames += arr.shape[0]
        if self._kept >= HEAD_FRAMES or block.dtype.kind not in "iu":
            return
        take = min(arr.shape[0], HEAD_FRAMES - self._kept)
        self._head[self._kept : self._kept + take] = arr[:take]
        self._kept += take

    def report(self) -> list[Finding]:
        return []

    def _steps(self) -> npt.NDArray[np.float64] | None:
        """The head in units of the stored step (left-justified containers divided out)."""
        head = self._head[: self._kept]
        ored = int(np.bitwise_or.reduce(head, axis=None)) if head.size else 0
        if ored == 0:
            return None
        step = ored & -ored
        return np.asarray(head // step, dtype=np.float64)

    def explain(self, findings: list[Finding]) -> list[Finding]:
        """``findings`` without those a rounded few-parameter curve explains (see the module)."""
        codes = {f.code for f in findings}
        if not codes & {"stego.lsb_statistical", "signal.synthetic", "signal.data_segment"}:
            return findings
        values = self._steps()
        if values is None:
            return findings
        kept = []
        for f in findings:
            if f.code == "stego.lsb_statistical":
                # Only a prefix the head holds whole: a payload past it would go unseen.
                prefix = int(float(f.evidence.get("prefix_share", 1.0)) * self._frames)
                if prefix <= self._kept and repeats_exactly(values[:prefix]):
                    continue
            elif f.code == "signal.synthetic" and float(f.evidence.get("ramp_ratio", 0)) > 0.5:
                if int(f.evidence.get("distinct_values", 0)) > 4 and few_sinusoids(values):
                    continue
            elif f.code == "signal.data_segment" and "start_frame" in f.evidence:
                start, end = int(f.evidence["start_frame"]), int(f.evidence["end_frame"])
                if locally_sinusoidal(values, start, end):
                    continue
            kept.append(f)
        return kept


def repeats_exactly(values: npt.NDArray[np.float64]) -> bool:
    """Every channel of ``values`` (the flagged prefix where the head holds it: the prefix
    starts at frame 0) repeats sample for sample at one lag (see the module)."""
    n = values.shape[0]
    if n < 4 * SINE_WINDOW or len(np.unique(values[:, 0])) < MIN_DISTINCT:
        return False
    level = values.sum(axis=1)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    centred = level - level.mean()
    spec = np.fft.rfft(centred, size)
    # Per overlapping pair: an exact period scores the full power, a near one (a tone's
    # whole cycles short of an exact period) a little less, however long the overlap.
    acf = np.fft.irfft(spec * np.conj(spec), size)[: n // MIN_PERIODS]
    acf /= n - np.arange(acf.size)
    acf[:2] = -np.inf
    inner = (acf[1:-1] >= acf[:-2]) & (acf[1:-1] >= acf[2:])
    peaks = np.flatnonzero(inner) + 1
    if peaks.size == 0:
        return False
    best = peaks[np.argsort(acf[peaks])[::-1][:PERIOD_CANDIDATES]]
    for lag in sorted(int(p) for p in best):
        same = values[lag:] == values[:-lag]
        if float(same.all(axis=1).mean()) >= REPEAT_SHARE:
            return True
    return False


def _basis(freqs: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    phase = 2 * np.pi * np.outer(np.arange(n), freqs)
    return np.hstack([np.cos(phase), np.sin(phase), np.ones((n, 1))])


def _peaks(y: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.float64]:
    """Up to ``count`` spectral peaks (cycles per sample), strongest first, 40 dB within the top."""
    pad = 4 * y.size
    mag = np.abs(np.fft.rfft((y - y.mean()) * np.hanning(y.size), pad))
    top = float(mag.max())
    found: list[float] = []
    for _ in range(count):
        i = int(np.argmax(mag[1:])) + 1
        if mag[i] < top * 1e-2:
            break
        found.append(i / pad)
        mag[max(0, i - 16) : i + 17] = 0.0
    return np.array(found)


def sinusoid_residual(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``y`` less its best fit by up to :data:`SINES` sinusoids and a constant (steps)."""
    freqs = _peaks(y, SINES)
    if freqs.size == 0:
        centred: npt.NDArray[np.float64] = y - y.mean()
        return centred
    n = y.size

    def residual(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        basis = _basis(f, n)
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        out: npt.NDArray[np.float64] = basis @ coef - y
        return out

    fitted = least_squares(residual, freqs, x_scale=1e-4 / n, max_nfev=40)
    return -residual(np.asarray(fitted.x, dtype=np.float64))


def few_sinusoids(values: npt.NDArray[np.float64]) -> bool:
    """Windows of the head that hold sound are a few sinusoids rounded without dither."""
    n = values.shape[0]
    if n < SINE_WINDOW:
        return False
    starts = np.linspace(0, n - SINE_WINDOW, SINE_WINDOWS + 2)[1:-1].astype(int)
    judged = 0
    for ch in range(values.shape[1]):
        for start in starts:
            y = values[start : start + SINE_WINDOW, ch]
            if y.std() < 4.0:
                continue  # quiet: rounding noise, nothing to model
            # A tone is told only where the window holds several of its periods: a fragment
            # of a slow sinusoid fits a ramp (a ramp of the dev corpus passed as one).
            if _peaks(y, 1).min(initial=1.0) * SINE_WINDOW < MIN_CYCLES:
                return False
            r = sinusoid_residual(y)
            judged += 1
            beyond = float(np.mean(np.abs(r) > 0.5))
            if beyond > BEYOND_HALF_STEP or float(np.sqrt(np.mean(r * r))) > ROUNDING_RMS:
                return False
    return judged > 0


def locally_sinusoidal(values: npt.NDArray[np.float64], start: int, end: int) -> bool:
    """Every short frame of ``start:end`` is cancelled by an order-4 predictor (a sweep)."""
    # The span must lie in the head (a later span is not judged here).
    if end > values.shape[0] or end - start < 8 * FRAME:
        return False
    gains = []
    for ch in range(values.shape[1]):
        for at in range(start, end - FRAME + 1, FRAME):
            y = values[at : at + FRAME, ch] - values[at : at + FRAME, ch].mean()
            power = float(np.mean(y * y))
            if power <= 0.0:
                continue
            lagged = np.stack([y[ORDER - k - 1 : FRAME - k - 1] for k in range(ORDER)], axis=1)
            target = y[ORDER:]
            coef, *_ = np.linalg.lstsq(lagged, target, rcond=None)
            err = float(np.mean((target - lagged @ coef) ** 2))
            gains.append(10 * np.log10(power / max(err, 1e-9)))
    if not gains:
        return False
    return float(np.mean(np.array(gains) < LOCAL_GAIN_DB)) <= UNPREDICTED_SHARE
