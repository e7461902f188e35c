"""ClassifyService: a thin translation between the wire and the verdict store / validator."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator

import grpc
from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2

from audioval_classify.store import StreamClosed, VerdictBroadcaster, VerdictStore

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
    """Serves stored verdicts; ValidateTrack judges bytes and stores the verdict."""

    def __init__(self, store: VerdictStore, broadcaster: VerdictBroadcaster) -> None:
        self._store = store
        self._broadcaster = broadcaster

    def GetVerdict(
        self, request: classify_pb2.GetVerdictRequest, context: grpc.ServicerContext
    ) -> classify_pb2.GetVerdictResponse:
        _check_track_id(request.track_id, context)
        verdict = self._store.get(request.track_id)
        if verdict is not None:
            return classify_pb2.GetVerdictResponse(
                state=classify_pb2.TRACK_STATE_JUDGED, verdict=verdict
            )
        if self._store.is_pending(request.track_id):
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
