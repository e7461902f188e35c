"""The split by source: every group (a track, a song's stems, a drum kit, a text, a machine file)
is train or heldout as a whole, about 30% of each stratum heldout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from audioval_corpus.seeding import hash_unit

__all__ = ["HELDOUT_SHARE", "assign_splits", "split_of_generated"]

HELDOUT_SHARE = 0.3


def assign_splits(
    strata: Mapping[str, Sequence[str]], *, seed: int, heldout: float = HELDOUT_SHARE
) -> dict[str, str]:
    """Map every group to ``"train"`` or ``"heldout"``.

    Within each stratum the groups are ordered by a hash of (seed, group) and the first
    ``round(heldout * n)`` are heldout, so every stratum with 2+ groups has both splits and the
    result does not depend on the order the groups were found in.
    """
    split: dict[str, str] = {}
    for groups in strata.values():
        unique = sorted(set(groups), key=lambda g: hash_unit(seed, g))
        n_held = round(heldout * len(unique))
        for i, group in enumerate(unique):
            split.setdefault(group, "heldout" if i < n_held else "train")
    return split


def split_of_generated(seed: int, group: str) -> str:
    """The split of a group made here (random bytes, a synthetic signal): a seeded coin."""
    return "heldout" if hash_unit(seed, group) < HELDOUT_SHARE else "train"
