"""Ogg (RFC 3533): pages walked with their CRC, logical streams told apart (Vorbis, Opus, FLAC,
Speex, Theora, Skeleton; chained streams), junk between pages resynchronised past, and the
header packets that carry comments and pictures reassembled and checked.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Final

from audiomodel.container.checksums import ogg_crc
from audiomodel.container.embedded import examine, memory_region, trailing
from audiomodel.container.flac_frames import streaminfo
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import (
    BLOCK_BYTES,
    COMMENT_MARGIN_BYTES,
    MAX_OGG_STREAMS,
    OGG_RESYNC_CANDIDATES,
    RESYNC_BYTES,
    STREAM_SAMPLE_BYTES,
)
from audiomodel.container.source import Window
from audiomodel.container.vorbis_comments import picture_block, vorbis_comments
from audiomodel.findings import Severity
from audiomodel.payload import PayloadKind

#: How the comment packet of each codec starts.
_OGG_COMMENT_PREFIX: Final = {
    "vorbis": b"\x03vorbis",
    "theora": b"\x81theora",
    "opus": b"OpusTags",
    "speex": b"",  # Speex's second packet is the bare comment structure
}


class _OggStream:
    """What is known of one logical stream while its pages are walked."""

    def __init__(self, serial: int, offset: int) -> None:
        self.serial = serial
        self.offset = offset
        self.codec = "unknown"
        self.header_packets = 1
        self.meta_packets = 0  # header packets 1..meta_packets carry comments and pictures
        self.packets = 0
        self.partial = 0
        self.pages = 0
        self.bytes = 0
        self.granule = -1
        self.ended = False
        self.oversized = False
        self.sample_rate: int | None = None
        self.channels: int | None = None
        self.total: int | None = None
        self.preskip = 0
        # The metadata packet being reassembled (bounded), and where its pieces sit in the file:
        # (offset in the packet, offset in the file) for each page's run of its bytes.
        self.meta_buf = bytearray()
        self.meta_map: list[tuple[int, int]] = []
        # The first bytes a stream of no known codec carries, to identify (bounded).
        self.sample = bytearray()
        self.sample_at = -1
        # Opus padding bytes that are not zeros (RFC 6716 3.2.5), a sample of them and where
        # the first sits.
        self.padding_bytes = 0
        self.padding_sample = bytearray()
        self.padding_at = -1


def walk_ogg(insp: Inspection) -> None:
    """Walk the pages of an Ogg file."""
    _OggWalk(insp).run()


class _OggWalk:
    """One walk over the pages of an Ogg file."""

    def __init__(self, insp: Inspection) -> None:
        self.insp = insp
        self.open_streams = 0  # Ogg logical streams begun and not yet ended

    def run(self) -> None:
        """Walk the pages, then settle the codec, the length and where the audio ends."""
        insp, report = self.insp, self.insp.report
        win = Window(insp.src)
        streams: dict[int, _OggStream] = {}
        order: list[_OggStream] = []
        pos = 0
        end = 0
        pages = 0
        while pos < insp.size and pages < (1 << 22):
            if pages & 0xFFF == 0xFFF and insp.out_of_time(pos):
                break
            if streams and not self.open_streams:
                # Only a new chained stream may follow the end of all streams.
                nxt = win.get(pos, 27)
                if nxt[:4] != b"OggS" or len(nxt) < 27 or not nxt[5] & 2:
                    break
            page = self.read_page(win, pos)
            if page is None:
                resync = self.resync(win, pos + 1)
                if resync is None:
                    break
                self.junk(pos, resync - pos)
                pos = resync
                continue
            if isinstance(page, int):  # truncated: page claims more than the file holds
                insp.add(
                    "container.truncated",
                    f"Ogg page at byte {pos} claims {page} bytes, {insp.size - pos} remain",
                    offset=pos,
                    declared=page,
                    size=insp.size - pos,
                    where="ogg page",
                    missing_bytes=pos + page - insp.size,
                    cut=True,
                )
                end = insp.size
                pos = insp.size
                break
            pages += 1
            data, crc_ok = page
            if len(order) >= MAX_OGG_STREAMS and data[5] & 2:
                insp.add(
                    "container.oversized_metadata",
                    f"more than {MAX_OGG_STREAMS} logical streams; the walk stopped at byte {pos}",
                    offset=pos,
                    size=insp.size - pos,
                    where="ogg streams",
                )
                break
            if not crc_ok:
                insp.add(
                    "container.crc_mismatch",
                    f"Ogg page at byte {pos} fails its CRC-32",
                    offset=pos,
                    size=len(data),
                    where="ogg page",
                    sequence=int.from_bytes(data[18:22], "little"),
                )
            self.track(data, pos, streams, order)
            pos += len(data)
            end = pos
        report.audio_start = 0
        report.audio_end = end
        for st in order:
            insp.segment("pages", f"{st.codec}:{st.serial:08x}", st.offset, st.bytes, st.pages)
        audio = next((s for s in order if s.codec in ("vorbis", "opus", "flac", "speex")), None)
        if audio is None:
            insp.add(
                "container.undecodable",
                "no Vorbis, Opus, FLAC or Speex stream in the Ogg container",
                offset=0,
                size=insp.size,
                where="ogg streams",
            )
        else:
            report.codec = audio.codec
            report.sample_rate, report.channels = audio.sample_rate, audio.channels
            if audio.granule >= 0:
                report.frames = report.walked_frames = max(0, audio.granule - audio.preskip)
            elif audio.total:
                report.frames = audio.total
            if not audio.ended and end == insp.size and not insp.has("container.truncated"):
                insp.add(
                    "container.truncated",
                    "the Ogg audio stream has no end-of-stream page",
                    severity=Severity.INFO,
                    offset=end,
                    size=0,
                    where="ogg eos",
                )
        for st in order:
            if st.meta_buf:  # a metadata packet the stream never finished
                self.meta_packet(st, complete=False)
        if audio is not None:
            for st in order:
                if st is not audio:
                    self.extra_stream(st, audio)
        for st in order:
            if st.padding_bytes:
                self.padding_payload(st)
        if end < insp.size:
            trailing(self.insp, end, "after the last Ogg page")

    def extra_stream(self, st: _OggStream, audio: _OggStream) -> None:
        """Account for a logical stream besides the decoded one.

        The decoder plays the first audio stream only: a second one, multiplexed beside it or
        chained after its end, is audio nobody judges; video is no track; a stream of no known
        codec is raw data in Ogg pages. Each is reported with its serial number and byte range
        (its pages may interleave with others), and what an unknown one carries is identified.
        A Skeleton stream is an index of the others and is accounted for as metadata.
        """
        if st.codec == "skeleton":
            self.insp.report.metadata_bytes += st.bytes
            return
        chained = st.offset >= audio.offset + audio.bytes
        layout = "chained after" if chained else "multiplexed with"
        if st.codec in ("vorbis", "opus", "flac", "speex"):
            what = f"a second {st.codec} stream, {layout} the decoded one: its audio is not judged"
        elif st.codec == "theora":
            what = f"a Theora video stream {layout} the audio"
        else:
            head = bytes(st.sample[:8]).hex()
            what = f"a stream of no known codec (first bytes {head or 'none'}) {layout} the audio"
        self.insp.add(
            "container.extra_stream",
            f"Ogg logical stream {st.serial:08x} at bytes {st.offset}-{st.offset + st.bytes} "
            f"({st.pages} pages): {what}",
            offset=st.offset,
            size=st.bytes,
            serial=f"{st.serial:08x}",
            codec=st.codec,
            pages=st.pages,
            layout="chained" if chained else "multiplexed",
        )
        if st.sample:
            memory_region(
                self.insp,
                bytes(st.sample),
                offset=st.sample_at,
                size=st.bytes,
                where=f"Ogg stream {st.serial:08x}",
                flag_data=True,
            )

    def padding_payload(self, st: _OggStream) -> None:
        """Report the non-zero padding of a stream's Opus packets, and what it holds."""
        where = f"Opus packet padding of stream {st.serial:08x}"
        before = self.insp.reported()
        memory_region(
            self.insp,
            bytes(st.padding_sample),
            offset=st.padding_at,
            size=st.padding_bytes,
            where=where,
            flag_data=False,
        )
        if self.insp.reported() == before:
            self.insp.add(
                "container.nonconforming_metadata",
                f"{where}: {st.padding_bytes} padding bytes that are not zeros, the first at "
                f"byte {st.padding_at} (RFC 6716 has encoders write zeros, so that padding "
                "is no covert channel)",
                offset=st.padding_at,
                size=st.padding_bytes,
                where=where,
            )

    def read_page(self, win: Window, pos: int) -> tuple[bytes, bool] | int | None:
        """The page at ``pos`` and whether its CRC holds; its claimed size if it runs past
        the end of the file; ``None`` if no page starts there."""
        hdr = win.get(pos, 27 + 255)
        if len(hdr) < 27 or hdr[:4] != b"OggS" or hdr[4] != 0:
            return None
        nseg = hdr[26]
        if len(hdr) < 27 + nseg:
            return 27 + nseg
        length = 27 + nseg + sum(hdr[27 : 27 + nseg])
        if pos + length > self.insp.size:
            return length
        data = win.get(pos, length)
        crc = ogg_crc(data[:22] + b"\x00\x00\x00\x00" + data[26:])
        return data, crc == int.from_bytes(data[22:26], "little")

    def resync(self, win: Window, start: int) -> int | None:
        """The next page with a valid CRC after ``start`` (within :data:`RESYNC_BYTES`)."""
        pos = start
        stop = min(self.insp.size, start + RESYNC_BYTES)
        budget = OGG_RESYNC_CANDIDATES
        while pos < stop:
            block = self.insp.src.read(pos, min(BLOCK_BYTES, stop - pos) + 4)
            at = block.find(b"OggS\x00")
            while at >= 0:
                budget -= 1
                if budget < 0:
                    return None
                page = self.read_page(win, pos + at)
                if isinstance(page, tuple) and page[1]:
                    return pos + at
                at = block.find(b"OggS\x00", at + 1)
            if len(block) <= 4:
                break
            pos += len(block) - 4
        return None

    def junk(self, offset: int, length: int) -> None:
        """Examine bytes between pages that belong to no page."""
        self.insp.segment("junk", "between ogg pages", offset, length)
        guess = examine(self.insp, offset, length, "bytes between Ogg pages", flag_data=True)
        if (
            guess is not None
            and not guess.is_dangerous
            and guess.kind
            not in (
                PayloadKind.HIGH_ENTROPY,
                PayloadKind.TEXT,
            )
        ):
            self.insp.add(
                "container.size_mismatch",
                f"{length} bytes between Ogg pages at byte {offset}",
                offset=offset,
                size=length,
                where="ogg pages",
            )

    def track(
        self, data: bytes, pos: int, streams: dict[int, _OggStream], order: list[_OggStream]
    ) -> None:
        """Follow one page: its stream's start, end and granule, and its header packets."""
        flags = data[5]
        granule = int.from_bytes(data[6:14], "little", signed=True)
        serial = int.from_bytes(data[14:18], "little")
        nseg = data[26]
        table = data[27 : 27 + nseg]
        st = streams.get(serial)
        if st is None or (flags & 2 and st.ended):
            st = _OggStream(serial, pos)
            streams[serial] = st
            order.append(st)
            self.open_streams += 1
            if flags & 2:
                first_len = 0
                for lace in table:
                    first_len += lace
                    if lace < 255:
                        break
                packet = data[27 + nseg : 27 + nseg + first_len]
                _ogg_codec(st, packet)
                self.id_header_rest(st, packet, pos + 27 + nseg)
            else:
                self.insp.add(
                    "container.unknown_chunk",
                    f"Ogg page at byte {pos} for stream {serial:08x} without a start page",
                    offset=pos,
                    size=len(data),
                    where="ogg page",
                )
        elif st.ended:
            self.insp.add(
                "container.unknown_chunk",
                f"Ogg page at byte {pos} after the end of stream {serial:08x}",
                severity=Severity.SUSPICIOUS,
                offset=pos,
                size=len(data),
                where="ogg page",
            )
        st.pages += 1
        st.bytes = pos + len(data) - st.offset
        if st.codec == "unknown" and len(st.sample) < STREAM_SAMPLE_BYTES:
            if st.sample_at < 0:
                st.sample_at = pos + 27 + nseg
            st.sample += data[27 + nseg : 27 + nseg + STREAM_SAMPLE_BYTES - len(st.sample)]
        if granule != -1:
            st.granule = granule
        if flags & 4 and not st.ended:
            st.ended = True
            self.open_streams -= 1
        if st.codec == "opus" and st.packets >= st.header_packets:
            _opus_padding(st, data, pos, nseg, table)
        if st.packets < st.header_packets:
            # Header packets (comments, pictures) are where metadata hides; audio packets are
            # not followed, so this loop runs on the first few pages of a stream only.
            at = 27 + nseg  # where the current lace starts in the page
            for lace in table:
                if 1 <= st.packets <= st.meta_packets:
                    self.collect(st, data, at, lace, pos)
                at += lace
                st.partial += lace
                if lace < 255:
                    if 1 <= st.packets <= st.meta_packets:
                        self.insp.report.metadata_bytes += st.partial
                        self.header_size(st, pos)
                        self.meta_packet(st, complete=True)
                    st.packets += 1
                    st.partial = 0
                    if st.packets >= st.header_packets:
                        break
            if 1 <= st.packets <= st.meta_packets:
                self.header_size(st, pos)

    def id_header_rest(self, st: _OggStream, packet: bytes, offset: int) -> None:
        """Report bytes past the fields of a stream's identification header.

        Vorbis's is 30 bytes (to its framing bit); Opus's 19, or 21 plus one byte a channel
        with a channel mapping table (RFC 7845 5.1). RFC 7845 lets later versions grow it,
        but no version does: non-zero bytes there are read by no decoder.
        """
        if st.codec == "vorbis":
            used = 30
        elif st.codec == "opus" and len(packet) >= 19:
            used = 19 if packet[18] == 0 else 21 + packet[9]
        else:
            return
        rest = packet[used:]
        if not rest.strip(b"\x00"):
            return
        where = f"{st.codec} identification header past its fields"
        before = self.insp.reported()
        memory_region(
            self.insp, rest, offset=offset + used, size=len(rest), where=where, flag_data=True
        )
        if self.insp.reported() == before:
            self.insp.add(
                "container.nonconforming_metadata",
                f"the {st.codec} identification header of stream {st.serial:08x} holds "
                f"{len(rest)} bytes past its {used} (at byte {offset + used})",
                offset=offset + used,
                size=len(rest),
                where=f"{st.codec} identification header",
            )

    def header_size(self, st: _OggStream, pos: int) -> None:
        """Report a header packet over the metadata limit (once per stream)."""
        if st.partial > self.insp.max_meta and not st.oversized:
            st.oversized = True
            self.insp.add(
                "container.oversized_metadata",
                f"{st.codec} header packet {st.packets} of stream {st.serial:08x} exceeds "
                f"{self.insp.max_meta} bytes",
                offset=pos,
                size=st.partial,
                where="ogg header packet",
                limit=self.insp.max_meta,
            )

    def collect(self, st: _OggStream, page: bytes, at: int, lace: int, pos: int) -> None:
        """Append one lace (``page[at:at + lace]``, the page at file offset ``pos``) of a
        metadata packet to its reassembly buffer, which stops growing at the metadata limit plus
        :data:`COMMENT_MARGIN_BYTES`."""
        take = min(lace, self.insp.max_meta + COMMENT_MARGIN_BYTES - len(st.meta_buf))
        if take <= 0:
            return
        packet_at, file_at = len(st.meta_buf), pos + at
        if not st.meta_map or st.meta_map[-1][1] + packet_at - st.meta_map[-1][0] != file_at:
            st.meta_map.append((packet_at, file_at))  # a new page: the bytes jump its header
        st.meta_buf += page[at : at + take]

    def meta_packet(self, st: _OggStream, *, complete: bool) -> None:
        """Read the comments (or FLAC picture) of a reassembled metadata packet.

        ``complete`` is false for a packet the stream ended in the middle of; its fields may
        then run past what is there without that being a lie.
        """
        packet, total = bytes(st.meta_buf), st.partial
        locate = _locator(st.meta_map)
        st.meta_buf, st.meta_map = bytearray(), []
        prefix = _OGG_COMMENT_PREFIX.get(st.codec)
        if st.codec == "flac" and len(packet) >= 4:
            # Ogg FLAC: each header packet after the first is one FLAC metadata block.
            btype = packet[0] & 0x7F
            if btype == 4:
                where = "Ogg FLAC VORBIS_COMMENT block"
                vorbis_comments(self.insp, packet, 4, total, locate, where, complete=complete)
            elif btype == 6:
                picture_block(
                    self.insp,
                    packet[4:],
                    offset=locate(4),
                    size=total - 4,
                    where="Ogg FLAC PICTURE block",
                    cut=len(packet) < total or not complete,
                )
        elif prefix is not None and packet.startswith(prefix):
            where = f"{st.codec} comment packet"
            vorbis_comments(self.insp, packet, len(prefix), total, locate, where, complete=complete)


