"""The chat page's Articles view and the `/articles`, `/add` and `/remove` endpoints.

The view lists every article (title, date, source, format, passages) with a search box
over titles; where the server may change the corpus (`qa.manage.refusal`) it also has an
upload area, a box for addresses, progress while indexing, and removal. The endpoints
exist on every server, so a refused change is a clear message, never a missing endpoint.
Article text and titles are data, never markup: everything shown is escaped, and an
article's own address is a plain link that the page never loads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from . import articles as stored_articles
from . import formats, render
from .errors import QAError
from .manage import Change, Manager

if TYPE_CHECKING:
    from .live import LiveIndex

Refusal = Callable[[], "str | None"]
MANAGE = "manage"  # concurrency group: one change at a time
SHOWN = 500  # rows shown in the page's table (the search box finds the others)


def _link(url: str | None) -> str:
    if not url or not url.lower().startswith(("http://", "https://")):
        return ""
    return (f' <a class="qa-url" href="{escape(url)}" target="_blank" '
            f'rel="noopener noreferrer nofollow">link</a>')


def articles_html(listed: Sequence[stored_articles.Listed], total: int) -> str:
    """The articles as an HTML table, every string escaped."""
    rows = "".join(
        f"<tr><td>{escape(a.title)}{_link(a.url)}</td><td>{escape(a.date or '')}</td>"
        f'<td><code title="{escape(a.source)}">{escape(_short(a.source))}</code></td>'
        f"<td>{escape(a.format)}</td><td class=\"qa-num\">{a.passages}</td></tr>"
        for a in listed[:SHOWN])
    more = f" (showing {SHOWN})" if len(listed) > SHOWN else ""
    head = (f'<div class="qa-articles-count">{len(listed):,} of {total:,} articles{more}</div>'
            "<table class=\"qa-articles\"><thead><tr><th>Title</th><th>Date</th><th>Source</th>"
            "<th>Format</th><th>Passages</th></tr></thead>")
    return f"{head}<tbody>{rows}</tbody></table>"


def _short(source: str) -> str:
    return source if source.lower().startswith(("http://", "https://")) else Path(source).name


def change_html(change: Change, verb: str) -> str:
    """What an add or remove did, for the status line."""
    parts = []
    if change.done:
        names = ", ".join(_short(s) for s in change.done[:5])
        parts.append(f"{verb} {len(change.done)}: {escape(names)}. The index now holds "
                     f"{change.articles:,} articles, {change.passages:,} passages.")
    for source, reason in change.skipped:
        parts.append(f"Skipped {escape(_short(source))}: {escape(reason)}")
    if not change.done:
        parts.insert(0, "Nothing was added; the index is unchanged.")
    return "".join(f"<p>{p}</p>" for p in parts)


class ArticleHandlers:
    """The Articles view's events and the management endpoints, for one served index."""

    def __init__(self, live: LiveIndex, manager: Manager, refusal: Refusal) -> None:
        self.live = live
        self.manager = manager
        self.refusal = refusal

    def table(self, query: str | None = "") -> str:
        index = self.live.current()
        return articles_html(stored_articles.listing(index, query or ""),
                             int(index.manifest["counts"]["articles"]))

    def refresh(self) -> Any:
        """On page load: the table and the remove picker as the index is now, and the
        controls shown only where a change would be allowed."""
        return self.table(), self.choices(), gr.update(visible=self.refusal() is None)

    def header(self) -> str:
        """The page header with the counts of the index served now."""
        return render.header_html(self.live.current().manifest)

    def choices(self) -> Any:
        """The remove picker's choices: every source of the index, by name."""
        index = self.live.current()
        names = [(_short(r["source"]), r["source"]) for r in index.manifest["sources"]]
        return gr.update(choices=names, value=[])

    def _check(self) -> None:
        reason = self.refusal()
        if reason:
            raise QAError(reason)

    def add(self, files: list[str] | None, addresses: str | None,
            query: str | None) -> Iterator[tuple[Any, ...]]:
        """Add from the page: status lines while it runs, then the new table and picker."""
        messages: queue.Queue[str | tuple[str, Change | QAError]] = queue.Queue()

        def work() -> None:
            try:
                self._check()
                change = self.manager.add(files or [], (addresses or "").splitlines(),
                                          report=messages.put)
                messages.put(("done", change))
            except QAError as exc:
                messages.put(("done", exc))

        threading.Thread(target=work, daemon=True).start()
        while True:
            item = messages.get()
            if isinstance(item, str):
                yield f'<p class="qa-progress">{escape(item)}</p>', gr.skip(), gr.skip(), \
                    gr.skip(), gr.skip()
                continue
            result = item[1]
            if isinstance(result, QAError):
                yield f'<p class="qa-refused">{escape(str(result))}</p>', gr.skip(), \
                    gr.skip(), gr.skip(), gr.skip()
            else:
                yield change_html(result, "Added"), self.table(query), self.choices(), None, ""
            return

    def remove(self, sources: list[str] | None, query: str | None) -> tuple[Any, ...]:
        """Remove from the page the sources picked."""
        try:
            self._check()
            change = self.manager.remove(list(sources or []))
        except QAError as exc:
            return f'<p class="qa-refused">{escape(str(exc))}</p>', gr.skip(), gr.skip()
        return change_html(change, "Removed"), self.table(query), self.choices()



