"""Data stored as companded codes (audiomodel.companded): a file's bytes written as mu-law or
A-law codes, or expanded from them to 16-bit PCM, use every code evenly and forget their level
from one sample to the next; sound through the same codecs keeps an envelope."""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.companded import MIN_CODE_ENTROPY_BITS, CodeScanner, decode_codes
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 8000
PAYLOAD = np.random.default_rng(14).integers(0, 256, 24 * RATE, dtype=np.uint8).tobytes()


def _codes_wav(codes: bytes, subtype: str, channels: int = 1) -> bytes:
    """A WAV whose data chunk is ``codes`` as they are (mu-law tag 7, A-law tag 6)."""
    tag = {"ULAW": 7, "ALAW": 6}[subtype]
    fmt = struct.pack("<HHIIHH", tag, channels, RATE, RATE * channels, channels, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(codes)) + codes + b"\0" * (len(codes) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _expanded_to_pcm16(codes: bytes, subtype: str) -> bytes:
    """The codes decoded to 16-bit PCM (as sox or ffmpeg convert a telephone file)."""
    buf = io.BytesIO()
    sf.write(buf, decode_codes(codes, subtype), RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _speech_like(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """The hardest sound for the rule: Laplacian noise whose level jumps over 40 dB every 20 ms
    (fills the codes to ~7.88 bits), lightly low-passed as a telephone channel is."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    blocks = -(-n // 160)
    level = 10 ** ((-6 - rng.uniform(0, 40, blocks)) / 20)
    x = rng.laplace(0, 1 / np.sqrt(2), n) * np.repeat(level, 160)[:n]
    x = np.convolve(x, [0.25, 0.5, 0.25], mode="same")
    return np.clip(x, -1, 1)


def _encoded(x: npt.NDArray[np.float64], subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), RATE, format="WAV", subtype=subtype)
    return buf.getvalue()


def _codes(wav: bytes) -> list[str]:
    return [f.code for f in validate_bytes(wav).findings]


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_bytes_stored_as_codes_are_data(subtype: str) -> None:
    verdict = validate_bytes(_codes_wav(PAYLOAD, subtype))
    found = [f for f in verdict.findings if f.evidence.get("stored_as") == "codes"]
    assert verdict.decision is Decision.REJECT
    assert found and found[0].code == "signal.data_as_audio"
    assert float(found[0].evidence["code_entropy_bits"]) >= MIN_CODE_ENTROPY_BITS
    assert found[0].evidence["byte_start"] == 44  # the data chunk's first code


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_codes_expanded_to_16_bit_pcm_are_data(subtype: str) -> None:
    verdict = validate_bytes(_expanded_to_pcm16(PAYLOAD, subtype))
    assert verdict.decision is Decision.REJECT
    assert any(
        f.code == "signal.data_as_audio" and "lattice" in str(f.evidence.get("stored_as"))
        for f in verdict.findings
    )


def test_codes_spliced_into_a_companded_track_are_located() -> None:
    sound = _encoded(_speech_like(20.0, seed=1), "ULAW")
    data_at = sound.index(b"data") + 8
    start = data_at + 8 * RATE
    spliced = sound[:start] + PAYLOAD[: 5 * RATE] + sound[start + 5 * RATE :]
    segments = [
        f
        for f in validate_bytes(spliced).findings
        if f.code == "signal.data_segment" and f.evidence.get("stored_as") == "codes"
    ]
    assert segments
    where = segments[0].evidence
    assert float(where["start_s"]) >= 8.0 and float(where["end_s"]) <= 13.0
    assert start <= int(where["byte_start"]) < int(where["byte_end"]) <= start + 5 * RATE


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_sound_through_companding_keeps_its_envelope(subtype: str) -> None:
    for seed in range(3):
        assert "signal.data_as_audio" not in _codes(_encoded(_speech_like(12.0, seed), subtype))
    rng = np.random.default_rng(5)
    for level in (0.1, 0.3, 0.6):  # white noise at its most code-filling levels
        noise = np.clip(rng.normal(0, level, 12 * RATE), -1, 1)
        scanner = CodeScanner(subtype, RATE, None)
        samples = sf.read(io.BytesIO(_encoded(noise, subtype)), dtype="int16", always_2d=True)[0]
        scanner.update(samples)
        assert scanner.report() == []


def test_sixteen_bit_audio_off_the_lattice_is_not_read() -> None:
    t = np.arange(10 * RATE) / RATE
    tone = np.round(
        8000 * np.sin(2 * np.pi * 440 * t) + np.random.default_rng(0).normal(0, 3, t.size)
    )
    scanner = CodeScanner("PCM_16", RATE, None)
    scanner.update(tone.astype(np.int16)[:, None])
    assert [m for _, m in scanner.windows] == [None]
    assert scanner.report() == []


def _executable(size: int) -> bytes:
    """An ELF64 x86-64 executable's shape: its header, then what follows one (zero padding,
    small tables, strings): far from uniform bytes, so no window reads as noise-like codes."""
    header = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    header += (2).to_bytes(2, "little") + (0x3E).to_bytes(2, "little") + (1).to_bytes(4, "little")
    body = bytearray(header + bytes(48))
    rng = np.random.default_rng(9)
    while len(body) < size:
        body += bytes(int(rng.integers(16, 400)))  # alignment padding
        body += rng.integers(0, 24, int(rng.integers(16, 200)), dtype=np.uint8).tobytes()
        body += b"GLIBC_2.34\0libc.so.6\0__cxa_finalize\0" * int(rng.integers(0, 3))
    return bytes(body[:size])


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_an_executable_written_as_codes_is_carved_whatever_the_law(subtype: str, rate: int) -> None:
    """The codes are the bytes the file stores: an executable's header is spelled by them,
    though its codes are too uneven to read as data by their entropy (session 16: raw ELF
    bytes as 8 kHz A-law were accepted)."""
    codes = _executable(6 * rate)
    samples = decode_codes(codes, subtype).reshape(-1, 1)
    for stored_as, scanner in (("codes", CodeScanner(subtype, rate, None)),
                               ("lattice", CodeScanner("PCM_16", rate, None))):  # fmt: skip
        scanner.update(samples)
        found = scanner.report()
        assert not any(m is not None and m.data for _, m in scanner.windows)  # not by entropy
        assert found and found[0].code == "signal.data_as_audio", stored_as
        assert found[0].evidence["payload"] == "elf"
        assert stored_as in str(found[0].evidence["stored_as"])
    wav = _codes_wav(codes, subtype)
    assert validate_bytes(wav).decision is Decision.REJECT


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_an_executable_spliced_into_a_companded_track_is_carved_where_it_starts(
    subtype: str,
) -> None:
    sound = _encoded(_speech_like(12.0, seed=2), subtype)
    start = sound.index(b"data") + 8 + 5 * RATE + 123
    spliced = sound[:start] + _executable(2 * RATE) + sound[start + 2 * RATE :]
    found = [f for f in validate_bytes(spliced).findings if f.evidence.get("payload") == "elf"]
    assert found and found[0].code == "signal.data_as_audio"
    assert float(found[0].evidence["start_s"]) == 5.0  # the window the header starts in