def _opus_padding(st: _OggStream, page: bytes, pos: int, nseg: int, table: bytes) -> None:
    """Collect the padding of the Opus packets that start and end in this page.

    A code-3 packet (RFC 6716 3.2.5) may end with padding, its length in the bytes after the
    frame count; decoders drop it, and the RFC has encoders write zeros there "to avoid
    creating a covert channel". Constant-bitrate encoders pad with zeros; anything else there
    is data riding in every packet.
    """
    start = 27 + nseg
    at = start
    size = 0
    first = not page[5] & 1  # a packet continued from the last page is not whole here
    for lace in table:
        size += lace
        if lace == 255:
            continue
        packet = page[at : at + size]
        if first and len(packet) > 2 and packet[0] & 3 == 3 and packet[1] & 0x40:
            padding, i = 0, 2
            while i < len(packet):
                padding += 254 if packet[i] == 255 else packet[i]
                i += 1
                if packet[i - 1] != 255:
                    break
            tail = packet[len(packet) - min(padding, len(packet) - i) :] if padding else b""
            if tail.strip(b"\x00"):
                st.padding_bytes += len(tail)
                if st.padding_at < 0:
                    st.padding_at = pos + at + len(packet) - len(tail)
                if len(st.padding_sample) < STREAM_SAMPLE_BYTES:
                    st.padding_sample += tail
        first = True
        at += size
        size = 0


