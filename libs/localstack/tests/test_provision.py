"""The local stack: a real moto server on 127.0.0.1 and the pipeline's resources on it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from audioval_localstack import Emulator, provision, stream_name
from audioval_servicekit import PipelineSettings, aws_client


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
    assert set(created["streams"]) <= set(kinesis.list_streams()["StreamNames"])
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
