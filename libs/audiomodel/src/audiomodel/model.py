"""The learned part of the verdict: boosted decision trees over named signal features, as JSON.

The model is data a reviewer can read: the feature list, the clipping bounds, every tree (split
feature, threshold, children, node values), the thresholds, the version and the training
report. ``scripts/train_model.py`` is its only writer (it fits with scikit-learn's
GradientBoostingClassifier, a development dependency); this module only reads and evaluates
it, in numpy. Every score comes with the features that pushed it most (path attribution: each
split's change in node value is credited to the split's feature), so a verdict can say *why*.

Why trees: on the dev corpus a logistic model over the same features could not tell 8-bit
drum hits and pure-sounding instruments from data without a threshold so high that a tenth of
the data-as-audio passed (see MODEL_REPORT.md); shallow trees handle those interactions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from audiomodel.verdict import Thresholds

__all__ = ["DEFAULT_MODEL_PATH", "ModelError", "Tree", "TreeEnsembleModel", "load_default_model"]

DEFAULT_MODEL_PATH = "model/signal-model.json"
FORMAT = "audioval-tree-ensemble/1"
LEAF = -1


class ModelError(ValueError):
    """The model file is missing, malformed, or does not fit the features."""


@dataclass(frozen=True)
class Tree:
    """One regression tree in array form; node 0 is the root, ``LEAF`` marks no child."""

    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]

    def path(self, x: npt.NDArray[np.float64]) -> list[int]:
        """Nodes visited by ``x`` from the root to its leaf (``x <= threshold`` goes left)."""
        node, visited = 0, [0]
        while self.left[node] != LEAF:
            node = int(
                self.left[node]
                if x[self.feature[node]] <= self.threshold[node]
                else self.right[node]
            )
            visited.append(node)
        return visited

    def to_json(self) -> dict[str, list[float] | list[int]]:
        return {
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": self.value.tolist(),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], n_features: int) -> Tree:
        tree = cls(
            feature=np.asarray(doc["feature"], dtype=np.int64),
            threshold=np.asarray(doc["threshold"], dtype=np.float64),
            left=np.asarray(doc["left"], dtype=np.int64),
            right=np.asarray(doc["right"], dtype=np.int64),
            value=np.asarray(doc["value"], dtype=np.float64),
        )
        n = tree.value.size
        if not all(a.shape == (n,) for a in (tree.feature, tree.threshold, tree.left, tree.right)):
            raise ModelError("tree arrays differ in length")
        internal = tree.left != LEAF
        children = np.concatenate([tree.left[internal], tree.right[internal]])
        if np.any((tree.left == LEAF) != (tree.right == LEAF)):
            raise ModelError("a tree node has exactly one child")
        if np.any(children < 0) or np.any(children >= n):
            raise ModelError("a tree child index is out of range")
        if np.any(tree.feature[internal] < 0) or np.any(tree.feature[internal] >= n_features):
            raise ModelError("a tree splits on an unknown feature")
        # Children always come after their parent in the arrays, so every walk ends.
        parents = np.flatnonzero(internal)
        if np.any(tree.left[internal] <= parents) or np.any(tree.right[internal] <= parents):
            raise ModelError("a tree child precedes its parent")
        return tree


@dataclass(frozen=True)
class _Forest:
    """Every tree's arrays side by side (trees x nodes, padded with leaves), so one walk
    moves all trees a level at a time instead of one tree at a time in Python."""

    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    rows: npt.NDArray[np.int64]
    depth: int

    @classmethod
    def of(cls, trees: Sequence[Tree]) -> _Forest:
        width = max((t.value.size for t in trees), default=1)
        shape = (len(trees), width)
        feature = np.zeros(shape, dtype=np.int64)
        threshold = np.zeros(shape)
        left = np.full(shape, LEAF, dtype=np.int64)
        right = np.full(shape, LEAF, dtype=np.int64)
        value = np.zeros(shape)
        depth = 0
        for i, t in enumerate(trees):
            n = t.value.size
            feature[i, :n], threshold[i, :n] = t.feature, t.threshold
            left[i, :n], right[i, :n], value[i, :n] = t.left, t.right, t.value
            depth = max(depth, _depth(t))
        rows = np.arange(len(trees))
        return cls(feature, threshold, left, right, value, rows, depth)

    def walk(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """(depth + 1, trees): the node each tree is at after each level; leaves stay put.
        ``x <= threshold`` goes left, as :meth:`Tree.path`."""
        node = np.zeros(self.rows.size, dtype=np.int64)
        steps = [node]
        for _ in range(self.depth):
            left = self.left[self.rows, node]
            goes_left = x[self.feature[self.rows, node]] <= self.threshold[self.rows, node]
            node = np.where(
                left == LEAF, node, np.where(goes_left, left, self.right[self.rows, node])
            )
            steps.append(node)
        return np.stack(steps)


def _depth(tree: Tree) -> int:
    """Edges on the longest path from the root (children come after their parent)."""
    level = np.zeros(tree.value.size, dtype=np.int64)
    for node in range(tree.value.size):
        if tree.left[node] != LEAF:
            level[tree.left[node]] = level[tree.right[node]] = level[node] + 1
    return int(level.max(initial=0))


@dataclass(frozen=True)
class TreeEnsembleModel:
    """P(data) = sigmoid(base + rate * sum of tree values at the leaves ``features`` reach)."""

    version: str
    features: tuple[str, ...]
    base: float
    rate: float
    trees: tuple[Tree, ...]
    thresholds: Thresholds
    # Features are clipped to these bounds first (the training set's 0.5th / 99.5th
    # percentiles, widened), so one absurd value cannot land in a branch no track ever took.
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    report: Mapping[str, Any] = field(default_factory=dict)

    def vector(self, features: Mapping[str, float]) -> npt.NDArray[np.float64]:
        try:
            raw = np.array([float(features[name]) for name in self.features], dtype=np.float64)
        except KeyError as missing:
            raise ModelError(f"feature {missing} missing for model {self.version}") from None
        raw = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)
        return np.clip(raw, self.lower, self.upper)

    def margin(self, x: npt.NDArray[np.float64]) -> float:
        leaves = self._forest.walk(x)[-1]
        # Summed tree by tree in order (Python's sum), as the trees' own walks would.
        values: list[float] = self._forest.value[self._forest.rows, leaves].tolist()
        return self.base + self.rate * sum(values)

    @cached_property
    def _forest(self) -> _Forest:
        return _Forest.of(self.trees)

    @staticmethod
    def _as_split(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # The trainer (scikit-learn) compares float32 features with its thresholds; do the same
        # so a value within float32 rounding of a threshold takes the same branch.
        return x.astype(np.float32).astype(np.float64)

    def score(self, features: Mapping[str, float]) -> float:
        return _sigmoid(self.margin(self._as_split(self.vector(features))))

    def explain(self, features: Mapping[str, float], top: int = 3) -> list[tuple[str, float]]:
        """The features that moved the margin most, signed (positive = towards data)."""
        x = self._as_split(self.vector(features))
        credit = np.zeros(len(self.features))
        forest = self._forest
        steps = forest.walk(x)  # (depth + 1, trees): node of each tree at each depth
        moved = steps[1:] != steps[:-1]  # a leaf reached early stays put
        # The splits taken, tree by tree in path order (the order the credit is summed in).
        depth, tree = np.nonzero(moved)
        order_taken = np.lexsort((depth, tree))
        depth, tree = depth[order_taken], tree[order_taken]
        parent, child = steps[depth, tree], steps[depth + 1, tree]
        gain = self.rate * (forest.value[tree, child] - forest.value[tree, parent])
        np.add.at(credit, forest.feature[tree, parent], gain)
        order = np.argsort(-np.abs(credit))[:top]
        return [(self.features[i], float(credit[i])) for i in order]

    # -- storage -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "features": list(self.features),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "base": self.base,
            "rate": self.rate,
            "thresholds": {"review": self.thresholds.review, "reject": self.thresholds.reject},
            "report": dict(self.report),
            "trees": [t.to_json() for t in self.trees],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TreeEnsembleModel:
        if doc.get("format") != FORMAT:
            raise ModelError(f"unknown model format {doc.get('format')!r}")
        names = tuple(doc["features"])
        lower = np.asarray(doc["lower"], dtype=np.float64)
        upper = np.asarray(doc["upper"], dtype=np.float64)
        if lower.shape != (len(names),) or upper.shape != (len(names),) or np.any(lower > upper):
            raise ModelError("model bounds do not match its feature list")
        return cls(
            version=str(doc["version"]),
            features=names,
            base=float(doc["base"]),
            rate=float(doc["rate"]),
            trees=tuple(Tree.from_json(t, len(names)) for t in doc["trees"]),
            thresholds=Thresholds(**doc["thresholds"]),
            lower=lower,
            upper=upper,
            report=doc.get("report", {}),
        )

    def save(self, path: Path) -> None:
        # One tree per line keeps the file reviewable in a diff.
        doc = self.to_json()
        trees = doc.pop("trees")
        body = json.dumps(doc, indent=1)[:-2]
        lines = ",\n  ".join(json.dumps(t, separators=(",", ":")) for t in trees)
        path.write_text(f'{body},\n "trees": [\n  {lines}\n ]\n}}\n')

    @classmethod
    def load(cls, path: Path) -> TreeEnsembleModel:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise ModelError(f"cannot load model {path}: {err}") from err


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cache
def load_default_model() -> TreeEnsembleModel:
    """The model shipped inside the package, parsed once per process (a frozen value: ~25 ms of
    JSON and 150 trees that a caller of ``validate_bytes`` without a model paid at every call)."""
    ref = resources.files("audiomodel") / DEFAULT_MODEL_PATH
    with resources.as_file(ref) as path:
        return TreeEnsembleModel.load(path)


def feature_matrix(
    rows: Sequence[Mapping[str, float]], names: Sequence[str]
) -> npt.NDArray[np.float64]:
    """Rows of named features as a matrix (tracks x features)."""
    return np.nan_to_num(np.array([[float(r[n]) for n in names] for r in rows], dtype=np.float64))
