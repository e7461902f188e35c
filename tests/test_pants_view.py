"""The Pants view (pants.toml + BUILD files) stays true to the uv workspace.

Pants cannot fetch its tools on these machines, so this test does what `pants tailor --check`
and dependency inference would: it evaluates every BUILD file (they are Python syntax), checks
that every Python source is owned by a target, that source roots are the workspace members, that
every import resolves to a first-party module or a declared third-party requirement, and that the
requirements Pants reads are the ones uv locked.
"""

from __future__ import annotations

import ast
import fnmatch
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {
    ".git",
    ".venv",
    ".cache",
    # generated sample audio of the quick start (root level, gitignored)
    "samples",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "dist",
    "build",
}

DEFAULT_SOURCES = {
    "python_sources": (
        "*.py",
        "*.pyi",
        "!test_*.py",
        "!*_test.py",
        "!tests.py",
        "!conftest.py",
        "!test_*.pyi",
        "!*_test.pyi",
        "!tests.pyi",
    ),
    "python_tests": ("test_*.py", "*_test.py", "tests.py"),
    "python_test_utils": ("conftest.py", "test_*.pyi", "*_test.pyi", "tests.pyi"),
}


@dataclass
class Target:
    kind: str
    directory: Path
    sources: tuple[str, ...]
    kwargs: dict[str, object] = field(default_factory=dict)

    def owns(self, path: Path) -> bool:
        if path.parent != self.directory:
            return False
        include = [g for g in self.sources if not g.startswith("!")]
        exclude = [g[1:] for g in self.sources if g.startswith("!")]
        name = path.name
        return any(fnmatch.fnmatch(name, g) for g in include) and not any(
            fnmatch.fnmatch(name, g) for g in exclude
        )


def _walk(root: Path, pattern: str) -> Iterable[Path]:
    for path in sorted(root.rglob(pattern)):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path


def load_targets(root: Path) -> list[Target]:
    """Evaluate every BUILD file with the target types the pants.toml backends provide."""
    targets: list[Target] = []
    for build in _walk(root, "BUILD"):
        directory = build.parent

        def make(kind: str, directory: Path = directory):
            def target(**kwargs: object) -> None:
                sources = kwargs.get("sources") or DEFAULT_SOURCES.get(kind, ())
                targets.append(Target(kind, directory, tuple(sources), kwargs))  # type: ignore[arg-type]

            return target

        namespace = {
            k: make(k)
            for k in (
                *DEFAULT_SOURCES,
                "python_requirements",
                "files",
                "resources",
                "shell_sources",
                "pex_binary",
                "python_distribution",
            )
        }
        exec(compile(build.read_text(), str(build), "exec"), {"__builtins__": {}}, namespace)
    return targets


def source_roots(root: Path) -> list[str]:
    return tomllib.loads((root / "pants.toml").read_text())["source"]["root_patterns"]


def unowned_sources(root: Path) -> list[Path]:
    targets = load_targets(root)
    return [p.relative_to(root) for p in _walk(root, "*.py") if not any(t.owns(p) for t in targets)]


def _module_index(root: Path) -> dict[str, Path]:
    """Every first-party module name -> its file, from the source roots."""
    index: dict[str, Path] = {}
    for pattern in source_roots(root):
        base = root / pattern.strip("/")
        if pattern == "/":
            continue  # the repo root holds tests and scripts, which nothing imports
        for path in _walk(base, "*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            index[".".join(parts)] = path
    return index


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _third_party_modules(root: Path) -> set[str]:
    build = next(t for t in load_targets(root) if t.kind == "python_requirements")
    mapping: dict[str, list[str]] = dict(build.kwargs.get("module_mapping", {}))  # type: ignore[arg-type]
    stubs: dict[str, list[str]] = dict(build.kwargs.get("type_stubs_module_mapping", {}))  # type: ignore[arg-type]
    modules: set[str] = set()
    for line in (build.directory / str(build.kwargs["source"])).read_text().splitlines():
        name = line.split("==")[0].split(";")[0].strip().lower()
        if not name or name.startswith("#"):
            continue
        modules.update(mapping.get(name, stubs.get(name, [name.replace("-", "_")])))
    return modules


def uncovered_imports(root: Path) -> list[str]:
    """Imports that neither a first-party module nor a declared requirement provides."""
    first_party = _module_index(root)
    third_party = _third_party_modules(root)
    problems = []
    for path in _walk(root, "*.py"):
        for name in sorted(_imports(path)):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if name in first_party or any(m.startswith(name + ".") for m in first_party):
                continue
            if any(name == m or name.startswith(m + ".") for m in third_party):
                continue
            if name.rsplit(".", 1)[0] in first_party:  # `from pkg import name` of an attribute
                continue
            problems.append(f"{path.relative_to(root)}: {name}")
    return problems


def test_every_python_source_is_owned_by_a_target() -> None:
    assert unowned_sources(ROOT) == []


def test_a_new_source_without_a_target_is_caught(tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*SKIP_DIRS))
    (tree / "libs/audiomodel/src/audiomodel/newpkg").mkdir()
    (tree / "libs/audiomodel/src/audiomodel/newpkg/thing.py").write_text("X = 1\n")
    assert unowned_sources(tree) == [Path("libs/audiomodel/src/audiomodel/newpkg/thing.py")]


def test_source_roots_are_the_workspace_members() -> None:
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    # /bench: the benchmark scripts are run as scripts and import their siblings by name.
    expected = {f"/{m}/src" for m in members} | {"/src", "/bench", "/"}
    assert set(source_roots(ROOT)) == expected


def test_every_import_is_a_first_party_module_or_a_declared_requirement() -> None:
    assert uncovered_imports(ROOT) == []


def test_first_party_imports_are_declared_dependencies_of_the_importing_package() -> None:
    """What Pants infers from imports, uv needs declared: they must agree per package."""
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    packages = {}
    for member in [*members, "."]:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
        top = {
            p.name
            for p in (ROOT / member / "src").iterdir()
            if p.is_dir() and not p.name.endswith("egg-info")
        }
        # An optional extra counts: a module behind it is imported only by who installs it
        # (servicekit's verdict codec, behind `audioval-servicekit[verdicts]`).
        declared = [
            *project.get("dependencies", []),
            *(d for extra in project.get("optional-dependencies", {}).values() for d in extra),
        ]
        packages[project["name"]] = (
            member,
            top,
            {d.split(">")[0].split("=")[0].split("[")[0].strip() for d in declared},
        )
    module_to_dist = {mod: dist for dist, (_, tops, _) in packages.items() for mod in tops}
    missing = []
    for dist, (member, tops, deps) in packages.items():
        for top in tops:
            for path in _walk(ROOT / member / "src" / top, "*.py"):
                for name in _imports(path):
                    other = module_to_dist.get(name.split(".")[0])
                    if other and other != dist and other not in deps:
                        missing.append(f"{dist} imports {name} but does not depend on {other}")
    assert missing == []


def test_pants_requirements_are_exported_from_uv_lock(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is installed by .ci/run"
    out = tmp_path / "requirements.txt"
    subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-emit-workspace",
            "--no-hashes",
            "--all-groups",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
            "-o",
            str(out),
            "-q",
        ],
        cwd=ROOT,
        check=True,
    )
    assert out.read_text() == (ROOT / "3rdparty/python/requirements.txt").read_text(), (
        "re-export (see 3rdparty/python/BUILD)"
    )
