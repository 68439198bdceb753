"""Answers written by the user's LLM from the retrieved passages, every sentence checked.

`stream_written` sends the model the question, the conversation and the top passages
(numbered, with title and date), streams its words, checks each sentence as soon as it is
complete (`qa.check`), and ends with the `Answer`: the checked sentences with `[n]`
markers numbered by first appearance, each citing the article sentence that supports it.
Whenever the model cannot give a checked answer (no server, timeout, refused key, empty or
malformed reply, ignored citation format, nothing survives) the extractive answer is
returned with a one-line `notice`. An abstention is returned as it is: the model is not
asked when the articles hold no answer. When the model answers only that the passages do not
say (`is_refusal`), the bot abstains too: a refusal claims nothing that needs checking, and
overriding it with a quote the model judged beside the point would be the confident wrong
answer the quoting answerer gives to questions the articles cannot answer.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .check import CheckConfig, Checker, Draft, Encode, Verdict, finished, split_reply
from .errors import LLMError
from .llm import LLM, Message, stream_reply
from .schema import Answer, Citation, Hit

logger = logging.getLogger(__name__)

INSTRUCTIONS = ("Answer the question using only the numbered passages. Write one to three "
                "short sentences. End every sentence with the number of the passage that "
                "supports it in square brackets, like [1]. Use only facts, names and numbers "
                "from the passages. If the passages do not answer the question, reply only: "
                "The articles do not say.")
EXAMPLE = ("Passages:\n[1] Harbour reopens (2024-05-01)\nThe harbour of Port Velmar reopened "
           "on Monday after the storm. Repairs to the breakwater cost 3 million euros.\n\n"
           "Question: How much did the repairs cost?")
EXAMPLE_ANSWER = "Repairs to the breakwater of Port Velmar cost 3 million euros [1]."
STOP = ["\nQuestion:", "\nPassages:", "<start_of_turn>", "<end_of_turn>"]
"""Where a reply ends, also for base models that would go on to invent the next question."""
FALLBACK = "showing the answer quoted from the articles instead"
REFUSED = ("The model read the closest passages and found no answer to that in them; the "
           "quoted answer is withheld.")
_REFUSAL = re.compile(
    r"\b(articles?|passages?|texts?|context)\s+(do|does|did)\s*(not|n't)\s+(say|mention|answer|"
    r"contain|state|tell|give|include|specify)\b|\b(can ?not|can't|could ?not|couldn't|unable to)"
    r"\s+(answer|find|tell|say|determine)\b|\bno (information|answer|mention)\b|"
    r"\bnot (mentioned|stated|given|specified|answered)\b", re.IGNORECASE)
History = Sequence[str | tuple[str, str]]


@dataclass(frozen=True, slots=True)
class GenerateConfig:
    """How much context the model gets.

    Attributes:
        passages: how many of the top hits are given to the model.
        history_turns: how many earlier turns of the conversation are sent along.
        check: the sentence checker's settings.
    """

    passages: int = 3
    history_turns: int = 3
    check: CheckConfig = CheckConfig()


@dataclass(frozen=True, slots=True)
class Words:
    """Event: the model's reply so far (all of it, as streamed)."""

    text: str


@dataclass(frozen=True, slots=True)
class Settled:
    """Event: a complete sentence of the reply, checked (kept or removed)."""

    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Done:
    """Event: the final answer (the last event of every stream)."""

    answer: Answer


Event = Words | Settled | Done


def passages_block(hits: Sequence[Hit]) -> str:
    """The passages as the model sees them: `[n] title (date)` then the text."""
    return "\n\n".join(f"[{n}] {h.title} ({h.date or 'undated'})\n{h.text}"
                       for n, h in enumerate(hits, start=1))


def messages(question: str, history: History | None, hits: Sequence[Hit],
             config: GenerateConfig = GenerateConfig()) -> list[Message]:
    """The chat messages: instructions with one worked example, the conversation, then the
    passages and the question. Nothing else is sent. There is no system message: some chat
    templates (Gemma's in llama.cpp) drop it, so the instructions open the first user turn."""
    out: list[Message] = [{"role": "user", "content": f"{INSTRUCTIONS}\n\n{EXAMPLE}"},
                          {"role": "assistant", "content": EXAMPLE_ANSWER}]
    for turn in list(history or [])[-config.history_turns:] if config.history_turns else []:
        asked, said = (turn, "") if isinstance(turn, str) else (turn[0], turn[1])
        out.append({"role": "user", "content": f"Question: {asked}"})
        out.append({"role": "assistant", "content": said or "(answered)"})
    out.append({"role": "user", "content": f"Passages:\n{passages_block(hits)}\n\n"
                                           f"Question: {question}\n\nAnswer from the passages "
                                           "only, ending every sentence with its [n]."})
    return out


def fallback(extractive: Answer, notice: str, dropped: Sequence[Verdict] = ()) -> Answer:
    """The extractive answer with a one-line notice (and the model's removed sentences)."""
    return dataclasses.replace(extractive, generated=False, notice=notice,
                               dropped=tuple(removed(v) for v in dropped if not v.kept))


def removed(verdict: Verdict) -> str:
    """A removed sentence as `Answer.dropped` holds it: the sentence, then why."""
    return f"{verdict.draft.text} — removed: {verdict.reason}"


