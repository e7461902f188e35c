"""The AWS contracts the services share have one writer each: ``audioval_pipeline``.

Two halves:

- every writer of a verdict-table item, a stream-registry item or a manifest (ingest, classify,
  rebuild, the local stack, the autoscaler Lambda, the Pulumi program) writes through the one
  codec, so what each writes is read back by that codec unchanged (against the local emulator);
- a static scan fails, naming the file, when code outside ``audioval_pipeline`` spells one of
  these items out again (a DynamoDB attribute map keyed ``track_id``, ``az`` or
  ``stream_name``), writes a DynamoDB item itself, places Kinesis records by hand, or encodes or
  decodes a manifest.
"""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_localstack import Emulator, provision
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.stream_registry import (
    ACTIVE,
    BASELINE,
    DRAINING,
    EXTRA,
    StreamEntry,
    read_zone,
)
from audioval_pipeline.verdict_table import JUDGED, PENDING, VerdictItem

ROOT = Path(__file__).resolve().parent.parent

# -- the static scan -------------------------------------------------------------------------

SCANNED = ("libs", "services", "functions", "infra", "src")
# The one home of every item, write and codec below.
HOME = "libs/pipeline/src/audioval_pipeline/"
ITEM_KEYS = frozenset({"track_id", "az", "stream_name"})
ATTRIBUTE_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "BOOL", "NULL"})
DYNAMODB_WRITES = frozenset(
    {
        "put_item",
        "update_item",
        "delete_item",
        "batch_write_item",
        "transact_write_items",
        "execute_statement",
        "batch_execute_statement",
        "execute_transaction",
    }
)
PROTOBUF_JSON = frozenset({"MessageToJson", "MessageToDict", "Parse", "ParseDict"})


def _sources(root: Path) -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or ".venv" in parts or path.name == "conftest.py":
                continue
            yield path


def _is_attribute_map(node: ast.expr | None) -> bool:
    """``{"S": ...}`` and the like: a DynamoDB attribute value written out."""
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value in ATTRIBUTE_TYPES for k in node.keys
    )


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def findings(path: Path, relative: str) -> list[str]:
    """What in one module writes a shared contract outside its home (empty when nothing)."""
    tree = ast.parse(path.read_text(), filename=relative)
    found: list[str] = []
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    for node in ast.walk(tree):
        where = f"{relative}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in ITEM_KEYS
                    and _is_attribute_map(value)
                ):
                    found.append(f"{where}: an item attribute {key.value!r} written out")
        elif isinstance(node, ast.Call):
            called = _called(node)
            if called in DYNAMODB_WRITES:
                found.append(f"{where}: a DynamoDB {called} call")
            elif called == "md5":
                found.append(f"{where}: an MD5 (Kinesis hash keys are audioval_pipeline.shards')")
            elif called in PROTOBUF_JSON and "Manifest" in names:
                found.append(f"{where}: a manifest codec ({called})")
        elif isinstance(node, ast.Constant) and node.value == "HashKeyRange":
            found.append(f"{where}: shard hash-key ranges read (audioval_pipeline.shards' job)")
    return found


def second_writers(root: Path) -> list[str]:
    """Every finding of every scanned module outside ``audioval_pipeline``."""
    found: list[str] = []
    for path in _sources(root):
        relative = path.relative_to(root).as_posix()
        if not relative.startswith(HOME):
            found.extend(findings(path, relative))
    return found


def test_no_code_outside_audioval_pipeline_writes_a_shared_item_or_codec() -> None:
    found = second_writers(ROOT)
    assert not found, "second writers of the pipeline's contracts:\n" + "\n".join(found)


