"""The fault layer: Kinesis' shard limits and AWS' own errors, between boto3 and a real moto."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from pydantic import SecretStr

from audioval.v1 import pipeline_pb2
from audioval_ingest.kinesis_writer import ChunkWriter, RetryPolicy
from audioval_ingest.settings import IngestSettings
from audioval_localstack import Emulator, provision
from audioval_localstack.faults import MIB, FaultProxy
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

SHARD = "shardId-000000000000"


class ManualClock:
    """Time that moves only when told: the token buckets see exactly the seconds a test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        provision(_settings(emu.endpoint_url), baseline_streams=1)
        yield emu


@pytest.fixture
def stream(emulator: Emulator, request: pytest.FixtureRequest) -> str:
    """A fresh one-shard stream per test, so no test sees another's records or budget."""
    name = f"faults-{hashlib.sha1(request.node.name.encode()).hexdigest()[:12]}"
    kinesis = _client("kinesis", emulator.endpoint_url)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    return name


def _settings(endpoint: str, **overrides: Any) -> PipelineSettings:
    return PipelineSettings(
        aws_endpoint_url=endpoint,
        aws_access_key_id=SecretStr("testing"),
        aws_secret_access_key=SecretStr("testing"),
        **overrides,
    )


def _client(service: str, endpoint: str, *, read_timeout: float = 10.0) -> Any:
    """A client that never retries, so each call shows exactly what the proxy answered."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=read_timeout
        ),
    )


def _error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _records(n: int, size: int = 10) -> list[dict[str, Any]]:
    return [{"Data": b"r" * size, "PartitionKey": f"key-{i}"} for i in range(n)]


# -- Kinesis limits --------------------------------------------------------------------------------


def test_a_burst_over_1000_records_a_second_to_one_shard_gets_per_record_throttles(
    emulator: Emulator, stream: str
) -> None:
    clock = ManualClock()
    with FaultProxy(emulator.endpoint_url, clock=clock) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        first = kinesis.put_records(StreamName=stream, Records=_records(500))
        second = kinesis.put_records(StreamName=stream, Records=_records(500))
        third = kinesis.put_records(StreamName=stream, Records=_records(500))
        clock.now += 0.25  # a quarter of a second buys 250 records back
        fourth = kinesis.put_records(StreamName=stream, Records=_records(500))
        stats = proxy.stats()
    assert first["FailedRecordCount"] == second["FailedRecordCount"] == 0
    assert third["FailedRecordCount"] == 500
    assert {r["ErrorCode"] for r in third["Records"]} == {"ProvisionedThroughputExceededException"}
    assert all(SHARD in r["ErrorMessage"] for r in third["Records"])
    assert fourth["FailedRecordCount"] == 250
    # In order: the first 250 went through (moto numbered them), the rest were refused.
    assert all("SequenceNumber" in r for r in fourth["Records"][:250])
    assert all(r.get("ErrorCode") for r in fourth["Records"][250:])
    assert stats.throttled_records == 750 and stats.records_in == 1250
    # Only accepted records reached moto.
    listing = _client("kinesis", emulator.endpoint_url)
    iterator = listing.get_shard_iterator(
        StreamName=stream, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert len(listing.get_records(ShardIterator=iterator, Limit=10000)["Records"]) == 1250


def test_a_shard_takes_1_mib_a_second_whatever_the_record_count(
    emulator: Emulator, stream: str
) -> None:
    clock = ManualClock()
    with FaultProxy(emulator.endpoint_url, clock=clock) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        answer = kinesis.put_records(StreamName=stream, Records=_records(4, size=300 * 1024))
        code, status = _error_of(
            kinesis.put_record, StreamName=stream, Data=b"x" * 300 * 1024, PartitionKey="k"
        )
        clock.now += 1.0
        kinesis.put_record(StreamName=stream, Data=b"x" * 300 * 1024, PartitionKey="k")
    assert [bool(r.get("ErrorCode")) for r in answer["Records"]] == [False, False, False, True]
    assert (code, status) == ("ProvisionedThroughputExceededException", 400)
    assert proxy.stats().bytes_in == 3 * (300 * 1024 + len("key-0")) + 300 * 1024 + len("k")


def test_records_land_on_the_shard_the_md5_of_their_partition_key_picks(
    emulator: Emulator,
) -> None:
    kinesis = _client("kinesis", emulator.endpoint_url)
    kinesis.create_stream(StreamName="faults-two-shards", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(
        StreamName="faults-two-shards", WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    shards = kinesis.list_shards(StreamName="faults-two-shards")["Shards"]
    keys = [f"trk_{i:032x}" for i in range(40)]
    hot = [
        k
        for k in keys
        if int(hashlib.md5(k.encode()).hexdigest(), 16)
        <= int(shards[0]["HashKeyRange"]["EndingHashKey"])
    ]
    clock = ManualClock()
    with FaultProxy(emulator.endpoint_url, clock=clock) as proxy:
        client = _client("kinesis", proxy.endpoint_url)
        # Fill the first shard's record budget, then write to every key.
        client.put_records(
            StreamName="faults-two-shards",
            Records=[{"Data": b"x", "PartitionKey": hot[0]}] * 500,
        )
        client.put_records(
            StreamName="faults-two-shards",
            Records=[{"Data": b"x", "PartitionKey": hot[0]}] * 500,
        )
        answer = client.put_records(
            StreamName="faults-two-shards",
            Records=[{"Data": b"x", "PartitionKey": k} for k in keys],
        )
    refused = {k for k, r in zip(keys, answer["Records"], strict=True) if r.get("ErrorCode")}
    accepted = {r["ShardId"] for r in answer["Records"] if not r.get("ErrorCode")}
    assert refused == set(hot) and 0 < len(hot) < len(keys)
    assert accepted == {shards[1]["ShardId"]}


def test_a_record_over_1_mib_with_its_partition_key_is_a_validation_exception(
    emulator: Emulator, stream: str
) -> None:
    data = b"x" * (MIB - 2)  # data alone fits; with the 3-byte key it does not
    with FaultProxy(emulator.endpoint_url) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        single = _error_of(kinesis.put_record, StreamName=stream, Data=data, PartitionKey="abc")
        batch = _error_of(
            kinesis.put_records,
            StreamName=stream,
            Records=[{"Data": b"ok", "PartitionKey": "a"}, {"Data": data, "PartitionKey": "abc"}],
        )
        kinesis.put_record(StreamName=stream, Data=data[:-1], PartitionKey="abc")  # exactly 1 MiB
        stats = proxy.stats()
    assert single == batch == ("ValidationException", 400)
    assert stats.rejected_records == 2 and stats.records_in == 1


def test_the_sixth_get_records_call_in_a_second_on_a_shard_is_throttled(
    emulator: Emulator, stream: str
) -> None:
    clock = ManualClock()
    with FaultProxy(emulator.endpoint_url, clock=clock) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        kinesis.put_record(StreamName=stream, Data=b"hello", PartitionKey="k")
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for _ in range(5):
            iterator = kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
        with pytest.raises(ClientError) as sixth:
            kinesis.get_records(ShardIterator=iterator)
        clock.now += 0.2  # one call's worth back
        kinesis.get_records(ShardIterator=iterator)
    response = sixth.value.response
    assert response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ProvisionedThroughputExceededException"
    assert proxy.stats().throttled_calls == 1


def test_reading_more_than_2_mib_blocks_the_shard_until_the_budget_is_paid_back(
    emulator: Emulator, stream: str
) -> None:
    clock = ManualClock()
    with FaultProxy(emulator.endpoint_url, clock=clock) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        for _ in range(3):  # 2.7 MiB, written one second apart to stay under the write limit
            kinesis.put_record(StreamName=stream, Data=b"d" * (900 * 1024), PartitionKey="k")
            clock.now += 1.0
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        read = kinesis.get_records(ShardIterator=iterator)
        clock.now += 0.3  # calls are back, bytes are still owed (0.7 MiB over 2 MiB)
        code, _ = _error_of(kinesis.get_records, ShardIterator=read["NextShardIterator"])
        clock.now += 0.1
        kinesis.get_records(ShardIterator=read["NextShardIterator"])
    assert len(read["Records"]) == 3
    assert code == "ProvisionedThroughputExceededException"
    assert proxy.stats().bytes_out == 3 * 900 * 1024


# -- injected errors ------------------------------------------------------------------------------


def test_injected_throttles_are_each_services_documented_codes(emulator: Emulator) -> None:
    settings = _settings(emulator.endpoint_url)
    with FaultProxy(emulator.endpoint_url, fault_rate=1.0, kinds=("throttle",)) as proxy:
        kinesis = _client("kinesis", proxy.endpoint_url)
        dynamodb = _client("dynamodb", proxy.endpoint_url)
        sqs = _client("sqs", proxy.endpoint_url)
        got = {
            "kinesis data": _error_of(kinesis.put_records, StreamName="s", Records=_records(1)),
            "kinesis control": _error_of(kinesis.list_streams),
            "dynamodb item": _error_of(
                dynamodb.get_item,
                TableName=settings.verdict_table,
                Key={"track_id": {"S": "trk_x"}},
            ),
            "dynamodb table": _error_of(dynamodb.describe_table, TableName=settings.verdict_table),
            "sqs": _error_of(sqs.get_queue_url, QueueName=settings.manifest_queue),
        }
    assert got == {
        "kinesis data": ("ProvisionedThroughputExceededException", 400),
        "kinesis control": ("LimitExceededException", 400),
        "dynamodb item": ("ProvisionedThroughputExceededException", 400),
        "dynamodb table": ("ThrottlingException", 400),
        "sqs": ("RequestThrottled", 400),
    }
    assert proxy.stats().injected["throttle"] == 5 and proxy.stats().forwarded == 0


def test_injected_server_errors_are_500_or_503_and_botocore_retries_them(
    emulator: Emulator,
) -> None:
    settings = _settings(emulator.endpoint_url)
    with FaultProxy(emulator.endpoint_url, fault_rate=1.0, kinds=("5xx",), seed=3) as proxy:
        dynamodb = _client("dynamodb", proxy.endpoint_url)
        kinesis = _client("kinesis", proxy.endpoint_url)
        sqs = _client("sqs", proxy.endpoint_url)
        seen = {
            _error_of(dynamodb.describe_table, TableName=settings.verdict_table) for _ in range(12)
        }
        seen |= {_error_of(kinesis.list_streams) for _ in range(12)}
        seen |= {_error_of(sqs.list_queues) for _ in range(12)}
    assert seen == {
        ("InternalServerError", 500),
        ("InternalFailureException", 500),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
    }
    # At 30% the standard retry mode (the services' aws_client) gets through.
    with FaultProxy(emulator.endpoint_url, fault_rate=0.3, kinds=("5xx",), seed=1) as proxy:
        sqs = aws_client("sqs", _settings(proxy.endpoint_url))
        for _ in range(10):
            assert sqs.get_queue_url(QueueName=settings.manifest_queue)["QueueUrl"]
        assert proxy.stats().injected["5xx"] > 0


def test_an_injected_timeout_outlasts_the_read_timeout_and_never_reaches_the_emulator(
    emulator: Emulator,
) -> None:
    settings = _settings(emulator.endpoint_url)
    item = {"track_id": {"S": "trk_timeout"}, "state": {"S": "pending"}}
    with FaultProxy(
        emulator.endpoint_url, fault_rate=1.0, kinds=("timeout",), timeout_hold_s=1.0
    ) as proxy:
        dynamodb = _client("dynamodb", proxy.endpoint_url, read_timeout=0.3)
        with pytest.raises(ReadTimeoutError):
            dynamodb.put_item(TableName=settings.verdict_table, Item=item)
    direct = _client("dynamodb", emulator.endpoint_url)
    found = direct.get_item(TableName=settings.verdict_table, Key={"track_id": item["track_id"]})
    assert "Item" not in found
    assert proxy.stats().injected["timeout"] == 1


def test_the_same_seed_injects_the_same_faults_and_the_rate_holds(emulator: Emulator) -> None:
    def fates(seed: int) -> tuple[list[str], int]:
        with FaultProxy(
            emulator.endpoint_url, fault_rate=0.2, kinds=("throttle", "5xx"), seed=seed
        ) as proxy:
            kinesis = _client("kinesis", proxy.endpoint_url)
            outcomes = []
            for _ in range(200):
                try:
                    kinesis.list_streams()
                    outcomes.append("ok")
                except ClientError as exc:
                    outcomes.append(exc.response["Error"]["Code"])
            return outcomes, proxy.stats().injected_total

    first, injected = fates(7)
    again, _ = fates(7)
    other, _ = fates(8)
    assert first == again != other
    assert 20 <= injected <= 60  # 200 calls at 20%: 40 expected
    assert injected == sum(o != "ok" for o in first)


def test_moto_api_paths_are_never_faulted(emulator: Emulator) -> None:
    with FaultProxy(emulator.endpoint_url, fault_rate=1.0, kinds=("5xx",)) as proxy:
        for _ in range(5):
            with urllib.request.urlopen(
                f"{proxy.endpoint_url}/moto-api/data.json", timeout=5
            ) as reply:
                assert reply.status == 200
        assert proxy.stats().injected_total == 0 and proxy.stats().forwarded == 5


def test_the_proxy_listens_on_loopback_and_stops_with_held_requests(emulator: Emulator) -> None:
    proxy = FaultProxy(
        emulator.endpoint_url, fault_rate=1.0, kinds=("timeout",), timeout_hold_s=60.0
    ).start()
    assert proxy.endpoint_url.startswith("http://127.0.0.1:")
    kinesis = _client("kinesis", proxy.endpoint_url, read_timeout=0.2)
    with pytest.raises(ReadTimeoutError):
        kinesis.list_streams()
    proxy.stop(timeout_s=5.0)  # must not wait out the 60 s hold
    with pytest.raises(RuntimeError):
        _ = proxy.endpoint_url


# -- the ingest writer through the proxy ----------------------------------------------------------


def test_the_ingest_writer_finishes_a_multi_mb_write_at_the_shard_limit_with_20pct_throttling(
    emulator: Emulator, stream: str
) -> None:
    ingest = IngestSettings()
    retry = RetryPolicy(
        max_attempts=ingest.put_max_attempts,
        base_delay_s=ingest.put_base_delay_s,
        max_delay_s=ingest.put_max_delay_s,
        max_total_s=ingest.put_max_total_s,
    )
    data = os.urandom(3 * MIB + 12345)
    with FaultProxy(emulator.endpoint_url, fault_rate=0.2, kinds=("throttle",), seed=5) as proxy:
        kinesis = aws_client("kinesis", _settings(proxy.endpoint_url))
        writer = ChunkWriter(kinesis, stream_name=stream, track_id="trk_" + "a" * 32, retry=retry)
        for start in range(0, len(data), MIB):
            writer.write(data[start : start + MIB])
        locations = writer.close()
        stats = proxy.stats()
    assert [loc.index for loc in locations] == list(range(7))
    assert sum(loc.size_bytes for loc in locations) == len(data)
    assert stats.injected["throttle"] > 0 and stats.throttled_records > 0
    # Refused records are resent, so the shard may hold them out of file order; the locations
    # name each chunk's sequence number and together they are the file.
    direct = _client("kinesis", emulator.endpoint_url)
    first = min(locations, key=lambda loc: int(loc.sequence_number))
    iterator = direct.get_shard_iterator(
        StreamName=stream,
        ShardId=SHARD,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=first.sequence_number,
    )["ShardIterator"]
    records = direct.get_records(ShardIterator=iterator, Limit=100)["Records"]
    by_sequence = {
        r["SequenceNumber"]: pipeline_pb2.ChunkRecord.FromString(r["Data"]) for r in records
    }
    chunks = [by_sequence[loc.sequence_number] for loc in locations]
    assert [c.index for c in chunks] == list(range(7))
    assert b"".join(c.data for c in chunks) == data
