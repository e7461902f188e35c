"""Data stored as IMA ADPCM codes (audiomodel.adpcm): a file's bytes written as the nibbles of an
IMA ADPCM WAV, decoded to 16-bit PCM, are read back from the samples (every move is one the
decoder's state allows); sound through the same codec keeps a bell of moves and a smooth
waveform, bytes use the 16 codes evenly and forget them."""

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
import soundfile as sf

from audiomodel.adpcm import OKI, AdpcmScanner, ima_codes
from audiomodel.adpcm_kernels import RESTART
from audiomodel.findings import Severity
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 8000
BLOCK = 256  # bytes per mono block: a 4-byte header (first sample, step index), then nibbles
RANDOM = np.random.default_rng(17).integers(0, 256, 12 * RATE, dtype=np.uint8).tobytes()


def _riff(fmt: bytes, data: bytes) -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _ima_wav(payload: bytes, step_index: int = 0) -> bytes:
    """``payload`` as the nibbles of a mono IMA ADPCM WAV (each block's header valid)."""
    per_block = BLOCK - 4
    blocks = [
        struct.pack("<hBB", 0, step_index, 0) + payload[i : i + per_block].ljust(per_block, b"\0")
        for i in range(0, len(payload), per_block)
    ]
    fmt = struct.pack("<HHIIHHHH", 0x11, 1, RATE, RATE * BLOCK // 505, BLOCK, 4, 2, 505)
    return _riff(fmt, b"".join(blocks))


def _pcm16(samples: npt.NDArray[np.int16], rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _decoded(wav: bytes) -> npt.NDArray[np.int16]:
    samples: npt.NDArray[np.int16] = sf.read(io.BytesIO(wav), dtype="int16")[0]
    return samples


def _through_ima(x: npt.NDArray[np.float64], rate: int = RATE) -> npt.NDArray[np.int16]:
    """Sound encoded by libsndfile's IMA ADPCM and decoded again to 16 bits."""
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="WAV", subtype="IMA_ADPCM")
    return _decoded(buf.getvalue())


def _scan(samples: npt.NDArray[np.int16], rate: int = RATE) -> AdpcmScanner:
    scanner = AdpcmScanner(rate, None)
    scanner.update(samples.reshape(samples.shape[0], -1))
    return scanner


def test_the_tracker_reads_back_the_nibbles() -> None:
    samples = _decoded(_ima_wav(RANDOM[:2000], step_index=40))
    codes, _ = ima_codes(samples)
    nibbles = np.frombuffer(RANDOM[:252], np.uint8)
    stored = np.stack([nibbles & 15, nibbles >> 4], axis=1).reshape(-1)
    read = codes[1:505]
    assert codes[0] == RESTART
    known = read >= 0
    assert known.mean() > 0.4  # (moves clamped at a rail fit several codes)
    assert np.array_equal(read[known], stored[known])


@pytest.mark.parametrize("stored_as", ["IMA ADPCM WAV", "16-bit PCM"])
def test_random_bytes_as_codes_are_data(stored_as: str) -> None:
    ima = _ima_wav(RANDOM)
    wav = ima if stored_as == "IMA ADPCM WAV" else _pcm16(_decoded(ima))
    verdict = validate_bytes(wav)
    found = [f for f in verdict.findings if "IMA" in str(f.evidence.get("stored_as"))]
    assert verdict.decision is Decision.REJECT
    assert found and found[0].code == "signal.data_as_audio"


def test_text_as_codes_is_data() -> None:
    text = (b"def main() -> None:\n    print('hello, world')\n" * 2000)[: 12 * RATE]
    found = [f for f in _scan(_decoded(_ima_wav(text))).report() if f.evidence["stored_as"]]
    assert found and float(found[0].evidence["printable_bytes"]) >= 0.95


def test_codes_spliced_into_a_track_are_located() -> None:
    t = np.arange(20 * RATE) / RATE
    sound = np.round(6000 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2)
    track = sound.astype(np.int16)
    data = _decoded(_ima_wav(RANDOM[: 3 * RATE]))  # 6 s of codes
    track[8 * RATE : 8 * RATE + data.size] = data
    findings = validate_bytes(_pcm16(track)).findings
    segments = [f for f in findings if f.code == "signal.data_segment" and "IMA" in str(f.evidence)]
    assert segments
    where = segments[0].evidence
    assert float(where["start_s"]) >= 7.0 and float(where["end_s"]) <= 15.0
    assert int(where["byte_start"]) >= 44 + 2 * 7 * RATE


def test_sound_through_the_codec_is_not_data() -> None:
    rng = np.random.default_rng(3)
    n = 10 * RATE
    t = np.arange(n) / RATE
    sounds = {
        "full-scale white noise": np.clip(rng.normal(0, 1, n), -1, 1),
        "uniform white noise": rng.uniform(-1, 1, n),
        "speech-like": rng.laplace(0, 0.2, n) * np.repeat(rng.uniform(0, 1, n // 160), 160),
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
    }
    for name, x in sounds.items():
        scanner = _scan(_through_ima(x))
        fitting = [m for _, m in scanner.windows if m is not None and m.fits]
        assert fitting, name  # a decoder's output fits it
        assert scanner.report() == [], name


def test_audio_that_never_went_through_the_codec_is_not_read() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(10 * RATE) / RATE
    tone = np.round(8000 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 3, t.size))
    scanner = _scan(tone.astype(np.int16))
    assert all(m is None for _, m in scanner.windows)
    assert scanner.report() == []


def test_a_file_signature_in_the_codes_is_named() -> None:
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 62, 1) + bytes(40)
    body = bytes(np.random.default_rng(4).integers(0, 8, 4 * RATE, dtype=np.uint8))  # quiet codes
    found = _scan(_decoded(_ima_wav(header + body))).report()
    assert found and found[0].evidence["payload"] == "elf"
    assert float(found[0].evidence["start_s"]) == 0.0


def test_low_bits_of_a_decoders_output_are_noted_not_held() -> None:
    rng = np.random.default_rng(6)
    speech = rng.laplace(0, 0.2, 10 * RATE) * np.repeat(rng.uniform(0, 1, 10 * RATE // 160), 160)
    findings = validate_bytes(_pcm16(_through_ima(np.clip(speech, -1, 1)))).findings
    held = [f for f in findings if f.code.startswith("stego.") and f.severity > Severity.INFO]
    assert held == []


def test_a_lowest_bit_over_silence_is_no_decoders_output() -> None:
    bits = np.random.default_rng(8).integers(0, 2, 10 * RATE).astype(np.int16)
    scanner = _scan(bits)
    assert not scanner.decoder_output


def test_a_bit_written_after_the_decoder_leaves_its_moves() -> None:
    rng = np.random.default_rng(9)
    speech = rng.laplace(0, 0.2, 10 * RATE) * np.repeat(rng.uniform(0, 1, 10 * RATE // 160), 160)
    decoded = _through_ima(np.clip(speech, -1, 1))
    assert _scan(decoded).decoder_output
    marked = decoded.copy()
    where = rng.choice(np.arange(5 * RATE, 6 * RATE), 200, replace=False)  # 2.5 % of a second
    marked[where] ^= 1
    assert not _scan(marked).decoder_output
    assert not _scan(np.stack([decoded, marked], axis=1)).decoder_output  # one channel is enough


needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox absent")


def _sox(source: bytes, suffix: str, before: list[str], after: list[str]) -> bytes:
    """``source`` (a file of type ``suffix``) converted by sox."""
    with tempfile.TemporaryDirectory() as tmp:
        given, out = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{after[-1]}"
        given.write_bytes(source)
        subprocess.run(["sox", "-V1", *before, str(given), *after[:-1], str(out)], check=True)
        return out.read_bytes()


def _vox_decoded(vox: bytes) -> bytes:
    """A raw OKI/Dialogic ADPCM file (.vox, 8 kHz) decoded by sox to 16-bit PCM."""
    return _sox(vox, ".vox", ["-r", "8000"], ["-e", "signed", "-b", "16", ".wav"])


@needs_sox
def test_random_bytes_as_oki_codes_are_data() -> None:
    # (accepted or held for review at 061f303: the IMA tracker restarts on OKI's coarser moves)
    verdict = validate_bytes(_vox_decoded(RANDOM))
    found = [f for f in verdict.findings if "OKI" in str(f.evidence.get("stored_as"))]
    assert verdict.decision is Decision.REJECT
    assert found and found[0].code == "signal.data_as_audio"
    assert float(found[0].evidence["code_entropy_bits"]) >= 3.9


@needs_sox
def test_the_oki_tracker_reads_back_the_nibbles() -> None:
    samples = _decoded(_vox_decoded(RANDOM[:2000]))
    codes, restarts = ima_codes(samples, decoder=OKI)
    nibbles = np.frombuffer(RANDOM[:2000], np.uint8)
    stored = np.stack([nibbles >> 4, nibbles & 15], axis=1).reshape(-1)  # high nibble first
    known = codes >= 0
    assert restarts <= 2 and known.mean() > 0.4
    assert np.array_equal(codes[known], stored[known])


@needs_sox
def test_sound_through_oki_is_not_data() -> None:
    rng = np.random.default_rng(5)
    n = 10 * RATE
    t = np.arange(n) / RATE
    sounds = {
        "speech-like": rng.laplace(0, 0.2, n) * np.repeat(rng.uniform(0, 1, n // 160), 160),
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "white noise": np.clip(rng.normal(0, 0.3, n), -1, 1),
    }
    for name, x in sounds.items():
        wav = _pcm16(np.round(32767 * np.clip(x, -1, 1)).astype(np.int16))
        vox = _sox(wav, ".wav", [], [".vox"])
        scanner = _scan(_decoded(_vox_decoded(vox)))
        assert any(m is not None and m.fits for _, m in scanner.windows), name
        assert scanner.report() == [], name


@needs_sox
def test_a_file_signature_at_the_start_of_a_vox_is_named() -> None:
    # A .vox has no header: its decoder starts from 0 at the smallest step, so the first nibble
    # is read from there and the file's first byte comes back whole.
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 62, 1) + bytes(40)
    body = bytes(np.random.default_rng(4).integers(0, 8, 4 * RATE, dtype=np.uint8))  # quiet codes
    found = _scan(_decoded(_vox_decoded(header + body))).report()
    assert found and found[0].evidence["payload"] == "elf"
    assert "OKI" in str(found[0].evidence["stored_as"])


class _Forgetful(dict):  # type: ignore[type-arg]
    """A cache that keeps nothing: every window is read afresh."""

    def __setitem__(self, key: object, value: object) -> None:
        return None


@pytest.mark.parametrize("decoded", [False, True])
def test_a_held_level_is_read_once_and_reads_the_same(decoded: bool) -> None:
    """Silent and DC-held windows (every decoder holds a level with its zero moves) are read
    once per level: the scanner's windows, bytes and verdict are those of reading every window
    afresh, at the track's start (OKI's decoder starts from silence) and inside it."""
    rng = np.random.default_rng(7)
    t = np.arange(3 * RATE) / RATE
    x = 0.3 * np.sin(2 * np.pi * 330 * t) + rng.normal(0, 0.01, t.size)
    sound = _through_ima(x) if decoded else np.round(x * 20000).astype(np.int16)
    silence = np.zeros(3 * RATE, dtype=np.int16)
    held = np.full(2 * RATE, 5, dtype=np.int16)
    track = np.concatenate([silence, sound, held, silence, sound, held, silence])
    track = np.stack([track, track], axis=1)
    reused = _scan(track)
    fresh = AdpcmScanner(RATE, None)
    fresh._levels_read = _Forgetful()
    fresh.update(track)
    assert reused._levels_read  # the held levels were read once
    assert reused.windows == fresh.windows
    assert reused._carved == fresh._carved and reused._carved_at == fresh._carved_at
    assert reused._as_decoded == fresh._as_decoded
    assert reused._decoded_by == fresh._decoded_by
    assert reused.report() == fresh.report()
