"""A square synth's notes (audiomodel.note_runs) are sound; bits sent as polarity are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from audiomodel.note_runs import NoteRuns
from audiomodel.signal import SignalAnalyzer

RATE = 44100


def square_arpeggio(seconds: float = 4.0, bpm: float = 150, duty: float = 0.5) -> npt.NDArray:
    """A tracker's pulse lead: a chord arpeggiated in 16ths, silence at the end (three values)."""
    step = 60 / bpm / 4
    out = np.zeros(int(seconds * RATE))
    for k in range(int(seconds / step) - 2):
        f = 220 * 2 ** ([0, 4, 7, 12][k % 4] / 12)
        t = np.arange(int(step * RATE)) / RATE
        start = int(k * step * RATE)
        out[start : start + t.size] = np.where((t * f) % 1 < duty, 1.0, -1.0)
    return np.rint(0.5 * out * 32767).astype(np.int16)


def square_siren(seconds: float = 4.0, rate: float = 4.0) -> npt.NDArray:
    """A yelp: a square whose pitch glides 600-1500 Hz a few times a second (two values)."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = 600 + 900 * ((t * rate) % 1)
    return np.where(np.sin(2 * np.pi * np.cumsum(f) / RATE) >= 0, 19660, -19660).astype(np.int16)


def polarity_bits(payload: bytes, samples_per_bit: int) -> npt.NDArray:
    """Bits sent as the polarity of a level (NRZ), as a naive encoder writes them."""
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    return np.repeat(np.where(bits == 1, 16000, -16000), samples_per_bit).astype(np.int16)


def ternary(payload: bytes) -> npt.NDArray:
    """Two bits a sample as -v, 0, 0, +v: ffmpeg's velvet noise's statistics."""
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).reshape(-1, 2)
    return (np.array([-1, 0, 0, 1])[bits[:, 0] * 2 + bits[:, 1]] * 20000).astype(np.int16)


def notes(x: npt.NDArray, block: int = 65536) -> bool:
    reader = NoteRuns(RATE)
    for start in range(0, x.size, block):
        reader.update(x[start : start + block].astype(np.int32))
    return reader.notes()


def synthetic(x: npt.NDArray) -> bool:
    analyzer = SignalAnalyzer(sample_rate=RATE, channels=1)
    for start in range(0, x.size, 65536):
        analyzer.update(x[start : start + 65536, None])
    return any(f.code == "signal.synthetic" for f in analyzer.report().findings)


def test_square_arpeggios_and_sirens_are_notes() -> None:
    for x in (
        square_arpeggio(),
        square_arpeggio(duty=0.125),
        square_siren(),
        square_siren(rate=0.5),
    ):
        assert notes(x)
        assert notes(x, block=4096)  # runs carried across block edges
        assert not synthetic(x)


def test_bits_as_polarity_and_ternary_draws_are_not_notes() -> None:
    rng = np.random.default_rng(3)
    random = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    text = Path(__file__).read_bytes() * 4
    for payload in (random, text):
        for per_bit in (1, 3, 20, 147):
            x = polarity_bits(payload[: 6 * RATE // (8 * per_bit) + 64], per_bit)
            assert not notes(x)
            # (Bits 147 samples long, 300 baud, are held by other rules or read as a tone.)
            assert synthetic(x) or per_bit > 20
        assert not notes(ternary(payload[:40000]))
        assert synthetic(ternary(payload[:40000]))


def test_sound_stops_the_reader() -> None:
    rng = np.random.default_rng(0)
    reader = NoteRuns(RATE)
    reader.update(rng.integers(-3000, 3000, 4096).astype(np.int32))
    reader.update(square_arpeggio().astype(np.int32))
    assert not reader.notes()
    assert not reader._runs  # nothing kept once a fifth value is seen


def test_a_square_keyed_on_and_off_stays_held() -> None:
    """Rests between notes are not allowed: bits keyed as a square beeper's on and off."""
    rng = np.random.default_rng(5)
    bits = np.repeat(rng.integers(0, 2, 100), RATE // 20)
    t = np.arange(bits.size) / RATE
    x = (bits * np.where(np.sin(2 * np.pi * 700 * t) >= 0, 16000, -16000)).astype(np.int16)
    assert not notes(x)
    assert synthetic(x)
