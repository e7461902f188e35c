"""Data dressed up as audio, family by family: does the validator flag it, and where?

Makes the families on the fly from good clips of a dev corpus manifest (``--split heldout`` to
report, ``--split train`` to tune) and bytes of files on this machine (executables, shared
libraries, Python and C sources, gzip'd documentation), validates each in memory, and prints a
table: per family, the share flagged (verdict not ``accept``) and the share whose finding's time
range overlaps the truth; then the false flags on the good clips themselves.

Families (each at several sample widths and layouts):

- ``splice <width>``: 5-20% of the track's samples are a file's bytes, inserted raw into the
  middle of the sample data of the track written as 8-bit unsigned, 16/24/32-bit or float WAV.
- ``steps N <width>``: bytes held as steps (each byte repeated for N samples), a whole file, or
  spliced into a track (``in track``).
- ``ramp <width>``: bytes sorted into a ramp (blocks of 4-64 KiB sorted ascending, or
  alternately up and down), a whole file or spliced into a track.

Usage::

    uv run --frozen python bench/signal_families.py /work/main/.cache/corpus/full-seed0/manifest.jsonl
    uv run --frozen python bench/signal_families.py MANIFEST --split train --clips 30 --verbose
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel import Verdict, load_default_model, validate_bytes

Audio = npt.NDArray[np.float64]
WIDTHS = {"u8": "PCM_U8", "s16": "PCM_16", "s24": "PCM_24", "s32": "PCM_32", "f32": "FLOAT"}
BYTES_PER_SAMPLE = {"u8": 1, "s16": 2, "s24": 3, "s32": 4, "f32": 4}
LOCATED = ("signal.data_segment", "signal.held_steps", "signal.monotonic_run")


@dataclass
class Case:
    family: str
    data: bytes
    truth: tuple[float, float] | None  # seconds, None for a whole file of data


# -- payloads: bytes of files on this machine ------------------------------------------------


def payload_pool(rng: np.random.Generator) -> list[Path]:
    roots = {
        "binary": sorted(Path("/usr/bin").glob("*")),
        "library": sorted(Path("/usr/lib/x86_64-linux-gnu").glob("*.so*")),
        "python": sorted(Path(sys.base_prefix).glob("lib/python3*/**/*.py")),
        "c source": sorted(Path("/usr/include").glob("**/*.h")),
        "gzip": sorted(Path("/usr/share/doc").glob("**/*.gz")),
    }
    pool: list[Path] = []
    for files in roots.values():
        files = [f for f in files if f.is_file() and not f.is_symlink()]
        if files:
            pool.extend(files[i] for i in rng.choice(len(files), size=min(40, len(files))))
    return pool


def payload(rng: np.random.Generator, pool: list[Path], size: int) -> bytes:
    """``size`` bytes from one or more files of the pool (a random stretch of each)."""
    out = bytearray()
    while len(out) < size:
        blob = pool[int(rng.integers(len(pool)))].read_bytes()
        if len(blob) < 64:
            continue
        need = size - len(out)
        start = int(rng.integers(0, max(1, len(blob) - need)))
        out += blob[start : start + need]
    return bytes(out)


# -- WAV helpers ----------------------------------------------------------------------------


def wav(x: npt.NDArray[np.generic], rate: int, width: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=WIDTHS[width])
    return buf.getvalue()


def data_chunk(blob: bytes) -> tuple[int, int]:
    """(offset of the sample data, its size) in a RIFF/WAVE file."""
    pos = 12
    while pos + 8 <= len(blob):
        cid, size = blob[pos : pos + 4], struct.unpack("<I", blob[pos + 4 : pos + 8])[0]
        if cid == b"data":
            return pos + 8, size
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def splice_raw(blob: bytes, at: int, insert: bytes) -> bytes:
    """Insert raw bytes into the sample data at byte ``at`` (from the data start)."""
    offset, size = data_chunk(blob)
    out = bytearray(blob[: offset + at] + insert + blob[offset + at :])
    struct.pack_into("<I", out, 4, len(out) - 8)
    struct.pack_into("<I", out, offset - 4, size + len(insert))
    return bytes(out)


def as_samples(values: npt.NDArray[np.uint8], width: str) -> npt.NDArray[np.generic]:
    """Bytes as full-scale samples of a width (the byte is the sample's top byte)."""
    centred = values.astype(np.int32) - 128
    if width == "f32":
        return (centred / 128.0).astype(np.float32)
    if width in ("u8", "s16", "s24"):
        return (centred << 8).astype(np.int16)  # libsndfile keeps 16-bit values exact
    return (centred << 24).astype(np.int32)


# -- the families ------------------------------------------------------------------------------


def splice_case(
    rng: np.random.Generator, pool: list[Path], x: Audio, rate: int, width: str
) -> Case:
    share = float(rng.uniform(0.05, 0.20))
    channels = x.shape[1]
    frame_bytes = BYTES_PER_SAMPLE[width] * channels
    frames = max(1, round(x.shape[0] * share / (1 - share)))
    blob, at = wav(x, rate, width), x.shape[0] // 2
    data = splice_raw(blob, at * frame_bytes, payload(rng, pool, frames * frame_bytes))
    return Case(f"splice {width}", data, (at / rate, (at + frames) / rate))


def steps_values(
    rng: np.random.Generator, pool: list[Path], n: int, held: int
) -> npt.NDArray[np.uint8]:
    raw = np.frombuffer(payload(rng, pool, max(1, n // held + 1)), dtype=np.uint8)
    return np.repeat(raw, held)[:n]


def ramp_values(rng: np.random.Generator, pool: list[Path], n: int) -> npt.NDArray[np.uint8]:
    raw = np.frombuffer(payload(rng, pool, n), dtype=np.uint8).copy()
    block = int(rng.choice([4096, 16384, 65536]))
    alternate = bool(rng.integers(2))
    for i, start in enumerate(range(0, n, block)):
        part = np.sort(raw[start : start + block])
        raw[start : start + block] = part[::-1] if alternate and i % 2 else part
    return raw


def pattern_case(
    rng: np.random.Generator,
    pool: list[Path],
    x: Audio | None,
    rate: int,
    width: str,
    kind: str,
) -> Case:
    channels = int(rng.integers(1, 3)) if x is None else x.shape[1]
    if x is None:
        frames = int(rng.integers(3, 31) * rate)
    else:
        share = float(rng.uniform(0.05, 0.20))
        frames = max(1, round(x.shape[0] * share / (1 - share)))
    n = frames * channels
    held = int(rng.choice([2, 3, 4, 8, 16, 64]))
    values = steps_values(rng, pool, n, held) if kind == "steps" else ramp_values(rng, pool, n)
    samples = as_samples(values, width).reshape(frames, channels)
    if x is None:
        return Case(f"{kind} {width}", wav(samples, rate, width), None)
    # Into the middle of a track of the same width (the track converted to the sample dtype).
    at = x.shape[0] // 2
    if samples.dtype == np.float32:
        track: npt.NDArray[np.generic] = x.astype(np.float32)
    elif samples.dtype == np.int16:
        track = np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
    else:
        track = np.clip(np.rint(x * 2147483647.0), -(2**31), 2**31 - 1).astype(np.int32)
    spliced = np.concatenate([track[:at], samples, track[at:]])
    return Case(
        f"{kind} {width} in track", wav(spliced, rate, width), (at / rate, (at + frames) / rate)
    )


# -- running -----------------------------------------------------------------------------------


def overlaps(verdict: Verdict, truth: tuple[float, float]) -> bool:
    """True when a localised finding's time range overlaps the truth."""
    for f in verdict.findings:
        start, end = f.evidence.get("start_s"), f.evidence.get("end_s")
        if f.code not in LOCATED or not isinstance(start, float | int):
            continue
        if isinstance(end, float | int) and max(start, truth[0]) < min(end, truth[1]):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--split", default="heldout", choices=["heldout", "train"])
    parser.add_argument("--clips", type=int, default=0, help="good clips to use (0: all)")
    parser.add_argument("--per-family", type=int, default=24, help="cases per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument("--keep-misses", type=Path, help="write every missed case here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    root = args.manifest.parent
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    good = [r for r in rows if r["label"] == "good" and r["split"] == args.split]
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(good))
    chosen = [good[i] for i in order[: args.clips or len(good)]]
    pool = payload_pool(rng)
    model = load_default_model()
    started = time.perf_counter()

    # False flags on the good clips as they are.
    false_flags: list[str] = []
    clips: list[tuple[Audio, int]] = []
    for row in chosen:
        blob = (root / row["path"]).read_bytes()
        verdict = validate_bytes(blob, name=row["path"], model=model)
        if verdict.decision.value != "accept":
            codes = sorted({f.code for f in verdict.findings if f.severity > 1})
            false_flags.append(f"{row['path']} {verdict.decision.value} {codes}")
        x, rate = sf.read(io.BytesIO(blob), always_2d=True)
        if x.shape[0] >= 2 * rate:
            clips.append((x, rate))

    makers: dict[str, Callable[[np.random.Generator], Case]] = {}

    def clip(r: np.random.Generator) -> tuple[Audio, int]:
        x, rate = clips[int(r.integers(len(clips)))]
        return x, rate

    for width in WIDTHS:
        makers[f"splice {width}"] = lambda r, w=width: splice_case(r, pool, *clip(r), w)
        for kind in ("steps", "ramp"):
            makers[f"{kind} {width}"] = lambda r, w=width, k=kind: pattern_case(
                r, pool, None, int(r.choice([8000, 22050, 44100, 48000])), w, k
            )
            makers[f"{kind} {width} in track"] = lambda r, w=width, k=kind: pattern_case(
                r, pool, *clip(r), w, k
            )

    results: dict[str, list[tuple[bool, bool | None]]] = defaultdict(list)
    for make in makers.values():
        for _ in range(args.per_family):
            case = make(rng)
            verdict = validate_bytes(case.data, model=model)
            flagged = verdict.decision.value != "accept"
            located = overlaps(verdict, case.truth) if case.truth else None
            results[case.family].append((flagged, located))
            if not flagged or located is False:
                codes = [f.code for f in verdict.findings]
                if args.verbose:
                    print(f"miss {case.family} truth={case.truth} {verdict.decision.value} {codes}")
                if args.keep_misses:
                    args.keep_misses.mkdir(parents=True, exist_ok=True)
                    name = f"{case.family.replace(' ', '_')}-{len(results[case.family])}.wav"
                    (args.keep_misses / name).write_bytes(case.data)

    print(f"\n### Signal families ({args.split} split, {len(clips)} clips, seed {args.seed})\n")
    print("| family | cases | flagged | time range overlaps truth |")
    print("| --- | ---: | ---: | ---: |")
    total = flagged_total = 0
    for family, rows_ in results.items():
        flagged = sum(f for f, _ in rows_)
        located = [loc for _, loc in rows_ if loc is not None]
        where = f"{sum(located) / len(located):.0%}" if located else "whole file"
        print(f"| {family} | {len(rows_)} | {flagged / len(rows_):.1%} | {where} |")
        total += len(rows_)
        flagged_total += flagged
    print(f"| **all** | {total} | {flagged_total / max(total, 1):.1%} | |")
    print(
        f"\nFalse flags on the {len(chosen)} good clips as they are: {len(false_flags)} "
        f"({len(false_flags) / max(len(chosen), 1):.1%})"
    )
    for line in false_flags:
        print(f"- {line}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
