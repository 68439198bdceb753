"""How the chat shows model-written answers: who wrote an answer, the model's words while
they stream (each sentence settling as checked or removed), and the removed sentences.

Pure functions over the JSON-safe turns of `qa.render`; every string is escaped.
A turn asked with the model on carries `origin` ("model", "quoted", or "declined": the
model said the passages do not answer, so the bot abstained) and, once final, `generated`,
`dropped` and `notice`; while it streams it carries `live`: the reply's
sentences so far, each {"state": "checked" | "removed" | "pending", "text", "reason"}.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

Turn = dict[str, Any]

ORIGIN = {"model": ("qa-origin-model", "Written by the model · every sentence checked against "
                    "the article it cites"),
          "quoted": ("qa-origin-quoted", "Quoted from the articles"),
          "declined": ("qa-origin-quoted", "Declined by the model")}


def origin_html(turn: Turn) -> str:
    """A label saying who wrote the answer, and the fallback notice if any ("" otherwise)."""
    origin = turn.get("origin")
    if origin not in ORIGIN:
        return ""
    css, label = ORIGIN[origin]
    html = f'<div class="qa-origin {css}">{escape(label)}</div>'
    if turn.get("notice"):
        html += f'<div class="qa-notice">{escape(turn["notice"])}</div>'
    return html


def dropped_html(turn: Turn) -> str:
    """The model's removed sentences, folded away until the reader asks for them."""
    dropped = turn.get("dropped") or []
    if not dropped:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in dropped)
    return (f'<details class="qa-dropped"><summary>{len(dropped)} sentence'
            f'{"s" if len(dropped) != 1 else ""} of the model removed as unsupported'
            f"</summary><ul>{items}</ul></details>")


def live_html(turn: Turn, marked: Callable[[str], str]) -> str:
    """A written answer while it streams: checked sentences with their [n] links (`marked`
    renders text with markers), removed ones struck through with the reason as a tooltip,
    and the words not yet checked."""
    parts = []
    for piece in turn["live"]:
        state, text = piece["state"], piece["text"]
        if state == "checked":
            parts.append(f'<span class="qa-sent qa-checked">{marked(text)}</span>')
        elif state == "removed":
            parts.append(f'<span class="qa-sent qa-removed" title="{escape(piece["reason"])}">'
                         f"{escape(text)}</span>")
        else:
            parts.append(f'<span class="qa-sent qa-pending">{escape(text)}</span>')
    return (f'<div class="qa-answer qa-written qa-streaming">{origin_html(turn)}'
            f'{" ".join(parts)}</div>')


CSS = """
.qa-origin {font-size: .78rem; font-weight: 700; letter-spacing: .02em; margin: 0 0 .3rem;
  color: var(--body-text-color-subdued);}
.qa-origin-model {color: var(--color-accent);}
.qa-notice {font-size: .85rem; margin: 0 0 .4rem; padding: .25rem .5rem; border-radius: 6px;
  background: var(--background-fill-secondary); color: var(--body-text-color-subdued);}
.qa-sent.qa-pending {color: var(--body-text-color-subdued);}
.qa-sent.qa-removed {text-decoration: line-through; opacity: .55;}
.qa-dropped {margin-top: .5rem; font-size: .85rem; color: var(--body-text-color-subdued);}
.qa-dropped summary {cursor: pointer;}
.qa-dropped ul {padding-left: 1.2rem; margin: .3rem 0 0;}
"""
