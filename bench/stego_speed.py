"""Cost of the steganalysis stage: the analyzer as it is now against itself at a git revision.

Runs :class:`audiomodel.stego.LsbAnalyzer` the way the validator does (blocks of
``BLOCK_FRAMES`` frames as stored: int16 for 16-bit and 8-bit, left-justified int32 for 24-bit;
16-bit files hand the report the histogram of their values, as the signal analyzer does) over
the same real music files (integer PCM, ``threat_class`` real, a seeded shuffle), the package
now and the package at ``--speed-against REV`` interleaved file by file, and checks that both
give the same findings (code, severity, message, evidence) and the same features, to the bit.
CPU time (``process_time``); on a shared machine read the ratio, not the seconds.

Usage::

    uv run --frozen python bench/stego_speed.py --speed-against main --files 40
    uv run --frozen python bench/stego_speed.py --speed-against main --bits 24  # 24-bit only
    uv run --frozen python bench/stego_speed.py --profile --files 40   # cProfile of now only
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import soundfile as sf

import audiomodel.stego
from audiomodel.signal import to_int16
from audiomodel.validator import BLOCK_FRAMES

BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def real_files(corpus: Path, count: int, seed: int, bits: int | None = None) -> list[Path]:
    """``count`` integer-PCM music files of the corpus (train split), by a seeded shuffle;
    ``bits``: only files of that sample width."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open()]
    chosen = [
        corpus / r["path"]
        for r in rows
        if r["threat_class"] == "real"
        and r["split"] == "train"
        and r.get("subtype") in BITS
        and (bits is None or BITS[r["subtype"]] == bits)
    ]
    order = np.random.default_rng(seed).permutation(len(chosen))
    return [chosen[i] for i in order[:count]]


def load(path: Path) -> tuple[list[np.ndarray], int, int, np.ndarray | None]:
    """The blocks the validator hands the analyzer, bits, channels and the 16-bit histogram."""
    info = sf.info(str(path))
    bits = BITS[info.subtype]
    if bits == 16:
        values = sf.read(str(path), dtype="int16", always_2d=True)[0]
    elif bits > 16:
        values = sf.read(str(path), dtype="int32", always_2d=True)[0]
    else:
        values = to_int16(sf.read(str(path), dtype="float32", always_2d=True)[0])
    blocks = [values[i : i + BLOCK_FRAMES] for i in range(0, values.shape[0], BLOCK_FRAMES)]
    counts = None
    if bits == 16:
        counts = np.bincount(values.reshape(-1).view(np.uint16), minlength=1 << 16)
    return blocks, bits, values.shape[1], counts


def run(package: ModuleType, clip: tuple[list[np.ndarray], int, int, np.ndarray | None]) -> Any:
    """The report of ``package``'s analyzer on one clip, as the validator makes it."""
    blocks, bits, channels, counts = clip
    analyzer = package.LsbAnalyzer(bits_per_sample=bits, channels=channels, count_values=bits != 16)
    for block in blocks:
        analyzer.update(block)
    return analyzer.report(value_counts=counts if analyzer.wants_value_counts else None)


def summary(report: Any) -> tuple[Any, ...]:
    """Everything a report says, for an exact comparison."""
    findings = [
        (f.code, int(f.severity), f.message, json.dumps(f.evidence, sort_keys=True, default=str))
        for f in report.findings
    ]
    features = sorted((k, float(v).hex()) for k, v in report.features.items())
    return (findings, float(report.estimated_fraction).hex(), features)


def reference_package(rev: str, tmp: Path) -> ModuleType:
    """``audiomodel.stego`` at ``rev``, imported as ``stego_ref``."""
    prefix = "libs/audiomodel/src/audiomodel/stego/"
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, prefix],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    root = tmp / "stego_ref"
    root.mkdir()
    for name in names:
        if not name.endswith(".py"):
            continue
        text = subprocess.run(
            ["git", "show", f"{rev}:{name}"], check=True, capture_output=True, text=True
        ).stdout
        text = re.sub(r"\baudiomodel\.stego\b", "stego_ref", text)
        (root / Path(name).name).write_text(text)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("stego_ref")


def speed(clips: list[Any], rev: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        reference = reference_package(rev, Path(tmp))
        # Warm-up (numba loads its cache or compiles, lru tables fill): one untimed pass over
        # every clip. Each sample width, channel count and length (a last partial window, a
        # whole one) meets kernels in layouts of its own, and the reference's copy has no
        # cache: a layout first met while timed would count its compilation (seconds a
        # kernel) against the reference.
        for clip in clips:
            run(reference, clip)
            run(audiomodel.stego, clip)
        spent = {"reference": 0.0, "now": 0.0}
        differ = 0
        for _ in range(rounds):
            for clip in clips:
                started = time.process_time()
                before = summary(run(reference, clip))
                middle = time.process_time()
                after = summary(run(audiomodel.stego, clip))
                spent["reference"] += middle - started
                spent["now"] += time.process_time() - middle
                differ += before != after
    audio = sum(sum(b.shape[0] for b in c[0]) for c in clips)
    print(
        f"stego stage on {len(clips)} real clips ({audio} frames) x {rounds}: "
        f"{rev} {spent['reference']:.2f} s CPU, now {spent['now']:.2f} s, "
        f"now/{rev} = {spent['now'] / spent['reference']:.3f}; reports differ on "
        f"{differ} of {len(clips) * rounds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bits", type=int, help="only files of this sample width (8, 16, 24)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--speed-against", metavar="REV", help="time now against REV")
    parser.add_argument("--profile", action="store_true", help="cProfile of the analyzer now")
    parser.add_argument("--sort", default="tottime", help="profile order (pstats key)")
    args = parser.parse_args()
    clips = [load(p) for p in real_files(args.corpus, args.files, args.seed, args.bits)]
    if args.speed_against:
        speed(clips, args.speed_against, args.rounds)
    if args.profile:
        run(audiomodel.stego, clips[0])
        profile = cProfile.Profile()
        profile.enable()
        for clip in clips:
            run(audiomodel.stego, clip)
        profile.disable()
        pstats.Stats(profile).sort_stats(args.sort).print_stats(45)


if __name__ == "__main__":
    main()
