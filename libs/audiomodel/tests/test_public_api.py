"""The public front of audiomodel: every exported name resolves, and importing it stays cheap."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import audiomodel

HEAVY = ("numpy", "scipy", "soundfile", "threadpoolctl")


def _modules_loaded_by(code: str) -> set[str]:
    """Module names a fresh interpreter holds after running ``code``."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("name", audiomodel.__all__)
def test_every_exported_name_resolves_to_the_object_of_its_module(name: str) -> None:
    value = getattr(audiomodel, name)
    home = audiomodel._LAZY.get(name)
    if home is not None:
        assert value is getattr(importlib.import_module(home), name)
    assert name in dir(audiomodel)


def test_star_import_gives_exactly_the_exported_names() -> None:
    namespace: dict[str, object] = {}
    exec("from audiomodel import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(audiomodel.__all__)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        audiomodel.no_such_name  # noqa: B018


def test_plain_import_loads_no_numpy_scipy_or_soundfile() -> None:
    loaded = _modules_loaded_by("import audiomodel")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert "audiomodel.validator" not in loaded


def test_verdict_types_load_without_the_validator() -> None:
    loaded = _modules_loaded_by(
        "from audiomodel import CODES, Decision, Finding, Label, Severity, Thresholds, Verdict"
    )
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


def test_validator_names_load_their_module_on_first_use() -> None:
    loaded = _modules_loaded_by("from audiomodel import validate_path")
    assert {"audiomodel.validator", "numpy", "soundfile"} <= loaded


def test_lazy_names_are_the_ones_imported_for_type_checkers() -> None:
    """mypy reads the ``if TYPE_CHECKING:`` imports; the runtime reads ``_LAZY``: they must agree,
    or a name would type-check and fail at run time (or the reverse)."""
    tree = ast.parse(Path(audiomodel.__file__).read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                typed.update({alias.name: stmt.module for alias in stmt.names})
    assert typed == audiomodel._LAZY
    eager = set(audiomodel.__all__) - set(typed)
    assert all(name in vars(audiomodel) for name in eager)
