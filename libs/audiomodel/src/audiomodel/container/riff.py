"""RIFF-style containers: WAV (RIFF, RIFX, RF64/BW64, EBU Tech 3306) and AIFF/AIFC (AIFF 1.3).

The chunks are walked against the RIFF or FORM size, the format and sample layout read from
``fmt ``/``COMM``, and every other chunk is metadata to account for: known chunks are checked
for payloads, unknown ones reported, filler chunks must hold zeros. A WAV whose RIFF size and
data size disagree about being streamed (one a placeholder, the other concrete) is reported: an
honest streaming writer leaves both unset.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Final, Literal, NamedTuple

from audiomodel.container.embedded import (
    examine,
    padding_payload,
    padding_region,
    scan_pcm_head,
    scan_signatures,
    text_value,
    trailing,
)
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import (
    BLOB_BYTES,
    MAX_CHUNKS,
    PADDING_INFO_BYTES,
    SIZE_SLACK_BYTES,
    TAIL_SAMPLE_BYTES,
)
from audiomodel.container.report import CodedLayout, PcmLayout
from audiomodel.container.tags import id3v2, inner_tags, tail_tags
from audiomodel.findings import Severity
from audiomodel.payload import PayloadKind, identify_payload

MS_ADPCM_TAG = 2
MS_ADPCM_HEADER = 7  # per channel: predictor, delta (2), two samples (2 each)


def _is_fourcc(b: bytes) -> bool:
    """Four printable ASCII bytes (trailing NULs allowed: ``ID3\\0``); garbage fails this."""
    if len(b) != 4 or not 0x21 <= b[0] <= 0x7E:
        return False
    text = b.rstrip(b"\x00")
    return all(0x20 <= c <= 0x7E for c in text)


def _fourcc_name(b: bytes) -> str:
    """A chunk id as text for messages."""
    return b.decode("latin-1").rstrip("\x00") or repr(b)


def _ieee_extended(b: bytes) -> float | None:
    """The 80-bit IEEE 754 extended float AIFF uses for its sample rate."""
    if len(b) < 10:
        return None
    exponent = ((b[0] & 0x7F) << 8) | b[1]
    mantissa = int.from_bytes(b[2:10], "big")
    if b[0] & 0x80 or exponent == 0x7FFF or not 0 <= exponent - 16383 <= 64:
        return None if mantissa or exponent else 0.0
    return math.ldexp(mantissa, exponent - 16383 - 63)


_WAV_AUDIO: Final = frozenset({b"fmt ", b"data", b"fact", b"ds64"})
_WAV_FILLER: Final = frozenset({b"junk", b"JUNK", b"pad ", b"PAD ", b"FLLR", b"filr", b"free"})
_WAV_ID3: Final = frozenset({b"id3 ", b"ID3 ", b"ID32"})
_WAV_KNOWN: Final = (
    _WAV_AUDIO
    | _WAV_FILLER
    | _WAV_ID3
    | frozenset(
        {
            b"LIST", b"cue ", b"plst", b"labl", b"ltxt", b"note", b"smpl", b"inst", b"bext",
            b"iXML", b"axml", b"acid", b"cart", b"PEAK", b"levl", b"DISP", b"umid", b"chna",
            b"dbmd", b"afsp", b"MD5 ", b"SyLp", b"ResU", b"minf", b"elm1", b"regn", b"ovwf",
            b"bmrk", b"tlst", b"cset", b"wavl", b"slnt", b"DGDA", b"_PMX", b"aXML", b"strc",
            b"cdif", b"mext", b"link", b"uuid", b"ID3\x00",
        }
    )
)  # fmt: skip
_AIFF_AUDIO: Final = frozenset({b"COMM", b"SSND", b"FVER"})
_AIFF_KNOWN: Final = _AIFF_AUDIO | frozenset(
    {
        b"MARK", b"INST", b"COMT", b"NAME", b"AUTH", b"(c) ", b"ANNO", b"AESD", b"APPL", b"MIDI",
        b"ID3 ", b"id3 ", b"chan", b"basc", b"trns", b"cate", b"FLLR", b"PAD ", b"CHAN",
    }
)  # fmt: skip


class _Chunk(NamedTuple):
    """One chunk header as walked."""

    cid: bytes
    offset: int
    declared: int
    size: int  # effective size (placeholders resolved)
    present: int  # bytes of it inside the file
    placeholder: bool


def _chunk_head(insp: Inspection, ch: _Chunk) -> str:
    """Record a chunk as a segment; its name."""
    name = _fourcc_name(ch.cid)
    insp.segment("chunk", name, ch.offset, 8 + ch.present)
    return name


def _walk_iff(
    insp: Inspection,
    start: int,
    form_end: int | None,
    big: bool,
    size_of: Callable[[bytes, int, int], tuple[int, bool]],
) -> tuple[list[_Chunk], int]:
    """Walk IFF-style chunks from ``start``; the chunks and where the walk stopped."""
    chunks: list[_Chunk] = []
    pos = start
    endian = ">I" if big else "<I"
    while pos + 8 <= insp.size:
        if form_end is not None and pos >= form_end:
            break
        if len(chunks) >= MAX_CHUNKS:
            insp.add(
                "container.oversized_metadata",
                f"more than {MAX_CHUNKS} chunks; the walk stopped at byte {pos}",
                offset=pos,
                size=insp.size - pos,
                where="chunk count",
            )
            break
        hdr = insp.src.read(pos, 8)
        cid = hdr[:4]
        if not _is_fourcc(cid):
            break
        declared = struct.unpack(endian, hdr[4:8])[0]
        body = pos + 8
        size, placeholder = size_of(cid, declared, body)
        present = min(size, insp.size - body)
        chunks.append(_Chunk(cid, pos, declared, size, present, placeholder))
        if size > present:
            pos = insp.size
            break
        nxt = body + size
        if size & 1 and nxt < insp.size:
            # Odd chunks are padded to even; some writers forget, so take the unpadded
            # position when only it starts a valid chunk.
            padded_ok = _is_fourcc(insp.src.read(nxt + 1, 4))
            if padded_ok or not _is_fourcc(insp.src.read(nxt, 4)):
                nxt += 1
        pos = nxt
    return chunks, min(pos, insp.size)


def walk_wav(insp: Inspection, head: bytes) -> None:
    """Walk a RIFF, RIFX or RF64/BW64 WAVE file whose first bytes are ``head``."""
    magic = head[:4]
    big = magic == b"RIFX"
    endian = ">" if big else "<"
    riff_size = struct.unpack(endian + "I", head[4:8])[0]
    ds64: tuple[int, int, int] | None = None
    if magic in (b"RF64", b"BW64") and insp.src.read(12, 4) == b"ds64":
        raw = insp.src.read(20, 24)
        if len(raw) == 24:
            ds64 = struct.unpack("<QQQ", raw)
            riff_size = ds64[0]
    streamed = riff_size in (0, 0xFFFFFFFF) and ds64 is None
    form_end = None if streamed else 8 + riff_size

    def size_of(cid: bytes, declared: int, body: int) -> tuple[int, bool]:
        if cid != b"data":
            return declared, False
        if declared == 0xFFFFFFFF and ds64 is not None:
            return ds64[1], False
        if declared == 0xFFFFFFFF or (declared == 0 and streamed and body < insp.size):
            # Streamed writers leave the size for a later seek that never came: the data
            # runs to the RIFF end if that is plausible, else to the end of the file.
            end = form_end if form_end is not None and body < form_end <= insp.size else insp.size
            return end - body, True
        return declared, False

    chunks, walk_end = _walk_iff(insp, 12, form_end, big, size_of)
    lone = ds64 is None and _lone_placeholder(insp, riff_size, streamed, chunks)
    _wav_chunks(insp, chunks, big, quiet_placeholder=lone)
    _settle_form_end(
        insp, magic.decode("latin-1"), form_end, walk_end, chunks, streamed and not lone
    )


def _lone_placeholder(
    insp: Inspection, riff_size: int, streamed: bool, chunks: list[_Chunk]
) -> bool:
    """Report a RIFF size and a data size of which only one is a placeholder.

    A writer that cannot seek back leaves both the RIFF and the data size unset (0 or
    0xFFFFFFFF); one that can fills in both. A concrete RIFF size beside a placeholder data
    size (or the reverse) comes from neither, and a placeholder data size makes readers
    take everything to the end as samples. Whether one was reported.
    """
    data = next((c for c in chunks if c.cid == b"data"), None)
    if data is None:
        return False
    if not streamed and data.placeholder:
        message = (
            f"RIFF size is {riff_size} but the data chunk size is a placeholder "
            f"(0x{data.declared:08X}); a streamed writer leaves both unset"
        )
    elif streamed and not data.placeholder and data.declared not in (0, 0xFFFFFFFF):
        message = (
            f"RIFF size is a placeholder (0x{riff_size:08X}) but the data chunk declares "
            f"{data.declared} bytes; a streamed writer leaves both unset"
        )
    else:
        return False
    insp.add(
        "container.size_mismatch",
        message,
        offset=data.offset + 4,
        riff_size=riff_size,
        data_size=data.declared,
        size=data.size,
        where="chunk data",
    )
    return True


def _settle_form_end(
    insp: Inspection,
    form: str,
    form_end: int | None,
    walk_end: int,
    chunks: list[_Chunk],
    streamed: bool,
) -> None:
    """Settle where a RIFF/FORM container ends, and report what lies past it (or what the
    file lacks of it).

    A file cut short (an upload that stopped) ends inside its last chunk while the RIFF/FORM
    size, when set, also says it was longer: ``cut`` evidence, judged as a broken upload. A
    chunk that claims more than a RIFF size matching the file, or a RIFF size that claims
    whole chunks more, is a size that lies. Sizes off by at most :data:`SIZE_SLACK_BYTES`
    are writers' miscounts (the form type or a header counted or not, a pad byte): every
    byte is walked anyway, so nothing hides behind them.
    """
    truncated = bool(chunks) and chunks[-1].present < chunks[-1].size
    last_odd = bool(chunks) and chunks[-1].size & 1 == 1
    end = walk_end
    if truncated:
        last = chunks[-1]
        chunk_end = last.offset + 8 + last.size
        cut = form_end is None or streamed or form_end > insp.size
        name = _fourcc_name(last.cid)
        insp.add(
            "container.truncated",
            f"chunk {name!r} at byte {last.offset} declares {last.size} bytes, "
            f"{last.present} present",
            offset=last.offset,
            declared=last.size,
            size=last.present,
            where=f"chunk {name}",
            missing_bytes=max(chunk_end, form_end or 0) - insp.size,
            cut=cut,
        )
    if streamed:
        insp.add(
            "container.size_mismatch",
            f"{form} size is a placeholder (streamed writer); chunks walked to byte {walk_end}",
            severity=Severity.INFO,
            offset=4,
            size=insp.size,
            where=form,
        )
    elif form_end is not None and form_end > insp.size:
        if truncated:
            pass
        elif form_end - insp.size <= SIZE_SLACK_BYTES and walk_end == insp.size:
            insp.add(
                "container.size_mismatch",
                f"{form} size counts {form_end - insp.size} bytes more than the file, whose "
                "chunks are complete: a writer's miscount, nothing missing",
                severity=Severity.INFO,
                offset=4,
                declared=form_end,
                size=insp.size,
                where=form,
            )
        else:
            insp.add(
                "container.truncated",
                f"{form} size promises {form_end} bytes, the file has {insp.size} and its "
                "chunks end whole",
                offset=4,
                declared=form_end,
                size=insp.size,
                where=form,
                missing_bytes=form_end - insp.size,
                cut=False,
            )
    elif (
        form_end is not None and walk_end > form_end and not (last_odd and walk_end - form_end == 1)
    ):
        slack = walk_end - form_end <= SIZE_SLACK_BYTES
        insp.add(
            "container.size_mismatch",
            f"{form} size ends at byte {form_end}, inside a chunk that ends at {walk_end}"
            + (": short by a writer's miscount, every byte walked" if slack else ""),
            severity=Severity.INFO if slack else None,
            offset=4,
            declared=form_end,
            size=walk_end,
            where=form,
        )
    elif form_end is not None and walk_end < form_end:
        gap = form_end - walk_end
        if not (gap <= PADDING_INFO_BYTES and insp.is_padding(walk_end, gap)):
            insp.add(
                "container.size_mismatch",
                f"{form} size claims {gap} bytes after the last chunk (byte {walk_end})",
                offset=walk_end,
                size=gap,
                declared=form_end,
                where=form,
            )
    # Some taggers append ID3/APE tags after the RIFF or FORM instead of inside it.
    hi = tail_tags(insp, end, insp.size)
    end = inner_tags(insp, end, hi)
    insp.report.audio_end = end if end < hi else insp.size
    if end < hi:
        trailing(
            insp,
            end,
            f"after the last {form} chunk",
            stop=hi,
            form_end=form_end if form_end is not None else -1,
        )


def _wav_chunks(
    insp: Inspection, chunks: list[_Chunk], big: bool, *, quiet_placeholder: bool
) -> None:
    endian = ">" if big else "<"
    fmt_seen = False
    data: _Chunk | None = None
    fact_frames: int | None = None
    fmt: tuple[int, int, int, int, int, bool] | None = None
    for ch in chunks:
        name = _chunk_head(insp, ch)
        body = ch.offset + 8
        if ch.placeholder and not quiet_placeholder:  # else reported as a lie already
            insp.add(
                "container.size_mismatch",
                f"data chunk size is a placeholder (0x{ch.declared:08X}); taken as {ch.size} bytes",
                severity=Severity.INFO,
                offset=ch.offset,
                declared=ch.declared,
                size=ch.size,
                where="chunk data",
            )
        if ch.cid == b"fmt " and not fmt_seen:
            fmt_seen = True
            raw = insp.src.read(body, min(ch.present, 64))
            fmt = _wav_fmt(insp, raw, endian)
            used, codec_at, codec_data = _fmt_fields(raw, ch.present, endian)
            if codec_data:
                # A codec's own setup (ADPCM coefficients, MPEG flags): only its decoder reads
                # it, and no codec here needs more than a few dozen bytes.
                at = body + codec_at
                guess = examine(insp, at, codec_data, f"chunk {name!r} codec data", flag_data=True,
                                flag_text=False)  # fmt: skip
                if guess is not None:
                    insp.unaccount(at, codec_data, f"chunk {name!r} codec data", guess)
            _past_fields(insp, ch, used, name)
            continue
        if ch.cid == b"data" and data is None:
            data = ch
            continue
        if ch.cid == b"fact":
            raw = insp.src.read(body, 4)
            if len(raw) == 4:
                fact_frames = struct.unpack(endian + "I", raw)[0]
            _past_fields(insp, ch, 4, name)
            continue
        if ch.cid == b"ds64":
            # RF64's sizes: RIFF, data and sample count (24 bytes), a table count, then
            # 12-byte entries (chunk id, 64-bit size) for other chunks over 4 GiB.
            _counted(insp, ch, name, 28, 24, 12)
            continue
        if ch.cid in (b"fmt ", b"data"):
            _second_chunk(insp, ch, body, name)  # decoders read the first: a hiding place
            continue
        _meta_chunk(
            insp,
            ch,
            name,
            known=ch.cid in _WAV_KNOWN,
            id3=ch.cid in _WAV_ID3,
            filler=ch.cid in _WAV_FILLER,
            big=big,
        )
    if fmt is None or data is None:
        missing = "fmt" if fmt is None else "data"
        insp.add(
            "container.undecodable",
            f"WAVE has no usable {missing} chunk",
            offset=12,
            size=insp.size,
            where=f"chunk {missing}",
        )
        return
    tag, channels, rate, align, bits, is_float = fmt
    insp.report.sample_rate, insp.report.channels = rate, channels
    data_offset = data.offset + 8
    insp.report.audio_start = data_offset
    insp.report.codec = _wav_codec(tag, bits, is_float, big)
    if is_float or tag == 1:
        insp.report.pcm = PcmLayout(
            data_offset=data_offset,
            data_size=data.present,
            bits_per_sample=bits,
            channels=channels,
            sample_rate=rate,
            float_samples=is_float,
            big_endian=big,
            block_align=align,
        )
        scan_pcm_head(insp, data_offset, data.present)
    elif tag == MS_ADPCM_TAG and channels > 0 and align > MS_ADPCM_HEADER * channels:
        insp.report.coded = CodedLayout(data_offset, data.present, align, channels, rate)
    if align > 0 and (is_float or tag == 1):
        insp.report.frames = insp.report.walked_frames = data.present // align
    else:
        insp.report.frames = fact_frames
    if data.placeholder:
        # A data chunk of unknown size swallows anything appended to the file; the end of
        # it is where such a payload would sit, so look there for a file signature.
        tail = min(data.present, TAIL_SAMPLE_BYTES)
        scan_signatures(
            insp, data_offset + data.present - tail, tail, "end of a streamed data chunk"
        )


def _fmt_fields(raw: bytes, size: int, endian: str) -> tuple[int, int, int]:
    """How many bytes of a ``fmt `` chunk its fields take, and where a codec's own data sits
    among them and how long it is: the 16 of WAVEFORMAT (PCM); WAVEFORMATEX's ``cbSize`` after
    them, which is 0 for PCM and IEEE float and 22 or more for WAVE_FORMAT_EXTENSIBLE (22 of
    fields, then the sub-format's data); any other codec's ``cbSize`` bytes are its setup data."""
    if size < 18 or len(raw) < 18:
        return min(size, 16), 0, 0
    order: Literal["big", "little"] = "big" if endian == ">" else "little"
    tag = int.from_bytes(raw[0:2], order)
    extension = int.from_bytes(raw[16:18], order)
    if 18 + extension > size:
        # A cbSize that claims more than the chunk holds is no cbSize: the fields end at 16.
        return 16, 0, 0
    if tag in (1, 3):
        return 18, 0, 0  # whatever cbSize says, PCM's extension is no field: zeros or a finding
    if tag == 0xFFFE:
        # EXTENSIBLE's 22 bytes (valid bits, channel mask, sub-format GUID), then the
        # sub-format's own data (ffmpeg's IMA ADPCM: 2 bytes, the samples per block).
        return 18 + extension, 40, max(0, extension - 22)
    return 18 + extension, 18, extension


def _second_chunk(insp: Inspection, ch: _Chunk, body: int, name: str) -> None:
    """A second chunk of a kind decoders read once (WAV fmt/data, AIFF COMM/SSND): reported,
    and its bytes examined and counted as unaccounted."""
    insp.add(
        "container.unknown_chunk",
        f"second {name!r} chunk at byte {ch.offset}, {ch.present} bytes",
        severity=Severity.SUSPICIOUS,
        offset=ch.offset,
        size=ch.present,
        where=f"chunk {name}",
    )
    insp.metadata(body, ch.present, f"chunk {name!r}")
    guess = examine(insp, body, ch.present, f"second {name!r} chunk", flag_data=False)
    if guess is not None:
        insp.unaccount(body, ch.present, f"second {name!r} chunk", guess)


def _past_fields(insp: Inspection, ch: _Chunk, used: int, name: str) -> None:
    """Report the bytes of a chunk past the fields its specification defines (``used`` bytes
    of them): zeros are a writer's padding, anything else is data that no reader looks at."""
    body = ch.offset + 8
    extra = ch.present - used
    if extra <= 0:
        return
    at = insp.first_nonzero(body + used, extra)
    if at is None:
        return
    where = f"chunk {name!r}"
    size = body + ch.present - at
    before = insp.reported()
    examine(insp, at, size, f"{where} past its fields", flag_data=False)
    if insp.reported() == before:
        insp.add(
            "container.nonconforming_metadata",
            f"{where} holds {extra} bytes past the {used} its fields take "
            f"(non-zero from byte {at})",
            offset=at,
            size=size,
            where=where,
            fields_size=used,
            declared=ch.present,
        )


def _wav_fmt(
    insp: Inspection, raw: bytes, endian: str
) -> tuple[int, int, int, int, int, bool] | None:
    if len(raw) < 16:
        insp.add(
            "container.undecodable",
            "fmt chunk shorter than 16 bytes",
            offset=12,
            size=len(raw),
            where="chunk fmt",
        )
        return None
    tag, channels, rate, _, align, bits = struct.unpack(endian + "HHIIHH", raw[:16])
    if tag == 0xFFFE and len(raw) >= 40:
        tag = struct.unpack(endian + "H", raw[24:26])[0]
    is_float = tag == 3
    if channels == 0 or rate == 0 or (tag in (1, 3) and (bits == 0 or align == 0)):
        insp.add(
            "container.undecodable",
            f"fmt chunk says {channels} channels, {rate} Hz, {bits} bits, block {align}",
            offset=12,
            size=len(raw),
            where="chunk fmt",
        )
        return None
    return tag, channels, rate, align, bits, is_float


def _meta_chunk(
    insp: Inspection,
    ch: _Chunk,
    name: str,
    *,
    known: bool,
    id3: bool,
    filler: bool,
    big: bool = False,
) -> None:
    body = ch.offset + 8
    where = f"chunk {name!r}"
    if not known:
        insp.add(
            "container.unknown_chunk",
            f"unknown chunk {name!r} at byte {ch.offset}, {ch.present} bytes",
            offset=ch.offset,
            size=ch.present,
            where=f"chunk {name}",
        )
    if filler:
        padding_region(insp, ch.offset, body, ch.present, where)
        return
    insp.metadata(ch.offset, ch.present, where)
    if id3 and id3v2(insp, body, body + ch.present) is not None:
        return
    structure = _STRUCTURED.get(ch.cid) if not big else None
    if structure is not None:
        structure(insp, ch, name)
        return
    _generic_chunk(insp, ch, name, known=known, big=big)


def _generic_chunk(
    insp: Inspection, ch: _Chunk, name: str, *, known: bool, big: bool = False
) -> None:
    """Identify what a chunk of no structure checked here holds."""
    body = ch.offset + 8
    where = f"chunk {name!r}"
    if ch.cid == b"LIST":
        kind = insp.src.read(body, 4)
        if kind not in _LIST_TYPES:
            # A LIST of a type nothing here reads is as unaccounted for as an unknown chunk.
            where = f"LIST {_fourcc_name(kind)!r}"
            insp.add(
                "container.unknown_chunk",
                f"{where} (a list type nothing here reads) at byte {ch.offset}, {ch.present} bytes",
                offset=ch.offset,
                size=ch.present,
                where=f"chunk {where}",
            )
            body, known = body + 4, False
    size = ch.present - (body - ch.offset - 8)
    sample, guess = insp.identify(body, size)
    # Known chunks hold text or small structures; an encrypted or compressed blob is neither.
    blob = guess.kind is PayloadKind.HIGH_ENTROPY and size >= BLOB_BYTES
    flag = not known or blob
    examine(insp, body, size, where, flag_data=flag, flag_text=False, sample=sample, guess=guess)
    if known and ch.cid == b"LIST":
        _list_texts(insp, sample, body, size, big)
    elif known and guess.kind is PayloadKind.TEXT:
        text_value(insp, sample, body, size, where)
    else:
        # An unknown chunk or list, or the binary of a known id whose fields are not read
        # here (a vendor's claim nothing can check): bytes unaccounted for.
        insp.unaccount(body, size, where, guess)


def _counted(insp: Inspection, ch: _Chunk, name: str, fixed: int, count_at: int, item: int,
             extra_at: int | None = None) -> None:  # fmt: skip
    """A chunk of ``fixed`` header bytes whose 32-bit count at ``count_at`` says how many
    ``item``-byte records follow (and, with ``extra_at``, a 32-bit size of vendor data after
    them): a count that claims more than the chunk holds is a size that lies, bytes past the
    records are data no reader looks at, and vendor data is identified like a binary field."""
    body = ch.offset + 8
    raw = insp.src.read(body, fixed)
    if len(raw) < fixed:
        _past_fields(insp, ch, 0, name)
        return
    count = int.from_bytes(raw[count_at : count_at + 4], "little")
    vendor = int.from_bytes(raw[extra_at : extra_at + 4], "little") if extra_at is not None else 0
    used = fixed + count * item + vendor
    if used > ch.present:
        examine(insp, body, ch.present, f"chunk {name!r}", flag_data=False)
        insp.add(
            "container.size_mismatch",
            f"chunk {name!r} at byte {ch.offset} counts {count} records"
            + (f" and {vendor} bytes of vendor data" if vendor else "")
            + f" ({used} bytes), it holds {ch.present}",
            offset=ch.offset,
            declared=used,
            size=ch.present,
            where=f"chunk {name}",
            count=count,
        )
        return
    if vendor:
        at = body + fixed + count * item
        sample, guess = insp.identify(at, vendor)
        blob = guess.kind is PayloadKind.HIGH_ENTROPY and vendor >= BLOB_BYTES
        examine(insp, at, vendor, f"chunk {name!r} vendor data", flag_data=blob, sample=sample,
                guess=guess)  # fmt: skip
    _past_fields(insp, ch, used, name)


#: BWF ``bext`` (EBU Tech 3285): its fixed fields (name, offset, size, kind) before the coding
#: history, which is text to the end of the chunk. Text fields are ASCII padded with NULs;
#: reserved bytes are zeros; the UMID (SMPTE 330M) is binary: zeros or a UMID's own label.
_BEXT_FIELDS: Final = (
    ("Description", 0, 256, "text"), ("Originator", 256, 32, "text"),
    ("OriginatorReference", 288, 32, "text"), ("OriginationDate", 320, 10, "text"),
    ("OriginationTime", 330, 8, "text"), ("UMID", 348, 64, "umid"),
)  # fmt: skip
#: Where the reserved bytes (zeros to byte 602) start in each bext version: version 1 added
#: the UMID, version 2 the loudness values.
_BEXT_RESERVED: Final = {0: 348, 1: 412}
_BEXT_RESERVED_V2: Final = 422
_BEXT_HISTORY: Final = 602
#: The SMPTE universal label every UMID starts with (SMPTE 330M: 06 0A 2B 34 01 01 01 0x).
_UMID_LABEL: Final = b"\x06\x0a\x2b\x34\x01\x01\x01"


def _bext(insp: Inspection, ch: _Chunk, name: str) -> None:
    """Check a Broadcast WAV ``bext`` chunk field by field against what each field holds."""
    body = ch.offset + 8
    raw = insp.src.read(body, min(ch.present, _BEXT_HISTORY))
    before = insp.reported()
    _generic_chunk(insp, ch, name, known=True)  # a file or an encrypted blob as a whole
    if len(raw) < _BEXT_HISTORY or insp.reported() > before:
        return
    version = int.from_bytes(raw[346:348], "little")
    reserved = _BEXT_RESERVED.get(version, _BEXT_RESERVED_V2)
    if raw[reserved:].strip(b"\x00"):
        value = raw[reserved:]
        _nonconforming_field(insp, body + reserved, value, "bext reserved", "not zeros")
    for field, at, size, kind in _BEXT_FIELDS:
        value = raw[at : at + size]
        where = f"bext {field}"
        if kind == "umid":
            if at < reserved and value.strip(b"\x00") and not value.startswith(_UMID_LABEL):
                _nonconforming_field(insp, body + at, value, where, "no SMPTE UMID")
            continue
        text, _, pad = value.partition(b"\x00")
        if pad.strip(b"\x00"):
            _nonconforming_field(insp, body + at, value, where, "bytes after its text's end")
        text_value(insp, text, body + at, len(text), where)
    history = insp.src.read(body + _BEXT_HISTORY, ch.present - _BEXT_HISTORY)
    if history:
        text, _, pad = history.partition(b"\x00")
        if pad.strip(b"\x00"):
            at = body + _BEXT_HISTORY + len(text)
            _nonconforming_field(insp, at, pad, "bext CodingHistory", "bytes after its text's end")
        where = "bext CodingHistory"
        guess = identify_payload(text)
        if guess.kind is PayloadKind.TEXT:
            examine(insp, body + _BEXT_HISTORY, len(text), where, flag_data=False, sample=text,
                    guess=guess)  # fmt: skip
            text_value(insp, text, body + _BEXT_HISTORY, len(text), where)
        elif text:
            # The coding history is lines of ASCII text; binary there is data, and high-entropy
            # binary is reported as such.
            before = insp.reported()
            examine(insp, body + _BEXT_HISTORY, len(text), where, flag_data=True, sample=text,
                    guess=guess)  # fmt: skip
            if insp.reported() == before:
                _nonconforming_field(insp, body + _BEXT_HISTORY, text, where, "not text")


def _nonconforming_field(insp: Inspection, at: int, value: bytes, where: str, problem: str) -> None:
    """Report a fixed field that holds other than its specification says; what it holds is
    identified too."""
    before = insp.reported()
    examine(
        insp, at, len(value), where, flag_data=False, sample=value, guess=identify_payload(value)
    )
    if insp.reported() == before:
        insp.add(
            "container.nonconforming_metadata",
            f"{where}: {problem} ({len(value)} bytes at byte {at})",
            offset=at,
            size=len(value),
            where=where,
        )


_STRUCTURED: Final[dict[bytes, Callable[[Inspection, _Chunk, str], None]]] = {
    # cue: count, then 24-byte cue points.
    b"cue ": lambda i, c, n: _counted(i, c, n, 4, 0, 24),
    # smpl: 36 bytes of fields (loop count at 28, vendor data size at 32), 24-byte loops.
    b"smpl": lambda i, c, n: _counted(i, c, n, 36, 28, 24, 32),
    # plst: count, then 12-byte play segments.
    b"plst": lambda i, c, n: _counted(i, c, n, 4, 0, 12),
    b"bext": _bext,
}


#: LIST/adtl sub-chunks and how many bytes of fields come before their text.
_ADTL_TEXT: Final = {b"labl": 4, b"note": 4, b"ltxt": 20}
#: LIST types whose sub-chunks are read: INFO and adtl text, and the Exif audio fields cameras
#: write (JEIDA's ``exif`` list of text sub-chunks), read as INFO is.
_LIST_TYPES: Final = frozenset({b"INFO", b"adtl", b"exif"})


def _list_texts(insp: Inspection, raw: bytes, body: int, size: int, big: bool) -> None:
    """Check the text fields of a LIST ``INFO`` or ``adtl`` chunk (``raw``: its first bytes,
    at file offset ``body``): each value for encoded binaries and absurd sizes, each
    sub-chunk size against the LIST it sits in."""
    kind = raw[:4]
    pos = 4
    end = min(len(raw), size)
    for _ in range(MAX_CHUNKS):
        if pos + 8 > end:
            break
        sid = raw[pos : pos + 4]
        length = int.from_bytes(raw[pos + 4 : pos + 8], "big" if big else "little")
        label = f"LIST/{kind.decode()} {_fourcc_name(sid)!r}"
        if not _is_fourcc(sid):
            break
        if pos + 8 + length > size:
            insp.add(
                "container.size_mismatch",
                f"{label} at byte {body + pos} claims {length} bytes, {size - pos - 8} are left "
                "in its LIST",
                offset=body + pos,
                declared=length,
                size=size - pos - 8,
                where=label,
            )
            length = size - pos - 8
        skip = _ADTL_TEXT.get(sid, 0) if kind == b"adtl" else 0
        value = raw[pos + 8 + skip : pos + 8 + length]
        if kind != b"adtl" or sid in _ADTL_TEXT:
            text_value(insp, value, body + pos + 8 + skip, max(0, length - skip), label)
        elif length > 0:
            # adtl's ``file`` (a cue point's embedded file) and ids of no known use hold
            # bytes nothing here reads.
            guess = examine(insp, body + pos + 8, length, label, flag_data=True, flag_text=False)
            if guess is not None:
                insp.unaccount(body + pos + 8, length, label, guess)
        pos += 8 + length + (length & 1)


def walk_aiff(insp: Inspection, head: bytes) -> None:
    """Walk an AIFF or AIFC file whose first bytes are ``head``."""
    form_end = 8 + int.from_bytes(head[4:8], "big")
    aifc = head[8:12] == b"AIFC"
    chunks, walk_end = _walk_iff(insp, 12, form_end, True, lambda c, d, b: (d, False))
    comm: tuple[int, int, int, float | None, bytes] | None = None
    ssnd: tuple[int, int] | None = None
    for ch in chunks:
        name = _chunk_head(insp, ch)
        body = ch.offset + 8
        if ch.cid == b"COMM" and comm is None:
            raw = insp.src.read(body, min(ch.present, 300))
            if len(raw) >= 18:
                channels, frames, bits = struct.unpack(">hIh", raw[:8])
                compression = raw[18:22] if aifc and len(raw) >= 22 else b"NONE"
                comm = (channels, frames, bits, _ieee_extended(raw[8:18]), compression)
            _past_fields(insp, ch, _comm_fields(raw, aifc), name)
        elif ch.cid == b"FVER":
            _past_fields(insp, ch, 4, name)  # the AIFC version's timestamp
        elif ch.cid == b"SSND" and ssnd is None:
            raw = insp.src.read(body, 8)
            skip = int.from_bytes(raw[:4], "big") if len(raw) == 8 else 0
            start = body + 8 + skip
            if skip:
                # The offset skips bytes to block-align the samples: alignment, not a place
                # for data (AIFF 1.3 leaves them unused).
                skipped = min(skip, max(0, body + ch.present - body - 8))
                padding_payload(insp, body + 8, skipped, "bytes SSND's offset skips")
            ssnd = (start, max(0, body + ch.present - start))
        elif ch.cid in (b"COMM", b"SSND"):
            _second_chunk(insp, ch, body, name)  # decoders read the first: a hiding place
        elif ch.cid not in _AIFF_AUDIO:
            _meta_chunk(
                insp,
                ch,
                name,
                known=ch.cid in _AIFF_KNOWN,
                id3=ch.cid in (b"ID3 ", b"id3 "),
                filler=ch.cid in (b"FLLR", b"PAD "),
                big=True,  # AIFF is big-endian; RIFF's structured chunks are not its own
            )
    _settle_form_end(insp, "FORM", form_end, walk_end, chunks, streamed=False)
    if comm is None or ssnd is None or not comm[3] or comm[0] <= 0 or comm[2] <= 0:
        insp.add(
            "container.undecodable",
            "AIFF has no usable COMM or SSND chunk",
            offset=12,
            size=insp.size,
            where="chunk COMM/SSND",
        )
        return
    channels, frames, bits, rate_f, compression = comm
    rate = round(rate_f or 0)
    insp.report.sample_rate, insp.report.channels, insp.report.frames = rate, channels, frames
    insp.report.audio_start = ssnd[0]
    codecs = {b"NONE": "pcm", b"twos": "pcm", b"sowt": "pcm_le", b"fl32": "float32",
              b"FL32": "float32", b"fl64": "float64", b"FL64": "float64"}  # fmt: skip
    kind = codecs.get(compression)
    if kind is None:
        insp.report.codec = "aifc_" + compression.decode("latin-1").strip().lower()
        return
    is_float = kind.startswith("float")
    big = kind != "pcm_le"
    insp.report.codec = kind if is_float else f"pcm_s{bits}{'be' if big else 'le'}"
    insp.report.pcm = PcmLayout(
        data_offset=ssnd[0],
        data_size=ssnd[1],
        bits_per_sample=bits if not is_float else (32 if kind == "float32" else 64),
        channels=channels,
        sample_rate=rate,
        float_samples=is_float,
        big_endian=big,
        block_align=channels * ((bits + 7) // 8),
    )
    insp.report.walked_frames = ssnd[1] // max(1, insp.report.pcm.block_align)
    scan_pcm_head(insp, ssnd[0], ssnd[1])


def _comm_fields(raw: bytes, aifc: bool) -> int:
    """How many bytes of a ``COMM`` chunk its fields take: 18 (AIFF), or 22 and the
    compression name, a Pascal string padded to an even length (AIFF-C)."""
    if not aifc or len(raw) < 23:
        return 18 if not aifc else min(len(raw), 22)
    name = 1 + raw[22]
    return 22 + name + (name & 1)


def _wav_codec(tag: int, bits: int, is_float: bool, big: bool) -> str:
    if is_float:
        return f"float{bits}"
    if tag == 1:
        return "pcm_u8" if bits <= 8 else f"pcm_s{bits}{'be' if big else 'le'}"
    names = {2: "adpcm_ms", 6: "pcm_alaw", 7: "pcm_mulaw", 0x11: "adpcm_ima", 0x31: "gsm_ms",
             0x50: "mp2", 0x55: "mp3", 0x161: "wma", 0xF1AC: "flac"}  # fmt: skip
    return names.get(tag, f"wav_0x{tag:04x}")
