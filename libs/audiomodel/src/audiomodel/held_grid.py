"""Data held as steps and then passed through a lossy codec, read back from its step grid.

A file's bytes written as samples, each held for N samples, leap on a clock of N samples. In
16-bit PCM the holds are exact and :mod:`audiomodel.windows` counts them (``signal.held_steps``).
A lossy codec (MP3, Vorbis, Opus, AAC) keeps the waveform but not its exact values: the holds
come back with the codec's noise on them and the leaps with its low-pass ringing, so no value
repeats exactly, yet every leap still falls on the same phase of the N-sample clock, and the
middle of each step still sits near the held value.

What this module reads, and why it separates data from sound:

- **The step grid.** Fold the magnitude of the first difference of the mono level by time
  modulo N: a sound's changes are spread over every phase (the share of the busiest phase times
  N is 1.0-1.5 on real music), a held signal's changes fall on one (its leaps) and the codec's
  ringing on the one or two next to it (4-12 through MP3 and Vorbis at N = 8..32). A cheap probe
  (a short stretch of each half second, its grid found from the autocorrelation of the
  differences) turns away every half second with no grid before anything else is read.
- **What is held.** A step grid is not data by itself: a sample-rate reduction (a bitcrusher),
  an upsampler that repeats samples (a zero-order hold), a tracker or console playing samples
  without interpolation all hold values on a clock. What tells them apart is the sequence of
  held values, one per step read from the middle of the step: a sound's are the samples of a
  slower sound, band-limited and predicted by their neighbours (the best fixed predictor of
  order 1 or 2 gains 6 dB or more, as ``pred_gain_db`` in :mod:`audiomodel.windows`), a file's
  bytes are white (0 dB: no predictor beats the mean). The same -4 dB line as a white window's.
- **Bytes.** Where the held values land on the 256 levels of a byte, they are read back as
  bytes and carved for a dangerous signature (:func:`audiomodel.payload.dangerous_payload`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, Severity, finding
from audiomodel.payload import dangerous_payload
from audiomodel.windows import ByteMap

__all__ = ["GridCell", "HeldGridScanner", "probe_holds", "read_grid"]

CELL_SECONDS = 0.5
MIN_HOLD = 4  # shorter holds do not survive a codec's low-pass as steps
MAX_HOLD = 72  # 64 samples at 44.1 kHz read at 48 kHz (see RATE_RATIOS)
PROBE_SAMPLES = 960  # the probe's stretch of each cell (14 steps of the longest hold)
# The gate on a grid's contrast (see gate_contrast): GRID_CONTRAST + GRID_CONTRAST_NOISE /
# sqrt(values a phase sums).
GRID_CONTRAST = 1.5
GRID_CONTRAST_NOISE = 6.0
CELL_CONTRAST_NOISE = 30.0  # see cell_contrast
# Inside a step the codec's noise only: the middle halves of the steps spread this far below the
# held values at most (bytes through MP3, Vorbis, AAC, Opus: -12 to -42 dB).
MAX_FLATNESS_DB = -10.0
# The held values' best fixed predictor within this many dB of their variance: white, as a
# window of bytes is (signal.data_segment's line; sound's samples at any rate gain 6 dB+).
WHITE_PRED_DB = -4.0
# ... and show a sign of bytes, as signal.data_segment's windows must (white noise is white too:
# a noisy or distorted track bitcrushed holds white values, 0 dB at holds of 4-64 through MP3):
# one-sided (text's printable bytes, a binary's zero bytes at the bottom rail: |mean| / RMS
# 0.8-0.9 through MP3; sound's held values 0.0-0.11), or spread evenly over a bounded range
# (compressed, encrypted or random bytes: kurtosis 1.75-1.92 a cell, 1.8 pooled; a loud,
# limited master's held values 1.9-5 a cell, 2.0 and up over seconds).
ONE_SIDED_DC = 0.5
UNIFORM_CELL_KURTOSIS = 2.0
UNIFORM_KURTOSIS = 1.88  # over a run's pooled values
# ... with no pile at the range's ends: bytes put 2 % to 10 % of their held values in the outer
# 1/32 of the range at either end (2 of 64 such slices); a clipper piles a loud sound on its
# rails, two-valued enough for a kurtosis of 1.1-1.6 (a hard-clipped explosion, own good set
# seed 25: 35-81 % at the rails).
UNIFORM_RAIL_SHARE = 0.2
# ... and many levels: a file's bytes take dozens of values, where a synthesiser's pulse or
# square voices held one value a half period take a few (a square wave 2 of 32 bins over their
# range, voices' sums up to 16), over a run's pooled values. A half second of a binary's zero
# padding uses a few levels too (0.28-0.53 through MP3), so a cell needs fewer.
MIN_OCCUPIED = 0.6
MIN_CELL_OCCUPIED = 0.25
MIN_HELD_RMS = 1024.0  # held values this loud in the mono level (-30 dBFS): not a noise floor
MIN_CELLS = 2  # a second of cells at least
MIN_CARVE_STEPS = 256
LEVEL_FIT = 0.5
# The held values' mean cosine on the best lattice of 256 levels: exp(-2 pi^2 (noise / level)^2),
# so 0.5 where the codec's noise in a step's middle is a quarter of a level (a byte misread 1 %
# of the time); a sound's values on no lattice ~0.


# Resampling between the two families of rates (44.1 and 48 kHz: Opus always decodes at 48 kHz,
# and any converter may stand between) makes a hold of N samples one of N * 160 / 147 or
# N * 147 / 160: the grid stays, at a fractional period.
RATE_RATIOS = (1.0, 160 / 147, 147 / 160)


def fold(d: npt.NDArray[np.float64], period: float) -> npt.NDArray[np.float64]:
    """``d`` (rows, samples) summed by phase on a grid of ``period`` samples, in round(period)
    phase bins (one per sample of the step)."""
    bins = max(2, round(period))
    if float(period).is_integer():
        m = d.shape[-1] // bins * bins
        return np.asarray(d[..., :m].reshape(*d.shape[:-1], -1, bins).sum(axis=-2))
    phase = np.arange(d.shape[-1]) / period
    index = ((phase - np.floor(phase)) * bins).astype(np.intp)
    onehot = np.zeros((d.shape[-1], bins))
    onehot[np.arange(d.shape[-1]), np.minimum(index, bins - 1)] = 1.0
    return np.asarray(d @ onehot)


def contrast_of(folded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The busiest phase's sum against the mean phase's (1: no grid; the hold: all on one)."""
    return np.asarray(folded.max(axis=-1) / np.maximum(folded.mean(axis=-1), 1e-9))


