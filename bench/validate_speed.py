"""How fast is audioval's validator next to Chromaprint's fpcalc and the original pipeline?

Measures, in one run and on the same files, (a) ``audiomodel.validator.validate_path`` (hash,
container walk, streamed decode, signal, window, modem and LSB analysis, score), (b)
Chromaprint's ``fpcalc -length 0`` (C: decode and one spectral pass; a process per file, as it
is used) and (c) the original system's librosa features (``bench/original_pipeline.py``),
interleaved file by file after a warm-up, on one core. Wall time and CPU time are both kept:
on a shared machine wall time counts the waits for the core, CPU time (``process_time`` in
process, ``RUSAGE_CHILDREN`` for fpcalc) does not. A profiled pass of its own then gives the
validator's CPU time by stage. Prints markdown tables; asserts nothing. See ``bench/README.md``
for the columns.

Usage::

    uv run --frozen python bench/validate_speed.py                   # corpus if built, else synthetic
    uv run --frozen python bench/validate_speed.py --synthetic --files 6 --seconds 45
    uv run --frozen python bench/validate_speed.py --corpus DIR_OR_MANIFEST --files 20
    uv run --frozen python bench/validate_speed.py --corpus DIR --threat-class real --files 40 \
        --skip-original                                          # validator vs fpcalc only
    uv run --frozen python bench/validate_speed.py --files 0 --memory  # one hour file, peak RSS
"""

from __future__ import annotations

import os

# One thread per numeric library, before numpy is imported: the figures are per core, and on a
# pinned core extra BLAS/OpenMP threads would only contend with each other.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DEFAULT_MANIFEST = ROOT / ".cache/corpus/manifest.jsonl"
RATE = 44100
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
# Synthetic files are written in blocks of this many seconds, so the hour-long file never
# exists in memory as a whole.
WRITE_BLOCK_S = 10.0


# --- synthetic music-like audio ------------------------------------------------------------------


