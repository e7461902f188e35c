"""The sharded index: hash-range shards on Ray actors, segments in S3 (moto), same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from audiomodel.fingerprint import Landmarks, hashes, landmarks
from audioval_corpus.samples import synth_notes
from audioval_index import FingerprintIndex
from audioval_index.sharded import S3Location, ShardedIndex, shard_of
from audioval_localstack import Emulator
from audioval_localstack.ray_head import RayHead

RATE = 22050


@pytest.fixture(scope="module")
def tracks() -> list[npt.NDArray[np.float32]]:
    return [synth_notes(40.0, seed=seed, rate=RATE) for seed in range(3)]


@pytest.fixture(scope="module")
def marks(tracks: list[npt.NDArray[np.float32]]) -> list[Landmarks]:
    return [landmarks(y, sr=RATE) for y in tracks]


def cut(y: npt.NDArray[np.float32], start_s: float) -> Landmarks:
    """A 10 s excerpt, 6 dB down."""
    return landmarks(0.5 * y[int(start_s * RATE) : int((start_s + 10) * RATE)], sr=RATE)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def location(emulator: Emulator, ray_cluster: RayHead) -> S3Location:
    """A fresh bucket per test (the emulator is shared by the module)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, namespace="audioval")
    place = S3Location(
        bucket=f"index-{uuid.uuid4().hex[:12]}",
        prefix="idx",
        client_options={
            "endpoint_url": emulator.endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        },
    )
    place.client().create_bucket(Bucket=place.bucket)
    return place


def test_each_shard_holds_only_its_hash_range_and_together_all_postings(
    location: S3Location, marks
) -> None:
    with ShardedIndex(location, shards=3) as index:
        with index.writer() as writer:
            for m in marks:
                writer.add(m)
        total = sum(len(hashes(m)) for m in marks)
        per_shard = index.shard_entries()
        assert sum(per_shard) == total
        assert all(n > total // 6 for n in per_shard)  # the mixed hash spreads them
        client = location.client()
        for s in range(3):
            listed = client.list_objects_v2(Bucket=location.bucket, Prefix=f"idx/shard-{s:03d}/")
            keys = [o["Key"] for o in listed["Contents"] if o["Key"].endswith(".hash.npy")]
            assert keys
            body = client.get_object(Bucket=location.bucket, Key=keys[0])["Body"].read()
            held = np.load(__import__("io").BytesIO(body))
            assert (shard_of(held, 3) == s).all()
            assert (np.diff(held.astype(np.int64)) >= 0).all()  # sorted


def test_sharded_matches_are_the_embedded_index_matches(
    location: S3Location, tmp_path: Path, tracks, marks
) -> None:
    embedded = FingerprintIndex(tmp_path / "idx")
    with ShardedIndex(location, shards=4) as sharded:
        for index in (embedded, sharded):
            with index.writer() as writer:
                for i, m in enumerate(marks):
                    writer.add(m, list_name="known-bad" if i == 1 else "catalogue", path=f"s{i}")
        for i, y in enumerate(tracks):
            query = cut(y, 13.0)
            want = embedded.match(query)
            got = sharded.match(query)
            assert got[0].ref == want[0].ref == i + 1
            assert got[0].path == f"s{i}"
            assert [(m.ref, m.count, m.list) for m in got] == [
                (m.ref, m.count, m.list) for m in want
            ]
            assert abs(got[0].ref_start_s - 13.0) < 1.0
        assert sharded.match(landmarks(synth_notes(10.0, seed=99, rate=RATE), sr=RATE)) == []
        # Both know which references to align and report whatever outranks them.
        assert sharded._known_bad().tolist() == embedded._known_bad().tolist() == [2]
    embedded.close()


def test_a_reopened_sharded_index_reads_its_segments_back_from_s3_and_honours_deletes(
    location: S3Location, tracks, marks
) -> None:
    with ShardedIndex(location, shards=2) as index:
        with index.writer() as writer:
            refs = [writer.add(m, track_id=f"t{i}") for i, m in enumerate(marks)]
        assert index.delete(refs[0].ref)
        assert not index.delete(refs[0].ref)
    with ShardedIndex(location, shards=7) as again:  # an existing index keeps its count
        assert again.shards == 2
        assert again.match(cut(tracks[0], 5.0)) == []
        found = again.match(cut(tracks[2], 20.0))
        assert found[0].ref == refs[2].ref and found[0].track_id == "t2"
        assert again.reference(refs[0].ref).deleted  # type: ignore[union-attr]
        # A third of the postings tombstoned: the delete compacted them away (as embedded).
        assert sum(again.shard_entries()) == refs[1].hashes + refs[2].hashes
        again.compact()
        assert sum(again.shard_entries()) == refs[1].hashes + refs[2].hashes
        assert all(len(shard) <= 1 for shard in again._manifest.segments)
        assert again.match(cut(tracks[1], 3.0))[0].ref == refs[1].ref
        new = again.add(marks[0], track_id="t0-again")
        assert new.ref == refs[2].ref + 1
