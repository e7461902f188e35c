"""The CRCs the containers carry: CRC-32 of Ogg pages, CRC-8 and CRC-16 of FLAC frames."""

from __future__ import annotations

import zlib
from typing import Final

_BIT_REVERSE: Final = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """CRC-32 of RFC 3533 (poly 0x04C11DB7, MSB first, init 0, no final xor), at zlib speed.

    zlib computes the bit-reflected CRC of the same polynomial; reflecting every input byte and
    the result gives the MSB-first CRC, and zlib's init/xor of 0xFFFFFFFF is undone by starting
    from 0xFFFFFFFF and inverting the result.
    """
    raw = ~zlib.crc32(data.translate(_BIT_REVERSE), 0xFFFFFFFF) & 0xFFFFFFFF
    return int.from_bytes(raw.to_bytes(4, "little").translate(_BIT_REVERSE), "big")


def _crc_table(poly: int, width: int) -> tuple[int, ...]:
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & top else (crc << 1)
        table.append(crc & mask)
    return tuple(table)


_CRC8: Final = _crc_table(0x07, 8)
_CRC16: Final = _crc_table(0x8005, 16)


def crc8(data: bytes) -> int:
    """CRC-8 of a FLAC frame header (poly 0x07, init 0)."""
    crc = 0
    for b in data:
        crc = _CRC8[crc ^ b]
    return crc


def crc16(data: bytes) -> int:
    """CRC-16 of a FLAC frame (poly 0x8005, init 0); 0 over a frame that ends in its CRC."""
    # Only ever run over one FLAC frame (bounded by STREAMINFO's max frame size), never a file.
    crc = 0
    table = _CRC16
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ b]
    return crc
