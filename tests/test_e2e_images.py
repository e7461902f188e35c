"""The ingest image, built by podman on a locally made base, serves, reports healthy through its
own HEALTHCHECK, takes an upload into the pipeline and stops cleanly on SIGTERM.

``scripts/build_images.sh ingest`` builds it from services/Dockerfile (or reuses what is built).
The container keeps the image's defaults (0.0.0.0:50051 in its own network namespace, which the
launcher hands to the service and the health probe reads); its port is published on the
host's loopback, and slirp4netns lets it reach the AWS emulator on the host's loopback as
10.0.2.2. Needs root and the container packages of scripts/setup.sh (CI has both).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf import json_format
from pydantic import SecretStr

from audioval.v1 import ingest_pb2, ingest_pb2_grpc, pipeline_pb2
from audioval_localstack import Emulator, free_port, provision
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/audioval-ingest:dev"
IMAGE_PORT = 50051
# slirp4netns' address for the host's loopback (with allow_host_loopback=true).
HOST_LOOPBACK_FROM_CONTAINER = "10.0.2.2"
# A base made from scratch (debootstrap) plus the build took about 70 s here.
BUILD_TIMEOUT_S = 1200

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def podman(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``podman args``; the caller checks the return code."""
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def podman_ok(*args: str, timeout_s: float = 60) -> str:
    """Run ``podman args`` and return its stdout; fail with its stderr if it fails."""
    result = podman(*args, timeout_s=timeout_s)
    assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def ingest_image() -> str:
    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.fail("the image test needs root and podman: run scripts/setup.sh as root")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build_images.sh"), "ingest"],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return IMAGE


@pytest.fixture
def pipeline() -> Iterator[PipelineSettings]:
    """The pipeline's resources under names of this test's own, removed afterwards.

    moto keeps its state per process, not per emulator: under the default names an upload left
    behind here would show up in the other end-to-end tests' queue and tables.
    """
    suffix = uuid.uuid4().hex[:8]
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
            stream_registry_table=f"image-test-{suffix}-registry",
            stream_name_prefix=f"image-test-{suffix}-chunks",
            manifest_queue=f"image-test-{suffix}-manifests.fifo",
            dead_letter_queue=f"image-test-{suffix}-dlq.fifo",
            verdict_table=f"image-test-{suffix}-verdicts",
        )
        created = provision(settings)
        try:
            yield settings
        finally:
            kinesis = aws_client("kinesis", settings)
            for stream in created["streams"]:
                kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
            sqs = aws_client("sqs", settings)
            for url in (created["queue_url"], created["dlq_url"]):
                sqs.delete_queue(QueueUrl=url)
            dynamodb = aws_client("dynamodb", settings)
            for table in (settings.verdict_table, settings.stream_registry_table):
                dynamodb.delete_table(TableName=table)


def _pipeline_environment(settings: PipelineSettings) -> list[str]:
    """``--env`` flags that point the container at ``settings``' resources on the host."""
    assert settings.aws_endpoint_url is not None
    emulator_port = settings.aws_endpoint_url.rsplit(":", 1)[1]
    env = {
        "AUDIOVAL_AWS_ENDPOINT_URL": f"http://{HOST_LOOPBACK_FROM_CONTAINER}:{emulator_port}",
        "AUDIOVAL_AWS_ACCESS_KEY_ID": "testing",
        "AUDIOVAL_AWS_SECRET_ACCESS_KEY": "testing",
        "AUDIOVAL_STREAM_REGISTRY_TABLE": settings.stream_registry_table,
        "AUDIOVAL_STREAM_NAME_PREFIX": settings.stream_name_prefix,
        "AUDIOVAL_MANIFEST_QUEUE": settings.manifest_queue,
        "AUDIOVAL_DEAD_LETTER_QUEUE": settings.dead_letter_queue,
        "AUDIOVAL_VERDICT_TABLE": settings.verdict_table,
    }
    return [flag for name, value in env.items() for flag in ("--env", f"{name}={value}")]


