"""`audioval batch`'s job runs with the head's interpreter, whatever PATH the head has.

The head is started as `audioval up` starts it (a venv's ``ray`` run by path, no venv on PATH);
the job's entrypoint is the one `audioval batch` submits, with the job's work replaced by an
import of what the batch job needs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audioval_cli.batch import job_command
from audioval_localstack.ray_head import RayHead

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PROBE = ["-c", "import sys, audioval_classify.batch; print('interpreter', sys.executable)"]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    venv_bin = str(Path(sys.executable).parent)
    bare_path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", bare_path or "/usr/bin:/bin")
        with RayHead(num_cpus=1, log_path=tmp_path_factory.mktemp("ray") / "ray.log") as started:
            yield started


def run_job(head: RayHead, entrypoint: str) -> tuple[str, str]:
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(
        head.dashboard_url, headers={"Authorization": f"Bearer {head.token}"}
    )
    job = client.submit_job(entrypoint=entrypoint)
    deadline = time.monotonic() + 120
    while (status := str(client.get_job_status(job).value)) not in {
        "SUCCEEDED",
        "FAILED",
        "STOPPED",
    }:
        assert time.monotonic() < deadline, f"job still {status}"
        time.sleep(0.5)
    return status, client.get_job_logs(job)


def test_the_batch_entrypoint_runs_an_interpreter_that_imports_audioval(head: RayHead) -> None:
    status, logs = run_job(head, job_command(PROBE))
    assert status == "SUCCEEDED", logs
    assert f"interpreter {sys.executable}" in logs


def test_a_bare_python_on_that_head_cannot_import_audioval(head: RayHead) -> None:
    # The failure the default avoids: what `python` finds on the head's PATH is not the venv.
    status, logs = run_job(head, job_command(PROBE, python="python"))
    assert status == "FAILED", logs


def test_an_interpreter_named_by_the_submitter_is_used_as_given(head: RayHead) -> None:
    status, logs = run_job(head, job_command(PROBE, python=sys.executable))
    assert status == "SUCCEEDED", logs
    assert f"interpreter {sys.executable}" in logs
