"""Seeded draws: every random choice of a build is fixed by the seed and a key naming the choice.

A key per choice (the threat class and the index of the file, say) keeps draws independent: adding
a file to one class leaves every other file's draws, and so its bytes and name, as they were.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np

from audioval_corpus.machine_files import portable_text

__all__ = ["choice", "hash_unit", "keyed_rng", "spec_digest"]

T = TypeVar("T")


def hash_unit(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by ``seed`` and ``key``."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def keyed_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator fixed by ``seed`` and ``keys`` (each key hashed to 32 bits)."""
    ints = [int.from_bytes(hashlib.sha256(str(k).encode()).digest()[:4], "big") for k in keys]
    return np.random.default_rng([seed, *ints])


def choice(
    rng: np.random.Generator, options: Sequence[T], weights: Sequence[float] | None = None
) -> T:
    """One of ``options``, uniform or by ``weights`` (normalised here)."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, dtype=np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def spec_digest(identity: Mapping[str, object]) -> str:
    """Eight hex digits naming a spec (its JSON form with sorted keys).

    Paths inside the virtualenv count relative to its site-packages, so every checkout of the
    repo names the same files alike (and lists them in the same order for training).
    """
    text = portable_text(json.dumps(identity, sort_keys=True, default=str))
    return hashlib.sha1(text.encode()).hexdigest()[:8]
