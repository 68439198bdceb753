"""Reading articles from files, folders and addresses, and splitting them into passages with
exact spans. Plain text, markdown and JSONL are read here; web pages, PDFs, feeds and tables
by `qa.formats`, chosen by content (`qa.formats.detect`); addresses are fetched by `qa.fetch`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import formats
from .config import ChunkConfig
from .errors import EmptyCorpusError, IngestError
from .fetch import is_url
from .formats import ReadOptions
from .schema import Article, Passage
from .text import Span, paragraphs, sentences, word_count

logger = logging.getLogger(__name__)

SUFFIXES = tuple(formats.SUFFIXES)
"""The file name endings a folder is searched for."""

SPLIT_VERSION = 2
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
class Extracted:
    """A source already read: its fingerprint and its articles, to use instead of reading
    it again (an unchanged file, an address fetched before, a checked upload)."""

    file: SourceFile
    articles: tuple[Article, ...]


@dataclass(frozen=True, slots=True)
class Corpus:
    """Articles read from sources, plus the files they came from and what was skipped."""

    articles: tuple[Article, ...]
    files: tuple[SourceFile, ...]
    skipped: tuple[str, ...] = ()


def find_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Path | None]]:
    """Each article file under `paths` as (source as the user would write it, path).

    Folders are walked recursively in sorted order, skipping hidden entries and files
    of other types; a named file must exist and have a supported suffix or content; an
    http(s) address is kept as it is (its path is None).
    """
    if not paths:
        raise EmptyCorpusError("no input paths given")
    found: list[tuple[str, Path | None]] = []
    for given in paths:
        found.extend(_find(given))
    seen: set[str] = set()  # a file named twice (or in two folders given) is read once
    unique = []
    for source, path in found:
        key = source if path is None else str(path.resolve())
        if key not in seen:
            seen.add(key)
            unique.append((source, path))
    return unique


def _find(given: str | os.PathLike[str]) -> list[tuple[str, Path | None]]:
    """The files (or the address) one given path stands for."""
    text = str(given)
    if not text.strip():
        raise IngestError("empty path given")
    if is_url(text):
        return [(text.strip(), None)]
    path = Path(text)
    if path.is_dir():
        return [((path / child.relative_to(path)).as_posix(), child)
                for child in sorted(path.rglob("*"))
                if not any(part.startswith(".") for part in child.relative_to(path).parts)
                and child.is_file() and child.suffix.lower() in SUFFIXES]
    if not path.is_file():
        raise IngestError(f"{text}: no such file or directory")
    if path.suffix.lower() not in SUFFIXES and not _known_content(path):
        raise IngestError(f"{text}: unsupported file type (use {', '.join(SUFFIXES)})")
    return [(path.as_posix(), path)]


def _known_content(path: Path) -> bool:
    """Whether a file with an unknown ending is, by its content, a format qa reads."""
    try:
        with path.open("rb") as f:
            return formats.sniff(f.read(4096)) not in (None, "archive")
    except OSError:
        return False


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
    meta: dict[str, Any] | None = None, fallback_title: str = "", **more: Any,
) -> Article:
    """An article with its date and title filled in from the text where not given;
    `more` sets the other fields (url, format, pages)."""
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
                   text=text, meta=meta or {}, **more)


def _read_jsonl(source: str, stem: str, text: str, bad: formats.Bad) -> list[Article]:
    articles = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            articles.append(_jsonl_record(where, stem, lineno, line))
        except IngestError as exc:
            bad(exc)
    return articles


def _jsonl_record(where: str, stem: str, lineno: int, line: str) -> Article:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise IngestError(f"{where}: expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IngestError(f"{where}: no \"text\" field with text")
    meta = {k: v for k, v in record.items() if k not in ("text", "id", "title", "date", "url")}
    title, url = record.get("title"), record.get("url")
    return make_article(
        text, id=str(record.get("id") or f"{stem}:{lineno}"), source=where,
        title=str(title) if title else None, date=record.get("date"), meta=meta,
        url=str(url) if url else None, format="jsonl",
    )


def _fingerprint(source: str, path: Path) -> tuple[bytes, SourceFile]:
    try:
        data = path.read_bytes()
        stat = path.stat()
    except OSError as exc:
        raise IngestError(f"{source}: cannot read ({exc.strerror})") from None
    return data, SourceFile(source=source, path=str(path.resolve()),
                            sha256=hashlib.sha256(data).hexdigest(), size=stat.st_size,
                            mtime_ns=stat.st_mtime_ns)


def _bad_handler(skip_bad: bool, skipped: list[str]) -> formats.Bad:
    def bad(exc: IngestError) -> None:
        if not skip_bad:
            raise exc
        logger.warning("skipped %s", exc)
        skipped.append(str(exc))

    return bad


def read_data(source: str, data: bytes, *, name: str, stem: str, bad: formats.Bad,
              options: ReadOptions | None = None, url: str | None = None,
              content_type: str | None = None) -> list[Article]:
    """The articles in the bytes of one file or download, read as what their content is.

    Args:
        source: the file or address, as errors and passages name it.
        data: its bytes.
        name: its file name (or address path): its ending is a hint when the content is not.
        stem: the id of a single article, the id prefix of a JSONL's, feed's or table's.
        bad: called with each bad record (raise it, or log and skip it).
        options: the text column and the limits.
        url: the address the bytes came from.
        content_type: the Content-Type they came with.
    """
    options = options or ReadOptions()
    if len(data) > options.max_bytes:
        raise IngestError(f"{source}: {len(data):,} bytes, more than the limit of "
                          f"{options.max_bytes:,}; refused")
    fmt = formats.detect(source, data, name=name, content_type=content_type)
    if fmt not in ("text", "markdown", "jsonl"):
        return formats.read(fmt, source, data, stem=stem, options=options, url=url, bad=bad)
    text = _decode(source, data)
    formats.check_size(source, len(text), options)
    if fmt == "jsonl":
        return _read_jsonl(source, stem, text, bad)
    if not text.strip():
        raise IngestError(f"{source}: empty file")
    return [make_article(text, id=stem, source=source, fallback_title=name, url=url, format=fmt)]


def read_file(source: str, path: Path | None, *, skip_bad: bool = False,
              skipped: list[str] | None = None, options: ReadOptions | None = None,
              known: Mapping[str, Extracted] | None = None) -> tuple[list[Article], SourceFile]:
    """The articles of one file or address, and its fingerprint.

    An address in `known` (keyed by address, or by resolved path for files) is not
    fetched again; a file in `known` with the same content is not read again. Any other
    address is fetched (`qa.fetch`) and read as its content is.
    """
    skipped = [] if skipped is None else skipped
    bad = _bad_handler(skip_bad, skipped)
    before = (known or {}).get(source if path is None else str(path.resolve()))
    if path is None:
        if before is not None:
            return list(before.articles), before.file
        return _read_address(source, bad, options or ReadOptions())
    data, info = _fingerprint(source, path)
    if before is not None and (before.file.path, before.file.sha256) == (info.path, info.sha256):
        return [replace(a, source=_moved(a.source, before.file.source, source))
                for a in before.articles], info
    return read_data(source, data, name=path.name, stem=path.stem, bad=bad,
                     options=options), info


def _moved(article_source: str, old: str, new: str) -> str:
    """An article's source once its file's source is written differently."""
    return new + article_source[len(old):] if article_source.startswith(old) else article_source


def _read_address(url: str, bad: formats.Bad, options: ReadOptions) -> tuple[list[Article], SourceFile]:
    from .fetch import FetchLimits, address_stem, fetch

    got = fetch(url, limits=FetchLimits(timeout=min(30.0, options.max_seconds),
                                        max_bytes=options.max_bytes))
    info = SourceFile(source=url, path=url, sha256=hashlib.sha256(got.data).hexdigest(),
                      size=len(got.data), mtime_ns=0)
    articles = read_data(url, got.data, name=got.url, stem=address_stem(got.url), bad=bad,
                         options=options, url=got.url, content_type=got.content_type)
    return articles, info


def read_corpus(paths: Sequence[str | os.PathLike[str]], *, skip_bad: bool = False,
                options: ReadOptions | None = None,
                known: Mapping[str, Extracted] | None = None) -> Corpus:
    """Read every article under `paths` (files, folders, http(s) addresses); with
    `skip_bad`, log and skip what cannot be read. `known` holds sources already read
    (see `read_file`).

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
            found, info = read_file(source, path, skip_bad=skip_bad, skipped=skipped,
                                    options=options, known=known)
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
    return replace(article, id=new_id)


