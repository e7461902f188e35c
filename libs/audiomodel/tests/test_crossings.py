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


def test_a_block_longer_than_a_window_is_judged_by_window() -> None:
    """The validator's blocks are ~12 s: the windows (and two of them agreeing) are 2 s each."""
    scanner = TapeScanner(RATE)
    level = _fsk(_bits(4, 500), 1200, 1200, 2400)  # 4.6 s of tape, one block
    scanner.update(np.round(level * 20000).astype(np.int32))
    assert [f.code for f in scanner.report()] == ["signal.modem"]


def test_a_tone_splintered_by_codec_ringing_is_not_flagged() -> None:
    """A limited 250 Hz test tone whose half-cycles a codec's ringing splits now and then
    (seed 29 test_tone-0019): the pieces make a second cluster in a random order, but a tape
    writes no half-cycle far shorter than its shortest symbol."""
    rng = np.random.default_rng(5)
    durations: list[float] = []
    for _ in range(12 * 500):
        if rng.random() < 0.12:
            cut = rng.uniform(0.42, 0.5) * 2e-3
            splinter = rng.integers(1, 8) / RATE
            durations += [cut, splinter, 2e-3 - cut - splinter]
        else:
            durations.append(2e-3)
    assert _read(_halves(durations)) == []


def test_durations_in_an_order_that_repeats_with_a_period_are_not_flagged() -> None:
    """Summed steady tones (call-progress, DTMF) cross zero at times set by their beat's phase:
    their durations may fall in a few clusters in an order the run test cannot foretell, but
    the order repeats every beat period; a tape's follows its data. The same half-cycles,
    once in a random order and once in one 40 ms pattern repeated, are told apart."""
    rng = np.random.default_rng(6)
    short, long_ = 2 / 4800, 2 / 2400
    pattern = [float(d) for d in rng.choice([short, long_], 64)]  # ~37 ms
    repeated = pattern * 330
    shuffled = [float(d) for d in rng.choice([short, long_], len(repeated))]
    assert [f.code for f in _read(_halves(shuffled))] == ["signal.modem"]
    assert _read(_halves(repeated)) == []
