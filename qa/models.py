"""The small trained models that rank passages, pick sentences and judge answerability.

They are plain files in `qa/models/` (made by `qa train` from tuning data with a fixed
seed; see docs/training.md): a LightGBM ranker as LightGBM's own text format, and logistic
models as JSON (weights, feature means and scales), so nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from .reader import SentenceReader

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
RANKER_FILE = "ranker.txt"
SENTENCE_FILE = "sentences.json"
QUOTES_FILE = "quotes.json"
ANSWERABLE_FILE = "answerable.json"
READER_FILE = "reader.onnx"
READER_INFO = "reader.json"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A standardised linear model: score = ((x - mean) / scale) . weights + bias.

    With `logistic`, `probability` maps the score through the logistic function.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5
    meta: dict[str, Any] | None = None

    def score(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def probability(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        return 1.0 / (1.0 + np.exp(-self.score(x)))

    def weighs(self, prefix: str) -> bool:
        """Whether any feature whose name starts with `prefix` has a non-zero weight."""
        return any(w != 0.0 for name, w in zip(self.features, self.weights, strict=True)
                   if name.startswith(prefix))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "linear", "features": list(self.features), "weights": list(self.weights),
                "bias": self.bias, "mean": list(self.mean), "scale": list(self.scale),
                "threshold": self.threshold, "meta": self.meta or {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        return cls(tuple(data["features"]), tuple(map(float, data["weights"])),
                   float(data["bias"]), tuple(map(float, data["mean"])),
                   tuple(map(float, data["scale"])), float(data.get("threshold", 0.5)),
                   data.get("meta") or {})


class TreeModel:
    """A LightGBM model read from its text file and evaluated with numpy; `score` gives
    the raw output LightGBM's `predict` gives (the same sums, tree by tree, in order).

    Not importing LightGBM at query time matters: it imports scikit-learn and pandas when
    they are installed, seconds of start-up for every `qa ask`. Numerical splits only
    (what `qa train` makes); categorical splits, linear trees and zero-as-missing are
    refused.
    """

    def __init__(self, path: Path, features: Sequence[str]) -> None:
        self.path = path
        try:
            names, trees = _read_lightgbm(path.read_text(encoding="utf-8"))
            self._flat = _FlatTrees.make(trees, len(names))
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise ModelLoadError(f"{path}: cannot read the ranker ({exc}); run `qa train`") \
                from None
        if names != tuple(features):
            raise ModelLoadError(f"{path}: the ranker was trained on other features "
                                 f"({len(names)} vs {len(features)}); run `qa train`")
        self.features = names

    def score(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"expected rows of {len(self.features)} features, got {x.shape}")
        if not len(x):
            return np.zeros(0)
        t = self._flat
        # Values within LightGBM's kZeroThreshold (the float 1e-35) of zero are 0 to it.
        x = np.where(np.abs(x) <= _ZERO, 0.0, x)
        # A missing value goes its split's own way, and trees too big for bitvectors have
        # none: those rows are walked.
        walked = np.isnan(x).any(axis=1) if t.rules_out is not None else \
            np.ones(len(x), dtype=bool)
        at = np.empty((len(x), len(t.start)), dtype=np.int64)
        if not walked.all():
            at[~walked] = t.exit_leaves(x[~walked])
        if walked.any():
            at[walked] = t.walk(x[walked])
        return np.cumsum(t.leaf_value[at], axis=1)[:, -1]  # in tree order, as LightGBM sums


_ZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold, 1e-35f, as a double


def _read_lightgbm(text: str) -> tuple[tuple[str, ...], list[dict[str, list[float]]]]:
    """Feature names and the trees (split features, thresholds, decision types, children,
    leaf values) of a model in LightGBM's text format."""
    head, _, body = text.partition("\nTree=")
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    if header.get("num_tree_per_iteration", "1") != "1":
        raise ValueError("more than one tree per iteration")
    names = tuple(header["feature_names"].split())
    trees = []
    for block in body.split("end of trees")[0].split("\nTree="):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if int(fields.get("num_cat", "0")) or fields.get("is_linear", "0") != "0":
            raise ValueError("categorical splits or linear trees are not supported")
        trees.append({key: [float(v) for v in fields.get(key, "").split()] for key in (
            "split_feature", "threshold", "decision_type", "left_child", "right_child",
            "leaf_value")})
    if not trees or any(not t["leaf_value"] for t in trees):
        raise ValueError("no trees")
    return names, trees


