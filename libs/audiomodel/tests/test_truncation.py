"""A broken upload is not an attack: files cut short get ``container.truncated`` with how much is
missing and their own decision rule, and size fields off by a writer's miscount are no lie."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.container import inspect_container
from audiomodel.findings import Finding, Severity
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 44100


def music(seconds: float = 6.0, seed: int = 3) -> npt.NDArray[np.int16]:
    """Plucked notes with harmonics over a quiet noise floor, as a stand-in for a recording."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.2):
        f0 = 98.0 * 2 ** (rng.integers(0, 30) / 12)
        idx = slice(int(start * RATE), n)
        tt = t[idx] - start
        env = np.exp(-tt * 5.0) * (1 - np.exp(-tt * 300.0))
        for h in range(1, 8):
            out[idx] += env * np.sin(2 * np.pi * f0 * h * tt + h) / h**1.3
    out = 0.25 * out / np.abs(out).max() + rng.normal(0, 2e-4, n)
    stereo = np.stack([out, 0.8 * np.roll(out, 7)], axis=1)
    return np.clip(np.rint(stereo * 32767), -32768, 32767).astype(np.int16)


def encode(fmt: str, subtype: str, seconds: float = 6.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, music(seconds), RATE, format=fmt, subtype=subtype)
    return buf.getvalue()


def truncations(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code == "container.truncated"]


def above_info(findings: tuple[Finding, ...]) -> list[str]:
    return [f.message for f in findings if f.severity > Severity.INFO]


@pytest.fixture(scope="module")
def wav() -> bytes:
    return encode("WAV", "PCM_16")


@pytest.fixture(scope="module")
def flac() -> bytes:
    return encode("FLAC", "PCM_16")


def test_the_clean_stand_in_recording_is_accepted(wav: bytes) -> None:
    verdict = validate_bytes(wav)
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)


@pytest.mark.parametrize("short_by", [1, 4, 8])
def test_riff_size_a_few_bytes_short_of_the_file_is_a_miscount_not_a_lie(
    wav: bytes, short_by: int
) -> None:
    data = wav[:4] + struct.pack("<I", len(wav) - 8 - short_by) + wav[8:]
    verdict = validate_bytes(data)
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)
    mismatch = [f for f in verdict.findings if f.code == "container.size_mismatch"]
    assert mismatch and mismatch[0].severity is Severity.INFO


def test_riff_size_counting_its_own_header_is_a_miscount_not_a_truncation(wav: bytes) -> None:
    data = wav[:4] + struct.pack("<I", len(wav)) + wav[8:]
    verdict = validate_bytes(data)
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)
    assert not truncations(verdict.findings)


def test_riff_size_far_short_of_the_file_is_still_a_lie(wav: bytes) -> None:
    data = wav[:4] + struct.pack("<I", len(wav) - 8 - 4000) + wav[8:]
    verdict = validate_bytes(data)
    assert verdict.decision is not Decision.ACCEPT


def test_wav_upload_that_stopped_late_is_a_broken_upload_and_accepted(wav: bytes) -> None:
    cut = wav[: len(wav) * 3 // 4 + 1]  # odd length: mid-sample as well
    verdict = validate_bytes(cut)
    found = truncations(verdict.findings)
    assert len(found) == 1
    assert found[0].severity is Severity.INFO
    assert found[0].evidence["missing_bytes"] == len(wav) - len(cut)
    assert found[0].evidence["broken_upload"] is True
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)


def test_wav_upload_missing_most_of_its_bytes_is_held_for_review(wav: bytes) -> None:
    cut = wav[: len(wav) // 4]
    verdict = validate_bytes(cut)
    found = truncations(verdict.findings)
    assert found and found[0].severity is Severity.SUSPICIOUS
    assert verdict.decision is Decision.REVIEW


def test_data_chunk_claiming_more_than_a_riff_size_that_fits_the_file_is_a_lie(wav: bytes) -> None:
    at = wav.index(b"data") + 4
    size = struct.unpack("<I", wav[at : at + 4])[0]
    data = wav[:at] + struct.pack("<I", size + 50_000) + wav[at + 4 :]
    report = inspect_container(io.BytesIO(data))
    assert truncations(report.findings)[0].evidence["cut"] is False
    verdict = validate_bytes(data)
    assert verdict.decision is not Decision.ACCEPT


def test_riff_size_claiming_whole_chunks_that_never_come_is_not_a_cut(wav: bytes) -> None:
    data = wav[:4] + struct.pack("<I", len(wav) - 8 + 30_000) + wav[8:]
    verdict = validate_bytes(data)
    found = truncations(verdict.findings)
    assert found and found[0].evidence["cut"] is False
    assert verdict.decision is not Decision.ACCEPT


def test_flac_upload_cut_short_is_judged_on_what_arrived_not_rejected(flac: bytes) -> None:
    cut = flac[: len(flac) * 2 // 3]
    verdict = validate_bytes(cut)
    assert "container.undecodable" not in {f.code for f in verdict.findings}
    found = truncations(verdict.findings)
    assert found and all(f.severity is Severity.INFO for f in found)
    assert verdict.duration_s == pytest.approx(4.0, abs=0.5)
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)


def test_flac_cut_inside_its_metadata_is_held_for_review_not_rejected(flac: bytes) -> None:
    verdict = validate_bytes(flac[:30])
    assert verdict.decision is Decision.REVIEW, [f.message for f in verdict.findings]


def test_ogg_upload_cut_short_is_not_rejected() -> None:
    data = encode("OGG", "VORBIS")
    verdict = validate_bytes(data[: len(data) * 3 // 4])
    assert verdict.decision is not Decision.REJECT, [f.message for f in verdict.findings]
    assert all(f.severity is Severity.INFO for f in truncations(verdict.findings))


def test_a_cut_upload_that_carries_a_payload_is_still_rejected(wav: bytes) -> None:
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(range(256)) * 8
    at = wav.index(b"data")
    data = wav[:at] + b"junk" + struct.pack("<I", len(elf)) + elf + wav[at:]
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    verdict = validate_bytes(data[: len(data) * 3 // 4])
    assert verdict.decision is Decision.REJECT


@pytest.mark.skipif(not shutil.which("flac"), reason="flac (the reference encoder) not installed")
def test_reference_encoder_flac_cut_mid_upload_is_a_broken_upload(tmp_path: Path) -> None:
    wav_path, flac_path = tmp_path / "in.wav", tmp_path / "out.flac"
    sf.write(wav_path, music(), RATE, subtype="PCM_16")
    subprocess.run(["flac", "--silent", "-5", "-o", str(flac_path), str(wav_path)], check=True)
    data = flac_path.read_bytes()
    verdict = validate_bytes(data[: len(data) * 3 // 5])
    found = truncations(verdict.findings)
    assert found and all(f.severity is Severity.INFO for f in found)
    assert verdict.decision is Decision.ACCEPT, above_info(verdict.findings)
    assert verdict.duration_s == pytest.approx(3.6, abs=0.5)