def music_like(seconds: float, *, seed: int, rate: int = RATE) -> npt.NDArray[np.float32]:
    """Stereo music-like audio, shape (frames, 2), float32 peaking at 0.9.

    A seeded tempo and key; bass, melody and chord notes (harmonic tones with an attack and an
    exponential decay, panned apart); kick, snare and hi-hat bursts on the beat grid; a noise
    floor at about -60 dBFS. Loops run over note events, each vectorised over its samples.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    out = np.zeros((n, 2), dtype=np.float64)
    beat = 60.0 / rng.uniform(80.0, 160.0)
    key = 48 + int(rng.integers(0, 12))
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    harmonics = 1.0 / np.arange(1, 7) ** rng.uniform(1.0, 2.0)
    drums = _drum_kit(rng, rate)

    def place(start_s: float, sound: npt.NDArray[np.float64], pan: float) -> None:
        start = round(start_s * rate)
        end = min(n, start + sound.shape[0])
        if end > start:
            gains = np.array([np.cos(pan * np.pi / 2), np.sin(pan * np.pi / 2)])
            out[start:end] += sound[: end - start, None] * gains

    def note(midi: int, length_s: float, level: float) -> npt.NDArray[np.float64]:
        t = np.arange(round(length_s * rate)) / rate
        freq = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        k = np.arange(1, harmonics.size + 1)[:, None]
        partials = harmonics[:, None] * np.sin(
            2 * np.pi * freq * k * t + rng.uniform(0, 6.3, (k.size, 1))
        )
        envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / (0.3 * length_s + 0.05))
        sound: npt.NDArray[np.float64] = level * envelope * partials.sum(axis=0)
        return sound

    chord_root = 0
    for i in range(int(seconds / beat) + 1):
        at = i * beat
        if i % 4 == 0:
            chord_root = int(rng.choice([0, 3, 4, 5]))
            for step in (0, 2, 4):
                place(at, note(key + 12 + int(scale[(chord_root + step) % 7]), 4 * beat, 0.08), 0.5)
            place(at, drums["kick"], 0.5)
        if i % 4 == 2:
            place(at, drums["kick"], 0.5)
        if i % 2 == 1:
            place(at, drums["snare"], 0.45)
        place(at, note(key - 12 + int(scale[chord_root]), beat, 0.25), 0.5)
        place(at, drums["hat"], 0.7)
        place(at + beat / 2, drums["hat"] * 0.6, 0.7)
        for half in (0.0, 0.5):
            if rng.random() < 0.8:
                melody = key + 24 + int(scale[rng.integers(0, scale.size)])
                place(at + half * beat, note(melody, beat * rng.choice([0.5, 1.0]), 0.15), 0.3)
    out += 1e-3 * rng.standard_normal((n, 2))
    peak = float(np.max(np.abs(out))) or 1.0
    return (out * (0.9 / peak)).astype(np.float32)


def _drum_kit(rng: np.random.Generator, rate: int) -> dict[str, npt.NDArray[np.float64]]:
    t = np.arange(round(0.4 * rate)) / rate
    sweep = 2 * np.pi * (50.0 * t + 60.0 * 0.03 * (1 - np.exp(-t / 0.03)))
    kick = 0.9 * np.sin(sweep) * np.exp(-t / 0.12)
    noise = rng.standard_normal(t.size)
    snare = 0.5 * (
        noise * np.exp(-t / 0.06) + 0.5 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)
    )
    # First difference: a crude high-pass, enough to make the hat bright.
    hat = (
        0.25
        * np.diff(noise, prepend=0.0)[: round(0.08 * rate)]
        * np.exp(-t[: round(0.08 * rate)] / 0.015)
    )
    return {"kick": kick, "snare": snare, "hat": hat}


def write_music_wav(
    path: Path, seconds: float, *, seed: int, distinct_blocks: int | None = None
) -> Path:
    """Write a music-like 44.1 kHz stereo 16-bit WAV, block by block; return ``path``.

    With ``distinct_blocks`` the file cycles through that many different blocks (of
    ``WRITE_BLOCK_S`` seconds) instead of synthesising every one: an hour then takes seconds
    to write, not minutes, and memory still holds one block at a time.
    """
    made: dict[int, npt.NDArray[np.float32]] = {}
    with sf.SoundFile(
        path, "w", samplerate=RATE, channels=2, subtype="PCM_16", format="WAV"
    ) as out:
        done, block = 0.0, 0
        while done < seconds - 1e-9:
            length = min(WRITE_BLOCK_S, seconds - done)
            key = block if distinct_blocks is None else block % distinct_blocks
            if key not in made or made[key].shape[0] != round(length * RATE):
                made[key] = music_like(length, seed=seed * 100_003 + key)
            out.write(made[key])
            if distinct_blocks is None:
                made.clear()
            done += length
            block += 1
    return path


# --- inputs ----------------------------------------------------------------------------------------


def _duration(path: Path) -> float | None:
    try:
        return float(sf.info(str(path)).duration)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None


def corpus_files(
    source: Path,
    *,
    count: int,
    label: str | None,
    min_seconds: float,
    seed: int,
    threat_class: str | None = None,
) -> list[Path]:
    """Up to ``count`` audio files from a manifest (or a directory), spread by a seeded shuffle;
    ``label`` and ``threat_class`` filter a manifest's rows (``threat_class="real"``: music)."""
    if source.is_dir() and (source / "manifest.jsonl").is_file():
        source = source / "manifest.jsonl"
    if source.is_file():
        rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        candidates = [
            source.parent / str(r["path"])
            for r in rows
            if (label is None or r.get("label") == label)
            and (threat_class is None or r.get("threat_class") == threat_class)
        ]
    else:
        candidates = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    order = np.random.default_rng(seed).permutation(len(candidates))
    chosen: list[Path] = []
    for index in order:
        if len(chosen) == count:
            break
        seconds = _duration(candidates[index])
        if seconds is not None and seconds >= min_seconds:
            chosen.append(candidates[index])
    return chosen


def default_corpus() -> Path | None:
    """The dev corpus manifest if one is built (``.cache/corpus/manifest.jsonl`` or one level down)."""
    if DEFAULT_MANIFEST.is_file():
        return DEFAULT_MANIFEST
    nested = sorted(DEFAULT_MANIFEST.parent.glob("*/manifest.jsonl"))
    return nested[0] if nested else None


def synthetic_files(directory: Path, *, count: int, seconds: float | None, seed: int) -> list[Path]:
    """``count`` music-like WAVs of ``seconds`` each (or 30-60 s, seeded) in ``directory``."""
    rng = np.random.default_rng(seed)
    files = []
    for i in range(count):
        length = seconds if seconds is not None else float(rng.uniform(30.0, 60.0))
        files.append(
            write_music_wav(directory / f"synthetic-{i:02d}.wav", round(length, 1), seed=seed + i)
        )
    return files


