"""WatchVerdicts hears of every stored verdict: classify follows the verdict table's stream.

Real moto server, real classify servers (``validate=False``: no Ray), verdicts written the way
the rebuild worker and other replicas write them.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
import numpy as np
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_classify.dynamo_store import DynamoVerdictStore
from audioval_classify.judge import TrackJudge
from audioval_classify.server import SERVICE_NAME, serve
from audioval_classify.servicer import ClassifyServicer
from audioval_classify.settings import ClassifySettings
from audioval_classify.store import VerdictBroadcaster
from audioval_classify.verdict_stream import VerdictStreamFollower
from audioval_localstack import Emulator, provision
from audioval_localstack.ray_head import RayHead
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.verdict_table import VerdictTable
from audioval_servicekit import RunningServer, build_server

WAIT_S = 15.0
_probe_numbers = itertools.count()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def pipeline(emulator: Emulator) -> PipelineSettings:
    """The pipeline's resources with a verdict table of this test's own (moto's state is
    shared by the whole process)."""
    settings = PipelineSettings(
        aws_endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        verdict_table=f"verdicts-{uuid.uuid4().hex[:12]}",
    )
    provision(settings, baseline_streams=1)
    return settings


def _settings(pipeline: PipelineSettings, **overrides: Any) -> ClassifySettings:
    return ClassifySettings(
        port=0,
        store="dynamodb",
        pipeline=pipeline,
        stream_poll_interval_s=0.05,
        stream_max_backoff_s=0.2,
        **overrides,
    )


@pytest.fixture
def table(pipeline: PipelineSettings) -> VerdictTable:
    """The verdict table as the rebuild worker writes it."""
    return VerdictTable(aws_client("dynamodb", pipeline), pipeline.verdict_table)


@pytest.fixture
def replica(pipeline: PipelineSettings) -> Iterator[RunningServer]:
    running = serve(_settings(pipeline), validate=False)
    yield running
    running.stop(0)


def _verdict(track_id: str, user_id: str = "alice") -> verdict_pb2.Verdict:
    return verdict_pb2.Verdict(
        track_id=track_id,
        user_id=user_id,
        decision=verdict_pb2.DECISION_REJECT,
        label=verdict_pb2.LABEL_MOCK,
        score=1.0,
        findings=[verdict_pb2.Finding(code="integrity.hash_mismatch", message="bytes differ")],
        model_version="test",
    )


class Watch:
    """A WatchVerdicts call read by a thread into a queue."""

    PROBE = "probe-"

    def __init__(self, port: int, request: classify_pb2.WatchVerdictsRequest) -> None:
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._call = classify_pb2_grpc.ClassifyServiceStub(self._channel).WatchVerdicts(
            request, timeout=60
        )
        self.received: queue.Queue[verdict_pb2.Verdict | grpc.RpcError] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for reply in self._call:
                self.received.put(reply.verdict)
        except grpc.RpcError as err:
            self.received.put(err)

    def next(self, timeout: float = WAIT_S) -> verdict_pb2.Verdict:
        """The next verdict that is not a probe."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.received.get(timeout=max(deadline - time.monotonic(), 0.01))
            if isinstance(item, grpc.RpcError):
                raise item
            if not item.track_id.startswith(self.PROBE):
                return item

    def nothing_more(self) -> list[verdict_pb2.Verdict]:
        """What is queued now, probes left out (for 'not twice' checks after a marker)."""
        items = []
        while True:
            try:
                item = self.received.get_nowait()
            except queue.Empty:
                return items
            if isinstance(item, verdict_pb2.Verdict) and not item.track_id.startswith(self.PROBE):
                items.append(item)

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()


def probe_ids(n: int = 200) -> list[str]:
    start = next(_probe_numbers) * n
    return [f"{Watch.PROBE}{uuid.uuid4().hex[:6]}-{i}" for i in range(start, start + n)]


def wait_subscribed(
    watch: Watch, probes: Sequence[str], write: Callable[[verdict_pb2.Verdict], object]
) -> None:
    """Store probe verdicts until one reaches the watcher: from then on it is subscribed."""
    deadline = time.monotonic() + WAIT_S
    for probe in probes:
        write(_verdict(probe))
        try:
            item = watch.received.get(timeout=0.3)
        except queue.Empty:
            if time.monotonic() > deadline:
                break
            continue
        if isinstance(item, grpc.RpcError):
            raise item
        return
    raise AssertionError("the watcher never saw a probe verdict")


def test_a_verdict_the_rebuild_worker_stores_reaches_a_watcher_of_its_user(
    replica: RunningServer, table: VerdictTable
) -> None:
    watch = Watch(replica.port, classify_pb2.WatchVerdictsRequest(user_id="alice"))
    try:
        wait_subscribed(watch, probe_ids(), table.put_first)
        assert table.put_first(_verdict("bob-1", user_id="bob"))
        assert table.put_first(_verdict("rebuilt-1"))
        got = watch.next()
        assert got == _verdict("rebuilt-1")  # bob's verdict was filtered out, alice's arrived
    finally:
        watch.close()


