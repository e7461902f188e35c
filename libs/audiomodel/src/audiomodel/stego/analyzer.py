"""LSB steganalysis of integer PCM, streamed: carving and the parity statistic over one pass.

The threat is a real recording whose least significant bit(s) carry a payload, wholly or from
the first sample on for part of the file (the WAV loaders described by Turla in 2019 and by
BlackBerry Cylance in 2019 hid PE files this way). :class:`LsbAnalyzer` takes the blocks the
validator decodes anyway and runs two lines of attack over them, with memory bounded by
``carve_bytes`` x 8 frames of low bits plus at most 8192 segment sums per channel:
:mod:`~audiomodel.stego.carving` (payloads with a recognisable head, and length headers before
random bytes) and :mod:`~audiomodel.stego.statistics` (the share of low bits replaced). What
each can and cannot detect, with the measurements: ``libs/audiomodel/docs/steganalysis.md``.

Input: blocks of integer samples as stored, shape (frames, channels), in file order. 16-bit
audio comes as int16. Wider samples come as int32 **left-justified** (what
soundfile reads with ``dtype="int32"``: a 24-bit sample ``s`` arrives as ``s << 8``);
pass ``justify="right"`` for right-justified values. 8-bit PCM comes as int16 from soundfile
(``s << 8``; unsigned 8-bit WAV is read signed, which keeps the parity) or int8/int16
right-justified. In 8 bits the quantisation step is coarse next to the sound's own noise in
most recordings made at 16 bits and rendered down, so the interpolator predicts it to about
one LSB and the parity statistic works better than at 16 bits.
Float blocks are skipped (a float file has no integer low bits to replace). Lossy-decoded
audio (MP3, Ogg, AAC decoded by the validator) must not be given here: its low bits are the
decoder's rounding, and a payload could not survive the encoder anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, Severity
from audiomodel.stego.carving import carve
from audiomodel.stego.comb import NEAR_BITS, CombEstimate, comb_estimate, judge_comb
from audiomodel.stego.impulses import IMPULSE_FEATURES, judge_impulses
from audiomodel.stego.kernels import count_near_zero
from audiomodel.stego.lattice import judge_lattice, lattice_estimate
from audiomodel.stego.noise_floor import (
    FLOOR_FEATURES,
    STRETCH_FRAMES,
    NoiseFloor,
    judge_floor,
    load_floor_model,
    summarise_floor,
)
from audiomodel.stego.satellites import (
    SatelliteEstimate,
    judge_satellites,
    satellite_estimate,
)
from audiomodel.stego.statistics import IntSamples, ParityStatistics, judge_parity

__all__ = ["FEATURE_NAMES", "LsbAnalyzer", "StegoReport", "analyse_lsb"]

# Keys of StegoReport.features: "analysed" is 0 for float input, "statistics" 0 for input too
# short to measure (or statistics=False). "lattice_*": see audiomodel.stego.lattice; "comb_*":
# audiomodel.stego.comb; "impulse_*": audiomodel.stego.impulses; "floor_*" from floor_stretches
# on: audiomodel.stego.noise_floor.
FEATURE_NAMES = (
    "frames",
    "analysed",
    "statistics",
    "carve_streams",
    "carve_hits",
    "ws_rate",
    "ws_z",
    "bit1_rate",
    "prefix_rate",
    "prefix_z",
    "prefix_share",
    "prefix_fraction",
    "prefix_channel",
    "sublsb_share",
    "quiet_share",
    "residual_rms",
    "lsb_determinism",
    "estimated_fraction",
    "floor_blocks",
    "floor_power",
    "floor_kurtosis",
    "lattice_bits",
    "lattice_off_share",
    "lattice_fraction",
    "comb_pairs",
    "comb_aligned_share",
    "comb_fraction",
    *IMPULSE_FEATURES,
    *FLOOR_FEATURES,
)


@dataclass
class StegoReport:
    """What the LSB analysis found."""

    findings: list[Finding]
    estimated_fraction: float  # estimated share of low bits replaced (0..1)
    features: dict[str, float] = field(default_factory=dict)  # statistics, for model and evidence


class LsbAnalyzer:
    """Streamed LSB steganalysis of integer PCM blocks; see the module docstring.

    Parameters
    ----------
    bits_per_sample : int
        Bits of the stored samples: 8, 16, 24 or 32.
    channels : int
        Channels per frame.
    carve_bytes : int
        Bytes of each carved stream (the first ``carve_bytes`` of its capacity).
    justify : {"left", "right"}
        Where a sample narrower than its container dtype sits: ``"left"`` (soundfile's int32
        for 24-bit, int16 for 8-bit) or ``"right"`` (the value as is).
    statistics : bool
        Run the parity statistics and the lattice test (off: carving only).
    count_values : bool
        Count the samples per value pair for ``lsb_determinism``. A caller that already keeps
        a histogram of the 16-bit values passes False and hands it to :meth:`report`.
    """

    def __init__(
        self,
        *,
        bits_per_sample: int,
        channels: int,
        carve_bytes: int = 1 << 16,
        justify: Literal["left", "right"] = "left",
        statistics: bool = True,
        count_values: bool = True,
    ) -> None:
        if bits_per_sample not in (8, 16, 24, 32):
            raise ValueError(f"bits_per_sample must be 8, 16, 24 or 32, got {bits_per_sample}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if carve_bytes < 64:
            raise ValueError(f"carve_bytes must be >= 64, got {carve_bytes}")
        if justify not in ("left", "right"):
            raise ValueError(f"justify must be 'left' or 'right', got {justify!r}")
        self.bits_per_sample = bits_per_sample
        self.channels = channels
        self.carve_bytes = carve_bytes
        self.justify = justify
        self._frames = 0
        self._skipped: str | None = None
        self._rolled: npt.NDArray[np.int64] | None = None  # see _by_value
        # Per-channel 1-bit streams need 8 frames per byte; the rest need fewer.
        self._carve_frames = 8 * carve_bytes
        self._low = np.zeros((self._carve_frames, channels), dtype=np.uint8)
        self._low_frames = 0
        wide = bits_per_sample > 24
        self._stats = (
            ParityStatistics(
                channels, np.float64 if wide else np.float32, bits_per_sample, count_values
            )
            if statistics
            else None
        )
        # The floor's thresholds were fit on 8- and 16-bit covers; in wider samples the LSB
        # sits far below any converter's noise and no band is empty at that scale.
        self._floor = NoiseFloor(channels) if statistics and bits_per_sample <= 16 else None
        # The quiet samples' histogram at full resolution, for the comb test on wide samples
        # (16-bit files use the value histogram whole; 8 bits hold too few values for a comb).
        self._near = (
            np.zeros(2 << NEAR_BITS, dtype=np.int64)
            if statistics and bits_per_sample > 16
            else None
        )

    def _values(self, block: npt.NDArray[np.generic]) -> IntSamples | None:
        """The stored integers right-justified (int16 for 16-bit, else int32), or None for float."""
        if np.issubdtype(block.dtype, np.floating):
            self._skipped = "float samples have no integer low bits"
            return None
        if not np.issubdtype(block.dtype, np.integer):
            raise ValueError(f"blocks must be integer samples, got {block.dtype}")
        arr = block.reshape(-1, 1) if block.ndim == 1 else block
        if arr.ndim != 2 or arr.shape[1] != self.channels:
            raise ValueError(f"blocks must be (frames, {self.channels}), got {block.shape}")
        container_bits = arr.dtype.itemsize * 8
        if container_bits < self.bits_per_sample:
            raise ValueError(f"{arr.dtype} cannot hold {self.bits_per_sample}-bit samples")
        shift = container_bits - self.bits_per_sample if self.justify == "left" else 0
        if arr.dtype == np.int16 and shift == 0:
            # A copy: the statistics keep a tail across calls, and a caller may refill its
            # buffer (soundfile's blocks(out=...) does).
            return np.array(arr, dtype=np.int16, order="C")
        if arr.dtype.kind == "i" and container_bits <= 32:
            # Signed and at most 32 bits: the arithmetic shift in int32 gives the values of the
            # int64 detour, in one fresh array (a copy: see above).
            shifted: npt.NDArray[np.int32] = np.right_shift(arr, shift, dtype=np.int32)
            return shifted
        wide: npt.NDArray[np.int64] = np.asarray(arr, dtype=np.int64)
        return np.asarray(wide >> shift, dtype=np.int32)

    def update(self, block: np.ndarray) -> None:
        """Take the next block of integer samples as stored, shape (frames, channels)."""
        values = self._values(block)
        if values is None or values.shape[0] == 0:
            return
        if self._low_frames < self._carve_frames:
            take = min(values.shape[0], self._carve_frames - self._low_frames)
            # The low byte: carving reads the low 1-2 bits, the header test the bits above them.
            self._low[self._low_frames : self._low_frames + take] = (values[:take] & 0xFF).astype(
                np.uint8
            )
            self._low_frames += take
        self._frames += values.shape[0]
        if self._stats is not None:
            self._stats.update(values)
        if self._floor is not None:
            self._floor.update(values)
        if self._near is not None:
            count_near_zero(values, self._near, 1 << NEAR_BITS)

    @property
    def wants_value_counts(self) -> bool:
        """Made with ``count_values=False``: :meth:`report` needs the 16-bit histogram."""
        return self._stats is not None and not self._stats.count_values

    def report(self, value_counts: npt.NDArray[np.integer] | None = None) -> StegoReport:
        """Carve the buffered low bits, finish the statistics and judge.

        ``value_counts``: a histogram of the whole file's 16-bit values (65536 bins, uint16
        order), for an analyzer made with ``count_values=False``.
        """
        # The same keys for every file (zeros where nothing was measured), for the learned model.
        features = dict.fromkeys(FEATURE_NAMES, 0.0)
        features["frames"] = float(self._frames)
        if self._skipped is not None or self._frames == 0:
            return StegoReport([], 0.0, features)
        features["analysed"] = 1.0
        findings, carve_features = carve(
            self._low[: self._low_frames], self._frames, self.channels, self.carve_bytes
        )
        features.update(carve_features)
        estimated = 0.0
        if self._stats is not None:
            parity_features, estimated, flagged = judge_parity(self._stats, value_counts)
            features.update(parity_features)
            if flagged is not None:
                findings.append(flagged)
            wide = value_counts is None and self.bits_per_sample > 16
            lattice = lattice_estimate(
                self._low16(value_counts),
                self.bits_per_sample,
                zeros=self._stats.zeros if wide else None,
            )
            features["lattice_bits"] = float(lattice.step_bits)
            features["lattice_off_share"] = lattice.off_share
            features["lattice_fraction"] = lattice.used_share
            below_floor = judge_lattice(lattice, self.bits_per_sample)
            used = lattice.used_share
            comb = self._comb(value_counts)
            if comb is not None:
                features["comb_pairs"] = float(comb.pairs)
                features["comb_aligned_share"] = comb.aligned_share
                features["comb_fraction"] = comb.used_share
                if below_floor is None:  # a lattice is a comb too: one finding is enough
                    below_floor = judge_comb(
                        comb, self.bits_per_sample, self._frames * self.channels
                    )
                    used = comb.used_share
            if below_floor is None:  # +-1 spread evenly over a comb's teeth
                satellites = self._satellites(value_counts)
                if satellites is not None:
                    below_floor = judge_satellites(
                        satellites, self.bits_per_sample, self._frames * self.channels
                    )
                    used = min(1.0, 2.0 * satellites.changed_share)
            if below_floor is not None:
                findings.append(below_floor)
                estimated = max(estimated, used)
                features["estimated_fraction"] = estimated
        if self._floor is not None:
            model = load_floor_model()
            floors = self._floor.finish()
            summary = summarise_floor(floors, model.empty_below, self._floor.spectra())
            features.update(summary.features())
            excess = judge_floor(
                summary,
                model,
                samples=self._frames * self.channels,
                bits_per_sample=self.bits_per_sample,
                stretch_frames=STRETCH_FRAMES,
            )
            if excess is not None:
                findings.append(excess)
                if excess.severity > Severity.INFO:
                    estimated = max(estimated, float(excess.evidence["estimated_fraction"]))
                    features["estimated_fraction"] = estimated
        if self._stats is not None:
            impulses = self._stats.impulses
            features.update(impulses.features())
            displaced = judge_impulses(
                impulses,
                changed_share=features.get("floor_changed_share", 0.0),
                samples=self._frames * self.channels,
            )
            if displaced is not None:
                findings.append(displaced)
        return StegoReport(findings, estimated, features)

    def _comb(self, value_counts: npt.NDArray[np.integer] | None) -> CombEstimate | None:
        """The comb test's runs: the quiet samples of wide files, every 16-bit value."""
        if self._near is not None:
            return comb_estimate(self._near, 1 << NEAR_BITS)
        if self.bits_per_sample == 16:
            return comb_estimate(self._by_value(value_counts), 1 << 15)
        return None

    def _satellites(self, value_counts: npt.NDArray[np.integer] | None) -> SatelliteEstimate | None:
        """The satellite test on the comb test's histogram (see :meth:`_comb`)."""
        if self._near is not None:
            return satellite_estimate(self._near, 1 << NEAR_BITS)
        if self.bits_per_sample == 16:
            return satellite_estimate(self._by_value(value_counts), 1 << 15)
        return None

    def _by_value(self, value_counts: npt.NDArray[np.integer] | None) -> npt.NDArray[np.int64]:
        """The 16-bit histogram in value order, offset 32768 (from uint16 order: 0..32767, then
        -32768..-1), made once for the comb and satellite tests (neither writes to it)."""
        if self._rolled is None:
            self._rolled = np.roll(self._low16(value_counts), 1 << 15)
        return self._rolled

    def _low16(self, value_counts: npt.NDArray[np.integer] | None) -> npt.NDArray[np.int64]:
        """Histogram of the samples' low 16 bits (index ``value & 0xFFFF``)."""
        if value_counts is not None:
            return np.asarray(value_counts, dtype=np.int64)
        assert self._stats is not None
        pairs = self._stats.pair_parity  # folded to 17 bits
        return pairs[: 1 << 16] + pairs[1 << 16 :]


def analyse_lsb(
    blocks: Iterable[np.ndarray],
    *,
    bits_per_sample: int,
    channels: int,
    carve_bytes: int = 1 << 16,
    justify: Literal["left", "right"] = "left",
    statistics: bool = True,
) -> StegoReport:
    """Run :class:`LsbAnalyzer` over ``blocks`` (see it for the parameters) and report."""
    analyzer = LsbAnalyzer(
        bits_per_sample=bits_per_sample,
        channels=channels,
        carve_bytes=carve_bytes,
        justify=justify,
        statistics=statistics,
    )
    for block in blocks:
        analyzer.update(block)
    return analyzer.report()
