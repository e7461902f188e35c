"""Red-team survey (issue #17, session 16): data hidden with free tools and textbook tricks the
other benches never tried, each family next to honest audio made the same way, through the whole
validator. Measurement only: prints, per case, the decision and the findings; asserts nothing.

Families (each a function; a missing tool skips its family with a message):

- ``sstv``: an image whose pixels are a payload's bytes sent as SSTV (PyPI ``pysstv``, from a
  throwaway venv given by ``--sstv-python``; Robot 36 and Martin M1, cut to 7-10 s); good: photo-
  like 1/f images and real PNG plots.
- ``cw``: base32/hex of a payload keyed by Debian's ``cw`` (libcw's own timing and tone shaping,
  written through an ALSA ``file`` PCM); good: ``cwgen`` practice groups and prose.
- ``fm``: bytes as the frequency of one phase-continuous tone (256-ary, 50 Bd), the same glided
  (10 Bd, smoothed: a slowly-varying FM tone) and chirp spread spectrum (LoRa-like, SF7); alone and
  under train music at -10 dB; good: sweeps, a portamento melody, a siren, vibrato, bird chirps.
- ``phase``: phase coding (the first segment's phases set to +-pi/2 by bits, later segments keep
  their phase differences) and echo hiding (echoes at 1.1 / 1.7 ms for 0 / 1 bits) in train music;
  good: the same music through sox reverb, echo, chorus, phaser, flanger.
- ``stereo``: a payload as 16-bit PCM in the side channel (L-R) 30 dB under the mid; good: real
  stereo train music and a Haas-widened mono track.
- ``spread``: bits times a PN sequence (2048 chips a bit) 25 dB under train music; good: the
  music with white, pink and TPDF-dither noise at the same level.
- ``ultrasonic``: 48 kHz near-ultrasonic BFSK (18.5/19.5 kHz, 100 Bd) and OFDM (16 BPSK carriers,
  18-21 kHz), alone and 20 dB under music; good: music, music with a 19 kHz pilot, music with
  high-passed noise.
- ``spectrogram``: bytes painted as an STFT magnitude (random phase, inverted); good: music.
- ``soxpcm``: a payload's bytes as 16-bit PCM through sox (reverse, speed 0.5/2, pitch, reverb,
  lowpass, dither, gain -20 dB) and lame 64 kb/s.
- ``law``: raw bytes as 8 kHz mu-law / A-law in an AU header and a WAV header.
- ``gaps``: a payload in the silent gaps of a track at about -90 dBFS (16-bit +-1 LSB, 24-bit
  low byte); good: gaps of digital silence, TPDF dither and -100 dBFS noise.

Payloads: the head of a shared library (ELF), Python source, random bytes.

Usage::

    uv run --frozen python bench/redteam_survey.py --work DIR [--only sstv,cw] \\
        [--sstv-python /path/to/venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

from audiomodel import Decision, Severity, validate_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".cache/corpus/full-seed0"
RATE = 44100
SECONDS = 8.0
Float = npt.NDArray[np.float64]
Case = tuple[str, str, str, Path]  # family, payload or "good: what", level, file


def payload_sources() -> dict[str, bytes]:
    elf = next(
        (p for p in sorted(Path(sys.prefix).rglob("*.so")) if p.stat().st_size > 200_000),
        Path("/bin/true"),
    )
    source = b"".join(p.read_bytes() for p in sorted((ROOT / "libs").rglob("*.py"))[:40])
    return {
        "elf": elf.read_bytes(),
        "source": source,
        "random": np.random.default_rng(17).bytes(1 << 20),
    }


PAYLOADS = payload_sources()


def payload(name: str, n: int) -> bytes:
    data = PAYLOADS[name]
    return (data * (n // len(data) + 1))[:n]


def bits_of(data: bytes) -> npt.NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(data, np.uint8))


def train_music(rate: int, count: int, stereo: bool = False) -> list[Path]:
    """Good train-split music at ``rate``, at least ``SECONDS`` long (stereo ones if asked)."""
    manifest = CORPUS / "manifest.jsonl"
    if not manifest.exists():
        return []
    rows = [json.loads(line) for line in manifest.open()]
    found = []
    for r in rows:
        if (r["label"], r["split"], r["threat_class"]) != ("good", "train", "real"):
            continue
        if r["sample_rate"] != rate or (stereo and r["channels"] != 2):
            continue
        if sf.info(CORPUS / r["path"]).duration >= SECONDS + 1:
            found.append(CORPUS / r["path"])
    return sorted(found)[:count]


def load(path: Path, stereo: bool = False) -> Float:
    x, _ = sf.read(path, dtype="float64", always_2d=True)
    x = x[: int(SECONDS * sf.info(path).samplerate)]
    return np.asarray(x if stereo else x.mean(axis=1), dtype=np.float64)


def rms(x: Float) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def under(signal: Float, music: Float, db: float) -> Float:
    """``signal`` scaled to ``db`` relative to the music's power, added to it."""
    n = min(signal.size, music.size)
    return music[:n] + signal[:n] * rms(music) / rms(signal) * 10 ** (db / 20)


