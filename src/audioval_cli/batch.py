"""``audioval batch SOURCE --out DEST``: the batch validator as a Ray job, through the Jobs API.

The job runs ``audioval_classify.batch`` on the cluster (the local head of ``audioval up`` by
default) with the head's own interpreter: Ray runs a job's entrypoint through a shell on the head
node, in the environment the head was started with, where a bare ``python`` is whatever comes
first on that PATH (not the venv ``ray start`` ran from). So the entrypoint names
``$AUDIOVAL_PYTHON``, which :class:`~audioval_localstack.ray_head.RayHead` exports to its head (a
cluster's bootstrap sets it likewise), falling back to ``python`` on the head's PATH; ``--python``
names an interpreter on the cluster outright. Not the submitter's ``sys.executable``: that path
means nothing on a remote cluster, and even here it may be another checkout than the head's. Ray's token authentication stays on: the token comes from where
Ray keeps it (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``) and goes
in the ``Authorization`` header. The AWS settings of this shell (``AUDIOVAL_AWS_*``) go with
the job, so an ``s3://`` source in the local emulator works the same as in AWS.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

from audioval_localstack.ray_head import default_token_path
from audioval_pipeline.settings import PipelineSettings

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"
# Expanded by the shell Ray runs the entrypoint in, on the head node.
HEAD_PYTHON = '"${AUDIOVAL_PYTHON:-python}"'
FINAL_STATES = {"SUCCEEDED", "FAILED", "STOPPED"}


def ray_token() -> str | None:
    """The Ray token the way Ray looks for it; None when there is none (auth off)."""
    if token := os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return token
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or default_token_path())
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _location(value: str) -> str:
    """An s3:// URI as given; a local path made absolute (the job runs elsewhere)."""
    return value if urlparse(value).scheme == "s3" else str(Path(value).resolve())


def job_command(arguments: list[str], python: str | None = None) -> str:
    """The entrypoint running ``python ARGUMENTS`` with the head's interpreter (or ``python``)."""
    return " ".join([shlex.quote(python) if python else HEAD_PYTHON, shlex.join(arguments)])


def job_environment(settings: PipelineSettings) -> dict[str, str]:
    """What the job needs of this shell's AWS settings.

    Keys travel only with an endpoint override (the local emulator's throwaway keys); against
    AWS the cluster's own role supplies credentials, and secrets never sit in job metadata.
    """
    env = {
        "AUDIOVAL_AWS_REGION": settings.aws_region,
        # Small per-block numpy work: extra BLAS threads only contend with the other actors.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    if settings.aws_endpoint_url:
        env["AUDIOVAL_AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
        if settings.aws_access_key_id and settings.aws_secret_access_key:
            env["AUDIOVAL_AWS_ACCESS_KEY_ID"] = settings.aws_access_key_id.get_secret_value()
            env["AUDIOVAL_AWS_SECRET_ACCESS_KEY"] = (
                settings.aws_secret_access_key.get_secret_value()
            )
    return env


@click.command("batch")
@click.argument("source")
@click.option("--out", "dest", required=True, help="s3://bucket/prefix or a directory.")
@click.option(
    "--address",
    envvar="AUDIOVAL_RAY_DASHBOARD_URL",
    default=DEFAULT_DASHBOARD,
    show_default=True,
    help="The Ray dashboard / Jobs API of the cluster (env AUDIOVAL_RAY_DASHBOARD_URL).",
)
@click.option("--pool-size", default=0, show_default=True, help="Actors (0: the free CPUs).")
@click.option(
    "--python",
    envvar="AUDIOVAL_BATCH_PYTHON",
    default=None,
    help="The interpreter on the cluster that has audioval installed (default: the head's "
    "$AUDIOVAL_PYTHON, else python on its PATH).",
)
@click.option("--wait", is_flag=True, help="Follow the job's log until it ends.")
@click.option(
    "--timeout", default=None, type=float, help="With --wait: give up after this many seconds."
)
def batch_command(
    source: str,
    dest: str,
    address: str,
    pool_size: int,
    python: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Judge every object under SOURCE (s3://bucket/prefix or a directory) as a Ray job.

    Results go to DEST/results/*.jsonl (the `validate` schema plus `key`) and
    DEST/summary.json, and DEST/duplicates.jsonl (groups of near-identical files, from
    fingerprints taken in the same decode pass); a rerun skips what is already judged.
    """
    from ray.job_submission import JobSubmissionClient

    arguments = [
        "-m",
        "audioval_classify.batch",
        _location(source),
        "--out",
        _location(dest),
    ]
    if pool_size:
        arguments += ["--pool-size", str(pool_size)]
    token = ray_token()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        client = JobSubmissionClient(address, headers=headers)
        job_id = client.submit_job(
            entrypoint=job_command(arguments, python),
            submission_id=f"audioval-batch-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}",
            runtime_env={"env_vars": job_environment(PipelineSettings())},
            metadata={"audioval": "batch", "source": source, "dest": dest},
        )
    except (ConnectionError, RuntimeError) as err:
        raise click.ClickException(f"cannot submit to {address}: {err}") from None
    click.echo(f"job       {job_id}")
    click.echo(f"dashboard {address.rstrip('/')}/#/jobs/{job_id}")
    if not wait:
        return
    status = follow(client, job_id, timeout)
    click.echo(f"status    {status}", err=True)
    if status != "SUCCEEDED":
        sys.exit(1)


def follow(client: JobSubmissionClient, job_id: str, timeout: float | None) -> str:
    """Print the job's log as it grows until the job ends; its final status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    while True:
        status = str(client.get_job_status(job_id).value)
        logs = client.get_job_logs(job_id)
        if len(logs) > printed:
            sys.stdout.write(logs[printed:])
            sys.stdout.flush()
            printed = len(logs)
        if status in FINAL_STATES:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise click.ClickException(f"job {job_id} still {status} after {timeout} s")
        time.sleep(1.0)
