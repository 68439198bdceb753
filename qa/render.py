"""What the chat page shows: turns as data, cited answers and sources as HTML, its CSS and JS.

Everything here is pure (no Gradio). Corpus text is data, never markup: every string that
comes from an article or a question goes through `html.escape` before it meets any tag.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from html import escape
from typing import Any

from . import render_written
from .schema import Answer, Hit, Passage

Turn = dict[str, Any]
"""One question and its answer as JSON-safe data, kept in the browser (see `turn_record`)."""

MARKER = re.compile(r"\[(\d+)\]")
EMPTY_SOURCES = ('<div class="qa-sources qa-empty"><div class="qa-sources-head">Sources</div>'
                 "<p>The passages that each answer quotes appear here, with the quoted words "
                 "highlighted. Click a [n] in the chat to jump to its passage.</p></div>")
_HIT_FIELDS = ("text", "score", "source", "title", "date", "start", "end", "passage_id",
               "dense_score", "bm25_score", "url", "page")


def _hit_record(hit: Hit) -> dict[str, Any]:
    return {name: getattr(hit, name) for name in _HIT_FIELDS}


def turn_record(answer: Answer) -> Turn:
    """An answer as the JSON-safe turn the page stores and renders.

    Args:
        answer: the engine's answer.

    Returns:
        {"question", "text", "abstained", "citations": [{n, quote, source, title, date, start,
        end, passage}], "related": [passage]}; `related` holds the closest passages only when
        the bot abstained, and a passage is a hit's text, span, scores and id.
    """
    citations = [{"n": c.n, "quote": c.quote, "source": c.source, "title": c.title,
                  "date": c.date, "start": c.start, "end": c.end, "url": c.url, "page": c.page,
                  "passage": _hit_record(c.hit)}
                 for c in answer.citations]
    related = [_hit_record(h) for h in answer.hits] if answer.abstained else []
    return {"question": answer.question, "text": answer.text, "abstained": answer.abstained,
            "citations": citations, "related": related, "generated": answer.generated,
            "dropped": list(answer.dropped), "notice": answer.notice}


def api_record(answer: Answer) -> dict[str, Any]:
    """The answer as the `/ask` endpoint and the MCP `ask` tool return it."""
    turn = turn_record(answer)
    return {"question": turn["question"], "text": turn["text"], "abstained": turn["abstained"],
            "confidence": round(answer.confidence, 4),
            "citations": [{k: v for k, v in c.items() if k != "passage"}
                          | {"passage_id": c["passage"]["passage_id"]}
                          for c in turn["citations"]],
            "related": [{k: h.get(k) for k in ("title", "date", "source", "start", "end",
                                               "passage_id", "text", "url", "page")}
                        for h in turn["related"]],
            "generated": turn["generated"], "dropped": turn["dropped"], "notice": turn["notice"]}


def search_record(hit: Hit) -> dict[str, Any]:
    """A hit as the `/search` endpoint and the MCP `search` tool return it."""
    return {f: getattr(hit, f) for f in ("text", "title", "date", "source", "start", "end",
                                         "passage_id", "score", "rank", "url", "page")}


def anchor(turn_index: int, n: int) -> str:
    """The HTML id of citation `n` of turn `turn_index` in the sources panel."""
    return f"qa-t{turn_index}-c{n}"


def markers(turn: Turn) -> list[tuple[int, int, int]]:
    """(start, end, n) of each `[n]` marker in the turn's text; a "[2]" inside a quote is text."""
    text, quoted = turn["text"], []
    for quote in {c["quote"] for c in turn["citations"] if c["quote"]}:
        at = text.find(quote)
        while at != -1:
            quoted.append((at, at + len(quote)))
            at = text.find(quote, at + len(quote))
    return [(m.start(), m.end(), int(m.group(1))) for m in MARKER.finditer(text)
            if not any(a <= m.start() < b for a, b in quoted)]


def _marker_html(n: int, citation: dict[str, Any] | None, turn_index: int) -> str:
    if citation is None:
        return f"[{n}]"
    tip = escape(f"{citation['title']} ({citation['date'] or 'undated'}), {citation['source']}")
    return (f'<sup class="qa-cite"><a class="qa-cite-link" href="#{anchor(turn_index, n)}" '
            f'title="{tip}">[{n}]</a></sup>')


