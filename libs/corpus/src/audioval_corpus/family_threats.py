"""Generators for the threat families of issue #17 that the training corpus does not make.

Bytes and samples in, a file's bytes (and where the payload sits) out; deterministic for their
inputs. What real tools make (minimodem, steghide, lame, oggenc, flac) is run by
:mod:`audioval_corpus.tools`; this module does what no Debian tool does on its own: splice a
file into a track's samples, hold or sort bytes into samples, add a second logical Ogg stream,
write binary ID3v2/APEv2 items, understate a FLAC's sample count, cut an upload short, fill the
low bits of 8- and 24-bit PCM.

Each function that places a payload returns a :class:`Placed`: the file and the byte range
(and, for samples, the time range) the payload occupies, which the evaluation manifest records.
"""

from __future__ import annotations

import base64
import io
import struct
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from audioval_corpus import threats
from audioval_corpus.tools import wav_bytes

__all__ = [
    "OGG_STREAM_CODECS",
    "Placed",
    "add_apev2_binary",
    "add_id3_binary",
    "add_ogg_stream",
    "as_top_byte_samples",
    "embed_low_bit",
    "held_steps",
    "into_track",
    "list_info_base64",
    "ogg_serials",
    "silent_flac",
    "sorted_ramp",
    "splice_into_wav",
    "truncate",
    "understate_flac_count",
]

OggMode = Literal["multiplexed", "chained"]
# The first packet of the second stream: what a reader sees of its codec.
OGG_STREAM_CODECS: dict[str, bytes] = {
    "unknown": b"\x00PAYLOAD",
    "theora": b"\x80theora\x03\x02\x01",
    "vorbis": b"\x01vorbis\x00\x00\x00\x00\x01\x44\xac\x00\x00",
}


@dataclass(frozen=True, slots=True)
class Placed:
    """A file's bytes and where its payload is: file offsets ``[start, end)``, and seconds
    when the payload is samples."""

    data: bytes
    byte_range: tuple[int, int] | None
    time_range: tuple[float, float] | None = None
    extra: dict[str, object] = field(default_factory=dict)


# --- data in the samples -------------------------------------------------------------------------


def splice_into_wav(track: np.ndarray, rate: int, subtype: str, data: bytes, at: int) -> Placed:
    """``data`` inserted raw into the sample data of ``track`` (float (frames, channels))
    written as a ``subtype`` WAV, at frame ``at``; ``data`` is cut to whole frames."""
    blob = wav_bytes(track, rate, subtype)
    chunk = next(c for c in threats.riff_chunks(blob) if c.chunk_id == b"data")
    frame_bytes = chunk.size // max(1, track.shape[0])
    insert = data[: len(data) - len(data) % frame_bytes]
    start = chunk.data_offset + at * frame_bytes
    end = chunk.data_offset + chunk.size
    size = chunk.size + len(insert)
    # the data chunk's pad byte (RIFF chunks are word-aligned) follows its new size
    body = blob[:start] + insert + blob[start:end] + (b"\x00" if size & 1 else b"")
    out = bytearray(body + blob[end + (chunk.size & 1) :])
    struct.pack_into("<I", out, 4, len(out) - 8)
    struct.pack_into("<I", out, chunk.offset + 4, size)
    frames = len(insert) // frame_bytes
    return Placed(bytes(out), (start, start + len(insert)), (at / rate, (at + frames) / rate))


def held_steps(data: bytes, hold: int, n: int) -> np.ndarray:
    """The bytes of ``data`` each repeated ``hold`` times, cut or cycled to ``n`` values."""
    raw = np.frombuffer(data, dtype=np.uint8)
    return np.resize(np.repeat(raw, hold), n)


def sorted_ramp(data: bytes, block: int, alternate: bool) -> np.ndarray:
    """The bytes of ``data`` sorted ascending in blocks of ``block`` (every other block
    descending when ``alternate``): a ramp of data values."""
    raw = np.frombuffer(data, dtype=np.uint8).copy()
    for i, start in enumerate(range(0, raw.size, block)):
        part = np.sort(raw[start : start + block])
        raw[start : start + block] = part[::-1] if alternate and i % 2 else part
    return raw


def as_top_byte_samples(values: np.ndarray) -> np.ndarray:
    """Byte values as float samples whose top byte is the value minus 128 (full scale)."""
    return (values.astype(np.float64) - 128.0) / 128.0


