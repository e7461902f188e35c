"""Joining Ray: the cluster the validator pool and the batch job run on."""

from __future__ import annotations

import logging
from typing import Any

import ray

__all__ = ["connect_ray", "pool_size_default"]


def connect_ray(address: str | None, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` (None: start a private one in this process).

    Ray's own environment decides authentication: ``RAY_AUTH_MODE=token`` with the token in
    ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``.
    """
    if ray.is_initialized():
        return
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
