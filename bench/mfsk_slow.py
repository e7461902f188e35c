"""Slow narrow-spaced MFSK (issue #17, session 18): the development set of ``audiomodel.mfsk``.

Cases: WSJT-X's simulators from Debian's ``wsjtx`` (ft8sim, fst4sim, q65sim, jt4sim; own
messages, audio frequencies and SNRs), and own synthesis of the fldigi family's shapes (Olivia/
Contestia-like, MFSK8/16/32-like, DominoEX/Thor-like incremental keying, WSPR- and JT9-like slow
4/9-FSK, Gaussian-filtered FSK at BT 0.3/0.5/1.0) with random symbols: alone (in white noise),
10 dB under train-split music of the dev corpus, and through MP3 (lame 96 kb/s) and Vorbis
(-q 2). Good look-alikes: arpeggios, chiptune, FM-synth melodies, test tones, sirens, chirping
birds, trills (own synthesis).

    uv run --frozen python bench/mfsk_slow.py --work DIR [--judge scan|validator]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel import mfsk

Float = npt.NDArray[np.float64]
CORPUS = Path("/work/main/.cache/corpus/full-seed0")
RATE = 12000


def gfsk(
    rng: np.random.Generator,
    tones: int,
    baud: float,
    spacing: float,
    f0: float,
    seconds: float,
    rate: int = RATE,
    bt: float | None = None,
    ifk: bool = False,
) -> Float:
    """Phase-continuous M-FSK of random symbols (Gaussian-filtered frequency when ``bt``;
    incremental keying, DominoEX-like, when ``ifk``)."""
    n_sym = int(seconds * baud)
    sym = rng.integers(0, tones if not ifk else tones - 2, n_sym)
    if ifk:
        sym = np.cumsum(sym + 2) % tones
    per = rate / baud
    idx = np.minimum((np.arange(int(n_sym * per)) / per).astype(int), n_sym - 1)
    freq = f0 + sym[idx] * spacing
    if bt:
        sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt) * per
        half = int(4 * sigma)
        g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        freq = np.convolve(np.pad(freq, half, mode="edge"), g / g.sum(), mode="valid")
    return np.sin(2 * np.pi * np.cumsum(freq) / rate)


def synth_modes() -> dict[str, dict[str, float | bool | None]]:
    return {
        "olivia32-1000": {"tones": 32, "baud": 31.25, "spacing": 31.25, "f0": 1000},
        "olivia8-250": {"tones": 8, "baud": 31.25, "spacing": 31.25, "f0": 1700},
        "olivia16-500": {"tones": 16, "baud": 31.25, "spacing": 31.25, "f0": 800},
        "contestia16-1000": {"tones": 16, "baud": 62.5, "spacing": 62.5, "f0": 1300},
        "mfsk8": {"tones": 32, "baud": 7.8125, "spacing": 7.8125, "f0": 700},
        "mfsk16": {"tones": 16, "baud": 15.625, "spacing": 15.625, "f0": 1100},
        "mfsk32": {"tones": 16, "baud": 31.25, "spacing": 31.25, "f0": 1400},
        "dominoex11": {"tones": 18, "baud": 10.766, "spacing": 10.766, "f0": 1000, "ifk": True},
        "dominoex4": {"tones": 18, "baud": 3.906, "spacing": 3.906, "f0": 1500, "ifk": True},
        "thor16": {"tones": 18, "baud": 15.625, "spacing": 15.625, "f0": 900, "ifk": True},
        "wspr-like": {"tones": 4, "baud": 1.4648, "spacing": 1.4648, "f0": 1450},
        "jt9-like": {"tones": 9, "baud": 1.736, "spacing": 1.736, "f0": 1250},
        "gfsk8-bt0.3": {"tones": 8, "baud": 6.25, "spacing": 6.25, "f0": 900, "bt": 0.3},
        "gfsk8-bt0.5": {"tones": 8, "baud": 8.0, "spacing": 8.0, "f0": 2100, "bt": 0.5},
        "gfsk8-bt1": {"tones": 8, "baud": 5.0, "spacing": 10.0, "f0": 600, "bt": 1.0},
        "gfsk4-bt1": {"tones": 4, "baud": 20.8, "spacing": 20.8, "f0": 1200, "bt": 1.0},
        "fsk16-2x": {"tones": 16, "baud": 4.0, "spacing": 8.0, "f0": 1600},
    }


def run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def wsjt(work: Path) -> dict[str, Float]:
    """WSJT-X simulator outputs (12 kHz), own messages/frequencies/SNRs."""
    out: dict[str, Float] = {}
    if not shutil.which("ft8sim"):
        print("wsjtx simulators absent (apt-get install wsjtx)", file=sys.stderr)
        return out
    jobs = {
        "ft8-snr-10": ["ft8sim", "CQ DL2XYZ JO62", "820", "0.3", "0", "0", "1", "-10"],
        "ft8-snr0": ["ft8sim", "HELLO WORLD 42", "1930", "0.0", "0", "0", "1", "0"],
        "ft8-snr20": ["ft8sim", "G3ABC N0CALL -07", "1210", "0.5", "0", "0", "1", "20"],
        "fst4-15": ["fst4sim", "PA3ZZ OE1XYZ JN88", "15", "1100", "0", "0", "0", "1", "0", "F"],
        "fst4-60": ["fst4sim", "W1AW K2ZZ FN31", "60", "1600", "0", "0", "0", "1", "-5", "F"],
        "q65-30b": ["q65sim", "TEST 73 DE ZZ9", "B", "1300", "0", "0", "0", "0", "30", "1", "0"],
        "q65-60a": ["q65sim", "CQ VK3ABC QF22", "A", "900", "0", "0", "0", "0", "60", "1", "5"],
        "jt4-a": ["jt4sim", "OH2AB SM5XYZ KP20", "A", "1", "0", "0", "1", "5"],
    }
    for name, args in jobs.items():
        d = work / "wsjt" / name
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.wav"):
            old.unlink()
        try:
            run(args, d)
        except (subprocess.CalledProcessError, FileNotFoundError) as err:
            print(f"{name}: {err}", file=sys.stderr)
            continue
        wavs = sorted(d.glob("*.wav"))
        if wavs:
            x, rate = sf.read(wavs[0], dtype="float64")
            out[name] = np.asarray(x if x.ndim == 1 else x.mean(axis=1))
            assert rate == RATE, rate
    return out


def music_bed(rate: int, count: int) -> list[Float]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").open()]
    beds = []
    for r in rows:
        if (r["label"], r["split"], r["threat_class"]) != ("good", "train", "real"):
            continue
        info = sf.info(CORPUS / r["path"])
        if info.duration < 25:
            continue
        x, sr = sf.read(CORPUS / r["path"], dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        if sr != rate:  # crude resample by interpolation (a bed, not a measurement)
            t = np.arange(int(x.size * rate / sr)) * sr / rate
            x = np.interp(t, np.arange(x.size), x)
        beds.append(x)
        if len(beds) >= count:
            break
    return beds


def good_lookalikes(rng: np.random.Generator, rate: int = RATE) -> dict[str, Float]:
    """Synth-heavy honest sound: scales, arpeggios, chiptune, FM synth, test tones, sirens,
    bird chirps, trills."""
    t = np.arange(30 * rate) / rate
    out: dict[str, Float] = {}

    def notes(freqs: Float, dur: float, harmonics: int = 1, square: bool = False) -> Float:
        per = int(dur * rate)
        f = np.repeat(freqs, per)[: t.size]
        f = np.pad(f, (0, t.size - f.size), mode="edge")
        ph = 2 * np.pi * np.cumsum(f) / rate
        if square:
            return np.sign(np.sin(ph)) * 0.3
        return sum(np.sin(h * ph) / h for h in range(1, harmonics + 1))

    scale = 440 * 2 ** (np.arange(-12, 13) / 12)
    out["arpeggio-16th"] = notes(np.tile(scale[[0, 4, 7, 12]], 300), 0.125, 3)
    out["random-melody-scale"] = notes(rng.choice(scale, 400), 0.15, 4)
    out["chiptune-square"] = notes(rng.choice(scale[::2], 400), 0.1, square=True)
    out["chiptune-pure"] = notes(rng.choice(scale, 600), 0.0625)
    out["chromatic-random-pure"] = notes(rng.choice(scale[10:16], 400), 0.2)
    ph = (
        2
        * np.pi
        * np.cumsum(
            notes(rng.choice(scale, 300), 0.2) * 0
            + np.repeat(rng.choice(scale, 300), int(0.2 * rate))[: t.size]
        )
        / rate
    )
    out["fm-synth"] = np.sin(ph + 2.0 * np.sin(2 * ph))
    out["test-tone-1k"] = np.sin(2 * np.pi * 1000 * t)
    out["stepped-tones"] = notes(np.repeat(np.arange(250, 3500, 250), 1), 2.0)
    out["siren"] = np.sin(2 * np.pi * np.cumsum(900 + 400 * np.sin(2 * np.pi * 0.5 * t)) / rate)
    out["wail-slow"] = np.sin(2 * np.pi * np.cumsum(800 + 300 * np.sin(2 * np.pi * 0.1 * t)) / rate)
    chirp = np.zeros(t.size)
    for start in rng.uniform(0, 29, 120):
        n = int(rng.uniform(0.03, 0.12) * rate)
        i = int(start * rate)
        f = np.linspace(rng.uniform(2500, 3500), rng.uniform(1800, 3000), n)
        seg = np.sin(2 * np.pi * np.cumsum(f) / rate) * np.hanning(n)
        chirp[i : i + seg.size] += seg[: chirp.size - i]
    out["bird-chirps"] = chirp
    out["trill"] = notes(np.tile([2000.0, 2120.0], 2000), 0.06)
    vib = 600 * 2 ** (rng.choice(np.arange(0, 12), 200) / 12)
    f = np.repeat(vib, int(0.3 * rate))[: t.size]
    f = np.pad(f, (0, t.size - f.size), mode="edge") * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    out["vibrato-melody"] = np.sin(2 * np.pi * np.cumsum(f) / rate)
    for name in list(out):
        out[name] = out[name] + rng.normal(0, 0.001, t.size)
    return out


def codec(x: Float, kind: str, work: Path, name: str) -> Float:
    src = work / "tmp" / f"{name}.wav"
    src.parent.mkdir(parents=True, exist_ok=True)
    sf.write(src, 0.8 * x / max(np.abs(x).max(), 1e-9), RATE, subtype="PCM_16")
    enc = src.with_suffix(".mp3" if kind == "mp3" else ".ogg")
    if kind == "mp3":
        run(["lame", "--quiet", "-b", "96", str(src), str(enc)], work)
    else:
        run(["oggenc", "-Q", "-q", "2", "-o", str(enc), str(src)], work)
    dec = src.with_name(f"{name}-dec.wav")
    run(["ffmpeg", "-v", "quiet", "-y", "-i", str(enc), str(dec)], work)
    y, _ = sf.read(dec, dtype="float64")
    return np.asarray(y if y.ndim == 1 else y.mean(axis=1))


def cases(work: Path, seed: int) -> dict[str, Float]:
    rng = np.random.default_rng(seed)
    signals: dict[str, Float] = {}
    for name, p in synth_modes().items():
        seconds = 120.0 if float(p["baud"]) < 3 else 30.0  # type: ignore[arg-type]
        x = gfsk(rng, seconds=seconds, **p)  # type: ignore[arg-type]
        signals[name] = x + rng.normal(0, 0.3, x.size)  # ~ +5 dB in a 3 kHz channel
    signals.update(wsjt(work))
    beds = music_bed(RATE, 4)
    out: dict[str, Float] = {}
    for i, (name, x) in enumerate(signals.items()):
        out[f"{name}/alone"] = x
        if beds:
            bed = beds[i % len(beds)]
            n = min(bed.size, x.size)
            mix = bed[:n] + x[:n] * np.std(bed[:n]) / np.std(x[:n]) * 10 ** (-10 / 20)
            out[f"{name}/music-10dB"] = mix
        out[f"{name}/mp3"] = codec(x, "mp3", work, f"{name}-{i}")
        out[f"{name}/vorbis"] = codec(x, "vorbis", work, f"{name}-{i}")
    for name, x in good_lookalikes(rng).items():
        out[f"GOOD {name}"] = x
        out[f"GOOD {name}/mp3"] = codec(x, "mp3", work, f"good-{name}")
    return out


def scan_dirs(dirs: list[Path]) -> None:
    """The scanner alone on every audio file under ``dirs`` (false flags on good sets), and
    how much of them the gate lets the full ladder read."""
    files = flagged = passed = 0
    seen = read = 0.0
    for d in dirs:
        for path in sorted(d.rglob("*")):
            if path.suffix.lower() not in {".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff"}:
                continue
            try:
                x, rate = sf.read(path, dtype="float32", always_2d=True)
            except Exception as err:
                print(f"ERR {path}: {err}")
                continue
            files += 1
            level = x.sum(axis=1)
            scanner = mfsk.MfskScanner(rate)
            for i in range(0, level.size, 1 << 16):
                scanner.update(level[i : i + (1 << 16)])
            found = scanner.readings()
            seen += scanner.seconds_seen
            read += scanner.seconds_read
            passed += scanner.seconds_read > 0
            if found:
                flagged += 1
                print(f"FLAG {path} {found}", flush=True)
    print(f"{flagged} of {files} files flagged")
    print(f"the gate passed {passed} files, {read:.0f} of {seen:.0f} s read by the full ladder")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mfsk_slow"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--why", action="store_true")
    ap.add_argument("--scan", nargs="*", type=Path, help="scan these dirs' audio (false flags)")
    args = ap.parse_args()
    if args.scan:
        scan_dirs(args.scan)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / f"cases-seed{args.seed}.npz"
    if cache.exists():
        with np.load(cache) as z:
            made = {k: z[k] for k in z.files}
    else:
        made = cases(args.work, args.seed)
        np.savez(cache, **made)
    for name, x in made.items():
        if args.only and args.only not in name:
            continue
        mfsk.DEBUG = [] if args.why else None
        found = mfsk.scan_mfsk(x.astype(np.float32), RATE)
        text = (
            "; ".join(
                f"{r.tones}x{r.spacing_hz:.2f}Hz {r.baud:.2f}Bd {r.frame_s * 1e3:.0f}ms "
                f"j{r.jumps} c{r.clock_coherence:.2f} g{r.grid_coherence:.2f}"
                for r in found
            )
            or "-"
        )
        print(f"{name:40s} {'FLAG' if found else 'miss':5s} {text}", flush=True)
        if args.why and mfsk.DEBUG:
            print("      " + " | ".join(mfsk.DEBUG))


if __name__ == "__main__":
    main()
