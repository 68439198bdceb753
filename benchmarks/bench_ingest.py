"""Ingest speed per format: extraction apart from embedding, then the whole build.

Method: the first N BBC News articles of ../shared/bench/news-bbc.jsonl are written, by the
writers the tests use (tests/writers.py), as plain .txt files (the baseline), one saved
news page each (.html, the article among navigation, cookie banner, related links,
comments and footer), one PDF each (fpdf2, A4, one column, as many pages as the text
needs), one RSS and one Atom feed with N entries, one CSV and one Parquet table with N rows.
For each format:
  - extraction: `qa.corpus.read_corpus` on the folder (read, detect, extract: trafilatura,
    pypdfium2, feedparser, csv, pyarrow) then `split_corpus`, best of --rounds runs, in
    articles and passages per second;
  - build: `qa.build` into a fresh index with the default encoder (ONNX int8, the bundled
    model, graph exported beforehand), once, in articles and passages per second, and the
    share of it that is extraction.

    python benchmarks/bench_ingest.py [--articles 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import CACHE, bench_file, default_embedder, write_result  # noqa: E402

import qa  # noqa: E402
from qa.corpus import read_corpus, split_corpus  # noqa: E402
from tests.writers import (  # noqa: E402
    Story,
    atom_feed,
    news_page,
    rss_feed,
    write_csv,
    write_parquet,
    write_pdf,
)

WORK = CACHE / "ingest"


def stories(path: Path, n: int) -> list[Story]:
    """The first `n` BBC articles as stories (the data has no dates: one a day from 2005)."""
    out = []
    with path.open(encoding="utf-8") as f:
        for i, line in zip(range(n), f, strict=False):
            record = json.loads(line)
            paragraphs = tuple(p.strip() for p in record["text"].split("\n\n") if p.strip())
            out.append(Story(record["title"], f"2005-01-{1 + i % 28:02d}",
                             f"https://news.example.org/{record['id']}", paragraphs))
    return out


def write_format(name: str, folder: Path, items: Sequence[Story]) -> None:
    """Write `items` into `folder` as format `name`."""
    for i, story in enumerate(items):
        if name == "text":
            (folder / f"{i:04d}.txt").write_text(f"{story.title}\n\n{story.text}\n",
                                                 encoding="utf-8")
        elif name == "html":
            (folder / f"{i:04d}.html").write_text(news_page(story), encoding="utf-8")
        elif name == "pdf":
            write_pdf(folder / f"{i:04d}.pdf", [story.paragraphs], title=story.title)
    if name == "rss":
        (folder / "news.rss").write_bytes(rss_feed(items))
    elif name == "atom":
        (folder / "news.atom").write_bytes(atom_feed(items))
    elif name == "csv":
        write_csv(folder / "news.csv", items)
    elif name == "parquet":
        write_parquet(folder / "news.parquet", items)


FORMATS = ("text", "html", "pdf", "rss", "atom", "csv", "parquet")


def extraction(folder: Path, rounds: int) -> dict[str, Any]:
    """Best-of-`rounds` time to read and split the folder."""
    best: dict[str, Any] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        corpus = read_corpus([folder])
        t1 = time.perf_counter()
        passages = split_corpus(corpus.articles)
        t2 = time.perf_counter()
        if not best or t2 - t0 < best["extract_s"] + best["split_s"]:
            best = {"extract_s": t1 - t0, "split_s": t2 - t1, "articles": len(corpus.articles),
                    "passages": len(passages)}
    return best


def measure(name: str, items: Sequence[Story], embedder: Any, rounds: int) -> dict[str, Any]:
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_format(name, folder, items)
    row = {"format": name, "files": len(list(folder.iterdir())),
           "bytes": sum(p.stat().st_size for p in folder.iterdir()), **extraction(folder, rounds)}
    index_dir = WORK / f"index-{name}"
    shutil.rmtree(index_dir, ignore_errors=True)
    t0 = time.perf_counter()
    qa.build([folder], index_dir, embedder=embedder, force=True)
    row["build_s"] = time.perf_counter() - t0
    shutil.rmtree(index_dir, ignore_errors=True)
    seconds = row["extract_s"] + row["split_s"]
    row |= {"extract_articles_per_s": row["articles"] / seconds,
            "extract_passages_per_s": row["passages"] / seconds,
            "build_articles_per_s": row["articles"] / row["build_s"],
            "build_passages_per_s": row["passages"] / row["build_s"],
            "extract_share": seconds / row["build_s"]}
    print(f"{name:8s} {row['articles']:4d} articles {row['passages']:5d} passages  extract "
          f"{seconds:6.2f} s ({row['extract_articles_per_s']:7.1f} art/s)  build "
          f"{row['build_s']:6.1f} s ({row['build_passages_per_s']:5.1f} passages/s)", flush=True)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    path = bench_file("news-bbc.jsonl")
    if path is None:
        write_result("ingest", {"skipped": "../shared/bench/news-bbc.jsonl not found"})
        return 0
    items = stories(path, args.articles)
    load_before = os.getloadavg()[0]
    embedder = default_embedder()
    embedder.encode(["warm up the encoder"], batch_size=1)
    rows = [measure(name, items, embedder, args.rounds) for name in FORMATS]
    out = write_result("ingest", {"articles": len(items), "rounds": args.rounds,
                                  "load": [load_before, os.getloadavg()[0]],
                                  "backend": getattr(embedder, "backend", "torch"), "rows": rows})
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
