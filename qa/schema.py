"""The frozen records that flow between modules: articles, passages, hits, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """One article as read from a file or a JSONL line; `text` is the original text."""

    id: str
    source: str
    title: str
    date: str | None
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    """The article's own address: canonical link, feed entry link, table column or fetched URL."""
    format: str = "text"
    """What it was read from: text, markdown, jsonl, html, pdf, feed, csv, tsv or parquet."""
    pages: tuple[int, ...] = ()
    """For a PDF, where each page starts in `text` (page n starts at pages[n - 1])."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of an article: `article.text[start:end] == text`, exactly."""

    id: str
    article_id: str
    source: str
    title: str
    date: str | None
    start: int
    end: int
    text: str
    url: str | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        # A flat record: a comprehension is ~10x faster than dataclasses.asdict here.
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage returned by a search, with its fused score and the per-method scores."""

    text: str
    score: float
    source: str
    title: str
    date: str | None
    start: int
    end: int
    passage_id: str
    article_id: str
    rank: int = 0
    dense_score: float | None = None
    bm25_score: float | None = None
    url: str | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Citation:
    """A quoted sentence: `quote` is the article's text[start:end] inside `hit`."""

    n: int
    quote: str
    source: str
    title: str
    date: str | None
    start: int
    end: int
    hit: Hit
    url: str | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer whose every sentence ends with a `[n]` marker naming a citation.

    When `abstained` is true the index holds nothing that answers the question:
    `text` says so, `citations` is empty and `hits` are the closest passages.
    With an LLM (`Index.ask(llm=...)`): `generated` tells that the model wrote `text`
    (every sentence checked against the passage it cites), `dropped` holds the model's
    sentences that were removed, each with the reason, and `notice` says why the answer
    fell back to quoting the articles, when it did, or that the model found no answer in
    the passages (the bot then abstains: `qa.generate.refused`).
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...]
    confidence: float = 0.0
    generated: bool = False
    dropped: tuple[str, ...] = ()
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
