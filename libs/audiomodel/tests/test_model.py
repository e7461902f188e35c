"""The shipped model is plain data that loads, validates itself and explains its scores."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from audiomodel.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    Tree,
    TreeEnsembleModel,
    load_default_model,
)
from audiomodel.signal import FEATURE_NAMES
from audiomodel.verdict import Thresholds

MODEL_FILE = Path(__file__).resolve().parent.parent / "src" / "audiomodel" / DEFAULT_MODEL_PATH


def stump(feature: int, threshold: float, low: float, high: float) -> Tree:
    return Tree(
        feature=np.array([feature, -1, -1]),
        threshold=np.array([threshold, 0.0, 0.0]),
        left=np.array([1, -1, -1]),
        right=np.array([2, -1, -1]),
        value=np.array([0.0, low, high]),
    )


def toy_model(**changes: object) -> TreeEnsembleModel:
    fields: dict[str, object] = {
        "version": "toy",
        "features": ("a", "b"),
        "base": 0.0,
        "rate": 1.0,
        "trees": (stump(0, 0.5, -2.0, 2.0), stump(1, 0.0, -1.0, 1.0)),
        "thresholds": Thresholds(review=0.5, reject=0.9),
        "lower": np.array([-10.0, -10.0]),
        "upper": np.array([10.0, 10.0]),
    }
    fields.update(changes)
    return TreeEnsembleModel(**fields)  # type: ignore[arg-type]


def test_the_shipped_model_loads_and_names_the_signal_features() -> None:
    model = load_default_model()
    assert model.features == FEATURE_NAMES
    assert model.version.startswith("signal-")
    assert 0.5 <= model.thresholds.review <= model.thresholds.reject < 1.0
    assert model.report["flagged_rate"]["heldout"], "the training report travels with the model"


def test_scores_follow_the_trees_and_the_sigmoid() -> None:
    model = toy_model()
    assert model.score({"a": 1.0, "b": 1.0}) == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert model.score({"a": 0.0, "b": -1.0}) == pytest.approx(1 / (1 + np.exp(3.0)))


def test_out_of_range_and_non_finite_features_are_clipped_not_propagated() -> None:
    model = toy_model()
    assert model.score({"a": float("nan"), "b": float("inf")}) == model.score({"a": 0.0, "b": 0.0})


def test_explanations_credit_the_features_that_moved_the_score() -> None:
    drivers = dict(toy_model().explain({"a": 1.0, "b": -1.0}, top=2))
    assert drivers == {"a": pytest.approx(2.0), "b": pytest.approx(-1.0)}


def test_a_missing_feature_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="missing"):
        toy_model().score({"a": 1.0})


def test_the_model_round_trips_through_its_json_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    toy_model().save(path)
    again = TreeEnsembleModel.load(path)
    assert again.score({"a": 1.0, "b": 1.0}) == toy_model().score({"a": 1.0, "b": 1.0})


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d.update(format="pickle"),
        lambda d: d["trees"][0].update(left=[0, -1, -1]),  # a cycle back to the root
        lambda d: d["trees"][0].update(feature=[7, -1, -1]),  # a feature that does not exist
        lambda d: d["trees"][0].update(value=[0.0]),  # arrays of different lengths
        lambda d: d.pop("thresholds"),
    ],
    ids=["format", "cycle", "feature", "lengths", "missing-key"],
)
def test_a_malformed_model_file_is_refused(tmp_path: Path, corrupt: object) -> None:
    doc = toy_model().to_json()
    corrupt(doc)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelError):
        TreeEnsembleModel.load(path)


def test_the_shipped_file_is_json_not_pickle() -> None:
    assert json.loads(MODEL_FILE.read_text())["format"] == "audioval-tree-ensemble/1"


def test_the_vectorised_walk_scores_and_explains_exactly_as_each_tree_walked_alone() -> None:
    model = load_default_model()
    rng = np.random.default_rng(7)
    for i in range(300):
        x = rng.uniform(model.lower, model.upper)
        if i % 2:  # a feature exactly on a split threshold goes left, as in Tree.path
            tree = model.trees[int(rng.integers(len(model.trees)))]
            node = int(rng.integers(tree.value.size))
            if tree.left[node] != -1:
                x[tree.feature[node]] = tree.threshold[node]
        split = model._as_split(x)
        walked = model.base + model.rate * sum(
            float(t.value[t.path(split)[-1]]) for t in model.trees
        )
        assert model.margin(split) == walked
        credit = np.zeros(len(model.features))
        for t in model.trees:
            path = t.path(split)
            for parent, child in itertools.pairwise(path):
                credit[t.feature[parent]] += model.rate * (t.value[child] - t.value[parent])
        order = np.argsort(-np.abs(credit))[:3]
        expected = [(model.features[k], float(credit[k])) for k in order]
        assert model.explain(dict(zip(model.features, x.tolist(), strict=True))) == expected
