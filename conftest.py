"""Fixtures every test directory shares: one local Ray head for the whole session.

The suite also runs in parallel (pytest-xdist, ``scripts/check.sh``: ``-n auto --dist
loadgroup``); two rules keep the workers from sharing anything:

- every test that starts Ray or a whole stack (``ray_cluster``, ``e2e``, ``xdist_group("stack")``)
  runs on one worker, one after another, as in a serial run: one Ray head per session, as the
  fixture below promises, and never two stacks competing for the cores within their start-up
  timeouts; every other module runs whole on one worker, so its module fixtures are built once;
- nothing fails on wall time, which a neighbour on the same cores stretches: Hypothesis's
  per-example deadline is off (pytest-timeout still stops a hang);
- each worker keeps its own numba cache: numba numbers a kernel's cached overloads by reading
  and rewriting one index, so two processes compiling the same kernel at once can leave an
  index entry naming the other's data file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from audioval_localstack.ray_head import RayHead, ensure_token, ray_environment

# Speed is the benchmarks' business (bench/); a test only guards against a hang.
settings.register_profile("audioval", deadline=None)
settings.load_profile("audioval")

_TOKEN_DIR = Path(tempfile.mkdtemp(prefix="avtoken-"))
_TOKEN_PATH = _TOKEN_DIR / "auth_token"


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # Before any test module imports numba, which reads its cache dir once.
        shared = os.environ.get("NUMBA_CACHE_DIR") or str(config.rootpath / ".cache" / "numba")
        os.environ["NUMBA_CACHE_DIR"] = str(Path(shared) / worker)
    # Ray reads RAY_AUTH_MODE when it is first imported, so the test process (a Ray driver of
    # the session's head) must have its client environment before any test module imports it.
    ensure_token(_TOKEN_PATH)
    os.environ.update(ray_environment(_TOKEN_PATH))


STACK_GROUP = "stack"


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test in an xdist group (see the module docstring); no effect without xdist."""
    stack_modules = {
        item.module.__name__
        for item in items
        if isinstance(item, pytest.Function)
        and (
            "ray_cluster" in item.fixturenames
            or item.get_closest_marker("e2e") is not None
            or any(m.args[:1] == (STACK_GROUP,) for m in item.iter_markers("xdist_group"))
        )
    }
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        module = item.module.__name__ if isinstance(item, pytest.Function) else item.nodeid
        group = STACK_GROUP if module in stack_modules else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
