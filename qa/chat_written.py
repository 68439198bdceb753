"""The chat's model-written answers: the toggle, and the handler that streams the model's
words into the chat and settles each sentence as checked or removed (see `qa.generate`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import gradio as gr

from . import render
from .check import split_reply
from .generate import Done, Words, assemble, numbered, stream_written
from .live import LiveIndex

if TYPE_CHECKING:
    from .check import Verdict
    from .index import Index
    from .llm import LLM
    from .schema import Answer


def toggle(llm: LLM | None) -> Any:
    """The "written by the model" switch; hidden when no model server is configured."""
    label = (f"Let {llm.model} write the answer (each sentence checked against its article)"
             if llm else "Written answers need a model server (qa serve --llm URL --llm-model NAME)")
    return gr.Checkbox(value=llm is not None, label=label, visible=llm is not None,
                       interactive=llm is not None, elem_id="qa-written-toggle")


def _live(verdicts: list[Verdict], parts: list[str], pending: str) -> list[dict[str, str]]:
    """The reply so far as the page shows it: settled sentences, then the unchecked rest."""
    kept = iter(parts)
    live = [{"state": "checked", "text": next(kept), "reason": ""} if v.kept else
            {"state": "removed", "text": v.draft.text, "reason": v.reason} for v in verdicts]
    if pending:
        live.append({"state": "pending", "text": pending, "reason": ""})
    return live


def live_turn(question: str, extractive: Answer, verdicts: list[Verdict],
              reply: str) -> render.Turn:
    """The turn while the model streams: checked sentences with their citations so far,
    removed ones, and the words not yet checked."""
    parts, _ = numbered(verdicts)
    pending = " ".join(d.text for d in split_reply(reply)[len(verdicts):])
    turn = render.turn_record(assemble(extractive, verdicts))
    return {**turn, "question": question, "origin": "model", "streaming": True,
            "live": _live(verdicts, parts, pending)}


def respond(index: Index, llm: LLM, question: str, turns: list[render.Turn] | None,
            settings: dict[str, Any] | None) -> Iterator[tuple[Any, ...]]:
    """Like `ChatHandlers.respond`, with the answer written by `llm` and checked: the
    model's words stream in, each sentence settles as checked or removed."""
    from .app import MAX_TURNS, engine_call, engine_history, search_options

    turns = list(turns or [])
    history = engine_history(turns)
    try:
        options = search_options(settings)
        index = index.current() if isinstance(index, LiveIndex) else index
        extractive = engine_call(lambda: index.ask(question, history=history, **options))
    except gr.Error as exc:
        gr.Warning(str(exc.message), title=exc.title)
        yield (gr.skip(),) * 5
        return
    verdicts: list[Verdict] = []
    reply, answer = "", extractive
    for event in stream_written(question, history, extractive, llm, index.embedder.encode):
        if isinstance(event, Done):
            answer = event.answer
            break
        if isinstance(event, Words):
            reply = event.text
        else:
            verdicts.append(event.verdict)
        shown = turns + [live_turn(question, extractive, verdicts, reply)]
        yield "", *render.view(shown)[:2], gr.skip(), gr.skip()
    declined = answer.abstained and not extractive.abstained  # the model said "not in them"
    turn = {**render.turn_record(answer),
            "origin": "model" if answer.generated else "declined" if declined else "quoted"}
    turns = (turns + [turn])[-MAX_TURNS:]
    yield "", *render.view(turns), turns
