"""The rebuild worker against a real moto server and a real classify server.

Chunk records and manifests are written here with boto3 exactly as the pipeline spec says
ingest writes them (binary ChunkRecord per record, PartitionKey = track id, pending item, then
the manifest as protobuf JSON with group = user and dedup = track). The worker's channel to
classify passes through a recording interceptor, so tests see each ValidateTrack request the
worker sent, and can hold one in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import soundfile as sf
from botocore.exceptions import ClientError
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from audioval.v1 import classify_pb2, classify_pb2_grpc, pipeline_pb2, verdict_pb2
from audioval_classify.server import serve as serve_classify
from audioval_classify.settings import ClassifySettings
from audioval_corpus.samples import synth_music
from audioval_localstack import Emulator, provision, stream_name
from audioval_localstack.emulator import free_port
from audioval_localstack.ray_head import RayHead
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_rebuild.classify_client import ClassifyClient
from audioval_rebuild.integrity import CountMismatchError, MissingRecordError
from audioval_rebuild.reader import ReadLimits, ReadTimeoutError, read_track
from audioval_rebuild.server import serve
from audioval_rebuild.settings import RebuildSettings
from audioval_rebuild.verdict_table import VerdictTable
from audioval_rebuild.visibility import VisibilityHeartbeat
from audioval_rebuild.worker import Outcome, RebuildWorker
from audioval_servicekit import RunningServer

TOKEN = "rebuild-test-token"
CHUNK = 16 * 1024
_queue_numbers = itertools.count()


# -- fixtures: the emulator, classify, tracks ---------------------------------------------------


@pytest.fixture(scope="module")
def base_pipeline() -> Iterator[PipelineSettings]:
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
        )
        provision(settings, baseline_streams=1)
        yield settings


@pytest.fixture
def pipeline(base_pipeline: PipelineSettings) -> PipelineSettings:
    """The shared streams and verdict table, with a manifest queue and DLQ of this test's own."""
    n = next(_queue_numbers)
    settings = base_pipeline.model_copy(
        update={"manifest_queue": f"manifests-{n}.fifo", "dead_letter_queue": f"dlq-{n}.fifo"}
    )
    provision(settings, baseline_streams=1)
    return settings


