"""Data sent as Morse code (CW): one steady tone keyed on and off, read back as text.

Morse is the oldest data-over-sound: any tool that turns text into ham-radio practice audio
(``ebook2cw``, ``cwgen``) turns a base64, hex or base32 dump of a binary into it too. The code is
ITU-R M.1677: a dit is one unit of tone, a dah three, the gap inside a character one unit, between
characters three and between words seven (5-60 words a minute: a unit of 240-20 ms); Farnsworth
timing stretches only the gaps between characters and words. The tone is found where a narrow
spectral peak switches on by 12 dB or more many times (a keyed tone rises from nothing in a few
ms; a note that starts is one onset, not hundreds at the same pitch); its envelope is read as
on/off runs; on-runs that fall into two lengths in a ratio near 3 are dits and dahs, and the
unit comes from their difference (the analysis frame's smear adds as much to both).

The decoded text is judged as a text field is: Morse of prose, callsigns or a QSO is ham-radio
practice and passes. A run of 64 or more characters without a word gap, spread over 16 or more
symbols of the base64 alphabet with both letters and digits, is no word of any language: it is
encoded data, and the bytes are carved (hex and base32 decode as they are; Morse has no case, so
base64 is matched against the signatures' base64 read case-blind).

Cost: one 32-point FFT every 32 samples of every 16th sample (~2.75 kHz) counts onsets; the
full read (every 8th sample, frames overlapped by half) runs only when a bin switched on 60 times.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft

from audiomodel.findings import Finding, Severity, finding
from audiomodel.payload import DANGEROUS_KINDS, SIGNATURES, dangerous_payload

# ITU-R M.1677-1 letters, figures and the signs base64/base32 and messages use
ITU_MORSE = {
    ".-": "A", "-...": "B", "-.-.": "C", "-..": "D", ".": "E", "..-.": "F", "--.": "G",
    "....": "H", "..": "I", ".---": "J", "-.-": "K", ".-..": "L", "--": "M", "-.": "N",
    "---": "O", ".--.": "P", "--.-": "Q", ".-.": "R", "...": "S", "-": "T", "..-": "U",
    "...-": "V", ".--": "W", "-..-": "X", "-.--": "Y", "--..": "Z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5",
    "-....": "6", "--...": "7", "---..": "8", "----.": "9",
    ".-.-.": "+", "-..-.": "/", "-...-": "=", ".-.-.-": ".", "--..--": ",", "..--..": "?",
    "-....-": "-", "---...": ":", ".----.": "'", "-.--.": "(", "-.--.-": ")", ".-..-.": '"',
    ".--.-.": "@",
}  # fmt: skip
UNREADABLE = "#"  # a keyed pattern that is no ITU character

TARGET_RATE = 5500  # every 8th sample at 44.1 kHz; a tone above 2.75 kHz folds but keys the same
FRAME = 64  # 11.6 ms at 5.5 kHz: shorter than the 20 ms unit of 60 wpm, 86 Hz bins
HOP = 32
GATE_FRAME = 32  # the gate's frames: the same 11.6 ms and 86 Hz bins at half the rate
BATCH_S = 8.0
MIN_TONE_HZ = 250.0
# An onset: the bin's power rises 16x (12 dB) over two hops while standing 16x over the bins
# 4 away (344 Hz) -- a narrow tone switching on, not a broadband attack
ONSET_RISE = 16.0
ONSET_NARROW = 16.0
NEIGHBOUR = 4
MIN_ONSETS = 60  # ~15 characters of Morse (each holds 1-5 elements, each an onset)
CANDIDATE_BINS = 2
MIN_LEVEL_SPLIT_DB = 10.0  # keyed on against off: the tone stands this far over what lies under it
DAH_DIT_RATIO = (2.0, 4.5)  # ITU: 3; a hand key or a codec's smear moves it, not past these
MIN_CHARS = 32
MIN_READABLE = 0.85
# What makes decoded text data: an unbroken run of the base64 alphabet no word reaches
BLOB_CHARS = 64
BLOB_SYMBOLS = 12
_BLOB = re.compile(rf"[A-Z0-9+/=]{{{BLOB_CHARS},}}")
_HEX = re.compile(r"[0-9A-F]+")
_BASE32 = re.compile(r"[A-Z2-7=]+")
_CASE_BLIND_CHARS = 8  # the base64 of the first 6 bytes, read in all its 2^letters cases
_HEAD_SIGNATURES = tuple(
    sig
    for sig in SIGNATURES
    if sig.offset == 0 and sig.kind in DANGEROUS_KINDS and len(sig.magic) >= 3
)


@dataclass(frozen=True, slots=True)
class MorseText:
    """Text read from one keyed tone."""

    start_s: float
    end_s: float
    tone_hz: float
    wpm: float
    text: str
    readable: float

    @property
    def characters(self) -> int:
        return sum(c != " " for c in self.text)


class MorseScanner:
    """Streams a mono level block by block; :meth:`report` reads keyed tones as Morse."""

    def __init__(self, sample_rate: int) -> None:
        self.factor = max(1, round(sample_rate / TARGET_RATE))
        self.rate = sample_rate / self.factor
        self.hop_s = HOP / self.rate
        self._window = np.hanning(FRAME).astype(np.float32)
        self._low_bin = int(np.ceil(MIN_TONE_HZ * FRAME / self.rate))
        self._next = 0
        self._pending: list[npt.NDArray[np.number]] = []
        self._pending_size = 0
        # Every kept sample as the caller gave it (the validator's integer channel sums), read
        # again if gated in: converted to float32 only then, and the gate converts the half it
        # reads (the same floats either way: a sum of 16-bit channels is exact in float32).
        self._kept: list[npt.NDArray[np.number]] = []
        self._tail = np.zeros(0, dtype=np.float32)
        self._gate_window = np.hanning(GATE_FRAME).astype(np.float32)
        self._gate_next = 0
        self._last_frames = np.zeros((0, GATE_FRAME // 2 + 1), dtype=np.float32)
        self._onsets = np.zeros(GATE_FRAME // 2 + 1, dtype=np.int64)

    def update(self, level: npt.NDArray[np.number]) -> None:
        kept: npt.NDArray[np.number] = level[self._next :: self.factor]
        self._next = (self._next - level.shape[0]) % self.factor
        self._pending.append(kept)
        self._pending_size += kept.size
        if self._pending_size >= BATCH_S * self.rate:
            self._gate()

    def _gate(self) -> None:
        """Count onsets over back-to-back frames of every other kept sample (~2.75 kHz: a tone
        over 1.4 kHz folds under it and keys the same), a quarter of the work of the read; an
        element of 60 wpm still spans two of these 11.6 ms frames, a dah five."""
        if not self._pending:
            return
        batch = np.concatenate(self._pending)
        self._pending, self._pending_size = [], 0
        self._kept.append(batch)
        y = np.concatenate([self._tail, batch[self._gate_next :: 2].astype(np.float32)])
        self._gate_next = (self._gate_next - batch.size) % 2
        count = y.size // GATE_FRAME
        self._tail = y[count * GATE_FRAME :]
        if count == 0:
            return
        power = _power(y[: count * GATE_FRAME].reshape(count, GATE_FRAME), self._gate_window)
        joined = np.concatenate([self._last_frames, power])
        self._last_frames = joined[-2:]
        self._onsets += _onset_counts(joined)

    def texts(self) -> list[MorseText]:
        self._gate()
        # DC and the real Nyquist bin (noisier than the others) are no tone
        if self._onsets[1:-1].max(initial=0) < MIN_ONSETS:
            return []
        y = np.concatenate(self._kept).astype(np.float32)
        count = (y.size - FRAME) // HOP + 1
        if count <= 0:
            return []
        frames = np.lib.stride_tricks.sliding_window_view(y, FRAME)[::HOP][:count]
        power = _power(frames, self._window)
        onsets = _onset_counts(power[::2])  # back-to-back frames, as the gate counts
        onsets[: self._low_bin] = 0
        onsets[-1] = 0
        out: list[MorseText] = []
        for _ in range(CANDIDATE_BINS):
            b = int(np.argmax(onsets))
            if onsets[b] < MIN_ONSETS:
                break
            onsets[max(b - 2, 0) : b + 3] = 0  # a tone between two bins keys both
            read = self._read(power, b)
            if read is not None:
                out.append(read)
        return out

    def _read(self, power: npt.NDArray[np.float32], b: int) -> MorseText | None:
        side = np.maximum(power[:, b - 1], power[:, min(b + 1, power.shape[1] - 1)])
        level = 10 * np.log10(power[:, b].astype(np.float64) + side + 1e-20)
        on = _two_level(level)
        if on is None:
            return None
        # one-hop flickers are no element (60 wpm's dit spans five hops; its gaps only two)
        on = _drop_single(on, True)
        edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
        bounds = np.concatenate([[0], edges, [on.size]])
        states = on[bounds[:-1]]
        lengths = np.diff(bounds).astype(np.float64)
        first = 1 if not states[0] else 0  # runs start with an on-run; off at the ends dropped
        last = lengths.size - (1 if not states[-1] else 0)
        states, lengths, starts = states[first:last], lengths[first:last], bounds[first:last]
        marks = lengths[states]
        if marks.size < MIN_ONSETS:
            return None
        dit, dah = _two_lengths(marks)
        if not DAH_DIT_RATIO[0] <= dah / dit <= DAH_DIT_RATIO[1]:
            return None
        unit = (dah - dit) / 2  # the frame's smear lengthens both marks alike
        smear = dit - unit
        gaps = lengths[~states] + smear  # ... and shortens the gaps by as much
        letter_gap = 2 * unit
        char_gaps = gaps[gaps >= letter_gap]
        # Farnsworth: characters at full speed, the gaps between them stretched
        char_gap = float(np.percentile(char_gaps, 25)) if char_gaps.size else 3 * unit
        word_gap = max(5 * unit, char_gap * 5 / 3)
        text, code = [], ""
        for state, length in zip(states.tolist(), lengths.tolist(), strict=True):
            if state:
                code += "." if length < (dit + dah) / 2 else "-"
                continue
            gap = length + smear
            if gap >= letter_gap:
                text.append(ITU_MORSE.get(code, UNREADABLE))
                code = ""
                if gap >= word_gap:
                    text.append(" ")
        text.append(ITU_MORSE.get(code, UNREADABLE))
        joined = "".join(text)
        chars = [c for c in joined if c != " "]
        if len(chars) < MIN_CHARS:
            return None
        readable = 1 - chars.count(UNREADABLE) / len(chars)
        if readable < MIN_READABLE:
            return None
        return MorseText(
            start_s=float(starts[0] * self.hop_s),
            end_s=float((starts[-1] + lengths[-1]) * self.hop_s + FRAME / self.rate),
            tone_hz=_tone_hz(power[on], b, self.rate),
            wpm=1.2 / (unit * self.hop_s),  # PARIS: 50 units a word, 1.2 s / unit at 1 wpm
            text=joined,
            readable=readable,
        )

    def report(self) -> list[Finding]:
        return [f for text in self.texts() for f in _findings(text)]


def _tone_hz(keyed: npt.NDArray[np.float32], b: int, rate: float) -> float:
    """The tone's frequency: the power-weighted centre of its bin and the two beside it."""
    around = keyed[:, max(b - 1, 0) : b + 2].sum(axis=0).astype(np.float64)
    bins = np.arange(max(b - 1, 0), max(b - 1, 0) + around.size)
    return float((bins * around).sum() / max(around.sum(), 1e-30) * rate / FRAME)


