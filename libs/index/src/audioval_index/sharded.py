"""The index past one machine: hash-space shards held by Ray actors, segments in S3.

Shard ``s`` of ``S`` owns one range of the *mixed* hash space: ``(hash * 2654435761 mod 2**32)
* S >> 32 == s`` (a Fibonacci multiply first, so the packed fields of a landmark hash, whose
top bits are not uniform, spread evenly over the shards). Each shard is a Ray actor
(:class:`IndexShard`) that holds its segments (sorted ``uint32`` hashes and ``uint64`` postings,
the embedded store's format) mapped from a local cache of immutable S3 objects::

    s3://BUCKET/PREFIX/shard-007/NAME.hash.npy    one segment of shard 7 (never rewritten)
    s3://BUCKET/PREFIX/shard-007/NAME.post.npy
    s3://BUCKET/PREFIX/refs/GENERATION.json       the references one commit added
    s3://BUCKET/PREFIX/manifest/GENERATION.json   the state: segments per shard, reference
                                                  batches, tombstones, the next ref id

The coordinator (:class:`ShardedIndex`, in the process that adds and queries) keeps the
references. Adding a track sends each shard its slice of the hashes; a flush has every shard
write its buffered slice as a new segment (in parallel), then one new manifest object commits
the segments and the references together (conditional put: a second writer committing the
same generation fails instead of overwriting). A query sends each shard only its slice of the
query hashes (the lookup work is split, not repeated); each returns its hits ``(query hash
index, ref, ref time)`` and the coordinator drops tombstones and aligns them
(:func:`audiomodel.fingerprint.align` needs one reference's hits together, which hash sharding
scatters). An actor that restarts or moves downloads its segments again from S3.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from audiomodel.fingerprint import Hashes
from audioval_index.store import (
    COMPACT_DELETED_SHARE,
    FLUSH_ENTRIES,
    KNOWN_BAD,
    MAX_HITS,
    HitArrays,
    IndexFront,
    IndexStats,
    IndexStoreError,
    Reference,
    ReferenceWriter,
    _now,
    lookup_segments,
    merge_segments,
    segments_to_merge,
)

__all__ = ["DEFAULT_SHARDS", "IndexShard", "S3Location", "ShardedIndex", "shard_of"]

DEFAULT_SHARDS = 4
_MIX = np.uint64(2654435761)  # Knuth's multiplicative constant (2**32 / golden ratio)


def shard_of(values: npt.NDArray[np.uint32], shards: int) -> npt.NDArray[np.int64]:
    """The shard that owns each hash: its range of the mixed hash space."""
    mixed = (values.astype(np.uint64) * _MIX) & np.uint64(0xFFFFFFFF)
    return ((mixed * np.uint64(shards)) >> np.uint64(32)).astype(np.int64)


@dataclass(frozen=True)
class S3Location:
    """Where a sharded index lives: a bucket, a key prefix, and how to reach S3.

    ``client_options`` go to ``boto3.client("s3", ...)`` in every process that touches the
    bucket (the coordinator and each shard actor): endpoint, region, credentials.
    """

    bucket: str
    prefix: str = "index"
    client_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, uri: str, **client_options: Any) -> S3Location:
        """``s3://bucket/prefix`` (prefix optional)."""
        if not uri.startswith("s3://"):
            raise IndexStoreError(f"not an s3:// URI: {uri!r}")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise IndexStoreError(f"no bucket in {uri!r}")
        return cls(bucket, prefix.strip("/") or "index", dict(client_options))

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        options = {"region_name": "us-east-1", **self.client_options}
        return boto3.client("s3", config=Config(retries={"mode": "standard"}), **options)

    def key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))


def _put_array(client: Any, location: S3Location, key: str, array: npt.NDArray[Any]) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array))
    client.put_object(Bucket=location.bucket, Key=location.key(key), Body=buffer.getvalue())


