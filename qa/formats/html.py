"""Web pages: the article's main text and its metadata, without the page around it.

The text comes from trafilatura, the field's standard extractor for news pages: it drops
navigation, cookie banners, share buttons, related links, comments and footers. Title,
date, author and canonical address come from the page's metadata (`<title>`, Open Graph,
`article:published_time`, JSON-LD, `<link rel=canonical>`). HTML is parsed, never rendered.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import IngestError
from ..schema import Article
from . import ReadOptions, check_size

_BLOCKS = frozenset("p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre tr table section "
                    "article header footer figure figcaption hr dd dt dl".split())
_DROP = ("script", "style", "template", "noscript")


def _paragraphs(lines: str) -> str:
    """Text whose lines are paragraphs, as blank-line separated paragraphs."""
    return "\n\n".join(" ".join(line.split()) for line in lines.splitlines() if line.strip())


def read_html(source: str, data: bytes, *, stem: str, options: ReadOptions,
              url: str | None = None) -> Article:
    """The article of a web page.

    Raises:
        IngestError: the page holds no article text.
    """
    import trafilatura

    from ..corpus import make_article

    doc: Any = trafilatura.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, include_tables=True,
        include_images=False, include_links=False, favor_precision=True, deduplicate=False)
    text = _paragraphs(doc.text or "") if doc is not None else ""
    if not text:
        raise IngestError(f"{source}: no article text found in this web page")
    check_size(source, len(text), options)
    title = " ".join((doc.title or "").split()) or None
    first, _, rest = text.partition("\n\n")
    if title and first == title and rest:  # the headline is the title, not a passage
        text = rest
    meta = {k: v for k, v in (("author", doc.author), ("site", doc.sitename),
                              ("description", doc.description)) if v}
    return make_article(text, id=stem, source=source, title=title, date=doc.date, meta=meta,
                        fallback_title=stem, url=doc.url or url, format="html")


def fragment_text(fragment: str) -> str:
    """The text of an HTML fragment (a feed entry's content), paragraphs kept, markup dropped.

    Plain text comes back as it is, with its whitespace tidied.
    """
    from lxml import etree
    from lxml import html as lxml_html

    if "<" not in fragment:
        return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", fragment) if p.strip())
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for bad in list(root.iter(*_DROP)):
        bad.drop_tree()
    parts: list[str] = []
    _walk(root, parts)
    return "\n\n".join(" ".join(p.split()) for p in "".join(parts).split("\n\n") if p.strip())


def _walk(element: Any, parts: list[str]) -> None:
    block = isinstance(element.tag, str) and element.tag.lower() in _BLOCKS
    if block:
        parts.append("\n\n")
    if isinstance(element.tag, str) and element.text:
        parts.append(element.text)
    for child in element:
        _walk(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n\n")
