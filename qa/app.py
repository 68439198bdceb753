"""The web chat: ask in the browser, read answers whose every sentence cites its passage.

`build_app(index)` makes the Gradio page and its API (`/ask`, `/search`, also MCP tools);
`launch(demo, ...)` starts it in the background with our offline settings; `serve(index, ...)`
does both and blocks, for `qa serve`. Nothing here runs at import.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any, TypeVar

import gradio as gr

from . import app_articles, chat_written, render
from .config import MODES
from .errors import QAError
from .live import LiveIndex
from .manage import ManageConfig, Manager, refusal

if TYPE_CHECKING:
    from .index import Index
    from .llm import LLM
    from .schema import Answer

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONCURRENCY = 2  # engine calls served at once, all endpoints together: a small machine's cores
MAX_TURNS = 50  # turns kept in the conversation saved in the browser
HISTORY_TURNS = 10  # earlier turns passed to the engine to resolve follow-up questions
ENGINE = "engine"  # the concurrency group of every event that calls the engine
DEFAULT_SETTINGS: dict[str, Any] = dict(k=5, mode="hybrid", articles=[], date_from="", date_to="",
                                        min_confidence=None, written=False)
"""The page's controls, in their order; min_confidence None is the trained threshold."""
# Gradio's bundled Source Sans Pro SemiBold lacks most glyphs: semibold text uses Bold.
FONTS = (gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif",
         "system-ui", "sans-serif")
MONO = (gr.themes.LocalFont("IBM Plex Mono"), "ui-monospace", "Consolas", "monospace")


def engine_call(action: Callable[[], T]) -> T:
    """Run an engine call; its errors become a readable `gr.Error` shown in the page."""
    try:
        return action()
    except QAError as exc:
        message = str(exc)
        raise page_error(message[:1].upper() + message[1:], "Cannot answer") from None
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001 - any engine bug must leave the server serving
        logger.exception("the engine failed")
        raise page_error(f"The engine failed ({type(exc).__name__}: {exc}). The server is "
                         "still running; try again or rephrase.", "Engine error") from None


def page_error(message: str, title: str = "Error") -> gr.Error:
    """A `gr.Error` whose message stays text: Gradio renders toast messages as HTML."""
    return gr.Error(escape(message, quote=False), title=title, print_exception=False)


