"""Kinesis shard placement and per-shard write budgets, as ingest and the local stack use them.

Placement is Kinesis' own: a record's 128-bit hash key is the MD5 of its partition key (or its
``ExplicitHashKey``), and the record goes to the one open shard whose ``HashKeyRange`` holds it.
Ingest's writers find their track's shard this way before the first answer names it
(:class:`ShardMap`); the local stack's fault proxy places records the same way to throttle them.

A track's records are spread over the stream's shards (:func:`spread_hash_keys`): record ``i``
goes with the ``i % slots``-th of ``slots`` hash keys spread over the hash-key space from the
track's own (the MD5 of its id), sent as ``ExplicitHashKey``. Kinesis splits a new stream's
hash-key space evenly, so with ``slots`` a multiple of the shard count every shard takes an even
share of every track, and no single shard's 1 MiB/s in or 2 MiB/s out bounds one track; the manifest names
the shard of each record, so readers read the shards in parallel.

Budgets are token buckets (:class:`TokenBucket`): ``rate`` tokens a second, at most ``capacity``
held. A shard's write budget (:class:`WriteBudget`) is two of them, bytes and records. The fault
proxy *admits* a record only if both have room, as Kinesis does; ingest's :class:`ShardPacer`
*reserves* a call's budget even into debt and waits the debt out before sending, the way the
Kinesis Producer Library limits its rate per shard.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = [
    "HASH_KEY_SPACE",
    "ShardMap",
    "ShardPacer",
    "ShardRange",
    "TokenBucket",
    "WriteBudget",
    "hash_key",
    "open_shards",
    "shard_for",
    "spread_hash_keys",
]

log = logging.getLogger(__name__)


def hash_key(partition_key: str, explicit_hash_key: str | None = None) -> int:
    """The 128-bit hash key Kinesis places a record by."""
    if explicit_hash_key:
        return int(explicit_hash_key)
    digest = hashlib.md5(partition_key.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest, "big")


HASH_KEY_SPACE = 2**128


def _van_der_corput(index: int) -> float:
    """``index`` with its binary digits mirrored after the point: 0, 1/2, 1/4, 3/4, 1/8, ..."""
    value, scale = 0.0, 0.5
    while index:
        value += scale * (index & 1)
        index >>= 1
        scale /= 2
    return value


def spread_hash_keys(partition_key: str, slots: int) -> list[int]:
    """``slots`` hash keys over the hash-key space, the first the partition key's own.

    Key ``j`` is the partition key's own shifted by the ``j``-th fraction of the van der Corput
    sequence (0, 1/2, 1/4, 3/4, 1/8, ...), so any first ``2**k`` keys are evenly spaced: on a
    stream of ``n`` evenly split shards (``n`` a power of two, ``slots`` a multiple of it), a
    track's records ``i`` to ``i + n - 1`` (``i`` a multiple of ``n``) land on ``n``
    different shards. Starting from the track's own key keeps tracks from all starting on the
    same shard.
    """
    if slots < 1:
        raise ValueError("slots must be at least 1")
    base = hash_key(partition_key)
    return [
        (base + int(_van_der_corput(j) * HASH_KEY_SPACE)) % HASH_KEY_SPACE for j in range(slots)
    ]


@dataclass(frozen=True)
class ShardRange:
    """An open shard and the hash keys it takes (both ends included)."""

    shard_id: str
    start: int
    end: int


def open_shards(shards: Iterable[Mapping[str, Any]]) -> list[ShardRange]:
    """The open shards of a ListShards page (a shard closed by a reshard takes no records)."""
    found: list[ShardRange] = []
    for shard in shards:
        if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
            continue
        hash_range = shard["HashKeyRange"]
        found.append(
            ShardRange(
                str(shard["ShardId"]),
                int(hash_range["StartingHashKey"]),
                int(hash_range["EndingHashKey"]),
            )
        )
    return found


def shard_for(shards: Iterable[ShardRange], key: int) -> ShardRange | None:
    """The shard whose range holds ``key``; None if none does (the map is stale)."""
    return next((s for s in shards if s.start <= key <= s.end), None)


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` held (full at first); may run into debt.

    Not thread safe: its owner holds a lock.
    """

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def take(self, cost: float, now: float) -> bool:
        """Take ``cost`` if it is there; False (and nothing taken) otherwise."""
        self.refill(now)
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def charge(self, cost: float, now: float) -> None:
        """Take ``cost`` even into debt (when the cost is known only after the fact, or when
        the caller waits the debt out)."""
        self.refill(now)
        self.tokens -= cost

    def give(self, cost: float, now: float) -> None:
        """Give back ``cost`` (what was charged for work that was refused), up to capacity."""
        self.refill(now)
        self.tokens = min(self.capacity, self.tokens + cost)

    def debt_s(self) -> float:
        """Seconds until the bucket is out of debt (0 when it is not in debt)."""
        return max(-self.tokens / self.rate, 0.0)


