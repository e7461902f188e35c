"""The corpus is dev tooling: no service or Lambda (and so no image) installs it or mutagen."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def _reached(lock: dict[str, Any], start: str) -> set[str]:
    """Every package ``start``'s runtime dependencies (extras included) reach in uv.lock."""
    deps: dict[str, set[str]] = {}
    for package in lock["package"]:
        names = {d["name"] for d in package.get("dependencies", [])}
        for extra in package.get("optional-dependencies", {}).values():
            names |= {d["name"] for d in extra}
        deps[package["name"]] = names
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(deps.get(name, ()))
    return seen


def test_no_service_reaches_the_corpus_or_mutagen() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    services = [p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")]
    services += [
        p.parent.name.replace("_", "-") for p in (ROOT / "functions").glob("*/pyproject.toml")
    ]
    assert "audioval-audiomodel" in _reached(lock, "audioval-classify")
    for service in services:
        reached = _reached(lock, f"audioval-{service}")
        assert not {"audioval-corpus", "mutagen"} & reached, service


def test_the_cli_reaches_the_corpus() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert {"audioval-corpus", "mutagen"} <= _reached(lock, "audioval")
