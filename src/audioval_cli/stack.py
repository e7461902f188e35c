"""``audioval up``: the whole pipeline on this machine, in the foreground.

The AWS emulator (moto's server, ``python -m audioval_localstack.moto_server`` on 127.0.0.1), a
Ray head (``ray start --head``, dashboard included, token authentication on), the three services
and the review console run as child processes, the services started the way a deployment starts
them (``python -m audioval_<service>``) and configured only through their environment. The
console's moderator token is ``AUDIOVAL_CONSOLE_TOKEN`` (or ``AUDIOVAL_CONSOLE_TOKENS``) when set,
else a fresh one, printed in its URL. Endpoints are printed once every health check says
SERVING; SIGINT/SIGTERM stops the children (SIGTERM, then SIGKILL after a grace period), then
the Ray head and the emulator, leaving nothing running.

Every child is watched from its start (:mod:`audioval_localstack.supervision`): when one exits,
before or after the stack is ready, ``up`` stops the rest and exits 1 naming it, with its last
lines of output. Each runs in its own process group, and a watchdog process kills those groups
if ``up`` itself dies without stopping them (SIGKILL, OOM), so no orphan keeps a port.

The Ray token is Ray's own: ``RAY_AUTH_TOKEN_PATH`` if set, else ``~/.ray/auth_token``
(generated once, owner-only), so ``audioval batch`` and ``ray`` commands in another shell find
it without being told.

With ``--faults RATE`` the services talk to the emulator through
:class:`audioval_localstack.faults.FaultProxy`, which enforces Kinesis' per-shard limits and
injects AWS' own errors (throttling, 5xx, timeouts) into that share of calls; provisioning still
goes straight to the emulator.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from audioval_cli.index import DEFAULT_INDEX
from audioval_localstack import free_ports, provision
from audioval_localstack.emulator import EmulatorProcess
from audioval_localstack.faults import FAULT_KINDS, FaultProxy
from audioval_localstack.ray_head import RayHead, default_token_path
from audioval_localstack.supervision import (
    Child,
    ChildExitedError,
    Watchdog,
    check_children,
    wait_until,
)
from audioval_pipeline.settings import PipelineSettings

LOCAL_KEY = "testing"  # the emulator accepts any credentials; these never leave the machine


@dataclass
class StackPorts:
    ingest: int = 50051
    rebuild: int = 50052
    classify: int = 50053
    aws: int = 4566
    ray: int = 6379
    dashboard: int = 8265
    # Each service's Prometheus /metrics (plain HTTP on 127.0.0.1).
    ingest_metrics: int = 9151
    rebuild_metrics: int = 9152
    classify_metrics: int = 9153
    console: int = 8080

    @classmethod
    def free(cls) -> StackPorts:
        """Ports free on 127.0.0.1 now, one per endpoint (tests and benchmarks)."""
        return cls(*free_ports(len(fields(cls))))

    def up_options(self) -> list[str]:
        """These ports as ``audioval up`` options (``--ingest-port N`` ...)."""
        return [
            arg
            for f in fields(self)
            for arg in (f"--{f.name.replace('_', '-')}-port", str(getattr(self, f.name)))
        ]


@dataclass
class Stack:
    """A running local stack: the emulator, the service processes and their addresses."""

    ports: StackPorts
    emulator: EmulatorProcess
    ray: RayHead | None = None
    # What the services were started with (a restarted service must get the same).
    environment: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The fault layer the services talk to instead of the emulator, when faults are on.
    proxy: FaultProxy | None = None
    # Every supervised child in start order (emulator, Ray head, services).
    children: dict[str, Child] = field(default_factory=dict)
    # Seconds from the start to each step's end, in order (``audioval up`` prints them).
    timings: dict[str, float] = field(default_factory=dict)

    def endpoints(self) -> dict[str, str]:
        endpoints = {
            "ingest": f"127.0.0.1:{self.ports.ingest}",
            "rebuild": f"127.0.0.1:{self.ports.rebuild} (health only)",
            "classify": f"127.0.0.1:{self.ports.classify}",
            "console": self.console_url,
            "aws": self.emulator.endpoint_url,
            "metrics": ", ".join(
                f"{name} http://127.0.0.1:{port}/metrics"
                for name, port in (
                    ("ingest", self.ports.ingest_metrics),
                    ("rebuild", self.ports.rebuild_metrics),
                    ("classify", self.ports.classify_metrics),
                )
            ),
        }
        if self.ray is not None:
            endpoints["ray"] = self.ray.address
            endpoints["dashboard"] = f"{self.ray.dashboard_url} (token: ray get-auth-token)"
        if self.proxy is not None:
            endpoints["faults"] = f"{self.proxy.endpoint_url} (what the services use)"
        return endpoints

    @property
    def console_url(self) -> str:
        """The review console, logging in with the stack's token when it made one."""
        url = f"http://127.0.0.1:{self.ports.console}/"
        token = self.environment.get("AUDIOVAL_CONSOLE_TOKEN")
        return f"{url}?token={token}" if token else url

    def check(self, stage: str = "") -> None:
        """Raise :class:`ChildExitedError` naming the first child (in start order) that has exited."""
        check_children(self.children.values(), stage)


