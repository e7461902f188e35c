"""``python -m audioval_corpus build --out DIR [--scale small|full] [--seed N] [--cache DIR]
[--jobs N] [--no-fetch]``; ``audioval corpus build`` passes its arguments here."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from audioval_corpus.build import build
from audioval_corpus.manifest import summary_table
from audioval_corpus.plan import SCALES

__all__ = ["DEFAULT_OUT", "main"]

# Relative to where the command runs (the repo root in the README); gitignored there.
DEFAULT_OUT = Path(".cache/corpus")
# The encoders a build calls besides libsndfile (apt packages: ffmpeg, vorbis-tools, lame).
_TOOLS = ("ffmpeg", "oggenc", "lame")


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    """``build --out DIR [--scale small|full] [--seed N] [--cache DIR] [--jobs N] [--no-fetch]``."""
    parser = argparse.ArgumentParser(
        prog="python -m audioval_corpus",
        description="Build the dev corpus: real clips, speech and every bad class, with a "
        "manifest split by source.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("build", help="build or resume the dev corpus")
    cmd.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"corpus root (default {DEFAULT_OUT})"
    )
    cmd.add_argument("--scale", choices=sorted(SCALES), default="small")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument(
        "--cache", type=Path, default=None, help="where debs/ and speech/ live (default: --out)"
    )
    cmd.add_argument("--jobs", type=int, default=2, help="parallel encoders (default 2)")
    cmd.add_argument(
        "--no-fetch", action="store_true", help="use only packages already in the cache"
    )
    args = parser.parse_args(argv)

    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        print(
            f"error: missing tools: {', '.join(missing)} (apt-get install ffmpeg vorbis-tools lame)",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    out, rows = build(
        args.out,
        scale_name=args.scale,
        seed=args.seed,
        cache=args.cache,
        fetch=not args.no_fetch,
        jobs=args.jobs,
    )
    print()
    print(summary_table(rows))
    size = sum(r["bytes"] for r in rows)
    print(
        f"\n{len(rows)} files, {size / 2**20:.1f} MiB in {out} "
        f"(cache {_tree_size(args.cache or args.out) / 2**30:.2f} GiB), "
        f"{time.monotonic() - started:.0f} s"
    )
    print(f"manifest: {out / 'manifest.jsonl'}")
    return 0
