"""Domain errors to gRPC status codes: the one place a servicer says which error means what.

A servicer module writes its table once, most specific type first, and decorates its RPC
methods with :func:`status_errors`::

    _STATUS = ((TrackNotFoundError, grpc.StatusCode.NOT_FOUND), ...)
    _refusing = status_errors(_STATUS, logger=log)

    class Servicer(...):
        @_refusing
        def GetThing(self, request, context): ...

The decorator works on unary and client-streaming handlers (a return value) and on
server-streaming ones (a generator). A mapped error aborts the call with its code and the
error's message, and is logged on one line without a traceback: at WARNING when the client
caused it or can fix it (:data:`CLIENT_CODES`), at ERROR otherwise. The logged ``status`` is the
one the client actually got: a client that went away got CANCELLED (or DEADLINE_EXCEEDED),
whatever the table says, and a client whose message could not be decoded got gRPC's INTERNAL
(its stream just ends for the handler), a client mistake logged at WARNING. An unmapped error is a bug: it propagates, and gRPC logs it with its
traceback and answers UNKNOWN, as for any undecorated handler.

Fields learned during the call (a track id, bytes received) join that log line through
:func:`note`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar, cast

import grpc

__all__ = [
    "CLIENT_CODES",
    "StatusTable",
    "code_seen",
    "note",
    "request_undecodable",
    "status_errors",
    "status_of",
    "watching_decoding",
]

StatusTable = Sequence[tuple[type[Exception], grpc.StatusCode]]

# Codes the client caused or can act on (fix the request, retry later): logged at WARNING.
CLIENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DATA_LOSS,
    }
)

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

# The current call's extra log fields (None outside a decorated handler).
_notes: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "audioval_call_notes", default=None
)


# Whether a request message of the current call failed to decode (set per call by
# :class:`~audioval_servicekit.telemetry.TelemetryInterceptor`; gRPC decodes on its own thread).
_undecodable: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "audioval_request_undecodable", default=None
)


@contextlib.contextmanager
def watching_decoding(flag: threading.Event) -> Iterator[None]:
    """Within this block, :func:`request_undecodable` reads ``flag`` (set when a message fails)."""
    token = _undecodable.set(flag)
    try:
        yield
    finally:
        _undecodable.reset(token)


def request_undecodable() -> bool:
    """Whether the current call received a message that could not be decoded."""
    flag = _undecodable.get()
    return flag is not None and flag.is_set()


def note(**fields: object) -> None:
    """Add ``fields`` to the log line of the current call, should it be refused."""
    notes = _notes.get()
    if notes is not None:
        notes.update(fields)


def status_of(exc: BaseException, table: StatusTable) -> grpc.StatusCode | None:
    """The code the first matching row of ``table`` gives ``exc``; None when it is unmapped."""
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return None


def status_errors(
    table: StatusTable, *, logger: logging.Logger, what: str = "request"
) -> Callable[[_Handler], _Handler]:
    """A decorator for servicer methods that turns the errors in ``table`` into statuses.

    ``what`` names the call in the log line (``"upload refused"``, ``"upload cancelled"``).
    """
    mapped = tuple(kind for kind, _ in table)

    def refuse(exc: Exception, context: grpc.ServicerContext, rpc: str, started: float) -> NoReturn:
        code = status_of(exc, table)
        assert code is not None  # only mapped errors get here
        got = code_seen(code, context)
        notes = _notes.get() or {}
        undecodable = request_undecodable()
        if undecodable:
            notes = {**notes, "undecodable_request": True}
        logger.log(
            logging.WARNING if got in CLIENT_CODES or undecodable else logging.ERROR,
            f"{what} cancelled" if got is grpc.StatusCode.CANCELLED else f"{what} refused",
            extra={
                "track_id": None,
                **notes,
                "rpc": rpc,
                "status": got.name,
                "reason": str(exc),
                "elapsed_s": round(time.monotonic() - started, 3),
            },
        )
        context.abort(code, str(exc))
        raise AssertionError("unreachable: abort raises") from exc

    def decorate(method: _Handler) -> _Handler:
        rpc = method.__name__
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def streaming(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                started = time.monotonic()
                # The generator's body runs in this context at every step, so note() reaches it.
                call = contextvars.copy_context()
                call.run(_notes.set, {})
                responses = call.run(method, self, request, context)
                try:
                    while True:
                        try:
                            response = call.run(next, responses)
                        except StopIteration:
                            return
                        except mapped as exc:
                            call.run(refuse, exc, context, rpc, started)
                        yield response
                finally:
                    call.run(responses.close)

            return cast(_Handler, streaming)

        @functools.wraps(method)
        def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            started = time.monotonic()

            def run() -> Any:
                _notes.set({})
                try:
                    return method(self, request, context)
                except mapped as exc:
                    refuse(exc, context, rpc, started)

            return contextvars.copy_context().run(run)

        return cast(_Handler, unary)

    return decorate


def code_seen(code: grpc.StatusCode, context: grpc.ServicerContext) -> grpc.StatusCode:
    """What the client gets for ``code``: INTERNAL when gRPC ended the call over a message it
    could not decode; a call already over ended as CANCELLED, or as DEADLINE_EXCEEDED when its
    deadline passed."""
    if request_undecodable():
        return grpc.StatusCode.INTERNAL
    if context.is_active():
        return code
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED
