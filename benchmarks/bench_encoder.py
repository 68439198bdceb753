"""Encoder backends compared: PyTorch (sentence-transformers) vs ONNX Runtime fp32 vs int8.

Method: a fixed random sample (seed 0) of BBC passages (news-bbc.jsonl, default
ChunkConfig, embedded with their titles as `qa build` does) is encoded by each backend
at batch size 64, after a warm-up batch. Runs are interleaved (the order rotates every
round) so that load from other jobs hits every backend alike; the figure reported is the
median over rounds, and the speed-up is the median of the per-round ratios to PyTorch.
Quality: the cosine of each backend's vectors to PyTorch's (min and mean), and recall@k
on the seed questions over an index of seeds/ built with each backend via `qa.build`;
then, for torch and onnx-int8, over seeds + all BBC passages (--distractors) and over
the SQuAD v1.1 dev paragraphs for a fixed sample of questions (--squad N). ONNX fp32 is
left out of those two: its vectors equal PyTorch's (cosine >= 0.9999999 above). Every
passage is encoded once per backend and kept under benchmarks/.cache/vectors, so only a
cold cache makes this slow.

    python benchmarks/bench_encoder.py [--sample 500] [--rounds 3] [--no-distractors] [--squad 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CACHE,
    ONNX_CACHE,
    QUESTIONS,
    SEEDS,
    CachedEmbedder,
    bench_file,
    machine,
    memory_index,
    write_result,
)

import qa  # noqa: E402
from qa.config import BuildConfig  # noqa: E402
from qa.corpus import read_corpus, split_corpus  # noqa: E402
from qa.embed import Embedder  # noqa: E402
from qa.evaluate import Question, evaluate, first_gold_rank, load_questions, sample_questions  # noqa: E402
from qa.index import Index, embedding_text  # noqa: E402
from qa.onnx_backend import OnnxEmbedder, cpu_count  # noqa: E402
from qa.squad import SQUAD_CHUNK, read_squad, write_squad  # noqa: E402

MODES = ("hybrid", "dense")


def load_backends() -> dict[str, Any]:
    """name -> embedder; the ONNX graphs are exported into benchmarks/.cache/onnx once."""
    t0 = time.perf_counter()
    backends: dict[str, Any] = {"torch": Embedder()}
    print(f"torch loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    for name, quantize in (("onnx", False), ("onnx-int8", True)):
        t0 = time.perf_counter()
        backends[name] = OnnxEmbedder(cache_dir=ONNX_CACHE, quantize=quantize)
        print(f"{name} ready in {time.perf_counter() - t0:.1f} s", flush=True)
    return backends


def sample_texts(bbc: Path, n: int) -> list[str]:
    passages = split_corpus(read_corpus([bbc]).articles)
    chosen = random.Random(0).sample(passages, min(n, len(passages)))
    return [embedding_text(p, True) for p in chosen]


def throughput(backends: dict[str, Any], texts: list[str], rounds: int,
               batch_size: int) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Passages/s per backend over interleaved rounds, and each backend's vectors."""
    names = list(backends)
    for e in backends.values():
        e.encode(texts[:batch_size], batch_size=batch_size)
    rates: dict[str, list[float]] = {n: [] for n in names}
    vectors: dict[str, np.ndarray] = {}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            vectors[name] = backends[name].encode(texts, batch_size=batch_size)
            rates[name].append(len(texts) / (time.perf_counter() - t0))
            print(f"  round {r + 1} {name}: {rates[name][-1]:.1f} passages/s", flush=True)
    out = {}
    for name in names:
        ratios = [a / b for a, b in zip(rates[name], rates["torch"], strict=True)]
        out[name] = {"passages_per_s": statistics.median(rates[name]),
                     "runs": [round(x, 1) for x in rates[name]],
                     "speedup_vs_torch": statistics.median(ratios)}
    return out, vectors


