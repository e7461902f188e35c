"""Is +-1 embedding told from dither by its sparsity? A measurement (issue #17), no rule.

steghide at 25 % of its capacity moves ~6 % of the samples by exactly +-1 and leaves the rest
alone, so the noise it adds has a kurtosis of about 1/p; rounding's error is uniform (1.8),
TPDF-dithered rounding's 2.6, Gaussian noise's 3. Where the sound is predicted to within about
one LSB, the two-sided interpolation residual of :mod:`audiomodel.stego.statistics` holds that
noise (filtered by the interpolator) and little else, so its fourth moment should tell an
embedder's few unit impulses from the dense noise of physics and converters.

For every file this reads the interpolation residual in 128-frame sub-blocks (per channel),
keeps the sub-blocks that hold sound (a sample of at least 8 LSB), whose residual power is
0.05..``hi`` LSB^2 and whose largest residual is at most 4.5 LSB (steghide's large exchanges
are :mod:`~audiomodel.stego.impulses`' business), standardises each by its own power and
reports the mean fourth power (``a{hi}_k``; a Gaussian reads 3 n / (n + 2) = 2.95 at n = 128),
the share beyond 2.5 (``_tail``; Gaussian 1.24 %), how many sub-blocks were kept (``_n``) and
their median power (``_s2``); ``r10`` keeps the quietest tenth of the sound sub-blocks instead.

Files: the good clips of ``--split`` of a dev corpus (16-bit PCM as stored, 8-bit, lossy ones
decoded and rounded to 16 bits), every ``--tpdf-every``-th WAV/FLAC clip (and every 24-bit or
float one) rounded to 16 bits with TPDF dither, LSB matching at random positions of 10 / 25 /
50 % of the capacity of every ``--lsb-every``-th 16-bit clip (``lsbm10`` ..; from the first
sample: ``lsbmp10`` ..), and the files of built ``bench/families.py`` case directories given
with ``--cases`` (their manifests: a ``steghide`` family is stego, ``good`` labels are good).
24-bit and float files are skipped (no 16-bit LSB to read). Rows go to ``--rows`` (JSONL,
reused: a file already there is not read again), then the table: per class the files judged
(``--min-blocks`` kept sub-blocks), the distribution, the AUC against the good files, and how
many read above every good file (detections at 0 false flags).

Usage::

    uv run --frozen python bench/stego_sparsity.py .cache/corpus/full-seed0/manifest.jsonl \
        --cases .cache/steg-seed20 --cases .cache/good-seed20 --rows .cache/stego-sparsity.jsonl
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.stego.statistics import _EDGE, _interpolation_residual

# The covers of the families bench, a sibling script (bench/ is no package).
sys.path.insert(0, str(Path(__file__).parent))
families: Any = importlib.import_module("stego_families")

_SUB = 128  # frames per sub-block, as the parity statistic's
_STEP = 496 * _SUB  # frames per fitted window, as the parity statistic's
_PEAK = 8  # LSB: the sub-block holds sound, not digital silence
_MIN_POWER = 0.05  # LSB^2: below this the residual is not the rounding's
_MAX_TOP = 4.5  # LSB: largest residual kept (larger: an exchange, or the sound)
_POWER_BOUNDS = (0.4, 0.6, 0.8, 1.0, 1.5)  # LSB^2: the sub-blocks' residual power, at most
_QUIETEST = 0.1  # the r10 variant: this share of the sound sub-blocks, the quietest
LSB_SHARES = (0.10, 0.25, 0.50)
_FEATURES = ("a0.4", "a0.6", "a1.0", "r10")


def int16_view(path: Path, tpdf_seed: int | None) -> tuple[npt.NDArray[np.int64] | None, str]:
    """The file's samples (channels, frames) as the integers a 16-bit (or 8-bit) store holds,
    and how they were read; None for 24-bit and float files (unless ``tpdf_seed`` asks for
    the clip rounded to 16 bits with TPDF dither)."""
    subtype = sf.info(str(path)).subtype
    if tpdf_seed is not None:
        x, _ = sf.read(str(path), dtype="float64", always_2d=True)
        values, _ = families.dithered_values(x, "16-bit TPDF", tpdf_seed)
        return values.T, "tpdf16"
    if subtype == "PCM_16":
        ints, _ = sf.read(str(path), dtype="int16", always_2d=True)
        return ints.T.astype(np.int64), "pcm16"
    if subtype in ("PCM_24", "PCM_32", "FLOAT", "DOUBLE"):
        return None, subtype
    x, _ = sf.read(str(path), dtype="float64", always_2d=True)
    if subtype == "PCM_U8":
        return np.rint(x.T * 128).astype(np.int64), "pcm8"
    # a lossy file decoded: rounded to 16 bits, as a player or converter stores it
    return np.clip(np.rint(x.T * 32768), -32768, 32767).astype(np.int64), "decoded16"


def residual_subblocks(
    values: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None:
    """The interpolation residual in sub-blocks (rows), and each sub-block's largest |sample|."""
    frames = values.shape[1]
    floats = values.astype(np.float64)
    residuals, peaks = [], []
    for start in range(0, frames - 2 * _EDGE - 4 * _SUB, _STEP):
        window = np.ascontiguousarray(floats[:, start : start + _STEP + 2 * _EDGE])
        residual, _ = _interpolation_residual(window)
        width = (residual.shape[1] // _SUB) * _SUB
        core = values[:, start + _EDGE : start + _EDGE + width]
        residuals.append(residual[:, :width].reshape(-1, _SUB))
        peaks.append(np.abs(core).reshape(-1, _SUB).max(axis=1))
    if not residuals:
        return None
    return np.concatenate(residuals), np.concatenate(peaks)


def sparsity(values: npt.NDArray[np.int64]) -> dict[str, float]:
    """The fourth moment and tail share of the standardised residual, per variant."""
    found = residual_subblocks(values)
    if found is None:
        return {"blocks": 0}
    residual, peak = found
    power = (residual**2).mean(axis=1)
    top = np.abs(residual).max(axis=1)
    sound = (peak >= _PEAK) & (power >= _MIN_POWER)
    out: dict[str, float] = {"blocks": float(residual.shape[0])}
    kept = [(f"a{hi}", (power <= hi) & (top <= _MAX_TOP)) for hi in _POWER_BOUNDS]
    if np.count_nonzero(sound) >= 20:
        cut = min(float(np.quantile(power[sound], _QUIETEST)), 2.0)
        kept.append(("r10", (power <= cut) & (top <= _MAX_TOP)))
    for name, chosen in kept:
        rows = chosen & sound
        out[f"{name}_n"] = float(np.count_nonzero(rows))
        if out[f"{name}_n"] < 20:
            continue
        z = residual[rows] / np.sqrt(power[rows])[:, None]
        out[f"{name}_k"] = float((z**4).mean())
        out[f"{name}_tail"] = float((np.abs(z) > 2.5).mean())
        out[f"{name}_s2"] = float(np.median(power[rows]))
    return out


def lsb_matched(values: npt.NDArray[np.int64], share: float, prefix: bool) -> npt.NDArray[np.int64]:
    """+-1 (sign at random) where a random bit differs from the LSB, at ``share`` of the
    interleaved samples: random positions, or the first ones."""
    rng = np.random.default_rng(1)
    flat = values.T.reshape(-1).copy()
    count = round(share * flat.size)
    where = np.arange(count) if prefix else rng.choice(flat.size, count, replace=False)
    differs = (flat[where] & 1) != rng.integers(0, 2, count)
    flat[where] += np.where(differs, rng.choice(np.array([-1, 1]), count), 0)
    return np.clip(flat, -32768, 32767).reshape(values.shape[1], values.shape[0]).T


def jobs(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    root = args.manifest.parent
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    good = [r for r in rows if r["label"] == "good" and r["split"] == args.split]
    for i, row in enumerate(good):
        job: dict[str, Any] = {
            "id": f"corpus:{row['path']}",
            "label": f"good-{row['format']}",
            "path": root / row["path"],
        }
        pcm = row["format"] in ("wav", "flac")
        if pcm and row.get("subtype") == "PCM_16" and i % args.lsb_every == 0:
            job["lsb"] = True
        yield job
        if pcm and (row.get("subtype") in ("PCM_24", "FLOAT") or i % args.tpdf_every == 0):
            yield {
                "id": f"tpdf:{row['path']}",
                "label": "good-tpdf",
                "path": root / row["path"],
                "tpdf": 7,
            }
    for cases in args.cases:
        for line in (cases / "manifest.jsonl").read_text().splitlines():
            row = json.loads(line)
            family = str(row.get("family", ""))
            if family.startswith("steghide"):
                label = "steghide5" if family.startswith("steghide 5%") else "steghide25-60"
            elif row.get("label") == "good":
                label = "good-rendition " + family.split(": ")[-1]
            else:
                continue
            yield {"id": f"{cases.name}:{row['path']}", "label": label, "path": cases / row["path"]}


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if args.rows.exists():
        for line in args.rows.read_text().splitlines():
            row = json.loads(line)
            done[row["id"]] = row
    with args.rows.open("a") as log:
        for job in jobs(args):
            if job["id"] in done:
                continue
            values, kind = int16_view(job["path"], job.get("tpdf"))
            if values is None:
                continue
            rate = sf.info(str(job["path"])).samplerate
            values = values[:, : int(args.max_seconds * rate)]
            renders = [(job["id"], job["label"], values)]
            for share in LSB_SHARES if job.get("lsb") else ():
                tag = round(share * 100)
                renders.append(
                    (f"{job['id']}|lsbm{share}", f"lsbm{tag}", lsb_matched(values, share, False))
                )
                renders.append(
                    (f"{job['id']}|lsbmp{share}", f"lsbmp{tag}", lsb_matched(values, share, True))
                )
            for ident, label, samples in renders:
                row = {"id": ident, "label": label, "kind": kind, "rate": rate, **sparsity(samples)}
                done[ident] = row
                log.write(json.dumps(row) + "\n")
                log.flush()
    return list(done.values())


def report(rows: list[dict[str, Any]], min_blocks: int) -> None:
    """Per variant and statistic: every label's distribution against all the good files."""
    for feature in _FEATURES:
        for stat in ("_k", "_tail"):
            key = feature + stat
            judged: dict[str, list[float]] = defaultdict(list)
            files: dict[str, int] = defaultdict(int)
            for r in rows:
                names = (
                    [r["label"], "good (all)"] if r["label"].startswith("good") else [r["label"]]
                )
                for name in names:
                    files[name] += 1
                    if r.get(f"{feature}_n", 0) >= min_blocks and key in r:
                        judged[name].append(r[key])
            good = np.array(judged["good (all)"])
            print(f"\n### {key}, files with >= {min_blocks} kept sub-blocks\n")
            print(
                "| class | files | judged | 5 % | median | 95 % | max | AUC vs good | > every good |"
            )
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for name in sorted(files):
                values = np.array(judged.get(name, []))
                if values.size == 0 or good.size == 0:
                    print(f"| {name} | {files[name]} | 0 | | | | | | |")
                    continue
                q05, q50, q95 = np.percentile(values, [5, 50, 95])
                auc = float(
                    (values[:, None] > good[None, :]).mean()
                    + 0.5 * (values[:, None] == good[None, :]).mean()
                )
                print(
                    f"| {name} | {files[name]} | {values.size} | {q05:.3f} | {q50:.3f} | "
                    f"{q95:.3f} | {values.max():.3f} | {auc:.2f} | {int((values > good.max()).sum())} |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    parser.add_argument("--cases", type=Path, action="append", default=[])
    parser.add_argument("--rows", type=Path, default=Path(".cache/stego-sparsity.jsonl"))
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--tpdf-every", type=int, default=3)
    parser.add_argument("--lsb-every", type=int, default=2)
    parser.add_argument("--min-blocks", type=int, default=100)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    report(measure(args), args.min_blocks)


if __name__ == "__main__":
    main()
