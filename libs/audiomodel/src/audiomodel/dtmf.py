"""Data sent as DTMF digits: a 16-symbol multi-tone modem every phone and free tool can make.

A DTMF digit is one tone of a low group (697-941 Hz) and one of a high group (1209-1633 Hz)
sounding together (ITU-T Q.23); a receiver accepts a digit that lasts 40 ms or more and rejects
one under 23 ms (Q.24). A phone prompt or a dialled number holds a few digits: E.164 numbers are
15 digits at most, and an account number or a PIN with them a few dozen. Sixteen symbols of
4 bits each, sent back to back, are a modem: 64 or more digits in one run that repeat no phrase
carry 32+ bytes, and no phone prompt, ringtone or instrument makes them. The digits are read
with a bank of eight tone correlators over 20 ms frames (10 ms apart) at ~4 kHz; the recovered
digits are read as hexadecimal nibbles (keypad order, ``*`` and ``#`` last) and carved like a
demodulated modem's bytes.

Cost: one small matrix product per block of every 11th sample at 44.1 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import maximum_filter1d

from audiomodel.findings import Finding, Severity, finding
from audiomodel.payload import dangerous_payload

ROWS_HZ = (697.0, 770.0, 852.0, 941.0)
COLUMNS_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = "123A456B789C*0#D"  # row-major: row r, column c is KEYPAD[4 r + c]
HEX_ORDER = "0123456789ABCD*#"  # the nibble a digit stands for when the digits carry bytes
TARGET_RATE = 4000  # the rate the correlators run at (the tones are all under 1.7 kHz)
FRAME_S = 0.020  # resolves the closest tones (697/770 Hz, 73 Hz apart) with a plain window
HOP_S = 0.010  # half a frame: a digit of Q.24's 40 ms holds two whole frames
# A frame holds a digit when one row and one column tone each stand 4x (6 dB, Q.24's guard)
# over the next tone of their group, the two hold a quarter of the frame's energy or more (a
# voice or a chord spreads it; digits sent under music as loud as they are hold about half),
# and neither is more than 8 dB under the other (Q.24's twist). Over the 589 good files of the
# dev corpus no frame sequence reads even 8 digits in a row; the telephone and call-tone
# renditions of good sets (seeds 25-26, 800 files) read 15 at most, a dialled number.
GROUP_MARGIN = 4.0
PAIR_ENERGY_SHARE = 0.25
MAX_TWIST = 10 ** (8 / 10)
# A frame whose pair power is under this share of its neighbourhood's best is a pause (two
# equal digits in a row are told apart by the pause between them)
PAUSE_SHARE = 0.4
PAUSE_SPAN_S = 0.05
BATCH_S = 8.0  # seconds of kept samples correlated at once (numpy's per-call cost)
MIN_DIGIT_FRAMES = 2  # a steady pair over two frames: 30 ms or more, over Q.24's 23 ms reject
MAX_DIGIT_GAP_S = 0.6  # digits further apart are separate runs (a person dialling pauses more)
MIN_DIGITS = 64  # 32 bytes: four times the longest telephone number
# A tune played on the keypad repeats its phrase: digits that repeat a cycle of up to 32 (90 %
# agreement) or use under 4 keys carry no data. Data need not be varied: an ELF header read as
# hex nibbles is 1.3-1.6 bits a digit (its zeros), so no entropy bar is set.
MAX_PHRASE = 32
MAX_PHRASE_AGREEMENT = 0.9
MIN_KEYS = 4


@dataclass(frozen=True, slots=True)
class DtmfRun:
    """A run of DTMF digits sent back to back."""

    start_s: float
    end_s: float
    digits: str
    entropy_bits: float

    @property
    def rate(self) -> float:
        return len(self.digits) / max(self.end_s - self.start_s, 1e-9)

    def nibbles(self) -> bytes:
        """The digits read two at a time as hexadecimal nibbles (keypad order, * and # last)."""
        values = [HEX_ORDER.index(d) for d in self.digits]
        return bytes(16 * hi + lo for hi, lo in zip(values[::2], values[1::2], strict=False))


class DtmfScanner:
    """Streams a mono level block by block; :meth:`report` finds runs of digits that carry data."""

    def __init__(self, sample_rate: int) -> None:
        self.factor = max(1, int(sample_rate) // TARGET_RATE)
        self.rate = sample_rate / self.factor
        self.hop = round(HOP_S * self.rate)
        self.blocks_per_frame = round(FRAME_S / HOP_S)
        self.frame = self.hop * self.blocks_per_frame
        # Each hop's samples are correlated with the tones once (one small matrix product over
        # contiguous blocks, phase measured from the block's start); a frame is the sum of its
        # blocks, each turned by the phase its start lies after the frame's
        omega = 2 * np.pi * np.array(ROWS_HZ + COLUMNS_HZ) / self.rate
        phase = np.outer(np.arange(self.hop), omega)
        self._basis = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1).astype(np.float32)
        self._turns = np.exp(-1j * np.outer(self.hop * np.arange(self.blocks_per_frame), omega))
        self._next = 0  # index, in the next level block, of the next sample kept
        self._tail = np.zeros(0, dtype=np.float32)  # kept samples short of a whole block
        self._pending: list[npt.NDArray[np.float32]] = []  # kept samples not correlated yet
        self._pending_size = 0
        # the last blocks of the previous update, which the next frames still span
        self._carry = np.zeros((0, 8), dtype=np.complex64)
        self._carry_energy = np.zeros(0, dtype=np.float32)
        self._symbols: list[npt.NDArray[np.int8]] = []
        self._pair_power: list[npt.NDArray[np.float32]] = []

    def update(self, level: npt.NDArray[np.number]) -> None:
        # Every factor-th sample, unfiltered: what folds onto the tones is other sound, which
        # only lowers the pair's share of the energy (the energy is read after the fold too)
        kept = np.asarray(level[self._next :: self.factor], dtype=np.float32)
        self._next = (self._next - level.shape[0]) % self.factor
        self._pending.append(kept)
        self._pending_size += kept.size
        if self._pending_size >= BATCH_S * self.rate:  # a few calls per file, not one per block
            self._correlate()

    def _correlate(self) -> None:
        y = np.concatenate([self._tail, *self._pending])
        self._pending, self._pending_size = [], 0
        count = y.size // self.hop
        self._tail = y[count * self.hop :]
        if count == 0:
            return
        blocks = y[: count * self.hop].reshape(count, self.hop)
        proj = blocks @ self._basis
        per_block = np.concatenate([self._carry, proj[:, :8] + 1j * proj[:, 8:]])
        energy = np.concatenate([self._carry_energy, np.einsum("ij,ij->i", blocks, blocks)])
        k = self.blocks_per_frame
        n = per_block.shape[0] - k + 1
        if n <= 0:
            self._carry, self._carry_energy = per_block, energy
            return
        frames = per_block[:n] * self._turns[0]
        frame_energy = energy[:n].astype(np.float64)
        for j in range(1, k):
            frames += per_block[j : j + n] * self._turns[j]
            frame_energy += energy[j : j + n]
        self._carry, self._carry_energy = per_block[n:], energy[n:]
        self._classify(np.abs(frames) ** 2, frame_energy * (self.frame / 2))

    def _classify(self, power: npt.NDArray[np.float64], energy: npt.NDArray[np.float64]) -> None:
        """Decide each frame from the tones' powers ((A N / 2)^2 for a tone of amplitude A)
        and its energy on the same scale."""
        rows, cols = power[:, :4], power[:, 4:]
        r_order, c_order = np.sort(rows, axis=1), np.sort(cols, axis=1)
        row_best, col_best = r_order[:, -1], c_order[:, -1]
        pair = row_best + col_best
        twist = np.maximum(row_best, col_best) / np.maximum(np.minimum(row_best, col_best), 1e-12)
        ok = (
            (row_best >= GROUP_MARGIN * r_order[:, -2])
            & (col_best >= GROUP_MARGIN * c_order[:, -2])
            & (pair >= PAIR_ENERGY_SHARE * energy)
            & (twist <= MAX_TWIST)
            & (energy > 0)
        )
        symbol = (4 * rows.argmax(axis=1) + cols.argmax(axis=1)).astype(np.int8)
        self._symbols.append(np.where(ok, symbol, -1).astype(np.int8))
        self._pair_power.append(pair.astype(np.float32))

    def runs(self) -> list[DtmfRun]:
        """Runs of MIN_DIGITS or more digits, each digit a steady pair between pauses."""
        self._correlate()
        if not self._symbols:
            return []
        symbols = np.concatenate(self._symbols)
        if np.count_nonzero(symbols >= 0) < MIN_DIGITS * MIN_DIGIT_FRAMES:
            return []
        pair = np.concatenate(self._pair_power)
        span = max(1, round(PAUSE_SPAN_S / HOP_S))
        loud = pair >= PAUSE_SHARE * maximum_filter1d(pair, size=2 * span + 1)
        on = np.where(loud, symbols, -1)
        # runs of one symbol: where the value changes
        edges = np.flatnonzero(np.diff(on) != 0) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [on.size]])
        keep = (on[starts] >= 0) & (ends - starts >= MIN_DIGIT_FRAMES)
        starts, ends = starts[keep], ends[keep]
        out: list[DtmfRun] = []
        first = 0
        for i in range(1, starts.size + 1):
            if i < starts.size and (starts[i] - starts[i - 1]) * HOP_S <= MAX_DIGIT_GAP_S:
                continue
            if i - first >= MIN_DIGITS:
                out.append(self._run(on, starts[first:i], ends[first:i]))
            first = i
        return [r for r in out if not _repeats_a_phrase(r.digits)]

    def _run(
        self, on: npt.NDArray[np.int8], starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]
    ) -> DtmfRun:
        digits = "".join(KEYPAD[int(on[s])] for s in starts)
        counts = np.bincount(on[starts], minlength=16).astype(float)
        share = counts[counts > 0] / counts.sum()
        return DtmfRun(
            start_s=float(starts[0] * HOP_S),
            end_s=float(ends[-1] * HOP_S + FRAME_S),
            digits=digits,
            entropy_bits=float(-(share * np.log2(share)).sum()),
        )

    def report(self) -> list[Finding]:
        return [f for run in self.runs() for f in _findings(run)]