@pytest.fixture
def container(ingest_image: str, pipeline: PipelineSettings) -> Iterator[tuple[str, int]]:
    """The ingest container, running; yields its name and its port on the host's loopback."""
    ulimits = subprocess.run(
        [str(ROOT / "scripts" / "podman_ulimits.sh")],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.split()
    name = f"audioval-ingest-test-{uuid.uuid4().hex[:8]}"
    host_port = free_port()
    podman_ok(
        "run",
        "--detach",
        "--name",
        name,
        *ulimits,
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "--publish",
        f"127.0.0.1:{host_port}:{IMAGE_PORT}",
        # The image listens on 0.0.0.0 of its own namespace; as in the fleet, plaintext there
        # must be asked for (only the host's loopback reaches it here).
        "--env",
        "AUDIOVAL_INGEST_ALLOW_INSECURE_NON_LOOPBACK=true",
        *_pipeline_environment(pipeline),
        ingest_image,
    )
    try:
        yield name, host_port
    finally:
        podman("rm", "--force", "--time", "0", name)


def _host_probe(address: str, *service: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "grpc_health_probe.py"), address, *service],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ingest_image_is_healthy_takes_an_upload_and_stops_cleanly_on_sigterm(
    container: tuple[str, int], pipeline: PipelineSettings
) -> None:
    name, host_port = container

    # The image's own HEALTHCHECK (grpc-health-probe inside the container).
    eventually(
        lambda: podman("healthcheck", "run", name).returncode == 0, "a healthy container", 60
    )
    assert podman_ok("inspect", name, "--format", "{{.State.Health.Status}}") == "healthy"
    # From the host, through the published port, for the service itself too.
    address = f"127.0.0.1:{host_port}"
    for service in ((), ("audioval.v1.IngestService",)):
        served = _host_probe(address, *service)
        assert (served.returncode, served.stdout.strip()) == (0, "SERVING"), served.stderr
    assert podman_ok("exec", name, "id", "-u") == "10001"
    # The launcher exec'd the service: Python itself is PID 1, so SIGTERM reaches its handler.
    pid1 = podman_ok("exec", name, "cat", "/proc/1/cmdline").split("\0")
    assert pid1[1:3] == ["-m", "audioval_ingest"], pid1

    # An upload goes through the container to the emulator on the host: its manifest is queued.
    content = os.urandom(3000)
    with grpc.insecure_channel(address) as channel:
        receipt = ingest_pb2_grpc.IngestServiceStub(channel).UploadTrack(
            iter(
                [
                    ingest_pb2.UploadTrackRequest(
                        metadata=ingest_pb2.TrackMetadata(
                            user_id="image-test", track_name="noise.bin", size_bytes=len(content)
                        )
                    ),
                    ingest_pb2.UploadTrackRequest(chunk=content),
                ]
            ),
            timeout=30,
        )
    assert receipt.sha256 == hashlib.sha256(content).hexdigest()
    sqs = aws_client("sqs", pipeline)
    queue_url = sqs.get_queue_url(QueueName=pipeline.manifest_queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    manifests = [json_format.Parse(m["Body"], pipeline_pb2.Manifest()) for m in messages]
    assert [(m.track_id, m.size_bytes) for m in manifests] == [(receipt.track_id, len(content))]
    assert manifests[0].chunks[0].stream_name.startswith(pipeline.stream_name_prefix)

    # SIGTERM (podman stop's signal) drains and exits 0 well within the grace period.
    podman_ok("stop", "--time", "30", name, timeout_s=60)
    state = podman_ok("inspect", name, "--format", "{{.State.ExitCode}} {{.State.Status}}")
    assert state == "0 exited"
    logs = podman("logs", name)
    assert '"signal": "SIGTERM"' in logs.stdout + logs.stderr
    assert _host_probe(address).returncode == 1
