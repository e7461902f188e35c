"""The whole validator's CPU time by stage: the package as it is now against itself at a revision.

Two worker processes judge the same corpus files (``threat_class`` real by default, the files
``validate_speed.py`` picks), one with ``audiomodel`` as it is now and one with ``audiomodel``
at ``--speed-against REV`` (its source extracted with ``git archive`` and put first on the
path), interleaved file by file and alternating which goes first; each warms up (every
compiled kernel loaded) before the first file. Per file the least total of ``--repeat``
profiled runs (``analyse_stream(profile=True)`` plus the verdict) is kept. Prints the CPU
milliseconds of each stage on both sides and their ratio, and how many verdicts differ in
anything (decision, score, each finding with its message and evidence, every feature to the
bit). On a shared machine read the ratios, not the seconds.

Usage::

    uv run --frozen python bench/stage_speed.py --speed-against main
    uv run --frozen python bench/stage_speed.py --speed-against main --files 40 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_SOURCE = "libs/audiomodel/src"


def worker(repeat: int) -> None:
    """Judge each path read from stdin; one JSON line per file: stage CPU ms and a summary."""
    import audiomodel.warmup
    from audiomodel.model import load_default_model
    from audiomodel.validator import analyse_stream, verdict_from_analysis

    audiomodel.warmup.warm_up()
    model = load_default_model()
    print("ready", flush=True)
    for line in sys.stdin:
        path = Path(line.strip())
        best: dict[str, float] | None = None
        summary: Any = None
        for _ in range(repeat):
            started = time.process_time()
            with path.open("rb") as stream:
                analysis = analyse_stream(stream, name=path.name, profile=True)
            mark = time.process_time()
            verdict = verdict_from_analysis(analysis, model)
            done = time.process_time()
            stages = {k: float(v) for k, v in analysis.cpu_ms.items()}
            stages["model"] = (done - mark) * 1e3
            stages["other"] = max(0.0, (done - started) * 1e3 - sum(stages.values()))
            if best is None or sum(stages.values()) < sum(best.values()):
                best = stages
            summary = [
                str(verdict.decision),
                float(verdict.score).hex(),
                [
                    (f.code, int(f.severity), f.message, json.dumps(f.evidence, default=str))
                    for f in verdict.findings
                ],
                sorted((k, float(v).hex()) for k, v in analysis.features.items()),
            ]
        print(json.dumps({"stages": best, "summary": summary}), flush=True)


def extract(rev: str, into: Path) -> Path:
    """``audiomodel``'s source at ``rev`` under ``into``; returns the directory to put on the path."""
    archive = subprocess.run(
        ["git", "archive", rev, PACKAGE_SOURCE], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / PACKAGE_SOURCE


def start(source: Path | None, repeat: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", "--repeat", str(repeat)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("a worker did not start")
    return process


def judge(process: subprocess.Popen[str], path: Path) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{path}\n")
    process.stdin.flush()
    result: dict[str, Any] = json.loads(process.stdout.readline())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speed-against", metavar="REV", default="main")
    parser.add_argument("--corpus", type=Path, default=ROOT / ".cache/corpus/full-seed0")
    parser.add_argument("--threat-class", default="real")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="runs per file; the least is kept")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeat)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from validate_speed import corpus_files

    files = corpus_files(
        args.corpus,
        count=args.files,
        label=None,
        min_seconds=args.min_seconds,
        seed=args.seed,
        threat_class=args.threat_class,
    )
    rev = args.speed_against
    with tempfile.TemporaryDirectory(prefix="stage-speed-") as tmp:
        sides = {rev: start(extract(rev, Path(tmp)), args.repeat), "now": start(None, args.repeat)}
        totals: dict[str, dict[str, float]] = {side: {} for side in sides}
        differ = []
        for i, path in enumerate(files):
            order = list(sides) if i % 2 == 0 else list(sides)[::-1]
            results = {side: judge(sides[side], path) for side in order}
            for side, result in results.items():
                for stage, ms in result["stages"].items():
                    totals[side][stage] = totals[side].get(stage, 0.0) + ms
            if results[rev]["summary"] != results["now"]["summary"]:
                differ.append(path.name)
        for process in sides.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    before, after = totals[rev], totals["now"]
    stages = sorted(set(before) | set(after), key=lambda s: -before.get(s, 0.0))
    print(f"{len(files)} files of {args.corpus} ({args.threat_class}), least of {args.repeat} runs")
    print(f"\n| stage | {rev} CPU ms | now CPU ms | now / {rev} |\n| --- | ---: | ---: | ---: |")
    rows = [(s, before.get(s, 0.0), after.get(s, 0.0)) for s in stages]
    rest = [r for r in rows if r[0] != "modem"]
    rows += [("all but modem", sum(r[1] for r in rest), sum(r[2] for r in rest))]
    rows += [("all", sum(before.values()), sum(after.values()))]
    for stage, b, a in rows:
        print(f"| {stage} | {b:.1f} | {a:.1f} | {a / b if b else float('nan'):.3f} |")
    print(f"\nverdicts that differ in anything: {len(differ)} of {len(files)} {differ[:10]}")


if __name__ == "__main__":
    main()
