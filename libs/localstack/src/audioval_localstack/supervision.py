"""Child processes of the local stack that say when they die, and cannot outlive their parent.

Each child runs in its own session (its own process group, so stopping it takes its own children
with it, and a Ctrl-C in the terminal is ours to forward). Its output is copied line by line to
its log (a file, or our stderr) and the last lines are kept, so a death can be reported with
what the child said last.

Orphans: a parent that is SIGKILLed runs no cleanup, and children in their own sessions get no
terminal hangup. PR_SET_PDEATHSIG reaches only direct children (not Ray's GCS and raylet below
``ray start``) and fires when the *thread* that forked exits, not the process. So a
:class:`Watchdog` process (``python -m audioval_localstack.watchdog``) holds the read end of a
pipe whose only writer is the parent: the parent names each child's process group on it, and when
the pipe reaches EOF — the parent is gone, however it went — the watchdog SIGTERMs the groups
still named, then SIGKILLs what is left after a grace period.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "Child",
    "ChildExitedError",
    "Watchdog",
    "check_children",
    "signal_group",
    "stop_child",
    "wait_until",
]

TAIL_LINES = 20


class ChildExitedError(RuntimeError):
    """A child of the stack exited; the message names it and quotes its last lines."""

    def __init__(self, child: Child, *, also: Sequence[str] = (), stage: str = "") -> None:
        self.child = child
        self.returncode = child.process.returncode
        when = f" {stage}" if stage else ""
        lines = [f"{child.name} exited with {_describe(self.returncode)}{when}"]
        if also:
            lines[0] += f" (then also: {', '.join(also)})"
        if tail := child.tail():
            lines.append(f"its last {len(tail)} lines:")
            lines.extend(f"  {line}" for line in tail)
        else:
            lines.append("it wrote nothing")
        if child.log_path is not None:
            lines.append(f"full log: {child.log_path}")
        super().__init__("\n".join(lines))


def _describe(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
    return f"status {returncode}"


class Child:
    """A process started in its own session, its output copied to ``log_path`` (or our stderr).

    Parameters
    ----------
    name
        How reports name it (``classify``, ``the Ray head``).
    command, env
        What to run and with which environment.
    log_path
        Where its output goes; None copies it to our stderr (``discard`` drops it instead).
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        log_path: Path | None = None,
        discard: bool = False,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._last: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._sink: IO[bytes] | None
        if log_path is not None:
            self._sink = log_path.open("ab")
        elif discard:
            self._sink = None
        else:
            # Our standard error as a file descriptor (as an inherited stderr would write to it),
            # not sys.stderr, which a test runner may have replaced.
            self._sink = os.fdopen(os.dup(2), "wb", buffering=0)
        self.process = subprocess.Popen(
            list(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.process.pid  # a new session's leader: its pid is the group id
        self.watchdog = watchdog
        if watchdog is not None:
            watchdog.watch(self.pgid)
        self._copier = threading.Thread(target=self._copy, name=f"log-{name}", daemon=True)
        self._copier.start()

    def _copy(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._last.append(line.decode(errors="replace").rstrip())
            if self._sink is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._sink.write(line)
                    self._sink.flush()
        if self._sink is not None:
            self._sink.close()

    def tail(self) -> list[str]:
        """Its last lines of output (the copier is given a moment to drain a dead child's)."""
        if self.process.poll() is not None:
            self._copier.join(timeout=2.0)
        return list(self._last)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the leader, SIGKILL it after ``grace``, then SIGKILL whatever is left of the group."""
        stop_child(self.process, grace)
        signal_group(self.pgid, signal.SIGKILL)
        if self.watchdog is not None:
            self.watchdog.release(self.pgid)
        self._copier.join(timeout=2.0)


def stop_child(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def check_children(children: Iterable[Child], stage: str = "") -> None:
    """Raise :class:`ChildExitedError` naming the first child (in start order) that has exited."""
    dead = [c for c in children if not c.alive()]
    if dead:
        raise ChildExitedError(dead[0], also=[c.name for c in dead[1:]], stage=stage)


def wait_until(
    ready: Callable[[], bool],
    deadline: float,
    *,
    check: Callable[[], None] = lambda: None,
    what: str,
) -> None:
    """Poll ``ready`` until true; ``check`` (raising) between polls; TimeoutError at ``deadline``."""
    delay = 0.05
    while True:
        check()
        if ready():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready in time")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class Watchdog:
    """A process that kills the named process groups once this process is gone (see module doc)."""

    def __init__(self) -> None:
        read, self._write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "audioval_localstack.watchdog", str(read)],
                pass_fds=(read,),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read)
        self._lock = threading.Lock()

    def _send(self, line: str) -> None:
        with self._lock, contextlib.suppress(OSError):
            os.write(self._write, f"{line}\n".encode())

    def watch(self, pgid: int) -> None:
        self._send(f"watch {pgid}")

    def release(self, pgid: int) -> None:
        self._send(f"release {pgid}")

    def close(self) -> None:
        """End the watchdog (it kills any group still watched) and wait for it."""
        with self._lock:
            if self._write >= 0:
                os.close(self._write)
                self._write = -1
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
