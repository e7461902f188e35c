"""Supervised children: a death is named with its last lines; a dead parent leaves no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audioval_localstack.supervision import Child, ChildExitedError, Watchdog, check_children

# A parent that starts a watchdog and a child holding on (sleep), prints the child's pid, waits.
PARENT = """
import sys, time
from audioval_localstack.supervision import Child, Watchdog
watchdog = Watchdog()
child = Child("sleeper", ["sleep", "300"], discard=True, watchdog=watchdog)
print(child.process.pid, watchdog.process.pid, flush=True)
time.sleep(300)
"""


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited; only its parent has yet to reap it
            return True
        time.sleep(0.05)
    return False


def test_a_dead_child_is_named_with_its_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    child = Child(
        "demo", ["sh", "-c", "echo starting; echo 'bad config' >&2; exit 3"], log_path=log
    )
    child.process.wait(timeout=30)
    with pytest.raises(ChildExitedError) as died:
        check_children([child], "before the stack was ready")
    message = str(died.value)
    assert message.startswith("demo exited with status 3 before the stack was ready")
    assert "starting" in message and "bad config" in message
    assert str(log) in message
    assert "bad config" in log.read_text()


def test_the_first_dead_child_in_start_order_is_named_and_the_others_listed() -> None:
    first = Child("the Ray head", ["sh", "-c", "kill -9 $$"], discard=True)
    later = Child("classify", ["sh", "-c", "exit 1"], discard=True)
    alive = Child("ingest", ["sleep", "60"], discard=True)
    try:
        first.process.wait(timeout=30)
        later.process.wait(timeout=30)
        with pytest.raises(ChildExitedError) as died:
            check_children([first, alive, later])
        assert str(died.value).startswith(
            "the Ray head exited with signal SIGKILL (then also: classify)"
        )
    finally:
        alive.stop(grace=5)
    assert alive.process.returncode == -signal.SIGTERM


def test_stopping_a_child_ends_its_whole_process_group() -> None:
    child = Child("group", ["sh", "-c", "sleep 300 & echo $!; wait"], discard=True)
    deadline = time.monotonic() + 30
    while not child.tail():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(child.tail()[0])
    child.stop(grace=5)
    assert wait_gone(grandchild)


def test_a_sigkilled_parent_leaves_no_orphan_behind_its_watchdog() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid, watchdog_pid = map(int, parent.stdout.readline().split())
    assert not wait_gone(child_pid, timeout=0.5), "the child runs while its parent does"
    parent.kill()
    parent.wait(timeout=10)
    assert wait_gone(child_pid), "the watchdog stopped the orphan"
    assert wait_gone(watchdog_pid), "and then exited"


def test_a_closed_watchdog_exits_and_leaves_released_groups_alone() -> None:
    watchdog = Watchdog()
    child = Child("kept", ["sleep", "60"], discard=True, watchdog=watchdog)
    watchdog.release(child.pgid)
    watchdog.close()
    assert watchdog.process.returncode == 0
    assert child.alive()
    os.killpg(child.pgid, signal.SIGKILL)
    child.process.wait(timeout=10)
