"""Fixtures every test directory shares: one local Ray head for the whole session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from audioval_localstack.ray_head import RayHead, ensure_token, ray_environment

_TOKEN_DIR = Path(tempfile.mkdtemp(prefix="avtoken-"))
_TOKEN_PATH = _TOKEN_DIR / "auth_token"


def pytest_configure(config: pytest.Config) -> None:
    # Ray reads RAY_AUTH_MODE when it is first imported, so the test process (a Ray driver of
    # the session's head) must have its client environment before any test module imports it.
    ensure_token(_TOKEN_PATH)
    os.environ.update(ray_environment(_TOKEN_PATH))


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayHead]:
    """A Ray head on loopback with token auth; this process joins it as a driver when needed.

    One per session: a process can be the driver of only one cluster, and the in-process
    services under test (classify's validator pool) join this one.
    """
    import ray

    head = RayHead(num_cpus=4, token_path=_TOKEN_PATH).start()
    try:
        yield head
    finally:
        ray.shutdown()
        head.stop()
