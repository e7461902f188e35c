"""Could a cheap screen decide which modem analyses run on a chunk? (issue #17, session 17)

Measurement only. The modem scan (``audiomodel.modem.ModemScanner``) reads every ~3 s chunk
with its gates: the FSK look (tone pairs taking turns), the PSK gate, the cyclic lines, and,
outside the chunks, the multi-tone FSK gate (``keyed_tones``). On ordinary music nearly every
chunk passes none of them, so their cost is the gates themselves. A screen would run them only
where a cheaper shared measure points; it is safe only if every chunk on which a gate fires in
a case the scan flags also passes the screen.

This bench scans music (``--tracks``: e.g. ``bench/full_tracks.py``'s 3-minute tracks) and
minimodem transmissions alone and mixed under held-out real clips (``bench/modem_eval.py``'s
making, its held-out or tune rates and levels), and per chunk records which gates fired, the
CPU of each analysis, and candidate screen measures:

- ``anticorr``: the most negative correlation of the fast parts of two ~170 Hz bands' energies
  over ~5 ms frames (``audiomodel.keyed_bands``' statistic, any two bands): keyed tones take
  turns (sign flipped in the table: larger is more modem-like);
- ``spread100/200/400``: the spread floor (20th percentile of 10 Hz powers in 100/200/400 Hz
  blocks) over its median within +-2 kHz, dB, the highest in 300-7800 Hz: a tone keyed at
  >= 30 Bd spreads its power over tens to hundreds of Hz, where a held partial is a line.

It prints, per measure, the bar that keeps every firing chunk of every flagged case and the
share of music chunks it would screen out, and the ceiling: the scan's CPU if a perfect free
screen skipped every gate on every music chunk where none fires.

    uv run --frozen python bench/modem_screen.py --tracks /work/bench17/tracks-screen19
    uv run --frozen python bench/modem_screen.py --tracks DIR --tune --clips 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402

import audiomodel.keyed_bands as kb  # noqa: E402
import audiomodel.modem as m  # noqa: E402
from audiomodel.signal import channel_sum  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import modem_eval as me  # noqa: E402

AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")
SCREENED = ("look", "psk", "cyclic")  # per-chunk gates a screen would skip
FIRED: dict[tuple[str, int], set[str]] = {}
CPU: dict[tuple[str, int], dict[str, float]] = {}
MEASURES: dict[tuple[str, int], dict[str, float]] = {}
_current: list[tuple[str, int] | None] = [None]
_outside = {"mfsk": 0.0, "measures": 0.0}  # keyed_tones' gate, outside the chunks (per scan set)


def _wrap(name: str, label: str, fired: Callable[[Any], bool]) -> None:
    original = getattr(m, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        result = original(*args, **kwargs)
        key = _current[0]
        if key is not None:
            cpu = CPU.setdefault(key, {})
            cpu[label] = cpu.get(label, 0.0) + time.process_time() - started
            if fired(result):
                FIRED.setdefault(key, set()).add(label)
        return result

    setattr(m, name, wrapped)


def _instrument() -> None:
    _wrap("_takes_turns", "look", lambda r: bool(r != m.LOOK_NOTHING))
    _wrap("_phase_lines", "psk", bool)
    _wrap("cyclic_lines", "cyclic", bool)
    _wrap("keyed_band_lines", "keyed_lines", bool)
    _wrap("_keying", "fsk", lambda r: r is not None)
    _wrap("_keyed_keying", "fsk", lambda r: r is not None)
    update = m.KeyedToneScanner.update

    def mfsk(self: Any, level: Any) -> None:
        started = time.process_time()
        update(self, level)
        _outside["mfsk"] += time.process_time() - started

    m.KeyedToneScanner.update = mfsk  # type: ignore[method-assign]
    transform = m._ChunkTransform.of.__func__  # type: ignore[attr-defined]

    def of(cls: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        result = transform(cls, *args, **kwargs)
        key = _current[0]
        if key is not None:
            cpu = CPU.setdefault(key, {})
            cpu["transform"] = cpu.get("transform", 0.0) + time.process_time() - started
        return result

    m._ChunkTransform.of = classmethod(of)  # type: ignore[method-assign,assignment]
    analyse = m.ModemScanner._analyse

    def per_chunk(self: Any, chunk: Any) -> None:
        tag = getattr(self, "tag", None)
        if tag is None:
            analyse(self, chunk)
            return
        key = (tag, self._chunks)
        x = chunk.astype(np.float64)
        started = time.process_time()
        MEASURES[key] = measures(x - x.mean(), self.rate)
        _outside["measures"] += time.process_time() - started
        _current[0] = key
        started = time.process_time()
        analyse(self, chunk)
        CPU.setdefault(key, {})["chunk"] = time.process_time() - started
        _current[0] = None

    m.ModemScanner._analyse = per_chunk  # type: ignore[method-assign]


def measures(x: np.ndarray, rate: float) -> dict[str, float]:
    """The candidate screen measures of one chunk (centred, at the scan's reduced rate)."""
    out: dict[str, float] = {}
    n = 1 << int(np.log2(x.size))
    power = np.abs(scipy.fft.rfft(x[:n].astype(np.float32))) ** 2
    group = max(1, round(10.0 / (rate / n)))
    count = power.size // group
    p10 = power[: count * group].reshape(count, group).sum(axis=1)
    f10 = (np.arange(count) + 0.5) * group * rate / n
    for block in (10, 20, 40):
        blocks = count // block
        spread = np.percentile(p10[: blocks * block].reshape(blocks, block), 20, axis=1)
        centre = f10[: blocks * block].reshape(blocks, block).mean(axis=1)
        reach = 200 // block
        reference = np.array(
            [np.median(spread[max(0, i - reach) : i + reach + 1]) for i in range(blocks)]
        )
        bump = 10 * np.log10(spread / (reference + 1e-30) + 1e-30)
        band = (centre >= 300) & (centre <= 7800)
        out[f"spread{block * 10}"] = float(bump[band].max())
    width = 128
    stride = max(1, x.size // width // 256)
    freqs, frames = kb._band_power(x, rate, width, 300.0, 7800.0, stride)
    if frames.shape[0] >= 2 * kb.SLOW_FRAMES:
        corr = kb._correlation(kb._keyed_part(frames))
        ii, jj = kb._upper_pairs(freqs.size, 1)
        out["anticorr"] = -float(corr[ii, jj].min())
    return out


def scan(samples: np.ndarray, rate: int, tag: str) -> list[str]:
    """The scan's finding codes of 16-bit ``samples`` (frames, channels), fed as the validator
    does, its chunks recorded under ``tag``."""
    scanner = m.ModemScanner(rate, samples.shape[1])
    scanner.tag = tag  # type: ignore[attr-defined]
    for start in range(0, samples.shape[0], 65536):
        block = np.ascontiguousarray(samples[start : start + 65536])
        scanner.update(block, summed=channel_sum(block))
    return [f.code for f in scanner.report().findings]


def music_tracks(directory: Path) -> tuple[list[str], float]:
    tags, seconds = [], 0.0
    for path in sorted(p for p in directory.iterdir() if p.suffix.lower() in AUDIO):
        raw = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "quiet",
                "-i",
                str(path),
                "-f",
                "s16le",
                "-ac",
                "2",
                "-ar",
                "44100",
                "-",
            ],
            capture_output=True,
            check=True,
        ).stdout
        samples = np.frombuffer(raw, dtype=np.int16).reshape(-1, 2)
        seconds += samples.shape[0] / 44100
        scan(samples, 44100, str(path))
        tags.append(str(path))
    return tags, seconds


