"""Tag fields checked against what their specification says they hold: fixed-size PRIV frames,
encrypted blobs in binary fields, pictures that must parse as images to their end, and text
fields carrying encoded binaries (RIFF LIST/INFO, ID3 text, Vorbis comments, APEv2 text)."""

from __future__ import annotations

import base64
import binascii
import io
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from audiomodel.container import ContainerReport, inspect_container
from audiomodel.container.checksums import ogg_crc
from audiomodel.container.images import image_extent
from audiomodel.findings import Severity
from audiomodel.payload import encoded_runs, looks_random

RATE = 22050


def encoded(fmt: str, subtype: str) -> bytes:
    t = np.arange(RATE // 2) / RATE
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([y, y], axis=1), RATE, format=fmt, subtype=subtype)
    return buf.getvalue()


MP3 = encoded("MP3", "MPEG_LAYER_III")
FLAC = encoded("FLAC", "PCM_16")
WAV = encoded("WAV", "PCM_16")


def random_bytes(n: int, seed: int = 9) -> bytes:
    return np.random.default_rng(seed).bytes(n)


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + random_bytes(1500, 1)


def png_image() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = np.random.default_rng(7).integers(0, 256, (32, 1 + 32 * 3), dtype=np.uint8)
    rows[:, 0] = 0
    ihdr = struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def jpeg_image(n: int = 4000) -> bytes:
    body = random_bytes(n, 6).replace(b"\xff", b"\xff\x00")
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sos + body[:100] + b"\xff\xd3" + body[100:] + b"\xff\xd9"


def gif_image() -> bytes:
    screen = struct.pack("<HH", 2, 2) + bytes([0x80, 0, 0]) + bytes(6)  # 2-colour global table
    ext = b"\x21\xf9\x04\x00\x00\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, 2, 2) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + ext + image + b"\x3b"


