"""The validator's per-block readers: one protocol, what each is fed, and the stage it is timed to.

A reader takes the decoded stream a block at a time (``update``) and says what it found once the
stream ends (``report``). The validator builds its readers once per file as a list of
:class:`Wired` (the reader, the block it reads, its stage), feeds every block to each in list
order with :func:`feed`, and gathers their findings stage by stage with :func:`reports`, in the
same order. Readers whose report takes arguments or is not a list of findings (the signal, the
modem, the fingerprint, the LSB analysis) are called by the validator itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy.typing as npt

from audiomodel.findings import Finding

__all__ = ["BlockReader", "Feed", "Wired", "feed", "reports", "wire"]

# What a reader reads of each block: the 16-bit samples (frames, channels), their channels'
# sum (the mono level, one array shared by every reader of it), or the stored values (integer
# PCM as stored, the floats of a float or Opus file; absent for anything else, and then the
# reader is not fed at all).
Feed = Literal["samples", "summed", "stored"]


class BlockReader(Protocol):
    """A reader of the decoded stream, block by block."""

    def update(self, block: npt.NDArray[Any], /) -> None: ...

    def report(self) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class Wired:
    """One reader, the part of each block it reads, and the stage its CPU time is lapped to."""

    reader: BlockReader
    feed: Feed
    stage: str


def wire(stage: str, feed: Feed, *readers: BlockReader | None) -> Iterator[Wired]:
    """The readers given (None for one that does not apply to this file) wired to ``feed`` and
    ``stage``, in the order given."""
    return (Wired(reader, feed, stage) for reader in readers if reader is not None)


def feed(
    readers: Iterable[Wired],
    samples: npt.NDArray[Any],
    summed: npt.NDArray[Any],
    stored: npt.NDArray[Any] | None,
    lap: Callable[[str], None],
) -> None:
    """One block to every reader, in order, each reader's CPU time lapped to its stage."""
    for wired in readers:
        block = samples if wired.feed == "samples" else summed if wired.feed == "summed" else stored
        if block is not None:
            wired.reader.update(block)
            lap(wired.stage)


def reports(readers: Iterable[Wired], stage: str, lap: Callable[[str], None]) -> list[Finding]:
    """The findings of the readers of ``stage``, in order; their CPU time lapped to it."""
    found = [f for wired in readers if wired.stage == stage for f in wired.reader.report()]
    lap(stage)
    return found
