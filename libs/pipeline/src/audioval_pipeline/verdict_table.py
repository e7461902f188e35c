"""The verdict table every service shares: one item per track, one verdict ever.

The item (:class:`VerdictItem`, the only codec of it):

==============  ====  =======================================================================
attribute       type  holds
==============  ====  =======================================================================
``track_id``    S     the key
``state``       S     ``pending`` (in flight) or ``judged``
``user_id``     S     the uploader
``track_name``  S     pending items only: the name ingest was given
``verdict``     B     judged items only: the binary ``audioval.v1.Verdict``
``updated_at``  N     epoch milliseconds of the write
``superseded``  L     judged items whose verdict was superseded only: the audit trail, oldest
                      first, each ``{verdict: B, superseded_at: N, reason: S}`` (and ``by: S``,
                      the moderator, for a decision)
==============  ====  =======================================================================

The review console's leases are items of their own, keyed ``lease#<track_id>`` with ``state``
``lease``, ``moderator`` (S) and ``expires_at`` (N, epoch ms): never judged, so the verdict
stream and every verdict read pass them by, and a lease write never touches the verdict item.

The writes (:class:`VerdictTable`):

- :meth:`~VerdictTable.put_pending` (ingest, and classify for a track sent to it directly)
  records a track in flight; an existing item is left alone.
- :meth:`~VerdictTable.put_first` (classify for a judged track, rebuild for a track it could not
  rebuild) stores a verdict with one conditional put, so whichever verdict is stored first is the
  only one. It writes the judged item whole, as it always has: the pending item's
  ``track_name`` is not carried over (the verdict names the track by id; a judged item holds
  exactly ``track_id``, ``state``, ``user_id``, ``verdict``, ``updated_at``).
- :meth:`~VerdictTable.supersede` (classify's re-scan, when a new known-bad reference matches
  a track it accepted) replaces a stored verdict, and only the exact verdict the caller read
  (a conditional update), keeping the replaced one in ``superseded`` with the reason: the one
  sanctioned exception to "one verdict ever", explicit and audited.
- :meth:`~VerdictTable.lease` (the review console) hands a track under review to one
  moderator until an expiry, with one conditional put: free, expired or the same moderator's.
- :meth:`~VerdictTable.decide` (the review console) stores a moderator's decision as a
  supersede (the review verdict kept in the trail with who and why), in one transaction with
  the deletion of the moderator's unexpired lease: no lease, no decision.
- :meth:`~VerdictTable.forget_pending` (ingest) removes a pending item whose manifest was never
  sent, and never a judged one.

Errors of the client (``botocore`` ``ClientError`` / ``BotoCoreError``) reach the caller, who
knows what a failure means for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from audioval.v1 import verdict_pb2

__all__ = [
    "FIRST_VERDICT_ONLY",
    "JUDGED",
    "PENDING",
    "TRACK_KEY",
    "AuditEntry",
    "Lease",
    "ReviewItem",
    "TrackLookup",
    "VerdictItem",
    "VerdictTable",
    "verdict_from_item",
]

# The table's one key (hash, S).
TRACK_KEY = "track_id"
PENDING = "pending"
JUDGED = "judged"
FIRST_VERDICT_ONLY = "attribute_not_exists(track_id) OR #s = :pending"
_NEW_ITEM_ONLY = "attribute_not_exists(track_id)"


LEASE = "lease"
_LEASE_PREFIX = "lease#"


class TrackLookup(Enum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    JUDGED = "judged"


def now_ms() -> int:
    """Epoch milliseconds, the unit of ``updated_at``."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class VerdictItem:
    """One item of the verdict table, as DynamoDB holds it (see the module docstring)."""

    track_id: str
    state: str
    user_id: str
    updated_at: int
    track_name: str | None = None
    verdict: bytes | None = None

    @classmethod
    def pending(
        cls, track_id: str, user_id: str, *, track_name: str | None = None, at_ms: int | None = None
    ) -> VerdictItem:
        """The item of a track in flight."""
        return cls(
            track_id=track_id,
            state=PENDING,
            user_id=user_id,
            updated_at=now_ms() if at_ms is None else at_ms,
            track_name=track_name,
        )

    @classmethod
    def judged(cls, verdict: verdict_pb2.Verdict, *, at_ms: int | None = None) -> VerdictItem:
        """The item holding ``verdict`` (its track and user ids come from the verdict)."""
        return cls(
            track_id=verdict.track_id,
            state=JUDGED,
            user_id=verdict.user_id,
            updated_at=now_ms() if at_ms is None else at_ms,
            # Deterministic (map keys sorted): a verdict read back and written again is the
            # same bytes, which is what supersede's condition compares.
            verdict=verdict.SerializeToString(deterministic=True),
        )

    def to_item(self) -> dict[str, dict[str, Any]]:
        """The DynamoDB attribute map (optional attributes only when set)."""
        item: dict[str, dict[str, Any]] = {
            "track_id": {"S": self.track_id},
            "state": {"S": self.state},
            "user_id": {"S": self.user_id},
        }
        if self.track_name is not None:
            item["track_name"] = {"S": self.track_name}
        if self.verdict is not None:
            item["verdict"] = {"B": self.verdict}
        item["updated_at"] = {"N": str(self.updated_at)}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VerdictItem:
        """Read an item from GetItem or a stream record's image (KeyError without a track id)."""
        updated = item.get("updated_at", {}).get("N")
        name = item.get("track_name", {}).get("S")
        verdict = item.get("verdict", {}).get("B")
        return cls(
            track_id=str(item["track_id"]["S"]),
            state=str(item.get("state", {}).get("S", "")),
            user_id=str(item.get("user_id", {}).get("S", "")),
            updated_at=int(updated) if updated is not None else 0,
            track_name=str(name) if name is not None else None,
            verdict=bytes(verdict) if verdict is not None else None,
        )

    def decoded_verdict(self) -> verdict_pb2.Verdict | None:
        """The stored verdict; None for a pending item.

        Raises ``google.protobuf.message.DecodeError`` when the bytes are not a ``Verdict``.
        """
        if self.state != JUDGED or self.verdict is None:
            return None
        return verdict_pb2.Verdict.FromString(self.verdict)


