"""Answer quality by the protocol: held-out and tuning sets apart, txtai beside qa.

Method: the sets of qa.protocol (qa.datasets says which questions tune and which are held
out). Every set is asked through `Index.ask(question, k=20)`, exactly as `qa eval
--protocol` does; answerable questions with a known article are asked again of an index
built without their articles (abstention by removal). Rows, all on the same passages and
questions in the same run:

  qa             the default: hybrid candidates re-ordered by the trained ranker, sentences
                 picked and answerability judged by the trained models (qa/models)
  first stage    the same without the ranker: convex fusion of cosine and BM25 (the
                 previous default's retrieval), answers from the same models
  dense, bm25    one retriever alone (retrieval only)
  txtai hybrid   txtai Embeddings, same model (all-MiniLM-L6-v2), same passage texts,
                 hybrid (its BM25 + dense); retrieval only (txtai has no cited answerer)

Retrieval-only rows search a follow-up joined to the question before it, as the previous
default did; the qa rows search it as asked within the article the previous answer quotes,
and joined everywhere when unsure there (`Index.ask`).

Indexes are held in memory and embeddings come from a cache (benchmarks/.cache/vectors), so
these runs measure quality; speed is measured in the latency and build benchmarks.

    python benchmarks/bench_quality.py [--squad-tuning-sample 1500]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH,
    CACHE,
    CachedEmbedder,
    bench_file,
    default_embedder,
    memory_index,
    write_result,
)

from qa import datasets  # noqa: E402
from qa.config import BuildConfig, ChunkConfig, SearchConfig  # noqa: E402
from qa.evaluate import KS, Question, first_gold_rank, sample_questions  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.models import Models  # noqa: E402
from qa.protocol import EvalSet, evaluate_set, protocol_sets  # noqa: E402

RETRIEVAL_ONLY = (("dense", "dense"), ("bm25", "bm25"))


def builder_for(embedder: CachedEmbedder) -> Any:
    def builder(sources: Sequence[Any], directory: Path, chunk: ChunkConfig | None = None) -> Index:
        return memory_index(sources, embedder, BuildConfig(chunk=chunk or ChunkConfig()))
    return builder


def retrieval(index: Index, questions: Sequence[Question], mode: str,
              config: SearchConfig | None = None) -> dict[str, Any]:
    """R@k and MRR of `Index.search` in one mode (a follow-up joined to the question
    before it)."""
    from qa.conversation import retrieval_query

    index.search_config = config or SearchConfig()
    ranks = []
    try:
        for q in questions:
            hits = index.search(retrieval_query(q.question, list(q.history)), k=max(KS),
                                mode=mode)  # type: ignore[arg-type]
            ranks.append(first_gold_rank(hits, q))
    finally:
        index.search_config = SearchConfig()
    return _recall(ranks)


def _recall(ranks: Sequence[int | None]) -> dict[str, Any]:
    n = len(ranks) or 1
    return {"recall": {k: sum(r is not None and r <= k for r in ranks) / n for k in KS},
            "mrr": sum(1 / r for r in ranks if r) / n, "questions": len(ranks)}


def txtai_runs(sets: Sequence[EvalSet], samples: dict[str, int | None]) -> dict[str, Any]:
    """txtai's hybrid search scored like ours, per set; sets over the same passages share
    one txtai index (building one costs minutes)."""
    try:
        from peers import txtai_search
    except ImportError as exc:
        print(f"  txtai skipped: {exc}")
        return {}
    from qa.conversation import retrieval_query

    groups: dict[int, list[EvalSet]] = {}
    for s in sets:
        groups.setdefault(id(s.index), []).append(s)
    out = {}
    for group in groups.values():
        index = group[0].index
        asked = {s.name: [q for q in sample_questions(s.questions, samples.get(s.name))
                          if q.answerable] for s in group}
        queries = [retrieval_query(q.question, list(q.history))
                   for qs in asked.values() for q in qs]
        t0 = time.perf_counter()
        found = iter(txtai_search(index.passages, queries, k=max(KS)))
        seconds = time.perf_counter() - t0
        for name, qs in asked.items():
            ranks = [first_gold_rank([_as_hit(index, i) for i in next(found)], q) for q in qs]
            out[name] = {**_recall(ranks), "index_and_search_seconds": seconds}
        print(f"  txtai: {len(index):,} passages, {len(queries)} queries, {seconds:.0f} s",
              flush=True)
    return out


def _as_hit(index: Index, i: int) -> Any:
    return index._hit(i, 0.0, 0, None, 0.0)


def run_set(s: EvalSet, sample: int | None, peer: dict[str, Any] | None) -> dict[str, Any]:
    questions = sample_questions(s.questions, sample)
    answerable = [q for q in questions if q.answerable]
    t0 = time.perf_counter()
    qa_report = evaluate_set(s, sample=sample)
    index = s.index
    index.search_config = SearchConfig(rerank=False)
    try:
        first = evaluate_set(EvalSet(s.name, s.split, index, questions), sample=None)
    finally:
        index.search_config = SearchConfig()
    rows: dict[str, Any] = {"qa": qa_report.to_dict(), "first stage": first.to_dict()}
    for label, mode in RETRIEVAL_ONLY:
        rows[label] = retrieval(index, answerable, mode)
    if peer is not None:
        rows["txtai hybrid"] = peer
    if s.name in datasets.BBC_SETS:
        rows["by kind"] = by_kind(s, questions)
    r = qa_report.report
    print(f"  {s.name}: R@1 {r.recall[1]:.3f} answer {r.answer_hit_rate or 0:.3f} "
          f"removal abstain {qa_report.removal_abstain} ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    return {"split": s.split, "questions": len(questions), "answerable": len(answerable),
            "passages": len(index), "rows": rows}


def by_kind(s: EvalSet, questions: Sequence[Question]) -> dict[str, Any]:
    """qa's R@1, answer hits and abstentions per kind of question (direct, paraphrase,
    follow-up, unanswerable) of a hand-written BBC set."""
    from qa.evaluate import evaluate_mode

    kinds = datasets.kinds(datasets.BBC_SETS[s.name])
    out = {}
    for kind in sorted(set(kinds.values())):
        subset = [q for q in questions if kinds.get(q.id or "") == kind]
        if subset:
            r = evaluate_mode(s.index, subset, "hybrid", KS)
            out[kind] = {"questions": len(subset), "recall_1": r.recall[1],
                         "answer_hit_rate": r.answer_hit_rate,
                         "false_abstain_rate": r.false_abstain_rate,
                         "abstain_recall": r.abstain_recall}
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Run every set and save the figures as results/quality.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-tuning-sample", type=int, default=1500,
                        help="SQuAD tuning questions to ask (of 6,514); held-out: all")
    args = parser.parse_args(argv)
    if bench_file("squad-dev-v1.1.json") is None or bench_file("news-bbc.jsonl") is None:
        return
    t0 = time.perf_counter()
    embedder = CachedEmbedder(default_embedder())
    sets = protocol_sets(BENCH, CACHE / "protocol", builder=builder_for(embedder))
    embedder.save()
    samples = {"squad1-tuning": args.squad_tuning_sample}
    peers = txtai_runs(sets, samples)
    out = {}
    for s in sets:
        out[s.name] = run_set(s, samples.get(s.name), peers.get(s.name))
        embedder.save()
    seconds = time.perf_counter() - t0
    answerable = Models.load().answerable
    path = write_result("quality", {"sets": out, "seconds": seconds, "data": str(BENCH),
                                    "threshold": answerable.threshold if answerable else None})
    print(f"quality: {seconds:.0f} s -> {path}")


if __name__ == "__main__":
    main()
