#!/usr/bin/env bash
# Set up, then run every quality gate and the whole test suite (slow and e2e tests included).
# Usage: scripts/check.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

uv run --frozen ruff check .
uv run --frozen ruff format --check .
uv run --frozen mypy
status=0
# One process until a whole parallel run has passed on an idle machine. The suite is ready for
# it: `scripts/check.sh -n auto --dist loadgroup` (conftest.py keeps the tests that start Ray or a
# stack on one worker in turn, every other module whole on one worker).
uv run --frozen pytest "$@" || status=$?
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
if [ "$status" -eq 5 ]; then echo "check: pytest collected no tests" >&2; exit 1; fi
exit "$status"
