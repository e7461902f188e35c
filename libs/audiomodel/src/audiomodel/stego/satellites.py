"""+-1 satellites of a comb's teeth, even on both sides: +-1 embedding in audio made coarser.

Audio made at a lower precision and stored wider through a gain sits on a comb: 8-bit sound
scaled by 0.35 and written as 16 bits takes the values ``round(88.7 n)``, one value per tooth
and ~88 empty values between (:mod:`~audiomodel.stego.comb`). The comb test looks at LSB
*replacement* there (a tooth spreads to its low-bit pair partner only) and spares +-1 spread,
which TPDF dither at the container's LSB also leaves. This test separates the two by *how much*
spreads and *how evenly*:

- +-1 embedding (LSB matching; steghide, whose value exchanges find no partner an odd distance
  away on a comb and fall back to +-1) moves a share ``c`` of the stored integers by +1 or -1 at
  random, whatever the sound: every tooth keeps ``1 - c`` of its samples and gives ``c / 2`` to
  each neighbour, the same share at every tooth and on both sides. Measured (train split, three
  gained 8-bit clips in 16 bits, steghide at 25 % of its capacity): 3.1-3.2 % to each side of
  every tooth (6.3 % of the samples changed), nothing 2 or more away; at 5 % about 1.3 %
  change, 0.65 % a side.
- TPDF dither on the stored integers (a format conversion that always dithers) gives exactly
  1/8 to each side, more than embedding gives up to ~35 % of a 1-bit capacity as LSB matching
  or ~75 % of steghide's: told apart by the share (``_MAX_SIDE``).
- Noise or dither added *before* the rounding that made the comb (the usual case: the gain and
  the dither computed at once) rounds each tooth's true value ``88.7 n`` with its own fraction:
  a tooth whose value was rounded down by 0.4 spreads up far more than down, and the next tooth
  the other way. The spread is then uneven tooth by tooth: the test asks every tooth's two
  sides to hold the common share within binomial scatter (``_MAX_DISPERSION``).
- A comb that is a recording's (sparse values of a quiet sound) or a mix has runs of many
  values: the comb must hold nearly all the samples in runs of at most three values
  (``_MIN_COMB_MASS``), teeth far apart (``_MIN_GAP``).

What this does not see: a comb with a step under ``_MIN_GAP`` (satellites of neighbouring teeth
touch), embedding above those shares (it reads as dither), and power-of-two
lattices (:mod:`~audiomodel.stego.lattice` flags those whatever the spread).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding
from audiomodel.stego.comb import populated_runs

__all__ = ["SatelliteEstimate", "judge_satellites", "satellite_estimate", "satellites_flagged"]

_MIN_TOOTH = 64  # samples a tooth needs to be measured
_MIN_TEETH = 16  # measured teeth needed to judge
_MIN_GAP = 8  # median distance between teeth, in values
_MIN_COMB_MASS = 0.98  # share of the counted samples in measured teeth and their satellites
_MIN_SATELLITES = 64  # samples beside the teeth, both sides together
_MIN_SIDE, _MAX_SIDE = 0.002, 0.09  # share of a tooth on each side (TPDF dither: 0.125)
_MAX_SKEW_Z = 4.0  # the two sides' totals may differ by this many binomial sigmas
_MAX_DISPERSION = 2.0  # the teeth's sides around the common share: chi-square per degree


@dataclass(frozen=True)
class SatelliteEstimate:
    """The comb's teeth and their +-1 satellites.

    ``teeth``: measured teeth; ``comb_mass``: share of the counted samples in them with
    their satellites; ``median_gap``: distance between neighbouring teeth (median); ``below``, ``above``:
    samples one value under and over the measured teeth; ``mass``: samples of the measured
    teeth with their satellites; ``side_share``: the satellites' share of ``mass``, per side;
    ``skew_z``: the two sides' difference in binomial sigmas; ``dispersion``: chi-square per
    degree of freedom of the teeth's sides around ``side_share`` (1 for an even spread).
    """

    teeth: int = 0
    comb_mass: float = 0.0
    median_gap: float = 0.0
    below: int = 0
    above: int = 0
    mass: int = 0
    side_share: float = 0.0
    skew_z: float = 0.0
    dispersion: float = 0.0

    @property
    def changed_share(self) -> float:
        """Share of the counted samples moved by +-1 (both sides)."""
        return 2.0 * self.side_share


def satellite_estimate(counts: npt.NDArray[np.integer], offset: int = 0) -> SatelliteEstimate:
    """Measure ``counts``, a histogram whose bin ``i`` holds value ``i - offset``."""
    hist = np.asarray(counts, dtype=np.int64)
    total = int(hist.sum())
    if total == 0:
        return SatelliteEstimate()
    starts, ends = populated_runs(hist)
    widths = ends - starts
    if starts.size < _MIN_TEETH:
        return SatelliteEstimate()
    # A tooth is the fullest value of a run of at most three; its satellites are the run's
    # other values, which must be its direct neighbours (a run of three centred on it).
    short = widths <= 3
    padded = np.concatenate([hist, [0, 0, 0]])
    first = np.where(short, starts, 0)
    window = np.stack([padded[first + k] for k in range(3)], axis=1)  # the run's values
    window[np.arange(3)[None, :] >= np.where(short, widths, 0)[:, None]] = 0
    peak_at = window.argmax(axis=1)
    centred = short & ((widths <= 2) | (peak_at == 1))
    tooth = first + peak_at  # value index of each run's fullest bin
    lower = np.where(tooth - 1 >= first, hist[np.maximum(tooth - 1, 0)], 0)
    upper = np.where(tooth + 1 < first + widths, hist[np.minimum(tooth + 1, hist.size - 1)], 0)
    centre = hist[tooth]
    mass = centre + lower + upper
    measured = centred & (mass >= _MIN_TOOTH)
    if not measured.any():
        return SatelliteEstimate()
    gaps = np.diff(tooth[measured])
    m = mass[measured].astype(np.float64)
    below, above = lower[measured], upper[measured]
    share = float((below.sum() + above.sum()) / (2.0 * m.sum()))
    sides = float(below.sum() + above.sum())
    skew = float(abs(int(above.sum()) - int(below.sum()))) / max(np.sqrt(sides), 1.0)
    expected = np.maximum(share * m, 1e-9)
    chi = (((below - expected) ** 2 + (above - expected) ** 2) / expected).sum()
    return SatelliteEstimate(
        teeth=int(np.count_nonzero(measured)),
        comb_mass=float(m.sum()) / total,
        median_gap=float(np.median(gaps)) if gaps.size else 0.0,
        below=int(below.sum()),
        above=int(above.sum()),
        mass=int(m.sum()),
        side_share=share,
        skew_z=skew,
        dispersion=float(chi / (2 * m.size)),
    )


def satellites_flagged(estimate: SatelliteEstimate) -> bool:
    """The flag rule: a comb of isolated teeth, each spread by +-1 evenly and thinly."""
    return (
        estimate.teeth >= _MIN_TEETH
        and estimate.comb_mass >= _MIN_COMB_MASS
        and estimate.median_gap >= _MIN_GAP
        and estimate.below + estimate.above >= _MIN_SATELLITES
        and _MIN_SIDE <= estimate.side_share <= _MAX_SIDE
        and estimate.skew_z <= _MAX_SKEW_Z
        and estimate.dispersion <= _MAX_DISPERSION
    )


def judge_satellites(
    estimate: SatelliteEstimate, bits_per_sample: int, samples: int
) -> Finding | None:
    """``stego.lsb_below_noise_floor`` for +-1 satellites spread evenly over a comb's teeth.

    ``samples``: all samples of the file, for the payload estimate (the changed share measured
    on the counted samples, taken as the file's).
    """
    if not satellites_flagged(estimate):
        return None
    changed = estimate.changed_share
    matching = min(1.0, 2.0 * changed)  # LSB matching changes half the samples it uses
    steghide = min(1.0, changed / 0.24)  # steghide changes ~0.24 of the samples at capacity
    payload_bytes = matching * samples / 8.0
    return finding(
        "stego.lsb_below_noise_floor",
        f"The samples sit on a comb of {estimate.teeth} isolated values (sound made coarser "
        f"than its {bits_per_sample}-bit container, then scaled), and every tooth gives the same "
        f"{estimate.side_share:.1%} of its samples to each of its two neighbours and none "
        f"further: {changed:.1%} of the samples moved by +-1 at random, as +-1 embedding does "
        f"(dither gives 12.5 % a side; noise before the rounding spreads each tooth unevenly). "
        f"About {payload_bytes:,.0f} bytes ({matching:.0%} of a 1-bit capacity as LSB matching, "
        f"{steghide:.0%} of steghide's).",
        comb_teeth=estimate.teeth,
        comb_gap=round(estimate.median_gap, 1),
        satellite_share_per_side=round(estimate.side_share, 4),
        satellite_skew_z=round(estimate.skew_z, 2),
        satellite_dispersion=round(estimate.dispersion, 2),
        changed_share=round(changed, 4),
        estimated_fraction=round(matching, 3),
        steghide_capacity_fraction=round(steghide, 3),
        estimated_payload_bytes=round(payload_bytes),
        payload_planes=1,
    )