@pytest.fixture(scope="module")
def classify(base_pipeline: PipelineSettings, ray_cluster: RayHead) -> Iterator[RunningServer]:
    """The real classify server, its validator actors on the session's Ray head."""
    settings = ClassifySettings(
        port=0,
        pipeline=base_pipeline,
        pool_size=1,
        ray_address=ray_cluster.address,
        auth_tokens=[SecretStr(TOKEN)],
    )
    running = serve_classify(settings)
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def song() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, synth_music(1.0), 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class Recorder(grpc.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    """Records every track the worker streams to classify; ``gate`` can hold calls in flight.

    Each recorded request is the stream folded into one ``ValidateTrackRequest`` (the header's
    fields and the concatenated chunks), which is what the tests compare.
    """

    def __init__(self) -> None:
        self.requests: list[classify_pb2.ValidateTrackRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, request_iterator: Any
    ) -> Any:
        if not details.method.endswith("/ValidateTrackStream"):
            return continuation(details, request_iterator)
        messages = list(request_iterator)
        header = messages[0].header
        self.requests.append(
            classify_pb2.ValidateTrackRequest(
                track_id=header.track_id,
                user_id=header.user_id,
                track_name=header.track_name,
                sha256=header.sha256,
                content=b"".join(m.chunk for m in messages[1:]),
            )
        )
        self.metadata.append(dict(details.metadata or ()))
        self.entered.set()
        self.gate.wait(timeout=30)
        return continuation(details, iter(messages))


@dataclass
class Rig:
    """A test's queues, clients and helpers to write tracks the way ingest does."""

    pipeline: PipelineSettings
    sqs: Any
    kinesis: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    recorder: Recorder = field(default_factory=Recorder)
    _stack: list[Callable[[], None]] = field(default_factory=list)

    def put_records(self, track_id: str, content: bytes, *, others: str = "") -> list[Any]:
        """Write ``content`` as chunk records, interleaved with another track's if ``others``."""
        entries = []
        for index, offset in enumerate(range(0, len(content), CHUNK)):
            record = pipeline_pb2.ChunkRecord(
                track_id=track_id, index=index, offset=offset, data=content[offset : offset + CHUNK]
            )
            entries.append({"Data": record.SerializeToString(), "PartitionKey": track_id})
            if others:
                noise = pipeline_pb2.ChunkRecord(track_id=others, index=index, data=b"x" * 100)
                entries.append({"Data": noise.SerializeToString(), "PartitionKey": others})
        stream = stream_name(self.pipeline, 0)
        reply = self.kinesis.put_records(StreamName=stream, Records=entries)
        assert reply["FailedRecordCount"] == 0
        mine = [
            r
            for r, e in zip(reply["Records"], entries, strict=True)
            if e["PartitionKey"] == track_id
        ]
        return [
            pipeline_pb2.ChunkLocation(
                index=i,
                stream_name=stream,
                shard_id=r["ShardId"],
                sequence_number=r["SequenceNumber"],
                size_bytes=len(content[i * CHUNK : (i + 1) * CHUNK]),
            )
            for i, r in enumerate(mine)
        ]

    def track(self, content: bytes, *, others: str = "") -> pipeline_pb2.Manifest:
        """Records, the pending item and a manifest for ``content`` (the manifest is not sent)."""
        track_id = "trk_" + uuid.uuid4().hex
        user_id = "user-" + uuid.uuid4().hex[:8]
        chunks = self.put_records(track_id, content, others=others)
        self.dynamodb.put_item(
            TableName=self.pipeline.verdict_table,
            Item={
                "track_id": {"S": track_id},
                "state": {"S": "pending"},
                "user_id": {"S": user_id},
                "track_name": {"S": "song.wav"},
                "updated_at": {"N": str(int(time.time() * 1000))},
            },
            ConditionExpression="attribute_not_exists(track_id)",
        )
        manifest = pipeline_pb2.Manifest(
            track_id=track_id,
            user_id=user_id,
            track_name="song.wav",
            content_type="audio/wav",
            size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            chunk_count=len(chunks),
            chunks=chunks,
        )
        manifest.uploaded_at.GetCurrentTime()
        return manifest

    def send(self, manifest: pipeline_pb2.Manifest, *, dedup: str | None = None) -> None:
        self.send_body(
            json_format.MessageToJson(manifest), manifest.user_id, dedup or manifest.track_id
        )

    def send_body(self, body: str, group: str, dedup: str) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
        )

    def messages_left(self) -> int:
        """Visible plus in-flight messages on the manifest queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        reply = self.sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        return list(reply.get("Messages", []))

    def item(self, track_id: str) -> dict[str, Any]:
        reply = self.dynamodb.get_item(
            TableName=self.pipeline.verdict_table,
            Key={"track_id": {"S": track_id}},
            ConsistentRead=True,
        )
        return dict(reply.get("Item", {}))

    def verdict(self, track_id: str) -> verdict_pb2.Verdict:
        item = self.item(track_id)
        assert item["state"]["S"] == "judged"
        return verdict_pb2.Verdict.FromString(item["verdict"]["B"])

    def settings(self, **overrides: Any) -> RebuildSettings:
        values: dict[str, Any] = {
            "port": 0,
            "pipeline": self.pipeline,
            "classify_auth_token": TOKEN,
            "classify_deadline_s": 60.0,
            "classify_max_reconnect_backoff_s": 0.2,
            "receive_wait_s": 1,
            "visibility_timeout_s": 5,
            "heartbeat_interval_s": 0.5,
            "retry_delay_s": 1,
            "workers": 1,
        }
        values.update(overrides)
        return RebuildSettings(**values)

    def worker(self, classify_address: str, **overrides: Any) -> RebuildWorker:
        """A worker whose channel to classify records (and may hold) ValidateTrack calls."""
        settings = self.settings(classify_address=classify_address, **overrides)
        channel = grpc.intercept_channel(grpc.insecure_channel(classify_address), self.recorder)
        heartbeat = VisibilityHeartbeat(
            self.sqs,
            self.queue_url,
            interval_s=settings.heartbeat_interval_s,
            timeout_s=settings.visibility_timeout_s,
        ).start()
        self._stack += [heartbeat.stop, channel.close]
        return RebuildWorker(
            settings,
            sqs=self.sqs,
            kinesis=self.kinesis,
            verdicts=VerdictTable(self.dynamodb, self.pipeline.verdict_table),
            classify=ClassifyClient(channel, deadline_s=60.0, auth_token=TOKEN),
            queue_url=self.queue_url,
            dlq_url=self.dlq_url,
            heartbeat=heartbeat,
        )

    def close(self) -> None:
        self.recorder.gate.set()
        for stop in reversed(self._stack):
            stop()


@pytest.fixture
def rig(pipeline: PipelineSettings) -> Iterator[Rig]:
    sqs = aws_client("sqs", pipeline)
    made = Rig(
        pipeline=pipeline,
        sqs=sqs,
        kinesis=aws_client("kinesis", pipeline),
        dynamodb=aws_client("dynamodb", pipeline),
        queue_url=sqs.get_queue_url(QueueName=pipeline.manifest_queue)["QueueUrl"],
        dlq_url=sqs.get_queue_url(QueueName=pipeline.dead_letter_queue)["QueueUrl"],
    )
    yield made
    made.close()


def address(server: RunningServer) -> str:
    return f"127.0.0.1:{server.port}"


def poll_until(
    worker: RebuildWorker, done: Callable[[list[Outcome]], bool], *, within: float
) -> list[Outcome]:
    """Run ``poll_once`` until the outcomes so far satisfy ``done`` (bounded by a deadline)."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + within
    while not done(outcomes):
        assert time.monotonic() < deadline, f"gave up after {within}s with {outcomes}"
        outcomes += worker.poll_once()
    return outcomes


