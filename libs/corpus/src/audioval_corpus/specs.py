"""What a planned corpus file is made of: one frozen spec per kind of file.

A spec holds every choice behind a file's bytes. Its :func:`identity` (the spec as the JSON
object the first builder wrote) names the file: ``<threat>-<index>-<digest of identity>``, so a
changed choice is a new file, and a rebuild with the same choices skips what is on disk.
Field names are the JSON keys; fields marked ``omit_none`` are left out of the identity when
unset, and ``as_str`` ones are written as ``str(value)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from audioval_corpus.threats import Container, LieKind, PcmEncoding, SyntheticKind, TextMode

__all__ = [
    "CLIP_FORMATS",
    "AppendSpec",
    "Base64Spec",
    "BytesSpec",
    "Chain",
    "ChunkSpec",
    "ClipSpec",
    "DataParams",
    "Drive",
    "FlacCountSpec",
    "LieSpec",
    "LowBitSpec",
    "LowRes",
    "LsbSpec",
    "ModemSpec",
    "OggStreamSpec",
    "Pad",
    "PatternSpec",
    "RenditionSpec",
    "SilentFlacSpec",
    "SpliceSpec",
    "SteghideSpec",
    "SyntheticSpec",
    "TagBinarySpec",
    "TagSpec",
    "TextSpec",
    "TruncateSpec",
    "XorSpec",
    "identity",
]

# name: (container, libsndfile subtype or None for lossy, weight among good clips)
CLIP_FORMATS: dict[str, tuple[str, str | None, float]] = {
    "wav16": ("wav", "PCM_16", 0.22),
    "wav24": ("wav", "PCM_24", 0.07),
    "wav8": ("wav", "PCM_U8", 0.04),
    "wavf": ("wav", "FLOAT", 0.05),
    "flac16": ("flac", "PCM_16", 0.16),
    "flac24": ("flac", "PCM_24", 0.05),
    "ogg": ("ogg", None, 0.20),
    "mp3": ("mp3", None, 0.21),
}

_OMIT_NONE = {"omit_none": True}
_AS_STR = {"as_str": True}


def identity(spec: object) -> dict[str, object]:
    """The spec as a JSON-ready object (nested specs as objects): what names its file."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(spec):  # type: ignore[arg-type]
        value = getattr(spec, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        if f.metadata.get("as_str"):
            value = str(value)
        elif dataclasses.is_dataclass(value):
            value = identity(value)
        out[f.name] = value
    return out


# --- clips of real audio -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pad:
    """Silence (or faint noise at ``noise_dbfs``) before and after a clip, in seconds."""

    lead: float
    trail: float
    noise_dbfs: float | None


@dataclass(frozen=True, slots=True)
class LowRes:
    """A low-resolution source: samples rounded to ``bits``, then scaled by ``gain_db``."""

    bits: int
    gain_db: float


@dataclass(frozen=True, slots=True)
class Drive:
    """A loud master: ``db`` of gain into hard clipping or a soft (tanh) limiter."""

    db: float
    mode: Literal["hard", "soft"]


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """A clip of a real recording: the stretch, the rendition and the encoder."""

    source: Path = field(metadata=_AS_STR)
    start: float
    seconds: float
    rate: int
    channels: int
    fmt: str
    gain_db: float
    pad: Pad | None
    encoder: str
    quality: int | None = field(default=None, metadata=_OMIT_NONE)
    serial: int | None = field(default=None, metadata=_OMIT_NONE)
    kbps: int | None = field(default=None, metadata=_OMIT_NONE)
    lowres: LowRes | None = field(default=None, metadata=_OMIT_NONE)
    companding: Literal["ULAW", "ALAW"] | None = field(default=None, metadata=_OMIT_NONE)
    drive: Drive | None = field(default=None, metadata=_OMIT_NONE)
    cover: Path | None = field(default=None, metadata=_OMIT_NONE)

    @property
    def container(self) -> str:
        return CLIP_FORMATS[self.fmt][0]

    @property
    def subtype(self) -> str | None:
        """The libsndfile subtype stored (companding replaces the format's), None if lossy."""
        return self.companding or CLIP_FORMATS[self.fmt][1]


# --- data dressed as audio -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataParams:
    """How data is stored as audio: rate, channels, sample encoding, container, duration."""

    rate: int
    channels: int
    encoding: PcmEncoding
    container: Container
    seconds: float


@dataclass(frozen=True, slots=True)
class TextSpec:
    """``chars`` characters of a text file from a seeded offset, one character per sample."""

    rate: int
    channels: int
    encoding: PcmEncoding
    container: Container
    seconds: float
    file: Path = field(metadata=_AS_STR)
    mode: TextMode
    chars: int
    offset_seed: int


@dataclass(frozen=True, slots=True)
class BytesSpec:
    """``size`` bytes (of ``file`` from a seeded offset, or seeded random) as samples."""

    rate: int
    channels: int
    encoding: PcmEncoding
    container: Container
    seconds: float
    size: int
    slice_seed: int
    file: Path | None = field(default=None, metadata={**_OMIT_NONE, **_AS_STR})


@dataclass(frozen=True, slots=True)
class Base64Spec:
    """A slice of ``file`` in base64, as text-as-PCM or as bytes in ``encoding``."""

    rate: int
    channels: int
    encoding: PcmEncoding
    container: Container
    seconds: float
    file: Path = field(metadata=_AS_STR)
    as_text: bool
    size: int
    slice_seed: int


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    """A synthetic signal no recording makes (silence, a counter, a byte pattern ...)."""

    kind: SyntheticKind
    rate: int
    channels: int
    seconds: float
    container: Container
    seed: int


@dataclass(frozen=True, slots=True)
class XorSpec:
    """A binary slice (or a seeded PE when the machine has none) xor-ed and base64-ed."""

    file: Path | None = field(metadata=_AS_STR)
    size: int
    order: Literal["b64_then_xor", "xor_then_b64"]
    rate: int
    encoding: PcmEncoding
    seed: int

    @property
    def container(self) -> Container:
        return "wav"

    @property
    def channels(self) -> None:
        return None


# --- payloads in real audio ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendSpec:
    """``size`` bytes of ``payload`` after the audio, maybe inside the RIFF size."""

    payload: str
    size: int
    cover_in_riff: bool


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """A RIFF chunk ``chunk_id`` of ``size`` payload bytes, before or after the data chunk."""

    payload: str
    size: int
    chunk_id: str
    before_data: bool


@dataclass(frozen=True, slots=True)
class TagSpec:
    """``size`` payload bytes in a tag: ``how`` names the frame or block."""

    payload: str
    size: int
    how: str


@dataclass(frozen=True, slots=True)
class LieSpec:
    """A WAV whose size fields lie (``kind``), maybe hiding ``payload`` past the data."""

    kind: LieKind
    payload: str
    seed: int


@dataclass(frozen=True, slots=True)
class LsbSpec:
    """``payload`` in the low ``bits`` of ``fraction`` of the samples; ``elf`` when it is a file."""

    payload: str
    fraction: float
    bits: int
    length_prefix: bool
    bit_order: Literal["msb_first", "lsb_first"]
    interleaved: bool
    seed: int
    elf: Path | None = field(default=None, metadata=_AS_STR)


# --- the evaluation families of issue #17 (audioval_corpus.plan.families) ----------------------
#
# Each names its parent (a good clip of the corpus, by its manifest path) or None for a file made
# from nothing but its payload; ``payload`` names the bytes: a machine file (its portable name),
# ``random`` (what encrypted bytes look like) or ``text``.


@dataclass(frozen=True, slots=True)
class SpliceSpec:
    """``share`` of the track's samples are a file's bytes, spliced raw into the middle of its
    sample data, the track written as ``subtype`` WAV."""

    parent: str
    subtype: str
    share: float
    payload: str
    seed: int


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """A file's bytes held as steps (each repeated ``hold`` times) or sorted into a ramp (blocks
    of ``block`` bytes, maybe alternating up and down), a whole file (``parent`` None,
    ``seconds`` at ``rate``) or spliced into a track over ``share`` of its samples."""

    kind: Literal["steps", "ramp"]
    parent: str | None
    subtype: str
    hold: int
    block: int
    alternate: bool
    share: float
    rate: int
    seconds: float
    payload: str
    seed: int


@dataclass(frozen=True, slots=True)
class ModemSpec:
    """``payload`` sent by ``minimodem --tx`` at ``baud``; alone (``parent`` None) or mixed by
    sox under a music clip at ``level_db`` of the music's RMS; stored as ``container``."""

    baud: int
    payload: str
    parent: str | None
    level_db: float | None
    container: Literal["wav", "flac"]
    seed: int


@dataclass(frozen=True, slots=True)
class SteghideSpec:
    """``steghide embed`` at ``share`` of the capacity it reports for the 16-bit WAV cover;
    random bytes encrypted (its default), or a file's bytes with ``-e none -Z``."""

    parent: str
    share: float
    encrypted: bool
    seconds: float
    seed: int


LowBitCover = Literal["u8", "s24_real", "s24_padded", "s16_short", "s16_22k"]


@dataclass(frozen=True, slots=True)
class LowBitSpec:
    """Bit 0 of the first ``share`` of the samples replaced by ``payload``, in the ``cover``
    rendering of the clip: 8-bit, a real 24-bit recording (sox resampled to 24 bits, its low
    bits the filter's), 16-bit padded to 24, 16-bit cut to ``seconds``, 16-bit at 22.05 kHz."""

    parent: str
    cover: LowBitCover
    share: float
    payload: str
    seconds: float
    seed: int


@dataclass(frozen=True, slots=True)
class OggStreamSpec:
    """A second logical Ogg stream (``codec`` header packet, then ``size`` bytes of ``payload``)
    multiplexed into or chained after the clip encoded by oggenc."""

    parent: str
    mode: Literal["multiplexed", "chained"]
    codec: str
    size: int
    payload: str
    seed: int


TagBinaryHow = Literal[
    "priv", "geob", "priv_average_level", "apev2_binary", "apev2_cover", "list_info_base64"
]


@dataclass(frozen=True, slots=True)
class TagBinarySpec:
    """``size`` bytes of ``payload`` in a binary tag item: ID3v2 PRIV / GEOB / a PRIV
    ``AverageLevel`` (4 bytes by its writer's spec) and APEv2 binary items on the clip encoded
    by lame, or base64 of it in a WAV LIST/INFO text ``field``."""

    parent: str
    how: TagBinaryHow
    size: int
    payload: str
    field: str | None
    seed: int


@dataclass(frozen=True, slots=True)
class FlacCountSpec:
    """The clip encoded by ``flac`` with a tail after it (``data``: a file's bytes as samples,
    or ``track``: more of the clip), STREAMINFO's count set to the clip's own length (off a
    frame boundary), so readers that trust the header never reach the tail."""

    parent: str
    tail: Literal["data", "track"]
    tail_share: float
    payload: str
    seed: int


@dataclass(frozen=True, slots=True)
class TruncateSpec:
    """The clip encoded as ``container`` (libsndfile WAV, flac, lame, oggenc), its upload cut
    after ``keep`` of its bytes."""

    parent: str
    container: Literal["wav", "flac", "mp3", "ogg"]
    keep: float
    seed: int


@dataclass(frozen=True, slots=True)
class SilentFlacSpec:
    """``hours`` of digital silence in FLAC frames at ``rate`` x ``channels``, STREAMINFO's
    count 0 (unknown): the decoder must find the length, the container walk already knows it."""

    hours: float
    rate: int
    channels: int


RenditionKind = Literal[
    "synth_music",
    "chiptune",
    "telephone",
    "test_tone",
    "noise_sfx",
    "fm_synth",
    "drum_machine",
    "call_tones",
    "test_signal",
    "room_tone",
    "recording",
]
RenditionFormat = Literal["wav16", "wav24", "flac", "mp3", "ogg", "ulaw8k", "chain"]
Dither = Literal["none", "tpdf", "shaped"]
Master = Literal["none", "hard_clip", "limit"]
# The file a chain stores: PCM WAV of a width, float WAV, FLAC of a width, MP3 (CBR kbps or
# VBR -V), Ogg Vorbis (-q).
Store = Literal["wav_u8", "wav16", "wav24", "wav_float", "flac16", "flac24", "mp3", "ogg"]


@dataclass(frozen=True, slots=True)
class Chain:
    """What a converter or a DAW's export did to a rendition, in order: down/up-mix to
    ``channels``, normalise the peak to ``level_db``, drive ``drive_db`` into hard clipping or
    sox's limiter (``master``), resample to ``rate`` (sox ``rate -v``), an optional lossy round
    trip (``via``: ``mp3-<kbps>`` through lame and back, ``ogg-q<n>`` through oggenc/oggdec),
    then store as ``store`` (``setting``: the MP3's kbps or ``V<n>``, the Vorbis quality, the
    FLAC level) with ``dither`` when the width shrinks (none: truncation, tpdf: sox's default,
    shaped: ``dither -s``)."""

    rate: int
    channels: int
    level_db: float
    master: Master
    drive_db: float
    via: str | None
    store: Store
    setting: str | None
    dither: Dither


@dataclass(frozen=True, slots=True)
class RenditionSpec:
    """Good audio that looks most like data or a modem, synthesised, spoken (espeak-ng) or a
    recording of a Debian package the corpus does not use (``source``: ``package:path``), then
    stored as ``fmt``, or through ``chain`` when ``fmt`` is ``"chain"``; every other choice is
    drawn from ``seed``."""

    kind: RenditionKind
    seed: int
    seconds: float
    fmt: RenditionFormat
    chain: Chain | None = field(default=None, metadata=_OMIT_NONE)
    source: str | None = field(default=None, metadata=_OMIT_NONE)
    start: float | None = field(default=None, metadata=_OMIT_NONE)
