"""The parity statistic: what share of the low bits of integer PCM was replaced.

Weighted stego-signal analysis (after Fridrich & Goljan 2004 and Ker & Böhme 2008), adapted to
1-D audio. Every sample is predicted from its neighbours on both sides by a two-sided linear
interpolator fitted per ~1.4 s window (16 taps each side, least squares on the window's exact
autocorrelation, constrained to predict a constant exactly) and applied directly as a 33-tap
filter. LSB replacement pushes an even sample up or an odd one down, so the
prediction residual ``r`` correlates with the parity sign ``c = +1 (odd) / -1 (even)``:
``E[r * c] = p / 2`` where ``p`` is the share of samples whose LSB was replaced by random bits,
and 0 in a recording whose parity owes nothing to its neighbours. Residuals are weighted by the
inverse local residual power (per 128 samples), so smooth and quiet passages, where the low
bits are predictable, carry the verdict. Sums are kept per channel and per 4096-frame segment
(at most 8192 segments: neighbours merge beyond, so memory is bounded); a z-score under the
clean hypothesis is computed for every prefix of the file (embedders fill from the first
sample), channels pooled or one channel alone. The best prefix gives ``estimated_fraction``
(each segment counted at its own measured rate) and, when the z-score, the rate inside the
prefix and the fraction are all high, ``stego.lsb_statistical``. The same sum against bit 1
tells whether 2 bits were used.

Why the flag asks for more than a z-score (the measurements are in
``libs/audiomodel/docs/steganalysis.md``): quiet passages with a DC offset reach a high z at a
low rate, so the rate inside the prefix must be high too; a digital gain just under 2x or 4x
leaves the low bit a function of the level, so the flag is dropped when the low bit is too
predictable from the bits above it (:func:`lsb_determinism`) to carry the estimated share;
clipped samples are left out, their parity being fixed by the clip level; evidence from sub-LSB
silence needs a rate near 1; plateaus (a level under rounding or dither) are left out when some
of them read the sign replacement never makes (see ``_PLATEAU_CODES``). The classic pairs-of-values chi-square test is not used: it calls
almost every smooth 16-bit music file "embedded".

The quantisation floor (``floor_power``, ``floor_kurtosis``, ``floor_blocks``; features, no
finding). LSB matching (+-1 where the bit differs) and steghide (it swaps sample values an odd
distance apart, keeping the histogram) do not correlate the residual with the parity: they add
+-1 noise. Where the interpolator predicts the sound to within its rounding (sub-blocks with
0.05-1 LSB^2 of residual that hold sound, a sample >= 8 LSB from zero, not digital silence),
the residual *is* the cover's quantisation noise: 1/12 LSB^2 times the interpolator's noise gain
for plain rounding, 1/3 for TPDF dither, bounded and light-tailed either way (kurtosis <= 3).
Changing a share q of the samples by +-1 adds about q LSB^2 before that gain, and sparse changes
(steghide at a low rate) make it heavy-tailed. A dithered cover reaches the same power, so these
measure rather than judge; ``libs/audiomodel/docs/steganalysis.md`` has the figures.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from audiomodel.findings import Finding, finding
from audiomodel.stego.impulses import ImpulseCounter
from audiomodel.stego.kernels import (
    count_low_bits,
    determinism_terms,
    interpolation_residual,
    parity_rows,
    subblock_extremes,
    window_autocorrelation,
    window_autocorrelation_exact,
    zero_clipped,
)

__all__ = ["IntSamples", "ParityStatistics", "judge_parity", "lsb_determinism"]

_TAPS = 16  # interpolator taps on each side
_SUB = 128  # frames per weight sub-block
_SEG_SUBS = 32  # sub-blocks per stored segment (4096 frames)
# The interpolator is fitted once per window (~1.4 s at 44.1 kHz) and filters it directly.
_EDGE = 64  # frames of a window left unfiltered at each side (>= _TAPS: the filter's reach)
_STRIDE = 496 * _SUB  # 63488 frames between windows
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
# Random bits written over a share f of the low bits leave at most 1 - f of them following the
# bits above (see :func:`lsb_determinism`), however the cover's own low bits behaved. The
# parity estimate can overstate the share by 2x (a 16-bit file padded to 24 bits with half its
# low bits replaced: determinism 0.49, estimated 0.98 on the train split's "LSB in 24-bit
# PCM"), so a flag needs determinism at most 1 - estimated / _OVERSTATED (a factor of 2 to
# spare). A noiseless synthesiser or generator repeats its exact levels (a chiptune plug-in's
# pulse and triangle levels, a stepped sine whose period is a whole number of samples): every
# value keeps one parity (determinism 0.998-1.0) and each of its edges or periods couples the
# parity to the interpolator's residual the same way again, which no independent noise does
# (own good set seed 21, chiptune-0001 at 24 bits: z 11.4 at "rate 1.0" in 17 % of a channel,
# determinism 1.0; stepped sines read z 23-125 at determinism 0.998-0.9998).
_OVERSTATED = 4.0
_FLOOR_POWER = (0.05, 1.0)  # LSB^2: residual power of a sub-block at the quantisation floor
_FLOOR_PEAK = 8  # LSB: a floor sub-block holds sound, not digital silence

IntSamples = npt.NDArray[np.signedinteger[Any]]  # right-justified samples: int16 or int32


# The lags |j - k| and j + k of the normal equations' terms, j, k = 1.._TAPS (made once).
_LAG_DIFFERENCE = np.abs(np.arange(_TAPS)[:, None] - np.arange(_TAPS)[None, :])
_LAG_SUM = np.arange(1, _TAPS + 1)[:, None] + np.arange(1, _TAPS + 1)[None, :]


def _interpolation_residual(
    window: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating] | None = None,
    *,
    narrow: bool = False,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.float64]]:
    """Residual of a two-sided interpolator fitted to ``window`` (channels, frames), and its
    coefficients a_1..a_16 (x[n] is predicted as sum a_k (x[n-k] + x[n+k])).

    The interpolator predicts x[n] from x[n-k] + x[n+k], k = 1.._TAPS, never from x[n], so
    the residual of a replaced sample keeps its full embedding change. Coefficients come from
    the window's autocorrelation summed over channels (exact in float64 for 16-bit PCM; white
    quantisation noise of 1/12 LSB^2 added so digital silence gives a zero predictor). Both
    the autocorrelation and the 33-tap filter are direct compiled loops (at 16 taps they cost
    less than the FFTs they replaced). Returns (channels, frames - 2 _EDGE) and (_TAPS,).
    ``out``, when given, holds the residual: an array of at least that shape, of the
    window's dtype. ``narrow``: the window holds samples of at most 16 bits, whose
    autocorrelation sums are exact in any order (:func:`window_autocorrelation_exact`).
    """
    channels, frames = window.shape
    acf = np.empty(2 * _TAPS + 1)
    if narrow:
        window_autocorrelation_exact(window, 2 * _TAPS, acf)
    else:
        window_autocorrelation(window, 2 * _TAPS, acf)
    acf[0] += acf[0] * 1e-6 + channels * frames / 12.0
    normal = acf[_LAG_DIFFERENCE] + acf[_LAG_SUM]
    # Least squares under the constraint sum(2 a_k) = 1: a constant (a DC offset in digital
    # silence) is then predicted exactly, instead of leaving a tiny constant residual that
    # correlates with the constant parity of the silence.
    sides = np.ones((_TAPS, 2))
    sides[:, 1] = acf[1 : _TAPS + 1]
    unit, free = np.linalg.solve(normal, sides).T
    coef = free + unit * (0.5 - free.sum()) / unit.sum()
    width = frames - 2 * _EDGE
    kept = np.empty((channels, width), window.dtype) if out is None else out[:, :width]
    interpolation_residual(window, coef, _EDGE, kept)
    return kept, coef


def _residual_frames(frames: int) -> int:
    """Width of :func:`_interpolation_residual`'s ``out`` for a window of ``frames``."""
    return frames - 2 * _EDGE


