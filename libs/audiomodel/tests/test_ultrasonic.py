"""Data keyed above 14 kHz (ggwave-like MFSK, fast FSK) is found alone and under a music-like
bed; a steady pilot and an aliasing square-wave melody are not data."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.ultrasonic import UltrasonicScanner, scan_ultrasonic
from audiomodel.validator import validate_bytes

RATE = 48000
Floats = npt.NDArray[np.float64]


def mfsk(symbols: int, symbol_s: float, tones: int = 6, seed: int = 3) -> Floats:
    """ggwave-like MFSK: ``tones`` simultaneous tones, each one of 16 on a 46.875 Hz grid from
    15 kHz, random (compressed or encrypted data is), with 4 ms ramps."""
    rng = np.random.default_rng(seed)
    n = int(symbol_s * RATE)
    t = np.arange(n) / RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.004 * RATE))
    parts = []
    for values in rng.integers(0, 16, (symbols, tones)):
        hz = 15000.0 + 46.875 * (16 * np.arange(tones) + values)
        parts.append(ramp * np.sin(2 * np.pi * hz[:, None] * t).sum(axis=0) / tones)
    return np.concatenate(parts)


def fsk(bits: int, baud: float, low: float = 18000.0, high: float = 18600.0) -> Floats:
    rng = np.random.default_rng(5)
    hz = np.repeat(np.where(rng.integers(0, 2, bits), high, low), int(RATE / baud))
    return np.sin(2 * np.pi * np.cumsum(hz) / RATE)


def bed(seconds: float, seed: int = 1) -> Floats:
    """Plucked harmonic notes (a stand-in for a recording) over air: noise that falls with
    frequency, as a room's and a mix's high band does."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 30) / 12)
        i = int(start * RATE)
        tt = t[i:] - start
        env = np.exp(-tt * 4.0) * (1 - np.exp(-tt * 300.0))
        for h in range(1, 8):
            out[i:] += env * np.sin(2 * np.pi * f0 * h * tt + h) / h**1.2
    out /= np.abs(out).max()
    air = np.fft.irfft(np.fft.rfft(rng.normal(0, 1, n)) / np.sqrt(1 + np.arange(n // 2 + 1)))
    return out + 0.05 * air / np.std(air)


def under(signal: Floats, level_db: float) -> Floats:
    music = bed(signal.size / RATE)
    gain = np.sqrt(np.mean(music**2) / np.mean(signal**2)) * 10 ** (level_db / 20)
    return music + gain * signal


def as_level(y: Floats) -> npt.NDArray[np.int32]:
    """The mono level the validator feeds (int16 scale)."""
    return np.rint(0.9 * y / np.abs(y).max() * 32767).astype(np.int32)


def modulations(y: Floats) -> list[str]:
    scanner = scan_ultrasonic(as_level(y), RATE)
    return [str(f.evidence.get("modulation")) for f in scanner.report()]


def test_keyed_mfsk_alone_is_data_with_its_symbol_rate() -> None:
    findings = scan_ultrasonic(as_level(mfsk(60, 0.064)), RATE).report()
    assert [f.code for f in findings] == ["signal.modem"]
    evidence = findings[0].evidence
    assert evidence["modulation"] == "ultrasonic MFSK"
    assert abs(float(evidence["baud"]) - 1 / 0.064) < 0.5
    assert 15000 <= float(evidence["band_low_hz"]) < float(evidence["band_high_hz"]) <= 19500


def test_keyed_mfsk_under_music_25_db_down_is_data() -> None:
    assert "ultrasonic MFSK" in modulations(under(mfsk(60, 0.064), -25.0))


def test_fast_fsk_under_music_is_two_lines_taking_turns() -> None:
    assert "ultrasonic FSK" in modulations(under(fsk(2400, 300.0), -20.0))


def test_a_steady_19_khz_pilot_under_music_is_not_data() -> None:
    pilot = np.sin(2 * np.pi * 19000.0 * np.arange(8 * RATE) / RATE)
    assert modulations(under(pilot, -25.0)) == []
    assert modulations(pilot) == []


def test_a_square_wave_melody_that_aliases_all_over_the_band_is_not_data() -> None:
    # A naive square wave (no band limit) folds its harmonics all over 14-24 kHz; its lines
    # start with each note on the tempo grid but fade with the note's decay.
    rng = np.random.default_rng(7)
    step = RATE // 8
    parts = []
    for semitone in rng.integers(-12, 13, 80):
        hz = 440.0 * 2 ** (semitone / 12)
        t = np.arange(step) / RATE
        square = np.where((hz * t) % 1.0 < 0.5, 1.0, -1.0)
        parts.append(square * np.exp(-t * 12.0))
    assert modulations(np.concatenate(parts)) == []


def test_blocks_of_any_size_are_read_whole() -> None:
    # The decoder's blocks need not be a multiple of the gate's spacing, nor as long as one
    # gate spectrum: each block's gates start where the last one's left off (a gate that would
    # straddle two blocks once raised, and the validator read the file as undecodable).
    level = as_level(under(mfsk(60, 0.064), -20.0))
    for size, found in ((100_003, ["ultrasonic MFSK"]), (3001, None)):
        scanner = UltrasonicScanner(RATE)
        for start in range(0, level.size, size):
            scanner.update(level[start : start + size])
        modulations = [f.evidence["modulation"] for f in scanner.report()]
        assert found is None or modulations == found


def test_rates_under_32_khz_are_skipped() -> None:
    scanner = scan_ultrasonic(np.zeros(22050 * 4, dtype=np.int32), 22050)
    assert not scanner.active
    assert scanner.report() == []


def test_the_validator_reports_ultrasonic_data_as_a_modem() -> None:
    buf = io.BytesIO()
    y = under(mfsk(60, 0.064), -20.0)
    sf.write(buf, 0.9 * y / np.abs(y).max(), RATE, format="WAV", subtype="PCM_16")
    findings = validate_bytes(buf.getvalue()).findings
    assert any(
        f.code == "signal.modem" and f.evidence.get("modulation") == "ultrasonic MFSK"
        for f in findings
    )
