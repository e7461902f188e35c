"""The autoscaler Lambda's archive is complete: unpacked beside boto3 alone, its handler imports.

The Lambda runtime offers the standard library and boto3, nothing else of the venv; so the
archive is zipped the way Pulumi ships it, unpacked, and imported by an interpreter that sees
only the standard library, the unpacked archive and boto3 with its own dependencies.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pulumi

from audioval_infra.autoscaler import HANDLER, lambda_code

# boto3 and what it imports: what the Lambda's Python runtime provides besides the stdlib.
BOTO3_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _zip(archive: pulumi.AssetArchive, into: zipfile.ZipFile, prefix: str = "") -> None:
    assets: dict[str, Any] = archive.assets
    for name, asset in assets.items():
        if isinstance(asset, pulumi.AssetArchive):
            _zip(asset, into, f"{prefix}{name}/")
        else:
            assert isinstance(asset, pulumi.FileAsset)
            into.write(asset.path, f"{prefix}{name}")


def _runtime(directory: Path) -> Path:
    """A directory holding boto3 and its dependencies only (links into this venv)."""
    directory.mkdir()
    for module in BOTO3_RUNTIME:
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


def _unpacked(tmp_path: Path) -> Path:
    path = tmp_path / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        _zip(lambda_code(), archive)
    code = tmp_path / "code"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(code)
    return code


def test_the_archive_holds_the_function_package_and_the_registry_module_only(
    tmp_path: Path,
) -> None:
    code = _unpacked(tmp_path)
    files = sorted(str(p.relative_to(code)) for p in code.rglob("*.py"))
    assert "audioval_pipeline/stream_registry.py" in files
    assert "audioval_stream_autoscaler/handler.py" in files
    assert {f for f in files if f.startswith("audioval_pipeline/")} == {
        "audioval_pipeline/__init__.py",
        "audioval_pipeline/stream_registry.py",
    }
    # Every import of the archive is the standard library, boto3 or the archive itself.
    inside = {p.name for p in code.iterdir()}
    for path in code.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots = {node.module.split(".")[0]}
            else:
                continue
            outside = roots - set(sys.stdlib_module_names) - inside - {"boto3"}
            assert not outside, f"{path.relative_to(code)} imports {sorted(outside)}"


def test_the_handler_imports_from_the_archive_with_only_the_stdlib_and_boto3(
    tmp_path: Path,
) -> None:
    code = _unpacked(tmp_path)
    runtime = _runtime(tmp_path / "runtime")
    module, _, function = HANDLER.rpartition(".")
    probe = f"""
import importlib, json, sys
sys.path[:0] = [{str(code)!r}, {str(runtime)!r}]
handler = getattr(importlib.import_module({module!r}), {function!r})
import boto3
from audioval_stream_autoscaler import ScalingPolicy, policy_from_env
from audioval_pipeline import stream_registry
print(json.dumps({{
    "callable": callable(handler),
    "registry": stream_registry.__file__,
    "boto3": boto3.__file__,
    "policy": policy_from_env({{"AUTOSCALER_MAX_STREAMS": "5"}}) == ScalingPolicy(max_streams=5),
    "third_party": sorted(m for m in ("pydantic", "pydantic_settings", "google", "audioval") if m in sys.modules),
}}))
"""
    # -I: no PYTHON* variables, no user site; -S: no site-packages (so no venv, no .pth links).
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["callable"] is True
    assert found["policy"] is True
    assert found["registry"].startswith(str(code))
    assert found["boto3"].startswith(str(runtime))
    assert found["third_party"] == []


def test_without_the_registry_module_the_handler_would_not_import(tmp_path: Path) -> None:
    """The probe above can fail: an archive missing ``stream_registry.py`` does not import."""
    code = _unpacked(tmp_path)
    (code / "audioval_pipeline" / "stream_registry.py").unlink()
    runtime = _runtime(tmp_path / "runtime")
    module = HANDLER.rpartition(".")[0]
    probe = (
        f"import importlib, sys; sys.path[:0] = [{str(code)!r}, {str(runtime)!r}]; "
        f"importlib.import_module({module!r})"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "stream_registry" in done.stderr
