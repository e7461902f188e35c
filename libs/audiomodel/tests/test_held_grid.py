"""Bytes held as steps and then lossy coded (audiomodel.held_grid), through the real encoders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.findings import Severity
from audiomodel.held_grid import HeldGridScanner, probe_holds, read_grid
from audiomodel.validator import validate_path

RATE = 44100
needs_lame = pytest.mark.skipif(shutil.which("lame") is None, reason="lame is not installed")
needs_oggenc = pytest.mark.skipif(shutil.which("oggenc") is None, reason="oggenc is not installed")


def text_bytes(size: int) -> bytes:
    """Source text: printable bytes, as a script or a document would be."""
    source = Path(__file__).read_bytes()
    return (source * (size // len(source) + 1))[:size]


def binary_bytes(size: int) -> bytes:
    """An ELF executable's bytes (the interpreter's own), header first."""
    import sys

    data = Path(sys.executable).resolve().read_bytes()
    return (data * (size // len(data) + 1))[:size]


def held(data: bytes, hold: int, frames: int, level: float = 0.8) -> npt.NDArray[np.float64]:
    values = (np.frombuffer(data[: frames // hold + 1], dtype=np.uint8) - 128.0) / 128
    y = np.repeat(values, hold)[:frames] * level
    return np.c_[y, y]


def music(seconds: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """Notes with harmonics and a decaying envelope over a noisy beat: band-limited sound."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    y = np.zeros(n)
    for start in np.arange(0, seconds, 0.25):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        on = (t >= start) & (t < start + 0.5)
        envelope = np.exp(-(t[on] - start) * 6)
        for k in range(1, 6):
            y[on] += envelope * np.sin(2 * np.pi * f0 * k * t[on]) / k
    beat = np.convolve(rng.normal(size=n), np.ones(8) / 8, mode="same") * 0.2
    y = 0.3 * y / np.abs(y).max() + beat * (np.sin(2 * np.pi * 2 * t) > 0.5)
    return np.c_[y, 0.9 * y]


def coded(y: npt.NDArray[np.float64], tmp_path: Path, encoder: str, kbps: int = 192) -> Path:
    wav = tmp_path / "in.wav"
    sf.write(wav, y, RATE, subtype="PCM_16")
    if encoder == "mp3":
        out = tmp_path / "out.mp3"
        subprocess.run(["lame", "--quiet", "-b", str(kbps), str(wav), str(out)], check=True)
    else:
        out = tmp_path / "out.ogg"
        subprocess.run(["oggenc", "-Q", "-q", "5", str(wav), "-o", str(out)], check=True)
    return out


def grid_findings(path: Path) -> list:
    return [f for f in validate_path(path).findings if f.code == "signal.held_grid"]


@needs_lame
@pytest.mark.parametrize("hold", [8, 32])
def test_text_held_as_steps_through_mp3_is_found(tmp_path: Path, hold: int) -> None:
    found = grid_findings(coded(held(text_bytes(200_000), hold, 6 * RATE), tmp_path, "mp3"))
    assert found
    assert found[0].evidence["hold_samples"] == pytest.approx(hold, abs=0.05)
    assert found[0].evidence["held_dc_ratio"] >= 0.5  # printable bytes: one-sided


@needs_oggenc
def test_random_bytes_spliced_into_music_through_vorbis_are_located(tmp_path: Path) -> None:
    y = music(20.0)
    at, n = 8 * RATE, 3 * RATE
    y[at : at + n] = held(np.random.default_rng(1).bytes(n), 16, n, level=0.7)
    found = grid_findings(coded(y, tmp_path, "ogg"))
    assert len(found) == 1
    evidence = found[0].evidence
    assert 7.5 <= float(evidence["start_s"]) <= 8.5
    assert 10.5 <= float(evidence["end_s"]) <= 11.5
    assert float(evidence["held_kurtosis"]) < 1.9  # bytes spread evenly over the byte range


@needs_lame
def test_a_binary_held_as_steps_in_a_wav_carries_its_header_and_bytes(tmp_path: Path) -> None:
    """Decoded back to a WAV (the codec's noise kept): at a high rate and long holds the held
    values sit on the 256 levels of a byte and carve back to the executable's header; the byte
    range is given."""
    mp3 = coded(held(binary_bytes(100_000), 64, 6 * RATE), tmp_path, "mp3", kbps=320)
    decoded = tmp_path / "decoded.wav"
    subprocess.run(["lame", "--quiet", "--decode", str(mp3), str(decoded)], check=True)
    found = grid_findings(decoded)
    assert found
    assert "byte_start" in found[0].evidence
    assert any(f.severity == Severity.MALICIOUS and f.evidence["signature"] == "elf" for f in found)


@needs_lame
@pytest.mark.parametrize("hold", [4, 16, 64])
def test_bitcrushed_noise_through_mp3_is_sound(tmp_path: Path, hold: int) -> None:
    """A bitcrusher (sample-and-hold, no filter) on a noisy sound holds white values on a clock,
    as bytes do; but they are sound's values: symmetric and peaked, not a byte's."""
    rng = np.random.default_rng(2)
    noise = np.clip(rng.normal(scale=0.2, size=8 * RATE), -1, 1)
    y = music(8.0)[:, 0] + noise
    crushed = np.repeat(y[::hold], hold)[: y.size] * 0.7
    assert not grid_findings(coded(np.c_[crushed, crushed], tmp_path, "mp3"))


@needs_lame
def test_music_upsampled_by_repeating_samples_is_sound(tmp_path: Path) -> None:
    low = music(8.0)[::4]
    y = np.repeat(low, 4, axis=0)
    assert not grid_findings(coded(y, tmp_path, "mp3"))


def test_the_probe_finds_a_fractional_hold() -> None:
    """A hold of 8 samples at 44.1 kHz read at 48 kHz (as Opus decodes): 8.707 samples, the
    edges softened as a resampler's low-pass leaves them."""
    rng = np.random.default_rng(3)
    values = rng.integers(-100, 100, size=4000).astype(np.float64) * 100
    period = 8 * 160 / 147
    t = np.arange(int(values.size * period) - 8)
    x = np.convolve(values[(t / period).astype(np.intp)], [0.25, 0.5, 0.25], mode="same")
    holds, contrast = probe_holds(x[None, :1025], (1.0, 160 / 147))
    assert holds[0] == pytest.approx(period, abs=0.01)
    assert contrast[0] > 3
    cell = read_grid(x[:22050], float(holds[0]))
    assert cell.period == pytest.approx(period, abs=0.01)
    assert cell.pred_db > -1  # the held values are the white draws


def test_sound_without_a_grid_is_not_read() -> None:
    scanner = HeldGridScanner(RATE)
    y = (music(6.0).sum(axis=1) * 16000).astype(np.int32)
    scanner.update(y[: RATE // 3])
    scanner.update(y[RATE // 3 :])
    assert not scanner.report()
    assert len(scanner._read) <= 1  # the probe turns (nearly) every half second away
