"""An index of every format: exact citations with url and page, stored article text, updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import qa
from qa import articles, store
from qa.corpus import Extracted, SourceFile
from qa.embed import Encoder
from qa.errors import IngestError
from tests import stories
from tests.writers import rss_feed


@pytest.mark.parametrize("fact", stories.FACTS, ids=lambda f: f.file)
def test_a_question_only_one_file_answers_is_cited_exactly(mixed_index: qa.Index,
                                                          fact: stories.Fact) -> None:
    answer = mixed_index.ask(fact.question)
    assert not answer.abstained and fact.expected in answer.text
    cited = next(c for c in answer.citations if fact.expected in c.quote)
    assert Path(cited.source).name.split(":")[0] == fact.file
    assert cited.page == fact.page and cited.hit.page == fact.page
    for c in answer.citations:  # exact in the text kept in the index, whatever the format
        assert mixed_index.article(c.hit.article_id).text[c.start : c.end] == c.quote
        assert c.url == c.hit.url


def test_hits_carry_the_articles_own_address(mixed_index: qa.Index) -> None:
    (hit,) = mixed_index.search("glass bridge Tarven gorge length", k=1)
    assert hit.url == stories.BRIDGE.url and hit.page is None
    (hit,) = mixed_index.search("Osterbeck battery store hydro plant 2025", k=1)
    assert hit.page == 3 and hit.url is None
    assert hit.to_dict()["page"] == 3


def test_the_index_keeps_every_articles_text_and_counts_formats(mixed_index: qa.Index) -> None:
    kept = articles.read_articles(mixed_index.path)
    assert len(kept) == mixed_index.manifest["counts"]["articles"] == 11
    for p in mixed_index.passages:
        assert mixed_index.article(p.article_id).text[p.start : p.end] == p.text
    assert mixed_index.manifest["counts"]["formats"] == {
        "feed": 4, "pdf": 2, "csv": 2, "parquet": 2, "html": 1}
    assert articles.ARTICLES in mixed_index.manifest["files"]  # checked like the other files
    report = mixed_index.article("osterbeck-report")
    assert report.pages[0] == 0 and len(report.pages) == 3


def test_listing_names_title_date_source_and_passages(mixed_index: qa.Index) -> None:
    listed = articles.listing(mixed_index)
    assert len(listed) == 11
    pdf = next(a for a in listed if a.id == "osterbeck-report")
    assert (pdf.format, pdf.passages, pdf.date) == ("pdf", 6, "2024-05-02")
    rss = [a for a in listed if a.file.endswith("coast.rss")]
    assert [a.title for a in rss] == [stories.FERRY.title, stories.CHOIR.title]
    assert [a.title for a in articles.listing(mixed_index, "QUILLON")] == [stories.FERRY.title]


def test_a_changed_feed_rereads_only_that_file(mixed_index: qa.Index, embedder: Encoder,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(Path(mixed_index.manifest["sources"][0]["path"]).parent, folder)
    index = qa.build([folder], tmp_path / "idx", embedder=embedder)
    before = {p.id: p for p in index.passages}

    def no_pdf(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged PDF was read again")

    monkeypatch.setattr("qa.formats.pdf.read_pdf", no_pdf)
    (folder / "coast.rss").write_bytes(rss_feed([stories.FERRY]))  # one entry left
    index = qa.build([folder], tmp_path / "idx", embedder=embedder)
    assert index.manifest["counts"]["articles"] == 10
    assert [p for p in index.passages if p.page] == [p for p in before.values() if p.page]
    assert qa.load(tmp_path / "idx", embedder=embedder).article("osterbeck-report").pages


def test_addresses_in_the_index_are_kept_without_fetching_again(
        mixed_index: qa.Index, embedder: Encoder, tmp_path: Path) -> None:
    target = tmp_path / "idx"
    shutil.copytree(mixed_index.path, target)
    index = qa.load(target, embedder=embedder)
    url = "http://127.0.0.1:9/never-served.html"  # port 9: nothing answers there
    with pytest.raises(IngestError, match="127.0.0.1:9"):
        index.add([url])
    article = qa.Article(id="snap", source=url, title="Snapshot", date="2024-05-01",
                         text="A snapshot of the Corran lighthouse keeper's log.", url=url,
                         format="html")
    info = SourceFile(source=url, path=url, sha256="0" * 64, size=10, mtime_ns=0)
    index.add([url], extracted={url: Extracted(info, (article,))})
    assert index.search("Corran lighthouse keeper log", k=1)[0].url == url
    index.remove(["bridge.html"])  # the address stays, from the stored text
    assert index.article("snap").text.startswith("A snapshot")
    assert not store.changed_sources(index.manifest)  # an address is a snapshot, never stale
    assert json.loads((target / store.MANIFEST).read_text())["counts"]["articles"] == 11


def test_eval_checks_citations_against_the_kept_text(mixed_index: qa.Index) -> None:
    from qa.evaluate import ArticleTexts, Question, evaluate_mode

    questions = [Question(f.question, (f.expected,), source=f.file) for f in stories.FACTS]
    report = evaluate_mode(mixed_index, questions, "hybrid")
    assert report.citation_validity == 1.0  # web pages and PDFs are not their files' bytes
    texts = ArticleTexts(mixed_index)
    assert texts.get("anything", "bridge") == stories.BRIDGE.text
    assert ArticleTexts().get(str(Path(mixed_index.manifest["sources"][0]["path"]))) is not None
