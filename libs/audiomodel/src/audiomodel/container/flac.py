"""Native FLAC (RFC 9639), optionally behind an ID3v2 tag: the metadata blocks, then where the
frames start and end.

Each metadata block is checked for what it may carry (APPLICATION data, pictures, Vorbis
comments, padding that is not zeros). The last frame is found from the end, by the sample
numbers in the frame headers, so a large appended payload costs a few reads, not a scan.
"""

from __future__ import annotations

import itertools
import struct
from typing import Final

import numpy as np

from audiomodel.container.checksums import crc16
from audiomodel.container.embedded import examine, image_structure, padding_region, trailing
from audiomodel.container.flac_frames import (
    FlacFrame,
    FlacInfo,
    frame_header,
    frame_length,
    streaminfo,
)
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import (
    BLOB_BYTES,
    BLOCK_BYTES,
    COMMENT_MARGIN_BYTES,
    MAX_CHUNKS,
    RESYNC_BYTES,
)
from audiomodel.container.tags import inner_tags, tail_tags
from audiomodel.container.vorbis_comments import vorbis_comments
from audiomodel.payload import PayloadKind

_FLAC_BLOCKS: Final = (
    "STREAMINFO", "PADDING", "APPLICATION", "SEEKTABLE", "VORBIS_COMMENT", "CUESHEET", "PICTURE"
)  # fmt: skip
#: Application ids registered with Xiph.Org for APPLICATION blocks (RFC 9639, section 8.4, and
#: the registry it points to).
_FLAC_APPLICATIONS: Final = frozenset(
    {
        b"ATCH", b"BSOL", b"BUGS", b"Cues", b"Fica", b"Ftol", b"MOTB", b"MPSE", b"MuML",
        b"RIFF", b"SFFL", b"SONY", b"SQEZ", b"TtWv", b"UITS", b"aiff", b"imag", b"peem",
        b"qfst", b"riff", b"tune", b"w64 ", b"xbat", b"xmcd",
    }
)  # fmt: skip


def walk_flac(insp: Inspection, start: int) -> None:
    """Walk a FLAC stream whose ``fLaC`` marker is at ``start``: metadata blocks, then frames."""
    insp.report.codec = "flac"
    pos = start + 4
    info: FlacInfo | None = None
    seektable: tuple[int, int] | None = None
    last = False
    for index in range(MAX_CHUNKS):
        if last:
            break
        hdr = insp.src.read(pos, 4)
        if len(hdr) < 4:
            insp.add(
                "container.truncated",
                f"FLAC metadata ends mid-header at byte {pos}",
                offset=pos,
                size=insp.size - pos,
                where="flac metadata",
                missing_bytes=pos + 4 - insp.size,
                cut=True,
            )
            insp.report.audio_end = insp.size
            return
        last = bool(hdr[0] & 0x80)
        btype = hdr[0] & 0x7F
        length = int.from_bytes(hdr[1:4], "big")
        body = pos + 4
        name = _FLAC_BLOCKS[btype] if btype < len(_FLAC_BLOCKS) else f"RESERVED_{btype}"
        insp.segment("block", name, pos, 4 + length)
        if body + length > insp.size:
            insp.add(
                "container.truncated",
                f"FLAC {name} block at byte {pos} claims {length} bytes, {insp.size - body} remain",
                offset=pos,
                declared=length,
                size=insp.size - body,
                where=f"flac {name}",
                missing_bytes=body + length - insp.size,
                # A cut upload ends inside a block of a defined type after a sane STREAMINFO;
                # a forbidden type or a STREAMINFO of zeros is no honest file cut short.
                cut=btype < len(_FLAC_BLOCKS) and (index == 0 or _sane(info)),
            )
            if btype:  # what is there may still be a payload
                _block(insp, btype, name, pos, body, insp.size - body)
            insp.report.audio_end = insp.size
            return
        if btype == 0:
            if index == 0 and length >= 34:
                info = streaminfo(insp.src.read(body, 34))
        else:
            _block(insp, btype, name, pos, body, length)
            if btype == 3 and seektable is None:
                seektable = (body, length)
        pos = body + length
    else:
        insp.add(
            "container.oversized_metadata",
            f"more than {MAX_CHUNKS} FLAC metadata blocks",
            offset=start,
            size=pos - start,
            where="flac metadata",
        )
    if info is None or not _sane(info):
        insp.add(
            "container.undecodable",
            "FLAC stream has no valid STREAMINFO block first",
            offset=start,
            size=insp.size - start,
            where="flac STREAMINFO",
        )
        insp.report.audio_end = insp.size
        return
    insp.report.sample_rate, insp.report.channels = info.sample_rate, info.channels
    insp.report.frames = info.total or None
    _frames(insp, pos, info, start + 8)
    if seektable is not None and insp.report.audio_start is not None:
        _seek_points(insp, *seektable, info, insp.report.audio_start)


