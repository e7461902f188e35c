"""Why a manifest or its records were refused: typed errors, each with a stable code.

The ``pipeline.*`` codes that reach a verdict are registered in audiomodel's findings
(``libs/audiomodel/FINDINGS.md``); ``pipeline.poison`` only labels dead-lettered messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "CODE_POISON",
    "CountMismatchError",
    "HashMismatchError",
    "IntegrityError",
    "MissingRecordError",
    "PoisonManifestError",
    "TrackTooLargeError",
]

Evidence = Mapping[str, int | float | str | bool]

CODE_POISON = "pipeline.poison"


class IntegrityError(Exception):
    """A track that cannot be rebuilt as its manifest says; retrying will not help."""

    code: ClassVar[str] = "pipeline.count_mismatch"

    def __init__(self, message: str, **evidence: int | float | str | bool) -> None:
        super().__init__(message)
        self.message = message
        self.evidence: Evidence = evidence


class MissingRecordError(IntegrityError):
    """A record the manifest names is not on its shard, or is not this track's chunk."""

    code = "pipeline.missing_record"


class CountMismatchError(IntegrityError):
    """Chunk count, indices, offsets or sizes disagree between manifest and records."""

    code = "pipeline.count_mismatch"


class HashMismatchError(IntegrityError):
    """The rebuilt bytes do not hash to the manifest's sha256."""

    code = "pipeline.hash_mismatch"


class TrackTooLargeError(IntegrityError):
    """The manifest names more bytes than the worker rebuilds (never accepted unseen)."""

    code = "limit.size_exceeded"


class PoisonManifestError(Exception):
    """A message body that is not a manifest with a track and a user: no verdict can be stored."""

    code: ClassVar[str] = CODE_POISON
