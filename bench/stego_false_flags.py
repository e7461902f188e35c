"""Steganalysis false flags on good audio: every held-out good clip in the renditions of
``bench/good_renditions.py`` and the covers of ``bench/stego_families.py`` (TPDF-dithered ones
included), through :func:`audiomodel.stego.analyse_lsb` alone (what the validator runs on
integer PCM), counting the ``stego.*`` findings of suspicious severity or worse (flags) and at
info level (reports). Faster than the whole validator, so it can count over 1000+ files; the
other findings of the validator are unchanged by the steganalysis and measured by
``bench/good_renditions.py``.

Usage::

    uv run --frozen python bench/stego_false_flags.py .cache/corpus/full-seed0/manifest.jsonl
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import soundfile as sf

from audiomodel.findings import Severity
from audiomodel.stego import analyse_lsb

# The renditions and covers of two sibling scripts (bench/ is no package).
sys.path.insert(0, str(Path(__file__).parent))
good_renditions: Any = importlib.import_module("good_renditions")
families: Any = importlib.import_module("stego_families")

BITS = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def judge(data: bytes) -> tuple[list[str], list[str]] | None:
    """(flagging stego codes, info stego codes) of a WAV/FLAC, or None for non-integer PCM."""
    info = sf.info(io.BytesIO(data))
    bits = BITS.get(info.subtype)
    if bits is None:
        return None
    dtype = "int16" if bits <= 16 else "int32"
    values, _ = sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
    report = analyse_lsb([values], bits_per_sample=bits, channels=values.shape[1])
    stego = [f for f in report.findings if f.code.startswith("stego.")]
    return (
        [f.code for f in stego if f.severity >= Severity.SUSPICIOUS],
        [f.code for f in stego if f.severity == Severity.INFO],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--split", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    root = args.manifest.parent
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    good = [
        r
        for r in rows
        if r["label"] == "good" and r["split"] == args.split and r["format"] in ("wav", "flac")
    ][: args.clips]
    files: Counter[str] = Counter()
    flagged: dict[str, Counter[str]] = defaultdict(Counter)
    reported: Counter[str] = Counter()
    for index, row in enumerate(good):
        print(f"{index + 1}/{len(good)} {row['path']}", file=sys.stderr, flush=True)
        x, rate = sf.read(root / row["path"], always_2d=True)
        x = x[: int(args.max_seconds * rate)]
        renders = {name: render(x, rate) for name, render in good_renditions.RENDITIONS.items()}
        for cover in families.COVERS:
            values, subtype = families.cover_values(x, rate, cover)
            renders[f"cover {cover}"] = families.encode(values, rate, subtype)
        for cover in families.DITHERED:
            values, subtype = families.dithered_values(x, cover, seed=index)
            renders[f"cover {cover}"] = families.encode(values, rate, subtype)
        for name, data in renders.items():
            judged = judge(data)
            if judged is None:
                continue
            files[name] += 1
            flags, infos = judged
            flagged[name].update(set(flags))
            if flags:
                flagged[name]["any"] += 1
            if infos:
                reported[name] += 1
    total = sum(files.values())
    bad = sum(flagged[name]["any"] for name in files)
    print(f"\n### Steganalysis false flags, {len(good)} {args.split} good clips, {total} files\n")
    print("| rendition | files | flagged (stego.*) | reported (info) | codes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name in files:
        codes = ", ".join(f"{c} {n}" for c, n in flagged[name].items() if c != "any")
        print(f"| {name} | {files[name]} | {flagged[name]['any']} | {reported[name]} | {codes} |")
    print(f"| all | {total} | {bad} ({bad / max(total, 1):.2%}) | {sum(reported.values())} | |")


if __name__ == "__main__":
    main()
