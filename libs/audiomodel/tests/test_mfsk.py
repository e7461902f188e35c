"""Slow narrow-spaced multi-tone FSK (audiomodel.mfsk): MFSK16-, DominoEX- and JT9-like keying,
alone and over a melody, against scales, arpeggios, close chromatic
notes and sirens that are not data."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel import Limits, validate_bytes
from audiomodel.mfsk import MfskScanner, scan_mfsk

RATE = 8000
Floats = npt.NDArray[np.float64]


def keyed(
    tones: int, baud: float, spacing: float, low: float, seconds: float, seed: int = 1
) -> Floats:
    """Phase-continuous M-FSK of random symbols in a little white noise."""
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, tones, int(seconds * baud) + 1)
    per = RATE / baud
    index = (np.arange(int(seconds * RATE)) / per).astype(int)
    freqs = low + spacing * symbols[index]
    return np.sin(2 * np.pi * np.cumsum(freqs) / RATE) + rng.normal(0, 0.2, index.size)


def notes(freqs: Floats, seconds_each: float, harmonics: int = 1) -> Floats:
    per = int(seconds_each * RATE)
    f = np.repeat(freqs, per)
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return sum(np.sin(h * phase) / h for h in range(1, harmonics + 1))


def test_mfsk16_like_keying_is_read() -> None:
    readings = scan_mfsk(keyed(16, 15.625, 15.625, 1000, 25), RATE)
    assert len(readings) == 1
    r = readings[0]
    assert 14 <= r.tones <= 18 and abs(r.spacing_hz - 15.625) < 0.5 and abs(r.baud - 15.625) < 0.3


def test_slow_four_and_nine_tone_keying_is_read() -> None:
    """JT9-like: 9 tones 1.74 Hz apart at 1.74 Bd, a single line that barely moves."""
    readings = scan_mfsk(keyed(9, 1.736, 1.736, 1250, 60, seed=2), RATE)
    assert len(readings) == 1 and abs(readings[0].spacing_hz - 1.736) < 0.15


def test_keying_over_a_melody_is_read() -> None:
    """DominoEX-like keying 6 dB over a harmonic melody on a scale (10 dB under one is missed:
    the melody's notes are the strongest new lines, see FINDINGS)."""
    rng = np.random.default_rng(3)
    melody = notes(220 * 2 ** (rng.integers(0, 24, 120) / 12), 0.25, harmonics=4)
    data = keyed(18, 10.77, 10.77, 1000, 30, seed=4)
    mix = melody + data[: melody.size] * np.std(melody) / np.std(data) * 10 ** (6 / 20)
    assert len(scan_mfsk(mix, RATE)) == 1


def test_scales_arpeggios_and_sirens_are_not_data() -> None:
    rng = np.random.default_rng(5)
    scale = 440 * 2 ** (np.arange(-12, 13) / 12)
    t = np.arange(30 * RATE) / RATE
    cases = {
        "random melody": notes(rng.choice(scale, 200), 0.15, harmonics=3),
        "arpeggio": notes(np.tile(scale[[0, 4, 7, 12]], 60), 0.125),
        # random close notes a semitone apart on a clock: a scale's grid, not a finer one
        "chromatic": notes(rng.choice(scale[10:16], 150), 0.2),
        "siren": np.sin(2 * np.pi * np.cumsum(900 + 400 * np.sin(2 * np.pi * 0.5 * t)) / RATE),
        "test tone": np.sin(2 * np.pi * 1000 * t),
    }
    for name, x in cases.items():
        assert scan_mfsk(x + rng.normal(0, 0.001, x.size), RATE) == [], name


def _scanned(x: Floats) -> MfskScanner:
    scanner = MfskScanner(RATE)
    for i in range(0, x.size, 1 << 14):
        scanner.update(x[i : i + (1 << 14)])
    return scanner


def test_the_gate_keeps_the_ladder_off_harmonic_music() -> None:
    """A melody of harmonic notes (every instrument's) never shows a lonely line: the full
    ladder reads none of it."""
    rng = np.random.default_rng(7)
    melody = notes(220 * 2 ** (rng.integers(0, 24, 320) / 12), 0.25, harmonics=4)
    scanner = _scanned(melody + rng.normal(0, 0.01, melody.size))
    assert scanner.report() == []
    assert scanner.seconds_seen > 70 and scanner.seconds_read == 0


def test_a_burst_across_a_batch_edge_in_music_is_read() -> None:
    """18 s of MFSK16-like keying from 24 s, straddling two batches, inside 160 s of harmonic
    music: the gate passes its batches (and their neighbours), not the whole file."""
    rng = np.random.default_rng(8)
    mix = notes(220 * 2 ** (rng.integers(0, 24, 640) / 12), 0.25, harmonics=4)
    burst = keyed(16, 15.625, 15.625, 1000, 18, seed=9)
    start = 24 * RATE
    mix[start : start + burst.size] = burst
    scanner = _scanned(mix)
    readings = scanner.readings()
    assert len(readings) == 1 and abs(readings[0].spacing_hz - 15.625) < 0.5
    assert 20 <= readings[0].start_s <= 28
    assert scanner.seconds_read <= 0.6 * scanner.seconds_seen  # 5 batches of 16 s in 10


def test_the_validator_reports_mfsk_as_a_modem() -> None:
    buffer = io.BytesIO()
    sf.write(buffer, 0.5 * keyed(16, 15.625, 15.625, 1000, 20, seed=6) / 1.5, RATE, format="WAV")
    # a generous budget: a cold process on a loaded machine compiles its kernels first
    verdict = validate_bytes(buffer.getvalue(), limits=Limits(time_budget_s=3600.0))
    found = [f for f in verdict.findings if f.evidence.get("modulation") == "MFSK"]
    assert found and found[0].code == "signal.modem"


def test_the_ladder_reads_only_the_band_the_gate_found() -> None:
    """MFSK16-like keying at 1,000-1,234 Hz: the ladder reads the band its lonely lines filled,
    widened by half its width, not the whole voice channel, and still reads the keying."""
    scanner = _scanned(keyed(16, 15.625, 15.625, 1000, 25))
    low, high = scanner._read_band
    assert 800 <= low <= 1000 and 1234 <= high <= 1450
    assert len(scanner.readings()) == 1
