"""Sniffing: the container named from its magic bytes, never from the file name."""

from __future__ import annotations

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
    if mpeg_sync_in(head) is not None:
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
    return None