def id3v23(frames: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(fid + struct.pack(">I", len(d)) + b"\x00\x00" + d for fid, d in frames)
    n = len(body)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + body


def ape_tag(items: list[tuple[str, int, bytes]]) -> bytes:
    """An APEv2 tag (footer only): items of (key, type 0 text / 1 binary, value)."""
    body = b"".join(
        struct.pack("<II", len(v), kind << 1) + k.encode() + b"\x00" + v for k, kind, v in items
    )
    footer = b"APETAGEX" + struct.pack("<IIII", 2000, len(body) + 32, len(items), 0) + bytes(8)
    return body + footer


def flac_with(blocks: list[tuple[int, bytes]]) -> bytes:
    assert FLAC[:4] == b"fLaC" and FLAC[4] & 0x7F == 0
    pos, found = 4, []
    while True:
        last, length = FLAC[pos] & 0x80, int.from_bytes(FLAC[pos + 1 : pos + 4], "big")
        found.append((FLAC[pos] & 0x7F, FLAC[pos + 4 : pos + 4 + length]))
        pos += 4 + length
        if last:
            break
    allb = found[:1] + blocks + found[1:]
    out = b"fLaC"
    for i, (btype, body) in enumerate(allb):
        out += bytes([(0x80 if i == len(allb) - 1 else 0) | btype]) + len(body).to_bytes(3, "big")
        out += body
    return out + FLAC[pos:]


def flac_picture(image: bytes, mime: bytes = b"image/png") -> bytes:
    head = struct.pack(">II", 3, len(mime)) + mime + struct.pack(">I", 0)
    return head + struct.pack(">IIIII", 1, 1, 24, 0, len(image)) + image


def comment_block(comments: list[bytes]) -> bytes:
    out = struct.pack("<I", 6) + b"vendor" + struct.pack("<I", len(comments))
    return out + b"".join(struct.pack("<I", len(c)) + c for c in comments)


def wav_with(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = WAV[12:]
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body


def info_list(fields: list[tuple[bytes, bytes]]) -> bytes:
    out = b"INFO"
    for sid, value in fields:
        out += sid + struct.pack("<I", len(value)) + value + (b"\x00" if len(value) & 1 else b"")
    return out


def inspect(data: bytes) -> ContainerReport:
    return inspect_container(io.BytesIO(data))


def of(report: ContainerReport, code: str) -> list[dict[str, object]]:
    return [dict(f.evidence) for f in report.findings if f.code == code]


def clean(report: ContainerReport) -> bool:
    return all(f.severity <= Severity.INFO for f in report.findings)


def messages(report: ContainerReport) -> list[str]:
    return [f.message for f in report.findings]


# -- ID3v2 PRIV / GEOB and APEv2 binary items -------------------------------------------------


def test_priv_averagelevel_of_four_bytes_is_clean() -> None:
    frames = [(b"PRIV", b"AverageLevel\x00" + struct.pack("<I", 1234))]
    assert clean(inspect(id3v23(frames) + MP3)), messages(inspect(id3v23(frames) + MP3))


def test_priv_averagelevel_holding_100_kb_is_nonconforming() -> None:
    frames = [(b"PRIV", b"AverageLevel\x00" + random_bytes(100_000))]
    report = inspect(id3v23(frames) + MP3)
    (found,) = of(report, "container.nonconforming_metadata")
    assert (found["owner"], found["expected_size"], found["size"]) == ("AverageLevel", 4, 100_000)
    assert found["offset"] == 10 + 10 + len(b"AverageLevel\x00")
    assert of(report, "container.embedded_data")  # and it is an encrypted-looking blob


@pytest.mark.parametrize(
    ("frame", "prefix"),
    [
        (b"PRIV", b"com.example.drm\x00"),
        (b"GEOB", b"\x00application/octet-stream\x00k.bin\x00\x00"),
    ],
)
def test_encrypted_blob_in_a_binary_id3_frame_is_flagged_above_the_floor(
    frame: bytes, prefix: bytes
) -> None:
    report = inspect(id3v23([(frame, prefix + random_bytes(8000))]) + MP3)
    (found,) = of(report, "container.embedded_data")
    assert found["size"] == 8000 and found["offset"] == 20 + len(prefix)
    small = inspect(id3v23([(frame, prefix + random_bytes(600))]) + MP3)
    assert not of(small, "container.embedded_data")


def test_encrypted_blob_in_an_apev2_binary_item_is_flagged() -> None:
    report = inspect(MP3 + ape_tag([("Title", 0, b"Song"), ("Secret", 1, random_bytes(5000))]))
    (found,) = of(report, "container.embedded_data")
    assert found["size"] == 5000


def test_base64_of_random_bytes_in_an_apev2_text_item_is_flagged() -> None:
    value = b"see " + base64.b64encode(random_bytes(1200))
    report = inspect(MP3 + ape_tag([("Comment", 0, value)]))
    (found,) = of(report, "container.embedded_data")
    assert found["encoding"] == "base64" and found["decoded_size"] == 1200


# -- pictures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image", [png_image(), jpeg_image(), gif_image()], ids=["png", "jpeg", "gif"]
)
def test_genuine_cover_art_is_clean(image: bytes) -> None:
    apic = b"\x00image/x\x00\x03\x00" + image
    report = inspect(id3v23([(b"APIC", apic)]) + MP3)
    assert clean(report), messages(report)
    assert clean(inspect(flac_with([(6, flac_picture(image))])))


def test_apic_that_is_no_image_is_nonconforming() -> None:
    report = inspect(id3v23([(b"APIC", b"\x00image/png\x00\x03\x00" + b"plain words " * 50)]) + MP3)
    (found,) = of(report, "container.nonconforming_metadata")
    assert found["picture_size"] == 600


def test_apic_link_holds_a_url_not_an_image() -> None:
    report = inspect(id3v23([(b"APIC", b"\x00-->\x00\x03\x00https://example.com/c.png")]) + MP3)
    assert clean(report), messages(report)


def test_bytes_after_the_image_end_are_reported_with_where_the_image_ends() -> None:
    image = png_image()
    apic = b"\x00image/png\x00\x03\x00" + image + random_bytes(3000)
    report = inspect(id3v23([(b"APIC", apic)]) + MP3)
    (found,) = of(report, "container.nonconforming_metadata")
    assert (found["image_end"], found["trailing_bytes"], found["image_format"]) == (
        len(image),
        3000,
        "png",
    )
    assert of(report, "container.embedded_data")


def test_a_second_image_after_the_first_is_a_multi_picture_not_a_payload() -> None:
    apic = b"\x00image/jpeg\x00\x03\x00" + jpeg_image() + jpeg_image(500)
    report = inspect(id3v23([(b"APIC", apic)]) + MP3)
    assert clean(report), messages(report)


def test_a_zip_after_cover_art_in_an_apev2_item_is_an_archive() -> None:
    payload = base64.b64decode(
        "UEsDBBQAAAAIAAAAIQAAAAAAAAAAAAAAAAAFAAAAYS50eHQDAFBLAQIUABQAAAAIAAAAIQAAAAAAAAAAAAAAAAAFAAAAAAAAAAAAAAAAAAAAAABhLnR4dFBLBQYAAAAAAQABADMAAAAjAAAAAAA="
    )
    value = b"cover.jpg\x00" + jpeg_image() + payload
    report = inspect(MP3 + ape_tag([("Cover Art (Front)", 1, value)]))
    assert of(report, "container.nonconforming_metadata")[0]["trailing_bytes"] == len(payload)
    assert of(report, "container.embedded_archive")


def test_flac_picture_whose_png_fails_its_crc_is_nonconforming() -> None:
    image = bytearray(png_image())
    image[60] ^= 0xFF  # inside IDAT's data
    report = inspect(flac_with([(6, flac_picture(bytes(image)))]))
    (found,) = of(report, "container.nonconforming_metadata")
    assert "CRC" in str(found["problem"])


# -- text fields ------------------------------------------------------------------------------


def test_base64_of_a_binary_in_a_wav_info_field_is_flagged_with_its_field() -> None:
    comment = b"Recorded live. " + base64.b64encode(random_bytes(2000)) + b"\x00"
    data = wav_with([(b"LIST", info_list([(b"INAM", b"Song\x00"), (b"ICMT", comment)]))])
    report = inspect(data)
    (found,) = of(report, "container.embedded_data")
    assert found["where"] == "LIST/INFO 'ICMT'" and found["encoding"] == "base64"
    assert data[int(str(found["offset"])) :].startswith(b"Recorded live.")


def test_hex_of_an_executable_in_a_wav_info_field_is_an_executable() -> None:
    data = wav_with([(b"LIST", info_list([(b"ICMT", elf().hex().encode() + b"\x00")]))])
    found = of(inspect(data), "container.embedded_executable")
    assert found and found[0]["encoding"] == "hex"


_Z85 = bytes.maketrans(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~",
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#",
)


def _uuencode(data: bytes) -> bytes:
    return (
        b"begin 644 x\n"
        + b"".join(binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45))
        + b"`\nend\n"
    )


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("base32", base64.b32encode),
        ("ascii85", base64.a85encode),
        ("base85", base64.b85encode),
        ("z85", lambda b: base64.b85encode(b).translate(_Z85)),
        ("uuencode", _uuencode),
    ],
)
def test_other_binary_to_text_encodings_are_decoded(
    encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    program = elf() + random_bytes(3000)
    found = of(inspect(wav_with([(b"LIST", info_list([(b"ICMT", encode(program) + b"\x00")]))])),
               "container.embedded_executable")  # fmt: skip
    assert found and found[0]["encoding"] == encoding
    noise = of(inspect(wav_with([(b"LIST", info_list([(b"ICMT", encode(random_bytes(3000)) + b"\x00")]))])),
               "container.embedded_data")  # fmt: skip
    assert noise


def test_urls_paths_and_xml_without_spaces_are_no_base85() -> None:
    long_url = b"https://example.org/music/" + b"/".join(
        b"album%d?track=%d&take=%d" % (i, i, i) for i in range(12)
    )
    xml = b"<BWFXML><IXML_VERSION>1.61</IXML_VERSION><PROJECT>Film_Reel_07</PROJECT>" * 4
    report = inspect(
        wav_with([(b"LIST", info_list([(b"ICMT", long_url + b"\x00"), (b"ISRC", xml + b"\x00")]))])
    )
    assert clean(report), messages(report)


def test_ordinary_wav_info_text_is_clean() -> None:
    fields = [(b"INAM", b"A Song\x00"), (b"IART", b"Someone\x00"), (b"ICMT", b"Take 3, " * 40)]
    report = inspect(wav_with([(b"LIST", info_list(fields))]))
    assert clean(report), messages(report)


def test_wav_info_field_claiming_more_than_its_list_is_a_size_mismatch() -> None:
    body = b"INFO" + b"ICMT" + struct.pack("<I", 90_000) + b"short\x00"
    found = of(inspect(wav_with([(b"LIST", body)])), "container.size_mismatch")
    assert found and found[0]["declared"] == 90_000


def test_absurdly_long_text_field_is_oversized() -> None:
    data = wav_with([(b"LIST", info_list([(b"ICMT", b"la " * 30_000)]))])
    assert of(inspect(data), "container.oversized_metadata")[0]["limit"] == 1 << 16


def test_encrypted_blob_in_a_known_riff_chunk_is_flagged() -> None:
    report = inspect(wav_with([(b"bext", random_bytes(8000))]))
    (found,) = of(report, "container.embedded_data")
    assert found["size"] == 8000


def test_hex_of_random_bytes_in_a_vorbis_comment_is_flagged() -> None:
    comments = [b"TITLE=Song", b"DESCRIPTION=" + random_bytes(500).hex().encode()]
    report = inspect(flac_with([(4, comment_block(comments))]))
    assert of(report, "container.embedded_data")[0]["encoding"] == "hex"


def test_acoustid_fingerprint_is_encoded_by_definition_and_clean() -> None:
    fingerprint = base64.urlsafe_b64encode(zlib.compress(random_bytes(3000))).rstrip(b"=")
    comments = [b"TITLE=Song", b"ACOUSTID_FINGERPRINT=" + fingerprint]
    report = inspect(flac_with([(4, comment_block(comments))]))
    assert clean(report), messages(report)


def test_base64_in_id3_text_frames_is_decoded_whatever_the_text_encoding() -> None:
    utf16 = ("note " + base64.b64encode(elf()).decode()).encode("utf-16")
    frames = [(b"COMM", b"\x01eng" + "".encode("utf-16") + b"\x00\x00" + utf16)]
    assert of(inspect(id3v23(frames) + MP3), "container.embedded_executable")
    txxx = [(b"TXXX", b"\x00blob\x00" + base64.b64encode(random_bytes(900)))]
    assert of(inspect(id3v23(txxx) + MP3), "container.embedded_data")


def test_checksums_in_text_are_too_short_to_count() -> None:
    fields = [(b"ICMT", b"sha512 " + random_bytes(64).hex().encode() + b"\x00")]
    assert clean(inspect(wav_with([(b"LIST", info_list(fields))])))


# -- FLAC APPLICATION ids ---------------------------------------------------------------------


def test_unregistered_flac_application_id_is_reported_with_its_offset() -> None:
    data = flac_with([(2, b"ZZZZ" + b"settings=1;" * 10)])
    (found,) = of(inspect(data), "container.unknown_chunk")
    assert found["application_id"] == "ZZZZ" and data[int(str(found["offset"])) + 4 :].startswith(
        b"ZZZZ"
    )
    assert not of(
        inspect(flac_with([(2, b"riff" + b"LIST" + bytes(12))])), "container.unknown_chunk"
    )


# -- the parsers ------------------------------------------------------------------------------


def test_image_extent_finds_each_format_end() -> None:
    for image, fmt in [(png_image(), "png"), (jpeg_image(), "jpeg"), (gif_image(), "gif")]:
        extent = image_extent(image + b"tail")
        assert extent is not None and (extent.format, extent.end) == (fmt, len(image))
        cut = image_extent(image[: len(image) - 3])
        assert cut is not None and cut.end == -1


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF"]),
    body=st.binary(max_size=600),
)
def test_image_extent_never_raises_and_stays_inside_the_bytes(prefix: bytes, body: bytes) -> None:
    extent = image_extent(prefix + body)
    assert extent is None or -1 <= extent.end <= len(prefix + body)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(min_size=48, max_size=3000), hexed=st.booleans())
def test_encoded_runs_decode_what_was_encoded(payload: bytes, hexed: bool) -> None:
    text = payload.hex().encode() if hexed else base64.b64encode(payload)
    runs = encoded_runs(b"field: " + text + b" end")
    assert any(r.decoded == payload and r.offset == 7 for r in runs)


def test_looks_random_tells_random_bytes_from_structured_ones() -> None:
    assert all(looks_random(random_bytes(n, n)) for n in (128, 300, 2048, 65536))
    assert not looks_random(b"The quick brown fox jumps over the lazy dog. " * 20)
    assert not looks_random(np.arange(4096, dtype=np.int16).tobytes())


@settings(max_examples=150, deadline=None)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from([b"INAM", b"ICMT", b"ISFT", b"labl", b"x\x00yz"]),
            st.binary(max_size=300),
        ),
        max_size=6,
    ),
    kind=st.sampled_from([b"INFO", b"adtl", b"wavl"]),
    cut=st.integers(0, 24),
)
def test_random_list_chunks_never_raise(
    fields: list[tuple[bytes, bytes]], kind: bytes, cut: int
) -> None:
    body = kind + info_list(fields)[4:]
    report = inspect(wav_with([(b"LIST", body[: max(4, len(body) - cut)])]))
    assert report.format == "wav" and report.audio_end <= report.size


@settings(max_examples=150, deadline=None)
@given(
    frame=st.sampled_from([b"PRIV", b"APIC", b"GEOB", b"TXXX", b"COMM", b"USLT", b"TIT2"]),
    encoding=st.integers(0, 4),
    body=st.binary(max_size=600),
)
def test_random_id3_frames_never_raise(frame: bytes, encoding: int, body: bytes) -> None:
    report = inspect(id3v23([(frame, bytes([encoding]) + body)]) + MP3)
    assert report.format == "mp3"


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(["Title", "Cover Art (Front)", "Blob"]),
            st.integers(0, 3),
            st.binary(max_size=400),
        ),
        max_size=4,
    )
)
def test_random_apev2_items_never_raise(items: list[tuple[str, int, bytes]]) -> None:
    report = inspect(MP3 + ape_tag(items))
    assert report.format == "mp3"


# -- structures checked field by field (the unseen-tools red team, session 12) -----------------


def unsync(data: bytes) -> bytes:
    """ID3v2 unsynchronisation: a zero after every 0xFF before 0xE0+ or 0x00."""
    out = bytearray()
    for i, b in enumerate(data):
        out.append(b)
        if b == 0xFF and (i + 1 == len(data) or data[i + 1] >= 0xE0 or data[i + 1] == 0):
            out.append(0)
    return bytes(out)


def synchsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def unsynchronised_tag(image: bytes) -> bytes:
    frames = b"".join(
        fid + struct.pack(">I", len(d)) + b"\x00\x00" + d
        for fid, d in [
            (b"TIT2", b"\x00Song"),
            (b"APIC", b"\x00image/jpeg\x00\x03cover\x00" + image),
        ]
    )
    body = unsync(frames)
    return b"ID3\x03\x00\x80" + synchsafe(len(body)) + body


def test_an_unsynchronised_tag_is_read_as_the_bytes_it_stands_for() -> None:
    assert clean(inspect(unsynchronised_tag(jpeg_image()) + MP3))
    report = inspect(unsynchronised_tag(elf()) + MP3)
    assert of(report, "container.embedded_executable")


def test_an_id3v24_tag_with_a_footer_at_the_end_is_a_tag() -> None:
    frames = b"TIT2" + synchsafe(5) + b"\x00\x00\x03Song"
    header = b"\x04\x00\x10" + synchsafe(len(frames))
    report = inspect(MP3 + b"ID3" + header + frames + b"3DI" + header)
    assert clean(report), messages(report)


def lyrics3(fields: list[tuple[bytes, bytes]]) -> bytes:
    body = b"LYRICSBEGIN" + b"".join(k + b"%05d" % len(v) + v for k, v in fields)
    return body + b"%06d" % len(body) + b"LYRICS200"


def test_lyrics3v2_fields_are_text() -> None:
    honest = [(b"IND", b"10"), (b"LYR", b"[00:01]la la la\r\n[00:05]the night\r\n")]
    assert clean(inspect(MP3 + lyrics3(honest)))
    encoded = inspect(MP3 + lyrics3([(b"LYR", base64.b64encode(random_bytes(3000)))]))
    (found,) = of(encoded, "container.embedded_data")
    assert found["where"] == "Lyrics3v2 LYR field"
    binary = inspect(MP3 + lyrics3([(b"LYR", bytes(range(32)) * 64)]))
    assert of(binary, "container.nonconforming_metadata")


def fmt_chunk(extension: bytes = b"", *, size_field: bool = True) -> bytes:
    channels, rate, bits = 2, RATE, 16
    body = struct.pack("<HHIIHH", 1, channels, rate, rate * 4, 4, bits)
    if size_field:
        body += struct.pack("<H", len(extension))
    return body + extension


def wav_fmt(fmt: bytes) -> bytes:
    data = WAV[WAV.find(b"data") :]
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_fmt_bytes_past_its_fields_are_reported() -> None:
    assert clean(inspect(wav_fmt(fmt_chunk())))  # WAVEFORMATEX, cbSize 0
    assert clean(inspect(wav_fmt(fmt_chunk(bytes(22)))))  # an extension cbSize counts
    report = inspect(wav_fmt(fmt_chunk(size_field=False) + elf()))  # cbSize would be 0x457F
    assert of(report, "container.embedded_executable")
    junk = inspect(wav_fmt(fmt_chunk() + b"hidden text, not a field of fmt"))
    (found,) = of(junk, "container.nonconforming_metadata")
    assert found["fields_size"] == 18


def cue(points: int, declared: int | None = None, extra: bytes = b"") -> bytes:
    body = struct.pack("<I", points if declared is None else declared)
    for i in range(points):
        body += struct.pack("<II4sIII", i + 1, i * 100, b"data", 0, 0, i * 100)
    return body + extra


