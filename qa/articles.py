"""The articles of an index as they were read: `articles.jsonl`, one JSON record a line.

Each record is an article's extracted text (what its passages are cut from, so that
`text[start:end]` is every quote), title, date, url, format, PDF page starts, metadata and
the source file it came from. Updates re-use these records instead of extracting an
unchanged file (or fetching a kept address) again, and the page lists them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .corpus import Extracted, SourceFile
from .errors import IndexCorruptError
from .fetch import is_url
from .schema import Article

if TYPE_CHECKING:
    from .index import Index

ARTICLES = "articles.jsonl"


@dataclass(frozen=True, slots=True)
class Listed:
    """An article as the Articles view lists it."""

    id: str
    title: str
    date: str | None
    source: str
    file: str
    format: str
    url: str | None
    passages: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_articles(path: Path, articles: Iterable[tuple[str, Article]]) -> None:
    """Write (source file, article) pairs to `path`."""
    with path.open("w", encoding="utf-8") as f:
        for file, article in articles:
            record = asdict(article)
            record["pages"] = list(article.pages)
            f.write(json.dumps({"file": file, **record}, ensure_ascii=False) + "\n")


def read_articles(directory: Path) -> list[tuple[str, Article]]:
    """The (source file, article) pairs of the index in `directory`; [] for an index
    written before articles were kept."""
    path = directory / ARTICLES
    if not path.exists():
        return []
    try:
        with path.open(encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        return [(r.pop("file"), Article(**{**r, "pages": tuple(r.get("pages") or ())}))
                for r in records]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(f"{path}: unreadable articles ({exc}); run `qa build --force`") \
            from None


def format_counts(articles: Iterable[Article]) -> dict[str, int]:
    """How many articles of each format, most first."""
    return dict(Counter(a.format for a in articles).most_common())


def extractions(directory: Path, manifest: Mapping[str, Any], *,
                addresses_only: bool = False) -> dict[str, Extracted]:
    """The sources of the index in `directory` with their stored articles, by resolved path
    (or address), for an update to use instead of reading them again (only the addresses,
    if asked)."""
    by_file: dict[str, list[Article]] = {}
    try:
        for file, article in read_articles(directory):
            by_file.setdefault(file, []).append(article)
    except IndexCorruptError:
        return {}
    out: dict[str, Extracted] = {}
    for record in manifest.get("sources", []):
        if addresses_only and not is_url(record["source"]):
            continue
        if record["source"] in by_file:
            out[record["path"]] = Extracted(SourceFile(**record), tuple(by_file[record["source"]]))
    return out


def stored(index: Index) -> dict[str, Article]:
    """The articles of a loaded index by id, read once per version of the index."""
    cache = getattr(index, "_stored_articles", None)
    if cache is None or cache[0] is not index.manifest:
        articles = {a.id: a for _, a in read_articles(index.path)}
        cache = (index.manifest, articles)
        index._stored_articles = cache  # type: ignore[attr-defined]
    return cache[1]


def listing(index: Index, query: str = "") -> list[Listed]:
    """Every article of `index` in corpus order (those whose title or source contains
    `query`, any case, when given), with its passage count."""
    counts = Counter(p.article_id for p in index.passages)
    firsts: dict[str, Any] = {}
    for p in index.passages:
        firsts.setdefault(p.article_id, p)
    by_id = stored(index)
    needle = query.strip().lower()
    out: list[Listed] = []
    for article_id, first in firsts.items():
        article = by_id.get(article_id)
        item = Listed(id=article_id, title=first.title, date=first.date, source=first.source,
                      file=_file_of(first.source, index.manifest),
                      format=article.format if article else "text", url=first.url,
                      passages=counts[article_id])
        if not needle or needle in item.title.lower() or needle in item.source.lower():
            out.append(item)
    return out


def _file_of(source: str, manifest: Mapping[str, Any]) -> str:
    files = {r["source"] for r in manifest.get("sources", [])}
    if source in files:
        return source
    head, sep, line = source.rpartition(":")
    return head if sep and line.isdigit() and head in files else source
