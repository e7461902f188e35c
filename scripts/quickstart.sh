#!/usr/bin/env bash
# Set up, then run the main job on the local embedded stack: start `audioval up` (AWS emulator
# + Ray head with dashboard + ingest + rebuild + classify on 127.0.0.1), stream the sample files
# through the funnel with `audioval upload`, print each verdict, judge the same files again as a
# Ray batch job (`audioval batch`), and stop the stack again.
# Usage: scripts/quickstart.sh [output dir for the samples, default ./samples]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
out="${1:-samples}"
logs="$(mktemp -d)"
uv run --frozen audioval corpus samples --out "$out" >/dev/null

uv run --frozen audioval up --log-dir "$logs" >"$logs/up.out" 2>"$logs/up.err" &
stack=$!
trap 'kill -INT "$stack" 2>/dev/null; wait "$stack" 2>/dev/null || true' EXIT
for _ in $(seq 1 360); do  # up to 180 s for every health check
  grep -q "^ready: every service is SERVING" "$logs/up.err" 2>/dev/null && break
  kill -0 "$stack" 2>/dev/null || { cat "$logs/up.err" >&2; exit 1; }
  sleep 0.5
done
grep -q "^ready: every service is SERVING" "$logs/up.err" || { echo "quickstart: the stack did not become ready" >&2; exit 1; }
cat "$logs/up.out" >&2
uv run --frozen audioval upload --user-id quickstart "$out"/*
dashboard="$(awk '$1 == "dashboard" {print $2}' "$logs/up.out")"
AUDIOVAL_RAY_DASHBOARD_URL="$dashboard" uv run --frozen audioval batch "$out" --out "$logs/batch" --wait >&2
echo "quickstart: batch summary ($logs/batch/summary.json):" >&2
cat "$logs/batch/summary.json"
echo "quickstart: service logs are in $logs" >&2
