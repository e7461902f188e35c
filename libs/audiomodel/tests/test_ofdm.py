"""OFDM with a cyclic prefix (audiomodel.ofdm): the copy is found, sound that repeats is not."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel import Decision, validate_bytes
from audiomodel.ofdm import OfdmScanner

RATE = 44100


def cp_ofdm(
    seconds: float, fft: int, prefix: int, band_hz: tuple[float, float], seed: int = 0
) -> npt.NDArray[np.float64]:
    """QPSK on every carrier of ``band_hz``, each symbol's last ``prefix`` samples copied in
    front of it (``prefix`` 0: plain OFDM, no copy)."""
    rng = np.random.default_rng(seed)
    bins = np.arange(fft // 2 + 1) * RATE / fft
    carriers = np.nonzero((bins >= band_hz[0]) & (bins <= band_hz[1]))[0]
    symbols = []
    for _ in range(int(seconds * RATE) // (fft + prefix)):
        spectrum = np.zeros(fft // 2 + 1, complex)
        spectrum[carriers] = rng.choice([-1.0, 1.0], carriers.size) + 1j * rng.choice(
            [-1.0, 1.0], carriers.size
        )
        body = np.fft.irfft(spectrum, n=fft)
        symbols.append(np.concatenate([body[fft - prefix :], body]))
    signal = np.concatenate(symbols)
    return signal / np.abs(signal).max() * 0.5


def scan(signal: npt.NDArray[np.float64], block: int = 4096) -> OfdmScanner:
    scanner = OfdmScanner(RATE)
    level = np.round(signal * 32767).astype(np.int32)
    for start in range(0, level.size, block):
        scanner.update(level[start : start + block])
    return scanner


def wav(signal: npt.NDArray[np.float64]) -> bytes:
    out = io.BytesIO()
    sf.write(out, signal, RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


def test_the_prefix_is_found_at_the_fft_length_and_symbol_period() -> None:
    transmissions = scan(cp_ofdm(4.0, 128, 32, (2000, 8000))).transmissions()
    assert len(transmissions) == 1
    assert abs(transmissions[0].lag - 128) <= 2
    assert transmissions[0].period == pytest.approx(160, rel=0.03)


def test_blocks_of_any_size_give_the_same_readings() -> None:
    signal = cp_ofdm(3.0, 256, 32, (1000, 9000), seed=1)
    whole = [(r.start_s, r.lag) for r in scan(signal, block=signal.size).readings]
    small = [(r.start_s, r.lag) for r in scan(signal, block=1000).readings]
    assert whole and whole == small


def test_ofdm_without_a_prefix_leaves_no_copy() -> None:
    assert scan(cp_ofdm(4.0, 128, 0, (2000, 8000))).readings == []


def test_an_echo_at_the_same_lag_is_not_a_prefix() -> None:
    """A slap-back copy at 128 samples correlates all the time, not every symbol period."""
    rng = np.random.default_rng(2)
    t = np.arange(int(4.0 * RATE)) / RATE
    notes = rng.choice([220.0, 277.2, 329.6, 440.0, 554.4], 16)
    music = np.zeros_like(t)
    for i, f0 in enumerate(notes):
        on = (t >= i * 0.25) & (t < (i + 1) * 0.25)
        for h in range(1, 8):
            music[on] += np.sin(2 * np.pi * f0 * h * t[on]) / h
    music += 0.05 * rng.standard_normal(t.size)
    echoed = music.copy()
    echoed[128:] += 0.6 * music[:-128]
    assert scan(echoed / np.abs(echoed).max() * 0.5).transmissions() == []


def test_a_pulse_wave_arpeggio_is_not_a_prefix() -> None:
    """Chiptune: exactly periodic pulse waves (25 % duty) stepping through notes."""
    t = np.arange(int(4.0 * RATE)) / RATE
    notes = [261.6, 329.6, 392.0, 523.3]
    step = (t * 16).astype(int) % len(notes)
    phase = np.cumsum(np.array(notes)[step]) / RATE
    pulse = np.where((phase % 1.0) < 0.25, 0.5, -0.2)
    assert scan(pulse).transmissions() == []


def test_the_validator_flags_an_ofdm_modem() -> None:
    verdict = validate_bytes(wav(cp_ofdm(5.0, 128, 32, (2000, 8000), seed=3)))
    assert verdict.decision is not Decision.ACCEPT
    found = [f for f in verdict.findings if f.evidence.get("modulation") == "OFDM"]
    assert found and abs(int(found[0].evidence["fft_length"]) - 128) <= 2
