"""The stream set of this availability zone, read from the registry, and the stable route.

The registry (its record and key schema: :mod:`audioval_pipeline.stream_registry`) says which
Kinesis streams make up each zone's set. Producers use only ``active`` streams; a ``draining``
stream keeps its records until consumers are done but takes no new tracks, and a
``provisioning`` one takes none yet.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audioval_pipeline.stream_registry import ACTIVE, read_zone

__all__ = ["NoActiveStreamError", "StreamRegistryError", "StreamSet", "pick_stream"]

log = logging.getLogger(__name__)


class StreamRegistryError(Exception):
    """The registry could not be read and no recent enough copy is cached."""


class NoActiveStreamError(Exception):
    """The registry names no active stream for this availability zone."""


def pick_stream(track_id: str, active_streams: Sequence[str]) -> str:
    """The stream a track goes to: sha256(track_id) mod n over the sorted, distinct names.

    Stable: the same track id and set always give the same stream, on every producer.

    Raises
    ------
    NoActiveStreamError
        If ``active_streams`` is empty.
    """
    names = sorted(set(active_streams))
    if not names:
        raise NoActiveStreamError("no active stream to route to")
    digest = hashlib.sha256(track_id.encode("utf-8")).digest()
    return names[int.from_bytes(digest, "big") % len(names)]


@dataclass(frozen=True)
class _Snapshot:
    streams: tuple[str, ...]
    read_at: float


class StreamSet:
    """The active streams of one availability zone, cached for ``ttl_s`` seconds.

    Parameters
    ----------
    dynamodb
        A boto3 DynamoDB client.
    table, availability_zone
        The registry table and the partition (zone) to read.
    ttl_s
        How long one read is used before the registry is read again.
    max_stale_s
        If a refresh fails, a cached read younger than this is still used (a registry blip
        must not stop uploads); older than this, the failure is raised.
    clock
        Monotonic seconds; injectable so tests can move time.
    """

    def __init__(
        self,
        dynamodb: Any,
        *,
        table: str,
        availability_zone: str,
        ttl_s: float = 5.0,
        max_stale_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._az = availability_zone
        self._ttl_s = ttl_s
        self._max_stale_s = max_stale_s
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def active_streams(self) -> tuple[str, ...]:
        """Sorted names of the active streams (from cache when fresh).

        Raises
        ------
        StreamRegistryError
            If the registry cannot be read and the cache is missing or too old.
        """
        with self._lock:  # one refresh at a time; the others wait and reuse it
            now = self._clock()
            snapshot = self._snapshot
            if snapshot is not None and now - snapshot.read_at < self._ttl_s:
                return snapshot.streams
            try:
                streams = self._read()
            except (BotoCoreError, ClientError) as exc:
                if snapshot is not None and now - snapshot.read_at < self._max_stale_s:
                    log.warning(
                        "stream registry unreadable; using cached set",
                        extra={"error": str(exc), "age_s": round(now - snapshot.read_at, 3)},
                    )
                    return snapshot.streams
                raise StreamRegistryError(
                    f"cannot read stream registry {self._table}: {exc}"
                ) from exc
            if snapshot is None or snapshot.streams != streams:
                log.info("stream set", extra={"az": self._az, "active_streams": list(streams)})
            self._snapshot = _Snapshot(streams, now)
            return streams

    def route(self, track_id: str) -> str:
        """The active stream ``track_id`` goes to."""
        return pick_stream(track_id, self.active_streams())

    def _read(self) -> tuple[str, ...]:
        entries = read_zone(self._dynamodb, self._table, self._az)
        return tuple(sorted(e.stream_name for e in entries if e.state == ACTIVE))
