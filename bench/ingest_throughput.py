"""How fast does ingest write an upload into one Kinesis shard, next to the limit and the original?

One run, one emulator, one one-shard stream, and the fault layer (``FaultProxy``) in front of it
enforcing Kinesis' per-shard limits (1 MiB/s and 1,000 records/s in; a full shard budget holds
one second's worth) and injecting nothing. Measured:

1. the real ingest service (``python -m audioval_ingest`` with its default settings, talking to
   the proxy): wall time of ``UploadTrack`` from the first request to the receipt (every byte
   in Kinesis, the pending item and the manifest written), for one large upload and then for
   several concurrent ones sharing the shard;
2. the ORIGINAL producer design, rebuilt: gzip the data, base64 it into JSON, and send ~275 KB
   JSON records one ``put_record`` at a time with a 1.25 s sleep between them (slow by design:
   it runs on a small amount of data).

Throughput is bytes of the uploaded file per second (MiB/s). "of limit" is that over the
shard's 1 MiB/s. Before each measurement the shard is left idle for two seconds, so every run
starts with a full budget. Prints markdown tables; asserts nothing.

Usage::

    uv run --frozen python bench/ingest_throughput.py
    uv run --frozen python bench/ingest_throughput.py --mib 32 --concurrent 4 --original-mib 2
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
import soundfile as sf
from pydantic import SecretStr

from audiomodel.corpus.samples import synth_music
from audioval.v1 import ingest_pb2, ingest_pb2_grpc
from audioval_cli.stack import stop_processes, wait_serving
from audioval_ingest.settings import IngestSettings
from audioval_localstack import Emulator, free_port, provision, stream_name
from audioval_localstack.faults import MIB, FaultProxy, ShardLimits
from audioval_servicekit import PipelineSettings, aws_client

LOCAL_KEY = "testing"
ORIGINAL_RECORD_BYTES = 275_000
ORIGINAL_PAUSE_S = 1.25
UPLOAD_MESSAGE_BYTES = 1024 * 1024  # what `audioval upload` sends per request
IDLE_BEFORE_RUN_S = 2.0


@dataclass
class Row:
    name: str
    file_bytes: int
    seconds: float
    records: int
    throttled: int
    note: str = ""
    shards: int = 1  # shards the row could write to: its limit is this many times one shard's

    @property
    def mib_s(self) -> float:
        return self.file_bytes / MIB / self.seconds if self.seconds > 0 else 0.0


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


@contextmanager
def ingest_service(endpoint: str) -> Iterator[str]:
    """``python -m audioval_ingest`` on a free port, talking to ``endpoint``; yields its address."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "AUDIOVAL_AWS_ENDPOINT_URL": endpoint,
            "AUDIOVAL_AWS_ACCESS_KEY_ID": LOCAL_KEY,
            "AUDIOVAL_AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
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
        yield f"127.0.0.1:{port}"
    finally:
        stop_processes({"ingest": process})


def upload(address: str, content: bytes, user: str) -> tuple[float, str]:
    """Wall seconds of one UploadTrack, and "" or the error."""

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
            return time.perf_counter() - started, f"{err.code().name}: {err.details()}"
        elapsed = time.perf_counter() - started
    if receipt.size_bytes != len(content):
        return elapsed, f"receipt says {receipt.size_bytes} bytes"
    return elapsed, ""


def run_ingest(
    proxy: FaultProxy, address: str, contents: list[bytes], name: str, shards: int = 1
) -> Row:
    time.sleep(IDLE_BEFORE_RUN_S)  # a full shard budget at the start of every run
    before = proxy.stats()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(contents)) as pool:
        results = list(
            pool.map(lambda ic: upload(address, ic[1], f"bench-{ic[0]}"), enumerate(contents))
        )
    seconds = time.perf_counter() - started
    after = proxy.stats()
    errors = sorted({e for _, e in results if e})
    return Row(
        name=name,
        file_bytes=sum(len(c) for c in contents),
        seconds=seconds,
        records=after.records_in - before.records_in,
        throttled=after.throttled_records - before.throttled_records,
        note=("FAILED: " + "; ".join(errors)) if errors else "",
        shards=shards,
    )


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