class IndexShard:
    """One hash range's segments (run as a Ray actor: ``ray.remote(IndexShard)``).

    Holds the segments the coordinator's manifest names (:meth:`sync`), downloaded once into a
    local cache directory and mapped read-only; writes new segments to S3 (:meth:`write`,
    :meth:`merge`) without making them live: only the next manifest does.
    """

    def __init__(self, location: S3Location, shard: int) -> None:
        self._location = location
        self._shard = shard
        self._client = location.client()
        self._cache = Path(tempfile.mkdtemp(prefix=f"index-shard-{shard:03d}-"))
        self._segments: dict[str, tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]] = {}
        self._live: list[str] = []

    def _key(self, name: str, suffix: str) -> str:
        return f"shard-{self._shard:03d}/{name}{suffix}"

    def _load(self, name: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]:
        held = self._segments.get(name)
        if held is not None:
            return held
        arrays = []
        for suffix in (".hash.npy", ".post.npy"):
            path = self._cache / f"{name}{suffix}"
            if not path.exists():
                partial = path.with_suffix(".part")
                self._client.download_file(
                    self._location.bucket,
                    self._location.key(self._key(name, suffix)),
                    str(partial),
                )
                partial.replace(path)
            arrays.append(np.load(path, mmap_mode="r"))
        held = (arrays[0], arrays[1])
        self._segments[name] = held
        return held

    def sync(self, names: Sequence[str]) -> int:
        """Hold exactly ``names`` (the manifest's segments of this shard); entries held."""
        for name in names:
            self._load(name)
        for gone in set(self._segments) - set(names):
            del self._segments[gone]
            for suffix in (".hash.npy", ".post.npy"):
                with contextlib.suppress(FileNotFoundError):
                    (self._cache / f"{gone}{suffix}").unlink()
        self._live = list(names)
        return sum(int(self._segments[n][0].shape[0]) for n in self._live)

    def write(
        self, hashes_: npt.NDArray[np.uint32], postings: npt.NDArray[np.uint64]
    ) -> tuple[str, int]:
        """Sort and upload one new segment (not live until a manifest names it)."""
        order = np.argsort(hashes_, kind="stable")
        return self._write(hashes_[order], postings[order])

    def _write(
        self, hashes_: npt.NDArray[np.uint32], postings: npt.NDArray[np.uint64]
    ) -> tuple[str, int]:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        for suffix, array in ((".hash.npy", hashes_), (".post.npy", postings)):
            _put_array(self._client, self._location, self._key(name, suffix), array)
            np.save(self._cache / f"{name}{suffix}", np.ascontiguousarray(array))
        return name, int(hashes_.size)

    def merge(self, names: Sequence[str], deleted: npt.NDArray[np.uint32]) -> tuple[str, int]:
        """One new segment holding ``names``' postings minus those of ``deleted`` refs."""
        return self._write(*merge_segments([self._load(name) for name in names], deleted))

    def lookup(self, query: npt.NDArray[np.uint32], budget: int) -> HitArrays:
        """Hits of this shard's slice of a query (see :func:`audioval_index.store.lookup_segments`)."""
        return lookup_segments([self._segments[n] for n in self._live], query, budget=budget)

    def close(self) -> None:
        shutil.rmtree(self._cache, ignore_errors=True)


@dataclass
class _Manifest:
    generation: int
    shards: int
    next_ref: int
    segments: list[list[tuple[str, int]]]
    ref_batches: list[str]
    deleted: list[int]
    purged: list[int]

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    def copy(self) -> _Manifest:
        """A copy to build the next generation in (the lists are its own)."""
        return _Manifest(
            self.generation,
            self.shards,
            self.next_ref,
            [list(shard) for shard in self.segments],
            list(self.ref_batches),
            list(self.deleted),
            list(self.purged),
        )

    @classmethod
    def from_json(cls, data: bytes) -> _Manifest:
        raw = json.loads(data)
        raw["segments"] = [[(str(n), int(e)) for n, e in shard] for shard in raw["segments"]]
        return cls(**raw)


