"""The validator pool's waiting calls, handed out fairly between the users who sent them.

With one queue in arrival order, a user who sends an album of ten ahead of thirty users' single
tracks holds both actors for the whole album while the thirty wait. :class:`FairBacklog` hands
out next the call of the owner (the track's user) with the fewest calls running now, then the
one served longest ago (a user never served comes first), then the earliest to arrive: one user's
calls keep their order, and each user gets a turn in rotation. Calls without an owner (the batch
job, callers that name no user) share the owner ``""`` and are served in arrival order, as
before. A call put back after a failed attempt goes ahead of its owner's other calls.

Picking scans the waiting calls: they are bounded by the pool's ``max_in_flight`` (32 by
default), so a scan costs microseconds against a validation's second.
"""

from __future__ import annotations

import itertools
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["FairBacklog"]

T = TypeVar("T")

# Owners whose last turn is remembered; one forgotten counts as never served (a turn sooner).
_REMEMBERED_OWNERS = 4096


@dataclass(order=True)
class _Waiting(Generic[T]):
    order: int
    owner: str = field(compare=False)
    item: T = field(compare=False)


class FairBacklog(Generic[T]):
    """Waiting items by owner; :meth:`pop` gives the next one fairly (see the module)."""

    def __init__(self) -> None:
        self._waiting: list[_Waiting[T]] = []
        self._arrivals = itertools.count()
        self._put_back = itertools.count(-1, -1)  # ahead of every arrival
        self._turns = itertools.count()
        self._last_turn: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting)

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def __iter__(self) -> Iterator[T]:
        return (waiting.item for waiting in sorted(self._waiting))

    def append(self, item: T, owner: str = "") -> None:
        """A new item, after every other of its owner."""
        self._waiting.append(_Waiting(next(self._arrivals), owner, item))

    def appendleft(self, item: T, owner: str = "") -> None:
        """An item put back (a retry), ahead of every other of its owner."""
        self._waiting.append(_Waiting(next(self._put_back), owner, item))

    def pop(self, running: Iterable[str] = ()) -> T:
        """The next item, given the owners of the items running now (one entry per item)."""
        if not self._waiting:
            raise IndexError("pop from an empty backlog")
        busy = Counter(running)
        best = min(
            range(len(self._waiting)),
            key=lambda i: (
                busy[self._waiting[i].owner],
                self._last_turn.get(self._waiting[i].owner, -1),
                self._waiting[i].order,
            ),
        )
        chosen = self._waiting.pop(best)
        self._last_turn[chosen.owner] = next(self._turns)
        self._last_turn.move_to_end(chosen.owner)
        if len(self._last_turn) > _REMEMBERED_OWNERS:
            self._last_turn.popitem(last=False)
        return chosen.item

    def clear(self) -> None:
        self._waiting.clear()