def test_cue_and_smpl_sizes_must_match_their_counts() -> None:
    smpl = struct.pack("<9I", 0, 0, 22676, 60, 0, 0, 0, 1, 0) + struct.pack(
        "<6I", 0, 0, 10, 90, 0, 0
    )
    assert clean(inspect(wav_with([(b"cue ", cue(3)), (b"smpl", smpl)])))
    absurd = inspect(wav_with([(b"cue ", cue(2, declared=10**9))]))
    (found,) = of(absurd, "container.size_mismatch")
    assert found["count"] == 10**9
    extra = inspect(wav_with([(b"cue ", cue(2, extra=random_bytes(1500)))]))
    assert of(extra, "container.nonconforming_metadata")
    fact = inspect(wav_with([(b"fact", struct.pack("<I", 100) + b"more than a sample count")]))
    assert of(fact, "container.nonconforming_metadata")


def bext(description: bytes, *, reserved: bytes = bytes(180), umid: bytes = bytes(64)) -> bytes:
    return (
        description.ljust(256, b"\x00")
        + b"Recorder".ljust(32, b"\x00")
        + b"REF1".ljust(32, b"\x00")
        + b"2026-12-0612:00:00"
        + struct.pack("<QH", 0, 2)
        + umid
        + bytes(10)
        + reserved
        + b"A=PCM,F=48000,W=24,M=stereo\r\n"
    )


def test_bext_fields_hold_what_ebu_tech_3285_says() -> None:
    label = b"\x06\x0a\x2b\x34\x01\x01\x01\x05\x01\x01\x0d\x20\x13\x00\x00\x00" + random_bytes(16)
    assert clean(inspect(wav_with([(b"bext", bext(b"Take 3, boom", umid=label + bytes(32)))])))
    described = inspect(wav_with([(b"bext", bext(base64.b64encode(random_bytes(180))))]))
    (found,) = of(described, "container.embedded_data")
    assert found["where"] == "bext Description"
    reserved = inspect(wav_with([(b"bext", bext(b"Take 3", reserved=random_bytes(180)))]))
    assert [f["where"] for f in of(reserved, "container.nonconforming_metadata")] == [
        "bext reserved"
    ]
    hidden = inspect(wav_with([(b"bext", bext(b"Take 3\x00" + b"after the terminator"))]))
    assert of(hidden, "container.nonconforming_metadata")


def aiff_with_ssnd_offset(skipped: bytes) -> bytes:
    frames = 100
    comm = struct.pack(">hIh", 1, frames, 16) + b"\x40\x0e\xac\x44" + bytes(6)  # 44100 Hz
    samples = (np.sin(np.arange(frames) / 5) * 8000).astype(">i2").tobytes()
    ssnd = struct.pack(">II", len(skipped), 0) + skipped + samples
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm
    body += b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def test_bytes_ssnd_skips_are_alignment_not_data() -> None:
    assert clean(inspect(aiff_with_ssnd_offset(bytes(64))))
    assert of(inspect(aiff_with_ssnd_offset(elf())), "container.embedded_executable")


def flac_frames_at() -> tuple[int, int]:
    """Where FLAC's first frame starts (its metadata as sf writes it) and the second's sample."""
    pos = 4
    while True:
        last, length = FLAC[pos] & 0x80, int.from_bytes(FLAC[pos + 1 : pos + 4], "big")
        pos += 4 + length
        if last:
            return pos, 0


def test_seek_points_must_point_at_their_frames() -> None:
    honest = struct.pack(">QQH", 0, 0, 4096) + struct.pack(">QQH", 0xFFFFFFFFFFFFFFFF, 0, 0)
    assert clean(inspect(flac_with([(3, honest)])))
    carrying = b"".join(struct.pack(">Q", i * 4096) + random_bytes(10, i) for i in range(4))
    report = inspect(flac_with([(3, carrying)]))
    (found,) = of(report, "container.nonconforming_metadata")
    assert found["where"] == "FLAC SEEKTABLE block"


def cuesheet(reserved: bytes = bytes(258)) -> bytes:
    track = struct.pack(">QB", 0, 1) + bytes(12) + b"\x00" + bytes(13) + b"\x01"
    index = struct.pack(">QB", 0, 1) + bytes(3)
    lead = struct.pack(">QB", 88200, 170) + bytes(12) + b"\x00" + bytes(13) + b"\x00"
    head = b"1234567890123".ljust(128, b"\x00") + struct.pack(">Q", 88200) + b"\x80" + reserved
    return head + b"\x02" + track + index + lead