def answer_html(turn: Turn, turn_index: int) -> str:
    """The answer text, escaped, with each `[n]` a link to its card in the sources panel
    (for a model-written answer also who wrote it and its removed sentences)."""
    if turn.get("live") is not None:
        return render_written.live_html(
            turn, lambda text: _marked_html({**turn, "text": text}, turn_index))
    kind = " qa-abstained" if turn.get("abstained") else ""
    kind += " qa-streaming" if turn.get("streaming") else ""
    return (f'<div class="qa-answer{kind}">{render_written.origin_html(turn)}'
            f"{_marked_html(turn, turn_index)}{render_written.dropped_html(turn)}</div>")


def _marked_html(turn: Turn, turn_index: int) -> str:
    by_n = {c["n"]: c for c in turn["citations"]}
    parts: list[str] = []
    cursor = 0
    for start, end, n in markers(turn):
        parts.append(escape(turn["text"][cursor:start]))
        parts.append(_marker_html(n, by_n.get(n), turn_index))
        cursor = end
    parts.append(escape(turn["text"][cursor:]))
    return "".join(parts)


def question_html(question: str) -> str:
    """A question as the chat shows it: text, never markup."""
    return f'<div class="qa-question">{escape(question).replace(chr(10), "<br>")}</div>'


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The Chatbot value (messages format) for the conversation so far."""
    messages: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": question_html(turn["question"])})
        messages.append({"role": "assistant", "content": answer_html(turn, i)})
    return messages


def cited_numbers(turn: Turn) -> list[int]:
    """The distinct citation numbers in the turn's text, in order of first appearance."""
    return list(dict.fromkeys(n for _, _, n in markers(turn)))


def _highlighted(passage: dict[str, Any], start: int, end: int) -> str:
    text, offset = passage["text"], passage["start"]
    a, b = max(0, start - offset), max(0, min(len(text), end - offset))
    if a >= b:
        return escape(text)
    return f"{escape(text[:a])}<mark>{escape(text[a:b])}</mark>{escape(text[b:])}"


def _scores(passage: dict[str, Any]) -> str:
    parts = [f"score {passage['score']:.4f}"]
    if passage.get("dense_score") is not None:
        parts.append(f"dense {passage['dense_score']:.3f}")
    if passage.get("bm25_score"):
        parts.append(f"BM25 {passage['bm25_score']:.2f}")
    return " · ".join(parts)


def _card(label: str, item: dict[str, Any], body: str, *, card_id: str, kind: str) -> str:
    scores = _scores(item.get("passage", item))
    meta = " · ".join([escape(item["date"] or "undated"),
                       f'<code title="{escape(item["source"])}">{escape(source_name(item))}</code>',
                       *([f"page {int(item['page'])}"] if item.get("page") else []),
                       f"characters {item['start']}–{item['end']}", *_url_link(item.get("url"))])
    return (f'<article class="qa-card {kind}" id="{card_id}">'
            f'<div class="qa-card-head"><span class="qa-n">{label}</span>'
            f'<span class="qa-title">{escape(item["title"])}</span></div>'
            f'<div class="qa-meta">{meta}</div>'
            f'<blockquote class="qa-passage">{body}</blockquote>'
            f'<div class="qa-score">{escape(scores)}</div></article>')


def source_name(item: dict[str, Any]) -> str:
    """The file name of a source (a JSONL/feed/table source is "FILE:N"), or its address."""
    source = str(item["source"])
    if source.lower().startswith(("http://", "https://")):
        return source
    return os.path.basename(source.split(":")[0]) or source


def _url_link(url: str | None) -> list[str]:
    """A link to the article's own address: opened only when clicked, never loaded here."""
    if not url or not str(url).lower().startswith(("http://", "https://")):
        return []
    return [f'<a class="qa-url" href="{escape(str(url))}" target="_blank" '
            f'rel="noopener noreferrer nofollow">{escape(str(url)[:60])}</a>']


def citation_cards(turn: Turn, turn_index: int) -> list[str]:
    """One card per citation shown so far: article, date, file, highlighted passage, score."""
    by_n = {c["n"]: c for c in turn["citations"]}
    return [_card(f"[{n}]", c, _highlighted(c["passage"], c["start"], c["end"]),
                  card_id=anchor(turn_index, n), kind="qa-cited")
            for n in cited_numbers(turn) if (c := by_n.get(n)) is not None]


