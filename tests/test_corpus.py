"""Reading articles and splitting them into passages whose spans are exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.config import ChunkConfig
from qa.corpus import read_corpus, split_article, split_corpus
from qa.errors import EmptyCorpusError, IngestError
from qa.text import sentences

from .conftest import SEEDS


def test_seed_articles_have_dates_titles_and_sources() -> None:
    corpus = read_corpus([SEEDS])
    first, second = corpus.articles
    assert first.date == "2023-03-28" and second.date == "2023-10-18"
    assert first.title.startswith("Kazakhstan seeks to deepen cooperation with China")
    assert first.source.endswith("seeds/000_ed18d489a2ac6f1b.txt")
    assert first.id == "000_ed18d489a2ac6f1b"
    assert [f.sha256 for f in corpus.files] and len(corpus.files) == 2


def test_every_passage_is_an_exact_span_of_its_article() -> None:
    corpus = read_corpus([SEEDS])
    by_id = {a.id: a for a in corpus.articles}
    passages = split_corpus(corpus.articles)
    assert len(passages) > 10
    for p in passages:
        assert by_id[p.article_id].text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text


def test_dateline_is_kept_out_of_the_first_passage() -> None:
    first = split_article(read_corpus([SEEDS]).articles[0])[0]
    assert first.text.startswith("ASTANA – Kazakhstan seeks")


def test_long_paragraphs_split_at_sentences_with_overlap(tmp_path: Path) -> None:
    sentences_ = [f"Sentence number {i} talks about topic {i} at some length here." for i in range(30)]
    (tmp_path / "long.txt").write_text(" ".join(sentences_), encoding="utf-8")
    article = read_corpus([tmp_path]).articles[0]
    plain = split_article(article, ChunkConfig(max_words=40))
    overlapped = split_article(article, ChunkConfig(max_words=40, overlap=1))
    assert len(plain) > 5 and all(len(p.text.split()) <= 40 for p in plain)
    assert all(p.text.endswith(".") for p in plain)
    assert len(overlapped) > len(plain)
    assert overlapped[1].text.startswith(overlapped[0].text.split(". ")[-1].rstrip("."))
    for p in plain + overlapped:
        assert article.text[p.start : p.end] == p.text


def test_sentence_splitter_keeps_abbreviations_and_quotes() -> None:
    text = "He met Dr. Smith at an Oct. 17 meeting. “It went well,” he said. Then they left!"
    assert [text[s:e] for s, e in sentences(text)] == [
        "He met Dr. Smith at an Oct. 17 meeting.", "“It went well,” he said.", "Then they left!"]


def test_a_blank_line_ends_a_sentence() -> None:
    text = "## Melon exports\n\nKazakh melon exports doubled. Prices rose\n\nnext year"
    assert [text[s:e] for s, e in sentences(text)] == [
        "## Melon exports", "Kazakh melon exports doubled.", "Prices rose", "next year"]


def test_markdown_title_and_headings_joined_to_their_paragraph(tmp_path: Path) -> None:
    (tmp_path / "note.md").write_text(
        "# Rivers of Asia\n\n## Irtysh\n\nThe Irtysh flows north.\n\n## Ili\n\nThe Ili flows west.\n",
        encoding="utf-8")
    article = read_corpus([tmp_path / "note.md"]).articles[0]
    assert article.title == "Rivers of Asia"
    assert [p.text for p in split_article(article)] == [
        "# Rivers of Asia\n\n## Irtysh\n\nThe Irtysh flows north.", "## Ili\n\nThe Ili flows west."]


def test_jsonl_records_keep_fields_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    rows = [{"id": "a1", "title": "Dam opens", "date": "2024-05-01T10:00:00", "url": "http://x",
             "text": "A new dam opened.\n\nIt cost $2 billion."},
            {"text": "No id or title here. Second sentence."}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    a, b = read_corpus([path]).articles
    assert (a.id, a.title, a.date, a.meta, a.url) == ("a1", "Dam opens", "2024-05-01", {},
                                                      "http://x")
    assert a.source.endswith("news.jsonl:1") and b.id == "news:2"
    assert b.title == "No id or title here."
    assert [p.text for p in split_article(a)] == ["A new dam opened.", "It cost $2 billion."]


def test_folders_are_walked_recursively_in_order(tmp_path: Path) -> None:
    for name in ["b/2.txt", "a/1.md", "a/.hidden.txt", "c/skip.docx"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Some text here.", encoding="utf-8")
    assert [a.id for a in read_corpus([tmp_path]).articles] == ["1", "2"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bin.txt", b"abc\x00def", "binary file"),
    ("latin.txt", "caf\xe9 au lait".encode("latin-1"), "not UTF-8"),
    ("empty.txt", b"   \n", "empty file"),
    ("bad.jsonl", b'{"text": "fine"}\n{not json}\n', "bad.jsonl:2: not valid JSON"),
    ("notext.jsonl", b'{"title": "no text"}\n', "notext.jsonl:1: no \"text\" field"),
    ("doc.pdf", b"%PDF-1.4 broken", "doc.pdf: not a readable PDF"),
    ("doc.docx", b"PK\x03\x04 zipped", "unsupported file type"),
    ("page.txt", b"\x1f\x8b\x08 gzipped", "page.txt: a compressed archive"),
])
def test_bad_files_name_the_file_and_line(tmp_path: Path, name: str, content: bytes,
                                          message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(IngestError, match=message.replace("(", r"\(")):
        read_corpus([tmp_path / name])


def test_skip_bad_keeps_the_good_articles(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good text.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "mixed.jsonl").write_text('{"text": "ok"}\nnope\n', encoding="utf-8")
    corpus = read_corpus([tmp_path], skip_bad=True)
    assert [a.id for a in corpus.articles] == ["good", "mixed:1"]
    assert len(corpus.skipped) == 2


def test_missing_and_empty_inputs_are_errors(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        read_corpus([tmp_path / "missing"])
    with pytest.raises(EmptyCorpusError):
        read_corpus([tmp_path])
    with pytest.raises(IngestError, match="empty path"):
        read_corpus([""])