def _sane(info: FlacInfo | None) -> bool:
    return info is not None and info.sample_rate > 0 and info.channels > 0


def _block(insp: Inspection, btype: int, name: str, pos: int, body: int, length: int) -> None:
    """Check what a metadata block other than STREAMINFO carries."""
    where = f"FLAC {name} block"
    if btype == 1:  # PADDING: zeros, or something hides in it
        padding_region(insp, pos, body, length, where)
        return
    insp.metadata(pos, length, where)
    if btype == 2:
        _application(insp, pos, body, length, where)
    elif btype == 6:
        _picture(insp, body, length, where)
    elif btype == 4:
        raw = insp.src.read(body, min(length, insp.max_meta + COMMENT_MARGIN_BYTES))
        vorbis_comments(insp, raw, 0, length, lambda at: body + at, where, complete=True)
    elif btype == 5:
        _cuesheet(insp, body, length, where)
    elif btype == 3:
        sample, guess = insp.identify(body, length)
        blob = guess.kind is PayloadKind.HIGH_ENTROPY and length >= BLOB_BYTES
        examine(insp, body, length, where, flag_data=blob, sample=sample, guess=guess)
    else:
        insp.add(
            "container.unknown_chunk",
            f"reserved FLAC metadata block type {btype} at byte {pos}, {length} bytes",
            offset=pos,
            size=length,
            where=f"flac block {btype}",
        )
        reserved = examine(insp, body, length, where, flag_data=True, flag_text=False)
        if reserved is not None:
            insp.unaccount(body, length, where, reserved)


#: A seek point (RFC 9639 8.5): sample number, offset from the first frame, samples in it.
_SEEK_POINT = 18
_PLACEHOLDER = 0xFFFFFFFFFFFFFFFF
#: Seek points checked against the frame they point at, spread over the table: each costs
#: one small read.
_SEEK_POINTS_CHECKED = 64


