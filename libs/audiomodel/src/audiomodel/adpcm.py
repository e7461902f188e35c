"""Data stored as the codes of an IMA ADPCM stream, read back from the decoded samples.

IMA (DVI) ADPCM stores one 4-bit code per sample: a sign and a 3-bit magnitude of the decoder's
current step. The decoder is deterministic: each sample is the previous one plus one of 16 moves
fixed by its step index (0-88), and the code moves the index (-1, or +2 to +8). So a file's
bytes written as the nibbles of an IMA ADPCM WAV (tag 0x11), or of sox's ``-e ima-adpcm``, and
then converted to 16-bit PCM (``sox in.wav -e signed -b 16 out.wav``) come back out of the
samples: the tracker of :mod:`audiomodel.adpcm_kernels` keeps the step indices that explain the
samples so far and reads the code each move needs. Random nibbles decode to a signal driven to
the rails (the index climbs on every large code), which the score took for loud clipped audio
(0.4-0.5, accepted; session 14).

What only a decoder's output does: every move is one of the 16 its state allows. Audio that never
went through the codec fits by chance for a sample or two (the dev corpus's files start a new
stream at 40-90 % of their samples); a decoded stream fits everywhere but at its block headers
(one sample in 250 to 2,000). What sound does to the codes and bytes do not:

- **Code entropy.** The step adapts to the sound's level, so its codes spread over the 16, but a
  sound's moves follow a bell (most of them small; the step keeps up with the level only
  slowly): good audio through the codec reaches 3.75 bits per code. Uniform bytes use the 16
  codes evenly: 3.96-4.0 bits (the clamped moves at the rails are left out: they fit several
  codes).
- **Memory.** A sound's waveform is smooth (neighbouring moves share a sign: the first
  difference of any band-limited sound is correlated) and its level persists (neighbouring
  magnitudes correlate). Bytes have neither: both correlations ~0.
- **Bytes.** Paired into bytes (two codes a byte, low nibble first as a WAV block stores them)
  the codes of text are printable and those of a file carry its signature.

A second of decoded samples is data when it fits the decoder, its codes are near-uniform and
forget both sign and magnitude, or its bytes are text. A cheap probe (a few short stretches a
window) turns every other window away before its codes are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from audiomodel.adpcm_kernels import (
    IMA_INDEX_MOVE,
    IMA_MOVES,
    OKI_MOVES,
    RESTART,
    probe_ima,
    settle_ima,
    track_ima,
)
from audiomodel.findings import Finding, finding
from audiomodel.payload import dangerous_payload, printable_ratio
from audiomodel.windows import ByteMap, longest_run

__all__ = [
    "DECODERS",
    "IMA",
    "OKI",
    "AdpcmDecoder",
    "AdpcmScanner",
    "WindowAdpcm",
    "codes_to_bytes",
    "ima_codes",
]


@dataclass(frozen=True, slots=True)
class AdpcmDecoder:
    """An IMA-style ADPCM decoder: a step table walked by a step index, each 4-bit code one of
    16 moves of the index's step (``moves``: index x magnitude) and an index move."""

    name: str
    moves: npt.NDArray[np.int32]
    index_move: npt.NDArray[np.int32]
    grid: int = 1
    """Every sample it outputs is a multiple of this (OKI's 12-bit samples shifted to 16 bits:
    16), which turns other audio away before a stretch is tracked."""
    high_nibble_first: bool = False
    """How its files pack two codes a byte (a WAV's IMA blocks: low nibble first; .vox: high)."""
    starts_silent: bool = False
    """A headerless stream: the decoder starts from a sample of 0 (and its smallest step), so
    the first sample's code is read from 0 and a file's first byte comes back whole."""


IMA = AdpcmDecoder("IMA ADPCM", IMA_MOVES, IMA_INDEX_MOVE)
# OKI/Dialogic ADPCM (.vox, sox -e oki-adpcm): 49 steps of a 12-bit decoder, the same index
# moves, no block headers (one stream from the file's first nibble, high nibble first)
OKI = AdpcmDecoder(
    "OKI/Dialogic ADPCM", OKI_MOVES, IMA_INDEX_MOVE, 16, high_nibble_first=True, starts_silent=True
)
DECODERS = (IMA, OKI)

