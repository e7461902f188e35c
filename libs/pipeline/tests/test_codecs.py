"""The codecs of the shared items: what one writer encodes, every reader decodes unchanged."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import audioval_pipeline
from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_pipeline import stream_registry
from audioval_pipeline.manifest import (
    ManifestDecodeError,
    decode_manifest,
    deduplication_id,
    encode_manifest,
    group_id,
)
from audioval_pipeline.stream_registry import (
    ACTIVE,
    BASELINE,
    EXTRA,
    PROVISIONING,
    ROLES,
    STATES,
    StreamEntry,
)
from audioval_pipeline.verdict_table import JUDGED, PENDING, VerdictItem, verdict_from_item

# Names and ids arrive from clients: any text DynamoDB can hold (no lone surrogates).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)
FIFO_ID = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)
SECONDS = st.integers(min_value=0, max_value=2**40).map(float)


@given(track_id=TEXT, user_id=TEXT, track_name=TEXT, at=st.integers(0, 2**45))
def test_a_pending_item_round_trips(track_id: str, user_id: str, track_name: str, at: int) -> None:
    item = VerdictItem.pending(track_id, user_id, track_name=track_name, at_ms=at)
    encoded = item.to_item()
    assert encoded["state"] == {"S": PENDING}
    assert "verdict" not in encoded
    assert VerdictItem.from_item(encoded) == item
    assert verdict_from_item(encoded) is None


@given(
    track_id=TEXT,
    user_id=TEXT,
    score=st.floats(0, 1, width=32),
    message=TEXT,
    extra=st.binary(max_size=64),
)
def test_a_judged_item_round_trips_its_verdict_bytes(
    track_id: str, user_id: str, score: float, message: str, extra: bytes
) -> None:
    verdict = verdict_pb2.Verdict(
        track_id=track_id,
        user_id=user_id,
        score=score,
        findings=[verdict_pb2.Finding(code="x.y", message=message)],
        model_version=extra.hex(),
    )
    item = VerdictItem.judged(verdict, at_ms=1)
    encoded = item.to_item()
    # Exactly what a judged item has always held: no track name.
    assert set(encoded) == {"track_id", "state", "user_id", "verdict", "updated_at"}
    assert encoded["state"] == {"S": JUDGED}
    decoded = VerdictItem.from_item(encoded)
    assert decoded == item
    assert decoded.decoded_verdict() == verdict == verdict_from_item(encoded)


@given(
    az=TEXT,
    name=TEXT,
    state=st.sampled_from(sorted(STATES)),
    role=st.sampled_from(sorted(ROLES)),
    created_at=st.none() | SECONDS,
    draining_since=st.none() | SECONDS,
)
def test_a_registry_entry_round_trips(
    az: str,
    name: str,
    state: str,
    role: str,
    created_at: float | None,
    draining_since: float | None,
) -> None:
    entry = StreamEntry(az, name, state, role, created_at, draining_since)
    assert StreamEntry.from_item(entry.to_item()) == entry


def test_a_registry_item_without_a_role_is_a_baseline_stream() -> None:
    item = {"az": {"S": "a"}, "stream_name": {"S": "s-a-0"}, "state": {"S": ACTIVE}}
    assert StreamEntry.from_item(item) == StreamEntry("a", "s-a-0", ACTIVE, BASELINE)


def test_the_baseline_item_is_the_one_pulumi_has_always_written() -> None:
    assert StreamEntry("local-a", "p-local-a-0", ACTIVE).to_item() == {
        "az": {"S": "local-a"},
        "stream_name": {"S": "p-local-a-0"},
        "state": {"S": "active"},
        "role": {"S": "baseline"},
    }


def test_an_extra_stream_being_provisioned_carries_its_creation_time() -> None:
    entry = StreamEntry("a", "p-a-3", PROVISIONING, EXTRA, created_at=1_800_000_000.7)
    assert entry.to_item()["created_at"] == {"N": "1800000000"}


@pytest.mark.parametrize(
    ("name", "index"), [("audioval-chunks-us-east-1a-12", 12), ("odd-name", -1), ("x-", -1)]
)
def test_a_stream_name_says_its_index(name: str, index: int) -> None:
    assert stream_registry.index_of(name) == index
    if index >= 0:
        assert stream_registry.stream_name("audioval-chunks", "us-east-1a", index) == name


@given(
    track_id=FIFO_ID,
    user_id=FIFO_ID,
    track_name=TEXT,
    sizes=st.lists(st.integers(1, 1024 * 1024), max_size=20),
)
def test_a_manifest_round_trips_through_its_sqs_body(
    track_id: str, user_id: str, track_name: str, sizes: list[int]
) -> None:
    manifest = pipeline_pb2.Manifest(
        track_id=track_id,
        user_id=user_id,
        track_name=track_name,
        size_bytes=sum(sizes),
        chunk_count=len(sizes),
        chunks=[
            pipeline_pb2.ChunkLocation(
                index=i, stream_name="s", shard_id="shardId-0", sequence_number=str(i), size_bytes=n
            )
            for i, n in enumerate(sizes)
        ],
    )
    body = encode_manifest(manifest)
    assert body.isascii() and "\n" not in body
    assert decode_manifest(body) == manifest
    assert (group_id(manifest), deduplication_id(manifest)) == (user_id, track_id)


@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_body_decodes_to_a_manifest_or_says_it_is_not_one(body: str) -> None:
    try:
        manifest = decode_manifest(body)
    except ManifestDecodeError:
        return
    assert manifest.track_id and manifest.user_id


@pytest.mark.parametrize(
    "body",
    [
        '{"trackId": "t 1", "userId": "u"}',  # a space cannot be a FIFO id
        '{"trackId": "t", "userId": ""}',
        '{"trackId": "' + "t" * 129 + '", "userId": "u"}',
        "[]",
        "not json",
    ],
)
def test_a_manifest_without_usable_fifo_ids_is_refused(body: str) -> None:
    with pytest.raises(ManifestDecodeError):
        decode_manifest(body)


def test_a_manifest_carries_the_uploads_trace_context_and_an_older_one_decodes_without() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traced = pipeline_pb2.Manifest(track_id="t", user_id="u", traceparent=traceparent)
    body = encode_manifest(traced)
    assert f'"traceparent": "{traceparent}"' in body
    assert decode_manifest(body).traceparent == traceparent
    # What an ingest from before the field wrote, and a newer field an older rebuild ignores.
    assert decode_manifest('{"trackId": "t", "userId": "u"}').traceparent == ""
    assert decode_manifest('{"trackId": "t", "userId": "u", "baggage": "x"}').track_id == "t"


# -- what the Lambda's archive may hold -------------------------------------------------------


def test_the_registry_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(stream_registry.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_importing_the_package_and_its_registry_loads_neither_pydantic_nor_boto3() -> None:
    probe = (
        "import sys; import audioval_pipeline.stream_registry; "
        "print(sorted(m for m in ('pydantic', 'boto3', 'botocore', 'google') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
    assert Path(audioval_pipeline.__file__).name == "__init__.py"
