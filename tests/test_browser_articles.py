"""The Articles view in a real browser: upload, progress, cited PDF page, removal, read-only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import qa
from qa import app
from qa.embed import Encoder
from qa.manage import ManageConfig
from tests import stories
from tests.helpers import TRADE, free_port
from tests.test_browser import Chat, browser  # noqa: F401 - the module's browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("threads_as_served")]
PDF_QUESTION = stories.FACTS[1].question
WATCH_STATUS = """() => {
  window.qaStatus = [];
  const box = document.querySelector('#qa-manage-status');
  new MutationObserver(() => window.qaStatus.push(box.innerText)).observe(
    box, {childList: true, subtree: true, characterData: true});
}"""


def serve(index: qa.Index, **manage: Any) -> tuple[Any, str]:
    demo = app.build_app(index, manage=ManageConfig(**manage))
    return demo, app.launch(demo, port=free_port())


@pytest.fixture()
def managed_url(index_copy: Path, embedder: Encoder, tmp_path: Path) -> Iterator[str]:
    demo, url = serve(qa.load(index_copy, embedder=embedder), uploads=tmp_path / "uploads")
    yield url
    demo.close()


def open_articles(chat: Chat) -> Any:
    chat.page.click("#qa-articles button:has-text('Articles'), #qa-articles >> text=Articles")
    chat.page.wait_for_selector("#qa-articles-table table")
    return chat.page.locator("#qa-articles")


def shoot(chat: Chat, tmp_path: Path, name: str, locator: Any | None = None) -> None:
    """A screenshot; QA_SCREENSHOT_DIR=docs also keeps it there for the README."""
    shot = tmp_path / name
    (locator or chat.page).screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("QA_SCREENSHOT_DIR"):
        shutil.copyfile(shot, Path(os.environ["QA_SCREENSHOT_DIR"]) / name)


def test_upload_ask_cite_the_page_and_remove(browser: Any, managed_url: str,  # noqa: F811
                                             mixed_folder: Path, tmp_path: Path) -> None:
    chat = Chat(browser, managed_url, width=1280, height=900, scale=2)
    try:
        page = chat.page
        view = open_articles(chat)
        assert "2 of 2 articles" in view.inner_text()
        page.evaluate(WATCH_STATUS)
        page.set_input_files("#qa-upload input[type=file]", [
            str(mixed_folder / "bridge.html"), str(mixed_folder / "osterbeck-report.pdf")])
        page.wait_for_selector("#qa-upload >> text=osterbeck-report")  # name, ending apart
        page.click("#qa-add")
        page.wait_for_selector("#qa-manage-status >> text=/Added 2/")
        seen = page.evaluate("window.qaStatus")
        assert any("Reading bridge.html" in s for s in seen)
        assert any("Embedding" in s and "new passages" in s for s in seen)
        assert "4 of 4 articles" in view.inner_text() and "pdf" in view.inner_text()
        page.wait_for_selector(".qa-corpus >> text=/^4 articles/")  # the header follows
        assert "Glass bridge opens over the Tarven gorge" in view.inner_text()
        shoot(chat, tmp_path, "articles.png", view)
        page.fill("#qa-articles-search input, #qa-articles-search textarea", "osterbeck")
        page.wait_for_selector("#qa-articles-table >> text=1 of 4 articles")
        assert "Glass bridge" not in page.locator("#qa-articles-table").inner_text()
        page.click("#qa-articles >> text=Articles")  # fold the view away again
        page.evaluate("window.scrollTo(0, 0)")
        answer = chat.ask(PDF_QUESTION)
        assert "1,870 gigawatt hours" in answer.inner_text()
        card = chat.sources().locator(".qa-card.qa-cited").first
        assert "page 2" in card.inner_text() and "osterbeck-report.pdf" in card.inner_text()
        assert "1,870 gigawatt hours" in card.locator("mark").inner_text()
        page.mouse.move(0, 0)
        shoot(chat, tmp_path, "pdf-answer.png")
        page.click("#qa-articles >> text=Articles")
        page.click("#qa-remove-pick input")
        page.keyboard.type("osterbeck")
        page.click("[data-testid=dropdown-option][aria-label='osterbeck-report.pdf']")
        page.click("#qa-remove")
        page.wait_for_selector("#qa-manage-status >> text=/Removed 1/")
        after = chat.ask(PDF_QUESTION)
        assert "osterbeck-report.pdf" not in chat.sources().inner_text()
        assert "1,870" not in after.inner_text()
        assert "34 percent" in chat.ask(TRADE).inner_text()
        chat.check_offline()
        assert chat.dialogs == []
    finally:
        chat.close()


def test_read_only_page_has_no_controls_and_refuses_add(browser: Any,  # noqa: F811
                                                        seed_index: qa.Index) -> None:
    demo, url = serve(seed_index, read_only=True)
    chat = Chat(browser, url)
    try:
        view = open_articles(chat)
        assert "2 of 2 articles" in view.inner_text()
        for control in ("#qa-upload", "#qa-add", "#qa-remove", "#qa-addresses"):
            assert chat.page.locator(control).count() == 0
        call = httpx.post(url.rstrip("/") + "/gradio_api/call/remove",
                          json={"data": [[seed_index.manifest["sources"][0]["source"]]]})
        events = httpx.get(url.rstrip("/") + f"/gradio_api/call/remove/{call.json()['event_id']}")
        assert "read-only" in events.text
    finally:
        chat.close()
        demo.close()