def verdict_from_item(item: Mapping[str, Any]) -> verdict_pb2.Verdict | None:
    """The verdict a table item holds (an item from GetItem or a stream record's image).

    None for a pending item. Raises ``google.protobuf.message.DecodeError`` when the stored
    bytes are not a ``Verdict``.
    """
    if item.get("state", {}).get("S") != JUDGED or "verdict" not in item:
        return None
    return VerdictItem.from_item(item).decoded_verdict()


def _key(track_id: str) -> dict[str, dict[str, str]]:
    return {TRACK_KEY: {"S": track_id}}


def _lease_key(track_id: str) -> dict[str, dict[str, str]]:
    return _key(_LEASE_PREFIX + track_id)


@dataclass(frozen=True)
class Lease:
    """A track under review handed to one moderator until ``expires_at`` (epoch ms)."""

    track_id: str
    moderator: str
    expires_at: int


@dataclass(frozen=True)
class ReviewItem:
    """A track whose stored verdict is ``review``: since ``updated_at`` (epoch ms), and its
    lease when one is unexpired."""

    verdict: verdict_pb2.Verdict
    updated_at: int
    lease: Lease | None = None

    @property
    def track_id(self) -> str:
        return self.verdict.track_id


@dataclass(frozen=True)
class AuditEntry:
    """One verdict a later one replaced: when (epoch ms), why and, for a decision, by whom."""

    verdict: verdict_pb2.Verdict
    at: int
    reason: str
    by: str = ""