def _units(text: str, start: int, end: int | None = None) -> list[Span]:
    """Paragraph spans, with a lone markdown heading joined to the paragraph after it."""
    units: list[Span] = []
    pending: int | None = None
    for s, e in paragraphs(text, start, end):
        if _MD_HEADING.match(text[s:e]) and "\n" not in text[s:e]:
            pending = s if pending is None else pending
            continue
        units.append((s if pending is None else pending, e))
        pending = None
    if pending is not None:
        units.append((pending, len(text[:end].rstrip())))
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


def page_ranges(article: Article) -> list[tuple[int | None, int, int]]:
    """(page, start, end) of each page of a PDF article (pages from 1); for any other
    article, one range over the text after its dateline, with page None."""
    if not article.pages:
        return [(None, body_start(article.text)[1], len(article.text))]
    ends = [*article.pages[1:], len(article.text)]
    return [(n, s, e) for n, (s, e) in enumerate(zip(article.pages, ends, strict=True), start=1)]


def split_article(article: Article, chunk: ChunkConfig | None = None) -> list[Passage]:
    """The passages of an article: paragraphs, long ones split at sentence boundaries;
    a PDF's passages never cross a page."""
    chunk = chunk or ChunkConfig()
    text = article.text
    spans: list[tuple[int | None, Span]] = []
    for page, start, end in page_ranges(article):
        for unit in _units(text, start, end):
            if word_count(text[slice(*unit)]) > chunk.max_words:
                spans.extend((page, piece) for piece in _split_long(text, unit, chunk))
            else:
                spans.append((page, unit))
    return [
        Passage(id=f"{article.id}#{n}", article_id=article.id, source=article.source,
                title=article.title, date=article.date, start=s, end=e, text=text[s:e],
                url=article.url, page=page)
        for n, (page, (s, e)) in enumerate(spans)
    ]


def split_corpus(articles: Iterable[Article], chunk: ChunkConfig | None = None) -> list[Passage]:
    """All passages of all articles, in order."""
    return [p for article in articles for p in split_article(article, chunk)]
