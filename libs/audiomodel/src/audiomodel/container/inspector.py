"""The entry point: sniff the format, walk the container with the walker for it, and settle the
report (its end within the file, a name that disagrees with the bytes)."""

from __future__ import annotations

import struct
from pathlib import PurePath
from typing import BinaryIO, Final

from audiomodel.container.embedded import guess_evidence, settle_unaccounted
from audiomodel.container.flac import walk_flac
from audiomodel.container.inspection import Inspection
from audiomodel.container.mpeg import walk_mpeg
from audiomodel.container.ogg import walk_ogg
from audiomodel.container.report import ContainerReport
from audiomodel.container.riff import walk_aiff, walk_wav
from audiomodel.container.sniff import sniff_format, unsupported_audio
from audiomodel.container.source import Source
from audiomodel.container.tags import leading_id3
from audiomodel.findings import EvidenceValue
from audiomodel.payload import identify_payload

_EXTENSIONS: Final = {
    ".wav": "wav",
    ".wave": "wav",
    ".bwf": "wav",
    ".rf64": "wav",
    ".flac": "flac",
    ".fla": "flac",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".spx": "ogg",
    ".mp3": "mp3",
    ".mp2": "mp3",
    ".mpga": "mp3",
    ".aif": "aiff",
    ".aiff": "aiff",
    ".aifc": "aiff",
}


def _walk(insp: Inspection, head: bytes) -> None:
    """Walk the container with the walker for its sniffed format."""
    fmt = insp.report.format
    if fmt == "wav":
        walk_wav(insp, head)
    elif fmt == "aiff":
        walk_aiff(insp, head)
    elif fmt == "ogg":
        walk_ogg(insp)
    elif fmt in ("flac", "mp3"):
        start = leading_id3(insp)
        if insp.src.read(start, 4) == b"fLaC":
            insp.report.format = "flac"
            walk_flac(insp, start)
        else:
            insp.report.format = "mp3"
            walk_mpeg(insp, start)


#: A zip reader looks for the end-of-central-directory record in the last 22 bytes of a file
#: plus its comment (at most 65,535 bytes), scanning back from the end (APPNOTE 4.3.16).
_EOCD_WINDOW: Final = 22 + 0xFFFF


def zip_reader_view(insp: Inspection) -> None:
    """Report a file that a zip reader opens as an archive, wherever its members sit.

    Zip readers start from the end: the end-of-central-directory record (``PK\\5\\6``) in
    the last 64 KiB, its central directory at the offset it gives (or just before it, as
    ``zip -A`` leaves it for self-extracting files). Members hidden inside chunks or samples,
    whose local headers the walk never sees, still make the file a working archive; the
    record and a central directory where it says are what makes it one, which chance bytes
    of audio do not arrange.
    """
    if insp.has("container.embedded_archive"):
        return
    tail_at = max(0, insp.size - _EOCD_WINDOW)
    tail = insp.src.read(tail_at, insp.size - tail_at)
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0:
        record = tail[at : at + 22]
        if len(record) == 22:
            entries, cd_size, cd_offset, comment = struct.unpack("<HIIH", record[10:22])
            eocd = tail_at + at
            starts = {cd_offset, eocd - cd_size}
            if (
                entries
                and at + 22 + comment == len(tail)
                and any(0 <= cd < eocd and insp.src.read(cd, 4) == b"PK\x01\x02" for cd in starts)
            ):
                insp.add(
                    "container.embedded_archive",
                    f"the file opens as a zip archive: its end-of-central-directory record at "
                    f"byte {eocd} lists {entries} members",
                    offset=min(starts),
                    size=insp.size - min(starts),
                    payload_kind="archive",
                    payload_name="zip",
                    where="end of the file, as zip readers see it",
                    members=entries,
                )
                return
        at = tail.rfind(b"PK\x05\x06", 0, at)


def inspect_container(
    stream: BinaryIO,
    *,
    size: int | None = None,
    name: str | None = None,
    max_metadata_bytes: int = 1 << 20,
    deadline: float | None = None,
) -> ContainerReport:
    """Sniff and walk an audio container, reporting where the audio ends and what does not fit.

    Parameters
    ----------
    stream
        A seekable binary file object positioned anywhere (a file or ``io.BytesIO``). Only
        headers and bounded samples are read, so memory does not grow with the file.
    size
        The file size in bytes, if known (else found by seeking to the end).
    name
        The uploaded file name, used only to report ``container.extension_mismatch``; the
        format always comes from the bytes.
    max_metadata_bytes
        Metadata (a chunk, block, tag, frame or header packet) larger than this is reported
        as ``container.oversized_metadata``.
    deadline
        A ``time.perf_counter`` instant past which the walk stops and reports
        ``limit.time_budget_exceeded`` (the validator's per-file budget).

    Returns
    -------
    ContainerReport
        Never raises on malformed bytes: parser errors become findings
        (``container.truncated``, ``container.size_mismatch``, ``container.undecodable``).
        I/O errors of ``stream`` itself propagate.
    """
    start = stream.tell()
    if size is None:
        size = stream.seek(0, 2)
    src = Source(stream, size)
    head = src.read(0, 1 << 16)
    fmt = sniff_format(head)
    report = ContainerReport(format=fmt, size=size, audio_end=size)
    insp = Inspection(src, report, max_metadata_bytes, deadline)
    if fmt == "empty":
        report.audio_end = 0
        insp.add("input.empty", "the file has no bytes", size=0)
    elif fmt in ("not_audio", "unknown"):
        guess = identify_payload(head)
        ev: dict[str, EvidenceValue] = {
            "offset": 0,
            "size": size,
            **guess_evidence(guess),
            "head_hex": head[:16].hex(),
        }
        report.audio_end = 0
        if fmt == "not_audio":
            insp.emit(
                "container.not_audio",
                f"the file is {guess.kind.value} ({guess.name}), not audio",
                ev,
            )
        elif audio := unsupported_audio(head):
            insp.emit(
                "container.unknown_format",
                f"a {audio} file: not an accepted audio format (WAV, FLAC, Ogg, MP3, AIFF)",
                {**ev, "audio_format": audio},
            )
        else:
            insp.emit(
                "container.unknown_format",
                f"no supported audio container ({guess.name} bytes)",
                ev,
            )
    else:
        try:
            _walk(insp, head)
        except (
            struct.error,
            ValueError,
            IndexError,
            KeyError,
            OverflowError,
            ZeroDivisionError,
        ) as exc:
            # A parser bug on hostile bytes must not take the validator down; it is reported as
            # undecodable with what went wrong, so it is neither silent nor fatal.
            insp.add(
                "container.undecodable",
                f"container walk failed: {type(exc).__name__}: {exc}",
                offset=0,
                size=size,
                where=report.format,
                error=type(exc).__name__,
            )
        zip_reader_view(insp)
        settle_unaccounted(insp)
    report.audio_end = max(0, min(report.audio_end, size))
    stream.seek(start)
    if name:
        expected = _EXTENSIONS.get(PurePath(name).suffix.lower())
        if (
            expected is not None
            and report.format in ("wav", "flac", "ogg", "mp3", "aiff")
            and expected != report.format
        ):
            insp.add(
                "container.extension_mismatch",
                f"named {PurePath(name).suffix!r} but the bytes are {report.format}",
                extension=PurePath(name).suffix.lower(),
                format=report.format,
            )
    return report