def write(
    path: Path, x: Float, rate: int = RATE, subtype: str = "PCM_16", peak: float = 0.8
) -> Path:
    x = x * peak / max(float(np.abs(x).max()), 1e-9) if peak else x
    sf.write(path, x, rate, subtype=subtype)
    return path


def run(args: list[str], **kw: object) -> None:
    subprocess.run(args, check=True, capture_output=True, **kw)  # type: ignore[call-overload]


# ---------------------------------------------------------------- SSTV

SSTV_SCRIPT = """
import sys, numpy as np
from PIL import Image
from pysstv.color import Robot36, MartinM1
mode, source, out = sys.argv[1:4]
base = {"robot36": Robot36, "martin": MartinM1}[mode]
lines = {"robot36": 56, "martin": 18}[mode]
class Short(base):
    HEIGHT = lines
if source.endswith(".bin"):
    data = np.frombuffer(open(source, "rb").read(), np.uint8)
    px = np.resize(data, 320 * 256 * 3).reshape(256, 320, 3)
    image = Image.fromarray(px, "RGB")
else:
    image = Image.open(source).convert("RGB").resize((320, 256))
Short(image, 44100, 16).write_wav(out)
"""


def photo_like(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A 1/f ("natural image") random field per colour: what photographs' spectra look like."""
    fy = np.fft.fftfreq(256)[:, None]
    fx = np.fft.fftfreq(320)[None, :]
    falloff = 1 / np.maximum(np.hypot(fx, fy), 1 / 320) ** 1.8
    planes = []
    for _ in range(3):
        field = np.fft.ifft2(falloff * np.exp(2j * np.pi * rng.random((256, 320)))).real
        planes.append((field - field.min()) / np.ptp(field) * 255)
    return np.stack(planes, axis=-1).astype(np.uint8)


def sstv(work: Path, rng: np.random.Generator, python: str | None) -> list[Case]:
    if not python or subprocess.run([python, "-c", "import pysstv, PIL"]).returncode:
        print("skipped sstv: give --sstv-python, a venv's python with pysstv and pillow")
        return []
    sources: list[tuple[str, Path]] = []
    for name in PAYLOADS:
        path = work / f"sstv-{name}.bin"
        path.write_bytes(payload(name, 320 * 256 * 3))
        sources.append((name, path))
    for i in range(2):
        path = work / f"sstv-photo{i}.npy"
        np.save(path, photo_like(rng))
        png = path.with_suffix(".png")
        run([python, "-c", f"import numpy as n;from PIL import Image as I;"
             f"I.fromarray(n.load('{path}')).save('{png}')"])  # fmt: skip
        sources.append((f"good: 1/f photo-like image {i}", png))
    for plot in (
        "nodejs/contributing/doc_img/scatter-plot.png",
        "valgrind/html/images/dh-tree.png",
    ):
        if (Path("/usr/share/doc") / plot).exists():
            sources.append((f"good: real PNG {Path(plot).stem}", Path("/usr/share/doc") / plot))
    out: list[Case] = []
    for mode in ("robot36", "martin"):
        for name, source in sources:
            target = work / f"sstv-{mode}-{source.stem}.wav"
            run([python, "-c", SSTV_SCRIPT, mode, str(source), str(target)])
            out.append(("sstv", name, mode, target))
    return out


# ---------------------------------------------------------------- cw (libcw)

ASOUNDRC = 'pcm.rtfile {{ type file slave.pcm "null" file "{raw}" format "raw" }}\n'


def cw_audio(work: Path, text: str, options: list[str], name: str) -> Path:
    """``text`` keyed by Debian's ``cw`` through an ALSA file PCM (libcw writes S16 mono 44.1 kHz
    there; it paces itself in real time, so keep texts short)."""
    home = work / f"cwhome-{name}"
    home.mkdir(exist_ok=True)
    raw = home / "out.raw"
    raw.unlink(missing_ok=True)
    (home / ".asoundrc").write_text(ASOUNDRC.format(raw=raw))
    env = {**os.environ, "HOME": str(home)}
    run(["cw", "-s", "alsa", "-d", "rtfile", "-e", "-m", *options], input=text.encode(), env=env)
    pcm = np.fromfile(raw, "<i2").astype(np.float64) / 32768
    return write(work / f"cw-{name}.wav", pcm, peak=0)


def cw(work: Path, rng: np.random.Generator) -> list[Case]:
    if shutil.which("cw") is None:
        print("skipped cw: apt-get install cw")
        return []
    import base64

    out: list[Case] = []
    settings = {"40 wpm 700 Hz": ["-w", "40", "-t", "700"],
                "60 wpm 1800 Hz w35": ["-w", "60", "-t", "1800", "-k", "35"],
                "25 wpm gap 3": ["-w", "25", "-t", "550", "-g", "3"]}  # fmt: skip
    texts = {name: base64.b32encode(payload(name, 30)).decode().rstrip("=") for name in PAYLOADS}
    texts["elf hex"] = payload("elf", 24).hex().upper()
    groups = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    if shutil.which("cwgen"):
        cwgen = subprocess.run(["cwgen", "-g", "8", "-n", "5"], capture_output=True, text=True)
        texts["good: cwgen groups"] = cwgen.stdout.strip()
    else:
        texts["good: random groups"] = " ".join(
            "".join(rng.choice(list(groups), 5)) for _ in range(8)
        )
    texts["good: prose"] = "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG NEAR THE RIVER BANK"
    texts["good: QSO"] = "CQ CQ DE DL1ABC K  DL1ABC DE W1AW UR RST 599 NAME BOB 73 SK"
    for name, text in texts.items():
        for setting, options in settings.items():
            if setting.startswith("25") and not name.startswith(("elf", "good: prose")):
                continue
            stem = f"{name}-{setting}".replace(" ", "_").replace(":", "")
            out.append(("cw", name, setting, cw_audio(work, text, options, stem)))
    return out


# ---------------------------------------------------------------- FM / chirps


def tone_track(freqs: Float, rate: int = RATE) -> Float:
    """One phase-continuous sine whose frequency follows ``freqs`` (a value per sample)."""
    return np.sin(2 * np.pi * np.cumsum(freqs) / rate)


def fm_signals(data: bytes) -> dict[str, Float]:
    n = int(SECONDS * RATE)
    values = np.frombuffer(data, np.uint8).astype(np.float64)
    stepped = np.repeat(400 + 12 * values, RATE // 50)[:n]
    slow = np.repeat(600 + 8 * values[: int(SECONDS * 10)], RATE // 10)
    window = np.hanning(RATE // 20)
    glided = np.convolve(slow, window / window.sum(), mode="same")[:n]
    # LoRa-like chirp spread spectrum: 128 chips over 3 kHz, a symbol's value = the start offset
    chips, bandwidth, low = 128, 3000.0, 500.0
    span = int(chips / bandwidth * RATE)
    t = np.arange(span) / RATE
    symbols = np.unpackbits(np.frombuffer(data, np.uint8))
    values7 = symbols[: (symbols.size // 7) * 7].reshape(-1, 7) @ (1 << np.arange(6, -1, -1))
    parts = []
    for value in values7[: n // span]:
        f = low + (value / chips * bandwidth + bandwidth * t * bandwidth / chips) % bandwidth
        parts.append(f)
    css = np.concatenate(parts)
    # a control the keyed-tone search is built for: 64 tones on a 50 Hz grid at 25 Bd
    grid = np.repeat(800 + 50 * (values % 64), RATE // 25)[:n]
    return {"256-ary 50 Bd": tone_track(stepped), "glided 10 Bd": tone_track(glided),
            "chirp SF7": tone_track(css), "control 64-ary 25 Bd": tone_track(grid)}  # fmt: skip


def fm_good(rng: np.random.Generator) -> dict[str, Float]:
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    sweep = tone_track(100 * (20000 / 100) ** (t / SECONDS))
    notes = 220 * 2 ** (rng.integers(0, 13, 16) / 12)
    held = np.repeat(notes, n // 16 + 1)[:n]
    window = np.hanning(RATE // 8)
    portamento = np.convolve(held, window / window.sum(), mode="same")
    vibrato = held * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    violin = np.sum([tone_track(k * vibrato) / k for k in range(1, 6)], axis=0)
    siren = tone_track(900 + 300 * np.sin(2 * np.pi * 0.25 * t))
    birds = np.zeros(n)
    for start in rng.integers(0, n - RATE // 5, 40):
        length = int(rng.integers(RATE // 40, RATE // 8))
        f = np.linspace(rng.uniform(2000, 6000), rng.uniform(2000, 6000), length)
        birds[start : start + length] += tone_track(f) * np.hanning(length)
    return {"good: log sweep": sweep, "good: portamento melody": tone_track(portamento) * 0.7,
            "good: vibrato violin-like": violin, "good: siren": siren,
            "good: bird-like chirps": birds}  # fmt: skip


def fm(work: Path, rng: np.random.Generator) -> list[Case]:
    music = [load(p) for p in train_music(RATE, 3)]
    out: list[Case] = []
    for i, name in enumerate(PAYLOADS):
        for kind, x in fm_signals(payload(name, 4096)).items():
            stem = f"fm-{name}-{kind.split()[0]}"
            out.append(("fm", name, f"{kind} alone", write(work / f"{stem}.wav", x)))
            if music:
                mixed = under(x, music[i % len(music)], -10)
                out.append(("fm", name, f"{kind} -10 dB", write(work / f"{stem}-m.wav", mixed)))
    for kind, x in fm_good(rng).items():
        out.append(("fm", kind, "alone", write(work / f"fm-{kind[6:].replace(' ', '_')}.wav", x)))
    return out


# ---------------------------------------------------------------- phase coding / echo hiding


def phase_coded(music: Float, bits: npt.NDArray[np.uint8], length: int = 4096) -> Float:
    """Bender et al. phase coding: the first segment's phases (bins 32..) are +-pi/2 by bit;
    each later segment keeps its phase difference from the one before."""
    segments = music[: music.size // length * length].reshape(-1, length)
    spectra = np.fft.rfft(segments, axis=1)
    magnitude, phase = np.abs(spectra), np.angle(spectra)
    delta = np.diff(phase, axis=0)
    first = phase[0].copy()
    k = min(bits.size, length // 2 - 64)
    first[32 : 32 + k] = np.where(bits[:k] == 1, -np.pi / 2, np.pi / 2)
    new_phase = np.vstack([first, first + np.cumsum(delta, axis=0)])
    rebuilt = np.fft.irfft(magnitude * np.exp(1j * new_phase), n=length, axis=1).ravel()
    return np.concatenate([rebuilt, music[rebuilt.size :]])


def echo_hidden(music: Float, bits: npt.NDArray[np.uint8], segment: int = 4096) -> Float:
    """Gruhl et al. echo hiding: per segment an echo at 50 (0) or 75 (1) samples, alpha 0.4,
    the two echo kernels cross-faded by a smoothed bit signal."""
    count = music.size // segment
    mixer = np.repeat(bits[:count].astype(np.float64), segment)
    window = np.hanning(segment // 4)
    mixer = np.convolve(mixer, window / window.sum(), mode="same")
    x = music[: mixer.size]
    zero = np.concatenate([np.zeros(50), x[:-50]])
    one = np.concatenate([np.zeros(75), x[:-75]])
    return np.asarray(x + 0.4 * ((1 - mixer) * zero + mixer * one), dtype=np.float64)


def phase(work: Path, rng: np.random.Generator) -> list[Case]:
    music_paths = train_music(RATE, 3)
    if not music_paths:
        print("skipped phase: no train music")
        return []
    out: list[Case] = []
    for i, name in enumerate(PAYLOADS):
        m = load(music_paths[i % len(music_paths)])
        bits = bits_of(payload(name, 512))
        out.append(
            ("phase", name, "phase coding", write(work / f"phase-{name}.wav", phase_coded(m, bits)))
        )
        out.append(
            ("phase", name, "echo hiding", write(work / f"echo-{name}.wav", echo_hidden(m, bits)))
        )
    if shutil.which("sox") is None:
        print("skipped phase goods: sox is not installed")
        return out
    effects = {"reverb": ["reverb", "50"], "echo": ["echo", "0.8", "0.9", "40", "0.4"],
               "chorus": ["chorus", "0.7", "0.9", "55", "0.4", "0.25", "2", "-t"],
               "phaser": ["phaser", "0.8", "0.74", "3", "0.4", "0.5", "-t"],
               "flanger": ["flanger"]}  # fmt: skip
    for j, (effect, args) in enumerate(effects.items()):
        src = write(work / f"phase-good-src{j}.wav", load(music_paths[j % len(music_paths)]))
        target = work / f"phase-good-{effect}.wav"
        run(["sox", str(src), str(target), *args, "gain", "-n", "-1"])
        out.append(("phase", f"good: music + sox {effect}", "-", target))
    return out


# ---------------------------------------------------------------- stereo side channel


def stereo(work: Path, rng: np.random.Generator) -> list[Case]:
    paths = train_music(RATE, 3, stereo=True)
    if not paths:
        print("skipped stereo: no stereo train music")
        return []
    out: list[Case] = []
    for i, name in enumerate(PAYLOADS):
        mid = load(paths[i % len(paths)])
        pcm = np.frombuffer(payload(name, 2 * mid.size), "<i2").astype(np.float64) / 32768
        for db in (-30, -40):
            side = pcm * rms(mid) / rms(pcm) * 10 ** (db / 20)
            x = np.stack([mid + side, mid - side], axis=1)
            out.append(
                ("stereo", name, f"S=PCM {db} dB", write(work / f"stereo-{name}{db}.wav", x))
            )
    for j, path in enumerate(paths):
        out.append(
            (
                "stereo",
                "good: real stereo music",
                "-",
                write(work / f"stereo-good{j}.wav", load(path, True)),
            )
        )
    mono = load(paths[0])
    haas = np.stack([mono, np.concatenate([np.zeros(int(0.015 * RATE)), mono])[: mono.size]], 1)
    out.append(("stereo", "good: Haas-widened mono", "-", write(work / "stereo-haas.wav", haas)))
    return out


# ---------------------------------------------------------------- spread spectrum under music


def spread(work: Path, rng: np.random.Generator) -> list[Case]:
    paths = train_music(RATE, 3)
    if not paths:
        print("skipped spread: no train music")
        return []
    out: list[Case] = []
    chips = np.where(np.random.default_rng(5).random(2048) < 0.5, -1.0, 1.0)
    for i, name in enumerate(PAYLOADS):
        m = load(paths[i % len(paths)])
        bits = bits_of(payload(name, m.size // 2048 // 8 + 1))
        dsss = np.concatenate([chips * (2.0 * b - 1) for b in bits])[: m.size]
        for db in (-25, -35):
            out.append(
                (
                    "spread",
                    name,
                    f"DSSS {db} dB",
                    write(work / f"dsss-{name}{db}.wav", under(dsss, m, db)),
                )
            )
        # the sender's counter: a code that never repeats (a keyed PN generator, as GPS's)
        long_code = np.where(np.random.default_rng(6).random(bits.size * 2048) < 0.5, -1.0, 1.0)
        keyed = (long_code * np.repeat(2.0 * bits - 1, 2048))[: m.size]
        path = write(work / f"dsss-{name}-long.wav", under(keyed, m, -25))
        out.append(("spread", name, "DSSS -25 dB, code never repeats", path))
    m = load(paths[0])
    white = rng.normal(size=m.size)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(m.size // 2 + 1) + 1), n=m.size)
    out.append(
        (
            "spread",
            "good: music + white noise",
            "-25 dB",
            write(work / "dsss-good-white.wav", under(white, m, -25)),
        )
    )
    out.append(
        (
            "spread",
            "good: music + pink noise",
            "-25 dB",
            write(work / "dsss-good-pink.wav", under(pink, m, -25)),
        )
    )
    tpdf = (rng.random(m.size) - rng.random(m.size)) / 32768
    out.append(
        (
            "spread",
            "good: music + TPDF dither",
            "1 LSB",
            write(work / "dsss-good-tpdf.wav", 0.8 * m / np.abs(m).max() + tpdf, peak=0),
        )
    )
    return out


# ---------------------------------------------------------------- near-ultrasonic 48 kHz


def ultrasonic_signals(data: bytes, rate: int = 48000) -> dict[str, Float]:
    n = int(SECONDS * rate)
    bits = bits_of(data)
    span = rate // 100
    freqs = np.repeat(np.where(bits == 1, 19500.0, 18500.0), span)[:n]
    envelope = np.tile(np.hanning(span) ** 0.3, n // span + 1)[:n]
    bfsk = tone_track(freqs, rate) * envelope
    size, prefix = 256, 64
    carriers = np.arange(96, 112)  # 18.0-20.8 kHz at 187.5 Hz spacing
    symbols = []
    for group in bits[: (bits.size // 16) * 16].reshape(-1, 16)[: n // (size + prefix)]:
        spectrum = np.zeros(size // 2 + 1, complex)
        spectrum[carriers] = 2.0 * group - 1
        body = np.fft.irfft(spectrum, n=size)
        symbols.append(np.concatenate([body[-prefix:], body]))
    return {"BFSK 100 Bd": bfsk, "OFDM 16 carriers": np.concatenate(symbols)}


def ultrasonic(work: Path, rng: np.random.Generator) -> list[Case]:
    rate = 48000
    music = [load(p) for p in train_music(rate, 3)]
    out: list[Case] = []
    for i, name in enumerate(PAYLOADS):
        for kind, x in ultrasonic_signals(payload(name, 2048), rate).items():
            stem = f"ultra-{name}-{kind.split()[0]}"
            out.append(
                (
                    "ultrasonic",
                    name,
                    f"{kind} alone",
                    write(work / f"{stem}.wav", x, rate, peak=0.1),
                )
            )
            loud = write(work / f"{stem}-loud.wav", x, rate)
            out.append(("ultrasonic", name, f"{kind} alone, peak -2 dBFS", loud))
            if music:
                mixed = under(x, music[i % len(music)], -20)
                out.append(
                    (
                        "ultrasonic",
                        name,
                        f"{kind} -20 dB",
                        write(work / f"{stem}-m.wav", mixed, rate),
                    )
                )
    for j, m in enumerate(music):
        out.append(
            ("ultrasonic", "good: 48 kHz music", "-", write(work / f"ultra-good{j}.wav", m, rate))
        )
    if music:
        t = np.arange(music[0].size) / rate
        pilot = under(np.sin(2 * np.pi * 19000 * t), music[0], -30)
        out.append(
            (
                "ultrasonic",
                "good: music + 19 kHz pilot",
                "-30 dB",
                write(work / "ultra-pilot.wav", pilot, rate),
            )
        )
        sos = scipy.signal.butter(8, 17000, "highpass", fs=rate, output="sos")
        hiss = scipy.signal.sosfilt(sos, rng.normal(size=music[0].size))
        out.append(
            (
                "ultrasonic",
                "good: music + HF noise",
                "-30 dB",
                write(work / "ultra-hiss.wav", under(hiss, music[0], -30), rate),
            )
        )
    return out


# ---------------------------------------------------------------- spectrogram painting


def spectrogram(work: Path, rng: np.random.Generator) -> list[Case]:
    out: list[Case] = []
    frames = int(SECONDS * RATE / 128)
    for name in PAYLOADS:
        columns = np.frombuffer(payload(name, 200 * (frames // 8 + 1)), np.uint8).reshape(-1, 200)
        magnitude = np.zeros((257, frames))
        magnitude[20:220] = np.repeat(columns.T, 8, axis=1)[:, :frames] / 255
        spectrum = magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))
        _, x = scipy.signal.istft(spectrum, fs=RATE, nperseg=512, noverlap=384)
        out.append(("spectrogram", name, "painted STFT", write(work / f"spec-{name}.wav", x)))
    return out


# ---------------------------------------------------------------- sox tricks on data as PCM


def soxpcm(work: Path, rng: np.random.Generator) -> list[Case]:
    if shutil.which("sox") is None:
        print("skipped soxpcm: sox is not installed")
        return []
    tricks = {"plain": [], "reverse": ["reverse"], "speed 0.5": ["speed", "0.5"],
              "speed 2": ["speed", "2"], "pitch +300": ["pitch", "300"],
              "reverb": ["reverb", "50"], "lowpass 4k": ["lowpass", "4000"],
              "dither": ["gain", "-3", "dither", "-s"], "gain -20 dB": ["gain", "-20"]}  # fmt: skip
    out: list[Case] = []
    seconds = 5
    for name in PAYLOADS:
        pcm = np.frombuffer(payload(name, 2 * seconds * RATE), "<i2")
        src = work / f"soxpcm-{name}.wav"
        sf.write(src, pcm, RATE, subtype="PCM_16")
        for trick, args in tricks.items():
            target = work / f"soxpcm-{name}-{trick.replace(' ', '_')}.wav"
            run(["sox", str(src), "-b", "16", str(target), *args])
            out.append(("soxpcm", name, trick, target))
        if shutil.which("lame"):
            mp3 = work / f"soxpcm-{name}.mp3"
            run(["lame", "--quiet", "-b", "64", str(src), str(mp3)])
            out.append(("soxpcm", name, "MP3 64k", mp3))
    for j, clip in enumerate(train_music(22050, 3)):
        target = work / f"soxpcm-good-up{j}.wav"
        run(
            [
                "sox",
                str(clip),
                "-b",
                "16",
                str(target),
                "remix",
                "-",
                "rate",
                "44100",
                "trim",
                "0",
                "8",
            ]
        )
        out.append(("soxpcm", "good: 22.05 kHz music resampled to 44.1 kHz", "-", target))
    return out


# ---------------------------------------------------------------- raw bytes as mu-law / A-law


def law(work: Path, rng: np.random.Generator) -> list[Case]:
    out: list[Case] = []
    n = 8000 * 6
    for name in PAYLOADS:
        data = payload(name, n)
        for label, au_code, wav_code in (("mu-law", 1, 7), ("A-law", 27, 6)):
            au = work / f"law-{name}-{label}.au"
            au.write_bytes(struct.pack(">4sIIIII", b".snd", 24, n, au_code, 8000, 1) + data)
            out.append(("law", name, f"{label} AU", au))
            fmt = struct.pack("<HHIIHHH", wav_code, 1, 8000, 8000, 1, 8, 0)
            riff = (b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
                    + b"fact" + struct.pack("<II", 4, n) + b"data" + struct.pack("<I", n) + data)  # fmt: skip
            wav = work / f"law-{name}-{label}.wav"
            wav.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
            out.append(("law", name, f"{label} WAV", wav))
    music = train_music(RATE, 1)
    if music and shutil.which("sox"):
        for label, encoding, suffix in (("mu-law", "mu-law", "au"), ("mu-law", "mu-law", "wav"),
                                        ("A-law", "a-law", "wav")):  # fmt: skip
            target = work / f"law-good-{encoding}.{suffix}"
            run(["sox", str(music[0]), "-e", encoding, "-r", "8000", "-c", "1", str(target)])
            out.append(("law", f"good: music as {label}", f"{label} {suffix.upper()}", target))
    return out


# ---------------------------------------------------------------- payload in silent gaps


def gapped(music: Float, fill: Callable[[int], Float]) -> Float:
    """``music`` with three 0.6 s gaps (faded edges) whose samples are ``fill``'s."""
    x = music.copy()
    gap = int(0.6 * RATE)
    fade = np.hanning(2 * 441)
    for start in (int(1.5 * RATE), int(4 * RATE), int(6.5 * RATE)):
        x[start - 441 : start] *= fade[441:]
        x[start + gap : start + gap + 441] *= fade[:441]
        x[start : start + gap] = fill(gap)
    return x


def reader(values: Float) -> Callable[[int], Float]:
    """A fill for :func:`gapped` that hands out ``values`` in order, gap after gap."""
    cursor = [0]

    def fill(n: int) -> Float:
        chunk = values[cursor[0] : cursor[0] + n]
        cursor[0] += n
        return np.resize(chunk, n)

    return fill


def stored(path: Path, lsb: Float, bits: int) -> Path:
    """``lsb`` (in steps of a ``bits``-bit file) written exactly, no scaling or rounding by
    libsndfile (its float-to-integer conversion would decide what a gap holds)."""
    values = np.round(lsb).astype(np.int32)
    if bits == 24:
        sf.write(path, values << 8, RATE, subtype="PCM_24")
    else:
        sf.write(path, values.astype(np.int16), RATE, subtype="PCM_16")
    return path


def gaps(work: Path, rng: np.random.Generator) -> list[Case]:
    paths = train_music(RATE, 3)
    if not paths:
        print("skipped gaps: no train music")
        return []

    def in_lsb(path: Path, bits: int) -> Float:
        m = load(path)
        return np.asarray(0.8 * m / np.abs(m).max() * 2 ** (bits - 1), dtype=np.float64)

    out: list[Case] = []
    for i, name in enumerate(PAYLOADS):
        clip = paths[i % len(paths)]
        bits_fill = reader(2.0 * bits_of(payload(name, 4096)).astype(np.float64) - 1)
        low_bytes = np.frombuffer(payload(name, 1 << 16), np.uint8).astype(np.float64)
        x16 = gapped(in_lsb(clip, 16), bits_fill)
        out.append(("gaps", name, "16-bit +-1 LSB", stored(work / f"gaps16-{name}.wav", x16, 16)))
        x24 = gapped(in_lsb(clip, 24), reader(low_bytes - 128))
        out.append(("gaps", name, "24-bit low byte", stored(work / f"gaps24-{name}.wav", x24, 24)))
    m16, m24 = in_lsb(paths[0], 16), in_lsb(paths[0], 24)
    n = 1 << 18
    goods = {
        "digital silence": (m16, np.zeros(n), 16),
        "TPDF dither": (m16, rng.random(n) + rng.random(n) - 1, 16),
        "-90 dBFS noise (1 LSB rms)": (m16, rng.normal(size=n), 16),
        "-100 dBFS noise": (m24, rng.normal(size=n) * 10 ** (-100 / 20) * 2**23, 24),
    }
    for label, (music, fill, bits) in goods.items():
        path = stored(
            work / f"gaps-good-{label.split()[0]}{bits}.wav", gapped(music, reader(fill)), bits
        )
        out.append(("gaps", f"good: {label} in gaps", f"{bits}-bit", path))
    return out


# ---------------------------------------------------------------- candidate measures (--measure)
# One number per family that a rule could read, printed beside the verdict; no rule uses them.


def side_channel(path: Path) -> str:
    """The side (L-R) against the mid, and how white it is: bytes as PCM are white and flat,
    a real mix's side is music (correlated neighbours, a sloped spectrum)."""
    x, _ = sf.read(path, dtype="float64", always_2d=True)
    if x.shape[1] != 2:
        return ""
    side, mid = (x[:, 0] - x[:, 1]) / 2, (x[:, 0] + x[:, 1]) / 2
    lag1 = np.corrcoef(side[:-1], side[1:])[0, 1]
    _, power = scipy.signal.welch(side, nperseg=2048)
    flatness = np.exp(np.mean(np.log(power[1:] + 1e-20))) / np.mean(power[1:])
    level = 20 * np.log10(rms(side) / rms(mid))
    return f"S/M {level:.0f} dB, S lag-1 {lag1:.2f}, S flatness {flatness:.2f}"


def whitened(x: Float, order: int = 24) -> Float:
    """The linear-prediction residual (the music's spectral envelope removed)."""
    head = x[: min(x.size, RATE)]
    spectrum = np.fft.rfft(head, 2 * head.size)
    r = np.fft.irfft(np.abs(spectrum) ** 2)[: order + 1]
    toeplitz = r[np.abs(np.subtract.outer(np.arange(order), np.arange(order)))]
    a = np.linalg.solve(toeplitz + 1e-9 * np.eye(order) * r[0], r[1 : order + 1])
    return np.asarray(scipy.signal.lfilter(np.concatenate([[1.0], -a]), [1.0], x), dtype=np.float64)


def block_repetition(path: Path) -> str:
    """Mean |correlation| of neighbouring blocks of the whitened signal: a short spreading code
    repeats every bit, noise never does."""
    e = whitened(load(path))
    parts = []
    for size in (1024, 2048, 4096):
        b = e[: e.size // size * size].reshape(-1, size)
        num = np.abs(np.sum(b[:-1] * b[1:], axis=1))
        den = np.sqrt(np.sum(b[:-1] ** 2, axis=1) * np.sum(b[1:] ** 2, axis=1)) + 1e-20
        parts.append(f"{size}: {np.mean(num / den):.3f}")
    return "block corr " + ", ".join(parts)


def echo_delays(path: Path) -> str:
    """Per 4096-sample segment the cepstral peak at 20-150 samples: echo hiding's two fixed
    delays come back segment after segment; a flanger's delay wanders, reverb has no peak."""
    x = load(path)
    segments = x[: x.size // 4096 * 4096].reshape(-1, 4096) * np.hanning(4096)
    spectra = np.log(np.abs(np.fft.rfft(segments, axis=1)) + 1e-9)
    cepstra = np.fft.irfft(spectra, axis=1)[:, 20:150]
    strong = cepstra.max(axis=1) / (cepstra.std(axis=1) + 1e-12) > 4
    _, counts = np.unique(cepstra.argmax(axis=1)[strong] + 20, return_counts=True)
    top = np.sort(counts)[::-1][:2].sum() if counts.size else 0
    return f"strong {strong.sum()}/{strong.size} segments, {top} at the two commonest delays"


def block_edges(path: Path) -> str:
    """Mean |first difference| at multiples of a block length over the mean elsewhere: blocks
    rebuilt one by one (phase coding) do not join."""
    d = np.abs(np.diff(load(path)))
    ratio, size = max((np.mean(d[n - 1 :: n]) / np.mean(d), n) for n in (1024, 2048, 4096, 8192))
    return f"edge ratio {ratio:.2f} at {size}"


def decimated(path: Path) -> str:
    """Every other sample (both phases): data as PCM slowed by 2 is white and flat-topped
    again there; music resampled up stays correlated."""
    x = load(path)
    parts = []
    for phase in (0, 1):
        y = x[phase::2] - x[phase::2].mean()
        kurtosis = np.mean(y**4) / np.mean(y**2) ** 2
        parts.append(f"lag-1 {np.corrcoef(y[:-1], y[1:])[0, 1]:.2f} kurt {kurtosis:.2f}")
    return "decimated: " + " / ".join(parts)


def gap_values(path: Path) -> str:
    """The stored values in the first gap (1.6-2.0 s): how many, how often zero, how one-sided."""
    info = sf.info(path)
    x, rate = sf.read(path, dtype="int32", always_2d=True)
    shift = 8 if info.subtype == "PCM_24" else 16
    g = (x[int(1.6 * rate) : int(2.0 * rate), 0].astype(np.int64) >> shift).astype(np.float64)
    lean = g.mean() / max(np.sqrt(np.mean(g**2)), 1e-9)
    return (
        f"{np.unique(g).size} values in [{g.min():.0f}, {g.max():.0f}], "
        f"zero share {np.mean(g == 0):.2f}, mean/rms {lean:.2f}"
    )


MEASURES: dict[str, Callable[[Path], str]] = {
    "stereo": side_channel, "spread": block_repetition, "phase": lambda p: (
        echo_delays(p) + "; " + block_edges(p)), "soxpcm": decimated, "gaps": gap_values,
}  # fmt: skip


FAMILIES: dict[str, Callable[..., list[Case]]] = {
    "sstv": sstv, "cw": cw, "fm": fm, "phase": phase, "stereo": stereo, "spread": spread,
    "ultrasonic": ultrasonic, "spectrogram": spectrogram, "soxpcm": soxpcm, "law": law, "gaps": gaps,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, help="where the files go (default: a temporary dir)")
    parser.add_argument("--only", default="", help="comma-separated families (default: all)")
    parser.add_argument("--sstv-python", help="a python with pysstv and pillow (a throwaway venv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", action="store_true", help="add a candidate measure column")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="redteam-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    chosen = [f for f in (args.only.split(",") if args.only else FAMILIES) if f]
    results = (work / "results.jsonl").open("a")
    print("| family | payload | level | decision | findings (suspicious+) | measure |")
    print("| --- | --- | --- | --- | --- | --- |")
    for family in chosen:
        make = FAMILIES[family]
        started = time.time()
        cases = make(work, rng, args.sstv_python) if family == "sstv" else make(work, rng)
        for fam, name, level, path in cases:
            verdict = validate_path(path)
            codes = sorted({f.code for f in verdict.findings if f.severity >= Severity.SUSPICIOUS})
            decision = "accept" if verdict.decision is Decision.ACCEPT else verdict.decision.value
            measure = MEASURES[fam](path) if args.measure and fam in MEASURES else ""
            print(
                f"| {fam} | {name} | {level} | {decision} | {', '.join(codes)} | {measure} |",
                flush=True,
            )
            row = {"family": fam, "payload": name, "level": level, "file": str(path),
                   "decision": decision, "codes": codes, "measure": measure}  # fmt: skip
            results.write(json.dumps(row) + "\n")
            results.flush()
        print(f"<!-- {family}: {len(cases)} cases in {time.time() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
