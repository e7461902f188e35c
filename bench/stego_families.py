"""Steganalysis by embedding family and rate, through the whole validator, on held-out clips.

Takes the good WAV/FLAC clips of one split of a dev corpus manifest (``--split heldout`` for
the figures, ``train`` to tune thresholds: the split is by source package), renders each one as
the covers below, embeds payloads the ways real tools and loaders do, validates every file with
:func:`audiomodel.validate_bytes` and prints, per family x rate, the share flagged (verdict not
``accept``), the share reported (flagged, or a ``stego.*`` finding at info level) and the
findings; then the false flags on the clean covers.

Covers: 16-bit (the clip as stored, rendered to 16 bits), 8-bit unsigned WAV, a real 24-bit
recording (the clip delayed by half a sample in float and stored as 24 bits: its low bits
are the filter's arithmetic, as a real 24-bit recording's are its converter's noise), and 16-bit audio padded
to 24 bits (low byte zero).

Families:

- ``steghide`` (the Debian package; skipped when it is not installed): 5 / 10 / 25 / 50 / 60 %
  of the capacity ``steghide info`` reports, random bytes encrypted (the default) and a file's
  bytes with ``-e none -Z`` (neither encrypted nor compressed), on the 16-, 8- and padded 24-bit
  covers.
- clean only (false flags): the 16- and 8-bit covers rounded with TPDF dither.
- ``lsb-replace`` / ``lsb-match``: LSB replacement, and LSB matching (+-1 where the bit
  differs, the sign at random), of the bit-0 plane from the first sample on, at 10 / 25 / 50 /
  100 % of the capacity, random bytes and a file's bytes in turn, on every cover.

Usage::

    uv run --frozen python bench/stego_families.py .cache/corpus/full-seed0/manifest.jsonl
    uv run --frozen python bench/stego_families.py MANIFEST --split train --clips 30
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

from audiomodel import validate_bytes
from audiomodel.findings import Severity

STEGHIDE_RATES = (0.05, 0.10, 0.25, 0.50, 0.60)
LSB_RATES = (0.10, 0.25, 0.50, 1.00)
FILE_PAYLOAD = Path("/usr/bin/env")  # an ELF every Debian machine has
COVERS = ("16-bit", "8-bit", "24-bit real", "24-bit padded")
STEGHIDE_COVERS = ("16-bit", "8-bit", "24-bit padded")  # --steghide-covers picks from these
# Clean only (false flags): the clip rounded with TPDF dither, as sox renders a bit-depth
# reduction by default; its white noise above the rounding floor is innocent.
DITHERED = ("16-bit TPDF", "8-bit TPDF")


def cover_values(x: npt.NDArray[np.float64], rate: int, cover: str) -> tuple[np.ndarray, str]:
    """The cover's samples right-justified (int64) and its soundfile subtype."""
    if cover == "16-bit":
        return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int64), "PCM_16"
    if cover == "8-bit":
        return np.clip(np.rint(x * 128), -128, 127).astype(np.int64), "PCM_U8"
    if cover == "24-bit padded":
        return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int64) << 8, "PCM_24"
    # A half-sample delay (windowed sinc) at -0.25 dB, computed in float: every bit plane below
    # the 16-bit sound is filled by the arithmetic, as a real 24-bit recording's are by noise.
    taps = np.sinc(np.arange(-16, 16) + 0.5) * np.hanning(32)
    shifted = scipy.signal.lfilter(taps / taps.sum() * 0.97, [1.0], x, axis=0)
    return np.clip(np.rint(shifted * 8388608), -8388608, 8388607).astype(np.int64), "PCM_24"


