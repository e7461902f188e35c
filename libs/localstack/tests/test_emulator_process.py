"""The emulator as `audioval up` runs it: moto's server in a child process, request ids intact
and every Kinesis record kept under concurrent writers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from audioval_localstack.emulator import EmulatorProcess
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
