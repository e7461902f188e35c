"""The verdict a track gets when its records do not rebuild the file its manifest names.

The table itself is ``audioval_pipeline.verdict_table.VerdictTable``, shared with classify
(re-exported here for the worker).
"""

from __future__ import annotations

from importlib import metadata

from audiomodel import Decision, Finding, Label, Severity, Verdict
from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_pipeline.verdict_table import VerdictTable
from audioval_rebuild.integrity import HashMismatchError, IntegrityError
from audioval_servicekit.verdict_codec import to_proto

__all__ = ["VerdictTable", "rejection"]

try:
    _VERSION = metadata.version("audioval-rebuild")
except metadata.PackageNotFoundError:  # running from a source tree without an install
    _VERSION = "0+unknown"
MODEL_VERSION = f"audioval-rebuild/{_VERSION}"


def rejection(
    manifest: pipeline_pb2.Manifest,
    error: IntegrityError,
    *,
    elapsed_ms: float,
) -> verdict_pb2.Verdict:
    """A REJECT verdict for a track whose records do not rebuild the file its manifest names.

    The track is never accepted unseen: label MOCK, score 1.0, one malicious finding with the
    error's code and evidence. ``sha256`` and ``size_bytes`` are the bytes actually rebuilt
    for a hash mismatch (every byte was read); otherwise they are left empty.
    """
    # Only a hash mismatch has rebuilt every byte; then say which bytes were refused.
    rebuilt = isinstance(error, HashMismatchError)
    verdict = Verdict(
        decision=Decision.REJECT,
        label=Label.MOCK,
        score=1.0,
        findings=(Finding(error.code, error.message, Severity.MALICIOUS, dict(error.evidence)),),
        model_version=MODEL_VERSION,
        format="unknown",
        size_bytes=int(error.evidence["size_bytes"]) if rebuilt else 0,
        sha256=str(error.evidence["actual"]) if rebuilt else "",
        timings_ms={"rebuild": elapsed_ms, "total": elapsed_ms},
    )
    return to_proto(verdict, track_id=manifest.track_id, user_id=manifest.user_id)
