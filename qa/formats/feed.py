"""RSS and Atom feeds: every entry an article with its title, link, date and text (feedparser)."""

from __future__ import annotations

import io
import time
from typing import Any

from ..errors import IngestError
from ..schema import Article
from . import Bad, ReadOptions, check_size


def _entry_html(entry: Any) -> str:
    """The entry's full content if it has one, else its summary (the longest given)."""
    contents = [c.get("value", "") for c in entry.get("content") or []]
    return max(contents, key=len) if any(contents) else str(entry.get("summary") or "")


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return time.strftime("%Y-%m-%d", parsed)
    return None


def _parse(source: str, data: bytes) -> Any:
    import feedparser

    # Bytes in a stream: a string could be taken for an address and fetched.
    parsed = feedparser.parse(io.BytesIO(data), resolve_relative_uris=False, sanitize_html=True)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise IngestError(f"{source}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    if not parsed.entries:
        raise IngestError(f"{source}: the feed has no entries")
    return parsed


def read_feed(source: str, data: bytes, *, stem: str, options: ReadOptions,
              bad: Bad) -> list[Article]:
    """One article per entry of an RSS or Atom feed, sourced as "FEED:N" (N from 1).

    Raises:
        IngestError: not a feed, no entries, or (through `bad`) an entry without text.
    """
    from ..corpus import make_article
    from .html import fragment_text

    parsed = _parse(source, data)
    feed_title = parsed.feed.get("title")
    articles, chars = [], 0
    for n, entry in enumerate(parsed.entries[: options.max_rows], start=1):
        text = fragment_text(_entry_html(entry))
        chars += len(text)
        check_size(source, chars, options)
        if not text:
            bad(IngestError(f"{source}:{n}: feed entry without text"))
            continue
        meta = {k: v for k, v in (("author", entry.get("author")), ("guid", entry.get("id")),
                                  ("feed", feed_title)) if v}
        title = " ".join(str(entry.get("title") or "").split()) or None
        articles.append(make_article(
            text, id=f"{stem}:{n}", source=f"{source}:{n}", title=title, date=_entry_date(entry),
            meta=meta, url=entry.get("link") or None, format="feed"))
    return articles
