"""FLAC length: the frames are what counts, not STREAMINFO's claim, and the walk's count bounds
decoding (the duration limit is applied before hours of frames are decoded)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiomodel.container import inspect_container
from audiomodel.container.checksums import crc8, crc16
from audiomodel.validator import Limits, validate_bytes

RATE = 44100
BLOCK = 16384  # block size code 14 (256 << 6), within FLAC's streamable subset at 44.1 kHz


def _utf8_number(n: int) -> bytes:
    """A frame number in FLAC's extended UTF-8 coding (RFC 9639 9.1.5)."""
    if n < 0x80:
        return bytes([n])
    for extra in range(1, 7):
        if n < 1 << (6 * extra + 6 - extra):
            lead = (0xFF00 >> (extra + 1)) & 0xFF
            out = [lead | (n >> (6 * extra))]
            out += [0x80 | ((n >> (6 * i)) & 0x3F) for i in range(extra - 1, -1, -1)]
            return bytes(out)
    raise ValueError(n)


def silent_frame(number: int) -> bytes:
    """One mono 16-bit frame of BLOCK samples held by a CONSTANT subframe of value 0."""
    head = bytes([0xFF, 0xF8, (14 << 4) | 9, (0 << 4) | (4 << 1)]) + _utf8_number(number)
    head += bytes([crc8(head)])
    body = head + b"\x00" + b"\x00\x00"  # subframe header (constant), then the 16-bit value
    return body + crc16(body).to_bytes(2, "big")


def streaminfo(total: int, channels: int = 1, bits: int = 16) -> bytes:
    packed = (RATE << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total
    return (
        BLOCK.to_bytes(2, "big") * 2
        + bytes(6)  # min/max frame size unknown
        + packed.to_bytes(8, "big")
        + bytes(16)
    )


def silent_flac(frames: int, total: int) -> bytes:
    head = b"fLaC" + bytes([0x80]) + (34).to_bytes(3, "big") + streaminfo(total)
    return head + b"".join(silent_frame(i) for i in range(frames))


def music_flac(seconds: float) -> bytes:
    rng = np.random.default_rng(11)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    y = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    y += rng.normal(0, 0.01, n)
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), RATE, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def with_total(data: bytes, total: int) -> bytes:
    out = bytearray(data)
    packed = int.from_bytes(out[18:26], "big") & ~((1 << 36) - 1)
    out[18:26] = (packed | total).to_bytes(8, "big")
    return bytes(out)


def test_handmade_silent_flac_decodes_as_its_frames_say() -> None:
    data = silent_flac(5, 5 * BLOCK)
    with sf.SoundFile(io.BytesIO(data)) as audio:
        assert audio.frames == 5 * BLOCK
        assert not audio.read(dtype="int16").any()


def test_flac_whose_streaminfo_understates_off_a_frame_boundary_counts_every_frame() -> None:
    data = music_flac(6.0)
    real = int(6.0 * RATE)
    short = with_total(data, 2 * RATE + 1234)  # inside a frame: no frame ends there
    report = inspect_container(io.BytesIO(short))
    assert report.walked_frames == real
    assert report.frames == real
    lie = [f for f in report.findings if f.code == "container.size_mismatch"]
    assert (
        lie and lie[0].evidence["declared"] == 2 * RATE + 1234 and lie[0].evidence["size"] == real
    )
    verdict = validate_bytes(short)
    assert verdict.duration_s == pytest.approx(6.0, abs=0.01)  # every frame was analysed


def test_frames_past_an_understated_count_are_held_to_the_duration_limit() -> None:
    short = with_total(music_flac(6.0), 2 * RATE + 1234)
    verdict = validate_bytes(short, limits=Limits(max_duration_s=4.0))
    assert verdict.decision.value == "reject"
    assert "limit.duration_exceeded" in {f.code for f in verdict.findings}


def test_flac_whose_count_ends_on_a_frame_boundary_early_counts_every_frame() -> None:
    data = silent_flac(40, 10 * BLOCK)
    report = inspect_container(io.BytesIO(data))
    assert report.walked_frames == 40 * BLOCK
    assert "container.trailing_data" not in {f.code for f in report.findings}


def test_ten_hours_of_silent_frames_of_unknown_length_are_rejected_from_the_walk() -> None:
    frames = -(-10 * 3600 * RATE // BLOCK)
    data = silent_flac(frames, 0)
    # CPU time, not wall time: a neighbour on the same cores must not fail it.
    started = time.process_time()
    verdict = validate_bytes(data)  # default limits: 4 h
    elapsed = time.process_time() - started
    over = [f for f in verdict.findings if f.code == "limit.duration_exceeded"]
    assert verdict.decision.value == "reject"
    assert over and over[0].evidence["measured_by"] == "container walk"
    assert over[0].evidence["duration_s"] >= 36000
    assert elapsed < 20, elapsed  # the walk, not decoding (decoding takes minutes)


def test_flac_of_unknown_length_within_the_limit_is_decoded_to_its_end() -> None:
    data = with_total(music_flac(3.0), 0)
    report = inspect_container(io.BytesIO(data))
    assert report.walked_frames == 3 * RATE
    verdict = validate_bytes(data)
    assert verdict.duration_s == pytest.approx(3.0, abs=0.01)
    container = [f for f in verdict.findings if f.code.startswith(("container.", "limit."))]
    assert all(f.severity.name == "INFO" for f in container), [f.message for f in container]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.integers(1, 30), total=st.integers(0, 40 * BLOCK), cut=st.integers(0, 200))
def test_walked_length_never_exceeds_the_frames_and_never_raises(
    frames: int, total: int, cut: int
) -> None:
    data = silent_flac(frames, total)
    data = data[: len(data) - cut] if cut else data
    report = inspect_container(io.BytesIO(data))
    assert report.walked_frames is None or report.walked_frames <= frames * BLOCK


def test_the_time_budget_stops_a_long_container_walk() -> None:
    buf = io.BytesIO()
    t = np.arange(RATE) / RATE
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE, format="MP3")
    mp3 = buf.getvalue()
    frame_at = mp3.rfind(b"\xff\xfb", 0, len(mp3) // 2)  # an MPEG-1 layer III frame mid-file
    nxt = mp3.find(b"\xff\xfb", frame_at + 4)
    data = mp3[frame_at:nxt] * 9000
    report = inspect_container(io.BytesIO(data), deadline=time.perf_counter() - 1)
    found = [f for f in report.findings if f.code == "limit.time_budget_exceeded"]
    assert found and found[0].evidence["stage"] == "container walk"
    assert int(found[0].evidence["offset"]) < len(data)
    assert inspect_container(io.BytesIO(data)).walked_frames == 9000 * 1152
