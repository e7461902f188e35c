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
