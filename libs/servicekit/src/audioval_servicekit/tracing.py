"""OpenTelemetry traces: the process' tracer provider and the W3C trace context an upload carries.

An upload's trace context travels as a W3C ``traceparent`` value: on gRPC metadata between
services (:func:`grpc_metadata` on the client, :class:`~audioval_servicekit.telemetry.
TelemetryInterceptor` on the server) and inside the records that cross the queue and the stream
(the manifest's and the first chunk record's ``traceparent`` field), so ingest's, rebuild's and
classify's spans of one upload share one trace id.

Without :func:`configure_tracing` (tests, tools) the API's no-op provider is in place: spans
are not recorded, but a context that arrived is still passed on, so a traced caller's trace
goes on through an untraced hop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACEPARENT",
    "configure_tracing",
    "context_from_traceparent",
    "current_traceparent",
    "grpc_metadata",
    "span_from_traceparent",
]

TRACEPARENT = "traceparent"
# Trace context travels as W3C headers, whatever the process' global propagator is set to.
_PROPAGATOR = TraceContextTextMapPropagator()


def configure_tracing(service: str, *, otlp_endpoint: str = "") -> TracerProvider:
    """Install this process' tracer provider, naming ``service`` in every span's resource.

    With ``otlp_endpoint`` (``http://collector:4317``) spans are batched to that OTLP/gRPC
    collector; without it they are recorded for context only and exported nowhere. Call once,
    from ``main()``.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": f"audioval-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str:
    """The ``traceparent`` of the current span, or "" when there is none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT, "")


def context_from_traceparent(traceparent: str) -> otel_context.Context:
    """A context whose parent span is the one ``traceparent`` names (empty when it names none)."""
    if not traceparent:
        return otel_context.Context()
    return _PROPAGATOR.extract({TRACEPARENT: traceparent}, context=otel_context.Context())


def grpc_metadata() -> list[tuple[str, str]]:
    """gRPC metadata carrying the current span's context to the server (empty without one)."""
    traceparent = current_traceparent()
    return [(TRACEPARENT, traceparent)] if traceparent else []


@contextmanager
def span_from_traceparent(
    tracer: trace.Tracer,
    name: str,
    traceparent: str,
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
) -> Iterator[trace.Span]:
    """A current span named ``name``, child of the span ``traceparent`` names (a new trace
    when it names none)."""
    with tracer.start_as_current_span(
        name, context=context_from_traceparent(traceparent), kind=kind
    ) as span:
        yield span
