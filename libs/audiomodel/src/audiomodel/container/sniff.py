"""Sniffing: the container named from its magic bytes, never from the file name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from audiomodel.container.limits import SAMPLE_BYTES
from audiomodel.container.mpeg import mpeg_sync_in
from audiomodel.container.tags import id3v2_total
from audiomodel.payload import identify_payload


def sniff_format(head: bytes) -> str:
    """Name the container from the first bytes of a file (magic numbers only, never a name).

    Parameters
    ----------
    head
        The file's first bytes; 64 KiB is plenty (an ID3v2 tag in front of FLAC is looked past
        only when ``head`` holds all of it).

    Returns
    -------
    str
        One of :data:`~audiomodel.container.report.FORMATS`: ``not_audio`` when ``head`` starts like an executable, archive,
        document or script; ``unknown`` for anything else that is not a supported container.
    """
    if not head:
        return "empty"
    magic = head[:4]
    if magic in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if magic == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if magic == b"fLaC":
        return "flac"
    if magic == b"OggS":
        return "ogg"
    if magic[:3] == b"ID3":
        pos = 0
        for _ in range(8):  # several ID3v2 tags in a row happen
            total = id3v2_total(head[pos : pos + 10])
            if total is None:
                break
            pos += total
        if pos and head[pos : pos + 4] == b"fLaC":
            return "flac"
        return "mp3"
    if identify_payload(head[:SAMPLE_BYTES]).is_dangerous:
        return "not_audio"
    # A container that starts with its own magic (Matroska, MP4, ...) is that container even
    # when MPEG-like sync words turn up inside it.
    if unsupported_audio(head) is None and mpeg_sync_in(head) is not None:
        return "mp3"
    return "unknown"


# Audio containers recognised but not accepted: their files are rejected unseen like any
# unknown bytes, with a message that names what they are. (magic, offset, name)
_UNSUPPORTED_AUDIO: tuple[tuple[bytes, int, str], ...] = (
    (b".snd", 0, "Sun/NeXT AU"),
    (b"riff\x2e\x91\xcf\x11", 0, "Sony Wave64"),
    (b"caff", 0, "Apple CAF"),
    (b"Creative Voice File", 0, "Creative VOC"),
    (b"NIST_1A", 0, "NIST SPHERE"),
    (b"#!AMR", 0, "AMR"),
    (b"wvpk", 0, "WavPack"),
    (b"MAC ", 0, "Monkey's Audio"),
    (b"TTA1", 0, "True Audio"),
    (b"MPCK", 0, "Musepack"),
    (b"MThd", 0, "MIDI"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "ASF (WMA)"),
    (b"\x1a\x45\xdf\xa3", 0, "Matroska/WebM"),
    (b"ftyp", 4, "MPEG-4 (M4A/MP4)"),
    (b"8SVX", 8, "IFF 8SVX"),
    (b"16SV", 8, "IFF 16SV"),
)


def unsupported_audio(head: bytes) -> str | None:
    """The name of an audio container that is recognised but not accepted, if ``head`` starts
    one (``sniff_format`` calls it ``unknown``)."""
    for magic, offset, name in _UNSUPPORTED_AUDIO:
        if head[offset : offset + len(magic)] == magic:
            return name
    if _chained(head, _adts_length):
        return "AAC (ADTS)"
    if _chained(head, _ac3_length):
        return "AC-3"
    return None


def _chained(head: bytes, length_of: Callable[[bytes], int | None]) -> bool:
    """Whether three frames whose headers give their lengths follow each other from byte 0
    (or the bytes end after the first ones): raw elementary streams have no magic of their own."""
    pos = 0
    for _ in range(3):
        if pos >= len(head):
            return pos > 0
        length = length_of(head[pos : pos + 8])
        if length is None:
            return False
        pos += length
    return True


def _adts_length(h: bytes) -> int | None:
    """The frame length of an ADTS header (ISO/IEC 13818-7: sync 0xFFF, layer 0)."""
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0 or (h[2] >> 2) & 15 > 12:
        return None
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    return length if length >= 7 else None


#: AC-3 frame sizes in 16-bit words per frame size code, for 48, 44.1 and 32 kHz (ATSC A/52
#: table 5.18); 44.1 kHz frames add one word when the code is odd.
_AC3_WORDS: Final = (
    (64, 69, 96), (80, 87, 120), (96, 104, 144), (112, 121, 168), (128, 139, 192),
    (160, 174, 240), (192, 208, 288), (224, 243, 336), (256, 278, 384), (320, 348, 480),
    (384, 417, 576), (448, 487, 672), (512, 557, 768), (640, 696, 960), (768, 835, 1152),
    (896, 975, 1344), (1024, 1114, 1536), (1152, 1253, 1728), (1280, 1393, 1920),
)  # fmt: skip


def _ac3_length(h: bytes) -> int | None:
    """The frame length of an AC-3 sync frame header (sync word 0x0B77)."""
    if len(h) < 5 or h[:2] != b"\x0b\x77":
        return None
    rate, code = h[4] >> 6, h[4] & 0x3F
    if rate == 3 or code >= 2 * len(_AC3_WORDS):
        return None
    words = _AC3_WORDS[code >> 1][rate] + (code & 1 if rate == 1 else 0)
    return 2 * words
