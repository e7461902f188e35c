"""The validator on a pool of Ray actors, shared by ValidateTrack and the batch job.

Each actor (:class:`~audioval_classify.validator_actor.ValidatorActor`) loads the model once
and judges one track at a time. The pool keeps at most one call on each actor and a bounded
backlog in front of them: ``submit`` refuses work beyond ``max_in_flight`` (the caller sees
RESOURCE_EXHAUSTED) and ``submit_uri`` blocks until a slot frees (the batch job's
backpressure), so nothing queues without bound. Waiting calls go to free actors fairly between
the users who sent them (:mod:`audioval_classify.fair_backlog`): one user's album does not hold
up other users' tracks sent just after it.

Failure handling: actors restart after a crash (``max_restarts``); a call whose actor died or
hung past ``call_timeout_s`` (the watchdog kills it) is retried once, and a second failure
becomes a verdict with the ``validator.failed`` finding rather than an error or a hang.
Track bytes reach an actor on the pool's own node through a shared-memory buffer kept for that
actor (:mod:`audioval_classify.shm_transport`: one warm copy in, no object store round trip);
an actor elsewhere, or a track over ``SHARED_BUFFER_MAX``, gets them through the object store,
put once, so a retry does not ship them again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from audiomodel import Limits, Verdict, finding, load_default_model, verdict_from_findings
from audioval_classify.fair_backlog import FairBacklog
from audioval_classify.shm_transport import TrackBuffer, usable_buffers
from audioval_classify.validator_actor import ValidatorActor
from audioval_pipeline.settings import PipelineSettings

__all__ = ["SHARED_BUFFER_MAX", "OverloadedError", "ValidatorPool"]

log = logging.getLogger(__name__)

ATTEMPTS = 2  # the first call and one retry
# Tracks up to this size go through an actor's shared buffer. Larger ones (rare, not latency
# bound) take the object store, so a buffer never holds more than this for long.
SHARED_BUFFER_MAX = 64 * 1024 * 1024


class OverloadedError(RuntimeError):
    """Too many validations in flight."""


@dataclass
class _Call:
    result: Future[Verdict]
    content: bytes | bytearray | None = None  # a track to judge (else ``uri``)
    name: str = ""
    owner: str = ""  # whose track (the user): the backlog is shared fairly between owners
    uri: str = ""
    reference: Any = None  # the track in the object store, once put there
    attempts: int = 0
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)
    actor: int = -1
    deadline: float = 0.0


class ValidatorPool:
    """A fixed set of :class:`ValidatorActor` with bounded in-flight work.

    Parameters
    ----------
    size
        Number of actors (each holds one model and takes ``actor_cpus`` logical CPUs).
    limits
        The validator's limits, passed to every actor.
    max_in_flight
        Calls accepted at once (running plus waiting for a free actor).
    call_timeout_s
        A call running longer than this has its actor killed (and restarted) and is retried.
    storage
        AWS settings the actors use to read ``s3://`` URIs.
    share_memory
        Hand tracks to actors on this node through shared buffers (False: always the object
        store; the benchmark compares the two).
    fingerprint
        Actors return each track's landmarks on ``Verdict.fingerprint`` (from the same decode
        pass), for an index lookup.
    """

    def __init__(
        self,
        size: int,
        *,
        limits: Limits,
        max_in_flight: int = 32,
        call_timeout_s: float = 330.0,
        storage: PipelineSettings | None = None,
        actor_cpus: float = 1.0,
        max_restarts: int = 4,
        share_memory: bool = True,
        fingerprint: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one actor")
        # Handles are typed Any: Ray's stubs do not model remote method calls.
        actor_class: Any = ray.remote(ValidatorActor).options(
            num_cpus=actor_cpus,
            max_restarts=max_restarts,
            max_task_retries=0,  # the pool retries, so it can count attempts and give up
        )
        self._actors: list[Any] = [
            actor_class.remote(limits, storage, fingerprint) for _ in range(size)
        ]
        self.model_version = load_default_model().version
        self._max_in_flight = max_in_flight
        self._call_timeout_s = call_timeout_s
        self._lock = threading.Condition()
        self._busy: list[_Call | None] = [None] * size
        self._backlog: FairBacklog[_Call] = FairBacklog()
        self._in_flight = 0
        self._closed = False
        self.retries = 0  # calls sent again after their actor died or hung
        # Waits for every model to load, so the first request does not pay for it.
        self._buffers = usable_buffers(self._actors) if share_memory else [None] * size
        ray.get([actor.pid.remote() for actor in self._actors])
        self._watchdog = threading.Thread(target=self._watch, name="pool-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def size(self) -> int:
        return len(self._actors)

    @property
    def shared_actors(self) -> int:
        """How many actors take tracks through a shared buffer."""
        return sum(buffer is not None for buffer in self._buffers)

    def load(self) -> tuple[int, int, int]:
        """Tracks in flight (running or waiting), waiting for an actor, and busy actors."""
        with self._lock:
            busy = sum(call is not None for call in self._busy)
            return self._in_flight, len(self._backlog), busy

    def actor_pids(self, timeout_s: float = 10.0) -> list[int | None]:
        """The process id of each actor as it is now (a restarted actor has a new one).

        An actor that cannot answer — Ray is restarting it (``ActorUnavailableError``), it is
        dead for good, or it does not reply within ``timeout_s`` — is reported as None, not
        waited for: a caller that needs every actor up polls until no entry is None.
        """
        calls = [actor.pid.remote() for actor in self._actors]
        deadline = time.monotonic() + timeout_s
        pids: list[int | None] = []
        for call in calls:
            try:
                pids.append(int(ray.get(call, timeout=max(0.0, deadline - time.monotonic()))))
            except (RayActorError, GetTimeoutError):  # ActorUnavailableError is a RayActorError
                pids.append(None)
        return pids

    def submit(
        self, content: bytes | bytearray, name: str = "", owner: str = ""
    ) -> Future[Verdict]:
        """Judge ``content``; raises :class:`OverloadedError` when ``max_in_flight`` are running.

        ``owner`` (the track's user) shares the waiting calls fairly between users
        (:class:`~audioval_classify.fair_backlog.FairBacklog`); "" for none.
        """
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                raise OverloadedError(f"{self._in_flight} tracks in flight")
            self._in_flight += 1
        return self._enqueue(_Call(Future(), content=content, name=name, owner=owner))

    def submit_uri(self, uri: str, timeout: float | None = None) -> Future[Verdict]:
        """Judge the object or file at ``uri``, waiting for a free slot (backpressure)."""
        with self._lock:
            if not self._lock.wait_for(
                lambda: self._closed or self._in_flight < self._max_in_flight, timeout
            ):
                raise OverloadedError(f"{self._in_flight} tracks in flight")
            self._in_flight += 1
        return self._enqueue(_Call(Future(), uri=uri))

    def _enqueue(self, call: _Call) -> Future[Verdict]:
        with self._lock:
            if self._closed:
                self._in_flight -= 1
                call.result.set_exception(RuntimeError("the validator pool is closed"))
                return call.result
            self._backlog.append(call, call.owner)
            assigned = self._assign_locked()
        self._launch(assigned)
        return call.result

    def _assign_locked(self) -> list[tuple[_Call, int]]:
        """Give waiting calls to free actors; the caller launches them after the lock."""
        assigned = []
        while self._backlog and None in self._busy:
            call = self._backlog.pop(c.owner for c in self._busy if c is not None)
            # A retry goes to another actor when one is free: the failed one may be restarting.
            free = [i for i, busy in enumerate(self._busy) if busy is None]
            index = next((i for i in free if i != call.actor), free[0])
            call.actor = index
            call.attempts += 1
            call.deadline = time.monotonic() + self._call_timeout_s
            self._busy[index] = call
            assigned.append((call, index))
        return assigned

    def _launch(self, assigned: list[tuple[_Call, int]]) -> None:
        # Outside the lock: copying a track into a buffer must not hold up other callers. The
        # actor's slot is marked busy, so nobody else writes its buffer meanwhile.
        for call, index in assigned:
            try:
                reference = self._send(call, index)
            except Exception as err:  # e.g. the object store is full: counts as a failed attempt
                reference = Future()
                reference.set_exception(err)
                self._finished(call, index, reference)
                continue
            reference.future().add_done_callback(
                lambda done, call=call, index=index: self._finished(call, index, done)
            )

    def _send(self, call: _Call, index: int) -> Any:
        actor = self._actors[index]
        if call.content is None:
            return actor.validate_uri.remote(call.uri)
        buffer = self._buffers[index]
        if buffer is not None and len(call.content) <= SHARED_BUFFER_MAX:
            buffer.write(call.content)
            return actor.validate_shared.remote(buffer.shared, len(call.content), call.name)
        if call.reference is None:
            # Into the object store once; a retry reuses the reference. As a uint8 array, not
            # bytes: Ray stores an array out of band (one copy in, a zero-copy view in the
            # actor) but pickles bytes in band (copied again on each side).
            call.reference = ray.put(np.frombuffer(call.content, dtype=np.uint8))
        return actor.validate.remote(call.reference, call.name)

    def _finished(self, call: _Call, index: int, done: Future[Verdict | None]) -> None:
        outcome: Verdict | None = None
        retry = unshared = False
        try:
            outcome = done.result()
            # None: the actor could not see its shared buffer (restarted on another node?).
            unshared = outcome is None
        except RayTaskError as err:
            # The validator itself raised: deterministic, so a retry would fail the same way.
            log.error("validator raised", extra={"error": str(err).splitlines()[0]})
            call.errors.append(type(err.cause).__name__ if err.cause else "RayTaskError")
            outcome = self._failed(call)
        except Exception as err:
            # The actor died or was killed past its timeout (RayActorError), or the object
            # store or an RPC failed: the input may be fine, so it gets one more attempt.
            call.errors.append(type(err).__name__)
            retry = call.attempts < ATTEMPTS
            if not retry:
                outcome = self._failed(call)
            log.warning(
                "validator actor failed",
                extra={"attempt": call.attempts, "retry": retry, "error": type(err).__name__},
            )
        unused: TrackBuffer | None = None
        with self._lock:
            if self._busy[index] is call:
                self._busy[index] = None
            if unshared:
                log.warning("an actor lost sight of its shared buffer", extra={"actor": index})
                unused, self._buffers[index] = self._buffers[index], None
                call.attempts -= 1  # not the track's fault: send it again through the store
            if (retry or unshared) and not self._closed:
                if retry:
                    self.retries += 1
                self._backlog.appendleft(call, call.owner)
            else:
                self._in_flight -= 1
                self._lock.notify_all()
            assigned = self._assign_locked()
        if unused is not None:
            unused.close()
        self._launch(assigned)
        if outcome is not None:
            call.result.set_result(outcome)
        elif (retry or unshared) and self._closed:
            call.result.set_exception(RuntimeError("the validator pool is closed"))

    def _failed(self, call: _Call) -> Verdict:
        why = "hung past its time limit" if call.timed_out else "died"
        problem = finding(
            "validator.failed",
            f"The validator {why} on this input {call.attempts} times ({', '.join(call.errors)}).",
            attempts=call.attempts,
            errors=",".join(call.errors),
            timed_out=call.timed_out,
        )
        return verdict_from_findings([problem], self.model_version, call.content)

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                overdue = [
                    (i, c) for i, c in enumerate(self._busy) if c is not None and now > c.deadline
                ]
                for _, call in overdue:
                    call.timed_out = True
                    call.deadline = float("inf")  # kill once; the retry gets a fresh deadline
            for index, _ in overdue:
                log.warning(
                    "killing a validator actor past its call timeout", extra={"actor": index}
                )
                # no_restart=False: Ray restarts it; the call fails with RayActorError and retries.
                ray.kill(self._actors[index], no_restart=False)
            time.sleep(0.25)

    def close(self) -> None:
        """Stop taking work and end the actors (calls still waiting fail)."""
        with self._lock:
            self._closed = True
            waiting = list(self._backlog)
            self._backlog.clear()
            self._in_flight -= len(waiting)
            self._lock.notify_all()
        for call in waiting:
            call.result.set_exception(RuntimeError("the validator pool is closed"))
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        for buffer in self._buffers:
            if buffer is not None:
                buffer.close()
