"""Follow-up questions: when a question refers back to the conversation, and what to
search for then. (`Index.ask` also narrows a follow-up to the article the previous
answer quotes; see `Index._conversation`.)"""

from __future__ import annotations

import re
from collections.abc import Sequence

Turn = str | tuple[str, str]
"""An earlier turn: its question, or (question, answer)."""

_FOLLOW_UP = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|"
    r"the same|the other|also|else)\b", re.IGNORECASE)


def turn_text(turn: Turn | Sequence[str]) -> str:
    """The question of an earlier turn."""
    return turn if isinstance(turn, str) else str(turn[0])


_CONTINUES = re.compile(r"^\W*(and|but|or|so|also|then|what about|how about)\b", re.IGNORECASE)
"""A question that opens like this goes on from the one before ("And how many nurses?")."""


def is_follow_up(question: str, history: Sequence[Turn] | None) -> bool:
    """A question with history that refers back (a pronoun or similar), opens by going on
    from the last one ("And how many nurses?") or has fewer than four words ("In the
    Maldives?")."""
    return bool(history) and bool(_FOLLOW_UP.search(question) or _CONTINUES.search(question)
                                  or len(question.split()) < 4)


def retrieval_query(question: str, history: Sequence[Turn] | None) -> str:
    """The text to search the whole index for: a follow-up question joined to the previous
    question (within the conversation's article `Index.ask` first searches it as asked)."""
    if not history or not is_follow_up(question, history):
        return question
    return f"{turn_text(history[-1]).strip()} {question}"
