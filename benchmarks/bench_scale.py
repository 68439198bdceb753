"""Approximate search at scale, and the cost of adding one article.

Part 1: at 100k and 1M passages, for each FAISS index type (flat = exact, HNSW, IVF-PQ
with exact re-scoring): build time, bytes on disk, resident memory, recall@10 against
exact search, and p50/p95 latency of the dense search step (one query at a time, as
`Index.search` calls it). The vectors are the real BBC + seed passage vectors,
replicated with Gaussian noise and re-normalised, so they keep the clustered shape of
real text (uniform random vectors would be an unrealistically hard case for ANN).
200 queries per type, made the same way; flat at 1M is timed on the first 50 (each
takes about half a second).
Part 2: `Index.add` of one seed article to a copy of the BBC index that bench_build.py
wrote, against that full build's time in the same `make bench` run (results/build.json);
with no such index, the full build is done and timed here.

    python benchmarks/bench_scale.py [--sizes 100000,1000000] [--kinds flat,hnsw,ivfpq]
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
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BBC_INDEX,
    BENCH,
    RESULTS,
    SEEDS,
    bench_file,
    default_embedder,
    memory_index,
    update_result,
    write_result,
)

import qa  # noqa: E402
from qa import dense as dense_types  # noqa: E402
from qa.retrieve import dense_search  # noqa: E402

QUERIES = 200
SLOW_QUERIES = 50
"""Queries timed for exact search at 1M passages and above."""
K = 10
ADDED = SEEDS / "000_ed18d489a2ac6f1b.txt"


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
    """Build an index of `kind`, save it, and time one-at-a-time searches against `truth`."""
    import faiss

    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    index = dense_types.make(vectors, kind)
    build_s = time.perf_counter() - t0
    rss = psutil.Process().memory_info().rss - rss0
    faiss.write_index(index, str(tmp / f"{kind}.index"))
    size = (tmp / f"{kind}.index").stat().st_size
    (tmp / f"{kind}.index").unlink()
    exact = None
    if kind == "ivfpq":  # re-scored from the raw vectors, memory-mapped as qa.load does
        np.save(tmp / "vectors.npy", vectors)
        exact = np.load(tmp / "vectors.npy", mmap_mode="r")
    n_queries = SLOW_QUERIES if kind == "flat" and len(vectors) >= 1_000_000 else len(queries)
    times, recall = [], []
    for q, gold in zip(queries[:n_queries], truth[:n_queries], strict=True):
        t = time.perf_counter()
        ids, _ = dense_search(index, q, 100 if exact is not None else K, None, exact)
        times.append((time.perf_counter() - t) * 1000)
        recall.append(len(set(ids[:K].tolist()) & gold) / K)
    del index, exact
    return {"build_s": build_s, "disk_mb": size / 1e6, "rss_mb": max(rss, 0) / 1e6,
            "recall@10": float(np.mean(recall)), "p50_ms": float(np.percentile(times, 50)),
            "p95_ms": float(np.percentile(times, 95)), "queries": n_queries,
            "load": os.getloadavg()[0]}


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


def bench_add(embedder: Any) -> dict[str, Any] | None:
    """Seconds to add one seed article to a saved BBC index, next to a full build."""
    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        return None
    build = RESULTS / "build.json"
    full: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "idx"
        if BBC_INDEX.exists() and build.exists():
            full = json.loads(build.read_text(encoding="utf-8"))["full"]["seconds"]
            shutil.copytree(BBC_INDEX, target)
            index = qa.load(target, embedder=embedder)
            source = "bench_build.py, same make bench run"
        else:
            t0 = time.perf_counter()
            index = qa.build([bbc], target, embedder=embedder)
            full, source = time.perf_counter() - t0, "built here"
        t0 = time.perf_counter()
        index.add([ADDED])
        add = time.perf_counter() - t0
    return {"full_build_s": full, "full_build_from": source, "add_one_s": add,
            "ratio": add / full, "passages": len(index), "backend": index.manifest["settings"]["backend"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq")
    parser.add_argument("--skip-add", action="store_true")
    parser.add_argument("--add-only", action="store_true",
                        help="re-time only adding an article (after a new build.json), "
                             "into the saved scale.json")
    args = parser.parse_args()
    if bench_file("news-bbc.jsonl") is None:
        write_result("scale", {"skipped": "news-bbc.jsonl not found"})
        return
    t0 = time.perf_counter()
    embedder = default_embedder()
    if args.add_only:
        add = bench_add(embedder)
        print("  add one article:", add, flush=True)
        update_result("scale", add=add)
        return
    base_index = memory_index([SEEDS, BENCH / "news-bbc.jsonl"], embedder)
    base = base_index._dense.reconstruct_n(0, len(base_index))
    del base_index
    sizes: dict[str, Any] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        sizes[str(n)] = bench_size(n, base, args.kinds.split(","))
    add = None if args.skip_add else bench_add(embedder)
    print("  add one article:", add, flush=True)
    path = write_result("scale", {"sizes": sizes, "add": add, "k": K, "queries": QUERIES,
                                  "base_vectors": len(base), "threads": os.cpu_count(),
                                  "params": {"hnsw_m": dense_types.HNSW_M,
                                             "ef_construction": dense_types.HNSW_EF_CONSTRUCTION,
                                             "ef_search": dense_types.HNSW_EF_SEARCH,
                                             "nprobe": dense_types.IVF_NPROBE,
                                             "pq_bytes": dense_types.PQ_BYTES},
                                  "seconds": time.perf_counter() - t0})
    print(f"scale -> {path}")


if __name__ == "__main__":
    main()
