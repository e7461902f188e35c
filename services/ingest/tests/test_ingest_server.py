"""A real ingest server on 127.0.0.1 port 0 writing to a real moto server, called through stubs.

Everything is module-scoped (one emulator, one server, one upload of a few MB) so the file
stays quick; each test reads back what the service wrote with plain boto3 calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from audioval.v1 import ingest_pb2, ingest_pb2_grpc, pipeline_pb2
from audioval_ingest.server import SERVICE_NAME, serve
from audioval_ingest.settings import IngestSettings
from audioval_ingest.stream_set import pick_stream
from audioval_localstack import stream_name
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_servicekit import RunningServer

KIB = 1024
MIB = 1024 * KIB
USER = "user-42"
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)  # poll interval


def metadata(
    user_id: str = USER, track_name: str = "song.wav", size_bytes: int | None = None
) -> ingest_pb2.UploadTrackRequest:
    meta = ingest_pb2.TrackMetadata(user_id=user_id, track_name=track_name)
    meta.content_type = "audio/wav"
    if size_bytes is not None:
        meta.size_bytes = size_bytes
    return ingest_pb2.UploadTrackRequest(metadata=meta)


def chunk(data: bytes) -> ingest_pb2.UploadTrackRequest:
    return ingest_pb2.UploadTrackRequest(chunk=data)


def requests_for(
    data: bytes, piece: int = 700_001, **meta: Any
) -> Iterator[ingest_pb2.UploadTrackRequest]:
    yield metadata(**meta)
    for start in range(0, len(data), piece):
        yield chunk(data[start : start + piece])


@dataclass
class Received:
    manifest: pipeline_pb2.Manifest
    group_id: str
    dedup_id: str


@dataclass
class ManifestQueue:
    """Drains the FIFO manifest queue; remembers every manifest by track id."""

    sqs: Any
    url: str
    seen: dict[str, Received] = field(default_factory=dict)

    def drain(self) -> list[Received]:
        """Receive and delete everything on the queue now."""
        new: list[Received] = []
        while True:
            reply = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            )
            messages = reply.get("Messages", [])
            if not messages:
                return new
            for message in messages:
                manifest = json_format.Parse(message["Body"], pipeline_pb2.Manifest())
                attributes = message["Attributes"]
                item = Received(
                    manifest, attributes["MessageGroupId"], attributes["MessageDeduplicationId"]
                )
                self.seen[manifest.track_id] = item
                new.append(item)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def get(self, track_id: str) -> Received:
        self.drain()
        return self.seen[track_id]


@dataclass
class Aws:
    kinesis: Any
    dynamodb: Any
    queue: ManifestQueue
    verdict_table: str

    def pending_item(self, track_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.verdict_table, Key={"track_id": {"S": track_id}}, ConsistentRead=True
        ).get("Item")
        return item  # type: ignore[no-any-return]

    def verdict_items(self) -> int:
        reply = self.dynamodb.scan(TableName=self.verdict_table, Select="COUNT")
        return int(reply["Count"])


@pytest.fixture(scope="module")
def ingest_settings(pipeline_settings: PipelineSettings) -> IngestSettings:
    return IngestSettings(
        port=0,
        pipeline=pipeline_settings,
        max_upload_bytes=8 * MIB,
        max_chunk_bytes=1 * MIB,
        stream_cache_ttl_s=0.3,
        put_max_total_s=10.0,
    )


@pytest.fixture(scope="module")
def server(ingest_settings: IngestSettings) -> Iterator[RunningServer]:
    running = serve(ingest_settings)
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> ingest_pb2_grpc.IngestServiceStub:
    return ingest_pb2_grpc.IngestServiceStub(channel)


@pytest.fixture(scope="module")
def aws(pipeline_settings: PipelineSettings) -> Aws:
    sqs = aws_client("sqs", pipeline_settings)
    url = sqs.get_queue_url(QueueName=pipeline_settings.manifest_queue)["QueueUrl"]
    return Aws(
        kinesis=aws_client("kinesis", pipeline_settings),
        dynamodb=aws_client("dynamodb", pipeline_settings),
        queue=ManifestQueue(sqs, url),
        verdict_table=pipeline_settings.verdict_table,
    )


@dataclass(frozen=True)
class Upload:
    data: bytes
    response: ingest_pb2.UploadTrackResponse


@pytest.fixture(scope="module")
def uploaded(stub: ingest_pb2_grpc.IngestServiceStub) -> Upload:
    """One upload of ~3 MB, in uneven messages that do not line up with records."""
    data = os.urandom(3 * MIB + 12_345)
    response = stub.UploadTrack(requests_for(data, size_bytes=len(data)), timeout=60)
    return Upload(data, response)


def read_back(kinesis: Any, manifest: pipeline_pb2.Manifest) -> bytes:
    """The bytes the manifest names, read from exactly its records (never from the horizon)."""
    chunks = list(manifest.chunks)
    assert len({(c.stream_name, c.shard_id) for c in chunks}) == 1
    wanted = {c.sequence_number: c for c in chunks}
    # A retried record gets a later sequence number than its successors: start at the smallest.
    start = min(chunks, key=lambda c: int(c.sequence_number))
    iterator = kinesis.get_shard_iterator(
        StreamName=start.stream_name,
        ShardId=start.shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=start.sequence_number,
    )["ShardIterator"]
    found: dict[int, bytes] = {}
    for _ in range(50):
        page = kinesis.get_records(ShardIterator=iterator, Limit=100)
        for record in page["Records"]:
            location = wanted.get(record["SequenceNumber"])
            if location is None:
                continue  # another track on the same shard
            chunk_record = pipeline_pb2.ChunkRecord()
            chunk_record.ParseFromString(record["Data"])
            assert chunk_record.track_id == manifest.track_id
            assert chunk_record.index == location.index
            assert len(chunk_record.data) == location.size_bytes
            found[location.index] = chunk_record.data
        if len(found) == len(wanted):
            break
        iterator = page["NextShardIterator"]
    assert sorted(found) == list(range(len(chunks)))
    return b"".join(found[i] for i in range(len(chunks)))


def test_health_says_serving_and_reflection_lists_the_ingest_service(
    channel: grpc.Channel,
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_NAME):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = list(
        reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([request]), timeout=5
        )
    )
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_the_response_carries_the_track_id_size_and_sha256_of_what_arrived(
    uploaded: Upload,
) -> None:
    assert uploaded.response.track_id.startswith("trk_")
    assert len(uploaded.response.track_id) == 4 + 32
    assert uploaded.response.size_bytes == len(uploaded.data)
    assert uploaded.response.sha256 == hashlib.sha256(uploaded.data).hexdigest()


def test_the_manifest_names_exactly_chunk_count_records_of_at_most_512_kib(
    uploaded: Upload, aws: Aws
) -> None:
    manifest = aws.queue.get(uploaded.response.track_id).manifest
    assert manifest.chunk_count == len(manifest.chunks) == -(-len(uploaded.data) // (512 * KIB))
    assert [c.index for c in manifest.chunks] == list(range(manifest.chunk_count))
    assert all(c.size_bytes <= 512 * KIB for c in manifest.chunks)
    assert sum(c.size_bytes for c in manifest.chunks) == manifest.size_bytes == len(uploaded.data)
    assert manifest.sha256 == uploaded.response.sha256
    assert (manifest.user_id, manifest.track_name, manifest.content_type) == (
        USER,
        "song.wav",
        "audio/wav",
    )
    assert abs(manifest.uploaded_at.seconds - time.time()) < 300


def test_the_records_the_manifest_names_rebuild_the_upload_byte_for_byte(
    uploaded: Upload, aws: Aws
) -> None:
    manifest = aws.queue.get(uploaded.response.track_id).manifest
    rebuilt = read_back(aws.kinesis, manifest)
    assert rebuilt == uploaded.data
    assert hashlib.sha256(rebuilt).hexdigest() == manifest.sha256


def test_the_manifest_is_grouped_by_user_and_deduplicated_by_track(
    uploaded: Upload, aws: Aws
) -> None:
    received = aws.queue.get(uploaded.response.track_id)
    assert received.group_id == USER
    assert received.dedup_id == uploaded.response.track_id


def test_a_pending_item_is_written_for_the_track(uploaded: Upload, aws: Aws) -> None:
    item = aws.pending_item(uploaded.response.track_id)
    assert item is not None
    assert item["state"] == {"S": "pending"}
    assert item["user_id"] == {"S": USER}
    assert item["track_name"] == {"S": "song.wav"}
    assert abs(int(item["updated_at"]["N"]) / 1000 - time.time()) < 300


def test_each_track_goes_whole_to_the_stream_its_id_hashes_to(
    stub: ingest_pb2_grpc.IngestServiceStub, aws: Aws, pipeline_settings: PipelineSettings
) -> None:
    streams = [stream_name(pipeline_settings, 0), stream_name(pipeline_settings, 1)]
    used = set()
    for i in range(6):
        data = os.urandom(600 * KIB + i)  # two records each
        response = stub.UploadTrack(requests_for(data), timeout=30)
        manifest = aws.queue.get(response.track_id).manifest
        assert {c.stream_name for c in manifest.chunks} == {pick_stream(response.track_id, streams)}
        assert len({c.shard_id for c in manifest.chunks}) == 1
        used.add(manifest.chunks[0].stream_name)
    assert used <= set(streams)


def _status_of_upload(
    stub: ingest_pb2_grpc.IngestServiceStub,
    requests: Sequence[ingest_pb2.UploadTrackRequest] | Iterator[ingest_pb2.UploadTrackRequest],
) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        stub.UploadTrack(iter(requests), timeout=30)
    return err.value.code()


def _oversize() -> Iterator[ingest_pb2.UploadTrackRequest]:
    yield metadata()
    for _ in range(9):  # 9 MiB against an 8 MiB limit
        yield chunk(b"\x01" * MIB)


MALFORMED: dict[str, tuple[Callable[[], Any], grpc.StatusCode]] = {
    "nothing_at_all": (lambda: [], grpc.StatusCode.INVALID_ARGUMENT),
    "chunk_before_metadata": (
        lambda: [chunk(b"RIFF"), metadata()],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "two_metadata": (
        lambda: [metadata(), chunk(b"RIFF"), metadata()],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "metadata_only": (lambda: [metadata()], grpc.StatusCode.INVALID_ARGUMENT),
    "only_empty_chunks": (
        lambda: [metadata(), chunk(b""), chunk(b"")],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "missing_user_id": (
        lambda: [metadata(user_id=""), chunk(b"RIFF")],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "user_id_with_spaces": (
        lambda: [metadata(user_id="a b"), chunk(b"RIFF")],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "user_id_too_long": (
        lambda: [metadata(user_id="u" * 129), chunk(b"RIFF")],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "blank_track_name": (
        lambda: [metadata(track_name="  "), chunk(b"RIFF")],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "chunk_over_the_message_limit": (
        lambda: [metadata(), chunk(b"\x00" * (MIB + 1))],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "upload_over_the_size_limit": (_oversize, grpc.StatusCode.RESOURCE_EXHAUSTED),
    "declared_size_over_the_limit": (
        lambda: [metadata(size_bytes=9 * MIB), chunk(b"RIFF")],
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    "fewer_bytes_than_declared": (
        lambda: [metadata(size_bytes=5000), chunk(b"\x02" * 2000)],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "more_bytes_than_declared": (
        lambda: [metadata(size_bytes=1000), chunk(b"\x03" * 600), chunk(b"\x03" * 600)],
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_upload_is_refused_and_leaves_no_manifest_or_pending_item(
    case: str, stub: ingest_pb2_grpc.IngestServiceStub, aws: Aws, server: RunningServer
) -> None:
    make_requests, expected = MALFORMED[case]
    aws.queue.drain()
    items_before = aws.verdict_items()
    assert _status_of_upload(stub, make_requests()) == expected
    assert aws.queue.drain() == []
    assert aws.verdict_items() == items_before


def _records_with(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


def test_a_client_that_cancels_mid_stream_leaves_no_manifest(
    stub: ingest_pb2_grpc.IngestServiceStub, aws: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audioval_ingest")
    aws.queue.drain()
    release = threading.Event()

    def requests() -> Iterator[ingest_pb2.UploadTrackRequest]:
        yield metadata(track_name="cancelled.wav")
        yield chunk(os.urandom(MIB))
        release.wait(30)

    call = stub.UploadTrack.future(requests(), timeout=60)
    try:
        started = eventually(lambda: _records_with(caplog, "upload started"))
        track_id = str(getattr(started[0], "track_id", ""))
        call.cancel()
    finally:
        release.set()
    with pytest.raises(grpc.FutureCancelledError):
        call.result()
    cancelled = eventually(
        lambda: [
            r
            for r in _records_with(caplog, "upload cancelled")
            if getattr(r, "track_id", None) == track_id
        ]
    )
    assert getattr(cancelled[0], "status", None) == "CANCELLED"
    assert aws.queue.drain() == []
    assert aws.pending_item(track_id) is None


@pytest.mark.parametrize("broken", ["manifest_queue", "stream"])
def test_an_aws_failure_is_unavailable_and_leaves_no_pending_item(
    broken: str, pipeline_settings: PipelineSettings, aws: Aws
) -> None:
    if broken == "manifest_queue":
        pipeline = pipeline_settings.model_copy(update={"manifest_queue": "no-such-queue.fifo"})
    else:  # the registry names a stream that does not exist
        pipeline = pipeline_settings.model_copy(update={"availability_zone": "ghost-az"})
        aws.dynamodb.put_item(
            TableName=pipeline.stream_registry_table,
            Item={
                "az": {"S": "ghost-az"},
                "stream_name": {"S": "no-such-stream"},
                "state": {"S": "active"},
            },
        )
    running = serve(IngestSettings(port=0, pipeline=pipeline))
    try:
        items_before = aws.verdict_items()
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            with pytest.raises(grpc.RpcError) as err:
                stub.UploadTrack(requests_for(os.urandom(3000)), timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert ("no-such-queue" if broken == "manifest_queue" else "no-such-stream") in (
            err.value.details() or ""
        )
        assert aws.verdict_items() == items_before
    finally:
        running.stop(0)


def _set_state(aws: Aws, settings: PipelineSettings, name: str, state: str) -> None:
    aws.dynamodb.put_item(
        TableName=settings.stream_registry_table,
        Item={
            "az": {"S": settings.availability_zone},
            "stream_name": {"S": name},
            "state": {"S": state},
        },
    )


def test_a_draining_stream_takes_no_new_tracks_once_the_cache_expires(
    stub: ingest_pb2_grpc.IngestServiceStub, aws: Aws, pipeline_settings: PipelineSettings
) -> None:
    draining, staying = stream_name(pipeline_settings, 0), stream_name(pipeline_settings, 1)
    both = [draining, staying]

    def upload_small() -> tuple[str, str]:
        response = stub.UploadTrack(requests_for(os.urandom(2000)), timeout=30)
        return response.track_id, aws.queue.get(response.track_id).manifest.chunks[0].stream_name

    _set_state(aws, pipeline_settings, draining, "draining")
    try:
        # Poll until a track that hashes to the draining stream over the full set is sent
        # elsewhere: the cache (TTL 0.3 s) has picked up the change.
        def rerouted() -> bool:
            track_id, stream = upload_small()
            return pick_stream(track_id, both) == draining and stream == staying

        eventually(rerouted, timeout=15)
        landed = [upload_small()[1] for _ in range(10)]
        assert set(landed) == {staying}
    finally:
        _set_state(aws, pipeline_settings, draining, "active")


@pytest.mark.e2e
def test_python_dash_m_serves_until_sigterm(pipeline_settings: PipelineSettings) -> None:
    assert pipeline_settings.aws_endpoint_url is not None
    env = {
        **os.environ,
        "AUDIOVAL_AWS_ENDPOINT_URL": pipeline_settings.aws_endpoint_url,
        "AUDIOVAL_AWS_ACCESS_KEY_ID": "testing",
        "AUDIOVAL_AWS_SECRET_ACCESS_KEY": "testing",
        "AUDIOVAL_INGEST_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "audioval_ingest"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_stderr() -> None:
        for line in process.stderr or ():
            lines.put(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        port = 0
        while not port:
            entry = json.loads(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            if entry.get("msg") == "listening":
                port = int(entry["address"].rsplit(":", 1)[1])
        assert entry["service"] == "ingest"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = ingest_pb2_grpc.IngestServiceStub(ch)
            data = b"RIFF" + os.urandom(5000)
            response = stub.UploadTrack(requests_for(data, user_id="cli-user"), timeout=30)
            assert response.sha256 == hashlib.sha256(data).hexdigest()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_garbage_message_mid_upload_is_logged_as_the_internal_the_client_got(
    channel: grpc.Channel, aws: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    aws.queue.drain()
    upload = channel.stream_unary("/audioval.v1.IngestService/UploadTrack")
    messages = [
        metadata(track_name="garbage.wav").SerializeToString(),
        chunk(os.urandom(1024)).SerializeToString(),
        b"\xff\xff\xff\xff not an UploadTrackRequest",
    ]
    with pytest.raises(grpc.RpcError) as refused:
        upload(iter(messages), timeout=30)
    assert refused.value.code() is grpc.StatusCode.INTERNAL
    refusals = eventually(
        lambda: [
            r
            for r in caplog.records
            if r.name == "audioval_ingest.servicer"
            and r.getMessage().startswith("upload ")
            and r.getMessage() != "upload started"
        ]
    )
    assert [(getattr(r, "status", None), r.levelno, r.exc_info) for r in refusals] == [
        ("INTERNAL", logging.WARNING, None)
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert aws.queue.drain() == []
