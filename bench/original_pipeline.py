"""The original system's feature pipeline, rebuilt with librosa as the speed baseline of bench/.

The exploratory system that audioval replaces (``/work/shared/DESIGN.md``, "Background") judged a
decoded waveform from a handful of librosa features fed to an SVM. :func:`original_features`
redoes that work on one file, stage by stage, as that system did it:

1. ``librosa.load``: decode, downmix to mono, resample to librosa's default 22,050 Hz.
2. ``librosa.beat.beat_track``: tempo (and beats) from onset-strength beat tracking.
3. ``librosa.effects.hpss``: harmonic/percussive separation (median filtering of the STFT).
4. ``librosa.feature.chroma_cqt`` on the harmonic part: chroma from a constant-Q transform.
5. ``librosa.piptrack``: per 1-second window, the share of frames with a detected pitch and the
   number of distinct pitch classes those pitches occupy.
6. File size per second of audio.

The SVM that consumed these features is not rebuilt: scoring ~20 numbers with a linear decision
costs microseconds, nothing next to the stages above, and an untrained stand-in would only add
a meaningless number.

librosa JIT-compiles parts of beat tracking and peak picking with numba on first use; the
compiled code is cached under ``NUMBA_CACHE_DIR`` (set to ``/work/main/.cache/numba`` here unless
already set, before librosa is imported). :func:`warm_up` measures that first-call cost apart.

Run on its own: ``python bench/original_pipeline.py FILE...`` prints each file's features as
JSON; ``python bench/original_pipeline.py --warm-up`` prints the warm-up timings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Before librosa (and numba) are imported: numba reads the cache location once, at import.
os.environ.setdefault("NUMBA_CACHE_DIR", "/work/main/.cache/numba")

import argparse
import json
import sys
import tempfile

import numpy as np
import numpy.typing as npt
import soundfile as sf


def _numba_cache_entries() -> int:
    cache = Path(os.environ["NUMBA_CACHE_DIR"])
    return sum(1 for _ in cache.rglob("*.nbi")) if cache.is_dir() else 0


# Counted before the import: importing librosa's modules already compiles (or loads) some code.
_CACHE_ENTRIES_AT_START = _numba_cache_entries()
_import_started = time.perf_counter()
import librosa  # noqa: E402

# librosa imports its submodules lazily; touch the ones used here so that their import (numba,
# scipy) is counted as import time, not as the first call's.
_USED = (
    librosa.beat.beat_track,
    librosa.effects.hpss,
    librosa.feature.chroma_cqt,
    librosa.piptrack,
)

#: Seconds spent importing librosa (and, through it, numba and scipy) in this process.
LIBROSA_IMPORT_S = time.perf_counter() - _import_started

__all__ = ["LIBROSA_IMPORT_S", "STAGES", "original_features", "warm_up"]

#: The stage names :func:`original_features` reports timings under, in execution order.
STAGES = ("load", "beat", "hpss", "chroma", "pitch")
# librosa's defaults, spelled out because the per-second windows below depend on them.
SAMPLE_RATE = 22050
HOP_LENGTH = 512
# A frame counts as pitched when its strongest piptrack peak is within this many dB of the
# loudest peak of the whole file: piptrack's own threshold is relative to each frame's maximum,
# so on its own it "detects" a pitch in every frame that is not digital silence.
PITCH_FLOOR_DB = 40.0
# piptrack searches this band (its defaults are 150 Hz - 4 kHz); kept explicit for the docs.
PITCH_FMIN, PITCH_FMAX = 150.0, 4000.0


def original_features(path: Path, *, timings: dict[str, float] | None = None) -> dict[str, float]:
    """The original system's features of one audio file.

    Parameters
    ----------
    path
        Any file librosa can load (soundfile formats, or audioread as its fallback).
    timings
        If given, filled with the wall seconds of each stage named in :data:`STAGES`.

    Returns
    -------
    dict
        ``duration_s``; ``tempo_bpm`` and ``beats_per_s`` (beat tracking); ``harmonic_ratio``
        and ``percussive_ratio`` (energy shares after HPSS); ``chroma_mean_0`` ...
        ``chroma_mean_11`` and ``chroma_std`` (CQT chroma of the harmonic part, C = 0);
        ``pitched_share`` and ``pitch_classes_per_s`` (means over 1-second windows of the share
        of pitched frames and of the distinct pitch classes they occupy); ``bytes_per_s``.
        Real music shows a steady tempo, a chroma concentrated on a key and several pitch
        classes a second; characters written as samples give a flat, noise-like chroma.

    Raises
    ------
    Exception
        Whatever librosa raises for a file it cannot decode (the original did not catch it).
    """
    clock = _StageClock(timings)
    y, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    sr = SAMPLE_RATE
    clock.lap("load")
    duration = y.shape[0] / sr
    features: dict[str, float] = {"duration_s": duration}

    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, hop_length=HOP_LENGTH)
    features["tempo_bpm"] = float(np.atleast_1d(tempo)[0])
    features["beats_per_s"] = len(beats) / duration if duration > 0 else 0.0
    clock.lap("beat")

    harmonic, percussive = librosa.effects.hpss(y)
    energy = float(np.sum(np.square(y, dtype=np.float64))) or 1.0
    features["harmonic_ratio"] = float(np.sum(np.square(harmonic, dtype=np.float64))) / energy
    features["percussive_ratio"] = float(np.sum(np.square(percussive, dtype=np.float64))) / energy
    clock.lap("hpss")

    # The harmonic part, as librosa's own chroma examples do: drums smear a CQT chroma.
    chroma = librosa.feature.chroma_cqt(y=harmonic, sr=sr, hop_length=HOP_LENGTH)
    for pc, value in enumerate(chroma.mean(axis=1)):
        features[f"chroma_mean_{pc}"] = float(value)
    features["chroma_std"] = float(chroma.std(axis=1).mean())
    clock.lap("chroma")

    features.update(_pitch_occupancy(y, sr))
    clock.lap("pitch")

    features["bytes_per_s"] = path.stat().st_size / duration if duration > 0 else 0.0
    return features


def _pitch_occupancy(y: npt.NDArray[np.float32], sr: int) -> dict[str, float]:
    """Mean share of pitched frames and mean distinct pitch classes per 1-second window."""
    pitches, magnitudes = librosa.piptrack(
        y=y, sr=sr, hop_length=HOP_LENGTH, fmin=PITCH_FMIN, fmax=PITCH_FMAX
    )
    n_frames = magnitudes.shape[1]
    if n_frames == 0:
        return {"pitched_share": 0.0, "pitch_classes_per_s": 0.0}
    strongest = magnitudes.argmax(axis=0)
    columns = np.arange(n_frames)
    peak = magnitudes[strongest, columns]
    floor = peak.max() * 10.0 ** (-PITCH_FLOOR_DB / 20.0)
    pitched = (peak > 0) & (peak >= floor)
    frequency = pitches[strongest, columns]
    # Pitch class of each pitched frame (C = 0); unpitched frames get a placeholder class 0
    # that the mask below removes again.
    midi = librosa.hz_to_midi(np.where(pitched, frequency, 440.0))
    pitch_class = np.mod(np.rint(midi).astype(np.int64), 12)

    frames_per_window = max(1, round(sr / HOP_LENGTH))
    window = columns // frames_per_window
    n_windows = int(window[-1]) + 1
    frames_in_window = np.bincount(window, minlength=n_windows)
    pitched_in_window = np.bincount(window, weights=pitched, minlength=n_windows)
    occupied = np.zeros(n_windows * 12, dtype=bool)
    occupied[(window * 12 + pitch_class)[pitched]] = True
    classes = occupied.reshape(n_windows, 12).sum(axis=1)
    return {
        "pitched_share": float(np.mean(pitched_in_window / frames_in_window)),
        "pitch_classes_per_s": float(classes.mean()),
    }


class _StageClock:
    """Records wall seconds between laps into an optional dict."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[stage] = now - self.mark
        self.mark = now


