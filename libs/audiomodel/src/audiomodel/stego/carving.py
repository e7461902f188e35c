"""Carving: payloads with a recognisable head, read back out of the low bit planes.

As zsteg does for pictures: from the first ``carve_bytes`` of capacity, byte streams are built
from the low bit plane(s): 1 and 2 low bits; channels interleaved in file order and each of the
first 8 channels alone; bytes packed LSB-first and MSB-first (the layouts of the WAV loaders
Turla and BlackBerry Cylance described in 2019, which the corpus builder's ``stego_embed``
writes). Each stream is searched for file signatures confirmed by the fields that follow them,
a 4-byte little- or big-endian length prefix followed by a recognised payload, and runs of
text, script, base64 or hex. A hit is ``stego.lsb_payload`` (the three best, executables
first). Carving finds any payload with a recognisable head, at any embedded fraction, with
essentially no false flags; it cannot see encrypted or headerless payloads, payloads that start
at a sample index that is not a multiple of 8 / ``bits``, or other layouts (a keyed, scattered
order).

An encrypted payload has no head, but its loader must know where it ends: a 4-byte length
(either byte order) that fits the capacity, followed by bytes that pass a uniformity check, is
``stego.lsb_length_header``. Random low bits spell such a length with chance C / 2**32 per
reading (C the capacity in bytes), so the test runs only while all readings together stay
under 1e-3 (short files, where the statistics have too few samples), and only when the
header's carriers are loud: a file opening in silence or a fade spells small numbers by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from audiomodel.findings import Finding, finding
from audiomodel.payload import (
    PayloadKind,
    byte_entropy,
    confirm_signature,
    find_signatures,
    identify_payload,
)
from audiomodel.stego.kernels import has_aligned_run, pack_low_bits

__all__ = ["BitOrder", "carve"]

_MAX_CARVE_CHANNELS = 8
_MIN_TEXT = 32  # printable run worth reporting (a random byte is printable with p = 0.38)
_MIN_PREFIXED_TEXT = 12
# A length header before random-looking bytes (what an encrypted payload needs: its loader must
# know where it ends). Random low bits spell a length that fits a capacity of C bytes with
# chance C / 2**32 per reading, so the test only runs where all its readings together stay
# under _HEADER_CHANCE: short files, where the statistics have too few samples.
_HEADER_MIN = 256  # shortest body a header may announce
_HEADER_CHANCE = 1e-3
_RANDOM_CHUNK = 256  # bytes per uniformity check
_RANDOM_CHUNKS = 16  # chunks checked from the start of the body
_MAX_FINDINGS = 3
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
_WORDISH = np.zeros(256, dtype=bool)
for _lo, _hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)):
    _WORDISH[_lo : _hi + 1] = True
_WORDISH[[0x20, 0x0A]] = True
# Bytes made of one 2-bit group repeated, or of two equal nibbles: what the low bits of a slowly
# varying signal pack into (0x55 "U", 0x33 "3", 0x66 "f", ...).
_PATTERNED = np.array(
    [(b >> 4) == (b & 15) or len({(b >> s) & 3 for s in (0, 2, 4, 6)}) == 1 for b in range(256)]
)
_BASE64 = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}")
_HEX = re.compile(rb"[0-9a-fA-F]{64,}")
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[0x20, 0x09, 0x0A, 0x0D]] = True
_KIND_RANK = {
    PayloadKind.EXECUTABLE: 0,
    PayloadKind.ARCHIVE: 1,
    PayloadKind.SCRIPT: 2,
    PayloadKind.DOCUMENT: 3,
    PayloadKind.IMAGE: 4,
    PayloadKind.AUDIO: 5,
    PayloadKind.TEXT: 6,
}

BitOrder = Literal["lsb_first", "msb_first"]
_ORDERS: tuple[BitOrder, ...] = ("lsb_first", "msb_first")


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: PayloadKind
    name: str
    byte_offset: int
    prefix: str  # "le", "be" or "none"
    payload_bytes: int  # from the length prefix, else 0
    preview: str


def _printable_preview(data: bytes, limit: int = 40) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[:limit])


def _text_hits(stream: npt.NDArray[np.uint8], data: bytes, min_len: int) -> list[_Hit]:
    """Runs of printable bytes that read like prose, code or base64 (not a repeated pattern)."""
    # A run of 2k - 1 or more bytes holds an aligned block of k: no such block, no run (the
    # usual case for low bits of sound, checked without finding every run).
    k = max(1, (min_len + 1) // 2)
    if not has_aligned_run(stream, _PRINTABLE, k):
        return []
    mask = _PRINTABLE[stream]
    edges = np.flatnonzero(np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    keep = (ends - starts) >= min_len
    hits: list[_Hit] = []
    for start, end in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
        hit = _judge_text(stream[start:end], data[start:end], start)
        if hit is not None:
            hits.append(hit)
    return hits


def _judge_text(
    run: npt.NDArray[np.uint8], text: bytes, offset: int, *, min_distinct: int = 10
) -> _Hit | None:
    """Text if ``run`` reads like prose, code or base64/hex rather than a slowly varying signal.

    The low bits of a quiet, smooth passage pack into printable but patterned bytes
    ("UUUUefffwwww3333", or letters from a narrow range such as "eWUdpEeuWvTgTVwV"): runs of
    one byte, bytes made of one repeated 2-bit group, few distinct characters, no spaces.
    Prose and code have spaces between words; base64 uses most of its 64 symbols.
    """
    if np.unique(run).size < min_distinct or _WORDISH[run].mean() < 0.7 or byte_entropy(run) < 2.8:
        return None
    repeats = (run[1:] == run[:-1]) & (run[1:] != 0x20)
    if repeats.mean() > 0.1 or _PATTERNED[run].mean() > 0.2:
        return None
    if _WHITESPACE[run].mean() >= 0.05:
        guess = identify_payload(text)
        if guess.kind == PayloadKind.SCRIPT:
            return _Hit(PayloadKind.SCRIPT, guess.name, offset, "none", 0, _printable_preview(text))
        return _Hit(PayloadKind.TEXT, "text", offset, "none", 0, _printable_preview(text))
    for pattern, name, distinct in ((_BASE64, "base64", 24), (_HEX, "hex", 12)):
        for match in pattern.finditer(text):
            chunk = match.group()
            classes = sum(
                any(lo <= c <= hi for c in chunk)
                for lo, hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A))
            )
            if len(set(chunk)) >= distinct and classes >= 2:
                where = offset + match.start()
                return _Hit(
                    PayloadKind.TEXT,
                    name,
                    where,
                    "none",
                    0,
                    _printable_preview(chunk),
                )
    return None


def _signature_hits(data: bytes) -> list[_Hit]:
    hits: list[_Hit] = []
    head = identify_payload(data[:4096])
    if (
        head.kind in _KIND_RANK
        and head.kind != PayloadKind.TEXT
        and confirm_signature(head.name, data, 0)
    ):
        hits.append(_Hit(head.kind, head.name, 0, "none", 0, _printable_preview(data[:16])))
    for offset, name, kind in find_signatures(data, limit=64):
        if offset and confirm_signature(name, data, offset):
            hits.append(
                _Hit(kind, name, offset, "none", 0, _printable_preview(data[offset : offset + 16]))
            )
    return hits


def _length_fields(head: bytes) -> tuple[tuple[int, str], tuple[int, str]]:
    """The first 4 bytes read as a length, little- and big-endian, with their labels."""
    return (int.from_bytes(head[:4], "little"), "le"), (int.from_bytes(head[:4], "big"), "be")


def _prefixed_hits(stream: npt.NDArray[np.uint8], data: bytes, capacity: int) -> list[_Hit]:
    """A 4-byte length that fits the capacity, followed by a recognised payload."""
    hits: list[_Hit] = []
    if len(data) < 8:
        return hits
    for size, label in _length_fields(data):
        if not 8 <= size <= capacity - 4:
            continue
        body = data[4 : 4 + size]
        guess = identify_payload(body[:4096])
        if (
            guess.kind in _KIND_RANK
            and guess.kind != PayloadKind.TEXT
            and confirm_signature(guess.name, body, 0)
        ):
            hits.append(_Hit(guess.kind, guess.name, 4, label, size, _printable_preview(body[:16])))
            continue
        run = stream[4 : 4 + size]
        printable = _PRINTABLE[run]
        need = min(size, run.size)
        if need >= _MIN_PREFIXED_TEXT and printable[:need].all():
            text = _judge_text(run[:need], body[:need], 4, min_distinct=min(8, need // 2))
            if text is not None:
                hits.append(_Hit(text.kind, text.name, 4, label, size, text.preview))
    return hits


def _length_header(
    stream: npt.NDArray[np.uint8], capacity: int, carriers: npt.NDArray[np.uint8], bits: int
) -> tuple[str, int] | None:
    """A 4-byte length that fits ``capacity``, followed by bytes that look uniformly random.

    The chance bound assumes the header's bits would be random in a clean file, which holds
    only where its carriers are loud: the bits above the ``bits`` used must vary (at least
    half of them distinct). A file that opens in silence or a fade spells small numbers in
    its low bits (zeros, then a few ones) and is not tested.
    """
    above = carriers[: 32 // bits] >> bits
    if np.unique(above).size < above.size // 2:
        return None
    for size, label in _length_fields(stream[:4].tobytes()):
        body = stream[4 : 4 + size]
        # Up to the whole capacity: an embedder may announce more than fits and cut the rest.
        if _HEADER_MIN <= size <= capacity and body.size >= _HEADER_MIN and _looks_random(body):
            return label, size
    return None


def _looks_random(body: npt.NDArray[np.uint8]) -> bool:
    """Every 256-byte chunk of the body's first 4 KiB looks like uniform random bytes.

    Low bits of quiet or slowly varying sound fail this (runs of equal bits, a few repeated
    byte values); loud sound and random payloads pass. Bounds are ~5 sigma for random bytes.
    """
    chunks = min(body.size // _RANDOM_CHUNK, _RANDOM_CHUNKS)
    rows = body[: chunks * _RANDOM_CHUNK].reshape(chunks, _RANDOM_CHUNK)
    # 2048 bits a row: mean 1024, sigma 22.6 (signed: an unsigned sum would wrap below 1024).
    ones = np.unpackbits(rows, axis=1).sum(axis=1, dtype=np.int64)
    if np.any(np.abs(ones - 1024) > 113):
        return False
    # Each value turns up about once in 256 random bytes; 9 or more times has p ~ 1e-6 each.
    counts = np.zeros((chunks, 256), dtype=np.int32)
    np.add.at(counts, (np.arange(chunks)[:, None], rows), 1)
    return bool(counts.max() <= 8)


def _pack_stream(
    low: npt.NDArray[np.uint8], bits: int, order: BitOrder, n_bytes: int
) -> npt.NDArray[np.uint8]:
    """Bytes carried by the low ``bits`` of ``low`` (carrier order), as the embedder packs them."""
    if bits == 1:
        carriers = low[: n_bytes * 8] & 1
        return np.packbits(carriers, bitorder="little" if order == "lsb_first" else "big")
    crumbs = (low[: (low.size // 4) * 4][: n_bytes * 4] & 3).reshape(-1, 4)
    shifts = (0, 2, 4, 6) if order == "lsb_first" else (6, 4, 2, 0)
    packed = (crumbs[:, 0] << shifts[0]).astype(np.uint8, copy=False)
    for column in (1, 2, 3):
        packed |= crumbs[:, column] << shifts[column]
    return packed


def _pack_streams(
    low: npt.NDArray[np.uint8], bits: int, n_bytes: int
) -> tuple[npt.NDArray[np.uint8], ...]:
    """:func:`_pack_stream` in each of ``_ORDERS``, both in one compiled pass over ``low``
    (any stride: a channel's column is read where it lies)."""
    lsb, msb = pack_low_bits(low, bits, n_bytes)
    return lsb, msb


def carve(
    low: npt.NDArray[np.uint8], frames: int, channels: int, carve_bytes: int
) -> tuple[list[Finding], dict[str, float]]:
    """Search every stream layout in the buffered low bits ``low`` (frames, channels)."""
    layouts: list[tuple[str, npt.NDArray[np.uint8], int]] = [
        ("interleaved", low.reshape(-1), frames * channels)
    ]
    if channels > 1:
        layouts += [
            (str(ch), low[:, ch], frames) for ch in range(min(channels, _MAX_CARVE_CHANNELS))
        ]
    found: list[tuple[_Hit, int, str, str]] = []
    headers: list[tuple[_Hit, int, str, str]] = []
    streams = 0
    chance = 0.0  # that a clean file's random low bits spell a fitting length somewhere
    for channel, carriers, total_carriers in layouts:
        for bits in (1, 2):
            capacity = total_carriers * bits // 8
            streams_by_order = _pack_streams(carriers, bits, carve_bytes)
            for order, stream in zip(_ORDERS, streams_by_order, strict=True):
                if stream.size < 8:
                    continue
                streams += 1
                data = stream.tobytes()
                hits = (
                    _prefixed_hits(stream, data, capacity)
                    + _signature_hits(data)
                    + _text_hits(stream, data, _MIN_TEXT)
                )
                if hits:
                    best = min(
                        hits, key=lambda h: (_KIND_RANK[h.kind], h.prefix == "none", h.byte_offset)
                    )
                    found.append((best, bits, order, channel))
                chance += 2 * max(capacity - _HEADER_MIN, 0) / 2**32  # both byte orders
                if not hits and (header := _length_header(stream, capacity, carriers, bits)):
                    prefix, size = header
                    hit = _Hit(PayloadKind.HIGH_ENTROPY, "random", 4, prefix, size, "")
                    headers.append((hit, bits, order, channel))
    header_findings = (
        [_header_finding(*headers[0], chance=chance)]
        if headers and not found and chance <= _HEADER_CHANCE
        else []
    )
    found.sort(key=lambda f: (_KIND_RANK[f[0].kind], f[0].prefix == "none", f[0].byte_offset))
    findings = [
        _payload_finding(hit, bits, order, channel)
        for hit, bits, order, channel in found[:_MAX_FINDINGS]
    ]
    return findings + header_findings, {
        "carve_streams": float(streams),
        "carve_hits": float(len(found)),
    }


def _header_finding(hit: _Hit, bits: int, order: str, channel: str, *, chance: float) -> Finding:
    where = "all channels interleaved" if channel == "interleaved" else f"channel {channel}"
    return finding(
        "stego.lsb_length_header",
        f"The low {bits} bit(s) of {where}, read {order.replace('_', '-')}, open with a "
        f"{hit.payload_bytes}-byte length ({hit.prefix.upper()}) that fits the file, followed "
        f"by random-looking bytes: the layout of an encrypted hidden payload (a clean file "
        f"shows this by chance with p < {chance:.1g}).",
        stream=f"b{bits},{order},{channel}",
        bits=bits,
        bit_order=order,
        channel=channel,
        length_prefix=hit.prefix,
        payload_bytes=hit.payload_bytes,
        chance=float(f"{chance:.3g}"),
    )


def _payload_finding(hit: _Hit, bits: int, order: str, channel: str) -> Finding:
    where = "all channels interleaved" if channel == "interleaved" else f"channel {channel}"
    size = (
        f", a {hit.payload_bytes}-byte length prefix ({hit.prefix.upper()})"
        if hit.prefix != "none"
        else ""
    )
    message = (
        f"The low {bits} bit(s) of {where}, read {order.replace('_', '-')}, hold {hit.kind} data "
        f"({hit.name}) at byte {hit.byte_offset}{size}."
    )
    return finding(
        "stego.lsb_payload",
        message,
        stream=f"b{bits},{order},{channel}",
        bits=bits,
        bit_order=order,
        channel=channel,
        found=hit.name,
        kind=str(hit.kind),
        byte_offset=hit.byte_offset,
        sample_offset=hit.byte_offset * 8 // bits,
        length_prefix=hit.prefix,
        payload_bytes=hit.payload_bytes,  # from the length prefix; 0 without one
        preview=hit.preview,
    )
