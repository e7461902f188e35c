"""Bytes given as GSM 06.10 frames: each 20 ms frame's spectral envelope is a fresh draw.

GSM 06.10 (full rate: WAV format 0x31, sox's ``.gsm``, libsndfile's ``GSM610``; 8 kHz only)
codes each 20 ms frame (160 samples) as eight log-area ratios (LARs: the short-term spectral
envelope, the reflection coefficients of an 8th-order LPC of the frame), then a long-term
predictor and a regular-pulse excitation per 5 ms subframe. Any bits are a valid frame, so a
file's bytes written as GSM frames decode without error (random and compressed bytes as WAV 49
GSM and as a raw ``.gsm`` converted to 16-bit PCM were accepted in session 16), and the decoded
level is smooth enough that no level sign sees them (the long-term predictor and the synthesis
filter carry each subframe into the next).

What the decoder cannot hide is the envelope. An encoder measures the LARs on its input, and a
sound's envelope persists from one 20 ms frame to the next (a vocal tract moves over 50-100 ms,
an instrument's body and a room do not move at all); bytes draw every frame's LARs anew. The
decoded output, re-measured the way the encoder measures it (pre-emphasis, autocorrelation,
Levinson to reflection coefficients, LARs of each 160-sample frame), shows it:

- **Jump.** The median change of the first four LARs between consecutive frames of sound:
  good audio through sox's GSM 0.15-0.38 (the dev corpus: speech, music, effects), the same
  audio at 8 kHz without the codec 0.12-0.41; bytes 0.71-0.87.
- **Memory.** The correlation of each LAR with the next frame's (median over the eight): sound
  0.33-0.78; bytes 0.07-0.11.

A track is data when both hold (``MIN_JUMP`` 0.55, ``MAX_MEMORY`` 0.25) over two seconds of
sound or more. Read at 8 kHz only (GSM's one rate, and that of every telephone file), on the
mono mix: for other rates nothing is computed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding

__all__ = ["GSM_RATE", "EnvelopeDraws", "frame_lags", "lars_from_lags"]

GSM_RATE = 8000
FRAME = 160  # GSM 06.10's frame: 20 ms at 8 kHz
ORDER = 8  # its LPC order: eight LARs a frame
PRE_EMPHASIS = 28180 / 32768  # the encoder's pre-emphasis (GSM 06.10 4.2.2)
# Frames of sound: an RMS over -70 dBFS of the mono mix (a silent frame's envelope is its noise)
MIN_MEAN_SQUARE = 10.0**2
MIN_PAIRS = 100  # consecutive frames of sound (two seconds)
JUMP_LARS = 4  # the first four LARs: the envelope's broad shape, measured most steadily
# Bytes 0.71-0.87; good audio through the codec 0.38 at most, 0.41 without it
MIN_JUMP = 0.55
# Bytes 0.07-0.11; sound 0.33 or more
MAX_MEMORY = 0.25
MAX_FRAMES = 30_000  # ten minutes of frames are enough to judge a track
BATCH_FRAMES = 500  # frames measured together (ten seconds)
REFLECTION_BOUND = 0.999  # keeps a LAR finite where a frame is one pure tone


def frame_lags(frames: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """The autocorrelation of each frame (rows) at lags 0-8 (nine products summed along the
    rows: cheaper than a padded FFT of every frame at this order)."""
    lags = np.empty((frames.shape[0], ORDER + 1))
    for k in range(ORDER + 1):
        lags[:, k] = np.einsum("ij,ij->i", frames[:, : FRAME - k], frames[:, k:])
    return lags


def lars_from_lags(lags: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The eight LARs of each frame from its lags, by Levinson's recursion, all frames at
    once; silent frames read 0."""
    count = lags.shape[0]
    predictor = np.zeros((count, ORDER + 1))
    predictor[:, 0] = 1.0
    error = lags[:, 0].copy()
    live = error > 0
    error[~live] = 1.0
    reflections = np.zeros((count, ORDER))
    for i in range(1, ORDER + 1):
        acc = lags[:, i] + np.einsum("ij,ij->i", predictor[:, 1:i], lags[:, i - 1 : 0 : -1])
        k = np.clip(-acc / error, -REFLECTION_BOUND, REFLECTION_BOUND)
        k[~live] = 0.0
        updated = predictor.copy()
        updated[:, 1:i] = predictor[:, 1:i] + k[:, None] * predictor[:, i - 1 : 0 : -1]
        updated[:, i] = k
        predictor = updated
        reflections[:, i - 1] = k
        error = np.maximum(error * (1.0 - k * k), 1e-9)
    lars: npt.NDArray[np.float64] = np.log((1.0 + reflections) / (1.0 - reflections))
    return lars