def test_a_watcher_of_some_tracks_gets_only_those(
    replica: RunningServer, table: VerdictTable
) -> None:
    probes = probe_ids()
    wanted = ["wanted-1", "wanted-2"]
    watch = Watch(replica.port, classify_pb2.WatchVerdictsRequest(track_ids=[*wanted, *probes]))
    try:
        wait_subscribed(watch, probes, table.put_first)
        for track in ("other-1", "wanted-1", "other-2", "wanted-2"):
            table.mark_pending(track, "alice")  # ingest's pending item: not a verdict
            assert table.put_first(_verdict(track))
        assert [watch.next().track_id, watch.next().track_id] == wanted
    finally:
        watch.close()


def test_a_verdict_another_replica_stores_reaches_this_replicas_watcher(
    pipeline: PipelineSettings, replica: RunningServer
) -> None:
    other = serve(_settings(pipeline), validate=False)
    # The other replica's own view of the table: the store ValidateTrack writes through.
    other_store = DynamoVerdictStore(aws_client("dynamodb", pipeline), pipeline.verdict_table)
    watch = Watch(replica.port, classify_pb2.WatchVerdictsRequest())
    try:
        wait_subscribed(watch, probe_ids(), other_store.put_if_absent)
        stored, new = other_store.put_if_absent(_verdict("judged-elsewhere"))
        assert new
        assert watch.next() == stored
    finally:
        watch.close()
        other.stop(0)


def test_a_moderators_decision_reaches_a_watcher_that_had_the_review_verdict(
    replica: RunningServer, table: VerdictTable
) -> None:
    """The review console's write (a supersede with the lease released, in one transaction)
    reaches watchers through the stream, though the track's first verdict was sent already."""
    watch = Watch(replica.port, classify_pb2.WatchVerdictsRequest())
    try:
        wait_subscribed(watch, probe_ids(), table.put_first)
        review = _verdict("held-1")
        review.decision = verdict_pb2.DECISION_REVIEW
        assert table.put_first(review)
        assert watch.next() == review
        decided = verdict_pb2.Verdict()
        decided.CopyFrom(review)
        decided.decision = verdict_pb2.DECISION_ACCEPT
        assert table.lease("held-1", "alice", ttl_s=60) is not None
        assert table.decide(decided, replaces=review, moderator="alice", reason="a cut upload")
        assert watch.next() == decided
        assert table.put_first(_verdict("marker-2"))
        assert watch.next().track_id == "marker-2"
        assert watch.nothing_more() == []  # each once
    finally:
        watch.close()


def test_a_superseding_verdict_is_published_once_though_the_stream_brings_it_back() -> None:
    broadcaster = VerdictBroadcaster(queue_size=8)
    first, second = _verdict("t-1"), _verdict("t-1")
    second.decision = verdict_pb2.DECISION_ACCEPT
    assert broadcaster.publish(first)
    assert not broadcaster.publish(first)
    assert broadcaster.publish(second, supersedes=True)  # what a re-scan does
    assert not broadcaster.publish(second, supersedes=True)  # the stream's copy of it


def test_a_verdict_published_locally_is_not_delivered_again_by_the_stream(
    pipeline: PipelineSettings,
) -> None:
    """The servicer's path (conditional put, then publish) plus the stream's copy: once."""
    dynamodb = aws_client("dynamodb", pipeline)
    store = DynamoVerdictStore(dynamodb, pipeline.verdict_table)
    broadcaster = VerdictBroadcaster(queue_size=64)
    follower = VerdictStreamFollower(
        dynamodb,
        aws_client("dynamodbstreams", pipeline),
        pipeline.verdict_table,
        broadcaster.publish,
        poll_interval_s=0.05,
    ).start()
    servicer = ClassifyServicer(TrackJudge(store, broadcaster))
    running = build_server(
        _settings(pipeline),
        [lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, s)],
        [SERVICE_NAME],
    )
    running.on_shutdown += [lambda: follower.stop(5.0), broadcaster.close]
    watch = Watch(running.port, classify_pb2.WatchVerdictsRequest())
    try:
        assert follower.ready.wait(WAIT_S)
        wait_subscribed(watch, probe_ids(), store.put_if_absent)
        stored, new = store.put_if_absent(_verdict("judged-here"))
        assert new
        # What ValidateTrack does. The follower polls every 50 ms and may bring the stream's
        # copy first; either way the verdict is delivered once and the other copy dropped.
        published_here = broadcaster.publish(stored)
        assert watch.next() == stored
        # The stream is ordered: once a later verdict arrives through it, the stream's copy
        # of the first has been read too, and dropped if it came second.
        assert store.put_if_absent(_verdict("marker"))[1]
        assert watch.next().track_id == "marker"
        assert watch.nothing_more() == []
        assert not published_here or follower.stats.duplicates >= 1
    finally:
        watch.close()
        running.stop(0)
    assert not follower.running


