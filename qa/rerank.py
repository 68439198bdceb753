"""Second-stage ranking: the top hybrid candidates re-ordered by a model trained on tuning data.

`gather` turns the first stage's scores into `Candidate`s and their feature rows
(qa.features.PASSAGE_FEATURES); a `LinearModel` or `TreeModel` (qa.models) scores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import dense as dense_types
from .features import Candidate, Query, Terms, passage_features

if TYPE_CHECKING:
    import numpy as np

    from .schema import Passage
    from .sentences import SentenceIndex


@dataclass(frozen=True, slots=True)
class FirstStage:
    """What the first stage found for one query, over the whole index."""

    bm25: np.ndarray  # BM25 score of every passage
    dense: dict[int, float]  # cosine of the dense top list, by passage position
    dense_order: list[int]
    lexical_order: list[int]  # BM25 (with context) top list
    fused: list[tuple[int, float]]  # hybrid order, best first
    sentence_order: list[int]  # passages by their best sentence in the sentence search


@dataclass(frozen=True, slots=True)
class Pool:
    """How many candidates each first-stage list gives the second stage (chosen on tuning
    data: docs/training.md)."""

    fused: int = 40
    sentence: int = 20
    dense: int = 10
    articles: int = 3  # the passages of the best articles of the hybrid order...
    article_passages: int = 12  # ...up to this many per article


def candidate_rows(stage: FirstStage, spans: np.ndarray, article_of: np.ndarray,
                   pool: Pool = Pool(), k: int = 0) -> list[int]:
    """The passages the second stage re-orders: the best of the hybrid order, then of the
    sentence search and the passage-vector search, then the other passages of the best
    articles (a question that names an article's people often matches its first
    paragraph while another one holds the answer), without repeats.

    `spans[a]` is the (first, end) passage range of article number a; `article_of[i]`
    the article number of passage i.
    """
    rows = [i for i, _ in stage.fused[: max(pool.fused, k)]]
    rows += stage.sentence_order[: pool.sentence] + stage.dense_order[: pool.dense]
    articles = list(dict.fromkeys(int(article_of[i]) for i, _ in stage.fused))[: pool.articles]
    for a in articles:
        first, end = spans[a]
        rows += range(int(first), min(int(end), int(first) + pool.article_passages))
    return list(dict.fromkeys(rows))


def article_spans(article_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Passages of an article are contiguous: each article's (first, end) passage range,
    and each passage's article number."""
    import numpy as np

    starts = [i for i in range(len(article_ids))
              if i == 0 or article_ids[i] != article_ids[i - 1]]
    ends = starts[1:] + [len(article_ids)]
    article_of = np.zeros(len(article_ids), dtype=np.int64)
    for a, (s, e) in enumerate(zip(starts, ends, strict=True)):
        article_of[s:e] = a
    return np.asarray(list(zip(starts, ends, strict=True)), dtype=np.int64).reshape(-1, 2), \
        article_of


def gather(stage: FirstStage, rows: Sequence[int], *, passages: Sequence[Passage],
           prev: np.ndarray, positions: np.ndarray, query: Query, terms: Terms,
           vector: np.ndarray | None, dense_index: Any, exact: np.ndarray | None,
           sentences: SentenceIndex, spans: np.ndarray,
           article_of: np.ndarray) -> tuple[list[Candidate], np.ndarray]:
    """Candidates for `rows` (passage positions) and their feature matrix."""
    import numpy as np

    best_of_article: dict[int, float] = {}

    def article_bm25(i: int) -> float:
        article = int(article_of[i])
        if article not in best_of_article:
            first, end = spans[article]
            best_of_article[article] = float(stage.bm25[first:end].max())
        return best_of_article[article]

    rank_sentence = {i: r for r, i in enumerate(stage.sentence_order, start=1)}

    cos = dict(stage.dense)
    missing = [i for i in rows if i not in cos]
    if missing and vector is not None:
        vectors = dense_types.vectors_for(dense_index, missing, exact)
        cos.update(zip(missing, (vectors @ vector).tolist(), strict=True))
    rank_dense = {i: r for r, i in enumerate(stage.dense_order, start=1)}
    bm25_rank = {i: r for r, i in enumerate(stage.lexical_order, start=1)}
    sentence_cos = ([tuple(c.tolist()) for c in sentences.cosines(rows, vector)]
                    if vector is not None else [()] * len(rows))
    cands: list[Candidate] = []
    context: list[tuple[str, str] | None] = []
    for i, own_cos in zip(rows, sentence_cos, strict=True):
        p = passages[i]
        before = int(prev[i])
        cands.append(Candidate(
            key=p.id, text=p.text, title=p.title, article_id=p.article_id,
            position=int(positions[i]), cos=float(cos.get(i, 0.0)), bm25=float(stage.bm25[i]),
            bm25_prev=float(stage.bm25[before]) if before >= 0 else 0.0,
            rank_dense=rank_dense.get(i, 0), rank_bm25=bm25_rank.get(i, 0),
            rank_sentence=rank_sentence.get(i, 0), article_bm25=article_bm25(i),
            sentence_cos=own_cos))
        context.append((passages[before].id, passages[before].text) if before >= 0 else None)
    return cands, passage_features(query, cands, terms, context) if cands else \
        np.zeros((0, 0), dtype=np.float32)


def article_positions(prev: np.ndarray) -> np.ndarray:
    """Each passage's place in its article (0 for the first), from the previous-passage map."""
    import numpy as np

    pos = np.zeros(len(prev), dtype=np.int64)
    for i in range(len(prev)):
        if prev[i] >= 0:
            pos[i] = pos[prev[i]] + 1
    return pos


@dataclass(frozen=True, slots=True)
class Ranking:
    """The second stage's result for one query: candidates best first, with their feature
    rows and scores (the ranker's, or the hybrid score when there is no ranker)."""

    query: Query
    stage: FirstStage
    rows: list[int]  # passage positions
    candidates: list[Candidate]
    features: np.ndarray
    scores: np.ndarray


def rank(stage: FirstStage, rows: Sequence[int], cands: list[Candidate], features: np.ndarray,
         query: Query, model: Any) -> Ranking:
    """Order the candidates by `model.score(features)`, or keep the hybrid order."""
    import numpy as np

    if model is None or not len(rows):
        fused = dict(stage.fused)
        scores = np.asarray([fused.get(i, 0.0) for i in rows], dtype=np.float64)
    else:
        scores = model.score(features)
    order = np.argsort(-scores, kind="stable")
    return Ranking(query, stage, [rows[j] for j in order], [cands[j] for j in order],
                   features[order] if len(features) else features, scores[order])


def cross_rerank(ranking: Ranking, reranker: Any, query: str) -> Ranking:
    """The ranking with its first `reranker.depth` candidates re-ordered by a reranker's
    scores: a user's CrossEncoder (qa.cross) or a language model's query likelihood
    (qa.likelihood); with `reranker.titled`, each passage is read under its article's title.

    The ranker's scores travel with their candidates (the answer models read them), so
    only the order changes.
    """
    import numpy as np

    head = min(reranker.depth, len(ranking.rows))
    if head < 2:
        return ranking
    texts = [f"{c.title}\n{c.text}" if reranker.titled and c.title else c.text
             for c in ranking.candidates[:head]]
    scores = reranker.score(query, texts)
    order = [*np.argsort(-np.asarray(scores), kind="stable").tolist(), *range(head, len(ranking.rows))]
    return Ranking(ranking.query, ranking.stage, [ranking.rows[i] for i in order],
                   [ranking.candidates[i] for i in order], ranking.features[order],
                   ranking.scores[order])
