"""Judge this track: the classify flow behind ValidateTrack, with no gRPC in it.

:class:`TrackJudge` checks the bytes against the sha256 the caller announced, names the track
(its own id, or one derived from the hash), answers from the store when the track was judged
before (idempotent by track id), otherwise judges it on the validator pool within the caller's
deadline, looks its fingerprint up in the index when there is one (a known-bad match rejects,
a catalogue match is reported as a duplicate), stores the verdict (the first stored wins),
tells watchers, and adds an accepted track to the catalogue. :class:`TrackAssembly`
gathers a streamed track within the size limit. Every refusal is a :class:`ClassifyError`
subclass; the servicer maps them to status codes in one table.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from opentelemetry import trace

from audiomodel import Decision, Verdict
from audioval.v1 import verdict_pb2
from audioval_classify.identity import TrackIndex
from audioval_classify.metrics import VALIDATOR_STAGE_SECONDS
from audioval_classify.pool import OverloadedError, ValidatorPool
from audioval_classify.store import VerdictBroadcaster, VerdictStore
from audioval_pipeline.verdict_table import TrackLookup
from audioval_servicekit.metrics import VERDICTS
from audioval_servicekit.verdict_codec import to_proto

__all__ = [
    "MAX_TRACK_ID_LENGTH",
    "ClassifyError",
    "DeadlineExceededError",
    "InvalidTrackError",
    "NotValidatingError",
    "PoolOverloadedError",
    "TrackAssembly",
    "TrackCorruptedError",
    "TrackJudge",
    "TrackNotFoundError",
    "TrackToJudge",
    "TrackTooLargeError",
    "check_track_id",
    "run_on_pool",
]

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

MAX_TRACK_ID_LENGTH = 128
NO_DEADLINE_S = 10 * 365 * 86400.0  # more time left than this: the caller set no deadline


class ClassifyError(Exception):
    """A request classify refuses; the message says why, for the client."""


class InvalidTrackError(ClassifyError):
    """The request does not describe a track properly (no id, an id too long, parts out of
    order, more bytes than announced)."""


class TrackNotFoundError(ClassifyError):
    """No verdict and no upload in flight for this track id."""


class TrackTooLargeError(ClassifyError):
    """The track is larger than this replica judges."""


class TrackCorruptedError(ClassifyError):
    """The bytes are not what the caller announced (hash, or fewer bytes than declared)."""


class PoolOverloadedError(ClassifyError):
    """Too many tracks in flight: retry later."""


class DeadlineExceededError(ClassifyError):
    """The caller's deadline passed before the verdict was ready."""


class NotValidatingError(ClassifyError):
    """This replica serves verdicts but has no validator pool."""


def run_on_pool(
    pool: ValidatorPool,
    content: bytes | bytearray,
    name: str,
    time_left: Callable[[], float | None],
    owner: str = "",
) -> Verdict:
    """The validator's verdict on ``content`` from the pool, within the caller's deadline;
    ``owner`` (the user) has the pool share its waiting calls fairly between users."""
    try:
        future = pool.submit(content, name, owner)
    except OverloadedError as err:
        raise PoolOverloadedError("too many tracks in flight; retry later") from err
    timeout = time_left()
    if timeout is not None and timeout > NO_DEADLINE_S:
        # gRPC reports a call without a deadline as ~2**63 ns left, which a wait cannot take.
        timeout = None
    try:
        return future.result(timeout=timeout)
    except FutureTimeout as err:
        future.cancel()
        raise DeadlineExceededError("validation did not finish before the deadline") from err


def check_track_id(track_id: str) -> None:
    """Raise :class:`InvalidTrackError` for a missing or over-long track id."""
    if not track_id:
        raise InvalidTrackError("track_id is required")
    if len(track_id) > MAX_TRACK_ID_LENGTH:
        raise InvalidTrackError(f"track_id longer than {MAX_TRACK_ID_LENGTH}")


@dataclass(frozen=True)
class TrackToJudge:
    """What the caller says about the bytes: all optional (empty when not said)."""

    track_id: str = ""
    user_id: str = ""
    track_name: str = ""
    sha256: str = ""


class TrackAssembly:
    """A streamed track's bytes, gathered within the size limit and the declared size."""

    def __init__(self, declared_size: int, max_bytes: int) -> None:
        if declared_size > max_bytes:
            raise TrackTooLargeError(f"track of {declared_size} bytes; the limit is {max_bytes}")
        self._declared = declared_size  # 0: not declared
        self._max_bytes = max_bytes
        self.content = bytearray()

    def add(self, chunk: bytes) -> None:
        self.content += chunk
        # Checked as bytes arrive, so an endless stream never grows memory past the limit.
        if len(self.content) > self._max_bytes:
            raise TrackTooLargeError(f"track longer than the limit of {self._max_bytes} bytes")
        if self._declared and len(self.content) > self._declared:
            raise InvalidTrackError(f"more than the {self._declared} bytes the header announced")

    def finish(self) -> bytearray:
        """The whole track; :class:`TrackCorruptedError` when fewer bytes came than declared."""
        if self._declared and len(self.content) != self._declared:
            raise TrackCorruptedError(
                f"{len(self.content)} bytes arrived; the header announced {self._declared}"
            )
        return self.content