def into_track(
    track: np.ndarray, inserted: np.ndarray, at: int, rate: int
) -> tuple[np.ndarray, tuple[float, float]]:
    """``inserted`` (frames, channels) put into ``track`` at frame ``at``; the time range."""
    out = np.concatenate([track[:at], inserted, track[at:]])
    return out, (at / rate, (at + inserted.shape[0]) / rate)


def embed_low_bit(values: np.ndarray, payload: bytes, share: float) -> np.ndarray:
    """Bit 0 of the first ``share`` of the interleaved samples (right-justified integers of any
    width) replaced by the bits of ``payload`` (cycled), little-endian bit order."""
    flat = values.reshape(-1).astype(np.int64).copy()
    count = round(share * flat.size)
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")
    flat[:count] = (flat[:count] & ~1) | np.resize(bits, count).astype(np.int64)
    return flat.reshape(values.shape)


# --- container: Ogg ------------------------------------------------------------------------------


def ogg_serials(ogg: bytes) -> list[int]:
    """The serial numbers of the logical streams of an Ogg file, in order of their BOS page."""
    from mutagen.ogg import OggPage

    buf = io.BytesIO(ogg)
    serials: list[int] = []
    while buf.tell() < len(ogg):
        try:
            page = OggPage(buf)  # type: ignore[no-untyped-call]
        except Exception:
            break
        if page.first and page.serial not in serials:
            serials.append(page.serial)
    return serials