def test_the_scan_finds_the_copies_it_exists_to_prevent(tmp_path: Path) -> None:
    """Each rule fires on the kind of copy the tree used to hold, and names the file."""
    copies = {
        "services/ingest/src/audioval_ingest/upload.py": (
            "def put_pending(db, t):\n"
            "    db.put_item(TableName='v', Item={'track_id': {'S': t}, 'state': {'S': 'pending'}})\n"
        ),
        "infra/src/audioval_infra/streams.py": (
            "item = {'az': {'S': 'a'}, 'stream_name': {'S': 'n'}, 'state': {'S': 'active'}}\n"
        ),
        "libs/localstack/src/audioval_localstack/faults.py": (
            "import hashlib\n"
            "def key(k):\n"
            "    return int.from_bytes(hashlib.md5(k.encode()).digest(), 'big')\n"
        ),
        "services/rebuild/src/audioval_rebuild/manifest.py": (
            "from google.protobuf import json_format\n"
            "from audioval.v1 import pipeline_pb2\n"
            "def parse(body):\n"
            "    return json_format.Parse(body, pipeline_pb2.Manifest())\n"
        ),
        # Tests may write items by hand: they are not scanned.
        "services/ingest/tests/test_x.py": "x = {'track_id': {'S': 't'}}\n",
        # The home itself is allowed to.
        HOME + "verdict_table.py": "x = {'track_id': {'S': 't'}}\n",
    }
    for relative, text in copies.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found = second_writers(tmp_path)
    flagged = {f.split(":", 1)[0] for f in found}
    assert flagged == {
        "services/ingest/src/audioval_ingest/upload.py",
        "infra/src/audioval_infra/streams.py",
        "libs/localstack/src/audioval_localstack/faults.py",
        "services/rebuild/src/audioval_rebuild/manifest.py",
    }
    assert any("DynamoDB put_item" in f for f in found)
    assert any("'track_id' written out" in f for f in found)


# -- every writer, read back with the one codec ----------------------------------------------


@dataclass
class Aws:
    settings: PipelineSettings
    dynamodb: Any
    kinesis: Any
    sqs: Any

    def verdict_item(self, track_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.settings.verdict_table,
            Key={"track_id": {"S": track_id}},
            ConsistentRead=True,
        )["Item"]
        return item


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    run = uuid.uuid4().hex[:8]
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
            aws_max_attempts=2,
            # moto keeps one backend per process: every server started by this pytest run
            # shares queues and tables, so this module's names are its own.
            availability_zone=f"contracts-{run}",
            stream_registry_table=f"contracts-registry-{run}",
            stream_name_prefix=f"contracts-{run}",
            manifest_queue=f"contracts-manifests-{run}.fifo",
            dead_letter_queue=f"contracts-dlq-{run}.fifo",
            verdict_table=f"contracts-verdicts-{run}",
        )
        provision(settings, baseline_streams=2)
        yield Aws(
            settings,
            aws_client("dynamodb", settings),
            aws_client("kinesis", settings),
            aws_client("sqs", settings),
        )


def _funnel(aws: Aws) -> Any:
    from audioval_ingest.settings import IngestSettings
    from audioval_ingest.stream_set import StreamSet
    from audioval_ingest.upload import UploadFunnel

    return UploadFunnel(
        kinesis=aws.kinesis,
        sqs=aws.sqs,
        dynamodb=aws.dynamodb,
        stream_set=StreamSet(
            aws.dynamodb,
            table=aws.settings.stream_registry_table,
            availability_zone=aws.settings.availability_zone,
        ),
        settings=IngestSettings(port=0, pipeline=aws.settings),
    )


def _verdict(track_id: str, user_id: str) -> verdict_pb2.Verdict:
    return verdict_pb2.Verdict(
        track_id=track_id,
        user_id=user_id,
        decision=verdict_pb2.DECISION_ACCEPT,
        label=verdict_pb2.LABEL_REAL,
        score=0.25,
        model_version="contract-test",
    )