WINDOW_S = 1.0
# A decoded stream restarts at its block headers only: one sample in 250 (256-byte stereo
# blocks) or fewer. Audio that never went through the codec restarts at 40-90 % of its samples.
MAX_RESTART_SHARE = 0.02
PROBE_SAMPLES = 48  # samples of each probe stretch
PROBE_STRETCHES = 3  # stretches a window, spread over it
MAX_PROBE_RESTARTS = 2  # a stretch may cross a block header (or two, for tiny blocks)
MIN_WINDOW_CODES = 1500  # known codes before a window's entropy is read (bias 15/(2 n ln 2))
MIN_CODE_ENTROPY_BITS = 3.9
# Neighbouring codes' signs: bytes ~0, but the rails bias the known codes of random nibbles to
# -0.11..-0.17 a window (a code that would pass a rail is not known, so a known code at a rail
# turns back). Full-scale white noise, the only sound that fills the codes as evenly (3.94 bits),
# has the sign memory of any white sequence's first differences: -0.31..-0.34 through the codec.
# The bound sits midway.
MAX_SIGN_MEMORY = 0.24
MAX_MAGNITUDE_MEMORY = 0.1
# Codes read per window and channel: where the rails keep many step indices alive the tracker
# tries every one of them, so what one window may cost is bounded here.
MEASURED_SAMPLES = 4096
# A sound through the codec reads 2.6-3.75 bits a code; codes confined to the smallest moves
# (silence, or a lowest bit over it) read 1.6 at most.
MIN_SOUND_CODE_BITS = 2.5
# A track left as the decoder made it restarts at its block headers only: two samples a block
# at most (the header, and the first code when the header's jump fitted by chance), so 0.4 % for
# the smallest blocks (249 samples a channel).
MAX_DECODER_RESTART_SHARE = 0.005
MIN_PRINTABLE = 0.95  # bytes this printable are text (a sound's codes would have to rise always)
MIN_DATA_WINDOWS = 2
WHOLE_TRACK_SHARE = 0.5
CARVED_BYTES = 1 << 20  # bytes of fitting windows kept to look for a file's signature


def ima_codes(
    samples: npt.NDArray[np.int16],
    *,
    settle: bool = True,
    give_up: int = -1,
    decoder: AdpcmDecoder = IMA,
    from_silence: bool = False,
) -> tuple[npt.NDArray[np.int8], int]:
    """The ``decoder``'s code (IMA ADPCM by default) of each sample of one channel
    (``AMBIGUOUS``, ``RESTART`` where none
    or several fit) and the count of restarts, the step index unknown at the start. ``settle``:
    read the ambiguous codes again from what follows them (a stream's first codes, unclear
    while every index is alive, are then known). ``give_up``: stop once the restarts pass it
    (the count returned is then more than ``give_up``; the codes are not all read).
    ``from_silence``: ``samples[0]`` is a headerless stream's starting state (0, step index 0),
    not a sample of its own."""
    codes = np.empty(samples.shape[0], dtype=np.int8)
    if samples.shape[0] == 0:
        return codes, 0
    moves, index_move = decoder.moves, decoder.index_move
    alive = np.zeros(moves.shape[0], dtype=np.bool_)
    alive[0] = from_silence  # (the stream's start: its first sample is 0, its index 0)
    ints = np.ascontiguousarray(samples, dtype=np.int16)
    rows = ints.shape[0] if settle else 0
    history = np.zeros((rows, moves.shape[0]), dtype=np.bool_)
    restarts = track_ima(ints, moves, index_move, alive, codes, history, give_up)
    if settle and restarts * 2 < ints.shape[0]:  # (a probe of audio that never went through it)
        settle_ima(ints, moves, index_move, history, codes)
    return codes, restarts


