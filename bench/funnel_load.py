"""The funnel under load: first request -> verdict on WatchVerdicts, and the funnel vs classify alone.

Starts ``audioval up`` on free ports (logs and fingerprint index in a temporary directory) and
runs three loads of music-like 5 MB 16-bit stereo WAVs (~30 s of audio each):

=========  ===================================================================================
one        ``--one`` tracks, one at a time, one user
album      ``--album`` tracks at once by one user (one SQS FIFO message group)
crowd      ``--crowd`` tracks at once by as many users
=========  ===================================================================================

Each track is timed from the first ``UploadTrack`` request to its verdict on a ``WatchVerdicts``
stream opened before the first upload; p50 / p95 / max per load, with the parts (upload, queue,
read, classify) from the services' logs as ``bench/pipeline_latency.py`` splits them. Then, in the
same run and on the same stack, classify alone: ``--crowd`` other tracks sent whole to
``ValidateTrack`` at the same concurrency, no funnel. The funnel's throughput (the crowd load's
tracks / wall time) over classify's alone is the funnel ratio.

Last, the CPU seconds each component of the stack used while each load ran
(:mod:`process_cpu`: the emulator, ingest, rebuild, classify's own process, the validator's Ray
workers, the Ray head, ``up`` itself with the fault layer when there is one, this client), with
the total against wall time x CPUs: on a shared
machine a total well under 100% means other work took the rest. Each track is its own piece
(see :class:`Tracks`); ``--same-music`` makes every track the same one.

``--faults RATE`` starts the stack with its fault layer (``audioval up --faults RATE
--fault-kinds throttle``): Kinesis' per-shard limits enforced (1 MiB/s and 1,000 records/s in,
2 MiB/s and 5 GetRecords/s out) and that share of every AWS call throttled. It then also checks
that every upload that was answered got exactly one verdict on the watch stream and one stored
verdict in classify's log (nothing lost, nothing judged twice), and exits 1 if not.

Usage::

    uv run --frozen python bench/funnel_load.py                    # one, album, crowd, classify
    uv run --frozen python bench/funnel_load.py --faults 0.2 --one 0
    uv run --frozen python bench/funnel_load.py --stack-env AUDIOVAL_REBUILD_CONCURRENCY=4

Targets (issue #15, ``audioval up`` on 2 cores): album p95 <= 6 s, crowd p95 <= 20 s, funnel
>= 50% of classify alone. The machine's load is printed with the figures: on a shared machine
the ratios mean more than the seconds.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_latency import (
    MESSAGE_LIMIT,
    PARTS,
    RATE,
    Client,
    StackHandle,
    TrackTiming,
    VerdictWatch,
    _log_lines,
    attribute,
    music_track,
    percentile,
)
from process_cpu import StackCpu, cpu_table

from audioval.v1 import classify_pb2, classify_pb2_grpc
from audioval_cli.stack import StackPorts
from audioval_corpus.samples import synth_music

MIB = 1024 * 1024
_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


def start_stack(tmp: Path, args: argparse.Namespace) -> StackHandle:
    """``audioval up`` on free ports, returned once it prints its endpoints."""
    audioval = Path(sys.executable).parent / "audioval"
    tmp.mkdir(parents=True)
    ports = StackPorts.free()
    command = [
        str(audioval),
        "up",
        *ports.up_options(),
        "--log-dir",
        str(tmp / "logs"),
        "--index-dir",
        str(tmp / "index"),
        "--startup-timeout",
        "300",
    ]
    if args.faults is not None:
        command += ["--faults", str(args.faults), "--fault-kinds", "throttle"]
    extra = dict(item.split("=", 1) for item in args.stack_env)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=(tmp / "up.err").open("w"),
        text=True,
        env={**os.environ, **extra},
    )
    handle = StackHandle(
        f"127.0.0.1:{ports.ingest}", f"127.0.0.1:{ports.classify}", tmp / "logs", process
    )
    assert process.stdout is not None
    seen = ""
    while "classify" not in seen:
        line = process.stdout.readline()
        if not line:
            handle.stop()
            for log in sorted(tmp.glob("**/*.err")) + sorted(tmp.glob("logs/*.log")):
                tail = log.read_text(errors="replace").splitlines()[-5:]
                print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
            raise SystemExit(f"audioval up exited with {process.wait()}")
        seen += line
    return handle


class Tracks:
    """Unique 5 MB WAVs made as they are needed (no two hash alike).

    By default each track is its own piece: a melody of its own (``synth_music`` seeded by the
    track's number) played at its own speed (resampled by a factor spread over an octave either
    way), so no two tracks' fingerprints match, as with real uploads. With ``same_music`` every
    track is the same piece under its own noise floor: each then matches every track accepted
    before it (``fingerprint.duplicate``), and classify's index lookup grows with the catalogue.
    """

    def __init__(self, size_bytes: int, *, same_music: bool = False) -> None:
        self._size = size_bytes
        self._same = synth_music(8.0, seed=7) if same_music else None
        self._next = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> list[bytes]:
        with self._lock:
            first, self._next = self._next, self._next + count
        return [music_track(self._size, i, self._base(i)) for i in range(first, first + count)]

    def _base(self, index: int) -> npt.NDArray[np.float32]:
        if self._same is not None:
            return self._same
        piece = synth_music(4.0, seed=1000 + index)
        speed = 2.0 ** ((index * 0.6180339887) % 1.0 * 2.0 - 1.0)  # well spread in [0.5, 2)
        at = np.arange(0.0, len(piece) - 1, speed)
        frames = np.arange(len(piece))
        return np.stack(
            [np.interp(at, frames, piece[:, c]) for c in range(piece.shape[1])], axis=1
        ).astype(np.float32)


def run_load(
    client: Client, tracks: list[bytes], users: Sequence[str], concurrency: int, name: str
) -> tuple[list[TrackTiming], float, int]:
    """Upload ``tracks`` (track i by ``users[i]``), ``concurrency`` at a time; timings, wall
    seconds and how many uploads failed."""
    failed = 0
    lock = threading.Lock()

    def one(i: int) -> TrackTiming | None:
        nonlocal failed
        first = time.time()
        for attempt in range(3):  # as bandCloud would: an upload refused as retryable is resent
            try:
                timing = client.run_track(tracks[i], users[i], f"{name}-{i}.wav")
                timing.started = first
                return timing
            except (grpc.RpcError, TimeoutError) as err:
                detail = err.code().name if isinstance(err, grpc.RpcError) else str(err)
                print(f"{name} track {i} attempt {attempt + 1} failed: {detail}", file=sys.stderr)
                if not isinstance(err, grpc.RpcError) or err.code() not in _RETRYABLE:
                    break
        with lock:
            failed += 1
        return None

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(len(tracks))))
    wall = time.monotonic() - started
    return [t for t in results if t is not None], wall, failed


def classify_alone(
    address: str, tracks: list[bytes], concurrency: int
) -> tuple[float, list[float]]:
    """Wall seconds to ValidateTrack ``tracks`` (``concurrency`` at a time) and each call's."""
    options = [
        ("grpc.max_send_message_length", MESSAGE_LIMIT),
        ("grpc.max_receive_message_length", MESSAGE_LIMIT),
    ]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = classify_pb2_grpc.ClassifyServiceStub(channel)

        def one(i: int) -> float:
            started = time.monotonic()
            stub.ValidateTrack(
                classify_pb2.ValidateTrackRequest(
                    content=tracks[i], user_id="alone", track_name=f"alone-{i}.wav"
                ),
                timeout=300,
            )
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            each = list(pool.map(one, range(len(tracks))))
        return time.monotonic() - started, each


