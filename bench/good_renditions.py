"""False flags on real recordings rendered the ways real uploads come: does the validator still
accept them?

Takes held-out good WAV/FLAC clips of a dev corpus manifest, renders each one in every way
below (in memory), validates the result and counts the verdicts that are not ``accept``. With
``--compare MODEL.json`` the same renditions are also scored by another model (for instance the
previous release's, from ``git show REV:libs/audiomodel/src/audiomodel/model/signal-model.json``)
in the same run. Prints a markdown table; asserts nothing.

Usage::

    uv run --frozen python bench/good_renditions.py .cache/corpus/full-seed0/manifest.jsonl
    uv run --frozen python bench/good_renditions.py MANIFEST --clips 40 --compare old-model.json
"""

from __future__ import annotations

import argparse
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

from audiomodel import TreeEnsembleModel, load_default_model, validate_bytes

Audio = npt.NDArray[np.float64]


def encode(x: Audio, rate: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def resampled(x: Audio, rate: int, to: int) -> Audio:
    return np.asarray(scipy.signal.resample_poly(x, to, rate, axis=0))


def clipped(x: Audio, db: float) -> Audio:
    return np.clip(x * 10 ** (db / 20), -1.0, 1.0)


def mp3(x: Audio, rate: int) -> bytes:
    if rate not in (32000, 44100, 48000):
        x, rate = resampled(x, rate, 44100), 44100
    return encode(x, rate, "MP3", "MPEG_LAYER_III")


RENDITIONS: dict[str, Callable[[Audio, int], bytes]] = {
    "16-bit WAV": lambda x, r: encode(x, r),
    "padded with 5 s of digital silence": lambda x, r: encode(
        np.concatenate([np.zeros((5 * r, x.shape[1])), x, np.zeros((5 * r, x.shape[1]))]), r
    ),
    "-30 dB": lambda x, r: encode(x * 10 ** (-30 / 20), r),
    "+6 dB, clipped": lambda x, r: encode(clipped(x, 6), r),
    "+9 dB, clipped": lambda x, r: encode(clipped(x, 9), r),
    "+12 dB, clipped": lambda x, r: encode(clipped(x, 12), r),
    "+12 dB, tanh": lambda x, r: encode(np.tanh(x * 4) / np.tanh(4), r),
    "96 kHz 24-bit WAV": lambda x, r: encode(resampled(x, r, 96000), 96000, subtype="PCM_24"),
    "8 kHz mu-law mono": lambda x, r: encode(
        resampled(x.mean(axis=1), r, 8000), 8000, subtype="ULAW"
    ),
    "11 kHz 8-bit WAV": lambda x, r: encode(resampled(x, r, 11025), 11025, subtype="PCM_U8"),
    "MP3": mp3,
    "24-bit FLAC": lambda x, r: encode(x, r, "FLAC", "PCM_24"),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", type=Path, help="another model JSON to score alongside")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # libsndfile's MP3 warnings on stderr say nothing here

    root = args.manifest.parent
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()]
    good = [
        r
        for r in rows
        if r["label"] == "good" and r["split"] == "heldout" and r["format"] in ("wav", "flac")
    ]
    order = np.random.default_rng(args.seed).permutation(len(good))
    chosen = [good[i] for i in order[: args.clips]]
    models: dict[str, TreeEnsembleModel] = {"this model": load_default_model()}
    if args.compare:
        models[f"{args.compare.name}"] = TreeEnsembleModel.load(args.compare)
    flagged = {name: dict.fromkeys(RENDITIONS, 0) for name in models}
    for row in chosen:
        x, rate = sf.read(root / row["path"], always_2d=True)
        for rendition, render in RENDITIONS.items():
            data = render(x, rate)
            for name, model in models.items():
                if validate_bytes(data, model=model).decision.value != "accept":
                    flagged[name][rendition] += 1

    versions = ", ".join(f"{name}: `{m.version}`" for name, m in models.items())
    print(f"\n### Held-out good clips rendered ({len(chosen)} clips; {versions})\n")
    print("| rendition | " + " | ".join(f"flagged, {name}" for name in models) + " |")
    print("| --- | " + " | ".join("---:" for _ in models) + " |")
    for rendition in RENDITIONS:
        cells = " | ".join(f"{flagged[name][rendition]}/{len(chosen)}" for name in models)
        print(f"| {rendition} | {cells} |")


if __name__ == "__main__":
    main()