def add_endpoint(handlers: ArticleHandlers) -> Callable[..., dict[str, Any]]:
    def add(files: list[str] | None, addresses: str | None) -> dict[str, Any]:
        """Add articles to the index: uploaded files and/or http(s) addresses.

        Each file or address is checked (size, format) and read apart; what cannot be read
        is skipped with the reason, the rest is indexed at once.

        Args:
            files: article files (.txt .md .jsonl .html .pdf, RSS/Atom feeds, .csv .tsv .parquet).
            addresses: http(s) addresses of articles, pages, PDFs or feeds, one a line.

        Returns:
            {done: the sources added, skipped: [{source, reason}], articles, passages}
        """
        try:
            handlers._check()
            return handlers.manager.add(files or [], (addresses or "").splitlines()).to_dict()
        except QAError as exc:
            raise gr.Error(escape(str(exc)), title="Not added", print_exception=False) from None

    return add


def articles_endpoint(live: LiveIndex) -> Callable[..., list[dict[str, Any]]]:
    def articles(query: str = "") -> list[dict[str, Any]]:
        """List the articles of the index, in corpus order.

        Args:
            query: keep only articles whose title or source contains this text (any case).

        Returns:
            one record per article: id, title, date, source, file, format, url, passages
        """
        return [a.to_dict() for a in stored_articles.listing(live.current(), query or "")]

    return articles


def remove_endpoint(handlers: ArticleHandlers) -> Callable[..., dict[str, Any]]:
    def remove(sources: list[str]) -> dict[str, Any]:
        """Remove every article of these sources (the `file` of each article in /articles).

        Args:
            sources: source files or addresses, as /articles lists them.

        Returns:
            {done: the sources removed, articles, passages: what the index now holds}
        """
        try:
            handlers._check()
            return handlers.manager.remove(list(sources or [])).to_dict()
        except QAError as exc:
            raise gr.Error(escape(str(exc)), title="Not removed", print_exception=False) from None

    return remove