def modem_cases(corpus: Path, tune: bool, clips: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(7)
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open()]
    split = "train" if tune else "heldout"
    real = [corpus / r["path"] for r in rows if r["threat_class"] == "real" and r["split"] == split]
    bauds = me.TUNE_BAUDS if tune else me.HELDOUT_BAUDS
    levels = me.TUNE_LEVELS_DB if tune else me.HELDOUT_LEVELS_DB
    found: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for baud in bauds:
            for level in levels:
                for i in range(clips if level is not None else 1):
                    sent = me._payload("elf" if i % 2 == 0 else "text", baud)
                    modem = me.minimodem_tx(sent, baud, tmp)
                    music = None
                    for _ in range(20 if level is not None else 0):
                        pick = real[int(rng.integers(0, len(real)))]
                        music = me._music(pick, modem.size / me.RATE + 4, rng)
                        if music is not None:
                            break
                    y = me._mix(modem, music, level)
                    samples = np.round(np.clip(y, -1, 1) * 32767).astype(np.int16)[:, None]
                    tag = f"{baud:g} Bd, {'alone' if level is None else f'{level:+g} dB'}, #{i}"
                    found[tag] = scan(samples, me.RATE, tag)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=Path, required=True, help="a directory of music")
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    parser.add_argument("--tune", action="store_true", help="the tune rates and levels")
    parser.add_argument("--clips", type=int, default=3, help="music clips per rate and level")
    args = parser.parse_args()
    import audiomodel.warmup

    audiomodel.warmup.warm_up()
    _instrument()
    started = time.process_time()
    tracks, seconds = music_tracks(args.tracks)
    music_cpu = time.process_time() - started - _outside["measures"]
    music_mfsk = _outside["mfsk"]
    cases = modem_cases(args.corpus, args.tune, args.clips)
    flagged = {tag for tag, codes in cases.items() if "signal.modem" in codes}
    music = [k for k in MEASURES if k[0] in tracks]
    firing = [k for k in MEASURES if k[0] in flagged and FIRED.get(k)]
    quiet = [k for k in music if not FIRED.get(k)]
    print(
        f"music: {len(tracks)} tracks, {seconds:.0f} s, {len(music)} chunks, {len(quiet)} fire none"
    )
    print(
        f"modems: {len(cases)} cases, {len(flagged)} flagged, {len(firing)} firing chunks in those"
    )
    # the ceiling: every screened gate (and keyed_tones' share) skipped on the quiet chunks
    skipped = sum(CPU[k].get(g, 0.0) for k in quiet for g in SCREENED)
    skipped += music_mfsk * len(quiet) / max(1, len(music))
    transforms = sum(CPU[k].get("transform", 0.0) for k in quiet)
    print(
        f"scan CPU on music {1e3 * music_cpu / seconds:.2f} ms/s of audio; a perfect free screen "
        f"leaves {1e3 * (music_cpu - skipped) / seconds:.2f} ms/s "
        f"({(music_cpu - skipped) / music_cpu:.2f}x), "
        f"{(music_cpu - skipped - transforms) / music_cpu:.2f}x if it spared the chunk's "
        "transform too"
    )
    print("| measure | music 5/50/95 % | bar keeping every firing chunk | music screened out |")
    print("| --- | --- | --- | ---: |")
    for name in ("anticorr", "spread100", "spread200", "spread400"):
        values = np.array([MEASURES[k][name] for k in music if name in MEASURES[k]])
        kept = sorted((MEASURES[k][name], k[0]) for k in firing if name in MEASURES[k])
        bar, worst = kept[0]
        pct = ", ".join(f"{v:.2f}" for v in np.percentile(values, [5, 50, 95]))
        print(f"| {name} | {pct} | {bar:.2f} ({worst}) | {np.mean(values < bar):.1%} |")


if __name__ == "__main__":
    main()
