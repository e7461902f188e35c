"""What a plan is made of: :class:`Item` (one corpus file: its name, manifest fields and a
maker of its bytes) and :class:`PlanContext` (what every planner reads)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audioval_corpus.machine_files import MachineFiles
from audioval_corpus.plan.scales import Scale
from audioval_corpus.plan.splits import split_of_generated
from audioval_corpus.seeding import spec_digest

__all__ = ["Item", "PlanContext", "StreamInfo", "item_name"]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The audio stream a file holds, as the manifest reports it (None: not known)."""

    sample_rate: int | None
    channels: int | None
    subtype: str | None


@dataclass(frozen=True, slots=True)
class Item:
    """One planned corpus file: its name, its manifest fields and how to make its bytes.

    ``stream`` is None for an original the builder could not probe (its manifest row then has
    no stream fields); ``package`` and ``seconds`` are in the row only when set.
    """

    rel: str
    label: str
    threat: str
    format: str
    source: str
    group: str
    variant: str
    make: Callable[[], bytes]
    split: str
    stream: StreamInfo | None
    package: str | None = None
    seconds: float | None = None
    parent: str | None = None

    def manifest_fields(self) -> dict[str, object]:
        """The item's own fields of its manifest row (the builder adds size and sha256)."""
        row: dict[str, object] = {
            "path": self.rel,
            "label": self.label,
            "threat_class": self.threat,
            "format": self.format,
            "source": self.source,
            "split": self.split,
            "group": self.group,
            "variant": self.variant,
            "parent": self.parent,
        }
        if self.package is not None:
            row["package"] = self.package
        if self.stream is not None:
            row["sample_rate"] = self.stream.sample_rate
            row["channels"] = self.stream.channels
            row["subtype"] = self.stream.subtype
        if self.seconds is not None:
            row["seconds"] = self.seconds
        return row


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What every planner reads: the scale, the seed, where the corpus is written (derived
    files read their parent's bytes there), the machine files and the split of every group."""

    scale: Scale
    seed: int
    out: Path
    machine: MachineFiles
    splits: dict[str, str]

    def split_of(self, group: str) -> str:
        """The split of ``group``; a group made here (not split by source) gets a seeded coin."""
        return self.splits.get(group) or split_of_generated(self.seed, group)


def item_name(label: str, threat: str, index: int, identity: dict[str, object], ext: str) -> str:
    """``<label>/<threat>/<threat>-<index>-<digest of identity>.<ext>``."""
    return f"{label}/{threat}/{threat}-{index:04d}-{spec_digest(identity)}.{ext}"
