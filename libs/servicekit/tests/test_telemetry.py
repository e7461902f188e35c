"""Every server built by build_server times its calls on /metrics and continues callers' traces."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from audioval_servicekit import RunningServer, ServiceSettings, build_server, status_errors
from audioval_servicekit.logs import JsonFormatter
from audioval_servicekit.tracing import (
    context_from_traceparent,
    current_traceparent,
    grpc_metadata,
)

SERVICE = "test.v1.EchoService"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"bad":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    if request == b"bug":
        raise RuntimeError("a bug")
    # The handler sees the server span as current: its traceparent names it.
    return current_traceparent().encode()


class ClientGoneError(Exception):
    pass


_log = logging.getLogger("test_telemetry.upload")


class Uploads:
    """Like ingest's UploadTrack: reads a request stream; a call already over is refused."""

    @status_errors(((ClientGoneError, grpc.StatusCode.CANCELLED),), logger=_log, what="upload")
    def upload(
        self, requests: Iterator[health_pb2.HealthCheckRequest], context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        for _request in requests:
            pass
        if not context.is_active():
            raise ClientGoneError("the stream ended and the call is over")
        return health_pb2.HealthCheckResponse()


def _count(data: bytes, start: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield from (b"1", b"2", b"3")


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Say": grpc.unary_unary_rpc_method_handler(_say),
            "Count": grpc.unary_stream_rpc_method_handler(
                lambda request, context: _count(request, b"", context)
            ),
            "Up": grpc.stream_unary_rpc_method_handler(
                Uploads().upload,
                request_deserializer=health_pb2.HealthCheckRequest.FromString,
                response_serializer=health_pb2.HealthCheckResponse.SerializeToString,
            ),
        },
    )
    settings = ServiceSettings(port=0, metrics_port=_free_port())
    running = build_server(settings, [lambda s: s.add_generic_rpc_handlers((handler,))], [SERVICE])
    yield running
    running.stop(0)


@pytest.fixture
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


def _calls(server: RunningServer, service: str, method: str, code: str) -> float:
    """How many calls the server's /metrics has timed for this method and status."""
    assert server.metrics is not None
    url = f"http://127.0.0.1:{server.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name != "audioval_grpc_server_handling_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_count")
                and labels.get("grpc_service") == service
                and labels.get("grpc_method") == method
                and labels.get("grpc_code") == code
            ):
                return sample.value
    return 0.0


def test_each_call_is_counted_under_the_status_the_client_got(
    server: RunningServer, channel: grpc.Channel
) -> None:
    say = channel.unary_unary(f"/{SERVICE}/Say")
    before = {
        code: _calls(server, SERVICE, "Say", code) for code in ("OK", "INVALID_ARGUMENT", "UNKNOWN")
    }
    say(b"hello", timeout=5)
    with pytest.raises(grpc.RpcError) as refused:
        say(b"bad", timeout=5)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as broken:
        say(b"bug", timeout=5)
    assert broken.value.code() is grpc.StatusCode.UNKNOWN
    after = {code: _calls(server, SERVICE, "Say", code) for code in before}
    assert {code: after[code] - before[code] for code in before} == {
        "OK": 1,
        "INVALID_ARGUMENT": 1,
        "UNKNOWN": 1,
    }


def test_health_checks_are_timed_too(server: RunningServer, channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    before = _calls(server, "grpc.health.v1.Health", "Check", "NOT_FOUND")
    with pytest.raises(grpc.RpcError):
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert _calls(server, "grpc.health.v1.Health", "Check", "NOT_FOUND") == before + 1


def test_a_streamed_answer_is_timed_once_it_ends(
    server: RunningServer, channel: grpc.Channel
) -> None:
    count = channel.unary_stream(f"/{SERVICE}/Count")
    before = _calls(server, SERVICE, "Count", "OK")
    assert list(count(b"", timeout=5)) == [b"1", b"2", b"3"]
    assert _calls(server, SERVICE, "Count", "OK") == before + 1


def test_the_server_span_continues_the_callers_trace(
    server: RunningServer, channel: grpc.Channel, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer(__name__)
    say = channel.unary_unary(f"/{SERVICE}/Say")
    with tracer.start_as_current_span("caller") as caller:
        seen = say(b"hello", metadata=grpc_metadata(), timeout=5).decode()
    caller_context = caller.get_span_context()
    handler_parent = trace.get_current_span(context_from_traceparent(seen)).get_span_context()
    assert handler_parent.trace_id == caller_context.trace_id
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        served = [s for s in spans.get_finished_spans() if s.name == f"{SERVICE}/Say"]
        if any(s.context.trace_id == caller_context.trace_id for s in served):
            break
        time.sleep(0.05)
    (span,) = [s for s in served if s.context.trace_id == caller_context.trace_id]
    assert span.kind is trace.SpanKind.SERVER
    assert span.parent is not None and span.parent.span_id == caller_context.span_id
    # The handler ran inside the server span: the context it saw is that span's.
    assert handler_parent.span_id == span.context.span_id
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 0


def test_metrics_off_by_default_and_refused_beyond_loopback() -> None:
    assert ServiceSettings().metrics_port == 0
    with pytest.raises(ValueError, match="metrics"):
        ServiceSettings(metrics_host="0.0.0.0", metrics_port=9000)


GARBAGE = b"\xff\xff\xff\xff not a protobuf"


def test_an_undecodable_request_is_counted_as_internal_and_logged_as_the_clients_mistake(
    server: RunningServer, channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    before = _calls(server, "grpc.health.v1.Health", "Check", "INTERNAL")
    with pytest.raises(grpc.RpcError) as refused:
        check(GARBAGE, timeout=5)
    assert refused.value.code() is grpc.StatusCode.INTERNAL
    assert _calls(server, "grpc.health.v1.Health", "Check", "INTERNAL") == before + 1
    (line,) = [r for r in caplog.records if r.getMessage() == "request message undecodable"]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert getattr(line, "status", None) == "INTERNAL"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_undecodable_message_in_a_request_stream_logs_the_status_the_client_got(
    server: RunningServer, channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    up = channel.stream_unary(f"/{SERVICE}/Up")
    before = _calls(server, SERVICE, "Up", "INTERNAL")
    good = health_pb2.HealthCheckRequest(service="x").SerializeToString()
    with pytest.raises(grpc.RpcError) as refused:
        up(iter([good, GARBAGE]), timeout=5)
    assert refused.value.code() is grpc.StatusCode.INTERNAL

    def refusal() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "test_telemetry.upload"]

    deadline = time.monotonic() + 5
    while not refusal() and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = refusal()
    # The handler saw its stream end on a call already over: without the decoding failure it
    # would have logged CANCELLED; the client got INTERNAL, and it was the client's mistake.
    assert getattr(line, "status", None) == "INTERNAL"
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert _calls(server, SERVICE, "Up", "INTERNAL") == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_log_line_inside_a_span_carries_its_trace_id(spans: InMemorySpanExporter) -> None:
    formatter = JsonFormatter()
    record = logging.makeLogRecord({"msg": "judged", "levelname": "INFO"})
    assert "trace_id" not in json.loads(formatter.format(record))
    with trace.get_tracer(__name__).start_as_current_span("upload") as span:
        line = json.loads(formatter.format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
