"""Turning identified bytes into findings: regions of the file (trailing bytes, unknown chunks,
padding, junk between frames) and values held in memory (pictures, comment values).

A dangerous kind (executable, archive, script, document) becomes its ``container.embedded_*``
finding wherever it sits; high-entropy data and text only where the caller says they do not
belong.
"""

from __future__ import annotations

import binascii
from typing import Final

from audiomodel.container.images import image_extent
from audiomodel.container.inspection import Inspection
from audiomodel.container.limits import (
    AUDIO_HEAD_BYTES,
    ENCODED_BLOB_BYTES,
    IMAGE_TAIL_INFO_BYTES,
    MIN_COMMENT_VALUE,
    PADDING_INFO_BYTES,
    TAIL_SAMPLE_BYTES,
    TEXT_FIELD_BYTES,
    UNACCOUNTED_BUDGET_BYTES,
    XOR_MIN_BYTES,
)
from audiomodel.findings import EvidenceValue, Severity
from audiomodel.payload import (
    PayloadGuess,
    PayloadKind,
    confirm_signature,
    encoded_runs,
    find_signatures,
    identify_payload,
    looks_random,
    xor_hidden,
)

EMBEDDED_CODE: Final = {
    PayloadKind.EXECUTABLE: "container.embedded_executable",
    PayloadKind.ARCHIVE: "container.embedded_archive",
    PayloadKind.SCRIPT: "container.embedded_script",
    # No dedicated code: a document is structured non-audio data, and documents carry macros
    # and scripts, so it weighs as much as the other dangerous kinds.
    PayloadKind.DOCUMENT: "container.embedded_data",
}

_BASE64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def guess_evidence(guess: PayloadGuess) -> dict[str, EvidenceValue]:
    """The evidence fields that say what a region or value looks like."""
    return {
        "payload_kind": guess.kind.value,
        "payload_name": guess.name,
        "entropy": round(guess.entropy, 3),
    }


def emit_payload(
    insp: Inspection, kind: PayloadKind, message: str, ev: dict[str, EvidenceValue]
) -> None:
    """Report a dangerous ``kind`` of payload under its ``container.embedded_*`` code."""
    # A document shares the embedded_data code but weighs as much as the other dangerous kinds.
    severity = Severity.MALICIOUS if kind is PayloadKind.DOCUMENT else None
    insp.emit(EMBEDDED_CODE[kind], message, ev, severity)


def region_evidence(
    offset: int, size: int, guess: PayloadGuess, where: str
) -> dict[str, EvidenceValue]:
    """The evidence of a finding about a region: where it is, what it looks like, what it is."""
    return {"offset": offset, "size": size, **guess_evidence(guess), "where": where}


def emit_data(
    insp: Inspection, message: str, *, offset: int, size: int, guess: PayloadGuess, where: str
) -> None:
    """Report a region as ``container.embedded_data``: bytes that belong to no structure."""
    insp.emit("container.embedded_data", message, region_evidence(offset, size, guess, where))


