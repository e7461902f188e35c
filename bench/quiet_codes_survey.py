"""Held-out variants of the red-team survey's ``stereo`` and ``gaps`` families, beside honest
look-alikes (issue #17, session 17, side19): other levels, payload types, widths (8/24-bit),
tools (sox ``remix`` M/S, sox ``dither``), a payload in part of the track, gaps of other lengths
and codes; honest per-channel dither and hiss, Haas widening, fade-outs into dither, 24-bit
noise floors. Each file through the whole validator (``--scanner-only``: only
:mod:`audiomodel.quiet_codes`, fast). Measurement only: prints a table, asserts nothing.

Usage::

    uv run --frozen python bench/quiet_codes_survey.py --work DIR [--scanner-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from audiomodel.findings import Finding
from audiomodel.quiet_codes import QuietCodesScanner, SideChannelScanner

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("/work/main/.cache/corpus/full-seed0")
RATE = 44100
Float = npt.NDArray[np.float64]
Case = tuple[str, str, Path]  # "attack"/"good", what, file


def payloads() -> dict[str, bytes]:
    elf = Path("/bin/ls").read_bytes()
    text = b"".join(p.read_bytes() for p in sorted((ROOT / "bench").glob("*.py"))[:20])
    return {
        "elf": elf,
        "text": text,
        "zlib": zlib.compress(text * 3, 9),
        "random": np.random.default_rng(99).bytes(1 << 20),
    }


PAY = payloads()


def payload(name: str, n: int) -> bytes:
    data = PAY[name]
    return (data * (n // len(data) + 1))[:n]


def music(stereo: bool, count: int, seconds: float = 10.0) -> list[Float]:
    """Good train-split music at 44.1 kHz (sorted from the end: other clips than the survey's)."""
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").open()]
    out = []
    for r in sorted(rows, key=lambda r: r["path"], reverse=True):
        if (r["label"], r["split"], r["threat_class"]) != ("good", "train", "real"):
            continue
        if r["sample_rate"] != RATE or (stereo and r["channels"] != 2):
            continue
        x, _ = sf.read(CORPUS / r["path"], dtype="float64", always_2d=True)
        if x.shape[0] < seconds * RATE:
            continue
        x = x[: int(seconds * RATE)]
        x = x if stereo else x.mean(axis=1)
        out.append(0.5 * x / np.abs(x).max())
        if len(out) == count:
            break
    return out


def rms(x: Float) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def words(name: str, n: int) -> Float:
    return np.frombuffer(payload(name, 2 * n), "<i2").astype(np.float64) / 32768


def ints(name: str, n: int) -> npt.NDArray[np.int64]:
    return np.frombuffer(payload(name, n), np.int8).astype(np.int64)


def write_int(path: Path, x: npt.NDArray[np.int64], bits: int) -> Path:
    if bits == 24:
        sf.write(path, (x << 8).astype(np.int32), RATE, subtype="PCM_24")
    else:
        sf.write(path, x.astype(np.int16), RATE, subtype="PCM_16")
    return path


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


# ------------------------------------------------------------------------------ stereo side


def stereo_cases(work: Path, rng: np.random.Generator) -> list[Case]:
    out: list[Case] = []
    real = music(True, 3)
    mono = music(False, 3)
    n = mono[0].size
    for i, name in enumerate(PAY):
        m = mono[i % 3]
        for db in (-20, -50):  # the survey's were -30/-40
            s = words(name, n)
            s *= rms(m) / rms(s) * 10 ** (db / 20)
            x = np.stack([m + s, m - s], 1)
            p = work / f"side-{name}{db}.wav"
            sf.write(p, x, RATE, subtype="PCM_16")
            out.append(("attack", f"side {name} {db} dB, mono mid", p))
        # real stereo mix under the payload (its own side stays)
        s = words(name, n)
        s *= rms(real[i % 3]) / rms(s) * 10 ** (-30 / 20)
        p = work / f"side-{name}-realmix.wav"
        sf.write(p, real[i % 3] + np.stack([s, -s], 1), RATE, subtype="PCM_16")
        out.append(("attack", f"side {name} -30 dB on a real stereo mix", p))
        # exact integer bytes: L = M + b, R = M - b (recoverable: b = (L - R) / 2)
        mi = np.round(m * 32767).astype(np.int64)
        b = ints(name, n)
        p = write_int(work / f"side-{name}-int8.wav", np.stack([mi + b, mi - b], 1), 16)
        out.append(("attack", f"side {name} as int8 bytes, L=M+b R=M-b", p))
        # only in part of the track (3 s of 10), L = M + b, R = M
        x = np.stack([mi, mi], 1)
        x[3 * RATE : 6 * RATE, 0] += ints(name, 3 * RATE) // 2
        p = write_int(work / f"side-{name}-part.wav", x, 16)
        out.append(("attack", f"side {name} int bytes/2 in 3 s of 10, L only", p))
        # 24-bit: words at -40 dB
        s = words(name, n)
        s *= rms(m) / rms(s) * 10 ** (-40 / 20)
        p = work / f"side-{name}-24.wav"
        sf.write(p, np.stack([m + s, m - s], 1), RATE, subtype="PCM_24")
        out.append(("attack", f"side {name} -40 dB, 24-bit", p))
    # M/S through sox remix: M = music, S = random/elf words at -35 dB, dithered by sox
    for name in ("elf", "random"):
        m = mono[1]
        mp, sp = work / f"ms-m-{name}.wav", work / f"ms-s-{name}.wav"
        sf.write(mp, m, RATE, subtype="PCM_16")
        s = words(name, m.size)
        sf.write(sp, s * rms(m) / rms(s) * 10 ** (-35 / 20), RATE, subtype="PCM_16")
        p = work / f"side-{name}-soxms.wav"
        sox("-M", str(mp), str(sp), str(p), "remix", "1v1,2v1", "1v1,2v-1")
        out.append(("attack", f"side {name} -35 dB, M/S by sox remix", p))
        # 8-bit unsigned
        p8 = work / f"side-{name}-u8.wav"
        s = words(name, m.size)
        s *= rms(m) / rms(s) * 10 ** (-25 / 20)
        sf.write(p8, np.stack([m + s, m - s], 1), RATE, subtype="PCM_U8")
        out.append(("attack", f"side {name} -25 dB, 8-bit", p8))
        p = work / f"side-{name}-flac.flac"
        sox(str(work / f"side-{name}-int8.wav"), str(p))
        out.append(("attack", f"side {name} int8 bytes, FLAC", p))
    # -- honest look-alikes
    for j, m in enumerate(mono):
        f = work / f"mono{j}.f32.wav"
        sf.write(f, np.stack([m, m], 1), RATE, subtype="FLOAT")
        for opt in ("", "-s", "-S", "-p 12"):
            tag = opt.replace(" ", "").replace("-", "") or "tpdf"
            p = work / f"good-dither-{tag}{j}.wav"
            sox(str(f), "-b", "16", str(p), "dither", *opt.split())
            out.append(("good", f"mono as stereo, sox dither {opt or '(TPDF)'}", p))
        for db in (-60, -50, -42):  # tape hiss per channel, tilted
            hiss = rng.normal(size=(m.size, 2))
            hiss[1:] += 0.5 * hiss[:-1]
            hiss *= 10 ** (db / 20) / rms(hiss)
            p = work / f"good-hiss{db}-{j}.wav"
            sf.write(p, np.stack([m, m], 1) + hiss, RATE, subtype="PCM_16")
            out.append(("good", f"mono + per-channel tape hiss {db} dBFS", p))
        white = (rng.random((m.size, 2)) - 0.5) * 2 * 10 ** (-55 / 20) * 3**0.5
        p = work / f"good-uniform{j}.wav"
        sf.write(p, np.stack([m, m], 1) + white, RATE, subtype="PCM_16")
        out.append(("good", "mono + per-channel uniform noise -55 dBFS", p))
        for db in (-110, -100, -90):
            noise = rng.normal(size=(m.size, 2)) * 10 ** (db / 20)
            p = work / f"good-24floor{db}-{j}.wav"
            sf.write(p, np.stack([m, m], 1) + noise, RATE, subtype="PCM_24")
            out.append(("good", f"mono, 24-bit, per-channel floor {db} dBFS", p))
        for ms in (15, 25):
            d = int(ms * RATE / 1000)
            p = work / f"good-haas{ms}-{j}.wav"
            sf.write(p, np.stack([m, np.concatenate([np.zeros(d), m])[: m.size]], 1), RATE)
            out.append(("good", f"Haas-widened mono {ms} ms", p))
        fade = np.stack([m, m], 1) * np.linspace(1, 0, m.size)[:, None] ** 3
        f = work / f"fade{j}.f32.wav"
        sf.write(f, fade, RATE, subtype="FLOAT")
        p = work / f"good-fade{j}.wav"
        sox(str(f), "-b", "16", str(p), "dither")
        out.append(("good", "fade-out into TPDF dither (stereo)", p))
    for j, x in enumerate(real):
        f = work / f"real{j}.f32.wav"
        sf.write(f, x, RATE, subtype="FLOAT")
        p = work / f"good-real-s{j}.wav"
        sox(str(f), "-b", "16", str(p), "dither", "-s")
        out.append(("good", "real stereo, sox dither -s", p))
    return out


# ------------------------------------------------------------------------------ quiet gaps


def gapped(
    m: Float, fill: Callable[[int], npt.NDArray[np.int64]], bits: int, gap_s: float, gaps: int
) -> npt.NDArray[np.int64]:
    """``m`` at ``bits`` with ``gaps`` gaps of ``gap_s`` (faded into) holding ``fill``'s ints."""
    x = np.round(m * 2 ** (bits - 1)).astype(np.int64)
    gap = int(gap_s * RATE)
    starts = np.linspace(RATE, m.size - gap - RATE, gaps).astype(int)
    for start in starts:
        fade = int(0.05 * RATE)
        x[start - fade : start] = np.round(x[start - fade : start] * np.linspace(1, 0, fade))
        x[start + gap : start + gap + fade] = np.round(
            x[start + gap : start + gap + fade] * np.linspace(0, 1, fade)
        )
        x[start : start + gap] = fill(gap)
    return x


def stream(values: npt.NDArray[np.int64]) -> Callable[[int], npt.NDArray[np.int64]]:
    cursor = [0]

    def fill(n: int) -> npt.NDArray[np.int64]:
        chunk = values[cursor[0] : cursor[0] + n]
        cursor[0] += n
        return np.resize(chunk, n)

    return fill


def bits(name: str, n: int) -> npt.NDArray[np.int64]:
    return np.unpackbits(np.frombuffer(payload(name, n // 8 + 1), np.uint8)).astype(np.int64)


def gap_cases(work: Path, rng: np.random.Generator) -> list[Case]:
    out: list[Case] = []
    mono = music(False, 3)
    n = 1 << 20
    layouts = [(0.3, 6), (2.0, 1), (0.15, 4)]
    for i, name in enumerate(PAY):
        m = mono[i % 3]
        b = bits(name, n)
        for gap_s, count in layouts:
            x = gapped(m, stream(2 * b - 1), 16, gap_s, count)
            out.append(("attack", f"gaps {name} +-1, {count}x{gap_s} s", write_int(
                work / f"gap-pm1-{name}-{gap_s}.wav", x, 16)))  # fmt: skip
        x = gapped(m, stream(b), 16, 0.5, 3)
        out.append(
            ("attack", f"gaps {name} 0/1 bits", write_int(work / f"gap-01-{name}.wav", x, 16))
        )
        x = gapped(m, stream(4 * b - 2), 16, 0.5, 3)
        out.append(("attack", f"gaps {name} +-2", write_int(work / f"gap-pm2-{name}.wav", x, 16)))
        two = b[0::2] * 2 + b[1::2]
        x = gapped(m, stream(2 * two - 3), 16, 0.5, 3)
        out.append(("attack", f"gaps {name} 4 codes -3..3", write_int(
            work / f"gap-4c-{name}.wav", x, 16)))  # fmt: skip
        x = gapped(m, stream(ints(name, n)), 24, 0.5, 3)
        out.append(("attack", f"gaps {name} 24-bit signed low byte", write_int(
            work / f"gap-24s-{name}.wav", x, 24)))  # fmt: skip
        nib = np.frombuffer(payload(name, n), np.uint8).astype(np.int64)
        nib = np.stack([nib >> 4, nib & 15], 1).reshape(-1) - 8
        x = gapped(m, stream(nib), 24, 0.5, 3)
        out.append(("attack", f"gaps {name} 24-bit nibbles", write_int(
            work / f"gap-24n-{name}.wav", x, 24)))  # fmt: skip
        tern = rng.choice([-1, 0, 1], size=n)
        if name == "random":
            x = gapped(m, stream(tern), 16, 0.5, 3)
            out.append(("attack", "gaps ternary -1/0/+1 (the limit)", write_int(
                work / "gap-tern.wav", x, 16)))  # fmt: skip
        x8 = gapped(m, stream(2 * b - 1), 8, 0.5, 3)
        p = work / f"gap-u8-{name}.wav"
        sf.write(p, x8.astype(np.float64) / 128, RATE, subtype="PCM_U8")
        out.append(("attack", f"gaps {name} 8-bit +-1 code", p))
    # honest
    for j, m in enumerate(mono):
        silent = gapped(m, lambda k: np.zeros(k, np.int64), 16, 0.6, 3)
        f = work / f"g-fade{j}.f32.wav"
        fade = m * np.linspace(1, 0, m.size) ** 4
        sf.write(f, fade, RATE, subtype="FLOAT")
        for opt in ("", "-s", "-S"):
            p = work / f"good-gfade{opt}{j}.wav"
            sox(str(f), "-b", "16", str(p), "dither", *opt.split())
            out.append(("good", f"fade-out into sox dither {opt or 'TPDF'}", p))
        p = work / f"good-gfade24-{j}.wav"
        sox(str(f), "-b", "24", str(p), "dither")
        out.append(("good", "fade-out, 24-bit, sox dither", p))
        out.append(
            ("good", "gaps of digital silence", write_int(work / f"good-gsil{j}.wav", silent, 16))
        )
        for sigma in (3, 30, 300):
            x = gapped(
                m, lambda k, s=sigma: np.round(rng.normal(size=k) * s).astype(np.int64), 24, 0.6, 3
            )
            out.append(("good", f"24-bit gaps, noise floor {sigma} steps", write_int(
                work / f"good-g24n{sigma}-{j}.wav", x, 24)))  # fmt: skip
        x = gapped(m, lambda k: np.floor(rng.normal(size=k) * 0.4).astype(np.int64), 16, 0.6, 3)
        out.append(("good", "gaps of sub-LSB noise, truncated (-1/0)", write_int(
            work / f"good-gtrunc{j}.wav", x, 16)))  # fmt: skip
        for amp in (1.5, 3.5):
            t = np.arange(1 << 20) / RATE
            tone = np.round(amp * np.sin(2 * np.pi * 440 * t)).astype(np.int64)
            x = gapped(m, stream(tone), 16, 0.6, 3)
            out.append(("good", f"gaps holding an undithered {amp} LSB sine", write_int(
                work / f"good-gsine{amp}-{j}.wav", x, 16)))  # fmt: skip
        x = gapped(m, lambda k: 4 * np.round(rng.normal(size=k) * 0.5).astype(np.int64), 16, 0.6, 3)
        out.append(("good", "14-bit source's gaps (steps of 4)", write_int(
            work / f"good-g14-{j}.wav", x, 16)))  # fmt: skip
    return out


def scan(path: Path) -> list[Finding]:
    """Only :mod:`audiomodel.quiet_codes`'s scanners, fed as the validator feeds them."""
    bits = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(
        sf.info(path).subtype
    )
    if bits is None:
        return []
    with sf.SoundFile(path) as f:
        scanners: list[QuietCodesScanner | SideChannelScanner] = [
            QuietCodesScanner(f.samplerate, bits)
        ]
        if f.channels == 2:
            scanners.append(SideChannelScanner(f.samplerate, bits))
        while True:
            if bits == 8:
                block = (f.read(1 << 18, dtype="float32", always_2d=True) * 32768).astype(np.int16)
            else:
                block = f.read(1 << 18, dtype="int16" if bits == 16 else "int32", always_2d=True)
            if not len(block):
                break
            for scanner in scanners:
                scanner.update(block)
    return [x for scanner in scanners for x in scanner.report()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--only", default="stereo,gaps")
    parser.add_argument("--scanner-only", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="quietcodes-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    cases: list[Case] = []
    if "stereo" in args.only:
        cases += stereo_cases(work, rng)
    if "gaps" in args.only:
        cases += gap_cases(work, rng)
    from audiomodel import Decision, Severity, validate_path

    print("| kind | case | decision | findings (suspicious+) |")
    print("| --- | --- | --- | --- |")
    for kind, what, path in cases:
        if args.scanner_only:
            codes = [f"{f.code}:{f.severity.name.lower()}" for f in scan(path)]
            decision = "-"
        else:
            v = validate_path(path)
            codes = sorted({f.code for f in v.findings if f.severity >= Severity.SUSPICIOUS})
            decision = "accept" if v.decision is Decision.ACCEPT else v.decision.value
        print(f"| {kind} | {what} | {decision} | {', '.join(codes)} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
