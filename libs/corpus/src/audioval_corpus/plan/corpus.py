"""The whole plan of one corpus: split every source, then plan the good files and every bad
class from them, in a fixed order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audioval_corpus.debian import AudioSource
from audioval_corpus.machine_files import FileKind, MachineFiles, file_group
from audioval_corpus.plan.clips import plan_clips, plan_originals
from audioval_corpus.plan.data_as_audio import (
    plan_base64_as_pcm,
    plan_bytes_as_pcm,
    plan_synthetic,
    plan_text_as_pcm,
    plan_xor_base64,
)
from audioval_corpus.plan.items import Item, PlanContext
from audioval_corpus.plan.payloads import plan_lsb, plan_payloads
from audioval_corpus.plan.scales import SCALES
from audioval_corpus.plan.splits import assign_splits

__all__ = ["CorpusPlan", "plan_corpus"]

_SPLIT_KINDS: tuple[FileKind, ...] = ("text", "binary", "archive")


@dataclass(frozen=True, slots=True)
class CorpusPlan:
    """Every item of one corpus: the good ones first (derived items read their files)."""

    good: tuple[Item, ...]
    bad: tuple[Item, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return self.good + self.bad


def plan_corpus(
    out: Path,
    *,
    scale_name: str,
    seed: int,
    sources: Sequence[AudioSource],
    speech: Sequence[AudioSource],
    machine: MachineFiles,
) -> CorpusPlan:
    """Split the sources and machine files by source, then plan every good and bad file.

    Within each stratum (a Debian package, speech, text/binary/archive files) the groups are
    split by :func:`~audioval_corpus.plan.splits.assign_splits`. Records each machine file's
    split in ``machine.split`` (real payloads are drawn from the split of their carrier).
    """
    scale = SCALES[scale_name]
    strata: dict[str, list[str]] = {}
    for src in sources:
        strata.setdefault(f"debian:{src.package}", []).append(src.group)
    strata["speech"] = [s.group for s in speech]
    for kind in _SPLIT_KINDS:
        strata[kind] = [file_group(p) for p in machine.of_kind(kind)]
    splits = assign_splits(strata, seed=seed)
    for kind in _SPLIT_KINDS:
        for path in machine.of_kind(kind):
            machine.split.setdefault(path, splits[file_group(path)])

    ctx = PlanContext(scale=scale, seed=seed, out=out, machine=machine, splits=splits)
    good = (
        *plan_clips(ctx, sources, scale.real_clips, "real"),
        *plan_clips(ctx, speech, scale.speech_clips, "speech"),
        *plan_originals(ctx, sources, scale.originals),
    )
    counts = scale.bad
    bad = (
        *plan_text_as_pcm(ctx, counts["text_as_pcm"]),
        *plan_bytes_as_pcm(ctx, "binary_as_pcm", "binary", counts["binary_as_pcm"]),
        *plan_bytes_as_pcm(ctx, "archive_as_pcm", "archive", counts["archive_as_pcm"]),
        *plan_bytes_as_pcm(ctx, "random_as_pcm", None, counts["random_as_pcm"]),
        *plan_base64_as_pcm(ctx, counts["base64_as_pcm"]),
        *plan_synthetic(ctx, counts["synthetic"]),
        *plan_xor_base64(ctx, counts["xor_base64_as_pcm"]),
        *plan_payloads(ctx, good, counts),
        *plan_lsb(ctx, good, counts["lsb_stego"]),
    )
    return CorpusPlan(good=good, bad=bad)