def add_ogg_stream(
    ogg: bytes, payload: bytes, *, mode: OggMode, codec: str = "unknown", serial: int = 0x5EC0
) -> Placed:
    """A second logical stream carrying ``payload`` (in 4 KiB packets after a codec header
    packet, :data:`OGG_STREAM_CODECS`): ``chained`` after the first stream's EOS, or
    ``multiplexed`` (its BOS page after the first stream's, its data pages interleaved with the
    first stream's audio pages; RFC 3533 section 4). Pages carry real CRCs (mutagen)."""
    from mutagen.ogg import OggPage

    buf = io.BytesIO(ogg)
    pages = []
    while buf.tell() < len(ogg):
        pages.append(OggPage(buf))  # type: ignore[no-untyped-call]
    packets = [OGG_STREAM_CODECS[codec]] + [
        payload[i : i + 4096] for i in range(0, len(payload), 4096)
    ]
    extra = OggPage.from_packets(packets, sequence=0, default_size=4096, wiggle_room=0)  # type: ignore[no-untyped-call]
    for i, page in enumerate(extra):
        page.serial = serial
        page.position = i
        page.first = i == 0
        page.last = i == len(extra) - 1
    if mode == "chained":
        order = [*pages, *extra]
    else:
        bos = [p for p in pages if p.first]
        rest = [p for p in pages if not p.first]
        order = [*bos, extra[0]]
        step = max(1, len(rest) // max(1, len(extra) - 1))
        tail = list(extra[1:])
        for i, page in enumerate(rest):
            order.append(page)
            if tail and i % step == step - 1 and i < len(rest) - 1:
                order.append(tail.pop(0))
        order.extend(tail)
        # the first stream's EOS page stays last of its stream; ours may follow it
    out = bytearray()
    start = end = -1
    for page in order:
        blob = page.write()
        if page.serial == serial and start < 0:
            start = len(out)
        out += blob
        if page.serial == serial:
            end = len(out)
    return Placed(bytes(out), (start, end), extra={"ogg_streams": 2, "ogg_mode": mode})


# --- container: tags -----------------------------------------------------------------------------

Id3Binary = Literal["priv", "geob", "priv_average_level"]


def add_id3_binary(mp3: bytes, payload: bytes, *, how: Id3Binary) -> Placed:
    """An ID3v2.4 tag (mutagen) on ``mp3`` whose PRIV or GEOB frame holds ``payload``.

    ``priv_average_level`` is the PRIV frame Windows Media Player writes with owner
    ``AverageLevel``, which by its writer's spec holds a 4-byte DWORD, holding ``payload``.
    """
    from mutagen.id3 import GEOB, ID3, PRIV, TIT2

    tags = ID3()  # type: ignore[no-untyped-call]
    tags.add(TIT2(encoding=3, text=["Untitled"]))  # type: ignore[no-untyped-call]
    frame: GEOB | PRIV
    if how == "geob":
        mime = "application/octet-stream"
        frame = GEOB(encoding=0, mime=mime, filename="data.bin", desc="", data=payload)  # type: ignore[no-untyped-call]
    else:
        owner = "AverageLevel" if how == "priv_average_level" else "com.example.sync"
        frame = PRIV(owner=owner, data=payload)  # type: ignore[no-untyped-call]
    tags.add(frame)  # type: ignore[no-untyped-call]
    buf = io.BytesIO(mp3)
    tags.save(buf)
    out = buf.getvalue()
    at = out.find(payload[:64])
    return Placed(out, (at, at + len(payload)))


def add_apev2_binary(mp3: bytes, payload: bytes, *, key: str) -> Placed:
    """An APEv2 tag (mutagen, at the end of the file) whose binary item ``key`` is ``payload``
    (a ``Cover Art (Front)`` item gets the file-name prefix the de facto spec gives it)."""
    from mutagen.apev2 import APEv2, APEValue

    body = (b"cover.jpg\x00" + payload) if key.startswith("Cover Art") else payload
    tags = APEv2()  # type: ignore[no-untyped-call]
    tags[key] = APEValue(body, 1)  # type: ignore[no-untyped-call]  # 1: binary
    buf = io.BytesIO(mp3)
    tags.save(buf)
    out = buf.getvalue()
    at = out.find(payload[:64])
    return Placed(out, (at, at + len(payload)))


def list_info_base64(wav: bytes, binary: bytes, *, field: bytes = b"ICMT") -> Placed:
    """A LIST/INFO chunk whose text ``field`` is the base64 of ``binary``."""
    text = base64.b64encode(binary)
    out = threats.add_list_info(wav, text, field=field)
    at = out.find(text[:64])
    return Placed(out, (at, at + len(text)))


# --- container: lengths --------------------------------------------------------------------------


def understate_flac_count(flac: bytes, claimed: int) -> bytes:
    """STREAMINFO's total-samples field (36 bits; FLAC format, METADATA_BLOCK_STREAMINFO) set
    to ``claimed``; every frame stays in the file."""
    offset, btype, _length, _last = threats.flac_blocks(flac)[0]
    if btype != 0:
        raise ValueError("the first FLAC block is not STREAMINFO")
    at = offset + 4 + 10  # rate(20) channels(3) bps(5) total(36) as one big-endian 64-bit word
    (word,) = struct.unpack_from(">Q", flac, at)
    word = (word & ~((1 << 36) - 1)) | (claimed & ((1 << 36) - 1))
    out = bytearray(flac)
    struct.pack_into(">Q", out, at, word)
    return bytes(out)


def _crc_table(poly: int, width: int) -> list[int]:
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & top else (crc << 1)
        table.append(crc & mask)
    return table


_CRC8, _CRC16 = _crc_table(0x07, 8), _crc_table(0x8005, 16)
_FLAC_RATE_CODES = {8000: 0b0100, 16000: 0b0101, 22050: 0b0110, 44100: 0b1001, 48000: 0b1010}


def _crc8(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = _CRC8[crc ^ b]
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ b]
    return crc


def silent_flac(seconds: float, rate: int, channels: int = 1) -> bytes:
    """A FLAC of ``seconds`` of digital silence whose STREAMINFO says the length is unknown
    (total samples 0): 4096-sample frames of one CONSTANT subframe per channel, a few bytes each,
    so ten hours fit in a few megabytes (FLAC format, sections 9.1-9.3)."""
    if rate not in _FLAC_RATE_CODES or channels not in (1, 2):
        raise ValueError(f"no frame header code for {rate} Hz x {channels}")
    block = 4096
    info = struct.pack(">HH", block, block) + bytes(6)  # frame sizes 0: unknown
    word = (rate << 44) | ((channels - 1) << 41) | (15 << 36)  # 16 bits/sample, 0 samples
    streaminfo = info + struct.pack(">Q", word) + bytes(16)  # MD5 0: not computed
    out = bytearray(b"fLaC" + bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo)
    fixed = bytes(
        [0xFF, 0xF8, (0b1100 << 4) | _FLAC_RATE_CODES[rate], ((channels - 1) << 4) | 0b1000]
    )
    subframes = b"\x00\x00\x00" * channels  # CONSTANT subframe, value 0 (16 bits)
    for n in range(int(seconds * rate) // block):
        header = fixed + chr(n).encode("utf-8", "surrogatepass")
        frame = header + bytes([_crc8(header)]) + subframes
        out += frame + _crc16(frame).to_bytes(2, "big")
    return bytes(out)


def truncate(data: bytes, keep: int) -> bytes:
    """The first ``keep`` bytes: an upload that stopped early."""
    return data[: max(0, min(keep, len(data)))]
