"""Snapshot every verdict on a corpus, or compare a snapshot with the code as it is now.

A speed change must not change what the validator says. This judges every file of a built dev
corpus (or of a families cache) and writes one JSON line per file: decision, label, score and
each finding's code and severity. ``--compare`` judges again and lists every file whose
decision, findings or score (beyond ``--score-tolerance``) moved.

Usage::

    uv run --frozen python bench/verdict_snapshot.py --out /tmp/before.jsonl
    # ... change the code ...
    uv run --frozen python bench/verdict_snapshot.py --compare /tmp/before.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

_MODEL: Any = None


def _init() -> None:
    global _MODEL
    warnings.filterwarnings("ignore")
    from audiomodel import load_default_model

    _MODEL = load_default_model()


def judge(path: str) -> dict[str, Any]:
    """The parts of one verdict a speed change must leave alone."""
    from audiomodel import validate_path

    verdict = validate_path(Path(path), model=_MODEL)
    return {
        "decision": verdict.decision.value,
        "label": verdict.label.value,
        "score": round(verdict.score, 6),
        "findings": sorted(f"{f.code}:{f.severity.name}" for f in verdict.findings),
    }


def corpus_files(root: Path) -> list[Path]:
    """Every file a corpus (or families cache) manifest names, in manifest order."""
    files = []
    for line in (root / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            files.append(root / json.loads(line)["path"])
    return files


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path("/work/main/.cache/corpus/full-seed0"))
    parser.add_argument("--out", type=Path, help="write the snapshot here")
    parser.add_argument("--compare", type=Path, help="a snapshot to compare against")
    parser.add_argument("--score-tolerance", type=float, default=1e-4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if not args.out and not args.compare:
        parser.error("give --out, --compare or both")

    files = corpus_files(args.corpus)
    with ProcessPoolExecutor(args.jobs, initializer=_init) as pool:
        verdicts = list(pool.map(judge, map(str, files), chunksize=4))
    now = {str(f.relative_to(args.corpus)): v for f, v in zip(files, verdicts, strict=True)}

    if args.out:
        with args.out.open("w") as fh:
            for name, verdict in now.items():
                fh.write(json.dumps({"path": name, **verdict}, sort_keys=True) + "\n")
        print(f"{len(now)} verdicts written to {args.out}")
    if not args.compare:
        return 0

    before = {}
    for line in args.compare.read_text().splitlines():
        doc = json.loads(line)
        before[doc.pop("path")] = doc
    changed = 0
    for name, verdict in now.items():
        old = before.get(name)
        if old is None:
            print(f"new   {name}")
            continue
        moved = [key for key in ("decision", "label", "findings") if old[key] != verdict[key]]
        if abs(old["score"] - verdict["score"]) > args.score_tolerance:
            moved.append(f"score {old['score']:.4f}->{verdict['score']:.4f}")
        if moved:
            changed += 1
            print(f"moved {name}: {', '.join(moved)}")
            if "findings" in moved:
                print(f"      - {sorted(set(old['findings']) - set(verdict['findings']))}")
                print(f"      + {sorted(set(verdict['findings']) - set(old['findings']))}")
    print(f"{changed} of {len(now)} verdicts moved")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
