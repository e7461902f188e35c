"""moto in server mode bound to 127.0.0.1 only: in this process, or as a child process."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from audioval_localstack.supervision import Child, Watchdog, check_children, wait_until

__all__ = ["Emulator", "EmulatorProcess", "free_port", "free_ports"]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports free on ``host`` now (all held open until each has been picked)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


class Emulator:
    """A moto server on ``host:port`` (port 0 picks a free one); use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # moto costs ~1 CPU s to import: only the in-process emulator pays for it
        # (EmulatorProcess, what `audioval up` runs, imports it in its child).
        from moto.server import ThreadedMotoServer

        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        self._lock = threading.Lock()
        self._running = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        # moto's server logs every request through werkzeug; keep only its warnings.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        with self._lock:
            if not self._running:
                self._server.start()
                self._running = True
        return self

    def stop(self) -> None:
        with self._lock:
            if self._running:
                self._server.stop()
                self._running = False

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmulatorProcess:
    """moto's server (``python -m audioval_localstack.moto_server``) on ``host:port`` as a
    supervised child (:class:`Child`).

    What ``audioval up`` runs: a process of its own can die and be named, keeps moto's request
    handling off the stack's interpreter, and is stopped with its process group.
    """

    name = "the AWS emulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_path: Path | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.watchdog = watchdog
        self.child: Child | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def launch(self) -> EmulatorProcess:
        """Start the process; :meth:`wait_ready` waits for it to answer."""
        self.child = Child(
            self.name,
            [
                sys.executable,
                "-m",
                "audioval_localstack.moto_server",  # moto.server, made safe and lean for uploads
                "-H",
                self.host,
                "-p",
                str(self.port),
            ],
            log_path=self.log_path,
            discard=self.log_path is None,  # keep only the tail of what moto prints
            watchdog=self.watchdog,
        )
        return self

    def wait_ready(self, deadline: float, check: Callable[[], None] = lambda: None) -> None:
        wait_until(self._answers, deadline, check=check, what=f"{self.name} on {self.endpoint_url}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 60.0) -> EmulatorProcess:
        self.launch()
        try:
            self.wait_ready(time.monotonic() + timeout, self._check)
        except BaseException:
            self.stop()
            raise
        return self

    def _check(self) -> None:
        if self.child is not None:
            check_children([self.child], "before it was ready")

    def stop(self) -> None:
        child, self.child = self.child, None
        if child is not None:
            child.stop(grace=5.0)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
