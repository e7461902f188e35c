"""The validator on a pool of Ray actors, shared by ValidateTrack and the batch job.

Each actor loads the model once and judges one track at a time. The pool keeps at most one
call on each actor and a bounded backlog in front of them: ``submit`` refuses work beyond
``max_in_flight`` (the caller sees RESOURCE_EXHAUSTED) and ``submit_uri`` blocks until a slot
frees (the batch job's backpressure), so nothing queues without bound.

Failure handling: actors restart after a crash (``max_restarts``); a call whose actor died or
hung past ``call_timeout_s`` (the watchdog kills it) is retried once, and a second failure
becomes a verdict with the ``validator.failed`` finding rather than an error or a hang.
Track bytes go to the actor through the object store once, so a retry does not ship them again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import ray
from ray.exceptions import RayTaskError

from audiomodel.findings import finding
from audiomodel.model import TreeEnsembleModel, load_default_model
from audiomodel.validator import Limits, validate_path, validate_stream
from audiomodel.verdict import Thresholds, Verdict, decide
from audioval_servicekit import PipelineSettings, aws_client

__all__ = [
    "OverloadedError",
    "ValidatorActor",
    "ValidatorPool",
    "connect_ray",
    "pool_size_default",
]

log = logging.getLogger(__name__)

ATTEMPTS = 2  # the first call and one retry


class OverloadedError(RuntimeError):
    """Too many validations in flight."""


def connect_ray(address: str | None, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` (None: start a private one in this process).

    Ray's own environment decides authentication: ``RAY_AUTH_MODE=token`` with the token in
    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``.
    """
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"namespace": "audioval", "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            **options,
        )


def _read_s3_object(s3: Any, uri: str) -> bytes:
    """The bytes of ``s3://bucket/key``."""
    parsed = urlparse(uri)
    body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
    try:
        return bytes(body.read())
    finally:
        body.close()


class ValidatorActor:
    """One validator process: the model loaded once, one track judged at a time."""

    def __init__(self, limits: Limits, storage: PipelineSettings | None = None) -> None:
        self._model: TreeEnsembleModel = load_default_model()
        self._limits = limits
        self._storage = storage
        self._s3: Any = None

    def pid(self) -> int:
        """The actor's process id (tests kill it to check recovery)."""
        return os.getpid()

    def validate(self, content: bytes, name: str) -> Verdict:
        """Judge track bytes (from the object store; BytesIO shares them, no copy)."""
        started = time.perf_counter()
        verdict = validate_stream(
            io.BytesIO(content), name=name or None, model=self._model, limits=self._limits
        )
        return _with_actor_time(verdict, started)

    def validate_uri(self, uri: str) -> Verdict:
        """Fetch and judge one object or file; an unreadable one still gets a verdict."""
        started = time.perf_counter()
        if urlparse(uri).scheme != "s3":
            return _with_actor_time(
                validate_path(Path(uri), model=self._model, limits=self._limits), started
            )
        if self._s3 is None:
            self._s3 = aws_client("s3", self._storage or PipelineSettings())
        try:
            content = _read_s3_object(self._s3, uri)
        except Exception as err:  # every storage error becomes a finding, never a crash
            return _verdict_for(
                finding(
                    "input.unreadable",
                    f"The object could not be read: {err}.",
                    error=type(err).__name__,
                ),
                self._model.version,
            )
        fetched = time.perf_counter()
        verdict = validate_stream(
            io.BytesIO(content),
            name=uri.rsplit("/", 1)[-1],
            model=self._model,
            limits=self._limits,
        )
        verdict = replace(
            verdict, timings_ms={**verdict.timings_ms, "fetch": (fetched - started) * 1e3}
        )
        return _with_actor_time(verdict, started)


def _with_actor_time(verdict: Verdict, started: float) -> Verdict:
    """The verdict with ``timings_ms["actor"]``: the actor's whole call (what the pool adds to
    a request is its wall time minus this)."""
    actor_ms = (time.perf_counter() - started) * 1e3
    return replace(verdict, timings_ms={**verdict.timings_ms, "actor": actor_ms})


def _verdict_for(
    problem: Any, model_version: str, content: bytes | bytearray | None = None
) -> Verdict:
    decision, label, score = decide([problem], None, Thresholds())
    return Verdict(
        decision=decision,
        label=label,
        score=score,
        findings=(problem,),
        model_version=model_version,
        format="unknown",
        size_bytes=len(content) if content is not None else 0,
        sha256=hashlib.sha256(content).hexdigest() if content is not None else "",
    )


