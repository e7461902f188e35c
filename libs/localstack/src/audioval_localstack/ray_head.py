"""A local Ray head on 127.0.0.1 with the dashboard and token authentication on.

Started the way an operator starts one (``ray start --head --block``), as a supervised child
process (:class:`~audioval_localstack.supervision.Child`) in its own session so that stopping it
takes every Ray process with it. Every port Ray opens is
bound to loopback (``--node-ip-address 127.0.0.1``, ``--dashboard-host 127.0.0.1``), and token
authentication stays on: clients need ``RAY_AUTH_MODE=token`` and the token, which
:meth:`RayHead.client_environment` hands out.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from audioval_localstack.emulator import free_ports
from audioval_localstack.supervision import Child, Watchdog, check_children, wait_until

__all__ = ["PYTHON_ENV", "RayHead", "default_token_path", "ensure_token", "ray_environment"]

log = logging.getLogger(__name__)

# The interpreter jobs on this head should run with (``audioval batch``'s entrypoint reads it):
# the one the head runs on, which has audioval installed. A bare ``python`` in a job's shell is
# whatever PATH finds, not the venv ``ray start`` was started from.
PYTHON_ENV = "AUDIOVAL_PYTHON"

# What ``ray start`` prints when its own wait for the raylet to register runs out. That wait is a
# fixed 30 s inside Ray (``ray/_private/node.py``), not a setting; on a loaded machine (a test
# run just finished, a build beside it) it can run out with nothing wrong, and the head exits 1.
# That failure, and the dashboard's like it, are worth starting the head again; no other is.
RAYLET_START_TIMEOUT = "timed out during startup"
DASHBOARD_START_FAILED = "Failed to start the dashboard"
# The dashboard's wait is a setting (Ray's default 60 s): long enough for a loaded machine.
DASHBOARD_STARTUP_TIMEOUT_S = 180


def default_token_path() -> Path:
    """Where Ray itself looks for the token when none is configured (``~/.ray/auth_token``)."""
    return Path.home() / ".ray" / "auth_token"


def ensure_token(path: Path) -> str:
    """The token stored at ``path``, generated (readable by the owner only) if there is none."""
    if path.exists() and (token := path.read_text().strip()):
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


def ray_environment(token_path: Path) -> dict[str, str]:
    """What every Ray process and client of this head needs in its environment."""
    return {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray documents this switch for running a multi-node-capable head on one machine;
        # together with --node-ip-address 127.0.0.1 it keeps every listener on loopback.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        # Ray 2.45+ notices a driver started by `uv run` and rebuilds that project's venv for
        # every job and worker; the head's own environment already has audioval installed.
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        "RAY_DASHBOARD_STARTUP_TIMEOUT_S": str(DASHBOARD_STARTUP_TIMEOUT_S),
    }


class RayHead:
    """``ray start --head --block`` on loopback, as a context manager.

    Parameters
    ----------
    port, dashboard_port
        The GCS and dashboard ports (0 picks free ones).
    num_cpus
        Logical CPUs the head advertises (None: Ray counts the machine's).
    token_path
        The token file (generated if missing); None uses a private one under ``temp_dir``.
    log_path
        Where ``ray start``'s own output goes (None: discarded, but for its last lines).
    watchdog
        Kills the head's process group if this process dies without stopping it.
    """

    name = "the Ray head"

    def __init__(
        self,
        *,
        port: int = 0,
        dashboard_port: int = 0,
        num_cpus: int | None = None,
        token_path: Path | None = None,
        log_path: Path | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        # Ray puts unix sockets under the temp dir, whose paths must stay short (108 bytes).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="avray-"))
        self.token_path = token_path or self.temp_dir / "auth_token"
        (
            gcs,
            dashboard,
            self._client_port,
            self._agent_http_port,
            self._agent_grpc_port,
            self._runtime_env_port,
            self._metrics_port,
        ) = free_ports(7)
        self.port = port or gcs
        self.dashboard_port = dashboard_port or dashboard
        self.num_cpus = num_cpus
        self.log_path = log_path
        self.watchdog = watchdog
        self.child: Child | None = None
        self.relaunches = 0
        self.max_relaunches = 1

    @property
    def address(self) -> str:
        """The GCS address drivers pass to ``ray.init``."""
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard_url(self) -> str:
        """The dashboard and Jobs API."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def token(self) -> str:
        return self.token_path.read_text().strip()

    def client_environment(self) -> dict[str, str]:
        """Environment variables a client (driver, job submitter, service) of this head needs."""
        return ray_environment(self.token_path)

    def launch(self) -> RayHead:
        """Start ``ray start --head --block``; :meth:`wait_ready` waits for its Jobs API."""
        ensure_token(self.token_path)
        ray_cli = Path(sys.executable).with_name("ray")
        command = [
            str(ray_cli) if ray_cli.exists() else "ray",
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={self.port}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            f"--ray-client-server-port={self._client_port}",
            f"--dashboard-agent-listen-port={self._agent_http_port}",
            f"--dashboard-agent-grpc-port={self._agent_grpc_port}",
            f"--runtime-env-agent-port={self._runtime_env_port}",
            f"--metrics-export-port={self._metrics_port}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            "--log-style=record",
        ]
        if self.num_cpus is not None:
            command.append(f"--num-cpus={self.num_cpus}")
        env = {**os.environ, **self.client_environment(), PYTHON_ENV: sys.executable}
        # Its own session (Child): stop() signals the whole group, so no Ray process outlives
        # it; ``ray start --block`` exits when any of its processes (GCS, raylet) dies.
        self.child = Child(
            self.name,
            command,
            env,
            log_path=self.log_path,
            discard=self.log_path is None,
            watchdog=self.watchdog,
        )
        return self

    def start(self, timeout: float = 120.0) -> RayHead:
        """Start the head and wait until the dashboard's Jobs API answers."""
        self.launch()
        try:
            self.wait_ready(time.monotonic() + timeout, self.relaunch_if_start_timed_out)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, deadline: float, check: Callable[[], object] | None = None) -> None:
        """Poll the Jobs API until it answers; ``check`` (raising) runs between polls.

        Raises :class:`ChildExitedError` (naming the head, with its last lines) if it exits first.
        """
        assert self.child is not None, "launch() first"
        request = urllib.request.Request(
            f"{self.dashboard_url}/api/jobs/", headers={"Authorization": f"Bearer {self.token}"}
        )

        def answers() -> bool:
            try:
                with urllib.request.urlopen(request, timeout=2.0) as reply:
                    if reply.status != 200:
                        return False
            except (urllib.error.URLError, OSError):
                return False
            # The Jobs API answers before the head's dashboard agent, which runs the jobs, is
            # up; a submission then waits only 10 s for it (a constant in Ray's job head) and
            # fails "please try again later" on a loaded machine. Ready means both listen.
            try:
                socket.create_connection(("127.0.0.1", self._agent_http_port), timeout=2.0).close()
            except OSError:
                return False
            return True

        def checks() -> None:
            if check is not None:
                check()  # the caller's check names the head among its own children first
            # self.child, not the one we started with: ``check`` may have relaunched the head.
            assert self.child is not None
            check_children([self.child], "before it was ready")

        wait_until(answers, deadline, check=checks, what=f"the Ray head on {self.dashboard_url}")

    def relaunch_if_start_timed_out(self) -> bool:
        """Start the head again if it exited because one of Ray's own start-up waits ran out
        (:data:`RAYLET_START_TIMEOUT`, :data:`DASHBOARD_START_FAILED`), at most
        :attr:`max_relaunches` times; True if it did.

        Any other exit is left for the caller's check to report. The ports stay the same, so
        clients already given :attr:`address` and :attr:`dashboard_url` need nothing new.
        """
        child = self.child
        if child is None or child.alive() or self.relaunches >= self.max_relaunches:
            return False
        marks = (RAYLET_START_TIMEOUT, DASHBOARD_START_FAILED)
        if not any(mark in line for line in self._last_words(child) for mark in marks):
            return False
        self.relaunches += 1
        log.warning(
            "%s exited at start-up (one of Ray's start-up waits ran out, status %s): starting it again (%d of %d)",
            self.name,
            child.process.returncode,
            self.relaunches,
            self.max_relaunches,
        )
        child.stop()  # whatever the failed start left behind (a GCS, a dashboard) goes too
        self.launch()
        return True

    def _last_words(self, child: Child) -> list[str]:
        """The head's last lines: its tail, and the end of its log when it has one (a failed
        dashboard start prints its reason above the 20 lines of dashboard log it quotes)."""
        lines = child.tail()
        if self.log_path is not None and self.log_path.exists():
            with self.log_path.open("rb") as log_file:
                log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - 64 * 1024))
                lines += log_file.read().decode(errors="replace").splitlines()
        return lines

    def running(self) -> bool:
        return self.child is not None and self.child.alive()

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM ``ray start``, which stops its processes in order; then SIGKILL any leftover.

        Only the leader gets SIGTERM: signalled together, the GCS dies first and the raylet then
        spends its grace period trying to drain against a GCS that is gone.
        """
        child, self.child = self.child, None
        if child is not None:
            child.stop(grace)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> RayHead:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