def warm_up(seconds: float = 3.0) -> dict[str, float]:
    """Time the first and a second call of :func:`original_features` on a short clip.

    The first call in a process pays numba's JIT (or loading its cache) and librosa's lazy
    set-up (filter banks, resampler); the second call is the steady-state cost of the same
    clip. Call this before timing anything else.

    Returns
    -------
    dict
        ``librosa_import_s``, ``first_call_s``, ``second_call_s``, ``first_run_overhead_s``
        (their difference), ``clip_s`` and ``numba_cache_entries_before`` (numba cache entries
        when this module started importing librosa: 0 means the JIT compiled from scratch,
        during the import and the first call; otherwise it loaded cached machine code).
    """
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 44100)) / 44100.0
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (1.0 + np.sin(2 * np.pi * 2.0 * t)) / 2.0
    clip = (tone + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="original-warmup-") as tmp:
        path = Path(tmp) / "warmup.wav"
        sf.write(path, np.stack([clip, clip], axis=1), 44100, subtype="PCM_16")
        started = time.perf_counter()
        original_features(path)
        first = time.perf_counter() - started
        started = time.perf_counter()
        original_features(path)
        second = time.perf_counter() - started
    return {
        "librosa_import_s": LIBROSA_IMPORT_S,
        "first_call_s": first,
        "second_call_s": second,
        "first_run_overhead_s": first - second,
        "clip_s": seconds,
        "numba_cache_entries_before": float(_CACHE_ENTRIES_AT_START),
    }


def main(argv: list[str] | None = None) -> int:
    """Print features (or warm-up timings) as JSON lines."""
    parser = argparse.ArgumentParser(description="The original system's librosa features.")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--warm-up", action="store_true", help="print the first-call timings")
    args = parser.parse_args(argv)
    if args.warm_up:
        sys.stdout.write(json.dumps(warm_up()) + "\n")
    for path in args.files:
        timings: dict[str, float] = {}
        features = original_features(path, timings=timings)
        sys.stdout.write(json.dumps({"path": str(path), **features, "timings_s": timings}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
