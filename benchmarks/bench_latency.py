"""Query latency per mode at 1k, 10k, 100k and 1M passages, next to the floor.

Method: the BBC passages (about 10.5k, embeddings from the cache) give the 1k and 10k
indexes as prefixes. Beyond that, each index holds all BBC passages plus synthetic ones:
unit vectors near randomly chosen real ones (Gaussian noise 0.05 per dimension, seed 0)
in the FAISS flat index, and for BM25
documents of stemmed BBC terms drawn by their corpus frequency, with lengths drawn from
the BBC passage lengths, indexed by bm25s like real text. So FAISS and BM25 do the real
amount of work at every size. The queries are 50 BBC article titles (seed 0), encoded
live by the model, as `Index.search(title, k=5, mode=...)` does for a user.

For each size: p50/p95 of `Index.search` per mode, and of its parts measured alone:
encoding the query, a bare FAISS search (top 5, query vector given), and bare BM25
(tokenize, score every passage, top 5). The floor is encode + bare FAISS. All of these
are timed query by query in turn, so that load from other work on the machine falls on
all of them alike. Resident memory is read before and after building each size's
structures. Finally the largest size again with the FAISS index `--index-type auto`
picks there (HNSW at 1M), as `qa build` would make it.

    python benchmarks/bench_latency.py [--queries 50] [--max-size 1000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CachedEmbedder,
    bench_file,
    default_embedder,
    percentiles,
    rss_mb,
    update_result,
    write_result,
)

from qa import dense as dense_types  # noqa: E402
from qa import retrieve  # noqa: E402
from qa.config import MODES  # noqa: E402
from qa.corpus import read_corpus, split_corpus  # noqa: E402
from qa.index import Index, embedding_text  # noqa: E402
from qa.schema import Passage  # noqa: E402
from qa.sentences import SentenceIndex, passage_spans  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
SYNTHETIC_TEXT = "(synthetic passage)"


class Corpus:
    """The real BBC passages, their vectors and BM25 token ids, and a synthetic generator."""

    def __init__(self, bbc: Path, embedder: Any) -> None:
        articles = read_corpus([bbc]).articles
        self.passages = split_corpus(articles)
        texts = [embedding_text(p, True) for p in self.passages]
        cached = CachedEmbedder(embedder)
        self.vectors, self.blocks = cached.encode_passages(
            texts, [passage_spans(p, t) for p, t in zip(self.passages, texts, strict=True)])
        cached.save()
        tokens = retrieve.tokenize([p.text for p in self.passages], retrieve.make_stemmer())
        self.vocab: dict[str, int] = {}
        self.ids = [[self.vocab.setdefault(t, len(self.vocab)) for t in doc] for doc in tokens]
        counts = np.bincount(np.concatenate([np.asarray(d, dtype=np.int64) for d in self.ids]),
                             minlength=len(self.vocab))
        self.term_p = counts / counts.sum()
        self.lengths = np.array([len(d) for d in self.ids])
        self.titles = [a.title for a in articles]

    def synthetic_ids(self, n: int, rng: np.random.Generator) -> list[list[int]]:
        lengths = rng.choice(self.lengths, size=n)
        flat = rng.choice(len(self.vocab), size=int(lengths.sum()), p=self.term_p)
        return [d.tolist() for d in np.split(flat, np.cumsum(lengths)[:-1])]

    def synthetic_vectors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Unit vectors near random real ones: the clustered shape of text, for ANN indexes."""
        out = np.empty((n, self.vectors.shape[1]), dtype=np.float32)
        for i in range(0, n, 100_000):
            rows = self.vectors[rng.integers(0, len(self.vectors), min(100_000, n - i))]
            rows = rows + rng.normal(0, 0.05, rows.shape).astype(np.float32)
            out[i : i + len(rows)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return out


def make_index(corpus: Corpus, n: int, embedder: Any, kind: str = "flat") -> Index:
    """An Index of `n` passages: real BBC ones first, synthetic ones after."""
    import bm25s

    real = min(n, len(corpus.passages))
    rng = np.random.default_rng(0)
    vectors = corpus.vectors[:real]
    ids = corpus.ids[:real]
    synthetic = corpus.synthetic_vectors(n - real, rng) if n > real else vectors[:0]
    if n > real:
        vectors = np.concatenate([vectors, synthetic])
        ids = ids + corpus.synthetic_ids(n - real, rng)
    dense = dense_types.make(np.ascontiguousarray(vectors, dtype=np.float32), kind)
    del vectors
    bm25 = bm25s.BM25()
    bm25.index((ids, dict(corpus.vocab)), show_progress=False)
    del ids
    passages = corpus.passages[:real] + [
        Passage(id=f"synthetic#{i}", article_id=f"synthetic#{i}", source="synthetic",
                title="synthetic", date=None, start=0, end=len(SYNTHETIC_TEXT),
                text=SYNTHETIC_TEXT) for i in range(n - real)]
    # A synthetic passage is one sentence: its sentence vector is its passage vector.
    blocks = corpus.blocks[:real] + [v[None, :] for v in synthetic]
    sentences = SentenceIndex.make(blocks, passages, kind)
    manifest = {"model": {"name": embedder.name, "dimension": embedder.dimension},
                "settings": {}, "counts": {"files": 1, "articles": 0, "passages": n}}
    return Index(path=Path(f"(synthetic {n})"), manifest=manifest, passages=passages,
                 dense=dense, bm25=bm25, embedder=embedder, sentences=sentences)


def timed(fns: dict[str, Callable[[str], Any]], queries: Sequence[str],
          warmup: int = 2) -> dict[str, Any]:
    """p50/p95 milliseconds of each fn(query), interleaved query by query so that load
    from other work hits every measurement alike; `warmup` queries first."""
    for q in queries[:warmup]:
        for fn in fns.values():
            fn(q)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for q in queries:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(q)
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: percentiles(values) for name, values in times.items()}