# --- measuring -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One file's measurements (None where a side was skipped or failed)."""

    name: str
    audio_s: float
    validator_s: float | None = None
    validator_cpu_s: float | None = None
    verdict: str = "-"
    fpcalc_s: float | None = None
    fpcalc_cpu_s: float | None = None
    validator_stages_ms: dict[str, float] = field(default_factory=dict)
    original_s: float | None = None
    original_stages_s: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def pin_to_one_core(cpu: int | None) -> int | None:
    """Pin this process (and its children) to one CPU; return it, or None where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu is not None else allowed[0]
    os.sched_setaffinity(0, {chosen})
    return chosen


class Validator:
    """``validate_path`` with the model loaded once, or the reason it cannot be imported."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.import_s = 0.0
        self.model_load_s = 0.0
        try:
            self.import_s, module = _timed(
                lambda: __import__("audiomodel.validator", fromlist=["x"])
            )
            model_module = __import__("audiomodel.model", fromlist=["x"])
            self.model_load_s, self.model = _timed(model_module.load_default_model)
        except Exception as err:  # an unfinished validator: report it and run the baseline alone
            self.error = f"{type(err).__name__}: {err}"
            return
        self.module = module
        self.validate_path = module.validate_path

    def __call__(self, path: Path) -> tuple[float, Any]:
        return _timed(lambda: self.validate_path(path, model=self.model))

    def profiled(self, path: Path) -> dict[str, float]:
        """CPU ms per stage of one validation of ``path``: ``analyse_stream(profile=True)``
        (hash, container, decode, signal, windows, modem, stego, findings), ``model`` (the
        score and the verdict) and ``other`` (opening the file, the glue between stages: the
        whole call's CPU time less the stages)."""
        started = time.process_time()
        with path.open("rb") as stream:
            analysis = self.module.analyse_stream(stream, name=path.name, profile=True)
        mark = time.process_time()
        self.module.verdict_from_analysis(analysis, self.model)
        done = time.process_time()
        stages = {k: float(v) for k, v in analysis.cpu_ms.items()}
        stages["model"] = (done - mark) * 1e3
        stages["other"] = max(0.0, (done - started) * 1e3 - sum(stages.values()))
        return stages

    def timed(self, path: Path) -> tuple[float, float, Any]:
        """(wall s, CPU s of this process, verdict)."""
        cpu = time.process_time()
        wall, verdict = self(path)
        return wall, time.process_time() - cpu, verdict


def fpcalc_available() -> bool:
    """Whether Chromaprint's ``fpcalc`` is on PATH (Debian: libchromaprint-tools)."""
    return shutil.which("fpcalc") is not None


