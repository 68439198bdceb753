"""Reading web pages, PDFs, feeds and tables written by real writers (qa.formats)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from qa.corpus import read_corpus, split_article, split_corpus
from qa.errors import IngestError
from qa.formats import ReadOptions, detect
from qa.formats.pdf import reflow
from tests import stories
from tests.writers import BOILERPLATE, news_page, rss_feed, write_csv, write_parquet, write_pdf


def squash(text: str) -> str:
    return " ".join(text.split())


def only_article(path: Path, **options: object) -> object:
    (article,) = read_corpus([path], options=ReadOptions(**options)).articles  # type: ignore[arg-type]
    return article


def test_web_page_gives_the_article_without_the_page_around_it(mixed_folder: Path) -> None:
    article = only_article(mixed_folder / "bridge.html")
    assert article.format == "html"
    assert article.text == stories.BRIDGE.text  # the three paragraphs, and nothing else
    assert (article.title, article.date, article.url) == (
        stories.BRIDGE.title, "2024-04-12", stories.BRIDGE.url)  # og:title, published, canonical
    assert article.meta["author"] == "Ana Ruiz"
    passages = split_article(article)
    assert [p.text for p in passages] == list(stories.BRIDGE.paragraphs)
    assert all(p.url == stories.BRIDGE.url and p.page is None for p in passages)


def test_no_passage_of_any_format_holds_boilerplate(mixed_folder: Path) -> None:
    passages = split_corpus(read_corpus([mixed_folder]).articles)
    assert len(passages) > 20
    for p in passages:
        assert not any(phrase.lower() in p.text.lower() for phrase in BOILERPLATE), p.text
        assert "<" not in p.text and "cookie" not in p.text.lower()


def test_pdf_passages_know_their_page_and_never_cross_one(mixed_folder: Path) -> None:
    article = only_article(mixed_folder / "osterbeck-report.pdf")
    assert (article.format, article.title, article.date) == (
        "pdf", "Osterbeck energy report 2023", "2024-05-02")  # from the PDF's metadata
    assert len(article.pages) == 3 and article.meta["pages"] == 3
    passages = split_article(article)
    for p in passages:
        assert article.text[p.start : p.end] == p.text
        assert article.pages[p.page - 1] <= p.start and (
            p.page == 3 or p.end <= article.pages[p.page])
    for page, paragraphs in enumerate(stories.REPORT_PAGES, start=1):
        on_page = squash(" ".join(p.text for p in passages if p.page == page))
        assert on_page == squash(" ".join(paragraphs))  # reflowed lines, words unchanged


def test_two_column_pdf_reads_each_column_top_to_bottom(mixed_folder: Path) -> None:
    article = only_article(mixed_folder / "orchard-columns.pdf")
    text = squash(article.text)
    positions = [text.find(squash(p)) for p in stories.ORCHARD]
    assert -1 not in positions and positions == sorted(positions)


def test_reflow_joins_lines_into_paragraphs() -> None:
    raw = ("The harbour re-\r\nopened after a long and very costly set of repairs to the\r\n"
           "breakwater, which took many weeks. The high-\r\nspeed ferry is back.\r\n"
           "A heading\r\nThe next paragraph starts here and goes on for quite a while\r\n"
           "until it ends.\r\n")
    assert reflow(raw).split("\n\n") == [
        "The harbour re-opened after a long and very costly set of repairs to the "
        "breakwater, which took many weeks. The high-speed ferry is back.",
        "A heading",
        "The next paragraph starts here and goes on for quite a while until it ends."]


def test_encrypted_scanned_and_broken_pdfs_are_one_line_errors(tmp_path: Path) -> None:
    locked = write_pdf(tmp_path / "locked.pdf", [["A secret report on the harbour."]],
                       password="s3cret")
    scan = tmp_path / "scan.pdf"
    write_pdf(scan, [[]])  # a page without any text, as a scanner makes
    broken = tmp_path / "broken.pdf"
    broken.write_bytes((tmp_path / "locked.pdf").read_bytes()[:300])
    for path, message in [(locked, "encrypted PDF"), (scan, "no text layer"),
                          (broken, "not a readable PDF")]:
        with pytest.raises(IngestError, match=message) as caught:
            read_corpus([path])
        assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)
    corpus = read_corpus([locked, scan, broken, stories.write_mixed_folder(tmp_path / "ok")],
                         skip_bad=True)
    assert len(corpus.skipped) == 3 and len(corpus.articles) == 11


def test_pdf_page_and_text_limits(mixed_folder: Path) -> None:
    with pytest.raises(IngestError, match="3 pages, more than the limit of 2"):
        read_corpus([mixed_folder / "osterbeck-report.pdf"], options=ReadOptions(max_pdf_pages=2))
    with pytest.raises(IngestError, match="more than 100 characters"):
        read_corpus([mixed_folder / "osterbeck-report.pdf"], options=ReadOptions(max_chars=100))
    with pytest.raises(IngestError, match="bytes, more than the limit of 1,000"):
        read_corpus([mixed_folder / "osterbeck-report.pdf"], options=ReadOptions(max_bytes=1000))


def test_rss_and_atom_entries_become_articles(mixed_folder: Path) -> None:
    rss = read_corpus([mixed_folder / "coast.rss"]).articles
    atom = read_corpus([mixed_folder / "coast-atom.xml"]).articles  # found by its content
    assert [(a.title, a.date, a.url) for a in rss] == [
        (s.title, s.date, s.url) for s in (stories.FERRY, stories.CHOIR)]
    assert [a.source.rsplit(":", 1)[1] for a in rss] == ["1", "2"]
    assert [a.text for a in rss] == [stories.FERRY.text, stories.CHOIR.text]
    assert atom[0].text == stories.OBSERVATORY.text  # the full content, not the summary
    assert {a.format for a in rss + atom} == {"feed"} and atom[1].meta["feed"] == "Coast News"


def test_tables_give_one_article_per_row_with_metadata(tmp_path: Path, mixed_folder: Path) -> None:
    tsv = write_csv(tmp_path / "more.tsv", [stories.TRAM], delimiter="\t")
    for path in (mixed_folder / "stories.csv", mixed_folder / "stories.parquet", tsv):
        articles = read_corpus([path]).articles
        first = articles[0]
        story = stories.LIBRARY if path.suffix == ".csv" else stories.TRAM
        assert (first.title, first.date, first.url, first.text) == (
            story.title, story.date, story.url, story.text)
        assert first.meta == {"section": story.extra["section"], "words": story.extra["words"]} \
            or first.meta == {"section": story.extra["section"], "words": int(story.extra["words"])}
        assert first.id == "story-1" and first.source.endswith(f"{path.name}:1")


def test_text_column_is_named_or_the_error_says_how(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "body.parquet", [stories.TRAM], text_column="body")
    with pytest.raises(IngestError, match=r"no 'text' column \(columns: id, title, date, url, "
                                          r"body.*--text-column"):
        read_corpus([path])
    (article,) = read_corpus([path], options=ReadOptions(text_column="body")).articles
    assert article.text == stories.TRAM.text


def test_rows_without_text_are_errors_or_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("title,text\nFirst,Some text about the first row.\nEmpty,\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"rows.csv:2: no text in column 'text'"):
        read_corpus([path])
    corpus = read_corpus([path], skip_bad=True)
    assert [a.title for a in corpus.articles] == ["First"] and len(corpus.skipped) == 1


def test_content_decides_the_format_not_the_name(tmp_path: Path, mixed_folder: Path) -> None:
    (tmp_path / "report.txt").write_bytes((mixed_folder / "osterbeck-report.pdf").read_bytes())
    (tmp_path / "page.txt").write_text(news_page(stories.BRIDGE), encoding="utf-8")
    (tmp_path / "feed").write_bytes(rss_feed([stories.FERRY]))  # no ending at all
    corpus = read_corpus([tmp_path / "report.txt", tmp_path / "page.txt", tmp_path / "feed"])
    assert [a.format for a in corpus.articles] == ["pdf", "html", "feed"]
    assert corpus.articles[1].text == stories.BRIDGE.text
    (tmp_path / "bomb.html").write_bytes(gzip.compress(b"<html>" + b" " * 10_000_000))
    (tmp_path / "notes.xml").write_text("<notes><n>hello</n></notes>", encoding="utf-8")
    for name, message in [("bomb.html", "a compressed archive"),
                          ("notes.xml", "XML that is not an RSS or Atom feed")]:
        with pytest.raises(IngestError, match=re.escape(f"{tmp_path / name}: {message}")):
            read_corpus([tmp_path / name])


@pytest.mark.parametrize(("data", "name", "content_type", "expected"), [
    (b"%PDF-1.7 ...", "a.txt", None, "pdf"),
    (b"<?xml version='1.0'?><rss version='2.0'>", "x", None, "feed"),
    (b"<!-- saved --><!DOCTYPE html><html>", "a.md", None, "html"),
    (b"id,text\n1,hello", "a.csv", "text/plain", "csv"),
    (b"<p>A fragment of a page</p>", "article", "text/html; charset=utf-8", "html"),
    (b"plain words", "notes", None, "text"),
])
def test_detect(data: bytes, name: str, content_type: str | None, expected: str) -> None:
    assert detect("src", data, name=name, content_type=content_type) == expected