def fold_rows(
    d: npt.NDArray[np.floating], periods: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The contrast of each row of ``d`` folded on its own period (``fold`` for many rows in one
    count: each row's phase bins follow the previous row's)."""
    bins = np.maximum(np.round(periods), 2).astype(np.intp)
    starts = np.concatenate([[0], np.cumsum(bins)[:-1]])
    phase = np.arange(d.shape[1], dtype=np.float32)[None, :] / periods[:, None].astype(np.float32)
    index = ((phase - np.floor(phase)) * bins[:, None]).astype(np.intp)
    np.minimum(index, bins[:, None] - 1, out=index)
    index += starts[:, None]
    sums = np.bincount(index.ravel(), weights=d.ravel(), minlength=int(bins.sum()))
    busiest = np.maximum.reduceat(sums, starts)
    mean = np.add.reduceat(sums, starts) / bins
    return np.asarray(busiest / np.maximum(mean, 1e-9))


def probe_holds(
    stretches: npt.NDArray[np.floating], ratios: tuple[float, ...] = (1.0,)
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row of ``stretches`` (cells, samples): the likeliest hold (a period in samples, maybe
    fractional) and its grid contrast on the stretch.

    The lag in MIN_HOLD..MAX_HOLD where the autocorrelation of the differences' magnitude peaks
    (the shortest within 80 % of the peak: a grid of N repeats at 2N) is the hold to the nearest
    sample; the periods near it that a rate conversion by one of ``ratios`` gives are tried
    too, and the one of highest contrast kept."""
    d = np.abs(np.diff(stretches, axis=1)).astype(np.float32)
    n = d.shape[1]
    centred = d - d.mean(axis=1, keepdims=True)
    # the autocorrelation up to MAX_HOLD needs only that much room against wrapping around
    size = 1 << int(np.ceil(np.log2(n + MAX_HOLD)))  # a power of two: pocketfft's fastest
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, axis=1)[:, MIN_HOLD : MAX_HOLD + 1]
    near = acf >= 0.8 * acf.max(axis=1, keepdims=True)
    lags = MIN_HOLD + np.argmax(near, axis=1)
    best = np.zeros(d.shape[0])
    holds = lags.astype(np.float64)
    for ratio in ratios:
        periods = np.maximum(np.round(lags / ratio), 2) * ratio
        rows = np.arange(d.shape[0])
        if ratio != 1.0:
            # only where the conversion moves the period off the lag's own sample
            rows = rows[np.abs(periods - lags) >= 0.25]
            if not rows.size:
                continue
        c = fold_rows(d[rows], periods[rows])
        better = c > best[rows]
        best[rows[better]] = c[better]
        holds[rows[better]] = periods[rows[better]]
    return holds, best


