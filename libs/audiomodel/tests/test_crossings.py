"""Data in zero-crossing timing (audiomodel.crossings): tape coding flagged, look-alikes not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from audiomodel.crossings import TapeScanner
from audiomodel.findings import Finding

RATE = 44100


def _read(level: npt.NDArray[np.float64], rate: int = RATE) -> list[Finding]:
    scanner = TapeScanner(rate)
    pcm = np.round(level * 20000).astype(np.int32)
    for at in range(0, pcm.size, 16384):
        scanner.update(pcm[at : at + 16384])
    return scanner.report()


def _bits(seed: int, count: int) -> list[int]:
    data = np.random.default_rng(seed).integers(0, 256, count)
    out: list[int] = []
    for byte in data:
        out += [0, *[(int(byte) >> i) & 1 for i in range(8)], 1, 1]
    return out


def _fsk(bits: list[int], baud: float, f0: float, f1: float) -> npt.NDArray[np.float64]:
    per = RATE / baud
    t = np.arange(int(len(bits) * per))
    freq = np.where(np.array(bits)[(t / per).astype(int)] == 1, f1, f0)
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def _halves(durations: list[float]) -> npt.NDArray[np.float64]:
    edges = np.round(np.cumsum(durations) * RATE).astype(int)
    level = np.empty(edges[-1])
    for k, (a, b) in enumerate(zip([0, *edges[:-1]], edges, strict=True)):
        level[a:b] = 1.0 if k % 2 == 0 else -1.0
    return level


def test_kansas_city_fsk_one_cycle_a_bit_is_flagged() -> None:
    found = _read(_fsk(_bits(1, 700), 1200, 1200, 2400))
    assert [f.code for f in found] == ["signal.modem"]
    assert found[0].evidence["modulation"] == "tape"


def test_pulse_width_tape_with_noise_is_flagged() -> None:
    rng = np.random.default_rng(2)
    durations: list[float] = []
    for byte in rng.integers(0, 256, 900):
        for i in range(8):
            durations += [489e-6] * 2 if (int(byte) >> i) & 1 else [244e-6] * 2
    level = _halves(durations)
    level += rng.normal(0, 0.05, level.size)
    assert [f.code for f in _read(level)] == ["signal.modem"]


def test_steady_alternations_and_beats_are_not_flagged() -> None:
    t = np.arange(12 * RATE) / RATE
    # a two-tone warble switching 50 times a second: many switches, regular runs
    warble = np.sin(2 * np.pi * np.cumsum(np.where((t // 0.02) % 2 == 0, 1200, 2400)) / RATE)
    # a pulse wave of uneven duty: two clusters taking turns one by one
    pulse = np.where((t * 440) % 1 < 0.3, 1.0, -1.0)
    # a busy tone (480 + 620 Hz): the beat's null drops crossings, a long interval a beat
    busy = np.sin(2 * np.pi * 480 * t) + np.sin(2 * np.pi * 620 * t)
    noise = np.random.default_rng(3).normal(0, 0.3, t.size)
    for level in (warble, pulse, busy, noise):
        assert _read(level) == []
