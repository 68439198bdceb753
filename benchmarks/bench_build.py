"""Build speed: passages per second building the BBC index, next to raw encoding and
next to the PyTorch backend.

Method: load the default encoder (ONNX Runtime int8, graph already exported) and the
PyTorch one, then `qa.build` the 2,225 BBC articles (news-bbc.jsonl) into
benchmarks/.cache/index-bbc with force=True and the default backend, timing the whole
build and, through a wrapper of the encoder, the time spent encoding; peak resident
memory is read right after. Then a fixed random subset of whole articles (seed 0, at
least 500 passages) is timed in rounds raw, build, torch build, raw, build, torch build,
... raw (4 rounds), so that drift in the machine's load hits every side: raw = the
default encoder's `encode` of exactly the texts the build embeds; build = `qa.build` of
the subset into a temporary folder; torch build = the same with backend "torch". Each
build's rate is divided by the mean rate of the raw runs around it, and by the torch
build's rate in the same round; the medians of these ratios are the figures to read.
Absolute rates move with the load on this shared machine.

    python benchmarks/bench_build.py [--subset 500] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BBC_INDEX,
    CACHE,
    bench_file,
    default_embedder,
    peak_rss_mb,
    rss_mb,
    store_for,
    write_result,
)

import qa  # noqa: E402
from qa.config import BuildConfig  # noqa: E402
from qa.corpus import read_corpus, split_corpus  # noqa: E402
from qa.embed import Embedder  # noqa: E402
from qa.index import embedding_text  # noqa: E402


class TimedEmbedder:
    """The same encoder; counts the seconds spent in `encode` and keeps what it returned."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dimension, self.backend = inner.name, inner.dimension, inner.backend
        self.seconds = 0.0
        self.texts: list[str] = []
        self.vectors: list[Any] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: Any = None) -> Any:
        t0 = time.perf_counter()
        out = self.inner.encode(texts, batch_size=batch_size, progress=progress)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        self.vectors.append(out)
        return out

    def encode_passages(self, texts: Sequence[str], spans: Any, *, batch_size: int = 64,
                        progress: Any = None) -> Any:
        """What `qa.build` calls: passage and late-chunked sentence vectors in one run."""
        t0 = time.perf_counter()
        out = self.inner.encode_passages(texts, spans, batch_size=batch_size, progress=progress)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        self.vectors.append(out[0])
        return out

    def encode_query(self, text: str) -> Any:
        return self.inner.encode_query(text)


def full_build(bbc: Path, embedder: Any) -> dict[str, Any]:
    """Build the whole BBC index once, timed; keep its vectors for the quality runs."""
    timed = TimedEmbedder(embedder)
    rss_before, load_before = rss_mb(), os.getloadavg()[0]
    t0 = time.perf_counter()
    index = qa.build([bbc], BBC_INDEX, embedder=timed, force=True)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    import numpy as np

    store = store_for(embedder)
    store.put(timed.texts, np.concatenate(timed.vectors))
    store.save()
    n = len(index)
    return {"passages": n, "articles": index.manifest["counts"]["articles"],
            "backend": index.manifest["settings"]["backend"],
            "seconds": seconds, "encode_seconds": timed.seconds,
            "passages_per_s": n / seconds, "encode_share": timed.seconds / seconds,
            "rss_before_mb": rss_before, "peak_rss_mb": peak,
            "load": [load_before, os.getloadavg()[0]]}


def subset_file(bbc: Path, minimum: int) -> Path:
    """A JSONL file of whole BBC articles, picked at random (seed 0), >= `minimum` passages."""
    lines = bbc.read_text(encoding="utf-8").splitlines()
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    chosen, count = [], 0
    for i in order:
        chosen.append(i)
        count += _passages(lines[i])
        if count >= minimum:
            break
    path = CACHE / "bbc-subset.jsonl"
    path.write_text("\n".join(lines[i] for i in sorted(chosen)) + "\n", encoding="utf-8")
    return path


