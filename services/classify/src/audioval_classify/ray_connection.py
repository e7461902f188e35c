"""Joining Ray: the cluster the validator pool and the batch job run on."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from typing import Any

import ray

__all__ = [
    "StartupInterrupted",
    "connect_ray",
    "disconnect_ray",
    "pool_size_default",
    "wait_for_gcs",
]

log = logging.getLogger(__name__)


def connect_ray(
    address: str | None, *, num_cpus: int | None = None, retry_until: float | None = None
) -> None:
    """Join the Ray cluster at ``address`` (None: start a private one in this process).

    Ray's own environment decides authentication: ``RAY_AUTH_MODE=token`` with the token in
    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``.

    A cluster still starting: see :func:`wait_for_gcs`. ``ray.init`` itself then waits for the
    head's node (up to a minute); with ``retry_until`` (a ``time.monotonic()`` deadline) a join
    that fails with ``ConnectionError`` (the head's node not up yet, a GCS too busy to answer)
    is logged and tried again until then, and the last error raised.

    ``ray.init`` (on the main thread) installs a SIGTERM handler of its own that calls
    ``sys.exit(15)``. Afterwards the handler that was there before (the service's graceful stop)
    is put back; a SIGTERM that Ray's handler caught while joining becomes
    :class:`StartupInterrupted`, so the caller can stop cleanly (exit 0) instead of dying with 15.
    (Running ``ray.init`` on another thread would avoid the handler, but the processes of a
    private Ray are tied to the thread that started them and die when it ends.)
    """
    if ray.is_initialized():
        return
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    try:
        _init_retrying(address, num_cpus, retry_until)
    except SystemExit as exit_:
        if previous is None or exit_.code != signal.SIGTERM:
            raise
        raise StartupInterrupted("SIGTERM while joining Ray") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class StartupInterrupted(Exception):  # noqa: N818 (a request, not an error)
    """SIGTERM arrived while joining Ray: stop without serving."""


def wait_for_gcs(address: str, deadline: float, *, stop: threading.Event | None = None) -> None:
    """Wait until ``host:port`` (a Ray GCS) accepts TCP connections: a service started
    alongside its Ray head (``audioval up``, a container next to the cluster) joins once the
    head is up instead of failing.

    Raises TimeoutError at ``deadline`` (saying what it waited for) and
    :class:`StartupInterrupted` as soon as ``stop`` is set.
    """
    host, _, port = address.rpartition(":")
    if not (host and port.isdigit()):
        return  # not host:port (``auto``, ``ray://``): ray.init resolves it
    delay = 0.05
    logged = False
    while True:
        if stop is not None and stop.is_set():
            raise StartupInterrupted("stopped while waiting for Ray")
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Ray GCS at {address} did not accept connections in time")
        if not logged:
            log.info("waiting for Ray", extra={"address": address})
            logged = True
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def disconnect_ray() -> None:
    """Leave Ray; a private Ray started by :func:`connect_ray` stops with it (also half-started)."""
    ray.shutdown()


def _init_retrying(address: str | None, num_cpus: int | None, retry_until: float | None) -> None:
    while True:
        try:
            _init(address, num_cpus)
            return
        except ConnectionError as err:
            if not address or retry_until is None or time.monotonic() + 1.0 > retry_until:
                raise
            log.warning("could not join Ray yet; retrying", extra={"error": str(err)})
            ray.shutdown()
            time.sleep(1.0)


def _init(address: str | None, num_cpus: int | None) -> None:
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


def pool_size_default(*, free_only: bool = False) -> int:
    """The CPUs the connected Ray cluster advertises (``free_only``: not yet taken); at least 1."""
    read = ray.available_resources if free_only else ray.cluster_resources
    resources = read()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))
