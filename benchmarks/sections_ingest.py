"""The ingest section of docs/benchmarks.md: speed of reading each article format."""

from __future__ import annotations

from sections import Result, loads, pct, table

LABELS = {"text": "plain text (.txt, baseline)", "html": "saved web pages (.html)",
          "pdf": "PDF (.pdf)", "rss": "RSS feed", "atom": "Atom feed", "csv": "CSV table",
          "parquet": "Parquet table"}


def ingest_section(r: Result) -> list[str]:
    """Extraction and build throughput per format (bench_ingest.py)."""
    rows = [[LABELS.get(x["format"], x["format"]), x["files"], f"{x['bytes'] / 2**20:.1f}",
             x["articles"], x["passages"], f"{x['extract_articles_per_s']:,.0f}",
             f"{x['extract_passages_per_s']:,.0f}", f"{x['build_articles_per_s']:.1f}",
             f"{x['build_passages_per_s']:.0f}", pct(x["extract_share"])] for x in r["rows"]]
    return [
        "## 7. Ingest speed per format", "",
        f"The first {r['articles']} BBC articles written as each format by the writers the "
        "tests use (`tests/writers.py`): one .txt, one saved news page (with navigation, "
        "cookie banner, related links, comments and footer) or one fpdf2 PDF per article; one "
        "RSS and one Atom feed, one CSV and one Parquet table holding them all. *Extraction* "
        "is `read_corpus` + `split_corpus` on the folder (best of "
        f"{r['rounds']}); *build* is `qa.build` into a fresh index with the `{r['backend']}` "
        "encoder, once, so it includes extraction, embedding and writing. Load average "
        f"{loads(r)} (before → after).", "",
        *table(["format", "files", "MB", "articles", "passages", "extraction articles/s",
                "extraction passages/s", "build articles/s", "build passages/s",
                "extraction share of build"], rows), "",
        "Embedding dominates every build (extraction is at most a few percent of it); of the "
        "readers, trafilatura (web pages) is the slowest per article, and PDF text "
        "extraction with pypdfium2 costs a few milliseconds a page. Build rates are bound by "
        "the encoder and follow the machine's load: compare them with each other, not with "
        "section 1 of another run.", ""]
