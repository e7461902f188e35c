"""One server interceptor that times every call and runs it in a span continuing the caller's trace.

Every call is observed in ``audioval_grpc_server_handling_seconds`` by service, method and the
status the client actually got: OK, the code the handler aborted with, UNKNOWN for an error
that escaped it, and CANCELLED or DEADLINE_EXCEEDED when the client was gone before the
answer (as :mod:`audioval_servicekit.errors` logs it). A server-streaming call is timed to its
last message. A request message that cannot be decoded is counted as the INTERNAL gRPC answers
(the client's mistake: one WARNING line, instead of gRPC's ERROR traceback), and the handler of
a request stream, which sees that stream end early, logs the status the client got
(:func:`~audioval_servicekit.errors.watching_decoding`).

Every call but health checks and reflection runs in a SERVER span named for the method
(``audioval.v1.IngestService/UploadTrack``), child of the ``traceparent`` the caller sent;
spans the handler starts are its children. The interceptor goes first in the chain, so calls
refused by authentication are counted too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from audioval_servicekit.errors import CLIENT_CODES, code_seen, watching_decoding
from audioval_servicekit.metrics import GRPC_SERVER_HANDLING_SECONDS
from audioval_servicekit.tracing import TRACEPARENT, context_from_traceparent

__all__ = ["TelemetryInterceptor"]

log = logging.getLogger(__name__)

# Probed every few seconds by load balancers and `audioval up`: timed, never traced.
_UNTRACED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}

if TYPE_CHECKING:  # grpc-stubs makes the interceptor generic; the runtime class is not
    _Interceptor = grpc.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.ServerInterceptor


class _Call:
    """One call being observed: its span (or None) and its start."""

    def __init__(self, method: str, traceparent: str, traced: bool) -> None:
        self.service, _, self.method = method.lstrip("/").rpartition("/")
        self.started = time.perf_counter()
        self.span: Span | None = None
        if traced:
            self.span = _tracer().start_span(
                method.lstrip("/"),
                context=context_from_traceparent(traceparent),
                kind=SpanKind.SERVER,
                attributes={
                    "rpc.system": "grpc",
                    "rpc.service": self.service,
                    "rpc.method": self.method,
                },
            )

    def finish(self, context: grpc.ServicerContext, error: BaseException | None) -> None:
        code = _final_code(context, error)
        GRPC_SERVER_HANDLING_SECONDS.labels(self.service, self.method, code.name).observe(
            time.perf_counter() - self.started
        )
        if self.span is None:
            return
        self.span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK and code not in CLIENT_CODES:
            self.span.set_status(Status(StatusCode.ERROR, code.name))
        if error is not None and code is grpc.StatusCode.UNKNOWN:
            self.span.record_exception(error)  # escaped the handler: a bug, worth its trace
        self.span.end()


def _tracer() -> trace.Tracer:
    # Looked up per call: the provider may be installed after the server was built.
    return trace.get_tracer("audioval_servicekit.telemetry")


def _final_code(context: grpc.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    # Set by abort() or set_code(); None when the handler set none (not in grpc-stubs' type).
    code = getattr(context, "code", lambda: None)()
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN
    return code_seen(code, context)


def _traceparent(details: grpc.HandlerCallDetails) -> str:
    for key, value in details.invocation_metadata or ():
        if key == TRACEPARENT:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return ""


class TelemetryInterceptor(_Interceptor):
    """Times every call by method and final status; traces every call but health and reflection."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: gRPC answers UNIMPLEMENTED
        method = handler_call_details.method or ""
        traced = not method.startswith(_UNTRACED_PREFIXES)
        traceparent = _traceparent(handler_call_details) if traced else ""
        streaming = handler.response_streaming
        inner = _behavior(handler)
        undecodable = threading.Event()  # this call's; set on gRPC's thread, read on the handler's

        def observe(request: Any, context: grpc.ServicerContext) -> Any:
            call = _Call(method, traceparent, traced)
            if streaming:
                return _observed_stream(call, inner, request, context, undecodable)
            error: BaseException | None = None
            try:
                with watching_decoding(undecodable):
                    if call.span is None:
                        return inner(request, context)
                    with _current(call.span):
                        return inner(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                with watching_decoding(undecodable):
                    call.finish(context, error)

        factory = _FACTORIES[(handler.request_streaming, streaming)]
        return factory(
            observe,
            request_deserializer=_decoder(
                handler.request_deserializer,
                method,
                undecodable,
                handled_later=handler.request_streaming,
            ),
            response_serializer=handler.response_serializer,
        )


def _decoder(
    decode: Callable[[bytes], Any] | None,
    method: str,
    undecodable: threading.Event,
    *,
    handled_later: bool,
) -> Callable[[bytes], Any] | None:
    """``decode``, answering None (gRPC then ends the call with INTERNAL) for a message that
    does not decode, once logged as the client's mistake."""
    if decode is None:
        return None

    def decoded(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception as exc:
            first = not undecodable.is_set()
            undecodable.set()
            if first and not handled_later:
                # A unary request: the handler never runs, so the call is counted here.
                service, _, name = method.lstrip("/").rpartition("/")
                GRPC_SERVER_HANDLING_SECONDS.labels(service, name, "INTERNAL").observe(0.0)
            if first:
                log.warning(
                    "request message undecodable",
                    extra={
                        "track_id": None,
                        "rpc": method,
                        "status": "INTERNAL",
                        "bytes": len(data),
                        "reason": f"{type(exc).__name__}: {str(exc)[:200]}",
                    },
                )
            return None

    return decoded


def _behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> Callable[..., Any]:
    behavior = (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )
    assert behavior is not None
    return behavior


def _observed_stream(
    call: _Call,
    inner: Callable[..., Any],
    request: Any,
    context: grpc.ServicerContext,
    undecodable: threading.Event,
) -> Iterator[Any]:
    """The handler's responses, each produced inside the call's span; timed to the last one."""
    error: BaseException | None = None
    try:
        responses = _in_span(call.span, inner, request, context)
        while True:
            try:
                response = _in_span(call.span, next, responses)
            except StopIteration:
                return
            yield response
    except GeneratorExit:
        raise  # gRPC closed the stream: the client is gone, which finish() reads from context
    except BaseException as exc:
        error = exc
        raise
    finally:
        with watching_decoding(undecodable):
            call.finish(context, error)


def _current(span: Span) -> Any:
    # Exceptions are the handler's way to answer (abort raises): finish() judges the outcome.
    return trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    )


def _in_span(span: Span | None, function: Callable[..., Any], *args: Any) -> Any:
    if span is None:
        return function(*args)
    with _current(span):
        return function(*args)
