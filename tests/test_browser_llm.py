"""A model-written answer in a real browser: Chromium on the chat, a real llama.cpp server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from qa import app
from tests.helpers import TRADE, WRITTEN, free_port
from tests.test_browser import Chat, browser  # noqa: F401 - the module's Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.llm, pytest.mark.usefixtures("threads_as_served")]

# Records the class of every sentence the streaming answer shows, as it changes.
WATCH = """() => {
  window.qaSeen = new Set();
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('.qa-written.qa-streaming .qa-sent'))
      window.qaSeen.add(el.className);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def written_url(seed_index: qa.Index, llm: qa.LLM) -> Iterator[str]:
    demo = app.build_app(seed_index, llm=llm)
    url = app.launch(demo, port=free_port())
    yield url
    demo.close()


def test_written_answer_streams_and_shows_checked_sentences_and_sources(
        browser: Any, written_url: str, tmp_path: Path) -> None:  # noqa: F811
    chat = Chat(browser, written_url)
    page = chat.page
    try:
        assert page.locator("#qa-written-toggle input").is_checked()
        page.evaluate(WATCH)
        answer = chat.ask(WRITTEN)
        seen = page.evaluate("() => [...window.qaSeen]")
        assert any("qa-pending" in c for c in seen), seen  # the model's words, as they came
        assert any("qa-checked" in c for c in seen), seen  # then settled, sentence by sentence
        text = answer.inner_text()
        assert "Written by the model" in text and "[1]" in text, text
        assert answer.locator("a.qa-cite-link").count() >= 1
        card = chat.sources().locator(".qa-card").first  # the quoted article sentence
        quote = card.locator("mark").inner_text()
        assert len(quote.split()) >= 4 and ".txt" in card.inner_text()
        if answer.locator("details.qa-dropped").count():  # removed sentences, on request
            answer.locator("details.qa-dropped summary").click()
            assert "removed:" in answer.locator("details.qa-dropped li").first.inner_text()
        page.screenshot(path=str(tmp_path / "written.png"), full_page=True)
        page.click("#qa-written-toggle input")  # ask the other way: quoted from the articles
        quoted = chat.ask(TRADE)
        assert "Quoted from the articles" in quoted.inner_text()
        assert "34 percent" in quoted.inner_text()
        chat.check_offline()
        assert chat.dialogs == []
    finally:
        chat.close()
