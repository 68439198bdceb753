"""The Articles endpoints of a live server, through gradio_client and plain HTTP."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file

import qa
from qa import app, app_articles
from qa.articles import listing
from qa.embed import Encoder
from qa.manage import ManageConfig
from tests import stories
from tests.helpers import TRADE, free_port
from tests.writers import news_page

pytestmark = pytest.mark.usefixtures("threads_as_served")


def serve(index: qa.Index, **manage: Any) -> tuple[Any, str, Client]:
    demo = app.build_app(index, manage=ManageConfig(**manage))
    url = app.launch(demo, port=free_port())
    return demo, url, Client(url, verbose=False)


@pytest.fixture()
def served(index_copy: Path, embedder: Encoder, tmp_path: Path) -> Iterator[tuple[str, Client]]:
    demo, url, client = serve(qa.load(index_copy, embedder=embedder),
                              uploads=tmp_path / "uploads")
    yield url, client
    demo.close()


@pytest.fixture()
def page_server() -> Iterator[str]:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = news_page(stories.BRIDGE).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/2024/bridge"
    httpd.shutdown()
    httpd.server_close()


def test_add_list_ask_and_remove_through_the_api(served: tuple[str, Client], mixed_folder: Path,
                                                 page_server: str) -> None:
    _, client = served
    added = client.predict([handle_file(str(mixed_folder / "osterbeck-report.pdf"))],
                           page_server, api_name="/add")
    assert added["skipped"] == [] and len(added["done"]) == 2 and added["articles"] == 4
    listed = client.predict("", api_name="/articles")
    assert [a["format"] for a in listed] == ["text", "text", "pdf", "html"]
    assert listed[3]["url"] == stories.BRIDGE.url and listed[3]["file"] == page_server
    answer = client.predict(stories.FACTS[1].question, api_name="/ask")
    cited = next(c for c in answer["citations"] if "1,870" in c["quote"])
    assert cited["page"] == 2 and cited["source"] == added["done"][0]
    assert client.predict(stories.FACTS[0].question, api_name="/ask")["citations"][0][
        "url"] == stories.BRIDGE.url
    removed = client.predict([added["done"][0], page_server], api_name="/remove")
    assert removed["articles"] == 2
    assert [a["format"] for a in client.predict("", api_name="/articles")] == ["text", "text"]
    assert "34 percent" in client.predict(TRADE, api_name="/ask")["text"]


def test_a_bad_upload_is_reported_and_the_server_keeps_answering(
        served: tuple[str, Client], tmp_path: Path) -> None:
    _, client = served
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ" + bytes(100))
    result = client.predict([handle_file(str(bad))], "", api_name="/add")
    assert result["done"] == [] and result["skipped"][0]["reason"].startswith("notes.exe: not a")
    with pytest.raises(Exception, match="Not in the index"):
        client.predict(["missing.txt"], api_name="/remove")
    assert len(client.predict("", api_name="/articles")) == 2
    assert "34 percent" in client.predict(TRADE, api_name="/ask")["text"]


def test_a_read_only_server_refuses_changes(seed_index: qa.Index, mixed_folder: Path) -> None:
    demo, _, client = serve(seed_index, read_only=True)
    try:
        with pytest.raises(Exception, match="read-only"):
            client.predict([handle_file(str(mixed_folder / "bridge.html"))], "", api_name="/add")
        with pytest.raises(Exception, match="read-only"):
            client.predict([seed_index.manifest["sources"][0]["source"]], api_name="/remove")
        assert len(client.predict("", api_name="/articles")) == 2
    finally:
        demo.close()


def test_file_routes_serve_nothing_outside_the_upload_folder(served: tuple[str, Client],
                                                            index_copy: Path) -> None:
    url, client = served
    kept = client.predict([handle_file(str(Path(__file__)))], "", api_name="/add")
    assert kept["skipped"]  # a .py file is not an article
    for target in ["/etc/passwd", str(index_copy / "articles.jsonl"), "../../../../etc/passwd",
                   str(Path(__file__)), "%2Fetc%2Fpasswd"]:
        for route in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
            response = httpx.get(url.rstrip("/") + route + target)
            assert response.status_code in (403, 404), (route, target)
            assert "root:" not in response.text
    call = httpx.post(url.rstrip("/") + "/gradio_api/call/add", json={"data": [
        [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}], ""]})
    events = httpx.get(url.rstrip("/") + f"/gradio_api/call/add/{call.json()['event_id']}").text
    assert "event: error" in events and "root:" not in events


def test_articles_table_escapes_titles_and_links_only_web_addresses(xss_index: qa.Index) -> None:
    listed = listing(xss_index)
    html = app_articles.articles_html(listed, len(listed))
    assert "<script>" in listed[0].title and "<script>" not in html and "&lt;script&gt;" in html
    row = listed[0]
    forged = type(row)(**{**row.to_dict(), "title": "<img src=x onerror=alert(1)>",
                          "url": "javascript:alert(1)"})
    html = app_articles.articles_html([forged], 1)
    assert "<img" not in html and "&lt;img src=x" in html and "javascript:" not in html
    safe = type(row)(**{**row.to_dict(), "url": "https://example.org/a?b=1&c=2"})
    assert 'href="https://example.org/a?b=1&amp;c=2"' in app_articles.articles_html([safe], 1)
    assert 'rel="noopener noreferrer nofollow"' in app_articles.articles_html([safe], 1)
