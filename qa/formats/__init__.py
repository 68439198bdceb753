"""What an article file is, told by its content first: web page, PDF, feed, table or text.

`detect` names the format of some bytes (a `.txt` that is really a PDF is a PDF);
`read` turns the bytes of a web page, PDF, feed or table into articles. Plain text,
markdown and JSONL stay in `qa.corpus`. The readers live in the modules beside this one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import IngestError
from ..schema import Article

Bad = Callable[[IngestError], None]
"""Called with a bad record (a feed entry or table row): raises it, or logs and skips it."""

SUFFIXES: dict[str, str] = {
    ".txt": "text", ".md": "markdown", ".markdown": "markdown", ".jsonl": "jsonl",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".xml": "feed", ".rss": "feed",
    ".atom": "feed", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
}
"""File name endings read when a folder is walked, and the format each one suggests."""
FORMATS = ("text", "markdown", "jsonl", "html", "pdf", "feed", "csv", "tsv", "parquet")
CONTENT_TYPES: dict[str, str] = {
    "text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf",
    "application/rss+xml": "feed", "application/atom+xml": "feed", "application/rdf+xml": "feed",
    "application/xml": "feed", "text/xml": "feed", "text/csv": "csv",
    "text/tab-separated-values": "tsv", "text/plain": "text", "text/markdown": "markdown",
    "application/jsonl": "jsonl", "application/x-ndjson": "jsonl",
    "application/vnd.apache.parquet": "parquet",
}
_ARCHIVES = (b"\x1f\x8b", b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"\x28\xb5\x2f\xfd",
             b"Rar!")
_PROLOGUE = r"(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE(?!\s+html)[^>]*>)*"
_FEED = re.compile(_PROLOGUE + r"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE | re.DOTALL)
_HTML = re.compile(_PROLOGUE + r"<(?:!DOCTYPE\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How sources are read, and the limits that stop a hostile or broken one.

    Attributes:
        text_column: the column of a CSV, TSV or Parquet table that holds the article text.
        max_bytes: largest file or download read, in bytes.
        max_pdf_pages: a PDF with more pages is refused.
        max_seconds: reading one source (fetching it, extracting its text) stops after this.
        max_chars: most characters of text extracted from one source (stops decompression bombs).
        max_rows: most articles (table rows, feed entries) read from one source.
    """

    text_column: str = "text"
    max_bytes: int = 100 * 2**20
    max_pdf_pages: int = 2000
    max_seconds: float = 120.0
    max_chars: int = 50_000_000
    max_rows: int = 1_000_000


def suffix_format(name: str) -> str | None:
    """The format a file name (or an address's path) suggests, or None."""
    return SUFFIXES.get(PurePosixPath(name.split("?")[0]).suffix.lower())


def sniff(data: bytes) -> str | None:
    """The format the content itself shows ("pdf", "parquet", "feed", "html", "archive"), or None."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PAR1":
        return "parquet"
    if data.startswith(_ARCHIVES):
        return "archive"
    head = data[:4096].decode("utf-8", errors="ignore").lstrip("\ufeff")
    if _FEED.match(head):
        return "feed"
    if _HTML.match(head):
        return "html"
    return None


def detect(source: str, data: bytes, *, name: str, content_type: str | None = None) -> str:
    """The format to read `data` as: what its content shows, else its content type, else
    its name's ending; text when none says anything.

    Raises:
        IngestError: it is a compressed archive, or an `.xml` file that is not a feed.
    """
    found = sniff(data)
    if found == "archive":
        raise IngestError(f"{source}: a compressed archive (zip, gzip, ...), not an article; "
                          "unpack it and add the files inside")
    if found:
        return found
    kind = (content_type or "").split(";")[0].strip().lower()
    by_type = CONTENT_TYPES.get(kind)
    by_name = suffix_format(name)
    if by_name == "feed" or (by_type == "feed" and by_name is None):
        raise IngestError(f"{source}: XML that is not an RSS or Atom feed")
    if by_type and by_type not in ("text", "feed"):
        return by_type
    return by_name or by_type or "text"


def read(fmt: str, source: str, data: bytes, *, stem: str, options: ReadOptions,
         url: str | None = None, bad: Bad) -> list[Article]:
    """The articles in `data`, a web page, PDF, feed or table (`fmt` from `detect`).

    Args:
        fmt: "html", "pdf", "feed", "csv", "tsv" or "parquet".
        source: the file or address, as errors and passages name it.
        data: the bytes.
        stem: the id of a single article, and the prefix of a feed's or table's article ids.
        options: the column to read and the limits.
        url: the address the bytes were fetched from, if any.
        bad: what to do with a bad entry or row.
    """
    if fmt == "html":
        from .html import read_html

        return [read_html(source, data, stem=stem, url=url, options=options)]
    if fmt == "pdf":
        from .pdf import read_pdf

        return [read_pdf(source, data, stem=stem, url=url, options=options)]
    if fmt == "feed":
        from .feed import read_feed

        return read_feed(source, data, stem=stem, options=options, bad=bad)
    if fmt in ("csv", "tsv", "parquet"):
        from .table import read_table

        return read_table(source, data, fmt=fmt, stem=stem, options=options, bad=bad)
    raise ValueError(f"not a format read here: {fmt!r}")


def check_size(source: str, chars: int, options: ReadOptions) -> None:
    """Refuse text past `options.max_chars` (a small file that unpacks to far too much)."""
    if chars > options.max_chars:
        raise IngestError(f"{source}: more than {options.max_chars:,} characters of text; "
                          "refused (raise the limit to read it)")
