"""How long from the first byte of an upload to its stored verdict, through the whole local stack?

Starts ``audioval up`` (the AWS emulator, ingest, rebuild, classify) on free ports with its logs
in a temporary directory, unless ``--ingest``/``--classify`` name a running stack. Uploads
``--tracks`` music-like 16-bit WAVs of ``--size-mb`` each, one after another or
``--concurrency`` at a time, and times each track from the first request sent to
``UploadTrack`` until the client sees the verdict: by polling ``GetVerdict`` every
``--poll-ms`` (default) or through a ``WatchVerdicts`` stream opened before the first upload
(``--via watch``). Prints p50 / p95 / max of the total and of its parts; asserts nothing.

Where the time goes, per track (wall clocks; service times come from the services' JSON logs):

=========  =====================================================================================
upload     first request sent -> ``UploadTrack`` answered (Kinesis writes, pending item, manifest)
queue      answered -> rebuild starts on the manifest (SQS long poll, a busy worker, FIFO group)
read       rebuild reads and checks the Kinesis records (rebuild's ``read_ms``)
classify   read done -> classify logs the stored verdict (send, validate, conditional put)
validator  the validator's own ``timings_ms.total`` inside classify (part of ``classify``)
notice     verdict stored -> the client sees it (poll interval or watch delivery)
=========  =====================================================================================

Log timestamps have millisecond resolution, so a part near zero (``queue`` with an idle
worker) can read a millisecond or two below it. ``NOT_FOUND answers after upload`` counts
GetVerdict calls that said NOT_FOUND for a track whose upload was already answered: a bug.

Usage::

    uv run --frozen python bench/pipeline_latency.py                     # 20 x 5 MB, one at a time
    uv run --frozen python bench/pipeline_latency.py --concurrency 4 --tracks 40
    uv run --frozen python bench/pipeline_latency.py --via watch --per-track
    uv run --frozen python bench/pipeline_latency.py --stack-env AUDIOVAL_REBUILD_WORKERS=4
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import grpc
import numpy as np
import numpy.typing as npt
import soundfile as sf

from audioval.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc, verdict_pb2
from audioval_cli.stack import StackPorts
from audioval_corpus.samples import synth_music

RATE = 44100
UPLOAD_CHUNK = 1024 * 1024  # what `audioval upload` sends per request
MESSAGE_LIMIT = 64 * 1024 * 1024
PARTS = ("upload", "queue", "read", "classify", "validator", "notice")


# --- inputs ----------------------------------------------------------------------------------


def music_track(size_bytes: int, index: int, base: npt.NDArray[np.float32]) -> bytes:
    """A 44.1 kHz stereo 16-bit WAV of about ``size_bytes``: ``base`` tiled, made unique.

    Each track gets its own seeded noise floor (-70 dBFS), so no two hash alike.
    """
    frames = max(size_bytes - 44, 4) // 4
    reps = -(-frames // len(base))
    audio = np.tile(base, (reps, 1))[:frames]
    noise = np.random.default_rng(index).normal(0.0, 3e-4, audio.shape).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, audio + noise, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# --- the stack -------------------------------------------------------------------------------


@dataclass
class StackHandle:
    ingest: str
    classify: str
    log_dir: Path | None
    process: subprocess.Popen[str] | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_stack(log_dir: Path, extra_env: dict[str, str], timeout_s: float) -> StackHandle:
    """``audioval up`` on free ports, returned once it prints its endpoints."""
    audioval = shutil.which("audioval", path=str(Path(sys.executable).parent))
    if audioval is None:
        raise SystemExit("the audioval command is not installed in this environment")
    ports = StackPorts.free()
    process = subprocess.Popen(
        [
            audioval,
            "up",
            *ports.up_options(),
            "--log-dir",
            str(log_dir),
            "--startup-timeout",
            str(timeout_s),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **extra_env},
    )
    handle = StackHandle(
        f"127.0.0.1:{ports.ingest}", f"127.0.0.1:{ports.classify}", log_dir, process
    )
    assert process.stdout is not None
    # `up` prints one line per endpoint once every health check says SERVING.
    seen = ""
    while "classify" not in seen:
        line = process.stdout.readline()
        if not line:
            handle.stop()
            raise SystemExit(f"audioval up exited with {process.wait()} (logs in {log_dir})")
        seen += line
    return handle


# --- one track -------------------------------------------------------------------------------


@dataclass
class TrackTiming:
    """Wall-clock instants (time.time()) of one track, and what the verdict said."""

    track_id: str = ""
    size_bytes: int = 0
    started: float = 0.0
    uploaded: float = 0.0
    seen: float = 0.0
    decision: str = ""
    validator_ms: float = float("nan")
    not_found_answers: int = 0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.seen - self.started


class VerdictWatch:
    """WatchVerdicts streams: when each track's verdict arrived, and how often.

    One stream per user id in ``user_ids`` (each filtered to that user), or one unfiltered
    stream when there are none. Every arrival is counted (``arrivals``: a verdict delivered
    twice shows as 2, what ``funnel_load``'s exactly-once check reads); :meth:`wait` answers
    with the ``keep="first"`` or ``"last"`` arrival of a track (this script's latency has
    always been the last one seen when it asks; ``funnel_load`` takes the first).
    """

    def __init__(
        self,
        stub: classify_pb2_grpc.ClassifyServiceStub,
        user_ids: Sequence[str] = (),
        *,
        keep: Literal["first", "last"] = "last",
    ) -> None:
        self.arrivals: collections.Counter[str] = collections.Counter()
        self._arrived: dict[str, tuple[float, classify_pb2.WatchVerdictsResponse]] = {}
        self._keep_last = keep == "last"
        self._cond = threading.Condition()
        requests = [classify_pb2.WatchVerdictsRequest(user_id=u) for u in user_ids] or [
            classify_pb2.WatchVerdictsRequest()
        ]
        self._calls = [stub.WatchVerdicts(request) for request in requests]
        for call in self._calls:
            threading.Thread(target=self._drain, args=(call,), daemon=True).start()

    def _drain(self, call: Iterator[classify_pb2.WatchVerdictsResponse]) -> None:
        try:
            for reply in call:
                with self._cond:
                    track = reply.verdict.track_id
                    self.arrivals[track] += 1
                    if self._keep_last or track not in self._arrived:
                        self._arrived[track] = (time.time(), reply)
                    self._cond.notify_all()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                print(f"watch ended: {err.code().name}", file=sys.stderr)

    def wait(
        self, track_id: str, timeout_s: float
    ) -> tuple[float, classify_pb2.WatchVerdictsResponse]:
        with self._cond:
            if not self._cond.wait_for(lambda: track_id in self._arrived, timeout_s):
                raise TimeoutError(f"no verdict for {track_id} on the watch stream")
            return self._arrived[track_id]

    def close(self) -> None:
        for call in self._calls:
            call.cancel()


class Client:
    def __init__(self, ingest: str, classify: str, *, poll_s: float, timeout_s: float) -> None:
        options = [
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
        ]
        self._ingest_channel = grpc.insecure_channel(ingest, options=options)
        self._classify_channel = grpc.insecure_channel(classify, options=options)
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._ingest_channel)
        self.classify = classify_pb2_grpc.ClassifyServiceStub(self._classify_channel)
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.watch: VerdictWatch | None = None

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        self._ingest_channel.close()
        self._classify_channel.close()

    def run_track(self, content: bytes, user_id: str, name: str) -> TrackTiming:
        timing = TrackTiming(size_bytes=len(content))

        def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
            timing.started = time.time()
            yield ingest_pb2.UploadTrackRequest(
                metadata=ingest_pb2.TrackMetadata(
                    user_id=user_id, track_name=name, size_bytes=len(content)
                )
            )
            view = memoryview(content)
            for offset in range(0, len(content), UPLOAD_CHUNK):
                yield ingest_pb2.UploadTrackRequest(
                    chunk=bytes(view[offset : offset + UPLOAD_CHUNK])
                )

        receipt = self.ingest.UploadTrack(requests(), timeout=self.timeout_s)
        timing.uploaded = time.time()
        timing.track_id = receipt.track_id
        if self.watch is not None:
            timing.seen, reply = self.watch.wait(receipt.track_id, self.timeout_s)
            verdict = reply.verdict
        else:
            verdict = self._poll(timing)
        timing.decision = verdict_pb2.Decision.Name(verdict.decision)
        timing.validator_ms = verdict.timings_ms.get("total", float("nan"))
        return timing

    def _poll(self, timing: TrackTiming) -> verdict_pb2.Verdict:
        deadline = time.monotonic() + self.timeout_s
        request = classify_pb2.GetVerdictRequest(track_id=timing.track_id)
        while time.monotonic() < deadline:
            asked = time.monotonic()
            try:
                reply = self.classify.GetVerdict(request, timeout=10)
            except grpc.RpcError as err:
                # Once the upload is answered the pending item exists: NOT_FOUND is a bug.
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                timing.not_found_answers += 1
            else:
                if reply.state == classify_pb2.TRACK_STATE_JUDGED:
                    timing.seen = time.time()
                    judged: verdict_pb2.Verdict = reply.verdict
                    return judged
            time.sleep(max(0.0, self.poll_s - (time.monotonic() - asked)))
        raise TimeoutError(f"no verdict for {timing.track_id} in {self.timeout_s} s")


# --- where the time went -----------------------------------------------------------------------


def _log_lines(path: Path) -> Iterator[dict[str, object]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def _epoch(ts: object) -> float:
    return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


def attribute(timings: Sequence[TrackTiming], log_dir: Path | None) -> None:
    """Fill each track's ``parts`` from its times and the rebuild / classify log lines."""
    rebuild: dict[str, dict[str, object]] = {}
    classify: dict[str, dict[str, object]] = {}
    if log_dir is not None:
        for entry in _log_lines(log_dir / "rebuild.log"):
            if entry.get("msg") == "judged" and entry.get("track_id"):
                rebuild[str(entry["track_id"])] = entry
        for entry in _log_lines(log_dir / "classify.log"):
            # The first "judged" line (new=True) is the one that stored the verdict.
            if entry.get("msg") == "judged" and entry.get("new") and entry.get("track_id"):
                classify.setdefault(str(entry["track_id"]), entry)
    for t in timings:
        t.parts["upload"] = t.uploaded - t.started
        t.parts["validator"] = t.validator_ms / 1000
        r, c = rebuild.get(t.track_id), classify.get(t.track_id)
        if r is None or c is None:
            continue
        rebuild_end = _epoch(r["ts"])
        rebuild_start = rebuild_end - float(r["total_ms"]) / 1000  # type: ignore[arg-type]
        read_end = rebuild_start + float(r["read_ms"]) / 1000  # type: ignore[arg-type]
        stored = _epoch(c["ts"])
        t.parts["queue"] = rebuild_start - t.uploaded
        t.parts["read"] = read_end - rebuild_start
        t.parts["classify"] = stored - read_end
        t.parts["notice"] = t.seen - stored


def percentile(values: Sequence[float], q: float) -> float:
    clean = [v for v in values if v == v]
    return float(np.percentile(clean, q)) if clean else float("nan")


def report(timings: Sequence[TrackTiming], wall_s: float, args: argparse.Namespace) -> None:
    totals = [t.total_s for t in timings]
    print(
        f"\n{len(timings)} tracks of {args.size_mb:g} MB, concurrency {args.concurrency}, "
        f"verdicts via {args.via}"
        + (f" (poll every {args.poll_ms:g} ms)" if args.via == "poll" else "")
        + f"; {wall_s:.1f} s wall, {len(timings) / wall_s:.2f} tracks/s\n"
    )
    print("| seconds | p50 | p95 | max |")
    print("| --- | ---: | ---: | ---: |")
    rows = [("**upload -> verdict**", totals)]
    rows += [(p, [t.parts.get(p, float("nan")) for t in timings]) for p in PARTS]
    for name, values in rows:
        cells = " | ".join(
            f"{v:.3f}" for v in (percentile(values, 50), percentile(values, 95), max(values))
        )
        print(f"| {name} | {cells} |")
    not_found = sum(t.not_found_answers for t in timings)
    decisions = sorted({t.decision for t in timings})
    print(f"\ndecisions: {', '.join(decisions)}; NOT_FOUND answers after upload: {not_found}")
    p50, p95 = percentile(totals, 50), percentile(totals, 95)
    print(
        f"targets: p50 {p50:.3f} s (< 1.5: {'met' if p50 < 1.5 else 'MISSED'}), "
        f"p95 {p95:.3f} s (< 3: {'met' if p95 < 3 else 'MISSED'})"
    )
    if args.per_track:
        print("\n| track | total | " + " | ".join(PARTS) + " |")
        print("| --- | ---: |" + " ---: |" * len(PARTS))
        for t in timings:
            parts = " | ".join(f"{t.parts.get(p, float('nan')):.3f}" for p in PARTS)
            print(f"| {t.track_id} | {t.total_s:.3f} | {parts} |")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=20, help="timed tracks (default 20)")
    parser.add_argument("--size-mb", type=float, default=5.0, help="MiB per track (default 5)")
    parser.add_argument("--concurrency", type=int, default=1, help="uploads at a time")
    parser.add_argument("--warmup", type=int, default=2, help="untimed tracks first (default 2)")
    parser.add_argument("--via", choices=("poll", "watch"), default="poll")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="GetVerdict poll interval")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per verdict")
    parser.add_argument("--per-track", action="store_true", help="also print every track")
    parser.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the started stack (e.g. AUDIOVAL_REBUILD_RECEIVE_WAIT_S=20)",
    )
    parser.add_argument("--ingest", help="use a running stack: ingest address")
    parser.add_argument("--classify", help="use a running stack: classify address")
    parser.add_argument(
        "--log-dir", type=Path, help="the running stack's --log-dir (for the breakdown)"
    )
    args = parser.parse_args(argv)
    if bool(args.ingest) != bool(args.classify):
        parser.error("--ingest and --classify go together")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    size = int(args.size_mb * 1024 * 1024)
    base = synth_music(8.0, seed=7)
    count = args.warmup + args.tracks
    tracks = [music_track(size, i, base) for i in range(count)]
    extra_env = dict(item.split("=", 1) for item in args.stack_env)
    with tempfile.TemporaryDirectory(prefix="audioval-latency-") as tmp:
        if args.ingest:
            stack = StackHandle(args.ingest, args.classify, args.log_dir)
        else:
            started = time.monotonic()
            stack = start_stack(Path(tmp), extra_env, timeout_s=180.0)
            print(f"stack up in {time.monotonic() - started:.1f} s (logs: {tmp})", file=sys.stderr)
        client = Client(
            stack.ingest, stack.classify, poll_s=args.poll_ms / 1000, timeout_s=args.timeout
        )
        # One user (SQS FIFO message group) per upload slot: a group delivers in order.
        users = [f"bench-{slot}" for slot in range(args.concurrency)]
        try:
            if args.via == "watch":
                client.watch = VerdictWatch(client.classify, users)
            for i in range(args.warmup):  # forks classify's validator pool, warms every cache
                client.run_track(tracks[i], users[0], f"warmup-{i}.wav")
            slots = threading.local()
            taken = iter(range(args.concurrency))
            lock = threading.Lock()

            def one(i: int) -> TrackTiming:
                if not hasattr(slots, "user"):
                    with lock:
                        slots.user = users[next(taken)]
                return client.run_track(tracks[i], slots.user, f"track-{i}.wav")

            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                timings = list(pool.map(one, range(args.warmup, count)))
            wall = time.monotonic() - started
        finally:
            client.close()
            stack.stop()
        attribute(timings, stack.log_dir)
    report(timings, wall, args)


if __name__ == "__main__":
    main()
