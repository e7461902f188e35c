"""Where verdicts live, and how watchers hear about new ones.

The store guarantees exactly one verdict per track: the first ``put`` wins and later ones
return the stored verdict (the DynamoDB-backed store does the same with a conditional write).
The one exception is explicit: ``supersede`` replaces the exact verdict the caller read (the
re-scan, when a new known-bad reference matches an accepted track) and keeps the old one in
the track's audit trail.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from audioval.v1 import verdict_pb2
from audioval_pipeline.verdict_table import TrackLookup


class VerdictStore(Protocol):
    def put_if_absent(self, verdict: verdict_pb2.Verdict) -> tuple[verdict_pb2.Verdict, bool]:
        """Store ``verdict`` unless its track has one; return (stored verdict, was_new)."""
        ...

    def get(self, track_id: str) -> verdict_pb2.Verdict | None: ...

    def mark_pending(self, track_id: str, user_id: str) -> None:
        """Record that a track is in flight (GetVerdict answers PENDING until it is judged)."""
        ...

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        """The track's state and, when judged, its verdict, from one consistent read."""
        ...

    def supersede(
        self, verdict: verdict_pb2.Verdict, *, replaces: verdict_pb2.Verdict, reason: str
    ) -> bool:
        """Replace the stored verdict ``replaces`` (and only it) with ``verdict``, keeping the
        old one in the audit trail; False when the stored verdict is another."""
        ...


class InMemoryVerdictStore:
    """A process-local store, for tests and a single classify replica."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdicts: dict[str, verdict_pb2.Verdict] = {}
        self._pending: set[str] = set()
        self._superseded: dict[str, list[tuple[verdict_pb2.Verdict, str]]] = {}

    def put_if_absent(self, verdict: verdict_pb2.Verdict) -> tuple[verdict_pb2.Verdict, bool]:
        with self._lock:
            existing = self._verdicts.get(verdict.track_id)
            if existing is not None:
                return existing, False
            self._verdicts[verdict.track_id] = verdict
            self._pending.discard(verdict.track_id)
            return verdict, True

    def get(self, track_id: str) -> verdict_pb2.Verdict | None:
        with self._lock:
            return self._verdicts.get(track_id)

    def mark_pending(self, track_id: str, user_id: str) -> None:
        with self._lock:
            if track_id not in self._verdicts:
                self._pending.add(track_id)

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        with self._lock:
            verdict = self._verdicts.get(track_id)
            if verdict is not None:
                return TrackLookup.JUDGED, verdict
            return (TrackLookup.PENDING if track_id in self._pending else TrackLookup.UNKNOWN), None

    def supersede(
        self, verdict: verdict_pb2.Verdict, *, replaces: verdict_pb2.Verdict, reason: str
    ) -> bool:
        with self._lock:
            if self._verdicts.get(verdict.track_id) != replaces:
                return False
            self._superseded.setdefault(verdict.track_id, []).append((replaces, reason))
            self._verdicts[verdict.track_id] = verdict
            return True

    def superseded(self, track_id: str) -> list[tuple[verdict_pb2.Verdict, str]]:
        """The track's audit trail: (replaced verdict, reason), oldest first."""
        with self._lock:
            return list(self._superseded.get(track_id, []))


class WatcherTooSlowError(Exception):
    """A watcher fell so far behind that its queue filled: its stream ends."""


class ServerStoppingError(Exception):
    """The server is stopping: every watcher's stream ends."""


@dataclass(frozen=True)
class StreamClosed:
    """Put on a subscriber's queue when its stream must end; ``slow`` says whose fault it is."""

    slow: bool

    def error(self) -> Exception:
        """Why the stream ended, as the error its watcher gets."""
        if self.slow:
            return WatcherTooSlowError("watcher fell too far behind")
        return ServerStoppingError("server is stopping")


WatchItem = verdict_pb2.Verdict | StreamClosed


class VerdictBroadcaster:
    """Fans newly stored verdicts out to WatchVerdicts subscribers, each with a bounded queue.

    A verdict can reach the broadcaster twice: from the replica that stored it (right after its
    conditional write) and from the verdict table's stream. A track has one verdict ever, so
    the broadcaster remembers the last ``recent_tracks`` track ids it published and drops a
    second copy; the window only has to outlast the stream's delay, not the table's lifetime.
    A verdict that supersedes the stored one (a re-scan, a moderator's decision) is published
    unless it is the very verdict last published for its track (the stream's copy of it).
    """

    def __init__(self, queue_size: int, *, recent_tracks: int = 10_000) -> None:
        self._queue_size = queue_size
        self._recent_tracks = recent_tracks
        self._lock = threading.Lock()
        self._subscribers: set[queue.Queue[WatchItem]] = set()
        # track id -> the last verdict published for it (deterministic bytes)
        self._published: OrderedDict[str, bytes] = OrderedDict()

    @contextmanager
    def subscribe(self) -> Iterator[queue.Queue[WatchItem]]:
        q: queue.Queue[WatchItem] = queue.Queue(maxsize=self._queue_size)
        with self._lock:
            self._subscribers.add(q)
        try:
            yield q
        finally:
            with self._lock:
                self._subscribers.discard(q)

    def follow(
        self,
        *,
        user_id: str = "",
        track_ids: Collection[str] = (),
        keep_going: Callable[[], bool],
        poll_s: float = 0.5,
    ) -> Iterator[verdict_pb2.Verdict]:
        """Verdicts as they are published, those of ``user_id`` and ``track_ids`` only (empty:
        all), while ``keep_going()`` says the watcher is still there (asked every ``poll_s``).
        Ends with :class:`WatcherTooSlowError` or :class:`ServerStoppingError` when the
        broadcaster closes this stream."""
        wanted = set(track_ids)
        with self.subscribe() as inbox:
            while keep_going():
                try:
                    item = inbox.get(timeout=poll_s)
                except queue.Empty:
                    continue
                if isinstance(item, StreamClosed):
                    raise item.error()
                if user_id and item.user_id != user_id:
                    continue
                if wanted and item.track_id not in wanted:
                    continue
                yield item

    def publish(self, verdict: verdict_pb2.Verdict, *, supersedes: bool = False) -> bool:
        """Hand ``verdict`` to every subscriber; False (and nothing sent) if its track was
        published recently, unless ``supersedes``: a verdict that replaced the stored one."""
        body = verdict.SerializeToString(deterministic=True)
        with self._lock:
            last = self._published.get(verdict.track_id)
            if last is not None and (not supersedes or last == body):
                self._published.move_to_end(verdict.track_id)
                return False
            self._published[verdict.track_id] = body
            self._published.move_to_end(verdict.track_id)
            if len(self._published) > self._recent_tracks:
                self._published.popitem(last=False)
            subscribers = list(self._subscribers)
        for q in subscribers:
            try:
                q.put_nowait(verdict)
            except queue.Full:
                self._evict(q, slow=True)
        return True

    def _evict(self, q: queue.Queue[WatchItem], *, slow: bool) -> None:
        with self._lock:
            self._subscribers.discard(q)
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        q.put_nowait(StreamClosed(slow=slow))

    def close(self) -> None:
        """End every subscriber's stream (server shutdown)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            self._evict(q, slow=False)
