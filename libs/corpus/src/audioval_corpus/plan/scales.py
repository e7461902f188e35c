"""How big a corpus is: the scales a build offers, and the bad classes it makes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BAD_CLASSES", "SCALES", "Scale"]

BAD_CLASSES: tuple[str, ...] = (
    "text_as_pcm",
    "binary_as_pcm",
    "archive_as_pcm",
    "base64_as_pcm",
    "random_as_pcm",
    "synthetic",
    "xor_base64_as_pcm",
    "appended_payload",
    "riff_chunk_payload",
    "tag_payload",
    "lying_size",
    "lsb_stego",
)


@dataclass(frozen=True, slots=True)
class Scale:
    """How many files of each kind a build makes, and how long clips are."""

    real_clips: int
    speech_clips: int
    speech_renders: int
    originals: int
    bad: dict[str, int]
    clip_seconds: tuple[float, float]
    max_data_bytes: int


_SMALL_BAD = {
    "text_as_pcm": 30,
    "binary_as_pcm": 24,
    "archive_as_pcm": 16,
    "base64_as_pcm": 10,
    "random_as_pcm": 16,
    "synthetic": 16,
    "xor_base64_as_pcm": 8,
    "appended_payload": 30,
    "riff_chunk_payload": 12,
    "tag_payload": 20,
    "lying_size": 12,
    "lsb_stego": 72,
}
SCALES: dict[str, Scale] = {
    "small": Scale(130, 40, 24, 10, _SMALL_BAD, (3.0, 15.0), 3 << 20),
    "full": Scale(
        430, 130, 80, 30, {k: round(v * 3.4) for k, v in _SMALL_BAD.items()}, (5.0, 30.0), 6 << 20
    ),
}
