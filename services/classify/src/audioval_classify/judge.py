"""Run the audiomodel validator off the gRPC threads: a process pool with bounded in-flight work.

Each worker process loads the model once. Requests beyond ``max_in_flight`` are refused at
once (the caller sees RESOURCE_EXHAUSTED and retries later) rather than queued without bound.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime

from google.protobuf import struct_pb2, timestamp_pb2

from audiomodel.model import TreeEnsembleModel, load_default_model
from audiomodel.validator import Limits, validate_bytes
from audiomodel.verdict import Verdict
from audioval.v1 import verdict_pb2

_model: TreeEnsembleModel | None = None
_limits: Limits | None = None


class OverloadedError(RuntimeError):
    """Too many validations in flight."""


def _init(limits: Limits) -> None:
    global _model, _limits
    _model = load_default_model()
    _limits = limits


def _validate(content: bytes, name: str) -> Verdict:
    return validate_bytes(content, name=name or None, model=_model, limits=_limits)


class Judge:
    """Validates track bytes in worker processes."""

    def __init__(self, workers: int, max_in_flight: int, limits: Limits) -> None:
        # forkserver, not fork: forking a process that runs gRPC's threads can leave the child
        # with locks held (seen here as BrokenProcessPool); the fork server has no such threads.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["audiomodel.validator"])
        self._pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init, initargs=(limits,)
        )
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self.model_version = load_default_model().version

    def submit(self, content: bytes, name: str) -> Future[Verdict]:
        if not self._slots.acquire(blocking=False):
            raise OverloadedError("too many tracks in flight")
        future = self._pool.submit(_validate, content, name)
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_DECISIONS = {
    "accept": verdict_pb2.DECISION_ACCEPT,
    "review": verdict_pb2.DECISION_REVIEW,
    "reject": verdict_pb2.DECISION_REJECT,
}
_LABELS = {"real": verdict_pb2.LABEL_REAL, "mock": verdict_pb2.LABEL_MOCK}


def to_proto(verdict: Verdict, *, track_id: str, user_id: str) -> verdict_pb2.Verdict:
    """The library's verdict as the API message."""
    judged_at = timestamp_pb2.Timestamp()
    judged_at.FromDatetime(datetime.now(UTC))
    message = verdict_pb2.Verdict(
        track_id=track_id,
        decision=_DECISIONS[verdict.decision.value],
        label=_LABELS[verdict.label.value],
        score=verdict.score,
        model_version=verdict.model_version,
        user_id=user_id,
        sha256=verdict.sha256,
        size_bytes=verdict.size_bytes,
        format=verdict.format,
        timings_ms=dict(verdict.timings_ms),
        judged_at=judged_at,
    )
    for item in verdict.findings:
        evidence = struct_pb2.Struct()
        evidence.update(dict(item.evidence))
        message.findings.add(
            code=item.code, message=item.message, severity=int(item.severity), evidence=evidence
        )
    return message
