"""FLAC's own structures (RFC 9639): STREAMINFO, frame headers, and the length of a frame.

Only what placing the end of the audio needs is read: a frame header is checked against
STREAMINFO and its CRC-8, and a frame's length is found by following the bit lengths of its
subframes; no sample is reconstructed.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from audiomodel.container.checksums import crc8


class FlacInfo(NamedTuple):
    """The STREAMINFO fields the walk uses."""

    min_block: int
    max_block: int
    max_frame: int
    sample_rate: int
    channels: int
    bits: int
    total: int


class FlacFrame(NamedTuple):
    """A checked frame header: where it is and what it says."""

    offset: int
    header_len: int
    block_size: int
    first_sample: int
    variable: bool
    channel_code: int
    bits: int


_FLAC_RATES: Final = (
    0,
    88200,
    176400,
    192000,
    8000,
    16000,
    22050,
    24000,
    32000,
    44100,
    48000,
    96000,
)
_FLAC_BITS: Final = (0, 8, 12, 0, 16, 20, 24, 32)


def frame_header(buf: bytes, i: int, info: FlacInfo, base: int) -> FlacFrame | None:
    """Parse and check a frame header at ``buf[i:]`` against STREAMINFO (CRC-8 verified)."""
    if i + 6 > len(buf) or buf[i] != 0xFF or buf[i + 1] & 0xFE != 0xF8:
        return None
    variable = bool(buf[i + 1] & 1)
    bs_code, rate_code = buf[i + 2] >> 4, buf[i + 2] & 15
    ch_code, size_code = buf[i + 3] >> 4, (buf[i + 3] >> 1) & 7
    if bs_code == 0 or rate_code == 15 or ch_code > 10 or size_code == 3 or buf[i + 3] & 1:
        return None
    j = i + 4
    lead = buf[j]
    if lead < 0x80:
        number, extra = lead, 0
    elif 0xC0 <= lead < 0xFE:
        extra = 1
        while lead & (0x40 >> extra):
            extra += 1
        number = lead & (0x3F >> extra)
    elif lead == 0xFE and variable:
        number, extra = 0, 6
    else:
        return None
    if j + 1 + extra > len(buf):
        return None
    for c in buf[j + 1 : j + 1 + extra]:
        if c & 0xC0 != 0x80:
            return None
        number = (number << 6) | (c & 0x3F)
    j += 1 + extra
    if bs_code == 1:
        block = 192
    elif bs_code <= 5:
        block = 576 << (bs_code - 2)
    elif bs_code == 6:
        if j >= len(buf):
            return None
        block, j = buf[j] + 1, j + 1
    elif bs_code == 7:
        if j + 2 > len(buf):
            return None
        block, j = int.from_bytes(buf[j : j + 2], "big") + 1, j + 2
    else:
        block = 256 << (bs_code - 8)
    rate = _FLAC_RATES[rate_code] if rate_code < 12 else -1
    if rate_code == 12 and j < len(buf):
        rate, j = buf[j] * 1000, j + 1
    elif rate_code in (13, 14) and j + 2 <= len(buf):
        rate = int.from_bytes(buf[j : j + 2], "big") * (1 if rate_code == 13 else 10)
        j += 2
    if j >= len(buf) or crc8(buf[i:j]) != buf[j]:
        return None
    # Consistency with STREAMINFO: a header-shaped accident in other data fails these.
    channels = ch_code + 1 if ch_code < 8 else 2
    bits = _FLAC_BITS[size_code] or info.bits
    if channels != info.channels or bits != info.bits or rate not in (0, info.sample_rate):
        return None
    if info.max_block >= 16 and block > info.max_block:
        return None
    first = number if variable else number * (info.max_block or block)
    return FlacFrame(base + i, j + 1 - i, block, first, variable, ch_code, bits)


class _FrameEndError(Exception):
    """A frame walk ran out of bytes or met a malformed field (internal)."""


def frame_length(frame: bytes, hdr: FlacFrame) -> int | None:
    """Length of a FLAC frame (header to CRC-16 inclusive), by walking its subframes.

    Only the bit lengths are followed; no sample is reconstructed. ``None`` if ``frame`` ends
    first or the subframes are malformed.
    """
    nbytes = len(frame)
    nbits = nbytes * 8
    pos = hdr.header_len * 8

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > nbits:
            raise _FrameEndError
        first, last = pos >> 3, (pos + n + 7) >> 3
        value = int.from_bytes(frame[first:last], "big")
        value = (value >> ((last << 3) - pos - n)) & ((1 << n) - 1)
        pos += n
        return value

    def skip(n: int) -> None:
        nonlocal pos
        pos += n
        if pos > nbits:
            raise _FrameEndError

    def unary() -> int:
        nonlocal pos
        i = pos >> 3
        if i >= nbytes:
            raise _FrameEndError
        b = frame[i] & (0xFF >> (pos & 7))
        while b == 0:
            i += 1
            if i >= nbytes:
                raise _FrameEndError
            b = frame[i]
        one = (i << 3) + 8 - b.bit_length()
        count = one - pos
        pos = one + 1
        return count

    def residual(order: int) -> None:
        nonlocal pos
        method = read(2)
        if method > 1:
            raise _FrameEndError
        param_bits, escape = (4, 15) if method == 0 else (5, 31)
        part_order = read(4)
        per_part = hdr.block_size >> part_order
        if hdr.block_size % (1 << part_order) or per_part < order:
            raise _FrameEndError
        for part in range(1 << part_order):
            n = per_part - (order if part == 0 else 0)
            k = read(param_bits)
            if k == escape:
                skip(read(5) * n)
                continue
            # Rice codes: a unary quotient then k bits. Only this last frame of the file is walked,
            # to place its end exactly; inlined for speed.
            p = pos
            for _ in range(n):
                i = p >> 3
                if i >= nbytes:
                    raise _FrameEndError
                b = frame[i] & (0xFF >> (p & 7))
                while b == 0:
                    i += 1
                    if i >= nbytes:
                        raise _FrameEndError
                    b = frame[i]
                p = (i << 3) + 9 - b.bit_length() + k
            pos = p
            if pos > nbits:
                raise _FrameEndError

    channels = hdr.channel_code + 1 if hdr.channel_code < 8 else 2
    side = {8: 1, 9: 0, 10: 1}.get(hdr.channel_code, -1)
    try:
        for ch in range(channels):
            bits = hdr.bits + (1 if ch == side else 0)
            if read(1):
                return None
            kind = read(6)
            if read(1):
                bits -= unary() + 1
            if bits <= 0:
                return None
            if kind == 0:
                skip(bits)
            elif kind == 1:
                skip(bits * hdr.block_size)
            elif 8 <= kind <= 12:
                order = kind - 8
                skip(bits * order)
                residual(order)
            elif kind >= 32:
                order = kind - 31
                skip(bits * order)
                precision = read(4)
                if precision == 15:
                    return None
                skip(5 + (precision + 1) * order)
                residual(order)
            else:
                return None
    except _FrameEndError:
        return None
    end = ((pos + 7) >> 3) + 2
    return end if end <= nbytes else None


def streaminfo(raw: bytes) -> FlacInfo | None:
    """The STREAMINFO block whose 34-byte body is ``raw``; ``None`` if it is shorter."""
    if len(raw) < 34:
        return None
    min_block, max_block = struct.unpack(">HH", raw[:4])
    max_frame = int.from_bytes(raw[7:10], "big")
    x = int.from_bytes(raw[10:18], "big")
    return FlacInfo(
        min_block=min_block,
        max_block=max_block,
        max_frame=max_frame,
        sample_rate=x >> 44,
        channels=((x >> 41) & 7) + 1,
        bits=((x >> 36) & 31) + 1,
        total=x & ((1 << 36) - 1),
    )
