"""The stream registry reader (against the emulator) and the stable route."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from audioval_ingest.stream_set import (
    NoActiveStreamError,
    StreamRegistryError,
    StreamSet,
    pick_stream,
)
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings

names = st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=8, unique=True)


@given(track_id=st.text(max_size=40), streams=names, data=st.data())
def test_the_route_ignores_the_order_of_the_set(
    track_id: str, streams: list[str], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(streams))
    chosen = pick_stream(track_id, streams)
    assert chosen in streams
    assert pick_stream(track_id, shuffled) == chosen
    assert pick_stream(track_id, [*streams, *streams]) == chosen


def test_the_same_track_always_goes_to_the_same_stream() -> None:
    streams = ["s-0", "s-1", "s-2"]
    track_ids = [f"trk_{uuid.uuid4().hex}" for _ in range(50)]
    first = [pick_stream(t, streams) for t in track_ids]
    assert [pick_stream(t, list(reversed(streams))) for t in track_ids] == first


def test_tracks_spread_over_every_stream() -> None:
    streams = ["s-0", "s-1", "s-2"]
    counts = Counter(pick_stream(f"trk_{uuid.uuid4().hex}", streams) for _ in range(3000))
    assert set(counts) == set(streams)
    assert min(counts.values()) > 800  # ~1000 each; far from it would mean a skewed hash


def test_no_active_stream_is_an_error() -> None:
    with pytest.raises(NoActiveStreamError):
        pick_stream("trk_x", [])


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(pipeline_settings: PipelineSettings) -> Any:
    return aws_client("dynamodb", pipeline_settings)


def _put(registry: Any, table: str, az: str, name: str, state: str) -> None:
    registry.put_item(
        TableName=table,
        Item={"az": {"S": az}, "stream_name": {"S": name}, "state": {"S": state}},
    )


def test_only_active_streams_of_this_zone_are_used_and_draining_ones_leave_after_the_ttl(
    pipeline_settings: PipelineSettings, registry: Any
) -> None:
    table = pipeline_settings.stream_registry_table
    az = f"az-{uuid.uuid4().hex[:8]}"
    _put(registry, table, az, "s-0", "active")
    _put(registry, table, az, "s-1", "active")
    _put(registry, table, az, "s-2", "draining")
    _put(registry, table, f"{az}-other", "s-9", "active")
    clock = Clock()
    streams = StreamSet(registry, table=table, availability_zone=az, ttl_s=5.0, clock=clock)
    assert streams.active_streams() == ("s-0", "s-1")

    _put(registry, table, az, "s-0", "draining")
    clock.now += 4.9
    assert streams.active_streams() == ("s-0", "s-1")  # cached within the TTL
    clock.now += 0.2
    assert streams.active_streams() == ("s-1",)
    track_ids = [f"trk_{uuid.uuid4().hex}" for _ in range(20)]
    assert {streams.route(t) for t in track_ids} == {"s-1"}


def test_an_empty_zone_cannot_route(pipeline_settings: PipelineSettings, registry: Any) -> None:
    streams = StreamSet(
        registry, table=pipeline_settings.stream_registry_table, availability_zone="az-empty"
    )
    with pytest.raises(NoActiveStreamError):
        streams.route("trk_x")


class FlakyRegistry:
    """The real registry client until ``broken`` is set, then an unreadable one."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.broken = False

    def query(self, **kwargs: Any) -> Any:
        if self.broken:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "down"}}, "Query"
            )
        return self._client.query(**kwargs)


def test_an_unreadable_registry_falls_back_to_a_recent_cache_then_fails(
    pipeline_settings: PipelineSettings, registry: Any
) -> None:
    table = pipeline_settings.stream_registry_table
    az = f"az-{uuid.uuid4().hex[:8]}"
    _put(registry, table, az, "s-0", "active")
    flaky = FlakyRegistry(registry)
    clock = Clock()
    streams = StreamSet(
        flaky, table=table, availability_zone=az, ttl_s=1.0, max_stale_s=10.0, clock=clock
    )
    assert streams.active_streams() == ("s-0",)
    flaky.broken = True
    clock.now += 5.0
    assert streams.active_streams() == ("s-0",)
    clock.now += 5.0
    with pytest.raises(StreamRegistryError, match="InternalServerError"):
        streams.active_streams()
