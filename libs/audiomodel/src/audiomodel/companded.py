"""Data stored as the codes of a companded file (mu-law, A-law).

A mu-law or A-law file stores one 8-bit code per sample: a sign, a 3-bit segment (an octave of
level) and a 4-bit step within it. The decoder expands each code to a 14- or 13-bit value, so a
file's bytes written as codes decode to a waveform whose *linear* values look nothing like
uniform bytes (most of them are small: the low segments are fine-grained), and the per-window
"uniform byte values" sign of :mod:`audiomodel.windows`, read on the linear high byte, never
fires. Encrypted or compressed bytes stored as codes were accepted (session 14: random bytes as
8 kHz mu-law and A-law WAV, score 0.05-0.07).

What sound does to the codes, and bytes do not:

- **Code entropy.** A sound's level sits within a few tens of dB of its RMS over a second:
  Gaussian noise at its best level fills the 256 codes to 7.3-7.4 bits, Laplacian (speech-like)
  noise to 7.6, and noise whose level jumps over 30-50 dB every 20 ms to 7.85-7.88. Uniform
  bytes use every code evenly: 7.98 bits over 8,000 codes (the estimator's own bias is 0.02).
- **Level memory.** Every sound has an envelope: its level persists over milliseconds, so a
  sample's segment predicts its neighbour's (the noise whose level jumps every 20 ms above
  keeps a correlation of ~0.7 between neighbouring magnitudes). Bytes forget their level from
  one sample to the next: the correlation of neighbouring codes' magnitudes is ~0 (+-0.01).

A window is data when both hold: nearly every code used evenly (``MIN_CODE_ENTROPY_BITS``) and
no level memory (``MAX_LEVEL_MEMORY``). Neither alone suffices: white noise at a fixed level
forgets its level too (Gaussian samples are independent), but stays under 7.4 bits.

The codes need not be stored as codes: expanded to 16-bit PCM (what sox, ffmpeg and every
telephone-audio converter write) they are the 256 values of the G.711 lattice, one to one, and
the bytes come back exactly. So 16-bit PCM is read the same way wherever a window's samples all
sit on the mu-law or the A-law lattice; a sparse probe (every ``PROBE_STRIDE``-th sample) turns
away the windows of any other audio before the codes are read, so the cost stays with audio that
was companded.

**The codes are the bytes.** Whatever the law, the code each sample decodes from is the byte
the file stores (for 16-bit PCM on a lattice, the byte the file it was converted from stored):
a file written as codes is spelled out by them, header and all. An executable or an archive is
no uniform noise (an ELF's zero runs, tables and text leave its codes at 5-6 bits and its
level memory high, session 16: raw ELF bytes as 8 kHz A-law passed as sound), but its
signature is in the codes as it was on disk, so the codes of every window read are carved
(:func:`~audiomodel.payload.dangerous_payload`, the first ``CARVED_BYTES``), as the bytes after
a file's audio are. A sound's codes spell a confirmed header as rarely as any sound's bytes do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.findings import Finding, finding
from audiomodel.payload import dangerous_payload
from audiomodel.windows import ByteMap, longest_run

__all__ = ["COMPANDED_SUBTYPES", "CodeScanner", "WindowCodes", "decode_codes", "window_codes"]

COMPANDED_SUBTYPES = frozenset({"ULAW", "ALAW"})
WINDOW_S = 1.0
MIN_WINDOW_CODES = 4000  # codes per window before its entropy is read (bias 255/(2 n ln 2) bits)
# Uniform bytes read 7.95-7.98 bits over 4,000-8,000 codes; 400 good files (the dev corpus and
# a fresh good set, speech, music, noise effects, tones) as 8 kHz and native-rate mu-law and
# A-law reached 7.895 at most, with a level memory of 0.27 or more wherever they passed 7.5
MIN_CODE_ENTROPY_BITS = 7.93
MAX_LEVEL_MEMORY = 0.1
MIN_DATA_WINDOWS = 2  # a run of windows this long is a data segment (one second is chance)
WHOLE_TRACK_SHARE = 0.5  # ... and this share of the track's windows is a track of data
PROBE_STRIDE = 16
OFF_LATTICE = 256  # the table's value for a 16-bit sample no code decodes to
CARVED_BYTES = 1 << 20  # codes kept (from the windows read) to look for a file's signature


@dataclass(frozen=True, slots=True)
class _Lattice:
    """For every 16-bit value (by its unsigned view) the code that decodes to it, or
    ``OFF_LATTICE``; and each code's magnitude rank (0-127 within its sign)."""

    codes: npt.NDArray[np.uint16]
    rank: npt.NDArray[np.int8]


