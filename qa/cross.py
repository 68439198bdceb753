"""A user's own CrossEncoder reranker, exported locally to ONNX and run by ONNX Runtime.

A sentence-transformers CrossEncoder is a sequence-classification transformer with one
label that reads (query, passage) as a pair. Its transformer is exported once into
`cache_dir` (file named by a digest of its weights, written atomically, reused by every
later load, optionally quantised to int8) exactly as `qa.onnx_backend` does for the
encoder; pairs are tokenised with `tokenizers`. Nothing is ever downloaded: the model
is a local folder or a name already in the Hugging Face cache.

    from qa.cross import CrossEncoderReranker
    reranker = CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L6-v2", cache_dir=Path(".qa-onnx"))
    scores = reranker.score("How much did trade grow?", [hit.text for hit in hits])
    best_first = [hits[i] for i in scores.argsort()[::-1]]

Latency for 20 passages of 100 words (145 tokens a pair), MiniLM-L6 size, on the
2 shared cores under load from other jobs, median (best) of 20: fp32 855 (696) ms on one
thread, 1600 (468) ms on two; int8 442 (348) ms on one thread, 816 (238) ms on two.
Two threads win only when the second core is free.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelLoadError
from .onnx_backend import (
    OPSET,
    _atomic_write,
    _read_json,
    _session,
    _slug,
    _tokenizer,
    cached_graph,
    cpu_count,
    fuse_bert,
)

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1
"""Bumped whenever the exported reranker graph changes, so old cache files are not reused."""

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "identity"}

CROSS_DEPTH = 20
"""How many of the ranker's best candidates a user's CrossEncoder re-orders."""


def resolve_cross_encoder(model: str) -> Path:
    """The local folder of `model`: a path, or the snapshot of a name in the HF cache."""
    if Path(model).expanduser().exists():
        return Path(model).expanduser()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached, or not a valid name
        raise ModelLoadError(f"cannot find reranker {model!r}: not a local path "
                             "or a model in the local Hugging Face cache") from None


def _check_cross_encoder(model_dir: Path) -> dict[str, Any]:
    """The model's config.json, refusing anything but one-label sequence classification."""
    config = _read_json(model_dir / "config.json")
    if not isinstance(config, dict):
        raise ModelLoadError(f"reranker {str(model_dir)!r} has no config.json")
    archs = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in archs):
        raise ModelLoadError(f"{str(model_dir)!r} is not a CrossEncoder "
                             f"(architectures {archs!r}, not a sequence classifier)")
    labels = len(config.get("id2label") or {}) or int(config.get("num_labels", 1))
    if labels != 1:
        raise ModelLoadError(f"{str(model_dir)!r} has {labels} labels; a reranker needs one")
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelLoadError(f"reranker {str(model_dir)!r} has no tokenizer.json")
    return config


def _activation(model_dir: Path, config: dict[str, Any]) -> str:
    """"sigmoid" or "identity", as sentence-transformers' `predict` applies it (default sigmoid)."""
    st = _read_json(model_dir / "config_sentence_transformers.json") or {}
    path = (st.get("activation_fn") or (config.get("sentence_transformers") or {}).get("activation_fn")
            or config.get("sbert_ce_default_activation_function") or "Sigmoid")
    name = str(path).rsplit(".", 1)[-1]
    if name not in _ACTIVATIONS:
        logger.warning("reranker activation %s not supported: raw logits used (same order)", name)
    return _ACTIVATIONS.get(name, "identity")


def _max_length(model_dir: Path, config: dict[str, Any]) -> int:
    """The longest pair the model reads, as sentence-transformers takes it (at most 512)."""
    st = _read_json(model_dir / "sentence_bert_config.json") or {}
    tok = _read_json(model_dir / "tokenizer_config.json") or {}
    found = st.get("max_seq_length") or tok.get("model_max_length") or 512
    return int(min(float(found), float(config.get("max_position_embeddings") or 512), 512))


def export_cross_encoder(model_dir: Path, target: Path) -> None:
    """Export the classifier of `model_dir` (its own inputs -> logits, shape [batch, 1]) to `target`."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager")
    model.eval().requires_grad_(False)
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]

    class Logits(torch.nn.Module):  # positional inputs, one tensor out
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).logits

    ids = torch.ones((2, 8), dtype=torch.long)
    sample = tuple(torch.zeros_like(ids) if n == "token_type_ids" else ids for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}

    def write(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes
            torch.onnx.export(Logits(), sample, str(tmp), input_names=names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True,
                              dynamo=False)
        if model.config.model_type == "bert":
            fuse_bert(tmp, model.config)

    _atomic_write(target, write)


class CrossEncoderReranker:
    """A CrossEncoder scoring (query, passage) pairs on CPU with ONNX Runtime.

    Scores equal sentence-transformers' `CrossEncoder.predict` (fp32, to 1e-4): the
    model's sigmoid is applied when it has one (the default for one label), raw logits
    when its activation is identity. Each pair is scored in a run of its own: no
    padding, which measured faster than one padded batch on 2 cores, and with int8 (whose
    activation scales are set per run) a passage's score never depends on the others.

    Args:
        model: a local CrossEncoder folder, or a name already in the Hugging Face cache.
        cache_dir: where the exported graph is kept and reused.
        quantize: run an int8 dynamically quantised copy of the graph.
        threads: ONNX Runtime intra-op threads (default: the cores this process may use).

    Raises:
        ModelLoadError: the model is missing, is not a one-label CrossEncoder, or cannot
            be exported or loaded.
    """

    depth = CROSS_DEPTH  # how many of the ranker's best it re-orders (qa.rerank.cross_rerank)
    titled = False  # passages are scored as they are, without their article's title

    def __init__(self, model: str, *, cache_dir: Path, quantize: bool = False,
                 threads: int | None = None) -> None:
        self.name = model
        self.quantize = quantize
        model_dir = resolve_cross_encoder(model)
        config = _check_cross_encoder(model_dir)
        self.activation = _activation(model_dir, config)
        self.max_length = _max_length(model_dir, config)
        try:
            self.graph = cached_graph(model_dir, f"cross{EXPORT_VERSION}-{_slug(model)}", Path(cache_dir),
                                      quantize=quantize, export=export_cross_encoder)
            self._session = _session(self.graph, threads or cpu_count())
            self._tok = _tokenizer(model_dir, self.max_length)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot load"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"cannot export or load reranker {str(model_dir)!r} with ONNX: {first}") from None
        self._feeds = [i.name for i in self._session.get_inputs()]

    def _logits(self, query: str, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        enc = self._tok.encode_batch([(query, t) for t in texts])
        arrays = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
                  "token_type_ids": [e.type_ids for e in enc]}
        feeds = {n: np.array(arrays[n], dtype=np.int64) for n in self._feeds}
        return self._session.run(None, feeds)[0][:, 0]

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance score per text (float32, higher is more relevant)."""
        import numpy as np

        logits = np.array([self._logits(query, [t])[0] for t in texts], dtype=np.float32)
        if self.activation == "sigmoid":
            logits = 0.5 * (1.0 + np.tanh(0.5 * logits))
        return logits.astype(np.float32)