def examine(
    insp: Inspection,
    offset: int,
    length: int,
    where: str,
    *,
    flag_data: bool,
    flag_text: bool = True,
    sample: bytes | None = None,
    guess: PayloadGuess | None = None,
) -> PayloadGuess | None:
    """Identify what a region holds and report it if it is a payload.

    Dangerous kinds (executable, archive, script, document) at the start are always
    reported; so is a dangerous signature further in (a payload behind a few bytes of junk,
    or a polyglot picture). With ``flag_data``, high-entropy regions are reported as
    ``container.embedded_data`` too, and so is text unless ``flag_text`` is off (right for
    trailing bytes; for unknown metadata only base64/hex-encoded text is, since tools do
    write their own text chunks). Known text metadata passes neither.
    """
    if length <= 0:
        return None
    if sample is None or guess is None:
        sample, guess = insp.identify(offset, length)
    ev = region_evidence(offset, length, guess, where)
    if guess.kind in EMBEDDED_CODE:
        message = f"{where}: {guess.name} ({guess.kind.value}) at byte {offset}, {length} bytes"
        emit_payload(insp, guess.kind, message, ev)
        return guess
    hits = find_signatures(sample, limit=4)
    if length > len(sample):
        tail_at = offset + length - TAIL_SAMPLE_BYTES
        tail_at = max(tail_at, offset + len(sample))
        tail = insp.src.read(tail_at, offset + length - tail_at)
        hits += [(tail_at - offset + o, n, k) for o, n, k in find_signatures(tail, limit=4)]
    if hits:
        at, name, kind = hits[0]
        ev.update(offset=offset + at, size=length - at, payload_kind=kind.value, payload_name=name)
        ev["region_offset"] = offset
        message = f"{where}: {name} signature at byte {offset + at}, {at} bytes into the region"
        emit_payload(insp, kind, message, ev)
        return guess
    if guess.kind is PayloadKind.UNKNOWN and length >= XOR_MIN_BYTES:
        hidden = xor_hidden(sample)
        if hidden is not None:
            ev.update(offset=offset + hidden.offset, size=length - hidden.offset)
            ev.update(payload_kind=hidden.kind.value, payload_name=hidden.name)
            ev.update(region_offset=offset, xor_key=hidden.key.hex())
            message = (
                f"{where}: {hidden.name} hidden by XOR with key {hidden.key.hex()} at byte "
                f"{offset + hidden.offset}, {length - hidden.offset} bytes"
            )
            emit_payload(insp, hidden.kind, message, ev)
            return guess
    text = guess.kind is PayloadKind.TEXT and (flag_text or guess.name == "encoded_text")
    if flag_data and (guess.kind is PayloadKind.HIGH_ENTROPY or text):
        what = "high-entropy data" if guess.kind is PayloadKind.HIGH_ENTROPY else guess.name
        insp.emit(
            "container.embedded_data",
            f"{where}: {length} bytes of {what} at byte {offset}",
            ev,
        )
    return guess


def settle_unaccounted(insp: Inspection) -> None:
    """Report the bytes of no purpose the walk could account for when, all together, they are
    more than a vendor's private notes (:data:`UNACCOUNTED_BUDGET_BYTES`). Encrypted or
    compressed bytes making up more than that on their own reject: no writer known to us puts
    a blob of that size where nothing can read it."""
    total = sum(size for _, size, _, _ in insp.unaccounted)
    if total <= UNACCOUNTED_BUDGET_BYTES:
        return
    high = sum(size for _, size, _, high in insp.unaccounted if high)
    offset, size, where, _ = max(insp.unaccounted, key=lambda region: region[1])
    insp.add(
        "container.unaccounted_data",
        f"{total} bytes in {len(insp.unaccounted)} structure(s) of no known purpose "
        f"(more than the {UNACCOUNTED_BUDGET_BYTES} vendors' private chunks take); the largest: "
        f"{where} at byte {offset}, {size} bytes",
        severity=Severity.MALICIOUS if high > UNACCOUNTED_BUDGET_BYTES else None,
        offset=offset,
        size=size,
        where=where,
        unaccounted_bytes=total,
        high_entropy_bytes=high,
        regions=len(insp.unaccounted),
        budget=UNACCOUNTED_BUDGET_BYTES,
    )


def memory_region(
    insp: Inspection,
    data: bytes,
    *,
    offset: int,
    size: int,
    where: str,
    flag_data: bool,
    min_blob: int = 0,
) -> PayloadGuess | None:
    """Identify bytes held in memory (reassembled from pages, a tag value): a dangerous file
    at their start or a dangerous signature inside is reported; with ``flag_data``, so is
    high-entropy data of at least ``min_blob`` bytes (``size``: the region in the file)."""
    if not data:
        return None
    guess = identify_payload(data)
    ev = region_evidence(offset, size, guess, where)
    if guess.kind in EMBEDDED_CODE:
        message = f"{where}: {guess.name} ({guess.kind.value}) at byte {offset}, {size} bytes"
        emit_payload(insp, guess.kind, message, ev)
        return guess
    hits = find_signatures(data, limit=1)
    if hits:
        at, name, kind = hits[0]
        ev.update(payload_kind=kind.value, payload_name=name, value_offset=at)
        message = f"{where}: {name} signature {at} bytes in, region at byte {offset}"
        emit_payload(insp, kind, message, ev)
        return guess
    if flag_data and guess.kind is PayloadKind.HIGH_ENTROPY and size >= min_blob:
        message = (
            f"{where}: {size} bytes of high-entropy data (encrypted or compressed) at byte {offset}"
        )
        insp.emit("container.embedded_data", message, ev)
    return guess