def _controls(handlers: ArticleHandlers, search: Any, table: Any, header: Any) -> Any:
    """Upload, addresses, progress and removal: only where the corpus may change."""
    with gr.Row(equal_height=False):
        upload = gr.File(label="Add files", file_count="multiple", type="filepath",
                         file_types=list(formats.SUFFIXES), elem_id="qa-upload", scale=3)
        addresses = gr.Textbox(label="Or paste addresses (one a line)", lines=3, scale=2,
                               placeholder="https://example.org/article.html",
                               elem_id="qa-addresses")
    add = gr.Button("Add to the index", variant="primary", elem_id="qa-add")
    status = gr.HTML("", elem_id="qa-manage-status")
    with gr.Row(equal_height=True):
        picked = gr.Dropdown([], multiselect=True, label="Articles to remove (by source)",
                             filterable=True, elem_id="qa-remove-pick", scale=4)
        remove = gr.Button("Remove", variant="stop", elem_id="qa-remove", scale=1)
    private: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1,
                               "concurrency_id": MANAGE}
    after: dict[str, Any] = {"fn": handlers.header, "inputs": None, "outputs": header,
                             "queue": False, "api_visibility": "private"}
    added = add.click(handlers.add, [upload, addresses, search],
                      [status, table, picked, upload, addresses], show_progress="hidden",
                      api_name="page_add", **private)
    removed = remove.click(handlers.remove, [picked, search], [status, table, picked],
                           show_progress="minimal", api_name="page_remove", **private)
    if header is not None:
        added.then(**after)
        removed.then(**after)
    return picked


def articles_view(demo: gr.Blocks, live: LiveIndex, manager: Manager, refusal: Refusal, *,
                  controls: bool, header: Any = None) -> ArticleHandlers:
    """The Articles accordion and the management endpoints, inside `demo` being built.

    Args:
        demo: the page's Blocks (its load event refreshes the list).
        live: the served index.
        manager: what adds and removes articles.
        refusal: why a change is refused right now (None: allowed); checked on every call.
        controls: show the add and remove controls (not on a read-only server).
        header: the page header, whose counts follow each change.
    """
    handlers = ArticleHandlers(live, manager, refusal)
    with gr.Accordion("Articles", open=False, elem_id="qa-articles"):
        search = gr.Textbox(show_label=False, placeholder="Search article titles…",
                            elem_id="qa-articles-search", container=False)
        table = gr.HTML(handlers.table(), elem_id="qa-articles-table")
        search.change(handlers.table, search, table, queue=False, api_visibility="private")
        if controls:
            with gr.Column(elem_id="qa-manage") as box:
                picked = _controls(handlers, search, table, header)
            demo.load(handlers.refresh, None, [table, picked, box], queue=False,
                      api_visibility="private")
            if header is not None:
                demo.load(handlers.header, None, header, queue=False, api_visibility="private")
        else:
            demo.load(handlers.table, None, table, queue=False, api_visibility="private")
    _endpoints(handlers, live)
    return handlers


def _endpoints(handlers: ArticleHandlers, live: LiveIndex) -> None:
    gr.api(articles_endpoint(live), api_name="articles")  # type: ignore[arg-type]
    gr.api(remove_endpoint(handlers), api_name="remove", concurrency_limit=1,  # type: ignore[arg-type]
           concurrency_id=MANAGE)
    files = gr.File(file_count="multiple", type="filepath", visible=False)
    addresses = gr.Textbox(visible=False)
    result = gr.JSON(visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(add_endpoint(handlers), [files, addresses], result, api_name="add",
                  concurrency_limit=1, concurrency_id=MANAGE)


CSS = """
.qa-articles {width: 100%; border-collapse: collapse; font-size: .9rem; border: none !important;}
.qa-articles th, .qa-articles td {text-align: left; padding: .3rem .5rem; border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; vertical-align: top;}
.qa-articles td.qa-num {text-align: right; font-variant-numeric: tabular-nums;}
.qa-articles-count {color: var(--body-text-color-subdued); font-size: .85rem; margin: .3rem 0;}
#qa-articles-table {max-height: 420px; overflow-y: auto;}
.qa-progress {color: var(--color-accent); font-weight: 600;}
.qa-refused {color: var(--error-text-color, #b91c1c); font-weight: 600;}
"""
