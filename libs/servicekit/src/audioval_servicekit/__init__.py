"""What every audioval gRPC service shares.

Settings base (:class:`ServiceSettings`), a server bootstrap that adds health and reflection
(:func:`build_server`), bearer-token auth (:class:`BearerAuthInterceptor`), JSON logging
(:func:`configure_logging`), a graceful stop on SIGTERM/SIGINT (:func:`stop_requested`,
:func:`run_until_signal`) and
the decorator that turns domain errors into status codes (:func:`status_errors`). Every server
times its calls and continues callers' traces (:mod:`~audioval_servicekit.telemetry`); the
Prometheus endpoint and shared series are :mod:`~audioval_servicekit.metrics`, trace context
helpers :mod:`~audioval_servicekit.tracing`.
What the services share about AWS (settings, client factory, table items) is ``audioval_pipeline``.
"""

from audioval_servicekit.auth import BearerAuthInterceptor
from audioval_servicekit.errors import StatusTable, note, status_errors
from audioval_servicekit.logs import configure_logging
from audioval_servicekit.server import (
    RunningServer,
    build_server,
    run_until_signal,
    stop_requested,
)
from audioval_servicekit.settings import ServiceSettings

__all__ = [
    "BearerAuthInterceptor",
    "RunningServer",
    "ServiceSettings",
    "StatusTable",
    "build_server",
    "configure_logging",
    "note",
    "run_until_signal",
    "status_errors",
    "stop_requested",
]
