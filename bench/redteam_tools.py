"""Red-team with real tools (issue #17, session 21): data sent through free modems and stego tools
the team had not used, alone and under train music, judged by the whole validator. Measurement
only: prints one JSON row a file (family, variant, decision, score, codes) and a per-family table.

Families (a missing tool skips its family with a message; nothing here is a runtime dependency):

- ``direwolf``: Debian ``direwolf``'s ``gen_packets``: AX.25 frames whose text is base64 of a
  binary, as 300 Bd HF AFSK, 1200 Bd Bell 202, 2400 QPSK, 4800 8PSK and 9600 Bd G3RUH scrambled
  baseband, at several rates and levels, alone and 15 dB under music.
- ``codec2``: Debian ``codec2``'s ``fsk_mod`` (2FSK / 4FSK, several rates and shifts) and
  ``fdmdv_mod`` (the 14-carrier DQPSK FDMDV modem), alone and under music.
- ``pystego``: PyPI tools from a throwaway venv (``--venv``): ``stegolsb wavsteg`` (1-4 LSBs a
  sample) and ``ggwave`` (its audible and ultrasound protocols).
- ``rawtricks``: an attacker's sox/ffmpeg tricks: bytes imported as u8 / s16 audio at odd rates
  (then sox speed / reverse), a payload in the 4th channel of a 4-channel WAV of music, a payload
  in the mantissas of float WAV NaNs, bytes as square-wave notes (one MIDI note a byte).

Usage::

    uv run --frozen python bench/redteam_tools.py --work DIR [--only direwolf,codec2] \\
        [--venv /tmp/redteam23/venv] [--make-only] [--judge-only]
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("AUDIOVAL_CORPUS", "/work/main/.cache/corpus/full-seed0"))
Float = npt.NDArray[np.float64]
PAYLOAD = Path("/usr/bin/env").read_bytes()
MADE: list[tuple[str, str, Path]] = []  # family, variant, file


@functools.cache
def music_files() -> list[Path]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").open()]
    picks = [
        CORPUS / r["path"]
        for r in rows
        if (r["label"], r["split"], r["threat_class"]) == ("good", "train", "real")
        and r["format"] in ("wav", "flac")
        and "music" in r["source"] + r["group"] + "songs"
    ]
    return [p for p in sorted(picks) if sf.info(p).duration >= 10][:8]


def music(rate: int, seconds: float, k: int) -> Float:
    """The k-th long train-split music file of the corpus, mono, at ``rate``, ``seconds`` long
    (looped if short)."""
    picks = music_files()
    x, sr = sf.read(picks[k % len(picks)], dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != rate:
        g = np.gcd(sr, rate)
        x = scipy.signal.resample_poly(x, rate // g, sr // g)
    n = int(seconds * rate)
    return np.resize(x, n) if x.size < n else x[:n]


def rms(x: Float) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def read_any(path: Path) -> tuple[Float, int]:
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    return x.mean(axis=1), sr


def write(path: Path, x: Float, rate: int, subtype: str = "PCM_16", peak: float = 0.8) -> Path:
    x = x * peak / max(float(np.abs(x).max()), 1e-9) if peak else x
    sf.write(path, x, rate, subtype=subtype)
    return path


def under(path: Path, db: float, k: int, out: Path) -> Path:
    """The signal of ``path`` ``db`` under music (relative power), written to ``out``."""
    x, sr = read_any(path)
    m = np.resize(music(sr, x.size / sr, k), x.size)
    return write(out, m + x * rms(m) / rms(x) * 10 ** (db / 20), sr)


def add(family: str, variant: str, path: Path) -> None:
    MADE.append((family, variant, path))


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, capture_output=True, **kw)  # type: ignore[call-overload, no-any-return]


def b64_lines(offset: int, count: int, width: int) -> bytes:
    data = base64.b64encode(PAYLOAD[offset:]).decode()
    return "".join(
        f"N0CALL-{i % 16}>APDW17:{data[i * width : (i + 1) * width]}\n" for i in range(count)
    ).encode()


# ---------------------------------------------------------------- direwolf


def direwolf(work: Path) -> None:
    if not shutil.which("gen_packets"):
        print("direwolf: gen_packets absent (apt-get install direwolf); skipped", file=sys.stderr)
        return
    # mode, rate, amplitude %, frames, text width
    plan = [
        (300, 44100, 50, 3, 120),
        (300, 8000, 90, 3, 120),
        (1200, 44100, 50, 10, 200),
        (1200, 22050, 100, 10, 200),
        (1200, 8000, 30, 10, 200),
        (2400, 44100, 50, 20, 200),
        (2400, 48000, 90, 20, 200),
        (4800, 44100, 50, 30, 200),
        (4800, 48000, 100, 30, 200),
        (9600, 44100, 50, 40, 200),
        (9600, 48000, 100, 40, 200),
        (9600, 96000, 40, 40, 200),
    ]
    for i, (mode, rate, amp, frames, width) in enumerate(plan):
        out = work / f"dw-{mode}-{rate}-a{amp}.wav"
        text = b64_lines(i * 4000, frames, width)
        qpsk = ["-j" if rate == 44100 else "-J"] if mode == 2400 else []
        run(
            [
                "gen_packets",
                "-B",
                str(mode),
                *qpsk,
                "-r",
                str(rate),
                "-a",
                str(amp),
                "-o",
                str(out),
                "-",
            ],
            input=text,
        )
        add("direwolf", f"{mode} Bd {rate} Hz a{amp}", out)
        if i % 2 == 0:
            mixed = under(out, -15, i, work / f"dw-{mode}-{rate}-a{amp}-music.wav")
            add("direwolf+music", f"{mode} Bd {rate} Hz -15 dB", mixed)
    out = work / "dw-1200-8bit-stereo.wav"
    run(["gen_packets", "-B", "1200", "-8", "-2", "-o", str(out), "-"], input=b64_lines(0, 10, 200))
    add("direwolf", "1200 Bd 8-bit stereo", out)


# ---------------------------------------------------------------- codec2


def codec2(work: Path) -> None:
    if not shutil.which("fsk_mod"):
        print("codec2: fsk_mod absent (apt-get install codec2); skipped", file=sys.stderr)
        return
    bits = np.unpackbits(np.frombuffer(PAYLOAD[:6000], np.uint8))
    bitfile = work / "bits.u8"
    bitfile.write_bytes(bits.astype(np.uint8).tobytes())
    # modes, Fs, Rs, f1, shift
    plan = [
        (2, 8000, 100, 1200, 200, 0.3),
        (2, 8000, 1200, 1200, 1000, 1.0),
        (4, 8000, 100, 800, 200, 0.3),
        (4, 48000, 1000, 1500, 1000, 0.5),
        (2, 48000, 4800, 3000, 4800, 1.0),
        (4, 48000, 10000, 2000, 10000, 1.0),
    ]
    for i, (m, fs, rs, f1, shift, frac) in enumerate(plan):
        n = int(min(bits.size, rs * 12 * (m // 2)) * frac)
        bitfile.write_bytes(bits[:n].astype(np.uint8).tobytes())
        raw = work / "fsk.raw"
        run(["fsk_mod", str(m), str(fs), str(rs), str(f1), str(shift), str(bitfile), str(raw)])
        x = np.fromfile(raw, "<i2").astype(np.float64) / 32768
        out = write(work / f"c2-{m}fsk-{fs}-{rs}.wav", x, fs)
        add("codec2-fsk", f"{m}FSK {fs} Hz {rs} Bd shift {shift}", out)
        if i % 2 == 1:
            add(
                "codec2-fsk+music",
                f"{m}FSK {rs} Bd -15 dB",
                under(out, -15, i, work / f"c2-{m}fsk-{fs}-{rs}-music.wav"),
            )
    if shutil.which("fdmdv_mod"):
        packed = work / "fdmdv.in"
        for nc, seconds in ((14, 10), (20, 8)):
            packed.write_bytes(PAYLOAD[: int(1400 * seconds * nc / 14 / 8)])
            raw = work / "fdmdv.raw"
            run(["fdmdv_mod", str(packed), str(raw), str(nc)])
            x = np.fromfile(raw, "<i2").astype(np.float64) / 32768
            out = write(work / f"c2-fdmdv-{nc}.wav", x, 8000)
            add("codec2-fdmdv", f"FDMDV Nc={nc}", out)
            add(
                "codec2-fdmdv+music",
                f"FDMDV Nc={nc} -15 dB",
                under(out, -15, nc, work / f"c2-fdmdv-{nc}-music.wav"),
            )


# ---------------------------------------------------------------- PyPI stego tools


def pystego(work: Path, venv: Path | None) -> None:
    if venv is None or not (venv / "bin/python").exists():
        print("pystego: no --venv with stego-lsb / ggwave; skipped", file=sys.stderr)
        return
    stegolsb = venv / "bin/stegolsb"
    if stegolsb.exists():
        # stego-lsb 1.7.3 unpacks each little-endian 16-bit sample's bytes in file order, so its
        # "n LSBs" are bits 8..8+n-1 of the sample (a step of 256 LSBs, ~-48 dBFS of noise)
        for k, (lsb, rate, size, peak) in enumerate(
            (
                (1, 44100, 4000, 0.7),
                (1, 44100, 40000, 0.7),
                (2, 44100, 40000, 0.7),
                (3, 22050, 40000, 0.7),
                (4, 44100, 80000, 0.7),
                (2, 48000, 10000, 0.7),
                (1, 44100, 20000, 0.05),
                (2, 16000, 20000, 0.1),
            )
        ):
            cover = write(work / f"cover-{k}.wav", music(rate, 12, k), rate, peak=peak)
            secret = work / "secret.bin"
            secret.write_bytes(PAYLOAD[k * 1000 : k * 1000 + size])
            out = work / f"wavsteg-{lsb}-{rate}-{size}-p{peak}.wav"
            run(
                [
                    str(stegolsb),
                    "wavsteg",
                    "-h",
                    "-i",
                    str(cover),
                    "-s",
                    str(secret),
                    "-o",
                    str(out),
                    "-n",
                    str(lsb),
                ]
            )
            add("stegolsb-wavsteg", f"{lsb} LSB {rate} Hz {size} B peak {peak}", out)
    else:
        print("pystego: stegolsb absent in venv; skipped", file=sys.stderr)
    script = (
        "import ggwave,sys,numpy as np,soundfile as sf\n"
        "p,vol,out=int(sys.argv[1]),int(sys.argv[2]),sys.argv[3]\n"
        "msg=sys.stdin.read()\n"
        "w=b''.join(ggwave.encode(msg[i:i+120],protocolId=p,volume=vol) "
        "for i in range(0,len(msg),120))\n"
        "sf.write(out,np.frombuffer(w,'float32'),48000,subtype='PCM_16')\n"
    )
    text = base64.b64encode(PAYLOAD[:900]).decode()
    ok = subprocess.run([str(venv / "bin/python"), "-c", "import ggwave"], capture_output=True)
    if ok.returncode:
        print("pystego: ggwave absent in venv; skipped", file=sys.stderr)
        return
    for k, (proto, vol) in enumerate(
        ((0, 20), (1, 50), (2, 10), (3, 30), (5, 20), (6, 40), (8, 30), (9, 50))
    ):
        out = work / f"ggwave-p{proto}-v{vol}.wav"
        r = subprocess.run(
            [str(venv / "bin/python"), "-c", script, str(proto), str(vol), str(out)],
            input=text[: 360 + k * 60].encode(),
            capture_output=True,
        )
        if r.returncode or not out.exists():
            print(f"ggwave protocol {proto}: {r.stderr.decode()[-200:]}", file=sys.stderr)
            continue
        add("ggwave", f"protocol {proto} volume {vol}", out)
        if k % 2 == 0:
            add(
                "ggwave+music",
                f"protocol {proto} -15 dB",
                under(out, -15, k, work / f"ggwave-p{proto}-music.wav"),
            )


# ---------------------------------------------------------------- raw tricks


def rawtricks(work: Path) -> None:
    blob = work / "payload.bin"
    blob.write_bytes(PAYLOAD[:240_000])
    if shutil.which("ffmpeg"):
        for fmt, rate, ch in (
            ("u8", 8000, 1),
            ("u8", 11025, 1),
            ("u8", 44100, 2),
            ("s16le", 48000, 2),
            ("s8", 22050, 1),
            ("mulaw", 16000, 1),
        ):
            out = work / f"raw-{fmt}-{rate}-{ch}.wav"
            run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-f",
                    fmt,
                    "-ar",
                    str(rate),
                    "-ac",
                    str(ch),
                    "-i",
                    str(blob),
                    "-t",
                    "12",
                    "-c:a",
                    "pcm_s16le",
                    str(out),
                ]
            )
            add("raw-import", f"{fmt} {rate} Hz {ch} ch", out)
    if shutil.which("sox"):
        src = work / "raw-u8-8000-1.wav"
        for k, effect in enumerate(
            (
                ["speed", "0.37"],
                ["reverse"],
                ["speed", "3.1", "rate", "44100"],
                ["lowpass", "3000", "rate", "32000"],
            )
        ):
            out = work / f"raw-sox-{k}.wav"
            run(["sox", str(src), str(out), *effect])
            add("raw-sox", " ".join(effect), out)
    # payload in channel 4 of a 4-channel WAV of music (channels 3 silent)
    rate = 44100
    m = music(rate, 10, 1)
    d = np.frombuffer(PAYLOAD[: 2 * m.size], "<i2")[: m.size].astype(np.float64) / 32768
    for db in (0.0, -30.0):
        d4 = np.zeros(m.size)
        d4[: d.size] = d * rms(m) / rms(d) * 10 ** (db / 20)
        x = np.stack([m * 0.7, m * 0.7, np.zeros(m.size), d4], axis=1)
        out = work / f"quad-ch4-{int(-db)}.wav"
        sf.write(out, x, rate, subtype="PCM_16")
        add("quad-channel", f"payload in ch4 {db:.0f} dB", out)
    # payload in float NaN mantissas: every 64th sample of music replaced by a NaN carrying 22 bits
    m = music(rate, 10, 2) * 0.6
    f = m.astype(np.float32)
    u = f.view(np.uint32).copy()
    pos = np.arange(0, u.size, 64)
    chunks = np.frombuffer(PAYLOAD[: pos.size * 2], "<u2")[: pos.size].astype(np.uint32)
    u[pos[: chunks.size]] = 0x7FC00000 | chunks
    out = work / "float-nan.wav"
    sf.write(out, u.view(np.float32), rate, subtype="FLOAT")
    add("float-nan", "NaN every 64th sample", out)
    # bytes as square-wave notes: one MIDI note a byte (note 36 + byte % 48), 8 notes a second
    for k, (nps, duty) in enumerate(((8, 0.5), (20, 0.25))):
        notes = 36 + np.frombuffer(PAYLOAD[2000 : 2000 + 10 * nps], np.uint8).astype(int) % 48
        n = rate // nps
        t = np.arange(n) / rate
        seg = [np.where((t * 440 * 2 ** ((q - 69) / 12)) % 1 < duty, 0.5, -0.5) for q in notes]
        out = write(work / f"square-notes-{nps}.wav", np.concatenate(seg), rate)
        add("square-notes", f"{nps} notes/s duty {duty}", out)
        if k == 0:
            add(
                "square-notes+music",
                "8 notes/s -10 dB",
                under(out, -10, 3, work / "square-notes-music.wav"),
            )


FAMILIES: dict[str, Callable[[Path], None]] = {
    "direwolf": direwolf,
    "codec2": codec2,
    "rawtricks": rawtricks,
}


def judge(cases: list[tuple[str, str, Path]]) -> list[dict[str, object]]:
    from audiomodel import Severity, validate_path

    rows: list[dict[str, object]] = []
    for family, variant, path in cases:
        v = validate_path(path)
        row: dict[str, object] = {
            "family": family,
            "variant": variant,
            "file": str(path),
            "decision": v.decision.value,
            "score": round(float(v.score), 3) if v.score is not None else None,
            "codes": sorted({f.code for f in v.findings if f.severity >= Severity.SUSPICIOUS}),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--only", default="direwolf,codec2,pystego,rawtricks")
    ap.add_argument("--venv", type=Path, default=None)
    ap.add_argument("--make-only", action="store_true")
    ap.add_argument("--judge-only", action="store_true", help="judge the list made before")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    listing = args.work / "cases.jsonl"
    if args.judge_only:
        cases = [
            (r["family"], r["variant"], Path(r["file"])) for r in map(json.loads, listing.open())
        ]
    else:
        for name in args.only.split(","):
            if name == "pystego":
                pystego(args.work, args.venv)
            else:
                FAMILIES[name](args.work)
        with listing.open("w") as fh:
            for family, variant, path in MADE:
                fh.write(
                    json.dumps({"family": family, "variant": variant, "file": str(path)}) + "\n"
                )
        cases = MADE
    if args.make_only:
        print(f"{len(cases)} files in {listing}", file=sys.stderr)
        return
    rows = judge(cases)
    table: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        table[str(r["family"])].append(r)
    for family, rs in table.items():
        caught = sum(r["decision"] != "accept" for r in rs)
        print(f"# {family:22s} {caught}/{len(rs)} caught", file=sys.stderr)


if __name__ == "__main__":
    main()
