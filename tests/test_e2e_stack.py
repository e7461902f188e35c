"""The whole funnel as a user runs it: `audioval up`, then `audioval upload`, then Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audiomodel.corpus.samples import write_samples
from audioval_localstack import free_ports

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    assert AUDIOVAL
    ingest, rebuild, classify, aws = free_ports(4)
    logs = tmp_path_factory.mktemp("logs")
    process = subprocess.Popen(
        [
            AUDIOVAL,
            "up",
            "--ingest-port",
            str(ingest),
            "--rebuild-port",
            str(rebuild),
            "--classify-port",
            str(classify),
            "--aws-port",
            str(aws),
            "--log-dir",
            str(logs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AUDIOVAL_CLASSIFY_VALIDATOR_WORKERS": "2"},
    )
    ready = ""
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    while "classify" not in ready and time.monotonic() < deadline and process.poll() is None:
        ready += process.stdout.readline()
    ports: dict[str, object] = {
        "ingest": ingest,
        "rebuild": rebuild,
        "classify": classify,
        "aws": aws,
        "process": process,
    }
    assert f"127.0.0.1:{classify}" in ready, (
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
        assert [f["code"] for f in got["findings"]] == [
            f["code"] for f in local[name]["findings"]
        ], name
        assert got["sha256"] == local[name]["sha256"], "the rebuilt bytes are the uploaded bytes"


def test_interrupting_up_stops_every_process_and_frees_the_ports(stack: dict[str, object]) -> None:
    process = stack["process"]
    assert isinstance(process, subprocess.Popen)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    # Each service held its port: a closed port means its process is gone.
    for name in ("ingest", "rebuild", "classify", "aws"):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(stack[name]))) != 0, f"{name} port still open"  # type: ignore[call-overload]