def rate_ratios(sample_rate: int) -> tuple[float, ...]:
    """The periods a hold may have been stretched by (see RATE_RATIOS): a 48 kHz stream may hold
    a 44.1 kHz writer's grid (Opus always decodes at 48 kHz), a 44.1 kHz stream a 48 kHz one's."""
    if sample_rate == 48000:
        return (1.0, 160 / 147)
    if sample_rate == 44100:
        return (1.0, 147 / 160)
    return (1.0,)


@dataclass(frozen=True)
class GridCell:
    """One stretch read on its step grid."""

    period: float
    contrast: float  # over the whole stretch
    flatness_db: float  # spread inside the steps against the spread of the held values
    pred_db: float  # the held values' best fixed predictor against their variance
    rms: float  # of the held values
    dc_ratio: float  # |mean| / RMS of the held values
    kurtosis: float  # of the held values (uniform 1.8, Gaussian 3, sound's Laplacian-like 4+)
    occupied: float  # share of 32 equal bins over the held values' range that they use
    rail_share: float  # of the held values in the outer 1/32 of their range at either end
    values: npt.NDArray[np.float64]


def refine_period(d: npt.NDArray[np.float64], period: float) -> float:
    """The grid's period to a small fraction of a sample: the peak of the differences'
    spectrum near the fundamental 1 / ``period`` (a spike train's first line)."""
    size = 4 * d.size
    spectrum = np.abs(np.fft.rfft(d - d.mean(), n=size))
    low = int(size / (period + 0.6))
    high = int(np.ceil(size / max(period - 0.6, 2.0))) + 1
    k = low + int(np.argmax(spectrum[low:high]))
    if 0 < k < spectrum.size - 1:
        a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
        curve = a - 2 * b + c
        shift = float(np.clip(0.5 * (a - c) / curve, -0.5, 0.5)) if curve < 0 else 0.0
    else:
        shift = 0.0
    return size / (k + shift)


def read_grid(x: npt.NDArray[np.float64], period: float) -> GridCell:
    """``x`` read on a grid of about ``period`` samples: one value per step (the mean of the
    middle half of the step, away from the codec's ringing at its edges)."""
    d = np.abs(np.diff(x))
    if not float(period).is_integer():
        # a rate conversion's period is known only near its true value; a grid written at the
        # stream's own rate holds a whole number of samples, as the probe read it
        period = refine_period(d, period)
    folded = fold(d[None, :], period)[0]
    bins = folded.size
    # the leap sits between sample i and i + 1 at the busiest phase: a step starts a sample on
    edge = (int(np.argmax(folded)) + 0.5) / bins
    position = (np.arange(x.size) - 1) / period - edge
    step = np.floor(position)
    within = position - step
    middle = (within >= 0.25) & (within < 0.75)
    ids = (step[middle] - step[middle].min()).astype(np.intp)
    counts = np.bincount(ids)
    sums = np.bincount(ids, weights=x[middle])
    kept = counts > 0
    values = sums[kept] / counts[kept]
    inside = float(np.mean((x[middle] - (sums / np.maximum(counts, 1))[ids]) ** 2))
    spread = float(np.var(values))
    return GridCell(
        period=period,
        contrast=float(contrast_of(folded)),
        flatness_db=float(10 * np.log10((inside + 1e-9) / (spread + 1e-9))),
        pred_db=prediction_db(values),
        rms=float(np.sqrt(np.mean(values**2))),
        **_level_shape(values),
        values=values,
    )


def _level_shape(values: npt.NDArray[np.float64]) -> dict[str, float]:
    centred = values - values.mean()
    var = float(np.mean(centred**2)) + 1e-9
    low, high = float(values.min()), float(values.max())
    edge = (high - low) / 32
    rails = np.count_nonzero((values <= low + edge) | (values >= high - edge))
    bins = np.minimum(((values - low) / max(high - low, 1e-9) * 32).astype(np.intp), 31)
    return {
        "dc_ratio": abs(float(values.mean())) / float(np.sqrt(np.mean(values**2)) + 1e-9),
        "kurtosis": float(np.mean(centred**4)) / var**2,
        "rail_share": rails / values.size,
        "occupied": np.unique(bins).size / 32,
    }


