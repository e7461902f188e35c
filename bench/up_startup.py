"""How long does ``audioval up`` take to be ready, and which step costs what?

Runs ``audioval up`` on free ports (its own log directory and an empty fingerprint index), waits
for its ``ready in ...`` line, stops it with SIGINT and waits for it to exit; ``--runs`` times.
Prints, per run, the 1-minute load average when it started and the ``ready in`` line, then the
median of each step's time. The steps are when each was done, counted from the start (see
``audioval_cli.stack.local_stack``); classify's own log adds its start-up stages (``classify
start-up`` line: imports, waiting for the head, joining Ray, the pool, serving).

On a shared machine wall times say more about the neighbours than about ``up``, so each run also
sums the CPU seconds (user + system) every process below ``up`` had used when it was ready, by
component: those add up the same on a busy and an idle machine, and bound the idle time from
below (CPU seconds / cores).

Usage::

    uv run --frozen python bench/up_startup.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audioval_cli.stack import StackPorts

READY_S = 300.0
STEP = re.compile(r"([a-z ]+) at ([0-9.]+) s")
# Which component a process below `up` belongs to, by its command line (first match wins).
COMPONENTS = (
    ("emulator", "moto_server"),
    ("ingest", "audioval_ingest"),
    ("rebuild", "audioval_rebuild"),
    ("classify", "audioval_classify"),
    ("console", "audioval_console"),
    ("ray workers", "default_worker"),
    ("ray workers", "ray::"),
    ("ray head", "ray"),
)
TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_by_component(root: int) -> dict[str, float]:
    """CPU seconds used so far by each component below ``root`` (and by ``up`` itself), with
    what their exited children used (as far as they were reaped)."""
    used: dict[str, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17, here from index 11.
        seconds = sum(int(v) for v in stat[11:15]) / TICKS
        name = "up" if pid == root else next((n for n, m in COMPONENTS if m in command), "other")
        used[name] = used.get(name, 0.0) + seconds
    return used


def run_once() -> tuple[float, str, dict[str, float], dict[str, float], dict[str, float]]:
    """(load average, the ready line, step -> seconds, classify's start-up stages, CPU seconds
    by component when ready)."""
    audioval = shutil.which("audioval", path=str(Path(sys.executable).parent))
    assert audioval, "run with the workspace's interpreter (uv run --frozen)"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="up-bench-") as scratch:
        logs = Path(scratch) / "logs"
        process = subprocess.Popen(
            [
                audioval,
                "up",
                *StackPorts.free().up_options(),
                "--log-dir",
                str(logs),
                "--index-dir",
                str(Path(scratch) / "index"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        ready = ""
        cpu: dict[str, float] = {}
        said: list[str] = []
        deadline = time.monotonic() + READY_S
        for line in process.stderr:
            said.append(line)
            if line.startswith("ready in"):
                ready = line.strip()
                cpu = cpu_by_component(process.pid)
                break
            if time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=120)[1]
        if not ready:
            raise RuntimeError(f"audioval up was not ready:\n{''.join(said[-30:])}{rest}")
        stages: dict[str, float] = {}
        for line in (logs / "classify.log").read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("msg") == "classify start-up":
                stages = {k: float(v) for k, v in record.items() if k.endswith("_s")}
    steps = {name.strip(): float(s) for name, s in STEP.findall(ready)}
    steps["ready"] = float(ready.split()[2])
    return load, ready, steps, stages, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    steps: dict[str, list[float]] = {}
    stages: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for _ in range(args.runs):
        load, line, times, classify, cpu = run_once()
        print(f"load {load:.2f}  {line}")
        if classify:
            print("  classify start-up: " + ", ".join(f"{k} {v:.1f}" for k, v in classify.items()))
        cpu["total"] = sum(cpu.values())
        print("  CPU s when ready: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items())))
        for name, value in cpu.items():
            cpus.setdefault(name, []).append(value)
        for name, value in times.items():
            steps.setdefault(name, []).append(value)
        for name, value in classify.items():
            stages.setdefault(name, []).append(value)
    print("median: " + ", ".join(f"{k} {statistics.median(v):.1f} s" for k, v in steps.items()))
    print("CPU s median: " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in cpus.items()))
    if stages:
        print(
            "classify median: "
            + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items())
        )


if __name__ == "__main__":
    main()
