"""Bytes given as Opus packets: the decoder's output is a draw from the codec's prior, not sound.

Opus's range decoder turns any bytes into a valid packet, and range-coded bytes are random by
design, so a file's bytes written as the packets of an Ogg Opus stream (behind any TOC byte,
any packet size) decode without error and their byte statistics say nothing. What they decode
to does. A real encoder codes the band energies of a signal it was given; arbitrary bytes make
the decoder draw each frame's energies from the codec's probability model instead:

* Over full scale. CELT codes each band's energy explicitly (coarse in 6 dB steps, then
  fine), so the decoded frame has the energy the encoder measured on its input, within a dB.
  The input of an encoder is audio, at most full scale (a full-scale square has an RMS of
  0 dBFS; a float master pushed over it is clipped by every player). Bytes drive the coded
  energies where the prior lets them: a run of one byte value decodes to a fixed point of
  them (0x40: +23 dBFS), and random bytes reach the largest energies the model codes in some
  frames, so 20 ms frames with an RMS over +10 dBFS are frames no encoder coded from audio.
* Draws, not a signal. A signal's band energies persist from one 20 ms frame to the next
  (a note, a voice, a noise hold their spectrum for tens of milliseconds; an onset moves all
  bands together and decays); the prior's draws are independent up to the codec's short
  inter-frame prediction, so each band's level jumps by 10 dB or more from frame to frame,
  in SILK and hybrid frames as in CELT ones.

Measured (bench/codec_codes.py): random bytes, an ELF, Python source and compressed bytes as
CELT packets (2.5-20 ms, narrow- to fullband, code 0-3 packets, CBR and random sizes) decode
with 3-59 % of their frames over +10 dBFS; as SILK and hybrid packets, with a median band jump of
9.3-15 dB. Over 540 good files through Opus (opusenc at 6-256 kb/s, VBR, CVBR and hard CBR,
5-40 ms frames, speech and music; libsndfile's Opus at 8-48 kHz) no frame is over +3 dBFS and
the median jump is 8.6 dB at most.

Cost: one FFT of each 20 ms frame of the decoded mono mix, for Opus streams only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

from audiomodel.findings import Finding, finding

FRAME_S = 0.020  # Opus's longest CELT frame; SILK frames are 10-60 ms of 20 ms subframes
# CELT's band edges (RFC 6716 eband5ms), in units of 200 Hz: the bands whose energies Opus codes.
BAND_EDGES_HZ = 200.0 * np.array(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 34, 40, 48, 60, 78, 100]
)
# A frame's mean square over which no encoder coded it from audio: +10 dBFS (a full-scale
# square is 0 dBFS; Opus keeps the band energies within ~1 dB of its input's; good Opus: no
# frame over +3 dBFS in 540 files, while a float master at +6 dBFS through opusenc decodes at
# +6 dBFS, so the bar leaves room for masters no player plays unclipped).
OVER_FULL_SCALE_MEAN_SQUARE = 10.0
# At least this share of the frames, and this many, over +10 dBFS (bytes as CELT packets: 3 %
# or more)
OVER_FULL_SCALE_SHARE = 0.01
OVER_FULL_SCALE_FRAMES = 5
# Frames of sound (over -70 dBFS) whose band levels are compared with the next frame's; bands
# whose median level is under -85 dB are not coded (above the stream's bandwidth).
SOUND_MEAN_SQUARE = 1e-7
CODED_BAND_DB = -85.0
BAND_FLOOR_DB = -95.0
# A median jump of a band's level from one 20 ms frame to the next over which the energies are
# draws (good Opus: 8.6 dB at most over 540 files; the prior's draws 9.3-18 dB).
DRAW_JUMP_DB = 10.0
MIN_SOUND_FRAMES = 50  # a second of sound
MIN_BAND_PAIRS = 100
MAX_FRAMES = 30_000  # ten minutes of 20 ms frames are enough to judge a stream


class OpusDraws:
    """Band levels and mean squares of 20 ms frames of a decoded Opus stream (the decoder's
    floats, before they are rendered to 16 bits and clipped)."""

    def __init__(self, sample_rate: int) -> None:
        self.frame = max(round(FRAME_S * sample_rate), 16)
        freqs = np.fft.rfftfreq(self.frame, 1.0 / sample_rate)
        edges = BAND_EDGES_HZ[sample_rate / 2 >= BAND_EDGES_HZ]
        self.starts = np.searchsorted(freqs, edges[:-1])
        self.window = np.hanning(self.frame).astype(np.float32)
        # A band's summed power as a mean square (the window's power, one-sided spectrum)
        self.scale = 2.0 / (self.frame * self.frame * 0.375)
        self.carry = np.zeros(0, dtype=np.float32)
        self.mean_squares: list[npt.NDArray[np.float64]] = []
        self.levels: list[npt.NDArray[np.float64]] = []
        self.frames = 0

    def update(self, floats: npt.NDArray[np.floating]) -> None:
        """Take a block of decoded samples, (frames, channels)."""
        if self.frames >= MAX_FRAMES:
            return
        mono = floats.mean(axis=1, dtype=np.float32) if floats.ndim == 2 else floats
        x = np.concatenate((self.carry, mono)) if self.carry.size else mono
        whole = len(x) // self.frame
        self.carry = np.array(x[whole * self.frame :], dtype=np.float32)
        if whole == 0:
            return
        frames = x[: whole * self.frame].reshape(whole, self.frame)
        self.mean_squares.append(np.mean(np.square(frames, dtype=np.float64), axis=1))
        spectrum = scipy.fft.rfft(frames * self.window, axis=1)  # single precision: enough for dB
        power = spectrum.real**2 + spectrum.imag**2
        bands = np.add.reduceat(power, self.starts, axis=1)[:, : len(self.starts)]
        self.levels.append(10.0 * np.log10(bands * self.scale + 1e-12))
        self.frames += whole

    def report(self) -> list[Finding]:
        if not self.mean_squares:
            return []
        mean_squares = np.concatenate(self.mean_squares)
        over = int(np.count_nonzero(mean_squares > OVER_FULL_SCALE_MEAN_SQUARE))
        share = over / len(mean_squares)
        if over >= OVER_FULL_SCALE_FRAMES and share >= OVER_FULL_SCALE_SHARE:
            loudest = 10.0 * np.log10(float(mean_squares.max()))
            return [
                finding(
                    "signal.data_as_audio",
                    f"The Opus stream decodes {over} of its {len(mean_squares)} 20 ms frames "
                    f"({share:.0%}) with an RMS over +10 dBFS (up to {loudest:+.1f} dBFS): Opus "
                    "codes the energy of the audio it was given, and audio stays near full "
                    "scale, so these packets were not coded from sound (a file's bytes given as "
                    "Opus packets decode as the codec's probability model draws them).",
                    codec="opus",
                    frames_over_full_scale=over,
                    frames=len(mean_squares),
                    loudest_frame_dbfs=round(loudest, 1),
                )
            ]
        jump = self.median_jump(mean_squares)
        if jump is not None and jump >= DRAW_JUMP_DB:
            return [
                finding(
                    "signal.data_as_audio",
                    f"The Opus stream's band levels jump by a median {jump:.1f} dB from one "
                    "20 ms frame to the next: sound holds its spectrum from frame to frame, "
                    "while a file's bytes given as Opus packets decode to independent draws of "
                    "the codec's probability model.",
                    codec="opus",
                    median_band_jump_db=round(jump, 1),
                    frames=len(mean_squares),
                )
            ]
        return []

    def median_jump(self, mean_squares: npt.NDArray[np.float64]) -> float | None:
        """The median change of a coded band's level between consecutive frames of sound."""
        sound = mean_squares > SOUND_MEAN_SQUARE
        if np.count_nonzero(sound) < MIN_SOUND_FRAMES:
            return None
        levels = np.concatenate(self.levels)
        levels = levels[:, np.median(levels[sound], axis=0) > CODED_BAND_DB]
        pairs = sound[:-1] & sound[1:]
        jumps = np.abs(np.diff(levels, axis=0))[pairs]
        heard = np.minimum(levels[:-1], levels[1:])[pairs] > BAND_FLOOR_DB
        if np.count_nonzero(heard) < MIN_BAND_PAIRS:
            return None
        return float(np.median(jumps[heard]))