def prediction_db(values: npt.NDArray[np.float64]) -> float:
    """The best linear predictor's (order 1 or 2, from the values' own autocorrelation) residual
    against the variance, in dB: 0 for white values. Not only FLAC's fixed predictors: held
    values that alternate (a square wave read one value a half period) are predicted by the
    negated last value, which no fixed predictor is."""
    centred = values - values.mean()
    r0 = float(np.dot(centred, centred)) + 1e-9
    rho1 = float(np.dot(centred[1:], centred[:-1])) / r0
    rho2 = float(np.dot(centred[2:], centred[:-2])) / r0
    first = max(1.0 - rho1**2, 1e-12)
    partial = (rho2 - rho1**2) / first
    return float(10 * np.log10(max(first * (1.0 - min(partial**2, 1.0)), 1e-12)))


def gate_contrast(period: npt.NDArray[np.float64], samples: int) -> npt.NDArray[np.float64]:
    """The contrast a stretch of ``samples`` must reach on a grid of ``period``: folding a sound's
    bursty differences into N phases of samples / N values each leaves the busiest phase above
    the mean by chance, more so the fewer values a phase sums (real music's 2,048-sample probes:
    up to 2.3 at lag 55, 1.04 at lag 4)."""
    per_phase = samples / np.maximum(period, 1.0)
    return GRID_CONTRAST + GRID_CONTRAST_NOISE / np.sqrt(per_phase)


def cell_contrast(period: float, samples: int) -> float:
    """The contrast a whole cell must reach: above the probe's gate, as a sound's differences
    keep some of their own rhythm and pitch at the long periods (real music's cells: up to 2.4
    at 14 samples, a clipped explosion's 3.1 at 59)."""
    per_phase = samples / max(period, 1.0)
    return float(GRID_CONTRAST + CELL_CONTRAST_NOISE / np.sqrt(per_phase))


