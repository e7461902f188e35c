"""Every threat family of issue #17 through the whole validator, and the false flags on good
audio: one table, from one rerunnable command.

The cases are made by :mod:`audioval_corpus.plan.families` from the good clips of one split of
a built dev corpus (``--split heldout``, the default, reports: the corpus' split is by source,
so those tracks, kits and texts were never trained on; ``--split train`` is for development),
with the real tools where Debian has them (minimodem, steghide, sox, lame, oggenc, flac,
metaflac, espeak-ng; mutagen for ID3v2/APEv2). They are cached under ``--out`` with their
manifest (family, variant, target, the payload's byte and time range), so a rerun only judges.

Good audio: the split's good files of the corpus as they are, and renditions of what looks most
like data or a modem (synth music, chiptune, DTMF + telephone speech, test tones and sweeps,
noise sound effects; FM synths, drum machines, call progress tones, test signals, room tone),
``--renditions`` of each kind, past the first ten of the original kinds through converter
chains (8-96 kHz, 8/16/24-bit with or without dither, float, FLAC, MP3, Vorbis, lossy round
trips, clipped and limited masters, quiet and very short clips), and ``--recordings`` real
recordings of Debian packages the corpus does not use through the same chains (fetched with
``apt-get download`` into ``--package-cache``, by default beside the corpus' own). The
false-flag rate has its one-sided 95% upper bound (Clopper-Pearson): 0 flags in 1,000 files
bound it at 0.3%, the issue's target.

Targets (issue #17): every family >= 99% flagged (verdict not ``accept``), steghide >= 90% at
>= 25% of its capacity and reported at 5%, truncated uploads get ``container.truncated`` and
are not rejected as attacks, false flags <= 0.3%. The table reports; it asserts nothing.

Usage::

    uv run --frozen python bench/families.py                    # corpus .cache/corpus/full-seed0
    uv run --frozen python bench/families.py --corpus /work/main/.cache/corpus/full-seed0 --jobs 2
    uv run --frozen python bench/families.py --quick            # 2 cases a family, a smoke test
    uv run --frozen python bench/families.py --split train --verbose   # development: every miss
    # the good set the 0.3% target needs (>= 1,000 files): 10 kinds x 60 + 400 recordings + corpus
    uv run --frozen python bench/families.py --renditions 60 --recordings 400 --jobs 1 --verbose
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scipy.stats import beta

from audioval_corpus.plan.families import FAMILIES, TARGETS, build_families, plan_families
from audioval_corpus.tools import missing_tools

_MODEL: Any = None


def _init() -> None:
    global _MODEL
    warnings.filterwarnings("ignore")
    from audiomodel import load_default_model

    _MODEL = load_default_model()


def judge(path: str) -> dict[str, Any]:
    """The verdict on one file, reduced to what the table needs."""
    from audiomodel import validate_path
    from audiomodel.findings import Severity

    started = time.perf_counter()
    verdict = validate_path(Path(path), model=_MODEL)
    seconds = time.perf_counter() - started
    located = [
        (f.evidence["start_s"], f.evidence["end_s"])
        for f in verdict.findings
        if isinstance(f.evidence.get("start_s"), float | int)
        and isinstance(f.evidence.get("end_s"), float | int)
        and f.severity >= Severity.SUSPICIOUS
    ]
    return {
        "decision": verdict.decision.value,
        "codes": sorted({f.code for f in verdict.findings if f.severity >= Severity.SUSPICIOUS}),
        "all_codes": sorted({f.code for f in verdict.findings}),
        "located": located,
        "seconds": seconds,
    }


def upper95(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a rate seen k times in n."""
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def _overlaps(spans: list[tuple[float, float]], truth: list[float]) -> bool:
    return any(max(a, truth[0]) < min(b, truth[1]) for a, b in spans)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    parser.add_argument(
        "--out", type=Path, help="cases cache (default .cache/families/SPLIT-seedN)"
    )
    parser.add_argument("--split", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--per-family", type=int, default=12)
    parser.add_argument("--renditions", type=int, default=10, help="files per rendition kind")
    parser.add_argument(
        "--recordings",
        type=int,
        default=40,
        help="renditions of real recordings of Debian packages the corpus does not use",
    )
    parser.add_argument(
        "--package-cache",
        type=Path,
        help="where those packages are fetched (default: the corpus' parent, beside its debs/)",
    )
    parser.add_argument(
        "--good", type=int, default=0, help="corpus good files (0: all of the split)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--quick", action="store_true", help="2 cases a family, 1 rendition, 2 recordings, 10 good"
    )
    parser.add_argument("--verbose", action="store_true", help="list every miss and false flag")
    parser.add_argument(
        "--verdicts",
        type=Path,
        help="also write every good file's verdict as JSONL (set, variant, decision, codes, path)",
    )
    args = parser.parse_args()
    if args.quick:
        args.per_family, args.renditions, args.good = 2, 1, args.good or 10
        args.recordings = min(args.recordings, 2)
    if not (args.corpus / "manifest.jsonl").exists():
        fallback = Path("/work/main/.cache/corpus/full-seed0")
        if args.corpus == parser.get_default("corpus") and (fallback / "manifest.jsonl").exists():
            args.corpus = fallback
        else:
            raise SystemExit(
                f"no corpus at {args.corpus}: build it with `audioval corpus build --scale full`"
            )
    missing = missing_tools()
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (apt-get install them)")
    out = args.out or Path(f".cache/families/{args.split}-seed{args.seed}")
    started = time.perf_counter()

    cases = plan_families(
        args.corpus,
        out,
        split=args.split,
        per_family=args.per_family,
        renditions=args.renditions,
        seed=args.seed,
        recordings=args.recordings,
        package_cache=args.package_cache,
    )
    rows = build_families(cases, out, jobs=args.jobs)
    built = time.perf_counter() - started
    corpus_rows = [
        json.loads(line) for line in (args.corpus / "manifest.jsonl").read_text().splitlines()
    ]
    good_rows = [r for r in corpus_rows if r["label"] == "good" and r["split"] == args.split]
    good_rows = good_rows[: args.good] if args.good else good_rows

    paths = [str(out / r["path"]) for r in rows] + [str(args.corpus / r["path"]) for r in good_rows]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), initializer=_init) as pool:
        verdicts = dict(zip(paths, pool.map(judge, paths, chunksize=4), strict=True))
    judged = time.perf_counter() - started - built

    by_family: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        by_family[row["family"]].append((row, verdicts[str(out / row["path"])]))
    print(f"\n### Threat families of #17 ({args.split} split of {args.corpus}, seed {args.seed})\n")
    print(
        "| family | n | flagged | target | met | located | slowest verdict | "
        "findings that flagged (top 3) |"
    )
    print("| --- | ---: | ---: | --- | --- | ---: | ---: | --- |")
    misses: list[str] = []
    for name, family in FAMILIES.items():
        results = by_family.get(name, [])
        n = len(results)
        if not n:
            print(f"| {name} | 0 | - | {TARGETS[family.target]} | not made | | | |")
            continue
        flagged = [v["decision"] != "accept" for _, v in results]
        share = sum(flagged) / n
        codes = Counter(c for _, v in results for c in v["codes"])
        # the signal families say where the payload sounds; a FLAC's hidden tail is the container's
        timed = [(r, v) for r, v in results if r.get("time_range") and not name.startswith("FLAC")]
        located = (
            f"{sum(_overlaps(v['located'], r['time_range']) for r, v in timed)}/{len(timed)}"
            if timed
            else ""
        )
        if family.target == "own_finding":
            own = sum("container.truncated" in v["all_codes"] for _, v in results)
            rejected = sum(v["decision"] == "reject" for _, v in results)
            met = (
                "yes"
                if own == n and rejected == 0
                else f"no ({own}/{n} own finding, {rejected} rejected)"
            )
        elif family.target == "report":
            met = "-"
        else:
            met = "yes" if share >= (0.99 if family.target == "flag99" else 0.90) else "no"
        top = ", ".join(f"{c} {k}" for c, k in codes.most_common(3))
        slowest = max(v["seconds"] for _, v in results)
        print(
            f"| {name} | {n} | {share:.0%} | {TARGETS[family.target]} | {met} | {located} "
            f"| {slowest:.1f} s | {top} |"
        )
        for row, v in results:
            bad_truncated = family.target == "own_finding" and (
                "container.truncated" not in v["all_codes"] or v["decision"] == "reject"
            )
            missed = v["decision"] == "accept" and family.target != "own_finding"
            if missed or bad_truncated:
                misses.append(
                    f"{name}: {row['variant']} -> {v['decision']} {v['all_codes']}  {out / row['path']}"
                )

    for name, results in by_family.items():
        received = [(r, v) for r, v in results if r["truth"].get("rx_ratio", 0.0) >= 0.9]
        if any("rx_ratio" in r["truth"] for r, _ in results):
            caught = sum(v["decision"] != "accept" for _, v in received)
            print(
                f"\n{name}: `minimodem --rx` gets >= 90% of the bytes back from "
                f"{len(received)}/{len(results)}; flagged {caught}/{len(received)} of those"
            )

    print("\n### False flags on good audio\n")
    # signal.pure_tone sends a steady tone to review by design (FINDINGS.md): counted, and
    # counted apart, so a test tone's review is not mistaken for a detector's error
    print(
        "| set | n | flagged | rate | 95% upper bound | flagged by more than signal.pure_tone "
        "| findings |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    sets: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    variants: dict[str, str] = {}
    for r in good_rows:
        path = str(args.corpus / r["path"])
        sets[f"corpus {args.split} split: {r['threat_class']}"].append((path, verdicts[path]))
        variants[path] = r.get("variant", "")
    for name, results in by_family.items():
        if name.startswith("good rendition"):
            sets[name] = [(str(out / r["path"]), v) for r, v in results]
            variants.update((str(out / r["path"]), r["variant"]) for r, _ in results)
    total_n = total_k = total_other = 0
    false_flags: list[str] = []
    for name, judged_set in sets.items():
        n = len(judged_set)
        k = sum(v["decision"] != "accept" for _, v in judged_set)
        other = sum(
            v["decision"] != "accept" and v["codes"] != ["signal.pure_tone"] for _, v in judged_set
        )
        total_n, total_k, total_other = total_n + n, total_k + k, total_other + other
        codes = Counter(c for _, v in judged_set if v["decision"] != "accept" for c in v["codes"])
        top = ", ".join(f"{c} {count}" for c, count in codes.most_common(3))
        print(f"| {name} | {n} | {k} | {k / n:.1%} | {upper95(k, n):.1%} | {other} | {top} |")
        false_flags += [
            f"{name} ({variants[p]}): {v['decision']} {v['codes']}  {p}"
            for p, v in judged_set
            if v["decision"] != "accept"
        ]
    if args.verdicts:
        args.verdicts.write_text(
            "".join(
                json.dumps({"set": name, "variant": variants[p], "path": p, **v}, sort_keys=True)
                + "\n"
                for name, judged_set in sets.items()
                for p, v in judged_set
            )
        )
    print(
        f"| **all good audio** | {total_n} | {total_k} | {total_k / max(total_n, 1):.1%} "
        f"| {upper95(total_k, total_n):.1%} | {total_other} "
        f"({total_other / max(total_n, 1):.1%}, bound {upper95(total_other, total_n):.1%}) "
        "| target <= 0.3% |"
    )
    if args.verbose:
        print("\nMisses:\n" + "\n".join(f"- {m}" for m in misses))
        print("\nFalse flags:\n" + "\n".join(f"- {m}" for m in false_flags))
    print(
        f"\n{len(rows)} cases in {out} (made in {built:.0f} s), {len(paths)} files judged in "
        f"{judged:.0f} s with {args.jobs} jobs"
    )


if __name__ == "__main__":
    main()
