"""PDF files: the text layer, page by page, with pypdfium2 (PDFium, Chromium's PDF engine).

Chosen by measurement over pypdf: 10-25x faster on the same files (2-9 ms a page against
11-790 ms) with text as good or better (87 of 87 sentences of a two-column page verbatim,
pypdf 86). The lines of a page are joined back into paragraphs (`reflow`), and the pages
are joined with a blank line; `Article.pages` records where each page starts, so every
passage knows its page. A scan (no text layer), an encrypted or a broken file is refused.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from ..errors import IngestError
from ..schema import Article
from . import ReadOptions, check_size

PAGE_BREAK = "\n\n"
_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one document is read at a time
_SENTENCE_END = re.compile(r"[.!?:;\"”’')\]]$")
_PDF_DATE = re.compile(r"^D?:?(\d{4})(\d{2})?(\d{2})?")
_DULL_TITLES = re.compile(r"^(untitled|microsoft word|document\d*$|slide \d+)", re.IGNORECASE)
TITLE_WORDS = 15


def _typical_width(lines: list[str]) -> int:
    widths = sorted(len(line) for line in lines if line)
    return widths[int(len(widths) * 0.8)] if len(widths) >= 3 else 0


def _join(left: str, right: str) -> str:
    if left.endswith(("\xad", "\x02")):  # a soft hyphen at the line end: one word
        return left[:-1] + right
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[:1].islower():
        return left + right  # "high-" + "speed": keep the hyphen, drop the break
    return f"{left} {right}"


def reflow(raw: str) -> str:
    """A page's text lines joined back into paragraphs, separated by blank lines.

    A line ends its paragraph when it is blank or clearly shorter than the page's usual
    line (the last line of a paragraph, a heading, a list item), unless it ends with a
    comma or hyphen.
    """
    lines = [" ".join(line.split()) for line in raw.replace("\r\n", "\n").replace("\r", "\n")
             .replace("\x00", "").split("\n")]
    width = _typical_width(lines)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if line:
            current = _join(current, line) if current else line
        short = len(line) < (0.9 if _SENTENCE_END.search(line) else 0.7) * width
        if current and (not line or width == 0 or (short and not line.endswith((",", "-")))):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _open(source: str, data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IngestError(f"{source}: encrypted PDF (it needs a password); save an "
                              "unencrypted copy and add that") from None
        raise IngestError(f"{source}: not a readable PDF ({exc})") from None


def _page_texts(source: str, doc: Any, options: ReadOptions) -> list[str]:
    count = len(doc)
    if count > options.max_pdf_pages:
        raise IngestError(f"{source}: {count:,} pages, more than the limit of "
                          f"{options.max_pdf_pages:,}; refused")
    deadline = time.monotonic() + options.max_seconds
    pages: list[str] = []
    chars = 0
    for i in range(count):
        if time.monotonic() > deadline:
            raise IngestError(f"{source}: reading took more than {options.max_seconds:g} s "
                              f"(stopped at page {i + 1} of {count}); refused")
        page = doc[i]
        textpage = page.get_textpage()
        try:
            pages.append(reflow(textpage.get_text_bounded()))
        finally:
            textpage.close()
            page.close()
        chars += len(pages[-1])
        check_size(source, chars, options)
    return pages


def _pdf_date(value: str | None) -> str | None:
    match = _PDF_DATE.match((value or "").strip())
    if not match or not match.group(2) or not match.group(3):
        return None
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}"


def _title(metadata: dict[str, str], first_page: str) -> str | None:
    title = " ".join(metadata.get("Title", "").split())
    if title and not _DULL_TITLES.match(title):
        return title
    first_line = first_page.split("\n\n", 1)[0]
    return first_line if 0 < len(first_line.split()) <= TITLE_WORDS else None


def read_pdf(source: str, data: bytes, *, stem: str, options: ReadOptions,
             url: str | None = None) -> Article:
    """The article of a PDF: its text layer, with where each page starts.

    Raises:
        IngestError: encrypted, broken, scanned (no text), or past the page, time or size limits.
    """
    from ..corpus import make_article

    with _PDFIUM:
        doc = _open(source, data)
        try:
            pages = _page_texts(source, doc, options)
            metadata = dict(doc.get_metadata_dict(skip_empty=True))
        finally:
            doc.close()
    if not any(p.strip() for p in pages):
        raise IngestError(f"{source}: no text layer (a scanned PDF?); run OCR on it first")
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(PAGE_BREAK)
    meta = {"pages": len(pages)} | ({"author": metadata["Author"]} if metadata.get("Author") else {})
    return make_article(PAGE_BREAK.join(pages), id=stem, source=source,
                        title=_title(metadata, next(p for p in pages if p.strip())),
                        date=_pdf_date(metadata.get("CreationDate")), meta=meta,
                        fallback_title=stem, url=url, format="pdf", pages=tuple(starts))