def _environment(
    ports: StackPorts,
    endpoint: str,
    ray: RayHead,
    *,
    shard_limits: bool,
    index_dir: Path | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    if index_dir is not None:
        # classify's fingerprint index: known-bad references and the accepted catalogue.
        env["AUDIOVAL_CLASSIFY_INDEX_DIR"] = str(index_dir)
    if not shard_limits:
        # ingest and rebuild pace each shard to Kinesis' budget (writes; reads); the bare
        # emulator has no such limit, so pacing would only slow the local stack down to a cloud
        # it is not talking to (reads paced at 2 MiB/s a shard capped a crowd of uploads at 8
        # MiB/s over the 4 local shards: below what classify judges on 2 cores).
        env.setdefault("AUDIOVAL_INGEST_SHARD_WRITE_BYTES_PER_S", "0")
        env.setdefault("AUDIOVAL_INGEST_SHARD_WRITE_RECORDS_PER_S", "0")
        env.setdefault("AUDIOVAL_REBUILD_SHARD_READ_CALLS_PER_S", "0")
        env.setdefault("AUDIOVAL_REBUILD_SHARD_READ_BYTES_PER_S", "0")
        env.setdefault("AUDIOVAL_REBUILD_SHARD_ITERATOR_CALLS_PER_S", "0")
    # Half the head's logical CPUs go to classify's validator actors, so a batch job started
    # alongside still finds CPUs to schedule on (see local_stack).
    env.setdefault("AUDIOVAL_CLASSIFY_POOL_SIZE", str(_cores()))
    if index_dir is not None:
        # "Reject and add as known-bad reference" asks classify's index.
        env["AUDIOVAL_CONSOLE_CLASSIFY_ADDRESS"] = f"127.0.0.1:{ports.classify}"
    if not env.get("AUDIOVAL_CONSOLE_TOKENS"):
        env.setdefault("AUDIOVAL_CONSOLE_TOKEN", secrets.token_urlsafe(18))
    env.update(ray.client_environment())
    env.update(
        {
            "AUDIOVAL_AWS_ENDPOINT_URL": endpoint,
            "AUDIOVAL_AWS_ACCESS_KEY_ID": LOCAL_KEY,
            "AUDIOVAL_AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
            "AUDIOVAL_INGEST_PORT": str(ports.ingest),
            "AUDIOVAL_REBUILD_PORT": str(ports.rebuild),
            "AUDIOVAL_CLASSIFY_PORT": str(ports.classify),
            "AUDIOVAL_INGEST_METRICS_PORT": str(ports.ingest_metrics),
            "AUDIOVAL_REBUILD_METRICS_PORT": str(ports.rebuild_metrics),
            "AUDIOVAL_CLASSIFY_METRICS_PORT": str(ports.classify_metrics),
            "AUDIOVAL_REBUILD_CLASSIFY_ADDRESS": f"127.0.0.1:{ports.classify}",
            "AUDIOVAL_CLASSIFY_RAY_ADDRESS": ray.address,
            "AUDIOVAL_CONSOLE_PORT": str(ports.console),
            # Small per-block numpy work: threads only add contention.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
    )
    return env


def _timings(timings: dict[str, float]) -> str:
    """``41.2 s (emulator at 2.1 s, provisioned at 2.9 s, ...)``: when each step was done."""
    steps = ", ".join(f"{k} at {v:.1f} s" for k, v in timings.items() if k != "ready")
    return f"{timings.get('ready', 0.0):.1f} s ({steps})"


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def wait_http(url: str, deadline: float, check: Callable[[], None] = lambda: None) -> None:
    """Poll ``url`` until it answers 200, or raise TimeoutError at ``deadline``."""

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    wait_until(answers, deadline, check=check, what=url)


def wait_serving(address: str, deadline: float, check: Callable[[], None] = lambda: None) -> None:
    """Poll grpc.health.v1 until SERVING, or raise TimeoutError at ``deadline``.

    ``check`` runs between polls and raises to give up early (a child that died).
    """
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        wait_until(serving, deadline, check=check, what=f"{address} (SERVING)")


@contextmanager
def local_stack(
    ports: StackPorts,
    *,
    startup_timeout: float = 120.0,
    log_dir: Path | None = None,
    fault_rate: float | None = None,
    fault_kinds: Sequence[str] = FAULT_KINDS,
    fault_seed: int = 0,
    kinesis_limits: bool = True,
    index_dir: Path | None = None,
) -> Iterator[Stack]:
    """Start everything, yield when healthy, stop everything on exit.

    Every child is supervised from the moment it starts: if one exits before the stack is ready,
    :class:`ChildExitedError` names it (and quotes its last lines) at once instead of a later timeout.
    Steps that do not depend on each other overlap: the emulator and the Ray head start together;
    the three services start once the emulator is provisioned, while the head is still coming
    up (classify imports its modules meanwhile, then waits for the head's GCS to join it).

    ``index_dir`` (None: no identification) is classify's fingerprint index.

    ``fault_rate`` (None: no fault layer) puts a :class:`FaultProxy` between the services and
    the emulator, injecting ``fault_kinds`` into that share of calls (``fault_seed`` fixes which)
    and, with ``kinesis_limits``, enforcing Kinesis' per-shard limits.
    """
    started = time.monotonic()
    deadline = started + startup_timeout
    watchdog = Watchdog()
    emulator = EmulatorProcess(
        port=ports.aws,
        log_path=log_dir / "aws.log" if log_dir else None,
        watchdog=watchdog,
    )
    stack = Stack(ports=ports, emulator=emulator)

    def lap(step: str) -> None:
        stack.timings[step] = time.monotonic() - started

    try:
        emulator.launch()
        assert emulator.child is not None
        stack.children["aws"] = emulator.child
        # Twice the cores as logical CPUs: classify's actors hold one set, a batch job the
        # other; on a laptop both rarely run flat out at once.
        stack.ray = RayHead(
            port=ports.ray,
            dashboard_port=ports.dashboard,
            num_cpus=2 * _cores(),
            token_path=Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or default_token_path()),
            log_path=log_dir / "ray.log" if log_dir else None,
            watchdog=watchdog,
        ).launch()
        assert stack.ray.child is not None
        stack.children["ray"] = stack.ray.child

        def before_ready() -> None:
            # A head whose start ran into Ray's fixed raylet wait is started again, once.
            if stack.ray is not None and stack.ray.relaunch_if_start_timed_out():
                assert stack.ray.child is not None
                stack.children["ray"] = stack.ray.child
            stack.check("before the stack was ready")

        emulator.wait_ready(deadline, before_ready)
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr(LOCAL_KEY),
            aws_secret_access_key=SecretStr(LOCAL_KEY),
        )
        lap("emulator")
        provision(settings)
        lap("provisioned")
        endpoint = emulator.endpoint_url
        if fault_rate is not None:
            stack.proxy = FaultProxy(
                emulator.endpoint_url,
                fault_rate=fault_rate,
                kinds=fault_kinds,
                enforce_limits=kinesis_limits,
                seed=fault_seed,
                # The services read the same AUDIOVAL_AWS_* environment: outlast their timeout.
                timeout_hold_s=settings.aws_read_timeout_s + 1.0,
            ).start()
            endpoint = stack.proxy.endpoint_url
        env = stack.environment = _environment(
            ports,
            endpoint,
            stack.ray,
            shard_limits=fault_rate is not None and kinesis_limits,
            index_dir=index_dir,
        )

        def start_service(name: str) -> None:
            child = Child(
                name,
                [sys.executable, "-m", f"audioval_{name}"],
                env,
                log_path=log_dir / f"{name}.log" if log_dir else None,
                watchdog=watchdog,
            )
            stack.children[name] = child
            stack.processes[name] = child.process

        # classify waits for the head's GCS by itself (as long as we wait for everything):
        # all three start now, and classify's imports overlap the head's start.
        env.setdefault("AUDIOVAL_CLASSIFY_RAY_CONNECT_TIMEOUT_S", str(startup_timeout))
        for name in ("ingest", "rebuild", "classify"):
            start_service(name)
        wait_serving(f"127.0.0.1:{ports.ingest}", deadline, before_ready)
        lap("ingest")
        wait_serving(f"127.0.0.1:{ports.rebuild}", deadline, before_ready)
        lap("rebuild")
        stack.ray.wait_ready(deadline, before_ready)
        lap("ray head")
        # The console needs only the emulator too, but its imports (matplotlib) would compete
        # with the head's start: it starts once the head is up, while classify joins it.
        start_service("console")
        wait_serving(f"127.0.0.1:{ports.classify}", deadline, before_ready)
        lap("classify")
        wait_http(f"http://127.0.0.1:{ports.console}/healthz", deadline, before_ready)
        lap("console")
        lap("ready")
        yield stack
    finally:
        # A service restarted by hand (tests) is in processes but not among the children.
        supervised = {id(c.process) for c in stack.children.values()}
        stop_processes({n: p for n, p in stack.processes.items() if id(p) not in supervised})
        for name in ("console", "classify", "ingest", "rebuild"):
            if name in stack.children:
                stack.children[name].stop()
        if stack.ray is not None:
            stack.ray.stop()
        if stack.proxy is not None:
            stack.proxy.stop()
        emulator.stop()
        watchdog.close()


