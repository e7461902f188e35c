"""Data sent as one tone's frequency (issue #17, session 17, fm19): own variants the red-team
survey never made, and honest look-alikes, judged by ``audiomodel.tone_track`` alone.

Attacks: stepped FM (16/64/1024-ary, 20-100 Bd), Gaussian-smoothed 16-FSK, two tones at once,
chirps (SF7-9, 2-4 kHz, up and down), near-ultrasonic 2/4/8/16-FSK at 44.1/48/96 kHz and OFDM
without a prefix; each alone, through MP3 and Vorbis, and under train music at -10/-20 dB.
Look-alikes: theremin, arpeggiators, chiptune arpeggios, slide guitar, bird trills and chirp
series, sirens, sawtooth sweeps, 19 kHz pilot, 15.7 kHz whine, ADC ultrasonic noise. Prints
each miss and false flag with the reason, then counts. Measurement only.

Usage::

    uv run --frozen python bench/tone_track_data.py --work DIR
"""

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import redteam_survey as survey

from audiomodel import tone_track
from audiomodel.tone_track import ToneTrackScanner

S = 7.0
rng = np.random.default_rng(1917)


def tt(freqs, rate):
    return np.sin(2 * np.pi * np.cumsum(freqs) / rate)


def stepped(values, levels_hz, baud, rate, n):
    return np.repeat(levels_hz[values], int(rate / baud))[:n]


def data(n, k):  # payload symbols (source + elf + random mix)
    b = survey.payload(["elf", "source", "random"][rng.integers(3)], 4096)
    np.frombuffer(b, np.uint8).astype(int)
    bits = np.unpackbits(np.frombuffer(b, np.uint8))
    w = int(np.log2(k))
    m = bits[: bits.size // w * w].reshape(-1, w) @ (1 << np.arange(w - 1, -1, -1))
    return np.resize(m, n)


def gauss_smooth(f, rate, baud, bt=0.5):
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt) * rate / baud
    k = np.arange(-int(4 * sigma), int(4 * sigma) + 1)
    g = np.exp(-(k**2) / (2 * sigma**2))
    g /= g.sum()
    return np.convolve(f, g, mode="same")


