"""Measure LSB steganalysis on real clean audio: false flags, and detection of embedded payloads.

Usage::

    uv run --frozen python bench/stego_eval.py SOURCE [--embed-clips 40] [--sweep-random]

``SOURCE`` is a directory of 16-bit WAV/FLAC files (searched recursively; the first directory
level under it names the group, e.g. ``music/``, ``speech/``) or a corpus ``manifest.jsonl``
(rows with ``label == "good"``; the group is their ``threat_class``).

Every clip is analysed clean: the share of clips with each finding, and with each statistic
over its flag threshold, is the false-flag rate. Then up to ``--embed-clips`` clips (spread
over the groups) get payloads (zip, ELF, text, random bytes) at fractions 0.1 / 0.25 / 0.5 /
1.0 of the capacity, 1 and 2 bits, with and without a 4-byte length prefix (bit order
alternating between clips), and the detection rate of each finding is printed as a table.
With ``--sweep-random``, random bytes (nothing to carve) are also embedded in every clip of
5 s or more, for the statistical detection rate over the whole set. With a manifest, the
corpus's own ``lsb_stego`` files are scored too.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import shutil
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from audiomodel.stego import StegoReport, analyse_lsb, statistics
from audioval_corpus.stego_embed import embed_lsb

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
BITS = (1, 2)
PREFIX = (False, True)


BITS_OF = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "PCM_S8": 8}


def load_sources(source: Path, *, label: str = "good") -> list[tuple[str, Path, str]]:
    """(group, path, variant) of every integer-PCM clip with ``label`` (manifest) or under a dir."""
    if source.is_file() and source.name.endswith(".jsonl"):
        out = []
        for line in source.read_text().splitlines():
            row = json.loads(line)
            if row.get("label") == label:
                group = str(row.get("threat_class", label))
                out.append((group, source.parent / row["path"], str(row.get("variant", ""))))
    elif label != "good":
        return []
    else:
        out = [
            (
                p.relative_to(source).parts[0] if len(p.relative_to(source).parts) > 1 else "clips",
                p,
                "",
            )
            for p in sorted(source.rglob("*"))
            if p.suffix.lower() in (".wav", ".flac")
        ]
    keep = []
    for group, path, variant in out:
        try:
            if sf.info(str(path)).subtype in BITS_OF:
                keep.append((group, path, variant))
        except (sf.LibsndfileError, RuntimeError):
            continue
    return keep


def read_clip(path: Path, max_seconds: float) -> tuple[np.ndarray, int, int]:
    """(stored integers as the validator hands them over, sample rate, bits per sample)."""
    bits = BITS_OF[sf.info(str(path)).subtype]
    samples, rate = sf.read(str(path), dtype="int32" if bits > 16 else "int16", always_2d=True)
    return samples[: int(max_seconds * rate)], rate, bits


def shift_one_lsb(samples: np.ndarray, bits: int) -> np.ndarray:
    """``samples`` + 1 LSB of a ``bits``-bit sample, saturating (left-justified containers)."""
    step = 1 << (samples.dtype.itemsize * 8 - bits)
    info = np.iinfo(samples.dtype)
    return np.clip(samples.astype(np.int64) + step, info.min, info.max - step + 1).astype(
        samples.dtype
    )


def payloads(rng: np.random.Generator) -> dict[str, bytes]:
    """One payload per class, built here from files on this machine."""
    text = inspect.getsource(json.decoder).encode()[:16384]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("decoder.py", inspect.getsource(json.decoder))
        archive.writestr("zipfile.py", inspect.getsource(zipfile))
    elf_path = shutil.which("true") or sys.executable
    elf = Path(elf_path).read_bytes()[:65536]
    if not elf.startswith(b"\x7fELF"):
        raise SystemExit(f"{elf_path} is not an ELF file")
    return {"zip": buf.getvalue(), "elf": elf, "text": text, "random": rng.bytes(4096)}


def analyse(samples: np.ndarray, bits: int = 16) -> tuple[StegoReport, float]:
    started = time.process_time()
    blocks = (samples[i : i + 65536] for i in range(0, samples.shape[0], 65536))
    report = analyse_lsb(blocks, bits_per_sample=bits, channels=samples.shape[1])
    return report, time.process_time() - started


def codes(report: StegoReport) -> set[str]:
    return {f.code for f in report.findings}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path)
    parser.add_argument("--embed-clips", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--min-embed-seconds", type=float, default=5.0)
    parser.add_argument(
        "--sweep-random", action="store_true", help="also embed random bytes in every clip"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    sources = load_sources(args.source)
    if not sources:
        raise SystemExit(f"no integer PCM clips under {args.source}")
    rng = np.random.default_rng(2024)
    loads = payloads(rng)
    z_flag, rate_flag = statistics._Z_FLAG, statistics._RATE_FLAG

    # -- clean -----------------------------------------------------------------------------
    clean: dict[str, list[dict[str, float]]] = defaultdict(list)
    seconds = spent = 0.0
    clips: list[tuple[str, Path, np.ndarray]] = []
    for group, path, _ in sources:
        samples, rate, bits = read_clip(path, args.max_seconds)
        # Each clip as it is, and shifted by +1 LSB: a DC offset of one step moves quiet
        # passages between {-1, 0} and {0, 1}, the case where parity can correlate with the
        # signal by itself.
        for variant, shifted in (("", samples), ("+dc", shift_one_lsb(samples, bits))):
            report, took = analyse(shifted, bits)
            if not variant:
                seconds += samples.shape[0] / rate
                spent += took
            found = codes(report)
            row = dict(report.features)
            row["payload"] = float("stego.lsb_payload" in found)
            row["statistical"] = float("stego.lsb_statistical" in found)
            row["header"] = float("stego.lsb_length_header" in found)
            clean[f"{group}/{bits}{variant}"].append(row)
            if args.verbose or found:
                print(
                    f"clean {group}/{path.name} ({bits} bit{variant}): {sorted(found)} "
                    f"z={row.get('prefix_z', 0):.1f} rate={row.get('prefix_rate', 0):.3f} "
                    f"est={report.estimated_fraction:.3f}"
                )
        if bits == 16 and samples.shape[0] >= args.min_embed_seconds * rate:
            clips.append((group, path, samples))

    print(
        f"\n## Clean clips: false flags ({len(sources)} clips, each also shifted by +1 LSB (+dc); "
        f"{seconds:.0f} s of audio, "
        f"{seconds / max(spent, 1e-9):.0f}x realtime)\n"
    )
    head = (
        f"{'group/bits':<17}{'clips':>6}{'payload':>9}{'statist.':>9}{'header':>8}{'z>=thr':>8}"
        f"{'rate>=thr':>10}"
    )
    head += f"{'max z':>8}{'p99 z':>8}{'max est':>9}{'mean est':>9}"
    print(head)
    everyone: list[dict[str, float]] = []
    for group, rows in [*sorted(clean.items()), ("ALL", [])]:
        rows = rows or everyone
        if group != "ALL":
            everyone.extend(rows)
        z = np.array([r.get("prefix_z", 0.0) for r in rows])
        rates = np.array([r.get("prefix_rate", 0.0) for r in rows])
        est = np.array([r.get("estimated_fraction", 0.0) for r in rows])
        print(
            f"{group:<17}{len(rows):>6}{np.mean([r['payload'] for r in rows]):>9.3f}"
            f"{np.mean([r['statistical'] for r in rows]):>9.3f}"
            f"{np.mean([r['header'] for r in rows]):>8.3f}{np.mean(z >= z_flag):>8.3f}"
            f"{np.mean(rates >= rate_flag):>10.3f}{z.max():>8.1f}{np.percentile(z, 99):>8.1f}"
            f"{est.max():>9.3f}{est.mean():>9.3f}"
        )

    # -- the corpus's own stego files --------------------------------------------------------
    planted = [item for item in load_sources(args.source, label="bad") if item[0] == "lsb_stego"]
    if planted:
        by_variant: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
        for _, path, variant in planted:
            samples, rate, bits = read_clip(path, args.max_seconds)
            found = codes(analyse(samples, bits)[0])
            key = " ".join(variant.split()[:3])  # "zip 1bit 0.1" (prefixed or not pooled)
            by_variant[key].append(
                (
                    float("stego.lsb_payload" in found),
                    float("stego.lsb_statistical" in found),
                    float(bool(found)),
                    float("stego.lsb_length_header" in found),
                )
            )
        print(f"\n## Corpus lsb_stego files: detection rate ({len(planted)} files)\n")
        print(f"{'variant':<22}{'files':>6}{'any':>7}{'payload':>9}{'statist.':>9}{'header':>8}")
        for key in sorted(by_variant):
            arr = np.array(by_variant[key])
            print(
                f"{key:<22}{len(arr):>6}{arr[:, 2].mean():>7.2f}{arr[:, 0].mean():>9.2f}"
                f"{arr[:, 1].mean():>9.2f}{arr[:, 3].mean():>8.2f}"
            )

    # -- embedded --------------------------------------------------------------------------
    by_group: dict[str, list[tuple[str, Path, np.ndarray]]] = defaultdict(list)
    for clip in clips:
        by_group[clip[0]].append(clip)
    for group in by_group:  # a seeded shuffle, so the chosen clips span the group's sources
        order = rng.permutation(len(by_group[group]))
        by_group[group] = [by_group[group][i] for i in order]
    chosen: list[tuple[str, Path, np.ndarray]] = []
    while len(chosen) < args.embed_clips and any(by_group.values()):
        for group in sorted(by_group):
            if by_group[group] and len(chosen) < args.embed_clips:
                chosen.append(by_group[group].pop(0))
    tally: dict[tuple[str, int, bool, float], list[tuple[float, float, float, float]]] = (
        defaultdict(list)
    )
    for index, (group, path, samples) in enumerate(chosen):
        order = "lsb_first" if index % 2 == 0 else "msb_first"
        for name, payload in loads.items():
            for bits in BITS:
                for prefix in PREFIX:
                    for fraction in FRACTIONS:
                        stego = embed_lsb(
                            samples,
                            payload,
                            bits=bits,
                            fraction=fraction,
                            length_prefix=prefix,
                            bit_order=order,
                            seed=index,
                        )
                        report, _ = analyse(stego)
                        found = codes(report)
                        tally[(name, bits, prefix, fraction)].append(
                            (
                                float("stego.lsb_payload" in found),
                                float("stego.lsb_statistical" in found),
                                float(bool(found)),
                                report.estimated_fraction,
                            )
                        )
        print(f"embedded {index + 1}/{len(chosen)}: {group}/{path.name}", file=sys.stderr)

    if not chosen:
        if args.sweep_random:
            sweep_random(clips)
        return
    groups = ", ".join(
        f"{g}: {sum(1 for c in chosen if c[0] == g)}" for g in sorted({c[0] for c in chosen})
    )
    print(f"\n## Embedded: detection rate ({len(chosen)} clips; {groups})\n")
    print("cells: any finding (payload / statistical), mean estimated fraction")
    print(
        f"{'payload':<8}{'bits':>5}{'prefix':>7}"
        + "".join(f"{'f=' + str(f):>26}" for f in FRACTIONS)
    )
    for name in loads:
        for bits in BITS:
            for prefix in PREFIX:
                cells = []
                for fraction in FRACTIONS:
                    arr = np.array(tally[(name, bits, prefix, fraction)])
                    cells.append(
                        f"{arr[:, 2].mean():.2f} ({arr[:, 0].mean():.2f}/{arr[:, 1].mean():.2f}) e{arr[:, 3].mean():.2f}"
                    )
                print(
                    f"{name:<8}{bits:>5}{'yes' if prefix else 'no':>7}"
                    + "".join(f"{c:>26}" for c in cells)
                )

    if args.sweep_random:
        sweep_random(clips)


def sweep_random(clips: list[tuple[str, Path, np.ndarray]]) -> None:
    """Random bytes (no header to carve) in every clip: the statistics alone, per group."""
    hits: dict[tuple[str, int, float], list[float]] = defaultdict(list)
    for index, (group, _, samples) in enumerate(clips):
        for bits in BITS:
            for fraction in FRACTIONS:
                stego = embed_lsb(samples, b"", bits=bits, fraction=fraction, seed=index)
                found = codes(analyse(stego)[0])
                for key in (group, "ALL"):
                    hits[(key, bits, fraction)].append(float("stego.lsb_statistical" in found))
    print(
        f"\n## Random payload in every clip of >= 5 s: statistical detection ({len(clips)} clips)\n"
    )
    print(
        f"{'group':<10}{'clips':>6}{'bits':>5}" + "".join(f"{'f=' + str(f):>9}" for f in FRACTIONS)
    )
    for group in sorted({k[0] for k in hits}, key=lambda g: (g == "ALL", g)):
        for bits in BITS:
            rates = [np.mean(hits[(group, bits, f)]) for f in FRACTIONS]
            count = len(hits[(group, bits, FRACTIONS[0])])
            print(f"{group:<10}{count:>6}{bits:>5}" + "".join(f"{r:>9.3f}" for r in rates))


if __name__ == "__main__":
    main()
