"""moto in server mode, in this process, bound to 127.0.0.1 only."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
from types import TracebackType

from moto.server import ThreadedMotoServer

__all__ = ["Emulator", "free_port", "free_ports"]


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
