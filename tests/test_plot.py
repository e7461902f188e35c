"""``audioval validate --plot``: one readable PNG per input, whatever the input is."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from matplotlib.image import imread

from audiomodel.plot import _Envelope, plot_filename, plot_track

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REJECT_RED = (0xC6, 0x28, 0x28)
ACCEPT_GREEN = (0x2E, 0x7D, 0x32)


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_MAGIC
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _has_colour(png: Path, rgb: tuple[int, int, int]) -> bool:
    """Whether some pixel of the image is (within rounding) the colour ``rgb``."""
    pixels = np.asarray(imread(png))[..., :3]
    target = np.array(rgb, dtype=np.float64) / 255.0
    return bool((np.abs(pixels - target).max(axis=-1) < 2 / 255).any())


def _result(path: Path, verdict: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "path": str(path),
        "verdict": verdict,
        "label": "real" if verdict == "accept" else "mock",
        "score": 0.08 if verdict == "accept" else 0.99,
        "findings": findings,
        "format": "wav" if verdict == "accept" else "unknown",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "model_version": "test-1",
        "timings_ms": {"total": 12.5},
    }


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    """Three seconds of a decaying 440 Hz tone plus a little noise, 16-bit mono."""
    sr = 22050
    t = np.arange(3 * sr) / sr
    rng = np.random.default_rng(7)
    x = 0.6 * np.sin(2 * np.pi * 440 * t) * np.exp(-1.5 * t) + 0.002 * rng.standard_normal(t.size)
    path = tmp_path / "decaying tone.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    return path


@pytest.fixture
def random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "payload.wav"
    path.write_bytes(np.random.default_rng(3).bytes(40_000))
    return path


def test_decodable_wav_gets_a_png_named_after_stem_and_hash(tone_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "plots"
    out.mkdir()
    result = _result(
        tone_wav,
        "accept",
        [
            {
                "code": "model.score",
                "message": "Learned score 0.080.",
                "severity": "info",
                "evidence": {"score": 0.08},
            }
        ],
    )
    png = plot_track(tone_wav, result, out)
    assert png.parent == out
    assert png.name == f"decaying_tone-{result['sha256'][:8]}.png"
    data = png.read_bytes()
    assert _png_size(data) == (1200, 900)
    assert len(data) > 40_000  # four drawn panels, not a blank page
    assert _has_colour(png, ACCEPT_GREEN)
    assert not _has_colour(png, REJECT_RED)
    assert [p.name for p in out.iterdir()] == [png.name]  # no temporary file left behind


def test_random_bytes_still_get_a_png_with_histogram_and_findings(
    random_bytes: Path, tmp_path: Path
) -> None:
    result = _result(
        random_bytes,
        "reject",
        [
            {
                "code": "container.unknown_format",
                "message": "The bytes are not a supported audio container.",
                "severity": "malicious",
                "evidence": {"magic": "d3f60a60"},
            }
        ],
    )
    png = plot_track(random_bytes, result, tmp_path)
    assert png.name == f"payload-{result['sha256'][:8]}.png"
    data = png.read_bytes()
    assert _png_size(data) == (1200, 900)
    assert len(data) > 20_000
    assert _has_colour(png, REJECT_RED)


def test_missing_file_gets_a_png_named_from_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "gone.flac"
    result = {
        "path": str(missing),
        "verdict": "reject",
        "label": "mock",
        "score": 1.0,
        "findings": [
            {
                "code": "input.unreadable",
                "message": "The file could not be read: No such file or directory.",
                "severity": "malicious",
                "evidence": {"error": "FileNotFoundError"},
            }
        ],
        "format": "unknown",
        "size_bytes": 0,
        "sha256": "",
    }
    png = plot_track(missing, result, tmp_path)
    path_hash = hashlib.sha256(str(missing).encode()).hexdigest()[:8]
    assert png.name == f"gone-{path_hash}.png"
    assert _png_size(png.read_bytes()) == (1200, 900)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("my track (final)!.wav", "my_track_final"),
        ("Björk – Jóga.flac", "Bjork_Joga"),
        ("../../etc/passwd", "passwd"),
        (".hidden.wav", "hidden"),
        ("-rf.wav", "rf"),
        ("!!!.mp3", "track"),
        ("x" * 300 + ".wav", "x" * 64),
    ],
)
def test_plot_filename_is_safe_and_bounded(name: str, stem: str) -> None:
    digest = "ab" * 32
    assert plot_filename(Path(name), digest) == f"{stem}-abababab.png"


def test_envelope_merges_bins_when_stream_outlasts_its_header() -> None:
    rng = np.random.default_rng(5)
    signal = rng.uniform(-1, 1, size=(10_000, 2)).astype(np.float32)
    envelope = _Envelope(channels=2, frames_hint=1_000, target=10)  # the header lies: 1k frames
    for start in range(0, signal.shape[0], 777):  # blocks that straddle bin edges
        envelope.add(signal[start : start + 777])
    mins, maxs, rms = envelope.result()
    width = envelope.bin_frames
    assert width * 20 >= 10_000  # never more than 2 * target bins held
    bins = -(-10_000 // width)
    padded = np.full((bins * width, 2), np.nan, dtype=np.float32)
    padded[:10_000] = signal
    grouped = padded.reshape(bins, width, 2)
    np.testing.assert_array_equal(mins, np.nanmin(grouped, axis=1).T)
    np.testing.assert_array_equal(maxs, np.nanmax(grouped, axis=1).T)
    expected_rms = np.sqrt(np.nanmean(grouped.astype(np.float64) ** 2, axis=1)).T
    np.testing.assert_allclose(rms, expected_rms, rtol=1e-5)