class Watcher:
    """classify's WatchVerdicts for one user, read into a queue by a thread."""

    def __init__(self, server: RunningServer, user_id: str) -> None:
        self._channel = grpc.insecure_channel(address(server))
        self._call = classify_pb2_grpc.ClassifyServiceStub(self._channel).WatchVerdicts(
            classify_pb2.WatchVerdictsRequest(user_id=user_id),
            timeout=60,
            metadata=[("authorization", f"Bearer {TOKEN}")],
        )
        self.verdicts: queue.Queue[verdict_pb2.Verdict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(grpc.RpcError):  # cancelled by close()
            for reply in self._call:
                self.verdicts.put(reply.verdict)

    def subscribe(self, table: VerdictTable, user_id: str, within: float = 15.0) -> None:
        """Store probe verdicts of the user until one arrives: the watcher is subscribed."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            probe = f"probe-{uuid.uuid4().hex[:12]}"
            table.put_first(verdict_pb2.Verdict(track_id=probe, user_id=user_id))
            try:
                self.verdicts.get(timeout=0.3)
            except queue.Empty:
                continue
            return
        raise AssertionError("the watcher never saw a probe verdict")

    def next_real(self, within: float = 15.0) -> verdict_pb2.Verdict:
        deadline = time.monotonic() + within
        while True:
            verdict = self.verdicts.get(timeout=max(deadline - time.monotonic(), 0.01))
            if not verdict.track_id.startswith("probe-"):
                return verdict

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()


# -- the worker ---------------------------------------------------------------------------------


def test_a_good_manifest_is_validated_once_with_the_exact_bytes_and_then_deleted(
    rig: Rig, classify: RunningServer, song: bytes
) -> None:
    manifest = rig.track(song, others="trk_someone_else")
    rig.send(manifest)
    worker = rig.worker(address(classify))
    assert poll_until(worker, lambda o: bool(o), within=30) == [Outcome.JUDGED]
    (request,) = rig.recorder.requests
    assert request.content == song  # the other track's records on the shard were skipped
    assert (request.track_id, request.user_id, request.track_name) == (
        manifest.track_id,
        manifest.user_id,
        "song.wav",
    )
    assert request.sha256 == hashlib.sha256(song).hexdigest()
    assert rig.recorder.metadata[0]["authorization"] == f"Bearer {TOKEN}"
    stored = rig.verdict(manifest.track_id)  # classify stored it; the worker did not
    assert stored.sha256 == hashlib.sha256(song).hexdigest() and stored.size_bytes == len(song)
    assert rig.messages_left() == 0
    assert rig.dead_letters() == []


def _lie_about_the_hash(m: pipeline_pb2.Manifest) -> None:
    m.sha256 = hashlib.sha256(b"something else").hexdigest()


def _name_a_missing_record(m: pipeline_pb2.Manifest) -> None:
    m.chunks[-1].sequence_number = str(int(m.chunks[-1].sequence_number) + 10**6)


def _claim_another_chunk(m: pipeline_pb2.Manifest) -> None:
    m.chunk_count += 1


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (_lie_about_the_hash, "pipeline.hash_mismatch"),
        (_name_a_missing_record, "pipeline.missing_record"),
        (_claim_another_chunk, "pipeline.count_mismatch"),
    ],
)
def test_a_manifest_that_does_not_rebuild_is_dead_lettered_and_rejected(
    rig: Rig,
    classify: RunningServer,
    song: bytes,
    tamper: Callable[[pipeline_pb2.Manifest], None],
    code: str,
) -> None:
    manifest = rig.track(song)
    tamper(manifest)
    # classify's watchers hear of the rejection too, though classify never judged the track.
    watcher = Watcher(classify, manifest.user_id)
    try:
        watcher.subscribe(VerdictTable(rig.dynamodb, rig.pipeline.verdict_table), manifest.user_id)
        rig.send(manifest)
        worker = rig.worker(address(classify))
        assert poll_until(worker, lambda o: bool(o), within=30) == [Outcome.REFUSED]
        assert watcher.next_real() == rig.verdict(manifest.track_id)
    finally:
        watcher.close()
    assert rig.recorder.requests == []  # refused bytes never reach classify
    (dead,) = rig.dead_letters()
    assert dead["MessageAttributes"]["error_code"]["StringValue"] == code
    assert dead["MessageAttributes"]["error_message"]["StringValue"]
    assert json_format.Parse(dead["Body"], pipeline_pb2.Manifest()).track_id == manifest.track_id
    verdict = rig.verdict(manifest.track_id)
    assert verdict.decision == verdict_pb2.DECISION_REJECT
    assert verdict.label == verdict_pb2.LABEL_MOCK and verdict.score == 1.0
    assert [f.code for f in verdict.findings] == [code]
    assert verdict.user_id == manifest.user_id
    assert rig.messages_left() == 0


def test_an_unparseable_body_is_dead_lettered_and_the_running_loop_goes_on(
    rig: Rig, classify: RunningServer, song: bytes
) -> None:
    rig.send_body("this is not a manifest {", group="user-poison", dedup="poison-1")
    manifest = rig.track(song)
    rig.send(manifest)
    channel = grpc.intercept_channel(grpc.insecure_channel(address(classify)), rig.recorder)
    service = serve(
        rig.settings(classify_address=address(classify), workers=2),
        classify_channel=channel,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as health_channel:
            health = health_pb2_grpc.HealthStub(health_channel)
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        deadline = time.monotonic() + 30
        while rig.item(manifest.track_id).get("state", {}).get("S") != "judged":
            assert time.monotonic() < deadline, "the good manifest was never judged"
            time.sleep(0.1)
    finally:
        started = time.monotonic()
        service.stop(0)
        stop_s = time.monotonic() - started
        channel.close()
    assert stop_s < 5  # bounded waits: stops within about one receive wait
    assert all(not t.is_alive() for t in service.threads)
    (dead,) = rig.dead_letters()
    assert dead["Body"] == "this is not a manifest {"
    assert dead["MessageAttributes"]["error_code"]["StringValue"] == "pipeline.poison"
    assert [r.track_id for r in rig.recorder.requests] == [manifest.track_id]
    assert rig.messages_left() == 0


def test_the_same_manifest_delivered_twice_is_validated_once(
    rig: Rig, classify: RunningServer, song: bytes
) -> None:
    manifest = rig.track(song)
    rig.send(manifest)
    # A second delivery (ingest retried past SQS' 5-minute deduplication window).
    rig.send(manifest, dedup=manifest.track_id + "-again")
    worker = rig.worker(address(classify))
    outcomes = poll_until(worker, lambda o: len(o) >= 2, within=30)
    assert outcomes == [Outcome.JUDGED, Outcome.ALREADY_JUDGED]
    assert len(rig.recorder.requests) == 1
    assert rig.messages_left() == 0


def test_while_classify_is_down_the_manifest_stays_and_is_judged_when_it_is_back(
    rig: Rig, classify: RunningServer, song: bytes
) -> None:
    manifest = rig.track(song)
    rig.send(manifest)
    down = rig.worker(f"127.0.0.1:{free_port()}")  # nothing listens there: UNAVAILABLE
    assert poll_until(down, lambda o: bool(o), within=30) == [Outcome.RETRY]
    assert rig.messages_left() == 1
    assert rig.item(manifest.track_id)["state"]["S"] == "pending"
    up = rig.worker(address(classify))
    outcomes = poll_until(up, lambda o: Outcome.JUDGED in o, within=30)
    assert outcomes == [Outcome.JUDGED]  # the message came back after retry_delay_s
    assert len(rig.recorder.requests) == 2  # one refused by the dead port, one judged
    assert rig.verdict(manifest.track_id).track_id == manifest.track_id
    assert rig.messages_left() == 0 and rig.dead_letters() == []


def test_a_long_classify_call_keeps_the_manifest_invisible_to_other_workers(
    rig: Rig, classify: RunningServer, song: bytes
) -> None:
    manifest = rig.track(song)
    rig.send(manifest)
    worker = rig.worker(address(classify), visibility_timeout_s=1, heartbeat_interval_s=0.25)
    rig.recorder.gate.clear()
    outcomes: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.extend(poll_until(worker, bool, within=30)))
    thread.start()
    try:
        assert rig.recorder.entered.wait(timeout=30)
        # Three visibility timeouts pass while the call is held; nobody else may receive it.
        stolen = []
        window = time.monotonic() + 3.0
        while time.monotonic() < window:
            reply = rig.sqs.receive_message(QueueUrl=rig.queue_url, WaitTimeSeconds=1)
            stolen += reply.get("Messages", [])
        assert stolen == []
    finally:
        rig.recorder.gate.set()
        thread.join(timeout=30)
    assert outcomes == [Outcome.JUDGED]
    assert rig.messages_left() == 0


# -- the reader ---------------------------------------------------------------------------------


def test_reading_stops_at_the_call_bound(rig: Rig, song: bytes) -> None:
    manifest = rig.track(song)
    with pytest.raises(MissingRecordError, match="GetRecords calls"):
        read_track(rig.kinesis, manifest, ReadLimits(max_calls=2, records_per_call=1))


def test_a_record_whose_size_disagrees_with_the_manifest_is_a_count_mismatch(
    rig: Rig, song: bytes
) -> None:
    manifest = rig.track(song)
    first, last = manifest.chunks[0], manifest.chunks[-1]
    first.size_bytes, last.size_bytes = last.size_bytes, first.size_bytes  # same total
    with pytest.raises(CountMismatchError):
        read_track(rig.kinesis, manifest)


def test_naming_another_tracks_record_is_a_missing_record(rig: Rig, song: bytes) -> None:
    mine = rig.track(song)
    theirs = rig.track(song)
    # The whole location: a track's records are spread over shards, so theirs may sit on
    # another shard than mine's first chunk.
    mine.chunks[0].stream_name = theirs.chunks[0].stream_name
    mine.chunks[0].shard_id = theirs.chunks[0].shard_id
    mine.chunks[0].sequence_number = theirs.chunks[0].sequence_number
    with pytest.raises(MissingRecordError, match="another track"):
        read_track(rig.kinesis, mine)


class Throttled:
    """The real Kinesis client, but GetRecords is throttled for its first ``times`` calls."""

    def __init__(self, kinesis: Any, times: int) -> None:
        self._kinesis = kinesis
        self.left = times

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        return self._kinesis.get_shard_iterator(**kwargs)

    def get_records(self, **kwargs: Any) -> Any:
        if self.left > 0:
            self.left -= 1
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
            raise ClientError(error, "GetRecords")
        return self._kinesis.get_records(**kwargs)


def test_throttling_is_backed_off_and_survived(rig: Rig, song: bytes) -> None:
    manifest = rig.track(song)
    pauses: list[float] = []
    limits = ReadLimits(throttle_retries=3, backoff_base_s=0.01, backoff_cap_s=0.02)
    content = read_track(Throttled(rig.kinesis, 2), manifest, limits, sleep=pauses.append)
    assert content == song
    assert len(pauses) == 2 and all(0 <= p <= 0.02 for p in pauses)


def test_throttling_that_outlasts_the_backoff_is_transient(rig: Rig, song: bytes) -> None:
    manifest = rig.track(song)
    limits = ReadLimits(throttle_retries=2, backoff_base_s=0.01, backoff_cap_s=0.02)
    with pytest.raises(ReadTimeoutError):
        read_track(Throttled(rig.kinesis, 10), manifest, limits, sleep=lambda _: None)
