"""The dev corpus: real audio from Debian packages and espeak-ng, and every bad class of the
threat model generated from it, with a manifest split by source.

Build it with ``python -m audiomodel.corpus build --out DIR [--scale small|full] [--seed N]``;
generated audio lives under a gitignored cache, never in the repository.
"""

from audiomodel.corpus.build import SCALES, Scale, assign_splits, main
from audiomodel.corpus.debian import (
    DEBIAN_AUDIO_PACKAGES,
    AudioSource,
    FetchReport,
    fetch_packages,
    list_audio_files,
    render_speech,
    sniff_audio_format,
    sniff_renderable_format,
)

__all__ = [
    "DEBIAN_AUDIO_PACKAGES",
    "SCALES",
    "AudioSource",
    "FetchReport",
    "Scale",
    "assign_splits",
    "fetch_packages",
    "list_audio_files",
    "main",
    "render_speech",
    "sniff_audio_format",
    "sniff_renderable_format",
]
