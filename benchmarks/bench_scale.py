"""Approximate search at scale, and the cost of adding one article.

Part 1: at 100k and 1M passages, for each FAISS index type: build time, bytes on
disk, resident memory, recall@10 against exact search, and p50/p95 latency of the
dense search step. The vectors are the real BBC passage vectors, replicated with
Gaussian noise and re-normalised, so they keep the clustered shape of real text
(uniform random vectors would be an unrealistically hard case for ANN).
Part 2: time to `Index.add` one article to the BBC index next to a full build.

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 100000,1000000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import BENCH, SEEDS, bench_file, machine, memory_index  # noqa: E402
from qa import dense as dense_types  # noqa: E402
from qa.embed import Embedder  # noqa: E402
from qa.retrieve import dense_search  # noqa: E402

QUERIES = 200
K = 10


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors near randomly chosen real ones (noise 0.05 per dimension)."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        rows = base[rng.integers(0, len(base), stop - start)]
        rows = rows + rng.normal(0, 0.05, rows.shape).astype(np.float32)
        out[start:stop] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def measure_type(kind: str, vectors: np.ndarray, queries: np.ndarray,
                 truth: list[set[int]], tmp: Path) -> dict[str, float]:
    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    index = dense_types.make(vectors, kind)
    build_s = time.perf_counter() - t0
    rss = psutil.Process().memory_info().rss - rss0
    import faiss

    faiss.write_index(index, str(tmp / f"{kind}.index"))
    size = (tmp / f"{kind}.index").stat().st_size
    exact = None
    if kind == "ivfpq":
        np.save(tmp / "vectors.npy", vectors)
        exact = np.load(tmp / "vectors.npy", mmap_mode="r")
    times, recall = [], []
    for q, gold in zip(queries, truth, strict=True):
        t = time.perf_counter()
        ids, _ = dense_search(index, q, 100 if exact is not None else K, None, exact)
        times.append((time.perf_counter() - t) * 1000)
        recall.append(len(set(ids[:K].tolist()) & gold) / K)
    del index
    return {"build_s": build_s, "disk_mb": size / 1e6, "rss_mb": max(rss, 0) / 1e6,
            "recall@10": float(np.mean(recall)), "p50_ms": float(np.percentile(times, 50)),
            "p95_ms": float(np.percentile(times, 95))}


def bench_size(n: int, base: np.ndarray, kinds: list[str]) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(n)
    vectors = synthetic(base, n, rng)
    queries = synthetic(base, QUERIES, rng)
    flat = dense_types.make(vectors, "flat")
    _, found = flat.search(queries, K)
    truth = [set(row.tolist()) for row in found]
    del flat
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            out[kind] = measure_type(kind, vectors, queries, truth, Path(tmp))
            print(f"  {n:>9,} {kind:6} {json.dumps({k: round(v, 3) for k, v in out[kind].items()})}",
                  flush=True)
    return out


def bench_add(embedder: Embedder) -> dict[str, float] | None:
    """Seconds to add one seed article to a saved BBC index, next to a full build."""
    import qa

    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index = qa.build([bbc], Path(tmp) / "idx", embedder=embedder)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.add([SEEDS / "000_ed18d489a2ac6f1b.txt"])
        add = time.perf_counter() - t0
    return {"full_build_s": full, "add_one_s": add, "ratio": add / full,
            "passages": len(index)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-add", action="store_true")
    args = parser.parse_args()
    if bench_file("news-bbc.jsonl") is None:
        return
    embedder = Embedder()
    base = memory_index([SEEDS, BENCH / "news-bbc.jsonl"], embedder)._dense.reconstruct_n(0, 13322)
    report: dict[str, object] = {"machine": machine(), "threads": os.cpu_count(), "sizes": {}}
    for n in [int(s) for s in args.sizes.split(",")]:
        report["sizes"][str(n)] = bench_size(n, base, args.kinds.split(","))  # type: ignore[index]
    if not args.skip_add:
        report["add"] = bench_add(embedder)
        print("  add one article:", report["add"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    shutil.rmtree(Path(tempfile.gettempdir()) / "qa-bench-scale", ignore_errors=True)


if __name__ == "__main__":
    main()
