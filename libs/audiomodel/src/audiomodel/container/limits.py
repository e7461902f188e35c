"""Bounds on what one inspection reads and reports.

Memory stays bounded whatever the file size: headers are read with seeks, sequential walks (MPEG
frames, Ogg pages) read blocks of :data:`BLOCK_BYTES`, and regions that must be identified
(trailing bytes, unknown chunks, pictures) are sampled: their first :data:`SAMPLE_BYTES` and
their last :data:`TAIL_SAMPLE_BYTES`. The counts cap what crafted files can make a walk do.
"""

from __future__ import annotations

from typing import Final

#: How much of a suspicious region is read to identify it.
SAMPLE_BYTES: Final = 1 << 20
#: How much of the end of a long region is read to look for signatures there (a zip's central
#: directory sits at its end).
TAIL_SAMPLE_BYTES: Final = 1 << 16
#: How much of the start of PCM sample data is searched for file headers (a file dressed up as
#: audio starts its data with its own header).
AUDIO_HEAD_BYTES: Final = 1 << 16
#: Block size of sequential reads.
BLOCK_BYTES: Final = 1 << 20
#: How far past a lost MPEG frame or Ogg page a resync looks before calling the rest trailing.
RESYNC_BYTES: Final = 4 << 20
#: Zero padding up to this size after the audio is harmless (reported at INFO).
PADDING_INFO_BYTES: Final = 1 << 16
#: A RIFF/FORM size off from the walked chunks by at most this much (the 4-byte form type or
#: the 8-byte header counted or not, a forgotten pad byte) is a writer's miscount, not a lie:
#: the walk covers every byte either way.
SIZE_SLACK_BYTES: Final = 8
#: Junk between MPEG frames up to this size (in total) is damage (a cut frame where two files
#: were joined), not smuggling.
MPEG_JUNK_TOLERANCE: Final = 2048
#: At most this many candidate page starts are checked (CRC and all) per Ogg resync, so a
#: region crafted full of fake capture patterns cannot make the search quadratic.
OGG_RESYNC_CANDIDATES: Final = 1024
#: A Vorbis comment packet or block is read up to the metadata limit plus this much, so a value
#: just over the limit is still decoded and identified while a huge one costs a bounded read.
COMMENT_MARGIN_BYTES: Final = 1 << 16
#: How much of a logical Ogg stream of no known codec is kept to identify what it carries.
STREAM_SAMPLE_BYTES: Final = 1 << 16
#: High-entropy bytes (encrypted or compressed) from this size on are flagged in fields whose
#: specification lets them hold binary data (ID3 PRIV/GEOB, APEv2 binary items, known RIFF
#: chunks, FLAC blocks): honest binary fields there (GUIDs, levels, DJ cue points, seek
#: tables) are small or structured; a payload worth hiding is not.
BLOB_BYTES: Final = 2048
#: Bytes in structures whose purpose the platform cannot account for (chunks, blocks, frames
#: and items of no known id, and the unparsed binary of known ones such as Pro Tools' ``elm1``
#: or a FLAC APPLICATION block) up to this many in a file are a vendor's private notes; more is
#: ``container.unaccounted_data``. Measured on 30,256 WAV and AIFF files of 24 Debian packages
#: and the dev corpus: Pro Tools writes ``minf`` 16, ``umid`` 24, ``regn`` 92, ``elm1`` 426 and
#: ``ovwf`` 4 bytes, Logic ``LGWV`` 258, Apple ``PEAK`` 16-24; the largest is Microsoft SAPI's
#: ``EVNT`` (word and phoneme events of a synthesised voice, 6-15 KB, two thirds zeros).
UNACCOUNTED_BUDGET_BYTES: Final = 16 << 10
#: Regions this small are not searched for an executable hidden by a repeating XOR key: the key
#: is read from the most frequent byte of each of its positions, which needs enough bytes.
XOR_MIN_BYTES: Final = 512
#: Base64 or hex text in a text field that decodes to random-looking bytes is flagged from this
#: many decoded bytes on (a SHA-512 in hex is 64 bytes: checksums stay below it).
ENCODED_BLOB_BYTES: Final = 128
#: A single text field (a RIFF INFO value, an ID3 text frame, a Vorbis comment, an APEv2 text
#: item) longer than this is absurd: lyrics and liner notes stay well under it.
TEXT_FIELD_BYTES: Final = 1 << 16
#: Bytes after the end of a picture's image up to this many are reported at INFO (a tagger's
#: stray bytes); more, when not zeros, is data riding behind the image.
IMAGE_TAIL_INFO_BYTES: Final = 16
#: Caps on structure counts, so crafted files of tiny chunks cannot make a walk slow.
MAX_OGG_STREAMS: Final = 1024
MAX_CHUNKS: Final = 1 << 16
MAX_SEGMENTS: Final = 4096
MAX_FINDINGS_PER_CODE: Final = 16
#: Comments of one packet or block identified one by one; the rest are identified as one run.
MAX_COMMENTS: Final = 1024
#: Shorter comment values are not identified: a tag value this short carries no payload worth
#: the cost, and a packet of thousands of tiny comments stays fast.
MIN_COMMENT_VALUE: Final = 16
