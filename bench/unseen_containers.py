"""Red-team the container walk with real tagging and muxing tools: payloads hidden the ways
those tools (and their file formats) allow, and the same tools used honestly.

Every case starts from good recordings of the dev corpus (train split), re-encoded by the real
encoders (flac, lame, oggenc, opusenc, ffmpeg, sox), then tagged or muxed by the real taggers
(metaflac, vorbiscomment, eyeD3, id3v2, mid3v2 and mutagen, kid3-cli, ffmpeg, zip). A case
whose tool is absent is skipped with a message. A few structures no free tool writes (an
APPLICATION block, a Lyrics3v2 tag, a BWF ``bext`` with binary in its fields) are written by
this script to their specification, said so in the case name (``bytes:``).

``expect`` is ``bad`` (a payload rides in the file: must not be accepted), ``good`` (honest
use: must be accepted) or ``refused`` (a container the validator does not accept: must be
rejected with a message that names it). Prints a markdown table; asserts nothing.

Session 13 added bytes of no known purpose (unknown and known-but-unparsed chunks, LIST types,
APPLICATION and reserved FLAC blocks, GEOB/PRIV/MCDI and chapter frames, APEv2 binary, Opus's
binary after its comments), executables hidden by a repeating XOR key, fields past their
structure (fmt's cbSize, AIFF COMM/SSND, the ID3v2 extended header), other binary-to-text
encodings (base32, ascii85, Z85, uuencode), mkvmerge and AtomicParsley attachments, and the
honest files those tools make.

Usage::

    uv run --frozen python bench/unseen_containers.py --out /work/bench12/redcont14/unseen
    uv run --frozen python bench/unseen_containers.py --clips 3 --verbose
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import shutil
import struct
import subprocess
import warnings
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiomodel import load_default_model, validate_path
from audiomodel.container.checksums import ogg_crc

Maker = Callable[["Kit", Path], Path | None]


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    expect: str  # bad | good | refused
    tools: tuple[str, ...]
    make: Maker


class Kit:
    """Source files and payloads one clip's cases are made from (made once, in ``work``)."""

    def __init__(self, work: Path, wav: Path, seed: int) -> None:
        self.work = work
        self.wav = wav
        rng = np.random.default_rng(seed)
        self.random = rng.bytes(100_000)
        self.elf = Path("/bin/true").read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("payload.bin", rng.bytes(20_000))
            zf.writestr("readme.txt", "nothing to see here\n" * 50)
        self.zip = buf.getvalue()
        self._cache: dict[str, Path] = {}

    def file(self, name: str, data: bytes) -> Path:
        path = self.work / name
        path.write_bytes(data)
        return path

    def encoded(self, ext: str) -> Path:
        """The clip encoded by the real encoder for ``ext`` (cached)."""
        if ext in self._cache:
            return self._cache[ext]
        out = self.work / f"src.{ext}"
        commands = {
            "flac": ["flac", "-s", "-f", "-8", "-o", str(out), str(self.wav)],
            "mp3": ["lame", "--quiet", "-V2", str(self.wav), str(out)],
            "ogg": ["oggenc", "-Q", "-q", "4", "-o", str(out), str(self.wav)],
            "opus": ["opusenc", "--quiet", str(self.wav), str(out)],
            "aiff": ["sox", str(self.wav), str(out)],
        }
        run(commands[ext])
        self._cache[ext] = out
        return out

    def copy(self, ext: str, out: Path) -> Path:
        shutil.copyfile(self.encoded(ext), out)
        return out

    def cover(self, kind: str) -> Path:
        """A real cover picture (JPEG or PNG) rendered by ffmpeg from a test pattern."""
        path = self.work / f"cover.{kind}"
        if not path.exists():
            run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                 "testsrc2=size=300x300", "-frames:v", "1", str(path)])  # fmt: skip
        return path


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def tool_ok(name: str) -> bool:
    if name in ("python", "zip") or name.startswith("bytes"):
        return name != "zip" or shutil.which("zip") is not None
    if name == "mutagen":
        try:
            import mutagen  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(name) is not None


# -- structures written by hand (to their specifications) ---------------------------------------


def flac_picture_block(image: bytes, mime: bytes = b"image/png") -> bytes:
    """The body of a FLAC PICTURE block (RFC 9639 8.8)."""
    return (
        struct.pack(">II", 3, len(mime)) + mime + struct.pack(">I", 0)
        + struct.pack(">IIIII", 300, 300, 24, 0, len(image)) + image
    )  # fmt: skip


def flac_insert_block(path: Path, btype: int, body: bytes) -> None:
    """Insert a metadata block right after STREAMINFO of a native FLAC file."""
    data = path.read_bytes()
    assert data[:4] == b"fLaC"
    si_end = 4 + 4 + int.from_bytes(data[5:8], "big")
    block = bytes([btype]) + len(body).to_bytes(3, "big") + body
    # STREAMINFO is no longer last if it was.
    head = bytes([data[4] & 0x7F]) + data[5:si_end]
    if data[4] & 0x80:
        block = bytes([btype | 0x80]) + block[1:]
    path.write_bytes(data[:4] + head + block + data[si_end:])


def flac_blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(type, body offset, length) of each metadata block of a native FLAC file."""
    pos, out = 4, []
    while True:
        h = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        out.append((h & 0x7F, pos + 4, length))
        pos += 4 + length
        if h & 0x80:
            return out


def flac_overwrite_block(path: Path, btype: int, fill: Callable[[int], bytes]) -> None:
    """Overwrite the body of the first block of ``btype`` in place with ``fill(length)``."""
    data = bytearray(path.read_bytes())
    for t, at, length in flac_blocks(bytes(data)):
        if t == btype:
            new = fill(length)
            data[at : at + len(new)] = new
            path.write_bytes(bytes(data))
            return
    raise ValueError(f"no block of type {btype}")


def riff_chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def wav_add_chunks(src: Path, out: Path, chunks: bytes, *, before_data: bool = True) -> Path:
    """Insert raw chunks into a WAV (before its data chunk, or at its end) and fix the RIFF size."""
    data = src.read_bytes()
    at = data.find(b"data", 12) if before_data else len(data)
    new = data[:at] + chunks + data[at:]
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    return out


def aiff_add_chunks(src: Path, out: Path, chunks: bytes) -> Path:
    data = src.read_bytes()
    at = data.find(b"SSND", 12)
    new = data[:at] + chunks + data[at:]
    out.write_bytes(new[:4] + struct.pack(">I", len(new) - 8) + new[8:])
    return out


def iff_chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack(">I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def bext(description: bytes, umid: bytes = bytes(64), reserved: bytes = bytes(180),
         history: bytes = b"A=PCM,F=44100,W=16,M=stereo,T=ffmpeg\r\n") -> bytes:  # fmt: skip
    """A BWF ``bext`` chunk body (EBU Tech 3285 v2)."""
    return (
        description.ljust(256, b"\x00")[:256] + b"audioval bench".ljust(32, b"\x00")
        + b"REF0001".ljust(32, b"\x00") + b"2026-12-06" + b"12:00:00"
        + struct.pack("<QH", 0, 2) + umid + struct.pack("<5h", 0, 0, 0, 0, 0) + reserved
        + history
    )  # fmt: skip


def lyrics3v2(fields: list[tuple[bytes, bytes]]) -> bytes:
    body = b"LYRICSBEGIN" + b"".join(k + b"%05d" % len(v) + v for k, v in fields)
    return body + b"%06d" % len(body) + b"LYRICS200"


def ogg_rewrite_first_packet_of_kind(path: Path, edit: Callable[[bytes], bytes | None]) -> None:
    """Apply ``edit`` to each page's body (a page at a time) and fix the CRCs."""
    data = bytearray(path.read_bytes())
    pos = 0
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        nseg = data[pos + 26]
        body_at = pos + 27 + nseg
        length = sum(data[pos + 27 : body_at])
        new = edit(bytes(data[body_at : body_at + length]))
        if new is not None:
            assert len(new) == length
            data[body_at : body_at + length] = new
            page = bytes(data[pos : body_at + length])
            crc = ogg_crc(page[:22] + b"\x00" * 4 + page[26:])
            data[pos + 22 : pos + 26] = crc.to_bytes(4, "little")
        pos = body_at + length
    path.write_bytes(bytes(data))


def unsync(data: bytes) -> bytes:
    """ID3v2 unsynchronisation: a zero after every 0xFF that precedes 0xE0+ or 0x00."""
    out = bytearray()
    for i, b in enumerate(data):
        out.append(b)
        if b == 0xFF and (i + 1 == len(data) or data[i + 1] >= 0xE0 or data[i + 1] == 0):
            out.append(0)
    return bytes(out)


def id3_frame(fid: bytes, body: bytes, v: int = 3) -> bytes:
    size = len(body)
    sz = (
        bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
        if v == 4
        else struct.pack(">I", size)
    )
    return fid + sz + b"\x00\x00" + body


def id3_tag(frames: bytes, v: int = 3, flags: int = 0, footer: bool = False) -> bytes:
    size = len(frames)
    ss = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    tag = b"ID3" + bytes([v, 0, flags]) + ss + frames
    if footer:
        tag += b"3DI" + bytes([v, 0, flags]) + ss
    return tag


