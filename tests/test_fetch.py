"""Fetching addresses from a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.corpus import read_corpus
from qa.embed import Encoder
from qa.errors import IngestError
from qa.fetch import FetchLimits, fetch
from qa.formats import ReadOptions
from tests import stories
from tests.writers import news_page, rss_feed

SEEN_AGENTS: list[str] = []


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `routes` (path -> (status, content type, body)) and a few special paths."""

    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        SEEN_AGENTS.append(self.headers.get("User-Agent", ""))
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        status, kind, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if self.path == "/bomb":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(mixed_folder: Path) -> Iterator[str]:
    Handler.routes = {
        "/page": (200, "text/html; charset=utf-8", news_page(stories.BRIDGE).encode()),
        "/report": (200, "application/pdf",
                    (mixed_folder / "osterbeck-report.pdf").read_bytes()),
        "/feed": (200, "application/rss+xml", rss_feed([stories.FERRY, stories.CHOIR])),
        "/big": (200, "text/plain", b"word " * 300_000),
        "/bomb": (200, "text/html", gzip.compress(b"<html>" + b" " * 50_000_000)),
        "/slow": (200, "text/plain", b"late"),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_page_pdf_and_feed_are_read_by_content_type(server: str) -> None:
    corpus = read_corpus([f"{server}/page", f"{server}/report", f"{server}/feed"])
    page, report, *feed = corpus.articles
    assert (page.format, page.text, page.url) == ("html", stories.BRIDGE.text, stories.BRIDGE.url)
    assert (report.format, len(report.pages), report.url) == ("pdf", 3, f"{server}/report")
    assert [a.url for a in feed] == [stories.FERRY.url, stories.CHOIR.url]
    assert feed[0].source == f"{server}/feed:1"
    assert [f.path for f in corpus.files] == [f"{server}/page", f"{server}/report", f"{server}/feed"]
    assert SEEN_AGENTS[-1].startswith("qa/") and "fetches only" in SEEN_AGENTS[-1]


def test_redirects_are_followed_to_the_final_address(server: str) -> None:
    got = fetch(f"{server}/moved")
    assert got.url == f"{server}/page" and got.content_type.startswith("text/html")
    with pytest.raises(IngestError, match="more than 5 redirects"):
        fetch(f"{server}/loop")


@pytest.mark.parametrize(("path", "limits", "message"), [
    ("/missing", FetchLimits(), "HTTP 404 Not Found"),
    ("/slow", FetchLimits(timeout=0.5), "no answer within 0.5 s"),
    ("/big", FetchLimits(max_bytes=100_000), "larger than the limit of 100,000 bytes"),
    ("/bomb", FetchLimits(max_bytes=1_000_000), "larger than the limit of 1,000,000 bytes"),
])
def test_failures_are_one_line_errors_naming_the_address(server: str, path: str,
                                                         limits: FetchLimits, message: str) -> None:
    with pytest.raises(IngestError, match=message) as caught:
        fetch(f"{server}{path}", limits=limits)
    assert str(caught.value).startswith(f"{server}{path}: ") and "\n" not in str(caught.value)


def test_bad_addresses_and_closed_ports() -> None:
    with pytest.raises(IngestError, match="not an http"):
        fetch("http://")
    with pytest.raises(IngestError, match="cannot fetch"):
        fetch("http://127.0.0.1:9/")


def test_size_limit_of_the_build_applies_to_downloads(server: str) -> None:
    with pytest.raises(IngestError, match="larger than the limit of 200,000 bytes"):
        read_corpus([f"{server}/big"], options=ReadOptions(max_bytes=200_000))


def test_build_and_ask_from_an_address(server: str, embedder: Encoder, tmp_path: Path) -> None:
    index = qa.build([f"{server}/report"], tmp_path / "idx", embedder=embedder)
    answer = index.ask(stories.FACTS[1].question)
    cited = next(c for c in answer.citations if "1,870" in c.quote)
    assert (cited.source, cited.page, cited.url) == (f"{server}/report", 2, f"{server}/report")
    assert qa.load(tmp_path / "idx", embedder=embedder).manifest["sources"][0]["mtime_ns"] == 0
