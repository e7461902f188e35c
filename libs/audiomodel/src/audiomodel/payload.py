"""What a run of bytes looks like: a known file signature, text, or high-entropy data.

Used wherever the validator finds bytes that should not be there (after the audio, inside an
unknown chunk or an oversized tag, carved from the low bits of the samples).
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "EncodedRun",
    "PayloadGuess",
    "PayloadKind",
    "byte_entropy",
    "confirm_signature",
    "dangerous_payload",
    "encoded_runs",
    "find_signatures",
    "identify_payload",
    "looks_random",
    "printable_ratio",
]


class PayloadKind(StrEnum):
    EXECUTABLE = "executable"
    ARCHIVE = "archive"
    SCRIPT = "script"
    DOCUMENT = "document"
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"
    HIGH_ENTROPY = "high_entropy"
    PADDING = "padding"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    kind: PayloadKind
    magic: bytes
    offset: int = 0


# Magic numbers from the formats' own specifications (ELF gABI, PE/COFF, APPNOTE.TXT, RFC 1952, ...).
SIGNATURES: tuple[Signature, ...] = (
    Signature("elf", PayloadKind.EXECUTABLE, b"\x7fELF"),
    Signature("pe", PayloadKind.EXECUTABLE, b"MZ"),
    Signature("macho32", PayloadKind.EXECUTABLE, b"\xfe\xed\xfa\xce"),
    Signature("macho64", PayloadKind.EXECUTABLE, b"\xfe\xed\xfa\xcf"),
    Signature("macho32le", PayloadKind.EXECUTABLE, b"\xce\xfa\xed\xfe"),
    Signature("macho64le", PayloadKind.EXECUTABLE, b"\xcf\xfa\xed\xfe"),
    Signature("java_class", PayloadKind.EXECUTABLE, b"\xca\xfe\xba\xbe"),
    Signature("wasm", PayloadKind.EXECUTABLE, b"\x00asm"),
    Signature("dex", PayloadKind.EXECUTABLE, b"dex\n"),
    Signature("zip", PayloadKind.ARCHIVE, b"PK\x03\x04"),
    Signature("zip_empty", PayloadKind.ARCHIVE, b"PK\x05\x06"),
    Signature("gzip", PayloadKind.ARCHIVE, b"\x1f\x8b\x08"),
    Signature("bzip2", PayloadKind.ARCHIVE, b"BZh"),
    Signature("xz", PayloadKind.ARCHIVE, b"\xfd7zXZ\x00"),
    Signature("zstd", PayloadKind.ARCHIVE, b"\x28\xb5\x2f\xfd"),
    Signature("7z", PayloadKind.ARCHIVE, b"7z\xbc\xaf\x27\x1c"),
    Signature("rar", PayloadKind.ARCHIVE, b"Rar!\x1a\x07"),
    Signature("cab", PayloadKind.ARCHIVE, b"MSCF"),
    Signature("tar", PayloadKind.ARCHIVE, b"ustar", 257),
    Signature("lz4", PayloadKind.ARCHIVE, b"\x04\x22\x4d\x18"),
    Signature("shebang", PayloadKind.SCRIPT, b"#!/"),
    Signature("shebang_env", PayloadKind.SCRIPT, b"#! /"),
    Signature("pdf", PayloadKind.DOCUMENT, b"%PDF-"),
    Signature("ole2", PayloadKind.DOCUMENT, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    Signature("rtf", PayloadKind.DOCUMENT, b"{\\rtf"),
    Signature("png", PayloadKind.IMAGE, b"\x89PNG\r\n\x1a\n"),
    Signature("jpeg", PayloadKind.IMAGE, b"\xff\xd8\xff"),
    Signature("gif", PayloadKind.IMAGE, b"GIF8"),
    Signature("riff", PayloadKind.AUDIO, b"RIFF"),
    Signature("flac", PayloadKind.AUDIO, b"fLaC"),
    Signature("ogg", PayloadKind.AUDIO, b"OggS"),
    Signature("id3", PayloadKind.AUDIO, b"ID3"),
)

# Text that means code, wherever it appears in a text-like run (case-insensitive).
_SCRIPT_MARKERS = re.compile(
    rb"(#!/|<script|powershell|invoke-expression|iex\s*\(|frombase64string|cmd(\.exe)?\s*/c|"
    rb"/bin/(ba)?sh|curl\s+-|wget\s+http|eval\s*\(|exec\s*\(|import\s+os|__import__|"
    rb"subprocess|<\?php|function\s*\(|public\s+static|#include\s*<|def\s+\w+\s*\()",
    re.IGNORECASE,
)
# Base64 or hex runs of this length are data, not prose.
_ENCODED_RUN = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}|[0-9a-fA-F]{64,}")


def _first_byte_table() -> dict[int, dict[int, tuple[int, ...]]]:
    """The signatures (indices into SIGNATURES) by where they start, then by first byte."""
    table: dict[int, dict[int, tuple[int, ...]]] = {}
    for index, sig in enumerate(SIGNATURES):
        at = table.setdefault(sig.offset, {})
        at[sig.magic[0]] = (*at.get(sig.magic[0], ()), index)
    return table


_BY_FIRST_BYTE = _first_byte_table()
_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True


# What a carve reports as a payload (an executable, archive, script or document), not data
DANGEROUS_KINDS = frozenset(
    {PayloadKind.EXECUTABLE, PayloadKind.ARCHIVE, PayloadKind.SCRIPT, PayloadKind.DOCUMENT}
)


@dataclass(frozen=True, slots=True)
class PayloadGuess:
    """What a run of bytes most likely is."""

    kind: PayloadKind
    name: str
    entropy: float
    printable_ratio: float

    @property
    def is_dangerous(self) -> bool:
        return self.kind in DANGEROUS_KINDS


def byte_entropy(data: bytes | memoryview | np.ndarray) -> float:
    """Shannon entropy in bits per byte (0 for constant data, 8 for uniform random bytes)."""
    arr = (
        np.frombuffer(data, dtype=np.uint8)
        if not isinstance(data, np.ndarray)
        else data.view(np.uint8).ravel()
    )
    if arr.size == 0:
        return 0.0
    return _entropy_of(np.bincount(arr, minlength=256), arr.size)


def _entropy_of(counts: npt.NDArray[np.integer], size: int) -> float:
    """:func:`byte_entropy` from the byte values' counts (``size`` bytes, at least one)."""
    floats = counts.astype(np.float64)
    p = floats[floats > 0] / size
    return float(-(p * np.log2(p)).sum())


