"""Build, start and stop a gRPC server the same way in every service.

Every server gets ``grpc.health.v1.Health`` and server reflection under both names clients ask
for (``grpc.reflection.v1`` and ``v1alpha``); on shutdown health goes NOT_SERVING first so load
balancers drain, then in-flight calls get a grace period.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from audioval_servicekit.auth import BearerAuthInterceptor
from audioval_servicekit.metrics import MetricsEndpoint, serve_metrics
from audioval_servicekit.settings import ServiceSettings
from audioval_servicekit.telemetry import TelemetryInterceptor

log = logging.getLogger(__name__)

# grpcio-reflection (1.81) ships only v1alpha. v1 is the same protocol under another package:
# its messages are wire-identical, so one servicer answers both service names.
REFLECTION_V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_REFLECTION_V1_FILE = "grpc/reflection/v1/reflection.proto"
_reflection_v1_lock = threading.Lock()

# Registers servicers on a server: e.g. ``lambda s: add_FooServiceServicer_to_server(impl, s)``.
Registrar = Callable[[grpc.Server], None]


@dataclass
class RunningServer:
    """A started server, its bound port and its health servicer."""

    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: Sequence[str]
    stopped: threading.Event = field(default_factory=threading.Event)
    # Run after health goes NOT_SERVING and before the grace period (e.g. end open streams).
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)
    # The Prometheus endpoint (``settings.metrics_port``), None when off.
    metrics: MetricsEndpoint | None = None

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace: float) -> None:
        """Go NOT_SERVING, let in-flight calls finish within ``grace`` seconds, then stop."""
        self.set_serving(False)
        for hook in self.on_shutdown:
            hook()
        self.server.stop(grace).wait()
        if self.metrics is not None:
            self.metrics.stop()
        self.stopped.set()


def _credentials(settings: ServiceSettings) -> grpc.ServerCredentials:
    assert settings.tls_cert_file is not None and settings.tls_key_file is not None
    root = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=root,
        require_client_auth=root is not None,
    )


def build_server(
    settings: ServiceSettings,
    registrars: Sequence[Registrar],
    service_names: Sequence[str],
    *,
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
) -> RunningServer:
    """Create, bind and start a server with the given servicers, health and reflection.

    ``service_names`` are the full names (``audioval.v1.ClassifyService``) reported by health
    and reflection. Binding port 0 picks a free port, returned in ``RunningServer.port``.
    Every call is timed and traced (:class:`TelemetryInterceptor`, first in the chain);
    ``settings.metrics_port`` (when not 0) serves Prometheus metrics.
    """
    chain: list[grpc.ServerInterceptor[Any, Any]] = list(interceptors)
    tokens = [t.get_secret_value() for t in settings.auth_tokens]
    if tokens:
        chain.insert(0, BearerAuthInterceptor(tokens))
    chain.insert(0, TelemetryInterceptor())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers),
        interceptors=chain,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    for register in registrars:
        register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection(server, (*service_names, health.SERVICE_NAME))
    if settings.tls_enabled:
        port = server.add_secure_port(settings.address, _credentials(settings))
    else:
        port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"could not bind {settings.address}")
    metrics = (
        serve_metrics(settings.metrics_host, settings.metrics_port)
        if settings.metrics_port
        else None
    )
    server.start()
    running = RunningServer(
        server=server,
        port=port,
        health=health_servicer,
        service_names=service_names,
        metrics=metrics,
    )
    running.set_serving(True)
    log.info(
        "listening",
        extra={
            "address": f"{settings.host}:{port}",
            "tls": settings.tls_enabled,
            "metrics": f"{settings.metrics_host}:{metrics.port}" if metrics else None,
        },
    )
    return running


def enable_reflection(server: grpc.Server, service_names: Sequence[str]) -> None:
    """Serve reflection as ``grpc.reflection.v1.ServerReflection`` and its ``v1alpha`` twin.

    Both names are listed by ``list_services``; both files resolve by symbol, so a v1 client
    can describe the reflection service itself as it would on a server whose library has v1.
    """
    _register_reflection_v1_descriptor()
    servicer = reflection.ReflectionServicer(
        (*service_names, reflection.SERVICE_NAME, REFLECTION_V1_SERVICE_NAME)
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        REFLECTION_V1_SERVICE_NAME,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))


def _register_reflection_v1_descriptor() -> None:
    """Add ``grpc/reflection/v1/reflection.proto`` to the default pool, derived from v1alpha."""
    pool = descriptor_pool.Default()
    with _reflection_v1_lock:
        try:
            pool.FindFileByName(_REFLECTION_V1_FILE)
        except KeyError:
            pool.AddSerializedFile(_reflection_v1_file().SerializeToString())
        # else: already there (a newer grpcio-reflection, or an earlier server)


def _reflection_v1_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    proto.name = _REFLECTION_V1_FILE
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for f in message.field:
            if f.HasField("type_name"):
                f.type_name = f.type_name.replace(old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    return proto


def stop_requested() -> threading.Event:
    """Handle SIGTERM and SIGINT from now on: the returned event is set when one arrives.

    Call it before a slow start-up, so a signal during start-up is a clean stop once the server
    is up (and not a library's default, such as Ray's ``sys.exit(15)``).
    """
    requested = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        requested.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return requested


def run_until_signal(
    running: RunningServer, grace: float, requested: threading.Event | None = None
) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully (health first).

    ``requested`` is the event of an earlier :func:`stop_requested` (default: install now).
    """
    if requested is None:
        requested = stop_requested()
    while not requested.wait(timeout=1.0):
        pass
    running.stop(grace)
