"""The ranker is LightGBM's text file evaluated with numpy: it must give LightGBM's own
scores, bit for bit, and refuse what it cannot evaluate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelLoadError
from qa.features import PASSAGE_FEATURES
from qa.models import MODELS_DIR, RANKER_FILE, TreeModel

lightgbm = pytest.importorskip("lightgbm")


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(0.3, 0.5, (n, len(PASSAGE_FEATURES)))
    x[rng.random(x.shape) < 0.2] = 0.0  # many features are 0/1 or often 0
    x[rng.random(x.shape) < 0.02] = np.nan
    return x


def test_the_shipped_ranker_scores_as_lightgbm_does() -> None:
    path = MODELS_DIR / RANKER_FILE
    ours = TreeModel(path, PASSAGE_FEATURES)
    booster = lightgbm.Booster(model_file=str(path))
    x = _rows(np.random.default_rng(0), 3000)
    # Values exactly on split thresholds, where <= and < part ways.
    thresholds = ours._flat.threshold
    on_split = np.isfinite(thresholds)
    x[:, 0] = np.resize(thresholds[on_split & (ours._flat.feature == 0)], len(x))
    assert np.array_equal(ours.score(x), booster.predict(x, num_threads=1))
    # Rows without missing values take the bitvector path; walking them lands on the same leaves.
    clean = np.nan_to_num(x)
    assert np.array_equal(ours.score(clean), booster.predict(clean, num_threads=1))
    assert np.array_equal(ours._flat.exit_leaves(clean), ours._flat.walk(clean))
    assert ours.score(x[:0]).shape == (0,)
    with pytest.raises(ValueError, match="31 features"):
        ours.score(x[:, :-1])


@pytest.mark.parametrize(("split_gain", "leaves"), [(0.0, 7), (1e9, 7), (0.0, 100)])
def test_a_freshly_trained_ranker(tmp_path: Path, split_gain: float, leaves: int) -> None:
    """With missing values in training (splits that send NaN one way), when no split is
    worth it trees of one leaf, and trees of more than 64 leaves (always walked)."""
    rng = np.random.default_rng(1)
    x = _rows(rng, 2000)
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 3]) > 0.8).astype(int)
    data = lightgbm.Dataset(x, y, group=[20] * 100, feature_name=list(PASSAGE_FEATURES))
    params = {"objective": "lambdarank", "num_leaves": leaves, "min_data_in_leaf": 5,
              "min_gain_to_split": split_gain, "verbose": -1, "seed": 0,
              "deterministic": True, "num_threads": 1}
    booster = lightgbm.train(params, data, num_boost_round=40)
    path = tmp_path / "ranker.txt"
    booster.save_model(str(path))
    assert ("num_leaves=1\n" in path.read_text()) == (split_gain > 0)
    probe = _rows(rng, 500)
    ours = TreeModel(path, PASSAGE_FEATURES)
    assert (ours._flat.rules_out is None) == (leaves > 64)
    assert np.array_equal(ours.score(probe),
                          lightgbm.Booster(model_file=str(path)).predict(probe, num_threads=1))


def test_a_ranker_for_other_features_or_a_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="other features"):
        TreeModel(MODELS_DIR / RANKER_FILE, PASSAGE_FEATURES[:-1])
    broken = tmp_path / "ranker.txt"
    broken.write_text("tree\nversion=v4\n", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot read the ranker"):
        TreeModel(broken, PASSAGE_FEATURES)


@pytest.mark.parametrize(("key", "node", "value"), [
    ("left_child", 1, "0"),       # a loop: the walker would never reach a leaf
    ("right_child", 0, "-90"),    # a leaf the tree does not have
    ("split_feature", 0, "31"),   # a feature past the last one
])
def test_a_ranker_whose_trees_are_not_trees_is_refused(tmp_path: Path, key: str, node: int,
                                                      value: str) -> None:
    head, _, rest = (MODELS_DIR / RANKER_FILE).read_text(encoding="utf-8").partition("Tree=0\n")
    lines = rest.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
    values = lines[at].split("=", 1)[1].split()
    values[node] = value
    lines[at] = f"{key}={' '.join(values)}"
    broken = tmp_path / "ranker.txt"
    broken.write_text(head + "Tree=0\n" + "\n".join(lines), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot read the ranker"):
        TreeModel(broken, PASSAGE_FEATURES)
