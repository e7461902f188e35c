"""The quarantine bucket: the bytes of every track judged ``review``, held for the console.

The pipeline stores no track bytes otherwise; a moderator needs to hear and see a track in
review, so rebuild puts them at key ``<track_id>`` once classify has answered ``review`` and
before the manifest is deleted. A failed put raises the boto3 error, which the worker treats
like any AWS failure: the manifest comes back and the put is tried again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

__all__ = ["Quarantine", "content_type"]

# The container format classify sniffed (``Verdict.format``) -> what the console's player gets.
_CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "aiff": "audio/aiff",
}
_MISSING = {"404", "NoSuchKey", "NotFound"}


def content_type(format_name: str) -> str:
    """The MIME type of a sniffed container format (``application/octet-stream`` otherwise)."""
    return _CONTENT_TYPES.get(format_name, "application/octet-stream")


class Quarantine:
    """Puts and checks held tracks in one bucket (boto3 S3 client passed in)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def hold(self, track_id: str, content: bytes, *, sha256: str, format_name: str) -> None:
        """Put the track's bytes at ``track_id`` (idempotent: the same bytes again)."""
        self._s3.put_object(
            Bucket=self.bucket,
            Key=track_id,
            Body=content,
            ContentType=content_type(format_name),
            Metadata={"sha256": sha256},
        )

    def holds(self, track_id: str) -> bool:
        """Whether the track's bytes are in the bucket."""
        try:
            self._s3.head_object(Bucket=self.bucket, Key=track_id)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return False
            raise
        return True
