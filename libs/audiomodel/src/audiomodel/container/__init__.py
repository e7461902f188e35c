"""Container inspection: sniff the format from its magic bytes, walk its structure, and report
where the audio really ends and everything in the file that does not belong to it.

Supported: WAV (RIFF, RIFX, RF64/BW64), AIFF/AIFC, FLAC (optionally behind an ID3v2 tag), Ogg
(Vorbis, Opus, FLAC, Speex) and MPEG audio (MP3/MP2/MP1, with ID3v2, ID3v1, APEv2 and Lyrics3
tags). The parsers are written here against the formats' own specifications (RIFF/WAVE and
RF64 (EBU Tech 3306), AIFF 1.3, RFC 9639 (FLAC), RFC 3533 (Ogg), ISO/IEC 11172-3 and 13818-3
headers, id3.org v2.3/v2.4, APEv2, the Vorbis I comment header, RFC 7845) so that every read
is bounded and every error becomes a finding; nothing here decodes audio.

The modules, by what they hold:

- :mod:`~audiomodel.container.inspector`: :func:`inspect_container`, the entry point;
- :mod:`~audiomodel.container.sniff`: :func:`sniff_format`;
- :mod:`~audiomodel.container.report`: the results (:class:`ContainerReport`,
  :class:`PcmLayout`, :class:`Segment`);
- :mod:`~audiomodel.container.riff`, :mod:`~audiomodel.container.flac`,
  :mod:`~audiomodel.container.ogg`, :mod:`~audiomodel.container.mpeg`: one walker per container;
  :mod:`~audiomodel.container.flac_frames`: FLAC's STREAMINFO and frames;
- :mod:`~audiomodel.container.tags` (ID3v1/v2, APEv2, Lyrics3) and
  :mod:`~audiomodel.container.vorbis_comments`: the metadata the walkers share;
- :mod:`~audiomodel.container.embedded`: identified bytes turned into findings (regions, pictures,
  text fields);
- :mod:`~audiomodel.container.images`: where a picture's image really ends (PNG, JPEG, GIF, WebP,
  BMP);
- :mod:`~audiomodel.container.inspection` (the state of one inspection),
  :mod:`~audiomodel.container.source` (bounded reads), :mod:`~audiomodel.container.checksums`
  and :mod:`~audiomodel.container.limits`.
"""

from audiomodel.container.inspector import inspect_container
from audiomodel.container.report import CodedLayout, ContainerReport, PcmLayout, Segment
from audiomodel.container.sniff import sniff_format

__all__ = [
    "CodedLayout",
    "ContainerReport",
    "PcmLayout",
    "Segment",
    "inspect_container",
    "sniff_format",
]
