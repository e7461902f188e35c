"""Red team of the modem scan with real modem tools it was not built on (issue #17).

`audiomodel.modem` was built and measured on minimodem's FSK. Here other real tools send the
bytes of files on this machine (an ELF, a source file, random bytes), alone and mixed under
train-split real music clips of the dev corpus at several payload-to-music levels, and the
table says how many the scan flags (``signal.modem``) and with what evidence.

Tools (each skipped with a message when absent; bench tools, never runtime dependencies):

- development: Debian ``direwolf`` (``gen_packets``: AFSK 1200 Bd, 300 Bd HF, 2400 bps QPSK,
  4800 bps 8PSK, 9600 Bd G3RUH scrambled baseband), Debian ``codec2`` (``fdmdv_mod``: FDMDV,
  14 DQPSK carriers at 50 Bd; ``fsk_mod``: 2FSK and 4FSK), Debian ``minimodem`` on tones the
  attacker chose above the telephone band (``-M``/``-S``, 8.5-17 kHz).
- held out (``--heldout``; run once at the end, never developed on): PyPI ``amodem``
  (QAM on several carriers) and ``ggwave`` (multi-tone FSK), from a throwaway venv given by
  ``--venv`` (its python runs them).

Good audio that is closest by principle to a modem (``--good``): codec2-vocoded speech (a
vocoder is sound, not data), DTMF, test tones, steady-tempo drum machines, chiptune arpeggios.

    uv run --frozen python bench/unseen_modems.py --cache /work/bench12/me/unseen
    uv run --frozen python bench/unseen_modems.py --heldout --venv /path/venv --cache ...
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
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

from audiomodel.modem import scan_modem  # noqa: E402

RATE = 48000
SECONDS = 8.0  # of modem signal per case, at most
MUSIC_SECONDS = 12.0
LEVELS_DB: tuple[float | None, ...] = (None, 0.0, -10.0, -20.0)  # payload RMS over the music's


def payloads() -> dict[str, bytes]:
    """The bytes sent: an ELF, a source file, random bytes (fixed seed)."""
    source = Path(__file__).read_bytes()
    return {
        "elf": Path("/usr/bin/env").read_bytes()[:6000],
        "source": source[:6000],
        "random": np.random.default_rng(7).integers(0, 256, 6000, dtype=np.uint8).tobytes(),
    }


def _wav(path: Path) -> np.ndarray:
    y, sr = sf.read(path, dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    return resample_poly(y, RATE, sr) if sr != RATE else y


def _raw(path: Path, sr: int) -> np.ndarray:
    y = np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0
    return resample_poly(y, RATE, sr) if sr != RATE else y


def _run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


# -- the tools -------------------------------------------------------------------------------


def direwolf(option: list[str]) -> Callable[[bytes, Path], np.ndarray | None]:
    """``gen_packets`` sending the payload as AX.25 UI frames (hex text in the info field,
    as a packet BBS would carry a file)."""

    def make(data: bytes, tmp: Path) -> np.ndarray | None:
        if shutil.which("gen_packets") is None:
            return None
        lines = [f"N0CALL>APRS:{data[i : i + 100].hex()}" for i in range(0, len(data), 100)]
        (tmp / "packets.txt").write_text("\n".join(lines) + "\n")
        out = tmp / "dw.wav"
        _run(["gen_packets", *option, "-r", str(RATE), "-o", str(out), str(tmp / "packets.txt")])
        return _wav(out)

    return make


def minimodem_tones(baud: int, mark: int, space: int) -> Callable[[bytes, Path], np.ndarray | None]:
    """``minimodem --tx`` on tones the attacker chose (``-M``/``-S``): no plan names them."""

    def make(data: bytes, tmp: Path) -> np.ndarray | None:
        if shutil.which("minimodem") is None:
            return None
        out = tmp / "mm.wav"
        tones = ["-M", str(mark), "-S", str(space)]
        _run(["minimodem", "--tx", *tones, "-R", str(RATE), "-f", str(out), str(baud)], input=data)
        return _wav(out)

    return make


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def codec2_fdmdv(data: bytes, tmp: Path) -> np.ndarray | None:
    if shutil.which("fdmdv_mod") is None:
        return None
    (tmp / "in.bin").write_bytes(data)
    _run(["fdmdv_mod", str(tmp / "in.bin"), str(tmp / "fdmdv.raw")])
    return _raw(tmp / "fdmdv.raw", 8000)


def codec2_fsk(
    mode: int, baud: int, f1: int, spacing: int
) -> Callable[[bytes, Path], np.ndarray | None]:
    def make(data: bytes, tmp: Path) -> np.ndarray | None:
        if shutil.which("fsk_mod") is None:
            return None
        _bits(data).astype(np.uint8).tofile(tmp / "bits.bin")
        args = [str(mode), str(RATE), str(baud), str(f1), str(spacing)]
        _run(["fsk_mod", *args, str(tmp / "bits.bin"), str(tmp / "fsk.raw")])
        return _raw(tmp / "fsk.raw", RATE)

    return make


AMODEM_SCRIPT = """
import sys
from amodem import config, main
cfg = config.bitrates[int(sys.argv[1])]
with open(sys.argv[2], 'rb') as src, open(sys.argv[3], 'wb') as dst:
    main.send(cfg, src, dst)