def dithered_values(x: npt.NDArray[np.float64], cover: str, seed: int) -> tuple[np.ndarray, str]:
    """The clip rounded with TPDF dither (two uniform LSB draws summed)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-0.5, 0.5, x.shape) + rng.uniform(-0.5, 0.5, x.shape)
    if cover == "8-bit TPDF":
        return np.clip(np.rint(x * 128 + noise), -128, 127).astype(np.int64), "PCM_U8"
    return np.clip(np.rint(x * 32768 + noise), -32768, 32767).astype(np.int64), "PCM_16"


def encode(values: np.ndarray, rate: int, subtype: str) -> bytes:
    """Integers written as integers (libsndfile's float writes scale by 0x7FFF: not exact)."""
    if subtype == "PCM_24":
        ints: np.ndarray = (values << 8).astype(np.int32)
    else:
        ints = (values << (8 if subtype == "PCM_U8" else 0)).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, ints, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def payload_bits(count: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        data = rng.integers(0, 256, (count + 7) // 8, dtype=np.uint8)
    else:
        raw = np.frombuffer(FILE_PAYLOAD.read_bytes(), dtype=np.uint8)
        data = np.resize(raw, (count + 7) // 8)
    return np.unpackbits(data, bitorder="little")[:count].astype(np.int64)


def embed(values: np.ndarray, rate: float, kind: str, method: str, seed: int) -> np.ndarray:
    """Bit-0 plane of the first ``rate`` of the interleaved samples carries the payload."""
    rng = np.random.default_rng(seed)
    flat = values.reshape(-1).copy()
    count = round(rate * flat.size)
    bits = payload_bits(count, kind, rng)
    head = flat[:count]
    if method == "lsb-replace":
        flat[:count] = (head & ~1) | bits
    else:
        differs = (head & 1) != bits
        step = rng.choice(np.array([-1, 1]), size=count)
        flat[:count] = head + np.where(differs, step, 0)
    return flat.reshape(values.shape)


def steghide_capacity(path: Path) -> int:
    out = subprocess.run(
        ["steghide", "info", str(path), "-p", "x"], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"capacity:\s*([\d.]+)\s*(Byte|KB|MB)", out)
    if not found:
        return 0
    scale = {"Byte": 1, "KB": 1024, "MB": 1 << 20}[found.group(2)]
    return int(float(found.group(1)) * scale)


def steghide_embed(cover: bytes, share: float, encrypted: bool, seed: int) -> bytes | None:
    """steghide at ``share`` of the capacity it reports; None when it cannot embed."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        cf, ef, sf_ = Path(tmp, "cover.wav"), Path(tmp, "payload"), Path(tmp, "stego.wav")
        cf.write_bytes(cover)
        capacity = steghide_capacity(cf)
        size = int(share * capacity)
        if size < 16:
            return None
        for _ in range(6):  # the reported capacity is rounded: shrink until it fits
            if encrypted:
                ef.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
                extra: list[str] = []
            else:
                ef.write_bytes(np.resize(np.frombuffer(FILE_PAYLOAD.read_bytes(), np.uint8), size))
                extra = ["-e", "none", "-Z"]
            done = subprocess.run(
                [
                    "steghide",
                    "embed",
                    "-cf",
                    str(cf),
                    "-ef",
                    str(ef),
                    "-sf",
                    str(sf_),
                    "-p",
                    "PASS",
                    "-f",
                    "-q",
                    *extra,
                ],
                capture_output=True,
                check=False,
            )
            if done.returncode == 0:
                return sf_.read_bytes()
            size = int(size * 0.9)
        return None


def flagged(data: bytes) -> tuple[bool, list[str]]:
    """Verdict not accept, and the findings: suspicious or worse by code, ``stego.*`` at info
    level as ``code (info)`` (reported, not flagged)."""
    verdict = validate_bytes(data)
    codes = [
        f.code if f.severity >= Severity.SUSPICIOUS else f"{f.code} (info)"
        for f in verdict.findings
        if f.severity >= Severity.SUSPICIOUS or f.code.startswith("stego.")
    ]
    return verdict.decision.value != "accept", codes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--split", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="clips cut to this")
    parser.add_argument("--no-steghide", action="store_true")
    parser.add_argument("--no-lsb", action="store_true", help="skip LSB replacement/matching")
    parser.add_argument("--log", type=Path, help="append each result as a JSON line (long runs)")
    parser.add_argument(
        "--clean-only", action="store_true", help="false flags only (use with a large --clips)"
    )
    parser.add_argument(
        "--steghide-rates",
        default=",".join(f"{r:g}" for r in STEGHIDE_RATES),
        help="comma-separated shares of steghide's capacity",
    )
    parser.add_argument(
        "--steghide-covers",
        default="16-bit,8-bit,24-bit padded",
        help="comma-separated covers for steghide (its graph matching takes ~10-60 s per file)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    have_steghide = shutil.which("steghide") is not None and not args.no_steghide

    root = args.manifest.parent
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    good = [
        r
        for r in rows
        if r["label"] == "good"
        and r["split"] == args.split
        and r["format"] in ("wav", "flac")
        and str(r.get("subtype", "")).startswith("PCM")
    ]
    order = np.random.default_rng(args.seed).permutation(len(good))
    chosen = [good[i] for i in order[: args.clips]]
    steghide_rates = [float(r) for r in args.steghide_rates.split(",")]
    hits: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    reported: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    codes: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    clean: dict[str, list[bool]] = defaultdict(list)
    clean_codes: dict[str, Counter[str]] = defaultdict(Counter)
    started = time.perf_counter()

    def record(key: tuple[str, str, str], data: bytes | None) -> None:
        if data is None:
            return
        bad, found = flagged(data)
        if args.log:
            with args.log.open("a") as log:
                log.write(json.dumps({"key": key, "flagged": bad, "findings": found}) + "\n")
        hits[key].append(bad)
        reported[key].append(bad or any(c.startswith("stego.") for c in found))
        codes[key].update(set(found))

    for index, row in enumerate(chosen):
        print(f"{index + 1}/{len(chosen)} {row['path']}", file=sys.stderr, flush=True)
        x, rate = sf.read(root / row["path"], always_2d=True)
        x = x[: int(args.max_seconds * rate)]
        for cover in DITHERED:
            values, subtype = dithered_values(x, cover, seed=index)
            bad, found = flagged(encode(values, rate, subtype))
            clean[cover].append(bad)
            clean_codes[cover].update(set(found))
        for cover in COVERS:
            values, subtype = cover_values(x, rate, cover)
            cover_bytes = encode(values, rate, subtype)
            bad, found = flagged(cover_bytes)
            clean[cover].append(bad)
            clean_codes[cover].update(set(found))
            if args.clean_only:
                continue
            kind = "random" if index % 2 == 0 else "file"
            for method in () if args.no_lsb else ("lsb-replace", "lsb-match"):
                for share in LSB_RATES:
                    stego = embed(values, share, kind, method, seed=index)
                    record(
                        (f"{method} {cover}", f"{share:.0%}", kind), encode(stego, rate, subtype)
                    )
            if have_steghide and cover in args.steghide_covers.split(","):
                for share in steghide_rates:
                    encrypted = index % 2 == 0
                    name = "encrypted" if encrypted else "-e none file"
                    data = steghide_embed(cover_bytes, share, encrypted, seed=index)
                    record((f"steghide {cover}", f"{share:.0%}", name), data)

    elapsed = time.perf_counter() - started
    print(f"\n### Stego families, {len(chosen)} {args.split} clips ({elapsed:.0f} s)\n")
    print("| family | rate | flagged | reported | findings |")
    print("| --- | ---: | ---: | ---: | --- |")
    by_family: dict[tuple[str, str], list[bool]] = defaultdict(list)
    by_reported: dict[tuple[str, str], list[bool]] = defaultdict(list)
    by_codes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (family, share, _), results in hits.items():
        by_family[(family, share)].extend(results)
        by_reported[(family, share)].extend(reported[(family, share, _)])
        by_codes[(family, share)].update(codes[(family, share, _)])
    for (family, share), results in sorted(
        by_family.items(), key=lambda kv: (kv[0][0], float(kv[0][1].rstrip("%")))
    ):
        top = ", ".join(f"{c} {n}" for c, n in by_codes[(family, share)].most_common(3))
        seen = by_reported[(family, share)]
        print(f"| {family} | {share} | {sum(results)}/{len(results)} | {sum(seen)} | {top} |")
    print("\n| clean cover | false flags | findings |")
    print("| --- | ---: | --- |")
    for cover, results in clean.items():
        top = ", ".join(f"{c} {n}" for c, n in clean_codes[cover].most_common(3))
        print(f"| {cover} | {sum(results)}/{len(results)} | {top} |")


if __name__ == "__main__":
    main()