def scan_signatures(insp: Inspection, offset: int, length: int, where: str) -> None:
    """Report the first dangerous file signature inside a region of audio data."""
    hits = find_signatures(insp.src.read(offset, length), limit=1)
    if hits:
        at, name, kind = hits[0]
        ev: dict[str, EvidenceValue] = {
            "offset": offset + at,
            "size": length - at,
            "payload_kind": kind.value,
            "payload_name": name,
            "where": where,
        }
        emit_payload(insp, kind, f"{where}: {name} signature at byte {offset + at}", ev)


def padding_payload(insp: Inspection, offset: int, length: int, where: str) -> bool:
    """Report what hides in a padding region; whether anything did (padding is zeros)."""
    at = insp.first_nonzero(offset, length)
    if at is None:
        return False
    size = offset + length - at
    before = insp.reported()
    guess = examine(insp, at, size, where, flag_data=True)
    if guess is not None and insp.reported() == before:
        message = f"{where}: {size} non-zero bytes from byte {at}"
        emit_data(insp, message, offset=at, size=size, guess=guess, where=where)
    return True


def padding_region(insp: Inspection, offset: int, body: int, length: int, where: str) -> None:
    """Account for a region meant to be zeros (a filler chunk, a FLAC PADDING block) whose
    header is at ``offset`` and ``length`` bytes of body at ``body``: what hides in it is
    reported, and a large one only at INFO while it holds nothing but zeros."""
    insp.report.metadata_bytes += length
    if padding_payload(insp, body, length, where):
        insp.metadata(offset, 0, where, declared=length)
    elif length > insp.max_meta:
        insp.add(
            "container.oversized_metadata",
            f"{where} is {length} zero bytes (limit {insp.max_meta})",
            severity=Severity.INFO,
            offset=offset,
            size=length,
            where=where,
            limit=insp.max_meta,
        )


def trailing(
    insp: Inspection,
    offset: int,
    where: str = "after the audio",
    *,
    stop: int | None = None,
    **extra: EvidenceValue,
) -> None:
    """Report the bytes from ``offset`` to ``stop`` (the end of the file, or the first of
    the tags that legitimately close it), and what they are."""
    length = (insp.size if stop is None else stop) - offset
    if length <= 0:
        return
    sample, guess = insp.identify(offset, length)
    ev: dict[str, EvidenceValue] = {
        "offset": offset,
        "size": length,
        **guess_evidence(guess),
        **extra,
    }
    if (
        length <= PADDING_INFO_BYTES
        and guess.kind is PayloadKind.PADDING
        and insp.is_padding(offset, length)
    ) or (length <= 1 and sample in (b"\x00", b" ")):
        insp.emit(
            "container.trailing_data",
            f"{length} padding bytes {where} (harmless)",
            ev,
            Severity.INFO,
        )
        return
    insp.emit("container.trailing_data", f"{length} bytes {where}, from byte {offset}", ev)
    examine(
        insp,
        offset,
        length,
        f"trailing bytes {where}",
        flag_data=True,
        sample=sample,
        guess=guess,
    )
    insp.segment("junk", "trailing", offset, length)