# Columns of the per-segment, per-channel sums.
_A, _B, _V, _A1, _AQ = range(5)  # sum w*r*c; sum w; sum w^2*r^2; sum w*r*c1; _A over sub-LSB blocks
_PLATEAU = 5  # the same five sums over the plateau sub-blocks alone (see _PLATEAU_CODES)
_COLUMNS = 10
# A plateau: a sub-block whose samples span at most this many codes (the sound stands on one
# level and only rounding or dither moves it: a clip rail lowered by a fader, a held level,
# silence). There the parity says on which side of the level a sample was rounded, and so does
# the interpolator's residual (the sample minus the level its neighbours give): their
# correlation is the cover's own, E[r c] = E[(x - s) c(x)] for a level s, which no dither
# removes (TPDF over a level at 38.5 gives 38 or 39: r c = +0.5 either way). Its sign is the
# level's: +0.5 at an even code plus a half (the two codes are a value pair 2m, 2m + 1, as
# replaced bits make them), -0.5 at an odd code plus a half (the codes straddle two pairs,
# which replacement never makes), 0 on a code. Replacement only ever adds +p/2, so a plateau
# stretch reading z <= -_Z_FLAG shows that this file's levels carry that bias, and then its
# plateaus say nothing about a payload: they are left out (see :func:`_plateaus_judged`). Own
# good set seed 23: HVAC rumble whose brown noise sox clipped on reading and lowered to -59 and
# -66 dBFS under TPDF dither, rails at +-38.5 LSB, read z = 827 and 311 (rate 0.89-0.99) from
# the +rail, and -54 on a segment of the -rail; without their plateaus, 6.4 and 0.8.
_PLATEAU_CODES = 3


