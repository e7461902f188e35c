"""CPU seconds by component of a running ``audioval up``, read from ``/proc`` (Linux).

:class:`StackCpu` walks the process tree under ``up``'s pid and sums each process' user + system
CPU (``/proc/PID/stat`` fields 14-15, plus 16-17: reaped children) into components named from
the command line: the AWS emulator (moto), ingest, rebuild, classify, the console, the Ray
workers (``ray::...``: the validator actors), the Ray head's own processes (GCS, raylet,
dashboard, ...) and ``up`` itself. :meth:`StackCpu.snapshot` is cheap (a few dozen small file
reads), so a benchmark takes one before and after each load and prints the difference: where
the machine's CPU went while that load ran. A process that exits between two snapshots loses
its time since the first (the stack's do not exit during a run).

The benchmark's own process (making WAVs, gRPC client) is counted as ``client``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["COMPONENTS", "StackCpu", "component_of", "cpu_table"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Order of the table's rows; the first match of a command line wins.
COMPONENTS = (
    "classify",
    "ray workers",
    "rebuild",
    "ingest",
    "moto",
    "ray head",
    "console",
    "up",
    "client",
)


# Ray's per-node agents name themselves ``ray::...`` like workers, but serve the head.
_RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def component_of(cmdline: str) -> str:
    """The stack component a process with this command line belongs to (``up`` itself is
    known by its pid: its command line names its Ray port)."""
    if cmdline.startswith(_RAY_AGENTS):
        return "ray head"
    if cmdline.startswith("ray::") or "default_worker.py" in cmdline:
        return "ray workers"
    for module, name in (
        ("audioval_classify", "classify"),
        ("audioval_rebuild", "rebuild"),
        ("audioval_ingest", "ingest"),
        ("audioval_console", "console"),
        ("moto.server", "moto"),
        ("audioval_localstack.moto_server", "moto"),
    ):
        if module in cmdline:
            return name
    if "ray" in cmdline:
        return "ray head"  # gcs_server, raylet, dashboard, monitor, client server, ...
    return "up"  # `audioval up`, its watchdog


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) of ``pid``; None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ppid, ticks / _TICK


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class StackCpu:
    """Cumulative CPU seconds of every process under ``root_pid``, by component."""

    def __init__(self, root_pid: int) -> None:
        self._root = root_pid
        self._names: dict[int, str] = {}

    def _descendants(self) -> dict[int, float]:
        stats: dict[int, tuple[int, float]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                found = _stat(int(entry.name))
                if found is not None:
                    stats[int(entry.name)] = found
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        seen: dict[int, float] = {}
        todo = [self._root]
        while todo:
            pid = todo.pop()
            if pid in stats and pid not in seen:
                seen[pid] = stats[pid][1]
                todo.extend(children.get(pid, []))
        return seen

    def snapshot(self) -> dict[str, float]:
        """CPU seconds so far by component (``client``: this process)."""
        totals = dict.fromkeys(COMPONENTS, 0.0)
        for pid, seconds in self._descendants().items():
            if pid not in self._names:
                self._names[pid] = "up" if pid == self._root else component_of(_cmdline(pid))
            totals[self._names[pid]] += seconds
        own = os.times()
        totals["client"] += own.user + own.system
        return totals


def cpu_table(
    phases: Iterable[tuple[str, float, Mapping[str, float], Mapping[str, float]]],
) -> str:
    """A markdown table: CPU seconds by component for each (name, wall s, before, after), with
    each component's share of the phase's total and the total over the machine's CPU-seconds."""
    phases = list(phases)
    cores = os.cpu_count() or 1
    header = "| component | " + " | ".join(f"{name} s | %" for name, *_ in phases) + " |"
    lines = [header, "| --- |" + " ---: | ---: |" * len(phases)]
    deltas = [{k: after[k] - before.get(k, 0.0) for k in after} for _, _, before, after in phases]
    totals = [sum(d.values()) for d in deltas]
    for component in COMPONENTS:
        cells = []
        for delta, total in zip(deltas, totals, strict=True):
            share = delta[component] / total if total else 0.0
            cells.append(f"{delta[component]:.1f} | {share:.0%}")
        lines.append(f"| {component} | " + " | ".join(cells) + " |")
    busy = [
        f"{total:.1f} | {total / (wall * cores):.0%}"
        for (_, wall, _, _), total in zip(phases, totals, strict=True)
    ]
    lines.append("| total (of wall x CPUs) | " + " | ".join(busy) + " |")
    return "\n".join(lines)
