"""The results of a container inspection: the report, its segments and the PCM layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from audiomodel.findings import Finding, Severity

#: What :attr:`ContainerReport.format` may be.
FORMATS: Final = ("wav", "flac", "ogg", "mp3", "aiff", "unknown", "not_audio", "empty")


@dataclass(frozen=True)
class PcmLayout:
    """Where and how uncompressed samples sit in the file (WAV and AIFF only)."""

    data_offset: int
    """Byte offset of the first sample in the file."""
    data_size: int
    """Bytes of sample data actually present (never past the end of the file)."""
    bits_per_sample: int
    channels: int
    sample_rate: int
    float_samples: bool
    """IEEE float samples (WAVE_FORMAT_IEEE_FLOAT, extensible float, AIFC ``fl32``/``fl64``)."""
    big_endian: bool = False
    """RIFX and AIFF store samples big-endian; AIFC ``sowt`` is little-endian."""
    block_align: int = 0
    """Bytes per frame (all channels); 0 when the header did not say."""


@dataclass(frozen=True)
class CodedLayout:
    """Where the codes of a block-coded WAV sit (MS ADPCM, format 2: each block of
    ``block_align`` bytes opens with a 7-byte header per channel, then 4-bit codes)."""

    data_offset: int
    data_size: int
    """Bytes of the data chunk actually present."""
    block_align: int
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class Segment:
    """One structural unit seen while walking the container.

    ``kind`` is ``chunk`` (RIFF/IFF), ``block`` (FLAC metadata), ``tag`` (ID3/APE/Lyrics3),
    ``frames`` (a run of MPEG or FLAC audio frames), ``pages`` (one Ogg logical stream) or
    ``junk`` (bytes between frames or pages that belong to nothing).
    """

    kind: str
    name: str
    offset: int
    size: int
    count: int = 1


@dataclass
class ContainerReport:
    """What the container says about itself, and what does not fit."""

    format: str
    """One of :data:`FORMATS`."""
    codec: str | None = None
    """``pcm_s16le``, ``float32``, ``flac``, ``vorbis``, ``opus``, ``mp3``, ..."""
    size: int = 0
    audio_end: int = 0
    """Offset where the audio container really ends, including metadata that legitimately
    follows the audio (chunks after ``data``, ID3v1/APE tags); bytes after it are trailing."""
    sample_rate: int | None = None
    channels: int | None = None
    frames: int | None = None
    """Sample frames per channel, from the headers when they say (Xing/STREAMINFO/granule)."""
    walked_frames: int | None = None
    """Sample frames per channel the walk found really there, counted from the bytes rather
    than taken from a header's claim: PCM bytes present over the block size (WAV/AIFF), the
    end sample of the last FLAC frame, the last granule of the decoded Ogg stream, the MPEG
    frames walked. What the duration limit counts before anything is decoded."""
    pcm: PcmLayout | None = None
    coded: CodedLayout | None = None
    """The codes' layout of an MS ADPCM WAV (read by :mod:`audiomodel.block_codes`)."""
    findings: list[Finding] = field(default_factory=list)
    audio_start: int | None = None
    """Offset of the first audio byte (first sample, frame or page)."""
    segments: list[Segment] = field(default_factory=list)
    metadata_bytes: int = 0
    """Total bytes of metadata (chunks, blocks, tags) other than the audio itself."""
    decode_patches: list[tuple[int, bytes]] = field(default_factory=list)
    """``(offset, bytes)`` to lay over the file for the decoder, so that it sees what the walk
    found rather than what a header claims (a FLAC STREAMINFO sample count that stops short of
    the frames is set to 0, unknown, so every frame is decoded and judged)."""
    suppressed_findings: dict[str, int] = field(default_factory=dict)
    """Findings dropped per code once
    :data:`~audiomodel.container.limits.MAX_FINDINGS_PER_CODE` were reported."""

    @property
    def trailing_bytes(self) -> int:
        """Bytes after :attr:`audio_end`."""
        return max(0, self.size - self.audio_end)

    @property
    def worst_severity(self) -> Severity | None:
        """The heaviest finding's severity, or ``None`` without findings."""
        return max((f.severity for f in self.findings), default=None)