def _iso_date(value: str | None, label: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise page_error(f"{label} must be a date like 2023-03-28, not {value!r}.",
                         "Bad date") from None


def search_options(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The page's controls as `Index.ask` arguments; a `gr.Error` for a bad mode or date."""
    s = {**DEFAULT_SETTINGS, **(settings or {})}
    if s["mode"] not in MODES:
        raise page_error(f"Retrieval mode must be one of {', '.join(MODES)}, not {s['mode']!r}.")
    return {"k": max(1, int(s["k"])), "mode": s["mode"], "sources": list(s["articles"]) or None,
            "date_from": _iso_date(s["date_from"], "From"),
            "date_to": _iso_date(s["date_to"], "To"),
            "min_confidence": _confidence(s["min_confidence"])}


def _confidence(value: Any) -> float | None:
    """A threshold between 0 and 1, or None (the trained one); a `gr.Error` otherwise."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan  # fails the range check below
    if not 0.0 <= number <= 1.0:
        raise page_error(f"min_confidence must be between 0 and 1, not {value!r}.")
    return number


def engine_history(turns: Sequence[render.Turn]) -> list[tuple[str, str]]:
    """The last turns as the engine's `history`: (question, answer text) pairs."""
    return [(t["question"], t["text"]) for t in turns[-HISTORY_TURNS:]]


class ChatHandlers:
    """The page's event handlers, bound to one loaded index that every session shares."""

    def __init__(self, index: Index, llm: LLM | None = None) -> None:
        self.index = index
        self.llm = llm

    def answer(self, question: str, turns: Sequence[render.Turn],
               settings: dict[str, Any] | None) -> Answer:
        """Ask the engine, with the conversation so far as history."""
        options = search_options(settings)
        return engine_call(lambda: self.index.ask(question, history=engine_history(turns),
                                                  **options))

    def respond(self, question: str, turns: list[render.Turn] | None,
                settings: dict[str, Any] | None) -> Iterator[tuple[Any, ...]]:
        """Stream the answer into the chat; outputs: box, chat, sources, copy text, saved turns.

        A bad question or a failure shows as a warning and leaves the page and the question
        as they were (an error would also mark every output with an error badge).
        """
        if self.llm is not None and (settings or {}).get("written"):
            yield from chat_written.respond(self.index, self.llm, question, turns, settings)
            return
        turns = list(turns or [])
        try:
            turn = render.turn_record(self.answer(question, turns, settings))
            turn |= {"origin": "quoted"} if self.llm is not None else {}
        except gr.Error as exc:
            gr.Warning(str(exc.message), title=exc.title)
            yield (gr.skip(),) * 5
            return
        for prefix in render.stream_prefixes(turn["text"]):
            shown = turns + [render.partial_turn(turn, prefix)]
            yield "", *render.view(shown)[:2], gr.skip(), gr.skip()
        turns = (turns + [turn])[-MAX_TURNS:]
        yield "", *render.view(turns), turns

    def restore(self, turns: list[render.Turn] | None) -> tuple[Any, str, str]:
        """Show the conversation saved in the browser (on page load)."""
        return render.view(list(turns or []))

    def select(self, turns: list[render.Turn] | None, evt: gr.SelectData) -> tuple[str, str]:
        """Show the sources of the answer the user clicked in the chat."""
        turns = list(turns or [])
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if not turns or not isinstance(index, int):
            return gr.skip(), gr.skip()
        return render.view(turns, index // 2)[1:]

    @staticmethod
    def clear() -> tuple[Any, ...]:
        """Forget the conversation, in the page and in the browser's storage."""
        return "", [], render.EMPTY_SOURCES, "", []

    @staticmethod
    def example(evt: gr.SelectData) -> str:
        """The text of the example question the user clicked."""
        value = evt.value if isinstance(evt.value, dict) else {}
        return str(value.get("text", ""))


def ask_endpoint(index: Index, llm: LLM | None = None) -> Callable[..., dict[str, Any]]:
    """The `/ask` endpoint, also the MCP tool `ask`: its docstring is the tool's description."""

    def ask(question: str, history: list[str] | None = None,
            min_confidence: float | None = None) -> dict[str, Any]:
        """Answer a question from the loaded articles, quoting them with citations.

        Every sentence of `text` is quoted verbatim from an article and ends with a [n]
        marker; citation n gives that quote, the article title, date, source file and the
        quote's character offsets in the article. If the articles do not answer the question,
        `abstained` is true, `text` says so, `citations` is empty and `related` lists the
        closest passages. Ask one factual question at a time; pass earlier questions as
        `history` so that follow-ups such as "What did he say about it?" resolve. When the
        server has a language model, `generated` is true if it wrote `text` (every sentence
        checked against the quote it cites), `dropped` lists its sentences removed as
        unsupported, and `notice` says why an answer fell back to quoting.

        Args:
            question: the question, in plain words (1 to 2000 characters).
            history: earlier questions of this conversation, oldest first (optional).
            min_confidence: abstain below this confidence, 0 to 1 (optional; by default
                the server's trained threshold). Lower answers more questions, more of them
                wrongly.

        Returns:
            a dict with the question, the answer text, abstained (true or false) and
            confidence (0 to 1: how likely the articles hold the answer)
            citations: the n, quote, source, title, date, start, end and passage_id of each
            related: the closest passages, given only when the bot abstained
            generated, dropped, notice: whether the model wrote it, its removed sentences, why
            it fell back
        """
        turns = [h if isinstance(h, str) else tuple(h) for h in (history or [])]
        threshold = _confidence(min_confidence)
        return render.api_record(engine_call(lambda: index.ask(
            question, history=turns, llm=llm, min_confidence=threshold)))

    return ask


def search_endpoint(index: Index) -> Callable[..., list[dict[str, Any]]]:
    """The `/search` endpoint, also the MCP tool `search`."""

    def search(query: str, k: int = 5, mode: str = "hybrid") -> list[dict[str, Any]]:
        """Find the passages of the loaded articles that best match a query, best first.

        Use it to explore what the articles contain; use `ask` for a cited answer. Each hit
        has the passage text, article title, date, source file, the passage's character
        offsets (start, end) in the article, and its score.

        Args:
            query: keywords or a question (1 to 2000 characters).
            k: how many passages to return (1 to 50).
            mode: "hybrid" (default, dense + BM25), "dense" (semantic) or "bm25" (keywords).

        Returns:
            a list of passages, best first, each with its text, title, date, source
            start and end (character offsets in the article), passage_id, score and rank
        """
        options = search_options({"k": min(max(int(k), 1), 50), "mode": mode})
        hits = engine_call(lambda: index.search(query, k=options["k"], mode=options["mode"]))
        return [render.search_record(h) for h in hits]

    return search


def stream_function(index: Index) -> Callable[..., Iterator[str]]:
    """An undocumented streaming endpoint: the answer text, growing (for benchmarks)."""

    def ask_stream(question: str, history: list[str] | None = None) -> Iterator[str]:
        """Stream the answer text to `question`, as the chat shows it."""
        answer = engine_call(lambda: index.ask(question, history=list(history or [])))
        yield from render.stream_prefixes(answer.text)

    return ask_stream


def example_questions(index: Index, n: int = 4) -> list[str]:
    """Up to `n` questions about names the corpus mentions most, each one the bot answers."""

    def answered(question: str) -> bool:
        try:
            return not index.ask(question).abstained
        except QAError:
            return False

    return render.example_questions(index.passages, answered, n=n)


def _storage_ids(index: Index) -> tuple[str, str]:
    """(localStorage key, secret) for saved conversations: stable for one index and model."""
    digest = hashlib.sha256(f"{index.path.resolve()}|{index.model}".encode()).hexdigest()
    return f"qa-chat-{digest[:12]}", digest[12:44]


def theme() -> gr.themes.Base:
    """The default theme with fonts bundled in Gradio or on the system: no web fonts."""
    return gr.themes.Default(primary_hue="indigo", font=FONTS, font_mono=MONO)


def _controls(index: Index) -> list[Any]:
    """The retrieval controls: passages, mode, articles, date range, and the confidence
    below which the bot abstains (starting at the trained threshold)."""
    dates = sorted(p.date for p in index.passages if p.date)
    with gr.Accordion("Search settings", open=False):
        with gr.Row():
            k = gr.Slider(1, 20, value=DEFAULT_SETTINGS["k"], step=1, label="Passages to read")
            mode = gr.Radio([("Hybrid", "hybrid"), ("Dense", "dense"), ("BM25", "bm25")],
                            value="hybrid", label="Retrieval")
        articles = gr.Dropdown(render.article_choices(index.passages), multiselect=True, value=[],
                               label="Only these articles (all when empty)", filterable=True)
        first, last = (dates[0], dates[-1]) if dates else ("YYYY-MM-DD", "YYYY-MM-DD")
        with gr.Row():
            date_from = gr.Textbox(label="From date", placeholder=first)
            date_to = gr.Textbox(label="To date", placeholder=last)
        caution = gr.Slider(0, 1, value=round(index.answerer.threshold(), 2), step=0.01,
                            label="Answer only when this sure (lower: more answers, more of "
                                  "them wrong; higher: more refusals)",
                            elem_id="qa-min-confidence")
    return [k, mode, articles, date_from, date_to, caution]


def _chat_column(examples: list[str]) -> tuple[Any, Any, Any, Any]:
    """The chat, the question box and its buttons."""
    chat = gr.Chatbot(
        label="Chat", height=560, render_markdown=False, sanitize_html=True, allow_tags=False,
        latex_delimiters=[], buttons=[], feedback_options=None, layout="bubble",
        examples=[{"text": q} for q in examples] or None,
        placeholder="Ask a question about the articles. Each answer sentence is quoted from "
                    "an article and cited; click a [n] to see its source.")
    with gr.Row(equal_height=True):
        box = gr.Textbox(show_label=False, placeholder="Ask a question…", scale=6,
                         container=False, autofocus=True, elem_id="qa-question")
        send = gr.Button("Ask", variant="primary", scale=0, min_width=90, elem_id="qa-ask")
        clear = gr.Button("Clear chat", scale=0, min_width=140, elem_id="qa-clear")
    return chat, box, send, clear


def _sources_column() -> tuple[Any, Any]:
    """The sources panel and the copyable plain-text answer."""
    sources = gr.HTML(render.EMPTY_SOURCES, elem_id="qa-sources", padding=True)
    with gr.Accordion("Copy this answer with its citations", open=False):
        copy = gr.Textbox(label="Plain text, ready to paste", lines=6, max_lines=14,
                          interactive=False, buttons=["copy"], elem_id="qa-copy")
    return sources, copy


def _wire(handlers: ChatHandlers, page: dict[str, Any], controls: list[Any]) -> None:
    """Connect the page's events (all private: not API endpoints, not MCP tools)."""
    box, chat, turns = page["box"], page["chat"], page["turns"]
    outputs = [box, chat, page["sources"], page["copy"], turns]
    private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    ask = {"fn": handlers.respond, "inputs": [box, turns, page["settings"]], "outputs": outputs,
           "concurrency_limit": CONCURRENCY, "concurrency_id": ENGINE, **private,
           "show_progress": "minimal"}
    gr.on([box.submit, page["send"].click], **ask)
    chat.example_select(handlers.example, None, box, queue=False, **private).then(**ask)
    gr.on([page["clear"].click, chat.clear], handlers.clear, None, outputs, queue=False,
          **private)
    chat.select(handlers.select, [turns], [page["sources"], page["copy"]], queue=False,
                **private)
    gr.on([c.change for c in controls], lambda *v: dict(zip(DEFAULT_SETTINGS, v, strict=True)),
          controls, page["settings"], queue=False, **private)
    page["demo"].load(handlers.restore, [turns], [chat, page["sources"], page["copy"]],
                      queue=False, **private)


def build_app(index: Index, *, manage: ManageConfig | None = None,
              llm: LLM | None = None) -> gr.Blocks:
    """The chat page for `index`, with its `/ask` and `/search` API endpoints, and its
    Articles view with `/articles`, `/add` and `/remove` (see `qa.app_articles`).

    Args:
        index: the loaded index; its model is loaded once and shared by every session.
        manage: whether and how the page may add and remove articles (default: it may,
            when served on a loopback address or with a login; see `qa.manage`).
        llm: a model server to write answers (checked sentence by sentence); the page
            then has a toggle to ask either way, and `/ask` uses it.

    Returns:
        The Gradio app, not yet launched: start it with `launch` (or `serve`).
    """
    live = LiveIndex(index)
    handlers = ChatHandlers(live, llm)  # type: ignore[arg-type]
    key, secret = _storage_ids(index)
    with gr.Blocks(title="qa: ask the articles", analytics_enabled=False) as demo:
        settings = {**DEFAULT_SETTINGS, "written": llm is not None}
        page: dict[str, Any] = {"demo": demo, "settings": gr.State(settings),
                                "turns": gr.BrowserState([], storage_key=key, secret=secret)}
        header = gr.HTML(render.header_html(index.manifest))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                page["chat"], page["box"], page["send"], page["clear"] = _chat_column(
                    example_questions(index))
                written = chat_written.toggle(llm)
                controls = [*_controls(index), written]
            with gr.Column(scale=2):
                page["sources"], page["copy"] = _sources_column()
        _wire(handlers, page, controls)
        config = manage or ManageConfig()
        app_articles.articles_view(
            demo, live, Manager(live, config), controls=not config.read_only, header=header,
            refusal=lambda: refusal(read_only=config.read_only, host=demo.server_name,
                                    auth=demo.auth))
        engine = {"concurrency_limit": CONCURRENCY, "concurrency_id": ENGINE}
        gr.api(ask_endpoint(live, llm), api_name="ask", **engine)  # type: ignore[arg-type]
        gr.api(search_endpoint(live), api_name="search", **engine)  # type: ignore[arg-type]
        gr.api(stream_function(live), api_name="ask_stream", api_visibility="undocumented",
               **engine)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    demo.qa_upload_bytes = (manage or ManageConfig()).limits.file_bytes  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860,
           auth: tuple[str, str] | None = None, mcp: bool = False, quiet: bool = True) -> str:
    """Start serving `demo` in a background thread, offline: no share link, no analytics.

    Args:
        demo: an app from `build_app`.
        host: address to bind; 127.0.0.1 keeps the page on this machine.
        port: port to listen on.
        auth: (user, password) required to open the page.
        mcp: also serve the `ask` and `search` MCP tools at /gradio_api/mcp/.
        quiet: hide Gradio's own start-up messages.

    Returns:
        The page's local URL.

    Raises:
        QAError: if the port is taken; for `mcp` with `auth` (MCP calls would lack the login).
    """
    if mcp and auth:
        raise QAError("--mcp cannot be combined with --auth: the MCP tools would be refused")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # also for the MCP loopback client
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, auth=auth, share=False, mcp_server=mcp,
            prevent_thread_lock=True, quiet=quiet, ssr_mode=False, pwa=False,
            enable_monitoring=False, run_history=False, footer_links=["api", "settings"],
            theme=theme(), css=render.CSS + app_articles.CSS, js=render.JS,
            max_file_size=getattr(demo, "qa_upload_bytes", None))
    except OSError as exc:
        raise QAError(f"cannot serve on {host}:{port} ({exc}); try --port") from None
    if mcp and demo.mcp_error:
        demo.close()
        raise QAError(f"cannot start the MCP server: {demo.mcp_error}")
    return url


def share_cores(concurrency: int) -> int:
    """Split the CPU cores between `concurrency` simultaneous requests (PyTorch threads).

    By default each encode uses every core; when two run at once, or anything else keeps a
    core busy, the threads wait on each other: 1.4 s instead of 0.08 s an answer on 2 cores.

    Returns:
        The number of threads each request now uses.
    """
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cores or 1) // concurrency)
    torch.set_num_threads(threads)
    return threads