def picture_data(
    insp: Inspection,
    image: bytes,
    *,
    offset: int,
    size: int,
    where: str,
    mime: str = "",
    complete: bool = True,
) -> None:
    """Identify the bytes of a picture held in memory: a dangerous file (or one behind an
    image, a polyglot) is reported as such; bytes that are no image but high-entropy data
    as ``container.embedded_data``. ``offset``/``size`` say where the tag sits in the file.
    A ``complete`` picture (not cut by a read bound) must also parse as an image to its end
    (:func:`image_structure`)."""
    if not image:
        return
    if complete:
        image_structure(insp, image, offset=offset, size=size, where=where, mime=mime)
    guess = identify_payload(image)
    ev: dict[str, EvidenceValue] = {
        "offset": offset,
        "size": size,
        "picture_size": len(image),
        **guess_evidence(guess),
        "where": where,
    }
    if mime:
        ev["mime"] = mime[:64]
    if guess.kind in EMBEDDED_CODE:
        message = (
            f"{where}: the picture is {guess.name} ({guess.kind.value}), "
            f"{len(image)} bytes, in the tag at byte {offset}"
        )
        emit_payload(insp, guess.kind, message, ev)
        return
    hits = find_signatures(image, limit=1)
    if hits:
        at, name, kind = hits[0]
        ev.update(payload_kind=kind.value, payload_name=name, picture_offset=at)
        message = (
            f"{where}: {name} signature {at} bytes into the picture, in the tag at byte {offset}"
        )
        emit_payload(insp, kind, message, ev)
        return
    if guess.kind is PayloadKind.HIGH_ENTROPY and not is_image(image):
        insp.emit(
            "container.embedded_data",
            f"{where}: the picture is {len(image)} bytes of high-entropy data, no image",
            ev,
        )


def image_structure(
    insp: Inspection, image: bytes, *, offset: int, size: int, where: str, mime: str = ""
) -> None:
    """Check that a picture field holds one image and nothing else, by the image's own
    structure (:mod:`~audiomodel.container.images`): bytes that are no image at all, an
    image whose structure breaks, and bytes after its end are ``container.nonconforming_metadata``;
    what rides behind the image is identified. An ID3 link (MIME ``-->``) holds a URL, not an
    image, and a dangerous file is reported by :func:`picture_data` itself."""
    if not image or mime == "-->":
        return
    extent = image_extent(image)
    ev: dict[str, EvidenceValue] = {
        "offset": offset,
        "size": size,
        "picture_size": len(image),
        "where": where,
    }
    if extent is None:
        guess = identify_payload(image)
        if guess.kind in EMBEDDED_CODE:
            return  # reported as the dangerous file it is
        ev.update(guess_evidence(guess), head_hex=image[:8].hex())
        insp.emit(
            "container.nonconforming_metadata",
            f"{where}: {len(image)} bytes that are no image (PNG, JPEG, GIF, WebP, BMP), "
            f"in the field at byte {offset}",
            ev,
        )
        return
    ev["image_format"] = extent.format
    if extent.end < 0:
        insp.emit(
            "container.nonconforming_metadata",
            f"{where}: the {extent.format.upper()} picture does not parse: {extent.problem}",
            {**ev, "problem": extent.problem},
        )
        return
    tail = image[extent.end :]
    if not tail or not tail.strip(b"\x00"):
        return
    ev.update(image_end=extent.end, trailing_bytes=len(tail))
    # A picture may be several images in a row (a JPEG's MPF second image follows its EOI).
    following = image_extent(tail)
    small = len(tail) <= IMAGE_TAIL_INFO_BYTES or (following is not None and following.end > 0)
    insp.emit(
        "container.nonconforming_metadata",
        f"{where}: {len(tail)} bytes follow the end of the {extent.format.upper()} image "
        f"({extent.end} bytes into the picture)",
        ev,
        Severity.INFO if small else None,
    )
    if not small:
        guess = identify_payload(tail)
        if guess.kind in EMBEDDED_CODE:
            tail_ev = {**ev, **guess_evidence(guess)}
            message = f"{where}: {guess.name} ({guess.kind.value}) after the image's end"
            emit_payload(insp, guess.kind, message, tail_ev)
        elif len(tail) >= ENCODED_BLOB_BYTES and looks_random(tail):
            insp.emit(
                "container.embedded_data",
                f"{where}: {len(tail)} bytes of high-entropy data after the image's end",
                {**ev, **guess_evidence(guess)},
            )


