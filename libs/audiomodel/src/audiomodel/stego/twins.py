"""Twin channels broken sample by sample: a per-sample embedder in mono stored as stereo.

A mono source stored as two channels (speech, a mono recording, an upmixed clip; about half of
the corpus' stereo files) holds the same integer in both: the one rounding of one value. Every
honest path keeps that identity or breaks it densely:

- no dither, a centred pan, a lossless or joint-stereo codec: ``S = L - R`` is 0 everywhere;
- dither drawn per channel: TPDF leaves ``L != R`` in 41-50 % of the frames whatever the level
  (for a fractional part f of the common value: 0.41 at f = 0, 0.5 at f = 1/2; the good files
  read 0.43-0.50), noise-shaped dither more;
- a small gain between the channels: the two round apart where the level is high, always to the
  same side of the mid (sign of ``S`` follows the sign of ``M = L + R``), in runs;
- a lossy codec's faint side (Vorbis or MP3 coding of a near-mono mix): a band-limited wave a
  fraction of a step high, whose roundings come in correlated runs and signs.

An embedder that writes samples one by one without regard to the channel layout (steghide: an
exchange of values or a +-1 at a keyed pseudo-random sample; LSB matching or replacement at
random positions) changes each channel on its own, so the twins part on a share ``r`` of the
frames near ``2 q`` for a change rate ``q`` per sample (steghide at a share c of its capacity
changes ``q ~ c / 4``: 2.5 % of the frames at 5 %, 12-13 % at 25 %, 27 % at 60 %), by +-1 mostly,
at frames independent of one another, of the level and of the sound's sign. That is
nothing a recording, converter or codec makes: fewer parted frames than any per-channel dither,
white in occurrence and in sign.

The reader counts, over the frames whose mid is neither near silence nor near full scale
(a 64-frame segment peaking over 64 steps; the frame under full scale), the parted frames, the
share of them parted by an odd step (one channel's parity changed; steghide's exchanges in sparse
loud passages are odd steps of 3-19), the lag products
of the parted-frame indicator and of the side's sign at lags 1-8 (Ljung-Box style, against
independence), the sign of ``S`` against the sign of ``M``, and the parted share per window of
4,096 frames (their dispersion). Lossless integer PCM, two channels only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding
from audiomodel.quiet_codes import stored_steps

__all__ = ["TwinChannelsScanner", "twin_scanner"]

LAGS = 8
WINDOW = 4096
MIN_FRAMES = 4096  # judged frames (about 0.1 s at 44.1 kHz)
MIN_PARTED = 64
MIN_SHARE = 0.004  # under this a clip is twins with a few odd frames (a clipped edit, a fade)
MAX_SHARE = 0.36  # per-channel TPDF dither parts 0.41-0.5 of the frames; good files 0.43+
MAX_Q = 40.0  # sum of 8 squared lag z-scores (chi-square, 8 dof: p ~ 2e-6)
MAX_SIGN = 0.1  # |mean sign(S) sign(M)| beyond sampling error (a gain: 1.0)
# windows' parted counts: variance over the binomial's (steghide in 22.05 kHz speech: up to 37;
# a parting bound to the level, as a gain's: 246-2,300)
MAX_DISPERSION = 50.0
QUIET_MID = 64
SEGMENT = 64
MIN_ODD = 0.8  # parted by an odd step (one channel's parity changed; steghide 0.9+)
CHUNK = 1 << 15  # frames read at a time (a multiple of SEGMENT)
# When to stop reading (the answer settled): once the parted frames k of the n judged so far
# reach SETTLE_SHARE n + SETTLE_FRAMES. A flaggable file parts on r <= MAX_SHARE of its frames;
# an embedder that picks its samples by a keyed permutation over the whole file (steghide) parts
# its frames evenly, so k - r n is a walk with no drift. Its chance of ever crossing the line
# a + b n (a = SETTLE_FRAMES, b = SETTLE_SHARE - MAX_SHARE), checked at any n, is at most
# exp(-2 a b / v) for a per-frame variance v (the maximal inequality for sub-Gaussian walks):
# v = D / 4 allows the windows' counts D = MAX_DISPERSION times the binomial's spread, which the
# rule itself accepts, and gives exp(-8 a b / D) = exp(-20). Honest files cross it early: TPDF
# dither (0.41-0.50 parted) after 38-210 k judged frames, shaped dither and real images (0.95+)
# after 7 k. What it gives up: a file whose first seconds part like dither and whose long rest
# is near twins (a later local embedding) is no longer read to its end (see FINDINGS).
SETTLE_SHARE = 0.39
SETTLE_FRAMES = 4167.0


class TwinChannelsScanner:
    """``update(stored)`` with each block of a 2-channel integer PCM track's stored values
    (frames, 2), then ``report()``."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.full = 1 << (bits - 1)  # a channel's full scale, in its own steps
        self.frames = 0  # judged frames
        self.parted = 0
        self.units = 0
        self.odd = 0
        self.sign_mid = 0
        self.act_lag = np.zeros(LAGS)
        self.ind_lag = np.zeros(LAGS)
        self.sgn_lag = np.zeros(LAGS)
        self._tail_act = np.zeros(0, dtype=np.bool_)
        self._tail_sgn = np.zeros(0, dtype=np.int8)
        self.windows: list[tuple[int, int]] = []  # (judged, parted) per WINDOW frames
        self._win = [0, 0, 0]  # frames seen, judged, parted in the open window
        self.dead = False  # the twins part too often, or never were twins: stop reading

    def update(self, stored: npt.NDArray[np.integer]) -> None:
        if self.dead or stored.ndim != 2 or stored.shape[1] != 2 or not stored.shape[0]:
            return
        # a chunk at a time, so that a settled file stops inside its first block; CHUNK is a
        # multiple of SEGMENT, so the segments are those of the whole block
        for start in range(0, len(stored), CHUNK):
            self._read(stored[start : start + CHUNK])
            if self.dead:
                return

    def settled(self) -> bool:
        """The parted frames read so far lie over the line no flaggable file crosses (see
        ``SETTLE_SHARE``): a real stereo image, shaped or per-channel dither."""
        return self.parted >= SETTLE_SHARE * self.frames + SETTLE_FRAMES

    def _read(self, stored: npt.NDArray[np.integer]) -> None:
        x = stored_steps(stored, self.bits)  # 8-bit held in int16, 24-bit left-justified
        side = x[:, 0] - x[:, 1]
        mid = x[:, 0] + x[:, 1]
        # judged: frames of 64-frame segments whose mid peaks over QUIET_MID steps (a segment's
        # peak, not the frame's own level, which the changes themselves would move), under full
        # scale
        level = np.abs(mid)
        cut = len(level) // SEGMENT * SEGMENT
        peak = np.repeat(level[:cut].reshape(-1, SEGMENT).max(axis=1), SEGMENT)
        peak = np.concatenate([peak, np.full(len(level) - cut, level[cut:].max(initial=0))])
        act = (peak > QUIET_MID) & (level < 2 * self.full - 2)
        sgn = np.where(act, np.sign(side), 0).astype(np.int8)
        nz = sgn != 0
        n, k = int(act.sum()), int(nz.sum())
        self.frames += n
        self.parted += k
        if self.settled():
            self.dead = True  # a real stereo image, shaped or per-channel dither: stop reading
            return
        a = np.concatenate([self._tail_act, act])
        t = len(self._tail_act)
        for lag in range(1, LAGS + 1):
            lo = max(0, t - lag)  # pairs whose later frame is in this chunk
            self.act_lag[lag - 1] += np.count_nonzero(a[lo : len(a) - lag] & a[lo + lag :])
        if k:  # (exact twins: every pair below has a 0 in this chunk, and adds nothing)
            self.units += int(np.count_nonzero(np.abs(side[nz]) == 1))
            self.odd += int(np.count_nonzero(side[nz] & 1))
            self.sign_mid += int(np.sum(sgn[nz] * np.sign(mid[nz])))
            s = np.concatenate([self._tail_sgn, sgn]).astype(np.int64)
            i = s != 0
            for lag in range(1, LAGS + 1):
                lo = max(0, t - lag)
                self.ind_lag[lag - 1] += np.count_nonzero(i[lo : len(i) - lag] & i[lo + lag :])
                self.sgn_lag[lag - 1] += int(np.dot(s[lo : len(s) - lag], s[lo + lag :]))
        self._tail_act, self._tail_sgn = act[-LAGS:].copy(), sgn[-LAGS:].copy()
        # windows of WINDOW frames
        start = 0
        while start < len(act):
            room = WINDOW - self._win[0]
            end = min(len(act), start + room)
            self._win[0] += end - start
            self._win[1] += int(act[start:end].sum())
            self._win[2] += int(nz[start:end].sum())
            if self._win[0] == WINDOW:
                self.windows.append((self._win[1], self._win[2]))
                self._win = [0, 0, 0]
            start = end

    def measures(self) -> dict[str, float]:
        """The reader's statistics (for benches and the report)."""
        n, k = self.frames, self.parted
        r = k / n if n else 0.0
        q_ind = q_sgn = 0.0
        for lag in range(LAGS):
            pairs = self.act_lag[lag]
            if pairs and 0 < r < 1:
                expect = r * r * pairs
                q_ind += (self.ind_lag[lag] - expect) ** 2 / max(expect * (1 - r * r), 1e-9)
            both = self.ind_lag[lag]
            if both:
                q_sgn += self.sgn_lag[lag] ** 2 / both
        judged = [(m, c) for m, c in self.windows if m >= WINDOW // 4]
        dispersion = 0.0
        if len(judged) >= 4 and 0 < r < 1:
            m = np.array([j[0] for j in judged], dtype=np.float64)
            c = np.array([j[1] for j in judged], dtype=np.float64)
            dispersion = float(np.mean((c - r * m) ** 2 / (r * (1 - r) * m)))
        return {
            "frames": n,
            "share": r,
            "unit": self.units / k if k else 0.0,
            "odd": self.odd / k if k else 0.0,
            "sign_mid": self.sign_mid / k if k else 0.0,
            "q_occurrence": float(q_ind),
            "q_sign": float(q_sgn),
            "dispersion": dispersion,
        }

    def report(self) -> list[Finding]:
        if self.dead or self.frames < MIN_FRAMES or self.parted < MIN_PARTED:
            return []
        m = self.measures()
        r = m["share"]
        if not (MIN_SHARE <= r <= MAX_SHARE and m["odd"] >= MIN_ODD):
            return []
        if abs(m["sign_mid"]) > MAX_SIGN + 4 / math.sqrt(self.parted):
            return []
        if m["q_occurrence"] > MAX_Q or m["q_sign"] > MAX_Q or m["dispersion"] > MAX_DISPERSION:
            return []
        q = (1 - math.sqrt(max(0.0, 1 - 2 * r))) / 2  # per-channel change rate: r = 2q(1-q)
        return [
            finding(
                "stego.twin_channels_broken",
                f"The two channels hold one mono signal but part on {100 * r:.1f}% of the frames, "
                f"by one step at independent frames with no relation to the sound: each channel "
                f"was changed on its own at about {100 * q:.1f}% of its samples (per-sample "
                f"embedding: steghide, LSB matching), which no dither, gain or codec does.",
                frames=int(self.frames),
                parted_share=round(r, 4),
                unit_share=round(m["unit"], 3),
                changed_share=round(q, 4),
                steghide_capacity_share=round(min(1.0, 4 * q), 3),
                q_occurrence=round(m["q_occurrence"], 1),
                q_sign=round(m["q_sign"], 1),
                dispersion=round(m["dispersion"], 2),
            )
        ]


def twin_scanner(bits: int | None, channels: int) -> TwinChannelsScanner | None:
    """The reader for a file of ``channels`` channels stored as integers of ``bits`` (None: not
    integer PCM), or None where it does not apply."""
    return TwinChannelsScanner(bits) if bits is not None and channels == 2 else None