def decode_codes(codes: bytes, subtype: str) -> npt.NDArray[np.int16]:
    """Mono ``ULAW`` or ``ALAW`` codes expanded to 16-bit values by libsndfile (the standard
    G.711 expansion, the values sox and ffmpeg write too)."""
    decoded: npt.NDArray[np.int16] = sf.read(
        io.BytesIO(codes), dtype="int16", format="RAW", subtype=subtype, samplerate=8000, channels=1
    )[0]
    return decoded


def _lattice(subtype: str) -> _Lattice:
    """The lattice of ``subtype``: the decoder's value of each of the 256 codes."""
    decoded = decode_codes(bytes(range(256)), subtype)
    table = np.full(1 << 16, OFF_LATTICE, dtype=np.uint16)
    table[decoded.astype(np.int64) & 0xFFFF] = np.arange(256, dtype=np.uint16)
    magnitudes = np.abs(decoded.astype(np.int32))
    rank = np.searchsorted(np.unique(magnitudes), magnitudes).astype(np.int8)
    return _Lattice(table, rank)


_LATTICES = {subtype: _lattice(subtype) for subtype in sorted(COMPANDED_SUBTYPES)}


@dataclass(frozen=True, slots=True)
class WindowCodes:
    """One window's measures."""

    entropy_bits: float
    level_memory: float

    @property
    def data(self) -> bool:
        return self.entropy_bits >= MIN_CODE_ENTROPY_BITS and self.level_memory <= MAX_LEVEL_MEMORY


def window_codes(codes: npt.NDArray[np.uint16], rank: npt.NDArray[np.int8]) -> WindowCodes:
    """The code entropy and level memory of one window's codes, shape (frames, channels)."""
    counts = np.bincount(codes.reshape(-1), minlength=256)
    p = counts[counts > 0] / codes.size
    entropy = float(-(p * np.log2(p)).sum())
    levels = rank[codes].astype(np.float64)
    memory = 0.0
    for channel in levels.T:
        a, b = channel[:-1] - channel[:-1].mean(), channel[1:] - channel[1:].mean()
        denominator = np.sqrt((a * a).sum() * (b * b).sum())
        memory = max(memory, float((a * b).sum() / denominator) if denominator > 0 else 1.0)
    return WindowCodes(entropy, memory)


