"""Does anything separate steghide at 25-60 % of its capacity from good audio? A measurement (issue #17), no rule.

steghide (``WavPCMSampleValue``: the embedded bit of a sample is its LSB) exchanges the values of
two samples of opposite parity at most its radius apart (the histogram is kept), the shortest
exchanges first, and moves a sample +-1 (a random direction) where no partner is left. Where the
values are dense (music, speech) the partner is 1 away; where they are sparse (loud passages)
it can be up to 19 away, so ~0.1-2 % of the samples move by an odd 3-19 LSB, at keyed positions
spread over the whole file. This script reads four candidates for what that must leave, per
channel (the file reads its largest or mean channel value):

- ``d2_share``: Liu, Sung & Qiao's temporal-derivative spectrum: the share of the second
  difference's power in the top eighth of the band (the +-1 layer is white, the derivative
  weights it by (2 - 2 cos w)^2, so it rises there), raw;
- ``top_excess``: the same band calibrated against the rounding the clip must have: the
  median (over frames holding sound) power per bin of the top eighth (white-noise units, LSB^2)
  minus 1/12; ``floor_excess`` the same over the quietest of 28 bands (9-97 % of Nyquist);
- ``band_kurt`` / ``band_out6``: the bands (from 9 % of Nyquist to Nyquist) whose floor is under
  0.6 LSB^2 (no sound: only the
  rounding and whatever was added) are cut out of the whole clip (FFT mask) and read in
  256-sample blocks that hold no leak of sound: the mean standardised fourth moment per block
  (Gaussian 3, rounding 1.8-3), and the band samples beyond 6 robust sigmas per 10^5 (an
  exchange of d LSB peaks at d times the band's share there, many sigmas above the rounding,
  in loud passages too, where the time-domain impulse test sees nothing);
- ``tail_excess``: in 128-sample blocks predicted to 0.3-1.5 LSB rms (two-sided interpolation),
  the share of residuals of 2.5-20 LSB above what a Gaussian of the block's rms gives.

Modes: ``files MANIFEST`` reads the 16-bit and 8-bit WAV files of a built families cache or good
set (steghide families and good labels), ``corpus MANIFEST`` the good train clips of a dev
corpus decoded to 16 bits as the steghide family makes its covers, ``pairs MANIFEST`` makes its
own covers (4 s of ``--count`` train clips) and steghide at 25 and 60 % of ``steghide info``'s
capacity (random payload, encrypted, 90 s per embedding at most; skipped without steghide).
Rows go to ``--rows`` (JSONL, appended); ``--table`` prints each feature's AUC against the good
rows and the detections above every good file. Result: ``libs/audiomodel/FINDINGS.md``
(steghide, "bands").

Usage::

    uv run --frozen python bench/steghide_bands.py files CACHE/manifest.jsonl --rows R.jsonl
    uv run --frozen python bench/steghide_bands.py corpus .cache/corpus/full-seed0/manifest.jsonl --rows R.jsonl
    uv run --frozen python bench/steghide_bands.py pairs .cache/corpus/full-seed0/manifest.jsonl --count 16 --rows R.jsonl
    uv run --frozen python bench/steghide_bands.py table --rows R.jsonl
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.stats import norm

from audioval_corpus import tools

ROUNDING = 1.0 / 12.0  # LSB^2: the rounding to integers, white
FRAME = 1024
BANDS = 32  # of 16 bins each
EMPTY_BELOW = 0.6  # LSB^2 per bin (white units): a band with no sound in it
BLOCK = 256  # band samples per block read for the fourth moment and the outliers
FEATURES = (
    "d2_share",
    "top_excess",
    "floor_excess",
    "band_kurt",
    "band_out6",
    "tail_excess",
)

Ints = npt.NDArray[np.int64]


def integers(source: bytes | Path) -> tuple[Ints, int] | None:
    """(channels, frames) integers of a 16- or 8-bit WAV; None for other encodings."""
    subtype = sf.info(io.BytesIO(source) if isinstance(source, bytes) else str(source)).subtype
    if subtype not in ("PCM_16", "PCM_U8"):
        return None
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    x, rate = sf.read(handle, dtype="int16", always_2d=True)
    values = x.T.astype(np.int64)
    return (values // 256 if subtype == "PCM_U8" else values), rate


def band_features(v: Ints) -> dict[str, float]:
    """The features of one channel (an empty dict when it holds too little sound)."""
    out: dict[str, float] = {}
    count = len(v) // FRAME
    if count < 16:
        return out
    frames = v[: count * FRAME].reshape(count, FRAME).astype(np.float64)
    sound = frames[(frames.max(1) - frames.min(1)) >= 8]
    if len(sound) < 8:
        return out
    window = np.hanning(FRAME)
    spectra = np.abs(np.fft.rfft((sound - sound.mean(1, keepdims=True)) * window, axis=1)) ** 2
    spectra /= (window**2).sum()  # white noise of variance s^2 reads s^2 per bin
    median = np.median(spectra[:, 1 : BANDS * 16 + 1], axis=0) / np.log(2)
    floors = median.reshape(BANDS, 16).mean(1)
    out["floor_excess"] = float(floors[3:31].min() - ROUNDING)
    out["top_excess"] = float(floors[28:31].mean() - ROUNDING)
    mean = spectra.mean(0)[1 : BANDS * 16 + 1]
    weight = (2 - 2 * np.cos(np.arange(1, BANDS * 16 + 1) / (BANDS * 16) * np.pi)) ** 2
    derivative = mean * weight
    out["d2_share"] = float(derivative[-BANDS * 2 :].sum() / max(derivative.sum(), 1e-12))

    empty = np.zeros(BANDS, dtype=bool)
    empty[3:] = floors[3:] < EMPTY_BELOW  # to Nyquist: a codec's low-pass empties the top
    if empty.sum() >= 2:
        spectrum = np.fft.rfft(v.astype(np.float64))
        band_of_bin = np.minimum(np.arange(len(spectrum)) * BANDS // len(spectrum), BANDS - 1)
        keep = empty[band_of_bin]
        band = np.fft.irfft(np.where(keep, spectrum, 0), n=len(v))
        blocks = band[: len(band) // BLOCK * BLOCK].reshape(-1, BLOCK)[1:-1]
        power = blocks.var(1)
        share = keep.mean()
        quiet = (power > 0.02 * share) & (power < EMPTY_BELOW * share)  # no sound leaks in
        if quiet.sum() >= 20:
            z = blocks[quiet] / np.sqrt(power[quiet])[:, None]
            out["band_kurt"] = float((z**4).mean(1).mean())
            sigma = 1.4826 * float(np.median(np.abs(blocks[quiet]))) + 1e-9
            out["band_out6"] = float((np.abs(blocks[quiet]) > 6 * sigma).mean() * 1e5)
            out["band_sigma2"] = float(sigma**2 / share)
            out["band_blocks"] = float(quiet.sum())

    residual = v[1:-1] - (v[:-2] + v[2:]) / 2.0
    blocks = residual[: len(residual) // 128 * 128].reshape(-1, 128)
    rms = blocks.std(1)
    predictable = (rms > 0.3) & (rms < 1.5)
    if predictable.sum() >= 20:
        held = np.abs(blocks[predictable])
        seen = ((held >= 2.5) & (held <= 20)).sum()
        scale = rms[predictable]
        expected = (2 * (norm.sf(2.5 / scale) - norm.sf(20 / scale)) * 128).sum()
        out["tail_excess"] = float((seen - expected) / held.size)
    return out


def file_features(values: Ints) -> dict[str, float]:
    per_channel = [band_features(channel) for channel in values]
    names = set().union(*per_channel)
    combined: dict[str, float] = {}
    for name in names:
        read = [row[name] for row in per_channel if name in row]
        largest = name in ("band_kurt", "band_out6", "tail_excess")
        combined[name] = float(max(read) if largest else np.mean(read))
    return combined


def read_files(manifest: Path, rows: Path) -> None:
    with rows.open("a") as sink:
        for line in manifest.open():
            case = json.loads(line)
            family = case.get("family", case["label"])
            kind = "steghide" if "steghide" in family else case["label"]
            if kind not in ("steghide", "good"):
                continue
            got = integers(manifest.parent / case["path"])
            if got is None:
                continue
            row = {"path": case["path"], "kind": kind, "family": family, "rate": got[1]}
            row["variant"] = case.get("variant")
            sink.write(json.dumps({**row, **file_features(got[0])}) + "\n")


def train_clips(manifest: Path) -> list[dict[str, Any]]:
    return [
        c
        for c in map(json.loads, manifest.open())
        if c["label"] == "good" and c.get("split") == "train"
    ]


def cover_of(path: Path, seconds: float) -> bytes | None:
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            x = handle.read(frames=int(seconds * rate), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError):
        return None
    return tools.wav_bytes(x, rate, "PCM_16") if len(x) >= rate else None


def read_corpus(manifest: Path, rows: Path) -> None:
    with rows.open("a") as sink:
        for clip in train_clips(manifest):
            cover = cover_of(manifest.parent / clip["path"], 10.0)
            got = integers(cover) if cover else None
            if got is None:
                continue
            row = {"path": clip["path"], "kind": "good", "family": "corpus cover", "rate": got[1]}
            sink.write(json.dumps({**row, **file_features(got[0])}) + "\n")


def steghide(cover: bytes, payload: bytes, key: str) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="steghide-bands-") as tmp:
        cf, ef, out = Path(tmp, "c.wav"), Path(tmp, "p"), Path(tmp, "s.wav")
        cf.write_bytes(cover)
        ef.write_bytes(payload)
        cmd = ["steghide", "embed", "-cf", str(cf), "-ef", str(ef), "-sf", str(out)]
        try:
            done = subprocess.run([*cmd, "-p", key, "-f", "-q"], capture_output=True, timeout=90)
        except subprocess.TimeoutExpired:
            return None
        return out.read_bytes() if done.returncode == 0 and out.exists() else None


def make_pairs(manifest: Path, rows: Path, count: int) -> None:
    if shutil.which("steghide") is None:
        print("steghide is not installed: no pairs")
        return
    clips = [c for c in train_clips(manifest) if c["format"] in ("wav", "flac", "ogg")]
    rng = np.random.default_rng(1818)
    with rows.open("a") as sink:
        for index in rng.choice(len(clips), size=count, replace=False):
            clip = clips[int(index)]
            cover = cover_of(manifest.parent / clip["path"], 4.0)
            got = integers(cover) if cover else None
            if cover is None or got is None:
                continue
            base = {"path": clip["path"], "rate": got[1], "family": "own pair"}
            sink.write(json.dumps({**base, "kind": "cover", **file_features(got[0])}) + "\n")
            capacity = tools.steghide_capacity(cover)
            for share in (0.25, 0.6):
                payload = rng.integers(0, 256, int(share * capacity * 0.97), dtype=np.uint8)
                stego = steghide(cover, payload.tobytes(), f"k{index}")
                read = integers(stego) if stego else None
                if read is None:
                    continue
                moved = np.abs(read[0] - got[0])
                extra = {"changed": float((moved > 0).mean()), "big": float((moved > 1).mean())}
                kind = f"steghide{int(share * 100)}"
                sink.write(json.dumps({**base, "kind": kind, **extra, **file_features(read[0])}))
                sink.write("\n")
            sink.flush()


def table(rows: Path) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in map(json.loads, rows.open()):
        kind = row["kind"]
        if kind == "steghide":
            kind += " 5%" if str(row.get("variant", "")).startswith("5%") else " 25-60%"
        by_kind[kind].append(row)
    good_rows = by_kind["good"] + by_kind["cover"]
    for name in FEATURES:
        good = np.array([r[name] for r in good_rows if name in r])
        if len(good) == 0:
            continue
        print(
            f"{name}: good {len(good)} read, max {good.max():.4g}, 99th {np.quantile(good, 0.99):.4g}"
        )
        for kind, members in sorted(by_kind.items()):
            if kind in ("good", "cover"):
                continue
            read = np.array([r[name] for r in members if name in r])
            if len(read) == 0:
                print(f"  {kind}: 0 of {len(members)} read")
                continue
            auc = (read[:, None] > good).mean() + 0.5 * (read[:, None] == good).mean()
            above = int((read > good.max()).sum())
            print(
                f"  {kind}: {len(read)} of {len(members)} read, median {np.median(read):.4g},"
                f" AUC {auc:.3f}, above every good file {above}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("files", "corpus", "pairs", "table"))
    parser.add_argument("manifest", type=Path, nargs="?")
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--count", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "table":
        table(args.rows)
        return
    if args.manifest is None:
        parser.error("this mode reads a manifest")
    if args.mode == "files":
        read_files(args.manifest, args.rows)
    elif args.mode == "corpus":
        read_corpus(args.manifest, args.rows)
    else:
        make_pairs(args.manifest, args.rows, args.count)


if __name__ == "__main__":
    main()
