"""Answer quality: recall@k, MRR, answer hits, abstention and citations, per retrieval mode.

Method: each question set is asked through `Index.ask(question, k=20, mode=...)`, exactly
as `qa eval` does (qa.evaluate.evaluate_mode), in four modes: hybrid with the default
fusion (convex, alpha 0.5), hybrid with reciprocal-rank fusion (the common baseline),
dense only and BM25 only. Indexes are held in memory and every embedding (passages,
questions, answer sentences) comes from the same model through a cache
(benchmarks/.cache/vectors), so these runs measure quality, not speed.

Sets:
  seeds          the two seed articles, tests/data/seed_questions.jsonl (46 questions, 8
                 unanswerable); a hit is gold when it holds an expected answer and comes
                 from the named article.
  seeds+bbc      the same questions with the 2,225 BBC articles added as distractors.
  squad1         SQuAD v1.1 dev: every paragraph is one passage (2,067); open retrieval
                 over all of them; gold = the question's own paragraph. A fixed random
                 sample of questions (seed 0).
  squad1+bbc     the same with the BBC articles as distractors.
  squad2         the SQuAD 2.0 subset (173 paragraphs); every question; the unanswerable
                 ones measure abstention.

    python benchmarks/bench_quality.py [--squad-sample 2000] [--bbc-sample 1000]
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
    CACHE,
    QUESTIONS,
    SEEDS,
    CachedEmbedder,
    bench_file,
    default_embedder,
    memory_index,
    write_result,
)

from qa.config import BuildConfig, SearchConfig  # noqa: E402
from qa.evaluate import Question, evaluate_mode, load_questions, sample_questions  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.squad import SQUAD_CHUNK, read_squad, write_squad  # noqa: E402
from qa.text import sentences  # noqa: E402

KS = tuple(range(1, 21))
RUNS: tuple[tuple[str, str, SearchConfig], ...] = (
    ("hybrid", "hybrid", SearchConfig()),
    ("hybrid-rrf", "hybrid", SearchConfig(fusion="rrf")),
    ("dense", "dense", SearchConfig()),
    ("bm25", "bm25", SearchConfig()),
)


def warm(embedder: CachedEmbedder, index: Index, questions: Sequence[Question],
         sentences_too: bool) -> None:
    """Encode the questions (and the passages' sentences) in large batches, once."""
    texts = [q.question for q in questions]
    if sentences_too:
        texts += [p.text[s:e] for p in index.passages for s, e in sentences(p.text)]
    embedder.encode(texts)
    embedder.save()


def run_set(name: str, index: Index, questions: Sequence[Question],
            embedder: CachedEmbedder) -> dict[str, Any]:
    """Every run of RUNS over one question set."""
    reports = []
    for label, mode, config in RUNS:
        t0 = time.perf_counter()
        index.search_config = config
        report = evaluate_mode(index, questions, mode, KS, label=label)
        data = report.to_dict(misses=False)
        data["missed"] = len(report.misses)
        reports.append(data)
        print(f"  {name} {label}: R@1 {data['recall'][1]:.3f} R@5 {data['recall'][5]:.3f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    index.search_config = SearchConfig()
    embedder.save()
    return {"passages": len(index), "questions": len(questions),
            "answerable": sum(q.answerable for q in questions), "reports": reports}


def squad_index(path: Path, embedder: CachedEmbedder, distractors: Sequence[Path]) -> Index:
    articles, _ = write_squad(read_squad(path), CACHE / "squad" / path.stem)
    return memory_index([articles, *distractors], embedder, BuildConfig(chunk=SQUAD_CHUNK))


def seed_sets(embedder: CachedEmbedder, bbc: Path | None) -> dict[str, Any]:
    questions = load_questions(QUESTIONS)
    out = {}
    for name, sources in (("seeds", [SEEDS]), ("seeds+bbc", [SEEDS, bbc] if bbc else None)):
        if sources is None:
            continue
        index = memory_index(sources, embedder)
        warm(embedder, index, questions, sentences_too=False)
        out[name] = run_set(name, index, questions, embedder)
    return out


def squad_sets(embedder: CachedEmbedder, bbc: Path | None, sample: int,
               bbc_sample: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    v1, v2 = bench_file("squad-dev-v1.1.json"), bench_file("squad2-dev-5articles.json")
    plans = [("squad1", v1, [], sample), ("squad1+bbc", v1, [bbc] if bbc else None, bbc_sample),
             ("squad2", v2, [], None)]
    for name, path, distractors, n in plans:
        if path is None or distractors is None:
            continue
        index = squad_index(path, embedder, distractors)
        squad = read_squad(path)
        questions = sample_questions(squad.questions, n)
        warm(embedder, index, questions, sentences_too=not distractors)
        out[name] = run_set(name, index, questions, embedder)
        out[name].update(paragraphs=squad.paragraphs, total_questions=len(squad.questions),
                         version=squad.version)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Run every question set and save the figures as results/quality.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-sample", type=int, default=2000,
                        help="SQuAD v1.1 questions to ask (of 10,570)")
    parser.add_argument("--bbc-sample", type=int, default=1000,
                        help="SQuAD v1.1 questions to ask with the BBC distractors")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    embedder = CachedEmbedder(default_embedder())
    bbc = bench_file("news-bbc.jsonl")
    sets = seed_sets(embedder, bbc)
    sets.update(squad_sets(embedder, bbc, args.squad_sample, args.bbc_sample))
    seconds = time.perf_counter() - t0
    path = write_result("quality", {"sets": sets, "seconds": seconds,
                                    "encoded_now": embedder.encoded,
                                    "runs": [r[0] for r in RUNS]})
    print(f"quality: {seconds:.0f} s ({embedder.encoded} texts encoded) -> {path}")


if __name__ == "__main__":
    main()
