"""`audioval up` says what broke: each child killed before and after the stack is ready.

Whichever child dies (the AWS emulator, the Ray head, a service), `up` stops the rest, exits
non-zero naming it, and leaves no process or port behind; a SIGKILLed `up` leaves no orphans
either (its watchdog stops them). Each case starts a real stack: slow.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from audioval_cli.stack import StackPorts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))
START_S = 240  # a loaded 2-core machine takes about a minute to be ready
STOP_S = 90

# How each child shows in /proc (its command line) and how `up` names it.
CHILDREN = {
    "aws": ("audioval_localstack.moto_server", "the AWS emulator"),
    "ray": ("ray start --head", "the Ray head"),
    "ingest": ("-m audioval_ingest", "ingest"),
    "rebuild": ("-m audioval_rebuild", "rebuild"),
    "classify": ("-m audioval_classify", "classify"),
}


class Up:
    """`audioval up` on free ports, its output collected as it comes."""

    def __init__(self, logs: Path) -> None:
        assert AUDIOVAL
        self.ports = StackPorts.free()
        self.process = subprocess.Popen(
            [AUDIOVAL, "up", *self.ports.up_options(), "--log-dir", str(logs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "AUDIOVAL_CLASSIFY_POOL_SIZE": "1"},
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.seen: set[tuple[int, str]] = set()  # (pid, cmdline) of every process below `up`
        for stream, sink in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _read(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    @property
    def ready(self) -> bool:
        return any(line.startswith("ready") for line in self.stderr)

    def note_descendants(self) -> None:
        self.seen |= {(pid, cmdline(pid)) for pid in descendants(self.process.pid)}

    def child(self, name: str) -> int | None:
        """The pid of ``name`` among `up`'s own children, if it is running."""
        marker = CHILDREN[name][0]
        for pid in children(self.process.pid):
            if marker in cmdline(pid):
                return pid
        return None

    def wait_for(
        self, condition: Callable[[], object], what: str, timeout: float = START_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"up exited before {what}: {''.join(self.stderr)}"
            assert time.monotonic() < deadline, f"no {what} in {timeout} s"
            self.note_descendants()
            time.sleep(0.05)
        self.note_descendants()

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + STOP_S
        while True:
            # A zombie or a process gone has no command line: only a live one still matches.
            alive = [(pid, cmd) for pid, cmd in self.seen if cmd and cmdline(pid) == cmd]
            listening = [name for name, port in asdict(self.ports).items() if port_open(int(port))]
            if not alive and not listening:
                return
            assert time.monotonic() < deadline, f"left behind: {alive} listening: {listening}"
            time.sleep(0.2)


def children(root: int) -> list[int]:
    try:
        text = Path(f"/proc/{root}/task/{root}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def descendants(root: int) -> set[int]:
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    started = Up(tmp_path / "logs")
    yield started
    if started.process.poll() is None:
        started.process.kill()  # the watchdog then stops the rest
        started.process.wait(timeout=30)
    started.assert_nothing_left()


@pytest.mark.parametrize("stage", ["before ready", "after ready"])
@pytest.mark.parametrize("name", list(CHILDREN))
def test_a_dead_child_stops_the_stack_which_names_it(up: Up, name: str, stage: str) -> None:
    if stage == "before ready":
        up.wait_for(lambda: up.child(name), f"{name} started")
    else:
        up.wait_for(lambda: up.ready, "ready")
    pid = up.child(name)
    assert pid is not None
    assert up.ready == (stage == "after ready")
    os.kill(pid, signal.SIGKILL)
    assert up.process.wait(timeout=STOP_S) == 1
    message = "".join(up.stderr)
    assert (
        f"{CHILDREN[name][1]} exited with signal SIGKILL {stage.replace('ready', 'the stack was ready')}"
        in message
    )
    assert "stopped everything else" in message
    up.assert_nothing_left()


def test_a_killed_up_leaves_no_orphans(up: Up) -> None:
    up.wait_for(lambda: up.ready, "ready")
    running = " ".join(cmd for _, cmd in up.seen)
    for marker in ("moto_server", "ray start", "audioval_classify", "audioval_localstack.watchdog"):
        assert marker in running, marker
    up.process.kill()
    up.process.wait(timeout=10)
    up.assert_nothing_left()