def run_original(proxy: FaultProxy, stream: str, data: bytes) -> tuple[Row, float]:
    settings = PipelineSettings(
        aws_endpoint_url=proxy.endpoint_url,
        aws_access_key_id=SecretStr(LOCAL_KEY),
        aws_secret_access_key=SecretStr(LOCAL_KEY),
    )
    kinesis = aws_client("kinesis", settings)
    time.sleep(IDLE_BEFORE_RUN_S)
    before = proxy.stats()
    started = time.perf_counter()
    records = original_producer(kinesis, stream, data, "trk_" + uuid.uuid4().hex)
    seconds = time.perf_counter() - started
    after = proxy.stats()
    ratio = len(gzip.compress(data)) / len(data)
    row = Row(
        name=f"original producer design, 1 track of {len(data) / MIB:.1f} MiB",
        file_bytes=len(data),
        seconds=seconds,
        records=records,
        throttled=after.throttled_records - before.throttled_records,
    )
    return row, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=float, default=16.0, help="size of the single upload")
    parser.add_argument(
        "--concurrent", type=int, default=4, help="concurrent uploads sharing the shard (0: skip)"
    )
    parser.add_argument(
        "--concurrent-mib", type=float, default=4.0, help="size of each concurrent upload"
    )
    parser.add_argument(
        "--original-mib", type=float, default=1.5, help="data for the original design"
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=1,
        help="one-shard streams in the stream set (the concurrent uploads spread over them)",
    )
    args = parser.parse_args()

    limits = ShardLimits()
    single = wav_bytes(int(args.mib * MIB), seed=1)
    several = [
        wav_bytes(int(args.concurrent_mib * MIB), seed=100 + i) for i in range(args.concurrent)
    ]
    small = wav_bytes(int(args.original_mib * MIB), seed=7)
    rows: list[Row] = []
    with Emulator() as emulator:
        direct = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr(LOCAL_KEY),
            aws_secret_access_key=SecretStr(LOCAL_KEY),
        )
        provision(direct, baseline_streams=args.streams, shards=1)
        stream = stream_name(direct, 0)
        with FaultProxy(emulator.endpoint_url, enforce_limits=True, limits=limits) as proxy:
            with ingest_service(proxy.endpoint_url) as address:
                rows.append(
                    run_ingest(proxy, address, [single], f"ingest, 1 upload of {args.mib:g} MiB")
                )
                if args.concurrent > 0:
                    rows.append(
                        run_ingest(
                            proxy,
                            address,
                            several,
                            f"ingest, {args.concurrent} concurrent uploads of "
                            f"{args.concurrent_mib:g} MiB"
                            + (f" over {args.streams} shards" if args.streams > 1 else ""),
                            shards=min(args.streams, args.concurrent),
                        )
                    )
            original, gzip_ratio = run_original(proxy, stream, small)
            rows.append(original)

    shard_mib_s = limits.in_bytes_per_s / MIB
    print(f"## Ingest write throughput into one Kinesis shard (limit {shard_mib_s:g} MiB/s)\n")
    print(
        "| producer | file MiB | seconds | MiB/s | of limit (shards x 1 MiB/s) | records "
        "| throttled | note |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        rate, share = (
            ("failed", "-")
            if row.note
            else (f"{row.mib_s:.3f}", f"{row.mib_s / (shard_mib_s * row.shards):.0%}")
        )
        print(
            f"| {row.name} | {row.file_bytes / MIB:.2f} | {row.seconds:.2f} | {rate} | {share} "
            f"| {row.records} | {row.throttled} | {row.note} |"
        )
    print()
    for row in rows[:-1]:
        if not row.note and original.mib_s > 0:
            print(
                f"- {row.name} / original: **{row.mib_s / original.mib_s:.1f}x** "
                f"({row.mib_s:.3f} vs {original.mib_s:.3f} MiB/s of file)"
            )
    ingest = IngestSettings()
    ceiling = (ORIGINAL_RECORD_BYTES / ORIGINAL_PAUSE_S) / MIB
    print(
        "\nNotes:\n"
        f"- the original sends at most {ORIGINAL_RECORD_BYTES} B per {ORIGINAL_PAUSE_S} s "
        f"= {ceiling:.3f} MiB/s of JSON (base64 of gzip, which shrank this WAV to "
        f"{gzip_ratio:.0%}), so one shard's {shard_mib_s:g} MiB/s caps the ratio near "
        f"{shard_mib_s / (ceiling * 0.75 / gzip_ratio):.1f}x; past that only more shards help\n"
        f"- ingest settings: record data {ingest.record_data_bytes} B, batch <= "
        f"{ingest.batch_max_records} records / {ingest.batch_max_bytes} B, put_max_attempts "
        f"{ingest.put_max_attempts}, backoff {ingest.put_base_delay_s}-{ingest.put_max_delay_s} s "
        f"(full jitter), put_max_total_s {ingest.put_max_total_s}\n"
        f"- shard budget: {limits.in_bytes_per_s / MIB:g} MiB/s, {limits.in_records_per_s:g} "
        f"records/s, bursts of {limits.burst_s:g} s; a fresh budget lets the first second "
        "through at once, so short uploads can beat 100%\n"
        "- 'throttled' counts PutRecords entries refused per record "
        "(ProvisionedThroughputExceededException) and resent"
    )


if __name__ == "__main__":
    main()