def test_cuesheet_reserved_bytes_are_zeros() -> None:
    assert clean(inspect(flac_with([(5, cuesheet())])))
    report = inspect(flac_with([(5, cuesheet(b"stolen: " + bytes(250)))]))
    (found,) = of(report, "container.nonconforming_metadata")
    assert "reserved" in str(found) or found["where"] == "FLAC CUESHEET block"


def test_a_file_that_opens_as_a_zip_is_an_archive_wherever_its_members_hide() -> None:
    member = b"PK\x03\x04" + bytes(26)  # a local header, hidden among the samples
    central = b"PK\x01\x02" + bytes(42)
    data_at = WAV.find(b"data")
    samples = WAV[data_at + 8 :] * 3 + member + central  # past the 64 KiB of samples scanned
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), 0, 0)
    # the end-of-central-directory record ends the samples; its offset is fixed below
    body = WAV[12:data_at] + b"data" + struct.pack("<I", len(samples) + len(eocd))
    head = b"RIFF" + struct.pack("<I", 4 + len(body) + len(samples) + len(eocd)) + b"WAVE"
    central_at = len(head) + len(body) + len(samples) - len(central)
    eocd = eocd[:16] + struct.pack("<I", central_at) + eocd[20:]
    report = inspect(head + body + samples + eocd)
    (found,) = of(report, "container.embedded_archive")
    assert found["members"] == 1
    assert clean(inspect(WAV))


def test_raw_aac_and_ac3_streams_are_named_and_matroska_is_not_mp3() -> None:
    adts = b""
    for _ in range(4):
        frame = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + bytes(9)  # 16-byte frames
        adts += frame
    (found,) = of(inspect(adts), "container.unknown_format")
    assert found["audio_format"] == "AAC (ADTS)"
    ac3 = (b"\x0b\x77\x00\x00\x08" + bytes(123)) * 3  # 48 kHz, code 8: 128 bytes a frame
    (found,) = of(inspect(ac3), "container.unknown_format")
    assert found["audio_format"] == "AC-3"
    mka = b"\x1a\x45\xdf\xa3" + bytes(60) + MP3[:4000]
    (found,) = of(inspect(mka), "container.unknown_format")
    assert found["audio_format"] == "Matroska/WebM"


TOOLS_ABSENT = [t for t in ("flac", "metaflac", "eyeD3", "zip") if shutil.which(t) is None]


@pytest.mark.skipif(bool(TOOLS_ABSENT), reason=f"real tools absent: {TOOLS_ABSENT}")
def test_real_tools_honest_metadata_is_clean_and_zip_polyglots_are_not(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    wav.write_bytes(encoded("WAV", "PCM_16"))
    flac = tmp_path / "out.flac"
    subprocess.run(["flac", "-s", "-f", "-S", "0.1s", "-o", str(flac), str(wav)], check=True)
    subprocess.run(
        ["metaflac", "--set-tag=ARTIST=Band", "--add-padding=4096", str(flac)], check=True
    )
    assert clean(inspect(flac.read_bytes())), messages(inspect(flac.read_bytes()))
    mp3 = tmp_path / "out.mp3"
    mp3.write_bytes(MP3)
    subprocess.run(["eyeD3", "-Q", "--to-v2.3", "-a", "Band", "-t", "Song", str(mp3)],
                   check=True, capture_output=True)  # fmt: skip
    assert clean(inspect(mp3.read_bytes()))
    polyglot = tmp_path / "poly.wav"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "hello")
    data = WAV[WAV.find(b"data") :]
    hidden = data[8:] + archive.getvalue()
    hidden += b"\x00" * (len(hidden) & 1)
    body = WAV[12 : WAV.find(b"data")] + b"data" + struct.pack("<I", len(hidden)) + hidden
    polyglot.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body)
    subprocess.run(["zip", "-A", "-q", str(polyglot)], check=True)
    assert of(inspect(polyglot.read_bytes()), "container.embedded_archive")


def xored_elf() -> bytes:
    """An executable with its magic hidden (XOR 0x20): no signature, not random, not text."""
    code = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(range(1, 40)) * 40
    return bytes(b ^ 0x20 for b in code)


