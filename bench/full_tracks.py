"""Full-length tracks for the speed bench: real clips of a built corpus joined into tracks of a
given length and written in each of the corpus's upload formats.

Why: the corpus's real clips are 4-32 s long, and ``fpcalc`` is timed as it is used, a process
per file, so on clips its start-up (~40 ms of CPU a file) is a large part of its time and the
ratio flatters the validator. An upload is a whole song: time both on tracks of that length too.

Usage::

    uv run --frozen python bench/full_tracks.py --out /tmp/tracks --per-format 3 --seconds 180
    uv run --frozen python bench/validate_speed.py --corpus /tmp/tracks --files 12 --skip-original

WAV and FLAC are written by soundfile (16-bit), MP3 by ``lame -V 2``, Ogg Vorbis by
``oggenc -q 5``; a format whose tool is absent is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
RATE = 44100
ENCODERS: dict[str, list[str] | None] = {
    "wav": None,
    "flac": None,
    "mp3": ["lame", "--quiet", "-V", "2"],
    "ogg": ["oggenc", "-Q", "-q", "5", "-o"],
}


def stereo_clips(corpus: Path, count: int, seed: int) -> list[npt.NDArray[np.float32]]:
    """Up to ``count`` real (music) clips of the corpus at 44.1 kHz stereo, longer than 5 s."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    paths = [corpus / r["path"] for r in rows if r.get("threat_class") == "real"]
    clips: list[npt.NDArray[np.float32]] = []
    for index in np.random.default_rng(seed).permutation(len(paths)):
        try:
            y, rate = sf.read(paths[index], dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):
            continue
        if rate == RATE and y.shape[1] == 2 and y.shape[0] > 5 * RATE:
            clips.append(y)
        if len(clips) == count:
            break
    return clips


def write(track: npt.NDArray[np.float32], path: Path) -> None:
    encoder = ENCODERS[path.suffix[1:]]
    if encoder is None:
        sf.write(path, track, RATE, subtype="PCM_16")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "track.wav"
        sf.write(wav, track, RATE, subtype="PCM_16")
        args = (
            [*encoder, str(path), str(wav)]
            if encoder[0] == "oggenc"
            else [*encoder, str(wav), str(path)]
        )
        subprocess.run(args, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / ".cache/corpus/full-seed0")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each track")
    parser.add_argument("--per-format", type=int, default=3, help="tracks per format")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    clips = stereo_clips(args.corpus, 80, args.seed)
    if not clips:
        raise SystemExit(f"no 44.1 kHz stereo real clips in {args.corpus}")
    args.out.mkdir(parents=True, exist_ok=True)
    frames = int(args.seconds * RATE)
    taken = 0
    for suffix, encoder in ENCODERS.items():
        if encoder is not None and shutil.which(encoder[0]) is None:
            print(f"skipped {suffix}: {encoder[0]} is not installed")
            continue
        for number in range(args.per_format):
            parts, length = [], 0
            while length < frames:  # consecutive clips, wrapping round the pool
                parts.append(clips[taken % len(clips)])
                length += parts[-1].shape[0]
                taken += 1
            path = args.out / f"track{number}.{suffix}"
            write(np.concatenate(parts)[:frames], path)
            print(path)


if __name__ == "__main__":
    main()