class ShardedIndex(IndexFront):
    """A fingerprint index over Ray shard actors and S3: the embedded store's interface.

    ``ray`` must be initialised (the caller joins its cluster). ``shards`` applies when the
    index is created; an existing index keeps the count its manifest records.
    """

    def __init__(self, location: S3Location, *, shards: int = DEFAULT_SHARDS) -> None:
        import ray

        self.location = location
        self._client = location.client()
        manifest = self._latest()
        if manifest is None:
            manifest = _Manifest(0, shards, 1, [[] for _ in range(shards)], [], [], [])
        self._manifest = manifest
        self._refs: dict[int, Reference] = {}
        for batch in manifest.ref_batches:
            self._load_refs(batch)
        actor: Any = ray.remote(num_cpus=0)(IndexShard)
        self._actors: list[Any] = [actor.remote(location, s) for s in range(manifest.shards)]
        self._sync()

    # S3 state ---------------------------------------------------------------------------------

    def _latest(self) -> _Manifest | None:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.key("manifest/")
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        if not keys:
            return None
        body = self._client.get_object(Bucket=self.location.bucket, Key=max(keys))["Body"]
        return _Manifest.from_json(body.read())

    def _load_refs(self, batch: str) -> None:
        body = self._client.get_object(Bucket=self.location.bucket, Key=self.location.key(batch))
        for row in json.loads(body["Body"].read()):
            reference = Reference(**row)
            self._refs[reference.ref] = reference

    def _commit(self, manifest: _Manifest, added: Sequence[Reference]) -> None:
        from botocore.exceptions import ClientError

        manifest.generation += 1
        if added:
            batch = f"refs/{manifest.generation:012d}.json"
            self._client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(batch),
                Body=json.dumps([r.to_dict() for r in added]).encode(),
            )
            manifest.ref_batches.append(batch)
        try:
            self._client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(f"manifest/{manifest.generation:012d}.json"),
                Body=manifest.to_json(),
                IfNoneMatch="*",
            )
        except ClientError as err:
            raise IndexStoreError(
                f"another writer committed generation {manifest.generation} of "
                f"s3://{self.location.bucket}/{self.location.prefix}: {err}"
            ) from err
        deleted = set(manifest.deleted)
        for reference in added:
            self._refs[reference.ref] = reference
        for ref in deleted:
            held = self._refs.get(ref)
            if held is not None and not held.deleted:
                self._refs[ref] = Reference(**{**held.to_dict(), "deleted": True})
        self._manifest = manifest
        self._sync()

    def _sync(self) -> None:
        import ray

        ray.get(
            [
                actor.sync.remote([name for name, _ in self._manifest.segments[s]])
                for s, actor in enumerate(self._actors)
            ]
        )
        self._deleted = np.asarray(sorted(self._manifest.deleted), dtype=np.uint32)
        for ref in self._manifest.deleted:
            held = self._refs.get(ref)
            if held is not None and not held.deleted:
                self._refs[ref] = Reference(**{**held.to_dict(), "deleted": True})
        bad = [r.ref for r in self._refs.values() if r.list == KNOWN_BAD and not r.deleted]
        self._bad = np.asarray(sorted(bad), dtype=np.uint32)

    def refresh(self) -> None:
        """Read the latest manifest (what other writers committed since)."""
        manifest = self._latest()
        if manifest is None or manifest.generation == self._manifest.generation:
            return
        for batch in manifest.ref_batches[len(self._manifest.ref_batches) :]:
            self._load_refs(batch)
        self._manifest = manifest
        self._sync()

    def close(self) -> None:
        import ray

        with contextlib.suppress(Exception):
            ray.get([actor.close.remote() for actor in self._actors])
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []

    # Reading ----------------------------------------------------------------------------------

    @property
    def shards(self) -> int:
        return self._manifest.shards

    def lookup(self, query: Hashes) -> HitArrays:
        """Every posting of every query hash, from the shards that own them (in parallel)."""
        import ray

        owner = shard_of(query.hashes, self.shards)
        positions = [np.flatnonzero(owner == s) for s in range(self.shards)]
        budget = max(MAX_HITS // self.shards, 1)
        calls = [
            (pos, self._actors[s].lookup.remote(query.hashes[pos], budget))
            for s, pos in enumerate(positions)
            if pos.size
        ]
        parts = [(pos, ray.get(call)) for pos, call in calls]
        if not parts:
            return (np.zeros(0, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        hq = np.concatenate([pos[hits[0]] for pos, hits in parts]).astype(np.int64)
        refs = np.concatenate([hits[1] for _, hits in parts])
        times = np.concatenate([hits[2] for _, hits in parts])
        if self._deleted.size:
            live = ~np.isin(refs, self._deleted)
            hq, refs, times = hq[live], refs[live], times[live]
        return hq, refs, times

    def _references(self, refs: Sequence[int]) -> dict[int, Reference]:
        return {int(r): self._refs[int(r)] for r in refs if int(r) in self._refs}

    def _known_bad(self) -> npt.NDArray[np.uint32]:
        return self._bad

    def reference(self, ref: int) -> Reference | None:
        return self._refs.get(int(ref))

    def references(self, *, include_deleted: bool = False) -> list[Reference]:
        return [r for _, r in sorted(self._refs.items()) if include_deleted or not r.deleted]

    def shard_entries(self) -> list[int]:
        """Postings each shard holds (tombstoned ones until compaction included)."""
        return [sum(e for _, e in shard) for shard in self._manifest.segments]

    def stats(self) -> IndexStats:
        live = [r for r in self._refs.values() if not r.deleted]
        entries = sum(self.shard_entries())
        return IndexStats(
            references=len(live),
            deleted=len(self._refs) - len(live),
            segments=sum(len(shard) for shard in self._manifest.segments),
            entries=entries,
            bytes=entries * 12,
            hours=sum(r.duration_s for r in live) / 3600.0,
        )

    # Writing ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self) -> Iterator[ShardedWriter]:
        """A writer session: what it buffered is committed on exit (nothing on an exception)."""
        writer = ShardedWriter(self)
        yield writer
        writer.flush()


class ShardedWriter(ReferenceWriter):
    """Adds and deletes references of a :class:`ShardedIndex`; see :meth:`ShardedIndex.writer`."""

    def __init__(self, index: ShardedIndex) -> None:
        self._index = index
        shards = index.shards
        self._hashes: list[list[npt.NDArray[np.uint32]]] = [[] for _ in range(shards)]
        self._postings: list[list[npt.NDArray[np.uint64]]] = [[] for _ in range(shards)]
        self._added: list[Reference] = []
        self._deleted: list[int] = []
        self._buffered = 0
        self._next_ref = index._manifest.next_ref

    def _buffer(
        self,
        entries: Hashes,
        duration_s: float,
        list_name: str,
        path: str | None,
        track_id: str | None,
    ) -> Reference:
        ref = self._next_ref
        self._next_ref += 1
        reference = Reference(ref, list_name, path, track_id, duration_s, len(entries), _now())
        self._added.append(reference)
        owner = shard_of(entries.hashes, len(self._hashes))
        postings = (np.uint64(ref) << np.uint64(32)) | entries.times.astype(np.uint64)
        for s in np.unique(owner):
            mine = owner == s
            self._hashes[s].append(entries.hashes[mine])
            self._postings[s].append(postings[mine])
        self._buffered += len(entries)
        if self._buffered >= FLUSH_ENTRIES:
            self.flush()
        return reference

    def delete(self, ref: int) -> bool:
        held = self._index.reference(ref)
        pending = next((r for r in self._added if r.ref == ref), None)
        if (held is None or held.deleted) and pending is None:
            return False
        if ref in self._deleted or ref in self._index._manifest.deleted:
            return False
        self._deleted.append(int(ref))
        self.flush()
        return True

    def flush(self) -> None:
        """Each shard writes its slice as a segment (in parallel); one manifest commits all."""
        import ray

        if not self._added and not self._deleted:
            return
        index = self._index
        old = index._manifest
        manifest = old.copy()
        manifest.next_ref = self._next_ref
        manifest.deleted = sorted({*old.deleted, *self._deleted})
        calls = {
            s: index._actors[s].write.remote(
                np.concatenate(self._hashes[s]), np.concatenate(self._postings[s])
            )
            for s in range(old.shards)
            if self._hashes[s]
        }
        for s, call in calls.items():
            name, entries = ray.get(call)
            manifest.segments[s].append((str(name), int(entries)))
        self._merge_tiers(manifest)
        index._commit(manifest, self._added)
        self._hashes = [[] for _ in range(old.shards)]
        self._postings = [[] for _ in range(old.shards)]
        self._added, self._deleted, self._buffered = [], [], 0
        self._compact_if_worth_it()

    def _merge_tiers(self, manifest: _Manifest, *, everything: bool = False) -> None:
        import ray

        deleted = np.asarray(manifest.deleted, dtype=np.uint32)
        for s, actor in enumerate(self._index._actors):
            while True:
                segments = manifest.segments[s]
                if everything:
                    whole = len(segments) > 1 or (segments and deleted.size)
                    names: list[str] | None = [n for n, _ in segments] if whole else None
                else:
                    names = segments_to_merge(segments)
                if not names:
                    break
                name, entries = ray.get(actor.merge.remote(names, deleted))
                merged = (str(name), int(entries))
                manifest.segments[s] = [seg for seg in segments if seg[0] not in names]
                if merged[1]:
                    manifest.segments[s].append(merged)
                if everything:
                    break
        if everything:
            manifest.purged = list(manifest.deleted)

    def _compact_if_worth_it(self) -> None:
        manifest = self._index._manifest
        purged = set(manifest.purged)
        dead = sum(
            self._index._refs[r].hashes
            for r in manifest.deleted
            if r not in purged and r in self._index._refs
        )
        total = sum(self._index.shard_entries())
        if total and dead / total > COMPACT_DELETED_SHARE:
            self.compact()

    def compact(self) -> None:
        self.flush()
        manifest = self._index._manifest.copy()
        self._merge_tiers(manifest, everything=True)
        self._index._commit(manifest, [])
