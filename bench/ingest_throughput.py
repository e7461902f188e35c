"""How fast does ingest write uploads into Kinesis: against the shard limits, the original, its CPU?

One run, one emulator (moto), and the fault layer (``FaultProxy``) in front of it enforcing
Kinesis' per-shard limits (1 MiB/s and 1,000 records/s in; a full shard budget holds one second's
worth) and injecting nothing. The emulator and the fault layer each run in a child process of
their own, so ``/proc/<pid>/stat`` gives every process' CPU seconds apart and the bench's own
threads do not share a GIL with them. Measured, in one run:

1. the real ingest service (``python -m audioval_ingest``, default settings, talking to the
   proxy) writing into ONE one-shard stream: wall time of ``UploadTrack`` from the first request
   to the receipt (every byte in Kinesis, the pending item and the manifest written), for one
   large upload and then for several concurrent ones sharing the shard;
2. a second ingest process whose availability zone has a WIDE stream set (``--streams``
   one-shard streams): many small uploads, ``--wide-concurrency`` at a time, routed over the set
   by ingest's own hash of the track id. Here the shard limits are meant not to be the cap: the
   table prints the bound they set for the placement that happened, next to what was reached;
3. the ORIGINAL producer design, rebuilt: gzip the data, base64 it into JSON, and send ~275 KB
   JSON records one ``put_record`` at a time with a 1.25 s sleep between them, into the
   one-shard stream (slow by design: it runs on a small amount of data).

Throughput is bytes of the uploaded files per second (MiB/s). "shard bound" is the most the
shard limits allow for where the bytes went: every shard starts a run with a full one-second
budget (the bench idles two seconds before each run), then takes 1 MiB/s; the slowest shard
sets the bound. Every ratio to the original is against the original measured in this run.

CPU is measured, per process, as the change of utime + stime in ``/proc/<pid>/stat`` over each
run: ingest (the process serving that run), the fault layer, moto and the bench itself (the
gRPC clients). From ingest's CPU seconds per MiB the notes DERIVE the throughput one core of
ingest could sustain if AWS (here: moto and the fault layer, on the same two cores) took no CPU:
1 / (CPU s per MiB). That is a property of ingest's code path, not a wall-clock measurement.
Prints markdown tables; asserts nothing.

Usage::

    uv run --frozen python bench/ingest_throughput.py
    uv run --frozen python bench/ingest_throughput.py --streams 64 --wide-uploads 96 --concurrent 0
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
import numpy as np
import numpy.typing as npt
import soundfile as sf
from pydantic import SecretStr

from audioval.v1 import ingest_pb2, ingest_pb2_grpc
from audioval_cli.stack import stop_processes, wait_serving
from audioval_corpus.samples import synth_music
from audioval_ingest.settings import IngestSettings
from audioval_ingest.stream_set import pick_stream
from audioval_localstack import Emulator, free_port, provision, stream_name
from audioval_localstack.faults import MIB, FaultProxy, ShardLimits
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

LOCAL_KEY = "testing"
ORIGINAL_RECORD_BYTES = 275_000
ORIGINAL_PAUSE_S = 1.25
UPLOAD_MESSAGE_BYTES = 1024 * 1024  # what `audioval upload` sends per request
IDLE_BEFORE_RUN_S = 2.0
NARROW_AZ = "bench-one-shard"
WIDE_AZ = "bench-wide"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Row:
    name: str
    file_bytes: int
    seconds: float
    records: int
    throttled: int
    bound_mib_s: float  # what the shard limits allow for this placement (inf: never binding)
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds in the run
    note: str = ""

    @property
    def mib(self) -> float:
        return self.file_bytes / MIB

    @property
    def mib_s(self) -> float:
        return self.mib / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms_per_mib(self, process: str) -> float:
        return 1000 * self.cpu_s[process] / self.mib


def shard_bound(bytes_per_shard: list[int], limits: ShardLimits) -> float:
    """MiB/s the shard limits allow: all bytes at t=0, full budgets, the slowest shard decides."""
    rate, burst = limits.in_bytes_per_s, limits.in_bytes_per_s * limits.burst_s
    slowest = max(max(b - burst, 0) / rate for b in bytes_per_shard)
    return sum(bytes_per_shard) / MIB / slowest if slowest > 0 else float("inf")


def wav_bytes(size: int, *, seed: int) -> bytes:
    """A 44.1 kHz stereo 16-bit WAV of about ``size`` bytes: 8 s music pieces, back to back."""
    pieces: list[npt.NDArray[np.float32]] = []
    frames = max(size // 4, 1)
    made = 0
    while made < frames:
        piece = synth_music(8.0, seed=seed + len(pieces))
        pieces.append(piece[: frames - made])
        made += len(pieces[-1])
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate(pieces), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# -- the emulator and the fault layer, each in a child process ---------------------------------


def _child_main(kind: str, upstream: str) -> None:
    """Serve the emulator or the proxy; print its URL, answer "stats" lines, stop at EOF."""
    if kind == "emulator":
        with Emulator() as emulator:
            print(emulator.endpoint_url, flush=True)
            sys.stdout = sys.stderr  # nothing reads this pipe again: keep it from filling
            for _ in sys.stdin:
                pass
        return
    with FaultProxy(upstream, enforce_limits=True, limits=ShardLimits()) as proxy:
        print(proxy.endpoint_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(json.dumps(dataclasses.asdict(proxy.stats())), flush=True)


@dataclass
class Child:
    process: subprocess.Popen[str]
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask(self, line: str) -> str:
        stdin, stdout = self._pipes()
        stdin.write(line + "\n")
        stdin.flush()
        return stdout.readline().strip()

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


@contextmanager
def child(kind: str, upstream: str = "") -> Iterator[Child]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--upstream", upstream],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the {kind} child did not start")
        yield Child(process, url)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # EOF: the child stops and exits
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def proxy_counts(proxy: Child) -> dict[str, Any]:
    counts: dict[str, Any] = json.loads(proxy.ask("stats"))
    return counts


# -- ingest and its uploads ---------------------------------------------------------------------


@dataclass
class Ingest:
    address: str
    pid: int


@contextmanager
def ingest_service(endpoint: str, availability_zone: str) -> Iterator[Ingest]:
    """``python -m audioval_ingest`` on a free port, talking to ``endpoint``."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "AUDIOVAL_AWS_ENDPOINT_URL": endpoint,
            "AUDIOVAL_AWS_ACCESS_KEY_ID": LOCAL_KEY,
            "AUDIOVAL_AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
            "AUDIOVAL_AVAILABILITY_ZONE": availability_zone,
            "AUDIOVAL_INGEST_PORT": str(port),
            "AUDIOVAL_INGEST_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "audioval_ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_serving(f"127.0.0.1:{port}", time.monotonic() + 60)
        yield Ingest(f"127.0.0.1:{port}", process.pid)
    finally:
        stop_processes({"ingest": process})