class EnvelopeDraws:
    """The LARs of each 20 ms frame of an 8 kHz track's mono mix, in file order."""

    def __init__(self) -> None:
        self._carry = np.zeros(0, dtype=np.float32)
        self._last = 0.0  # the sample before the carry (for the pre-emphasis)
        self._lags: list[npt.NDArray[np.float64]] = []
        self._sound: list[npt.NDArray[np.bool_]] = []
        self._pending: list[npt.NDArray[np.int32]] = []
        self._pending_samples = 0
        self.frames = 0

    def update(self, summed: npt.NDArray[np.int32]) -> None:
        """Take a block of the mono mix (the channels' sum, as the signal stage has it). The
        blocks are measured ten seconds at a time (a few array passes for 500 frames, rather
        than for each block's 25)."""
        if self.frames >= MAX_FRAMES or summed.size == 0:
            return
        self._pending.append(np.array(summed, dtype=np.int32))
        self._pending_samples += summed.size
        if self._pending_samples >= BATCH_FRAMES * FRAME:
            self._measure_pending()

    def _measure_pending(self) -> None:
        if not self._pending:
            return
        x = np.concatenate([self._carry, np.concatenate(self._pending).astype(np.float32)])
        self._pending, self._pending_samples = [], 0
        whole = x.shape[0] // FRAME * FRAME
        if whole:
            # (single precision: 160 products a lag lose ~1e-5 of it, while the LARs are
            # judged to a few hundredths; the recursion on the lags runs in double)
            block = x[:whole]
            emphasised = block.copy()
            emphasised[1:] -= np.float32(PRE_EMPHASIS) * block[:-1]
            emphasised[0] -= np.float32(PRE_EMPHASIS * self._last)
            self._last = float(block[-1])
            frames = emphasised.reshape(-1, FRAME)
            mean_square = np.einsum("ij,ij->i", block.reshape(-1, FRAME), block.reshape(-1, FRAME))
            self._sound.append(mean_square / FRAME > MIN_MEAN_SQUARE)
            self._lags.append(frame_lags(frames))  # (Levinson runs once, in measures())
            self.frames += frames.shape[0]
        self._carry = np.asarray(x[whole:], dtype=np.float32)

    def measures(self) -> tuple[float, float, int] | None:
        """(median LAR jump, median LAR memory, pairs of consecutive frames of sound), or None
        with too few pairs."""
        self._measure_pending()
        if not self._lags:
            return None
        sound = np.concatenate(self._sound)
        pairs = sound[:-1] & sound[1:]
        count = int(np.count_nonzero(pairs))
        if count < MIN_PAIRS:
            return None
        lars = lars_from_lags(np.concatenate(self._lags))
        before, after = lars[:-1][pairs], lars[1:][pairs]
        jump = float(np.median(np.abs(after[:, :JUMP_LARS] - before[:, :JUMP_LARS])))
        memory = float(np.median([_correlation(before[:, j], after[:, j]) for j in range(ORDER)]))
        return jump, memory, count

    def report(self) -> list[Finding]:
        measured = self.measures()
        if measured is None:
            return []
        jump, memory, count = measured
        if jump < MIN_JUMP or memory > MAX_MEMORY:
            return []
        return [
            finding(
                "signal.data_as_audio",
                f"The spectral envelope of the track's 20 ms frames is drawn anew every frame "
                f"(its log-area ratios jump by a median {jump:.2f} and keep a correlation of "
                f"{memory:.2f} with the next frame's): a sound's envelope persists from one "
                "frame to the next, while a file's bytes given as GSM 06.10 frames decode to "
                "a new envelope every frame.",
                codec="gsm",
                median_lar_jump=round(jump, 3),
                lar_memory=round(memory, 3),
                frame_pairs=count,
            )
        ]


def _correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 0 else 1.0
