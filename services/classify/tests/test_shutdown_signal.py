"""classify with a private Ray stops on SIGTERM with status 0 and takes its Ray with it.

``ray.init`` installs a SIGTERM handler of its own (``sys.exit(15)``); classify's graceful stop
must win whether the signal comes while it starts (joining Ray, creating the pool) or once it
serves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audioval_cli.stack import wait_serving
from audioval_localstack import free_port

# It starts a Ray of its own: with the other tests that start Ray (conftest.py), one at a time.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, command line) of every process below ``root``."""
    found: set[tuple[int, str]] = set()
    todo = [root]
    while todo:
        parent = todo.pop()
        try:
            pids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for pid in map(int, pids):
            found.add((pid, cmdline(pid)))
            todo.append(pid)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("when", ["starting", "serving"])
def test_sigterm_stops_classify_with_status_0_and_ends_its_private_ray(
    tmp_path: Path, when: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(
        HOME=str(tmp_path),
        AUDIOVAL_CLASSIFY_PORT=str(port),
        AUDIOVAL_CLASSIFY_STORE="memory",
        AUDIOVAL_CLASSIFY_POOL_SIZE="1",
    )
    env.pop("AUDIOVAL_CLASSIFY_RAY_ADDRESS", None)
    log_path = tmp_path / "classify.log"
    with log_path.open("wb") as log:
        service = subprocess.Popen(
            [sys.executable, "-m", "audioval_classify"], env=env, stdout=log, stderr=log
        )
    seen: set[tuple[int, str]] = set()
    try:
        deadline = time.monotonic() + 180
        if when == "starting":
            # The private Ray's processes are up: ray.init has run or is running.
            while not any("gcs_server" in cmd for _, cmd in seen):
                assert service.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no private Ray appeared"
                seen |= descendants(service.pid)
                time.sleep(0.05)
        else:
            wait_serving(f"127.0.0.1:{port}", deadline)
            seen |= descendants(service.pid)
        assert any("raylet" in cmd for _, cmd in seen) or when == "starting"
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=90)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert code == 0, log_path.read_text()[-3000:]
    assert '"msg": "stop' in log_path.read_text()  # stopping, or stopped while starting
    # Its Ray went with it: nothing it started is still running.
    deadline = time.monotonic() + 30
    while left := [(pid, cmd) for pid, cmd in seen if cmd and cmdline(pid) == cmd]:
        assert time.monotonic() < deadline, f"still running: {left}"
        time.sleep(0.2)
