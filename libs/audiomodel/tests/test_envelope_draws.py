"""Bytes given as GSM 06.10 frames (audiomodel.envelope_draws): any bits decode, but every frame
to a new spectral envelope; sound through the codec keeps its envelope from frame to frame."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import scipy.signal
import soundfile as sf

from audiomodel.envelope_draws import EnvelopeDraws
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 8000
RANDOM = np.random.default_rng(16).integers(0, 256, 40_000, dtype=np.uint8).tobytes()


def _gsm_wav(payload: bytes) -> bytes:
    """``payload`` written over the 65-byte blocks (two frames each) of a GSM 06.10 WAV that
    libsndfile encoded (format 0x31), as an attacker's tool would."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(len(payload) * 5), RATE, format="WAV", subtype="GSM610")
    coded = bytearray(buf.getvalue())
    start = coded.find(b"data") + 8
    size = struct.unpack("<I", coded[start - 4 : start])[0]
    body = (payload * (size // len(payload) + 1))[:size]
    coded[start : start + size] = body
    return bytes(coded)


def _decoded(wav: bytes) -> npt.NDArray[np.int16]:
    samples: npt.NDArray[np.int16] = sf.read(io.BytesIO(wav), dtype="int16", always_2d=True)[0]
    return samples


def _draws(samples: npt.NDArray[np.int16]) -> EnvelopeDraws:
    draws = EnvelopeDraws()
    for at in range(0, samples.shape[0], 4096):
        block = samples[at : at + 4096]
        draws.update(block.astype(np.int32).sum(axis=1))
    return draws


def _through_gsm(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), RATE, format="WAV", subtype="GSM610")
    return _decoded(buf.getvalue())


def test_random_bytes_as_gsm_frames_are_data() -> None:
    verdict = validate_bytes(_gsm_wav(RANDOM))
    found = [f for f in verdict.findings if f.evidence.get("codec") == "gsm"]
    assert verdict.decision is Decision.REJECT  # (accepted at 061f303)
    assert found and found[0].code == "signal.data_as_audio"
    assert float(found[0].evidence["lar_memory"]) < 0.25


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox absent")
def test_a_raw_gsm_file_decoded_to_pcm_is_data() -> None:
    frames = [bytes([0xD0 | RANDOM[i] & 15]) + RANDOM[i + 1 : i + 33] for i in range(0, 39_996, 33)]
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "in.gsm", Path(tmp) / "out.wav"
        raw.write_bytes(b"".join(frames))
        subprocess.run(["sox", "-V1", str(raw), "-e", "signed", "-b", "16", str(out)], check=True)
        verdict = validate_bytes(out.read_bytes())
    found = [f for f in verdict.findings if f.evidence.get("codec") == "gsm"]
    assert verdict.decision is Decision.REJECT  # (accepted at 061f303)
    assert found and found[0].code == "signal.data_as_audio"


def _vowels(seconds: float, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A voice-like sound: a 100-140 Hz pulse train through two resonances that glide from one
    vowel to the next every 200-400 ms, with breath noise."""
    n = int(seconds * RATE)
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.7 * np.arange(n) / RATE)
    phase = np.cumsum(pitch / RATE)
    source = (np.diff(np.floor(phase), prepend=0) > 0).astype(float) + rng.normal(0, 0.02, n)
    out = np.zeros(n)
    for low, high in ((300, 900), (900, 2500)):
        targets = rng.uniform(low, high, n // 2400 + 2)
        centre = np.interp(np.arange(n), np.arange(targets.size) * 2400, targets)
        for at in range(0, n, 160):  # the resonance moved every 20 ms, smoothly
            b, a = scipy.signal.iirpeak(centre[at], 8, fs=RATE)
            out[at : at + 160] += scipy.signal.lfilter(b, a, source[at : at + 160])
    return 0.5 * out / np.abs(out).max()


def test_sound_through_gsm_keeps_its_envelope() -> None:
    rng = np.random.default_rng(2)
    n = 10 * RATE
    t = np.arange(n) / RATE
    sounds = {
        "voice-like": _vowels(10, rng),
        "chord": 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330, 440)),
        "noise with a level jumping every 20 ms": rng.laplace(0, 0.2, n)
        * np.repeat(rng.uniform(0, 1, n // 160), 160),
    }
    for name, x in sounds.items():
        draws = _draws(_through_gsm(x))
        measured = draws.measures()
        assert measured is not None, name
        assert measured[0] < 0.45, (name, measured)  # (bytes: 0.7 or more)
        assert draws.report() == [], name


def test_bytes_measure_as_draws() -> None:
    measured = _draws(_decoded(_gsm_wav(RANDOM))).measures()
    assert measured is not None
    jump, memory, _ = measured
    assert jump > 0.65 and memory < 0.2
