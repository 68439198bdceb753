"""The web chat in process: handlers called directly, a live server through gradio_client."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client

import qa
from qa import app, render
from tests.helpers import ABSTAIN, TRADE, XSS_QUESTIONS, free_port

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
pytestmark = pytest.mark.usefixtures("threads_as_served")


SAFE_TAGS = {"div", "p", "br", "sup", "a", "mark", "blockquote", "article", "span", "code", "q"}


class TagAudit(HTMLParser):
    """Every tag and attribute in an HTML fragment, to prove corpus text made none."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def problems(self) -> list[str]:
        bad = [t for t, _ in self.tags if t not in SAFE_TAGS]
        bad += [f"{t} {k}={v}" for t, attrs in self.tags for k, v in attrs
                if k.startswith("on") or (k == "href" and not (v or "").startswith("#"))]
        return bad


def article_text(source: str) -> str:
    return (SEEDS / Path(source).name).read_text(encoding="utf-8")


@pytest.fixture(scope="module", autouse=True)
def no_outside_connections() -> Iterator[list[Any]]:
    """Fail if anything in this process connects to a non-loopback address."""
    seen: list[Any] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return real(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    with socket.create_server(("127.0.0.1", 0)) as server, socket.socket() as probe:
        probe.connect(server.getsockname())
    assert seen, "the guard does not see connections"
    yield seen
    socket.socket.connect = real  # type: ignore[method-assign]
    outside = [a for a in seen if isinstance(a, tuple)
               and a[0] not in ("127.0.0.1", "::1", "localhost")]
    assert not outside, f"connections left the machine: {outside}"


@pytest.fixture(scope="module")
def served(seed_index: qa.Index) -> Iterator[tuple[gr.Blocks, str]]:
    """The seed chat, live on a free loopback port."""
    demo = app.build_app(seed_index)
    url = app.launch(demo, port=free_port())
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(served: tuple[gr.Blocks, str]) -> Client:
    return Client(served[1], verbose=False, analytics_enabled=False)


def check_citations(answer: dict[str, Any]) -> None:
    """Markers are numbered 1, 2, 3... by first appearance; each quote is the article's text."""
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", answer["text"])]
    assert list(dict.fromkeys(numbers)) == list(range(1, len(set(numbers)) + 1))
    assert sorted(c["n"] for c in answer["citations"]) == sorted(set(numbers))
    for c in answer["citations"]:
        assert set(c) >= {"n", "quote", "source", "title", "date", "start", "end"}
        assert article_text(c["source"])[c["start"]:c["end"]] == c["quote"]


def test_served_on_loopback_with_named_endpoints(served: tuple[gr.Blocks, str],
                                                 client: Client) -> None:
    demo, url = served
    assert url.startswith("http://127.0.0.1:")
    assert demo.share is False and demo.analytics_enabled is False
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/ask", "/search", "/articles", "/add", "/remove"}


def test_ask_answers_with_citations(client: Client) -> None:
    answer = client.predict(TRADE, api_name="/ask")
    assert answer["abstained"] is False
    assert "34 percent" in answer["text"] and "[1]" in answer["text"]
    assert answer["citations"][0]["source"].endswith("000_ed18d489a2ac6f1b.txt")
    assert answer["citations"][0]["date"] == "2023-03-28"
    check_citations(answer)


def test_follow_up_uses_history(client: Client) -> None:
    answer = client.predict("What did he say about the agreements?", ["Who is Li Qiang?"],
                            api_name="/ask")
    assert not answer["abstained"]
    assert "agreements" in answer["text"]
    assert all(c["source"].endswith("001_e2c74f9a2f197b54.txt") for c in answer["citations"])
    check_citations(answer)


def test_abstains_plainly(client: Client) -> None:
    answer = client.predict(ABSTAIN, api_name="/ask")
    assert answer["abstained"] is True and answer["citations"] == []
    assert "could not find" in answer["text"].lower()
    assert answer["related"] and "[1]" not in answer["text"]


def test_min_confidence_answers_anyway_or_refuses(client: Client) -> None:
    refused = client.predict(ABSTAIN, api_name="/ask")
    anyway = client.predict(ABSTAIN, [], 0.0, api_name="/ask")
    assert anyway["abstained"] is False and anyway["citations"]
    assert anyway["confidence"] == refused["confidence"] > 0
    assert client.predict(TRADE, [], 1.0, api_name="/ask")["abstained"] is True
    with pytest.raises(Exception, match="between 0 and 1"):
        client.predict(TRADE, [], 7, api_name="/ask")


@pytest.mark.parametrize(("question", "message"), [("", "empty"), ("x" * 10_000, "too long")])
def test_bad_questions_are_messages(client: Client, question: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        client.predict(question, api_name="/ask")
    assert not client.predict(TRADE, api_name="/ask")["abstained"]  # still serving


def test_engine_failure_is_a_message(client: Client, seed_index: qa.Index,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(seed_index, "ask", broken)
    with pytest.raises(Exception, match="engine failed"):
        client.predict(TRADE, api_name="/ask")
    monkeypatch.undo()
    assert not client.predict(TRADE, api_name="/ask")["abstained"]


def test_example_script_asks_the_server(served: tuple[gr.Blocks, str]) -> None:
    script = Path(__file__).resolve().parent.parent / "examples" / "ask_server.py"
    out = subprocess.run([sys.executable, str(script), "What did he say about the agreements?",
                          "--history", "Who is Li Qiang?", "--url", served[1]],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "agreements" in out and "[1]" in out and "001_e2c74f9a2f197b54.txt" in out


def test_search_endpoint(client: Client) -> None:
    hits = client.predict("trade grew 34 percent", 3, "bm25", api_name="/search")
    assert 1 <= len(hits) <= 3 and "34 percent" in hits[0]["text"]
    assert {"text", "title", "date", "source", "start", "end", "score"} <= set(hits[0])


def test_stream_grows_to_the_full_answer(client: Client) -> None:
    chunks = list(client.submit(TRADE, None, api_name="/ask_stream"))
    assert len(chunks) > 1
    assert all(b.startswith(a) for a, b in zip(chunks, chunks[1:], strict=False))
    assert chunks[-1] == client.predict(TRADE, api_name="/ask")["text"]


def test_respond_streams_then_saves_the_turn(seed_index: qa.Index) -> None:
    steps = list(app.ChatHandlers(seed_index).respond(TRADE, [], None))
    assert len(steps) >= 2
    box, chat, sources, copy, turns = steps[-1]
    assert box == "" and len(chat) == 2 and len(turns) == 1
    assert 'href="#qa-t0-c1"' in chat[1]["content"] and "<mark>" in sources
    assert "000_ed18d489a2ac6f1b.txt" in sources and "[1] “" in copy
    assert not isinstance(steps[0][-1], list)  # the browser's copy is saved once, at the end


def test_follow_up_in_chat_passes_history(seed_index: qa.Index) -> None:
    handlers = app.ChatHandlers(seed_index)
    turns = list(handlers.respond("Who is Li Qiang?", [], None))[-1][-1]
    *_, turns = list(handlers.respond("What did he say about the agreements?", turns, None))[-1]
    assert len(turns) == 2 and "agreements" in turns[1]["text"]
    assert turns[1]["citations"][0]["source"].endswith("001_e2c74f9a2f197b54.txt")


def test_restore_shows_saved_conversation(seed_index: qa.Index) -> None:
    handlers = app.ChatHandlers(seed_index)
    turns = list(handlers.respond(TRADE, [], None))[-1][-1]
    turns += list(handlers.respond(ABSTAIN, turns, None))[-1][-1][-1:]
    chat, sources, copy = handlers.restore(turns)
    assert len(chat) == 4 and 'href="#qa-t0-c1"' in chat[1]["content"]
    assert "Related passages (not cited" in sources and "could not find" in chat[3]["content"]
    assert handlers.restore(None) == ([], render.EMPTY_SOURCES, "")


def test_settings_are_validated(seed_index: qa.Index) -> None:
    handlers = app.ChatHandlers(seed_index)
    with pytest.raises(gr.Error, match="date like"):
        handlers.answer(TRADE, [], {"date_from": "<b>March</b> 2023"})
    with pytest.warns(UserWarning, match="&lt;b&gt;March"):  # a toast outside a request
        steps = list(handlers.respond(TRADE, [], {"date_from": "<b>March</b> 2023"}))
    assert len(steps) == 1 and not any(isinstance(v, str | list) for v in steps[0])
    only_second = {"articles": ["001_e2c74f9a2f197b54"], "k": 3, "mode": "dense"}
    turn = list(handlers.respond(TRADE, [], only_second))[-1][-1][0]
    assert all(h["source"].endswith("001_e2c74f9a2f197b54.txt")
               for h in [c["passage"] for c in turn["citations"]] + turn["related"])
    with pytest.raises(gr.Error, match="between 0 and 1"):
        handlers.answer(ABSTAIN, [], {"min_confidence": "lots"})
    assert handlers.answer(ABSTAIN, [], {"min_confidence": 0.0}).citations
    assert handlers.answer(TRADE, [], {"min_confidence": 1.0}).abstained
    late = {"date_from": "2023-06-01", "date_to": "2023-12-31"}
    turn = list(handlers.respond(TRADE, [], late))[-1][-1][0]
    assert all((c["date"] or "") >= "2023-06-01" for c in turn["citations"])


def test_examples_come_from_the_corpus(seed_index: qa.Index, xss_index: qa.Index) -> None:
    examples = app.example_questions(seed_index)
    assert 1 <= len(examples) <= 4
    assert not any(seed_index.ask(q).abstained for q in examples)
    assert not any(q.abstained for q in map(xss_index.ask, app.example_questions(xss_index)))
    other = render.example_questions(xss_index.passages, lambda q: True)  # not hard-coded
    assert other and all("Port Velmar" in q for q in other)
    asked: list[str] = []
    assert render.example_questions(seed_index.passages, lambda q: asked.append(q) or False,
                                    tries=5) == [] and len(asked) == 5
    assert render.name_questions("Kazakh Prime Minister Alikhan Smailov")[0] == (
        "Who is Alikhan Smailov?")
    assert render.name_questions("Chinese Communist Party")[0] == (
        "What is the Chinese Communist Party?")


def test_corpus_markup_is_text(xss_index: qa.Index) -> None:
    handlers = app.ChatHandlers(xss_index)
    turns: list[Any] = []
    for question in XSS_QUESTIONS:
        *_, chat, sources, copy, turns = list(handlers.respond(question, turns, None))[-1]
        assert not turns[-1]["abstained"], question
        for html in [m["content"] for m in chat] + [sources]:
            assert TagAudit(html).problems() == []
    text = "".join(TagAudit(" ".join(m["content"] for m in chat) + sources).text)
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(1)>" in text
    assert "[click](javascript:alert(1))" in text  # shown as text: markdown is off
    assert "<script>" in copy or "[click](javascript:alert(1))" in copy  # plain text stays text


def test_api_returns_corpus_markup_as_data(xss_index: qa.Index) -> None:
    ask = app.ask_endpoint(xss_index)
    answer = ask(XSS_QUESTIONS[1])
    quotes = " ".join(c["quote"] for c in answer["citations"])
    assert "[click](javascript:alert(1))" in quotes and "<img src=x onerror=alert(1)>" in quotes


def test_import_qa_does_not_import_gradio() -> None:
    code = "import sys, qa; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_share_cores_splits_the_cores_between_requests() -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert app.share_cores(2) == torch.get_num_threads() >= 1
        assert app.share_cores(10_000) == 1
    finally:
        torch.set_num_threads(before)


def test_brackets_inside_a_quote_are_text() -> None:
    quote = "The report [2] said <b>so</b>."
    turn = {"question": "q", "text": f"{quote} [1]", "abstained": False, "related": [],
            "citations": [{"n": 1, "quote": quote, "source": "a.txt", "title": "T", "date": None,
                           "start": 10, "end": 10 + len(quote),
                           "passage": {"text": f"Intro. {quote} More.", "start": 3,
                                       "score": 0.5, "source": "a.txt"}}]}
    html = render.answer_html(turn, 0)
    assert html.count("<a ") == 1 and 'href="#qa-t0-c1"' in html
    assert "The report [2] said &lt;b&gt;so&lt;/b&gt;." in html
    assert render.cited_numbers(turn) == [1]
    sources = render.sources_html(turn, 0, 1)
    assert "<mark>The report [2] said &lt;b&gt;so&lt;/b&gt;.</mark>" in sources
    assert list(render.stream_prefixes(turn["text"], words=2))[-1] == turn["text"]
