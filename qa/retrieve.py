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


def dense_search(index: Any, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
                 exact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest passages by inner product as (ids, scores), best first.

    With `exact` (the raw vectors, typically memory-mapped), the candidates of a
    compressed index are re-scored with true inner products and re-ordered.
    """
    import faiss
    import numpy as np

    from .dense import flat_matrix, search_params

    matrix = flat_matrix(index)
    if matrix is not None:  # exact: one matrix-vector product, no FAISS threads to wake
        return top_k_scores(matrix @ query.astype(np.float32), k, allowed)
    params = None
    if allowed is not None:
        ids = np.flatnonzero(allowed).astype(np.int64)
        k = min(k, len(ids))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = search_params(index, faiss.IDSelectorBatch(ids))
    k = min(k, index.ntotal)
    scores, found = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
    ids = found[0][found[0] >= 0]
    if exact is None or not len(ids):
        return ids, scores[0][found[0] >= 0]
    true = np.asarray(exact[np.sort(ids)] @ query, dtype=np.float32)
    order = np.argsort(-true, kind="stable")
    return np.sort(ids)[order], true[order]


def top_k_scores(scores: np.ndarray, k: int,
                 allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best positions of `scores` (among `allowed`) and their scores, best first."""
    import numpy as np

    ids = top_k(scores, k, allowed)
    return ids.astype(np.int64), scores[ids].astype(np.float32)


def rrf_fuse(rankings: Sequence[Sequence[int]], *, k: int = RRF_K,
             weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of weight / (k + rank) over the rankings, best first."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            fused[int(doc)] = fused.get(int(doc), 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))



def convex_fuse(dense: dict[int, float], bm25: np.ndarray, lexical: Sequence[int], *,
                alpha: float) -> list[tuple[int, float]]:
    """Score fusion: alpha * cosine + (1 - alpha) * BM25 / best BM25, best first.

    Candidates are the union of both rankings. A lexical candidate outside the dense
    top list gets the lowest dense score seen, a bound on its true cosine.
    """
    best = float(bm25.max()) if len(bm25) else 0.0
    floor = min(dense.values()) if dense else 0.0
    fused = {
        i: alpha * dense.get(i, floor) + (1 - alpha) * (float(bm25[i]) / best if best > 0 else 0.0)
        for i in {*dense, *lexical}
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def previous_passages(article_ids: Sequence[str]) -> np.ndarray:
    """For each passage, the position of the passage before it in its article, or -1."""
    import numpy as np

    prev = np.arange(-1, len(article_ids) - 1, dtype=np.int64)
    for i in range(len(article_ids)):
        if i == 0 or article_ids[i - 1] != article_ids[i]:
            prev[i] = -1
    return prev


def with_context(scores: np.ndarray, prev: np.ndarray, weight: float) -> np.ndarray:
    """Each score plus `weight` times the score of the passage before it."""
    if weight == 0:
        return scores
    out = scores.copy()
    has = prev >= 0
    out[has] += weight * scores[prev[has]]
    return out


def idf_weights(retriever: Any) -> dict[str, float]:
    """BM25 inverse document frequency of every indexed term."""
    import numpy as np

    n = int(retriever.scores["num_docs"])
    df = np.diff(retriever.scores["indptr"])
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    return {term: float(idf[i]) for term, i in retriever.vocab_dict.items() if i < len(idf)}