def stored_verdicts(log_dir: Path) -> collections.Counter[str]:
    """How many verdicts were stored per track: classify's new ones, rebuild's refusals."""
    counts: collections.Counter[str] = collections.Counter()
    for entry in _log_lines(log_dir / "classify.log"):
        if entry.get("msg") == "judged" and entry.get("new") and entry.get("track_id"):
            counts[str(entry["track_id"])] += 1
    for entry in _log_lines(log_dir / "rebuild.log"):
        if entry.get("msg") == "refused" and entry.get("verdict_stored") and entry.get("track_id"):
            counts[str(entry["track_id"])] += 1
            print(f"refused {entry['track_id']}: {entry.get('error')}", file=sys.stderr)
    return counts


def load_row(name: str, timings: Sequence[TrackTiming], wall: float, failed: int) -> str:
    totals = [t.total_s for t in timings]
    audio_s = sum((t.size_bytes - 44) / (RATE * 4) for t in timings)
    parts = " | ".join(
        f"{percentile([t.parts.get(p, float('nan')) for t in timings], 95):.2f}" for p in PARTS[:4]
    )
    return (
        f"| {name} | {len(timings)} | {failed} | {percentile(totals, 50):.2f} | "
        f"{percentile(totals, 95):.2f} | {max(totals, default=float('nan')):.2f} | {wall:.1f} | "
        f"{len(timings) / wall:.2f} | {audio_s / wall:.0f}x | {parts} |"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=5.0, help="MiB per track (default 5)")
    parser.add_argument("--one", type=int, default=5, help="tracks one at a time (default 5)")
    parser.add_argument("--album", type=int, default=10, help="at once by one user (10)")
    parser.add_argument("--crowd", type=int, default=30, help="at once by as many users (30)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed tracks first (default 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per verdict")
    parser.add_argument(
        "--faults",
        type=float,
        default=None,
        metavar="RATE",
        help="fault layer: Kinesis limits enforced and this share of AWS calls throttled",
    )
    parser.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the started stack (e.g. AUDIOVAL_REBUILD_CONCURRENCY=4)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the stack's logs here at the end")
    parser.add_argument("--skip-alone", action="store_true", help="no classify-alone run")
    parser.add_argument(
        "--same-music",
        action="store_true",
        help="every track the same piece (each then matches the whole catalogue: see Tracks)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    make = Tracks(int(args.size_mb * MIB), same_music=args.same_music)
    with tempfile.TemporaryDirectory(prefix="audioval-funnel-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        for attempt in range(5):  # Ray's node gives up after 30 s on a busy machine: try again
            try:
                stack = start_stack(tmp / f"up-{attempt}", args)
                break
            except SystemExit as failed:
                print(f"{failed}; trying again", file=sys.stderr)
        else:
            raise SystemExit("audioval up did not start in 5 tries")
        up_s = time.monotonic() - started
        client = Client(stack.ingest, stack.classify, poll_s=0.02, timeout_s=args.timeout)
        # One unfiltered stream; the first arrival times a track, every arrival is counted.
        watch = client.watch = VerdictWatch(client.classify, keep="first")
        assert stack.process is not None
        cpu = StackCpu(stack.process.pid)
        phases: list[tuple[str, float, dict[str, float], dict[str, float]]] = []
        rows: list[str] = []
        judged: list[TrackTiming] = []
        failures = 0
        alone: tuple[float, list[float]] | None = None
        try:
            for i, content in enumerate(make.take(args.warmup)):
                client.run_track(content, "warmup", f"warmup-{i}.wav")
            loads = [
                ("one", args.one, 1, lambda i: "solo"),
                ("album", args.album, args.album, lambda i: "album-user"),
                ("crowd", args.crowd, args.crowd, lambda i: f"crowd-{i}"),
            ]
            results = []
            for name, count, concurrency, user in loads:
                if count <= 0:
                    continue
                tracks = make.take(count)
                before = cpu.snapshot()
                timings, wall, failed = run_load(
                    client, tracks, [user(i) for i in range(count)], concurrency, name
                )
                phases.append((name, wall, before, cpu.snapshot()))
                results.append((name, timings, wall, failed))
                judged += timings
                failures += failed
                del tracks
            if not args.skip_alone and args.crowd > 0:
                tracks = make.take(args.crowd)
                before = cpu.snapshot()
                alone = classify_alone(stack.classify, tracks, args.crowd)
                phases.append(("alone", alone[0], before, cpu.snapshot()))
                del tracks
            time.sleep(1.0)  # let the last log lines reach the files
            attribute(judged, stack.log_dir)
            for name, timings, wall, failed in results:
                rows.append(load_row(name, timings, wall, failed))
            stored = stored_verdicts(stack.log_dir or tmp)
        finally:
            client.close()
            stack.stop()
            if args.keep_logs is not None and stack.log_dir is not None:
                shutil.copytree(stack.log_dir, args.keep_logs, dirs_exist_ok=True)
    load1 = os.getloadavg()[0]
    mode = (
        f"fault layer: Kinesis limits + {args.faults:.0%} throttled"
        if args.faults is not None
        else "no fault layer"
    )
    print(
        f"\naudioval up ({mode}), ready in {up_s:.0f} s; {os.cpu_count()} CPUs, "
        f"load average {load1:.1f} at the end\n"
    )
    print(
        "| load | tracks | failed | p50 s | p95 s | max s | wall s | tracks/s | audio/wall "
        "| upload p95 | queue p95 | read p95 | classify p95 |"
    )
    print("| --- |" + " ---: |" * 12)
    for row in rows:
        print(row)
    crowd = next((r for r in results if r[0] == "crowd"), None)
    if alone is not None and crowd is not None:
        wall_alone, each = alone
        funnel_tps = len(crowd[1]) / crowd[2]
        alone_tps = args.crowd / wall_alone
        audio = (int(args.size_mb * MIB) - 44) / (RATE * 4)
        print(
            f"\nclassify alone (ValidateTrack, {args.crowd} at once): {wall_alone:.1f} s wall, "
            f"{alone_tps:.2f} tracks/s ({alone_tps * audio:.0f}x realtime), call p50 "
            f"{percentile(each, 50):.2f} s p95 {percentile(each, 95):.2f} s"
        )
        print(
            f"funnel (crowd) {funnel_tps:.2f} tracks/s = {funnel_tps / alone_tps:.0%} of "
            "classify alone (target >= 50%)"
        )
    if phases:
        print("\nCPU seconds by component while each load ran (/proc; client = this benchmark):\n")
        print(cpu_table(phases))
    problems: list[str] = []
    if args.faults is not None:
        for t in judged:
            if watch.arrivals[t.track_id] != 1:
                problems.append(f"{t.track_id}: {watch.arrivals[t.track_id]} watch verdicts")
            if stored[t.track_id] != 1:
                problems.append(f"{t.track_id}: stored {stored[t.track_id]} times")
        print(
            f"\nexactly once: {len(judged)} uploads answered, {failures} refused to the client; "
            f"{sum(1 for t in judged if watch.arrivals[t.track_id] == 1)} with one verdict on "
            f"the watch, {sum(1 for t in judged if stored[t.track_id] == 1)} stored once; "
            f"problems: {problems or 'none'}"
        )
    return 1 if problems or (args.faults is not None and failures) else 0


if __name__ == "__main__":
    sys.exit(main())
