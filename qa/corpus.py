"""Reading articles from files and JSONL, and splitting them into passages with exact spans."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ChunkConfig
from .errors import EmptyCorpusError, IngestError
from .schema import Article, Passage
from .text import Span, paragraphs, sentences, word_count

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
JSONL_SUFFIXES = (".jsonl",)
SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES

SPLIT_VERSION = 1
"""Bumped whenever splitting changes, so an update never re-uses passages split the old way."""
_DATELINE = re.compile(r"\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", re.IGNORECASE)
_PLACE_PREFIX = re.compile(r"^[A-Z][A-Z .,'-]{1,40}\s+[–—-]\s+")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
TITLE_WORDS = 14


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file read into the corpus, with what is needed to notice a later change."""

    source: str
    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Corpus:
    """Articles read from sources, plus the files they came from and what was skipped."""

    articles: tuple[Article, ...]
    files: tuple[SourceFile, ...]
    skipped: tuple[str, ...] = ()


def find_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Path]]:
    """Each article file under `paths` as (source as the user would write it, path).

    Folders are walked recursively in sorted order, skipping hidden entries and files
    of other types; a named file must exist and have a supported suffix.
    """
    if not paths:
        raise EmptyCorpusError("no input paths given")
    found: list[tuple[str, Path]] = []
    for given in paths:
        text = str(given)
        if not text.strip():
            raise IngestError("empty path given")
        path = Path(text)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    found.append(((path / rel).as_posix(), child))
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise IngestError(f"{text}: unsupported file type (use {', '.join(SUFFIXES)})")
            found.append((path.as_posix(), path))
        else:
            raise IngestError(f"{text}: no such file or directory")
    return found


def _decode(source: str, data: bytes) -> str:
    if b"\x00" in data:
        raise IngestError(f"{source}: binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{source}: not UTF-8 text (bad byte at offset {exc.start})") from None


def _first_sentence_title(text: str, start: int) -> str | None:
    spans = sentences(text, start)
    if not spans:
        return None
    first = " ".join(text[spans[0][0] : spans[0][1]].split())
    first = _PLACE_PREFIX.sub("", first)
    words = first.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def _normalise_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    match = _ISO_DATE.match(str(value).strip())
    return match.group(1) if match else str(value).strip()


def body_start(text: str) -> tuple[str | None, int]:
    """The dateline's ISO date (or None) and where the text after it begins."""
    match = _DATELINE.match(text)
    return (match.group(1), match.end()) if match else (None, 0)


def make_article(
    text: str, *, id: str, source: str, title: str | None = None, date: str | None = None,
    meta: dict[str, Any] | None = None, fallback_title: str = "",
) -> Article:
    """An article with its date and title filled in from the text where not given."""
    dateline, start = body_start(text)
    if title is None:
        for line in text[start:].splitlines():
            heading = _MD_HEADING.match(line.strip())
            if heading:
                title = heading.group(1)
                break
            if line.strip():
                break
    title = title or _first_sentence_title(text, start) or fallback_title or id
    return Article(id=id, source=source, title=title, date=_normalise_date(date) or dateline,
                   text=text, meta=meta or {})


def _read_jsonl(source: str, path: Path, text: str, skip_bad: bool,
                skipped: list[str]) -> list[Article]:
    articles = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            articles.append(_jsonl_record(where, path, lineno, line))
        except IngestError as exc:
            if not skip_bad:
                raise
            logger.warning("skipped %s", exc)
            skipped.append(str(exc))
    return articles


def _jsonl_record(where: str, path: Path, lineno: int, line: str) -> Article:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise IngestError(f"{where}: expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IngestError(f"{where}: no \"text\" field with text")
    meta = {k: v for k, v in record.items() if k not in ("text", "id", "title", "date")}
    title = record.get("title")
    return make_article(
        text, id=str(record.get("id") or f"{path.stem}:{lineno}"), source=where,
        title=str(title) if title else None, date=record.get("date"), meta=meta,
    )


