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

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
RANKER_FILE = "ranker.txt"
SENTENCE_FILE = "sentences.json"
ANSWERABLE_FILE = "answerable.json"


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
    """A LightGBM model read from its text file; `score` gives its raw output."""

    def __init__(self, path: Path, features: Sequence[str]) -> None:
        import lightgbm

        self.path = path
        try:
            self.booster = lightgbm.Booster(model_file=str(path))
        except lightgbm.basic.LightGBMError as exc:
            raise ModelLoadError(f"{path}: cannot read the ranker ({exc}); run `qa train`") \
                from None
        names = tuple(self.booster.feature_name())
        if names != tuple(features):
            raise ModelLoadError(f"{path}: the ranker was trained on other features "
                                 f"({len(names)} vs {len(features)}); run `qa train`")
        self.features = names

    def score(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        if not len(x):
            return np.zeros(0)
        return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)


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
    back: hybrid order for ranking, the best-covering sentence, no abstention model)."""

    ranker: TreeModel | None = None
    sentences: LinearModel | None = None
    answerable: LinearModel | None = None

    @classmethod
    def load(cls, directory: Path = MODELS_DIR) -> Models:
        """The models saved in `directory` (default: the ones shipped with qa)."""
        from .answer import ANSWER_FEATURES, SENTENCE_FEATURES
        from .features import PASSAGE_FEATURES

        ranker = directory / RANKER_FILE
        sentences = directory / SENTENCE_FILE
        answerable = directory / ANSWERABLE_FILE
        return cls(
            TreeModel(ranker, PASSAGE_FEATURES) if ranker.exists() else None,
            read_linear(sentences, SENTENCE_FEATURES) if sentences.exists() else None,
            read_linear(answerable, ANSWER_FEATURES) if answerable.exists() else None)

    def describe(self) -> dict[str, str | None]:
        """Which models these are (file digests), for the manifest and `qa info`."""
        out: dict[str, str | None] = {"ranker": None, "sentences": None, "answerable": None}
        if self.ranker is not None:
            out["ranker"] = f"lightgbm:{file_digest(self.ranker.path)}"
        for name in ("sentences", "answerable"):
            model = getattr(self, name)
            if model is not None:
                out[name] = f"logistic:{(model.meta or {}).get('digest', '?')}"
        return out
