"""Ranking maths checked against brute-force oracles."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from qa.retrieve import dense_search, make_stemmer, rrf_fuse, tokenize, top_k


def brute_rrf(rankings: list[list[int]], k: int, weights: list[float]) -> dict[int, float]:
    docs = {d for r in rankings for d in r}
    return {d: sum(w / (k + r.index(d) + 1) for r, w in zip(rankings, weights, strict=True) if d in r)
            for d in docs}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rrf_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rankings = [list(rng.permutation(50)[:n]) for n in (17, 5, 33)]
    weights = [1.0, 0.5, 2.0]
    fused = rrf_fuse(rankings, k=60, weights=weights)
    oracle = brute_rrf(rankings, 60, weights)
    assert dict(fused) == pytest.approx(oracle)
    assert [s for _, s in fused] == sorted(oracle.values(), reverse=True)


def test_rrf_ties_break_by_id() -> None:
    assert [d for d, _ in rrf_fuse([[3, 1], [1, 3]])] == [1, 3]


@pytest.mark.parametrize("k", [1, 5, 17])
def test_dense_search_matches_numpy(k: int) -> None:
    rng = np.random.default_rng(k)
    vectors = rng.normal(size=(200, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(32)
    index.add(vectors)
    query = vectors[7] + 0.1 * rng.normal(size=32).astype(np.float32)
    ids, scores = dense_search(index, query, k)
    expected = np.argsort(-(vectors @ query))[:k]
    assert ids.tolist() == expected.tolist()
    assert scores == pytest.approx((vectors @ query)[expected], rel=1e-5)


def test_dense_search_respects_the_allowed_mask() -> None:
    vectors = np.eye(4, dtype=np.float32)
    index = faiss.IndexFlatIP(4)
    index.add(vectors)
    allowed = np.array([False, True, False, True])
    ids, _ = dense_search(index, vectors[0], 4, allowed)
    assert sorted(ids.tolist()) == [1, 3]


def test_top_k_orders_and_filters() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 3, np.array([True, False, True, False])).tolist() == [2, 0]
    assert top_k(scores, 2, np.zeros(4, dtype=bool)).tolist() == []


def test_tokenizer_stems_and_drops_stopwords() -> None:
    tokens = tokenize(["The countries were trading with partners"], make_stemmer())[0]
    assert "the" not in tokens and "countri" in tokens and "partner" in tokens
