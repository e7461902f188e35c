"""Localised judgement: fixed-size summaries of every half second, judged in overlapping windows.

A data segment spliced into the middle of a real track is a few seconds of a long file: the
file-level features average it away. :class:`WindowAnalyzer` takes the same 16-bit blocks as
:class:`~audiomodel.signal.SignalAnalyzer` and keeps one fixed-size summary per *cell*
(``CELL_SECONDS`` of frames: sums, a 256-bin histogram of the samples' high bytes, the count of
printable low bytes), so memory grows by ~2.7 KB per half second (~19 MB for an hour) and every measure is computed
vectorised over all the cells of a block at once. A *window* is ``WINDOW_CELLS`` adjacent
cells (1.5 s, hop 0.5 s); its measures come from the cells' sums.

The measures, and the physical reason each separates sound from data:

- **Predictability from neighbours** (``pred_gain_db``, ``diff_ratio``): the residual of the
  best fixed linear predictor of order 0, 1 or 2 (mean, previous sample, linear
  extrapolation; Shorten/FLAC's fixed predictors) against the window's variance. Sound is
  band-limited and mostly low-pass: the order-1 or order-2 residual is 10-40 dB below the
  signal. Bytes of a compressed, encrypted or executable file, and text, are white: no
  predictor beats the mean (0 dB). White *noise* is white too (rain, cymbals at 8 kHz,
  applause), so whiteness alone never flags; it must come with a sign of bytes below that the
  track's typical half second does not show, and stand out from the rest of the same track.
  Measured on the mono mix (the sum of the channels): bytes interleaved over the channels are
  white in each and in their sum.
- **White differences** (``diff2_ratio``): the energy of the second difference against the
  first. White samples give 3 (6 and 2 times the variance); band-limited, low-pass sound gives
  4 sin^2(pi f / fs), far below. A segment that fills only part of a window (a splice's edge
  inside it) adds a step to the window's mean, which the order-0 residual counts but the
  differences barely see: the splice stays white there.
- **One-sidedness** (``dc_ratio``): microphones and converters are AC-coupled, so over 1.5 s
  of sound the mean is a small share of the RMS. Text and source code written as samples are
  printable bytes (0x20-0x7E): every sample is positive (16/24/32-bit) or negative (8-bit).
- **Value entropy** (``high_byte_entropy``): the high bytes of sound cluster around 0x00/0xFF
  (a peaked, Laplacian-like level distribution); compressed or encrypted bytes use all 256
  high bytes evenly (8 bits). Gaussian noise reaches 7.5 bits only at an RMS where it would
  clip all the time.
- **Byte lanes** (``printable_share``): the bytes of 16-bit sound are ~35-45% printable (the
  low byte is noise, the high byte near 0x00/0xFF); ASCII text puts printable bytes in every
  lane of every sample.
- **Zero edges** (``zero_edge_rate``): exact zeros right next to a loud sample are the
  zero-padded fields of a file; sound fades into digital silence.
- **Absurd floats** (``absurd_floats``): float audio lives within +-1 (a few dB over at
  most); a file's bytes read as IEEE floats give NaNs, infinities and values up to 1e38.
- **Held values** (``held_share``, ``steps``, ``step_sizes``): an ADC's noise floor moves
  every sample by a least significant bit or more, so a *loud* value repeated exactly by the
  next sample is rare, and a held value left by a leap (a *step*) rarer still: a band-limited
  signal that stood still cannot jump. A clip ceiling (the cell's own extreme values) is
  excluded: a clipped master holds there. Coarse 8-bit recordings and square waves hold and
  leap too, but by one or a few leap sizes; bytes held for N samples repeat (N-1)/N of their
  samples and leap by the difference of two bytes (dozens of sizes). A synthesiser holds and
  leaps exactly too (a pulse wave, a tracker's noise channel), but periodically: each voice
  leaps by its own amplitude, period after period, so a few sizes carry almost every step
  (``step_size_spread``, the sizes weighted by use), where bytes make a new size at each step.
  A limiter bends each level by its own amount and gives every leap its own size; what stays
  is *when* the voices leap: at their pitches, where bytes held N samples leap on a clock of N
  samples (``step_grid_share``); and *how* the level moves between the loud voice's edges: by
  the small stairs of its quieter voices, where a byte's next value is a new draw
  (``small_move_excess``).
- **Monotonic runs** (``monotonic_ms``): sound oscillates around zero; a run of samples that
  only climbs (or only falls) by 1/8 of full scale for longer than ``MONOTONIC_MS`` is a loud
  half cycle below 25 Hz with nothing above it, which the DC/subsonic filters of converters and
  mastering chains remove and any other sound breaks up. Bytes sorted into a ramp climb for
  thousands of samples.
- **Ramps with erratic steps** (``erratic_run_ms``, ``erratic_share``): a shorter monotonic run
  (from ``ERRATIC_MS``) still betrays sorted bytes by how it climbs. A converter's or a
  synthesiser's climb follows a smooth slope: the time it spends on each level (the plateau
  between two strict steps) and the size of each step change gradually from one step to the
  next (quantisation adds a sample or an LSB, a peak stretches the last few plateaus). Sorted
  bytes spend on each value as many samples as the file holds that byte, and skip the values it
  lacks: plateaus of 40, 1, 12, 3 samples and steps of one, three, one value. A step whose
  plateau or size is three times above or below its four neighbours' median (and off by 4 or
  more) is erratic; runs of good clips had at most 10% such steps, sorted bytes 27% or more.

Every threshold below says what real recordings produce (measured on the dev corpus' good
clips and renditions, ``bench/signal_families.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding
from audiomodel.sample_kernels import (
    absurd_per_frame,
    cell_sums,
    held_moves,
    long_runs,
    loud_zero_neighbours,
    monotone_runs,
    neighbour_sums,
    sort_moves,
)

__all__ = ["ByteMap", "WindowAnalyzer", "WindowReport", "longest_run"]

CELL_SECONDS = 0.5
PIECE_FRAMES = 65536  # monotonic runs are followed per piece this long (see WindowAnalyzer.update)
WINDOW_CELLS = 3  # 1.5 s windows, hop 0.5 s
# Rows of windows (or cells) whose byte and step tables are measured at once (a few MB of
# float64 shares, whatever the file's length).
_ROW_PIECE = 512
EPS = 1e-12
FULL_SCALE = 32768.0

# -- data segments: a window is data-like when it is white AND shows a sign of bytes ---------
# Best fixed predictor within this many dB of the variance: nothing predicts it (sound: -10 to
# -40 dB; noisy sound effects reach -3 at low sample rates).
WHITE_PRED_GAIN_DB = -4.0
# Or its differences are white (see diff2_ratio: 3 for white samples; good clips' median half
# second 0.8) while the samples are nearly so: a splice straddling two half seconds fills half
# of one or more, where the step in the mean costs text (mean ~3 times its spread) ~5 dB of
# apparent predictor gain. Bright noise over a bass also has white differences (4% of the good
# clips' half seconds, 1% above -8 dB), so this only widens what is judged: the signs decide.
WHITE_DIFF2 = 2.5
WHITE_DIFF2_FLOOR_DB = -8.0
# ... and it stands out from the same track by at least this much (self-calibration: a noise
# track's windows are all white, so none stands out) ...
STANDOUT_PRED_DB = 3.0
# ... or the sign of bytes it shows is far from the track's typical half second: its median
# is under half the sign's threshold (one-sided, zero edges) or sound-like (printable bytes:
# 0.35-0.45 in sound). A white track (a noisy recording, a low-rate clip) cannot stand out in
# whiteness, but text is one-sided and printable whatever the track around it.
FAR_PRINTABLE_SHARE = 0.6
ONE_SIDED_DC = 0.5  # |mean| / RMS over 1.5 s; AC-coupled sound stays well under 0.2
UNIFORM_ENTROPY_BITS = 7.5  # high-byte entropy of uniform bytes ~8; loud Gaussian noise ~7
# ... and half of the samples beyond half scale (clip values aside): uniform bytes 0.5;
# Gaussian noise gets there only with sigma ~0.6 of full scale, clipping all the time.
UNIFORM_OUTER_SHARE = 0.35
# ... and no pile at full scale: bytes put 2 of their 256 high bytes there (0x7F, 0x80: 0.8% of
# the samples); a clipper piles every over onto its rails (a hard-clipped, aliased FM voice at
# 8 kHz: 6-8% of a loud half second's samples, its other values spread near evenly). Above four
# times the bytes' share, the spread is the clipper's, not a file's. (A half second half data
# and half a clipped master can read over it; the half seconds wholly inside a splice cannot.)
UNIFORM_FULL_SCALE_SHARE = 0.03
# ... and every sixteenth of the range filled: random or compressed bytes put 1/16 of their
# values in each, the outermost too; a sound's values thin out towards its peaks (a limiter
# holds them under its ceiling), so its outermost sixteenths stay near empty however spread
# its other values are (an 808 kit limited +10.8 dB, kick under snare and clap: high-byte
# entropy 7.7 and 70% beyond half scale, but 0.7% and 0.8% in the outer sixteenths, 0.11 and
# 0.13 of a uniform share). A window at least 35% inside a splice keeps 0.35 of it in each
# (issue #17, session 18, drums20: a seed-37 drum machine rejected for its last hit).
UNIFORM_BAND_FLOOR = 0.35
PRINTABLE_SHARE = 0.85  # both byte lanes printable: text (sound: 0.35-0.45)
# Zeros next to a loud sample per sample (good clips: < 0.003 per file), and twice the track's
# own 75th percentile half second (coarse 8-bit audio has many; a splice of up to a quarter of
# the track cannot set the reference itself).
ZERO_EDGE_RATE = 0.01
ZERO_EDGE_PERCENTILE = 75
ABSURD_FLOAT = 16.0  # |x| over 24 dB above full scale, or not finite
ABSURD_FLOAT_COUNT = 4
MIN_RMS_DB = -50.0  # quieter windows are not judged for data (a noise floor is white)
QUIET_DB = 20.0  # nor windows this far below the track's typical half second
MIN_ENTROPY_BITS = 2.5  # nor windows using fewer than ~6 high bytes evenly (near silence)
# -- held steps -------------------------------------------------------------------------------
STEP_LEAP = 2048  # a held value left by a leap of 1/16 of full scale: a step
# A clip ceiling holds by design, and so does the band just under it once the master is
# dithered: dither added after the clip scatters the flat top over the codes below the rail,
# where two equal codes in a row are the clip's plateau, and the wave leaving the clip leaps
# away from them. TPDF dither reaches 1-2 stored LSB; noise shaping (sox ``dither -s``) lifts
# it by up to ~18 dB at high frequencies, so up to ~8 LSB (dev good seed 2 test_tone-0029, a
# sine clipped +4.6 dB into 8 bits with shaped dither: its plateaus span the top 6 codes, and
# held codes 1-5 under the rail made ~60 of its ~80 steps per half second). Held values within
# this many stored LSB of the cell's own extremes are neither steps nor moves. Bytes held as
# steps lose only the steps that land in that band: 16 of 256 codes at 8 bits, none at 16.
CEILING_DITHER_LSB = 8
# Crests: a value held exactly two samples that the wave turns on (climbing for two samples
# into it, falling for two out of it, or the mirror) is a crest or trough straddled by two
# samples, not a step: at 8 bits a loud tone of a few hundred Hz and up straddles crests with
# two equal codes and falls away by 8+ codes (dev good seed 4 test_tone-0019, a log sweep at
# 16 kHz through Vorbis: [-86, -98, -102, -102, -94, -82]; 48 steps in its busiest half second,
# 28 once its crests are left out, where a flag needs MIN_STEPS). Bytes held N >= 2 samples
# enter each hold from a hold; bytes read one a sample turn like this by chance (the middle
# of three draws is their extreme 2/3 of the time, and both sides run on 1/4 of that), so the
# families' steps stay (heldout "data held as steps": 12 files' busiest half seconds unchanged
# or 8,671 -> 7,609 and 8,394 -> 7,467 in stereo).
# ... and 4% or more of the samples loud (1/16 of full scale) and repeating the previous one
# exactly: bright coarse audio (mu-law, 8-bit) leaps after holds by many sizes but holds only
# 1-3% of its samples; bytes held N samples hold (N-1)/N of theirs, a binary's fields several %.
HELD_SHARE = 0.04
# ... unless steps are not the track's own character: its median half second has fewer than
# this many (self-calibration: coarse audio steps everywhere, a spliced file only where it is).
USUAL_STEPS = 8
MIN_STEPS = 48  # steps in a cell or window (good clips: up to 459 in 8-bit audio)
# Distinct leap sizes (in 1/256 of full scale) among them: a square wave leaps by one size per
# voice and volume; coarse 8-bit audio showed at most 35 (424 good training clips); bytes
# held as steps leap by the difference of two bytes: 200+.
STEP_SIZES = 48
# ... and used evenly: at least this many leap sizes weighted by use (2 ** entropy of the sizes).
# A synthesiser's voices leap by their own amplitude again and again, one period after the
# next (a pulse wave between its two levels, an LFSR noise channel between its two), so a few
# sizes carry the steps even when the voices' sums and an echo add rare ones: exact chiptune
# output showed 6-11 effective sizes against 60+ distinct. Bytes held as steps leap by the
# difference of two arbitrary bytes, a new size at every step: 30-45 effective for text,
# 150+ for binary or random bytes.
STEP_SPREAD = 16.0
# ... unless the steps are a synthesiser's: most loud samples held (its voices are flat between
# their edges) and the leaps on no clock. Bytes held N samples each leap on a grid of N samples:
# every gap between a channel's steps is N or a multiple (two equal bytes in a row). A
# synthesiser's voices leap when their pitches say, and their sum interleaves the edges: no
# period divides the gaps much more often than chance (``step_grid_share``, 0 at chance, 1
# all on one grid). Through a limiter or a hard clip, whose curve gives every leap of a
# chiptune its own size, its half seconds read 0.01-0.23 at 70-85% held; the families' bytes
# held as steps 0.71-1.0. A file's bytes not held by a clock repeat only by chance (text or a
# binary as samples hold a few % of their samples, some half seconds of a binary up to 88%),
# and are judged by their other signs as before.
SYNTH_GRID_SHARE = 0.5
SYNTH_HELD_SHARE = 0.5
# ... and the held level glides: a synthesiser's quieter voices (a triangle bass, an echo, an
# envelope) move it by small moves between the loud voice's edges, where a byte's next value is
# a new draw from the file's bytes. ``small_move_excess``: the share of held levels left by a
# move under ``GLIDE_LEAP`` (3/16 of full scale: a 4-bit triangle's stair is 2/15 of its
# swing, 1/7 of full scale through a hard clip at +8.8 dB), beyond the share that two of the
# levels left drawn apart would give, scaled to 1; a clip ceiling counts in neither. Limited
# or hard-clipped chiptunes (the test's, mono and stereo; good-set chiptune-0017 and -0031,
# dev-good chiptune-0025) read 0.54-0.77; bytes held for random lengths 4-64 (no clock: grid
# share 0.02-0.06) 0.00-0.02 for binary, 0.13-0.32 for text (its letters lie close together,
# and its bigrams are not independent), limiter or not, mono or stereo.
SYNTH_GLIDE = 0.45
GLIDE_LEAP = 6144
# ... or the leaps are a band-limited waveform's edges: they do not come to rest within a
# sample. A leap of 1/16 of full scale in one sample is an edge whose energy reaches Nyquist;
# once the edge has been through a resampler, a converter's or codec's low-pass or a console's
# output filter, it spans several samples and rings after (Gibbs), so the sample after the
# leap is still on the slope or the overshoot and is not held: a square-wave synth resampled to
# 16 or 48 kHz and hard-clipped into 8 bits reads 0.01-0.03 (own good set seed 21,
# chiptune-0019 and synth_music-0021, whose clipped and resampled edges spread the leap sizes to
# 19-33 in effect, like text's). Bytes held N >= 2 samples land on the next byte and hold it:
# 0.88-1.0 on the train split's "data held as steps". Bytes held an odd number of samples and
# interleaved over two channels alternate holds of 2 and 1 in each channel and land on a
# single sample (0.04-0.21), but then every step keeps the frame clock of the hold (grid share
# over 0.5), so the exemption also needs the leaps on no clock. Bytes read one a sample hold
# only where two equal bytes meet, and leap on to the next byte without landing either (0.01),
# on no clock: what tells a waveform from them is that a band-limited wave is predicted by its
# neighbours (its best fixed predictor gains 7-17 dB in the synths above) where bytes are white
# (0-4 dB: the same line as ``signal.data_segment``'s), so the exemption needs the window not
# white. What it costs: a sender who low-passes his bytes (data shaped like sound, out of reach
# anyway), or holds each byte for lengths that vary at random and leaves every new level after
# one sample per channel in a predictable window, is judged by the bytes' other signs alone.
STEP_LANDING_SHARE = 0.25
# ... or the holds are a rate conversion by repetition. A converter that upsamples by k by
# repeating each sample k times (a zero-order hold, as old game engines and sound tools did:
# tuxpaint-data's tuxok.wav and areyousure.wav are 8-bit 22.05 kHz sound held in pairs at
# 44.1 kHz) holds every value for exactly k samples and leaps on a grid of k, as bytes held k
# samples do. What tells them apart is what is held: the held values are the samples of a
# slower signal, and a sound's are predicted by their neighbours where bytes are not. Measured
# at the hold's own lag k (``held_level_pred_db``, the first and second differences of the
# level k samples apart, as ``pred_gain_db`` reads lag 1): tuxok -9.6 dB, areyousure -10;
# bytes held 2-8 samples: random +3, text +0.7, an ELF -0.6 (the same -4 dB line as a white
# window's). Cells with few steps (sound: nearly all) skip the measure.
HOLD_GRID_TOLERANCE = 0.9  # the hold: the longest period whose grid share is this near the best
# ... or the held values are band-limited: the top of their band is nearly empty. Whatever
# made the slower signal (an ADC's or a resampler's anti-alias filter, a codec) left the last
# part of its band below Nyquist nearly empty, where bytes fill every part of the band alike
# (white). A bright sound (an effect, a chirp, a distorted guitar at 11 kHz) has its energy
# high in the band, where the first and second differences see no gain, but not at its very
# top. Read by the fourth difference at the hold's lag, whose response (2 sin(w/2)) ** 8 rises
# 16 dB from half band to the top, against the 70 times the variance that white values give
# (``held_top_db``, 0 dB white; per channel, the whitest: a sum of channels a few samples apart
# is a comb that empties part of any band): dev good seed 53 debian_recording-0061 (bzflag's
# hunt_select.wav held in pairs at 22.05 kHz, its held values' energy at 0.38-0.5 of their
# band, the top eighth 84 dB down) reads -9.1 dB where its first difference reads +1.5. Bytes
# as held values (ls, bash, libc, os.py, GPL text, gzip, random; 8 and 16 bits, 212 stretches
# of 4,000 values): -4.6 dB at the lowest but one (an ELF header's 16-bit fields), -9.5 for one
# stretch of bash whose table of 16-bit values is smooth (a two-tap predictor gains 8.3 dB on
# it too: data shaped like sound). Binaries' tables of 16-bit fields read as bytes alternate at
# the top of the band (+0.6 dB), which a predictor would model but the top of a band-limited
# sound is empty.
HELD_TOP_DB = -7.0
# ... or a loud sound stored at 8 bits (session 13): wherever its slope is under a code a sample
# it holds its value for a few samples, at lengths that vary, and leaps at its edges (fresh good
# sets, seeds 14, 16, 17: three loud synths as 8-bit WAV, 10-18 % of the loud samples held,
# grid shares 0.11-0.22, held levels -11 to -13 dB). Bytes held as steps hold most samples:
# each byte at least twice (a share of (k - 1) / k >= 0.5), and at random lengths their held
# levels read under the white line too (many lags fall inside one hold), so the share decides.
CODED_HOLD_SHARE = 0.5
# -- monotonic runs ---------------------------------------------------------------------------
# A half cycle below the lowest pitch a generator is set to, at -18 dBFS or more with nothing
# over it; good clips: at most 3.4 ms. Test signals start at 20 Hz, the lowest audible pitch
# (sox ``synth sine 20-20000``: the first fall lasts 23-25 ms, its sample grid and the sweep's
# rise shave a little off the 25 ms half cycle), so a run is held from a half cycle of 16.7 Hz:
# 30 ms. Sorted bytes climb for a whole block (thousands of ms); sorted in short chunks, their
# steps are erratic (ERRATIC_MS, from 8 ms).
MONOTONIC_MS = 30.0
MONOTONIC_RISE = 4096  # the run climbs at least 1/8 of full scale (16-bit steps)
MONOTONIC_STEPS = 32  # with at least this many strict steps
# A shorter run (a half cycle of 62 Hz) is judged by its steps: at least this share of them
# erratic (good clips' runs of 8 ms or more: at most 0.10; bytes sorted in blocks: 0.27+).
ERRATIC_MS = 8.0
ERRATIC_SHARE = 0.2
ERRATIC_RATIO = 3.0  # a plateau or step this many times above or below its neighbours' median
ERRATIC_MIN = 4  # ... and off by at least this many samples (plateau) or LSBs (step)
# Noise riding a slope: each sample's noise enters two neighbouring steps with opposite signs
# (d_t = slope + n_t - n_(t-1)), so the steps' deviations from their trend anticorrelate (-0.5
# for white noise, towards -1 near Nyquist); sorted values' gaps are independent draws (median
# -0.14 from the trend's own removal; 64 sorted 16-bit words reach -0.5 in 0.02 % of runs). A
# run whose step sizes anticorrelate this much is a sound's slope with a band on top (an 808
# kick under its hats at 8 kHz: -0.64, -0.65): its step sizes are not read as erratic.
RIDING_CORRELATION = -0.5
RIDING_TREND_STEPS = 9  # the steps' trend: their moving mean over this many
# Noise that is not white rides a slope as well: the deviations of k steps in a row sum to
# n_t - n_(t-k), bounded whatever k, so over three steps they nearly cancel even where the band
# on top is too low for lag 1 to reach -0.5 (an 808 kick at 8 kHz under its snare and clap, 0.8-4
# kHz: lag 1 -0.49, sums over three steps 0.26 of the variance independent steps would give).
# Sorted values' gaps are independent: their three-step sums keep 0.31 or more of it in 99.9 %
# of runs of 66 sorted 16-bit words (uniform or Gaussian; 0.45 for 130) (issue #17, session 18,
# drums20: a seed-37 drum machine flagged at exactly ERRATIC_SHARE).
RIDING_SPAN = 3
RIDING_SPAN_VARIANCE = 0.3

# Samples per cell from which the byte lanes are counted from the 16-bit values (a
# 65,536-bin count per cell): faster than two byte counts for stereo at 44.1 kHz and up.
LANE_VALUES_FROM = 40_000

_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
# High bytes of values at or beyond half scale, full scale (0x7F, 0x80: clip levels) excluded.
_OUTER = np.r_[0x40:0x7F, 0x81:0xC0]
_FULL_SCALE = np.array([0x7F, 0x80])
# The stored byte of 8-bit audio is the high byte of its 16-bit rendering, offset by 0x80.
_PRINTABLE_8 = _PRINTABLE[np.arange(256) ^ 0x80]

# Per-cell scalar sums, one row per cell.
_S1, _S2, _V0, _E1, _E2, _N, _N1, _N2 = range(8)
_SAMPLES, _ZEDGE, _HELD, _ABSURD, _MONO, _STEPS, _ERRATIC, _ERRATIC_SHARE = range(8, 16)
_MOVES = 16  # held values left by any change
_GLIDES = 17  # ... by a change under GLIDE_LEAP
_CRESTS = 18  # held values left by a leap that are a crest (see the note on crests)
_LANDED = 19  # steps whose new level is held by the next sample (see STEP_LANDING_SHARE)
# The level's squared first and second differences at the hold's lag, and their counts, in
# cells held on a grid (see HOLD_GRID_TOLERANCE).
_HE1, _HE2, _HN1, _HN2 = range(20, 24)
# ... and the band's top against white's, per channel (see HELD_TOP_DB), times its count.
_HE4, _HN4 = 24, 25
_FIELDS = 26


@dataclass(frozen=True)
class ByteMap:
    """Where frame ``i`` sits in the file: ``offset + i * frame_bytes`` (uncompressed PCM)."""

    offset: int
    frame_bytes: int


@dataclass
class WindowReport:
    """Per-window measures (arrays of one value per window) and the findings they support."""

    start_s: npt.NDArray[np.float64]
    end_s: npt.NDArray[np.float64]
    measures: dict[str, npt.NDArray[np.float64]]
    data_like: npt.NDArray[np.bool_]
    findings: list[Finding] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)


class WindowAnalyzer:
    """Per-cell summaries of 16-bit blocks, judged per window at the end.

    Parameters
    ----------
    sample_rate, channels : int
        Stream parameters.
    level_bits : int
        Stored resolution up to 16 (8 for 8-bit audio: its stored byte is the high byte).
    transform_coded : bool
        The samples are a transform codec's decode (MP3, Vorbis, Opus): they cannot be a file's
        bytes, so the byte signs make no data segment (see ``_data_like``).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        channels: int,
        level_bits: int = 16,
        transform_coded: bool = False,
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.level_bits = level_bits
        # Set by the signal analyzer before report(): the track's sound moves in steps of an
        # 8-bit code or more however it is stored (SignalAnalyzer.coarse_sound), so zero edges
        # are judged as at 8 bits.
        self.coarse_steps = False
        self.transform_coded = transform_coded
        self.cell = max(256, round(sample_rate * CELL_SECONDS))
        step = 1 << (16 - min(level_bits, 16))
        self._loud = max(2048, 16 * step)  # 1/16 of full scale
        self._big = max(1024, 16 * step)
        self._ceiling_band = CEILING_DITHER_LSB * step  # see CEILING_DITHER_LSB
        # Decimation of the monotonic pre-check: a run of ERRATIC_MS spans 16+ kept points.
        self._decimate = max(1, int(sample_rate * ERRATIC_MS / 1000 / 16))
        self._sums: list[npt.NDArray[np.float64]] = []
        # (cells, 257): high byte counts, then the count of printable low bytes
        self._lanes: list[npt.NDArray[np.uint32]] = []
        self._step_sizes: list[npt.NDArray[np.uint16]] = []  # (cells, 256) steps per leap size
        # (cells, 256) gaps between a channel's successive steps, per length in frames
        self._step_gaps: list[npt.NDArray[np.uint16]] = []
        # (cells, 256) held levels left by a move, per high byte in level order
        self._move_levels: list[npt.NDArray[np.uint16]] = []
        self._carry = np.zeros((0, channels), dtype=np.int16)
        self._carry_level = np.zeros(0, dtype=np.float64)
        self._carry_absurd: npt.NDArray[np.int32] | None = None
        # The carry and a block joined (kept: see update).
        self._joined_ints = np.zeros((0, channels), dtype=np.int16)
        self._joined_level = np.zeros(0)
        # Where the carry's flat values repeat the one a frame before, and its zeros (None:
        # not known, found again from the carry).
        self._carry_positions: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None
        self.frames = 0

    # -- accumulation -------------------------------------------------------------------------

    def update(
        self,
        ints: npt.NDArray[np.int16],
        floats: npt.NDArray[np.floating] | None = None,
        level: npt.NDArray[np.float64] | None = None,
        *,
        held: npt.NDArray[np.intp] | None = None,
        zeros: npt.NDArray[np.intp] | None = None,
    ) -> None:
        """Add a block of 16-bit samples, shape (frames, channels).

        ``floats`` are the decoded values of a float file (the same frames), checked for values
        no audio has; ``level`` is the sum of the channels (the caller often has it already).
        ``held`` and ``zeros``, when the caller has them (both or neither), are the positions in
        the block's flat values (frame x channels + channel) of the values equal to the one a
        frame before and of the exact zeros, in increasing order.
        """
        n = ints.shape[0]
        if n == 0:
            return
        positions = None
        if held is not None and zeros is not None:
            positions = self._joined_positions(ints, held, zeros)
        first_frame = self.frames
        self.frames += n
        if level is None:
            level = ints.astype(np.float64).sum(axis=1)
        # Integer PCM has no absurd values: no per-frame count to carry (None counts as zeros).
        absurd: npt.NDArray[np.int32] | None = None
        if floats is not None:
            # Per frame, the values not within ABSURD_FLOAT of zero (NaN: counted), in one
            # compiled pass; the limit in the floats' own type, as numpy compares with it.
            absurd = np.empty(floats.shape[0], dtype=np.int32)
            absurd_per_frame(floats, floats.dtype.type(ABSURD_FLOAT), absurd)
        if self._carry.shape[0]:
            # Into arrays kept from block to block: fresh ones cost a page fault per 4 KiB.
            frames = self._carry.shape[0] + n
            if self._joined_level.size < frames:
                self._join_room(n)
            ints = np.concatenate([self._carry, ints], out=self._joined_ints[:frames])
            joined = self._joined_level[:frames]
            if _same_memory(level, joined[self._carry.shape[0] :]):
                # Written in place by the caller (see level_slot): only the carry goes before it.
                joined[: self._carry.shape[0]] = self._carry_level
                level = joined
            else:
                level = np.concatenate([self._carry_level, level], out=joined)
            if absurd is not None or self._carry_absurd is not None:
                absurd = np.concatenate(
                    [_or_zeros(self._carry_absurd, self._carry.shape[0]), _or_zeros(absurd, n)]
                )
        whole = ints.shape[0] - ints.shape[0] % self.cell
        if whole:
            # Monotonic runs are followed within the cells that pieces of PIECE_FRAMES frames
            # of the block (the carry before each) complete: where they were measured.
            done = (first_frame - self._carry.shape[0]) // self.cell
            ends = [
                (first_frame + stop) // self.cell - done
                for stop in range(PIECE_FRAMES, n, PIECE_FRAMES)
            ]
            within = None
            if positions is not None:
                limit = whole * self.channels
                within = (
                    positions[0][: np.searchsorted(positions[0], limit)],
                    positions[1][: np.searchsorted(positions[1], limit)],
                )
            self._cells(
                ints[:whole],
                level[:whole],
                None if absurd is None else absurd[:whole],
                pieces=[*ends, whole // self.cell],
                positions=within,
            )
        self._carry_positions = None
        if positions is not None:
            # The carry's own: past the cells, shifted to its start (a repeat of the frame
            # before the carry is not one within it).
            limit = whole * self.channels
            kept_held = positions[0][np.searchsorted(positions[0], limit + self.channels) :]
            kept_zeros = positions[1][np.searchsorted(positions[1], limit) :]
            self._carry_positions = (kept_held - limit, kept_zeros - limit)
        self._carry = ints[whole:].copy()
        self._carry_level = level[whole:].copy()
        self._carry_absurd = None if absurd is None else absurd[whole:].copy()

    def level_slot(self, n: int) -> npt.NDArray[np.float64]:
        """Where the caller may write the next block's level (``n`` frames) before passing it
        to :meth:`update`: right after the carry in the buffer the two are joined in, so the
        block's level is not copied there again."""
        start = self._carry.shape[0]
        if self._joined_level.size < start + n:
            self._join_room(n)
        return self._joined_level[start : start + n]

    def _join_room(self, n: int) -> None:
        """New arrays to join the carry and a block of ``n`` frames in, with room for any
        carry (under a cell): a carry that grows does not make them anew (and fault in their
        pages) block after block."""
        frames = n + self.cell
        self._joined_ints = np.empty((frames, self.channels), dtype=np.int16)
        self._joined_level = np.empty(frames)

    def _joined_positions(
        self,
        ints: npt.NDArray[np.int16],
        held: npt.NDArray[np.intp],
        zeros: npt.NDArray[np.intp],
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """The block's repeats and zeros (see update) as positions in the carry and the block
        joined: the carry's, the first frame's against the carry's last, the block's."""
        carry = self._carry
        if not carry.shape[0]:
            return held, zeros
        ch = self.channels
        offset = carry.shape[0] * ch
        known = self._carry_positions
        if known is None:
            flat = carry.reshape(-1)
            known = (np.flatnonzero(flat[ch:] == flat[:-ch]) + ch, np.flatnonzero(flat == 0))
        junction = np.flatnonzero(ints[0] == carry[-1]) + offset
        return (
            np.concatenate([known[0], junction, held + offset]),
            np.concatenate([known[1], zeros + offset]),
        )

    def _cells(
        self,
        ints: npt.NDArray[np.int16],
        level: npt.NDArray[np.float64],
        absurd: npt.NDArray[np.int32] | None,
        pieces: list[int] | None = None,
        positions: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None,
    ) -> None:
        """Summaries of whole cells, vectorised over all cells of the block; monotonic runs are
        followed within each run of cells up to the counts ``pieces`` (default: all);
        ``positions``, the flat positions of repeated values and of zeros when known (see
        update)."""
        length = min(self.cell, ints.shape[0])  # the last, short cell of a track is one cell
        cells = ints.shape[0] // length
        ch = self.channels
        sums = np.zeros((cells, _FIELDS))
        # Predictability of the mono level (the sum of the channels): data interleaved over
        # the channels is white in every channel and in their sum.
        mono = level[: cells * length].reshape(cells, length)
        flat = ints.reshape(-1)
        lanes = np.zeros((cells, 257), dtype=np.uint32)
        if ch <= 2 and length >= 3:
            # One compiled pass per cell: the level's sums (exact integers, see
            # _difference_energies) and the byte lanes.
            words = flat[: cells * length * ch].view(np.uint16).reshape(cells, length * ch)
            lags = np.empty((4, cells))  # sum, sum of squares, lag-1 and lag-2 products
            cell_sums(mono, words, _PRINTABLE, self.level_bits != 8, lags, lanes)
            s1 = lags[0]
            sums[:, _S1] = s1
            sums[:, _S2] = lags[1]
            sums[:, _E1], sums[:, _E2] = _energies_from_lags(mono, lags[1], lags[2], lags[3])
        else:
            s1 = mono.sum(axis=1)
            sums[:, _S1] = s1
            sums[:, _S2] = np.einsum("ij,ij->i", mono, mono)
            sums[:, _E1], sums[:, _E2] = _difference_energies(mono, sums[:, _S2], ch)
            self._count_lanes(flat, cells, length, lanes)
        sums[:, _V0] = sums[:, _S2] - s1 * s1 / length
        sums[:, _N] = length
        sums[:, _N1] = length - 1
        sums[:, _N2] = length - 2
        sums[:, _SAMPLES] = length * ch
        if absurd is not None:
            sums[:, _ABSURD] = absurd[: cells * length].reshape(cells, length).sum(axis=1)

        self._lanes.append(lanes)

        # Exact zeros next to a loud sample (same channel), and held values left by a leap.
        # Both are rare in sound, so only their few positions are looked at.
        samples_per_cell = length * ch
        # Neighbours are looked for within a piece (see ``pieces``): where the samples starting
        # each piece after the first sit.
        cuts = np.array([end * samples_per_cell for end in (pieces or [])[:-1]], dtype=np.intp)
        if positions is None:
            held = np.flatnonzero(flat[ch:] == flat[:-ch]) + ch  # flat[held] == flat[held - ch]
            zeros = np.flatnonzero(flat == 0)
        else:
            held, zeros = positions
        if zeros.size:
            # In one compiled pass: digital silence holds millions of zeros, all but a few of
            # them between zeros.
            edges = np.zeros(cells, dtype=np.int64)
            loud_zero_neighbours(flat, zeros, ch, self._big, samples_per_cell, cuts, edges)
            sums[:, _ZEDGE] += edges
        if held.size:
            # The loud ones per cell, and those a move leaves (with their value and the move),
            # in one compiled pass: music holds a value now and then, quiet passages often.
            loud_held = np.zeros(cells, dtype=np.int64)
            at = np.empty(held.size, dtype=np.intp)
            left_value = np.empty(held.size, dtype=np.int32)
            move = np.empty(held.size, dtype=np.int32)
            moved = held_moves(
                flat, held, ch, self._loud, samples_per_cell, cuts, loud_held, at, left_value, move
            )
            sums[:, _HELD] += loud_held
            levels = np.zeros((cells, 256), dtype=np.uint16)
            steps = 0
            if moved:
                # A clip ceiling holds by design: the cell's own extremes, and the band that
                # dither scatters them over, are neither steps nor moves of a held level (see
                # CEILING_DITHER_LSB). A crest straddled by two equal samples is no step (see
                # the note on crests). Moves, glides, levels left, crests and steps in one
                # compiled pass.
                grid = flat.reshape(cells, samples_per_cell)
                top = grid.max(axis=1).astype(np.int32) - self._ceiling_band
                bottom = grid.min(axis=1).astype(np.int32) + self._ceiling_band
                moves = np.zeros(cells, dtype=np.int64)
                glides = np.zeros(cells, dtype=np.int64)
                left = np.zeros((cells, 256), dtype=np.int64)
                crests = np.zeros(cells, dtype=np.int64)
                steps = sort_moves(
                    flat,
                    at,
                    left_value,
                    move,
                    moved,
                    ch,
                    samples_per_cell,
                    top,
                    bottom,
                    GLIDE_LEAP,
                    STEP_LEAP,
                    moves,
                    glides,
                    left,
                    crests,
                )
                sums[:, _MOVES] += moves
                sums[:, _GLIDES] += glides
                sums[:, _CRESTS] += crests
                levels = np.minimum(left, np.iinfo(np.uint16).max).astype(np.uint16)
            held, leap = at[:steps], move[:steps]
            cell_of = held // samples_per_cell
            self._move_levels.append(levels)
            if held.size:
                sums[:, _STEPS] += np.bincount(cell_of, minlength=cells)
                # Whether the leap comes to rest: the level it reaches is held by the next
                # sample of the channel (see STEP_LANDING_SHARE).
                reached = held + ch
                inside = reached + ch < flat.size
                landed = np.zeros(held.size, dtype=bool)
                landed[inside] = flat[reached[inside] + ch] == flat[reached[inside]]
                sums[:, _LANDED] += np.bincount(cell_of[landed], minlength=cells)
                gaps = _step_gaps(held, ch, samples_per_cell, cells)
                self._step_gaps.append(gaps)
                _held_level_differences(mono, gaps, sums, flat[: cells * length * ch], ch)
                sizes = np.bincount(
                    cell_of * 256 + np.minimum(np.abs(leap) >> 8, 255), minlength=cells * 256
                )
                counts = np.minimum(sizes.reshape(cells, 256), np.iinfo(np.uint16).max)
                self._step_sizes.append(counts.astype(np.uint16))
            else:
                self._step_sizes.append(np.zeros((cells, 256), dtype=np.uint16))
                self._step_gaps.append(np.zeros((cells, 256), dtype=np.uint16))
        else:
            self._step_sizes.append(np.zeros((cells, 256), dtype=np.uint16))
            self._step_gaps.append(np.zeros((cells, 256), dtype=np.uint16))
            self._move_levels.append(np.zeros((cells, 256), dtype=np.uint16))
        begin = 0
        for end in pieces or [cells]:
            if end > begin:
                part = sums[begin:end]
                part[:, _MONO], part[:, _ERRATIC], part[:, _ERRATIC_SHARE] = self._monotonic(
                    mono[begin:end].reshape(-1), length
                )
                begin = end
        self._sums.append(sums)

    def _count_lanes(
        self,
        flat: npt.NDArray[np.int16],
        cells: int,
        length: int,
        lanes: npt.NDArray[np.uint32],
    ) -> None:
        """Byte lanes (little-endian) per cell, into ``lanes``: the histogram of the high bytes,
        and how many low bytes are printable (the only use of the low lane; 8-bit audio's low
        byte is always 0)."""
        ch = self.channels
        if length * ch >= LANE_VALUES_FROM:
            # Long cells: one count of the 16-bit values per cell, its rows (high byte) and
            # columns (low byte) summed, costs less than counting each strided byte lane.
            words = flat.view(np.uint16).reshape(cells, length * ch)
            for c in range(cells):
                by_value = np.bincount(words[c], minlength=65536).reshape(256, 256)
                lanes[c, :256] = by_value.sum(axis=1)
                if self.level_bits != 8:
                    lanes[c, 256] = by_value.sum(axis=0)[_PRINTABLE].sum()
        else:
            raw = flat.view(np.uint8).reshape(cells, length * ch * 2)
            for c in range(cells):
                lanes[c, :256] = np.bincount(raw[c, 1::2], minlength=256)
                if self.level_bits != 8:
                    lanes[c, 256] = np.bincount(raw[c, 0::2], minlength=256)[_PRINTABLE].sum()

    def _monotonic(
        self, mono: npt.NDArray[np.float64], length: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Longest monotonic climb or fall per cell, in frames, of the mono level: from the
        first to the last strict step of a stretch whose steps all go the same way (ties do
        not break it), climbing ``MONOTONIC_RISE`` per channel in ``MONOTONIC_STEPS`` steps or
        more. A decimated pre-check finds the candidates (sound never gives any).

        Also, per cell, the longest such run of ``ERRATIC_MS`` or more whose steps are erratic
        (see :func:`_erratic_share`), and that share."""
        cells = mono.size // length
        longest = np.zeros(cells)
        erratic = np.zeros(cells)
        erratic_share = np.zeros(cells)
        erratic_frames = ERRATIC_MS / 1000 * self.sample_rate
        k = self._decimate
        coarse = mono[::k]
        if coarse.size < 4:
            candidates = [(0, mono.size)]
        else:
            need = max(2, int(ERRATIC_MS / 1000 * self.sample_rate / k) - 2)
            candidates = []
            # Only the long runs that never fall or never climb matter (sound gives thousands
            # of short ones per cell): found in one compiled pass.
            for first, last in long_runs(np.ascontiguousarray(coarse), need).tolist():
                candidates.append((max(0, (first - 1) * k), min(mono.size, (last + 2) * k)))
            # Climbs and falls overlap where the level stands still: judge each stretch once.
            candidates.sort()
            merged: list[tuple[int, int]] = []
            for begin, end in candidates:
                if merged and begin <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((begin, end))
            candidates = merged
        rise_needed = MONOTONIC_RISE * self.channels
        # The runs, stretch by stretch, in one compiled pass (a stretch that never spans the
        # rise holds none: digital silence, a slow drift, most candidates). Called with no
        # stretch too, so the warm-up's clips, which have none, compile it.
        # Starts and stops as contiguous rows: the kernel then takes the layout the warm-up
        # compiled (an empty stretch list is contiguous whatever its strides).
        starts, stops = np.array(candidates, dtype=np.intp).reshape(-1, 2).T.copy()
        runs = monotone_runs(mono, starts, stops, rise_needed, MONOTONIC_STEPS)
        start, stop = runs[:, 0], runs[:, 1]
        if start.size:
            np.maximum.at(longest, start // length, (stop - start).astype(np.float64))
        # A transform codec's decode has no erratic steps to read: the exact plateaus and
        # step sizes of sorted values do not survive its quantisation, and the decode's own
        # noise makes any steep slope's steps erratic (dev renditions: an 808 kick's 45 Hz
        # half cycle at 8 kHz through MP3 V9, 11 ms, steps of 4-579 LSB around ~300, 26%
        # "erratic"). Its long runs are judged by their length alone.
        judged = runs[stop - start >= erratic_frames] if not self.transform_coded else runs[:0]
        for first, last in judged.tolist():
            d = np.diff(mono[first : last + 1])
            at = np.flatnonzero(d)  # the run's steps (from its start)
            share = _erratic_share(np.diff(at).astype(np.float64), np.abs(d[at[1:]]))
            if share >= ERRATIC_SHARE:
                cell = first // length
                if last - first > erratic[cell]:
                    erratic[cell] = last - first
                    erratic_share[cell] = share
        return longest, erratic, erratic_share

    # -- judgement ----------------------------------------------------------------------------

    def report(self, byte_map: ByteMap | None = None) -> WindowReport:
        """Measures per window and the findings; ``byte_map`` turns frames into file offsets."""
        if self._carry.shape[0] >= max(64, self.cell // 4) or (
            not self._sums and self._carry.shape[0] >= 16
        ):
            carry, level, absurd = self._carry, self._carry_level, self._carry_absurd
            self._carry = np.zeros((0, self.channels), dtype=np.int16)
            self._carry_level = np.zeros(0, dtype=np.float64)
            self._carry_absurd = None
            self._carry_positions = None
            self._cells(carry, level, absurd)
        if not self._sums:
            empty = np.zeros(0)
            return WindowReport(empty, empty, {}, np.zeros(0, dtype=bool))
        # The per-cell tables stay integer counts (a float64 copy of each is 15 MB an hour of
        # audio); joined once, in place of their blocks.
        self._sums = [np.concatenate(self._sums)]
        self._lanes = [np.concatenate(self._lanes)]
        self._step_sizes = [np.concatenate(self._step_sizes)]
        self._step_gaps = [np.concatenate(self._step_gaps)]
        self._move_levels = [np.concatenate(self._move_levels)]
        sums = self._sums[0]
        tables: dict[str, npt.NDArray[np.unsignedinteger]] = {
            "lanes": self._lanes[0],
            "sizes": self._step_sizes[0],
            "gaps": self._step_gaps[0],
            "levels": self._move_levels[0],
        }
        cells = sums.shape[0]
        # Two scales: windows (the track's context) and single cells (a short segment that a
        # 1.5 s window would dilute). A flag at either scale marks its frames.
        scales = {
            "window": self._measures(sums, tables, min(WINDOW_CELLS, cells)),
            "cell": self._measures(sums, tables, 1),
        }
        start = np.arange(sums.shape[0] - min(WINDOW_CELLS, cells) + 1) * self.cell
        report = WindowReport(
            start_s=start / self.sample_rate,
            end_s=np.minimum(start + min(WINDOW_CELLS, cells) * self.cell, self.frames)
            / self.sample_rate,
            measures=scales["window"],
            data_like=np.zeros(start.size, dtype=bool),
        )
        self._judge(report, scales, byte_map)
        return report

    def _measures(
        self,
        sums: npt.NDArray[np.float64],
        tables: dict[str, npt.NDArray[np.unsignedinteger]],
        width: int,
    ) -> dict[str, npt.NDArray[np.float64]]:
        """Measures of every run of ``width`` adjacent cells (from the cells' sums).

        The tables' rows are added as integers (exact, as their float64 sums were) and only
        the shares taken of them are float64, ``_ROW_PIECE`` rows at a time: an hour of
        audio's cells held ~200 MB of float64 copies of the tables at once."""

        def slide(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            if width == 1:
                return a
            c = np.concatenate([np.zeros((1, *a.shape[1:])), np.cumsum(a, axis=0)])
            out: npt.NDArray[np.float64] = c[width:] - c[:-width]
            return out

        def add(a: npt.NDArray[np.unsignedinteger]) -> npt.NDArray[np.unsignedinteger]:
            """Sums of ``width`` adjacent rows of counts (exact: uint32 holds any three cells'
            uint16 counts or sample counts)."""
            if width == 1:
                return a
            out = a[: a.shape[0] - width + 1].astype(np.uint32)
            for k in range(1, width):
                out += a[k : a.shape[0] - width + 1 + k]
            return out

        w = slide(sums)

        def most(column: int) -> npt.NDArray[np.float64]:
            """The largest of ``width`` adjacent cells' values (shifted maxima: the window
            view's own set-up costs more than the few comparisons)."""
            a = sums[:, column]
            rows = a.size - width + 1
            out: npt.NDArray[np.float64] = a[:rows].copy()
            for k in range(1, width):
                np.maximum(out, a[k : k + rows], out=out)
            return out

        mono = most(_MONO)
        n = np.maximum(w[:, _N], 1)
        var0 = w[:, _V0] / n
        r1 = w[:, _E1] / np.maximum(w[:, _N1], 1) / (var0 + EPS)
        r2 = w[:, _E2] / np.maximum(w[:, _N2], 1) / (var0 + EPS)
        best = np.minimum(1.0, np.minimum(r1, r2))
        held_r1 = w[:, _HE1] / np.maximum(w[:, _HN1], 1) / (var0 + EPS)
        held_r2 = w[:, _HE2] / np.maximum(w[:, _HN2], 1) / (var0 + EPS)
        # white (0 dB) where no cell of the window was measured
        held_best = np.where(w[:, _HN1] > 0, np.minimum(1.0, np.minimum(held_r1, held_r2)), 1.0)
        held_top = np.where(w[:, _HN4] > 0, w[:, _HE4] / np.maximum(w[:, _HN4], 1), 1.0)
        rows = w.shape[0]
        glide_share = w[:, _GLIDES] / np.maximum(w[:, _MOVES], 1)
        shares = {
            name: np.empty(rows)
            for name in (
                "high_byte_entropy",
                "outer_share",
                "full_scale_share",
                "band_floor",
                "printable_share",
                "step_sizes",
                "step_size_spread",
                "step_grid_share",
                "small_move_excess",
            )
        }
        # Row by row measures of the tables, in pieces of rows (each row's value is the same),
        # never a piece of one row after others: numpy sums a lone row in another order (the
        # last bit of a share moves).
        starts = list(range(0, rows, _ROW_PIECE))
        if len(starts) > 1 and rows - starts[-1] == 1:
            starts.pop()
        for start, stop in zip(starts, [*starts[1:], rows], strict=True):
            piece = slice(start, stop)
            lanes = add(tables["lanes"][start : stop + width - 1])
            h = lanes[:, :256]
            p = h / np.maximum(h.sum(axis=1, keepdims=True), 1)
            shares["high_byte_entropy"][piece] = -(p * _log2_used(p)).sum(axis=1)
            shares["outer_share"][piece] = p[:, _OUTER].sum(axis=1)
            shares["full_scale_share"][piece] = p[:, _FULL_SCALE].sum(axis=1)
            # the emptiest sixteenth of the range (high bytes in signed order), in uniform shares
            bands = np.roll(p, 128, axis=1).reshape(-1, 16, 16).sum(axis=2)
            shares["band_floor"][piece] = 16 * bands.min(axis=1)
            shares["printable_share"][piece] = self._printable_share(lanes[:, 256], h)
            sizes = add(tables["sizes"][start : stop + width - 1])
            shares["step_sizes"][piece] = (sizes > 0).sum(axis=1)
            shares["step_size_spread"][piece] = _effective_count(sizes)
            shares["step_grid_share"][piece] = _grid_share(
                add(tables["gaps"][start : stop + width - 1])
            )
            shares["small_move_excess"][piece] = _small_beyond_chance(
                glide_share[piece], add(tables["levels"][start : stop + width - 1])
            )
        rms = np.sqrt(w[:, _S2] / n)
        first = np.arange(w.shape[0]) * self.cell
        return {
            "width": np.full(w.shape[0], float(width)),
            "start_frame": first.astype(np.float64),
            "end_frame": np.minimum(first + width * self.cell, self.frames).astype(np.float64),
            "pred_gain_db": 10 * np.log10(best + EPS),
            "held_level_pred_db": 10 * np.log10(held_best + EPS),
            "held_top_db": 10 * np.log10(held_top + EPS),
            "diff_ratio": r1,
            "diff2_ratio": w[:, _E2]
            / np.maximum(w[:, _N2], 1)
            / (w[:, _E1] / np.maximum(w[:, _N1], 1) + EPS),
            "rms_db": 20 * np.log10(rms / FULL_SCALE + EPS),
            "dc_ratio": np.abs(w[:, _S1] / n) / (rms + EPS),
            "high_byte_entropy": shares["high_byte_entropy"],
            "outer_share": shares["outer_share"],
            "full_scale_share": shares["full_scale_share"],
            "band_floor": shares["band_floor"],
            "printable_share": shares["printable_share"],
            "zero_edge_rate": w[:, _ZEDGE] / n,
            "absurd_floats": w[:, _ABSURD],
            "held_share": w[:, _HELD] / np.maximum(w[:, _SAMPLES], 1),
            "steps": w[:, _STEPS],
            "crests": w[:, _CRESTS],
            "step_landing_share": w[:, _LANDED] / np.maximum(w[:, _STEPS], 1),
            "step_sizes": shares["step_sizes"],
            "step_size_spread": shares["step_size_spread"],
            "step_grid_share": shares["step_grid_share"],
            "small_move_excess": shares["small_move_excess"],
            "monotonic_ms": mono / self.sample_rate * 1e3,
            "erratic_run_ms": most(_ERRATIC) / self.sample_rate * 1e3,
            "erratic_share": most(_ERRATIC_SHARE),
        }

    def _printable_share(
        self, low_printable: npt.NDArray[np.number], high: npt.NDArray[np.number]
    ) -> npt.NDArray[np.float64]:
        """Share of the stored bytes that are printable: both lanes of 16-bit (and wider)
        samples, the one stored byte of 8-bit audio."""
        total = np.maximum(high.sum(axis=1), 1)
        if self.level_bits == 8:
            out: npt.NDArray[np.float64] = high[:, _PRINTABLE_8].sum(axis=1) / total
            return out
        both = high[:, _PRINTABLE].sum(axis=1) + low_printable
        share: npt.NDArray[np.float64] = both / (2 * total)
        return share

    def _judge(
        self,
        report: WindowReport,
        scales: dict[str, dict[str, npt.NDArray[np.float64]]],
        byte_map: ByteMap | None,
    ) -> None:
        cells = scales["cell"]
        audible_cells = cells["rms_db"] >= MIN_RMS_DB
        # Self-calibration: the track's typical half second (median over audible cells), so a
        # genre whose every window is loud or noisy sets its own reference.
        typical = (
            float(np.median(cells["pred_gain_db"][audible_cells])) if audible_cells.any() else 0.0
        )
        # A sign the track's median half second shows is the track's own character (a DC
        # offset, a clipped master), not evidence of a spliced file.
        # (Only the measures the signs and the track's level read: one median per row.)
        keys = ("rms_db", "zero_edge_rate", *_SIGN_MEASURES)
        median_cell = dict.fromkeys(keys, 0.0)
        if audible_cells.any():
            rows = np.median(np.stack([cells[k][audible_cells] for k in keys]), axis=1)
            median_cell = dict(zip(keys, rows.tolist(), strict=True))
        usual = {name: bool(sign) for name, sign in _data_signs(median_cell).items()}
        track = {
            "rms_db": float(median_cell["rms_db"]),
            "pred_gain_db": typical,
            "zero_edge_ref": float(np.percentile(cells["zero_edge_rate"], ZERO_EDGE_PERCENTILE)),
            "zero_edge_median": float(median_cell["zero_edge_rate"]),
            "dc_ratio": float(median_cell["dc_ratio"]),
            "printable_share": float(median_cell["printable_share"]),
            # Whether steps are the track's own character counts its crests too: a bright
            # coarse tone that turns on held codes everywhere holds and leaps everywhere.
            "steps": float(np.median(cells["steps"] + cells["crests"])),
        }
        flags: dict[str, npt.NDArray[np.bool_]] = {
            "signal.data_segment": np.zeros(cells["rms_db"].size, dtype=bool),
            "signal.held_steps": np.zeros(cells["rms_db"].size, dtype=bool),
            "signal.monotonic_run": np.zeros(cells["rms_db"].size, dtype=bool),
        }
        worst: dict[str, tuple[float, dict[str, float]]] = {}
        for m in scales.values():
            width = int(m["width"][0])
            hits = {
                "signal.data_segment": self._data_like(m, track, usual),
                "signal.held_steps": (m["steps"] >= MIN_STEPS)
                & (m["step_sizes"] >= STEP_SIZES)
                & (m["step_size_spread"] >= STEP_SPREAD)
                & ((m["held_share"] >= HELD_SHARE) | (track["steps"] < USUAL_STEPS))
                & ~_synthesiser_steps(m)
                & ~_band_limited_steps(m)
                & ~_held_sound(m),
                "signal.monotonic_run": (m["monotonic_ms"] >= MONOTONIC_MS)
                | (m["erratic_run_ms"] >= ERRATIC_MS),
            }
            if m is scales["window"]:
                report.data_like = hits["signal.data_segment"]
            strength = {
                "signal.data_segment": m["pred_gain_db"],
                "signal.held_steps": m["held_share"] + m["steps"] / 1e6,
                "signal.monotonic_run": m["monotonic_ms"],
            }
            for code, hit in hits.items():
                for index in np.flatnonzero(hit):
                    flags[code][index : index + width] = True
                    value = float(strength[code][index])
                    if code not in worst or value > worst[code][0]:
                        worst[code] = (value, {k: float(v[index]) for k, v in m.items()})
        report.features = {
            "window_pred_gain_typical_db": typical,
            "window_data_share": float(flags["signal.data_segment"].mean()),
        }
        for code, flagged in flags.items():
            if not flagged.any():
                continue
            first, last = longest_run(flagged)
            start = first * self.cell
            end = min((last + 1) * self.cell, self.frames)
            where = _ranges(start, end, 1.0 / self.sample_rate, byte_map)
            where["cells"] = int(flagged.sum())
            report.findings.append(self._finding(code, worst[code][1], typical, where))

    def _data_like(
        self,
        m: dict[str, npt.NDArray[np.float64]],
        track: dict[str, float],
        usual: dict[str, bool],
    ) -> npt.NDArray[np.bool_]:
        """White (in samples or in differences), with a sign of bytes the track's typical half
        second does not show, standing out from the track in whiteness or by that sign; or
        absurd floats."""
        # Judged: windows within 20 dB of the track's typical level (a quiet intro of coarse
        # audio is white quantisation noise) using several byte values (bytes of a file take
        # dozens; near-silence and quantisation noise a handful).
        audible = m["rms_db"] >= max(MIN_RMS_DB, track["rms_db"] - QUIET_DB)
        audible &= m["high_byte_entropy"] >= MIN_ENTROPY_BITS
        white = (m["pred_gain_db"] >= WHITE_PRED_GAIN_DB) | (
            (m["diff2_ratio"] >= WHITE_DIFF2) & (m["pred_gain_db"] >= WHITE_DIFF2_FLOOR_DB)
        )
        white &= audible
        standout = m["pred_gain_db"] - track["pred_gain_db"] >= STANDOUT_PRED_DB
        structured = np.zeros_like(white)
        signs = _data_signs(m)
        for name, sign in signs.items():
            if not usual[name]:
                structured |= sign
        # Zero edges are common in coarse (8-bit) audio: count them only well above the
        # track's own busiest half seconds, and not at all at 8 bits (see below: there they
        # are a loud, bright signal passing the zero code, not padding). An 8-bit log sweep
        # at 8 kHz under shaped dither (white for its first 1.5 s, as loud as the dither
        # there) read 0.013 zero edges per sample in that window and was rejected for it.
        zero_edges = m["zero_edge_rate"] >= max(ZERO_EDGE_RATE, 2 * track["zero_edge_ref"])
        if self.level_bits > 8 and not self.coarse_steps:
            structured |= zero_edges
        # Signs far from the track's typical half second stand out on their own.
        if track["dc_ratio"] < ONE_SIDED_DC / 2:
            standout |= signs["one-sided"]
        if track["printable_share"] < FAR_PRINTABLE_SHARE:
            standout |= signs["printable bytes"]
        # Not in 8-bit audio: zero is one of only 256 levels there, so a loud, bright signal
        # (a sweep near Nyquist) lands on it beside a loud sample about once in a hundred
        # samples by chance; and an 8-bit file's zero bytes decode to the negative rail, not
        # to zero, so zero padding leaves no zero edges to find.
        if (
            track["zero_edge_median"] < ZERO_EDGE_RATE / 2
            and self.level_bits > 8
            and not self.coarse_steps
        ):
            standout |= zero_edges
        absurd: npt.NDArray[np.bool_] = m["absurd_floats"] >= ABSURD_FLOAT_COUNT
        if self.transform_coded:
            # A transform codec stores quantised spectra, not samples: its decoder synthesises
            # every value, so no byte of a file survives in it, and every sign above (one side,
            # printable lanes, uniform high bytes, zeros beside loud samples) is the sound's own
            # or the codec's. (Data that survives such a codec is data sent as sound: the
            # modem's.) A one-sided, bright onset of a sound effect is all that flagged here.
            return absurd
        return (white & structured & standout) | absurd

    def _finding(
        self,
        code: str,
        m: dict[str, float],
        typical: float,
        where: dict[str, int | float | str],
    ) -> Finding:
        span = f"{where['start_s']}-{where['end_s']} s"
        if code == "signal.data_segment":
            why = [name for name, sign in _data_signs(m).items() if sign]
            if m["zero_edge_rate"] >= ZERO_EDGE_RATE:
                why.append("zero-padded fields")
            if m["absurd_floats"] >= ABSURD_FLOAT_COUNT:
                why.append("float values no audio has")
            return finding(
                code,
                f"{span} of the track look like the bytes of a file, not sound "
                f"({', '.join(why)}; the best predictor gains {-m['pred_gain_db']:.1f} dB "
                f"there against {-typical:.1f} dB in the rest of the track).",
                pred_gain_db=round(m["pred_gain_db"], 2),
                track_pred_gain_db=round(typical, 2),
                dc_ratio=round(m["dc_ratio"], 3),
                high_byte_entropy=round(m["high_byte_entropy"], 3),
                printable_share=round(m["printable_share"], 3),
                zero_edge_rate=round(m["zero_edge_rate"], 4),
                absurd_floats=int(m["absurd_floats"]),
                **where,
            )
        if code == "signal.held_steps":
            return finding(
                code,
                f"In {span}, {int(m['steps'])} times a loud value is held exactly and then left "
                f"by a leap ({int(m['step_sizes'])} different leap sizes, "
                f"{m['step_size_spread']:.0f} in effect; {m['held_share']:.0%} "
                "of the loud samples repeat the previous one): values held as steps, which a "
                "converter's noise floor never lets band-limited sound do.",
                steps=int(m["steps"]),
                step_sizes=int(m["step_sizes"]),
                step_size_spread=round(m["step_size_spread"], 1),
                step_grid_share=round(m["step_grid_share"], 3),
                step_landing_share=round(m["step_landing_share"], 3),
                held_level_pred_db=round(m["held_level_pred_db"], 2),
                held_top_db=round(m["held_top_db"], 2),
                held_share=round(m["held_share"], 4),
                **where,
            )
        if m["monotonic_ms"] >= MONOTONIC_MS:
            reason = (
                "sorted values, not sound, which oscillates (a half cycle that long is below 25 Hz)"
            )
        else:
            reason = (
                f"{m['erratic_share']:.0%} of its steps erratic in length or size, as sorted "
                "bytes climb; a converter's or synthesiser's slope changes gradually"
            )
        return finding(
            code,
            f"The samples climb (or fall) without turning for {m['monotonic_ms']:.0f} ms in "
            f"{span}: {reason}.",
            monotonic_ms=round(m["monotonic_ms"], 1),
            erratic_run_ms=round(m["erratic_run_ms"], 1),
            erratic_share=round(m["erratic_share"], 3),
            **where,
        )


_SIGN_MEASURES = (
    "dc_ratio",
    "high_byte_entropy",
    "outer_share",
    "full_scale_share",
    "band_floor",
    "printable_share",
)


def _data_signs(m: Mapping[str, Any]) -> dict[str, Any]:
    """The signs of a file's bytes (arrays, or floats for one window)."""
    return {
        "one-sided": m["dc_ratio"] >= ONE_SIDED_DC,
        "uniform byte values": (m["high_byte_entropy"] >= UNIFORM_ENTROPY_BITS)
        & (m["outer_share"] >= UNIFORM_OUTER_SHARE)
        & (m["full_scale_share"] <= UNIFORM_FULL_SCALE_SHARE)
        & (m["band_floor"] >= UNIFORM_BAND_FLOOR),
        "printable bytes": m["printable_share"] >= PRINTABLE_SHARE,
    }


def _erratic_share(plateaus: npt.NDArray[np.float64], steps: npt.NDArray[np.float64]) -> float:
    """Share of a run's strict steps whose plateau (samples on the level it leaves) or size is
    erratic: ``ERRATIC_RATIO`` times above or below the median of its four neighbours and off
    by ``ERRATIC_MIN`` or more. ``plateaus[j]`` ends with the step ``steps[j]``."""
    if plateaus.size < 5:
        return 0.0
    odd = _erratic(plateaus)
    if not _noise_riding(steps):
        odd |= _erratic(steps)
    return float(odd.mean())


def _noise_riding(steps: npt.NDArray[np.float64]) -> bool:
    """Whether the step sizes' deviations from their trend anticorrelate step to step as
    noise on a slope makes them (``RIDING_CORRELATION``)."""
    if steps.size < 2 * RIDING_TREND_STEPS:
        return False
    half = RIDING_TREND_STEPS // 2
    trend = np.convolve(
        np.pad(steps, half, mode="edge"),
        np.full(RIDING_TREND_STEPS, 1 / RIDING_TREND_STEPS),
        "valid",
    )
    deviation = steps - trend
    a, b = deviation[:-1], deviation[1:]
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if norm > 0 and float((a * b).sum()) / norm <= RIDING_CORRELATION:
        return True
    # ... or sums over RIDING_SPAN steps that cancel (coloured noise on the slope)
    spans = np.convolve(deviation, np.ones(RIDING_SPAN), "valid")
    power = float((deviation * deviation).mean())
    return power > 0 and float((spans * spans).mean()) <= (
        RIDING_SPAN_VARIANCE * RIDING_SPAN * power
    )


def _erratic(x: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    pad = np.pad(x, 2, mode="edge")
    near = np.median(np.stack([pad[:-4], pad[1:-3], pad[3:-1], pad[4:]]), axis=0)
    out: npt.NDArray[np.bool_] = ((x > ERRATIC_RATIO * near) | (x * ERRATIC_RATIO < near)) & (
        np.abs(x - near) >= ERRATIC_MIN
    )
    return out


def _effective_count(counts: npt.NDArray[np.number]) -> npt.NDArray[np.float64]:
    """2 ** entropy of each row's distribution: how many values are used, weighted by use (a
    value seen once among thousands barely counts)."""
    p = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    logs = _log2_used(p)
    out: npt.NDArray[np.float64] = 2.0 ** -(p * logs).sum(axis=1)
    return out


def _synthesiser_steps(m: Mapping[str, Any]) -> Any:
    """Steps a synthesiser makes: most loud samples held, the leaps off any clock's grid (see
    ``SYNTH_GRID_SHARE``), and the held level gliding by small moves (``SYNTH_GLIDE``)."""
    return (
        (m["held_share"] >= SYNTH_HELD_SHARE)
        & (m["step_grid_share"] < SYNTH_GRID_SHARE)
        & (m["small_move_excess"] >= SYNTH_GLIDE)
    )


def _band_limited_steps(m: Mapping[str, Any]) -> Any:
    """Steps of a band-limited waveform: the leaps seldom come to rest within a sample (see
    ``STEP_LANDING_SHARE``), keep to no clock (``SYNTH_GRID_SHARE``), and the window is sound
    that its neighbours predict (not white: ``WHITE_PRED_GAIN_DB``)."""
    return (
        (m["step_landing_share"] < STEP_LANDING_SHARE)
        & (m["step_grid_share"] < SYNTH_GRID_SHARE)
        & (m["pred_gain_db"] < WHITE_PRED_GAIN_DB)
    )


def _held_sound(m: Mapping[str, Any]) -> Any:
    """Steps of sound, not of bytes: the held values predicted by their neighbours (see
    ``HOLD_GRID_TOLERANCE``), where the leaps keep one clock's grid (a rate converter repeating
    each sample) or where a minority of the samples is held (see ``CODED_HOLD_SHARE``)."""
    predicted = (m["held_level_pred_db"] < WHITE_PRED_GAIN_DB) | (m["held_top_db"] < HELD_TOP_DB)
    return predicted & (
        (m["step_grid_share"] >= SYNTH_GRID_SHARE) | (m["held_share"] < CODED_HOLD_SHARE)
    )


def _held_level_differences(
    mono: npt.NDArray[np.float64],
    gaps: npt.NDArray[np.number],
    sums: npt.NDArray[np.float64],
    flat: npt.NDArray[np.int16],
    channels: int,
) -> None:
    """For each cell whose steps are enough to judge, the hold ``k`` (the longest period whose
    grid share is within ``HOLD_GRID_TOLERANCE`` of the best: bytes held 4 samples keep the
    grids of 2 and 4 alike, and lag 2 would see half of them unmoved) and the level's squared
    first and second differences ``k`` samples apart, added to ``sums``. ``mono``: (cells,
    frames) levels; ``gaps``: (cells, 256) step gaps (see ``_step_gaps``)."""
    total = gaps.sum(axis=1)
    for cell in np.flatnonzero(total >= MIN_STEPS // 2):
        share = (gaps[cell] @ _ON_GRID) / total[cell]
        k = int(_GRID_PERIODS[np.flatnonzero(share >= HOLD_GRID_TOLERANCE * share.max())[-1]])
        x = mono[cell]
        if x.size <= 2 * k:
            continue
        d1 = x[k:] - x[:-k]
        d2 = d1[k:] - d1[:-k]
        sums[cell, _HE1] += float(d1 @ d1)
        sums[cell, _HE2] += float(d2 @ d2)
        sums[cell, _HN1] += d1.size
        sums[cell, _HN2] += d2.size
        if x.size > 4 * k:
            # The top of the band per channel, the whitest channel's: the sum of two channels
            # a few samples apart is a comb that empties part of any band (bytes held 4 samples
            # with the channels 3 apart sum to neighbouring bytes' means, a low-pass).
            top = max(
                _band_top(
                    flat[cell * x.size * channels + c : (cell + 1) * x.size * channels : channels],
                    k,
                )
                for c in range(channels)
            )
            sums[cell, _HE4] += top * x.size
            sums[cell, _HN4] += x.size


def _band_top(x: npt.NDArray[np.int16], k: int) -> float:
    """The fourth difference's energy against white's (70 times the variance; see
    ``HELD_TOP_DB``), the lower of: at lag ``k``, and of the runs taken one value a run (the
    slower signal whatever the ratio: holds of 4 and 5 samples at 48000 / 11025 keep no single
    lag; bytes whatever their hold lengths). 1 where unmeasured."""
    y = x.astype(np.float64)
    var = float(y.var())
    if var <= 0 or y.size <= 4 * k:
        return 1.0
    d4 = y[4 * k :] - 4 * y[3 * k : -k] + 6 * y[2 * k : -2 * k] - 4 * y[k : -3 * k] + y[: -4 * k]
    best = float(d4 @ d4) / d4.size
    runs = y[np.r_[0, np.flatnonzero(y[1:] != y[:-1]) + 1]]
    if runs.size > 8:
        d4 = np.diff(runs, 4)
        best = min(best, float(d4 @ d4) / d4.size)
    return min(1.0, best / (70.0 * var))


def _small_beyond_chance(
    share: npt.NDArray[np.float64], levels: npt.NDArray[np.number]
) -> npt.NDArray[np.float64]:
    """How far ``share`` (moves of a held level under ``GLIDE_LEAP``) exceeds the share that two
    of the levels left drawn apart would give, scaled to 1. ``levels``: (rows, 256) counts of
    the held levels left by a move, per high byte in level order."""
    reach = GLIDE_LEAP >> 8
    p = levels / np.maximum(levels.sum(axis=1, keepdims=True), 1)
    # Each share plus those of the levels within reach, in one compiled pass per row.
    near = np.empty_like(p)
    neighbour_sums(p, reach, near)
    chance = (p * near).sum(axis=1)
    out: npt.NDArray[np.float64] = np.maximum(share - chance, 0.0) / np.maximum(1.0 - chance, 1e-9)
    return out


def _step_gaps(
    steps: npt.NDArray[np.intp], channels: int, samples_per_cell: int, cells: int
) -> npt.NDArray[np.uint16]:
    """Per cell, how many gaps between successive steps of one channel have each length in
    frames (the last column: 255 frames or more), from the steps' flat positions (frame x
    channels + channel, increasing)."""
    index: list[npt.NDArray[np.intp]] = []
    for channel in range(channels):
        mine = steps[steps % channels == channel] if channels > 1 else steps
        if mine.size < 2:
            continue
        cell = mine // samples_per_cell
        same = cell[1:] == cell[:-1]
        gaps = np.minimum(np.diff(mine)[same] // channels, 255)
        index.append(cell[1:][same] * 256 + gaps)
    counts = np.bincount(np.concatenate(index), minlength=cells * 256) if index else None
    if counts is None:
        return np.zeros((cells, 256), dtype=np.uint16)
    capped = np.minimum(counts.reshape(cells, 256), np.iinfo(np.uint16).max)
    out: npt.NDArray[np.uint16] = capped.astype(np.uint16)
    return out


# Divisibility of gap lengths 0-254 by clock periods 2-254 (the last gap column, 255 frames and
# more, divides by none).
_GRID_PERIODS = np.arange(2, 255)
_ON_GRID = (
    (np.arange(256)[:, None] % _GRID_PERIODS[None, :] == 0) & (np.arange(256) < 255)[:, None]
).astype(np.float64)


def _grid_share(gaps: npt.NDArray[np.number]) -> npt.NDArray[np.float64]:
    """How far the steps keep to one clock: for the period ``p`` that fits best, the share of
    gaps between a channel's steps that are whole multiples of ``p``, beyond the ``1/p`` that
    gaps at random times would give, scaled to 1 (all on the grid); 0 when none fits better
    than chance, or with too few gaps to judge (under half of ``MIN_STEPS``: no held steps
    either). ``gaps``: (rows, 256) counts per gap length in frames (see ``_step_gaps``)."""
    total = gaps.sum(axis=1)
    out = np.zeros(gaps.shape[0])
    rows = np.flatnonzero(total >= MIN_STEPS // 2)  # sound has few steps: most rows skip this
    if rows.size:
        share = (gaps[rows] @ _ON_GRID) / total[rows, None]
        chance = 1.0 / _GRID_PERIODS
        excess = (share - chance) / (1.0 - chance)
        out[rows] = np.maximum(excess.max(axis=1), 0.0)
    return out


def _log2_used(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """log2 of the shares in ``p`` that are used, 0 (log2 of 1) where a share is 0: only the
    used ones are computed (most bins of a cell's byte and leap-size counts are empty)."""
    logs = np.zeros_like(p)
    np.log2(p, out=logs, where=p > 0)
    return logs


def longest_run(flags: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """First and last index of the longest run of True (the first one on ties)."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    best = int(np.argmax(ends - starts))
    return int(starts[best]), int(ends[best]) - 1


def _ranges(
    start: int, end: int, frames_to_s: float, byte_map: ByteMap | None
) -> dict[str, int | float | str]:
    out: dict[str, int | float | str] = {
        "start_s": round(start * frames_to_s, 2),
        "end_s": round(end * frames_to_s, 2),
        "start_frame": start,
        "end_frame": end,
    }
    if byte_map is not None:
        out["byte_start"] = byte_map.offset + start * byte_map.frame_bytes
        out["byte_end"] = byte_map.offset + end * byte_map.frame_bytes
    else:
        out["byte_range"] = "absent: compressed audio has no fixed bytes per frame"
    return out


def _same_memory(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """Whether ``a`` is exactly the array ``b`` (the same first element and length)."""
    return bool(
        a.size == b.size
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
    )


def _or_zeros(counts: npt.NDArray[np.int32] | None, n: int) -> npt.NDArray[np.int32]:
    return np.zeros(n, dtype=np.int32) if counts is None else counts


def _energies_from_lags(
    mono: npt.NDArray[np.float64],
    energy: npt.NDArray[np.float64],
    r1: npt.NDArray[np.float64],
    r2: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The sums of squared first and second differences of each row of ``mono`` (at least 3
    frames, one or two 16-bit channels) from its sum of squares ``energy`` and its lag-1 and
    lag-2 products ``r1``, ``r2``: see :func:`_difference_energies`."""
    a, b = mono[:, 0], mono[:, 1]  # first two, last two
    y, z = mono[:, -2], mono[:, -1]
    e1 = 2.0 * energy - a * a - z * z - 2.0 * r1
    # sum (x[i+2] - 2 x[i+1] + x[i])^2 over i = 0 .. n-3, expanded term by term
    e2 = (
        (energy - a * a - b * b)
        + 4.0 * (energy - a * a - z * z)
        + (energy - y * y - z * z)
        - 4.0 * (r1 - a * b)
        - 4.0 * (r1 - y * z)
        + 2.0 * r2
    )
    return e1, e2


def _difference_energies(
    mono: npt.NDArray[np.float64], energy: npt.NDArray[np.float64], channels: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row of ``mono`` (cells, frames): the sums of squared first and second differences.

    For at most two 16-bit channels every product and partial sum below is an integer under
    2**53, so the lagged products give exactly the number that summing the differences gives,
    in two passes instead of four and without the difference arrays. ``energy`` is the rows'
    sum of squares.
    """
    if channels > 2 or mono.shape[1] < 3:
        d1 = np.diff(mono, axis=1)
        d2 = np.diff(d1, axis=1)
        return np.einsum("ij,ij->i", d1, d1), np.einsum("ij,ij->i", d2, d2)
    r1 = np.einsum("ij,ij->i", mono[:, 1:], mono[:, :-1])
    r2 = np.einsum("ij,ij->i", mono[:, 2:], mono[:, :-2])
    return _energies_from_lags(mono, energy, r1, r2)
