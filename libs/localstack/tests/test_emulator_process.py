"""The emulator as `audioval up` runs it: moto's server in a child process, request ids intact,
every Kinesis record kept under concurrent writers, and Kinesis answers as plain moto's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audioval_localstack.emulator import EmulatorProcess, free_port
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings


@pytest.fixture(scope="module")
def settings() -> Iterator[PipelineSettings]:
    emulator = EmulatorProcess().start()
    try:
        yield PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        emulator.stop()


def _active_stream(kinesis: Any, name: str) -> None:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    deadline = time.monotonic() + 30
    summary = kinesis.describe_stream_summary
    while summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "the stream never became active"
        time.sleep(0.05)


def test_json_answers_carry_their_records_and_a_request_id(settings: PipelineSettings) -> None:
    kinesis = aws_client("kinesis", settings)
    _active_stream(kinesis, "records")
    # Bytes that read as an XML request id once base64'd must come back as they went in.
    data = b"<RequestId>x</RequestId>" + bytes(range(256)) * 4096
    put = kinesis.put_record(StreamName="records", Data=data, PartitionKey="k")
    iterator = kinesis.get_shard_iterator(
        StreamName="records",
        ShardId=put["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=put["SequenceNumber"],
    )["ShardIterator"]
    answer = kinesis.get_records(ShardIterator=iterator, Limit=1)
    assert [r["Data"] for r in answer["Records"]] == [data]
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_xml_answers_name_the_request_id_of_their_header(settings: PipelineSettings) -> None:
    # STS answers in XML with a <RequestId> element, which moto fills in from the header's id.
    answer = aws_client("sts", settings).get_caller_identity()
    metadata = answer["ResponseMetadata"]
    assert metadata["RequestId"] == metadata["HTTPHeaders"]["x-amzn-requestid"]
    assert len(metadata["RequestId"]) == 52


def test_concurrent_writers_to_one_shard_get_distinct_sequence_numbers(
    settings: PipelineSettings,
) -> None:
    kinesis = aws_client("kinesis", settings)
    _active_stream(kinesis, "crowded")

    def write(writer: int) -> list[str]:
        client = aws_client("kinesis", settings)
        numbers = []
        for batch in range(30):
            answer = client.put_records(
                StreamName="crowded",
                Records=[
                    {"Data": f"{writer}/{batch}/{i}".encode(), "PartitionKey": "k"}
                    for i in range(5)
                ],
            )
            numbers += [r["SequenceNumber"] for r in answer["Records"]]
        return numbers

    # moto numbers a record by walking the shard's keys: a long shard widens the race.
    for _ in range(20):
        kinesis.put_records(
            StreamName="crowded", Records=[{"Data": b"-", "PartitionKey": "k"}] * 500
        )
    with ThreadPoolExecutor(16) as pool:
        numbers = [n for each in pool.map(write, range(16)) for n in each]
    assert len(set(numbers)) == len(numbers) == 2400
    shard = kinesis.list_shards(StreamName="crowded")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="crowded", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    data: set[bytes] = set()
    while len(data) < 2401 and iterator:
        answer = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        data.update(r["Data"] for r in answer["Records"])
        iterator = answer["NextShardIterator"] if answer["Records"] else None
    assert len(data - {b"-"}) == 2400  # every record written is there to read


@pytest.fixture(scope="module")
def plain_moto() -> Iterator[PipelineSettings]:
    """moto's own server, unpatched: what the emulator's answers are compared with."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "plain moto never answered"
                time.sleep(0.1)
        yield PipelineSettings(
            aws_endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def _kinesis_exchange(settings: PipelineSettings, stream: str) -> list[tuple[str, int, Any]]:
    """The same Kinesis calls on a server: each answer's operation, status and JSON body."""
    kinesis = aws_client("kinesis", settings)
    answers: list[tuple[str, int, Any]] = []

    def keep(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
        answers.append(
            (operation_model.name, response_dict["status_code"], json.loads(response_dict["body"]))
        )

    kinesis.meta.events.register("before-parse.kinesis.*", keep)
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    deadline = time.monotonic() + 30
    summary = kinesis.describe_stream_summary
    while summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "the stream never became active"
        time.sleep(0.05)
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    upper = str(int(shards[1]["HashKeyRange"]["StartingHashKey"]) + 7)
    # 300 KiB records: a body past the size where the query-string parse is skipped, and data
    # whose base64 holds '+', '/' and padding.
    records = [
        {"Data": bytes([i]) + bytes(range(256)) * 1200 + b"\xfb\xff", "PartitionKey": f"p{i}"}
        for i in range(4)
    ]
    records[1]["ExplicitHashKey"] = upper
    records.append({"Data": b"<RequestId>x</RequestId>", "PartitionKey": "q"})
    answers.clear()
    kinesis.put_records(StreamName=stream, Records=records)
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        first = kinesis.get_records(ShardIterator=iterator, Limit=2)
        kinesis.get_records(ShardIterator=first["NextShardIterator"])
    with pytest.raises(ClientError) as refused:
        kinesis.put_records(StreamName="missing", Records=records[-1:])
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    return answers


def _arrival_times(answers: list[tuple[str, int, Any]]) -> list[Any]:
    """Pop every record's arrival time out of the answers (the two servers' clocks differ)."""
    times = []
    for operation, _, body in answers:
        if operation == "GetRecords":
            times += [record.pop("ApproximateArrivalTimestamp") for record in body["Records"]]
    return times


def test_kinesis_answers_are_plain_motos(
    settings: PipelineSettings, plain_moto: PipelineSettings
) -> None:
    ours = _kinesis_exchange(settings, "answers")
    theirs = _kinesis_exchange(plain_moto, "answers")
    our_times, their_times = _arrival_times(ours), _arrival_times(theirs)
    assert ours == theirs
    assert len(our_times) == len(their_times) == 5
    # Epoch seconds truncated to milliseconds, as moto's serializer writes them.
    assert all(isinstance(t, float) and round(t, 3) == t for t in our_times)
    assert all(abs(t - time.time()) < 120 for t in our_times)