def printable_ratio(data: bytes | memoryview) -> float:
    arr = np.frombuffer(data, dtype=np.uint8)
    return float(_PRINTABLE[arr].mean()) if arr.size else 0.0


def _signature_at_start(data: bytes) -> Signature | None:
    # Only the signatures whose first byte is at its place are compared, in table order.
    candidates: list[int] = []
    for offset, by_byte in _BY_FIRST_BYTE.items():
        if len(data) > offset:
            candidates += by_byte.get(data[offset], ())
    for index in sorted(candidates):
        sig = SIGNATURES[index]
        if data.startswith(sig.magic, sig.offset):
            if sig.name == "pe" and not _looks_like_pe(data):
                continue
            return sig
    return None


def _looks_like_pe(data: bytes, at: int = 0) -> bool:
    """An ``MZ`` header at ``at`` whose e_lfanew points at ``PE\\0\\0`` (or a DOS stub with a sane
    header)."""
    if len(data) - at < 0x40:
        return False
    e_lfanew = int.from_bytes(data[at + 0x3C : at + 0x40], "little")
    if 0x40 <= e_lfanew <= len(data) - at - 4:
        return data[at + e_lfanew : at + e_lfanew + 4] == b"PE\x00\x00"
    return b"This program cannot be run in DOS mode" in data[at : at + 0x200]


def identify_payload(data: bytes | memoryview, *, sample_limit: int = 1 << 20) -> PayloadGuess:
    """Guess what ``data`` is from its first ``sample_limit`` bytes.

    Order of evidence: a file signature at the start, then script markers in text, then
    entropy (compressed or encrypted data sits above ~7.5 bits/byte), then the share of
    printable bytes. Runs of zero or 0xFF bytes are padding.
    """
    head = bytes(data[:sample_limit])
    if not head:
        return PayloadGuess(PayloadKind.UNKNOWN, "empty", 0.0, 0.0)
    # Both measures from one count of the byte values (the printable share is an exact count
    # over the size, as the mean of the printable flags is).
    counts = np.bincount(np.frombuffer(head, dtype=np.uint8), minlength=256)
    entropy = _entropy_of(counts, len(head))
    ratio = int(counts[_PRINTABLE].sum()) / len(head)
    sig = _signature_at_start(head)
    if sig is not None:
        return PayloadGuess(sig.kind, sig.name, entropy, ratio)
    if head.count(head[:1]) == len(head) and head[:1] in (b"\x00", b"\xff", b" "):
        return PayloadGuess(PayloadKind.PADDING, "padding", entropy, ratio)
    if ratio > 0.95:
        if _SCRIPT_MARKERS.search(head):
            return PayloadGuess(PayloadKind.SCRIPT, "script_text", entropy, ratio)
        if _ENCODED_RUN.search(head):
            return PayloadGuess(PayloadKind.TEXT, "encoded_text", entropy, ratio)
        return PayloadGuess(PayloadKind.TEXT, "text", entropy, ratio)
    if entropy > 7.5 and len(head) >= 256:
        return PayloadGuess(PayloadKind.HIGH_ENTROPY, "high_entropy", entropy, ratio)
    return PayloadGuess(PayloadKind.UNKNOWN, "binary", entropy, ratio)


def dangerous_payload(data: bytes) -> tuple[str, str, int]:
    """(kind, name, offset) of a dangerous file in ``data``: at its start by
    :func:`identify_payload`, else the first confirmed signature; ("", "", -1) when none."""
    guess = identify_payload(data)
    if guess.is_dangerous:
        return guess.kind.value, guess.name, 0
    for offset, name, kind in find_signatures(data):
        if kind in DANGEROUS_KINDS and confirm_signature(name, data, offset):
            return kind.value, name, offset
    return "", "", -1


# Signatures worth finding mid-stream: long and specific enough to mean something (4+ bytes),
# of dangerous kinds. ``MZ`` alone is too short: a PE is confirmed by its header.
_MID_STREAM = tuple(
    sig
    for sig in SIGNATURES
    if not sig.offset
    and len(sig.magic) >= 4
    and sig.kind in {PayloadKind.EXECUTABLE, PayloadKind.ARCHIVE, PayloadKind.DOCUMENT}
)
_PE = next(sig for sig in SIGNATURES if sig.name == "pe")
# Which two-byte prefixes (little-endian codes) start a signature: one table lookup per byte
# position finds the few candidate offsets, instead of one scan of the data per signature.
_PREFIX_CODES = np.array(
    [int.from_bytes(sig.magic[:2], "little") for sig in (*_MID_STREAM, _PE)], dtype=np.int64
)
_IS_PREFIX = np.zeros(1 << 16, dtype=bool)
_IS_PREFIX[_PREFIX_CODES] = True
_SEARCHED = (*_MID_STREAM, _PE)
# The signatures (indices into _SEARCHED) each two-byte prefix code starts.
_BY_PREFIX: dict[int, tuple[int, ...]] = {
    code: tuple(i for i, c in enumerate(_PREFIX_CODES.tolist()) if c == code)
    for code in set(_PREFIX_CODES.tolist())
}


