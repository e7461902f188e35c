"""The local stack: a real moto server on 127.0.0.1 and the pipeline's resources on it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from audioval_localstack import Emulator, provision, stream_name
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings


@pytest.fixture(scope="module")
def settings() -> Iterator[PipelineSettings]:
    with Emulator() as emulator:
        yield PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def test_provision_creates_the_stream_set_queues_and_tables(settings: PipelineSettings) -> None:
    created = provision(settings, baseline_streams=2)
    kinesis = aws_client("kinesis", settings)
    for name in created["streams"]:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE"
    registry = aws_client("dynamodb", settings).query(
        TableName=settings.stream_registry_table,
        KeyConditionExpression="az = :az",
        ExpressionAttributeValues={":az": {"S": settings.availability_zone}},
    )["Items"]
    assert {i["stream_name"]["S"] for i in registry} == {
        stream_name(settings, 0),
        stream_name(settings, 1),
    }
    assert all(i["state"]["S"] == "active" for i in registry)
    sqs = aws_client("sqs", settings)
    attrs = sqs.get_queue_attributes(QueueUrl=created["queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attrs["FifoQueue"] == "true" and attrs["ContentBasedDeduplication"] == "false"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (5, "5")


def test_provisioning_twice_changes_nothing(settings: PipelineSettings) -> None:
    first = provision(settings)
    assert provision(settings) == first


def test_the_emulator_listens_on_loopback_only(settings: PipelineSettings) -> None:
    assert settings.aws_endpoint_url is not None and settings.aws_endpoint_url.startswith(
        "http://127.0.0.1:"
    )


def test_the_verdict_table_streams_new_images(settings: PipelineSettings) -> None:
    provision(settings)
    dynamodb = aws_client("dynamodb", settings)
    table = dynamodb.describe_table(TableName=settings.verdict_table)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    stream = aws_client("dynamodbstreams", settings).describe_stream(
        StreamArn=table["LatestStreamArn"]
    )["StreamDescription"]
    assert stream["StreamStatus"] == "ENABLED" and stream["Shards"]


def test_provisioning_turns_on_the_stream_of_a_verdict_table_made_without_one(
    settings: PipelineSettings,
) -> None:
    # moto keeps one state per process: a table name of its own keeps this test independent.
    settings = settings.model_copy(update={"verdict_table": "verdicts-made-without-a-stream"})
    dynamodb = aws_client("dynamodb", settings)
    dynamodb.create_table(
        TableName=settings.verdict_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "track_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "track_id", "KeyType": "HASH"}],
    )
    assert (
        "LatestStreamArn" not in dynamodb.describe_table(TableName=settings.verdict_table)["Table"]
    )
    provision(settings, baseline_streams=1)
    table = dynamodb.describe_table(TableName=settings.verdict_table)["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert table["LatestStreamArn"]