def cosines(vectors: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    ref = vectors["torch"]
    out = {}
    for name, vecs in vectors.items():
        cos = np.sum(vecs * ref, axis=1)
        out[name] = {"min": float(cos.min()), "mean": float(cos.mean())}
    return out


def recall(index: Index, questions: Sequence[Any]) -> dict[str, dict[str, float | None]]:
    return {r.mode: {f"R@{k}": v for k, v in r.recall.items()} | {"MRR": r.mrr}
            for r in evaluate(index, questions, MODES)}


def seeds_recall(backends: dict[str, Any]) -> dict[str, Any]:
    """Recall on the seed questions over an index of seeds/ built by qa.build with each backend."""
    questions = load_questions(QUESTIONS)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, e in backends.items():
            index = qa.build([SEEDS], Path(tmp) / name, embedder=e)
            out[name] = recall(index, questions)
    return out


def distractor_recall(backends: dict[str, Any], bbc: Path) -> dict[str, Any]:
    """Recall on the seed questions over seeds + every BBC passage (vectors cached per
    backend, questions encoded live)."""
    questions = load_questions(QUESTIONS)
    out = {}
    for name, e in compared(backends).items():
        t0 = time.perf_counter()
        index = memory_index([SEEDS, bbc], e)
        out[name] = recall(index, questions) | {"passages": len(index)}
        print(f"  seeds+bbc {name}: {out[name]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def compared(backends: dict[str, Any]) -> dict[str, Any]:
    """The backends whose recall is measured on the large sets: fp32 ONNX equals torch."""
    return {k: v for k, v in backends.items() if k != "onnx"}


def search_recall(index: Index, questions: Sequence[Question], ks: Sequence[int] = (1, 5, 10),
                  ) -> dict[str, dict[str, float]]:
    """Retrieval-only recall@k and MRR per mode (Index.search, no answer step)."""
    out = {}
    for mode in MODES:
        ranks = [first_gold_rank(index.search(q.question, k=max(ks), mode=mode), q)
                 for q in questions]
        out[mode] = {f"R@{k}": sum(1 for r in ranks if r and r <= k) / len(ranks) for k in ks}
        out[mode]["MRR"] = sum(1 / r for r in ranks if r) / len(ranks)
    return out


def squad_recall(backends: dict[str, Any], sample: int) -> dict[str, Any] | None:
    """Recall on a fixed sample of SQuAD v1.1 dev questions over all 2,067 paragraphs."""
    path = bench_file("squad-dev-v1.1.json")
    if path is None:
        return None
    squad = read_squad(path)
    articles, _ = write_squad(squad, CACHE / "squad" / path.stem)
    questions = sample_questions(squad.questions, sample)
    out: dict[str, Any] = {"questions": len(questions)}
    for name, e in compared(backends).items():
        t0 = time.perf_counter()
        embedder = CachedEmbedder(e)  # vectors cached per backend
        index = memory_index([articles], embedder, BuildConfig(chunk=SQUAD_CHUNK))
        embedder.encode([q.question for q in questions])
        embedder.save()
        out[name] = search_recall(index, questions) | {"passages": len(index)}
        print(f"  squad {name}: {out[name]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def table(speed: dict[str, Any], cos: dict[str, Any], seeds: dict[str, Any]) -> str:
    head = f"{'backend':<10} {'passages/s':>10} {'x torch':>8} {'cos min':>8} {'cos mean':>9}"
    head += "".join(f" {m + ' R@5':>11}" for m in MODES)
    rows = [head]
    for name, s in speed.items():
        row = (f"{name:<10} {s['passages_per_s']:>10.1f} {s['speedup_vs_torch']:>8.2f} "
               f"{cos[name]['min']:>8.4f} {cos[name]['mean']:>9.5f}")
        row += "".join(f" {seeds[name][m]['R@5']:>11.3f}" for m in MODES)
        rows.append(row)
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=500, help="BBC passages to encode")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--distractors", action=argparse.BooleanOptionalAction, default=True,
                        help="also recall over seeds + all BBC passages (slow)")
    parser.add_argument("--squad", type=int, default=2000, metavar="N",
                        help="also recall on N SQuAD v1.1 dev questions (slow)")
    args = parser.parse_args(argv)
    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        return 0
    backends = load_backends()
    texts = sample_texts(bbc, args.sample)
    print(f"{len(texts)} passages, {np.mean([len(t.split()) for t in texts]):.0f} words avg, "
          f"{cpu_count()} cores", flush=True)
    speed, vectors = throughput(backends, texts, args.rounds, args.batch_size)
    cos = cosines(vectors)
    seeds = seeds_recall(backends)
    result = {"method": {"sample": len(texts), "rounds": args.rounds, "batch_size": args.batch_size,
                         "threads": cpu_count()},
              "throughput": speed, "cosine_to_torch": cos, "seeds_recall": seeds}
    if args.distractors:
        result["seeds_bbc_recall"] = distractor_recall(backends, bbc)
    if args.squad:
        result["squad_recall"] = squad_recall(backends, args.squad)
    path = write_result("encoder", result)
    print(json.dumps({"machine": machine(), **result}, indent=2))
    print(table(speed, cos, seeds))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