def codes_to_bytes(
    codes: npt.NDArray[np.int8], phase: int, *, high_nibble_first: bool = False
) -> tuple[bytes, bytes]:
    """The bytes the codes pack into, two a byte, low nibble first, the pairs counted from each
    restart (``phase`` 0: the restart is a WAV block's header sample and the codes follow it;
    1: the header's move fitted by chance and the block's first code restarted). A code that is
    not known reads as 0, so the bytes keep their places; the second bytes are those whose two
    codes are both known."""
    nibbles = np.where(codes >= 0, codes, 0).astype(np.uint8)
    restarts = np.flatnonzero(codes == RESTART)
    if restarts.size == 0 or restarts[0] != 0:
        restarts = np.concatenate([[0], restarts])
    ends = np.concatenate([restarts[1:], [codes.size]])
    pieces: list[npt.NDArray[np.uint8]] = []
    known: list[npt.NDArray[np.bool_]] = []
    for start, end in zip(restarts.tolist(), ends.tolist(), strict=True):
        first = start + 1 - phase
        pairs = nibbles[first : first + (end - first) // 2 * 2].reshape(-1, 2)
        low, high = (pairs[:, 1], pairs[:, 0]) if high_nibble_first else (pairs[:, 0], pairs[:, 1])
        pieces.append((low | (high << 4)).astype(np.uint8))
        whole = codes[first : first + pairs.size].reshape(-1, 2) >= 0
        known.append(whole[:, 0] & whole[:, 1])
    if not pieces:
        return b"", b""
    packed = np.concatenate(pieces)
    return packed.tobytes(), packed[np.concatenate(known)].tobytes()


def _on_grid(stretch: npt.NDArray[np.int16], grid: int) -> bool:
    """Whether every sample sits on the decoder's grid: a multiple of ``grid``, or one offset
    as the top rail is (a move from a sample clamped at 32767 keeps its offset: 15 for 16)."""
    # (the first few samples in plain Python first: other audio fails within two or three, and
    # this runs every second of every 16-bit track)
    if any(value & (grid - 1) not in (0, grid - 1) for value in stretch[:4].tolist()):
        return False
    offsets = stretch & (grid - 1)
    return bool(np.all((offsets == 0) | (offsets == grid - 1)))


def _correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    if a.size < 2:  # (no neighbouring pair known: no memory to read)
        return 1.0
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 1.0


@dataclass(frozen=True, slots=True)
class WindowAdpcm:
    """One window's measures (the channel most like data)."""

    restart_share: float
    entropy_bits: float
    sign_memory: float
    magnitude_memory: float
    printable: float

    @property
    def fits(self) -> bool:
        return self.restart_share <= MAX_RESTART_SHARE

    @property
    def random_codes(self) -> bool:
        return (
            self.entropy_bits >= MIN_CODE_ENTROPY_BITS
            and abs(self.sign_memory) <= MAX_SIGN_MEMORY
            and abs(self.magnitude_memory) <= MAX_MAGNITUDE_MEMORY
        )

    @property
    def data(self) -> bool:
        return self.fits and (self.random_codes or self.printable >= MIN_PRINTABLE)


def window_adpcm(
    codes: npt.NDArray[np.int8], restarts: int, decoder: AdpcmDecoder = IMA
) -> tuple[WindowAdpcm, tuple[bytes, bytes]]:
    """One channel's measures over a window's codes, and the bytes they pack into (either
    phase)."""
    order = decoder.high_nibble_first
    (in_place, in_phase), (shifted, shifted_known) = (
        codes_to_bytes(codes, 0, high_nibble_first=order),
        codes_to_bytes(codes, 1, high_nibble_first=order),
    )
    packed = (in_place, shifted)
    known = codes >= 0
    entropy, sign_memory, magnitude_memory = 0.0, 1.0, 1.0
    if known.sum() >= MIN_WINDOW_CODES:
        counts = np.bincount(codes[known], minlength=16)
        p = counts[counts > 0] / known.sum()
        entropy = float(-(p * np.log2(p)).sum())
        both = known[:-1] & known[1:]
        first, second = codes[:-1][both].astype(np.int64), codes[1:][both].astype(np.int64)
        sign_memory = _correlation((first >> 3).astype(np.float64), (second >> 3).astype(float))
        magnitude_memory = _correlation((first & 7).astype(np.float64), (second & 7).astype(float))
    printable = max(
        printable_ratio(known) if len(known) >= MIN_WINDOW_CODES // 4 else 0.0
        for known in (in_phase, shifted_known)
    )
    share = restarts / max(1, codes.size)
    return WindowAdpcm(share, entropy, sign_memory, magnitude_memory, printable), packed


# Levels whose reading is kept (a song's silences hold one or two: digital zero, a DC offset).
_LEVELS_KEPT = 16


def _one_level(channel: npt.NDArray[np.int16]) -> int | None:
    """The level a window's channel holds throughout (digital silence, a DC offset), or None.

    A decoder holds a level only with codes that do not move it (IMA's 0 and 8 at the smallest
    step), so a constant channel's codes, measures and bytes are the same in every window of
    that length: they are read once per level and reused (a song's silent seconds fit the
    probe and cost ~5 ms each to read again; the values are the same to the bit)."""
    first = channel[0]
    if channel[-1] != first or np.any(channel != first):
        return None
    return int(first)


class AdpcmScanner:
    """Reads 16-bit samples back to the IMA ADPCM codes a decoder could have made them from,
    window by window in file order.

    Parameters
    ----------
    sample_rate : int
        Frames per second.
    byte_map : ByteMap, optional
        Where each frame's bytes sit in the file (16-bit PCM: for the finding's byte range).
    """

    def __init__(
        self,
        sample_rate: int,
        byte_map: ByteMap | None,
        decoders: tuple[AdpcmDecoder, ...] = DECODERS,
    ) -> None:
        self.rate = sample_rate
        self.byte_map = byte_map
        self.decoders = decoders
        self._decoded_by: list[str] = []  # per window: the decoder its codes were read for, or ""
        self.window = max(1, round(WINDOW_S * sample_rate))
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_len = 0
        self._frames = 0
        self.windows: list[tuple[int, WindowAdpcm | None]] = []
        self._carved = (bytearray(), bytearray())  # the fitting windows' bytes, either phase
        self._carved_at: list[tuple[int, int]] = []  # (byte offset in _carved, window number)
        self._as_decoded: list[bool] = []  # per window: every sample of every channel fits
        # What a channel holding one level throughout was read as, by (level, length, decoder,
        # from silence): see _one_level.
        self._levels_read: dict[
            tuple[int | None, int, str, bool],
            tuple[WindowAdpcm, tuple[bytes, bytes], int, bool | None],
        ] = {}

    def update(self, samples: npt.NDArray[np.int16]) -> None:
        """Add a block of 16-bit samples, shape (frames, channels). Whole windows are read in
        place; only a window split between blocks is copied."""
        at = 0
        if self._pending_len:
            missing = self.window - self._pending_len
            if samples.shape[0] < missing:
                self._pending.append(samples.copy())
                self._pending_len += samples.shape[0]
                return
            self._measure(np.concatenate([*self._pending, samples[:missing]]))
            self._pending, self._pending_len, at = [], 0, missing
        while at + self.window <= samples.shape[0]:
            self._measure(samples[at : at + self.window])
            at += self.window
        if at < samples.shape[0]:
            self._pending, self._pending_len = [samples[at:].copy()], samples.shape[0] - at

    def _decoded_here(self, channel: npt.NDArray[np.int16]) -> AdpcmDecoder | None:
        """The probe: the first decoder short stretches of the window fit (audio that never
        went through it restarts within a few samples), or None."""
        # (a stretch's first sample is one restart; a block header in it another, or two)
        most = MAX_PROBE_RESTARTS + 1
        for decoder in self.decoders:
            if decoder.grid > 1 and not _on_grid(channel[:PROBE_SAMPLES], decoder.grid):
                continue
            moves, index_move = decoder.moves, decoder.index_move
            if probe_ima(channel, moves, index_move, PROBE_STRETCHES, PROBE_SAMPLES, most):
                return decoder
        return None

    def _measure(self, samples: npt.NDArray[np.int16]) -> None:
        measured: WindowAdpcm | None = None
        as_decoded = False
        decoder = self._decoded_here(samples[:, 0])
        if decoder is not None:
            as_decoded = True
            for channel in samples.T:
                level = _one_level(channel)
                from_silence = decoder.starts_silent and self._frames == 0
                key = (level, channel.shape[0], decoder.name, from_silence)
                if level is None or key not in self._levels_read:
                    read = channel[:MEASURED_SAMPLES]
                    if from_silence:  # the decoder's state before the track's first sample
                        read = np.concatenate([np.zeros(1, np.int16), read[:-1]])
                    codes, restarts = ima_codes(read, decoder=decoder, from_silence=from_silence)
                    window, packed = window_adpcm(codes, restarts, decoder)
                    left: bool | None = None
                else:
                    window, packed, restarts, left = self._levels_read[key]
                if measured is None or (window.data and not measured.data):
                    measured = window
                if as_decoded and left is None:
                    left = self._left_as_decoded(channel, window, restarts, decoder)
                as_decoded = as_decoded and bool(left)
                if level is not None:
                    if len(self._levels_read) >= _LEVELS_KEPT and key not in self._levels_read:
                        self._levels_read.clear()
                    self._levels_read[key] = (window, packed, restarts, left)
                if window.fits and len(self._carved[0]) < CARVED_BYTES:
                    self._carved_at.append((len(self._carved[0]), len(self.windows)))
                    for carved, bytes_ in zip(self._carved, packed, strict=True):
                        carved += bytes_[: len(packed[0])]
                        carved += bytes(max(0, len(packed[0]) - len(bytes_)))
        self.windows.append((self._frames, measured))
        self._decoded_by.append(decoder.name if decoder is not None else "")
        self._as_decoded.append(as_decoded)
        self._frames += samples.shape[0]

    @staticmethod
    def _left_as_decoded(
        channel: npt.NDArray[np.int16], window: WindowAdpcm, restarts: int, decoder: AdpcmDecoder
    ) -> bool:
        """Whether every sample of a sound's channel fits the decoder, past the measured ones
        too (a sound's few step indices track cheaply; random codes are not looked at again)."""
        if not window.fits or window.random_codes:
            return False
        if channel.shape[0] > MEASURED_SAMPLES:
            _, rest = ima_codes(channel[MEASURED_SAMPLES - 1 :], settle=False, decoder=decoder)
            restarts += rest - 1  # (the rest's first sample is the measured part's last)
        return bool(restarts <= MAX_DECODER_RESTART_SHARE * channel.shape[0])

    @property
    def decoder_output(self) -> bool:
        """Whether every sample of every channel fits the decoder, restarting at block headers
        only, and its codes move the step (a sound's codes: ``MIN_SOUND_CODE_BITS``): the track
        is an IMA ADPCM decoder's output as it came out of it. Its low bits are then the
        decoder's arithmetic, and no bit was changed after it (a changed sample leaves the moves
        the decoder allows: two restarts). Near silence is not: moves of -1, 0 and +1, what a
        lowest bit written over silence makes, fit the smallest step."""
        measured = [m for _, m in self.windows if m is not None]
        return (
            bool(self._as_decoded)
            and all(self._as_decoded)
            and float(np.median([m.entropy_bits for m in measured])) >= MIN_SOUND_CODE_BITS
        )

    def _payload(self) -> tuple[str, str, int]:
        """(kind, name, window) of a dangerous file the fitting windows' bytes hold."""
        for carved in self._carved:
            kind, name, offset = dangerous_payload(bytes(carved))
            if offset >= 0:
                break
        else:
            return "", "", -1
        starts = [at for at, _ in self._carved_at]
        window = self._carved_at[max(0, int(np.searchsorted(starts, offset, "right")) - 1)][1]
        return kind, name, window

    def report(self) -> list[Finding]:
        """A finding for the track or its longest run of data windows, or none."""
        if self._pending_len >= MIN_WINDOW_CODES:
            self._measure(np.concatenate(self._pending))
        self._pending, self._pending_len = [], 0
        data = np.array([m is not None and m.data for _, m in self.windows], dtype=bool)
        kind, name, payload_window = self._payload() if self._carved[0] else ("", "", -1)
        if payload_window >= 0:
            data[payload_window] = True
        if not data.any():
            return []
        first, last = longest_run(data)
        if (
            last - first + 1 < MIN_DATA_WINDOWS
            and data.mean() < WHOLE_TRACK_SHARE
            and payload_window < 0
        ):
            return []
        if payload_window >= 0 and not first <= payload_window <= last:
            first = last = payload_window
        run = [m for _, m in self.windows[first : last + 1] if m is not None]
        entropy = float(np.median([m.entropy_bits for m in run]))
        sign = float(np.median([m.sign_memory for m in run]))
        magnitude = float(np.median([m.magnitude_memory for m in run]))
        printable = float(np.median([m.printable for m in run]))
        names = [name for name in self._decoded_by[first : last + 1] if name]
        names = names or [self.decoders[0].name]
        codec = max(sorted(set(names)), key=names.count)  # (sorted: ties read the same every run)
        start = self.windows[first][0]
        end = self.windows[last + 1][0] if last + 1 < len(self.windows) else self._frames
        evidence: dict[str, int | float | str] = {
            "start_s": round(start / self.rate, 2),
            "end_s": round(end / self.rate, 2),
            "code_entropy_bits": round(entropy, 3),
            "sign_memory": round(sign, 3),
            "magnitude_memory": round(magnitude, 3),
            "printable_bytes": round(printable, 3),
            "data_windows": int(data.sum()),
            "windows": int(data.size),
            "stored_as": f"{codec} codes decoded to 16-bit values",
        }
        if self.byte_map is not None:
            evidence["byte_start"] = self.byte_map.offset + start * self.byte_map.frame_bytes
            evidence["byte_end"] = self.byte_map.offset + end * self.byte_map.frame_bytes
        if name:
            evidence["payload_kind"], evidence["payload"] = kind, name
        what = (
            f"every move one an {codec} decoder makes, from codes that "
            + (
                f"spell a {name} file"
                if name
                else "are text"
                if printable >= MIN_PRINTABLE
                else "use all 16 values evenly and forget sign and level from one to the next"
            )
            + f" ({entropy:.2f} bits per code): the bytes of a file, not a sound through the codec"
        )
        if data.mean() >= WHOLE_TRACK_SHARE:
            return [
                finding(
                    "signal.data_as_audio",
                    f"The samples of {data.sum()} of {data.size} seconds decode from codes that "
                    f"look like data ({what}).",
                    **evidence,
                )
            ]
        return [
            finding(
                "signal.data_segment",
                f"{evidence['start_s']}-{evidence['end_s']} s of the track decode from codes "
                f"that look like data ({what}).",
                **evidence,
            )
        ]
