"""The modem stage's CPU time split by reader, per second of audio, against another worktree.

``bench/stage_speed.py`` times the modem stage as one; this says where inside it the time goes
on ordinary music: the cheap look (``_takes_turns``), the chunk transform, the cyclic
(symbol-rate) lines, the MFSK reader (``KeyedToneScanner``), the phase lines, the full FSK test
on chunks the look passed, the keyed band lines, the decimator, and ``report`` (the track's last,
shorter chunk is analysed there, and any hits are demodulated). Each reader is timed at its
outermost call only (process CPU time), so the shares add up to the scanner's total less the
glue of ``update``.

Files are decoded to 16-bit once, before timing, and fed in the validator's blocks
(``BLOCK_FRAMES``) with their channels' sum, as ``validator._decode_and_measure`` feeds
``ModemScanner``. BLAS is held to one thread, as the validator holds it. With ``--against``
(another worktree), a worker process runs that worktree's ``audiomodel`` on the same files,
interleaved with this one file by file, for ``--rounds`` rounds; the ratio of the totals is
the figure to read on a shared machine.

Usage::

    uv run --frozen python bench/modem_split.py                      # the 40 clips
    uv run --frozen python bench/modem_split.py --corpus /work/bench17/tracks --files 12
    uv run --frozen python bench/modem_split.py --against /work/wt-base21 --rounds 2
    uv run --frozen python bench/modem_split.py --mfsk ...  # and audiomodel.mfsk beside it

With ``--mfsk``, ``MfskScanner`` (wired beside ``ModemScanner`` in the modem stage, fed the same
sum) is fed too and timed as "mfsk"; the total then holds both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path("/work/main/.cache/corpus/full-seed0")

# (module attribute, label): the readers timed; "transform" covers both transform builders
READERS = (
    ("_takes_turns", "look"),
    ("_keying", "full FSK test"),
    ("_keyed_keying", "full FSK test"),
    ("_phase_lines", "phase lines"),
    ("cyclic_lines", "cyclic lines"),
    ("keyed_band_lines", "keyed band lines"),
    ("decimate", "decimate"),
    ("_stretch_transform", "transform"),
)


class Timer:
    """Process CPU seconds by label, counted at the outermost timed call only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.depth = 0

    def wrap(self, func: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return func(*args, **kwargs)
            self.depth += 1
            start = time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.process_time() - start
                self.depth -= 1

        return timed


def instrument(timer: Timer) -> Any:
    """``audiomodel.modem`` with its readers wrapped by ``timer`` (the module is returned)."""
    import audiomodel.modem as modem

    for name, label in READERS:
        setattr(modem, name, timer.wrap(getattr(modem, name), label))
    transform = modem._ChunkTransform.of.__func__
    timed_transform = timer.wrap(transform, "transform")
    modem._ChunkTransform.of = classmethod(timed_transform)  # type: ignore[method-assign]
    tones = modem.KeyedToneScanner
    tones.update = timer.wrap(tones.update, "keyed_tones")  # type: ignore[method-assign]
    scanner = modem.ModemScanner
    scanner.report = timer.wrap(scanner.report, "report")  # type: ignore[method-assign]
    return modem


def decoded(path: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], int]:
    """(16-bit frames, their channels' sum as int32, sample rate) of ``path``."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="int16", always_2d=True)
    summed = data[:, 0].astype(np.int32)
    for channel in range(1, data.shape[1]):
        summed += data[:, channel]
    return data, summed, int(rate)


def instrument_mfsk(timer: Timer) -> Any:
    """``audiomodel.mfsk.MfskScanner`` with its feed and report wrapped by ``timer``."""
    from audiomodel.mfsk import MfskScanner

    MfskScanner.update = timer.wrap(MfskScanner.update, "mfsk")  # type: ignore[method-assign]
    MfskScanner.report = timer.wrap(MfskScanner.report, "mfsk")  # type: ignore[method-assign]
    return MfskScanner


def scan(
    modem: Any,
    audio: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], int],
    mfsk: Any = None,
) -> list[str]:
    """One decoded file through ``ModemScanner`` (and ``mfsk``, a scanner class, when given) in
    the validator's blocks: its finding codes."""
    from audiomodel.validator import BLOCK_FRAMES

    data, summed, rate = audio
    scanner = modem.ModemScanner(rate, data.shape[1])
    beside = mfsk(rate) if mfsk is not None else None
    for at in range(0, data.shape[0], BLOCK_FRAMES):
        scanner.update(data[at : at + BLOCK_FRAMES], summed=summed[at : at + BLOCK_FRAMES])
        if beside is not None:  # (it keeps the views it is fed; nothing writes to them)
            beside.update(summed[at : at + BLOCK_FRAMES])
    found = [f.code for f in scanner.report().findings]
    return found + ([f.code for f in beside.report()] if beside is not None else [])


