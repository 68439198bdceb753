"""Extractive answers: quote the sentences that best answer a question, cite each, or abstain."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import retrieve
from .schema import Answer, Citation, Hit
from .text import sentences

if TYPE_CHECKING:
    import numpy as np

Encode = Callable[[Sequence[str]], "np.ndarray"]

ABSTAIN_TEXT = ("I could not find an answer to that in the articles. "
                "The closest passages are listed as related reading.")


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """Knobs of the extractive answerer, calibrated on tests/data/seed_questions.jsonl.

    Attributes:
        passages: how many top hits to quote from.
        max_sentences: most sentences in an answer.
        margin: an extra sentence must score within this of the best one.
        min_confidence: below this the answerer abstains.
    """

    passages: int = 3
    max_sentences: int = 3
    margin: float = 0.06
    min_confidence: float = 0.35


_FOLLOW_UP = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|"
    r"the same|the other|also|else)\b", re.IGNORECASE)


def _turn_text(turn: str | tuple[str, str] | Sequence[str]) -> str:
    return turn if isinstance(turn, str) else str(turn[0])


def retrieval_query(question: str, history: Sequence[str | tuple[str, str]] | None) -> str:
    """The text to search for: a follow-up question is joined to the previous question.

    A question counts as a follow-up when it has a pronoun or similar reference, or
    fewer than four words; anything else stands on its own.
    """
    if not history:
        return question
    if not (_FOLLOW_UP.search(question) or len(question.split()) < 4):
        return question
    return f"{_turn_text(history[-1]).strip()} {question}"


@dataclass(frozen=True, slots=True)
class _Sentence:
    hit: Hit
    start: int  # offsets in the article's original text
    end: int
    text: str


def candidate_sentences(hits: Sequence[Hit]) -> list[_Sentence]:
    """Every sentence of the given hits, with its span in the article."""
    return [_Sentence(hit, hit.start + s, hit.start + e, hit.text[s:e])
            for hit in hits for s, e in sentences(hit.text)]


def _overlap(query_terms: set[str], text_terms: Sequence[str]) -> float:
    return len(query_terms & set(text_terms)) / len(query_terms) if query_terms else 0.0


def score_sentences(query: str, cands: Sequence[_Sentence], encode: Encode,
                    stemmer: Any) -> tuple[np.ndarray, np.ndarray]:
    """(score, semantic similarity) of each candidate sentence for the query."""
    import numpy as np

    vectors = encode([query] + [c.text for c in cands])
    sim = vectors[1:] @ vectors[0]
    tokens = retrieve.tokenize([query] + [c.text for c in cands], stemmer)
    terms = set(tokens[0])
    overlap = np.array([_overlap(terms, t) for t in tokens[1:]], dtype=np.float32)
    prior = np.array([1.0 / c.hit.rank if c.hit.rank else 0.0 for c in cands], dtype=np.float32)
    return 0.6 * sim + 0.3 * overlap + 0.1 * prior, sim


def _pick(cands: Sequence[_Sentence], scores: np.ndarray, config: AnswerConfig) -> list[int]:
    order = sorted(range(len(cands)), key=lambda i: -float(scores[i]))
    best = float(scores[order[0]])
    chosen = [order[0]]
    for i in order[1:]:
        if len(chosen) >= config.max_sentences or float(scores[i]) < best - config.margin:
            break
        if all(cands[i].text != cands[j].text for j in chosen):
            chosen.append(i)
    return chosen


def extractive_answer(question: str, hits: Sequence[Hit], encode: Encode, stemmer: Any, *,
                      query: str | None = None, config: AnswerConfig = AnswerConfig()) -> Answer:
    """Quote up to `max_sentences` sentences from the top hits, each followed by `[n]`.

    Args:
        question: the question as asked (kept on the answer).
        hits: ranked passages to quote from.
        encode: turns texts into unit vectors (the index's model).
        stemmer: the BM25 stemmer, for word overlap.
        query: the text to match sentences against (default: the question).
        config: answerer settings.
    """
    cands = candidate_sentences(hits[: config.passages])
    if not cands:
        return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), 0.0)
    scores, _ = score_sentences(query or question, cands, encode, stemmer)
    chosen = _pick(cands, scores, config)
    confidence = float(scores[chosen[0]])
    if confidence < config.min_confidence:
        return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), confidence)
    citations = tuple(
        Citation(n=n, quote=cands[i].text, source=cands[i].hit.source, title=cands[i].hit.title,
                 date=cands[i].hit.date, start=cands[i].start, end=cands[i].end, hit=cands[i].hit)
        for n, i in enumerate(chosen, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question, text, citations, False, tuple(hits), confidence)