def sources_html(turn: Turn | None, turn_index: int, total: int) -> str:
    """The sources panel for one turn: its cited passages, or related ones if it abstained."""
    if turn is None:
        return EMPTY_SOURCES
    latest = turn_index == total - 1
    which = "the latest answer" if latest else f"answer {turn_index + 1} of {total}"
    head = (f'<div class="qa-sources-head">Sources for {which}: '
            f'<q>{escape(turn["question"])}</q></div>')
    cards = citation_cards(turn, turn_index)
    if turn.get("abstained") and turn["related"]:
        cards.append('<div class="qa-related-head">Related passages (not cited: none of them '
                     "answers the question)</div>")
        cards += [_card(f"#{i}", h, escape(h["text"]), card_id=f"qa-t{turn_index}-r{i}",
                        kind="qa-related") for i, h in enumerate(turn["related"], start=1)]
    elif not cards:
        cards.append('<p class="qa-none">No passage is cited yet.</p>')
    return f'<div class="qa-sources">{head}{"".join(cards)}</div>'


def copy_text(turn: Turn | None) -> str:
    """The turn as plain text for the clipboard: question, answer, then each citation."""
    if turn is None:
        return ""
    lines = [f"Q: {turn['question']}", f"A: {turn['text']}", ""]
    for c in turn["citations"]:
        page = f", page {c['page']}" if c.get("page") else ""
        url = f", {c['url']}" if c.get("url") else ""
        lines.append(f"[{c['n']}] “{c['quote']}” — {c['title']} ({c['date'] or 'undated'}), "
                     f"{c['source']}{page}, characters {c['start']}–{c['end']}{url}")
    return "\n".join(lines).rstrip()


def stream_prefixes(text: str, words: int = 6) -> Iterator[str]:
    """Growing prefixes of `text`, cut at spaces: every `words` words and after each `[n]`."""
    tokens = text.split(" ")
    count = 0
    for i, token in enumerate(tokens):
        count += 1
        last = i == len(tokens) - 1
        if last or count >= words or MARKER.fullmatch(token.strip()):
            count = 0
            yield " ".join(tokens[: i + 1])


def partial_turn(turn: Turn, text: str) -> Turn:
    """`turn` as it looks while its answer is streamed: the text so far, sources so far."""
    return {**turn, "text": text, "streaming": True}


def view(turns: Sequence[Turn], shown: int | None = None) -> tuple[Any, str, str]:
    """(chat messages, sources panel, copy text) with turn `shown` (default: last) in the panel."""
    if not turns:
        return [], EMPTY_SOURCES, ""
    i = len(turns) - 1 if shown is None else max(0, min(shown, len(turns) - 1))
    return (chat_messages(turns), sources_html(turns[i], i, len(turns)),
            copy_text(turns[i]))


def header_html(manifest: dict[str, Any]) -> str:
    """The page header: what the bot is and which corpus is loaded."""
    counts, model = manifest["counts"], manifest["model"]
    return ('<div class="qa-header"><div class="qa-h1" role="heading" aria-level="1">'
            "Ask the articles</div>"
            f'<p class="qa-corpus">{counts["articles"]:,} articles · {counts["passages"]:,} '
            f'passages · model <code>{escape(str(model["name"]))}</code> · each sentence of an '
            "answer is quoted from an article and cited [n]</p></div>")


_NAME = re.compile(r"(?<![\w’'-])[A-Z][\w-]+(?:[ \t]+[A-Z][\w-]+)+")
_NOT_A_NAME_START = frozenset(
    "A An And As At But By During For From He Her His If In It Its On Or Our She That The "
    "Their These They This Those To We When While With According After Before".split())
_ROLES = frozenset(
    "President Premier Prime Minister Secretary Chairman Chairwoman Chair Mr Mrs Ms Dr Professor "
    "General King Queen Prince Princess Senator Governor Mayor Ambassador Director Chief Deputy "
    "Vice Speaker Spokesman Spokeswoman Judge".split())
_BODIES = frozenset(
    "Party Committee Bureau Council Congress Region Route Ministry Government University Bank "
    "Company Republic Union Organization Organisation Association Agency Department Court "
    "Assembly Parliament Senate Corporation Group Office Service Forum Fund Institute "
    "Commission Authority Province Initiative Corridor".split())


