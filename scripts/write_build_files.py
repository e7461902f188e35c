"""Write the missing BUILD files of the Pants view (what `pants tailor` would do).

Usage: uv run --frozen python scripts/write_build_files.py

A directory with library sources gets `python_sources()`, one with tests `python_tests()`,
one with a conftest `python_test_utils()`. Existing BUILD files are left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {
    ".git",
    ".venv",
    ".cache",
    # generated sample audio of the quick start (root level, gitignored)
    "samples",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
}


def targets_for(directory: Path) -> list[str]:
    names = [p.name for p in directory.glob("*.py")]
    tests = [n for n in names if n.startswith("test_") or n.endswith("_test.py")]
    lines = []
    if any(n not in tests and n != "conftest.py" for n in names):
        lines.append("python_sources()")
    if tests:
        lines.append("python_tests()")
    if "conftest.py" in names:
        lines.append("python_test_utils()")
    return lines


def main() -> None:
    for directory in sorted({p.parent for p in ROOT.rglob("*.py")}):
        if SKIP.intersection(directory.relative_to(ROOT).parts) or (directory / "BUILD").exists():
            continue
        lines = targets_for(directory)
        if lines:
            (directory / "BUILD").write_text("\n".join(lines) + "\n")
            sys.stdout.write(f"wrote {(directory / 'BUILD').relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