class TrackJudge:
    """Judges tracks once each: the pool decides, the store keeps the first verdict, watchers
    hear of it. ``pool`` None: a replica that only serves stored verdicts."""

    def __init__(
        self,
        store: VerdictStore,
        broadcaster: VerdictBroadcaster,
        pool: ValidatorPool | None = None,
        *,
        max_track_bytes: int = 512 * 1024 * 1024,
        index: TrackIndex | None = None,
    ) -> None:
        self._store = store
        self._broadcaster = broadcaster
        self._pool = pool
        self._max_track_bytes = max_track_bytes
        self._index = index

    def ensure_validating(self) -> ValidatorPool:
        """The pool; :class:`NotValidatingError` on a replica without one."""
        if self._pool is None:
            raise NotValidatingError("this replica does not validate")
        return self._pool

    def receive(self, declared_size: int) -> TrackAssembly:
        """Start gathering a streamed track of ``declared_size`` bytes (0: not declared)."""
        return TrackAssembly(declared_size, self._max_track_bytes)

    def judge(
        self,
        track: TrackToJudge,
        content: bytes | bytearray,
        *,
        time_left: Callable[[], float | None],
    ) -> verdict_pb2.Verdict:
        """The stored verdict on ``content``: judged on the pool and stored once per track id.

        ``time_left`` gives the seconds left before the caller's deadline (None: no deadline),
        read once the track is on the pool.
        """
        pool = self.ensure_validating()
        digest = hashlib.sha256(content).hexdigest()
        if track.sha256 and track.sha256.lower() != digest:
            raise TrackCorruptedError(f"content hashes to {digest}, not {track.sha256}")
        track_id = track.track_id or f"sha_{digest[:32]}"
        check_track_id(track_id)
        stored = self._store.get(track_id)
        if stored is not None:  # idempotent: a track is judged once
            return stored
        with tracer.start_as_current_span("classify.validate") as span:
            verdict = run_on_pool(pool, content, track.track_name, time_left, track.user_id)
            span.set_attribute("audioval.decision", verdict.decision.value)
        for stage, ms in verdict.timings_ms.items():
            VALIDATOR_STAGE_SECONDS.labels(stage).observe(ms / 1e3)
        verdict = self._identify(verdict, track_id)
        message = to_proto(verdict, track_id=track_id, user_id=track.user_id)
        stored, new = self._store.put_if_absent(message)
        if new:
            VERDICTS.labels(verdict.decision.value).inc()
            self._broadcaster.publish(stored)
            if stored.decision == verdict_pb2.DECISION_ACCEPT:
                self._admit(verdict, track_id)
        log.info(
            "judged",
            extra={
                "track_id": track_id,
                "decision": verdict.decision.value,
                "new": new,
                "ms": round(verdict.timings_ms.get("total", 0.0), 1),
            },
        )
        return stored

    def _identify(self, verdict: Verdict, track_id: str) -> Verdict:
        """The verdict with what the index says of the track's fingerprint.

        An index that cannot be read leaves the verdict as the validator gave it (logged): the
        other checks still stand, and refusing every upload for want of the index would be
        worse.
        """
        if self._index is None or verdict.fingerprint is None:
            return verdict
        try:
            # Kept so the upload can later be added or matched by its track id.
            self._index.remember(track_id, verdict.fingerprint)
            judged, matches = self._index.identify(verdict, track_id)
        except Exception:
            log.exception("index lookup failed", extra={"track_id": track_id})
            return verdict
        if matches:
            log.info(
                "fingerprint matched",
                extra={
                    "track_id": track_id,
                    "matches": [f"{m.list}:{m.ref}:{m.score:.2f}" for m in matches],
                    "decision": judged.decision.value,
                },
            )
        return judged

    def _admit(self, verdict: Verdict, track_id: str) -> None:
        """Add an accepted track to the catalogue (reference = track id)."""
        if self._index is None or verdict.fingerprint is None or not len(verdict.fingerprint):
            return
        if verdict.decision is not Decision.ACCEPT:
            return
        try:
            self._index.admit(verdict.fingerprint, track_id)
        except Exception:
            log.exception("could not add the track to the catalogue", extra={"track_id": track_id})

    def follow(
        self, *, user_id: str = "", track_ids: Collection[str] = (), keep_going: Callable[[], bool]
    ) -> Iterator[verdict_pb2.Verdict]:
        """Verdicts as they are stored, filtered by user and track ids
        (:meth:`VerdictBroadcaster.follow`)."""
        return self._broadcaster.follow(user_id=user_id, track_ids=track_ids, keep_going=keep_going)

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        """The track's state (JUDGED or PENDING) and, when judged, its verdict;
        :class:`TrackNotFoundError` for a track never seen. One read: state and verdict come
        from the same item, so a verdict stored meanwhile can never make a pending track look
        unknown."""
        check_track_id(track_id)
        state, verdict = self._store.lookup(track_id)
        if state is TrackLookup.UNKNOWN:
            raise TrackNotFoundError(f"no track {track_id!r}")
        return state, verdict
