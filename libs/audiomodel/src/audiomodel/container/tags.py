"""Tags: ID3v2 (in front of the audio, inside a RIFF/AIFF chunk, or appended), and the ID3v1,
APEv2 and Lyrics3 tags that close an MPEG or FLAC file (id3.org v2.2-v2.4, APEv2).

Every frame and item value is identified: pictures, objects and unknown frames are where a
payload hides in a tag.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Final

from audiomodel.container.embedded import examine, image_structure, padding_payload, text_value
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import BLOB_BYTES, MAX_CHUNKS, SAMPLE_BYTES
from audiomodel.container.source import Source
from audiomodel.findings import Severity
from audiomodel.payload import PayloadKind, identify_payload


def synchsafe(b: bytes) -> int | None:
    """The 28-bit integer of four synchsafe bytes (7 bits each); ``None`` if a top bit is set."""
    if len(b) != 4 or any(c & 0x80 for c in b):
        return None
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def id3v2_total(hdr: bytes) -> int | None:
    """Total bytes of the ID3v2 tag whose 10-byte header is ``hdr`` (``None`` if not a tag)."""
    if len(hdr) < 10 or hdr[:3] != b"ID3" or hdr[3] not in (2, 3, 4) or hdr[4] == 0xFF:
        return None
    size = synchsafe(hdr[6:10])
    if size is None:
        return None
    footer = 10 if hdr[3] == 4 and hdr[5] & 0x10 else 0
    return 10 + size + footer


_ID3_KNOWN: Final = frozenset(
    {
        "AENC", "APIC", "ASPI", "CHAP", "COMM", "COMR", "CTOC", "ENCR", "EQU2", "EQUA", "ETCO",
        "GEOB", "GRID", "GRP1", "IPLS", "LINK", "MCDI", "MLLT", "MVIN", "MVNM", "OWNE", "PCNT",
        "PCST", "POPM", "POSS", "PRIV", "RBUF", "RGAD", "RVA2", "RVAD", "RVRB", "SEEK", "SIGN",
        "SYLT", "SYTC", "UFID", "USER", "USLT", "XRVA", "NCON",
        "BUF", "CNT", "COM", "CRA", "CRM", "EQU", "ETC", "GEO", "IPL", "LNK", "MCI", "MLL",
        "PIC", "POP", "REV", "RVA", "SLT", "STC", "UFI", "ULT",
    }
)  # fmt: skip
_ID3_PICTURE: Final = frozenset({"APIC", "PIC"})
_ID3_CHAPTERS: Final = frozenset({"CHAP", "CTOC"})
_ID3_TEXT: Final = frozenset({"COMM", "USLT", "COM", "ULT"})
#: PRIV owners whose data has a fixed size: Windows Media Player's normalisation levels (one
#: 32-bit value each), its media class and content ids (GUIDs), Apple's HLS timestamp (33 bits
#: in 8 bytes).
_PRIV_SIZES: Final = {
    "AverageLevel": 4,
    "PeakValue": 4,
    "WM/MediaClassPrimaryID": 16,
    "WM/MediaClassSecondaryID": 16,
    "WM/WMContentID": 16,
    "WM/WMCollectionID": 16,
    "WM/WMCollectionGroupID": 16,
    "com.apple.streaming.transportStreamTimestamp": 8,
}
#: TXXX descriptions (and APEv2 keys) whose value is an encoded binary by definition: AcoustID's
#: compressed fingerprint.
_ID3_ENCODED_BY_SPEC: Final = (b"acoustid fingerprint\x00",)
_APE_ENCODED_BY_SPEC: Final = frozenset({"acoustid fingerprint"})


def leading_id3(insp: Inspection) -> int:
    """Walk the ID3v2 tags at the start of the file; where what follows them starts."""
    pos = 0
    for _ in range(8):
        total = id3v2(insp, pos, insp.size)
        if total is None:
            break
        pos += total
    return pos


def id3v2(insp: Inspection, offset: int, limit: int) -> int | None:
    """Walk an ID3v2 tag at ``offset`` (must end by ``limit``); its total size or ``None``."""
    hdr = insp.src.read(offset, 10)
    total = id3v2_total(hdr)
    if total is None:
        if hdr[:3] == b"ID3" and len(hdr) == 10:
            insp.add(
                "container.size_mismatch",
                f"ID3v2 header at byte {offset} has an invalid version or size",
                offset=offset,
                where="id3v2",
            )
        return None
    major, flags = hdr[3], hdr[5]
    if offset >= limit:
        return None
    if offset + total > limit:
        insp.add(
            "container.truncated",
            f"ID3v2 tag at byte {offset} claims {total} bytes, {limit - offset} remain",
            offset=offset,
            size=total,
            available=limit - offset,
            where="id3v2",
        )
        total = limit - offset
    _tag(insp, f"id3v2.{major}", "ID3v2 tag", offset, total)
    end = offset + total - (10 if major == 4 and flags & 0x10 else 0)
    if major < 4 and flags & 0x80:
        # v2.2/v2.3 unsynchronisation covers the whole tag after its header: every 0xFF 0x00
        # stands for 0xFF, and the frames (their sizes too) are those of the restored bytes.
        restored = deunsync(insp.src.read(offset + 10, min(end - offset - 10, SAMPLE_BYTES)))
        saved = insp.src
        insp.src = MemorySource(offset + 10, restored)
        try:
            _frames(insp, offset + 10, offset + 10 + len(restored), major, flags)
        finally:
            insp.src = saved
        return total
    _frames(insp, offset + 10, end, major, flags)
    return total


def _frames(
    insp: Inspection, pos: int, end: int, major: int, flags: int, *, chapter: bool = False
) -> None:
    """Walk the frames of an ID3v2 tag (after its header) from ``pos`` to ``end`` (or the
    sub-frames of a ``chapter`` frame)."""
    if flags & 0x40:  # extended header
        ext = insp.src.read(pos, 4)
        ext_size = (synchsafe(ext) or 0) if major == 4 else int.from_bytes(ext, "big") + 4
        _extended_header(insp, pos, min(max(ext_size, 4), end - pos), major)
        pos += max(ext_size, 4)
    hlen = 6 if major == 2 else 10
    for _ in range(MAX_CHUNKS):
        if pos + hlen > end:
            break
        fh = insp.src.read(pos, hlen)
        if fh[0] == 0:
            padding_payload(insp, pos, end - pos, "ID3v2 padding")
            break
        fid = fh[:3] if major == 2 else fh[:4]
        if not _frame_id_chars(fid):
            examine(insp, pos, end - pos, "ID3v2 tag after its last frame", flag_data=True)
            break
        if major == 2:
            fsize = int.from_bytes(fh[3:6], "big")
        elif major == 3:
            fsize = int.from_bytes(fh[4:8], "big")
        else:
            fsize = id3v24_frame_size(insp, fh, pos, end)
        name = fid.decode("ascii")
        body = pos + hlen
        if body + fsize > end:
            insp.add(
                "container.truncated",
                f"ID3v2 frame {name} at byte {pos} runs past its tag",
                offset=pos,
                size=fsize,
                where=f"id3v2 {name}",
            )
            fsize = end - body
        fflags = int.from_bytes(fh[8:10], "big") if major > 2 else 0
        if major == 4 and flags & 0x80:
            fflags |= 0x0002  # a v2.4 tag's flag says every frame is unsynchronised
        id3_frame(insp, name, body, fsize, major, fflags, chapter=chapter)
        pos = body + fsize


def _extended_header(insp: Inspection, pos: int, size: int, major: int) -> None:
    """An ID3v2 extended header holds a few flags and a CRC; bytes past those are read by
    nothing (a tag reader skips the header by its size)."""
    head = insp.src.read(pos, 6)
    if major == 3:
        # Size, two flag bytes, padding size, and a CRC when the first flag bit says so.
        fields = 4 + (10 if len(head) > 4 and head[4] & 0x80 else 6)
    elif major == 4:
        # Size, flag count, flags; an update (its length byte), a CRC (length and 5 bytes),
        # restrictions (length and 1 byte), as the flags say.
        flags = head[5] if len(head) > 5 else 0
        fields = 6 + (flags & 0x40 and 1) + (flags & 0x20 and 6) + (flags & 0x10 and 2)
    else:
        return
    if size <= fields:
        return
    where = "ID3v2 extended header"
    at, extra = pos + fields, size - fields
    before = insp.reported()
    guess = examine(insp, at, extra, f"{where} past its fields", flag_data=True, flag_text=False)
    if guess is None or guess.kind is PayloadKind.PADDING:
        return
    insp.unaccount(at, extra, where, guess)
    if insp.reported() == before:
        insp.add(
            "container.nonconforming_metadata",
            f"{where} holds {extra} bytes past the {fields} its fields take",
            offset=at,
            size=extra,
            where=where,
            fields_size=fields,
        )


def id3v24_frame_size(insp: Inspection, fh: bytes, pos: int, end: int) -> int:
    """The size of the ID3v2.4 frame whose header ``fh`` is at ``pos``."""
    # v2.4 sizes are synchsafe, but some writers (old iTunes) store plain integers: take
    # whichever lands on the next frame or the padding.
    safe = synchsafe(fh[4:8])
    plain = int.from_bytes(fh[4:8], "big")
    if safe is None:
        return plain
    if safe != plain:
        nxt = insp.src.read(pos + 10 + safe, 4)
        if not (nxt[:1] == b"\x00" or _is_frame_id(nxt)) and _is_frame_id(
            insp.src.read(pos + 10 + plain, 4)
        ):
            return plain
    return safe


def id3_frame(
    insp: Inspection,
    name: str,
    body: int,
    size: int,
    major: int,
    flags: int,
    *,
    chapter: bool = False,
) -> None:
    """Identify what an ID3v2 frame carries past its text fields (inflated if compressed);
    the sub-frames of a chapter (``CHAP``, ``CTOC``) are walked as frames."""
    insp.check_size(f"ID3v2 frame {name}", body, size, where=f"id3v2 {name}")
    if size <= 0:
        return
    sample = insp.src.read(body, min(size, SAMPLE_BYTES))
    skip = 0
    compressed = (major == 3 and flags & 0x0080) or (major == 4 and flags & 0x0008)
    encrypted = (major == 3 and flags & 0x0040) or (major == 4 and flags & 0x0004)
    if (major == 3 and flags & 0x00C0) or (major == 4 and flags & 0x0001):
        skip = 4  # decompressed size / data length indicator
    if (major == 3 and flags & 0x0020) or (major == 4 and flags & 0x0040):
        skip += 1  # group id
    if encrypted:
        skip += 1
    sample = sample[skip:]
    restored = major == 4 and flags & 0x0002 and not encrypted
    if restored:
        sample = deunsync(sample)
    if compressed and not encrypted:
        try:
            sample = zlib.decompressobj().decompress(sample, SAMPLE_BYTES)
        except zlib.error:
            insp.add(
                "container.undecodable",
                f"ID3v2 frame {name} claims zlib compression but does not inflate",
                severity=Severity.SUSPICIOUS,
                offset=body,
                size=size,
                where=f"id3v2 {name}",
            )
            return
    where = f"ID3v2 {name} frame"
    if encrypted:
        # An encrypted frame (the method an ENCR frame registers) is bytes no reader without
        # the key can account for; no tagger in use writes them.
        insp.add(
            "container.nonconforming_metadata",
            f"{where} at byte {body} is encrypted: {size} bytes nothing can read",
            offset=body,
            size=size,
            where=f"id3v2 {name}",
        )
    plain = not (compressed or encrypted or restored)
    if name in _ID3_CHAPTERS and plain and not chapter:
        # ID3v2 Chapter Frame Addendum: an element id, then (CHAP) four 32-bit times or
        # (CTOC) flags, a child count and the children's ids; the rest is sub-frames.
        start = _chapter_frames_start(name, sample)
        if start is not None:
            _frames(insp, body + skip + start, body + size, major, 0, chapter=True)
            return
    known = (name in _ID3_KNOWN and name not in _ID3_CHAPTERS) or name[0] in "TW"
    if not known:
        insp.add(
            "container.unknown_chunk",
            f"unknown ID3v2 frame {name!r} at byte {body}, {size} bytes",
            offset=body,
            size=size,
            where=f"id3v2 {name}",
        )
    inner = _id3_payload_start(name, sample) if known else 0
    data = sample[inner:]
    if not data:
        return
    at = body + skip + inner if not compressed else body
    length = size - skip - inner if not (compressed or restored) else len(data)
    guess = identify_payload(data)
    picture = name in _ID3_PICTURE
    # Binary fields (PRIV, GEOB, ...) may hold data by spec, but not an encrypted blob.
    blob = not picture and guess.kind is PayloadKind.HIGH_ENTROPY and length >= BLOB_BYTES
    flag = not known or blob or (picture and guess.kind is PayloadKind.HIGH_ENTROPY)
    examine(insp, at, length, where, flag_data=flag, flag_text=False, sample=data, guess=guess)
    text_frame = name[0] in "TW" or name in _ID3_TEXT
    if not known or not (picture or text_frame or guess.kind is PayloadKind.TEXT):
        # Unknown frames, and the binary of known ones (PRIV, GEOB, SYLT, ETCO, RVA2, ...):
        # a tagger's private data nothing here reads.
        insp.unaccount(at, length, where, guess)
    whole = len(data) == length
    if name == "PRIV":
        _priv_size(insp, sample[: max(inner - 1, 0)], at, length, where)
    elif picture and whole:
        mime = _id3_mime(name, sample)
        image_structure(insp, data, offset=at, size=length, where=where, mime=mime)
    elif known and (name[0] == "T" or name in _ID3_TEXT) and not encrypted:
        text = _id3_text(sample, language=name in _ID3_TEXT)
        if not text.lower().startswith(_ID3_ENCODED_BY_SPEC):
            text_value(insp, text, body, size, where)


def _priv_size(insp: Inspection, owner_raw: bytes, at: int, length: int, where: str) -> None:
    """Report a PRIV frame of a well-known owner holding more than that owner writes."""
    owner = owner_raw.decode("latin-1")
    expected = _PRIV_SIZES.get(owner)
    if expected is None or length <= expected:
        return
    insp.add(
        "container.nonconforming_metadata",
        f"{where}: owner {owner!r} writes {expected} bytes, this one holds {length}",
        offset=at,
        size=length,
        where=where,
        owner=owner,
        expected_size=expected,
    )


def _id3_mime(name: str, sample: bytes) -> str:
    """The MIME type of an APIC frame (the image format of a v2.2 PIC frame)."""
    if name == "PIC":
        return sample[1:4].decode("latin-1")
    end = sample.find(b"\x00", 1)
    return sample[1 : end if end > 0 else 1].decode("latin-1")[:64]


def _id3_text(sample: bytes, *, language: bool) -> bytes:
    """The text of an ID3 text frame (after its encoding byte and, for comments and lyrics,
    its language), as UTF-8."""
    if not sample:
        return b""
    codec = {1: "utf-16", 2: "utf-16-be"}.get(sample[0])
    body = sample[4:] if language else sample[1:]
    if codec is None:
        return body
    return body.decode(codec, "replace").encode("utf-8", "replace")


def inner_tags(insp: Inspection, pos: int, hi: int) -> int:
    """Step over tags that sit right after the audio but not at the end of the file (an
    ID3v1 or APEv2 tag with bytes appended after it); where the unexplained bytes start."""
    for _ in range(8):
        if pos >= hi:  # what lies at ``hi`` (a tag at the end) was peeled off already
            break
        head = insp.src.read(pos, min(32, hi - pos))
        if head[:3] == b"TAG" and pos + 128 <= hi:
            _tag(insp, "id3v1", "ID3v1 tag", pos, 128)
            pos += 128
        elif head[:8] == b"APETAGEX" and len(head) == 32:
            _, tag_size, items, flags = struct.unpack("<IIII", head[8:24])
            total = tag_size + 32
            if not flags & 0x20000000 or tag_size < 32 or pos + total > hi:
                break
            _tag(insp, "apev2", "APEv2 tag", pos, total)
            ape_items(insp, pos + 32, pos + total - 32, items)
            pos += total
        elif head[:3] == b"ID3":
            total = id3v2(insp, pos, hi)
            if total is None:
                break
            pos += total
        else:
            break
    return pos


def tail_tags(insp: Inspection, lo: int, hi: int) -> int:
    """Peel ID3v1, APEv2, Lyrics3 and appended ID3v2 tags off the end; the new end."""
    for _ in range(8):
        if hi - lo >= 128 and insp.src.read(hi - 128, 3) == b"TAG":
            start = hi - 128
            if hi - lo >= 355 and insp.src.read(hi - 355, 4) == b"TAG+":
                start = hi - 355
            _tag(insp, "id3v1", "ID3v1 tag", start, hi - start)
            hi = start
            continue
        footer = insp.src.read(hi - 32, 32) if hi - lo >= 32 else b""
        if footer[:8] == b"APETAGEX":
            _, tag_size, items, flags = struct.unpack("<IIII", footer[8:24])
            total = tag_size + (32 if flags & 0x80000000 else 0)
            if tag_size < 32 or total > hi - lo:
                insp.add(
                    "container.size_mismatch",
                    f"APEv2 tag ending at byte {hi} claims {total} bytes",
                    offset=hi - 32,
                    size=total,
                    where="apev2",
                )
                break
            _tag(insp, "apev2", "APEv2 tag", hi - total, total)
            ape_items(insp, hi - tag_size, hi - 32, items)
            hi -= total
            continue
        tail = insp.src.read(hi - 15, 15) if hi - lo >= 15 else b""
        if tail[6:] == b"LYRICS200" and tail[:6].isdigit():
            total = int(tail[:6]) + 15
            if total <= hi - lo and insp.src.read(hi - total, 11) == b"LYRICSBEGIN":
                _tag(insp, "lyrics3v2", "Lyrics3v2 tag", hi - total, total)
                lyrics3_fields(insp, hi - total + 11, hi - 15)
                hi -= total
                continue
        if tail[6:] == b"LYRICSEND":
            window = insp.src.read(max(lo, hi - 5100 - 9), min(hi - lo, 5100 + 9))
            begin = window.rfind(b"LYRICSBEGIN")
            if begin >= 0:
                total = len(window) - begin
                _tag(insp, "lyrics3v1", "Lyrics3 tag", hi - total, total)
                hi -= total
                continue
        foot = insp.src.read(hi - 10, 10) if hi - lo >= 20 else b""
        if foot[:3] == b"3DI":
            total = id3v2_total(b"ID3" + foot[3:])
            if total is not None and total <= hi - lo:
                start = hi - total
                if id3v2(insp, start, hi) is not None:
                    hi = start
                    continue
        break
    return hi


def deunsync(data: bytes) -> bytes:
    """Undo ID3v2 unsynchronisation: the 0x00 written after every 0xFF is dropped."""
    return data.replace(b"\xff\x00", b"\xff")


class MemorySource(Source):
    """Bytes restored in memory (an unsynchronised tag) read at the file offsets they
    stand for, from ``base``."""

    def __init__(self, base: int, data: bytes) -> None:
        super().__init__(io.BytesIO(data), len(data))
        self.base = base

    def read(self, offset: int, n: int) -> bytes:
        return super().read(offset - self.base, n)


def lyrics3_fields(insp: Inspection, start: int, end: int) -> None:
    """Walk the fields of a Lyrics3v2 tag (between ``LYRICSBEGIN`` and its size): a 3-letter
    id, a 5-digit size, then ISO-8859-1 text (lyrics, names, image file names). Each value is
    checked as text; bytes that are no field, or a field that is not text, are reported."""
    raw = insp.src.read(start, min(end - start, SAMPLE_BYTES))
    pos = 0
    while pos < len(raw):
        fid, digits = raw[pos : pos + 3], raw[pos + 3 : pos + 8]
        if len(digits) < 5 or not fid.isalpha() or not fid.isupper() or not digits.isdigit():
            examine(insp, start + pos, end - start - pos, "Lyrics3v2 tag after its fields",
                    flag_data=True)  # fmt: skip
            return
        length = int(digits)
        value = raw[pos + 8 : pos + 8 + length]
        where = f"Lyrics3v2 {fid.decode()} field"
        at = start + pos + 8
        guess = identify_payload(value)
        if guess.kind is not PayloadKind.TEXT and not _latin1_text(value):
            examine(insp, at, len(value), where, flag_data=True, sample=value, guess=guess)
            if guess.kind not in (PayloadKind.HIGH_ENTROPY, PayloadKind.PADDING) and not (
                guess.is_dangerous
            ):
                insp.add(
                    "container.nonconforming_metadata",
                    f"{where}: {len(value)} bytes that are not text, at byte {at}",
                    offset=at,
                    size=len(value),
                    where=where,
                )
        else:
            text_value(insp, value, at, len(value), where)
        pos += 8 + length


def _latin1_text(value: bytes) -> bool:
    """Whether bytes read as ISO-8859-1 text: no control characters but tab and line breaks."""
    controls = sum(value.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    return controls + value.count(b"\x7f") <= len(value) // 100


def ape_items(insp: Inspection, start: int, end: int, count: int) -> None:
    """Identify the values of the ``count`` APEv2 items between ``start`` and ``end``."""
    pos = start
    for _ in range(min(count, MAX_CHUNKS)):
        head = insp.src.read(pos, 8 + 256)
        if len(head) < 9:
            break
        vsize, vflags = struct.unpack("<II", head[:8])
        key_end = head.find(b"\x00", 8)
        if key_end < 0:
            break
        key = head[8:key_end].decode("latin-1")
        value = pos + key_end + 1
        if value + vsize > end:
            insp.add(
                "container.truncated",
                f"APEv2 item {key!r} runs past its tag",
                offset=pos,
                size=vsize,
                where="apev2",
            )
            break
        _ape_item(insp, key, (vflags >> 1) & 3, value, vsize)
        pos = value + vsize


def _ape_item(insp: Inspection, key: str, kind: int, value: int, vsize: int) -> None:
    """Check one APEv2 item by its type (0 text, 1 binary, 2 external link)."""
    where = f"APEv2 item {key!r}"
    inner = 0
    cover = kind == 1 and key.lower().startswith("cover art")
    if cover:
        inner = insp.src.read(value, 256).find(b"\x00") + 1  # file name, then the image
    sample, guess = insp.identify(value + inner, vsize - inner)
    blob = kind == 1 and not cover and guess.kind is PayloadKind.HIGH_ENTROPY
    blob = blob and vsize >= BLOB_BYTES
    examine(insp, value + inner, vsize - inner, where, flag_data=blob, sample=sample, guess=guess)
    if kind == 1 and not cover and guess.kind is not PayloadKind.TEXT:
        insp.unaccount(value, vsize, where, guess)
    if cover and len(sample) == vsize - inner:
        image_structure(insp, sample, offset=value + inner, size=vsize - inner, where=where)
    elif kind == 0 and key.lower() not in _APE_ENCODED_BY_SPEC:
        text_value(insp, sample, value, vsize, where)


def _tag(insp: Inspection, name: str, label: str, offset: int, size: int) -> None:
    """Record a whole tag as a segment and count it as metadata."""
    insp.segment("tag", name, offset, size)
    insp.metadata(offset, size, label)


def _frame_id_chars(b: bytes) -> bool:
    """Whether every byte is one an ID3v2 frame id is made of (A-Z, 0-9)."""
    return all(48 <= c <= 57 or 65 <= c <= 90 for c in b)


def _is_frame_id(b: bytes) -> bool:
    return len(b) == 4 and _frame_id_chars(b)


def _terminated(data: bytes, start: int, encoding: int) -> int:
    """Offset just past a string ending at a terminator of ``encoding`` (ID3 text encodings)."""
    if encoding in (1, 2):
        at = start
        while True:
            at = data.find(b"\x00\x00", at)
            if at < 0:
                return len(data)
            if (at - start) % 2 == 0:
                return at + 2
            at += 1
    at = data.find(b"\x00", start)
    return len(data) if at < 0 else at + 1


def _chapter_frames_start(name: str, data: bytes) -> int | None:
    """Where the sub-frames of a ``CHAP`` or ``CTOC`` frame start, if its fields fit."""
    at = data.find(b"\x00")
    if at < 0:
        return None
    at += 1
    if name == "CHAP":
        at += 16
    else:
        if at + 2 > len(data):
            return None
        children = data[at + 1]
        at += 2
        for _ in range(children):
            end = data.find(b"\x00", at)
            if end < 0:
                return None
            at = end + 1
    return at if at <= len(data) else None


def _id3_payload_start(name: str, data: bytes) -> int:
    """Where the binary payload of an ID3 frame starts (after its text fields)."""
    if not data:
        return 0
    enc = data[0]
    if name == "APIC":
        at = _terminated(data, 1, 0) + 1  # mime, picture type
        return _terminated(data, at, enc)
    if name == "PIC":
        return _terminated(data, 5, enc)
    if name in ("GEOB", "GEO"):
        at = _terminated(data, 1, 0)
        at = _terminated(data, at, enc)
        return _terminated(data, at, enc)
    if name == "PRIV":
        return _terminated(data, 0, 0)
    if name[0] == "T" or name in ("COMM", "USLT", "COM", "ULT"):
        return 1
    return 0