def test_ingests_pending_item_reads_back_with_the_track_name(aws: Aws) -> None:
    from audioval_ingest.upload import UploadMetadata, new_track_id

    track_id = new_track_id()
    _funnel(aws).put_pending(track_id, UploadMetadata(user_id="u-1", track_name="Song é.wav"))
    item = VerdictItem.from_item(aws.verdict_item(track_id))
    assert (item.track_id, item.state, item.user_id, item.track_name) == (
        track_id,
        PENDING,
        "u-1",
        "Song é.wav",
    )
    assert item.verdict is None and item.updated_at > 0
    assert VerdictItem.from_item(item.to_item()) == item


def test_classifys_first_verdict_replaces_the_pending_item_and_reads_back(aws: Aws) -> None:
    from audioval_classify.dynamo_store import DynamoVerdictStore
    from audioval_ingest.upload import UploadMetadata, new_track_id

    track_id = new_track_id()
    _funnel(aws).put_pending(track_id, UploadMetadata(user_id="u-2", track_name="a.flac"))
    store = DynamoVerdictStore(aws.dynamodb, aws.settings.verdict_table)
    verdict = _verdict(track_id, "u-2")
    assert store.put_if_absent(verdict) == (verdict, True)
    item = VerdictItem.from_item(aws.verdict_item(track_id))
    assert (item.state, item.user_id, item.decoded_verdict()) == (JUDGED, "u-2", verdict)
    # The judged item is written whole, as before the codec had one home: no track name.
    assert item.track_name is None
    # The first verdict wins: a later one is not stored.
    later = _verdict(track_id, "u-2")
    later.score = 0.99
    assert store.put_if_absent(later) == (verdict, False)


def test_a_superseding_verdict_replaces_only_the_one_read_and_keeps_it_in_the_trail(
    aws: Aws,
) -> None:
    from audioval_classify.dynamo_store import DynamoVerdictStore

    track_id = f"trk_{uuid.uuid4().hex}"
    store = DynamoVerdictStore(aws.dynamodb, aws.settings.verdict_table)
    accepted = _verdict(track_id, "u-9")
    assert store.put_if_absent(accepted)[1]
    rejected = _verdict(track_id, "u-9")
    rejected.decision = verdict_pb2.DECISION_REJECT
    stale = _verdict(track_id, "u-9")
    stale.score = 0.42  # not what is stored: refused
    assert not store.supersede(rejected, replaces=stale, reason="stale read")
    assert store.get(track_id) == accepted
    assert store.supersede(rejected, replaces=accepted, reason="fingerprint.known_bad ref 7")
    item = VerdictItem.from_item(aws.verdict_item(track_id))
    assert (item.state, item.user_id, item.decoded_verdict()) == (JUDGED, "u-9", rejected)
    ((old, at_ms, reason),) = store.superseded(track_id)
    assert (old, reason) == (accepted, "fingerprint.known_bad ref 7") and at_ms > 0
    # A pending track has no verdict to supersede.
    assert not store.supersede(
        _verdict("never-judged", ""), replaces=_verdict("never-judged", ""), reason="x"
    )


def test_rebuilds_rejection_reads_back_with_the_one_codec(aws: Aws) -> None:
    from audioval_rebuild.integrity import CountMismatchError
    from audioval_rebuild.verdict_table import VerdictTable, rejection

    track_id = f"trk_{uuid.uuid4().hex}"
    manifest = pipeline_pb2.Manifest(track_id=track_id, user_id="u-3")
    verdict = rejection(manifest, CountMismatchError("two chunks missing"), elapsed_ms=1.5)
    assert VerdictTable(aws.dynamodb, aws.settings.verdict_table).put_first(verdict)
    item = VerdictItem.from_item(aws.verdict_item(track_id))
    assert (item.state, item.user_id) == (JUDGED, "u-3")
    assert item.decoded_verdict() == verdict