@dataclass
class _Call:
    method: str
    args: tuple[Any, ...]
    result: Future[Verdict]
    content: bytes | bytearray | None = None  # for the failure verdict's size and hash
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
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one actor")
        # Handles are typed Any: Ray's stubs do not model remote method calls.
        actor_class: Any = ray.remote(ValidatorActor).options(
            num_cpus=actor_cpus,
            max_restarts=max_restarts,
            max_task_retries=0,  # the pool retries, so it can count attempts and give up
        )
        self._actors: list[Any] = [actor_class.remote(limits, storage) for _ in range(size)]
        self.model_version = load_default_model().version
        self._max_in_flight = max_in_flight
        self._call_timeout_s = call_timeout_s
        self._lock = threading.Condition()
        self._busy: list[_Call | None] = [None] * size
        self._backlog: deque[_Call] = deque()
        self._in_flight = 0
        self._closed = False
        self.retries = 0  # calls sent again after their actor died or hung
        # Wait for every model to load: the first request should not pay for it.
        ray.get([actor.pid.remote() for actor in self._actors])
        self._watchdog = threading.Thread(target=self._watch, name="pool-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def size(self) -> int:
        return len(self._actors)

    def actor_pids(self) -> list[int]:
        """The process ids of the actors (as they are now; a restarted actor has a new one)."""
        return [int(pid) for pid in ray.get([a.pid.remote() for a in self._actors])]

    def submit(self, content: bytes | bytearray, name: str = "") -> Future[Verdict]:
        """Judge ``content``; raises :class:`OverloadedError` when ``max_in_flight`` are running."""
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                raise OverloadedError(f"{self._in_flight} tracks in flight")
            self._in_flight += 1
        # Into the object store once; every attempt reuses the reference. As bytes: measured
        # cheaper end to end than a zero-copy numpy view, which BytesIO would copy anyway.
        reference = ray.put(content if isinstance(content, bytes) else bytes(content))
        return self._enqueue(_Call("validate", (reference, name), Future(), content=content))

    def submit_uri(self, uri: str, timeout: float | None = None) -> Future[Verdict]:
        """Judge the object or file at ``uri``, waiting for a free slot (backpressure)."""
        with self._lock:
            if not self._lock.wait_for(
                lambda: self._closed or self._in_flight < self._max_in_flight, timeout
            ):
                raise OverloadedError(f"{self._in_flight} tracks in flight")
            self._in_flight += 1
        return self._enqueue(_Call("validate_uri", (uri,), Future()))

    def _enqueue(self, call: _Call) -> Future[Verdict]:
        with self._lock:
            if self._closed:
                self._in_flight -= 1
                call.result.set_exception(RuntimeError("the validator pool is closed"))
                return call.result
            self._backlog.append(call)
            self._dispatch_locked()
        return call.result

    def _dispatch_locked(self) -> None:
        while self._backlog and None in self._busy:
            call = self._backlog.popleft()
            # A retry goes to another actor when one is free: the failed one may be restarting.
            free = [i for i, busy in enumerate(self._busy) if busy is None]
            index = next((i for i in free if i != call.actor), free[0])
            call.actor = index
            call.attempts += 1
            call.deadline = time.monotonic() + self._call_timeout_s
            self._busy[index] = call
            method = getattr(self._actors[index], call.method)
            reference = method.remote(*call.args)
            reference.future().add_done_callback(
                lambda done, call=call, index=index: self._finished(call, index, done)
            )

    def _finished(self, call: _Call, index: int, done: Future[Verdict]) -> None:
        outcome: Verdict | None = None
        retry = False
        try:
            outcome = done.result()
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
        with self._lock:
            if self._busy[index] is call:
                self._busy[index] = None
            if retry and not self._closed:
                self.retries += 1
                self._backlog.appendleft(call)
            else:
                self._in_flight -= 1
                self._lock.notify_all()
            self._dispatch_locked()
        if outcome is not None:
            call.result.set_result(outcome)
        elif retry and self._closed:
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
        return _verdict_for(problem, self.model_version, call.content)

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


def pool_size_default(*, free_only: bool = False) -> int:
    """The CPUs the connected Ray cluster advertises (``free_only``: not yet taken); at least 1."""
    read = ray.available_resources if free_only else ray.cluster_resources
    resources = read()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))
