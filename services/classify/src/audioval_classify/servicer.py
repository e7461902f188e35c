"""ClassifyService and IndexService: thin translations between the wire and the domain
(:class:`~audioval_classify.judge.TrackJudge`, :class:`~audioval_classify.references.ReferenceDesk`).

The servicer checks the request's shape (a header first, then chunks) and turns messages into
the judge's terms and back. Every refusal is a domain error, and ``_STATUS`` below is the one
place that says which status code each becomes (applied by
:func:`audioval_servicekit.status_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc

from audioval.v1 import classify_pb2, classify_pb2_grpc, index_pb2, index_pb2_grpc
from audioval_classify.judge import (
    DeadlineExceededError,
    InvalidTrackError,
    NotValidatingError,
    PoolOverloadedError,
    TrackCorruptedError,
    TrackJudge,
    TrackNotFoundError,
    TrackToJudge,
    TrackTooLargeError,
)
from audioval_classify.references import (
    IndexUnavailableError,
    Recording,
    ReferenceDesk,
    ReferenceNotFoundError,
)
from audioval_classify.store import ServerStoppingError, WatcherTooSlowError
from audioval_index import Match, Reference
from audioval_pipeline.verdict_table import TrackLookup
from audioval_servicekit import StatusTable, note, status_errors

__all__ = ["ClassifyServicer", "IndexServicer"]

log = logging.getLogger(__name__)

# Domain error -> status code, most specific first. Anything else is a bug and surfaces as
# UNKNOWN through gRPC's own handling (with its traceback in the log).
_STATUS: StatusTable = (
    (InvalidTrackError, grpc.StatusCode.INVALID_ARGUMENT),
    (TrackNotFoundError, grpc.StatusCode.NOT_FOUND),
    (ReferenceNotFoundError, grpc.StatusCode.NOT_FOUND),
    (IndexUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
    (TrackTooLargeError, grpc.StatusCode.OUT_OF_RANGE),
    (TrackCorruptedError, grpc.StatusCode.DATA_LOSS),
    (PoolOverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (NotValidatingError, grpc.StatusCode.UNIMPLEMENTED),
    (WatcherTooSlowError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ServerStoppingError, grpc.StatusCode.UNAVAILABLE),
)
_refusing = status_errors(_STATUS, logger=log)


def _track(header: classify_pb2.TrackHeader) -> TrackToJudge:
    return TrackToJudge(
        track_id=header.track_id,
        user_id=header.user_id,
        track_name=header.track_name,
        sha256=header.sha256,
    )


class ClassifyServicer(classify_pb2_grpc.ClassifyServiceServicer):
    """Serves stored verdicts; ValidateTrack(Stream) has the :class:`TrackJudge` judge and
    store them (a judge without a pool: a replica that only serves verdicts)."""

    def __init__(self, judge: TrackJudge) -> None:
        self._judge = judge

    @_refusing
    def ValidateTrack(
        self, request: classify_pb2.ValidateTrackRequest, context: grpc.ServicerContext
    ) -> classify_pb2.ValidateTrackResponse:
        note(track_id=request.track_id or None)
        track = TrackToJudge(
            track_id=request.track_id,
            user_id=request.user_id,
            track_name=request.track_name,
            sha256=request.sha256,
        )
        verdict = self._judge.judge(track, request.content, time_left=context.time_remaining)
        return classify_pb2.ValidateTrackResponse(verdict=verdict)

    @_refusing
    def ValidateTrackStream(
        self,
        request_iterator: Iterator[classify_pb2.ValidateTrackStreamRequest],
        context: grpc.ServicerContext,
    ) -> classify_pb2.ValidateTrackStreamResponse:
        self._judge.ensure_validating()
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidTrackError("the first message must be the header")
        header = first.header
        note(track_id=header.track_id or None)
        assembly = self._judge.receive(header.size_bytes)
        for message in request_iterator:
            if message.WhichOneof("part") != "chunk":
                raise InvalidTrackError("only the first message is a header")
            assembly.add(message.chunk)
        verdict = self._judge.judge(
            _track(header), assembly.finish(), time_left=context.time_remaining
        )
        return classify_pb2.ValidateTrackStreamResponse(verdict=verdict)

    @_refusing
    def GetVerdict(
        self, request: classify_pb2.GetVerdictRequest, context: grpc.ServicerContext
    ) -> classify_pb2.GetVerdictResponse:
        note(track_id=request.track_id or None)
        state, verdict = self._judge.lookup(request.track_id)
        if state is TrackLookup.JUDGED:
            return classify_pb2.GetVerdictResponse(
                state=classify_pb2.TRACK_STATE_JUDGED, verdict=verdict
            )
        return classify_pb2.GetVerdictResponse(state=classify_pb2.TRACK_STATE_PENDING)

    @_refusing
    def WatchVerdicts(
        self, request: classify_pb2.WatchVerdictsRequest, context: grpc.ServicerContext
    ) -> Iterator[classify_pb2.WatchVerdictsResponse]:
        verdicts = self._judge.follow(
            user_id=request.user_id, track_ids=request.track_ids, keep_going=context.is_active
        )
        for verdict in verdicts:
            yield classify_pb2.WatchVerdictsResponse(verdict=verdict)


_LISTS = {
    "known-bad": index_pb2.REFERENCE_LIST_KNOWN_BAD,
    "catalogue": index_pb2.REFERENCE_LIST_CATALOGUE,
}
_LIST_NAMES = {value: name for name, value in _LISTS.items()}


def _reference(reference: Reference) -> index_pb2.Reference:
    return index_pb2.Reference(
        ref=reference.ref,
        list=_LISTS.get(reference.list, index_pb2.REFERENCE_LIST_UNSPECIFIED),
        track_id=reference.track_id or "",
        name=reference.path or "",
        duration_s=reference.duration_s,
        hashes=reference.hashes,
    )


def _match(match: Match, reference: Reference) -> index_pb2.ReferenceMatch:
    return index_pb2.ReferenceMatch(
        reference=_reference(reference),
        score=match.score,
        query_start_s=match.query_start_s,
        ref_start_s=match.ref_start_s,
        matched_s=match.matched_s,
        scale=match.scale,
    )


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    """Adds, removes and matches fingerprint references through a :class:`ReferenceDesk`."""

    def __init__(self, desk: ReferenceDesk) -> None:
        self._desk = desk

    @_refusing
    def AddReference(
        self, request: index_pb2.AddReferenceRequest, context: grpc.ServicerContext
    ) -> index_pb2.AddReferenceResponse:
        note(track_id=request.track_id or None)
        recording = Recording(request.content, request.track_id, request.name)
        list_name = _LIST_NAMES.get(request.list)
        if list_name is None:
            raise InvalidTrackError("list is required (known-bad or catalogue)")
        reference, superseded = self._desk.add(
            recording, list_name, time_left=context.time_remaining
        )
        return index_pb2.AddReferenceResponse(
            reference=_reference(reference),
            superseded_track_ids=[s.track_id for s in superseded],
        )

    @_refusing
    def RemoveReference(
        self, request: index_pb2.RemoveReferenceRequest, context: grpc.ServicerContext
    ) -> index_pb2.RemoveReferenceResponse:
        reference = self._desk.remove(request.ref)
        return index_pb2.RemoveReferenceResponse(reference=_reference(reference))

    @_refusing
    def MatchTrack(
        self, request: index_pb2.MatchTrackRequest, context: grpc.ServicerContext
    ) -> index_pb2.MatchTrackResponse:
        note(track_id=request.track_id or None)
        recording = Recording(request.content, request.track_id)
        matches = self._desk.match(recording, limit=request.limit, time_left=context.time_remaining)
        return index_pb2.MatchTrackResponse(
            matches=[_match(match, reference) for match, reference in matches]
        )
