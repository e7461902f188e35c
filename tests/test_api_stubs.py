"""The committed audioval.v1 stubs are exactly what the protos generate, and buf lint is clean."""

from __future__ import annotations

import filecmp
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "libs" / "api" / "src" / "audioval" / "v1"


def test_regenerating_the_stubs_changes_nothing(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = tmp_path / "audioval" / "v1"
    generated = sorted(p.name for p in fresh.glob("*_pb2*.py*"))
    committed = sorted(p.name for p in COMMITTED.glob("*_pb2*.py*"))
    assert generated == committed, "run: uv run python scripts/gen_protos.py"
    _, mismatch, errors = filecmp.cmpfiles(fresh, COMMITTED, generated, shallow=False)
    assert not mismatch and not errors, f"stale stubs {mismatch}: run scripts/gen_protos.py"


@pytest.mark.parametrize(
    "module", ["verdict_pb2", "ingest_pb2_grpc", "classify_pb2_grpc", "pipeline_pb2"]
)
def test_stubs_import(module: str) -> None:
    assert importlib.import_module(f"audioval.v1.{module}")


def test_contract_names_are_in_the_api() -> None:
    from audioval.v1 import classify_pb2, ingest_pb2, verdict_pb2

    ingest = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"]
    upload = ingest.methods_by_name["UploadTrack"]
    assert upload.client_streaming and not upload.server_streaming
    oneof = ingest_pb2.UploadTrackRequest.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.name for f in oneof.fields} == {"metadata", "chunk"}
    assert {"user_id", "track_name", "content_type", "size_bytes"} <= set(
        ingest_pb2.TrackMetadata.DESCRIPTOR.fields_by_name
    )
    assert {"track_id", "size_bytes", "sha256"} <= set(
        ingest_pb2.UploadTrackResponse.DESCRIPTOR.fields_by_name
    )
    classify = classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"]
    assert {"ValidateTrack", "GetVerdict", "WatchVerdicts"} <= set(classify.methods_by_name)
    assert classify.methods_by_name["WatchVerdicts"].server_streaming
    fields = set(verdict_pb2.Verdict.DESCRIPTOR.fields_by_name)
    assert {"track_id", "decision", "label", "score", "findings", "model_version"} <= fields
    assert verdict_pb2.DECISION_UNSPECIFIED == 0 and verdict_pb2.DECISION_REJECT
    assert verdict_pb2.LABEL_UNSPECIFIED == 0 and verdict_pb2.LABEL_MOCK


def test_buf_lint_is_clean() -> None:
    buf = shutil.which("buf", path=str(Path(sys.executable).parent)) or shutil.which("buf")
    assert buf, "buf comes with the dev dependencies (buf-bin)"
    result = subprocess.run([buf, "lint"], cwd=ROOT / "protos", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