@pytest.mark.slow
def test_validate_track_publishes_a_verdict_once_though_the_stream_brings_it_back(
    pipeline: PipelineSettings, table: VerdictTable, ray_cluster: RayHead
) -> None:
    running = serve(_settings(pipeline, pool_size=1, ray_address=ray_cluster.address))
    watch = Watch(running.port, classify_pb2.WatchVerdictsRequest(user_id="alice"))
    try:
        wait_subscribed(watch, probe_ids(), table.put_first)
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            reply = classify_pb2_grpc.ClassifyServiceStub(channel).ValidateTrack(
                classify_pb2.ValidateTrackRequest(
                    track_id="validated-here",
                    user_id="alice",
                    content=np.random.default_rng(7).bytes(4000),
                ),
                timeout=120,
            )
        assert watch.next() == reply.verdict
        # The stream is ordered: a later verdict arriving through it means the stream's copy
        # of ValidateTrack's verdict was read, and dropped.
        assert table.put_first(_verdict("marker"))
        assert watch.next().track_id == "marker"
        assert watch.nothing_more() == []
    finally:
        watch.close()
        running.stop(0)


class FlakyStreams:
    """The real DynamoDB Streams client, with GetRecords failing while ``broken`` is set or
    raising queued errors first."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.exceptions = real.exceptions
        self.broken = threading.Event()
        self.queued: queue.Queue[Exception] = queue.Queue()
        self.failed = 0
        self.failed_event = threading.Condition()
        self.iterator_types: list[str] = []

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        self.iterator_types.append(kwargs["ShardIteratorType"])
        return self._real.get_shard_iterator(**kwargs)

    def get_records(self, **kwargs: Any) -> Any:
        error: Exception | None = None
        try:
            error = self.queued.get_nowait()
        except queue.Empty:
            if self.broken.is_set():
                error = EndpointConnectionError(endpoint_url="http://127.0.0.1:9/broken")
        if error is not None:
            with self.failed_event:
                self.failed += 1
                self.failed_event.notify_all()
            raise error
        return self._real.get_records(**kwargs)

    def wait_failed(self, count: int) -> None:
        with self.failed_event:
            assert self.failed_event.wait_for(lambda: self.failed >= count, timeout=WAIT_S)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, "GetRecords")


def test_the_follower_survives_stream_read_errors_and_loses_nothing(
    pipeline: PipelineSettings, table: VerdictTable
) -> None:
    streams = aws_client("dynamodbstreams", pipeline)
    flaky = FlakyStreams(streams)
    running = serve(_settings(pipeline), dynamodbstreams=flaky, validate=False)
    watch = Watch(running.port, classify_pb2.WatchVerdictsRequest())
    try:
        wait_subscribed(watch, probe_ids(), table.put_first)
        # The endpoint goes away; a verdict is stored while the follower cannot read.
        flaky.broken.set()
        flaky.wait_failed(2)
        assert table.put_first(_verdict("during-outage"))
        flaky.wait_failed(flaky.failed + 1)
        flaky.broken.clear()
        assert watch.next().track_id == "during-outage"
        # Throttling, then an expired iterator (renewed after the last record read).
        for error in (
            _client_error("LimitExceededException"),
            streams.exceptions.ExpiredIteratorException(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "injected"}},
                "GetRecords",
            ),
        ):
            flaky.queued.put(error)
        before = flaky.failed
        flaky.wait_failed(before + 2)
        assert table.put_first(_verdict("after-renewal"))
        assert watch.next().track_id == "after-renewal"
        assert watch.nothing_more() == []
        # Started at LATEST, renewed right after the last record read (no replay, no gap).
        assert flaky.iterator_types == ["LATEST", "AFTER_SEQUENCE_NUMBER"]
    finally:
        watch.close()
        running.stop(0)


def _follower_threads(table: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"verdict-stream-{table}"]


def test_shutdown_stops_the_follower_thread(pipeline: PipelineSettings) -> None:
    running = serve(_settings(pipeline), validate=False)
    (thread,) = _follower_threads(pipeline.verdict_table)
    assert thread.is_alive()
    running.stop(0)
    # stop() waits for the thread (bounded): when it returns the thread is gone.
    assert not thread.is_alive()
    assert _follower_threads(pipeline.verdict_table) == []


def test_stop_waits_a_bounded_time_for_a_follower_stuck_in_a_call(
    pipeline: PipelineSettings,
) -> None:
    streams = aws_client("dynamodbstreams", pipeline)
    release = threading.Event()
    entered = threading.Event()

    class StuckStreams(FlakyStreams):
        def get_records(self, **kwargs: Any) -> Any:
            entered.set()
            release.wait(WAIT_S)
            return streams.get_records(**kwargs)

    dynamodb = aws_client("dynamodb", pipeline)
    follower = VerdictStreamFollower(
        dynamodb, StuckStreams(streams), pipeline.verdict_table, lambda v: True
    ).start()
    try:
        assert entered.wait(WAIT_S)
        assert follower.stop(timeout_s=0.2) is False  # still inside GetRecords
        assert follower.running
        release.set()
    finally:
        release.set()
    assert follower.stop(timeout_s=WAIT_S)
    assert not follower.running