def _ogg_codec(st: _OggStream, packet: bytes) -> None:
    """Name a logical stream's codec from its first packet, and read its basic parameters."""
    if packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        st.codec, st.header_packets, st.meta_packets = "vorbis", 3, 1
        st.channels = packet[11]
        st.sample_rate = int.from_bytes(packet[12:16], "little")
    elif packet[:8] == b"OpusHead" and len(packet) >= 19:
        st.codec, st.header_packets, st.meta_packets = "opus", 2, 1
        st.channels = packet[9]
        st.preskip = int.from_bytes(packet[10:12], "little")
        st.sample_rate = 48000  # Opus always decodes at 48 kHz; granules count 48 kHz samples
    elif packet[:5] == b"\x7fFLAC" and len(packet) >= 51 and packet[9:13] == b"fLaC":
        st.codec = "flac"
        st.header_packets = 1 + (int.from_bytes(packet[7:9], "big") or 1)
        st.meta_packets = st.header_packets - 1
        info = streaminfo(packet[17:51])
        if info is not None:
            st.sample_rate, st.channels, st.total = info.sample_rate, info.channels, info.total
    elif packet[:8] == b"Speex   " and len(packet) >= 52:
        st.codec, st.header_packets, st.meta_packets = "speex", 2, 1
        st.sample_rate = int.from_bytes(packet[36:40], "little")
        st.channels = int.from_bytes(packet[48:52], "little")
    elif packet[:7] == b"\x80theora":
        st.codec, st.header_packets, st.meta_packets = "theora", 3, 1
    elif packet[:8] == b"fishead\x00":
        st.codec = "skeleton"


def _locator(pieces: list[tuple[int, int]]) -> Callable[[int], int]:
    """Map an offset in a reassembled packet to the file, from ``(packet, file)`` offsets of
    its contiguous runs."""
    starts = [p for p, _ in pieces]

    def locate(at: int) -> int:
        i = max(bisect.bisect_right(starts, at) - 1, 0)
        if not pieces:
            return at
        packet_at, file_at = pieces[i]
        return file_at + at - packet_at

    return locate
