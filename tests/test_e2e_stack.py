"""The whole funnel as a user runs it: `audioval up`, then `audioval upload`, then Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from audioval_cli.stack import StackPorts
from audioval_corpus.samples import write_samples

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    assert AUDIOVAL
    stack_ports = StackPorts.free()
    logs = tmp_path_factory.mktemp("logs")
    process = subprocess.Popen(
        [AUDIOVAL, "up", *stack_ports.up_options(), "--log-dir", str(logs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The stack's fingerprint index in the test's own directory, not the user's.
        env={
            **os.environ,
            "AUDIOVAL_CLASSIFY_POOL_SIZE": "2",
            "AUDIOVAL_INDEX": str(tmp_path_factory.mktemp("index")),
        },
    )
    ready = ""
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    while "dashboard" not in ready and time.monotonic() < deadline and process.poll() is None:
        ready += process.stdout.readline()
    ports: dict[str, object] = {**asdict(stack_ports), "process": process}
    assert f"127.0.0.1:{stack_ports.classify}" in ready, (
        ready,
        process.stderr.read() if process.poll() is not None else "",
    )
    yield ports
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def test_every_uploaded_file_gets_the_verdict_validate_gives(
    stack: dict[str, object], samples: list[Path]
) -> None:
    upload = subprocess.run(
        [
            AUDIOVAL,
            "upload",
            "--ingest",
            f"127.0.0.1:{stack['ingest']}",
            "--classify",
            f"127.0.0.1:{stack['classify']}",
            "--user-id",
            "e2e",
            *map(str, samples),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upload.returncode == 0, upload.stderr
    remote = {Path(o["path"]).name: o for o in map(json.loads, upload.stdout.splitlines())}
    local_run = subprocess.run(
        [AUDIOVAL, "validate", *map(str, samples)], capture_output=True, text=True, timeout=300
    )
    local = {Path(o["path"]).name: o for o in map(json.loads, local_run.stdout.splitlines())}
    assert remote.keys() == local.keys() == {p.name for p in samples}
    for name, got in remote.items():
        assert got["verdict"] == local[name]["verdict"], name
        # The stack also identifies tracks against its index (a copy of a track it accepted
        # earlier is a fingerprint.duplicate); plain `validate` has no index to ask.
        assert [f["code"] for f in got["findings"] if not f["code"].startswith("fingerprint.")] == [
            f["code"] for f in local[name]["findings"]
        ], name
        assert got["sha256"] == local[name]["sha256"], "the rebuilt bytes are the uploaded bytes"


def test_the_ray_dashboard_answers_only_with_the_token(stack: dict[str, object]) -> None:
    url = f"http://127.0.0.1:{stack['dashboard']}/api/jobs/"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 401
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"]).read_text().strip()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
        assert isinstance(json.loads(reply.read()), list)


def test_each_service_serves_its_metrics_on_its_own_port(stack: dict[str, object]) -> None:
    def samples(service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        url = f"http://127.0.0.1:{stack[f'{service}_metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    for service in ("ingest", "rebuild", "classify"):
        checks = samples(service).get(
            (
                "audioval_grpc_server_handling_seconds_count",
                frozenset(
                    {
                        ("grpc_service", "grpc.health.v1.Health"),
                        ("grpc_method", "Check"),
                        ("grpc_code", "OK"),
                    }
                ),
            ),
            0.0,
        )
        # `up` asked each server's health before it said ready: each timed those calls.
        assert checks >= 1, service
    assert samples("classify")[("audioval_classify_pool_actors", frozenset())] == 2


def test_nothing_the_stack_runs_listens_beyond_loopback(stack: dict[str, object]) -> None:
    process = stack["process"]
    assert isinstance(process, subprocess.Popen)
    ours = descendants(process.pid) | {process.pid}
    listeners = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True)
    seen = []
    for line in listeners.stdout.splitlines():
        fields = line.split()
        local = fields[3]
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & ours:
            seen.append(local)
            host = local.rsplit(":", 1)[0].strip("[]")
            assert host in ("127.0.0.1", "::ffff:127.0.0.1", "::1"), line
    # The services, the emulator and Ray's GCS and dashboard were all among them.
    ports = {int(local.rsplit(":", 1)[1]) for local in seen}
    for name in ("ingest", "rebuild", "classify", "aws", "ray", "dashboard"):
        assert stack[name] in ports, name


def descendants(root: int) -> set[int]:
    """Every process below ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_interrupting_up_stops_every_process_and_frees_the_ports(stack: dict[str, object]) -> None:
    process = stack["process"]
    assert isinstance(process, subprocess.Popen)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    # Each service held its port: a closed port means its process is gone.
    for name in ("ingest", "rebuild", "classify", "aws", "ray", "dashboard"):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(stack[name]))) != 0, f"{name} port still open"  # type: ignore[call-overload]
