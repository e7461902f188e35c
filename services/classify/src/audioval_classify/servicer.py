"""ClassifyService: a thin translation between the wire and the verdict store / validator."""

from __future__ import annotations

import hashlib
import logging
import queue
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout

import grpc

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.actor_pool import OverloadedError, ValidatorPool
from audioval_classify.store import StreamClosed, VerdictBroadcaster, VerdictStore
from audioval_classify.verdict_message import to_proto
from audioval_pipeline.verdict_table import TrackLookup

log = logging.getLogger(__name__)

MAX_TRACK_ID_LENGTH = 128


def _check_track_id(track_id: str, context: grpc.ServicerContext) -> None:
    if not track_id:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "track_id is required")
    if len(track_id) > MAX_TRACK_ID_LENGTH:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"track_id longer than {MAX_TRACK_ID_LENGTH}"
        )


class ClassifyServicer(classify_pb2_grpc.ClassifyServiceServicer):
    """Serves stored verdicts; ValidateTrack(Stream) judges bytes and stores the verdict."""

    def __init__(
        self,
        store: VerdictStore,
        broadcaster: VerdictBroadcaster,
        pool: ValidatorPool | None = None,
        *,
        max_track_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self._store = store
        self._broadcaster = broadcaster
        self._pool = pool
        self._max_track_bytes = max_track_bytes

    def ValidateTrack(
        self, request: classify_pb2.ValidateTrackRequest, context: grpc.ServicerContext
    ) -> classify_pb2.ValidateTrackResponse:
        header = classify_pb2.TrackHeader(
            track_id=request.track_id,
            user_id=request.user_id,
            track_name=request.track_name,
            sha256=request.sha256,
        )
        return classify_pb2.ValidateTrackResponse(
            verdict=self._judge(header, request.content, context)
        )

    def ValidateTrackStream(
        self,
        request_iterator: Iterator[classify_pb2.ValidateTrackStreamRequest],
        context: grpc.ServicerContext,
    ) -> classify_pb2.ValidateTrackStreamResponse:
        if self._pool is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this replica does not validate")
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the header")
        header = first.header
        if header.size_bytes > self._max_track_bytes:
            context.abort(
                grpc.StatusCode.OUT_OF_RANGE,
                f"track of {header.size_bytes} bytes; the limit is {self._max_track_bytes}",
            )
        content = bytearray()
        for message in request_iterator:
            if message.WhichOneof("part") != "chunk":
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "only the first message is a header"
                )
            content += message.chunk
            # Checked as bytes arrive, so an endless stream never grows memory past the limit.
            if len(content) > self._max_track_bytes:
                context.abort(
                    grpc.StatusCode.OUT_OF_RANGE,
                    f"track longer than the limit of {self._max_track_bytes} bytes",
                )
            if header.size_bytes and len(content) > header.size_bytes:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"more than the {header.size_bytes} bytes the header announced",
                )
        if header.size_bytes and len(content) != header.size_bytes:
            context.abort(
                grpc.StatusCode.DATA_LOSS,
                f"{len(content)} bytes arrived; the header announced {header.size_bytes}",
            )
        return classify_pb2.ValidateTrackStreamResponse(
            verdict=self._judge(header, content, context)
        )

    def _judge(
        self,
        header: classify_pb2.TrackHeader,
        content: bytes | bytearray,
        context: grpc.ServicerContext,
    ) -> verdict_pb2.Verdict:
        """The stored verdict on ``content``: judged on the pool and stored once per track id."""
        if self._pool is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this replica does not validate")
            raise AssertionError("unreachable")
        digest = hashlib.sha256(content).hexdigest()
        if header.sha256 and header.sha256.lower() != digest:
            context.abort(
                grpc.StatusCode.DATA_LOSS, f"content hashes to {digest}, not {header.sha256}"
            )
        track_id = header.track_id or f"sha_{digest[:32]}"
        _check_track_id(track_id, context)
        stored = self._store.get(track_id)
        if stored is not None:  # idempotent: a track is judged once
            return stored
        try:
            future = self._pool.submit(content, header.track_name)
        except OverloadedError:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "too many tracks in flight; retry later"
            )
        try:
            verdict = future.result(timeout=context.time_remaining())
        except FutureTimeout:
            future.cancel()
            context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, "validation did not finish before the deadline"
            )
        message = to_proto(verdict, track_id=track_id, user_id=header.user_id)
        stored, new = self._store.put_if_absent(message)
        if new:
            self._broadcaster.publish(stored)
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

    def GetVerdict(
        self, request: classify_pb2.GetVerdictRequest, context: grpc.ServicerContext
    ) -> classify_pb2.GetVerdictResponse:
        _check_track_id(request.track_id, context)
        # One read: state and verdict come from the same item, so a verdict stored meanwhile
        # can never make a pending track look unknown.
        state, verdict = self._store.lookup(request.track_id)
        if state is TrackLookup.JUDGED:
            return classify_pb2.GetVerdictResponse(
                state=classify_pb2.TRACK_STATE_JUDGED, verdict=verdict
            )
        if state is TrackLookup.PENDING:
            return classify_pb2.GetVerdictResponse(state=classify_pb2.TRACK_STATE_PENDING)
        context.abort(grpc.StatusCode.NOT_FOUND, f"no track {request.track_id!r}")
        raise AssertionError("unreachable: abort raises")

    def WatchVerdicts(
        self, request: classify_pb2.WatchVerdictsRequest, context: grpc.ServicerContext
    ) -> Iterator[classify_pb2.WatchVerdictsResponse]:
        wanted_tracks = set(request.track_ids)
        with self._broadcaster.subscribe() as inbox:
            while context.is_active():
                try:
                    item = inbox.get(timeout=0.5)
                except queue.Empty:
                    continue
                if isinstance(item, StreamClosed):
                    if item.slow:
                        context.abort(
                            grpc.StatusCode.RESOURCE_EXHAUSTED, "watcher fell too far behind"
                        )
                    context.abort(grpc.StatusCode.UNAVAILABLE, "server is stopping")
                if not _matches(item, request.user_id, wanted_tracks):
                    continue
                yield classify_pb2.WatchVerdictsResponse(verdict=item)


def _matches(verdict: verdict_pb2.Verdict, user_id: str, track_ids: set[str]) -> bool:
    if user_id and verdict.user_id != user_id:
        return False
    return not track_ids or verdict.track_id in track_ids
