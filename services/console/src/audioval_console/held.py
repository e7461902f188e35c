"""The tracks held for review: the quarantine bucket rebuild fills (key ``<track_id>``).

The console only reads it: the player streams an object, the picture draws from its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["HeldTrack", "HeldTracks"]

_TRACK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_CHUNK = 256 * 1024


@dataclass
class HeldTrack:
    """One held track, open for reading."""

    body: Any  # botocore's StreamingBody
    content_type: str
    size_bytes: int

    def chunks(self) -> Iterator[bytes]:
        """The bytes in pieces; closes the body at the end (or when the reader stops)."""
        try:
            yield from self.body.iter_chunks(_CHUNK)
        finally:
            self.body.close()


class HeldTracks:
    """Reads of the quarantine bucket (boto3 S3 client passed in); an empty bucket name holds
    nothing."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def has(self, track_id: str) -> bool:
        if not self._named(track_id):
            return False
        try:
            self._s3.head_object(Bucket=self.bucket, Key=track_id)
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    def open(self, track_id: str) -> HeldTrack | None:
        if not self._named(track_id):
            return None
        try:
            reply = self._s3.get_object(Bucket=self.bucket, Key=track_id)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return HeldTrack(
            reply["Body"],
            reply.get("ContentType") or "application/octet-stream",
            int(reply["ContentLength"]),
        )

    def read(self, track_id: str) -> bytes | None:
        held = self.open(track_id)
        return None if held is None else b"".join(held.chunks())

    def _named(self, track_id: str) -> bool:
        return bool(self.bucket) and _TRACK_ID.fullmatch(track_id) is not None


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING
