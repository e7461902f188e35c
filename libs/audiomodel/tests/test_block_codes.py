"""Data stored as the codes of an MS ADPCM WAV (audiomodel.block_codes): read from the file's
bytes, a file's bytes use the 16 codes evenly and forget them; a sound's codes keep a bell."""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.block_codes import ms_adpcm_findings
from audiomodel.container import inspect_container
from audiomodel.findings import Finding
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 8000
HEADER = 7  # bytes a block and channel before the codes


def _ms_adpcm(x: npt.NDArray[np.float64], rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), rate, format="WAV", subtype="MS_ADPCM")
    return buf.getvalue()


def _overwritten(wav: bytes, payload: bytes, channels: int = 1) -> bytes:
    """``payload`` written over every code of ``wav``, each block's header left as it was."""
    coded = bytearray(wav)
    align = struct.unpack("<H", coded[coded.find(b"fmt ") + 20 :][:2])[0]
    start = coded.find(b"data") + 8
    end = start + struct.unpack("<I", coded[start - 4 : start])[0]
    taken = 0
    for at in range(start, end - align + 1, align):
        body = align - HEADER * channels
        coded[at + HEADER * channels : at + align] = payload[taken : taken + body]
        taken += body
    return bytes(coded)


def _read(wav: bytes) -> list[Finding]:
    """The reader's findings on ``wav``'s codes, laid out as the container walk finds them."""
    layout = inspect_container(io.BytesIO(wav)).coded
    assert layout is not None
    return ms_adpcm_findings(wav[layout.data_offset :][: layout.data_size], layout)


def _findings(wav: bytes) -> list[str]:
    return [f.code for f in _read(wav)]


def test_random_bytes_as_ms_adpcm_codes_are_data() -> None:
    silence = _ms_adpcm(np.zeros(12 * RATE))
    payload = np.random.default_rng(18).integers(0, 256, len(silence), dtype=np.uint8).tobytes()
    verdict = validate_bytes(_overwritten(silence, payload))
    found = [f for f in verdict.findings if f.evidence.get("stored_as") == "MS ADPCM codes"]
    assert verdict.decision is Decision.REJECT  # (held for review at 061f303)
    assert found and found[0].code == "signal.data_as_audio"
    assert float(found[0].evidence["code_entropy_bits"]) > 3.95


def test_a_file_signature_in_the_codes_is_named() -> None:
    silence = _ms_adpcm(np.zeros(12 * RATE))
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 62, 1) + bytes(40)
    found = _read(_overwritten(silence, elf + bytes(len(silence))))
    assert found and found[0].evidence["payload"] == "elf"


def test_sound_as_ms_adpcm_is_not_data() -> None:
    rng = np.random.default_rng(4)
    n = 10 * RATE
    t = np.arange(n) / RATE
    sounds = {
        "full-scale white noise": np.clip(rng.normal(0, 1, n), -1, 1),
        "speech-like": rng.laplace(0, 0.2, n) * np.repeat(rng.uniform(0, 1, n // 160), 160),
        "chord": 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330, 440)),
    }
    for name, x in sounds.items():
        assert _findings(_ms_adpcm(x)) == [], name
        stereo = _ms_adpcm(np.stack([x, x[::-1]], axis=1), 44100)
        assert _findings(stereo) == [], name