def test_the_local_stacks_registry_items_read_back_as_active_baseline_streams(aws: Aws) -> None:
    entries = read_zone(
        aws.dynamodb, aws.settings.stream_registry_table, aws.settings.availability_zone
    )
    prefix = f"{aws.settings.stream_name_prefix}-{aws.settings.availability_zone}"
    assert entries == (
        StreamEntry(aws.settings.availability_zone, f"{prefix}-0", ACTIVE, BASELINE),
        StreamEntry(aws.settings.availability_zone, f"{prefix}-1", ACTIVE, BASELINE),
    )


def test_the_lambdas_registry_writes_read_back_with_the_one_codec(aws: Aws) -> None:
    from audioval_stream_autoscaler import Action, StreamSetActuator

    az = f"contract-{uuid.uuid4().hex[:8]}"
    table = aws.settings.stream_registry_table
    name = f"{aws.settings.stream_name_prefix}-{az}-0"
    actuator = StreamSetActuator(
        aws.dynamodb,
        aws.kinesis,
        table=table,
        shards=1,
        retention_hours=24,
        kms_key_id=None,
        clock=lambda: 1_800_000_000.0,
        sleep=lambda _s: None,
        wait_s=5.0,
    )
    assert actuator.add(az, name)
    assert read_zone(aws.dynamodb, table, az) == (
        StreamEntry(az, name, ACTIVE, EXTRA, created_at=1_800_000_000.0),
    )
    actuator.apply(Action("drain", az, name, "contract"))
    (entry,) = read_zone(aws.dynamodb, table, az)
    assert (entry.state, entry.draining_since) == (DRAINING, 1_800_000_000.0)
    assert StreamEntry.from_item(entry.to_item()) == entry
    actuator.remove(az, name)
    assert read_zone(aws.dynamodb, table, az) == ()


def test_the_pulumi_baseline_items_read_back_with_the_one_codec(aws: Aws) -> None:
    from audioval_infra.mocks import run_stack

    run = run_stack("dev")
    items = [json.loads(r.inputs["item"]) for r in run.of_type("aws:dynamodb/tableItem:TableItem")]
    assert items
    for raw in items:
        entry = StreamEntry.from_item(raw)
        assert (entry.state, entry.role) == (ACTIVE, BASELINE)
        assert entry.to_item() == raw
    # DynamoDB takes the TableItem's JSON as it is, and producers read it back.
    az = f"pulumi-{uuid.uuid4().hex[:8]}"
    table = aws.settings.stream_registry_table
    for raw in items:
        aws.dynamodb.put_item(TableName=table, Item={**raw, "az": {"S": az}})
    assert {e.stream_name for e in read_zone(aws.dynamodb, table, az)} == {
        raw["stream_name"]["S"] for raw in items
    }


def test_the_manifest_ingest_sends_is_the_one_rebuild_reads(aws: Aws) -> None:
    from audioval_rebuild.manifest import parse_manifest

    funnel = _funnel(aws)
    manifest = pipeline_pb2.Manifest(
        track_id=f"trk_{uuid.uuid4().hex}",
        user_id="u-4",
        track_name="naïve ♫.mp3",
        size_bytes=3,
        sha256="ab" * 32,
        chunk_count=1,
        chunks=[
            pipeline_pb2.ChunkLocation(
                index=0, stream_name="s", shard_id="shardId-0", sequence_number="1", size_bytes=3
            )
        ],
    )
    funnel.send_manifest(manifest)
    (message,) = aws.sqs.receive_message(
        QueueUrl=funnel.queue_url(),
        MaxNumberOfMessages=1,
        WaitTimeSeconds=5,
        MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    )["Messages"]
    aws.sqs.delete_message(QueueUrl=funnel.queue_url(), ReceiptHandle=message["ReceiptHandle"])
    assert parse_manifest(message["Body"]) == manifest
    assert message["Attributes"]["MessageGroupId"] == manifest.track_id
    assert message["Attributes"]["MessageDeduplicationId"] == manifest.track_id
