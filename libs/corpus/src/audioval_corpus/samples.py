"""A dozen small sample files, good and bad, for the quick start and for trying the CLI.

Made in seconds from what every machine has: speech rendered by espeak-ng (when installed), a
synthesised piece of music, this package's own source code and numpy's compiled core
as the data, and the threat generators for the disguises. Nothing is downloaded.
"""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audioval_corpus import threats
from audioval_corpus.stego_embed import embed_lsb

__all__ = ["synth_music", "synth_notes", "write_samples"]

RATE = 44100


def synth_music(
    seconds: float = 8.0, *, seed: int = 0, rate: int = RATE
) -> npt.NDArray[np.float32]:
    """A short stereo piece: a plucked melody with harmonics, a bass line and soft drums."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16])
    beat = 0.25
    for i, start in enumerate(np.arange(0.0, seconds, beat)):
        idx = slice(int(start * rate), n)
        tt = t[idx] - start
        f0 = 220.0 * 2 ** (scale[rng.integers(len(scale))] / 12)
        pluck = np.exp(-tt * 6.0) * (1 - np.exp(-tt * 400.0))
        for h in range(1, 7):
            out[idx] += 0.5 * pluck * np.sin(2 * np.pi * f0 * h * tt + h) / h**1.4
        if i % 4 == 0:  # bass and kick on the beat
            out[idx] += 0.6 * np.exp(-tt * 3.0) * np.sin(2 * np.pi * f0 / 4 * tt)
            out[idx] += 0.8 * np.exp(-tt * 30.0) * np.sin(2 * np.pi * 60 * tt * np.exp(-tt * 8))
        if i % 4 == 2:  # a snare of filtered noise
            burst = rng.normal(0, 1, n - idx.start) * np.exp(-tt * 25.0)
            out[idx] += 0.25 * np.convolve(burst, np.ones(4) / 4, mode="same")
    out = 0.3 * out / np.abs(out).max() + rng.normal(0, 2e-4, n)
    left, right = out, 0.85 * np.roll(out, 11) + 0.15 * out
    return np.stack([left, right], axis=1).astype(np.float32)


def synth_notes(seconds: float, *, seed: int, rate: int = RATE) -> npt.NDArray[np.float32]:
    """Music-like mono: notes (three harmonics, 10 ms attack, decay) at irregular onsets in
    three registers of a seeded seven-note scale, over a faint noise floor; peak 0.8.

    Each seed is a different piece with enough spectral peaks to fingerprint: the tracks the
    index and identification tests add, cut, re-encode and match.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = rng.normal(0, 0.003, t.size)
    scale = rng.uniform(100, 200) * 2 ** (np.sort(rng.choice(12, 7, replace=False)) / 12)
    for octave, gap in ((4, 0.25), (2, 0.7), (1, 0.6)):
        onset = 0.0
        while onset < seconds:
            f0 = scale[rng.integers(0, 7)] * octave
            mask = (t >= onset) & (t < onset + 1.0)
            tt = t[mask] - onset
            tone = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in (1, 2, 3))
            out[mask] += 0.3 * np.minimum(tt / 0.01, 1) * np.exp(-3 * tt) * tone
            onset += rng.exponential(gap) + 0.05
    peak = float(np.abs(out).max())
    return (0.8 * out / peak).astype(np.float32)


def _encode(
    samples: npt.NDArray[np.float32] | npt.NDArray[np.int16],
    fmt: str,
    subtype: str,
    rate: int = RATE,
) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _speech(text: str) -> bytes | None:
    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        return out.read_bytes()


def write_samples(out: Path) -> list[Path]:
    """Write the samples into ``out``; returns the paths (names say what each one is)."""
    out.mkdir(parents=True, exist_ok=True)
    music = synth_music()
    ints = np.clip(np.rint(music * 32767), -32768, 32767).astype(np.int16)
    song_wav = _encode(music, "WAV", "PCM_16")
    source_code = Path(threats.__file__).read_text()
    # A compiled extension module (an ELF shared object) stands in for any binary.
    binary = Path(
        importlib.import_module("numpy._core._multiarray_umath").__file__ or ""
    ).read_bytes()[:400_000]
    zip_payload = threats.make_payload("zip", 40_000, seed=1)
    files: dict[str, bytes] = {
        "good-song.wav": song_wav,
        "good-song.flac": _encode(music, "FLAC", "PCM_16"),
        "good-song.ogg": _encode(music, "OGG", "VORBIS"),
        "bad-source-code-as-pcm.wav": threats.text_as_pcm(
            source_code[: RATE * 4], sample_rate=22050
        ),
        "bad-elf-library-as-pcm.wav": threats.bytes_as_pcm(binary, sample_rate=44100, channels=2),
        "bad-random-bytes-as-pcm.flac": threats.bytes_as_pcm(
            np.random.default_rng(2).bytes(300_000), sample_rate=48000, container="flac"
        ),
        "bad-sawtooth-counter.wav": threats.synthetic_signal("counter", seconds=3.0),
        "bad-song-with-elf-appended.wav": threats.append_payload(
            song_wav, threats.make_payload("elf", 20_000)
        ),
        "bad-song-with-zip-chunk.wav": threats.add_riff_chunk(song_wav, zip_payload),
        # int16 in, PCM_16 out: libsndfile stores the integers bit-exactly.
        "bad-song-with-zip-in-low-bits.wav": _encode(
            embed_lsb(ints, zip_payload, bits=1), "WAV", "PCM_16"
        ),
    }
    speech = _speech("Welcome to bandCloud. Every upload is checked before it is stored.")
    if speech is not None:
        files["good-speech.wav"] = speech
    paths = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        paths.append(path)
    return paths