def measure(index: Index, queries: Sequence[str], embedder: Any) -> dict[str, Any]:
    """Latency of every mode and of the bare parts on one index."""
    stemmer = retrieve.make_stemmer()
    vectors = {q: embedder.encode_query(q) for q in queries}
    n = len(index)
    fns: dict[str, Callable[[str], Any]] = {
        mode: (lambda q, m=mode: index.search(q, k=5, mode=m)) for mode in MODES}
    fns["encode"] = embedder.encode_query
    fns["faiss"] = lambda q: retrieve.dense_search(index._dense, vectors[q], 5)
    fns["floor"] = lambda q: retrieve.dense_search(index._dense, embedder.encode_query(q), 5)
    fns["bm25_bare"] = lambda q: retrieve.top_k(retrieve.bm25_scores(
        index._bm25, retrieve.tokenize([q], stemmer)[0], n), 5)
    return timed(fns, queries)


def measure_budget(corpus: Corpus, embedder: Any) -> dict[str, Any]:
    """`Index.search` and `Index.ask` as a user calls them (default settings, query encoded
    live) on every real BBC passage: the issue's budgets are search p50 <= 15 ms and ask
    p50 <= 100 ms at this size. Questions: the BBC tuning set's first 50, as written.

    Each is timed twice on its own fresh index: first contact (the passages a question
    brings up have not been met yet: their stored sentence terms are read, the numbers,
    dates and names they hold found) and steady state (the same questions again, as a
    long-running server sees passages it has met before)."""
    from qa.datasets import QUESTIONS_DIR
    from qa.evaluate import load_questions

    questions = [q.question for q in load_questions(QUESTIONS_DIR / "bbc_tuning.jsonl")][:50]
    out: dict[str, Any] = {}
    for name in ("search", "ask"):
        index = make_index(corpus, len(corpus.passages), embedder)
        call = (lambda q, i=index: i.search(q, k=5)) if name == "search" else (
            lambda q, i=index: i.ask(q, k=5))
        call("xqzv")  # loads the models; brings up ~70 passages, hardly any of the questions'
        out[name] = timed({name: call}, questions, warmup=0)[name]
        out[f"{name}_warm"] = timed({name: call}, questions, warmup=0)[name]
        out["passages"] = len(index)
        del index
    print(f"latency: {out['passages']:,} real passages: search p50 {out['search']['p50']:.1f} "
          f"ms ({out['search_warm']['p50']:.1f} warm), ask p50 {out['ask']['p50']:.1f} ms "
          f"({out['ask_warm']['p50']:.1f} warm)", flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every size up to --max-size; save results/latency.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--max-size", type=int, default=SIZES[-1])
    parser.add_argument("--budget-only", action="store_true",
                        help="re-measure only the budgets, into the saved latency.json")
    args = parser.parse_args(argv)
    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        write_result("latency", {"skipped": "news-bbc.jsonl not found"})
        return
    t_start = time.perf_counter()
    embedder = default_embedder()
    corpus = Corpus(bbc, embedder)
    if args.budget_only:
        update_result("latency", budget=measure_budget(corpus, embedder))
        return
    queries = random.Random(0).sample(corpus.titles, args.queries)
    sizes = []
    for n in (s for s in SIZES if s <= args.max_size):
        gc.collect()
        before, t0 = rss_mb(), time.perf_counter()
        index = make_index(corpus, n, embedder)
        row = {"passages": n, "real": min(n, len(corpus.passages)),
               "build_seconds": time.perf_counter() - t0, "rss_mb": rss_mb() - before}
        row.update(measure(index, queries, embedder))
        sizes.append(row)
        print(f"latency: {n:>9,} passages: hybrid p50 {row['hybrid']['p50']:.1f} ms, floor "
              f"{row['floor']['p50']:.1f} ms, +{row['rss_mb']:.0f} MiB", flush=True)
        del index
    budget = measure_budget(corpus, embedder)
    ann = None
    n = sizes[-1]["passages"]
    kind = dense_types.resolve("auto", n)
    if kind != "flat":
        gc.collect()
        t0 = time.perf_counter()
        index = make_index(corpus, n, embedder, kind)
        ann = {"passages": n, "index": kind, "build_seconds": time.perf_counter() - t0}
        ann.update(measure(index, queries, embedder))
        print(f"latency: {n:>9,} passages, {kind}: hybrid p50 {ann['hybrid']['p50']:.1f} ms, "
              f"p95 {ann['hybrid']['p95']:.1f} ms", flush=True)
        del index
    path = write_result("latency", {"sizes": sizes, "ann": ann, "budget": budget,
                                    "queries": len(queries), "k": 5,
                                    "seconds": time.perf_counter() - t_start})
    print(f"latency: -> {path}")


if __name__ == "__main__":
    main()
