"""The verdict a track gets when its records do not rebuild the file its manifest names.

The table itself is ``audioval_pipeline.verdict_table.VerdictTable``, shared with classify
(re-exported here for the worker).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

from google.protobuf import struct_pb2, timestamp_pb2

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_pipeline.verdict_table import VerdictTable
from audioval_rebuild.integrity import HashMismatchError, IntegrityError

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
    evidence = struct_pb2.Struct()
    evidence.update(dict(error.evidence))
    judged_at = timestamp_pb2.Timestamp()
    judged_at.FromDatetime(datetime.now(UTC))
    # Only a hash mismatch has rebuilt every byte; then say which bytes were refused.
    rebuilt = isinstance(error, HashMismatchError)
    return verdict_pb2.Verdict(
        track_id=manifest.track_id,
        decision=verdict_pb2.DECISION_REJECT,
        label=verdict_pb2.LABEL_MOCK,
        score=1.0,
        findings=[
            verdict_pb2.Finding(
                code=error.code,
                message=error.message,
                severity=verdict_pb2.SEVERITY_MALICIOUS,
                evidence=evidence,
            )
        ],
        model_version=MODEL_VERSION,
        user_id=manifest.user_id,
        sha256=str(error.evidence["actual"]) if rebuilt else "",
        size_bytes=int(error.evidence["size_bytes"]) if rebuilt else 0,
        format="unknown",
        timings_ms={"rebuild": elapsed_ms, "total": elapsed_ms},
        judged_at=judged_at,
    )
