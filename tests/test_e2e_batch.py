"""`audioval batch` end to end: a Ray job over a prefix in the local S3 emulator.

The job is submitted through the Jobs API of a real Ray head (token auth on), shows in the
dashboard's job list, judges every object, writes results and a summary back to S3, and a rerun
skips everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audiomodel import validate_path
from audioval_corpus.samples import write_samples
from audioval_localstack import Emulator
from audioval_localstack.ray_head import RayHead
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))
BUCKET = "catalogue"


@pytest.fixture(scope="module")
def s3_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Any]]:
    samples = write_samples(tmp_path_factory.mktemp("samples"))
    with Emulator() as emulator:
        settings = _settings(emulator)
        s3 = aws_client("s3", settings)
        s3.create_bucket(Bucket=BUCKET)
        for path in samples:
            s3.put_object(Bucket=BUCKET, Key=f"in/{path.name}", Body=path.read_bytes())
        s3.put_object(Bucket=BUCKET, Key="in/odd/empty.mp3", Body=b"")
        s3.put_object(Bucket=BUCKET, Key="in/odd/garbage.ogg", Body=os.urandom(50_000))
        s3.put_object(Bucket=BUCKET, Key="in/odd/", Body=b"")  # a "folder": not an input
        s3.put_object(Bucket=BUCKET, Key="elsewhere/ignored.wav", Body=b"RIFF")
        yield emulator, s3


def _settings(emulator: Emulator) -> PipelineSettings:
    return PipelineSettings(
        aws_endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _run_batch(emulator: Emulator, head: RayHead) -> subprocess.CompletedProcess[str]:
    assert AUDIOVAL
    env = {
        **os.environ,
        "AUDIOVAL_AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AUDIOVAL_AWS_ACCESS_KEY_ID": "testing",
        "AUDIOVAL_AWS_SECRET_ACCESS_KEY": "testing",
        "AUDIOVAL_RAY_DASHBOARD_URL": head.dashboard_url,
    }
    return subprocess.run(
        [
            AUDIOVAL,
            "batch",
            f"s3://{BUCKET}/in/",
            "--out",
            f"s3://{BUCKET}/out",
            "--wait",
            "--timeout",
            "400",
            "--pool-size",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=500,
    )


def _jobs(head: RayHead) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{head.dashboard_url}/api/jobs/", headers={"Authorization": f"Bearer {head.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        jobs: list[dict[str, Any]] = json.loads(reply.read())
        return jobs


def _results(s3: Any) -> list[dict[str, Any]]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="out/results/")
    records = []
    for item in listing.get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        records += [json.loads(line) for line in body.splitlines()]
    return records


def test_a_batch_job_judges_a_prefix_and_a_rerun_skips_it(
    ray_cluster: RayHead, s3_catalogue: tuple[Emulator, Any], tmp_path: Path
) -> None:
    emulator, s3 = s3_catalogue
    first = _run_batch(emulator, ray_cluster)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    job_id = first.stdout.split("job", 1)[1].split()[0]
    assert f"{ray_cluster.dashboard_url}/#/jobs/{job_id}" in first.stdout
    assert "batch progress" in first.stdout or "batch done" in first.stdout

    (job,) = [j for j in _jobs(ray_cluster) if j.get("submission_id") == job_id]
    assert job["status"] == "SUCCEEDED"
    assert job["metadata"]["audioval"] == "batch"

    inputs = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="in/")["Contents"]
        if not item["Key"].endswith("/")
    ]
    results = _results(s3)
    assert sorted(r["key"] for r in results) == sorted(inputs)
    by_key = {r["key"]: r for r in results}
    for key in inputs:  # the same verdict `audioval validate` gives the same bytes
        local_copy = tmp_path / Path(key).name
        local_copy.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        local = validate_path(local_copy)
        assert by_key[key]["verdict"] == local.decision.value, key
        assert [f["code"] for f in by_key[key]["findings"]] == [f.code for f in local.findings]
        assert by_key[key]["path"] == f"s3://{BUCKET}/{key}"
    assert by_key["in/good-song.wav"]["verdict"] == "accept"
    assert by_key["in/odd/empty.mp3"]["verdict"] == "reject"

    summary = json.loads(s3.get_object(Bucket=BUCKET, Key="out/summary.json")["Body"].read())
    assert summary["files"] == len(inputs)
    assert summary["verdicts"] == dict(Counter(r["verdict"] for r in results))
    assert summary["finding_codes"] == dict(
        Counter(c for r in results for c in {f["code"] for f in r["findings"]})
    )

    again = _run_batch(emulator, ray_cluster)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key="out/summary.json")["Body"].read())
    assert summary["last_run"]["judged"] == 0
    assert summary["last_run"]["skipped_already_judged"] == len(inputs)
    assert len(_results(s3)) == len(inputs), "nothing judged twice"


def test_the_jobs_api_refuses_a_submission_without_the_token(ray_cluster: RayHead) -> None:
    assert AUDIOVAL
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["RAY_AUTH_TOKEN_PATH"] = "/nonexistent/token"
    refused = subprocess.run(
        [AUDIOVAL, "batch", "/tmp", "--out", "/tmp/out", "--address", ray_cluster.dashboard_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "job " not in refused.stdout
    assert "401" in refused.stderr or "auth" in refused.stderr.lower(), refused.stderr[-2000:]
