"""Data sent as DTMF digits (issue #17, session 13): payload bytes keyed as hexadecimal DTMF
digits, and the DTMF a phone prompt holds, through the whole validator.

DTMF is a 16-symbol multi-tone modem that anyone can make (ITU-T Q.23 tones, synthesised here to
the standard; ``sox synth`` makes the same tones). Attacks: an ELF, a shared library and a
source file as two digits a byte, at 10 and 20 digits a second (Q.24's fastest is 40 ms tone +
40 ms pause: 12.5 a second), alone at 44.1 kHz, through 8 kHz mu-law, and under train music at
+6, 0 and -6 dB. Hard negatives: dialled numbers (4-15 digits) between speech-like sound, a tune
played on the keypad (a phrase repeated), call-progress tones. Prints a markdown table: case,
files, flagged (decision not accept), findings that fired. Asserts nothing.

Usage::

    uv run --frozen python bench/dtmf_data.py --work /tmp/dtmf
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

from audiomodel import Decision, Severity, validate_path
from audiomodel.dtmf import COLUMNS_HZ, HEX_ORDER, KEYPAD, ROWS_HZ

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".cache/corpus/full-seed0"
RATE = 44100
PAYLOADS = {
    "elf": Path("/usr/bin/env"),
    "shared library": next(iter(sorted(Path("/usr/lib/x86_64-linux-gnu").glob("libz.so*"))), None),
    "source": Path(__file__),
}


def tone_pair(digit: str, seconds: float, rate: int) -> npt.NDArray[np.float64]:
    index = KEYPAD.index(digit)
    t = np.arange(round(seconds * rate)) / rate
    low, high = ROWS_HZ[index // 4], COLUMNS_HZ[index % 4]
    return 0.35 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))


def dial(digits: str, rate: int, per_second: float) -> npt.NDArray[np.float64]:
    on, off = 0.6 / per_second, 0.4 / per_second
    pause = np.zeros(round(off * rate))
    return np.concatenate([p for d in digits for p in (tone_pair(d, on, rate), pause)])


def as_digits(data: bytes) -> str:
    return "".join(HEX_ORDER[b >> 4] + HEX_ORDER[b & 15] for b in data)


def speech_like(seconds: float, rate: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A voice's shape: a glottal pulse train with a moving pitch through three formant
    resonances, loud and soft at the syllable rate. No DTMF pair."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    pitch = 120 + 40 * np.sin(2 * np.pi * rng.uniform(0.3, 0.9) * t)
    voice = np.diff(np.floor(np.cumsum(pitch) / rate), prepend=0.0)  # one pulse a period
    formants = ((rng.uniform(500, 800), 80), (rng.uniform(1100, 1800), 100), (2500, 150))
    for formant, bandwidth in formants:
        r = np.exp(-np.pi * bandwidth / rate)
        theta = 2 * np.pi * formant / rate
        voice = scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], voice)
    return 0.3 * voice / np.abs(voice).max() * (1 + np.sin(2 * np.pi * 4 * t)) / 2


def train_music(rng: np.random.Generator) -> list[Path]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").open()]
    paths = [
        CORPUS / r["path"]
        for r in rows
        if r["label"] == "good" and r["split"] == "train" and r["sample_rate"] == RATE
    ]
    rng.shuffle(paths)
    return paths[:3]


def under(x: npt.NDArray[np.float64], music: Path, db: float) -> npt.NDArray[np.float64]:
    m, _ = sf.read(music, dtype="float64", always_2d=True)
    m = np.tile(m.mean(axis=1), 1 + x.size // len(m))[: x.size]
    gain = np.sqrt(np.mean(x**2) / max(np.mean(m**2), 1e-12)) * 10 ** (-db / 20)
    mix = x + gain * m
    return 0.9 * mix / np.abs(mix).max()


def cases(work: Path, rng: np.random.Generator) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []

    def write(kind: str, name: str, x: npt.NDArray[np.float64], rate: int, subtype: str) -> None:
        path = work / f"{name}.wav"
        sf.write(
            path, (0.9 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32), rate, subtype=subtype
        )
        out.append((kind, path))

    music = train_music(rng)
    for label, source in PAYLOADS.items():
        if source is None or not source.exists():
            print(f"skipped {label}: no file on this machine")
            continue
        data = source.read_bytes()[:120]
        for per_second in (10, 20):
            keyed = dial(as_digits(data), RATE, per_second)
            write("attack alone", f"{label}-{per_second}", keyed, RATE, "PCM_16")
            phone = dial(as_digits(data), 8000, per_second)
            write("attack 8 kHz mu-law", f"{label}-{per_second}-ulaw", phone, 8000, "ULAW")
            for db in (6, 0, -6):
                for i, clip in enumerate(music):
                    name = f"{label}-{per_second}-m{i}{db:+d}dB"
                    write(
                        f"attack under music {db:+d} dB",
                        name,
                        under(keyed, clip, db),
                        RATE,
                        "PCM_16",
                    )
    for i in range(6):
        number = "".join(rng.choice(list("0123456789"), size=int(rng.integers(4, 16))))
        parts = [speech_like(2.0, 8000, rng), dial(number, 8000, 8), speech_like(3.0, 8000, rng)]
        prompt = np.concatenate(parts)
        line_noise = 3e-4 * rng.standard_normal(prompt.size)  # a telephone line is never silent
        write("good: dialled number in a prompt", f"prompt-{i}", prompt + line_noise, 8000, "ULAW")
    for i in range(3):
        phrase = "".join(rng.choice(list(KEYPAD), size=int(rng.integers(6, 13))))
        tune = dial(phrase * 12, RATE, float(rng.uniform(6, 12)))
        write("good: a tune on the keypad", f"tune-{i}", tune, RATE, "PCM_16")
    t = np.arange(12 * 8000) / 8000
    ringback = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)) * (t % 6 < 2)
    busy = (np.sin(2 * np.pi * 480 * t) + np.sin(2 * np.pi * 620 * t)) * (t % 1 < 0.5)
    write("good: call-progress tones", "ringback", ringback, 8000, "PCM_16")
    write("good: call-progress tones", "busy", busy, 8000, "PCM_16")
    return out


def judge_cases(
    doc: str,
    prefix: str,
    make_cases: Callable[[Path, np.random.Generator], list[tuple[str, Path]]],
) -> None:
    """The command line of a case bench (``--work``, ``--seed``): make the cases, judge each
    with the validator, print how many of each kind were flagged and by what."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, help="where the files go (default: a temporary dir)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[int]] = {}
    fired: dict[str, Counter[str]] = {}
    for kind, path in make_cases(work, rng):
        verdict = validate_path(path)
        flagged = verdict.decision is not Decision.ACCEPT
        counts = rows.setdefault(kind, [0, 0])
        counts[0] += 1
        counts[1] += flagged
        codes = {f.code for f in verdict.findings if f.severity >= Severity.SUSPICIOUS}
        fired.setdefault(kind, Counter()).update(codes)
    print("| case | files | flagged | findings |")
    print("| --- | ---: | ---: | --- |")
    for kind, (n, flagged) in rows.items():
        found = ", ".join(f"{c} {k}" for c, k in fired[kind].most_common())
        print(f"| {kind} | {n} | {flagged} | {found} |")


def main() -> None:
    judge_cases(__doc__ or "", "dtmf-", cases)


if __name__ == "__main__":
    main()