def lsb_determinism(pair_parity: npt.NDArray[np.integer]) -> float:
    """How far the low bit follows from the bits above it.

    ``pair_parity`` counts samples per value, pairs (2m, 2m + 1) side by side. The measure is
    the excess of |n_even - n_odd| over what a fair coin gives for each pair's count, as a
    share of the most it could be: about 0 where the low bit is noise (a recording, or bits
    replaced by a payload), 1 where a digital gain just under 2x (+6.00 dB is 1.995x) or 4x
    left it a function of the level, about 1 - f after a share f of such low bits was replaced.
    0 when the pairs hold too few samples to tell.
    """
    # Per pair seen twice or more: n - E and |n_even - n_odd| - E, E = E|n_even - n_odd| for a
    # fair coin, 2 n C(n - 1, floor((n - 1) / 2)) / 2^n, from a table made once for the common
    # counts (the same values, without three gammaln per pair), in one compiled pass.
    room_terms, excess_terms = determinism_terms(
        pair_parity.reshape(-1, 2), _fair_table(), _fair_imbalance
    )
    room = float(room_terms.sum())
    if room < _PAIR_EVIDENCE:
        return 0.0
    return float(excess_terms.sum() / room)


_FAIR_TABLE_SIZE = 1 << 14


def _fair_imbalance(total: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """E|n_even - n_odd| of a fair coin thrown ``total`` times (see :func:`lsb_determinism`)."""
    half = np.floor((total - 1) / 2)
    log_choose = gammaln(total) - gammaln(half + 1) - gammaln(total - half)
    out: npt.NDArray[np.float64] = 2 * total * np.exp(log_choose - total * math.log(2.0))
    return out


@lru_cache(maxsize=1)
def _fair_table() -> npt.NDArray[np.float64]:
    """:func:`_fair_imbalance` of 0 .. _FAIR_TABLE_SIZE - 1 throws."""
    with np.errstate(all="ignore"):  # 0 and 1 throws are never looked up (pairs need 2)
        return _fair_imbalance(np.arange(_FAIR_TABLE_SIZE, dtype=np.float64))


class ParityStatistics:
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
        self._narrow = bits_per_sample <= 16  # see _interpolation_residual
        # Samples per value pair (2m, 2m + 1) and parity, the pair index folded to 16 bits.
        self.pair_parity = np.zeros(1 << 17, dtype=np.int64)
        self.count_values = count_values
        self.zeros = 0  # samples exactly 0 (counted with the pairs, for samples wider than 16 bits)
        self._full = (1 << (bits_per_sample - 1)) - 1  # +full scale; -full - 1 is below it
        self._pending: list[IntSamples] = []
        self._pending_frames = 0
        self._origin = 0  # file frame of the first pending frame
        self.impulses = ImpulseCounter()  # lone displaced samples (audiomodel.stego.impulses)
        self._segments: list[npt.NDArray[np.float64]] = []  # each (n, channels, _COLUMNS)
        self._segment_count = 0
        self.segment_subblocks = _SEG_SUBS
        self._partial = np.zeros((channels, _COLUMNS))  # sums of the segment being filled
        self._partial_subblocks = 0
        self.residual_power = 0.0
        self.quiet_subblocks = 0
        self.subblocks = 0
        self.floor_blocks = 0  # sub-blocks at the quantisation floor, and their moments
        self.floor_fourth = 0.0
        self.floor_square = 0.0
        self.floor_power = 0.0
        self._buffers: dict[str, npt.NDArray[Any]] = {}
        self._turn = 0  # which of two kept arrays _joined writes next

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
        """A work array kept from window to window (same shape and dtype: the same array)."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(shape, dtype)
        return buffer

    def update(self, values: IntSamples) -> None:
        self._pending.append(values)
        self._pending_frames += values.shape[0]
        if self._pending_frames >= _WINDOW:
            self._drain(final=False)

    def _drain(self, *, final: bool) -> None:
        data = self._joined() if len(self._pending) > 1 else self._pending[0]
        start = 0
        while data.shape[0] - start >= _WINDOW:
            self._window(data[start : start + _WINDOW], self._origin + start)
            start += _STRIDE
        if final and data.shape[0] - start >= _MIN_FRAMES:
            self._window(data[start:], self._origin + start)
            start = data.shape[0]
        self._origin += start
        rest = data[start:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_frames = rest.shape[0]

    def _joined(self) -> IntSamples:
        """The pending blocks in one array: written into one of two kept arrays in turn (the
        tail left pending is a view of the one written last time), not fresh memory."""
        first = self._pending[0]
        self._turn ^= 1
        name = f"joined{self._turn}"
        buffer = self._buffers.get(name)
        frames = self._pending_frames
        if buffer is None or buffer.shape[0] < frames or buffer.dtype != first.dtype:
            buffer = np.empty((max(frames, 2 * _WINDOW), self.channels), first.dtype)
            self._buffers[name] = buffer
        joined: IntSamples = np.concatenate(self._pending, out=buffer[:frames])
        return joined

    def _window(self, values: IntSamples, origin: int) -> None:
        # (channels, frames): rows reshape freely. Both copies go to arrays kept from window to
        # window (no page faults on fresh memory).
        by_channel = self._scratch("samples", values.T.shape, values.dtype)
        np.copyto(by_channel, values.T)
        window = self._scratch("window", values.T.shape, np.dtype(self.dtype))
        np.copyto(window, by_channel, casting="unsafe")
        kept = self._scratch(
            "residual", (self.channels, _residual_frames(window.shape[1])), window.dtype
        )
        residual, coef = _interpolation_residual(window, kept, narrow=self._narrow)
        usable = (residual.shape[1] // _SUB) * _SUB
        if usable == 0:
            return
        residual = residual[:, :usable]
        if self.count_values:
            self._count_pairs(by_channel[:, _EDGE : _EDGE + usable])  # each frame once
        self._drop_clipped(by_channel[:, _EDGE - 1 : _EDGE + usable + 1], residual)
        # Per sub-block sums of r * c, c = 2 b - 1 for bit b, the residual's power and the
        # rows of weighted sums, in one compiled pass. The weight comes from the whole
        # sub-block's power; one sample's own share of it is 1/128 and symmetric in its parity,
        # so it does not bias the sum. The variance under the clean hypothesis counts at least
        # the rounding noise (1/12 LSB^2) per sample: a residual far smaller than that is
        # arithmetic, not evidence (a held constant leaves float round-off that would otherwise
        # give a z growing with the square root of its length). Residual power under 1 LSB^2
        # (silence, or replaced silence) also goes to the sub-LSB column.
        measured = by_channel[:, _EDGE : _EDGE + usable]
        by_sub = residual.reshape(-1, _SUB)
        subs = usable // _SUB
        rows = self._scratch("rows", (subs, self.channels, _COLUMNS), np.dtype(np.float64))
        energy = self._scratch("energy", (self.channels, subs), np.dtype(np.float64))
        parity_rows(residual, measured, _SUB, _FLOOR, rows, energy)
        # Each sub-block's largest |sample|, shared by the floor and the impulse test, its
        # largest |residual|, for the impulse test, and the span of its samples, for the
        # plateaus: one compiled pass over both.
        top, peak, span = subblock_extremes(residual, measured, _SUB)
        plateau = (span <= _PLATEAU_CODES).T
        np.multiply(rows[..., :_PLATEAU], plateau[..., None], out=rows[..., _PLATEAU:])
        self.residual_power += float(energy.sum())
        self.quiet_subblocks += int(np.count_nonzero(energy < 4.0 * _SUB))
        self.subblocks += energy.size
        self._floor_shape(peak.reshape(-1), by_sub, energy.reshape(-1))
        self.impulses.update(
            residual, coef, peak, energy, origin + _EDGE, top=top, samples=measured, full=self._full
        )
        self._add(rows)

    def _floor_shape(
        self, peaks: IntSamples, by_sub: npt.NDArray[np.floating], energy: npt.NDArray[Any]
    ) -> None:
        """Moments of the residual in sub-blocks at the quantisation floor (see ``floor_*``).

        A floor sub-block holds sound (some sample at least ``_FLOOR_PEAK`` LSB from zero, so
        the rounding noise is dense, not a few +-1 in digital silence) predicted to within
        ``_FLOOR_POWER`` LSB^2: its residual is the rounding, dither or converter noise.
        ``peaks``: each sub-block's largest |sample|, in the order of ``energy``.
        """
        power = energy / _SUB
        candidate = (power >= _FLOOR_POWER[0]) & (power <= _FLOOR_POWER[1])
        if not candidate.any():
            return
        chosen = np.flatnonzero(candidate)[peaks[candidate] >= _FLOOR_PEAK]
        if chosen.size == 0:
            return
        rows = by_sub[chosen]
        squares = rows * rows
        fourth = np.einsum("ij,ij->i", squares, squares) / _SUB
        self.floor_blocks += chosen.size
        self.floor_fourth += float(fourth.sum())
        self.floor_square += float((power[chosen] ** 2).sum())
        self.floor_power += float(power[chosen].sum())

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

    def _count_pairs(self, measured: IntSamples) -> None:
        """Samples per value pair and parity: the value folded to 17 bits is both (pair in the
        high bits, parity in the low one); 16-bit values need no folding."""
        for row in measured:
            if row.dtype == np.int16:
                self.pair_parity[: 1 << 16] += np.bincount(row.view(np.uint16), minlength=1 << 16)
            else:
                # In one compiled pass; bin 0 also holds the multiples of 2**17, so the true
                # zeros (the lattice test needs them) are counted apart.
                self.zeros += count_low_bits(row, self.pair_parity)

    def _drop_clipped(self, span: IntSamples, residual: npt.NDArray[np.floating]) -> None:
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
        # Loud samples at full scale or equal to a neighbour, in one compiled pass.
        zero_clipped(span, residual, self._loud, self._full)

    def finish(self) -> npt.NDArray[np.float64]:
        """Per-segment sums, shape (segments, channels, _COLUMNS); the last may be partial."""
        if self._pending_frames:
            self._drain(final=True)
        parts = list(self._segments)
        if self._partial_subblocks:
            parts.append(self._partial[None])
        return np.concatenate(parts) if parts else np.zeros((0, self.channels, _COLUMNS))


def _z(a: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """z = sum(w r c) / sqrt(its variance) of the sums ``a`` and ``v`` (columns _A and _V),
    elementwise; 0 where the variance is 0 (nothing measured)."""
    return np.divide(a, np.sqrt(v), out=np.zeros_like(a), where=v > 0)


def _plateaus_judged(segments: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``segments`` without their plateau sub-blocks' sums when some segment's plateaus read
    a parity bias replacement cannot make (z <= -_Z_FLAG; see _PLATEAU_CODES), else as is."""
    if segments.shape[0] == 0:
        return segments
    z = _z(segments[..., _PLATEAU + _A], segments[..., _PLATEAU + _V])
    if z.min() > -_Z_FLAG:
        return segments
    kept = segments.copy()
    kept[..., :_PLATEAU] -= segments[..., _PLATEAU:]
    kept[..., _PLATEAU:] = 0.0
    return kept


def _prefix_end(cum: npt.NDArray[np.float64]) -> tuple[int, float]:
    """End segment and z of the best prefix of cumulative sums ``cum`` (segments, _COLUMNS)."""
    first = min(max(math.ceil(_PREFIX_MIN_SHARE * len(cum)) - 1, 0), len(cum) - 1)
    z = _z(cum[first:, _A], cum[first:, _V])
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
    segments = _plateaus_judged(segments)
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


def _statistically_replaced(stats: dict[str, float], estimated: float, determinism: float) -> bool:
    """The flag rule; thresholds measured by bench/stego_eval.py (see the module docstring)."""
    if stats["prefix_z"] < _Z_FLAG or estimated < _FRACTION_FLAG:
        return False
    # Replacing a share f of the low bits leaves a determinism of at most about 1 - f. A low bit
    # that follows the level more than that (digital gain near 2x) cannot hold the estimated
    # payload: the parity-residual correlation comes from the gain.
    if estimated > 1.0 - determinism + _DETERMINISM_SLACK:
        return False
    # Nor can the low bits be replaced at all where they all follow the level: replacing a
    # share f makes f of them a coin (see _OVERSTATED).
    if determinism > 1.0 - estimated / _OVERSTATED:
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


def judge_parity(
    parity: ParityStatistics, value_counts: npt.NDArray[np.integer] | None = None
) -> tuple[dict[str, float], float, Finding | None]:
    """Finish ``parity`` and judge it.

    Returns its features (keys of the analyzer's ``FEATURE_NAMES``), the estimated share of
    low bits replaced (0 where the z-score is too low to estimate), and ``stego.lsb_statistical``
    when the flag rule holds, else None. ``value_counts``: a histogram of the whole file's 16-bit
    values (65536 bins, uint16 order) to use instead of the pairs ``parity`` counted itself.
    """
    stats = _parity_estimates(parity.finish())
    features = dict(stats)
    features["statistics"] = 1.0
    subblocks = max(parity.subblocks, 1)
    features["quiet_share"] = parity.quiet_subblocks / subblocks
    features["residual_rms"] = math.sqrt(parity.residual_power / (subblocks * _SUB))
    pairs = parity.pair_parity if value_counts is None else value_counts
    determinism = lsb_determinism(pairs)
    features["lsb_determinism"] = determinism
    features["floor_blocks"] = float(parity.floor_blocks)
    if parity.floor_blocks:
        features["floor_power"] = parity.floor_power / parity.floor_blocks
        features["floor_kurtosis"] = parity.floor_fourth / max(parity.floor_square, 1e-12)
    estimated = 0.0
    if stats["prefix_z"] >= _Z_ESTIMATE:
        estimated = min(max(stats["prefix_fraction"], 0.0), 1.0)
    features["estimated_fraction"] = estimated
    if _statistically_replaced(stats, estimated, determinism):
        return features, estimated, _statistical_finding(stats, estimated)
    return features, estimated, None
