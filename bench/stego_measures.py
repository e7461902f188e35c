"""The comb and displaced-sample measures (``audiomodel.stego.comb``, ``.impulses``) per file.

Runs the steganalysis alone (:func:`audiomodel.stego.analyse_lsb`, what the validator runs on
integer PCM) over WAV/FLAC files or directories of them, and prints per file the comb's
two-value runs and their pair-aligned share, the predictable sub-blocks and the lone impulses
found in them, and the ``stego.*`` codes that flag; then a summary per directory. The figures
of ``libs/audiomodel/docs/steganalysis.md`` (v4) come from it.

Usage::

    uv run --frozen python bench/stego_measures.py .cache/families/train-seed0/bad/steghide_25_60
    uv run --frozen python bench/stego_measures.py --quiet DIR...   # the summaries only
"""

from __future__ import annotations

import argparse
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from audiomodel.findings import Severity
from audiomodel.stego import analyse_lsb

BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


@dataclass(frozen=True)
class Measure:
    comb_pairs: int  # two-value runs of the comb histogram
    comb_aligned: float  # their pair-aligned share
    impulse_rows: int  # predictable sub-blocks
    impulses: int  # lone displaced samples in them
    codes: list[str]  # stego codes of suspicious severity or worse


def measure(path: Path) -> Measure | None:
    """The measures and flagging codes of one file, or None for non-integer PCM."""
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError):
        return None
    bits = BITS.get(info.subtype)
    if bits is None:
        return None
    values, _ = sf.read(path, dtype="int16" if bits <= 16 else "int32", always_2d=True)
    report = analyse_lsb([values], bits_per_sample=bits, channels=values.shape[1])
    features = report.features
    return Measure(
        comb_pairs=int(features["comb_pairs"]),
        comb_aligned=features["comb_aligned_share"],
        impulse_rows=int(features["impulse_rows"]),
        impulses=int(features["impulse_events"]),
        codes=sorted({f.code for f in report.findings if f.severity >= Severity.SUSPICIOUS}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", type=Path, nargs="+")
    parser.add_argument("--quiet", action="store_true", help="summaries only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    groups: dict[str, list[Measure]] = defaultdict(list)
    for root in args.paths:
        files = sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".flac"))
        for path in files if root.is_dir() else [root]:
            row = measure(path)
            if row is None:
                continue
            groups[str(root)].append(row)
            if not args.quiet:
                print(
                    f"{path.name}: comb {row.comb_pairs} pairs {row.comb_aligned:.0%} aligned; "
                    f"impulses {row.impulses} in {row.impulse_rows} predictable blocks; "
                    f"{row.codes}"
                )
    print("\n| set | files | displaced_samples | comb/lattice flags | most impulses |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, rows in groups.items():
        displaced = sum("stego.displaced_samples" in r.codes for r in rows)
        below = sum("stego.lsb_below_noise_floor" in r.codes for r in rows)
        most = max(r.impulses for r in rows)
        print(f"| {name} | {len(rows)} | {displaced} | {below} | {most} |")


if __name__ == "__main__":
    main()
