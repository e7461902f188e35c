"""Own multi-tone FSK (MFSK) cases for the keyed-tone scan (issue #17): the development set.

Each case keys random data as ggwave-like MFSK: ``groups`` tone groups of ``alphabet``
neighbouring tones on one linear grid (spacing 20-100 Hz); every symbol turns on one tone per
group (1-6 tones at once), all groups switching on one symbol clock (5-100 Bd, never faster
than the spacing: tones closer than the symbol rate are not separable by any receiver).
Bands from 500 Hz to 20 kHz. Cases are written alone and mixed under train-split real music
of the dev corpus at +6/0/-10/-20 dB (payload RMS over the music's), as WAV, MP3 or Vorbis
(the payload goes through a lossy codec as a shared file would).

    uv run --frozen python bench/mfsk_data.py --out /work/bench14/mfsk16/cases --cases 24
    uv run --frozen python bench/mfsk_data.py --out DIR --judge    # scan them and print a table

ggwave's own protocols are not generated here (held out: ``bench/unseen_modems.py``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

RATE = 48000
SECONDS = 6.0
# lossy codecs at the bitrates a shared file meets, down to low ones (mp3 kbit/s, Vorbis
# quality, Opus kbit/s)
CODECS = ("wav", "mp3:128", "mp3:64", "ogg:4", "ogg:0", "opus:48", "opus:24")
LEVELS_DB: tuple[float | None, ...] = (None, 6.0, 0.0, -10.0, -20.0)


SCHEMES = ("groups", "single", "incremental")


def mfsk(rng: np.random.Generator, rate: int = RATE) -> tuple[np.ndarray, dict[str, object]]:
    """Random-payload MFSK and its plan. Schemes: "groups" (ggwave-like: one tone of
    ``alphabet`` per group, 1-6 groups side by side keyed at once), "single" (Olivia-like: one
    tone of 8-64 per symbol), "incremental" (DominoEX-like: the tone index steps by 1 + the
    data from the previous tone's, modulo the alphabet, so no tone repeats back to back)."""
    scheme = str(rng.choice(SCHEMES))
    spacing = float(rng.uniform(20.0, 100.0))
    groups = int(rng.integers(1, 7)) if scheme == "groups" else 1
    alphabet = int(rng.choice([4, 8, 16] if scheme == "groups" else [8, 16, 18, 32, 64]))
    baud = float(np.exp(rng.uniform(np.log(5.0), np.log(min(100.0, spacing)))))
    seconds = float(rng.uniform(2.0, SECONDS))
    width = groups * alphabet * spacing
    top = min(20000.0, rate / 2 - 1000.0)
    low = float(rng.uniform(500.0, max(500.0, top - width)))
    symbol = max(1, round(rate / baud))
    count = int(seconds * rate) // symbol
    n = count * symbol
    t = np.arange(n) / rate
    out = np.zeros(n)
    if scheme == "incremental":
        steps = 1 + rng.integers(0, alphabet - 1, size=count)
        choice = (np.cumsum(steps) % alphabet)[:, None]
    else:
        choice = rng.integers(0, alphabet, size=(count, groups))
    ramp = bool(rng.random() < 0.5)  # some modulators shape the keying, others switch hard
    # a continuous-phase modulator (one oscillator retuned) or one oscillator per tone
    for g in range(groups):
        for k in range(alphabet):
            on = np.repeat(choice[:, g] == k, symbol).astype(np.float64)
            if not on.any():
                continue
            if ramp:
                width_ramp = max(1, symbol // 10)
                on = np.convolve(on, np.hanning(width_ramp) / np.hanning(width_ramp).sum(), "same")
            f = low + (g * alphabet + k) * spacing
            out += on * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    fade = bool(rng.random() < 0.3)  # a transmission faded in and out (a slow fader, a fade)
    if fade:
        out *= np.minimum(1.0, np.minimum(t, t[-1] - t) / min(0.5, seconds / 4))
    plan = {
        "scheme": scheme,
        "spacing_hz": round(spacing, 1),
        "tones_per_symbol": groups,
        "alphabet": alphabet,
        "baud": round(baud, 1),
        "seconds": round(seconds, 2),
        "ramp": ramp,
        "fade": fade,
        "low_hz": round(low, 1),
        "high_hz": round(low + width - spacing, 1),
    }
    return out / max(1e-9, float(np.max(np.abs(out)))), plan


def music_clips(corpus: Path, count: int, seconds: float) -> list[np.ndarray]:
    """Train-split real music of the dev corpus, at least ``seconds`` long and not silent, at
    48 kHz mono."""
    from scipy.signal import resample_poly

    clips: list[np.ndarray] = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["label"] != "good" or row["split"] != "train" or "/real/" not in f"/{row['path']}":
            continue
        try:
            y, sr = sf.read(corpus / row["path"], always_2d=True)
        except (RuntimeError, sf.LibsndfileError):
            continue
        y = y.mean(axis=1)
        if sr != RATE:
            y = resample_poly(y, RATE, sr)
        need = int(seconds * RATE)
        if y.size >= need and np.sqrt(np.mean(y[:need] ** 2)) > 1e-2:
            clips.append(y[:need])
        if len(clips) >= count:
            break
    return clips


def mix(signal: np.ndarray, music: np.ndarray | None, level_db: float | None) -> np.ndarray:
    if music is None or level_db is None:
        out = np.zeros(signal.size + RATE)
        out[RATE // 2 : RATE // 2 + signal.size] = signal
        return 0.5 * out
    pad = np.zeros(music.size)
    at = (music.size - signal.size) // 2
    pad[at : at + signal.size] = signal
    gain = np.sqrt(np.mean(music**2)) / np.sqrt(np.mean(signal**2)) * 10 ** (level_db / 20)
    mixed = music + pad * gain
    return 0.9 * mixed / np.max(np.abs(mixed))


def write(y: np.ndarray, path: Path, codec: str) -> Path:
    wav = path.with_suffix(".wav")
    sf.write(wav, y, RATE, subtype="PCM_16")
    if codec == "wav":
        return wav
    name, _, quality = codec.partition(":")
    tool = {"mp3": "lame", "ogg": "oggenc", "opus": "opusenc"}[name]
    if shutil.which(tool) is None:
        print(f"{tool} absent: {path.name} kept as WAV", file=sys.stderr)
        return wav
    out = path.with_suffix(f".{name}")
    cmd = {
        "mp3": ["lame", "--quiet", "-b", quality, str(wav), str(out)],
        "ogg": ["oggenc", "--quiet", "-q", quality, str(wav), "-o", str(out)],
        "opus": ["opusenc", "--quiet", "--bitrate", quality, str(wav), str(out)],
    }[name]
    subprocess.run(cmd, check=True)
    wav.unlink()
    return out


def build(out: Path, cases: int, clips: int, seed: int, corpus: Path) -> None:
    rng = np.random.default_rng(seed)
    music = music_clips(corpus, clips, SECONDS + 2.0)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(cases):
        signal, plan = mfsk(rng)
        for level in LEVELS_DB:
            clip = None if level is None else int(rng.integers(len(music)))
            codec = str(rng.choice(CODECS))
            name = f"mfsk-{i:03d}-{'alone' if level is None else f'{level:+.0f}dB'}"
            y = mix(signal, None if clip is None else music[clip], level)
            path = write(y, out / name, codec)
            rows.append({"path": path.name, "level_db": level, "clip": clip, **plan})
    (out / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def judge(out: Path) -> None:
    from audiomodel.modem import scan_modem

    by_level: dict[str, list[int]] = {}
    for line in (out / "cases.jsonl").read_text().splitlines():
        row = json.loads(line)
        y, sr = sf.read(out / row["path"], dtype="int16", always_2d=True)
        report = scan_modem(y, sr)
        hits = [f for f in report.findings if f.evidence.get("modulation") == "MFSK"]
        level = "alone" if row["level_db"] is None else f"{row['level_db']:+.0f} dB"
        tally = by_level.setdefault(level, [0, 0])
        tally[0] += bool(hits)
        tally[1] += 1
        plan = (
            f"{row.get('scheme', 'groups')[:3]} {row['tones_per_symbol']}x{row['alphabet']} "
            f"{row['spacing_hz']:.0f} Hz {row.get('seconds', SECONDS):.1f} s "
            f"{row['baud']:.0f} Bd {row['low_hz']:.0f}-{row['high_hz']:.0f} Hz"
        )
        seen = hits[0].message[:110] if hits else "-"
        print(f"{row['path']:28s} {plan:40s} {'FLAG' if hits else '    '} {seen}")
    for level, (hit, n) in by_level.items():
        print(f"{level}: {hit}/{n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cases", type=int, default=24)
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    ap.add_argument("--judge", action="store_true", help="scan the cases already built")
    args = ap.parse_args()
    if args.judge:
        judge(args.out)
    else:
        build(args.out, args.cases, args.clips, args.seed, args.corpus)


if __name__ == "__main__":
    main()
