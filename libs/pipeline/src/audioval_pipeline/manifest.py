"""The manifest on the SQS FIFO queue: one encode (ingest), one decode (rebuild), its FIFO ids.

The body is ``audioval.v1.Manifest`` as compact protobuf JSON (ASCII only: SQS bodies are text
and the manifest is small metadata, never the track's bytes). The message group id is the user
(one user's tracks are handled in order) and the deduplication id is the track (a resent
manifest is dropped by SQS); both must be 1-128 printable ASCII characters, which is why ingest
refuses other user ids and why a manifest without usable ids is poison. ``traceparent`` carries
the upload's W3C trace context to rebuild; a manifest without it (an older ingest, an untraced
upload) decodes with it empty and starts a new trace.
"""

from __future__ import annotations

import re

from google.protobuf import json_format

from audioval.v1 import pipeline_pb2

__all__ = [
    "ManifestDecodeError",
    "decode_manifest",
    "deduplication_id",
    "encode_manifest",
    "group_id",
    "is_fifo_id",
]

# SQS MessageGroupId / MessageDeduplicationId: 1-128 characters from '!' to '~'.
_FIFO_ID = re.compile(r"[!-~]{1,128}")


class ManifestDecodeError(ValueError):
    """The body is not a manifest naming a track and a user that can serve as FIFO ids."""


def is_fifo_id(text: str) -> bool:
    """Whether ``text`` can be an SQS FIFO group or deduplication id."""
    return _FIFO_ID.fullmatch(text) is not None


def group_id(manifest: pipeline_pb2.Manifest) -> str:
    """The FIFO message group: the user."""
    return manifest.user_id


def deduplication_id(manifest: pipeline_pb2.Manifest) -> str:
    """The FIFO deduplication id: the track."""
    return manifest.track_id


def encode_manifest(manifest: pipeline_pb2.Manifest) -> str:
    """The SQS body of ``manifest``."""
    return json_format.MessageToJson(manifest, indent=None)


def decode_manifest(body: str) -> pipeline_pb2.Manifest:
    """The manifest in an SQS body, with a usable track id and user id.

    Unknown fields are ignored so a newer ingest can add fields. Raises
    :class:`ManifestDecodeError` for anything else (not JSON, not a manifest, no track id or
    user id that can serve as an SQS deduplication / group id).
    """
    manifest = pipeline_pb2.Manifest()
    try:
        json_format.Parse(body, manifest, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise ManifestDecodeError(f"body is not a manifest: {str(exc)[:200]}") from exc
    if not is_fifo_id(deduplication_id(manifest)):
        raise ManifestDecodeError("manifest has no usable track_id")
    if not is_fifo_id(group_id(manifest)):
        raise ManifestDecodeError("manifest has no usable user_id")
    return manifest