def _seek_points(insp: Inspection, body: int, length: int, info: FlacInfo, first: int) -> None:
    """Check a SEEKTABLE against its specification and the frames: points in ascending sample
    order, placeholders only after them, each pointing at the frame that starts with its
    sample. Points that do not are numbers carrying something else."""
    raw = insp.src.read(body, min(length, insp.max_meta))
    where = "FLAC SEEKTABLE block"
    problem = ""
    if length % _SEEK_POINT:
        problem = f"{length} bytes are not whole {_SEEK_POINT}-byte seek points"
    points = [struct.unpack_from(">QQH", raw, at) for at in range(0, len(raw) - 17, _SEEK_POINT)]
    real = [p for p in points if p[0] != _PLACEHOLDER]
    if not problem and points[len(real) :] != [p for p in points if p[0] == _PLACEHOLDER]:
        problem = "a placeholder before a seek point"
    for a, b in itertools.pairwise(real):
        if problem:
            break
        if b[0] <= a[0] or b[1] < a[1]:
            problem = f"seek point for sample {b[0]} out of order"
    if not problem and real:
        step = max(1, len(real) // _SEEK_POINTS_CHECKED)
        for sample, offset, _ in real[::step][:_SEEK_POINTS_CHECKED]:
            if info.total and sample >= info.total:
                problem = f"seek point for sample {sample}, past the {info.total} the stream has"
                break
            buf = insp.src.read(first + offset, 24)
            frame = frame_header(buf, 0, info, first + offset)
            if frame is None or frame.first_sample != sample:
                problem = (
                    f"seek point for sample {sample} points at byte {first + offset}, "
                    "where no frame starts with that sample"
                )
                break
    if problem:
        insp.add(
            "container.nonconforming_metadata",
            f"{where}: {problem}",
            offset=body,
            size=length,
            where=where,
            points=len(points),
        )


def _cuesheet(insp: Inspection, body: int, length: int, where: str) -> None:
    """Check a CUESHEET block field by field (RFC 9639 8.7): the catalog number is ASCII padded
    with NULs, reserved bits and bytes are zeros, and the tracks and their index points fill
    the block exactly."""
    raw = insp.src.read(body, min(length, insp.max_meta))
    problem = ""
    at = 0
    if len(raw) < 396:
        problem = f"{length} bytes, fewer than a cue sheet's 396 fixed ones"
    else:
        catalog, _, pad = raw[:128].partition(b"\x00")
        if pad.strip(b"\x00") or not all(0x20 <= c < 0x7F for c in catalog):
            problem, at = "the catalog number is not ASCII padded with zeros", 0
        elif raw[136] & 0x7F or raw[137:395].strip(b"\x00"):
            problem, at = "reserved bytes are not zeros", 136
        else:
            pos = 396
            for _ in range(raw[395]):
                if pos + 36 > len(raw):
                    problem, at = "tracks run past the block", pos
                    break
                indices = raw[pos + 35]
                if raw[pos + 21] & 0x3F or raw[pos + 22 : pos + 35].strip(b"\x00"):
                    problem, at = "a track's reserved bytes are not zeros", pos
                    break
                pos += 36
                if pos + 12 * indices > len(raw):
                    problem, at = "index points run past the block", pos
                    break
                if any(
                    raw[pos + 12 * i + 9 : pos + 12 * i + 12].strip(b"\x00") for i in range(indices)
                ):
                    problem, at = "an index point's reserved bytes are not zeros", pos
                    break
                pos += 12 * indices
            if not problem and pos < length:
                problem, at = f"{length - pos} bytes past its last track", pos
    sample, guess = insp.identify(body, length)
    blob = guess.kind is PayloadKind.HIGH_ENTROPY and length >= BLOB_BYTES
    before = insp.reported()
    examine(insp, body, length, where, flag_data=blob, sample=sample, guess=guess)
    if problem and insp.reported() == before:
        insp.add(
            "container.nonconforming_metadata",
            f"{where}: {problem}",
            offset=body + at,
            size=length - at,
            where=where,
        )


def _application(insp: Inspection, pos: int, body: int, length: int, where: str) -> None:
    """An APPLICATION block: a registered application id, then that application's data."""
    app = insp.src.read(body, 4)
    name = app.decode("latin-1")
    if app not in _FLAC_APPLICATIONS:
        insp.add(
            "container.unknown_chunk",
            f"{where} at byte {pos} has an unregistered application id {name!r}, {length} bytes",
            offset=pos,
            size=length,
            where=where,
            application_id=name,
        )
    guess = examine(
        insp, body + 4, length - 4, f"{where} {name!r}", flag_data=True, flag_text=False
    )
    registered = app in _FLAC_APPLICATIONS
    if guess is not None and not (registered and guess.kind is PayloadKind.TEXT):
        # What an application keeps is read by that application only: bytes unaccounted for.
        insp.unaccount(body + 4, length - 4, f"{where} {name!r}", guess)


def _picture(insp: Inspection, body: int, length: int, where: str) -> None:
    """Identify the picture data of a PICTURE block read from the file."""
    head = insp.src.read(body, min(length, 8 + 4096))
    inner = 4
    mime = ""
    if len(head) >= 8:
        mime_len = int.from_bytes(head[4:8], "big")
        mime = head[8 : 8 + min(mime_len, 64)].decode("latin-1")
        inner = 8 + mime_len
        desc_len = int.from_bytes(insp.src.read(body + inner, 4), "big")
        inner += 4 + desc_len + 16
        data_len = int.from_bytes(insp.src.read(body + inner, 4), "big")
        inner += 4
        if inner > length or inner + data_len > length:
            insp.add(
                "container.size_mismatch",
                f"{where} fields run past the block ({inner + data_len} > {length})",
                offset=body,
                size=length,
                where=where,
            )
            inner = min(inner, length)
    sample, guess = insp.identify(body + inner, length - inner)
    examine(
        insp,
        body + inner,
        length - inner,
        where,
        flag_data=guess.kind is PayloadKind.HIGH_ENTROPY,
        sample=sample,
        guess=guess,
    )
    if len(sample) == length - inner:  # the whole picture was read
        image_structure(
            insp, sample, offset=body + inner, size=length - inner, where=where, mime=mime
        )


def _frames(insp: Inspection, meta_end: int, info: FlacInfo, info_at: int) -> None:
    """Place the first and last frames after the metadata (STREAMINFO's body at ``info_at``);
    report what lies around them."""
    hi = tail_tags(insp, meta_end, insp.size)
    insp.report.audio_start = meta_end
    if meta_end >= hi:
        insp.report.audio_end = hi
        if info.total:
            insp.add(
                "container.truncated",
                f"STREAMINFO promises {info.total} samples but no frame follows the metadata",
                offset=meta_end,
                size=0,
                where="flac frames",
            )
        return
    first = _headers(insp, meta_end, min(hi, meta_end + 64), info, None)
    if not first or first[0].offset != meta_end:
        found = _next_header(insp, meta_end, hi, info)
        if found is None:
            if info.total:  # a stream that promises no samples needs no frame
                insp.add(
                    "container.undecodable",
                    f"no FLAC frame found after the metadata (byte {meta_end})",
                    offset=meta_end,
                    size=hi - meta_end,
                    where="flac frames",
                )
            insp.report.audio_end = meta_end
            trailing(insp, meta_end, "after the FLAC metadata", stop=hi)
            return
        gap = found.offset - meta_end
        guess = examine(
            insp, meta_end, gap, "bytes between FLAC metadata and first frame", flag_data=True
        )
        if guess is not None and not guess.is_dangerous:
            insp.add(
                "container.size_mismatch",
                f"{gap} bytes between the FLAC metadata and the first frame",
                offset=meta_end,
                size=gap,
                where="flac frames",
            )
        insp.report.audio_start = found.offset
        first = [found]
    variable = first[0].variable
    last = _last_frame(insp, first[0].offset, hi, info, variable)
    if last is None:
        insp.add(
            "container.undecodable",
            "could not find the last FLAC frame",
            offset=first[0].offset,
            size=hi - first[0].offset,
            where="flac frames",
        )
        insp.report.audio_end = hi
        return
    end, cut = _frame_end(insp, last, hi, info)
    if info.total and last.first_sample + last.block_size == info.total and end < hi:
        # STREAMINFO's count is a claim; the frames are what decoders play. A frame that goes
        # on from the counted last one means the stream is longer than its header says.
        beyond = _headers(insp, end, min(hi, end + 64), info, variable)
        if beyond and beyond[0].offset == end:
            real = _fallback_last(insp, end, hi, info, variable)
            if real is not None:
                last = real
                end, cut = _frame_end(insp, last, hi, info)
    walked = last.first_sample + last.block_size
    insp.report.walked_frames = walked
    insp.segment("frames", "flac", first[0].offset, end - first[0].offset)
    if info.total and walked > info.total:
        insp.report.frames = walked
        # The decoder stops at STREAMINFO's count; it is told the count is unknown instead.
        packed = int.from_bytes(insp.src.read(info_at + 10, 8), "big") & ~((1 << 36) - 1)
        insp.report.decode_patches.append((info_at + 10, packed.to_bytes(8, "big")))
        insp.add(
            "container.size_mismatch",
            f"STREAMINFO counts {info.total} samples but the frames carry {walked}: "
            f"{walked - info.total} samples past the count, which readers that trust the "
            "header never play",
            offset=first[0].offset,
            declared=info.total,
            size=walked,
            where="flac STREAMINFO total samples",
        )
    elif not info.total:
        insp.report.frames = walked
    if info.total and walked < info.total:
        frame_bytes = max(1, end - first[0].offset)
        missing = (info.total - walked) * frame_bytes // max(1, walked)
        insp.add(
            "container.truncated",
            f"STREAMINFO promises {info.total} samples; frames end at sample {walked}",
            offset=last.offset,
            declared=info.total,
            size=walked,
            where="flac frames",
            missing_bytes=missing,
            cut=cut,
        )
    end = inner_tags(insp, end, hi)
    insp.report.audio_end = end
    if end < hi:
        trailing(insp, end, "after the last FLAC frame", stop=hi, last_frame_offset=last.offset)
    elif hi < insp.size:
        insp.report.audio_end = insp.size


def _headers(
    insp: Inspection, lo: int, hi: int, info: FlacInfo, variable: bool | None
) -> list[FlacFrame]:
    """Valid, STREAMINFO-consistent frame headers starting in ``[lo, hi)``, in file order."""
    buf = insp.src.read(lo, hi - lo + 24)
    arr = np.frombuffer(buf, dtype=np.uint8)
    if arr.size < 2:
        return []
    cand = np.flatnonzero((arr[:-1] == 0xFF) & ((arr[1:] & 0xFE) == 0xF8))
    if cand.size > 64:
        # Cheap vectorised checks of the next two bytes against STREAMINFO before the
        # per-candidate parse (CRC-8 and all).
        b2 = arr[np.minimum(cand + 2, arr.size - 1)]
        b3 = arr[np.minimum(cand + 3, arr.size - 1)]
        ch = b3 >> 4
        ch_ok = (ch == info.channels - 1) | ((ch >= 8) & (ch <= 10) & (info.channels == 2))
        keep = ((b2 >> 4) != 0) & ((b2 & 15) != 15) & ch_ok & ((b3 & 1) == 0)
        cand = cand[keep & (((b3 >> 1) & 7) != 3)]
    out = []
    for c in cand[cand < hi - lo].tolist():
        h = frame_header(buf, c, info, lo)
        if h is not None and (variable is None or h.variable == variable):
            out.append(h)
    return out


def _next_header(insp: Inspection, lo: int, hi: int, info: FlacInfo) -> FlacFrame | None:
    """The first frame header from ``lo`` (within :data:`RESYNC_BYTES`)."""
    pos = lo
    while pos < min(hi, lo + RESYNC_BYTES):
        step = min(BLOCK_BYTES, hi - pos)
        found = _headers(insp, pos, pos + step, info, None)
        if found:
            return found[0]
        pos += step
    return None


def _last_frame(
    insp: Inspection, first: int, hi: int, info: FlacInfo, variable: bool
) -> FlacFrame | None:
    """The frame that carries the stream's last sample, found from the end.

    With STREAMINFO's total the last frame is the one whose samples end at the total; it is
    searched in the tail first, then by bisection over the monotonic sample numbers (so a
    huge appended payload costs a few reads, not a scan). Without a total, the last valid
    header near the end is taken.
    """
    target = info.total

    def is_last(h: FlacFrame) -> bool:
        return not target or h.first_sample + h.block_size == target

    if not target:
        return _fallback_last(insp, first, hi, info, variable)
    pos = hi
    while pos > first and hi - pos < BLOCK_BYTES:
        lo = max(first, pos - BLOCK_BYTES // 4)
        found = [h for h in _headers(insp, lo, pos, info, variable) if is_last(h)]
        if found:
            return found[-1]
        pos = lo
    if pos <= first:
        return _fallback_last(insp, first, hi, info, variable)
    window = max(1 << 16, 2 * info.max_frame + 64)
    lo, up = first, hi
    for _ in range(64):
        if up - lo <= 2 * window:
            break
        mid = (lo + up) // 2
        found = _headers(insp, mid, min(mid + window, hi), info, variable)
        h = found[0] if found else None
        if h is None or h.first_sample + h.block_size > target:
            up = mid
        elif is_last(h):
            return h
        else:
            lo = h.offset + 1
    found = [h for h in _headers(insp, lo, min(up + window, hi), info, variable) if is_last(h)]
    return found[-1] if found else _fallback_last(insp, first, hi, info, variable)


def _fallback_last(
    insp: Inspection, first: int, hi: int, info: FlacInfo, variable: bool
) -> FlacFrame | None:
    # The stream stops short of its promised total (or has none): the last valid header.
    pos = hi
    while pos > first and hi - pos < 16 * RESYNC_BYTES:
        lo = max(first, pos - BLOCK_BYTES)
        found = _headers(insp, lo, pos, info, variable)
        if found:
            return found[-1]
        pos = lo
    return None


def _frame_end(insp: Inspection, last: FlacFrame, hi: int, info: FlacInfo) -> tuple[int, bool]:
    """Where the last frame ends, and whether the file ends inside it (cut short)."""
    # A frame is never longer than STREAMINFO's maximum nor than its samples stored verbatim.
    worst = last.block_size * info.channels * (info.bits + 1) // 8 + 64 * info.channels + 32
    bound = min(max(info.max_frame + 16, worst), 4 * BLOCK_BYTES)
    frame = insp.src.read(last.offset, min(bound, hi - last.offset))
    length = frame_length(frame, last)
    if length is None:
        if crc16(frame) == 0:
            return last.offset + len(frame), False
        # The file ends inside the frame when the bytes run out before its subframes do.
        cut = last.offset + len(frame) >= hi
        insp.add(
            "container.truncated",
            f"the last FLAC frame (byte {last.offset}) is cut short or malformed",
            offset=last.offset,
            size=len(frame),
            where="flac frames",
            missing_bytes=max(0, info.max_frame - len(frame)),
            cut=cut,
        )
        return hi, cut
    if crc16(frame[:length]) != 0:
        insp.add(
            "container.crc_mismatch",
            f"CRC-16 of the last FLAC frame (byte {last.offset}, {length} bytes) does not match",
            offset=last.offset,
            size=length,
            where="flac frame",
        )
    return last.offset + length, False