"""

GGWAVE_SCRIPT = """
import sys, ggwave, numpy as np
data = open(sys.argv[2], 'rb').read()
text = data.hex()
out = []
for i in range(0, len(text), 120):
    w = ggwave.encode(text[i:i + 120], protocolId=int(sys.argv[1]), volume=50)
    out.append(np.frombuffer(w, dtype=np.float32))
np.concatenate(out).astype(np.float32).tofile(sys.argv[3])
"""


def amodem(bitrate: int, venv: Path | None) -> Callable[[bytes, Path], np.ndarray | None]:
    def make(data: bytes, tmp: Path) -> np.ndarray | None:
        python = venv / "bin" / "python" if venv else None
        if python is None or not python.exists():
            return None
        (tmp / "in.bin").write_bytes(data)
        (tmp / "amodem_send.py").write_text(AMODEM_SCRIPT)
        try:
            _run(
                [
                    str(python),
                    str(tmp / "amodem_send.py"),
                    str(bitrate),
                    str(tmp / "in.bin"),
                    str(tmp / "am.raw"),
                ]
            )
        except subprocess.CalledProcessError:
            return None
        # amodem writes 16-bit mono at its configuration's rate (8, 16 or 32 kHz)
        sr = 8000 if bitrate <= 8 else 16000 if bitrate <= 24 else 32000
        return _raw(tmp / "am.raw", sr)

    return make


def ggwave(protocol: int, venv: Path | None) -> Callable[[bytes, Path], np.ndarray | None]:
    def make(data: bytes, tmp: Path) -> np.ndarray | None:
        python = venv / "bin" / "python" if venv else None
        if python is None or not python.exists():
            return None
        (tmp / "in.bin").write_bytes(data)
        (tmp / "gg.py").write_text(GGWAVE_SCRIPT)
        try:
            _run(
                [
                    str(python),
                    str(tmp / "gg.py"),
                    str(protocol),
                    str(tmp / "in.bin"),
                    str(tmp / "gg.f32"),
                ]
            )
        except subprocess.CalledProcessError:
            return None
        return np.fromfile(tmp / "gg.f32", dtype=np.float32).astype(np.float64)  # 48 kHz

    return make


@dataclass(frozen=True)
class Tool:
    name: str
    make: Callable[[bytes, Path], np.ndarray | None]
    family: str


def dev_tools() -> list[Tool]:
    return [
        Tool("direwolf AFSK 1200", direwolf(["-B", "1200"]), "FSK"),
        Tool("direwolf AFSK 300 HF", direwolf(["-B", "300"]), "FSK"),
        Tool("direwolf QPSK 2400 bps", direwolf(["-B", "2400", "-j"]), "PSK"),
        Tool("direwolf 8PSK 4800 bps", direwolf(["-B", "4800"]), "PSK"),
        Tool("direwolf G3RUH 9600", direwolf(["-B", "9600"]), "baseband"),
        Tool("codec2 FDMDV (14x DQPSK 50 Bd)", codec2_fdmdv, "OFDM-like"),
        Tool("codec2 2FSK 100 Bd", codec2_fsk(2, 100, 1200, 200), "FSK"),
        Tool("codec2 4FSK 1200 Bd", codec2_fsk(4, 1200, 1200, 1200), "FSK"),
        # tones above the telephone band, where no plan or peak points (session 15)
        Tool("minimodem 300 Bd 9.0/9.4 kHz", minimodem_tones(300, 9400, 9000), "FSK"),
        Tool("minimodem 1200 Bd 8.5/9.5 kHz", minimodem_tones(1200, 9500, 8500), "FSK"),
        Tool("minimodem 1200 Bd 10/11 kHz", minimodem_tones(1200, 11000, 10000), "FSK"),
        Tool("minimodem 600 Bd 13.5/14 kHz", minimodem_tones(600, 14000, 13500), "FSK"),
        Tool("minimodem 2400 Bd 15/17 kHz", minimodem_tones(2400, 17000, 15000), "FSK"),
    ]


def heldout_tools(venv: Path | None) -> list[Tool]:
    return [
        Tool("amodem 1 kb/s", amodem(1, venv), "QAM"),
        Tool("amodem 8 kb/s", amodem(8, venv), "QAM"),
        Tool("amodem 16 kb/s", amodem(16, venv), "QAM"),
        Tool("ggwave audible normal", ggwave(0, venv), "MFSK"),
        Tool("ggwave audible fast", ggwave(1, venv), "MFSK"),
        Tool("ggwave audible fastest", ggwave(2, venv), "MFSK"),
    ]


# -- music and mixing ------------------------------------------------------------------------


def music_clips(corpus: Path, count: int) -> list[np.ndarray]:
    """Train-split real music of the dev corpus, at least MUSIC_SECONDS long and not silent."""
    clips: list[np.ndarray] = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["label"] != "good" or row["split"] != "train" or "/real/" not in f"/{row['path']}":
            continue
        try:
            y = _wav(corpus / row["path"])
        except (RuntimeError, sf.LibsndfileError):
            continue
        need = int(MUSIC_SECONDS * RATE)
        if y.size >= need and np.sqrt(np.mean(y[:need] ** 2)) > 1e-2:
            clips.append(y[:need])
        if len(clips) >= count:
            break
    return clips


def mix(signal: np.ndarray, music: np.ndarray | None, level_db: float | None) -> np.ndarray:
    signal = signal[: int(SECONDS * RATE)]
    if music is None or level_db is None:
        out = np.zeros(signal.size + RATE)
        out[RATE // 2 : RATE // 2 + signal.size] = signal
        return 0.5 * out / max(1e-9, float(np.max(np.abs(out))))
    pad = np.zeros(music.size)
    at = (music.size - signal.size) // 2
    pad[at : at + signal.size] = signal
    rms_music = np.sqrt(np.mean(music**2))
    rms_signal = np.sqrt(np.mean(signal**2))
    mixed = music + pad * (rms_music / rms_signal) * 10 ** (level_db / 20)
    return 0.9 * mixed / np.max(np.abs(mixed))


def judge(y: np.ndarray) -> list[str]:
    return [message for message, _ in judge_kinds(y)]


def judge_kinds(y: np.ndarray) -> list[tuple[str, str]]:
    """(message, evidence ``modulation``) of each ``signal.modem`` finding."""
    report = scan_modem((y * 32767).astype(np.int16), RATE)
    return [
        (f.message, str(f.evidence.get("modulation", "")))
        for f in report.findings
        if f.code == "signal.modem"
    ]


def _kind(message: str) -> str:
    head = message.split(";")[0].replace("Data sent as sound: ", "")
    return head[:70]


def run(tools: list[Tool], clips: list[np.ndarray], cache: Path, verbose: bool) -> list[str]:
    rows = [
        "| tool / mode | family | level | n | flagged | without keyed tones | findings |",
        "|---|---|---|---|---|---|---|",
    ]
    cache.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        signals: dict[str, np.ndarray] = {}
        for kind, data in payloads().items():
            tmp = cache / "tmp"
            tmp.mkdir(exist_ok=True)
            made = tool.make(data, tmp)
            if made is not None and made.size > RATE:
                signals[kind] = made
        if not signals:
            print(f"skipped {tool.name}: the tool is absent or failed", file=sys.stderr)
            continue
        for level in LEVELS_DB:
            cases = (
                [(k, None) for k in signals]
                if level is None
                else [(k, c) for k in signals for c in clips]
            )
            flagged, other, seen = 0, 0, []
            for kind, clip in cases:
                music = None if clip is None else clips[clip] if isinstance(clip, int) else clip
                found = judge_kinds(mix(signals[kind], music, level))
                messages = [message for message, _ in found]
                flagged += bool(messages)
                # flagged by a finding other than the keyed-tone reading (session 13): the
                # scan without it, in the same run
                other += any(modulation != "keyed tones" for _, modulation in found)
                seen += [_kind(m) for m in messages[:1]]
                if verbose:
                    print(tool.name, level, kind, messages[:1], file=sys.stderr)
            where = "alone" if level is None else f"{level:+.0f} dB"
            common = sorted(set(seen), key=seen.count, reverse=True)[:2]
            rows.append(
                f"| {tool.name} | {tool.family} | {where} | {len(cases)} | "
                f"{flagged}/{len(cases)} ({flagged / len(cases):.0%}) | {other}/{len(cases)} | "
                f"{'; '.join(common)} |"
            )
            print(rows[-1], flush=True)
    return rows


# -- good audio closest by principle -------------------------------------------------------


def codec2_speech(corpus: Path, count: int, tmp: Path) -> list[np.ndarray]:
    """Train speech of the corpus through codec2's vocoder at 3200/1300/700C bit/s: a vocoder's
    output is synthesised sound, not data."""
    if shutil.which("c2enc") is None:
        print("skipped codec2 speech: c2enc absent", file=sys.stderr)
        return []
    out = []
    modes = ("3200", "1300", "700C")
    for row in _rows(corpus, "speech")[:count]:
        y = resample_poly(_wav(corpus / row["path"]), 1, 6)  # 8 kHz, codec2's rate
        (np.clip(y, -1, 1) * 32767).astype("<i2").tofile(tmp / "speech.raw")
        mode = modes[len(out) % len(modes)]
        _run(["c2enc", mode, str(tmp / "speech.raw"), str(tmp / "speech.c2")])
        _run(["c2dec", mode, str(tmp / "speech.c2"), str(tmp / "decoded.raw")])
        out.append(_raw(tmp / "decoded.raw", 8000))
    return out


def _rows(corpus: Path, kind: str) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    return [
        r
        for r in rows
        if r["label"] == "good" and r["split"] == "train" and f"/{kind}/" in f"/{r['path']}"
    ]


def synthetic_goods(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Steady-clocked sounds: a drum machine at a steady tempo, a 60 Hz chiptune arpeggio, DTMF,
    test tones (single, dual, a 1 kHz tone with harmonics), a square-wave synth riff."""
    t = np.arange(int(10 * RATE)) / RATE
    out: dict[str, np.ndarray] = {}
    # drum machine: identical kick, snare (noise burst) and hat samples on a 120-140 BPM grid
    bpm = float(rng.uniform(100, 160))
    step = int(RATE * 60 / bpm / 4)
    kick = np.sin(
        2 * np.pi * 55 * np.arange(4000) / RATE * np.exp(-np.arange(4000) / 3000)
    ) * np.exp(-np.arange(4000) / 1500)
    noise = rng.standard_normal(3000) * np.exp(-np.arange(3000) / 600)
    hat = np.diff(rng.standard_normal(800), prepend=0) * np.exp(-np.arange(800) / 150)
    drums = np.zeros(t.size + 5000)
    for i, at in enumerate(range(0, t.size, step)):
        if i % 4 == 0:
            drums[at : at + kick.size] += kick
        if i % 8 == 4:
            drums[at : at + noise.size] += 0.6 * noise
        drums[at : at + hat.size] += 0.3 * hat
    out["drum machine"] = drums[: t.size]
    # chiptune: pulse-wave arpeggio switching notes every 1/60 s
    notes = 440 * 2 ** (np.array([0, 4, 7, 12]) / 12)
    freq = notes[(t * 60).astype(int) % 4]
    phase = np.cumsum(freq) / RATE
    out["chiptune arpeggio"] = np.where(phase % 1 < 0.25, 0.5, -0.5)
    # DTMF dialling: 60 ms tones, 60 ms gaps
    pairs = [(697, 1209), (770, 1336), (852, 1477), (941, 1633)]
    dtmf = np.zeros(t.size)
    for i, at in enumerate(range(0, t.size - 3000, int(0.12 * RATE))):
        lo, hi = pairs[i % 4]
        tt = np.arange(int(0.06 * RATE)) / RATE
        dtmf[at : at + tt.size] = np.sin(2 * np.pi * lo * tt) + np.sin(2 * np.pi * hi * tt)
    out["DTMF"] = dtmf
    out["test tone 1 kHz"] = np.sin(2 * np.pi * 1000 * t)
    out["dual tone 350+440"] = np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t)
    out["1 kHz clipped (harmonics)"] = np.clip(3 * np.sin(2 * np.pi * 1000 * t), -1, 1)
    saw = 2 * ((t * 220) % 1) - 1
    out["sawtooth 220 Hz"] = saw
    gate = ((t * bpm / 60 * 4) % 1 < 0.5).astype(float)
    out["gated square riff"] = np.sign(np.sin(2 * np.pi * 110 * t)) * gate
    return out