def apic(image: bytes, mime: bytes = b"image/jpeg") -> bytes:
    return b"\x00" + mime + b"\x00\x03" + b"cover\x00" + image


# -- the cases --------------------------------------------------------------------------------


def _metaflac(*args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        kit.copy("flac", out)
        run(["metaflac", *[a.format(w=kit.work) for a in args], str(out)])
        return out

    return make


def _flac_then(edit: Callable[[Kit, Path], None], *flac_args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        run(["flac", "-s", "-f", *flac_args, "-o", str(out), str(kit.wav)])
        edit(kit, out)
        return out

    return make


def _payload_files(kit: Kit) -> None:
    kit.file("elf.bin", kit.elf)
    kit.file("random.bin", kit.random)
    kit.file("zip.bin", kit.zip)
    kit.file("b64random.txt", base64.encodebytes(kit.random[:60_000]))
    kit.file("b64elf.txt", base64.b64encode(kit.elf))
    kit.file("hexzip.txt", kit.zip.hex().encode())
    kit.file("lyrics.txt", ("la la la, the night is young\n" * 150).encode())
    kit.file("jpegzip.jpg", kit.cover("jpg").read_bytes() + kit.zip)
    cue = (
        'FILE "src.wav" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n'
        "  TRACK 02 AUDIO\n    INDEX 01 00:01:00\n"
    )
    kit.file("sheet.cue", cue.encode())


def _seektable_data(kit: Kit, out: Path) -> None:
    # Sorted sample numbers kept, the offsets and frame sizes carry bytes of the payload.
    def fill(length: int) -> bytes:
        n = length // 18
        payload = kit.random
        pts = b""
        for i in range(n):
            pts += struct.pack(">Q", i * 4096) + payload[i * 10 : i * 10 + 10]
        return pts

    flac_overwrite_block(out, 3, fill)


def _cuesheet_reserved(kit: Kit, out: Path) -> None:
    def fill(length: int) -> bytes:
        return bytes(128 + 8 + 1) + b"stolen: " + kit.random[:250].hex().encode()[:250]

    flac_overwrite_block(out, 5, fill)


def _zip_in_flac_padding(kit: Kit, out: Path) -> None:
    flac_overwrite_block(out, 1, lambda n: kit.zip[: n - 8])


def _random_in_flac_padding(kit: Kit, out: Path) -> None:
    flac_overwrite_block(out, 1, lambda n: kit.random[:n])


def _app_block(app: bytes, body: Callable[[Kit], bytes]) -> Callable[[Kit, Path], None]:
    def edit(kit: Kit, out: Path) -> None:
        flac_insert_block(out, 2, app + body(kit))

    return edit


def _picture_block(image: Callable[[Kit], bytes], mime: bytes) -> Callable[[Kit, Path], None]:
    def edit(kit: Kit, out: Path) -> None:
        flac_insert_block(out, 6, flac_picture_block(image(kit), mime))

    return edit


def _vorbiscomment(*tags: str, ext: str = "ogg") -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        kit.copy(ext, out)
        args: list[str] = []
        for t in tags:
            key, _, value = t.partition("=")
            if value.startswith("@"):
                value = (kit.work / value[1:]).read_text()
            args += ["-t", f"{key}={value}"]
        run(["vorbiscomment", "-a", *args, str(out)])
        return out

    return make


def _mbp(image: Callable[[Kit], bytes], mime: bytes) -> Maker:
    """METADATA_BLOCK_PICTURE (base64 of a FLAC picture structure) written by vorbiscomment."""

    def make(kit: Kit, out: Path) -> Path:
        kit.copy("ogg", out)
        value = base64.b64encode(flac_picture_block(image(kit), mime)).decode()
        tags = kit.file("mbp.txt", f"METADATA_BLOCK_PICTURE={value}\n".encode())
        run(["vorbiscomment", "-a", "-c", str(tags), str(out)])
        return out

    return make


def _opusenc(*args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        run(["opusenc", "--quiet", *[a.format(w=kit.work) for a in args], str(kit.wav), str(out)])
        return out

    return make


def _oggflac_padding(kit: Kit, out: Path) -> Path:
    run(["flac", "-s", "-f", "--ogg", "-P", "65536", "-o", str(out), str(kit.wav)])

    def edit(body: bytes) -> bytes | None:
        if body[:1] in (b"\x01", b"\x81") and len(body) > 4 + 20_000:  # the PADDING block
            return body[:4] + kit.zip[: len(body) - 4] + bytes(max(0, len(body) - 4 - len(kit.zip)))
        return None

    ogg_rewrite_first_packet_of_kind(out, edit)
    return out


def _second_opus(kit: Kit, out: Path) -> Path:
    a = kit.encoded("opus")
    run(["ffmpeg", "-v", "error", "-y", "-i", str(a), "-f", "lavfi", "-i",
         "anoisesrc=d=3:a=0.3", "-map", "0:a", "-map", "1:a", "-c:a", "libopus", str(out)])  # fmt: skip
    return out


def _chained_opus(kit: Kit, out: Path) -> Path:
    a = kit.encoded("opus").read_bytes()
    noise = kit.work / "noise.opus"
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anoisesrc=d=2:a=0.3", "-c:a",
         "libopus", str(noise)])  # fmt: skip
    out.write_bytes(a + noise.read_bytes())
    return out


def _ffmpeg(ext_in: str, *args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        src = kit.wav if ext_in == "wav" else kit.encoded(ext_in)
        run(["ffmpeg", "-v", "error", "-y", "-i", str(src),
             *[a.format(w=kit.work) for a in args], str(out)])  # fmt: skip
        return out

    return make


def _ffmpeg_cover(container_args: tuple[str, ...]) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        run(["ffmpeg", "-v", "error", "-y", "-i", str(kit.wav), "-i", str(kit.cover("jpg")),
             "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-disposition:v", "attached_pic",
             *container_args, str(out)])  # fmt: skip
        return out

    return make


def _mka_attach(kit: Kit, out: Path) -> Path:
    elf = kit.file("tool.elf", kit.elf)
    run(["ffmpeg", "-v", "error", "-y", "-i", str(kit.wav), "-c:a", "flac", "-attach", str(elf),
         "-metadata:s:t", "mimetype=application/octet-stream", str(out)])  # fmt: skip
    return out


def _eyed3(ext: str, *args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        kit.copy(ext, out)
        run(["eyeD3", "--no-color", "-Q", *[a.format(w=kit.work) for a in args], str(out)])
        return out

    return make


def _mid3v2(*args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        kit.copy("mp3", out)
        run([_venv_tool("mid3v2"), *[a.format(w=kit.work) for a in args], str(out)])
        return out

    return make


def _venv_tool(name: str) -> str:
    import sys

    return str(Path(sys.executable).parent / name)


def _id3v2_tool(*args: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        kit.copy("mp3", out)
        run(["id3v2", *[a.format(w=kit.work) for a in args], str(out)])
        return out

    return make


def _mutagen_id3(ext: str, frames: Callable[[Kit], list[object]], v2: int = 4) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        import mutagen.aiff
        import mutagen.id3
        import mutagen.wave

        kit.copy(ext, out) if ext != "wav" else shutil.copyfile(kit.wav, out)
        opener = {"mp3": mutagen.id3.ID3FileType, "wav": mutagen.wave.WAVE,
                  "aiff": mutagen.aiff.AIFF}[ext]  # fmt: skip
        f = opener(out)
        if f.tags is None:
            f.add_tags()
        for fr in frames(kit):
            f.tags.add(fr)
        f.save(v2_version=v2)
        return out

    return make


def _mutagen_ape(items: Callable[[Kit], dict[str, object]]) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        import mutagen.apev2

        kit.copy("mp3", out)
        tag = mutagen.apev2.APEv2()
        for k, v in items(kit).items():
            tag[k] = v
        tag.save(str(out))
        return out

    return make


def _raw_mp3(build: Callable[[Kit, bytes], bytes]) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        out.write_bytes(build(kit, kit.encoded("mp3").read_bytes()))
        return out

    return make


def _kid3(ext: str, *commands: str) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        if ext == "wav":
            shutil.copyfile(kit.wav, out)
        else:
            kit.copy(ext, out)
        args: list[str] = []
        for c in commands:
            args += ["-c", c.format(w=kit.work)]
        run(["kid3-cli", *args, str(out)])
        return out

    return make


def _wav_chunks(build: Callable[[Kit], bytes], before_data: bool = True) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        return wav_add_chunks(kit.wav, out, build(kit), before_data=before_data)

    return make


def _aiff_chunks(build: Callable[[Kit], bytes]) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        return aiff_add_chunks(kit.encoded("aiff"), out, build(kit))

    return make


def _wav_fmt_extra(kit: Kit, out: Path) -> Path:
    data = kit.wav.read_bytes()
    size = int.from_bytes(data[16:20], "little")
    fmt = data[20 : 20 + size]
    extra = kit.elf[:4000]
    new_fmt = b"fmt " + struct.pack("<I", len(fmt) + len(extra)) + fmt + extra
    new = data[:12] + new_fmt + data[20 + size :]
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    return out


def _wav_fact_extra(kit: Kit, out: Path) -> Path:
    frames = sf.info(str(kit.wav)).frames
    return wav_add_chunks(kit.wav, out, riff_chunk(b"fact", struct.pack("<I", frames) + kit.zip))


def _wav_zip_in_data(kit: Kit, out: Path) -> Path:
    """A zip behind the samples inside the data chunk (data size covers it), offsets fixed by
    ``zip -A``: the file is a WAV and a zip."""
    data = kit.wav.read_bytes()
    at = data.find(b"data", 12)
    size = int.from_bytes(data[at + 4 : at + 8], "little")
    zdata = kit.zip + (b"\x00" if len(kit.zip) & 1 else b"")
    body = data[at + 8 : at + 8 + size] + zdata
    new = data[:at] + b"data" + struct.pack("<I", len(body)) + body
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    run(["zip", "-A", "-q", str(out)])
    return out


def _wav_zip_appended(kit: Kit, out: Path) -> Path:
    out.write_bytes(kit.wav.read_bytes() + kit.zip)
    run(["zip", "-A", "-q", str(out)])
    return out


def _wav_zip_in_junk(kit: Kit, out: Path) -> Path:
    wav_add_chunks(kit.wav, out, riff_chunk(b"JUNK", kit.zip), before_data=False)
    run(["zip", "-A", "-q", str(out)])
    return out


def _aiff_ssnd_offset(kit: Kit, out: Path) -> Path:
    """SSND's offset field skips bytes before the samples: a payload sits in them."""
    data = kit.encoded("aiff").read_bytes()
    at = data.find(b"SSND", 12)
    size = int.from_bytes(data[at + 4 : at + 8], "big")
    body = data[at + 8 : at + 8 + size]
    hidden = kit.elf[:8000]
    new_body = struct.pack(">II", len(hidden), 0) + hidden + body[8:]
    new = data[:at] + b"SSND" + struct.pack(">I", len(new_body)) + new_body + data[at + 8 + size :]
    out.write_bytes(new[:4] + struct.pack(">I", len(new) - 8) + new[8:])
    return out


def _wav_odd_nopad(kit: Kit, out: Path) -> Path:
    # A LIST chunk of odd length whose pad byte a sloppy writer left out.
    info = b"INFO" + b"INAM" + struct.pack("<I", 5) + b"Song\x00"
    data = kit.wav.read_bytes()
    at = data.find(b"data", 12)
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    new = data[:at] + chunk + data[at:]
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    return out


def _info(fields: list[tuple[bytes, bytes]]) -> bytes:
    body = b"INFO" + b"".join(riff_chunk(k, v) for k, v in fields)
    return riff_chunk(b"LIST", body)


def _cue_points(n: int, declared: int | None = None, extra: bytes = b"") -> bytes:
    body = struct.pack("<I", n if declared is None else declared)
    for i in range(n):
        body += struct.pack("<II4sIII", i + 1, i * 22050, b"data", 0, 0, i * 22050)
    return riff_chunk(b"cue ", body + extra)


def _smpl(loops: int, declared_loops: int | None = None, sampler: bytes = b"") -> bytes:
    body = struct.pack("<9I", 0, 0, 22676, 60, 0, 0, 0,
                       loops if declared_loops is None else declared_loops, len(sampler))  # fmt: skip
    for i in range(loops):
        body += struct.pack("<6I", i, 0, 1000, 20000, 0, 0)
    return riff_chunk(b"smpl", body + sampler)


def _ixml(extra: str = "") -> bytes:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION>'
        "<PROJECT>bench</PROJECT><SCENE>12</SCENE><TAKE>3</TAKE><NOTE>boom close</NOTE>"
        f"{extra}</BWFXML>"
    )
    return riff_chunk(b"iXML", xml.encode())


def _axml(kit: Kit, payload: bytes) -> bytes:
    b64 = base64.encodebytes(payload).decode()
    xml = (
        '<?xml version="1.0"?><ebuCoreMain><coreMetadata><title>t</title>'
        f"<attachment>{b64}</attachment></coreMetadata></ebuCoreMain>"
    )
    return riff_chunk(b"axml", xml.encode())


def _apic_elf_mutagen(kit: Kit) -> list[object]:
    from mutagen.id3 import APIC

    return [APIC(encoding=3, mime="image/png", type=3, desc="cover", data=kit.elf)]


def _apic_cover(kind: str) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        from mutagen.id3 import APIC, TALB, TIT2, TPE1

        return [
            TIT2(encoding=3, text="Song"), TPE1(encoding=3, text="Artist"),
            TALB(encoding=3, text="Album"),
            APIC(encoding=3, mime=f"image/{'jpeg' if kind == 'jpg' else 'png'}", type=3,
                 desc="Cover", data=kit.cover(kind).read_bytes()),
        ]  # fmt: skip

    return frames


def _tagged(fr: Callable[[Kit], list[object]]) -> Callable[[Kit], list[object]]:
    return fr


def _priv(owner: str, data: Callable[[Kit], bytes]) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        from mutagen.id3 import PRIV

        return [PRIV(owner=owner, data=data(kit))]

    return frames


def _textframe(kind: str, value: Callable[[Kit], str]) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        from mutagen.id3 import COMM, TXXX, USLT

        v = value(kit)
        if kind == "COMM":
            return [COMM(encoding=3, lang="eng", desc="", text=v)]
        if kind == "USLT":
            return [USLT(encoding=1, lang="eng", desc="", text=v)]
        return [TXXX(encoding=3, desc="notes", text=v)]

    return frames


def _unsync_tag(image: Callable[[Kit], bytes], mime: bytes) -> Maker:
    def build(kit: Kit, mp3: bytes) -> bytes:
        frames = id3_frame(b"TIT2", b"\x00Song") + id3_frame(b"APIC", apic(image(kit), mime))
        return id3_tag(unsync(frames), 3, 0x80) + mp3

    return _raw_mp3(build)


def _ext_header_tag(kit: Kit, mp3: bytes) -> bytes:
    frames = id3_frame(b"TIT2", b"\x00Song") + id3_frame(b"TPE1", b"\x00Artist")
    ext = struct.pack(">IHI", 6, 0, 256)  # v2.3 extended header: size 6, no CRC, 256 padding
    return id3_tag(ext + frames + bytes(256), 3, 0x40) + mp3


def _footer_tag(payload: Callable[[Kit], bytes], mime: bytes) -> Maker:
    def build(kit: Kit, mp3: bytes) -> bytes:
        frames = id3_frame(b"TIT2", b"\x03Song", 4)
        if payload(kit):
            frames += id3_frame(b"APIC", apic(payload(kit), mime), 4)
        return mp3 + id3_tag(frames, 4, 0x10, footer=True)

    return _raw_mp3(build)


def _lyrics3(fields: Callable[[Kit], list[tuple[bytes, bytes]]]) -> Maker:
    def build(kit: Kit, mp3: bytes) -> bytes:
        v1 = (
            b"TAG"
            + b"Song".ljust(30, b"\x00")
            + b"Artist".ljust(30, b"\x00")
            + bytes(30 + 4 + 30 + 1)
        )
        return mp3 + lyrics3v2(fields(kit)) + v1

    return _raw_mp3(build)


def _compressed_geob(kit: Kit, mp3: bytes) -> bytes:
    body = b"\x00application/octet-stream\x00tool\x00tool\x00" + kit.elf
    packed = struct.pack(">I", len(body)) + zlib.compress(body)
    size = len(packed)
    ss = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    frame = b"GEOB" + ss + struct.pack(">H", 0x0009) + packed  # compressed + data length
    return id3_tag(frame, 4) + mp3


def _mp3_append(payload: Callable[[Kit], bytes]) -> Maker:
    return _raw_mp3(lambda kit, mp3: mp3 + payload(kit))


def _decoy_runs(kit: Kit) -> str:
    sha = "".join(f"{i:064x}\n" for i in range(1, 6))
    return "checksums:\n" + sha + "data:\n" + base64.b64encode(kit.random[:3000]).decode()


def xored(data: bytes) -> bytes:
    """An executable with its magic and its zeros hidden (XOR 0x20): no signature, not
    random, not text."""
    return bytes(b ^ 0x20 for b in data)


def _mutagen_vorbis(tags: Callable[[Kit], dict[str, str]]) -> Maker:
    def make(kit: Kit, out: Path) -> Path:
        import mutagen.oggvorbis

        kit.copy("ogg", out)
        f = mutagen.oggvorbis.OggVorbis(out)
        for k, v in tags(kit).items():
            f[k] = v
        f.save()
        return out

    return make


def _latin1_txxx(value: Callable[[Kit], str]) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        from mutagen.id3 import TXXX

        return [TXXX(encoding=0, desc="notes", text=value(kit))]

    return frames


def _multi_artist(kit: Kit) -> list[object]:
    from mutagen.id3 import TIT2, TPE1

    return [TPE1(encoding=3, text=["Band", "Guest Singer"]), TIT2(encoding=1, text="Canción")]


def _xing_payload(kit: Kit, mp3: bytes) -> bytes:
    """Bytes written into the zeros of the Xing/Info frame after LAME's tag."""
    at = mp3.find(b"Xing")
    at = at if at >= 0 else mp3.find(b"Info")
    nxt = mp3.find(b"\xff\xfb", at)
    start = at + 120 + 36
    payload = xored(kit.elf[:4000])[: max(0, nxt - start)]
    return mp3[:start] + payload + mp3[start + len(payload) :]


def _opushead_extra(kit: Kit, out: Path) -> Path:
    """An OpusHead that grew 100 bytes past its fields (the first page rebuilt, CRC fixed)."""
    data = kit.encoded("opus").read_bytes()
    nseg = data[26]
    body_at = 27 + nseg
    length = sum(data[27:body_at])
    packet = data[body_at : body_at + length] + xored(kit.elf[:100])
    page = bytearray(data[:26] + bytes([1, len(packet)]) + packet)
    page[22:26] = bytes(4)
    page[22:26] = ogg_crc(bytes(page)).to_bytes(4, "little")
    out.write_bytes(bytes(page) + data[body_at + length :])
    return out


def _encrypted_frame(kit: Kit, mp3: bytes) -> bytes:
    encr = b"ENCR" + struct.pack(">I", 14) + b"\x00\x00" + b"me@x.org\x00\x80" + b"\x00\x00\x00\x00"
    blob = kit.random[:1500]
    body = b"\x80" + blob  # the method symbol, then the encrypted bytes
    frame = b"TXXX" + struct.pack(">I", len(body)) + b"\x00\x40" + body  # v2.3 encryption flag
    return id3_tag(encr + frame, 3) + mp3


def _opus_padding_payload(kit: Kit, out: Path) -> Path:
    """Every whole single-frame Opus packet rewritten as a code-3 packet whose padding
    (RFC 6716 3.2.5; decoders drop it) carries 16 bytes of an XORed executable; pages
    re-laced, CRCs set. The audio is untouched."""
    data, pos, result = kit.encoded("opus").read_bytes(), 0, b""
    payload, taken, index = xored(kit.elf), 0, 0
    while pos < len(data):
        nseg = data[pos + 26]
        table = data[pos + 27 : pos + 27 + nseg]
        end = pos + 27 + nseg + sum(table)
        page = data[pos:end]
        whole = index >= 2 and not page[5] & 1 and table and table[-1] != 255
        if whole:
            packets, at, size = [], 27 + nseg, 0
            for lace in table:
                size += lace
                if lace < 255:
                    packets.append(page[at : at + size])
                    at, size = at + size, 0
            new = []
            for p in packets:
                if p[0] & 3 == 0:
                    chunk = payload[taken % len(payload) :][:16].ljust(16, b"\x01")
                    taken += 16
                    p = bytes([p[0] | 3, 0x41, 16]) + p[1:] + chunk
                new.append(p)
            lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in new)
            if len(lacing) <= 255:
                head = bytearray(page[:26] + bytes([len(lacing)]) + lacing + b"".join(new))
                head[22:26] = bytes(4)
                head[22:26] = ogg_crc(bytes(head)).to_bytes(4, "little")
                page = bytes(head)
        result += page
        pos, index = end, index + 1
    out.write_bytes(result)
    return out


def xored_key(data: bytes, key: bytes) -> bytes:
    """``data`` XORed with a repeating multi-byte ``key``."""
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def structured_binary(kit: Kit, n: int) -> bytes:
    """``n`` bytes of 6-bit values: no signature, not random, not text (any packed data)."""
    return bytes(b & 0x3F for b in (kit.random * (n // len(kit.random) + 1))[:n])


def _sapi_like_events(n: int) -> bytes:
    """Event records the way a speech engine's ``EVNT`` chunk keeps them: 24-byte records of
    small integers (type, flags, sample positions), mostly zeros."""
    out = bytearray()
    for i in range(n):
        out += struct.pack("<IIIIQ", 1 + i % 7, 0, 0, 0, 4410 * i)
    return bytes(out)


def _pro_tools_chunks(kit: Kit) -> bytes:
    """The chunks Pro Tools adds to the files it records, at the sizes measured in real files
    (hydrogen's drum kits): minf 16, elm1 426, regn 92, umid 24, ovwf 4."""
    rng = np.random.default_rng(7)
    return (riff_chunk(b"minf", struct.pack("<IIII", 1, 44100, 2, 0))
            + riff_chunk(b"elm1", bytes(rng.integers(0, 4, 426, dtype=np.uint8)))
            + riff_chunk(b"regn", bytes(88) + b"tk01")
            + riff_chunk(b"umid", b"\x06\x0a\x2b\x34" + bytes(20))
            + riff_chunk(b"ovwf", struct.pack("<I", 1)))  # fmt: skip


def _mkvmerge_attach(kit: Kit, out: Path) -> Path:
    elf = kit.file("tool.elf", kit.elf)
    flac = kit.encoded("flac")
    run(["mkvmerge", "-q", "-o", str(out), "--attachment-mime-type", "application/octet-stream",
         "--attach-file", str(elf), str(flac)])  # fmt: skip
    return out


def _opustags_binary_tail(kit: Kit, out: Path) -> Path:
    """opusenc's file with 30 KB of packed data after OpusTags' comments, where RFC 7845 lets
    an encoder keep binary data (first byte's low bit set); the tags page rebuilt, CRC fixed."""
    data = kit.encoded("opus").read_bytes()
    first_end = 27 + data[26] + sum(data[27 : 27 + data[26]])
    nseg = data[first_end + 26]
    body_at = first_end + 27 + nseg
    length = sum(data[first_end + 27 : body_at])
    packet = data[body_at : body_at + length] + b"\x01" + structured_binary(kit, 30_000)
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    page = bytearray(data[first_end : first_end + 26] + bytes([len(lacing)]) + lacing + packet)
    page[22:26] = bytes(4)
    page[22:26] = ogg_crc(bytes(page)).to_bytes(4, "little")
    out.write_bytes(data[:first_end] + bytes(page) + data[body_at + length :])
    return out


def _atomicparsley_uuid(kit: Kit, out: Path) -> Path:
    m4a = kit.work / "plain.m4a"
    run(["ffmpeg", "-v", "error", "-y", "-i", str(kit.wav), "-c:a", "aac", "-f", "ipod", str(m4a)])
    elf = kit.file("tool.elf", kit.elf)
    run(["AtomicParsley", str(m4a), "--meta-uuid", "tool", "file", str(elf),
         "mime=application/octet-stream", "-o", str(out)])  # fmt: skip
    return out


def _mcdi_xored(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    return [id3.MCDI(data=xored_key(kit.elf, b"k3Y!"))]


def _geob(n: int) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        import mutagen.id3 as id3

        return [id3.GEOB(encoding=0, mime="application/octet-stream", filename="x.bin",
                         desc="d", data=structured_binary(kit, n))]  # fmt: skip

    return frames


def _apic_elf_frame(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    return [id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="", data=kit.elf)]


def _ape_binary(kit: Kit) -> dict[str, object]:
    import mutagen.apev2 as apev2

    return {"Blob": apev2.APEValue(structured_binary(kit, 60_000), apev2.BINARY)}


def _wav_cbsize_payload(kit: Kit, out: Path) -> Path:
    """A PCM ``fmt `` chunk whose cbSize claims 30 KB of 'codec data' (PCM has none), holding
    an ELF XORed with an 8-byte key."""
    data = kit.wav.read_bytes()
    size = int.from_bytes(data[16:20], "little")
    hidden = xored_key(kit.elf[:30_000], b"\x11\x22\x33\x44\x55\x66\x77\x88")
    fmt = data[20 : 20 + 16] + struct.pack("<H", len(hidden)) + hidden
    new = data[:12] + b"fmt " + struct.pack("<I", len(fmt)) + fmt + data[20 + size :]
    out.write_bytes(new[:4] + struct.pack("<I", len(new) - 8) + new[8:])
    return out


def _aiff_edit(
    edit: Callable[[Kit, list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]],
) -> Maker:
    """sox's AIFF with its chunk list edited."""

    def make(kit: Kit, out: Path) -> Path:
        data = kit.encoded("aiff").read_bytes()
        chunks, pos = [], 12
        while pos + 8 <= len(data):
            cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
            chunks.append((cid, data[pos + 8 : pos + 8 + size]))
            pos += 8 + size + (size & 1)
        body = data[8:12] + b"".join(iff_chunk(c, b) for c, b in edit(kit, chunks))
        out.write_bytes(b"FORM" + struct.pack(">I", len(body)) + body)
        return out

    return make


def _comm_grown(kit: Kit, chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(c, b + xored(kit.elf[:3000]) if c == b"COMM" else b) for c, b in chunks]


def _second_ssnd(kit: Kit, chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [*chunks, (b"SSND", bytes(8) + structured_binary(kit, 40_000))]


def _ext_header_payload(kit: Kit, mp3: bytes) -> bytes:
    frames = id3_frame(b"TIT2", b"\x00Song")
    hidden = xored(kit.elf[:8000])
    ext = struct.pack(">IHI", 6 + len(hidden), 0, 0) + hidden
    return id3_tag(ext + frames, 3, 0x40) + mp3


def _encoded_comment(tool: list[str], data: Callable[[Kit], bytes], ext: str = "ogg") -> Maker:
    """A comment whose value is ``data`` encoded by a real encoder (coreutils base32, basenc)."""

    def make(kit: Kit, out: Path) -> Path:
        encoded = subprocess.run(tool, input=data(kit), capture_output=True, check=True).stdout
        (kit.work / "encoded.txt").write_text(encoded.decode("ascii").strip())
        return _vorbiscomment("COMMENT=@encoded.txt", ext=ext)(kit, out)

    return make


def _a85_comm(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    return [
        id3.COMM(encoding=3, lang="eng", desc="", text=[base64.a85encode(kit.elf[:6000]).decode()])
    ]


def _uu_comm(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    lines = b"".join(binascii.b2a_uu(kit.elf[i : i + 45]) for i in range(0, 6000, 45))
    return [id3.COMM(encoding=3, lang="eng", desc="", text=[lines.decode()])]


def _url_comment(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    url = "https://example.org/releases/" + "/".join(
        f"disc{i}?track={i}&take={i}" for i in range(12)
    )
    return [id3.COMM(encoding=3, lang="eng", desc="", text=[url]),
            id3.WXXX(encoding=3, desc="source", url=url)]  # fmt: skip


def _chapters(sub: Callable[[Kit], list[object]]) -> Callable[[Kit], list[object]]:
    def frames(kit: Kit) -> list[object]:
        import mutagen.id3 as id3

        chaps = [id3.CHAP(element_id=f"ch{i}", start_time=i * 4000, end_time=(i + 1) * 4000,
                          sub_frames=[id3.TIT2(encoding=3, text=[f"Part {i}"]), *sub(kit)])
                 for i in range(2)]  # fmt: skip
        toc = id3.CTOC(element_id="toc", flags=id3.CTOCFlags.TOP_LEVEL | id3.CTOCFlags.ORDERED,
                       child_element_ids=["ch0", "ch1"],
                       sub_frames=[id3.TIT2(encoding=3, text=["Chapters"])])  # fmt: skip
        return [toc, *chaps]

    return frames


def _chapter_cover(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    return [
        id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="", data=kit.cover("jpg").read_bytes())
    ]


def _synced_lyrics(kit: Kit) -> list[object]:
    import mutagen.id3 as id3

    lines = [(f"line {i} of the song", i * 1500) for i in range(40)]
    return [id3.SYLT(encoding=3, lang="eng", format=2, type=1, text=lines),
            id3.ETCO(format=2, events=[(1, 0), (3, 4000), (2, 8000)]),
            id3.RVA2(desc="track", channel=1, gain=-3.5, peak=0.9)]  # fmt: skip


CASES: tuple[Case, ...] = (
    # FLAC: metaflac and flac used honestly
    Case("flac", "flac -8 (seektable, padding)", "good", ("flac",),
         lambda kit, out: kit.copy("flac", out)),
    Case("flac", "metaflac tags", "good", ("metaflac",),
         _metaflac("--set-tag=ARTIST=Some Band", "--set-tag=TITLE=Track", "--set-tag=DATE=2019",
                   "--set-tag=TRACKNUMBER=3", "--set-tag=MUSICBRAINZ_TRACKID=1f9e2c3a-8d4b-4f3e-9c1d-2b7a6e5f4d3c")),
    Case("flac", "metaflac --add-replay-gain", "good", ("metaflac",), _metaflac("--add-replay-gain")),
    Case("flac", "metaflac cover JPEG", "good", ("metaflac", "ffmpeg"),
         lambda kit, out: _metaflac(f"--import-picture-from={kit.cover('jpg')}")(kit, out)),
    Case("flac", "metaflac cover PNG", "good", ("metaflac", "ffmpeg"),
         lambda kit, out: _metaflac(f"--import-picture-from={kit.cover('png')}")(kit, out)),
    Case("flac", "metaflac --add-seekpoint=1s", "good", ("metaflac",), _metaflac("--add-seekpoint=1s")),
    Case("flac", "metaflac --add-padding=65536", "good", ("metaflac",), _metaflac("--add-padding=65536")),
    Case("flac", "metaflac cuesheet", "good", ("metaflac",),
         _metaflac("--import-cuesheet-from={w}/sheet.cue")),
    Case("flac", "metaflac LYRICS from a text file", "good", ("metaflac",),
         _metaflac("--set-tag-from-file=LYRICS={w}/lyrics.txt")),
    # FLAC: the same tools as an attacker
    Case("flac", "metaflac picture = ELF, MIME image/png", "bad", ("metaflac",),
         _metaflac("--import-picture-from=3|image/png|cover|300x300x24|{w}/elf.bin")),
    Case("flac", "metaflac picture = 100 KB random, image/jpeg", "bad", ("metaflac",),
         _metaflac("--import-picture-from=3|image/jpeg|cover|300x300x24|{w}/random.bin")),
    Case("flac", "metaflac picture = JPEG + zip", "bad", ("metaflac", "ffmpeg"),
         _metaflac("--import-picture-from=3|image/jpeg|cover||{w}/jpegzip.jpg")),
    Case("flac", "metaflac COMMENT = base64 of 60 KB random", "bad", ("metaflac",),
         _metaflac("--set-tag-from-file=COMMENT={w}/b64random.txt")),
    Case("flac", "metaflac COMMENT = raw ELF bytes", "bad", ("metaflac",),
         _metaflac("--set-tag-from-file=COMMENT={w}/elf.bin")),
    Case("flac", "metaflac DESCRIPTION = hex of a zip", "bad", ("metaflac",),
         _metaflac("--set-tag-from-file=DESCRIPTION={w}/hexzip.txt")),
    Case("flac", "metaflac NOTES = 5 checksums then base64 random", "bad", ("metaflac",),
         lambda kit, out: (kit.file("decoy.txt", _decoy_runs(kit).encode()),
                           _metaflac("--set-tag-from-file=NOTES={w}/decoy.txt")(kit, out))[1]),
    Case("flac", "bytes: APPLICATION 'riff' holding an ELF", "bad", ("flac",),
         _flac_then(_app_block(b"riff", lambda kit: kit.elf))),
    Case("flac", "bytes: APPLICATION 'xyzw' holding 3 KB text", "bad", ("flac",),
         _flac_then(_app_block(b"xyzw", lambda kit: b"hello world " * 250))),
    Case("flac", "flac -P, zip written into the PADDING", "bad", ("flac",),
         _flac_then(_zip_in_flac_padding, "-P", "65536")),
    Case("flac", "flac -P, random written into the PADDING", "bad", ("flac",),
         _flac_then(_random_in_flac_padding, "-P", "65536")),
    Case("flac", "flac -S, payload in the seek points", "bad", ("flac",),
         _flac_then(_seektable_data, "-S", "0.2s")),
    Case("flac", "metaflac cuesheet, hex text in its reserved bytes", "bad", ("flac", "metaflac"),
         lambda kit, out: (_metaflac("--import-cuesheet-from={w}/sheet.cue")(kit, out),
                           _cuesheet_reserved(kit, out), out)[2]),
    # Ogg Vorbis / Opus / FLAC-in-Ogg
    Case("ogg", "oggenc tags", "good", ("oggenc",),
         lambda kit, out: (run(["oggenc", "-Q", "-t", "Song", "-a", "Artist", "-l", "Album",
                                "-o", str(out), str(kit.wav)]), out)[1]),
    Case("ogg", "vorbiscomment tags + ReplayGain", "good", ("vorbiscomment", "oggenc"),
         _vorbiscomment("ARTIST=Band", "TITLE=Song", "REPLAYGAIN_TRACK_GAIN=-6.20 dB",
                        "REPLAYGAIN_TRACK_PEAK=0.98812")),
    Case("ogg", "vorbiscomment METADATA_BLOCK_PICTURE = JPEG", "good", ("vorbiscomment", "ffmpeg"),
         _mbp(lambda kit: kit.cover("jpg").read_bytes(), b"image/jpeg")),
    Case("ogg", "opusenc --picture JPEG", "good", ("opusenc", "ffmpeg"),
         lambda kit, out: _opusenc("--picture", str(kit.cover("jpg")), "--title", "Song")(kit, out)),
    Case("ogg", "opusenc --picture PNG", "good", ("opusenc", "ffmpeg"),
         lambda kit, out: _opusenc("--picture", str(kit.cover("png")))(kit, out)),
    Case("ogg", "ffmpeg FLAC in Ogg", "refused", ("ffmpeg",), _ffmpeg("wav", "-c:a", "flac", "-f", "ogg")),
    Case("ogg", "flac --ogg with padding", "refused", ("flac",),
         lambda kit, out: (run(["flac", "-s", "-f", "--ogg", "-P", "8192", "-o", str(out),
                                str(kit.wav)]), out)[1]),
    Case("ogg", "vorbiscomment METADATA_BLOCK_PICTURE = ELF as image/png", "bad", ("vorbiscomment",),
         _mbp(lambda kit: kit.elf, b"image/png")),
    Case("ogg", "vorbiscomment METADATA_BLOCK_PICTURE = zip", "bad", ("vorbiscomment",),
         _mbp(lambda kit: kit.zip, b"image/jpeg")),
    Case("ogg", "vorbiscomment COMMENT = base64 of 60 KB random", "bad", ("vorbiscomment",),
         _vorbiscomment("COMMENT=@b64random.txt")),
    Case("ogg", "opusenc --picture ELF (spec form, image/png)", "bad", ("opusenc",),
         _opusenc("--picture", "3|image/png|||{w}/elf.bin")),
    Case("ogg", "opusenc --comment = base64 of an ELF", "bad", ("opusenc",),
         lambda kit, out: _opusenc("--comment", "NOTES=" + (kit.work / "b64elf.txt").read_text())(kit, out)),
    Case("ogg", "ffmpeg second Opus stream multiplexed", "bad", ("ffmpeg",), _second_opus),
    Case("ogg", "chained Opus (cat)", "bad", ("ffmpeg", "opusenc"), _chained_opus),
    Case("ogg", "flac --ogg, zip written into the PADDING", "bad", ("flac",), _oggflac_padding),
    Case("ogg", "flac --ogg --picture ELF (spec form)", "bad", ("flac",),
         lambda kit, out: (run(["flac", "-s", "-f", "--ogg", f"--picture=3|image/png||300x300x24|{kit.work}/elf.bin",
                                "-o", str(out), str(kit.wav)]), out)[1]),
    # MP3: ID3v2, ID3v1, APEv2, Lyrics3
    Case("mp3", "lame", "good", ("lame",), lambda kit, out: kit.copy("mp3", out)),
    Case("mp3", "eyeD3 tags v2.4", "good", ("eyeD3",),
         _eyed3("mp3", "-a", "Band", "-t", "Song", "-A", "Album", "-n", "3",
                "--user-text-frame=REPLAYGAIN_TRACK_GAIN:-6.20 dB")),
    Case("mp3", "eyeD3 tags v2.3 + v1", "good", ("eyeD3",),
         _eyed3("mp3", "--to-v2.3", "-a", "Band", "-t", "Song", "--add-comment=nice one")),
    Case("mp3", "eyeD3 cover JPEG", "good", ("eyeD3", "ffmpeg"),
         lambda kit, out: _eyed3("mp3", f"--add-image={kit.cover('jpg')}:FRONT_COVER")(kit, out)),
    Case("mp3", "eyeD3 lyrics", "good", ("eyeD3",), _eyed3("mp3", "--add-lyrics={w}/lyrics.txt")),
    Case("mp3", "mid3v2 tags + cover PNG", "good", ("mutagen", "ffmpeg"),
         lambda kit, out: _mid3v2("-a", "Band", "-t", "Song",
                                  f"--picture={kit.cover('png')}:Cover:3:image/png")(kit, out)),
    Case("mp3", "id3v2 (id3lib) tags + comment", "good", ("id3v2",),
         _id3v2_tool("-a", "Band", "-t", "Song", "-A", "Album", "-y", "2001", "-c", "ripped by me")),
    Case("mp3", "mutagen PRIV WM/MediaClassPrimaryID", "good", ("mutagen",),
         _mutagen_id3("mp3", _priv("WM/MediaClassPrimaryID", lambda kit: bytes(range(16))))),
    Case("mp3", "mutagen APEv2 ReplayGain", "good", ("mutagen",),
         _mutagen_ape(lambda kit: {"REPLAYGAIN_TRACK_GAIN": "-6.20 dB", "Artist": "Band"})),
    Case("mp3", "bytes: unsynchronised v2.3 tag with a JPEG cover", "good", ("lame", "ffmpeg"),
         _unsync_tag(lambda kit: kit.cover("jpg").read_bytes(), b"image/jpeg")),
    Case("mp3", "bytes: v2.3 extended header", "good", ("lame",), _raw_mp3(_ext_header_tag)),
    Case("mp3", "bytes: ID3v2.4 tag with footer at the end", "good", ("lame",),
         _footer_tag(lambda kit: b"", b"")),
    Case("mp3", "bytes: Lyrics3v2 + ID3v1", "good", ("lame",),
         _lyrics3(lambda kit: [(b"IND", b"10"), (b"LYR", b"[00:01]la la la\r\n[00:05]night\r\n"),
                               (b"ETT", b"Song")])),
    Case("mp3", "eyeD3 APIC = ELF", "bad", ("eyeD3",),
         lambda kit, out: (kit.file("evil.png", kit.elf),
                           _eyed3("mp3", f"--add-image={kit.work}/evil.png:FRONT_COVER")(kit, out))[1]),
    Case("mp3", "mid3v2 APIC = 100 KB random as image/jpeg", "bad", ("mutagen",),
         _mid3v2("--picture={w}/random.bin:Cover:3:image/jpeg")),
    Case("mp3", "eyeD3 GEOB = zip", "bad", ("eyeD3",),
         _eyed3("mp3", "--add-object={w}/zip.bin:application/zip")),
    Case("mp3", "eyeD3 GEOB = 100 KB random", "bad", ("eyeD3",),
         _eyed3("mp3", "--add-object={w}/random.bin:application/octet-stream")),
    Case("mp3", "mutagen PRIV = 50 KB random", "bad", ("mutagen",),
         _mutagen_id3("mp3", _priv("com.example", lambda kit: kit.random[:50_000]))),
    Case("mp3", "mutagen COMM = base64 of ELF", "bad", ("mutagen",),
         _mutagen_id3("mp3", _textframe("COMM", lambda kit: base64.b64encode(kit.elf).decode()))),
    Case("mp3", "mutagen TXXX = hex of zip", "bad", ("mutagen",),
         _mutagen_id3("mp3", _textframe("TXXX", lambda kit: kit.zip.hex()))),
    Case("mp3", "mutagen USLT (UTF-16) = base64 of 10 KB random", "bad", ("mutagen",),
         _mutagen_id3("mp3", _textframe("USLT", lambda kit: base64.b64encode(kit.random[:10_000]).decode()), v2=3)),
    Case("mp3", "mutagen COMM = 5 checksums then base64 random", "bad", ("mutagen",),
         _mutagen_id3("mp3", _textframe("COMM", _decoy_runs))),
    Case("mp3", "bytes: unsynchronised v2.3 tag, APIC = ELF", "bad", ("lame",),
         _unsync_tag(lambda kit: kit.elf, b"image/png")),
    Case("mp3", "bytes: v2.4 compressed GEOB = ELF", "bad", ("lame",), _raw_mp3(_compressed_geob)),
    Case("mp3", "bytes: ID3v2.4 footer tag at the end, APIC = ELF", "bad", ("lame",),
         _footer_tag(lambda kit: kit.elf, b"image/png")),
    Case("mp3", "bytes: Lyrics3v2 LYR = base64 of random", "bad", ("lame",),
         _lyrics3(lambda kit: [(b"IND", b"10"), (b"LYR", base64.b64encode(kit.random[:6000]))])),
    Case("mp3", "bytes: Lyrics3v2 LYR = ELF", "bad", ("lame",),
         _lyrics3(lambda kit: [(b"IND", b"10"), (b"LYR", kit.elf[:20_000])])),
    Case("mp3", "mutagen APEv2 text = base64 of ELF", "bad", ("mutagen",),
         _mutagen_ape(lambda kit: {"Comment": base64.b64encode(kit.elf).decode()})),
    Case("mp3", "mutagen APEv2 binary = 50 KB random", "bad", ("mutagen",),
         _mutagen_ape(lambda kit: {"Blob": __import__("mutagen.apev2").apev2.APEValue(kit.random[:50_000], 1)})),
    Case("mp3", "zip appended after the last frame", "bad", ("lame",), _mp3_append(lambda kit: kit.zip)),
    Case("mp3", "random appended before an ID3v1 tag", "bad", ("lame",),
         _mp3_append(lambda kit: kit.random[:20_000] + b"TAG" + bytes(125))),
    Case("mp3", "mutagen v2.4 two artists (NUL-separated) + UTF-16 title", "good", ("mutagen",),
         _mutagen_id3("mp3", _multi_artist)),
    Case("mp3", "mutagen TXXX Latin-1 = an ELF with its magic XORed away", "bad", ("mutagen",),
         _mutagen_id3("mp3", _latin1_txxx(lambda kit: xored(kit.elf[:6000]).replace(b"\x00", b"\x01").decode("latin-1")))),
    Case("ogg", "mutagen Vorbis tags in Cyrillic and Japanese", "good", ("mutagen",),
         _mutagen_vorbis(lambda kit: {"TITLE": "Песня о встрече", "ARTIST": "坂本龍一", "ALBUM": "Ünïcödé"})),
    Case("ogg", "mutagen Vorbis COMMENT = an ELF with its magic XORed away", "bad", ("mutagen",),
         _mutagen_vorbis(lambda kit: {"COMMENT": xored(kit.elf[:6000]).decode("latin-1")})),
    Case("mp3", "bytes: an XORed ELF in the zeros of LAME's Xing frame", "bad", ("lame",),
         _raw_mp3(_xing_payload)),
    Case("mp3", "bytes: an encrypted TXXX frame (1.5 KB)", "bad", ("lame",), _raw_mp3(_encrypted_frame)),
    Case("ogg", "bytes: OpusHead with 100 bytes past its fields", "bad", ("opusenc",), _opushead_extra),
    Case("ogg", "opusenc --hard-cbr (zero padding)", "good", ("opusenc",), _opusenc("--hard-cbr")),
    Case("ogg", "bytes: an XORed ELF in the padding of every Opus packet", "bad", ("opusenc",),
         _opus_padding_payload),
    # WAV / RF64 / BWF
    Case("wav", "bytes: LIST INFO ICMT = an ELF with its magic XORed away", "bad", (),
         _wav_chunks(lambda kit: _info([(b"INAM", b"Song\x00"), (b"ICMT", xored(kit.elf[:6000]))]))),
    Case("wav", "ffmpeg tags (LIST INFO)", "good", ("ffmpeg",),
         _ffmpeg("wav", "-metadata", "title=Song", "-metadata", "artist=Band")),
    Case("wav", "ffmpeg BWF (bext)", "good", ("ffmpeg",),
         _ffmpeg("wav", "-write_bext", "1", "-metadata", "description=Take 3, boom mic",
                 "-metadata", "originator=Recorder", "-metadata", "coding_history=A=PCM,F=44100,W=16,M=stereo")),
    Case("wav", "ffmpeg RF64", "good", ("ffmpeg",), _ffmpeg("wav", "-rf64", "always")),
    Case("wav", "ffmpeg 24-bit extensible", "good", ("ffmpeg",),
         _ffmpeg("wav", "-c:a", "pcm_s24le", "-ac", "2", "-write_bext", "0")),
    Case("wav", "ffmpeg id3 chunk", "good", ("ffmpeg",),
         _ffmpeg("wav", "-write_id3v2", "1", "-metadata", "title=Song", "-metadata", "artist=Band")),
    Case("wav", "mutagen WAVE id3 chunk with JPEG cover", "good", ("mutagen", "ffmpeg"),
         _mutagen_id3("wav", _apic_cover("jpg"))),
    Case("wav", "kid3-cli title + artist", "good", ("kid3-cli",),
         _kid3("wav", "set title Song", "set artist Band")),
    Case("wav", "bytes: cue + smpl (loop) + iXML", "good", (),
         _wav_chunks(lambda kit: _cue_points(3) + _smpl(1) + _ixml())),
    Case("wav", "bytes: odd LIST without its pad byte", "good", (), _wav_odd_nopad),
    Case("wav", "mutagen WAVE id3 chunk APIC = ELF", "bad", ("mutagen",),
         _mutagen_id3("wav", _apic_elf_mutagen)),
    Case("wav", "bytes: bext description = base64 of random", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"bext", bext(base64.b64encode(kit.random[:180]))))),
    Case("wav", "bytes: bext reserved bytes = random", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"bext", bext(b"Take 3", reserved=kit.random[:180])))),
    Case("wav", "bytes: bext coding history = base64 of ELF", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"bext", bext(b"Take 3", history=base64.encodebytes(kit.elf))))),
    Case("wav", "bytes: iXML with base64 of random", "bad", (),
         _wav_chunks(lambda kit: _ixml(f"<BLOB>{base64.b64encode(kit.random[:5000]).decode()}</BLOB>"))),
    Case("wav", "bytes: axml with base64 of ELF", "bad", (),
         _wav_chunks(lambda kit: _axml(kit, kit.elf))),
    Case("wav", "bytes: cue count 10^9 (absurd)", "bad", (),
         _wav_chunks(lambda kit: _cue_points(2, declared=10**9))),
    Case("wav", "bytes: cue with 1.5 KB of data after its points", "bad", (),
         _wav_chunks(lambda kit: _cue_points(2, extra=kit.random[:1500]))),
    Case("wav", "bytes: smpl loops 10^6 (absurd)", "bad", (),
         _wav_chunks(lambda kit: _smpl(1, declared_loops=10**6))),
    Case("wav", "bytes: fmt chunk with an ELF after its fields", "bad", (), _wav_fmt_extra),
    Case("wav", "bytes: fact chunk with a zip after its count", "bad", (), _wav_fact_extra),
    Case("wav", "zip appended + zip -A", "bad", ("zip",), _wav_zip_appended),
    Case("wav", "zip in a JUNK chunk + zip -A", "bad", ("zip",), _wav_zip_in_junk),
    Case("wav", "zip inside the data chunk + zip -A", "bad", ("zip",), _wav_zip_in_data),
    Case("wav", "bytes: unknown chunk 'zzzz' = 100 KB XORed ELF", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"zzzz", xored((kit.elf * 3)[:100_000])))),
    Case("wav", "bytes: LIST 'xyzw' (unknown list type) = XORed ELF", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"LIST", b"xyzw" + xored(kit.elf[:20_000])))),
    # AIFF
    Case("aiff", "sox AIFF", "good", ("sox",), lambda kit, out: kit.copy("aiff", out)),
    Case("aiff", "ffmpeg AIFF with id3 chunk", "good", ("ffmpeg",),
         _ffmpeg("wav", "-write_id3v2", "1", "-metadata", "title=Song", "-f", "aiff")),
    Case("aiff", "mutagen AIFF ID3 with PNG cover", "good", ("mutagen", "sox", "ffmpeg"),
         _mutagen_id3("aiff", _apic_cover("png"))),
    Case("aiff", "bytes: NAME, AUTH, ANNO, COMT text", "good", ("sox",),
         _aiff_chunks(lambda kit: iff_chunk(b"NAME", b"Song") + iff_chunk(b"AUTH", b"Band")
                      + iff_chunk(b"ANNO", b"recorded in the garage")
                      + iff_chunk(b"COMT", struct.pack(">HIHH", 1, 0, 0, 9) + b"nice take"))),
    Case("aiff", "bytes: APPL holding an ELF", "bad", ("sox",),
         _aiff_chunks(lambda kit: iff_chunk(b"APPL", b"pdos" + kit.elf))),
    Case("aiff", "bytes: ANNO = base64 of random", "bad", ("sox",),
         _aiff_chunks(lambda kit: iff_chunk(b"ANNO", base64.b64encode(kit.random[:4000])))),
    Case("aiff", "mutagen AIFF ID3 APIC = ELF", "bad", ("mutagen", "sox"),
         _mutagen_id3("aiff", _apic_elf_mutagen)),
    Case("aiff", "bytes: ELF in the bytes SSND's offset skips", "bad", ("sox",), _aiff_ssnd_offset),
    # Session 13: bytes of no known purpose beyond a budget, and executables hidden by XOR
    Case("wav", "bytes: 'uuid' chunk = 100 KB ELF XORed with a 4-byte key", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"uuid", bytes(16) + xored_key((kit.elf * 3)[:100_000], b"k3Y!")))),
    Case("wav", "bytes: unknown chunk 'zzzz' = 100 KB of packed 6-bit data", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"zzzz", structured_binary(kit, 100_000)))),
    Case("wav", "bytes: ten unknown 12 KB chunks of packed data", "bad", (),
         _wav_chunks(lambda kit: b"".join(riff_chunk(b"zz%02d" % i, structured_binary(kit, 12_000)[i:] + bytes(i))
                                         for i in range(10)))),
    Case("wav", "bytes: known 'elm1' chunk = 60 KB of packed data", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"elm1", structured_binary(kit, 60_000)))),
    Case("wav", "bytes: LIST adtl 'file' = XORed ELF", "bad", (),
         _wav_chunks(lambda kit: riff_chunk(b"LIST", b"adtl" + riff_chunk(b"file", struct.pack("<I", 1) + b"EXE " + xored(kit.elf[:30_000]))))),
    Case("wav", "bytes: Pro Tools chunks (minf, elm1, regn, umid, ovwf)", "good", (),
         _wav_chunks(_pro_tools_chunks)),
    Case("wav", "bytes: speech-engine 'EVNT' chunk, 12 KB of event records", "good", (),
         _wav_chunks(lambda kit: riff_chunk(b"EVNT", _sapi_like_events(500)))),
    Case("flac", "bytes: APPLICATION 'riff' (registered) = 60 KB packed data", "bad", ("flac",),
         _flac_then(_app_block(b"riff", lambda kit: structured_binary(kit, 60_000)))),
    Case("flac", "bytes: APPLICATION 'xyzw' = ELF XORed with 0x5A", "bad", ("flac",),
         _flac_then(_app_block(b"xyzw", lambda kit: xored_key(kit.elf, b"Z")))),
    Case("mp3", "mutagen GEOB = 60 KB packed data", "bad", ("mutagen",),
         _mutagen_id3("mp3", _tagged(_geob(60_000)))),
    Case("mp3", "mutagen PRIV = XORed ELF", "bad", ("mutagen",),
         _mutagen_id3("mp3", _priv("com.example", lambda kit: xored(kit.elf)))),
    Case("mp3", "mutagen CHAP sub-frame APIC = ELF", "bad", ("mutagen",),
         _mutagen_id3("mp3", _chapters(_apic_elf_frame))),
    Case("mp3", "mutagen CHAP sub-frames GEOB = 2 x 30 KB packed data", "bad", ("mutagen",),
         _mutagen_id3("mp3", _chapters(_geob(30_000)))),
    Case("mp3", "mutagen APEv2 binary = 60 KB packed data", "bad", ("mutagen",),
         _mutagen_ape(_ape_binary)),
    Case("mp3", "mutagen chapters CHAP/CTOC with titles and a JPEG per chapter", "good", ("mutagen", "ffmpeg"),
         _mutagen_id3("mp3", _chapters(_chapter_cover))),
    Case("mp3", "mutagen SYLT + ETCO + RVA2", "good", ("mutagen",), _mutagen_id3("mp3", _synced_lyrics)),
    Case("refused", "mkvmerge MKA + --attach-file ELF", "refused", ("mkvmerge", "flac"), _mkvmerge_attach),
    Case("refused", "AtomicParsley M4A + --meta-uuid file ELF", "refused", ("AtomicParsley", "ffmpeg"),
         _atomicparsley_uuid),
    Case("ogg", "bytes: 30 KB of packed data after OpusTags' comments", "bad", ("opusenc",),
         _opustags_binary_tail),
    Case("flac", "bytes: reserved metadata block type 100 = 60 KB packed data", "bad", ("flac",),
         _flac_then(lambda kit, out: flac_insert_block(out, 100, structured_binary(kit, 60_000)))),
    Case("mp3", "mutagen MCDI (CD TOC) = ELF XORed with a 4-byte key", "bad", ("mutagen",),
         _mutagen_id3("mp3", _mcdi_xored)),
    Case("wav", "bytes: PCM fmt cbSize = 30 KB ELF XORed with an 8-byte key", "bad", (), _wav_cbsize_payload),
    Case("wav", "sox IMA ADPCM (fmt codec data)", "good", ("sox",),
         lambda kit, out: (run(["sox", str(kit.wav), "-e", "ima-adpcm", str(out)]), out)[1]),
    Case("wav", "sox MS ADPCM (fmt coefficients)", "good", ("sox",),
         lambda kit, out: (run(["sox", str(kit.wav), "-e", "ms-adpcm", str(out)]), out)[1]),
    Case("aiff", "sox AIFF-C", "good", ("sox",),
         lambda kit, out: (run(["sox", str(kit.wav), "-t", "aifc", str(out)]), out)[1]),
    Case("aiff", "bytes: COMM with an XORed ELF past its fields", "bad", ("sox",), _aiff_edit(_comm_grown)),
    Case("aiff", "bytes: second SSND = 40 KB packed data", "bad", ("sox",), _aiff_edit(_second_ssnd)),
    Case("mp3", "bytes: ID3v2.3 extended header holding an XORed ELF", "bad", ("lame",),
         _raw_mp3(_ext_header_payload)),
    Case("ogg", "vorbiscomment COMMENT = coreutils base32 of an ELF", "bad", ("vorbiscomment", "oggenc", "base32"),
         _encoded_comment(["base32", "-w", "0"], lambda kit: kit.elf[:6000])),
    Case("ogg", "vorbiscomment COMMENT = basenc --z85 of 4 KB random", "bad", ("vorbiscomment", "oggenc", "basenc"),
         _encoded_comment(["basenc", "--z85", "-w", "0"], lambda kit: kit.random[:4000])),
    Case("mp3", "mutagen COMM = ascii85 of an ELF", "bad", ("mutagen",), _mutagen_id3("mp3", _a85_comm)),
    Case("mp3", "mutagen COMM = uuencode of an ELF", "bad", ("mutagen",), _mutagen_id3("mp3", _uu_comm)),
    Case("mp3", "mutagen COMM + WXXX = a long URL", "good", ("mutagen",), _mutagen_id3("mp3", _url_comment)),
    # Containers the validator does not accept: a clear verdict
    Case("refused", "ffmpeg M4A (AAC)", "refused", ("ffmpeg",), _ffmpeg("wav", "-c:a", "aac", "-f", "ipod")),
    Case("refused", "ffmpeg M4A + cover (covr)", "refused", ("ffmpeg",),
         _ffmpeg_cover(("-c:a", "aac", "-f", "ipod"))),
    Case("refused", "ffmpeg MKA + attached ELF", "refused", ("ffmpeg",), _mka_attach),
    Case("refused", "ffmpeg CAF", "refused", ("ffmpeg",), _ffmpeg("wav", "-f", "caf")),
    Case("refused", "ffmpeg ADTS AAC", "refused", ("ffmpeg",), _ffmpeg("wav", "-c:a", "aac", "-f", "adts")),
    Case("refused", "ffmpeg AC-3", "refused", ("ffmpeg",), _ffmpeg("wav", "-c:a", "ac3", "-f", "ac3")),
    Case("refused", "ffmpeg WavPack", "refused", ("ffmpeg",), _ffmpeg("wav", "-c:a", "wavpack", "-f", "wv")),
)  # fmt: skip