def _power(
    frames: npt.NDArray[np.float32], window: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    spectrum = fft.rfft(frames * window, axis=1)
    power: npt.NDArray[np.float32] = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power


def _onset_counts(power: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    """Per bin, the frames where a narrow tone switches on and stays on for two frames (an
    element lasts 20 ms or more; a noise bin's power, exponentially distributed, jumps 12 dB
    for one frame often enough over minutes, for two frames running rarely)."""
    before, later, last = power[:-2], power[1:-1], power[2:]
    risen = np.minimum(later, last)
    neighbours = np.zeros_like(risen)
    neighbours[:, NEIGHBOUR:] = np.maximum(later[:, :-NEIGHBOUR], last[:, :-NEIGHBOUR])
    np.maximum(
        neighbours[:, :-NEIGHBOUR],
        np.maximum(later[:, NEIGHBOUR:], last[:, NEIGHBOUR:]),
        out=neighbours[:, :-NEIGHBOUR],
    )
    rising = (risen > ONSET_RISE * before) & (risen > ONSET_NARROW * neighbours)
    counts: npt.NDArray[np.int64] = rising.sum(axis=0).astype(np.int64)
    return counts


def _two_level(level: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_] | None:
    """Frames on (the loud of two levels, split by 2-means in dB), or None without two levels.

    Levels are floored 60 dB under the loudest: digital silence (-200 dB) and a 16-bit render's
    LSB noise would otherwise drag the off level down and the split with it, into the tails
    the analysis window and a codec's pre-echo spread around each element. The split is at
    most 12 dB under the on level (a keyed tone crosses half amplitude, -6 dB, mid-edge)."""
    level = np.maximum(level, np.percentile(level, 99.5) - 60)
    low, high = np.percentile(level, [10, 90])
    threshold = (low + high) / 2
    for _ in range(8):
        on = level > threshold
        if on.all() or not on.any():
            return None
        low, high = float(level[~on].mean()), float(level[on].mean())
        threshold = max((low + high) / 2, high - 12)
    return on if high - low >= MIN_LEVEL_SPLIT_DB else None


def _two_lengths(marks: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The centres of the short and long marks (2-means on log length)."""
    logs = np.log(marks)
    short, long = np.percentile(logs, [2, 98])
    for _ in range(8):
        is_long = logs > (short + long) / 2
        if is_long.all() or not is_long.any():
            break
        short, long = float(np.median(logs[~is_long])), float(np.median(logs[is_long]))
    return float(np.exp(short)), float(np.exp(long))


def _drop_single(on: npt.NDArray[np.bool_], state: bool) -> npt.NDArray[np.bool_]:
    """Runs of one frame in ``state`` take their neighbours' state."""
    out = on.copy()
    lone = (on[1:-1] == state) & (on[:-2] != state) & (on[2:] != state)
    out[1:-1][lone] = not state
    return out


def _blobs(text: str) -> list[str]:
    """Unbroken runs of the base64 alphabet that no word reaches, over many symbols with
    letters and digits both."""
    return [
        run
        for run in _BLOB.findall(text)
        if len(set(run)) >= BLOB_SYMBOLS
        and any(c.isdigit() for c in run)
        and any(c.isalpha() for c in run)
    ]


def _decodings(blob: str) -> list[tuple[str, bytes]]:
    """The bytes a case-blind blob decodes to: hex and base32 as they are (both are read in
    one case)."""
    out: list[tuple[str, bytes]] = []
    body = blob.rstrip("=")
    if _HEX.fullmatch(body):
        out.append(("hex", bytes.fromhex(body[: len(body) & ~1])))
    if _BASE32.fullmatch(body):
        with contextlib.suppress(binascii.Error):
            out.append(("base32", base64.b32decode(body + "=" * (-len(body) % 8))))
    return out


def _case_blind_base64_head(blob: str) -> str:
    """The name of a dangerous signature whose base64, read without case, opens ``blob``."""
    head = blob[:_CASE_BLIND_CHARS]
    if len(head) < _CASE_BLIND_CHARS:
        return ""
    letters = [i for i, c in enumerate(head) if c.isalpha()]
    for cases in itertools.product((False, True), repeat=len(letters)):
        chars = list(head)
        for i, lower in zip(letters, cases, strict=True):
            if lower:
                chars[i] = chars[i].lower()
        try:
            decoded = binascii.a2b_base64("".join(chars))
        except binascii.Error:
            continue
        for sig in _HEAD_SIGNATURES:
            if decoded.startswith(sig.magic[: len(decoded)]):
                return sig.name
    return ""


def _findings(read: MorseText) -> list[Finding]:
    where = f"{read.start_s:.1f}-{read.end_s:.1f} s"
    head = (
        f"Morse {read.wpm:.0f} wpm at {read.tone_hz:.0f} Hz, {read.characters:,} characters, "
        f"at {where}"
    )
    evidence: dict[str, int | float | str | bool] = {
        "start_s": round(read.start_s, 2),
        "end_s": round(read.end_s, 2),
        "modulation": "CW",
        "modem": "Morse code (ITU-R M.1677)",
        "tone_hz": round(read.tone_hz),
        "wpm": round(read.wpm, 1),
        "characters": read.characters,
        "readable_share": round(read.readable, 3),
        "first_text": read.text[:48],
    }
    blobs = _blobs(read.text)
    # Koch-method practice sends five-character groups: data cut into groups decodes too
    spaced = read.text.replace(" ", "")
    out: list[Finding] = []
    if blobs:
        blob = max(blobs, key=len)
        at = read.text.find(blob)
        out.append(
            finding(
                "signal.modem",
                f"Data sent as sound: {head}; {len(blob):,} characters of the base64 alphabet "
                f"without a word gap from character {at}, which no language or call sign "
                f"has: encoded data keyed as Morse.",
                **evidence,
                encoded_chars=len(blob),
                encoded_offset=at,
            )
        )
    for blob in blobs:
        name = _case_blind_base64_head(blob)
        if name:
            return [*out, _payload(head, evidence, f"base64 of {name} data", name, 0)]
    for blob in [*blobs, spaced]:
        for encoding, data in _decodings(blob):
            kind, name, offset = dangerous_payload(data)
            if kind:
                return [*out, _payload(head, evidence, f"{encoding} of {kind} data", name, offset)]
    return out


def _payload(
    head: str, evidence: dict[str, int | float | str | bool], what: str, name: str, offset: int
) -> Finding:
    return finding(
        "signal.modem_payload",
        f"{head}: the text is {what} ({name} header at byte {offset} of the decoded data).",
        Severity.MALICIOUS,
        **evidence,
        signature=name,
        signature_offset=offset,
    )


def keyed_morse(
    text: str,
    rate: int,
    *,
    wpm: float = 25.0,
    tone_hz: float = 600.0,
    effective_wpm: float | None = None,
    rise_s: float = 0.005,
) -> npt.NDArray[np.float64]:
    """``text`` keyed as Morse (ITU timing; Farnsworth gaps at ``effective_wpm``), with raised-
    cosine edges of ``rise_s`` as a keyer shapes them: the encoder the tests and benches use."""
    codes = {char: code for code, char in ITU_MORSE.items()}
    unit = 1.2 / wpm
    # Farnsworth (ARRL): the characters at wpm, the spare time of the slower rate spread over the
    # 19 units of gap a PARIS word holds
    spread = unit if effective_wpm is None else ((60 / effective_wpm) - 31 * unit) / 19
    edge = max(1, round(rise_s * rate))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)

    def mark(units: int) -> npt.NDArray[np.float64]:
        n = round(units * unit * rate)
        t = np.arange(n) / rate
        envelope = np.ones(n)
        envelope[:edge] = ramp[: min(edge, n)]
        envelope[-edge:] = np.minimum(envelope[-edge:], ramp[::-1][-min(edge, n) :])
        return 0.5 * envelope * np.sin(2 * np.pi * tone_hz * t)

    def gap(seconds: float) -> npt.NDArray[np.float64]:
        return np.zeros(round(seconds * rate))

    parts: list[npt.NDArray[np.float64]] = [gap(0.2)]
    for word in text.upper().split():
        for char in word:
            for i, element in enumerate(codes.get(char, "")):
                if i:
                    parts.append(gap(unit))
                parts.append(mark(1 if element == "." else 3))
            parts.append(gap(3 * spread))
        parts.append(gap(4 * spread))
    parts.append(gap(0.2))
    return np.concatenate(parts)