def good(corpus: Path, cache: Path, count: int) -> None:
    tmp = cache / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20)
    sounds = list(synthetic_goods(rng).items())
    sounds += [(f"codec2 speech {i}", y) for i, y in enumerate(codec2_speech(corpus, count, tmp))]
    flagged = 0
    for name, y in sounds:
        messages = judge(0.9 * y / max(1e-9, float(np.max(np.abs(y)))))
        flagged += bool(messages)
        if messages:
            print(f"FLAGGED {name}: {messages[0][:160]}")
    print(f"good (hard negatives): {flagged} of {len(sounds)} flagged")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    ap.add_argument("--cache", type=Path, default=Path(".cache/unseen_modems"))
    ap.add_argument("--clips", type=int, default=4, help="music clips per payload and level")
    ap.add_argument("--heldout", action="store_true", help="the held-out tools (judge once)")
    ap.add_argument("--venv", type=Path, default=None, help="venv with amodem and ggwave")
    ap.add_argument("--only", default="", help="tools whose name contains this")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--good", action="store_true", help="hard negatives instead of modems")
    args = ap.parse_args()
    if args.good:
        good(args.corpus, args.cache, 30)
        return
    tools = heldout_tools(args.venv) if args.heldout else dev_tools()
    tools = [t for t in tools if args.only.lower() in t.name.lower()]
    clips = music_clips(args.corpus, args.clips)
    print(f"{len(clips)} train music clips", file=sys.stderr)
    rows = run(tools, clips, args.cache, args.verbose)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