class WriteBudget:
    """One shard's write budget: a bytes bucket and a records bucket (not thread safe)."""

    def __init__(
        self,
        bytes_per_s: float,
        records_per_s: float,
        *,
        bytes_capacity: float,
        records_capacity: float,
        now: float,
    ) -> None:
        self.bytes = TokenBucket(bytes_per_s, bytes_capacity, now)
        self.records = TokenBucket(records_per_s, records_capacity, now)

    def admit(self, size: float, records: float, now: float) -> bool:
        """Take ``size`` bytes and ``records`` records if both are there; else take nothing."""
        self.bytes.refill(now)
        self.records.refill(now)
        if self.records.tokens < records or self.bytes.tokens < size:
            return False
        self.records.tokens -= records
        self.bytes.tokens -= size
        return True

    def reserve(self, size: float, records: float, now: float) -> float:
        """Take both even into debt; seconds to wait until the debt is paid."""
        self.bytes.charge(size, now)
        self.records.charge(records, now)
        return max(self.bytes.debt_s(), self.records.debt_s())

    def refund(self, size: float, records: float, now: float) -> None:
        self.bytes.give(size, now)
        self.records.give(records, now)


class ShardPacer:
    """Each shard's write budget, shared by the writers of one process.

    Parameters
    ----------
    bytes_per_s, records_per_s
        A shard's write limits (Kinesis: 1 MiB and 1,000 records a second).
    burst_s
        Seconds of budget a shard idle for long may spend at once; also the most one call
        carries.
    headroom
        Share of the rates left unused once the burst is spent. Calls reach the shard a few
        milliseconds after their turn, not always in the order they took it; paced at exactly
        the limit, a call that arrives early finds the shard empty and is refused.
    clock
        Time source (tests pass a manual one).
    """

    def __init__(
        self,
        bytes_per_s: float = 1024 * 1024,
        records_per_s: float = 1000.0,
        *,
        burst_s: float = 1.0,
        headroom: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bytes_per_s <= 0 or records_per_s <= 0 or burst_s <= 0:
            raise ValueError("rates and burst must be positive")
        if not 0.0 <= headroom < 1.0:
            raise ValueError("headroom must be within [0, 1)")
        self._call_bytes = bytes_per_s * burst_s
        self._call_records = records_per_s * burst_s
        self._bytes_per_s = bytes_per_s * (1.0 - headroom)
        self._records_per_s = records_per_s * (1.0 - headroom)
        self._clock = clock
        self._lock = threading.Lock()
        # (stream, shard) -> its budget, in debt while calls that reserved it wait for it.
        self._budgets: dict[tuple[str, str], WriteBudget] = {}

    @property
    def call_bytes(self) -> float:
        """The most bytes (data + partition keys) one call to a shard should carry."""
        return self._call_bytes

    @property
    def call_records(self) -> float:
        """The most records one call to a shard should carry."""
        return self._call_records

    def reserve(self, stream: str, shard_id: str, size: int, records: int) -> float:
        """Take one call's budget from the shard; seconds to wait before sending it."""
        with self._lock:
            now = self._clock()
            return self._budget(stream, shard_id, now).reserve(size, records, now)

    def refund(self, stream: str, shard_id: str, size: int, records: int) -> None:
        """Give back the budget of records the shard refused (it charged nothing for them)."""
        with self._lock:
            now = self._clock()
            self._budget(stream, shard_id, now).refund(size, records, now)

    def _budget(self, stream: str, shard_id: str, now: float) -> WriteBudget:
        key = (stream, shard_id)
        budget = self._budgets.get(key)
        if budget is None:
            budget = WriteBudget(
                self._bytes_per_s,
                self._records_per_s,
                bytes_capacity=self._call_bytes,
                records_capacity=self._call_records,
                now=now,
            )
            self._budgets[key] = budget
        return budget


class ShardMap:
    """Which open shard of a stream takes a partition key, from ListShards (cached per stream).

    Parameters
    ----------
    kinesis
        A boto3 Kinesis client (anything with ``list_shards``).
    ttl_s
        How long a stream's map is trusted; an answer naming another shard drops it sooner.
    clock
        Time source (tests pass a manual one).
    """

    def __init__(
        self, kinesis: Any, *, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._kinesis = kinesis
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        # stream -> (read at, its open shards); [] if unreadable
        self._maps: dict[str, tuple[float, list[ShardRange]]] = {}

    def shard_of(self, stream: str, partition_key: str) -> str | None:
        """The shard ``partition_key`` goes to, or None if the map cannot say."""
        return self.shard_of_key(stream, hash_key(partition_key))

    def shard_of_key(self, stream: str, key: int) -> str | None:
        """The shard the 128-bit hash ``key`` goes to, or None if the map cannot say."""
        found = shard_for(self._ranges(stream), key)
        return found.shard_id if found is not None else None

    def forget(self, stream: str) -> None:
        """Read the stream's map again next time (it was resharded)."""
        with self._lock:
            self._maps.pop(stream, None)

    def _ranges(self, stream: str) -> list[ShardRange]:
        now = self._clock()
        with self._lock:
            cached = self._maps.get(stream)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        ranges = self._read(stream)
        with self._lock:
            self._maps[stream] = (now, ranges)
        return ranges

    def _read(self, stream: str) -> list[ShardRange]:
        ranges: list[ShardRange] = []
        request: dict[str, Any] = {"StreamName": stream}
        try:
            while True:
                page = self._kinesis.list_shards(**request)
                ranges.extend(open_shards(page.get("Shards", [])))
                token = page.get("NextToken")
                if not token:
                    return ranges
                request = {"NextToken": token}  # ListShards takes the token alone
        except (BotoCoreError, ClientError) as exc:
            # Not fatal: calls go out unpaced until the map can be read (after ttl_s).
            log.warning("could not read the shard map", extra={"stream": stream, "error": str(exc)})
            return []
