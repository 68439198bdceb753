"""Real article files written by real writers, for the format tests and the ingest benchmark.

A `Story` becomes a saved news page (the article inside navigation, a cookie banner, share
buttons, related links, a comment and a footer, with Open Graph, JSON-LD and canonical
metadata), a PDF (fpdf2: pages, two columns, encryption), an RSS or Atom feed
(xml.etree), or a row of a CSV/TSV (csv) or Parquet (pyarrow) table.
"""

from __future__ import annotations

import csv
import datetime
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import escape
from pathlib import Path

BOILERPLATE = ("Accept all cookies", "Share on Facebook", "Related stories", "Copyright 2024",
               "Subscribe to our newsletter", "Great read, thanks! said reader Bob")
"""Phrases of the page around each article: no passage may contain them."""


@dataclass(frozen=True)
class Story:
    """A news article to write in any format."""

    title: str
    date: str  # ISO
    url: str
    paragraphs: tuple[str, ...]
    author: str = "Ana Ruiz"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def news_page(story: Story) -> str:
    """The story as a browser saves a news site's page: metadata in the head, the article
    among navigation, a cookie banner, share buttons, related links, comments and a footer."""
    body = "".join(f"<p>{escape(p)}</p>\n" for p in story.paragraphs)
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                     "headline": story.title, "datePublished": story.date,
                     "author": {"@type": "Person", "name": story.author}})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(story.title)} | Coast News</title>
<meta property="og:title" content="{escape(story.title)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{story.date}T09:30:00+00:00">
<meta name="author" content="{escape(story.author)}">
<link rel="canonical" href="{escape(story.url)}">
<script type="application/ld+json">{ld}</script>
<style>.cookie {{position: fixed}}</style>
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a>
<a href="/sport">Sport</a> <a href="/weather">Weather</a></nav></header>
<div class="cookie-banner" id="cookie-consent"><p>We use cookies to improve your experience
on our site. Accept all cookies or manage your settings.</p><button>Accept all cookies</button></div>
<main><article><h1>{escape(story.title)}</h1>
<p class="byline">By {escape(story.author)}</p>
{body}<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a></div>
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/a">Storm warnings issued for the whole coast this weekend</a></li>
<li><a href="/b">Ferry prices rise again as fuel costs climb</a></li></ul></aside>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>Great read, thanks! said reader Bob from the harbour district.</p></div>
</section></main>
<footer><p>Subscribe to our newsletter for the latest news.</p>
<p>Copyright 2024 Coast News. All rights reserved. Privacy policy. Contact us.</p></footer>
</body></html>
"""


def latin1(text: str) -> str:
    """`text` in the characters fpdf2's built-in fonts can draw."""
    swaps = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "€": "EUR"}
    for a, b in swaps.items():
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(path: Path, pages: Sequence[Sequence[str]], *, title: str | None = None,
              author: str = "Ana Ruiz", created: datetime.datetime | None = None,
              columns: int = 1, password: str | None = None) -> Path:
    """A PDF with a text layer: each inner sequence is one page's paragraphs.

    Args:
        columns: 2 lays each page out in two columns.
        password: encrypt the file; it then needs this password to open.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=columns == 1, margin=15)
    if title:
        pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(created or datetime.datetime(2024, 5, 2, 8, 0, tzinfo=datetime.UTC))
    if password:
        pdf.set_encryption(owner_password="owner-" + password, user_password=password)
    pdf.set_font("helvetica", size=11)
    for paragraphs in pages:
        pdf.add_page()
        if columns > 1:
            with pdf.text_columns(ncols=columns, gutter=8, text_align="LEFT") as cols:
                for para in paragraphs:
                    cols.write(text=latin1(para))
                    cols.ln()
                    cols.ln()
            continue
        for para in paragraphs:
            pdf.multi_cell(0, 6, latin1(para), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def _rfc822(date: str) -> str:
    day = datetime.datetime.fromisoformat(date).replace(hour=9, tzinfo=datetime.UTC)
    return format_datetime(day)


def rss_feed(stories: Sequence[Story], *, title: str = "Coast News") -> bytes:
    """An RSS 2.0 feed whose items carry each story as HTML in `description`."""
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "link").text = "https://news.example.org/"
    ET.SubElement(channel, "description").text = "The latest from the coast"
    for story in stories:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = story.title
        ET.SubElement(item, "link").text = story.url
        ET.SubElement(item, "guid").text = story.url
        ET.SubElement(item, "pubDate").text = _rfc822(story.date)
        ET.SubElement(item, "description").text = "".join(
            f"<p>{escape(p)}</p>" for p in story.paragraphs)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(rss, encoding="utf-8")


def atom_feed(stories: Sequence[Story], *, title: str = "Coast News") -> bytes:
    """An Atom feed whose entries carry each story as HTML `content` and a short `summary`."""
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed")
    ET.SubElement(feed, f"{{{ns}}}title").text = title
    ET.SubElement(feed, f"{{{ns}}}id").text = "urn:coast-news"
    ET.SubElement(feed, f"{{{ns}}}updated").text = "2024-05-03T00:00:00Z"
    for story in stories:
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        ET.SubElement(entry, f"{{{ns}}}title").text = story.title
        ET.SubElement(entry, f"{{{ns}}}link", href=story.url)
        ET.SubElement(entry, f"{{{ns}}}id").text = story.url
        ET.SubElement(entry, f"{{{ns}}}published").text = f"{story.date}T09:00:00Z"
        ET.SubElement(entry, f"{{{ns}}}updated").text = f"{story.date}T09:00:00Z"
        ET.SubElement(entry, f"{{{ns}}}summary").text = story.paragraphs[0][:80]
        content = ET.SubElement(entry, f"{{{ns}}}content", type="html")
        content.text = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def table_rows(stories: Sequence[Story], *, text_column: str = "text") -> list[dict[str, str]]:
    """The stories as table rows: id, title, date, url, the text, and their extra columns."""
    return [{"id": f"story-{i}", "title": s.title, "date": s.date, "url": s.url,
             text_column: s.text, **s.extra} for i, s in enumerate(stories, start=1)]


def write_csv(path: Path, stories: Sequence[Story], *, delimiter: str = ",",
              text_column: str = "text") -> Path:
    rows = table_rows(stories, text_column=text_column)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, stories: Sequence[Story], *, text_column: str = "text") -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(table_rows(stories, text_column=text_column)), path)
    return path
