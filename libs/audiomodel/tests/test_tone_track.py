"""Data sent as one tone's frequency (audiomodel.tone_track): stepped FM, chirps, near-ultrasonic
keying, against glides, arpeggios and pilot tones that are not data."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.tone_track import scan_tone_track

RATE = 44100
Floats = npt.NDArray[np.float64]


def tone(freqs: Floats, rate: int = RATE) -> Floats:
    """One phase-continuous sine following ``freqs`` (a value per sample)."""
    return np.sin(2 * np.pi * np.cumsum(freqs) / rate)


def held(levels: Floats, baud: float, seconds: float, rate: int = RATE) -> Floats:
    return np.repeat(levels, round(rate / baud))[: round(seconds * rate)]


def test_bytes_as_a_stepped_tone_are_read() -> None:
    values = np.random.default_rng(1).integers(0, 256, 400)
    readings = scan_tone_track(tone(held(400 + 12.0 * values, 50, 6)), RATE)
    assert [r.modulation for r in readings] == ["FM"]
    assert abs(readings[0].baud - 50) < 1 and readings[0].levels >= 40


def test_chirp_offsets_are_read_once_dechirped() -> None:
    rng = np.random.default_rng(2)
    chips, band, low = 128, 3000.0, 500.0
    span = int(chips / band * RATE)
    t = np.arange(span) / RATE
    freqs = np.concatenate(
        [
            low + (v / chips * band + band * t * band / chips) % band
            for v in rng.integers(0, 128, 150)
        ]
    )
    readings = scan_tone_track(tone(freqs), RATE)
    assert [r.modulation for r in readings] == ["chirp"]
    assert abs(readings[0].baud - band / chips) < 1


def test_near_ultrasonic_binary_keying_is_read() -> None:
    rate = 48000
    bits = np.random.default_rng(3).integers(0, 2, 700)
    signal = 0.05 * tone(held(np.where(bits == 1, 19500.0, 18500.0), 100, 6, rate), rate)
    readings = scan_tone_track(signal, rate)
    assert [r.modulation for r in readings] == ["near-ultrasonic FSK"]


def test_an_arpeggiator_on_a_clock_is_not_data() -> None:
    """Sixteen random chromatic notes a second over three octaves: a steady clock and many
    levels, but on the twelve-tone scale."""
    notes = 110 * 2 ** (np.random.default_rng(4).integers(0, 36, 120) / 12)
    assert scan_tone_track(tone(held(notes, 16, 7)), RATE) == []


def test_glides_and_pilots_are_not_data() -> None:
    n = 6 * 48000
    t = np.arange(n) / 48000
    sweep = tone(100 * 200 ** (t / 6), 48000)
    siren = tone(900 + 300 * np.sin(2 * np.pi * 0.25 * t), 48000)
    melody = tone(np.repeat(220 * 2 ** (np.arange(12) / 12), n // 12), 48000)
    pilot = 0.3 * melody + 0.1 * np.sin(2 * np.pi * 19000 * t)
    for signal in (sweep, siren, pilot):
        assert scan_tone_track(signal, 48000) == []