@dataclass(frozen=True)
class _FlatTrees:
    """All trees in flat arrays: tree i owns positions [i * nodes, (i + 1) * nodes), its
    splits first, then its leaves. children[2g] / children[2g + 1] is where position g
    leads when the value is <= / > its threshold, if_nan where a missing value goes (the
    split's default side, or where 0 goes when the split has no missing-value rule); a
    leaf leads to itself, and is_split tells the splits from the leaves."""

    start: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    children: np.ndarray
    if_nan: np.ndarray
    leaf_value: np.ndarray
    is_split: np.ndarray
    # The same trees for `exit_leaves`, split j of tree i at [i * width + j] (unused slots
    # rule out nothing): feature, threshold, the leaves a value above it rules out (its
    # left side; bit p: the tree's p-th leaf from the left), and each tree's leaves from
    # the left as flat positions.
    split_feature: np.ndarray
    split_threshold: np.ndarray
    rules_out: np.ndarray | None  # None: trees of more than 64 leaves, always walked
    leaves_in_order: np.ndarray

    def walk(self, x: np.ndarray) -> np.ndarray:
        """The leaf (flat position) each row of `x` ends on in each tree, walked split
        by split: one walker per (row, tree), stepping until it stands on a leaf; only
        the walkers still on a split move. Missing values go their split's way."""
        import numpy as np

        n, width = x.shape
        x = x.ravel()
        at = np.tile(self.start, n)
        row = np.repeat(np.arange(n) * width, len(self.start))
        live = np.flatnonzero(self.is_split[at])
        while len(live):
            here = at[live]
            value = x[row[live] + self.feature[here]]
            step = self.children[2 * here + (value > self.threshold[here])]
            step = np.where(np.isnan(value), self.if_nan[here], step)
            at[live] = step
            live = live[self.is_split[step]]
        return at.reshape(n, len(self.start))

    def exit_leaves(self, x: np.ndarray) -> np.ndarray:
        """The leaf each row of `x` (no missing values) ends on in each tree, as `walk`
        finds it, by QuickScorer's bitvectors (Lucchese et al. 2015): every split is
        tested at once, each split whose value is above its threshold rules out the
        leaves of its left side, and the exit leaf is the leftmost one left. A few array
        operations instead of a few per level (the shipped ranker, 70 candidates: 0.5 ms
        against 1.1 walked)."""
        import numpy as np

        n, trees = len(x), len(self.start)
        above = x[:, self.split_feature] > self.split_threshold
        out = (above * self.rules_out).reshape(n, trees, -1)  # bool x bits: 3x np.where's speed
        reach = ~(np.bitwise_or.reduce(out, axis=2) if out.shape[2] else
                  np.zeros((n, trees), dtype=self.rules_out.dtype))
        lowest = reach & (~reach + self.rules_out.dtype.type(1))  # the lowest bit set
        leftmost = np.frexp(lowest.astype(np.float64))[1] - 1
        return self.leaves_in_order[np.arange(trees), leftmost]

    @classmethod
    def make(cls, trees: list[dict[str, list[float]]], features: int) -> _FlatTrees:
        """The flat arrays of `trees` over `features` features; ValueError for a tree that
        is not one (a child that is not below its parent, or out of range, would make a
        walker loop forever or read another tree)."""
        import numpy as np

        width = max(len(t["split_feature"]) for t in trees)
        nodes = width + max(len(t["leaf_value"]) for t in trees)
        size = len(trees) * nodes
        feature = np.zeros(size, dtype=np.int64)
        threshold = np.full(size, np.inf)
        children = np.repeat(np.arange(size), 2)
        if_nan = np.arange(size)
        leaf_value = np.zeros(size)
        start = np.zeros(len(trees), dtype=np.int64)
        for i, t in enumerate(trees):
            base, splits = i * nodes, len(t["split_feature"])
            # decision_type: bit 0 categorical, bit 1 default left, bits 2-3 missing type
            # (0 none: NaN is read as 0; 1 zero-as-missing; 2 NaN goes the default side)
            if any(int(d) & 1 or (int(d) >> 2) & 3 == 1 for d in t["decision_type"]):
                raise ValueError("categorical or zero-as-missing splits are not supported")

            def place(child: float, parent: int, base: int = base, splits: int = splits,
                      leaves: int = len(t["leaf_value"]), tree: int = i) -> int:
                c = int(child)
                if not (parent < c < splits if c >= 0 else ~c < leaves):
                    raise ValueError(f"tree {tree}: split {parent} leads to {c}")
                return base + c if c >= 0 else base + width + ~c

            start[i] = base if splits else base + width
            for j in range(splits):
                feature[base + j] = int(t["split_feature"][j])
                if not 0 <= feature[base + j] < features:
                    raise ValueError(f"tree {i}: split {j} reads feature {feature[base + j]}")
                threshold[base + j] = t["threshold"][j]
                children[2 * (base + j)] = place(t["left_child"][j], j)
                children[2 * (base + j) + 1] = place(t["right_child"][j], j)
                decision = int(t["decision_type"][j])
                left = bool(decision & 2) if (decision >> 2) & 3 == 2 else \
                    0.0 <= t["threshold"][j]
                if_nan[base + j] = children[2 * (base + j) + (0 if left else 1)]
            leaf_value[base + width: base + width + len(t["leaf_value"])] = t["leaf_value"]
        is_split = children[1::2] != np.arange(size)
        leaves = max(len(t["leaf_value"]) for t in trees)
        return cls(start, feature, threshold, children, if_nan, leaf_value, is_split,
                   *_bitvectors(feature, threshold, children, is_split, start, width, leaves))


