"""Bytes held as steps, then through a lossy codec: coverage, and honest held audio's false flags.

Attack cases: a file's bytes (an ELF, source text, random bytes, gzip) written as 8-bit values,
each held for N samples (4-64), alone (10 s) or spliced over 5-20 % of a real track (30 s, the
dev corpus's good ``real`` clips of the train split), then coded with lame (MP3), oggenc
(Vorbis), opusenc (Opus; decodes at 48 kHz, so a hold of N is N * 160 / 147) or ffmpeg's AAC,
and uploaded as the compressed file or as the WAV decoded from it. Honest cases, which hold
values on a clock too: real tracks bitcrushed (sample-and-hold at 1/N of the rate, and 8 or 6
bits), upsampled by repeating samples (a zero-order hold without a filter), and a tracker
playing 8-bit samples without interpolation, each through the same codecs.

Counted per group: cases with a ``signal.held_grid`` finding, and cases not accepted. Generated
audio goes to ``--out`` (not in git). Skips a codec whose tool is absent.

Usage::

    uv run --frozen python bench/lossy_steps.py --out .cache/lossy_steps
    uv run --frozen python bench/lossy_steps.py --out .cache/lossy_steps --only honest
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
RATE = 44100
CODECS = ("mp3:128", "mp3:320", "ogg:3", "ogg:8", "opus:96", "opus:160", "aac:192")
TOOLS = {"mp3": "lame", "ogg": "oggenc", "opus": "opusenc", "aac": "ffmpeg"}


def encode(y: npt.NDArray[np.float64], codec: str, out: Path, *, as_wav: bool) -> Path | None:
    """``y`` (frames, 2) at RATE through ``codec`` ("mp3:128"); the compressed file, or (AAC,
    which the validator does not open, or ``as_wav``) the WAV decoded from it."""
    name, rate = codec.split(":")
    if shutil.which(TOOLS[name]) is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "in.wav"
        sf.write(wav, y, RATE, subtype="PCM_16")
        coded = Path(tmp) / f"coded.{'m4a' if name == 'aac' else name}"
        command = {
            "mp3": ["lame", "--quiet", "-b", rate, str(wav), str(coded)],
            "ogg": ["oggenc", "-Q", "-q", rate, str(wav), "-o", str(coded)],
            "opus": ["opusenc", "--quiet", "--bitrate", rate, str(wav), str(coded)],
            "aac": [
                *("ffmpeg", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", "-b:a"),
                rate + "k",
                str(coded),
            ],
        }[name]
        subprocess.run(command, check=True)
        if as_wav or name == "aac":
            target = out.with_suffix(".wav")
            decode = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(coded), "-c:a", "pcm_s16le"]
            subprocess.run([*decode, str(target)], check=True)
            return target
        target = out.with_suffix(coded.suffix)
        shutil.copy(coded, target)
        return target


def payloads(rng: np.random.Generator) -> dict[str, bytes]:
    so = max(Path(np.__file__).parent.rglob("*.so"), key=lambda p: p.stat().st_size).read_bytes()
    source = b"".join(p.read_bytes() for p in sorted((ROOT / "libs").rglob("*.py")))
    return {
        "elf": so[:1_500_000],
        "source": source[:1_500_000],
        "random": rng.bytes(1_500_000),
        "gzip": gzip.compress(source)[:1_500_000],
    }


def held(data: bytes, hold: float, frames: int, level: float = 0.8) -> npt.NDArray[np.float64]:
    """Bytes as 8-bit values (offset binary), each held for ``hold`` samples, both channels."""
    count = int(np.ceil(frames / hold)) + 1
    values = (np.frombuffer(data[:count], dtype=np.uint8).astype(np.float64) - 128) / 128
    y = np.repeat(values, int(hold))[:frames] * level
    return np.c_[y, y]


def real_tracks(corpus: Path, count: int, seconds: float) -> list[npt.NDArray[np.float64]]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    paths = [
        corpus / r["path"]
        for r in rows
        if r["label"] == "good" and r["path"].startswith("good/real/") and r["split"] == "train"
    ]
    tracks = []
    for path in np.random.default_rng(4).permutation(paths):
        y, sr = sf.read(path, always_2d=True)
        if sr == RATE and len(y) > seconds * sr and np.sqrt(np.mean(y**2)) > 0.02:
            y = y[: int(seconds * sr)]
            tracks.append(np.repeat(y, 2, axis=1) if y.shape[1] == 1 else y[:, :2])
        if len(tracks) >= count:
            break
    return tracks


Case = tuple[str, str, Callable[[Path], Path | None]]


def attack_cases(corpus: Path, rng: np.random.Generator) -> Iterator[Case]:
    data = payloads(rng)
    for name, payload in data.items():
        for hold in (4, 8, 16, 32, 64):
            y = held(payload, hold, 10 * RATE)
            for codec in CODECS:
                yield (
                    f"alone {codec.split(':')[0]}",
                    f"{name} hold {hold} {codec}",
                    lambda out, y=y, codec=codec: encode(y, codec, out, as_wav=False),
                )
    tracks = real_tracks(corpus, 2, 30.0)
    for t, track in enumerate(tracks):
        for name in ("elf", "source", "random"):
            for hold in (8, 32):
                for share in (0.05, 0.1, 0.2):
                    y = track.copy()
                    n = int(len(y) * share)
                    at = len(y) // 3
                    y[at : at + n] = held(data[name], hold, n, level=0.7)
                    for codec in ("mp3:192", "ogg:5", "opus:128", "aac:192"):
                        for as_wav in (False, True) if codec == "mp3:192" else (False,):
                            form = "wav" if as_wav or codec.startswith("aac") else "coded"
                            yield (
                                f"spliced {int(share * 100)} % {codec.split(':')[0]} {form}",
                                f"{name} hold {hold} track {t}",
                                lambda out, y=y, codec=codec, as_wav=as_wav: encode(
                                    y, codec, out, as_wav=as_wav
                                ),
                            )


def bitcrush(y: npt.NDArray[np.float64], hold: int, bits: int) -> npt.NDArray[np.float64]:
    """Sample-and-hold at 1 / ``hold`` of the rate (no anti-alias filter, as a bitcrusher
    does), quantised to ``bits``."""
    kept = y[::hold]
    step = 2.0 / 2**bits
    kept = np.round(kept / step) * step
    return np.repeat(kept, hold, axis=0)[: len(y)]


def zero_order_upsample(y: npt.NDArray[np.float64], factor: int) -> npt.NDArray[np.float64]:
    """The track band-limited and resampled to RATE / ``factor`` (sox), then brought back to
    RATE by repeating each sample ``factor`` times: an upsampler without a filter."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.wav", Path(tmp) / "b.wav"
        sf.write(a, y, RATE, subtype="PCM_16")
        subprocess.run(["sox", str(a), "-r", str(RATE // factor), str(b)], check=True)
        low, _ = sf.read(b, always_2d=True)
    return np.repeat(low, factor, axis=0)[: len(y)]


def tracker(
    rng: np.random.Generator, samples: list[npt.NDArray[np.float64]]
) -> npt.NDArray[np.float64]:
    """Four channels playing 8-bit instrument samples (cut from real tracks, stored at 8,363 Hz
    as MOD files do) at note pitches, each read without interpolation (the index truncated, a
    zero-order hold at a pitch-dependent, fractional period), mixed, 20 s."""
    frames = 20 * RATE
    mix = np.zeros(frames)
    row = int(RATE * 0.125)
    for _channel in range(4):
        instrument = samples[int(rng.integers(len(samples)))]
        inst = np.round(instrument * 127) / 127
        for start in range(0, frames, row * int(rng.integers(1, 5))):
            note = int(rng.integers(-24, 13))
            speed = 8363 * 2 ** (note / 12) / RATE
            n = min(frames - start, row * 4)
            index = (np.arange(n) * speed).astype(np.intp)
            index = index[index < inst.size]
            mix[start : start + index.size] += inst[index] * 0.3
    mix = np.clip(mix, -1, 1)
    return np.c_[mix, mix]


def honest_cases(corpus: Path, rng: np.random.Generator) -> Iterator[Case]:
    tracks = real_tracks(corpus, 6, 20.0)
    for t, track in enumerate(tracks):
        for hold in (4, 8, 16, 32, 64):
            bits = (16, 8, 6)[t % 3]
            y = bitcrush(track, hold, bits)
            for codec in ("mp3:192", "ogg:5", "opus:128"):
                yield (
                    f"bitcrushed {codec.split(':')[0]}",
                    f"track {t} hold {hold} {bits} bits",
                    lambda out, y=y, codec=codec: encode(y, codec, out, as_wav=False),
                )
        for factor in (4, 8):
            y = zero_order_upsample(track, factor)
            for codec in ("mp3:192", "ogg:5"):
                yield (
                    f"zero-order upsampled {codec.split(':')[0]}",
                    f"track {t} x{factor}",
                    lambda out, y=y, codec=codec: encode(y, codec, out, as_wav=False),
                )
    with tempfile.TemporaryDirectory() as tmp:
        cut = []
        for track in tracks:
            a, b = Path(tmp) / "a.wav", Path(tmp) / "b.wav"
            sf.write(a, track[: 2 * RATE].mean(axis=1), RATE, subtype="PCM_16")
            subprocess.run(["sox", str(a), "-r", "8363", str(b)], check=True)
            cut.append(sf.read(b)[0])
    for song in range(6):
        y = tracker(rng, cut)
        for codec in ("mp3:192", "ogg:5", "opus:128"):
            yield (
                f"tracker, no interpolation {codec.split(':')[0]}",
                f"song {song}",
                lambda out, y=y, codec=codec: encode(y, codec, out, as_wav=False),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "lossy_steps")
    parser.add_argument("--corpus", type=Path, default=ROOT / ".cache/corpus/full-seed0")
    parser.add_argument("--only", choices=("attack", "honest"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    from audiomodel.findings import Severity
    from audiomodel.validator import validate_path

    rng = np.random.default_rng(7)
    # per case: a held_grid finding; not accepted; flagged by another finding (as before it)
    groups: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
    kinds = [args.only] if args.only else ["attack", "honest"]
    for kind in kinds:
        out = args.out / kind
        out.mkdir(parents=True, exist_ok=True)
        cases = (
            attack_cases(args.corpus, rng) if kind == "attack" else honest_cases(args.corpus, rng)
        )
        for i, (group, label, make) in enumerate(cases):
            path = make(out / f"{i:04d}")
            if path is None:
                print(f"skip {group}: {label} (tool absent)")
                continue
            verdict = validate_path(path)
            grid = [f for f in verdict.findings if f.code == "signal.held_grid"]
            flagged = verdict.decision.value != "accept"
            others = any(
                f.severity >= Severity.SUSPICIOUS and f.code != "signal.held_grid"
                for f in verdict.findings
            )
            groups[f"{kind}: {group}"].append((bool(grid), flagged, others or verdict.score >= 0.5))
            if (
                args.verbose
                or (kind == "honest" and (grid or flagged))
                or (kind == "attack" and not flagged)
            ):
                codes = sorted(
                    {f.code for f in verdict.findings if f.severity >= Severity.SUSPICIOUS}
                )
                where = [(f.evidence.get("start_s"), f.evidence.get("end_s")) for f in grid]
                print(
                    f"{kind} {group}: {label}: {verdict.decision.value} {codes} {where}", flush=True
                )
            path.unlink()
    print("| group | cases | held_grid found | not accepted | flagged by other findings |")
    print("| --- | --- | --- | --- | --- |")
    for group, rows in groups.items():
        found, flagged, others = (sum(column) for column in zip(*rows, strict=True))
        print(f"| {group} | {len(rows)} | {found} | {flagged} | {others} |")


if __name__ == "__main__":
    main()