class VerdictTable:
    """Reads and conditional writes of the verdict table (boto3 DynamoDB client passed in)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def lookup(self, track_id: str) -> tuple[TrackLookup, verdict_pb2.Verdict | None]:
        """The track's state and, when judged, its verdict, from one strongly consistent read."""
        item = self._db.get_item(
            TableName=self._table, Key=_key(track_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return TrackLookup.UNKNOWN, None
        verdict = verdict_from_item(item)
        if verdict is not None:
            return TrackLookup.JUDGED, verdict
        return TrackLookup.PENDING, None

    def get(self, track_id: str) -> verdict_pb2.Verdict | None:
        return self.lookup(track_id)[1]

    def is_judged(self, track_id: str) -> bool:
        """Whether a verdict is stored (reads the state only)."""
        item = self._db.get_item(
            TableName=self._table,
            Key=_key(track_id),
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "state"},
        ).get("Item")
        return item is not None and item.get("state", {}).get("S") == JUDGED

    def put_first(self, verdict: verdict_pb2.Verdict) -> bool:
        """Store ``verdict`` unless the track is judged already; True when it was stored."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=VerdictItem.judged(verdict).to_item(),
                ConditionExpression=FIRST_VERDICT_ONLY,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":pending": {"S": PENDING}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def supersede(
        self, verdict: verdict_pb2.Verdict, *, replaces: verdict_pb2.Verdict, reason: str
    ) -> bool:
        """Replace the stored verdict ``replaces`` with ``verdict``, keeping the old one in the
        item's ``superseded`` trail with ``reason``; False (nothing written) when the track's
        stored verdict is not ``replaces`` any more (or the track is not judged)."""
        try:
            self._db.update_item(**self._supersede_update(verdict, replaces, reason, by=""))
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def decide(
        self,
        verdict: verdict_pb2.Verdict,
        *,
        replaces: verdict_pb2.Verdict,
        moderator: str,
        reason: str,
        at_ms: int | None = None,
    ) -> bool:
        """Store a moderator's decision: :meth:`supersede` with ``by`` in the trail, written
        only if ``moderator`` holds an unexpired lease on the track (which is released in the
        same transaction). False (nothing written) otherwise, or when the stored verdict is not
        ``replaces`` any more."""
        at = now_ms() if at_ms is None else at_ms
        update = self._supersede_update(verdict, replaces, reason, by=moderator, at_ms=at)
        release = {
            "TableName": self._table,
            "Key": _lease_key(verdict.track_id),
            "ConditionExpression": "#m = :me AND #e > :now",
            "ExpressionAttributeNames": {"#m": "moderator", "#e": "expires_at"},
            "ExpressionAttributeValues": {":me": {"S": moderator}, ":now": {"N": str(at)}},
        }
        try:
            self._db.transact_write_items(TransactItems=[{"Update": update}, {"Delete": release}])
        except self._db.exceptions.TransactionCanceledException:
            return False
        return True

    def _supersede_update(
        self,
        verdict: verdict_pb2.Verdict,
        replaces: verdict_pb2.Verdict,
        reason: str,
        *,
        by: str,
        at_ms: int | None = None,
    ) -> dict[str, Any]:
        """The conditional update of :meth:`supersede` and :meth:`decide`."""
        if verdict.track_id != replaces.track_id:
            raise ValueError("a verdict supersedes a verdict of the same track")
        at = now_ms() if at_ms is None else at_ms
        entry: dict[str, Any] = {
            "verdict": {"B": replaces.SerializeToString(deterministic=True)},
            "superseded_at": {"N": str(at)},
            "reason": {"S": reason},
        }
        if by:
            entry["by"] = {"S": by}
        return {
            "TableName": self._table,
            "Key": _key(verdict.track_id),
            "UpdateExpression": (
                "SET #v = :new, #u = :at, #h = list_append(if_not_exists(#h, :none), :entry)"
            ),
            "ConditionExpression": "#s = :judged AND #v = :old",
            "ExpressionAttributeNames": {
                "#s": "state",
                "#v": "verdict",
                "#u": "updated_at",
                "#h": "superseded",
            },
            "ExpressionAttributeValues": {
                ":judged": {"S": JUDGED},
                ":old": {"B": replaces.SerializeToString(deterministic=True)},
                ":new": {"B": verdict.SerializeToString(deterministic=True)},
                ":at": {"N": str(at)},
                ":none": {"L": []},
                ":entry": {"L": [{"M": entry}]},
            },
        }

    def audit(self, track_id: str) -> list[AuditEntry]:
        """The track's audit trail (:meth:`superseded` with the moderator of each decision)."""
        item = self._db.get_item(
            TableName=self._table, Key=_key(track_id), ConsistentRead=True
        ).get("Item", {})
        return [
            AuditEntry(
                verdict=verdict_pb2.Verdict.FromString(bytes(e["M"]["verdict"]["B"])),
                at=int(e["M"]["superseded_at"]["N"]),
                reason=str(e["M"]["reason"]["S"]),
                by=str(e["M"].get("by", {}).get("S", "")),
            )
            for e in item.get("superseded", {}).get("L", [])
        ]

    # -- the review console's queue and leases --------------------------------------------------

    def review_queue(self, *, at_ms: int | None = None) -> list[ReviewItem]:
        """Every track whose stored verdict is ``review``, oldest first, with unexpired leases.

        One paged, strongly consistent Scan of the table: fine for the queue a moderation team
        works through; a table of millions would want an index on a queue attribute.
        """
        at = now_ms() if at_ms is None else at_ms
        reviews: list[ReviewItem] = []
        leases: dict[str, Lease] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "FilterExpression": "#s IN (:judged, :lease)",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":judged": {"S": JUDGED}, ":lease": {"S": LEASE}},
        }
        while True:
            page = self._db.scan(**request)
            for item in page.get("Items", []):
                if item["state"]["S"] == LEASE:
                    lease = _lease_from_item(item)
                    if lease.expires_at > at:
                        leases[lease.track_id] = lease
                    continue
                verdict = verdict_from_item(item)
                if verdict is not None and verdict.decision == verdict_pb2.DECISION_REVIEW:
                    reviews.append(ReviewItem(verdict, int(item.get("updated_at", {"N": 0})["N"])))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        reviews.sort(key=lambda r: (r.updated_at, r.track_id))
        return [ReviewItem(r.verdict, r.updated_at, leases.get(r.track_id)) for r in reviews]

    def lease(
        self, track_id: str, moderator: str, *, ttl_s: float, at_ms: int | None = None
    ) -> Lease | None:
        """Lease the track to ``moderator`` for ``ttl_s`` (renewing their own lease); None when
        another moderator holds an unexpired lease. One conditional put, so of two consoles
        asking at once exactly one wins."""
        at = now_ms() if at_ms is None else at_ms
        lease = Lease(track_id, moderator, at + int(ttl_s * 1000))
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **_lease_key(track_id),
                    "state": {"S": LEASE},
                    "moderator": {"S": moderator},
                    "expires_at": {"N": str(lease.expires_at)},
                    "updated_at": {"N": str(at)},
                },
                ConditionExpression="attribute_not_exists(#k) OR #m = :me OR #e <= :now",
                ExpressionAttributeNames={"#k": TRACK_KEY, "#m": "moderator", "#e": "expires_at"},
                ExpressionAttributeValues={":me": {"S": moderator}, ":now": {"N": str(at)}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return lease

    def lease_of(self, track_id: str, *, at_ms: int | None = None) -> Lease | None:
        """The track's unexpired lease, if any."""
        at = now_ms() if at_ms is None else at_ms
        item = self._db.get_item(
            TableName=self._table, Key=_lease_key(track_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        lease = _lease_from_item(item)
        return lease if lease.expires_at > at else None

    def release(self, track_id: str, moderator: str) -> None:
        """Give the lease back (only ``moderator``'s own; otherwise nothing happens)."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.delete_item(
                TableName=self._table,
                Key=_lease_key(track_id),
                ConditionExpression="#m = :me",
                ExpressionAttributeNames={"#m": "moderator"},
                ExpressionAttributeValues={":me": {"S": moderator}},
            )

    def superseded(self, track_id: str) -> list[tuple[verdict_pb2.Verdict, int, str]]:
        """The track's audit trail: (replaced verdict, epoch ms, reason), oldest first."""
        item = self._db.get_item(
            TableName=self._table, Key=_key(track_id), ConsistentRead=True
        ).get("Item", {})
        return [
            (
                verdict_pb2.Verdict.FromString(bytes(entry["M"]["verdict"]["B"])),
                int(entry["M"]["superseded_at"]["N"]),
                str(entry["M"]["reason"]["S"]),
            )
            for entry in item.get("superseded", {}).get("L", [])
        ]

    def put_pending(self, track_id: str, user_id: str, *, track_name: str | None = None) -> bool:
        """Record that a track is in flight; True when this call wrote the item.

        An existing item (pending or judged) is left alone: for ingest, whose track ids are fresh
        uuid4s, an existing item is this very write, applied by AWS on an earlier attempt whose
        reply was lost.
        """
        try:
            self._db.put_item(
                TableName=self._table,
                Item=VerdictItem.pending(track_id, user_id, track_name=track_name).to_item(),
                ConditionExpression=_NEW_ITEM_ONLY,
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_pending(self, track_id: str, user_id: str) -> None:
        """:meth:`put_pending` without a track name, for a track classify was sent directly."""
        self.put_pending(track_id, user_id)

    def forget_pending(self, track_id: str) -> None:
        """Delete the track's item if it is still pending (raises the client's errors, a judged
        item included: ``ConditionalCheckFailedException``)."""
        self._db.delete_item(
            TableName=self._table,
            Key=_key(track_id),
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )


def _lease_from_item(item: Mapping[str, Any]) -> Lease:
    return Lease(
        track_id=str(item[TRACK_KEY]["S"]).removeprefix(_LEASE_PREFIX),
        moderator=str(item["moderator"]["S"]),
        expires_at=int(item["expires_at"]["N"]),
    )
