#!/usr/bin/env bash
# Set up, then run the main job: generate sample files (good and bad) and judge them.
# Usage: scripts/quickstart.sh [output dir for the samples, default ./samples]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
out="${1:-samples}"
uv run --frozen audioval corpus samples --out "$out" >/dev/null
uv run --frozen audioval validate --format table "$out"
