"""How late does a WatchVerdicts subscriber hear of a verdict classify did not store itself?

Starts the AWS emulator (moto server, in this process) and a classify replica assembled as
``audioval_classify.server.serve`` assembles it with the dynamodb store (no validator pool:
no Ray), opens one WatchVerdicts stream and times, per verdict, the write until the watcher
receives it:

=============  ================================================================================
local          the replica's own path: conditional put, then publish (what ValidateTrack does);
               the baseline, measured in the same run
stream @ P s   the verdict written straight to the table with the rebuild worker's
               ``VerdictTable.put_first``; it arrives through the table's stream, followed with
               a poll interval of P seconds
=============  ================================================================================

Writes are spaced by a random pause (up to one poll interval, seeded) so they land at random
points of the follower's poll cycle, as real verdicts do. Prints p50 / p95 / max per path and
the ratio of each p50 to the local p50; asserts nothing.

Usage::

    uv run --frozen python bench/watch_latency.py                      # 20 each, poll 0.5 s
    uv run --frozen python bench/watch_latency.py --n 50 --poll 0.5 0.1 0.05
"""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import grpc

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.judge import TrackJudge
from audioval_classify.server import SERVICE_NAME
from audioval_classify.servicer import ClassifyServicer
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import VerdictBroadcaster
from audioval_classify.verdict_stream import VerdictStreamFollower
from audioval_localstack import Emulator, provision
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.verdict_table import VerdictTable
from audioval_servicekit import RunningServer, build_server

WAIT_S = 30.0


class Replica:
    """A classify replica with handles on its store and broadcaster, and one watcher."""

    def __init__(self, pipeline: PipelineSettings, poll_s: float) -> None:
        settings = ClassifySettings(
            port=0, store="dynamodb", pipeline=pipeline, stream_poll_interval_s=poll_s
        )
        dynamodb = aws_client("dynamodb", pipeline)
        self.store = DynamoVerdictStore(dynamodb, pipeline.verdict_table)
        self.table = VerdictTable(aws_client("dynamodb", pipeline), pipeline.verdict_table)
        self.broadcaster = VerdictBroadcaster(settings.watch_queue_size)
        self.follower = VerdictStreamFollower(
            dynamodb,
            aws_client("dynamodbstreams", pipeline),
            pipeline.verdict_table,
            self.broadcaster.publish,
            poll_interval_s=poll_s,
        ).start()
        servicer = ClassifyServicer(TrackJudge(self.store, self.broadcaster))
        self.server: RunningServer = build_server(
            settings,
            [lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, s)],
            [SERVICE_NAME],
        )
        if not self.follower.ready.wait(WAIT_S):
            raise RuntimeError("the stream follower did not start")
        self.arrivals: queue.Queue[tuple[str, float]] = queue.Queue()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self._call = classify_pb2_grpc.ClassifyServiceStub(self._channel).WatchVerdicts(
            classify_pb2.WatchVerdictsRequest()
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._await_subscription()

    def _read(self) -> None:
        try:
            for reply in self._call:
                self.arrivals.put((reply.verdict.track_id, time.perf_counter()))
        except grpc.RpcError:
            pass  # cancelled on close

    def _await_subscription(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            self.local(f"probe-{uuid.uuid4().hex}")
            try:
                self.arrivals.get(timeout=0.5)
            except queue.Empty:
                continue
            self._drain()
            return
        raise RuntimeError("the watcher never subscribed")

    def _drain(self) -> None:
        while True:
            try:
                self.arrivals.get_nowait()
            except queue.Empty:
                return

    def local(self, track_id: str) -> None:
        stored, new = self.store.put_if_absent(verdict_pb2.Verdict(track_id=track_id))
        if new:
            self.broadcaster.publish(stored)

    def direct(self, track_id: str) -> None:
        self.table.put_first(verdict_pb2.Verdict(track_id=track_id))

    def time_one(self, write: Callable[[str], None]) -> float:
        """Seconds from the write's start until the watcher has the verdict."""
        track_id = f"t-{uuid.uuid4().hex}"
        start = time.perf_counter()
        write(track_id)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            got, at = self.arrivals.get(timeout=WAIT_S)
            if got == track_id:
                return at - start
        raise RuntimeError(f"{track_id} never arrived")

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()
        self.follower.stop(5.0)
        self.broadcaster.close()
        self.server.stop(0)


def measure(
    replica: Replica, write: Callable[[str], None], n: int, pause_s: float, rng: random.Random
) -> list[float]:
    times = []
    for _ in range(n):
        time.sleep(rng.uniform(0, pause_s))  # a random phase of the follower's poll cycle
        times.append(replica.time_one(write))
    return times


def _row(name: str, times: Sequence[float], baseline_p50: float) -> str:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name:<16} | {len(ordered):>3} | {p50 * 1000:>8.1f} | {p95 * 1000:>8.1f} "
        f"| {ordered[-1] * 1000:>8.1f} | {p50 / baseline_p50:>8.1f} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="verdicts per path")
    parser.add_argument(
        "--poll",
        type=float,
        nargs="+",
        default=[ClassifySettings().stream_poll_interval_s],
        help="stream poll intervals to measure, seconds (default: classify's default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows: list[tuple[str, list[float]]] = []
    with Emulator() as emulator:
        for index, poll_s in enumerate(args.poll):
            pipeline = PipelineSettings(
                aws_endpoint_url=emulator.endpoint_url,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                verdict_table=f"verdicts-{index}",
            )
            provision(pipeline, baseline_streams=1)
            replica = Replica(pipeline, poll_s)
            try:
                if index == 0:
                    rows.append(("local", measure(replica, replica.local, args.n, poll_s, rng)))
                rows.append(
                    (
                        f"stream @ {poll_s:g} s",
                        measure(replica, replica.direct, args.n, poll_s, rng),
                    )
                )
            finally:
                replica.close()
    baseline = statistics.median(rows[0][1])
    print("| path             |   n |   p50 ms |   p95 ms |   max ms |  x local |")
    print("| ---------------- | --: | -------: | -------: | -------: | -------: |")
    for name, times in rows:
        print(_row(name, times, baseline))


if __name__ == "__main__":
    main()