@numba.njit(cache=True, nogil=True)
def _prefix_positions(
    data: npt.NDArray[np.uint8], is_prefix: npt.NDArray[np.bool_]
) -> npt.NDArray[np.intp]:
    """The positions ``i`` whose bytes ``data[i]``, ``data[i + 1]`` (as a little-endian code)
    are marked in ``is_prefix``, increasing: counted, then written (an array of the few found,
    not one as long as the data; the count's loads do not wait on each other)."""
    found = 0
    for i in range(data.size - 1):
        found += is_prefix[np.intp(data[i]) | (np.intp(data[i + 1]) << 8)]
    out = np.empty(found, dtype=np.intp)
    found = 0
    for i in range(data.size - 1):
        if is_prefix[np.intp(data[i]) | (np.intp(data[i + 1]) << 8)]:
            out[found] = i
            found += 1
    return out


# Up to this many candidate offsets are looked at one by one (see find_signatures).
_FEW_CANDIDATES = 512


def _matches(sig: Signature, buf: bytes, offset: int) -> bool:
    """Whether the searched signature ``sig`` is at ``offset`` (a PE by its header)."""
    return _looks_like_pe(buf, offset) if sig is _PE else buf.startswith(sig.magic, offset)


def find_signatures(
    data: bytes | memoryview, *, limit: int = 16
) -> list[tuple[int, str, PayloadKind]]:
    """Find dangerous file signatures anywhere in ``data`` (offset, name, kind), at most ``limit``,
    the earliest first.

    Only signatures long and specific enough to be meaningful mid-stream are searched for
    (4+ bytes, not ``MZ``); a PE is reported by its ``PE\\0\\0`` header with a DOS stub before it.
    """
    buf = bytes(data)
    arr = np.frombuffer(buf, dtype=np.uint8)
    if arr.size < 2 or limit <= 0:
        return []
    # The positions whose two bytes start a signature, and those two bytes (as a little-endian
    # code), in one compiled pass: sound and random bytes give a few in a thousand.
    candidates = _prefix_positions(arr, _IS_PREFIX)
    found: list[tuple[int, str, PayloadKind]] = []
    # The earliest ``limit`` hits of each signature are all the answer can use.
    if candidates.size <= _FEW_CANDIDATES:
        # Sound and random bytes: each candidate looked at once, in order.
        hits = [0] * len(_SEARCHED)
        for offset in candidates.tolist():
            for index in _BY_PREFIX[buf[offset] | buf[offset + 1] << 8]:
                if hits[index] < limit and _matches(_SEARCHED[index], buf, offset):
                    found.append((offset, _SEARCHED[index].name, _SEARCHED[index].kind))
                    hits[index] += 1
    else:
        # Many (a file's own structures): per signature, its candidates until enough match.
        at_code = arr[candidates].astype(np.intp)
        at_code |= arr[candidates + 1].astype(np.intp) << 8
        for sig, code in zip(_SEARCHED, _PREFIX_CODES.tolist(), strict=True):
            count = 0
            for offset in candidates[at_code == code].tolist():
                if count == limit:
                    break
                if _matches(sig, buf, offset):
                    found.append((offset, sig.name, sig.kind))
                    count += 1
    found.sort()
    return found[:limit]


# A zstd frame (RFC 8878 3.1.1): the descriptor's unused bit (4) and reserved bit (3) are 0 from
# every compliant encoder; a window descriptor, when present, asks for at most 2**31 bytes
# (exponent <= 21); the first block header's type is not the reserved 3 and its size is at most
# the 128 KiB block maximum. Four magic bytes turn up by chance in the low bits of white noise
# (a good test signal read in 12 layouts x 64 KiB carried a zstd magic: test_signal-0010 of the
# dev good seed 4); these fields pass random bytes with chance 1/2 * 1/2 * 3/4 * 1/16 (~1/85,
# and 22/32 more for a window byte) where the reserved bit alone passed 1/2.
_ZSTD_BLOCK_MAX = 128 * 1024
_ZSTD_MAX_WINDOW_EXPONENT = 21