def bytes_on_levels(values: npt.NDArray[np.float64]) -> bytes:
    """The held values read back as bytes, when they sit on 256 evenly spaced levels around
    zero (8-bit PCM's offset binary: byte 128 is silence, each byte a level of the writer's
    gain), else nothing. The level is the spacing on which the values line up best (the mean
    cosine of 2 pi value / level: 1 on the lattice, 0 off it), searched near the range's
    1/256."""
    if values.size < MIN_CARVE_STEPS:
        return b""
    rough = float(np.abs(values).max()) / 128
    if rough <= 0:
        return b""
    levels = rough * np.linspace(0.85, 1.3, 361)
    # the values a leap reaches: a binary's runs of one byte (zero padding) would fit any level
    # that divides their one value
    leapt = values[1:][np.abs(np.diff(values)) > rough / 2]
    if leapt.size < MIN_CARVE_STEPS // 2:
        return b""
    sample = leapt[:: max(1, leapt.size // 2048)]
    fit = np.cos(2 * np.pi * sample[:, None] / levels[None, :]).mean(axis=0)
    best = int(np.argmax(fit))
    if fit[best] < LEVEL_FIT:
        return b""
    codes = np.round(values / levels[best]) + 128
    return bytes(np.clip(codes, 0, 255).astype(np.uint8).tobytes())


class HeldGridScanner:
    """Reads the mono level (the channels' sum) cell by cell; cells with a step grid are read on
    it, and runs of cells whose held values are white are reported."""

    def __init__(self, sample_rate: int, *, byte_map: ByteMap | None = None) -> None:
        self.sample_rate = sample_rate
        self.byte_map = byte_map
        self.cell = max(4 * MAX_HOLD, round(sample_rate * CELL_SECONDS))
        self.probe = min(PROBE_SAMPLES, self.cell - 1)
        self._carry = np.zeros(0, dtype=np.int32)
        self._ratios = rate_ratios(sample_rate)
        self._cells = 0
        self._read: dict[int, GridCell] = {}  # cells read on a grid, by index

    def update(self, summed: npt.NDArray[np.integer]) -> None:
        x = np.concatenate([self._carry, summed]) if self._carry.size else summed
        count = x.size // self.cell
        if count:
            cells = x[: count * self.cell].reshape(count, self.cell)
            # from the middle of the cell: a file's first half second often opens with the
            # encoder's delay (MP3: 1,105 silent samples) or a fade
            at = (self.cell - self.probe - 1) // 2
            periods, contrast = probe_holds(
                cells[:, at : at + self.probe + 1].astype(np.float32), self._ratios
            )
            gated = np.flatnonzero(contrast >= gate_contrast(periods, self.probe))
            for row in gated:
                self._read[self._cells + int(row)] = read_grid(
                    cells[row].astype(np.float64), float(periods[row])
                )
            self._cells += count
        self._carry = np.array(x[count * self.cell :], dtype=np.int32)

    def data_cells(self) -> list[int]:
        """The cells read on a grid whose held values are white and loud: bytes, not sound."""
        return sorted(
            i
            for i, cell in self._read.items()
            if cell.contrast >= cell_contrast(cell.period, self.cell)
            and cell.flatness_db <= MAX_FLATNESS_DB
            and cell.pred_db >= WHITE_PRED_DB
            and cell.rms >= MIN_HELD_RMS
            and cell.occupied >= MIN_CELL_OCCUPIED
            and (
                cell.dc_ratio >= ONE_SIDED_DC
                or (
                    cell.kurtosis <= UNIFORM_CELL_KURTOSIS and cell.rail_share <= UNIFORM_RAIL_SHARE
                )
            )
        )

    def report(self) -> list[Finding]:
        cells = self.data_cells()
        runs: list[list[int]] = []
        for i in cells:
            if runs and i - runs[-1][-1] <= 2:  # one cell between may be a splice's edge
                runs[-1].append(i)
            else:
                runs.append([i])
        out = []
        for run in runs:
            if len(run) < MIN_CELLS:
                continue
            shape = _level_shape(np.concatenate([self._read[i].values for i in run]))
            uniform = (
                shape["kurtosis"] <= UNIFORM_KURTOSIS and shape["rail_share"] <= UNIFORM_RAIL_SHARE
            )
            byte_like = shape["dc_ratio"] >= ONE_SIDED_DC or uniform
            if byte_like and shape["occupied"] >= MIN_OCCUPIED:
                out.append(self._finding(run, shape))
        return out

    def _finding(self, run: list[int], shape: dict[str, float]) -> Finding:
        read = [self._read[i] for i in run]
        start_s = run[0] * self.cell / self.sample_rate
        end_s = (run[-1] + 1) * self.cell / self.sample_rate
        period = float(np.median([c.period for c in read]))
        where: dict[str, int | float | str | bool] = {
            "start_s": round(start_s, 2),
            "end_s": round(end_s, 2),
            "hold_samples": round(period, 3),
            "grid_contrast": round(float(np.median([c.contrast for c in read])), 2),
            "held_pred_db": round(float(np.median([c.pred_db for c in read])), 2),
            "step_flatness_db": round(float(np.median([c.flatness_db for c in read])), 1),
            "data_cells": len(run),
            "held_dc_ratio": round(shape["dc_ratio"], 3),
            "held_kurtosis": round(shape["kurtosis"], 3),
        }
        if self.byte_map is not None:
            first = run[0] * self.cell
            last = (run[-1] + 1) * self.cell
            where["byte_start"] = self.byte_map.offset + first * self.byte_map.frame_bytes
            where["byte_end"] = self.byte_map.offset + last * self.byte_map.frame_bytes
        span = f"{start_s:.1f}-{end_s:.1f} s"
        sign = (
            f"one-sided (|mean| {shape['dc_ratio']:.0%} of their RMS)"
            if shape["dc_ratio"] >= ONE_SIDED_DC
            else f"spread evenly over their range (kurtosis {shape['kurtosis']:.2f})"
        )
        head = (
            f"In {span} the level leaps on a clock of {period:.2f} samples and holds between "
            f"(grid contrast {where['grid_contrast']}, steps flat to {where['step_flatness_db']} "
            f"dB), and the values held, one a step, are white (the best predictor gains "
            f"{-float(where['held_pred_db']):.1f} dB) and {sign}: a file's bytes held as steps, "
            "seen through a codec's noise"
        )
        data = bytes_on_levels(np.concatenate([c.values for c in read]))
        kind, name, offset = dangerous_payload(data) if data else ("", "", 0)
        if kind:
            return finding(
                "signal.held_grid",
                f"{head}; read as bytes, they hold {kind} data ({name} header at byte {offset}).",
                Severity.MALICIOUS,
                **where,
                signature=name,
                signature_offset=offset,
            )
        return finding("signal.held_grid", head + ".", **where)