def _repeats_a_phrase(digits: str) -> bool:
    codes = np.frombuffer(digits.encode(), dtype=np.uint8)
    if np.unique(codes).size < MIN_KEYS:
        return True
    periods = range(1, min(MAX_PHRASE, codes.size // 2) + 1)
    return max(float((codes[p:] == codes[:-p]).mean()) for p in periods) >= MAX_PHRASE_AGREEMENT


def _findings(run: DtmfRun) -> list[Finding]:
    where = f"{run.start_s:.1f}-{run.end_s:.1f} s"
    evidence: dict[str, int | float | str | bool] = {
        "start_s": round(run.start_s, 2),
        "end_s": round(run.end_s, 2),
        "baud": round(run.rate, 1),
        "modulation": "DTMF",
        "digits": len(run.digits),
        "digit_entropy_bits": round(run.entropy_bits, 2),
        "first_digits": run.digits[:32],
        "modem": "DTMF (ITU-T Q.23)",
    }
    head = f"DTMF, {len(run.digits):,} digits at {run.rate:.1f} a second, at {where}"
    out = [
        finding(
            "signal.modem",
            f"Data sent as sound: {head}; a telephone number is 15 digits at most, and digits "
            f"sent back to back this long, repeating no phrase, are a 16-symbol modem.",
            **evidence,
        )
    ]
    data = run.nibbles()
    kind, name, offset = dangerous_payload(data)
    if kind:
        out.append(
            finding(
                "signal.modem_payload",
                f"{head}: the digits read as hexadecimal carry {kind} data ({name} header at "
                f"byte {offset}).",
                Severity.MALICIOUS,
                **evidence,
                signature=name,
                signature_offset=offset,
            )
        )
    return out
