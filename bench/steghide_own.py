"""An own steghide set on the corpus' train covers, and the validator's verdicts on it (issue #17).

``build``: covers are good train-split clips of a dev corpus (any format, decoded to 16-bit WAV at
their own channels; 22.05, 44.1 and 48 kHz only), 2 s from the clip's middle, as found and, for
every third clip, 30 dB quieter (a quiet recording; half of those through sox's dither). Each cover
is embedded by Debian's ``steghide`` at 5, 25, 40, 60 and 100 % (``--shares``) of the capacity ``steghide info``
reports (random payload, a passphrase per file). Covers split by package (``group``): a hash of
the group puts a third of them in ``own-heldout`` (never tuned on), the rest in ``tune``.
``judge``: the validator's verdict and ``stego.*`` codes on every file (``--jobs 1``).
``table``: flagged (verdict not accept) per split and share, false flags on the covers.

    uv run --frozen python bench/steghide_own.py build .cache/corpus/full-seed0/manifest.jsonl --out DIR
    uv run --frozen python bench/steghide_own.py judge --out DIR
    uv run --frozen python bench/steghide_own.py table --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# steghide's capacity as the families bench reads it, a sibling script (bench/ is no package).
sys.path.insert(0, str(Path(__file__).parent))
families: Any = importlib.import_module("stego_families")

SHARES = (0.05, 0.25, 0.40, 0.60, 1.00)
RATES = (22050, 44100, 48000)


def split_of(group: str) -> str:
    return "own-heldout" if hashlib.sha256(group.encode()).digest()[0] % 3 == 0 else "tune"


def build(manifest: Path, out: Path, count: int, channels: int, shares: tuple[float, ...]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    root = manifest.parent
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    good = [
        r
        for r in rows
        if r["label"] == "good"
        and r["split"] == "train"
        and r["sample_rate"] in RATES
        and r["channels"] >= channels
    ]
    rng = np.random.default_rng(21)
    rng.shuffle(good)  # type: ignore[arg-type]
    seen: dict[str, int] = {}
    index_path = out / "index.jsonl"
    done = (
        {json.loads(x)["path"] for x in index_path.read_text().splitlines()}
        if index_path.exists()
        else set()
    )
    made = 0
    with index_path.open("a") as index:
        for r in good:
            if made >= count:
                break
            group = r["group"]
            if seen.get(group, 0) >= 2:
                continue
            seen[group] = seen.get(group, 0) + 1
            made += 1
            stem = f"c{made:03d}"
            quiet = made % 3 == 0
            dither = made % 6 == 0
            cover = out / f"{stem}.wav"
            info = subprocess.run(
                ["soxi", "-D", str(root / r["path"])], capture_output=True, text=True
            )
            try:
                dur = float(info.stdout.strip())
            except ValueError:
                dur = 6.0
            start = max(0.0, dur / 2 - 1.0)
            cmd = (
                ["sox"]
                + ([] if dither else ["-D"])
                + [
                    str(root / r["path"]),
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(cover),
                    "trim",
                    f"{start:.3f}",
                    "2",
                ]
            )
            if quiet:
                cmd += ["vol", "0.0316"]
            if subprocess.run(cmd, capture_output=True).returncode != 0 or not cover.exists():
                continue
            base = {
                "cover": stem,
                "group": group,
                "split": split_of(group),
                "kind": r["path"].split("/")[1],
                "channels": r["channels"],
                "rate": r["sample_rate"],
                "quiet": quiet,
                "dither": dither,
                "source": r["path"],
            }
            if f"{stem}.wav" not in done:
                index.write(json.dumps({**base, "path": f"{stem}.wav", "share": 0.0}) + "\n")
                index.flush()
            cap = families.steghide_capacity(cover)
            for share in shares:
                name = f"{stem}-s{int(share * 100):03d}.wav"
                if name in done or cap <= 0:
                    continue
                n = max(1, int(cap * share) - 64)
                with tempfile.TemporaryDirectory() as tmp:
                    payload = Path(tmp) / "p.bin"
                    payload.write_bytes(rng.bytes(n))
                    key = rng.bytes(6).hex()
                    cmd = [
                        "steghide",
                        "embed",
                        "-cf",
                        str(cover),
                        "-ef",
                        str(payload),
                        "-sf",
                        str(out / name),
                        "-p",
                        key,
                        "-q",
                        "-f",
                    ]
                    try:
                        res = subprocess.run(cmd, capture_output=True, timeout=240)
                    except subprocess.TimeoutExpired:  # steghide's matching can take long
                        print(name, "timed out", file=sys.stderr)
                        continue
                if res.returncode != 0:
                    print(name, "failed", res.stderr[:200], file=sys.stderr)
                    continue
                index.write(
                    json.dumps({**base, "path": name, "share": share, "bytes": n, "capacity": cap})
                    + "\n"
                )
                index.flush()
            print(
                stem,
                base["split"],
                base["kind"],
                base["channels"],
                base["rate"],
                quiet,
                cap,
                flush=True,
            )


def judge(out: Path) -> None:
    import warnings

    from audiomodel import load_default_model, validate_path

    warnings.filterwarnings("ignore")
    model = load_default_model()
    verdicts = out / "verdicts.jsonl"
    done = (
        {json.loads(x)["path"] for x in verdicts.read_text().splitlines()}
        if verdicts.exists()
        else set()
    )
    with verdicts.open("a") as f:
        for line in (out / "index.jsonl").read_text().splitlines():
            row = json.loads(line)
            if row["path"] in done:
                continue
            v = validate_path(out / row["path"], model=model)
            codes = sorted(f"{x.code}:{x.severity.name}" for x in v.findings)
            f.write(
                json.dumps({"path": row["path"], "verdict": v.decision.value, "codes": codes})
                + "\n"
            )
            f.flush()


def table(out: Path) -> None:
    index = {
        json.loads(x)["path"]: json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()
    }
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    cells: dict[tuple[str, float], list[int]] = {}
    for v in verdicts:
        r = index[v["path"]]
        key = (r["split"], r["share"])
        cells.setdefault(key, [0, 0])
        cells[key][0] += v["verdict"] != "accept"
        cells[key][1] += 1
        if r["share"] == 0.0 and v["verdict"] != "accept":
            print("cover flagged:", v)
    for key in sorted(cells):
        print(key, f"{cells[key][0]}/{cells[key][1]}")


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("what", choices=["build", "judge", "table"])
    p.add_argument("manifest", nargs="?")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--channels", type=int, default=1, help="2: stereo covers only")
    p.add_argument("--shares", default=",".join(f"{s:g}" for s in SHARES))
    a = p.parse_args()
    if a.what == "build":
        build(
            Path(a.manifest),
            a.out,
            a.count,
            a.channels,
            tuple(float(x) for x in a.shares.split(",")),
        )
    elif a.what == "judge":
        judge(a.out)
    else:
        table(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
