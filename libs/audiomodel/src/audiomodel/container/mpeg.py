"""MPEG audio (MP3/MP2/MP1; ISO/IEC 11172-3 and 13818-3 frame headers, MPEG 2.5): the frames
are followed from the first chain of consistent headers to the last, stepping over tags left
mid-stream by joined files; junk between frames and whatever follows the last one is examined.
"""

from __future__ import annotations

import zlib
from collections import deque
from functools import lru_cache
from typing import Final, NamedTuple

import numpy as np

from audiomodel.container.embedded import (
    emit_data,
    emit_payload,
    examine,
    region_evidence,
    scan_signatures,
    trailing,
)
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import BLOCK_BYTES, MPEG_JUNK_TOLERANCE, RESYNC_BYTES
from audiomodel.container.source import Window
from audiomodel.container.tags import inner_tags, tail_tags
from audiomodel.findings import Severity
from audiomodel.payload import DANGEROUS_KINDS, PayloadKind, find_signatures, identify_payload


class _MpegFrame(NamedTuple):
    """What a frame header says."""

    length: int
    samples: int
    sample_rate: int
    version: int  # 1, 2 or 25 (MPEG 2.5)
    layer: int
    channels: int
    side_info: int


_MPEG_BITRATES: Final = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES: Final = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}
# Sync, version, layer and sample rate: what stays fixed from frame to frame of one stream.
_MPEG_STREAM_MASK: Final = 0xFFFE0C00


