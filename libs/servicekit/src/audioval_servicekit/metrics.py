"""Prometheus metrics: the series every gRPC server has, and the HTTP endpoint that serves them.

Each service defines its own series in its ``metrics`` module on the default registry and
serves them, with these, on ``/metrics`` of ``metrics_host:metrics_port`` (loopback by default;
port 0 serves none). Names follow Prometheus' conventions (base units, ``_seconds``,
``_total``); labels take a few known values each, never a user or a track.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram, start_http_server

__all__ = [
    "GRPC_SERVER_HANDLING_SECONDS",
    "LATENCY_BUCKETS",
    "VERDICTS",
    "MetricsEndpoint",
    "serve_metrics",
]

# From a health check (~1 ms) to a long upload or validation (minutes).
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)

GRPC_SERVER_HANDLING_SECONDS = Histogram(
    "audioval_grpc_server_handling_seconds",
    "Time from a call's start to its last response, by method and the status the client got.",
    ["grpc_service", "grpc_method", "grpc_code"],
    buckets=LATENCY_BUCKETS,
)

# Stored by classify (judged) and by rebuild (a track that does not rebuild is rejected there),
# each counting what it stored; summed over both, every verdict once.
VERDICTS = Counter(
    "audioval_verdicts_total",
    "Verdicts this process stored, by decision (accept, review, reject).",
    ["decision"],
)


@dataclass
class MetricsEndpoint:
    """A running ``/metrics`` HTTP server."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)


def serve_metrics(host: str, port: int) -> MetricsEndpoint:
    """Serve the default registry on ``http://host:port/metrics`` from a daemon thread.

    ``port`` 0 binds a free port (read it from :attr:`MetricsEndpoint.port`).
    """
    server, thread = start_http_server(port, addr=host)
    return MetricsEndpoint(server, thread)
