"""Build, start and stop a gRPC server the same way in every service.

Every server gets ``grpc.health.v1.Health`` and server reflection; on shutdown health goes
NOT_SERVING first so load balancers drain, then in-flight calls get a grace period.
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
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from audioval_servicekit.auth import BearerAuthInterceptor
from audioval_servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

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
    """
    chain: list[grpc.ServerInterceptor[Any, Any]] = list(interceptors)
    tokens = [t.get_secret_value() for t in settings.auth_tokens]
    if tokens:
        chain.insert(0, BearerAuthInterceptor(tokens))
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
    reflection.enable_server_reflection(
        (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    if settings.tls_enabled:
        port = server.add_secure_port(settings.address, _credentials(settings))
    else:
        port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"could not bind {settings.address}")
    server.start()
    running = RunningServer(
        server=server, port=port, health=health_servicer, service_names=service_names
    )
    running.set_serving(True)
    log.info("listening", extra={"address": f"{settings.host}:{port}", "tls": settings.tls_enabled})
    return running


def run_until_signal(running: RunningServer, grace: float) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully (health first)."""
    requested = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        requested.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not requested.wait(timeout=1.0):
        pass
    running.stop(grace)
