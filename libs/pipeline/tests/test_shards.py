"""Shard placement agrees with Kinesis' (moto's ListShards ranges and PutRecord answers), and the
write budgets admit, reserve and refund as documented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from audioval_localstack import Emulator
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.shards import (
    ShardMap,
    ShardRange,
    TokenBucket,
    WriteBudget,
    hash_key,
    open_shards,
    shard_for,
)

TOP = 2**128 - 1


@pytest.fixture(scope="module")
def kinesis() -> Iterator[Any]:
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
            aws_max_attempts=2,
        )
        client = aws_client("kinesis", settings)
        client.create_stream(StreamName="placement", ShardCount=4)
        client.get_waiter("stream_exists").wait(
            StreamName="placement", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        yield client


def test_keys_land_on_the_shard_kinesis_puts_them_on(kinesis: Any) -> None:
    shards = ShardMap(kinesis)
    seen = set()
    for i in range(40):
        key = f"trk_{i:032x}"
        answer = kinesis.put_record(StreamName="placement", Data=b"x", PartitionKey=key)
        assert shards.shard_of("placement", key) == answer["ShardId"]
        seen.add(answer["ShardId"])
    assert len(seen) > 1  # the keys spread, so agreement is not luck


def test_an_explicit_hash_key_places_the_record_where_kinesis_does(kinesis: Any) -> None:
    listed = open_shards(kinesis.list_shards(StreamName="placement")["Shards"])
    for shard in listed:
        # The middle of the range (moto misplaces a key equal to a range's last one).
        explicit = str((shard.start + shard.end) // 2)
        answer = kinesis.put_record(
            StreamName="placement", Data=b"x", PartitionKey="ignored", ExplicitHashKey=explicit
        )
        found = shard_for(listed, hash_key("ignored", explicit))
        assert found is not None and found.shard_id == answer["ShardId"] == shard.shard_id


@given(st.text(max_size=256))
def test_every_key_has_exactly_one_shard_of_a_split_range(key: str) -> None:
    quarters = [ShardRange(f"s{i}", i * 2**126, (i + 1) * 2**126 - 1) for i in range(4)]
    value = hash_key(key)
    assert 0 <= value <= TOP
    assert sum(1 for s in quarters if s.start <= value <= s.end) == 1
    assert shard_for(quarters, value) is not None


def test_closed_shards_take_no_records() -> None:
    page = [
        {
            "ShardId": "old",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(TOP)},
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"},
        },
        {
            "ShardId": "new",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(TOP)},
            "SequenceNumberRange": {"StartingSequenceNumber": "10"},
        },
    ]
    assert open_shards(page) == [ShardRange("new", 0, TOP)]


def test_a_bucket_refuses_what_it_does_not_hold_and_takes_nothing() -> None:
    bucket = TokenBucket(rate=10.0, capacity=10.0, now=0.0)
    assert bucket.take(8, now=0.0)
    assert not bucket.take(3, now=0.0)
    assert bucket.tokens == pytest.approx(2.0)
    assert bucket.take(3, now=0.1)  # 1 token refilled
    bucket.refill(now=100.0)
    assert bucket.tokens == 10.0  # never more than its capacity


def test_a_budget_admits_a_record_only_if_bytes_and_records_both_have_room() -> None:
    budget = WriteBudget(100.0, 2.0, bytes_capacity=100.0, records_capacity=2.0, now=0.0)
    assert budget.admit(60, 1, now=0.0)
    assert not budget.admit(60, 1, now=0.0)  # bytes short: nothing taken
    assert budget.admit(40, 1, now=0.0)
    assert not budget.admit(0, 1, now=0.0)  # records short
    assert budget.records.tokens == 0.0 and budget.bytes.tokens == 0.0


def test_a_reservation_runs_into_debt_and_says_how_long_to_wait() -> None:
    budget = WriteBudget(100.0, 10.0, bytes_capacity=100.0, records_capacity=10.0, now=0.0)
    assert budget.reserve(100, 1, now=0.0) == 0.0
    assert budget.reserve(50, 1, now=0.0) == pytest.approx(0.5)
    budget.refund(50, 1, now=0.0)  # refused by the shard: charged nothing
    assert budget.reserve(0, 0, now=0.0) == 0.0
    budget.refund(1000, 100, now=0.0)
    assert budget.bytes.tokens == 100.0  # refunds never exceed capacity
