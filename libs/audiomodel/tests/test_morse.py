"""Data sent as Morse code (audiomodel.morse): a base64, hex or base32 dump keyed as CW is
encoded data and its header is carved; Morse practice (prose, call signs, a QSO, Koch groups)
is good audio."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.morse import MorseScanner, keyed_morse
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 44100
ELF_HEAD = bytes.fromhex("7f454c4602010100000000000000000003003e0001000000") + bytes(range(48))
PROSE = "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG AND RUNS BACK HOME AGAIN BEFORE DARK"
QSO = "CQ CQ DE DL1ABC DL1ABC K = W1AW DE DL1ABC UR RST 599 NAME FABIAN QTH BERLIN = 73 SK"


def _scan(x: npt.NDArray[np.float64]) -> MorseScanner:
    scanner = MorseScanner(RATE)
    level = np.round(np.clip(x, -1, 1) * 32767).astype(np.int32)
    for start in range(0, level.size, 30_000):  # blocks that cut elements at arbitrary places
        scanner.update(level[start : start + 30_000])
    return scanner


def _wav(x: npt.NDArray[np.float64]) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_an_executable_keyed_as_base64_morse_is_rejected_with_its_header() -> None:
    x = keyed_morse(base64.b64encode(ELF_HEAD).decode(), RATE, wpm=40, tone_hz=700)
    verdict = validate_bytes(_wav(x), name="cw.wav")
    codes = {f.code for f in verdict.findings}
    assert {"signal.modem", "signal.modem_payload"} <= codes
    assert verdict.decision is Decision.REJECT
    payload = next(f for f in verdict.findings if f.code == "signal.modem_payload")
    assert payload.evidence["signature"] == "elf"
    assert payload.evidence["modulation"] == "CW"
    assert abs(float(payload.evidence["tone_hz"]) - 700) < 30


@pytest.mark.parametrize(
    ("encoding", "timing"),
    [
        ("hex", {"wpm": 20.0, "effective_wpm": 8.0, "tone_hz": 400.0, "rise_s": 0.002}),
        ("base32", {"wpm": 60.0, "tone_hz": 2500.0}),
        ("base64", {"wpm": 12.0, "tone_hz": 1000.0, "rise_s": 0.010}),
    ],
)
def test_encodings_and_timings_in_noise_are_read(encoding: str, timing: dict[str, float]) -> None:
    text = {
        "hex": ELF_HEAD.hex(),
        "base32": base64.b32encode(ELF_HEAD).decode(),
        "base64": base64.b64encode(ELF_HEAD).decode(),
    }[encoding]
    x = keyed_morse(text, RATE, **timing)  # type: ignore[arg-type]
    x = x + np.random.default_rng(3).normal(0, 0.05, x.size)  # ~10 dB under the tone
    scanner = _scan(x)
    (read,) = scanner.texts()
    assert read.text.replace(" ", "") == text.upper()
    assert abs(read.wpm - timing["wpm"]) < 0.1 * timing["wpm"]
    assert {f.code for f in scanner.report()} == {"signal.modem", "signal.modem_payload"}


def test_random_bytes_as_hex_are_encoded_data_without_a_payload() -> None:
    data = np.random.default_rng(5).bytes(48)
    codes = [f.code for f in _scan(keyed_morse(data.hex(), RATE, wpm=30)).report()]
    assert codes == ["signal.modem"]


@pytest.mark.parametrize(
    "text",
    [
        PROSE,
        QSO,
        # call-sign practice
        "DL1ABC W1AW G4XYZ K9QRS F5MNO VK2DEF JA1GHI " * 4,
        # Koch-method practice: random five-character groups
        "KMRSU APTLO WI.NJ EF0Y, VG5/Q 9ZH38 B?427 C1D6X " * 3,
    ],
)
def test_morse_practice_is_read_and_not_flagged(text: str) -> None:
    scanner = _scan(keyed_morse(text, RATE, wpm=25))
    (read,) = scanner.texts()
    assert read.text.split() == text.split()
    assert scanner.report() == []


def test_music_like_tones_are_not_read_as_morse() -> None:
    # a melody of held notes with rests: narrow tones switching on, but no dit/dah alphabet
    rng = np.random.default_rng(7)
    notes = []
    for _ in range(120):
        t = np.arange(round(rng.uniform(0.1, 0.5) * RATE)) / RATE
        f = 220 * 2 ** (rng.integers(0, 24) / 12)
        notes += [0.4 * np.sin(2 * np.pi * f * t) * np.exp(-3 * t), np.zeros(round(0.05 * RATE))]
    assert _scan(np.concatenate(notes)).report() == []


@pytest.mark.skipif(shutil.which("ebook2cw") is None, reason="ebook2cw is not installed")
@pytest.mark.parametrize(("text", "flagged"), [(None, True), (PROSE, False)])
def test_ebook2cw_mp3(tmp_path: Path, text: str | None, flagged: bool) -> None:
    source = tmp_path / "in.txt"
    source.write_text((text or base64.b64encode(ELF_HEAD).decode()) + "\n")
    subprocess.run(
        [
            "ebook2cw",
            "-w",
            "30",
            "-s",
            "44100",
            "-b",
            "64",
            "-o",
            str(tmp_path / "cw"),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    verdict = validate_bytes((tmp_path / "cw0000.mp3").read_bytes(), name="cw.mp3")
    codes = {f.code for f in verdict.findings}
    assert ("signal.modem_payload" in codes) is flagged
    assert ("signal.modem" in codes) is flagged