def test_binary_in_a_text_field_is_nonconforming() -> None:
    info = inspect(wav_with([(b"LIST", info_list([(b"ICMT", xored_elf())]))]))
    (found,) = of(info, "container.nonconforming_metadata")
    assert found["where"] == "LIST/INFO 'ICMT'"
    vorbis = inspect(flac_with([(4, comment_block([b"COMMENT=" + xored_elf()]))]))
    assert of(vorbis, "container.nonconforming_metadata")
    cyrillic = "Песня о встрече, слова и музыка народные".encode()
    assert clean(inspect(flac_with([(4, comment_block([b"TITLE=" + cyrillic]))])))
    two_values = inspect(MP3[:0] + id3v23([(b"TPE1", b"\x00Band\x00Other Band")]) + MP3)
    assert clean(two_values)


def test_the_xing_frame_holds_zeros_past_its_fields() -> None:
    assert clean(inspect(MP3))  # libsndfile's LAME: Xing header, LAME tag, zeros
    frame_end = MP3.find(MP3[:2], 4)  # the next frame's header
    hidden = MP3[: frame_end - 16] + b"16 secret bytes!" + MP3[frame_end:]
    (found,) = of(inspect(hidden), "container.nonconforming_metadata")
    assert found["where"] == "mpeg Xing/Info frame"


def test_opus_identification_header_bytes_past_its_fields_are_reported() -> None:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((4800, 1), dtype=np.float32), 48000, format="OGG", subtype="OPUS")
    opus = buf.getvalue()
    nseg, length = opus[26], opus[27]
    assert nseg == 1 and opus[28:36] == b"OpusHead"
    packet = opus[28 : 28 + length] + b"hidden behind the header fields"
    page = bytearray(opus[:26] + bytes([1, len(packet)]) + packet)
    page[22:26] = ogg_crc(bytes(page)).to_bytes(4, "little")
    report = inspect(bytes(page) + opus[28 + length :])
    (found,) = of(report, "container.nonconforming_metadata")
    assert found["where"] == "opus identification header"


def test_ds64_holds_its_table_and_nothing_after() -> None:
    riff_size = len(WAV) - 8 + 36
    ds64 = struct.pack("<QQQI", riff_size, len(WAV) - 44, RATE // 2, 0)
    rf64 = b"RF64" + b"\xff" * 4 + b"WAVE" + b"ds64" + struct.pack("<I", 28) + ds64 + WAV[12:]
    assert clean(inspect(rf64))
    padded = ds64 + b"not a table entry!!!"
    bad = b"RF64" + b"\xff" * 4 + b"WAVE" + b"ds64" + struct.pack("<I", len(padded)) + padded
    assert of(inspect(bad + WAV[12:]), "container.nonconforming_metadata")


def test_an_encrypted_id3_frame_is_bytes_nothing_can_read() -> None:
    body = b"\x80" + random_bytes(600)
    frame = b"TXXX" + struct.pack(">I", len(body)) + b"\x00\x40" + body
    tag = b"ID3\x03\x00\x00" + synchsafe(len(frame)) + frame
    assert of(inspect(tag + MP3), "container.nonconforming_metadata")


def padded_opus(padding: bytes) -> bytes:
    """An Ogg Opus stream whose first audio page's single-frame packets were rewritten as
    code-3 packets ending in ``padding`` (RFC 6716 3.2.5), the page re-laced and its CRC set."""
    buf = io.BytesIO()
    t = np.arange(9600) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(buf, tone, 48000, format="OGG", subtype="OPUS")
    data, pos, out = buf.getvalue(), 0, b""
    page_index = 0
    while pos < len(data):
        nseg = data[pos + 26]
        table = data[pos + 27 : pos + 27 + nseg]
        end = pos + 27 + nseg + sum(table)
        page = data[pos:end]
        if page_index == 2:  # the first audio page (after OpusHead and OpusTags)
            packets, at, size = [], 27 + nseg, 0
            for lace in table:
                size += lace
                if lace < 255:
                    packets.append(page[at : at + size])
                    at, size = at + size, 0
            rewritten = [
                bytes([p[0] | 3, 0x41, len(padding)]) + p[1:] + padding if p[0] & 3 == 0 else p
                for p in packets
            ]
            lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in rewritten)
            head = bytearray(page[:26] + bytes([len(lacing)]) + lacing + b"".join(rewritten))
            head[22:26] = bytes(4)
            head[22:26] = ogg_crc(bytes(head)).to_bytes(4, "little")
            page = bytes(head)
        out += page
        pos, page_index = end, page_index + 1
    return out


def test_opus_padding_must_be_zeros() -> None:
    assert clean(inspect(padded_opus(bytes(12))))  # what constant-bitrate encoders write
    report = inspect(padded_opus(b"covert data!"))
    (found,) = of(report, "container.nonconforming_metadata")
    assert "padding" in str(found["where"])