def names(passages: Sequence[Passage], scan: int = 400) -> Counter[str]:
    """Capitalised multi-word names (people, places, bodies) in up to `scan` passages."""
    counts: Counter[str] = Counter()
    for p in passages[:: max(1, len(passages) // scan)]:
        for match in _NAME.finditer(p.text):
            words = match.group().split()
            while words and words[0] in _NOT_A_NAME_START:
                words = words[1:]
            if len(words) >= 2 and not any(w.isupper() for w in words):
                counts[" ".join(words)] += 1
    return counts


def name_questions(name: str) -> list[str]:
    """Questions to try about a name: who a person is, what a body is, then a generic one."""
    words = name.split()
    cut = max((i for i, w in enumerate(words) if w in _ROLES or w in _BODIES), default=-1)
    asks = []
    if len(words) - cut - 1 >= 2:  # "Prime Minister Alikhan Smailov" -> "Alikhan Smailov"
        asks.append(f"Who is {' '.join(words[cut + 1:])}?")
    elif words[-1] in _BODIES:
        asks.append(f"What is the {name}?")
    return asks + [f"What do the articles say about {name}?"]


def example_questions(passages: Sequence[Passage], answered: Callable[[str], bool], *,
                      n: int = 4, tries: int = 6) -> list[str]:
    """Questions about the names the corpus mentions most, kept only if the bot answers them.

    Args:
        passages: the corpus.
        answered: whether the bot answers a question (rather than abstaining).
        n: how many questions to return at most.
        tries: how many questions to check with `answered` at most.
    """
    questions: list[str] = []
    seen: list[str] = []
    ranked = [name for name, _ in names(passages).most_common()]
    ranked.sort(key=lambda name: not name_questions(name)[0].startswith("Who"))  # people first
    for name in ranked:
        if tries <= 0 or len(questions) >= n:
            break
        if any(name in s or s in name for s in seen):
            continue
        seen.append(name)
        for question in name_questions(name)[:tries]:
            tries -= 1
            if answered(question):
                questions.append(question)
                break
    return questions


def article_choices(passages: Sequence[Passage]) -> list[tuple[str, str]]:
    """(label, article id) for the article filter, in corpus order."""
    seen: dict[str, str] = {}
    for p in passages:
        if p.article_id not in seen:
            name = os.path.basename(p.source.split(":")[0])
            seen[p.article_id] = f"{p.title[:70]} ({p.date or 'undated'}, {name})"
    return [(label, article_id) for article_id, label in seen.items()]


CSS = """
.qa-h1 {font-size: 1.5rem; margin: 0 0 .15rem; font-weight: 700; line-height: 1.3;}
.qa-corpus {margin: 0; color: var(--body-text-color-subdued); font-size: .95rem;}
.qa-corpus code, .qa-meta code {font-size: .85em;}
.qa-question {white-space: pre-wrap;}
.qa-answer {line-height: 1.55;}
.qa-abstained {font-style: italic;}
.qa-streaming::after {content: "▍"; margin-left: 2px; animation: qa-blink 1s steps(2) infinite;}
@keyframes qa-blink {50% {opacity: 0;}}
.qa-cite a {text-decoration: none; font-weight: 700; color: var(--color-accent); padding: 0 1px;}
.qa-cite a:hover {text-decoration: underline;}
.qa-sources {max-height: 680px; overflow-y: auto; padding-right: 6px;}
.qa-sources-head {font-weight: 600; margin: 0 0 .6rem;}
.qa-none {color: var(--body-text-color-subdued);}
.qa-card {border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: .65rem .85rem; margin: 0 0 .7rem; background: var(--background-fill-primary);}
.qa-card.qa-related {border-style: dashed;}
.qa-card-head {display: flex; gap: .5rem; align-items: baseline; font-weight: 600;}
.qa-n {color: var(--color-accent); flex: none;}
.qa-meta, .qa-score {font-size: .82rem; color: var(--body-text-color-subdued);}
.qa-score {font-variant-numeric: tabular-nums;}
.qa-passage {margin: .45rem 0; padding-left: .7rem; line-height: 1.5;
  border-left: 3px solid var(--border-color-accent, var(--color-accent));}
.qa-passage mark {background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 3px;}
.qa-related-head {font-weight: 600; margin: .8rem 0 .5rem; color: var(--body-text-color-subdued);}
.qa-flash {animation: qa-flash 1.4s ease-out;}
@keyframes qa-flash {from {box-shadow: 0 0 0 3px var(--color-accent);} to {box-shadow: none;}}
""" + render_written.CSS
# A click on a [n] marker scrolls the sources panel to its card (waiting for the panel to
# switch to that answer's sources, which the chatbot's select event does) and flashes it.
JS = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("a.qa-cite-link") : null;
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute("href") || "").slice(1);
    let tries = 0;
    const go = () => {
      const card = document.getElementById(id);
      if (!card) { if (tries++ < 30) setTimeout(go, 100); return; }
      card.scrollIntoView({behavior: "smooth", block: "nearest"});
      card.classList.remove("qa-flash"); void card.offsetWidth; card.classList.add("qa-flash");
    };
    go();
  }, true);
}
"""