def stop_processes(processes: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@click.command("up")
@click.option("--ingest-port", default=50051, show_default=True)
@click.option("--rebuild-port", default=50052, show_default=True)
@click.option("--classify-port", default=50053, show_default=True)
@click.option("--aws-port", default=4566, show_default=True, help="The AWS emulator (moto server).")
@click.option("--ray-port", default=6379, show_default=True, help="The Ray head's GCS.")
@click.option(
    "--dashboard-port", default=8265, show_default=True, help="The Ray dashboard and Jobs API."
)
@click.option("--ingest-metrics-port", default=9151, show_default=True)
@click.option("--rebuild-metrics-port", default=9152, show_default=True)
@click.option("--classify-metrics-port", default=9153, show_default=True)
@click.option(
    "--otlp-endpoint",
    default="",
    help="Send every service's spans to this OTLP/gRPC collector (http://127.0.0.1:4317); "
    "default: no export (trace context is still passed on).",
)
@click.option("--console-port", default=8080, show_default=True, help="The review console.")
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each service's JSON logs here (default: stderr).",
)
@click.option(
    "--startup-timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for every health check.",
)
@click.option(
    "--faults",
    "fault_rate",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Put a fault layer between the services and the emulator and fail this share of "
    "AWS calls (0 enforces Kinesis' shard limits only).",
)
@click.option(
    "--fault-kinds",
    default=",".join(FAULT_KINDS),
    show_default=True,
    help="Comma-separated faults to inject: throttle, 5xx, timeout.",
)
@click.option("--fault-seed", default=0, show_default=True, help="Seed of the fault draws.")
@click.option(
    "--kinesis-limits/--no-kinesis-limits",
    default=True,
    show_default=True,
    help="With --faults: enforce Kinesis' per-shard throughput and record-size limits.",
)
@click.option(
    "--index-dir",
    envvar="AUDIOVAL_INDEX",
    default=str(DEFAULT_INDEX),
    show_default=True,
    help="classify's fingerprint index (known-bad references and the accepted catalogue; "
    "`audioval index add` writes to the same place by default). Empty: no identification.",
)
def up_command(
    ingest_port: int,
    rebuild_port: int,
    classify_port: int,
    aws_port: int,
    ray_port: int,
    dashboard_port: int,
    ingest_metrics_port: int,
    rebuild_metrics_port: int,
    classify_metrics_port: int,
    otlp_endpoint: str,
    console_port: int,
    log_dir: Path | None,
    startup_timeout: float,
    fault_rate: float | None,
    fault_kinds: str,
    fault_seed: int,
    kinesis_limits: bool,
    index_dir: str,
) -> None:
    """Run the local stack in the foreground until Ctrl-C (or SIGTERM)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    if otlp_endpoint:
        # The services' environment is this process' (see _environment).
        for service in ("INGEST", "REBUILD", "CLASSIFY"):
            os.environ.setdefault(f"AUDIOVAL_{service}_TRACE_OTLP_ENDPOINT", otlp_endpoint)
    ports = StackPorts(
        ingest=ingest_port,
        rebuild=rebuild_port,
        classify=classify_port,
        aws=aws_port,
        ray=ray_port,
        dashboard=dashboard_port,
        ingest_metrics=ingest_metrics_port,
        rebuild_metrics=rebuild_metrics_port,
        classify_metrics=classify_metrics_port,
        console=console_port,
    )
    kinds = tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
    if unknown := set(kinds) - set(FAULT_KINDS):
        raise click.BadParameter(
            f"unknown {', '.join(sorted(unknown))}; choose from {', '.join(FAULT_KINDS)}",
            param_hint="--fault-kinds",
        )
    if fault_rate and not kinds:
        raise click.BadParameter("name at least one fault kind", param_hint="--fault-kinds")
    try:
        with local_stack(
            ports,
            startup_timeout=startup_timeout,
            log_dir=log_dir,
            fault_rate=fault_rate,
            fault_kinds=kinds,
            fault_seed=fault_seed,
            kinesis_limits=kinesis_limits,
            index_dir=Path(index_dir).expanduser() if index_dir else None,
        ) as stack:
            for name, address in stack.endpoints().items():
                click.echo(f"{name:<9} {address}")
            click.echo(f"ready in {_timings(stack.timings)}", err=True)
            click.echo("ready: every service is SERVING (Ctrl-C stops everything)", err=True)
            while not stop.wait(0.5):
                stack.check("after the stack was ready")
    except ChildExitedError as err:
        raise click.ClickException(f"{err}\nstopped everything else") from None
    except (TimeoutError, RuntimeError, OSError) as err:
        raise click.ClickException(str(err)) from None
    click.echo("stopped", err=True)
