"""A payload in the stereo side channel or in quiet passages (audiomodel.quiet_codes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.findings import Severity
from audiomodel.quiet_codes import (
    QuietCodesScanner,
    SideChannelScanner,
    gap_window_signs,
    side_window_signs,
)

RATE = 44100
Ints = npt.NDArray[np.int64]
ELF_HEAD = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00\x3e\x00\x01\x00\x00\x00" + bytes(40)


def music(seconds: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """A stand-in for a mix's mid: harmonic notes with decaying envelopes, about -16 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        f = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 4), 0.0)
        x += env * sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6))
    return 0.25 * x / np.abs(x).max() + 1e-3 * rng.normal(size=t.size)


def stereo(mid: npt.NDArray[np.float64], side: npt.NDArray[np.float64]) -> Ints:
    x = np.stack([mid + side, mid - side], 1) * 32767
    return np.round(x).astype(np.int64)


def words(data: bytes, n: int) -> npt.NDArray[np.float64]:
    data = (data * (2 * n // len(data) + 1))[: 2 * n]
    return np.frombuffer(data, "<i2").astype(np.float64) / 32768


def scaled(
    s: npt.NDArray[np.float64], mid: npt.NDArray[np.float64], db: float
) -> npt.NDArray[np.float64]:
    return s * np.sqrt(np.mean(mid**2) / np.mean(s**2)) * 10 ** (db / 20)


def test_side_of_bytes_read_as_words_is_flat_skewed_or_zero_piled() -> None:
    mid = music(1.0)
    rng = np.random.default_rng(1)
    random = stereo(mid, scaled(words(rng.bytes(1 << 17), mid.size), mid, -35))
    assert "flat" in side_window_signs(random[:, 0], random[:, 1])
    text = b"the quick brown fox jumps over the lazy dog; import os, sys\n" * 2000
    typed = stereo(mid, scaled(words(text, mid.size), mid, -40))
    assert side_window_signs(typed[:, 0], typed[:, 1])  # printable high bytes: flat, skewed
    # a binary: a third of its words zero, the rest spread
    binary = rng.bytes(1 << 17)
    binary = bytes(b if i % 6 > 1 else 0 for i, b in enumerate(binary))
    elf = stereo(mid, scaled(words(binary, mid.size), mid, -30))
    assert "zeros" in side_window_signs(elf[:, 0], elf[:, 1])


@pytest.mark.parametrize("db", [-60, -45])
def test_per_channel_hiss_and_dither_are_a_bell(db: float) -> None:
    mid = music(1.0, seed=2)
    rng = np.random.default_rng(3)
    hiss = rng.normal(size=(mid.size, 2)) * 10 ** (db / 20)
    x = np.round((np.stack([mid, mid], 1) + hiss) * 32767).astype(np.int64)
    assert side_window_signs(x[:, 0], x[:, 1]) == []
    # uniform noise per channel: the difference is triangular (kurtosis 2.4), not flat
    flat = (rng.random((mid.size, 2)) - 0.5) * 10 ** (db / 20) * 3.5
    x = np.round((np.stack([mid, mid], 1) + flat) * 32767).astype(np.int64)
    assert side_window_signs(x[:, 0], x[:, 1]) == []
    # TPDF dither per channel
    tpdf = rng.random((mid.size, 2)) + rng.random((mid.size, 2)) - 1
    x = np.round(np.stack([mid, mid], 1) * 32767 + tpdf).astype(np.int64)
    assert side_window_signs(x[:, 0], x[:, 1]) == []


def test_coarse_dither_on_its_own_lattice_is_not_zero_piled() -> None:
    """Dither at 12-bit precision in a 16-bit file (sox dither -p 12): the side sits on steps of
    16, so it hits zero often in 16-bit steps and is judged in its own."""
    mid = music(1.0, seed=4)
    rng = np.random.default_rng(5)
    x = np.stack([mid, mid], 1) * 2047 + rng.random((mid.size, 2)) + rng.random((mid.size, 2)) - 1
    x = np.round(x).astype(np.int64) * 16
    assert side_window_signs(x[:, 0], x[:, 1]) == []


def test_centred_and_panned_voices_leave_zero_stretches_not_zero_words() -> None:
    """A drum machine's mix: centred voices (an exact-zero side) and a panned hat's noise
    bursts; the side is white and zero for stretches of the beat, never word by word."""
    mid = np.round(music(1.0, seed=16) * 32767).astype(np.int64)
    rng = np.random.default_rng(17)
    hat = np.zeros(mid.size, np.int64)
    for start in range(0, mid.size - 1500, 2000):
        burst = rng.normal(size=1500) * np.exp(-np.arange(1500) / 500) * 3000
        hat[start : start + 1500] = np.round(burst)
    assert np.count_nonzero(hat == 0) > 0.2 * hat.size  # 22 stretches of exact zero
    assert side_window_signs(mid + hat, mid) == []


def _drum_kit(
    seed: int, crush: int | None = None, ring: int = 300
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Eight steps a second: a centred 50 Hz kick on every other one and a hat of uniform
    noise (decaying over ``ring`` samples) panned right on every step (cut to ``crush`` bits
    before panning when given); float channels (left, right) in 16-bit steps."""
    rng = np.random.default_rng(seed)
    step = RATE // 8
    left, right = np.zeros(RATE), np.zeros(RATE)
    t = np.arange(step) / RATE
    for at in range(0, RATE - step + 1, step):
        n = min(step, 5 * ring)
        hat = rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / ring)
        if crush:
            hat = np.round(hat * 2 ** (crush - 1)) / 2 ** (crush - 1)
        left[at : at + n] += 0.15 * hat
        right[at : at + n] += 0.35 * hat
        if at % (2 * step) == 0:
            kick = 0.5 * np.sin(2 * np.pi * 50 * t) * np.exp(-t / 0.15)
            left[at : at + step] += kick
            right[at : at + step] += kick
    return left * 32767, right * 32767


def test_a_centred_kick_under_per_channel_dither_is_no_zero_words() -> None:
    """Where the centred kick sounds alone, the side is only the two channels' TPDF dither:
    exact zeros among +-1s in short runs (a seed-37 drum machine: 10,064 zeros against 8,214
    +-1s in a second), which the panned hats' wide side made read as a binary's zero words."""
    left, right = _drum_kit(21)
    rng = np.random.default_rng(22)
    dither = rng.random((2, RATE)) + rng.random((2, RATE)) - 1
    x = np.round(np.stack([left, right]) + dither).astype(np.int64)
    assert side_window_signs(x[0], x[1]) == []
    # ... and a binary's words written into the same mix's side are still zero words
    binary = rng.bytes(1 << 17)
    binary = bytes(b if i % 6 > 1 else 0 for i, b in enumerate(binary))
    mid = (left + right) / 2 / 32767
    elf = stereo(mid, scaled(words(binary, mid.size), mid, -30))
    assert "zeros" in side_window_signs(elf[:, 0], elf[:, 1])


def test_a_bit_crushed_panned_sample_is_judged_on_its_own_steps() -> None:
    """A hat cut to 8 bits, then panned: the side is the sample times its pan, on steps of
    about 50 16-bit values; it never takes +-1..3, and its white noise passes through zero as
    often as through any of its steps (judged against +-1..3: a binary's zero words)."""
    left, right = _drum_kit(23, crush=8, ring=1300)
    x = np.round(np.stack([left, right])).astype(np.int64)
    assert side_window_signs(x[0], x[1]) == []


def test_a_mix_side_is_not_white() -> None:
    mid = music(1.0, seed=6)
    side = 0.3 * np.roll(music(1.0, seed=7), 5)
    x = stereo(mid, side)
    assert side_window_signs(x[:, 0], x[:, 1]) == []


def test_bytes_written_as_mid_plus_minus_side_are_carved() -> None:
    mid = np.round(music(3.0, seed=8) * 32767).astype(np.int64)
    payload = (ELF_HEAD + np.random.default_rng(9).bytes(1 << 18))[: mid.size]
    b = np.frombuffer(payload, np.int8).astype(np.int64)
    x = np.stack([mid + b, mid - b], 1)
    scanner = SideChannelScanner(RATE, 16)
    for start in range(0, x.shape[0], 50000):
        scanner.update(x[start : start + 50000].astype(np.int16))
    (found,) = scanner.report()
    assert found.code == "stego.side_channel_data"
    assert found.severity is Severity.MALICIOUS
    assert found.evidence["carved_name"] == "elf"
    assert "same_parity" in found.evidence["signs"]  # type: ignore[operator]


def test_codes_with_a_hole_are_data_and_a_noise_floor_is_not() -> None:
    rng = np.random.default_rng(10)
    n = 2048
    assert gap_window_signs(2 * rng.integers(0, 2, n) - 1) == ["codes_with_holes"]
    assert gap_window_signs(4 * rng.integers(0, 2, n) - 2) == ["codes_with_holes"]
    assert gap_window_signs(2 * rng.integers(0, 4, n) - 3) == ["codes_with_holes"]
    tpdf = np.round(rng.random(n) + rng.random(n) - 1).astype(np.int64)
    assert gap_window_signs(tpdf) == []
    assert gap_window_signs(np.floor(rng.normal(size=n) * 0.4).astype(np.int64)) == []
    # a 14-bit source's steps: a lattice through zero is a coarse converter, not codes
    assert gap_window_signs(4 * np.round(rng.normal(size=n) * 0.6).astype(np.int64)) == []
    # an undithered low tone visits every value between its extremes
    tone = np.round(3.5 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE)).astype(np.int64)
    assert gap_window_signs(tone) == []
    # 24-bit: a byte spread flat is data, a Gaussian floor of 30 steps is not
    assert gap_window_signs(rng.integers(-128, 128, n)) == ["flat"]
    assert gap_window_signs(np.round(rng.normal(size=n) * 30).astype(np.int64)) == []


def gapped(bits: int, fill: Ints, seed: int = 11) -> Ints:
    x = np.round(music(4.0, seed=seed) * 2 ** (bits - 1)).astype(np.int64)
    for k, start in enumerate((RATE, 2 * RATE + RATE // 2)):
        x[start - 400 : start] = np.round(x[start - 400 : start] * np.linspace(1, 0, 400))
        size = RATE // 2
        x[start : start + size] = fill[k * size : (k + 1) * size]
    return x


def scan(x: Ints, bits: int) -> list[object]:
    scanner = QuietCodesScanner(RATE, bits)
    stored = x.astype(np.int16) if bits == 16 else (x << 8).astype(np.int32)
    for start in range(0, x.size, 65536):
        scanner.update(stored[start : start + 65536, None])
    return list(scanner.report())


def test_bits_in_gaps_are_held_and_a_binary_among_them_carved() -> None:
    rng = np.random.default_rng(12)
    bits = np.unpackbits(np.frombuffer(rng.bytes(RATE // 8 + 1), np.uint8)).astype(np.int64)
    (found,) = scan(gapped(16, 2 * bits - 1), 16)
    assert found.code == "stego.quiet_codes" and found.severity is Severity.SUSPICIOUS  # type: ignore[attr-defined]
    # a few zeros sprinkled among the +-1 codes do not make them a noise floor
    sprinkled = 2 * bits[:RATE] - 1
    sprinkled[rng.random(RATE) < 0.003] = 0
    assert scan(gapped(16, sprinkled), 16)
    elf = np.unpackbits(np.frombuffer(ELF_HEAD + rng.bytes(RATE // 8), np.uint8))
    # two adjacent codes (0/1) read as a half-step's noise: only the carved head tells
    (found,) = scan(gapped(16, elf.astype(np.int64)), 16)
    assert found.severity is Severity.MALICIOUS and found.evidence["carved_name"] == "elf"  # type: ignore[attr-defined]
    assert scan(gapped(16, np.floor(rng.normal(size=RATE) * 0.4).astype(np.int64)), 16) == []


def test_a_24_bit_low_byte_is_held_and_a_noise_floor_is_not() -> None:
    rng = np.random.default_rng(13)
    assert scan(gapped(24, rng.integers(-128, 128, RATE)), 24)
    assert scan(gapped(24, np.round(rng.normal(size=RATE) * 40).astype(np.int64)), 24) == []


def test_the_validator_reports_a_side_channel_payload(tmp_path: Path) -> None:
    from audiomodel import validate_path

    mid = music(3.0, seed=14)
    x = stereo(mid, scaled(words(np.random.default_rng(15).bytes(1 << 18), mid.size), mid, -35))
    path = tmp_path / "side.wav"
    sf.write(path, x.astype(np.int16), RATE, subtype="PCM_16")
    codes = {f.code for f in validate_path(path).findings}
    assert "stego.side_channel_data" in codes
