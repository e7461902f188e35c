"""The stream registry: which Kinesis streams make up each availability zone's stream set.

One item per stream (:class:`StreamEntry`, the only codec of it):

==================  ====  ===================================================================
attribute           type  holds
==================  ====  ===================================================================
``az``              S     the zone (hash key)
``stream_name``     S     ``<prefix>-<az>-<index>`` (range key; :func:`stream_name`)
``state``           S     ``active`` (producers route tracks to it), ``draining`` (keeps its
                          records, takes no new tracks) or ``provisioning`` (an extra stream
                          being created; producers ignore it)
``role``            S     ``baseline`` (owned by Pulumi or the local stack, never drained) or
                          ``extra`` (added by the autoscaler); absent reads as ``baseline``
``created_at``      N     epoch seconds of the autoscaler's last scale-out on the item
``draining_since``  N     epoch seconds the stream began to drain
==================  ====  ===================================================================

Every write is a function here: :func:`put_entry` (the local stack's baseline items, the
autoscaler's new extra streams), :func:`move_extra` and :func:`delete_drained_extra` (the
autoscaler). Pulumi declares the baseline items as TableItems of :meth:`StreamEntry.to_item`.
Readers (ingest's ``StreamSet``, the autoscaler) use :func:`read_zone`.

This module imports only the standard library: the Lambda's archive ships it beside its handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIVE",
    "ATTRIBUTE_DEFINITIONS",
    "BASELINE",
    "DRAINING",
    "EXTRA",
    "HASH_KEY",
    "KEY_SCHEMA",
    "PROVISIONING",
    "RANGE_KEY",
    "ROLES",
    "STATES",
    "StreamEntry",
    "delete_drained_extra",
    "index_of",
    "key",
    "move_extra",
    "put_entry",
    "read_zone",
    "stream_name",
]

HASH_KEY = "az"
RANGE_KEY = "stream_name"
# The table's key schema, as CreateTable takes it.
KEY_SCHEMA = (
    {"AttributeName": HASH_KEY, "KeyType": "HASH"},
    {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
)
ATTRIBUTE_DEFINITIONS = (
    {"AttributeName": HASH_KEY, "AttributeType": "S"},
    {"AttributeName": RANGE_KEY, "AttributeType": "S"},
)

ACTIVE = "active"
DRAINING = "draining"
PROVISIONING = "provisioning"
STATES = frozenset({ACTIVE, DRAINING, PROVISIONING})
BASELINE = "baseline"
EXTRA = "extra"
ROLES = frozenset({BASELINE, EXTRA})


def stream_name(prefix: str, az: str, index: int) -> str:
    """The name of stream ``index`` of ``az``'s set."""
    return f"{prefix}-{az}-{index}"


def index_of(name: str) -> int:
    """The index a stream name ends with (-1 for a name outside the scheme)."""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def key(az: str, name: str) -> dict[str, dict[str, str]]:
    """The item key of stream ``name`` of ``az``."""
    return {HASH_KEY: {"S": az}, RANGE_KEY: {"S": name}}


@dataclass(frozen=True)
class StreamEntry:
    """One registry item (see the module docstring)."""

    az: str
    stream_name: str
    state: str
    role: str = BASELINE
    created_at: float | None = None
    draining_since: float | None = None

    def to_item(self) -> dict[str, dict[str, str]]:
        """The DynamoDB attribute map (the times only when set, as whole seconds)."""
        item = {
            **key(self.az, self.stream_name),
            "state": {"S": self.state},
            "role": {"S": self.role},
        }
        if self.created_at is not None:
            item["created_at"] = {"N": str(int(self.created_at))}
        if self.draining_since is not None:
            item["draining_since"] = {"N": str(int(self.draining_since))}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StreamEntry:
        """Read an item (a missing ``role`` is ``baseline``: items written before roles)."""

        def number(name: str) -> float | None:
            value = item.get(name, {}).get("N")
            return float(value) if value is not None else None

        return cls(
            az=str(item[HASH_KEY]["S"]),
            stream_name=str(item[RANGE_KEY]["S"]),
            state=str(item.get("state", {}).get("S", "")),
            role=str(item.get("role", {}).get("S", BASELINE)),
            created_at=number("created_at"),
            draining_since=number("draining_since"),
        )


def read_zone(dynamodb: Any, table: str, az: str) -> tuple[StreamEntry, ...]:
    """Every registry entry of ``az``, ordered by index (one strongly consistent query, all pages).

    Strongly consistent so that a stream marked draining stops taking tracks as soon as a
    producer's cache expires. The client's errors reach the caller.
    """
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"{HASH_KEY} = :az",
        "ExpressionAttributeValues": {":az": {"S": az}},
        "ConsistentRead": True,
    }
    entries: list[StreamEntry] = []
    while True:
        page = dynamodb.query(**request)
        entries.extend(StreamEntry.from_item(item) for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return tuple(sorted(entries, key=lambda e: (index_of(e.stream_name), e.stream_name)))
        request["ExclusiveStartKey"] = last


# -- writes ----------------------------------------------------------------------------------
# Baseline items are put by the local stack (Pulumi writes the same item as a TableItem);
# extra streams are added, moved between states and removed by the autoscaler, whose
# conditions keep it off baseline items.


def put_entry(dynamodb: Any, table: str, entry: StreamEntry, *, only_new: bool = False) -> None:
    """Write ``entry``; with ``only_new`` the put fails (ConditionalCheckFailedException) if
    the stream is registered already."""
    request: dict[str, Any] = {"TableName": table, "Item": entry.to_item()}
    if only_new:
        request["ConditionExpression"] = f"attribute_not_exists({RANGE_KEY})"
    dynamodb.put_item(**request)


def move_extra(
    dynamodb: Any, table: str, az: str, name: str, *, state: str, expect: str, now: float
) -> None:
    """Move an extra stream from ``expect`` to ``state``, stamping the time of the change.

    Draining sets ``draining_since``; any other move sets ``created_at`` (becoming active
    again counts as a scale action for the cooldowns) and drops ``draining_since``. Fails
    (ConditionalCheckFailedException) unless the item is an extra stream in ``expect``.
    """
    values: dict[str, Any] = {
        ":new": {"S": state},
        ":old": {"S": expect},
        ":extra": {"S": EXTRA},
        ":now": {"N": str(int(now))},
    }
    if state == DRAINING:
        update = "SET #s = :new, draining_since = :now"
    else:
        update = "SET #s = :new, created_at = :now REMOVE draining_since"
    dynamodb.update_item(
        TableName=table,
        Key=key(az, name),
        UpdateExpression=update,
        # Baseline streams belong to Pulumi: only extra ones change state here.
        ConditionExpression="#s = :old AND #r = :extra",
        ExpressionAttributeNames={"#s": "state", "#r": "role"},
        ExpressionAttributeValues=values,
    )


def delete_drained_extra(dynamodb: Any, table: str, az: str, name: str) -> None:
    """Remove a draining extra stream's item (fails for any other item)."""
    dynamodb.delete_item(
        TableName=table,
        Key=key(az, name),
        ConditionExpression="#s = :draining AND #r = :extra",
        ExpressionAttributeNames={"#s": "state", "#r": "role"},
        ExpressionAttributeValues={":draining": {"S": DRAINING}, ":extra": {"S": EXTRA}},
    )