class CodeScanner:
    """Reads the codes of companded audio window by window, in file order.

    Parameters
    ----------
    subtype : str
        ``"ULAW"`` or ``"ALAW"`` (libsndfile's names): every sample is a code. Any other
        subtype (16-bit PCM): the windows whose samples all sit on one lattice are read.
    sample_rate : int
        Frames per second.
    byte_map : ByteMap, optional
        Where each frame's bytes sit in the file (for the finding's byte range).
    """

    def __init__(self, subtype: str, sample_rate: int, byte_map: ByteMap | None) -> None:
        self.stored_as_codes = subtype in COMPANDED_SUBTYPES
        self.lattices = [_LATTICES[subtype]] if self.stored_as_codes else list(_LATTICES.values())
        self.rate = sample_rate
        self.byte_map = byte_map
        self.window = max(1, round(WINDOW_S * sample_rate))
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_len = 0
        self._frames = 0  # frames taken into whole windows so far
        # (first frame, measures or None where the window is off every lattice)
        self.windows: list[tuple[int, WindowCodes | None]] = []
        self._carved = bytearray()  # the codes of the windows read, as the file stored them
        self._carved_at: list[tuple[int, int]] = []  # (offset in _carved, window number)
        self._mu_law = False  # a window was read on the mu-law lattice (see _payload)

    def update(self, samples: npt.NDArray[np.int16]) -> None:
        """Add a block of decoded 16-bit samples, shape (frames, channels)."""
        if not self.stored_as_codes and not self._on_a_lattice(samples):
            # audio that was never companded: the block and what waits before it are no code
            self.windows.append((self._frames, None))
            self._frames += self._pending_len + samples.shape[0]
            self._pending, self._pending_len = [], 0
            return
        self._pending.append(samples.copy())
        self._pending_len += samples.shape[0]
        if self._pending_len < self.window:
            return
        joined = np.concatenate(self._pending)
        whole = joined.shape[0] // self.window * self.window
        for start in range(0, whole, self.window):
            self._measure(joined[start : start + self.window])
        rest = joined[whole:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_len = rest.shape[0]

    def _on_a_lattice(self, samples: npt.NDArray[np.int16]) -> bool:
        """Whether a sparse probe of the block sits on a lattice (the cheap look)."""
        probe = samples.view(np.uint16)[::PROBE_STRIDE]
        return any(int(lattice.codes[probe].max(initial=0)) <= 255 for lattice in self.lattices)

    def _measure(self, samples: npt.NDArray[np.int16]) -> None:
        measured: WindowCodes | None = None
        values = samples.view(np.uint16)
        for lattice in self.lattices:
            if not self.stored_as_codes and lattice.codes[values[::PROBE_STRIDE]].max() > 255:
                continue  # (the probe: most windows of 16-bit audio stop here)
            codes = lattice.codes[values]
            if self.stored_as_codes or codes.max() <= 255:
                measured = window_codes(codes, lattice.rank)
                if len(self._carved) < CARVED_BYTES:
                    self._carved_at.append((len(self._carved), len(self.windows)))
                    self._carved += codes.reshape(-1).astype(np.uint8).tobytes()
                    self._mu_law |= lattice is _LATTICES["ULAW"]
                break
        self.windows.append((self._frames, measured))
        self._frames += samples.shape[0]

    def _payload(self) -> tuple[str, str, int]:
        """(kind, name, window number) of a dangerous file the codes spell, or ("", "", -1)."""
        if not self._carved:
            return "", "", -1
        carved = bytes(self._carved)
        kind, name, offset = dangerous_payload(carved)
        if offset < 0 and self._mu_law:
            # mu-law has two zeros, codes 0x7F and 0xFF: the lattice reads a decoded zero as
            # 0xFF, so a 0x7F the file stored (an ELF's first byte) is read the other way too
            kind, name, offset = dangerous_payload(carved.replace(b"\xff", b"\x7f"))
        if offset < 0:
            return "", "", -1
        starts = [at for at, _ in self._carved_at]
        window = self._carved_at[max(0, int(np.searchsorted(starts, offset, "right")) - 1)][1]
        return kind, name, window

    def report(self) -> list[Finding]:
        """A finding for the track or its longest run of data windows, or none."""
        if self._pending_len:
            tail = np.concatenate(self._pending)
            if tail.size >= MIN_WINDOW_CODES:
                self._measure(tail)
            self._pending, self._pending_len = [], 0
        data = np.array([m is not None and m.data for _, m in self.windows], dtype=bool)
        kind, name, payload_window = self._payload()
        if payload_window >= 0:
            return [self._spelled(kind, name, payload_window)]
        if not data.any():
            return []
        first, last = longest_run(data)
        if last - first + 1 < MIN_DATA_WINDOWS and data.mean() < WHOLE_TRACK_SHARE:
            return []
        run = [m for _, m in self.windows[first : last + 1] if m is not None]
        entropy = float(np.median([m.entropy_bits for m in run]))
        memory = float(np.median([m.level_memory for m in run]))
        start = self.windows[first][0]
        end = self.windows[last + 1][0] if last + 1 < len(self.windows) else self._frames
        where: dict[str, int | float | str] = {
            "start_s": round(start / self.rate, 2),
            "end_s": round(end / self.rate, 2),
        }
        if self.byte_map is not None:
            where["byte_start"] = self.byte_map.offset + start * self.byte_map.frame_bytes
            where["byte_end"] = self.byte_map.offset + end * self.byte_map.frame_bytes
        evidence: dict[str, int | float | str] = {
            "code_entropy_bits": round(entropy, 3),
            "level_memory": round(memory, 3),
            "data_windows": int(data.sum()),
            "windows": int(data.size),
            "stored_as": "codes" if self.stored_as_codes else "16-bit values on a G.711 lattice",
            **where,
        }
        what = (
            "every code used evenly and no level carried from one sample to the next: the "
            "bytes of a file stored as codes, which no sound's envelope allows"
        )
        if data.mean() >= WHOLE_TRACK_SHARE:
            return [
                finding(
                    "signal.data_as_audio",
                    f"The companded codes of {data.sum()} of {data.size} seconds look like data "
                    f"({what}; {entropy:.2f} bits per code, level memory {memory:.2f}).",
                    **evidence,
                )
            ]
        return [
            finding(
                "signal.data_segment",
                f"{where['start_s']}-{where['end_s']} s of the track look like the bytes of a "
                f"file, not sound ({what}; {entropy:.2f} bits per code, level memory "
                f"{memory:.2f}).",
                **evidence,
            )
        ]

    def _spelled(self, kind: str, name: str, window: int) -> Finding:
        """``signal.data_as_audio`` for codes that spell a dangerous file from ``window`` on."""
        start = self.windows[window][0]
        evidence: dict[str, int | float | str] = {
            "start_s": round(start / self.rate, 2),
            "payload_kind": kind,
            "payload": name,
            "windows": len(self.windows),
            "stored_as": "codes" if self.stored_as_codes else "16-bit values on a G.711 lattice",
        }
        if self.byte_map is not None:
            evidence["byte_start"] = self.byte_map.offset + start * self.byte_map.frame_bytes
        return finding(
            "signal.data_as_audio",
            f"The companded codes from {start / self.rate:.2f} s on spell a {name} file "
            f"({kind}): the codes are the bytes the file stores, and they hold its confirmed "
            "header.",
            **evidence,
        )
