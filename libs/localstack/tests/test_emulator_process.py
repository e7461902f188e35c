"""The emulator as `audioval up` runs it: a child process of moto's server, request ids intact."""

from __future__ import annotations

import time
from collections.abc import Iterator

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


def test_json_answers_carry_their_records_and_a_request_id(settings: PipelineSettings) -> None:
    kinesis = aws_client("kinesis", settings)
    kinesis.create_stream(StreamName="records", ShardCount=1)
    deadline = time.monotonic() + 30
    while (
        kinesis.describe_stream_summary(StreamName="records")["StreamDescriptionSummary"][
            "StreamStatus"
        ]
        != "ACTIVE"
    ):
        assert time.monotonic() < deadline, "the stream never became active"
        time.sleep(0.05)
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
