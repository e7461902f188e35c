"""Joining Ray: the cluster the validator pool and the batch job run on."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import ray

__all__ = ["StartupInterrupted", "connect_ray", "disconnect_ray", "pool_size_default"]


def connect_ray(address: str | None, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` (None: start a private one in this process).

    Ray's own environment decides authentication: ``RAY_AUTH_MODE=token`` with the token in
    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``.

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
        _init(address, num_cpus)
    except SystemExit as exit_:
        if previous is None or exit_.code != signal.SIGTERM:
            raise
        raise StartupInterrupted("SIGTERM while joining Ray") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class StartupInterrupted(Exception):  # noqa: N818 (a request, not an error)
    """SIGTERM arrived while joining Ray: stop without serving."""


def disconnect_ray() -> None:
    """Leave Ray; a private Ray started by :func:`connect_ray` stops with it (also half-started)."""
    ray.shutdown()


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
