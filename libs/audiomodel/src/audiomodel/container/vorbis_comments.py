"""Vorbis comments: the comment packet of Ogg Vorbis, Opus, Speex and Theora (reassembled
across pages) and FLAC's VORBIS_COMMENT block, native or in Ogg.

They are walked comment by comment (vendor string, count, then ``len + KEY=value``), each value
identified; ``METADATA_BLOCK_PICTURE`` and legacy ``COVERART`` values are decoded from base64
and the picture identified, so an executable posing as cover art is found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from audiomodel.container.embedded import base64_prefix, comment_bytes, picture_data
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import MAX_COMMENTS

_COMMENT_PICTURE_KEYS: Final = frozenset({"METADATA_BLOCK_PICTURE", "COVERART"})
#: Keys whose value is an encoded binary by its definition (AcoustID's compressed Chromaprint
#: fingerprint, base64url): random-looking once decoded, and no payload for that.
ENCODED_BY_SPEC: Final = frozenset({"ACOUSTID_FINGERPRINT"})


def vorbis_comments(
    insp: Inspection,
    data: bytes,
    start: int,
    total: int,
    locate: Callable[[int], int],
    where: str,
    *,
    complete: bool,
) -> None:
    """Walk a Vorbis comment structure: vendor string, count, then ``len + KEY=value``.

    ``data`` holds the packet or block (possibly cut short at the read bound), ``start``
    is where the structure begins in it and ``total`` its real length; ``locate`` maps an
    offset in ``data`` to one in the file (a packet may span Ogg pages).
    """
    avail = min(len(data), total)

    def u32(at: int, what: str) -> int | None:
        if at + 4 <= avail:
            return int.from_bytes(data[at : at + 4], "little")
        if complete and at + 4 > total:  # else the read bound cut it: no lie
            _comment_overrun(insp, where, what, locate(min(at, avail)), 4, total - at)
        return None

    def one(at: int, index: int) -> int | None:
        """Check the comment (or vendor string) whose length field is at ``at``; where the
        next one starts, or ``None`` when the structure ends."""
        what = "vendor string" if index < 0 else f"comment {index}"
        length = u32(at, what)
        if length is None:
            return None
        body = at + 4
        overrun = body + length > total
        if overrun:
            if complete:
                _comment_overrun(insp, where, what, locate(at), length, total - body)
            length = total - body
        _comment(insp, data[body : body + length], length, locate(body), where, index)
        return None if overrun else body + length

    pos = one(start, -1)
    count = None if pos is None else u32(pos, "comment count")
    if pos is None or count is None:
        return
    pos += 4
    for index in range(min(count, MAX_COMMENTS)):
        nxt = one(pos, index)
        if nxt is None:
            return
        pos = nxt
    if pos >= avail:
        return
    # Past the last comment (or past MAX_COMMENTS of them): Vorbis has a framing byte,
    # Opus may keep binary data; whatever is there is identified as one run.
    rest = data[pos:avail]
    comment_bytes(
        insp, rest, locate(pos), total - pos, f"{where} after its comments", is_text=False
    )


def _comment_overrun(
    insp: Inspection, where: str, what: str, offset: int, declared: int, left: int
) -> None:
    insp.add(
        "container.size_mismatch",
        f"{where}: {what} claims {declared} bytes, {max(left, 0)} are left",
        offset=offset,
        declared=declared,
        size=max(left, 0),
        where=where,
    )


def _comment(
    insp: Inspection, text: bytes, length: int, offset: int, where: str, index: int
) -> None:
    """Check one ``KEY=value`` comment (``index`` -1: the vendor string); ``text`` may be
    cut short of ``length`` by the read bound."""
    eq = text.find(b"=", 0, 256) if index >= 0 else -1
    key = text[:eq].decode("ascii", "replace").upper() if eq > 0 else ""
    label = f"{where} {key or ('vendor string' if index < 0 else f'comment {index}')}"
    insp.check_size(label, offset, length)
    value = text[eq + 1 :] if eq > 0 else text
    if key not in _COMMENT_PICTURE_KEYS:
        comment_bytes(insp, value, offset, length, label, encoded=key in ENCODED_BY_SPEC)
        return
    raw = base64_prefix(value)
    cut = len(text) < length
    if raw is None:
        # Not base64 at all: whatever the bytes are, they are what a reader would get.
        picture_data(insp, value, offset=offset, size=length, where=label, complete=not cut)
    elif key == "METADATA_BLOCK_PICTURE":
        picture_block(insp, raw, offset=offset, size=length, where=label, cut=cut)
    else:  # legacy COVERART: base64 of the image itself
        picture_data(insp, raw, offset=offset, size=length, where=label, complete=not cut)


def picture_block(
    insp: Inspection, raw: bytes, *, offset: int, size: int, where: str, cut: bool
) -> None:
    """Check a FLAC PICTURE structure (RFC 9639 8.8) held in memory: type, MIME, description,
    geometry, then the picture data, which is identified."""
    fields = _picture_fields(raw)
    if fields is None:
        if not cut:
            insp.add(
                "container.size_mismatch",
                f"{where}: {len(raw)} bytes do not hold a picture structure",
                offset=offset,
                size=len(raw),
                where=where,
            )
        picture_data(insp, raw, offset=offset, size=size, where=where, complete=not cut)
        return
    mime, data_at, declared = fields
    image = raw[data_at:]
    if not cut and len(image) != declared:
        insp.add(
            "container.size_mismatch",
            f"{where}: picture data claims {declared} bytes, the structure holds {len(image)}",
            offset=offset,
            declared=declared,
            size=len(image),
            where=where,
        )
    picture_data(insp, image, offset=offset, size=size, where=where, mime=mime, complete=not cut)


def _picture_fields(raw: bytes) -> tuple[str, int, int] | None:
    """The MIME type, where the data starts and its declared length, of a FLAC PICTURE
    structure; ``None`` when its fields run past ``raw``."""
    if len(raw) < 32:
        return None
    mime_len = int.from_bytes(raw[4:8], "big")
    pos = 8 + mime_len
    if pos + 4 > len(raw):
        return None
    mime = raw[8:pos][:64].decode("latin-1")
    pos += 4 + int.from_bytes(raw[pos : pos + 4], "big") + 16
    if pos + 4 > len(raw):
        return None
    return mime, pos + 4, int.from_bytes(raw[pos : pos + 4], "big")
