"""Low bits split in value pairs on a comb: LSB replacement in audio made coarser than stored.

Audio made at a lower precision and stored wider *through a gain* does not sit on a
power-of-two lattice (:mod:`~audiomodel.stego.lattice`) but on a comb: 16-bit sound scaled by
-0.25 dB at 32 bits and written as 24 bits takes the values ``round(248.7 n)``, one value per
tooth and ~248 empty values between teeth. Any gain, fade or resampling of coarse sound
computed at the wider precision and rounded once does the same: each tooth is exactly one
value wide, because rounding is a function of the tooth.

LSB replacement writes the payload bit over bit 0, so a tooth at ``t`` spreads to its *pair
partner* ``t ^ 1`` and never to its other neighbour: teeth become runs of two values that
always start on an even value (``{2m, 2m + 1}``). Nothing physical pairs values that way.
Noise of any kind (a converter's, TPDF dither at the container's LSB, LSB matching's +-1)
spreads a tooth to both neighbours alike, so its two-value runs start on an even value half
the time, whatever the comb's step; a recording's histogram is dense (runs hundreds of values
long) or, for a few samples spread over many values, holds isolated values whose rare
neighbours fall on either side at random. The measure is therefore the share of two-value
runs that are pair-aligned, in the histogram of the quiet samples (|value| < 2**16 of the
stored width), where a comb's teeth are dense enough to count: a binomial count with an
expected 1/2 under every innocent cause.

What this does not see: LSB *matching* on a comb (+-1 reads as dither at the container's LSB,
which this test deliberately spares; see :mod:`~audiomodel.stego.lattice` for the
power-of-two case), combs with a step under 4 (teeth touch), and payloads in loud passages
only (the teeth are counted where the samples are quiet).

Estimate: a tooth of mass ``M`` replaced at a share ``p`` keeps ``(1 - p / 2) M`` and gives
``p M / 2`` to its partner, so the share of the quiet samples replaced is twice the minor
half's share of the comb's mass (random payload bits; a structured payload is understated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["NEAR_BITS", "CombEstimate", "comb_estimate", "comb_flagged", "judge_comb"]

NEAR_BITS = 16  # the histogram covers values in [-2**16, 2**16)
_MIN_PAIRS = 32  # two-value runs needed to judge
_MIN_ALIGNED = 0.9  # pair-aligned share of them (innocent: 1/2)
_MIN_Z = 6.0  # binomial z of the aligned count against 1/2
_MIN_GAP = 4  # median gap between runs: the teeth stand apart
_MIN_COMB_MASS = 0.9  # share of the counted samples in runs of one or two values
_MIN_SAMPLES = 1000  # counted samples


@dataclass(frozen=True)
class CombEstimate:
    """Two-value runs of a value histogram and how many are pair-aligned.

    ``runs``: runs of populated values; ``pairs``: runs of exactly two; ``aligned``: those
    starting on an even value; ``comb_mass``: share of the samples in runs of one or two;
    ``median_gap``: empty values between runs (median); ``used_share``: estimated share of
    the counted samples whose low bit was replaced; ``samples``: counted samples.
    """

    runs: int = 0
    pairs: int = 0
    aligned: int = 0
    comb_mass: float = 0.0
    median_gap: float = 0.0
    used_share: float = 0.0
    samples: int = 0

    @property
    def aligned_share(self) -> float:
        return self.aligned / self.pairs if self.pairs else 0.0

    @property
    def z(self) -> float:
        """Binomial z of the aligned count against an even split."""
        if not self.pairs:
            return 0.0
        return (self.aligned - self.pairs / 2.0) / math.sqrt(self.pairs / 4.0)


def populated_runs(
    hist: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Where each run of populated bins of ``hist`` starts and ends (one past its last)."""
    populated = np.concatenate(([False], hist > 0, [False]))
    edges = np.flatnonzero(populated[1:] != populated[:-1])  # starts and ends, alternating
    return edges[0::2], edges[1::2]


def comb_estimate(counts: npt.NDArray[np.integer], offset: int = 0) -> CombEstimate:
    """Measure the runs of ``counts``, a histogram whose bin ``i`` holds value ``i - offset``.

    ``offset`` must be even, so a bin's parity is its value's.
    """
    if offset % 2:
        raise ValueError(f"offset must be even, got {offset}")
    hist = np.asarray(counts, dtype=np.int64)
    total = int(hist.sum())
    if total == 0:
        return CombEstimate()
    starts, ends = populated_runs(hist)
    widths = ends - starts
    mass = np.add.reduceat(hist, starts)
    short = widths <= 2
    two = widths == 2
    gaps = starts[1:] - ends[:-1]
    pair_starts = starts[two]
    minor = np.minimum(hist[pair_starts], hist[pair_starts + 1])
    comb_total = float(mass[short].sum())
    # The minor half of a replaced tooth holds p/2 of it; the teeth left whole count as p = 0.
    used = min(1.0, 2.0 * float(minor.sum()) / comb_total) if comb_total else 0.0
    return CombEstimate(
        runs=int(starts.size),
        pairs=int(two.sum()),
        aligned=int(np.count_nonzero(pair_starts % 2 == 0)),
        comb_mass=comb_total / total,
        median_gap=float(np.median(gaps)) if gaps.size else 0.0,
        used_share=used,
        samples=total,
    )


def comb_flagged(estimate: CombEstimate) -> bool:
    """The flag rule: enough pair-aligned two-value runs on a comb of isolated teeth."""
    return (
        estimate.samples >= _MIN_SAMPLES
        and estimate.pairs >= _MIN_PAIRS
        and estimate.aligned_share >= _MIN_ALIGNED
        and estimate.z >= _MIN_Z
        and estimate.median_gap >= _MIN_GAP
        and estimate.comb_mass >= _MIN_COMB_MASS
    )


def judge_comb(estimate: CombEstimate, bits_per_sample: int, samples: int) -> Finding | None:
    """``stego.lsb_below_noise_floor`` for low bits split in value pairs on a comb.

    ``samples``: all samples of the file, for the payload estimate (the share measured on the
    quiet samples, taken as the file's).
    """
    if not comb_flagged(estimate):
        return None
    payload_bytes = estimate.used_share * samples / 8.0
    return finding(
        "stego.lsb_below_noise_floor",
        f"The quiet samples sit on a comb of isolated values (sound made coarser than its "
        f"{bits_per_sample}-bit container, then scaled), yet {estimate.aligned} of "
        f"{estimate.pairs} teeth that spread to a second value spread to their low-bit pair "
        f"partner only (noise spreads to either side alike): the low bit was replaced "
        f"(about {payload_bytes:,.0f} bytes, {estimate.used_share:.0%} of a 1-bit capacity).",
        comb_teeth=estimate.runs,
        comb_pairs=estimate.pairs,
        pair_aligned=estimate.aligned,
        comb_gap=round(estimate.median_gap, 1),
        estimated_fraction=round(estimate.used_share, 3),
        estimated_payload_bytes=round(payload_bytes),
        payload_planes=1,
    )