def worker(with_mfsk: bool) -> None:
    """Read file paths from stdin; per file, scan it and print the CPU split as one JSON line."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    timer = Timer()
    modem = instrument(timer)
    mfsk = instrument_mfsk(timer) if with_mfsk else None
    for line in sys.stdin:
        audio = decoded(Path(line.strip()))  # decoded before timing
        scan(modem, audio, mfsk)  # warm: every compiled kernel loaded
        timer.seconds.clear()
        start = time.process_time()
        findings = scan(modem, audio, mfsk)
        total = time.process_time() - start
        result = {"seconds": audio[0].shape[0] / audio[2], "findings": findings}
        print(json.dumps({**result, "total": total, "readers": timer.seconds}), flush=True)


def start_worker(worktree: Path, with_mfsk: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(worktree / ".venv/bin/python"), str(Path(__file__).resolve()), "--worker"]
        + (["--mfsk"] if with_mfsk else []),
        cwd=worktree,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # (each worktree's venv holds its own audiomodel, installed from its source)
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


def table(name: str, totals: dict[str, float], readers: dict[str, float], seconds: float) -> None:
    total = totals["total"]
    print(f"\n{name}: modem scanner {total / seconds * 1e3:.3f} ms per s of audio")
    print("| reader | ms/s | share |\n| --- | ---: | ---: |")
    rows = sorted(readers.items(), key=lambda kv: -kv[1])
    rows.append(("rest (update's glue)", total - sum(readers.values())))
    for label, value in rows:
        print(f"| {label} | {value / seconds * 1e3:.3f} | {100 * value / total:.1f} % |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--threat-class", default="real")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--against", type=Path, help="another worktree, timed interleaved")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--mfsk", action="store_true", help="feed and time MfskScanner too")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.mfsk)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from validate_speed import corpus_files

    files = corpus_files(
        args.corpus,
        count=args.files,
        label=None,
        min_seconds=args.min_seconds,
        seed=args.seed,
        threat_class=args.threat_class,  # a directory without a manifest has no classes to filter
    )
    sides = {"now": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    workers = {side: start_worker(tree, args.mfsk) for side, tree in sides.items()}
    totals = {side: {"total": 0.0, "seconds": 0.0} for side in sides}
    readers: dict[str, dict[str, float]] = {side: {} for side in sides}
    differ: set[str] = set()
    for round_ in range(args.rounds):
        for i, path in enumerate(files):
            order = list(sides) if (i + round_) % 2 == 0 else list(sides)[::-1]
            found = {}
            for side in order:
                process = workers[side]
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(f"{path}\n")
                process.stdin.flush()
                result = json.loads(process.stdout.readline())
                totals[side]["total"] += result["total"]
                totals[side]["seconds"] += result["seconds"]
                for label, value in result["readers"].items():
                    readers[side][label] = readers[side].get(label, 0.0) + value
                found[side] = result["findings"]
            if len(set(map(tuple, found.values()))) > 1:
                differ.add(path.name)
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    print(f"{len(files)} files of {args.corpus}, {args.rounds} round(s), interleaved")
    for side, tree in sides.items():
        table(f"{side} ({tree})", totals[side], readers[side], totals[side]["seconds"])
    if args.against:
        ratio = totals["now"]["total"] / totals["against"]["total"]
        print(
            f"\nmodem scanner now / against: {ratio:.3f}; files whose codes differ: {len(differ)}"
        )
        for name in sorted(differ):
            print(f"  {name}")


if __name__ == "__main__":
    main()
