"""Where a picture really ends: the structure of the image formats cover art comes in, walked
to their own end markers (PNG chunks to ``IEND`` with their CRCs, JPEG segments and entropy-coded
data to ``EOI``, GIF blocks to the trailer, the RIFF size of WebP, the file size of BMP).

A picture field (ID3 ``APIC``, APEv2 ``Cover Art``, FLAC ``PICTURE``, ``METADATA_BLOCK_PICTURE``)
holds one image by its specification: bytes that do not parse as one, or that follow its end,
are not a picture. Pure functions over bytes; every read is bounded by ``len(data)``.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

__all__ = ["ImageExtent", "image_extent"]


class ImageExtent(NamedTuple):
    """An image found at the start of some bytes."""

    format: str
    """``png``, ``jpeg``, ``gif``, ``webp`` or ``bmp``."""
    end: int
    """Offset just past the image's end marker; -1 when its structure breaks or the bytes
    end before it does."""
    problem: str = ""
    """What broke, when ``end`` is -1."""


def image_extent(data: bytes) -> ImageExtent | None:
    """The format of the image ``data`` starts with and where it ends; ``None`` if it starts
    with no image signature at all."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data.startswith((b"GIF87a", b"GIF89a")):
        return _gif(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        end = 8 + int.from_bytes(data[4:8], "little")
        end += end & 1
        return ImageExtent("webp", end) if end <= len(data) else _broken("webp", "cut short")
    if data[:2] == b"BM" and len(data) >= 26 and data[6:10] == bytes(4):
        end = int.from_bytes(data[2:6], "little")
        offset = int.from_bytes(data[10:14], "little")
        if not 26 <= end <= len(data) or not 14 <= offset <= end:
            return _broken("bmp", "file size or pixel offset out of range")
        return ImageExtent("bmp", end)
    return None


def _broken(fmt: str, problem: str) -> ImageExtent:
    return ImageExtent(fmt, -1, problem)


def _png(data: bytes) -> ImageExtent:
    """PNG (ISO/IEC 15948): length, type, data, CRC-32 per chunk; IHDR first, IEND last."""
    pos, first = 8, True
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or not kind.isalpha() or end > len(data):
            return _broken("png", f"chunk at byte {pos} is malformed or cut short")
        if first and kind != b"IHDR":
            return _broken("png", "the first chunk is not IHDR")
        crc = zlib.crc32(data[pos + 4 : pos + 8 + length])
        if crc != int.from_bytes(data[pos + 8 + length : end], "big"):
            return _broken("png", f"chunk {kind.decode('ascii')} at byte {pos} fails its CRC")
        if kind == b"IEND":
            return ImageExtent("png", end)
        first, pos = False, end
    return _broken("png", "no IEND chunk")


# JPEG markers that stand alone (no length field): TEM, RSTn, SOI, EOI.
_JPEG_BARE = frozenset({0x01, *range(0xD0, 0xDA)})


def _jpeg(data: bytes) -> ImageExtent:
    """JPEG (ITU T.81): marker segments with 16-bit lengths; after SOS the entropy-coded data
    runs to the next marker that is not a stuffed ``FF00`` or a restart marker; ``EOI`` ends."""
    pos = 2
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:
            return _broken("jpeg", f"no marker at byte {pos}")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return ImageExtent("jpeg", pos)
        if marker in _JPEG_BARE:
            continue
        if pos + 2 > n:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:
            return _broken("jpeg", f"segment FF{marker:02X} at byte {pos - 2} has length {length}")
        pos += length
        if marker != 0xDA:
            continue
        # Entropy-coded data: FF is followed by 00 (stuffing) or a restart marker inside it.
        while True:
            at = data.find(b"\xff", pos)
            if at < 0 or at + 1 >= n:
                return _broken("jpeg", "cut short in the entropy-coded data")
            nxt = data[at + 1]
            if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                pos = at + 2
                continue
            if nxt == 0xFF:  # fill before a marker
                pos = at + 1
                continue
            pos = at
            break
    return _broken("jpeg", "cut short before EOI")


def _gif(data: bytes) -> ImageExtent:
    """GIF (87a/89a): screen descriptor, colour table, then image and extension blocks made of
    length-prefixed sub-blocks, to the ``;`` trailer."""
    n = len(data)
    if n < 13:
        return _broken("gif", "cut short in its screen descriptor")
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < n:
        block = data[pos]
        if block == 0x3B:
            return ImageExtent("gif", pos + 1)
        if block == 0x2C:
            if pos + 10 > n:
                break
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos += 1  # LZW minimum code size
        elif block == 0x21:
            pos += 2  # introducer, label
        else:
            return _broken("gif", f"unknown block 0x{block:02X} at byte {pos}")
        while pos < n and data[pos]:  # sub-blocks, to a zero length
            pos += 1 + data[pos]
        pos += 1
    return _broken("gif", "cut short before its trailer")
