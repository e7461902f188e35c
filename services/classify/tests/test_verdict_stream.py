"""The stream follower's protocol: shard lineage, trimmed positions, a stream turned on late,
and the broadcaster's window of recently published tracks.

moto keeps one shard per table open forever, so shards that close and split are scripted here
with a small in-memory stream speaking the DynamoDB Streams calls the follower makes; the rest
runs against the real moto server.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audioval.v1 import verdict_pb2
from audioval_classify.store import VerdictBroadcaster
from audioval_classify.verdict_stream import VerdictStreamFollower
from audioval_localstack import Emulator
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.verdict_table import VerdictTable

WAIT_S = 10.0
ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/verdicts/stream/label"


class _ExpiredIteratorError(ClientError):
    pass


class _TrimmedDataError(ClientError):
    pass


class _Exceptions:
    ExpiredIteratorException = _ExpiredIteratorError
    TrimmedDataAccessException = _TrimmedDataError


def _item(track_id: str, state: str = "judged") -> dict[str, Any]:
    item: dict[str, Any] = {"track_id": {"S": track_id}, "state": {"S": state}}
    if state == "judged":
        verdict = verdict_pb2.Verdict(track_id=track_id, user_id="alice")
        item["verdict"] = {"B": verdict.SerializeToString()}
    return item


class ScriptedStream:
    """Shards that close and split on demand; DescribeStream answers one shard per page."""

    exceptions = _Exceptions

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.shards: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.iterator_types: list[tuple[str, str]] = []
        self.trim_next_resume = False
        self.expire_next_read = False
        self._sequence = 100

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        with self._lock:
            shard: dict[str, Any] = {
                "ShardId": shard_id,
                "SequenceNumberRange": {"StartingSequenceNumber": str(self._sequence)},
            }
            if parent:
                shard["ParentShardId"] = parent
            self.shards.append(shard)
            self.records[shard_id] = []

    def put(self, shard_id: str, item: dict[str, Any], event: str = "MODIFY") -> None:
        with self._lock:
            self._sequence += 1
            self.records[shard_id].append(
                {
                    "eventName": event,
                    "dynamodb": {"NewImage": item, "SequenceNumber": str(self._sequence)},
                }
            )

    def close(self, shard_id: str) -> None:
        with self._lock:
            shard = next(s for s in self.shards if s["ShardId"] == shard_id)
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = str(self._sequence)

    def _closed(self, shard_id: str) -> bool:
        shard = next(s for s in self.shards if s["ShardId"] == shard_id)
        return "EndingSequenceNumber" in shard["SequenceNumberRange"]

    # -- the calls the follower makes --------------------------------------------------------

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        after = request.get("ExclusiveStartShardId")
        with self._lock:
            ids = [s["ShardId"] for s in self.shards]
            at = ids.index(after) + 1 if after else 0
            page = [
                dict(s, SequenceNumberRange=dict(s["SequenceNumberRange"]))
                for s in self.shards[at : at + 1]
            ]
            description: dict[str, Any] = {"StreamArn": request["StreamArn"], "Shards": page}
            if at + 1 < len(ids):
                description["LastEvaluatedShardId"] = ids[at]
            return {"StreamDescription": description}

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        shard_id, kind = request["ShardId"], request["ShardIteratorType"]
        with self._lock:
            self.iterator_types.append((shard_id, kind))
            records = self.records[shard_id]
            if kind == "AFTER_SEQUENCE_NUMBER" and self.trim_next_resume:
                self.trim_next_resume = False
                raise _TrimmedDataError(
                    {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}},
                    "GetShardIterator",
                )
            if kind == "TRIM_HORIZON":
                position = 0
            elif kind == "LATEST":
                position = len(records)
            else:
                position = next(
                    i + 1
                    for i, r in enumerate(records)
                    if r["dynamodb"]["SequenceNumber"] == request["SequenceNumber"]
                )
            return {"ShardIterator": f"{shard_id}|{position}"}

    def get_records(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            if self.expire_next_read:
                self.expire_next_read = False
                raise _ExpiredIteratorError(
                    {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}},
                    "GetRecords",
                )
            shard_id, position = request["ShardIterator"].rsplit("|", 1)
            limit = request["Limit"]
            records = self.records[shard_id][int(position) : int(position) + limit]
            end = int(position) + len(records)
            answer: dict[str, Any] = {"Records": records}
            if not (self._closed(shard_id) and end == len(self.records[shard_id])):
                answer["NextShardIterator"] = f"{shard_id}|{end}"
            return answer


class Table:
    """DescribeTable of a table whose stream is ``ARN``."""

    def describe_table(self, **request: Any) -> dict[str, Any]:
        return {
            "Table": {
                "TableName": request["TableName"],
                "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                "LatestStreamArn": ARN,
            }
        }


class Published:
    """A publish callable that remembers what it was given, in order."""

    def __init__(self) -> None:
        self.tracks: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, verdict: verdict_pb2.Verdict) -> bool:
        with self._changed:
            if verdict.track_id in self.tracks:
                return False
            self.tracks.append(verdict.track_id)
            self._changed.notify_all()
            return True

    def wait_for(self, count: int) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.tracks) >= count, timeout=WAIT_S), (
                self.tracks
            )
            return list(self.tracks)


@pytest.fixture
def stream() -> ScriptedStream:
    return ScriptedStream()


@pytest.fixture
def published() -> Published:
    return Published()


def _follow(stream: ScriptedStream, published: Published) -> VerdictStreamFollower:
    return VerdictStreamFollower(
        Table(), stream, "verdicts", published, poll_interval_s=0.02, shard_refresh_s=0.0
    ).start()


def test_closed_shards_then_their_children_are_read_in_order(
    stream: ScriptedStream, published: Published
) -> None:
    stream.add_shard("old")
    stream.put("old", _item("history"))
    stream.close("old")
    stream.add_shard("a", parent="old")
    stream.put("a", _item("before-start"))
    follower = _follow(stream, published)
    try:
        assert follower.ready.wait(WAIT_S)
        stream.put("a", _item("pending-1", state="pending"), event="INSERT")
        stream.put("a", _item("v1"))
        assert published.wait_for(1) == ["v1"]
        # The child is listed before its parent closes: it waits for the parent's last record.
        stream.add_shard("b", parent="a")
        stream.put("b", _item("v3"))
        stream.put("a", _item("v2"))
        stream.close("a")
        assert published.wait_for(3) == ["v1", "v2", "v3"]
        stream.put("b", _item("v4"))
        assert published.wait_for(4) == ["v1", "v2", "v3", "v4"]
    finally:
        assert follower.stop(WAIT_S)
    # The open shard from LATEST, the closed history never, the child from its start.
    assert stream.iterator_types == [("a", "LATEST"), ("b", "TRIM_HORIZON")]
    assert follower.stats.errors == 0


def test_a_trimmed_position_restarts_at_the_oldest_record(
    stream: ScriptedStream, published: Published
) -> None:
    stream.add_shard("a")
    follower = _follow(stream, published)
    try:
        assert follower.ready.wait(WAIT_S)
        stream.put("a", _item("v1"))
        published.wait_for(1)
        stream.expire_next_read = True
        stream.trim_next_resume = True
        stream.put("a", _item("v2"))
        assert published.wait_for(2) == ["v1", "v2"]
    finally:
        assert follower.stop(WAIT_S)
    assert stream.iterator_types == [
        ("a", "LATEST"),
        ("a", "AFTER_SEQUENCE_NUMBER"),
        ("a", "TRIM_HORIZON"),
    ]
    assert follower.stats.duplicates == 1  # v1 again, from the horizon: dropped by publish


def test_a_shard_that_opens_after_the_start_is_read_from_its_beginning(
    stream: ScriptedStream, published: Published
) -> None:
    follower = _follow(stream, published)
    try:
        assert follower.ready.wait(WAIT_S)  # no shard yet
        stream.add_shard("a")
        stream.put("a", _item("v1"))
        assert published.wait_for(1) == ["v1"]
    finally:
        assert follower.stop(WAIT_S)
    assert stream.iterator_types == [("a", "TRIM_HORIZON")]


def test_broadcaster_drops_a_second_copy_and_forgets_beyond_its_window() -> None:
    broadcaster = VerdictBroadcaster(queue_size=16, recent_tracks=2)
    with broadcaster.subscribe() as inbox:
        assert broadcaster.publish(verdict_pb2.Verdict(track_id="t1"))
        assert not broadcaster.publish(verdict_pb2.Verdict(track_id="t1"))
        assert broadcaster.publish(verdict_pb2.Verdict(track_id="t2"))
        assert broadcaster.publish(verdict_pb2.Verdict(track_id="t3"))  # t1 leaves the window
        assert broadcaster.publish(verdict_pb2.Verdict(track_id="t1"))
        received = [inbox.get_nowait() for _ in range(inbox.qsize())]
    assert [v.track_id for v in received if isinstance(v, verdict_pb2.Verdict)] == [
        "t1",
        "t2",
        "t3",
        "t1",
    ]


def _verdict_table(emulator: Emulator, *, stream: bool) -> tuple[PipelineSettings, Any]:
    """A fresh verdict table on the emulator (its stream on or off) and a client for it."""
    settings = PipelineSettings(
        aws_endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        verdict_table=f"verdicts-{uuid.uuid4().hex[:12]}",
    )
    dynamodb = aws_client("dynamodb", settings)
    extra: dict[str, Any] = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
        if stream
        else {}
    )
    dynamodb.create_table(
        TableName=settings.verdict_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "track_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "track_id", "KeyType": "HASH"}],
        **extra,
    )
    return settings, dynamodb


def test_a_table_whose_stream_is_turned_on_late_is_followed_once_it_is() -> None:
    with Emulator() as emulator:
        settings, dynamodb = _verdict_table(emulator, stream=False)
        published = Published()
        follower = VerdictStreamFollower(
            dynamodb,
            aws_client("dynamodbstreams", settings),
            settings.verdict_table,
            published,
            poll_interval_s=0.02,
            max_backoff_s=0.1,
        ).start()
        try:
            # No stream yet: the follower keeps asking (and is not ready), it does not end.
            deadline = time.monotonic() + WAIT_S
            while follower.stats.errors < 2 and time.monotonic() < deadline:
                follower.ready.wait(0.02)
            assert follower.stats.errors >= 2
            assert follower.running and not follower.ready.is_set()
            dynamodb.update_table(
                TableName=settings.verdict_table,
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
            assert follower.ready.wait(WAIT_S)
            table = VerdictTable(dynamodb, settings.verdict_table)
            assert table.put_first(verdict_pb2.Verdict(track_id="late", user_id="alice"))
            assert published.wait_for(1) == ["late"]
        finally:
            assert follower.stop(WAIT_S)


def _drain(inbox: Any, want: int) -> list[verdict_pb2.Verdict]:
    """The verdicts a subscriber received, once ``want`` arrived (or the wait ran out)."""
    got: list[verdict_pb2.Verdict] = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < want and time.monotonic() < deadline:
        try:
            got.append(inbox.get(timeout=0.05))
        except Exception:
            continue
    return got


def test_a_verdict_superseded_on_one_replica_reaches_the_watchers_of_another() -> None:
    """Replica A judges a track, then a re-scan supersedes it there; replica B's watchers hear
    both verdicts through the table's stream, and A's own watchers each exactly once."""
    with Emulator() as emulator:
        settings, dynamodb = _verdict_table(emulator, stream=True)
        replicas = {name: VerdictBroadcaster(queue_size=16) for name in ("a", "b")}
        followers = [
            VerdictStreamFollower(
                dynamodb,
                aws_client("dynamodbstreams", settings),
                settings.verdict_table,
                broadcaster.publish,
                poll_interval_s=0.02,
                max_backoff_s=0.1,
            ).start()
            for broadcaster in replicas.values()
        ]
        try:
            for follower in followers:
                assert follower.ready.wait(WAIT_S)
            table = VerdictTable(dynamodb, settings.verdict_table)
            with replicas["a"].subscribe() as inbox_a, replicas["b"].subscribe() as inbox_b:
                accepted = verdict_pb2.Verdict(
                    track_id="t-1", user_id="alice", decision=verdict_pb2.DECISION_ACCEPT
                )
                assert table.put_first(accepted)
                # As the judge does after its write (False when the stream copy came first).
                sent_by_a = [replicas["a"].publish(accepted)]
                assert [v.decision for v in _drain(inbox_b, 1)] == [verdict_pb2.DECISION_ACCEPT]

                rejected = verdict_pb2.Verdict(
                    track_id="t-1", user_id="alice", decision=verdict_pb2.DECISION_REJECT
                )
                assert table.supersede(rejected, replaces=accepted, reason="fingerprint.known_bad")
                sent_by_a.append(replicas["a"].publish(rejected, supersedes=True))  # as the re-scan
                assert [v.decision for v in _drain(inbox_b, 1)] == [verdict_pb2.DECISION_REJECT]

                # A hears each verdict twice (its own call, its stream copy) and sends it once:
                # whichever copy comes first is sent, the other is dropped. Which one wins is a
                # race between the stream poll and the caller, so count both paths together.
                deadline = time.monotonic() + WAIT_S
                stats_a = followers[0].stats
                while stats_a.published + stats_a.duplicates < 2 and time.monotonic() < deadline:
                    followers[0].ready.wait(0.02)
                assert stats_a.records == 2
                assert stats_a.published + sum(sent_by_a) == 2
                assert stats_a.duplicates == sent_by_a.count(True)
                assert followers[1].stats.published == 2  # B: both, from the stream
                heard_by_a = [inbox_a.get_nowait() for _ in range(inbox_a.qsize())]
                assert [v.decision for v in heard_by_a] == [
                    verdict_pb2.DECISION_ACCEPT,
                    verdict_pb2.DECISION_REJECT,
                ]
        finally:
            for follower in followers:
                assert follower.stop(WAIT_S)
