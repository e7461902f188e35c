"""Every logical Ogg stream is identified or flagged: the decoder plays the first audio stream
only, so a second one (multiplexed or chained), video, or raw data in pages is a finding."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audiomodel.container import ContainerReport, inspect_container
from audiomodel.container.checksums import ogg_crc
from audiomodel.findings import Severity
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision

RATE = 22050


def vorbis(seconds: float, freq: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    y = 0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-((t % 0.5) * 4))
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), RATE, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def pages(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 27 <= len(data):
        nseg = data[pos + 26]
        end = pos + 27 + nseg + sum(data[pos + 27 : pos + 27 + nseg])
        out.append(data[pos:end])
        pos = end
    return out


def with_serial(page: bytes, serial: int) -> bytes:
    out = bytearray(page)
    out[14:18] = struct.pack("<I", serial)
    out[22:26] = bytes(4)
    out[22:26] = struct.pack("<I", ogg_crc(bytes(out)))
    return bytes(out)


def ogg_page(serial: int, seq: int, body: bytes, *, flags: int = 0, granule: int = 0) -> bytes:
    """One page per RFC 3533: a single packet of up to 255 * 254 bytes."""
    lacing = [255] * (len(body) // 255) + [len(body) % 255]
    head = b"OggS\x00" + bytes([flags]) + struct.pack("<qIII", granule, serial, seq, 0)
    page = bytearray(head + bytes([len(lacing)]) + bytes(lacing) + body)
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def raw_stream(serial: int, payload: bytes) -> list[bytes]:
    """A logical stream of no known codec: the payload cut into pages, BOS first, EOS last."""
    parts = [payload[i : i + 4000] for i in range(0, len(payload), 4000)] or [b""]
    out = []
    for seq, part in enumerate(parts):
        flags = (2 if seq == 0 else 0) | (4 if seq == len(parts) - 1 else 0)
        out.append(ogg_page(serial, seq, part, flags=flags, granule=seq))
    return out


def inspect(data: bytes) -> ContainerReport:
    return inspect_container(io.BytesIO(data))


def extra(report: ContainerReport) -> list[dict[str, object]]:
    return [dict(f.evidence) for f in report.findings if f.code == "container.extra_stream"]


def elf() -> bytes:
    return (
        b"\x7fELF\x02\x01\x01"
        + bytes(9)
        + b"\x02\x00\x3e\x00"
        + np.random.default_rng(1).bytes(6000)
    )


@pytest.fixture(scope="module")
def first() -> bytes:
    return vorbis(2.0, 440.0)


@pytest.fixture(scope="module")
def second() -> bytes:
    return b"".join(with_serial(p, 0x5EC0_0D02) for p in pages(vorbis(3.0, 660.0)))


def test_a_single_vorbis_stream_has_no_extra_stream(first: bytes) -> None:
    assert extra(inspect(first)) == []


def test_a_second_vorbis_stream_chained_after_the_first_is_flagged(
    first: bytes, second: bytes
) -> None:
    report = inspect(first + second)
    found = extra(report)
    assert len(found) == 1
    assert found[0] == {
        "offset": len(first),
        "size": len(second),
        "serial": "5ec00d02",
        "codec": "vorbis",
        "pages": len(pages(second)),
        "layout": "chained",
    }
    assert validate_bytes(first + second).decision is not Decision.ACCEPT


def test_a_second_vorbis_stream_multiplexed_with_the_first_is_flagged(
    first: bytes, second: bytes
) -> None:
    a, b = pages(first), pages(second)
    mixed = [a[0], b[0]]  # every BOS page comes first (RFC 3533)
    rest_a, rest_b = a[1:], b[1:]
    while rest_a or rest_b:
        mixed += rest_a[:1] + rest_b[:1]
        rest_a, rest_b = rest_a[1:], rest_b[1:]
    report = inspect(b"".join(mixed))
    found = extra(report)
    assert [(e["serial"], e["layout"], e["offset"]) for e in found] == [
        ("5ec00d02", "multiplexed", len(a[0]))
    ]
    assert report.codec == "vorbis"


def test_a_chained_stream_of_no_known_codec_carrying_an_executable_is_rejected(
    first: bytes,
) -> None:
    raw = raw_stream(0xBAD, elf())
    data = first + b"".join(raw)
    report = inspect(data)
    assert [e["codec"] for e in extra(report)] == ["unknown"]
    executable = [f for f in report.findings if f.code == "container.embedded_executable"]
    assert executable and executable[0].evidence["offset"] == len(first) + 27 + raw[0][26]
    assert validate_bytes(data).decision is Decision.REJECT


def test_a_multiplexed_stream_of_random_bytes_is_flagged_as_data(first: bytes) -> None:
    a = pages(first)
    raw = raw_stream(0x1234, np.random.default_rng(2).bytes(12000))
    data = b"".join([a[0], raw[0], *a[1:3], *raw[1:], *a[3:]])
    report = inspect(data)
    assert [(e["codec"], e["layout"], e["serial"]) for e in extra(report)] == [
        ("unknown", "multiplexed", "00001234")
    ]
    assert "container.embedded_data" in {f.code for f in report.findings}


def test_a_skeleton_stream_is_accounted_for_as_metadata(first: bytes) -> None:
    a = pages(first)
    skeleton = ogg_page(0x5E, 0, b"fishead\x00" + bytes(56), flags=2)
    end = ogg_page(0x5E, 1, b"", flags=4)
    report = inspect(b"".join([skeleton, a[0], end, *a[1:]]))
    assert extra(report) == []
    assert max((f.severity for f in report.findings), default=Severity.INFO) <= Severity.INFO


@pytest.mark.skipif(not shutil.which("oggenc"), reason="oggenc (vorbis-tools) not installed")
def test_oggenc_files_chained_by_cat_are_flagged(tmp_path: Path, first: bytes) -> None:
    wav = tmp_path / "b.wav"
    sf.write(wav, np.zeros((RATE, 1), dtype=np.int16) + 100, RATE, subtype="PCM_16")
    subprocess.run(["oggenc", "-Q", str(wav), "-o", str(tmp_path / "b.ogg")], check=True)
    report = inspect(first + (tmp_path / "b.ogg").read_bytes())
    assert [e["layout"] for e in extra(report)] == ["chained"]


CODEC_MAGICS = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ", b"\x80theora", b"fishead\x00")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    streams=st.lists(
        st.tuples(st.integers(1, 2**32 - 1), st.binary(max_size=3000)), min_size=1, max_size=5
    ),
    interleave=st.booleans(),
)
def test_every_extra_stream_is_reported_whatever_it_holds(
    first: bytes, streams: list[tuple[int, bytes]], interleave: bool
) -> None:
    # a body that opens with a codec's identification header is that codec's stream, not raw
    assume(not any(body.startswith(CODEC_MAGICS) for _, body in streams))
    a = pages(first)
    serials = {int.from_bytes(a[0][14:18], "little")}
    streams = [(s, b) for s, b in streams if s not in serials and not serials.add(s)]  # type: ignore[func-returns-value]
    extra_pages = [raw_stream(s, body) for s, body in streams]
    if interleave:
        data = b"".join(
            [a[0], *(p[0] for p in extra_pages), *a[1:], *(q for p in extra_pages for q in p[1:])]
        )
    else:
        data = first + b"".join(q for p in extra_pages for q in p)
    report = inspect(data)
    assert sorted(e["serial"] for e in extra(report)) == sorted(f"{s:08x}" for s, _ in streams)


def test_binary_kept_after_opus_comments_counts_as_unaccounted() -> None:
    t = np.arange(48000) / 48000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000,
             format="OGG", subtype="OPUS")  # fmt: skip
    head, tags, *rest = pages(buf.getvalue())
    body = tags[27 + tags[26] :]
    assert body.startswith(b"OpusTags")
    # RFC 7845 5.2: bytes after the comments whose first byte's low bit is set are binary an
    # encoder may keep; 30 KB of packed 6-bit values is no encoder's note.
    packed = bytes(b & 0x3F for b in np.random.default_rng(4).bytes(30_000))
    serial, seq = struct.unpack("<II", tags[14:22])
    grown = ogg_page(serial, seq, body + b"\x01" + packed, flags=tags[5], granule=0)
    report = inspect(head + grown + b"".join(rest))
    found = [f for f in report.findings if f.code == "container.unaccounted_data"]
    assert found and int(found[0].evidence["size"]) >= 30_001
    assert found[0].severity == Severity.SUSPICIOUS
