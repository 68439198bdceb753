"""Build speed: passages per second building the BBC index, next to raw `model.encode`.

Method: load the model, then `qa.build` the 2,225 BBC articles (news-bbc.jsonl) into
benchmarks/.cache/index-bbc with force=True, timing the whole build and, through a
wrapper of the embedder, the time spent encoding; peak resident memory is read right
after. Then a fixed random subset of whole articles (seed 0, at least 500 passages) is
timed alternately raw, build, raw, build, ... raw (4 builds), so that drift in the
machine's load hits both sides: raw = SentenceTransformer.encode of exactly the texts the
build embeds, batch size 64 (the build's), normalised; build = `qa.build` of the subset
into a temporary folder. Each build's rate is divided by the mean rate of the raw runs
around it; the median of these ratios is the figure to read. Absolute rates move with
the load on this shared machine.

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
    VectorStore,
    bench_file,
    peak_rss_mb,
    rss_mb,
    write_result,
)

import qa  # noqa: E402
from qa.config import BuildConfig  # noqa: E402
from qa.corpus import read_corpus, split_corpus  # noqa: E402
from qa.embed import Embedder  # noqa: E402
from qa.index import embedding_text  # noqa: E402


class TimedEmbedder(Embedder):
    """The same model; counts the seconds spent in `encode` and keeps what it returned."""

    def __init__(self, inner: Embedder) -> None:
        self.__dict__.update(inner.__dict__)
        self.seconds = 0.0
        self.texts: list[str] = []
        self.vectors: list[Any] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: Any = None) -> Any:
        t0 = time.perf_counter()
        out = super().encode(texts, batch_size=batch_size, progress=progress)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        self.vectors.append(out)
        return out


def full_build(bbc: Path, embedder: Embedder) -> dict[str, Any]:
    """Build the whole BBC index once, timed; keep its vectors for the quality runs."""
    timed = TimedEmbedder(embedder)
    rss_before, load_before = rss_mb(), os.getloadavg()[0]
    t0 = time.perf_counter()
    index = qa.build([bbc], BBC_INDEX, embedder=timed, force=True)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    import numpy as np

    store = VectorStore(embedder.name, embedder.dimension)
    store.put(timed.texts, np.concatenate(timed.vectors))
    store.save()
    n = len(index)
    return {"passages": n, "articles": index.manifest["counts"]["articles"],
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


def raw_encode(embedder: Embedder, texts: list[str]) -> float:
    """Seconds for SentenceTransformer.encode of `texts` as the build calls it (batch 64)."""
    model = embedder._model  # the SentenceTransformer itself: the floor under the build
    t0 = time.perf_counter()
    model.encode(texts, batch_size=BuildConfig().batch_size, normalize_embeddings=True,
                 convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - t0


def subset_ratio(bbc: Path, embedder: Embedder, minimum: int, rounds: int) -> dict[str, Any]:
    """Raw encode and qa.build of the same subset, alternated raw, build, raw, ... raw.

    Each build is compared with the mean rate of the raw runs just before and after it;
    the ratio reported is the median of those per-round ratios.
    """
    import statistics

    load_before = os.getloadavg()[0]
    path = subset_file(bbc, minimum)
    passages = split_corpus(read_corpus([path]).articles)
    texts = [embedding_text(p, True) for p in passages]
    raw, build = [raw_encode(embedder, texts)], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            qa.build([path], Path(tmp) / "index", embedder=embedder, force=True)
            build.append(time.perf_counter() - t0)
        raw.append(raw_encode(embedder, texts))
    n = len(texts)
    ratios = [(n / b) / ((n / raw[i] + n / raw[i + 1]) / 2) for i, b in enumerate(build)]
    return {"passages": n, "articles": len(read_corpus([path]).articles),
            "raw_seconds": raw, "build_seconds": build,
            "raw_per_s": n / statistics.median(raw), "build_per_s": n / statistics.median(build),
            "ratios": ratios, "build_over_raw": statistics.median(ratios),
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
    embedder = Embedder()
    load = time.perf_counter() - t0
    full = full_build(bbc, embedder)
    print(f"build: {full['passages']} passages in {full['seconds']:.0f} s "
          f"({full['passages_per_s']:.1f}/s, encoding {full['encode_share']:.0%})", flush=True)
    subset = subset_ratio(bbc, embedder, args.subset, args.rounds)
    print(f"build: subset of {subset['passages']}: build {subset['build_per_s']:.1f}/s, raw "
          f"{subset['raw_per_s']:.1f}/s, ratio {subset['build_over_raw']:.2f}", flush=True)
    path = write_result("build", {"model_load_seconds": load, "full": full, "subset": subset,
                                  "batch_size": BuildConfig().batch_size,
                                  "seconds": time.perf_counter() - t0})
    print(f"build: -> {path}")


if __name__ == "__main__":
    main()
