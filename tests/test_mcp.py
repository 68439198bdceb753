"""`qa serve --mcp`: the `ask` and `search` tools, reached with the mcp client over loopback."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
from collections.abc import Iterator
from typing import Any

import gradio as gr
import pytest

import qa
from qa import app
from tests.helpers import TRADE, free_port

pytestmark = pytest.mark.usefixtures("threads_as_served")


@pytest.fixture(scope="module")
def mcp_served(seed_index: qa.Index) -> Iterator[tuple[str, str]]:
    """`serve(..., mcp=True)` as `qa serve --mcp` calls it; yields (printed text, MCP URL)."""
    built: list[gr.Blocks] = []
    real_build = app.build_app
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "build_app",
                   lambda index, **kw: built.append(real_build(index, **kw)) or built[-1])
        mp.setattr(gr.Blocks, "block_thread", lambda self: None)  # return instead of blocking
        mp.setattr(app, "share_cores", lambda concurrency: 1)  # keep torch's threads as they are
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            app.serve(seed_index, port=free_port(), mcp=True)
    printed = out.getvalue()
    url = next(w for w in printed.split() if w.endswith("/gradio_api/mcp/"))
    yield printed, url
    built[0].close()


async def mcp_session(url: str, work: Any) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as s:
        await s.initialize()
        return await work(s)


def test_serve_prints_page_and_mcp_addresses(mcp_served: tuple[str, str]) -> None:
    printed, url = mcp_served
    assert "at http://127.0.0.1:" in printed and url.startswith("http://127.0.0.1:")


def test_tools_are_ask_and_search_with_useful_descriptions(mcp_served: tuple[str, str]) -> None:
    tools = asyncio.run(mcp_session(mcp_served[1], lambda s: s.list_tools())).tools
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"ask", "search", "articles", "add", "remove"}
    assert "sources" in by_name["remove"].inputSchema["properties"]
    ask = by_name["ask"]
    assert "citation" in ask.description and "abstained" in ask.description
    assert ask.inputSchema["required"] == ["question"]
    assert "question" in ask.inputSchema["properties"]["question"]["description"]
    assert "k" in by_name["search"].inputSchema["properties"]


def test_ask_tool_returns_citations(mcp_served: tuple[str, str]) -> None:
    result = asyncio.run(mcp_session(
        mcp_served[1], lambda s: s.call_tool("ask", {"question": TRADE})))
    assert not result.isError
    text = " ".join(c.text for c in result.content if c.type == "text")
    answer = ast.literal_eval(text)  # Gradio's MCP bridge sends a dict result as str(dict)
    assert answer["abstained"] is False and "34 percent" in answer["text"]
    assert answer["citations"][0]["source"].endswith("000_ed18d489a2ac6f1b.txt")
    assert (answer["generated"], answer["dropped"], answer["notice"]) == (False, [], None)


def test_search_tool(mcp_served: tuple[str, str]) -> None:
    result = asyncio.run(mcp_session(
        mcp_served[1], lambda s: s.call_tool("search", {"query": "trade 2022", "k": 2})))
    hits = ast.literal_eval(" ".join(c.text for c in result.content if c.type == "text"))
    assert 1 <= len(hits) <= 2 and {"text", "title", "source"} <= set(hits[0])


def test_articles_tool_lists_the_corpus(mcp_served: tuple[str, str]) -> None:
    result = asyncio.run(mcp_session(mcp_served[1], lambda s: s.call_tool("articles", {})))
    listed = ast.literal_eval(" ".join(c.text for c in result.content if c.type == "text"))
    assert [a["file"].rsplit("/", 1)[-1] for a in listed] == [
        "000_ed18d489a2ac6f1b.txt", "001_e2c74f9a2f197b54.txt"]
    assert {"title", "date", "passages", "format"} <= set(listed[0])


def test_mcp_with_auth_is_refused_with_a_message() -> None:
    with pytest.raises(qa.QAError, match="--auth"):
        app.launch(gr.Blocks(), port=free_port(), auth=("ann", "secret"), mcp=True)