def _zstd_frame_head(head: bytes) -> bool:
    """Whether the bytes after a zstd magic are a frame header and a valid first block header."""
    if len(head) < 6:
        return False
    descriptor = head[4]
    if descriptor & 0x18:  # unused bit 4, reserved bit 3
        return False
    single_segment = bool(descriptor & 0x20)
    at = 5
    if not single_segment:
        if head[at] >> 3 > _ZSTD_MAX_WINDOW_EXPONENT:
            return False
        at += 1
    at += (0, 1, 2, 4)[descriptor & 3]  # dictionary id
    at += (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]  # frame content size
    if len(head) < at + 3:
        return False
    block = int.from_bytes(head[at : at + 3], "little")
    return (block >> 1) & 3 != 3 and block >> 3 <= _ZSTD_BLOCK_MAX


def confirm_signature(name: str, data: bytes, offset: int) -> bool:
    """Whether the signature ``name`` at ``offset`` is followed by the fields its format requires.

    Four magic bytes alone turn up in ~1 of 2^32 positions of random bytes; a header field
    check makes a chance hit in bytes that are not a file (low bits, samples) negligible.
    """
    head = data[offset : offset + 64]
    if name == "elf":
        return len(head) >= 20 and head[4] in (1, 2) and head[5] in (1, 2) and head[6] == 1
    if name == "zip":
        if len(head) < 30:
            return False
        version, method = int.from_bytes(head[4:6], "little"), int.from_bytes(head[8:10], "little")
        return version <= 63 and method in (0, 1, 6, 8, 9, 12, 14, 19, 93, 95, 98, 99)
    if name == "zip_empty":
        return len(head) >= 22 and head[4:8] == b"\x00\x00\x00\x00"
    if name == "gzip":
        return (
            len(head) >= 10
            and head[3] & 0xE0 == 0
            and head[8] in (0, 2, 4)
            and (head[9] <= 13 or head[9] == 255)
        )
    if name in ("macho32", "macho64", "macho32le", "macho64le"):
        if len(head) < 8:
            return False
        little = name.endswith("le")
        cpu = int.from_bytes(head[4:8], "little" if little else "big")
        return cpu & 0x00FFFFFF in (7, 12, 18) or cpu in (7, 12, 18)
    if name == "java_class":
        return len(head) >= 8 and 45 <= int.from_bytes(head[6:8], "big") <= 80
    if name == "wasm":
        return head[4:8] == b"\x01\x00\x00\x00"
    if name == "dex":
        return len(head) >= 8 and head[4:5] == b"0" and head[7] == 0
    if name == "pyc":
        return len(head) >= 16 and head[4:8] in (
            b"\x00\x00\x00\x00",
            b"\x01\x00\x00\x00",
            b"\x03\x00\x00\x00",
        )
    if name == "zstd":
        return _zstd_frame_head(head)
    if name == "lz4":
        return len(head) >= 7 and head[4] >> 6 == 1 and head[4] & 0x02 == 0
    if name == "cab":
        return head[4:8] == b"\x00\x00\x00\x00"
    if name == "bzip2":
        return (
            len(head) >= 10
            and head[3:4] in b"123456789"
            and head[4:10] == b"\x31\x41\x59\x26\x53\x59"
        )
    if name == "pdf":
        return head[5:6].isdigit()
    if name == "gif":
        return head[4:6] in (b"7a", b"9a")
    if name == "jpeg":
        return len(head) >= 4 and head[3] >= 0xE0
    if name == "riff":
        return head[8:12] in (b"WAVE", b"AVI ", b"WEBP")
    if name in ("id3",):
        return len(head) >= 10 and head[3] in (2, 3, 4) and all(b < 0x80 for b in head[6:10])
    if name == "pe":
        return True  # identify_payload / find_signatures already require "PE\0\0" or a DOS stub
    # 6+ byte magics (xz, 7z, rar, ole2, png, rtf, flac/ogg/shebang handled as text) need no more.
    return name in ("xz", "7z", "rar", "ole2", "png", "rtf", "tar", "flac", "ogg")


#: Key lengths tried when looking for a file hidden by a repeating XOR key: one byte, and eight
#: (which also covers keys of two and four bytes).
_XOR_PERIODS: Final = (1, 8)
_XOR_KINDS: Final = frozenset({PayloadKind.EXECUTABLE, PayloadKind.ARCHIVE, PayloadKind.DOCUMENT})


