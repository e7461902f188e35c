"""Build the dev corpus: real clips, speech and every bad class, with a manifest split by source.

:func:`build` fetches the Debian packages into ``<cache>/debs``, renders speech into
``<cache>/speech``, plans the corpus (:mod:`audioval_corpus.plan`) and writes it into
``<out>/<scale>-seed<N>/`` with ``manifest.jsonl`` (one JSON object per file) beside it.

The plan is a pure function of the seed and of what the machine holds, so a rerun writes the
same files; files already present are skipped, which makes an interrupted build resumable.

The split is by source: every Debian group (a track, a song's stems, a drum kit), every text
origin of speech and every machine file is train or heldout as a whole; within each stratum
(a package, speech, text/binary/archive files) the groups are ordered by a seeded hash and the
first ~30% are heldout (:mod:`audioval_corpus.plan.splits`).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audioval_corpus.debian import (
    DEBIAN_AUDIO_PACKAGES,
    fetch_packages,
    list_audio_files,
    render_speech,
)
from audioval_corpus.machine_files import find_machine_files
from audioval_corpus.manifest import write_manifest
from audioval_corpus.plan import SCALES, Item, plan_corpus

__all__ = ["build", "run_items"]

Log = Callable[[str], None]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def run_items(items: Sequence[Item], out: Path, *, jobs: int, log: Log) -> dict[str, str]:
    """Make every item whose file is missing; return {rel: error} for those that failed."""
    todo = [i for i in items if not (out / i.rel).exists()]
    errors: dict[str, str] = {}

    def one(item: Item) -> tuple[str, str | None]:
        if item.parent is not None and not (out / item.parent).exists():
            return item.rel, "parent clip missing"
        try:
            _write_atomic(out / item.rel, item.make())
        except (OSError, ValueError, RuntimeError, subprocess.CalledProcessError) as exc:
            detail = (
                exc.stderr.decode(errors="replace")[-200:]
                if isinstance(exc, subprocess.CalledProcessError) and exc.stderr
                else str(exc)
            )
            return item.rel, f"{type(exc).__name__}: {detail.strip()}"
        return item.rel, None

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for rel, error in pool.map(one, todo):
            done += 1
            if error is not None:
                errors[rel] = error
                log(f"  failed {rel}: {error}")
            if done % 100 == 0:
                log(f"  {done}/{len(todo)}")
    return errors


def build(
    out_root: Path,
    *,
    scale_name: str = "small",
    seed: int = 0,
    cache: Path | None = None,
    fetch: bool = True,
    jobs: int = 2,
    log: Log = print,
) -> tuple[Path, list[dict[str, Any]]]:
    """Build (or resume) one corpus; return its directory and manifest rows."""
    scale = SCALES[scale_name]
    cache = cache or out_root
    out = out_root / f"{scale_name}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    if fetch:
        report = fetch_packages(cache, log=log)
        unavailable = report.unavailable
    sources = list_audio_files(cache)
    per_package = Counter(s.package for s in sources)
    log("audio files per package: " + ", ".join(f"{k}={v}" for k, v in sorted(per_package.items())))
    speech = render_speech(cache, count=scale.speech_renders, seed=seed, log=log)
    machine = find_machine_files(cache)
    log(
        f"machine files: text={len(machine.text)} binary={len(machine.binary)} "
        f"archive={len(machine.archive)} images={len(machine.images)}"
    )
    plan = plan_corpus(
        out, scale_name=scale_name, seed=seed, sources=sources, speech=speech, machine=machine
    )
    log(f"plan: {len(plan.good)} good, {len(plan.bad)} bad -> {out}")
    errors = run_items(plan.good, out, jobs=jobs, log=log)
    errors |= run_items(plan.bad, out, jobs=jobs, log=log)
    rows = write_manifest(plan.items, out)
    info = {
        "scale": scale_name,
        "seed": seed,
        "unavailable_packages": unavailable,
        "audio_files_per_package": dict(per_package),
        "failed": errors,
    }
    (out / "build_info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    if unavailable:
        log("unavailable packages: " + ", ".join(f"{k} ({v})" for k, v in unavailable.items()))
    missing_audio = [
        p
        for p in DEBIAN_AUDIO_PACKAGES
        if (cache / "debs" / p / ".extracted").exists() and not per_package[p]
    ]
    if missing_audio:
        log("packages with no usable audio: " + ", ".join(missing_audio))
    return out, rows