@lru_cache(maxsize=4096)
def _mpeg_frame(header: int) -> _MpegFrame | None:
    """Decode a 32-bit MPEG audio frame header; ``None`` if invalid or free format."""
    if (header >> 21) & 0x7FF != 0x7FF:
        return None
    vbits = (header >> 19) & 3
    lbits = (header >> 17) & 3
    bitrate_index = (header >> 12) & 15
    rate_index = (header >> 10) & 3
    if vbits == 1 or lbits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    if header & 3 == 2:  # reserved emphasis
        return None
    version = {0: 25, 2: 2, 3: 1}[vbits]
    layer = 4 - lbits
    bitrate = _MPEG_BITRATES[(1 if version == 1 else 2, layer)][bitrate_index] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (header >> 9) & 1
    channels = 1 if (header >> 6) & 3 == 3 else 2
    if layer == 1:
        length, samples = (12 * bitrate // rate + padding) * 4, 384
    elif layer == 2 or version == 1:
        length, samples = 144 * bitrate // rate + padding, 1152
    else:
        length, samples = 72 * bitrate // rate + padding, 576
    side = (17 if channels == 1 else 32) if version == 1 else (9 if channels == 1 else 17)
    return _MpegFrame(length, samples, rate, version, layer, channels, side)


def _mpeg_candidates(buf: bytes, ref: int | None) -> list[int]:
    """Offsets in ``buf`` that may start an MPEG frame header (same stream as ``ref`` if given)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    if arr.size < 4:
        return []
    b0, b1, b2 = arr[:-3], arr[1:-2], arr[2:-1]
    if ref is None:
        mask = (
            (b0 == 0xFF)
            & ((b1 & 0xE0) == 0xE0)
            & ((b1 & 0x18) != 0x08)
            & ((b1 & 0x06) != 0)
            & ((b2 & 0xF0) != 0xF0)
            & ((b2 & 0x0C) != 0x0C)
        )
    else:
        ref1 = (ref >> 16) & 0xFE
        ref2 = (ref >> 8) & 0x0C
        mask = (b0 == 0xFF) & ((b1 & 0xFE) == ref1) & ((b2 & 0x0C) == ref2)
    found: list[int] = np.flatnonzero(mask).tolist()
    return found


def mpeg_sync_in(head: bytes) -> int | None:
    """First offset in ``head`` where two consistent MPEG frames follow each other."""
    for c in _mpeg_candidates(head[: 1 << 16], None):
        h = int.from_bytes(head[c : c + 4], "big")
        f = _mpeg_frame(h)
        if f is None:
            continue
        nxt = c + f.length
        if nxt + 4 > len(head):
            if c == 0 and nxt >= len(head):
                return c  # a lone frame that fills the whole sample
            continue
        h2 = int.from_bytes(head[nxt : nxt + 4], "big")
        if _mpeg_frame(h2) is not None and (h2 & _MPEG_STREAM_MASK) == (h & _MPEG_STREAM_MASK):
            return c
    return None


def walk_mpeg(insp: Inspection, start: int) -> None:
    """Walk MPEG audio frames from ``start`` (past any leading ID3v2 tags) to the end tags."""
    hi = tail_tags(insp, start, insp.size)
    win = Window(insp.src)
    first = _mpeg_sync(insp, win, start, hi, None)
    insp.report.audio_start = first
    if first is None:
        insp.add(
            "container.undecodable",
            f"no MPEG audio frames after byte {start}",
            offset=start,
            size=hi - start,
            where="mpeg frames",
        )
        insp.report.audio_end = start
        if start < insp.size:
            trailing(insp, start, "where MPEG frames should be", stop=hi)
        return
    if first > start:
        _mpeg_junk(insp, start, first - start, total_junk=first - start)
    ref = int.from_bytes(win.get(first, 4), "big")
    head = _mpeg_frame(ref)
    if head is None:  # mpeg_sync only returns valid headers
        raise ValueError(f"no MPEG frame at byte {first}")
    insp.report.codec = {1: "mp1", 2: "mp2", 3: "mp3"}[head.layer]
    insp.report.sample_rate, insp.report.channels = head.sample_rate, head.channels
    xing_frames = _xing_frames(win.get(first, 200), head, ref)
    _info_frame_rest(insp, win.get(first, head.length), head, ref, first)
    pos = first
    frames = 0
    samples = 0
    reservoir = _BitReservoir(win) if head.layer == 3 else None
    junk = first - start
    mask = ref & _MPEG_STREAM_MASK
    last = first
    while pos < hi:
        if frames & 0xFFF == 0xFFF and insp.out_of_time(pos):
            break
        h = int.from_bytes(win.get(pos, 4), "big")
        f = _mpeg_frame(h) if (h & _MPEG_STREAM_MASK) == mask else None
        if f is not None:
            if pos + f.length <= hi:
                frames += 1
                samples += f.samples
                if reservoir is not None:
                    reservoir.frame(f, h, pos)
                last = pos
                pos += f.length
                continue
            scan_signatures(insp, pos, hi - pos, "cut-short last MPEG frame")
            insp.add(
                "container.truncated",
                f"the last MPEG frame (byte {pos}) is cut short by {pos + f.length - hi} bytes",
                severity=Severity.INFO,
                offset=pos,
                declared=f.length,
                size=hi - pos,
                where="mpeg frames",
                missing_bytes=pos + f.length - hi,
                cut=True,
            )
            pos = hi
            break
        tagged = inner_tags(insp, pos, hi)  # joined files keep their tags mid-stream
        if tagged > pos:
            pos = tagged
            continue
        nxt = _mpeg_sync(insp, win, pos + 1, hi, ref)
        if nxt is None:
            break
        junk += nxt - pos
        _mpeg_junk(insp, pos, nxt - pos, total_junk=junk)
        pos = nxt
    insp.segment("frames", insp.report.codec, first, pos - first, frames)
    if reservoir is not None:
        reservoir.judge(insp, first, pos - first)
    insp.report.walked_frames = samples
    if xing_frames is not None:
        insp.report.frames = xing_frames * head.samples
    else:
        insp.report.frames = samples
    insp.report.audio_end = pos
    pos = inner_tags(insp, pos, hi)
    insp.report.audio_end = pos
    if pos < hi:
        # A payload can wear a frame header to hide its own first bytes in a fake frame.
        scan_signatures(insp, last, pos - last, "last MPEG frame before trailing data")
        trailing(insp, pos, "after the last MPEG frame", stop=hi)
    else:
        insp.report.audio_end = insp.size


# -- Layer III's bit reservoir ------------------------------------------------------------------
#
# A Layer III frame's side information says where its main data starts (main_data_begin: that
# many bytes back into earlier frames' main data, the bit reservoir) and how many bits each
# granule and channel takes (part2_3_length). An encoder keeps this account exactly: a frame's
# data starts at or after the end of the previous frame's and ends within the bytes the frames
# so far carry (ISO/IEC 11172-3 2.4.1.7, 13818-3). A file's bytes given frame headers declare
# random lengths (4 x ~2,048 bits in a 128 kb/s frame that carries ~3,000) and random
# back-pointers: nearly every frame overruns or overlaps. Decoders conceal such frames as
# noise, so the samples say nothing (a random body decoded loud and clipped; score 0.07-0.17).
# A stream cut mid-reservoir breaks the account once where it starts (its first frame points
# back into bytes that are gone); bit errors in transit break a few frames.
RESERVOIR_MIN_FRAMES = 20
RESERVOIR_MAX_BROKEN_SHARE = 0.25  # share of frames whose account breaks, at most
ANCILLARY_SAMPLE_BYTES = 64 << 10  # ancillary bytes read to tell what they are, at most
# An encoder's fill (a repeated pattern) compresses below this share: 213 MP3s of the dev corpus
# and good sets with 4 KiB or more of ancillary bytes, 0.079 at most; an executable that is
# mostly zeros 0.17, source code 0.22, encrypted bytes 1.0 (zlib's own overhead lifts a short
# sample of fill to 0.14 at 1 KB, hence ANCILLARY_MIN_BYTES)
FILL_MAX_COMPRESSED = 0.12
ANCILLARY_MIN_BYTES = 4096
_TAG_FRAMES = (b"Xing", b"Info")


class _BitReservoir:
    """Follows the main-data account of a Layer III stream frame by frame, and keeps the
    bytes no granule takes (ancillary data: what is left between one frame's data and the
    next's, and after the last)."""

    def __init__(self, win: Window) -> None:
        self.win = win
        self.carried = 0  # main-data bytes the frames so far carry
        self.used_to = 0  # where the previous frame's main data ends, in those bytes
        self.frames = 0
        self.broken = 0
        # (where in the carried bytes, where in the file, how many) of the frames whose main
        # data the next frame may still point back into (the reservoir is 511 bytes at most)
        self.recent: deque[tuple[int, int, int]] = deque()
        self.ancillary = 0
        self.ancillary_at: int | None = None
        self.ancillary_sample = bytearray()

    def frame(self, f: _MpegFrame, header: int, pos: int) -> None:
        crc = 0 if header & 0x10000 else 2
        info = self.win.get(pos + 4 + crc, f.side_info)
        main_bytes = f.length - 4 - crc - f.side_info
        if len(info) < f.side_info or main_bytes < 0:
            return
        if self.frames == 0 and self.win.get(pos + 4 + crc + f.side_info, 4) in _TAG_FRAMES:
            return  # the encoder's tag frame (its body is the tag, read by the walk)
        back, bits = _side_info(info, f)
        start = self.carried - back
        end = start + (bits + 7) // 8
        if self.frames == 0 and start < 0:
            start, end = 0, (bits + 7) // 8  # a stream cut mid-reservoir: its first frame
        elif start < self.used_to or end > self.carried + main_bytes or start < 0:
            self.broken += 1
            end = max(self.used_to, min(end, self.carried + main_bytes))
        elif start > self.used_to:
            self._ancillary(self.used_to, start)
        self.frames += 1
        self.recent.append((self.carried, pos + 4 + crc + f.side_info, main_bytes))
        self.carried += main_bytes
        self.used_to = max(self.used_to, end)
        while self.recent and self.recent[0][0] + self.recent[0][2] <= self.used_to:
            self.recent.popleft()

    def _ancillary(self, lo: int, hi: int) -> None:
        """Count the carried bytes ``[lo, hi)`` as ancillary; keep a sample of them."""
        self.ancillary += hi - lo
        for begin, at, size in self.recent:
            a, b = max(lo, begin), min(hi, begin + size)
            if a >= b:
                continue
            if self.ancillary_at is None:
                self.ancillary_at = at + a - begin
            room = ANCILLARY_SAMPLE_BYTES - len(self.ancillary_sample)
            if room > 0:
                self.ancillary_sample += self.win.get(at + a - begin, min(b - a, room))

    def judge(self, insp: Inspection, offset: int, size: int) -> None:
        if self.carried > self.used_to:
            self._ancillary(self.used_to, self.carried)  # after the last frame's data
        if self.ancillary and self.ancillary_at is not None:
            self._judge_ancillary(insp, self.ancillary_at)
        if self.frames < RESERVOIR_MIN_FRAMES:
            return
        share = self.broken / self.frames
        if share <= RESERVOIR_MAX_BROKEN_SHARE:
            return
        insp.add(
            "container.nonconforming_stream",
            f"{self.broken} of {self.frames} Layer III frames declare more main-data bits than "
            "the frames carry, or data that overlaps the previous frame's: no encoder keeps its "
            "bit reservoir so; the frames' bodies are not encoded sound",
            offset=offset,
            size=size,
            where="mpeg frames",
            broken_frames=self.broken,
            frames=self.frames,
            broken_share=round(share, 3),
        )

    def _judge_ancillary(self, insp: Inspection, at: int) -> None:
        """Ancillary bytes are what an encoder fills a frame with when its reservoir is full:
        a short pattern again and again (LAME: its name and 0x55; dev corpus and good sets: up
        to 300 KB a file of CBR test tones, compressing to under 1 %); a file's bytes behind
        frames whose side information declares nothing (all zero: every frame valid and
        empty) are all ancillary. A signature in them is reported as what it is; ancillary
        bytes that are no repeated fill (compressing to over ``FILL_MAX_COMPRESSED``) count
        against the budget of bytes of no known purpose (high-entropy ones reject past it)."""
        sample = bytes(self.ancillary_sample)
        guess = identify_payload(sample)
        where = "MPEG ancillary data"
        hits = [(0, guess.name, guess.kind)] if guess.kind in DANGEROUS_KINDS else []
        hits += find_signatures(sample, limit=1)
        if hits:
            _, name, kind = hits[0]
            ev = region_evidence(at, self.ancillary, guess, where)
            ev.update(payload_kind=kind.value, payload_name=name)
            message = f"{where}: {name} in the bytes no granule takes, from byte {at}"
            emit_payload(insp, kind, message, ev)
        elif len(sample) >= ANCILLARY_MIN_BYTES and len(
            zlib.compress(sample)
        ) > FILL_MAX_COMPRESSED * len(sample):
            insp.unaccount(at, self.ancillary, where, guess)


def _side_info(info: bytes, f: _MpegFrame) -> tuple[int, int]:
    """(main_data_begin in bytes, main-data bits all granules and channels declare) of a Layer
    III frame's side information."""
    value = int.from_bytes(info, "big")
    back_shift, back_mask, length_shifts = _side_info_layout(f.version, f.channels, len(info))
    bits = 0
    for shift in length_shifts:
        bits += (value >> shift) & 0xFFF  # part2_3_length
    return (value >> back_shift) & back_mask, bits


@lru_cache(maxsize=16)
def _side_info_layout(version: int, channels: int, size: int) -> tuple[int, int, tuple[int, ...]]:
    """Where main_data_begin and each part2_3_length sit in a side information of ``size``
    bytes read as one big-endian integer: (its shift, its mask, the lengths' shifts)."""
    width = size * 8
    if version == 1:
        back_bits = 9
        at = 9 + (5 if channels == 1 else 3) + 4 * channels  # private bits, scfsi
        granules, per_channel = 2, 59
    else:
        back_bits = 8
        at = 8 + (1 if channels == 1 else 2)
        granules, per_channel = 1, 63
    shifts = tuple(width - (at + g * per_channel) - 12 for g in range(granules * channels))
    return width - back_bits, (1 << back_bits) - 1, shifts


def _mpeg_sync(insp: Inspection, win: Window, lo: int, hi: int, ref: int | None) -> int | None:
    """First offset in ``[lo, hi)`` where a chain of valid frames starts.

    Without ``ref`` three consecutive consistent frames are required (two when the file has
    room for no more); with ``ref`` two frames of the same stream.
    """
    need = 3 if ref is None else 2
    pos = lo
    stop = min(hi, lo + RESYNC_BYTES)
    while pos < stop:
        block = insp.src.read(pos, min(BLOCK_BYTES, stop - pos) + 3)
        if len(block) < 4:
            break
        for c in _mpeg_candidates(block, ref):
            if pos + c >= stop:
                break
            if _mpeg_chain(win, pos + c, hi, need):
                return pos + c
        pos += len(block) - 3
    return None


def _mpeg_junk(insp: Inspection, offset: int, length: int, *, total_junk: int) -> None:
    # Encoders and rippers leave a few stray bytes; a lot of them is a hiding place.
    insp.segment("junk", "between mpeg frames", offset, length)
    big = total_junk > MPEG_JUNK_TOLERANCE or length > MPEG_JUNK_TOLERANCE
    before = insp.reported()
    guess = examine(insp, offset, length, "bytes between MPEG frames", flag_data=big)
    if (
        big
        and guess is not None
        and guess.kind is not PayloadKind.PADDING
        and insp.reported() == before
    ):
        message = f"{length} bytes that are not MPEG frames at byte {offset}"
        emit_data(
            insp, message, offset=offset, size=length, guess=guess, where="between mpeg frames"
        )


def _mpeg_chain(win: Window, pos: int, hi: int, need: int) -> bool:
    """Whether ``need`` frames of one stream follow each other from ``pos`` (or reach ``hi``)."""
    first = int.from_bytes(win.get(pos, 4), "big")
    for k in range(need):
        h = int.from_bytes(win.get(pos, 4), "big")
        f = _mpeg_frame(h)
        if f is None or (h & _MPEG_STREAM_MASK) != (first & _MPEG_STREAM_MASK):
            return False
        pos += f.length
        if pos == hi:
            return True
        if pos + 4 > hi:
            return k > 0
    return True


#: The LAME extension after a Xing/Info header: a 9-byte encoder version (``LAME3.100``,
#: ``Lavc59.37``) and 27 bytes of fields, to its CRC.
_LAME_TAG_BYTES: Final = 36


def _info_frame_rest(
    insp: Inspection, frame: bytes, head: _MpegFrame, header: int, offset: int
) -> None:
    """Check that a Xing/Info frame holds nothing past its fields.

    The first frame of a LAME or FFmpeg stream is no audio: a Xing/Info header (flags, frame
    and byte counts, a 100-entry seek table, a quality value, each present by its flag) and the
    LAME extension, then zeros to the frame's end. Decoders skip that frame, so bytes written
    into its zeros are never heard and never read.
    """
    at = 4 + head.side_info + (0 if header & 0x10000 else 2)
    if frame[at : at + 4] not in (b"Xing", b"Info"):
        return
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    end = at + 8 + sum(size for bit, size in ((1, 4), (2, 4), (4, 100), (8, 4)) if flags & bit)
    version = frame[end : end + 9]
    if len(version) == 9 and version[:4].isalnum() and all(0x20 <= c < 0x7F for c in version):
        end += _LAME_TAG_BYTES
    rest = frame[end:]
    if not rest.strip(b"\x00"):
        return
    first = end + len(rest) - len(rest.lstrip(b"\x00"))
    where = "Xing/Info frame past its fields"
    before = insp.reported()
    examine(insp, offset + first, len(frame) - first, where, flag_data=False)
    if insp.reported() == before:
        insp.add(
            "container.nonconforming_metadata",
            f"the Xing/Info frame at byte {offset} holds {len(frame) - first} non-zero bytes "
            f"past its fields (from byte {offset + first}): that frame is never played",
            offset=offset + first,
            size=len(frame) - first,
            where="mpeg Xing/Info frame",
        )


def _xing_frames(head: bytes, frame: _MpegFrame, header: int) -> int | None:
    """Frame count from a Xing/Info or VBRI header in the first frame (that frame is not audio)."""
    at = 4 + frame.side_info + (0 if header & 0x10000 else 2)
    if head[at : at + 4] in (b"Xing", b"Info"):
        flags = int.from_bytes(head[at + 4 : at + 8], "big")
        if flags & 1 and len(head) >= at + 12:
            return int.from_bytes(head[at + 8 : at + 12], "big")
    if head[36:40] == b"VBRI" and len(head) >= 54:
        return int.from_bytes(head[50:54], "big")
    return None