def chirps(sf_, bw, low, rate, n, down=False):
    chips = 2**sf_
    span = int(chips / bw * rate)
    t = np.arange(span) / rate
    vals = data(n // span + 1, chips)
    parts = []
    for v in vals[: n // span]:
        f = (v / chips * bw + bw * t * bw / chips) % bw
        parts.append(low + (bw - f if down else f))
    return tt(np.concatenate(parts), rate)


def make(out: Path) -> list[tuple[str, str, str, str]]:
    cases = []  # (name, kind, rate, signal)

    def add(name, kind, rate, x):
        cases.append((name, kind, rate, x))

    for rate in (44100, 48000):
        n = int(S * rate)
        add(
            f"16ary 30Bd 1.5-3k @{rate}",
            "attack",
            rate,
            tt(stepped(data(400, 16), np.linspace(1500, 3000, 16), 30, rate, n), rate),
        )
        add(
            f"64ary 100Bd 600-4k @{rate}",
            "attack",
            rate,
            tt(stepped(data(800, 64), np.linspace(600, 4000, 64), 100, rate, n), rate),
        )
        add(
            f"1024ary 20Bd 300-5k @{rate}",
            "attack",
            rate,
            tt(stepped(data(200, 1024), np.linspace(300, 5000, 1024), 20, rate, n), rate),
        )
        add(
            f"GFSK16 BT0.5 40Bd @{rate}",
            "attack",
            rate,
            tt(
                gauss_smooth(
                    stepped(data(400, 16), np.linspace(1000, 2500, 16), 40, rate, n), rate, 40
                ),
                rate,
            ),
        )
        two = tt(stepped(data(200, 16), np.linspace(800, 1600, 16), 20, rate, n), rate) + tt(
            stepped(data(200, 16), np.linspace(2000, 2800, 16), 20, rate, n), rate
        )
        add(f"MFSK 2 tones x16 20Bd @{rate}", "attack", rate, two)
        add(f"chirp SF8 2k @{rate}", "attack", rate, chirps(8, 2000, 1000, rate, n))
        add(f"chirp SF9 4k @{rate}", "attack", rate, chirps(9, 4000, 600, rate, n))
        add(f"downchirp SF7 2.5k @{rate}", "attack", rate, chirps(7, 2500, 800, rate, n, down=True))
    for rate in (44100, 48000, 96000):
        n = int(S * rate)
        top = 21000 if rate == 44100 else 21500
        add(
            f"US BFSK 17.5/18.5k 50Bd @{rate}",
            "attack",
            rate,
            tt(stepped(data(400, 2), np.array([17500, 18500.0]), 50, rate, n), rate),
        )
        add(
            f"US 4FSK 18-20.5k 200Bd @{rate}",
            "attack",
            rate,
            tt(stepped(data(1600, 4), np.linspace(18000, 20500, 4), 200, rate, n), rate),
        )
        add(
            f"US 16FSK 17-{top} 25Bd @{rate}",
            "attack",
            rate,
            tt(stepped(data(200, 16), np.linspace(17000, top, 16), 25, rate, n), rate),
        )
        if rate == 96000:
            add(
                f"US 8FSK 24-30k 100Bd @{rate}",
                "attack",
                rate,
                tt(stepped(data(800, 8), np.linspace(24000, 30000, 8), 100, rate, n), rate),
            )
        # OFDM without cyclic prefix, 8 carriers, QPSK
        size = 512 if rate < 96000 else 1024
        car = np.arange(int(18000 * size / rate), int(18000 * size / rate) + 8)
        sym = []
        for _ in range(n // size):
            sp = np.zeros(size // 2 + 1, complex)
            sp[car] = np.exp(1j * np.pi / 2 * (rng.integers(0, 4, 8) + 0.5))
            sym.append(np.fft.irfft(sp, n=size))
        add(f"US OFDM 8 QPSK noCP @{rate}", "attack", rate, np.concatenate(sym))
    # honest look-alikes
    for rate in (44100, 48000):
        n = int(S * rate)
        t = np.arange(n) / rate
        notes = 220 * 2 ** (rng.integers(0, 25, 80) / 12)
        held = np.repeat(notes, n // 80 + 1)[:n]
        w = np.hanning(int(rate * 0.06))
        gl = np.convolve(held, w / w.sum(), mode="same")
        add(
            f"theremin @{rate}",
            "good",
            rate,
            tt(gl * (1 + 0.006 * np.sin(2 * np.pi * 6 * t)), rate),
        )
        arp = 110 * 2 ** (rng.integers(0, 36, int(S * 16)) / 12)
        add(
            f"sine arpeggiator 16 steps/s chromatic 3 oct @{rate}",
            "good",
            rate,
            tt(np.repeat(arp, rate // 16 + 1)[:n], rate),
        )
        arp2 = 220 * 2 ** (
            np.array([0, 4, 7, 12])[rng.integers(0, 4, int(S * 12))] / 12
            + rng.integers(0, 2, int(S * 12))
        )
        add(
            f"sine arpeggio major chord random 12/s @{rate}",
            "good",
            rate,
            tt(np.repeat(arp2, rate // 12 + 1)[:n], rate),
        )
        ji = (
            220
            * np.array(
                [
                    1,
                    9 / 8,
                    5 / 4,
                    4 / 3,
                    3 / 2,
                    5 / 3,
                    15 / 8,
                    2,
                    9 / 4,
                    5 / 2,
                    8 / 3,
                    3,
                    10 / 3,
                    15 / 4,
                    4,
                ]
            )[rng.integers(0, 15, int(S * 10))]
        )
        add(
            f"just-intonation random melody 10/s @{rate}",
            "good",
            rate,
            tt(np.repeat(ji, rate // 10 + 1)[:n], rate),
        )
        # chiptune: 50 Hz tick arpeggio over a chord, NES-like period quantisation, pulse wave
        seq = []
        for _bar in range(int(S * 2)):
            root = 110 * 2 ** (rng.integers(0, 24) / 12)
            chord = root * 2 ** (np.array([0, 4, 7]) / 12)
            seq += list(np.tile(chord, 9)[:25])
        f = np.repeat(np.array(seq), rate // 50 + 1)[:n]
        period = np.round(1789773 / (16 * f))
        f = 1789773 / (16 * period)
        ph = np.cumsum(f) / rate % 1
        add(
            f"chiptune arpeggio 50Hz tick pulse @{rate}",
            "good",
            rate,
            np.where(ph < 0.25, 1.0, -1.0) * 0.5,
        )
        add(f"chiptune arpeggio sine @{rate}", "good", rate, tt(f, rate))
        # slide guitar: notes slid, harmonics
        sl = np.convolve(
            np.repeat(196 * 2 ** (rng.integers(0, 15, 30) / 12), n // 30 + 1)[:n],
            np.hanning(int(rate * 0.15)) / np.hanning(int(rate * 0.15)).sum(),
            mode="same",
        )
        env = np.tile(np.exp(-np.arange(n // 30 + 1) / rate * 3), 30)[:n]
        add(
            f"slide guitar @{rate}",
            "good",
            rate,
            sum(tt(k * sl, rate) / k**1.5 for k in range(1, 6)) * env,
        )
        # bird trills: a bird repeating a 2-note trill at 14/s, and chirp songs with steady rhythm
        trill = np.repeat(np.tile([3200.0, 4100.0], int(S * 7)), rate // 14 + 1)[:n]
        add(f"bird trill 14/s @{rate}", "good", rate, tt(trill, rate))
        sw = []
        while len(sw) < n:
            length = int(rate * 0.05)
            f0 = rng.uniform(2500, 6000)
            f1 = f0 * rng.uniform(0.6, 1.6)
            sw += list(np.linspace(f0, f1, length)) + [f1] * int(rate * 0.02)
        add(f"bird chirp series 14/s @{rate}", "good", rate, tt(np.array(sw[:n]), rate))
        add(
            f"siren yelp @{rate}",
            "good",
            rate,
            tt(1000 + 500 * np.abs(((t * 3) % 1) * 2 - 1), rate),
        )
        add(
            f"siren hi-lo @{rate}",
            "good",
            rate,
            tt(np.where((t * 1.0) % 1 < 0.5, 960.0, 770.0), rate),
        )
        add(f"linear sawtooth sweeps @{rate}", "good", rate, tt(500 + (t % 0.5) / 0.5 * 3000, rate))
        add(
            f"autotune-like random scale melody 8/s @{rate}",
            "good",
            rate,
            sum(
                tt(
                    k
                    * np.repeat(
                        261.6
                        * 2
                        ** (
                            np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])[rng.integers(0, 10, 60)]
                            / 12
                        ),
                        n // 60 + 1,
                    )[:n],
                    rate,
                )
                / k
                for k in (1, 2, 3)
            ),
        )
    for rate in (44100, 48000, 96000):
        n = int(S * rate)
        t = np.arange(n) / rate
        add(
            f"19k pilot @{rate}",
            "good",
            rate,
            np.sin(2 * np.pi * 19000 * t) * 0.1
            + 0.3 * tt(np.repeat(220 * 2 ** (rng.integers(0, 12, 20) / 12), n // 20 + 1)[:n], rate),
        )
        add(
            f"15.7k TV whine + speech-like @{rate}",
            "good",
            rate,
            0.05 * np.sin(2 * np.pi * 15734 * t)
            + 0.3 * rng.normal(size=n) * np.abs(np.sin(2 * np.pi * 3 * t)),
        )
        # cheap ADC: noise-shaped ultrasonic noise + idle tone that wanders
        hf = np.diff(np.diff(np.diff(rng.normal(size=n + 3)))) * 1e-3
        add(
            f"ADC ultrasonic noise + idle tone @{rate}",
            "good",
            rate,
            hf
            + 1e-3 * np.sin(2 * np.pi * np.cumsum(18000 + 300 * np.sin(2 * np.pi * 0.1 * t)) / rate)
            + 0.2 * tt(np.repeat(330 * 2 ** (rng.integers(0, 12, 14) / 12), n // 14 + 1)[:n], rate),
        )

    rows = []
    for i, (name, kind, rate, x) in enumerate(cases):
        stem = f"{i:03d}"
        p = out / f"{stem}.wav"
        survey.write(p, x, rate)
        rows.append((name, kind, "alone wav", str(p)))
        if kind == "attack":
            m = [survey.load(q) for q in survey.train_music(rate if rate != 96000 else 48000, 3)]
            if m and rate != 96000:
                mm = m[i % len(m)]
                for db in (-10, -20):
                    q = out / f"{stem}-m{-db}.wav"
                    survey.write(q, survey.under(x, mm, db), rate)
                    rows.append((name, kind, f"{db} dB music", str(q)))
            q = out / f"{stem}.mp3"
            subprocess.run(
                [
                    "lame",
                    "--quiet",
                    "-b",
                    "320" if name.startswith("US") else "128",
                    str(p),
                    str(q),
                ],
                check=True,
            )
            rows.append((name, kind, "mp3", str(q)))
            q = out / f"{stem}.ogg"
            subprocess.run(
                ["oggenc", "-Q", "-q", "6" if name.startswith("US") else "3", "-o", str(q), str(p)],
                check=True,
            )
            rows.append((name, kind, "vorbis", str(q)))
    return rows


def judge(rows: list[tuple[str, str, str, str]]) -> None:
    tone_track.DEBUG = []
    tot: collections.Counter[tuple[str, str]] = collections.Counter()
    hit: collections.Counter[tuple[str, str]] = collections.Counter()
    cpu = 0.0
    for name, kind, level, p in rows:
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        x = x.sum(axis=1)
        t0 = time.process_time()
        s = ToneTrackScanner(sr)
        for i in range(0, x.size, 1 << 15):
            s.update(x[i : i + (1 << 15)])
        r = s.readings()
        cpu += time.process_time() - t0
        tot[(kind, level)] += 1
        hit[(kind, level)] += bool(r)
        if (kind == "good") == bool(r):
            print("FLAG" if r else "miss", kind, name, level, r[:1], tone_track.DEBUG[-2:])
        tone_track.DEBUG.clear()
    for k in sorted(tot):
        print(k, f"{hit[k]}/{tot[k]}")
    print(f"scanner CPU {cpu:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    judge(make(args.work))


if __name__ == "__main__":
    main()