@dataclass(frozen=True, slots=True)
class XorHidden:
    """A dangerous file found once a repeating XOR key is taken off a region."""

    offset: int
    name: str
    kind: PayloadKind
    key: bytes


def xor_hidden(data: bytes | memoryview) -> XorHidden | None:
    """Look for an executable, archive or document hidden in ``data`` by a repeating XOR key.

    An executable is mostly zero bytes (padding, high bytes of small numbers, alignment), and
    XOR maps a zero to the key byte itself, so the most frequent byte at each position of the
    key is the key. Taking it off restores the file's own magic, which is then searched for as
    anywhere else. Keys of one byte and of eight (two and four divide it) are tried; a region
    whose most frequent bytes are zeros holds no key (its signatures were searched already).
    """
    arr = np.frombuffer(bytes(data), dtype=np.uint8)
    for period in _XOR_PERIODS:
        usable = arr.size - arr.size % period
        if usable < 64 * period:
            continue
        columns = arr[:usable].reshape(-1, period)
        key = np.array(
            [np.bincount(columns[:, i], minlength=256).argmax() for i in range(period)],
            dtype=np.uint8,
        )
        if not key.any():
            continue
        unmasked = (arr ^ np.resize(key, arr.size)).tobytes()
        sig = _signature_at_start(unmasked)
        if sig is not None and sig.kind in _XOR_KINDS:
            return XorHidden(0, sig.name, sig.kind, key.tobytes())
        hits = find_signatures(unmasked, limit=1)
        if hits:
            at, name, kind = hits[0]
            return XorHidden(at, name, kind, key.tobytes())
    return None


def describe_size(n: int) -> str:
    """Human size: 1536 -> '1.5 KiB'."""
    if n < 1024:
        return f"{n} B"
    exp = min(int(math.log(n, 1024)), 4)
    return f"{n / 1024**exp:.1f} {'BKMGT'[exp]}iB"