def serve(index: Index, *, host: str = "127.0.0.1", port: int = 7860,
          auth: tuple[str, str] | None = None, mcp: bool = False,
          manage: ManageConfig | None = None, llm: LLM | None = None) -> None:
    """Serve the chat for `index` until interrupted, printing its address (for `qa serve`).

    Args:
        index: the loaded index.
        host: address to bind (default: this machine only).
        port: port to listen on.
        auth: (user, password) required to open the page.
        mcp: also serve the `ask` and `search` MCP tools.
        manage: whether and how the page may add and remove articles.
        llm: a model server that writes the answers (see `build_app`).
    """
    share_cores(CONCURRENCY)
    demo = build_app(index, manage=manage, llm=llm)
    url = launch(demo, host=host, port=port, auth=auth, mcp=mcp)
    counts = index.manifest["counts"]
    print(f"qa: chat on {counts['articles']} articles ({counts['passages']} passages) "
          f"at {url}", flush=True)
    if mcp:
        print(f"qa: MCP tools `ask`, `search`, `articles`, `add` and `remove` at "
              f"{url.rstrip('/')}/gradio_api/mcp/", flush=True)
    if llm:
        print(f"qa: answers written by {llm.model} at {llm.host}, every sentence checked",
              flush=True)
    print("qa: press Ctrl+C to stop", flush=True)
    demo.block_thread()