@dataclass
class Upload:
    seconds: float
    track_id: str
    size: int
    error: str


def upload(address: str, content: bytes, user: str) -> Upload:
    """One UploadTrack: wall seconds, the track id it got, and "" or the error."""

    def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
        yield ingest_pb2.UploadTrackRequest(
            metadata=ingest_pb2.TrackMetadata(
                user_id=user, track_name=f"{user}.wav", size_bytes=len(content)
            )
        )
        for start in range(0, len(content), UPLOAD_MESSAGE_BYTES):
            yield ingest_pb2.UploadTrackRequest(chunk=content[start : start + UPLOAD_MESSAGE_BYTES])

    with grpc.insecure_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        started = time.perf_counter()
        try:
            receipt = stub.UploadTrack(requests(), timeout=600)
        except grpc.RpcError as err:
            elapsed = time.perf_counter() - started
            return Upload(elapsed, "", len(content), f"{err.code().name}: {err.details()}")
        elapsed = time.perf_counter() - started
    error = "" if receipt.size_bytes == len(content) else f"receipt says {receipt.size_bytes} B"
    return Upload(elapsed, receipt.track_id, len(content), error)


@contextmanager
def measured(processes: dict[str, int]) -> Iterator[dict[str, float]]:
    """CPU seconds each process spends inside the block (filled in when it ends)."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    spent: dict[str, float] = {}
    yield spent
    spent.update({name: cpu_seconds(pid) - before[name] for name, pid in processes.items()})


def run_ingest(
    proxy: Child,
    ingest: Ingest,
    others: dict[str, int],
    contents: list[bytes],
    name: str,
    *,
    streams: list[str],
    concurrency: int,
) -> Row:
    time.sleep(IDLE_BEFORE_RUN_S)  # a full shard budget at the start of every run
    before = proxy_counts(proxy)
    with measured({"ingest": ingest.pid, **others}) as cpu:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(
                pool.map(
                    lambda ic: upload(ingest.address, ic[1], f"bench-{ic[0]}"), enumerate(contents)
                )
            )
        seconds = time.perf_counter() - started
    after = proxy_counts(proxy)
    errors = sorted({r.error for r in results if r.error})
    placed = Counter[str]()
    for result in results:
        if result.track_id:
            placed[pick_stream(result.track_id, streams)] += result.size
    return Row(
        name=name,
        file_bytes=sum(len(c) for c in contents),
        seconds=seconds,
        records=after["records_in"] - before["records_in"],
        throttled=after["throttled_records"] - before["throttled_records"],
        bound_mib_s=shard_bound(list(placed.values()), ShardLimits()) if placed else 0.0,
        cpu_s=cpu,
        note=("FAILED: " + "; ".join(errors)) if errors else "",
    )


# -- the original producer ----------------------------------------------------------------------


def original_producer(kinesis: Any, stream: str, data: bytes, track_id: str) -> int:
    """The original design: gzip, base64 into JSON, one put_record per ~275 KB, 1.25 s apart."""
    text = base64.b64encode(gzip.compress(data)).decode("ascii")
    empty = {"track_id": track_id, "part": 0, "parts": 0, "data": ""}
    step = ORIGINAL_RECORD_BYTES - len(json.dumps(empty)) - 16  # room for the part numbers
    parts = [text[i : i + step] for i in range(0, len(text), step)]
    for i, part in enumerate(parts):
        if i:
            time.sleep(ORIGINAL_PAUSE_S)
        record = {"track_id": track_id, "part": i, "parts": len(parts), "data": part}
        kinesis.put_record(
            StreamName=stream, PartitionKey=track_id, Data=json.dumps(record).encode()
        )
    return len(parts)


def run_original(
    proxy: Child, stream: str, data: bytes, others: dict[str, int]
) -> tuple[Row, float]:
    settings = PipelineSettings(
        aws_endpoint_url=proxy.url,
        aws_access_key_id=SecretStr(LOCAL_KEY),
        aws_secret_access_key=SecretStr(LOCAL_KEY),
    )
    kinesis = aws_client("kinesis", settings)
    time.sleep(IDLE_BEFORE_RUN_S)
    before = proxy_counts(proxy)
    with measured(others) as cpu:
        started = time.perf_counter()
        records = original_producer(kinesis, stream, data, "trk_" + uuid.uuid4().hex)
        seconds = time.perf_counter() - started
    after = proxy_counts(proxy)
    ratio = len(gzip.compress(data)) / len(data)
    row = Row(
        name=f"original producer design, 1 track of {len(data) / MIB:.1f} MiB, one shard",
        file_bytes=len(data),
        seconds=seconds,
        records=records,
        throttled=after["throttled_records"] - before["throttled_records"],
        # The JSON it sends is base64 of gzip: ~4/3 of the gzipped bytes go through the shard.
        bound_mib_s=shard_bound([int(len(data) * ratio * 4 / 3)], ShardLimits()),
        cpu_s=cpu,
    )
    return row, ratio


# -- the report -----------------------------------------------------------------------------------


def _rate(value: float) -> str:
    return "not binding" if value == float("inf") else f"{value:.2f}"


def print_report(
    rows: list[Row], wide: Row, original: Row, gzip_ratio: float, args: argparse.Namespace
) -> None:
    limits = ShardLimits()
    shard_mib_s = limits.in_bytes_per_s / MIB
    print(f"## Ingest write throughput through the fault layer ({shard_mib_s:g} MiB/s per shard)\n")
    print(
        "| producer | file MiB | seconds | MiB/s | shard bound MiB/s | of bound | x original "
        "| records | throttled | note |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        failed = bool(row.note)
        share = (
            "-"
            if failed or row.bound_mib_s in (0.0, float("inf"))
            else f"{row.mib_s / row.bound_mib_s:.0%}"
        )
        times = (
            "1.0x"
            if row is original
            else ("-" if failed or original.mib_s <= 0 else f"{row.mib_s / original.mib_s:.1f}x")
        )
        print(
            f"| {row.name} | {row.mib:.2f} | {row.seconds:.2f} | "
            f"{'failed' if failed else f'{row.mib_s:.3f}'} | {_rate(row.bound_mib_s)} | {share} "
            f"| {times} | {row.records} | {row.throttled} | {row.note} |"
        )

    print("\n## CPU per MiB of file, per process (measured: /proc/<pid>/stat over each run)\n")
    processes = ["ingest", "fault layer", "moto", "bench (clients)"]
    print("| run | " + " | ".join(f"{p} ms/MiB" for p in processes) + " | all ms/MiB |")
    print("| --- | " + " | ".join("---:" for _ in processes) + " | ---: |")
    for row in rows:
        cells = [f"{row.cpu_ms_per_mib(p):.1f}" if p in row.cpu_s else "-" for p in processes]
        total = sum(row.cpu_ms_per_mib(p) for p in processes if p in row.cpu_s)
        print(f"| {row.name} | " + " | ".join(cells) + f" | {total:.1f} |")

    print("\n## Ingest's own CPU cost and what one core of it sustains\n")
    print("| run | ingest CPU s/MiB (measured) | MiB/s per core of ingest (derived) | x original |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        if "ingest" not in row.cpu_s or row.note:
            continue
        per_mib = row.cpu_s["ingest"] / row.mib
        per_core = 1 / per_mib if per_mib > 0 else float("inf")
        print(f"| {row.name} | {per_mib:.4f} | {per_core:.1f} | {per_core / original.mib_s:.0f}x |")

    ingest = IngestSettings()
    ceiling = (ORIGINAL_RECORD_BYTES / ORIGINAL_PAUSE_S) / MIB
    wide_cpu = sum(wide.cpu_s.values()) / wide.seconds if wide.seconds > 0 else 0.0
    print(
        "\nNotes:\n"
        "- measured: wall seconds, MiB/s, records and throttled entries (the fault layer's "
        "counters), CPU seconds of each process. Derived: 'shard bound' (from where each "
        "track's bytes went, by ingest's own routing hash, and the shard limits), 'of bound', "
        "the 'x original' ratios, and MiB/s per core of ingest = 1 / (ingest CPU s per MiB)\n"
        f"- the original sends at most {ORIGINAL_RECORD_BYTES} B per {ORIGINAL_PAUSE_S} s "
        f"= {ceiling:.3f} MiB/s of JSON (base64 of gzip, which shrank this WAV to "
        f"{gzip_ratio:.0%}), so it runs at ~{ceiling * 0.75 / gzip_ratio:.2f} MiB/s of file "
        f"whatever the shard; one shard's {shard_mib_s:g} MiB/s caps ingest on one shard near "
        f"{shard_mib_s / (ceiling * 0.75 / gzip_ratio):.1f}x it, past that only more shards help\n"
        f"- the wide run: {args.wide_uploads} uploads of {args.wide_mib:g} MiB, "
        f"{args.wide_concurrency} at a time, over {args.streams} one-shard streams; all processes "
        f"together used {wide_cpu:.2f} CPU s per wall second there, on a machine with "
        f"{os.cpu_count()} cores (shared with whatever else runs on it)\n"
        "- 'MiB/s per core of ingest' is what ingest's code path costs, not a wall measurement: "
        "on this machine ingest, moto and the fault layer (all Python, all base64 + JSON for "
        "every record) share the cores, so wall throughput is bound by their sum\n"
        f"- ingest settings: record data {ingest.record_data_bytes} B, batch <= "
        f"{ingest.batch_max_records} records / {ingest.batch_max_bytes} B, paced to "
        f"{ingest.shard_write_bytes_per_s / MIB:g} MiB/s and {ingest.shard_write_records_per_s:g} "
        f"records/s per shard less {ingest.shard_write_headroom:.0%} headroom after the first "
        f"second, put_max_attempts {ingest.put_max_attempts}, backoff "
        f"{ingest.put_base_delay_s}-{ingest.put_max_delay_s} s (full jitter), "
        f"put_max_total_s {ingest.put_max_total_s}\n"
        f"- shard budget: {limits.in_bytes_per_s / MIB:g} MiB/s, {limits.in_records_per_s:g} "
        f"records/s, bursts of {limits.burst_s:g} s; a fresh budget lets the first second "
        "through at once, which the bound counts\n"
        "- 'throttled' counts PutRecords entries refused per record "
        "(ProvisionedThroughputExceededException) and resent"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=float, default=16.0, help="size of the single upload")
    parser.add_argument(
        "--concurrent", type=int, default=4, help="concurrent uploads sharing one shard (0: skip)"
    )
    parser.add_argument(
        "--concurrent-mib", type=float, default=4.0, help="size of each concurrent upload"
    )
    parser.add_argument(
        "--streams", type=int, default=256, help="one-shard streams in the wide stream set"
    )
    parser.add_argument("--wide-uploads", type=int, default=128, help="uploads over the wide set")
    parser.add_argument("--wide-mib", type=float, default=1.0, help="size of each wide upload")
    parser.add_argument(
        "--wide-concurrency", type=int, default=16, help="wide uploads in flight at a time"
    )
    parser.add_argument(
        "--original-mib", type=float, default=1.5, help="data for the original design"
    )
    parser.add_argument("--child", choices=["emulator", "proxy"], help=argparse.SUPPRESS)
    parser.add_argument("--upstream", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_main(args.child, args.upstream)
        return

    single = wav_bytes(int(args.mib * MIB), seed=1)
    several = [
        wav_bytes(int(args.concurrent_mib * MIB), seed=100 + i) for i in range(args.concurrent)
    ]
    # Distinct bytes per wide upload without synthesizing each: windows of one longer WAV.
    wide_size = int(args.wide_mib * MIB)
    pool = wav_bytes(2 * wide_size, seed=300)
    shift = (len(pool) - wide_size) // max(args.wide_uploads, 1)
    wide = [pool[i * shift : i * shift + wide_size] for i in range(args.wide_uploads)]
    small = wav_bytes(int(args.original_mib * MIB), seed=7)

    rows: list[Row] = []
    with child("emulator") as emulator, child("proxy", emulator.url) as proxy:
        narrow_az = PipelineSettings(
            aws_endpoint_url=emulator.url,
            aws_access_key_id=SecretStr(LOCAL_KEY),
            aws_secret_access_key=SecretStr(LOCAL_KEY),
            availability_zone=NARROW_AZ,
        )
        wide_az = narrow_az.model_copy(update={"availability_zone": WIDE_AZ})
        provision(narrow_az, baseline_streams=1, shards=1)
        provision(wide_az, baseline_streams=args.streams, shards=1)
        one = [stream_name(narrow_az, 0)]
        many = [stream_name(wide_az, i) for i in range(args.streams)]
        aws: dict[str, int] = {
            "fault layer": proxy.pid,
            "moto": emulator.pid,
            "bench (clients)": os.getpid(),
        }
        with ingest_service(proxy.url, NARROW_AZ) as ingest:
            rows.append(
                run_ingest(
                    proxy,
                    ingest,
                    aws,
                    [single],
                    f"ingest, 1 upload of {args.mib:g} MiB, one shard",
                    streams=one,
                    concurrency=1,
                )
            )
            if args.concurrent > 0:
                rows.append(
                    run_ingest(
                        proxy,
                        ingest,
                        aws,
                        several,
                        f"ingest, {args.concurrent} concurrent uploads of "
                        f"{args.concurrent_mib:g} MiB, one shard",
                        streams=one,
                        concurrency=args.concurrent,
                    )
                )
        with ingest_service(proxy.url, WIDE_AZ) as ingest:
            wide_row = run_ingest(
                proxy,
                ingest,
                aws,
                wide,
                f"ingest, {args.wide_uploads} uploads of {args.wide_mib:g} MiB "
                f"({args.wide_concurrency} at a time) over {args.streams} shards",
                streams=many,
                concurrency=args.wide_concurrency,
            )
            rows.append(wide_row)
        original, gzip_ratio = run_original(proxy, one[0], small, aws)
        rows.append(original)
    print_report(rows, wide_row, original, gzip_ratio, args)


if __name__ == "__main__":
    main()