def _passages(line: str) -> int:
    from qa.corpus import make_article, split_article

    rec = json.loads(line)
    return len(split_article(make_article(rec["text"], id=rec["id"], source="x",
                                          title=rec.get("title"))))


def raw_encode(embedder: Any, texts: list[str]) -> float:
    """Seconds for the encoder alone on `texts`, called as the build calls it (batch 64)."""
    t0 = time.perf_counter()
    embedder.encode(texts, batch_size=BuildConfig().batch_size)
    return time.perf_counter() - t0


def timed_build(path: Path, embedder: Any) -> float:
    """Seconds for `qa.build` of `path` into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        qa.build([path], Path(tmp) / "index", embedder=embedder, force=True)
        return time.perf_counter() - t0


def subset_ratio(bbc: Path, embedder: Any, torch_embedder: Embedder, minimum: int,
                 rounds: int) -> dict[str, Any]:
    """Raw encode, qa.build and a torch qa.build of the same subset, in alternating rounds.

    Each build is compared with the mean rate of the raw runs just before and after it,
    and with the torch build of its round; the ratios reported are per-round medians.
    """
    import statistics

    load_before = os.getloadavg()[0]
    path = subset_file(bbc, minimum)
    passages = split_corpus(read_corpus([path]).articles)
    texts = [embedding_text(p, True) for p in passages]
    raw, build, torch_build = [raw_encode(embedder, texts)], [], []
    for _ in range(rounds):
        build.append(timed_build(path, embedder))
        torch_build.append(timed_build(path, torch_embedder))
        raw.append(raw_encode(embedder, texts))
    n = len(texts)
    ratios = [(n / b) / ((n / raw[i] + n / raw[i + 1]) / 2) for i, b in enumerate(build)]
    speedups = [t / b for b, t in zip(build, torch_build, strict=True)]
    return {"passages": n, "articles": len(read_corpus([path]).articles),
            "backend": embedder.backend, "raw_seconds": raw, "build_seconds": build,
            "torch_build_seconds": torch_build,
            "raw_per_s": n / statistics.median(raw), "build_per_s": n / statistics.median(build),
            "torch_build_per_s": n / statistics.median(torch_build),
            "ratios": ratios, "build_over_raw": statistics.median(ratios),
            "speedups": speedups, "build_over_torch": statistics.median(speedups),
            "load": [load_before, os.getloadavg()[0]]}


def main(argv: Sequence[str] | None = None) -> None:
    """Time the BBC build and the subset comparison; save results/build.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=500, help="passages in the subset")
    parser.add_argument("--rounds", type=int, default=4, help="qa.build runs of the subset")
    args = parser.parse_args(argv)
    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        write_result("build", {"skipped": "news-bbc.jsonl not found"})
        return
    t0 = time.perf_counter()
    embedder = default_embedder()
    load = time.perf_counter() - t0
    torch_embedder = Embedder()
    full = full_build(bbc, embedder)
    print(f"build: {full['passages']} passages in {full['seconds']:.0f} s "
          f"({full['passages_per_s']:.1f}/s, encoding {full['encode_share']:.0%})", flush=True)
    subset = subset_ratio(bbc, embedder, torch_embedder, args.subset, args.rounds)
    print(f"build: subset of {subset['passages']}: build {subset['build_per_s']:.1f}/s, raw "
          f"{subset['raw_per_s']:.1f}/s, ratio {subset['build_over_raw']:.2f}; torch build "
          f"{subset['torch_build_per_s']:.1f}/s, speed-up {subset['build_over_torch']:.2f}x",
          flush=True)
    path = write_result("build", {"model_load_seconds": load, "full": full, "subset": subset,
                                  "batch_size": BuildConfig().batch_size,
                                  "seconds": time.perf_counter() - t0})
    print(f"build: -> {path}")


if __name__ == "__main__":
    main()