def run_fpcalc(path: Path) -> tuple[float, float]:
    """(wall s, CPU s) of ``fpcalc -length 0 PATH`` (the whole file), as a user runs it: one
    process per file, its start-up included. CPU from ``RUSAGE_CHILDREN`` (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _ = _timed(
        lambda: subprocess.run(
            ["fpcalc", "-length", "0", str(path)], capture_output=True, check=False
        )
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def profile_stages(
    files: Sequence[Path], validator: Validator, *, repeat: int = 1
) -> dict[str, float]:
    """CPU seconds per validator stage, summed over ``files`` (each file's least total of
    ``repeat`` profiled runs); a pass of its own after the timed runs, so its clock reads do
    not weigh on them."""
    totals: dict[str, float] = {}
    for path in files:
        best: dict[str, float] | None = None
        for _ in range(repeat):
            stages = validator.profiled(path)
            if best is None or sum(stages.values()) < sum(best.values()):
                best = stages
        for k, v in (best or {}).items():
            totals[k] = totals.get(k, 0.0) + v / 1e3
    return totals


def profile_table(totals: dict[str, float]) -> str:
    """The validator's CPU time by stage, largest first, with each stage's share."""
    whole = sum(totals.values()) or 1.0
    lines = ["| stage | CPU s | share |", "| --- | ---: | ---: |"]
    for k, v in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {v:.3f} | {100 * v / whole:.1f}% |")
    lines.append(f"| **total** | {whole:.3f} | 100% |")
    return "\n".join(lines)


def warm_up_validator(validator: Validator, directory: Path) -> dict[str, float]:
    """Load (or compile) every kernel as a worker does (``audiomodel.warmup.warm_up``), then
    time a first and a second validation of a short clip (lazy set-up shows in the first)."""
    cpu = time.process_time()
    kernels, _ = _timed(__import__("audiomodel.warmup", fromlist=["x"]).warm_up)
    kernels_cpu = time.process_time() - cpu
    clip = write_music_wav(directory / "warmup-validator.wav", 3.0, seed=999)
    first, _ = validator(clip)
    second, _ = validator(clip)
    return {
        "import_s": validator.import_s,
        "model_load_s": validator.model_load_s,
        "kernels_warm_up_s": kernels,
        "kernels_warm_up_cpu_s": kernels_cpu,
        "first_call_s": first,
        "second_call_s": second,
        "first_run_overhead_s": first - second,
    }


def cold_jit_warm_up() -> dict[str, float]:
    """The original's warm-up in a fresh process with an empty numba cache (JIT from scratch)."""
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run(
            [sys.executable, str(BENCH / "original_pipeline.py"), "--warm-up"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    files: Sequence[Path],
    validator: Validator | None,
    original: Callable[..., Any] | None,
    *,
    repeat: int = 1,
    fpcalc: bool = False,
) -> list[Row]:
    """Time every side on every file, rotating which goes first (page cache warmed before).

    With ``repeat`` > 1 each side runs that many times per file, still rotating, and the
    fastest run is kept: on a shared machine the minimum is the least disturbed measurement.
    """
    rows = []
    for i, path in enumerate(files):
        path.read_bytes()  # both sides then read from the page cache, not the disk
        row = Row(name=path.name, audio_s=_duration(path) or 0.0)
        sides: list[Callable[[], None]] = []
        if validator is not None:
            sides.append(partial(_run_validator, validator, path, row))
        if fpcalc:
            sides.append(partial(_run_fpcalc, path, row))
        if original is not None:
            sides.append(partial(_run_original, original, path, row))
        for run in range(repeat):
            turn = (i + run) % max(1, len(sides))
            for side in sides[turn:] + sides[:turn]:
                side()
        rows.append(row)
        sys.stderr.write(f"  {i + 1}/{len(files)} {path.name}\n")
    return rows


def _run_fpcalc(path: Path, row: Row) -> None:
    wall, cpu = run_fpcalc(path)
    if row.fpcalc_cpu_s is None or cpu < row.fpcalc_cpu_s:
        row.fpcalc_s, row.fpcalc_cpu_s = wall, cpu


def _run_validator(validator: Validator, path: Path, row: Row) -> None:
    try:
        seconds, cpu, verdict = validator.timed(path)
    except Exception as err:  # the validator promises not to raise; if it does, show it
        row.errors.append(f"validator: {type(err).__name__}: {err}")
        return
    if row.validator_s is not None and row.validator_s <= seconds:
        row.validator_cpu_s = min(cpu, row.validator_cpu_s or cpu)
        return
    row.validator_s = seconds
    row.validator_cpu_s = min(cpu, row.validator_cpu_s or cpu)
    row.verdict = str(verdict.decision.value)
    row.validator_stages_ms = {k: float(v) for k, v in verdict.timings_ms.items()}


def _run_original(original: Callable[..., Any], path: Path, row: Row) -> None:
    stages: dict[str, float] = {}
    try:
        seconds, features = _timed(lambda: original(path, timings=stages))
    except Exception as err:  # the original did not catch decode errors either; record, go on
        row.errors.append(f"original: {type(err).__name__}: {str(err)[:120]}")
        return
    if row.original_s is not None and row.original_s <= seconds:
        return
    row.original_s = seconds
    row.original_stages_s = stages
    if not row.audio_s:
        row.audio_s = float(features["duration_s"])


def _original_pipeline() -> Any:
    """``bench/original_pipeline.py``, imported only when used: it loads librosa (~150 MB)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("original_pipeline")


def _load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


# --- memory ------------------------------------------------------------------------------------------


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_memory(mode: str, path: Path) -> None:
    """Run one side on ``path`` in this (fresh) process and print its peak RSS as JSON."""
    if mode == "validator":
        from audiomodel import load_default_model, validate_path

        model = load_default_model()
        before = _vm_hwm_kib()
        wall, verdict = _timed(lambda: validate_path(path, model=model))
        outcome = str(verdict.decision.value)
    else:
        original_features = _original_pipeline().original_features
        before = _vm_hwm_kib()
        wall, _ = _timed(lambda: original_features(path))
        outcome = "features"
    sys.stdout.write(
        json.dumps(
            {
                "wall_s": wall,
                "hwm_after_imports_kib": before,
                "hwm_kib": _vm_hwm_kib(),
                "outcome": outcome,
            }
        )
        + "\n"
    )


def memory_benchmark(seconds: float, sides: Sequence[str], directory: Path) -> list[dict[str, Any]]:
    """Write one long WAV, run each side on it in a subprocess, collect wall time and peak RSS."""
    path = directory / "long.wav"
    sys.stderr.write(f"writing {seconds:.0f} s of 44.1 kHz stereo 16-bit WAV ...\n")
    write_s, _ = _timed(lambda: write_music_wav(path, seconds, seed=7, distinct_blocks=12))
    sys.stderr.write(f"  {path.stat().st_size / 2**20:.0f} MiB in {write_s:.0f} s\n")
    results = []
    for side in sides:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-memory", side, str(path)],
            capture_output=True,
            text=True,
        )
        entry: dict[str, Any] = {"side": side, "bytes": path.stat().st_size, "audio_s": seconds}
        if done.returncode != 0:
            entry["error"] = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[
                -1
            ]
        else:
            entry.update(json.loads(done.stdout.strip().splitlines()[-1]))
        results.append(entry)
    return results


# --- tables ------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def speed_table(rows: Sequence[Row]) -> str:
    """Per-file and total wall time, x realtime and the original/validator ratio."""
    lines = [
        "| file | audio s | validator s | validator x RT | verdict | original s | original x RT | original / validator |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.audio_s:.1f} | {_fmt(r.validator_s, '.3f')} | {_fmt(_ratio(r.audio_s, r.validator_s), '.0f')} "
            f"| {r.verdict} | {_fmt(r.original_s, '.3f')} | {_fmt(_ratio(r.audio_s, r.original_s), '.1f')} "
            f"| {_fmt(_ratio(r.original_s, r.validator_s), '.1f')} |"
        )
    # Totals over the files both sides finished (or every file, when one side was skipped).
    both = [r for r in rows if (r.validator_s is not None) and (r.original_s is not None)]
    audio = sum(r.audio_s for r in rows)
    v_rows = [r for r in rows if r.validator_s is not None]
    o_rows = [r for r in rows if r.original_s is not None]
    v_total = sum(r.validator_s or 0.0 for r in v_rows) if v_rows else None
    o_total = sum(r.original_s or 0.0 for r in o_rows) if o_rows else None
    v_audio = sum(r.audio_s for r in v_rows)
    o_audio = sum(r.audio_s for r in o_rows)
    paired = None
    if both:
        paired = sum(r.original_s or 0.0 for r in both) / sum(r.validator_s or 0.0 for r in both)
    lines.append(
        f"| **total ({len(rows)} files)** | {audio:.1f} | {_fmt(v_total, '.3f')} | {_fmt(_ratio(v_audio, v_total), '.0f')} "
        f"| | {_fmt(o_total, '.3f')} | {_fmt(_ratio(o_audio, o_total), '.1f')} | {_fmt(paired, '.1f')} |"
    )
    return "\n".join(lines)


def fpcalc_table(rows: Sequence[Row]) -> str:
    """The validator against ``fpcalc -length 0`` on the files both finished: totals of wall
    and CPU seconds and the ratio fpcalc / validator (>= 1: the validator is as fast or faster)."""
    both = [r for r in rows if r.validator_s is not None and r.fpcalc_s is not None]
    if not both:
        return "(no file measured by both)"
    audio = sum(r.audio_s for r in both)
    v_wall = sum(r.validator_s or 0.0 for r in both)
    v_cpu = sum(r.validator_cpu_s or 0.0 for r in both)
    f_wall = sum(r.fpcalc_s or 0.0 for r in both)
    f_cpu = sum(r.fpcalc_cpu_s or 0.0 for r in both)
    lines = [
        "| measure | audio s | validator s | validator x RT | fpcalc s | fpcalc x RT | fpcalc / validator |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, v, f in (("wall", v_wall, f_wall), ("CPU", v_cpu, f_cpu)):
        lines.append(
            f"| {name} ({len(both)} files) | {audio:.1f} | {v:.3f} | {_fmt(_ratio(audio, v), '.0f')} "
            f"| {f:.3f} | {_fmt(_ratio(audio, f), '.0f')} | {_fmt(_ratio(f, v), '.2f')} |"
        )
    return "\n".join(lines)


def stage_table(rows: Sequence[Row]) -> str:
    """Where each side spends its time, summed over the files."""
    lines = ["| side | stage | seconds | share |", "| --- | --- | ---: | ---: |"]
    original: dict[str, float] = {}
    validator: dict[str, float] = {}
    for r in rows:
        for k, v in r.original_stages_s.items():
            original[k] = original.get(k, 0.0) + v
        for k, v in r.validator_stages_ms.items():
            validator[k] = validator.get(k, 0.0) + v / 1e3
    # The validator's "analysis" and "total" enclose its other stages; shares are of "total".
    v_total = validator.get("total") or sum(validator.values()) or 1.0
    for k, v in validator.items():
        lines.append(f"| validator | {k} | {v:.3f} | {100 * v / v_total:.0f}% |")
    o_total = sum(original.values()) or 1.0
    for k, v in original.items():
        lines.append(f"| original | {k} | {v:.3f} | {100 * v / o_total:.0f}% |")
    return "\n".join(lines)


def warm_up_table(entries: dict[str, dict[str, float]]) -> str:
    """First-run costs, apart from the steady-state figures."""
    lines = ["| side | measure | seconds |", "| --- | --- | ---: |"]
    for side, values in entries.items():
        for k, v in values.items():
            lines.append(
                f"| {side} | {k} | {v:.3f} |" if k.endswith("_s") else f"| {side} | {k} | {v:.0f} |"
            )
    return "\n".join(lines)


def memory_table(results: Sequence[dict[str, Any]]) -> str:
    """Peak RSS of each side on the long file."""
    lines = [
        "| side | file MiB | audio s | wall s | x RT | RSS after imports MiB | peak RSS MiB | outcome |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for e in results:
        if "error" in e:
            lines.append(
                f"| {e['side']} | {e['bytes'] / 2**20:.0f} | {e['audio_s']:.0f} | - | - | - | - | {e['error']} |"
            )
            continue
        lines.append(
            f"| {e['side']} | {e['bytes'] / 2**20:.0f} | {e['audio_s']:.0f} | {e['wall_s']:.1f} "
            f"| {e['audio_s'] / e['wall_s']:.0f} | {e['hwm_after_imports_kib'] / 1024:.0f} "
            f"| {e['hwm_kib'] / 1024:.0f} | {e['outcome']} |"
        )
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=6, help="files to time (0: none)")
    parser.add_argument(
        "--seconds", type=float, help="length of each synthetic file (default 30-60 s)"
    )
    parser.add_argument(
        "--corpus", type=Path, help="a manifest.jsonl, a corpus dir, or any dir of audio"
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="synthetic files even if a corpus exists"
    )
    parser.add_argument("--label", help="only manifest rows with this label (e.g. good)")
    parser.add_argument(
        "--threat-class", help="only manifest rows of this threat_class (e.g. real: music)"
    )
    parser.add_argument(
        "--skip-fpcalc", action="store_true", help="do not time fpcalc -length 0 (when on PATH)"
    )
    parser.add_argument("--min-seconds", type=float, default=3.0, help="skip shorter corpus files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side and file; the fastest is kept"
    )
    parser.add_argument("--skip-original", action="store_true", help="time the validator alone")
    parser.add_argument("--skip-validator", action="store_true", help="time the original alone")
    parser.add_argument(
        "--cold-jit", action="store_true", help="also time librosa's JIT from an empty cache"
    )
    parser.add_argument(
        "--memory", action="store_true", help="peak RSS of the validator on one long file"
    )
    parser.add_argument("--memory-seconds", type=float, default=3600.0)
    parser.add_argument(
        "--memory-original",
        action="store_true",
        help="also the original's peak RSS (shorten --memory-seconds!)",
    )
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="skip the validator's CPU-by-stage pass (one more validation per file)",
    )
    parser.add_argument("--cpu", type=int, help="CPU to pin to (default: the first allowed)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    parser.add_argument("--child-memory", nargs=2, metavar=("SIDE", "PATH"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = parse_args(argv)
    if args.child_memory:
        child_memory(args.child_memory[0], Path(args.child_memory[1]))
        return 0
    cpu = None if args.no_pin else pin_to_one_core(args.cpu)
    out: list[str] = [
        f"# validate_speed  ({'pinned to CPU ' + str(cpu) if cpu is not None else 'not pinned'})"
    ]
    with tempfile.TemporaryDirectory(prefix="validate-speed-") as tmp:
        work = Path(tmp)
        if args.files > 0:
            out.extend(speed_section(args, work))
        if args.memory:
            sides = ["validator"] + (["original"] if args.memory_original else [])
            results = memory_benchmark(args.memory_seconds, sides, work)
            out += [
                "",
                "## memory (one long file, each side in its own process)",
                "",
                memory_table(results),
            ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def speed_section(args: argparse.Namespace, work: Path) -> list[str]:
    """Inputs, warm-up, interleaved timings; the markdown of the speed section."""
    source = None if args.synthetic else (args.corpus or default_corpus())
    if source is not None:
        files = corpus_files(
            source,
            count=args.files,
            label=args.label,
            min_seconds=args.min_seconds,
            seed=args.seed,
            threat_class=args.threat_class,
        )
        described = f"{len(files)} files from {source}"
    else:
        sys.stderr.write(f"generating {args.files} synthetic files ...\n")
        files = synthetic_files(work, count=args.files, seconds=args.seconds, seed=args.seed)
        described = (
            f"{len(files)} synthetic music-like 44.1 kHz stereo 16-bit WAVs (seed {args.seed})"
        )
    threads = ", ".join(
        f"{v}={os.environ.get(v)}" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    )
    notes = [f"inputs: {described}", f"threads: {threads}"]

    warm: dict[str, dict[str, float]] = {}
    if args.cold_jit and not args.skip_original:
        sys.stderr.write("original: JIT from an empty numba cache ...\n")
        warm["original (empty numba cache, fresh process)"] = cold_jit_warm_up()
    validator: Validator | None = None
    if not args.skip_validator:
        validator = Validator()
        if validator.error is not None:
            notes.append(f"validator not measured: {validator.error}")
            validator = None
        else:
            warm["validator"] = warm_up_validator(validator, work)
    original = None
    if not args.skip_original:
        original_pipeline = _original_pipeline()
        warm["original"] = original_pipeline.warm_up()
        notes.append(f"NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']}")
        original = original_pipeline.original_features

    fpcalc = not args.skip_fpcalc and validator is not None and fpcalc_available()
    if not args.skip_fpcalc and not fpcalc_available():
        notes.append("fpcalc not on PATH (Debian: libchromaprint-tools): not measured")
    load_before = _load_average()
    rows = measure(files, validator, original, repeat=max(1, args.repeat), fpcalc=fpcalc)
    # Pinning gives one core, not an idle one: the load average says how shared it was.
    notes.append(
        f"load average (1 min) before / after the timed runs: {load_before} / {_load_average()}"
    )
    if args.repeat > 1:
        notes.append(f"each side ran {args.repeat} times per file; the fastest run is shown")
    notes += [f"{r.name}: {e}" for r in rows for e in r.errors]
    profile: list[str] = []
    if validator is not None and not args.no_profile:
        sys.stderr.write("validator: CPU by stage ...\n")
        totals = profile_stages(files, validator, repeat=max(1, args.repeat))
        profile = [
            "",
            "## validator CPU by stage (a profiled pass of its own, summed over the files)",
            "",
            profile_table(totals),
        ]
    return [
        "",
        *(f"- {n}" for n in notes),
        "",
        "## warm-up (first-run costs, not in the timings below)",
        "",
        warm_up_table(warm),
        "",
        "## validator vs fpcalc -length 0 (same files, interleaved)",
        "",
        fpcalc_table(rows) if fpcalc else "(fpcalc not measured)",
        "",
        "## per file (interleaved, after warm-up)",
        "",
        speed_table(rows),
        "",
        "## where the time goes (summed over the files)",
        "",
        stage_table(rows),
        *profile,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
