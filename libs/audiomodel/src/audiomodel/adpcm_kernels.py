"""The compiled tracker of :mod:`audiomodel.adpcm`: which IMA ADPCM codes, if any, a decoder
could have turned into a run of 16-bit samples.

An IMA (DVI) ADPCM decoder keeps two numbers per channel, the last sample and a step index
(0-88). Each 4-bit code moves the sample by one of eight magnitudes of the index's step, up or
down (clamped to 16 bits), and moves the index by -1 or +2..+8. Only the index is hidden, so the
tracker keeps the set of indices that explain the samples so far and reads the code each
sample's move needs. Where no index explains a move, a new stream starts (a block header sets
the sample and the index anew; audio that never went through the codec starts one nearly every
sample).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "AMBIGUOUS",
    "IMA_INDEX_MOVE",
    "IMA_MOVES",
    "IMA_STEPS",
    "OKI_MOVES",
    "OKI_STEPS",
    "RESTART",
    "probe_ima",
    "settle_ima",
    "track_ima",
]

# The IMA ADPCM step sizes (the same table in libsndfile, sox, ffmpeg and the IMA's 1992 text).
_IMA_STEP_TEXT = """7 8 9 10 11 12 13 14 16 17 19 21 23 25 28 31 34 37 41 45 50 55 60 66 73 80 88 97 107 118
130 143 157 173 190 209 230 253 279 307 337 371 408 449 494 544 598 658 724 796 876 963
1060 1166 1282 1411 1552 1707 1878 2066 2272 2499 2749 3024 3327 3660 4026 4428 4871 5358
5894 6484 7132 7845 8630 9493 10442 11487 12635 13899 15289 16818 18500 20350 22385 24623
27086 29794 32767"""
IMA_STEPS = np.array(_IMA_STEP_TEXT.split(), dtype=np.int32)
IMA_INDEX_MOVE = np.array([-1, -1, -1, -1, 2, 4, 6, 8], dtype=np.int32)
RESTART = np.int8(-2)  # no index explains the move: a new stream starts at this sample
AMBIGUOUS = np.int8(-1)  # more than one code explains it (a clamped move, or a tiny step)


def _moves() -> npt.NDArray[np.int32]:
    """(index, magnitude) -> how far the decoder moves the sample (before the sign)."""
    step = IMA_STEPS[:, None]
    magnitude = np.arange(8)[None, :]
    move = step >> 3
    move = move + np.where(magnitude & 4, step, 0)
    move = move + np.where(magnitude & 2, step >> 1, 0)
    move = move + np.where(magnitude & 1, step >> 2, 0)
    return np.ascontiguousarray(move, dtype=np.int32)


IMA_MOVES = _moves()

# The OKI/Dialogic ADPCM (.vox) step sizes, on the 16-bit scale (the 12-bit table 16..1552 times
# 16; sox's oki_steps). Its index moves as IMA's does.
_OKI_STEP_TEXT = """256 272 304 336 368 400 448 496 544 592 656 720 800 880 960 1056 1168 1280 1408 1552
1712 1888 2080 2288 2512 2768 3040 3344 3680 4048 4464 4912 5392 5936 6528 7184 7904 8704 9568
10528 11584 12736 14016 15408 16960 18656 20512 22576 24832"""
OKI_STEPS = np.array(_OKI_STEP_TEXT.split(), dtype=np.int32)


def _oki_moves() -> npt.NDArray[np.int32]:
    """(index, magnitude) -> the OKI decoder's move: ``(step * (2m + 1)) >> 3`` on the 12-bit
    scale, so a multiple of 16 on the 16-bit one (sox masks the low 4 bits; ffmpeg shifts the
    12-bit value left by 4: the same moves)."""
    odd = 2 * np.arange(8)[None, :] + 1
    return np.ascontiguousarray(((OKI_STEPS[:, None] * odd) >> 3) & ~15, dtype=np.int32)


OKI_MOVES = _oki_moves()


@numba.njit(cache=True, nogil=True)
def track_ima(
    samples: npt.NDArray[np.int16],
    moves: npt.NDArray[np.int32],
    index_move: npt.NDArray[np.int32],
    alive: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.int8],
    history: npt.NDArray[np.bool_],
    give_up: int,
) -> int:
    """Into ``codes`` (the length of ``samples``, one channel) the code each sample's move
    needs, ``AMBIGUOUS`` or ``RESTART``; ``codes[0]`` is ``RESTART`` when ``alive`` (the
    indices alive before the first sample, updated in place for the next call) is all False.
    Returns the count of restarts. ``history`` (samples x indices, or 0 rows) keeps the
    indices alive before each sample's move, for :func:`settle_ima`. With ``give_up`` >= 0 the
    tracking stops once the restarts pass it (a probe: audio that never went through the codec
    restarts within a few samples), the rest of ``codes`` unwritten.

    ``samples[0]`` is the sample the previous call ended on (or a stream's first)."""
    indices = moves.shape[0]
    # The alive indices as a list (a sound keeps one or two: the loop visits only those), and a
    # mark per index so that each is listed once.
    listed = np.empty(indices, dtype=np.int64)
    following = np.empty(indices, dtype=np.int64)
    marked = np.zeros(indices, dtype=np.bool_)
    count = 0
    for i in range(indices):
        if alive[i]:
            listed[count] = i
            count += 1
    restarts = 0
    codes[0] = RESTART
    if count == 0:
        restarts += 1
        listed[:] = np.arange(indices)
        count = indices
    keep = history.shape[0] == samples.shape[0]
    for n in range(1, samples.shape[0]):
        if keep:
            for a in range(count):
                history[n, listed[a]] = True
        previous = np.int32(samples[n - 1])
        current = np.int32(samples[n])
        found = np.int8(-3)
        next_count = 0
        for sign in range(2):  # up, then down (both when the sample stays: +0, a rail)
            if (sign == 0 and current < previous) or (sign == 1 and current > previous):
                continue
            for a in range(count):
                i = listed[a]
                for m in range(8):
                    move = moves[i, m]
                    value = previous + move if sign == 0 else previous - move
                    value = min(max(value, -32768), 32767)
                    if value != current:
                        continue
                    # a zero move reads as the positive code (+0 and -0 cannot be told apart)
                    code = np.int8(m if sign == 0 or move == 0 else m + 8)
                    found = code if found == -3 or found == code else AMBIGUOUS
                    j = min(max(i + index_move[m], 0), indices - 1)
                    if not marked[j]:
                        marked[j] = True
                        following[next_count] = j
                        next_count += 1
        for a in range(next_count):
            marked[following[a]] = False
        if found == -3:
            codes[n] = RESTART
            restarts += 1
            if 0 <= give_up < restarts:
                return restarts
            listed[:] = np.arange(indices)
            count = indices
        else:
            codes[n] = found
            listed, following = following, listed
            count = next_count
    alive[:] = False
    for a in range(count):
        alive[listed[a]] = True
    return restarts


@numba.njit(cache=True, nogil=True)
def settle_ima(
    samples: npt.NDArray[np.int16],
    moves: npt.NDArray[np.int32],
    index_move: npt.NDArray[np.int32],
    history: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.int8],
) -> None:
    """Read again, from the end back, the codes :func:`track_ima` left ``AMBIGUOUS``: an index
    alive before a move counts only if one of its codes leads to an index alive after it (the
    start of a stream, where all 89 indices are alive, is settled by what follows)."""
    indices = moves.shape[0]
    after = np.ones(indices, dtype=np.bool_)
    before = np.zeros(indices, dtype=np.bool_)
    for n in range(samples.shape[0] - 1, 0, -1):
        if codes[n] == RESTART:
            after[:] = True
            continue
        previous = np.int32(samples[n - 1])
        current = np.int32(samples[n])
        found = np.int8(-3)
        before[:] = False
        for sign in range(2):
            if (sign == 0 and current < previous) or (sign == 1 and current > previous):
                continue
            for i in range(indices):
                if not history[n, i]:
                    continue
                for m in range(8):
                    j = min(max(i + index_move[m], 0), indices - 1)
                    if not after[j]:
                        continue
                    move = moves[i, m]
                    value = previous + move if sign == 0 else previous - move
                    value = min(max(value, -32768), 32767)
                    if value != current:
                        continue
                    code = np.int8(m if sign == 0 or move == 0 else m + 8)
                    found = code if found == -3 or found == code else AMBIGUOUS
                    before[i] = True
        if found != -3:
            codes[n] = found
        after[:] = before


@numba.njit(cache=True, nogil=True)
def probe_ima(
    channel: npt.NDArray[np.int16],
    moves: npt.NDArray[np.int32],
    index_move: npt.NDArray[np.int32],
    stretches: int,
    length: int,
    most_restarts: int,
) -> bool:
    """Whether ``stretches`` stretches of ``length`` samples, spread over ``channel``, each fit
    the decoder with at most ``most_restarts`` restarts (their first sample counted as one):
    audio that never went through the codec fails the first within a few samples."""
    size = channel.shape[0]
    if size < length * stretches:
        return False
    alive = np.zeros(moves.shape[0], dtype=np.bool_)
    codes = np.empty(length, dtype=np.int8)
    history = np.zeros((0, moves.shape[0]), dtype=np.bool_)
    stretch = np.empty(length, dtype=np.int16)
    for k in range(stretches):
        at = k * (size - length) // max(1, stretches - 1)
        stretch[:] = channel[at : at + length]
        alive[:] = False
        restarts = track_ima(stretch, moves, index_move, alive, codes, history, most_restarts)
        if restarts > most_restarts:
            return False
    return True