def read_file(source: str, path: Path, *, skip_bad: bool = False,
              skipped: list[str] | None = None) -> tuple[list[Article], SourceFile]:
    """The articles of one file, and its fingerprint."""
    skipped = [] if skipped is None else skipped
    try:
        data = path.read_bytes()
        stat = path.stat()
    except OSError as exc:
        raise IngestError(f"{source}: cannot read ({exc.strerror})") from None
    info = SourceFile(source=source, path=str(path.resolve()),
                      sha256=hashlib.sha256(data).hexdigest(), size=stat.st_size,
                      mtime_ns=stat.st_mtime_ns)
    text = _decode(source, data)
    if path.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(source, path, text, skip_bad, skipped), info
    if not text.strip():
        raise IngestError(f"{source}: empty file")
    return [make_article(text, id=path.stem, source=source, fallback_title=path.name)], info


def read_corpus(paths: Sequence[str | os.PathLike[str]], *, skip_bad: bool = False) -> Corpus:
    """Read every article under `paths`; with `skip_bad`, log and skip what cannot be read.

    Raises:
        IngestError: a path or file or record is bad (and `skip_bad` is false).
        EmptyCorpusError: nothing with text was found.
    """
    articles: list[Article] = []
    files: list[SourceFile] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for source, path in find_files(paths):
        try:
            found, info = read_file(source, path, skip_bad=skip_bad, skipped=skipped)
        except IngestError as exc:
            if not skip_bad:
                raise
            logger.warning("skipped %s", exc)
            skipped.append(str(exc))
            continue
        files.append(info)
        for article in found:
            if article.id in seen:
                article = _with_id(article, article.source)
            seen.add(article.id)
            articles.append(article)
    if not articles:
        raise EmptyCorpusError("no articles with text found in: " + ", ".join(map(str, paths)))
    return Corpus(tuple(articles), tuple(files), tuple(skipped))


def _with_id(article: Article, new_id: str) -> Article:
    return Article(id=new_id, source=article.source, title=article.title, date=article.date,
                   text=article.text, meta=article.meta)


def _units(text: str, start: int) -> list[Span]:
    """Paragraph spans, with a lone markdown heading joined to the paragraph after it."""
    units: list[Span] = []
    pending: int | None = None
    for s, e in paragraphs(text, start):
        if _MD_HEADING.match(text[s:e]) and "\n" not in text[s:e]:
            pending = s if pending is None else pending
            continue
        units.append((s if pending is None else pending, e))
        pending = None
    if pending is not None:
        units.append((pending, len(text.rstrip())))
    return units


def _split_long(text: str, span: Span, chunk: ChunkConfig) -> list[Span]:
    """Pieces of a long paragraph, each at most `max_words` words, cut at sentences."""
    sents: list[Span] = []
    for s, e in sentences(text, *span):
        sents.extend(_split_words(text, s, e, chunk.max_words))
    pieces: list[Span] = []
    i = 0
    while i < len(sents):
        j, words = i, 0
        while j < len(sents) and (j == i or words + word_count(text[slice(*sents[j])])
                                  <= chunk.max_words):
            words += word_count(text[slice(*sents[j])])
            j += 1
        pieces.append((sents[i][0], sents[j - 1][1]))
        i = j if j >= len(sents) else max(i + 1, j - chunk.overlap)
    return pieces


def _split_words(text: str, start: int, end: int, max_words: int) -> list[Span]:
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    if len(words) <= max_words:
        return [(start, end)]
    return [(start + words[i][0], start + words[min(i + max_words, len(words)) - 1][1])
            for i in range(0, len(words), max_words)]


def split_article(article: Article, chunk: ChunkConfig | None = None) -> list[Passage]:
    """The passages of an article: paragraphs, long ones split at sentence boundaries."""
    chunk = chunk or ChunkConfig()
    text = article.text
    _, start = body_start(text)
    spans: list[Span] = []
    for unit in _units(text, start):
        if word_count(text[slice(*unit)]) > chunk.max_words:
            spans.extend(_split_long(text, unit, chunk))
        else:
            spans.append(unit)
    return [
        Passage(id=f"{article.id}#{n}", article_id=article.id, source=article.source,
                title=article.title, date=article.date, start=s, end=e, text=text[s:e])
        for n, (s, e) in enumerate(spans)
    ]


def split_corpus(articles: Iterable[Article], chunk: ChunkConfig | None = None) -> list[Passage]:
    """All passages of all articles, in order."""
    return [p for article in articles for p in split_article(article, chunk)]
