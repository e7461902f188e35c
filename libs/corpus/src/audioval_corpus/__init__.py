"""The dev corpus: real audio from Debian packages and espeak-ng, and every bad class of the
threat model generated from it, with a manifest split by source. Dev tooling: it calls apt
tools (apt-get, dpkg-deb, ffmpeg, oggenc, lame, espeak-ng); no service installs it.

Build it with ``audioval corpus build`` or ``python -m audioval_corpus build --out DIR
[--scale small|full] [--seed N]``; generated audio lives under a gitignored cache, never in the
repository.

Where things live:

- :mod:`~audioval_corpus.cli`: the command line (``main``).
- :mod:`~audioval_corpus.build`: fetch, discover, plan, make every missing file, write the manifest.
- :mod:`~audioval_corpus.plan`: scales, the planner and its items (which clip goes where).
- :mod:`~audioval_corpus.specs`: the typed spec of each kind of file, and the draws of a clip.
- :mod:`~audioval_corpus.splits`: the split by source.
- :mod:`~audioval_corpus.seeding`: seeded draws and the digest that names a file.
- :mod:`~audioval_corpus.machine_files`: the text, binaries, archives and images of the machine.
- :mod:`~audioval_corpus.rendering`: decoding and encoding clips (ffmpeg, oggenc, lame).
- :mod:`~audioval_corpus.manifest`: ``manifest.jsonl`` and the summary table.
- :mod:`~audioval_corpus.debian`: the Debian packages and espeak-ng speech.
- :mod:`~audioval_corpus.threats`: the bad-class generators (bytes in, a file's bytes out).
- :mod:`~audioval_corpus.stego_embed`: LSB embedding, the layout steganalysis looks for.
- :mod:`~audioval_corpus.samples`: the quick start's dozen sample files.
- :mod:`~audioval_corpus.family_threats`, :mod:`~audioval_corpus.tools`,
  :mod:`~audioval_corpus.renditions`, :mod:`~audioval_corpus.conversion`,
  :mod:`~audioval_corpus.plan.families`: the evaluation set of issue #17 (every family it names,
  made with the real tools; good renditions through converter chains).
"""

from audioval_corpus.build import build
from audioval_corpus.cli import main
from audioval_corpus.debian import (
    DEBIAN_AUDIO_PACKAGES,
    AudioSource,
    FetchReport,
    fetch_packages,
    list_audio_files,
    render_speech,
    sniff_audio_format,
    sniff_renderable_format,
)
from audioval_corpus.plan import BAD_CLASSES, SCALES, Scale, assign_splits, plan_corpus

__all__ = [
    "BAD_CLASSES",
    "DEBIAN_AUDIO_PACKAGES",
    "SCALES",
    "AudioSource",
    "FetchReport",
    "Scale",
    "assign_splits",
    "build",
    "fetch_packages",
    "list_audio_files",
    "main",
    "plan_corpus",
    "render_speech",
    "sniff_audio_format",
    "sniff_renderable_format",
]
