"""Bytes given as Opus packets (audiomodel.codec_draws): any bytes decode, but to frames over full
scale (CELT's coded energies driven where the prior lets them) or to band levels drawn anew every
frame; sound through a real Opus encoder does neither."""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from audiomodel.codec_draws import OpusDraws
from audiomodel.container.checksums import ogg_crc
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RNG = np.random.default_rng(17)


def _page(packets: list[bytes], sequence: int, granule: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    head = b"OggS" + bytes([0, flags]) + struct.pack("<qIIIB", granule, 7, sequence, 0, len(lacing))
    page = head + bytes(lacing) + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def _opus_stream(data: bytes, toc: int, size: int, frame_samples: int, channels: int) -> bytes:
    """``data`` cut into code-0 packets of ``size`` bytes behind one TOC byte, in Ogg pages."""
    packets = [bytes([toc]) + data[i : i + size] for i in range(0, len(data), size)]
    head = b"OpusHead" + bytes([1, channels]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)
    pages = [_page([head], 0, 0, 2), _page([tags], 1, 0, 0)]
    for n, start in enumerate(range(0, len(packets), 25)):
        group = packets[start : start + 25]
        last = start + 25 >= len(packets)
        granule = frame_samples * (start + len(group))
        pages.append(_page(group, 2 + n, granule, 4 if last else 0))
    return b"".join(pages)


def _codes(verdict_bytes: bytes) -> tuple[Decision, set[str]]:
    verdict = validate_bytes(verdict_bytes, name="track.opus")
    return verdict.decision, {f.code for f in verdict.findings}


@pytest.mark.parametrize(
    ("toc", "size", "frame_samples", "channels"),
    [
        (0xFC, 160, 960, 2),  # CELT fullband 20 ms, stereo
        (0xB0, 60, 480, 1),  # CELT wideband 10 ms, mono
        (0x08, 20, 960, 1),  # SILK narrowband 20 ms, mono
        (0x78, 120, 960, 1),  # hybrid fullband 20 ms, mono
    ],
)
def test_random_bytes_as_opus_packets_are_data(
    toc: int, size: int, frame_samples: int, channels: int
) -> None:
    stream = _opus_stream(RNG.bytes(60_000), toc, size, frame_samples, channels)
    decision, codes = _codes(stream)
    assert "signal.data_as_audio" in codes
    assert decision is Decision.REJECT


def test_runs_of_one_byte_as_celt_packets_decode_over_full_scale() -> None:
    # A binary's runs of one value (padding, tables) between bursts of code: a constant packet
    # drives CELT's coded energies to a fixed point, for this value far over full scale.
    data = bytearray(b"\x40" * 60_000)
    for start in range(0, len(data), 4096):
        data[start : start + 300] = RNG.bytes(300)
    decision, codes = _codes(_opus_stream(bytes(data), 0xFC, 160, 960, 2))
    assert "signal.data_as_audio" in codes
    assert decision is Decision.REJECT


def _sound(seconds: float, rate: int) -> npt.NDArray[np.float64]:
    """Notes over noise with a syllable-rate envelope, peaking at full scale."""
    t = np.arange(int(seconds * rate)) / rate
    notes = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220.0, 330.0, 495.0), 1))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    y = envelope * (notes + 0.1 * RNG.standard_normal(len(t)))
    return y / np.abs(y).max()


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_sound_through_opus_is_not_data(rate: int) -> None:
    buf = io.BytesIO()
    sf.write(buf, _sound(4.0, rate), rate, format="OGG", subtype="OPUS")
    decision, codes = _codes(buf.getvalue())
    assert "signal.data_as_audio" not in codes
    assert decision is Decision.ACCEPT


def test_full_scale_square_through_opus_is_not_over_full_scale() -> None:
    # The loudest audio there is: its RMS is 0 dBFS, and Opus keeps its band energies.
    rate = 48000
    square = np.sign(np.sin(2 * np.pi * 110.0 * np.arange(4 * rate) / rate))
    buf = io.BytesIO()
    sf.write(buf, square, rate, format="OGG", subtype="OPUS")
    buf.seek(0)
    decoded, _ = sf.read(buf, dtype="float32", always_2d=True)
    draws = OpusDraws(rate)
    draws.update(decoded)
    assert draws.report() == []


def test_frames_over_full_scale_are_reported() -> None:
    rate = 48000
    floats = 0.3 * RNG.standard_normal((5 * rate, 1)).astype(np.float32)
    floats[rate : rate + rate // 5] *= 12.0  # 200 ms at +11 dBFS
    draws = OpusDraws(rate)
    for start in range(0, len(floats), 4096):
        draws.update(floats[start : start + 4096])
    (found,) = draws.report()
    assert found.code == "signal.data_as_audio"
    assert found.evidence["frames_over_full_scale"] == 10
