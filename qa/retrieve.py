"""Ranking maths over arrays: dense top-k, BM25 scores, and fusion of rankings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RRF_K = 60


def make_stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str], stemmer: Any) -> list[list[str]]:
    """BM25 tokens: lower-cased words, English stopwords removed, Snowball-stemmed."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, return_ids=False,
                          show_progress=False)


def bm25_scores(retriever: Any, tokens: list[str], n: int) -> np.ndarray:
    """BM25 score of every passage for one tokenized query (zeros if nothing matches)."""
    import numpy as np

    ids = retriever.get_tokens_ids(tokens)
    if not ids:
        return np.zeros(n, dtype=np.float32)
    return np.asarray(retriever.get_scores_from_ids(ids), dtype=np.float32)


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `k` highest scores, best first, among `allowed` positions if given."""
    import numpy as np

    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def dense_search(index: Any, query: np.ndarray, k: int,
                 allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest passages by inner product as (ids, scores), best first."""
    import faiss
    import numpy as np

    params = None
    if allowed is not None:
        ids = np.flatnonzero(allowed).astype(np.int64)
        k = min(k, len(ids))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
    k = min(k, index.ntotal)
    scores, found = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
    keep = found[0] >= 0
    return found[0][keep], scores[0][keep]


def rrf_fuse(rankings: Sequence[Sequence[int]], *, k: int = RRF_K,
             weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of weight / (k + rank) over the rankings, best first."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            fused[int(doc)] = fused.get(int(doc), 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