_EXT = {"flac": ".flac", "ogg": ".ogg", "mp3": ".mp3", "wav": ".wav", "aiff": ".aiff"}


def _suffix(case: Case) -> str:
    if case.group != "refused":
        if "opus" in case.name.lower():
            return ".opus"
        return _EXT[case.group]
    name = case.name.lower()
    for key, ext in (("m4a", ".m4a"), ("mka", ".mka"), ("caf", ".caf"), ("adts", ".aac"),
                     ("ac-3", ".ac3"), ("wavpack", ".wv")):  # fmt: skip
        if key in name:
            return ext
    return ".bin"


def source_clips(corpus: Path, count: int, work: Path) -> list[Path]:
    """``count`` good train recordings of 3-20 s, as 16-bit 44.1 kHz stereo WAV (the encoders'
    common input)."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    rows = [
        r for r in rows
        if r["label"] == "good" and r["split"] == "train" and r["threat_class"] == "real"
        and 3 <= r.get("seconds", 0) <= 20 and r["format"] in ("wav", "flac")
    ]  # fmt: skip
    out = []
    for i, row in enumerate(rows[:: max(1, len(rows) // max(count, 1))][:count]):
        path = work / f"clip{i}.wav"
        if not path.exists():
            run(["ffmpeg", "-v", "error", "-y", "-i", str(corpus / row["path"]), "-ar", "44100",
                 "-ac", "2", "-c:a", "pcm_s16le", "-t", "8", "-map_metadata", "-1", str(path)])  # fmt: skip
        out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    parser.add_argument("--out", type=Path, default=Path(".cache/unseen_containers"))
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--only", help="cases whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="every miss and false flag")
    parser.add_argument("--json", type=Path, help="write every verdict here (JSONL)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_default_model()
    clips = source_clips(args.corpus, args.clips, args.out)
    results: dict[Case, list[tuple[str, list[str], str]]] = defaultdict(list)
    skipped: dict[str, str] = {}
    rows = []
    for ci, clip in enumerate(clips):
        work = args.out / f"kit{ci}"
        work.mkdir(exist_ok=True)
        kit = Kit(work, clip, seed=ci)
        _payload_files(kit)
        for index, case in enumerate(CASES):
            if args.only and args.only not in case.name:
                continue
            missing = [t for t in case.tools if not tool_ok(t)]
            if missing:
                skipped[case.name] = f"missing {', '.join(missing)}"
                continue
            out = work / f"case{index:03d}{_suffix(case)}"
            try:
                made = case.make(kit, out)
            except (subprocess.CalledProcessError, OSError, ValueError, ImportError) as exc:
                err = getattr(exc, "stderr", b"") or b""
                skipped[case.name] = f"tool failed: {type(exc).__name__} {err[-160:]!r}"
                continue
            if made is None:
                skipped[case.name] = "not made"
                continue
            verdict = validate_path(made, model=model)
            codes = sorted(
                {f.code for f in verdict.findings if f.severity.name in ("SUSPICIOUS", "MALICIOUS")}
            )
            msg = next((f.message for f in verdict.findings if f.code in codes), "")
            results[case].append((verdict.decision.value, codes, msg))
            rows.append({"case": case.name, "group": case.group, "expect": case.expect,
                         "clip": ci, "decision": verdict.decision.value, "codes": codes,
                         "path": str(made)})  # fmt: skip
    if args.json:
        args.json.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print("| group | tool / trick | expect | n | flagged | finding |")
    print("| --- | --- | --- | ---: | ---: | --- |")
    misses = false_flags = bad_n = good_n = 0
    for case in CASES:
        got = results.get(case)
        if not got:
            if case.name in skipped:
                print(
                    f"| {case.group} | {case.name} | {case.expect} | 0 | - | skipped: {skipped[case.name]} |"
                )
            continue
        flagged = sum(d != "accept" for d, _, _ in got)
        codes = sorted({c for _, cs, _ in got for c in cs})
        finding = ", ".join(c.removeprefix("container.") for c in codes) or "-"
        if case.expect == "refused":
            finding = got[0][2][:90] if got[0][2] else finding
        print(
            f"| {case.group} | {case.name} | {case.expect} | {len(got)} | {flagged} | {finding} |"
        )
        if case.expect == "good":
            good_n += len(got)
            false_flags += flagged
        else:
            bad_n += len(got)
            misses += len(got) - flagged
        if args.verbose and (flagged if case.expect == "good" else flagged < len(got)):
            for d, cs, m in got:
                print(f"    {case.expect} -> {d}: {cs} {m[:160]}")
    print(f"\nbad/refused files: {bad_n}, accepted (missed): {misses}; "
          f"good files: {good_n}, flagged (false flags): {false_flags}")  # fmt: skip


if __name__ == "__main__":
    main()
