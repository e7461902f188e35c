"""The manifest parser: poison vs a manifest that names its track but cannot be rebuilt."""

from __future__ import annotations

import hashlib
import json

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from audiomodel import CODES
from audioval.v1 import pipeline_pb2
from audioval_rebuild.integrity import (
    CountMismatchError,
    HashMismatchError,
    IntegrityError,
    MissingRecordError,
    PoisonManifestError,
    TrackTooLargeError,
)
from audioval_rebuild.manifest import check_manifest, parse_manifest

LIMIT = 10 * 1024 * 1024


def manifest(sizes: tuple[int, ...] = (100, 50)) -> pipeline_pb2.Manifest:
    content = bytes(sum(sizes))
    return pipeline_pb2.Manifest(
        track_id="trk_" + "a" * 32,
        user_id="user-1",
        track_name="song.wav",
        size_bytes=sum(sizes),
        sha256=hashlib.sha256(content).hexdigest().upper(),
        chunk_count=len(sizes),
        chunks=[
            pipeline_pb2.ChunkLocation(
                index=i,
                stream_name="audioval-chunks-local-a-0",
                shard_id="shardId-000000000000",
                sequence_number=str(1000 + i),
                size_bytes=size,
            )
            for i, size in enumerate(sizes)
        ],
    )


def test_a_manifest_round_trips_through_json_and_its_sha256_is_lower_cased() -> None:
    body = json_format.MessageToJson(manifest())
    parsed = parse_manifest(body)
    check_manifest(parsed, max_track_bytes=LIMIT)
    assert parsed.track_id == "trk_" + "a" * 32 and parsed.chunk_count == 2
    assert parsed.sha256 == parsed.sha256.lower()


def test_fields_a_newer_ingest_adds_are_ignored() -> None:
    body = json.loads(json_format.MessageToJson(manifest()))
    body["compression"] = "none"
    assert parse_manifest(json.dumps(body)).user_id == "user-1"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        '{"trackId": 5}',
        '{"userId": "u1"}',
        '{"trackId": "t1"}',
        '{"trackId": "has space", "userId": "u1"}',
        json.dumps({"trackId": "t" * 129, "userId": "u1"}),
    ],
)
def test_a_body_without_a_usable_track_and_user_is_poison(body: str) -> None:
    with pytest.raises(PoisonManifestError):
        parse_manifest(body)


def _broken(change: str) -> pipeline_pb2.Manifest:
    m = manifest((100, 50, 25))
    if change == "chunk_count":
        m.chunk_count = 4
    elif change == "index":
        m.chunks[1].index = 2
    elif change == "sizes":
        m.size_bytes += 1
    elif change == "zero_size":
        m.chunks[0].size_bytes = 0
        m.size_bytes -= 100
    elif change == "duplicate":
        m.chunks[2].sequence_number = m.chunks[1].sequence_number
    elif change == "no_location":
        m.chunks[1].sequence_number = "not-a-number"
    elif change == "sha256":
        m.sha256 = "abc"
    elif change == "huge":
        m.size_bytes = LIMIT + 1
    return m


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("chunk_count", CountMismatchError),
        ("index", CountMismatchError),
        ("sizes", CountMismatchError),
        ("zero_size", CountMismatchError),
        ("duplicate", CountMismatchError),
        ("no_location", MissingRecordError),
        ("sha256", HashMismatchError),
        ("huge", TrackTooLargeError),
    ],
)
def test_an_inconsistent_manifest_is_refused_with_its_code(
    change: str, error: type[IntegrityError]
) -> None:
    parsed = parse_manifest(json_format.MessageToJson(_broken(change)))
    with pytest.raises(error) as raised:
        check_manifest(parsed, max_track_bytes=LIMIT)
    assert raised.value.code in CODES  # a verdict finding must use a registered code


def test_the_pipeline_codes_are_the_registered_ones() -> None:
    assert CountMismatchError.code == "pipeline.count_mismatch"
    assert HashMismatchError.code == "pipeline.hash_mismatch"
    assert MissingRecordError.code == "pipeline.missing_record"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_poison(body: str) -> None:
    try:
        parsed = parse_manifest(body)
    except PoisonManifestError:
        return
    assert parsed.track_id and parsed.user_id


_ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=-1, max_value=2 * 1024 * 1024), max_size=5),
    count=st.integers(min_value=0, max_value=6),
    size_bytes=st.integers(min_value=-5, max_value=LIMIT + 5),
    sequence=st.sampled_from(["1", "2", "", "x"]),
    track_id=_ids,
)
def test_any_manifest_either_checks_out_or_raises_an_integrity_error(
    sizes: list[int], count: int, size_bytes: int, sequence: str, track_id: str
) -> None:
    m = pipeline_pb2.Manifest(
        track_id=track_id, user_id="u", size_bytes=size_bytes, sha256="0" * 64, chunk_count=count
    )
    for i, size in enumerate(sizes):
        m.chunks.add(
            index=i,
            stream_name="s",
            shard_id="shard",
            sequence_number=sequence + str(i),
            size_bytes=max(size, 0),
        )
    parsed = parse_manifest(json_format.MessageToJson(m))
    try:
        check_manifest(parsed, max_track_bytes=LIMIT)
    except IntegrityError as exc:
        assert exc.code in CODES
        return
    assert sum(c.size_bytes for c in parsed.chunks) == parsed.size_bytes
    assert parsed.chunk_count == len(parsed.chunks)