def text_value(insp: Inspection, text: bytes, offset: int, size: int, where: str) -> None:
    """Check a text field: absurdly long, or carrying an encoded binary.

    Base64 and hex runs (:func:`~audiomodel.payload.encoded_runs`) are decoded: a dangerous
    file (or its signature inside) is reported as such, and random-looking bytes (encrypted or
    compressed, :func:`~audiomodel.payload.looks_random`) of at least
    :data:`ENCODED_BLOB_BYTES` as ``container.embedded_data``. Checksums and IDs are too short
    to count; fields that hold an encoded fingerprint by their specification are passed by
    the caller's key check.
    """
    if size > TEXT_FIELD_BYTES:
        insp.add(
            "container.oversized_metadata",
            f"{where}: a text field of {size} bytes (text fields stay under {TEXT_FIELD_BYTES})",
            offset=offset,
            size=size,
            where=where,
            limit=TEXT_FIELD_BYTES,
        )
    binary_in_text(insp, text, offset, size, where)
    for run in encoded_runs(text):
        ev: dict[str, EvidenceValue] = {
            "offset": offset,
            "size": size,
            "where": where,
            "encoding": run.encoding,
            "encoded_offset": run.offset,
            "encoded_chars": run.length,
            "decoded_size": len(run.decoded),
        }
        inner = identify_payload(run.decoded)
        ev.update(guess_evidence(inner))
        if inner.kind in EMBEDDED_CODE:
            message = (
                f"{where}: {run.encoding} of {inner.name} ({inner.kind.value}) at byte {offset}"
            )
            emit_payload(insp, inner.kind, message, ev)
            return
        if inner.kind is PayloadKind.IMAGE:
            continue  # a picture written out as text (an XMP thumbnail): compressed, not a payload
        hits = find_signatures(run.decoded, limit=1)
        if hits:
            at, name, kind = hits[0]
            ev.update(payload_kind=kind.value, payload_name=name, decoded_offset=at)
            message = f"{where}: {run.encoding} text holding a {name} signature, at byte {offset}"
            emit_payload(insp, kind, message, ev)
            return
        if len(run.decoded) >= ENCODED_BLOB_BYTES and looks_random(run.decoded):
            insp.emit(
                "container.embedded_data",
                f"{where}: {run.length} characters of {run.encoding} that decode to "
                f"{len(run.decoded)} random-looking bytes (encrypted or compressed), at byte {offset}",
                ev,
            )
            return


#: Control characters no text holds: C0 but NUL (a terminator or, in ID3v2.4, a separator of
#: values) and the whitespace ones (tab, line and page breaks); and DEL.
_CONTROL_BYTES: Final = bytes([*range(1, 9), *range(14, 32), 127])
#: A text field is binary when this many control characters, and at least one byte in
#: :data:`CONTROL_SHARE`, are in it: text in any encoding (UTF-8, Latin-1, UTF-16 decoded) has
#: none, machine code and packed numbers have them everywhere (an executable XORed with 0x20
#: to hide its magic and zeros: 2.7% of its first 6 KB, 6% further in).
MIN_CONTROL_BYTES: Final = 16
CONTROL_SHARE: Final = 100


def binary_in_text(insp: Inspection, text: bytes, offset: int, size: int, where: str) -> bool:
    """Report a text field that holds binary bytes (control characters throughout) as
    ``container.nonconforming_metadata``; whether it did."""
    controls = len(text) - len(text.translate(None, _CONTROL_BYTES))
    if controls < MIN_CONTROL_BYTES or controls * CONTROL_SHARE < len(text):
        return False
    insp.add(
        "container.nonconforming_metadata",
        f"{where}: a text field holding binary ({controls} control bytes in {len(text)}), "
        f"at byte {offset}",
        offset=offset,
        size=size,
        where=where,
        control_bytes=controls,
    )
    return True