def numbered(verdicts: Sequence[Verdict]) -> tuple[list[str], tuple[Citation, ...]]:
    """Each kept sentence with its `[n]` markers, numbered by first appearance, and the
    citations: one per supporting article sentence."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    parts = []
    for v in (v for v in verdicts if v.kept):
        marks = []
        for q in v.quotes:
            key = (q.hit.passage_id, q.start, q.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(Citation(n=numbers[key], quote=q.text, source=q.hit.source,
                                          title=q.hit.title, date=q.hit.date, start=q.start,
                                          end=q.end, hit=q.hit))
            marks.append(numbers[key])
        parts.append(f"{v.draft.text} " + "".join(f"[{n}]" for n in dict.fromkeys(marks)))
    return parts, tuple(citations)


def assemble(extractive: Answer, verdicts: Sequence[Verdict]) -> Answer:
    """The written answer from the checked sentences (see `numbered`)."""
    parts, citations = numbered(verdicts)
    return dataclasses.replace(extractive, text=" ".join(parts), citations=citations,
                               abstained=False, generated=True, notice=None,
                               dropped=tuple(removed(v) for v in verdicts if not v.kept))


def is_refusal(reply: str) -> bool:
    """Whether the reply opens by saying the passages do not answer ("The articles do not
    say.", as the instructions ask, or the usual ways models put it)."""
    drafts = split_reply(reply)
    return bool(drafts) and bool(_REFUSAL.search(drafts[0].text))


def refused(extractive: Answer) -> Answer:
    """The abstention that a refusal of the model makes of the extractive answer: the
    closest passages as related reading, and a notice saying why."""
    from .answer import ABSTAIN_TEXT

    return dataclasses.replace(extractive, text=ABSTAIN_TEXT, citations=(), abstained=True,
                               generated=False, notice=REFUSED, dropped=())


def _final(extractive: Answer, reply: str, verdicts: list[Verdict]) -> Answer:
    """The written answer; the abstention when the model said only that the passages do
    not answer; else the fallback when no sentence survived."""
    if any(v.kept for v in verdicts):
        return assemble(extractive, verdicts)
    if is_refusal(reply):
        return refused(extractive)
    if not verdicts:
        what = "an empty answer" if not reply.strip() else "no sentence"
        return fallback(extractive, f"The model returned {what}; {FALLBACK}.")
    if not any(d.markers for d in (v.draft for v in verdicts)):
        return fallback(extractive, "The model ignored the citation format ([n] markers) and no "
                                    f"sentence matched a passage; {FALLBACK}.", verdicts)
    return fallback(extractive, f"No sentence of the model's answer is supported by the "
                                f"articles ({len(verdicts)} removed); {FALLBACK}.", verdicts)


def _settle(checker: Checker, drafts: list[Draft], done: int, *,
            last: bool = False) -> Iterator[Verdict]:
    """Check the drafts not yet checked; with `last`, the reply is over, and a final
    draft that stops mid-sentence (the length limit) is removed as unfinished."""
    for i, draft in enumerate(drafts[done:], start=done):
        if last and i == len(drafts) - 1 and not finished(draft):
            yield Verdict(draft, False, reason="unfinished: the reply stopped mid-sentence")
        else:
            yield checker.check(draft)


def stream_written(question: str, history: History | None, extractive: Answer, llm: LLM,
                   encode: Encode, config: GenerateConfig = GenerateConfig()
                   ) -> Iterator[Event]:
    """The model's words as they come, each sentence once checked, then the final answer.

    Args:
        question: the question as asked.
        history: earlier turns, oldest first (questions or (question, answer) pairs).
        extractive: the extractive answer to the same question (its `hits` are the
            retrieved passages); returned as it is when it abstained, else the fallback.
        llm: the server and model to ask.
        encode: the index's sentence encoder (normalised vectors), for the checker.
        config: passages, history and checker settings.

    Yields:
        `Words` as the reply grows, `Settled` per complete sentence, and `Done` last.
    """
    if extractive.abstained or not extractive.hits:
        yield Done(extractive)
        return
    hits = extractive.hits[: config.passages]
    checker = Checker(hits, encode, config.check)
    reply, verdicts = "", []
    try:
        for piece in stream_reply(llm, messages(question, history, hits, config), stop=STOP):
            reply += piece
            yield Words(reply)
            drafts = split_reply(reply)
            for verdict in _settle(checker, drafts[:-1], len(verdicts)):
                verdicts.append(verdict)
                yield Settled(verdict)
        for verdict in _settle(checker, split_reply(reply), len(verdicts), last=True):
            verdicts.append(verdict)
            yield Settled(verdict)
    except LLMError as exc:
        logger.info("falling back to the quoted answer: %s", exc)
        yield Done(fallback(extractive, f"{_capital(str(exc))}; {FALLBACK}."))
        return
    except Exception as exc:  # noqa: BLE001 - a checker bug must not cost the user an answer
        logger.exception("checking the model's answer failed")
        yield Done(fallback(extractive, f"Checking the model's answer failed "
                                        f"({type(exc).__name__}); {FALLBACK}."))
        return
    yield Done(_final(extractive, reply, verdicts))


def written_answer(question: str, history: History | None, extractive: Answer, llm: LLM,
                   encode: Encode, config: GenerateConfig = GenerateConfig()) -> Answer:
    """The final answer of `stream_written` (see there), for callers that do not stream."""
    started = time.perf_counter()
    answer = extractive
    for event in stream_written(question, history, extractive, llm, encode, config):
        if isinstance(event, Done):
            answer = event.answer
    logger.info("written answer in %.1f s: generated=%s, %d removed", time.perf_counter()
                - started, answer.generated, len(answer.dropped))
    return answer


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
