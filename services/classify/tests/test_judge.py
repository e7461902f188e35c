"""TrackJudge without gRPC or Ray: ids, idempotency, the pool's refusals, the deadline."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from typing import Any

import pytest

from audiomodel.validator import validate_bytes
from audiomodel.verdict import Verdict
from audioval.v1 import verdict_pb2
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
from audioval_classify.pool import OverloadedError
from audioval_classify.store import InMemoryVerdictStore, VerdictBroadcaster
from audioval_pipeline.verdict_table import TrackLookup

CONTENT = b"#!/bin/sh\necho not a song\n" * 50


class FakePool:
    """Answers with the library's verdict, or refuses / never answers when told to."""

    def __init__(self, *, overloaded: bool = False, hang: bool = False) -> None:
        self.overloaded = overloaded
        self.hang = hang
        self.calls: list[str] = []
        self.pending: list[Future[Verdict]] = []

    def submit(
        self, content: bytes | bytearray, name: str = "", owner: str = ""
    ) -> Future[Verdict]:
        if self.overloaded:
            raise OverloadedError("2 tracks in flight")
        self.calls.append(name)
        future: Future[Verdict] = Future()
        if self.hang:
            self.pending.append(future)
        else:
            future.set_result(validate_bytes(bytes(content), name=name))
        return future


def _judge(pool: Any = None, **kwargs: Any) -> tuple[TrackJudge, InMemoryVerdictStore]:
    store = InMemoryVerdictStore()
    return TrackJudge(store, VerdictBroadcaster(queue_size=4), pool, **kwargs), store


def _no_deadline() -> float | None:
    return None


def test_a_track_is_judged_once_and_stored_under_its_id() -> None:
    pool = FakePool()
    judge, store = _judge(pool)
    track = TrackToJudge(track_id="t1", user_id="u1", track_name="a.wav")
    first = judge.judge(track, CONTENT, time_left=_no_deadline)
    again = judge.judge(track, CONTENT + b"other bytes", time_left=_no_deadline)
    assert first.track_id == "t1" and first.user_id == "u1"
    assert first.decision == verdict_pb2.DECISION_REJECT
    assert again == first and pool.calls == ["a.wav"]  # the second call read the store
    assert judge.lookup("t1") == (TrackLookup.JUDGED, first)
    assert store.get("t1") == first


def test_without_an_id_the_track_is_named_by_its_hash() -> None:
    judge, _ = _judge(FakePool())
    digest = hashlib.sha256(CONTENT).hexdigest()
    verdict = judge.judge(TrackToJudge(sha256=digest.upper()), CONTENT, time_left=_no_deadline)
    assert verdict.track_id == f"sha_{digest[:32]}"


def test_bytes_that_do_not_match_their_hash_are_refused() -> None:
    judge, store = _judge(FakePool())
    with pytest.raises(TrackCorruptedError, match="content hashes to"):
        judge.judge(TrackToJudge(track_id="t1", sha256="0" * 64), CONTENT, time_left=_no_deadline)
    assert store.get("t1") is None


def test_a_missing_or_over_long_track_id_is_invalid() -> None:
    judge, _ = _judge(FakePool())
    with pytest.raises(InvalidTrackError, match="longer than 128"):
        judge.judge(TrackToJudge(track_id="x" * 129), CONTENT, time_left=_no_deadline)
    with pytest.raises(InvalidTrackError, match="required"):
        judge.lookup("")


def test_a_full_pool_and_a_missed_deadline_are_domain_errors() -> None:
    track = TrackToJudge(track_id="t1")
    with pytest.raises(PoolOverloadedError, match="retry later"):
        _judge(FakePool(overloaded=True))[0].judge(track, CONTENT, time_left=_no_deadline)
    pool = FakePool(hang=True)
    judge, store = _judge(pool)
    with pytest.raises(DeadlineExceededError):
        judge.judge(track, CONTENT, time_left=lambda: 0.05)
    assert pool.pending[0].cancelled() and store.get("t1") is None


def test_a_replica_without_a_pool_does_not_validate_but_answers_lookups() -> None:
    judge, store = _judge(None)
    with pytest.raises(NotValidatingError):
        judge.judge(TrackToJudge(track_id="t1"), CONTENT, time_left=_no_deadline)
    store.mark_pending("t2", "u")
    assert judge.lookup("t2") == (TrackLookup.PENDING, None)
    with pytest.raises(TrackNotFoundError, match="no track 't3'"):
        judge.lookup("t3")


def test_a_streamed_track_is_held_to_its_limit_and_its_declared_size() -> None:
    judge, _ = _judge(FakePool(), max_track_bytes=10)
    with pytest.raises(TrackTooLargeError, match="11 bytes; the limit is 10"):
        judge.receive(11)
    endless = judge.receive(0)
    endless.add(b"12345")
    with pytest.raises(TrackTooLargeError, match="limit of 10"):
        endless.add(b"678901")
    announced = judge.receive(4)
    with pytest.raises(InvalidTrackError, match="more than the 4 bytes"):
        announced.add(b"12345")
    short = judge.receive(4)
    short.add(b"12")
    with pytest.raises(TrackCorruptedError, match="2 bytes arrived; the header announced 4"):
        short.finish()
    exact = judge.receive(4)
    exact.add(b"1234")
    assert exact.finish() == b"1234"