def _bitvectors(feature: np.ndarray, threshold: np.ndarray, children: np.ndarray,
                is_split: np.ndarray, start: np.ndarray, width: int, leaves: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """`_FlatTrees`'s arrays for `exit_leaves` (rules_out None past 64 leaves a tree)."""
    import numpy as np

    trees, nodes = len(start), len(is_split) // len(start)
    bits = np.dtype(f"uint{max(8, 1 << (leaves - 1).bit_length())}") if leaves <= 64 else None
    split_feature = np.zeros((trees, width), dtype=np.int64)
    split_threshold = np.full((trees, width), np.inf)
    rules_out = np.zeros((trees, width), dtype=bits or np.uint64)
    in_order = np.zeros((trees, leaves), dtype=np.int64)
    for i in range(trees):
        order = _leaves_in_order(children, int(start[i]), is_split)
        in_order[i, : len(order)] = order
        bit = {leaf: 1 << p for p, leaf in enumerate(order)}
        for j, at in enumerate(range(i * nodes, i * nodes + width)):
            if is_split[at]:
                split_feature[i, j], split_threshold[i, j] = feature[at], threshold[at]
                if bits is not None:
                    rules_out[i, j] = sum(bit[leaf] for leaf in _leaves_in_order(
                        children, int(children[2 * at]), is_split))
    return (split_feature.ravel(), split_threshold.ravel(),
            rules_out.ravel() if bits is not None else None, in_order)


def _leaves_in_order(children: np.ndarray, node: int, is_split: np.ndarray) -> list[int]:
    """The leaves under `node`, from the left (flat positions)."""
    out, stack = [], [node]
    while stack:
        here = stack.pop()
        if is_split[here]:
            stack += [int(children[2 * here + 1]), int(children[2 * here])]
        else:
            out.append(here)
    return out


def write_linear(model: LinearModel, path: Path) -> None:
    """Save a linear model as JSON, atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_linear(path: Path, features: Sequence[str]) -> LinearModel:
    """A linear model from JSON; ModelLoadError if it is missing or made for other features."""
    try:
        model = LinearModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: cannot read the trained model ({exc}); run `qa train`") \
            from None
    if model.features != tuple(features):
        raise ModelLoadError(f"{path}: trained on other features; run `qa train`")
    return model


@dataclass(frozen=True, slots=True)
class Models:
    """The trained models an index is queried with; any may be None (then that step falls
    back: hybrid order for ranking, the best-covering sentence, no abstention model, and
    `sentences` picks the quoted sentences when there is no `quotes` model).

    `sentences` scores sentences for judging answerability (without the sentence reader:
    docs/training.md); `quotes`, fitted with the reader's features when `qa train` had a
    reader, picks the sentences an answer quotes."""

    ranker: TreeModel | None = None
    sentences: LinearModel | None = None
    answerable: LinearModel | None = None
    reader: SentenceReader | None = None
    quotes: LinearModel | None = None

    @classmethod
    def load(cls, directory: Path = MODELS_DIR) -> Models:
        """The models saved in `directory` (default: the ones shipped with qa), as `qa
        train --out` writes them; ModelLoadError when it holds none of them."""
        from .answer import ANSWER_FEATURES, SENTENCE_FEATURES
        from .features import PASSAGE_FEATURES
        from .reader import SentenceReader

        ranker = directory / RANKER_FILE
        sentences = directory / SENTENCE_FILE
        answerable = directory / ANSWERABLE_FILE
        if not any(path.exists() for path in (ranker, sentences, answerable)):
            raise ModelLoadError(f"{directory}/ holds no trained models ({RANKER_FILE}, "
                                 f"{SENTENCE_FILE}, {ANSWERABLE_FILE}); make them with "
                                 f"`qa train --out {directory}`")
        reader = directory / READER_FILE
        quotes = directory / QUOTES_FILE
        models = cls(
            TreeModel(ranker, PASSAGE_FEATURES) if ranker.exists() else None,
            read_linear(sentences, SENTENCE_FEATURES) if sentences.exists() else None,
            read_linear(answerable, ANSWER_FEATURES) if answerable.exists() else None,
            SentenceReader(reader) if reader.exists() else None,
            read_linear(quotes, SENTENCE_FEATURES) if quotes.exists() else None)
        if models.reads_reader and models.reader is None:
            raise ModelLoadError(f"{quotes if models.quotes else sentences} reads the sentence "
                                 f"reader, but {reader} is missing; run `qa train-reader` "
                                 "(then `qa train`)")
        return models

    @property
    def reads_reader(self) -> bool:
        """Whether a sentence scorer gives the sentence reader's features any weight (so
        the reader must run for every answer)."""
        return any(model is not None and model.weighs("reader")
                   for model in (self.sentences, self.quotes))

    def describe(self) -> dict[str, str | None]:
        """Which models these are (file digests), for the manifest and `qa info`."""
        out: dict[str, str | None] = {"ranker": None, "sentences": None, "answerable": None}
        if self.ranker is not None:
            out["ranker"] = f"lightgbm:{file_digest(self.ranker.path)}"
        if self.reader is not None and self.reads_reader:
            out["reader"] = f"onnx:{file_digest(self.reader.graph)}"
        for name in ("sentences", "answerable", "quotes"):
            model = getattr(self, name)
            if model is not None:
                out[name] = f"logistic:{(model.meta or {}).get('digest', '?')}"
        return out