@functools.lru_cache(maxsize=256)
def random_entropy(n: int) -> float:
    """The expected plug-in entropy (bits per byte) of ``n`` uniformly random bytes.

    Short random runs measure well under 8 bits (128 random bytes: ~6.55), so a fixed cut such
    as 7.5 misses them; this is the exact expectation under a binomial count per byte value.
    """
    if n <= 1:
        return 0.0
    n = min(n, 1 << 16)
    p = 1 / 256
    mean = n * p
    top = min(n, int(mean + 12 * math.sqrt(mean) + 24))
    total = 0.0
    for k in range(1, top + 1):
        log_pmf = (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        q = k / n
        total -= math.exp(log_pmf) * q * math.log2(q)
    return 256 * total


def looks_random(data: bytes | memoryview) -> bool:
    """Whether ``data`` has the byte entropy of random bytes of its length (encrypted or
    compressed data), within about four standard deviations of the expectation."""
    n = len(data)
    if n < 64:
        return False
    return byte_entropy(data) >= random_entropy(n) - 2.8 / math.sqrt(n)


@dataclass(frozen=True, slots=True)
class EncodedRun:
    """A run of base64 or hex text and the bytes it decodes to."""

    offset: int
    length: int
    encoding: str
    """``base64`` (standard or URL-safe alphabet), ``hex``, ``base32``, ``ascii85``,
    ``base85``, ``z85`` or ``uuencode``."""
    decoded: bytes


# Runs of the base64 (standard and URL-safe) alphabet, line breaks allowed: prose has spaces and
# punctuation every few characters, encoded binaries do not.
_ENCODED_CHARS = re.compile(rb"[A-Za-z0-9+/_\-=\r\n]{64,}")
_HEX_RUN = re.compile(rb"[0-9a-fA-F\r\n]+")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
# RFC 4648 base32 (coreutils ``base32``): a subset of the base64 alphabet, read both ways.
_BASE32_RUN = re.compile(rb"[A-Z2-7=\r\n]+")
# Base85 in its three alphabets (Adobe's ascii85, RFC 1924's, ZeroMQ's Z85 from ``basenc
# --z85``): runs of printable characters with no space. URLs, paths and XML have no spaces for
# a while too, but they do not spread over 60 of the 85 symbols as encoded binaries do.
_BASE85_CHARS = re.compile(rb"[!-~\r\n]{80,}")
_BASE85_MIN_SYMBOLS = 60
_Z85_TO_RFC1924 = bytes.maketrans(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#",
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~",
)
# uuencode (sharutils): lines of 45 bytes start with ``M`` and hold 60 characters of
# ``' '``..``'`'``; two in a row are no prose.
_UU_LINES = re.compile(rb"(?:M[ -`]{60}\r?\n)+(?:[!-M][ -`]*\r?\n)?")


def encoded_runs(text: bytes, *, min_chars: int = 64, limit: int = 4) -> list[EncodedRun]:
    """The first ``limit`` base64, base32 or hex runs of at least ``min_chars`` characters in
    ``text``, decoded, then the first run of uuencoded lines and the first base85 run (in each
    alphabet that takes it). A run of hex digits only is read both ways (``AAAA...`` is base64
    of zeros as much as hex of 0xAA bytes), hex first, and one of base32's alphabet both ways
    too; anything else in the alphabet is base64."""
    out: list[EncodedRun] = []
    for match in _ENCODED_CHARS.finditer(text):
        run = match.group().translate(None, b"\r\n")
        if len(run) < min_chars:
            continue
        start, length = match.start(), match.end() - match.start()
        if _HEX_RUN.fullmatch(run):
            decoded = bytes.fromhex(run[: len(run) & ~1].decode("ascii"))
            out.append(EncodedRun(start, length, "hex", decoded))
        clean = run.translate(_URLSAFE).replace(b"=", b"")
        clean = clean[: len(clean) - (len(clean) % 4 == 1)]
        try:
            decoded = binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
        except binascii.Error:
            continue
        out.append(EncodedRun(start, length, "base64", decoded))
        if _BASE32_RUN.fullmatch(run):
            try:
                decoded = base64.b32decode(clean + b"=" * (-len(clean) % 8))
            except binascii.Error:
                pass
            else:
                out.append(EncodedRun(start, length, "base32", decoded))
        if len(out) >= limit:
            break
    # Base85 text holds base64-alphabet stretches too: its own runs are read whatever those
    # used of the limit.
    return out[:limit] + _uu_runs(text) + _base85_runs(text, min_chars)


def _base85_runs(text: bytes, min_chars: int) -> list[EncodedRun]:
    """Runs of base85 text decoded by each alphabet that takes them (at most one run)."""
    for match in _BASE85_CHARS.finditer(text):
        run = match.group().translate(None, b"\r\n")
        if len(run) < max(min_chars, 80) or len(set(run)) < _BASE85_MIN_SYMBOLS:
            continue
        body = run.removeprefix(b"<~").removesuffix(b"~>")
        whole = body[: len(body) - len(body) % 5]
        found = []
        for name, alphabet in (("ascii85", None), ("base85", b""), ("z85", _Z85_TO_RFC1924)):
            try:
                if alphabet is None:
                    decoded = base64.a85decode(whole)
                else:
                    decoded = base64.b85decode(whole.translate(alphabet or None))
            except ValueError:
                continue
            found.append(EncodedRun(match.start(), match.end() - match.start(), name, decoded))
        return found
    return []


def _uu_runs(text: bytes) -> list[EncodedRun]:
    """The first run of uuencoded lines, decoded."""
    match = _UU_LINES.search(text)
    if match is None or match.end() - match.start() < 120:
        return []
    decoded = b""
    for line in match.group().splitlines():
        try:
            decoded += binascii.a2b_uu(line)
        except binascii.Error:
            break
    return [EncodedRun(match.start(), match.end() - match.start(), "uuencode", decoded)]