def comment_bytes(
    insp: Inspection,
    value: bytes,
    offset: int,
    size: int,
    where: str,
    *,
    encoded: bool = False,
    is_text: bool = True,
) -> None:
    """Identify a comment value (or the bytes after the comments): tag text is normal, a
    file at its start, binary high-entropy data, or encoded binaries in the text
    (:func:`text_value`) are not, and neither is binary (control characters throughout) in
    what is text by definition. ``encoded``: the key holds an encoded binary by its
    definition, so only a dangerous file in it counts; not ``is_text``: the bytes may be
    binary by their specification (what Opus keeps after its comments)."""
    if len(value) < MIN_COMMENT_VALUE:
        return
    guess = identify_payload(value)
    ev = region_evidence(offset, size, guess, where)
    if guess.kind in EMBEDDED_CODE:
        message = f"{where}: {guess.name} ({guess.kind.value}) at byte {offset}"
        emit_payload(insp, guess.kind, message, ev)
        return
    if guess.kind is PayloadKind.TEXT:
        if not encoded:
            text_value(insp, value, offset, size, where)
        return
    if guess.kind is PayloadKind.PADDING:
        return
    if not is_text:
        # Binary by its specification (what Opus keeps after its comments): only the encoder
        # that wrote it reads it.
        insp.unaccount(offset, size, where, guess)
    # Binary bytes in a UTF-8 comment: look for a file inside, else judge by entropy.
    hits = find_signatures(value, limit=1)
    hidden = xor_hidden(value) if not hits and len(value) >= XOR_MIN_BYTES else None
    if hits:
        at, name, kind = hits[0]
        ev.update(payload_kind=kind.value, payload_name=name, value_offset=at)
        message = f"{where}: {name} signature {at} bytes into the value at byte {offset}"
        emit_payload(insp, kind, message, ev)
    elif hidden is not None and guess.kind is not PayloadKind.HIGH_ENTROPY:
        ev.update(payload_kind=hidden.kind.value, payload_name=hidden.name)
        ev.update(value_offset=hidden.offset, xor_key=hidden.key.hex())
        message = f"{where}: {hidden.name} hidden by XOR with key {hidden.key.hex()} at {offset}"
        emit_payload(insp, hidden.kind, message, ev)
    elif guess.kind is PayloadKind.HIGH_ENTROPY:
        insp.emit("container.embedded_data", f"{where}: high-entropy bytes at {offset}", ev)
    elif is_text and not encoded:
        text_value(insp, value, offset, size, where)  # text in a script other than Latin


def base64_prefix(text: bytes) -> bytes | None:
    """Decode a base64 value (line breaks allowed); when it was cut short, as much as is whole.
    ``None`` if it holds anything but the base64 alphabet."""
    clean = text.translate(None, b" \t\r\n").rstrip(b"=")
    if not clean or clean.translate(None, _BASE64_ALPHABET):
        return None
    if len(clean) % 4 == 1:  # a lone sextet carries no whole byte
        clean = clean[:-1]
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def is_image(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG, JPEG, GIF, WebP or BMP image."""
    return (
        data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or (data[:2] == b"BM" and len(data) >= 14 and data[6:10] == bytes(4))
    )


def scan_pcm_head(insp: Inspection, offset: int, length: int) -> None:
    """Report a file header inside the first :data:`AUDIO_HEAD_BYTES` of PCM sample data.

    Any file written out as 8-, 16-, 24-bit or float PCM keeps its bytes in the data chunk, so
    a binary, archive or document dressed up as audio shows its own header there. Only
    headers whose fields check out count: a bare four-byte magic turns up by chance in
    sample bytes.
    """
    head = insp.src.read(offset, min(length, AUDIO_HEAD_BYTES))
    for at, name, kind in find_signatures(head, limit=8):
        if confirm_signature(name, head, at):
            ev: dict[str, EvidenceValue] = {
                "offset": offset + at,
                "size": length - at,
                "payload_kind": kind.value,
                "payload_name": name,
                "where": "audio data",
            }
            message = (
                f"audio data: a file header ({name}) at byte {offset + at}, {at} bytes into "
                "the samples: a file dressed up as audio"
            )
            emit_payload(insp, kind, message, ev)
            return
