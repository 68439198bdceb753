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
        margin: an extra sentence must score within this of the best one...
        extra_overlap: ...and contain this share of the question's weighted words.
        min_words: shorter sentences (fragments, bylines) are not quoted.
        min_confidence: below this the answerer abstains.
    """

    passages: int = 3
    max_sentences: int = 3
    margin: float = 0.06
    extra_overlap: float = 0.5
    min_words: int = 4
    min_confidence: float = 0.52


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
    before: str  # the sentence before it, which may name what "the sides" refers to


def candidate_sentences(hits: Sequence[Hit], min_words: int = 1,
                        before: Callable[[Hit], str] | None = None) -> list[_Sentence]:
    """The sentences of the given hits with at least `min_words` words, spans in the article.

    `before(hit)` gives the text just before a passage (the end of the previous one).
    """
    out = []
    for hit in hits:
        previous = before(hit) if before else ""
        for s, e in sentences(hit.text):
            text = hit.text[s:e]
            if len(text.split()) >= min_words:
                out.append(_Sentence(hit, hit.start + s, hit.start + e, text, previous))
            previous = text
    return out


def coverage(query_terms: set[str], text_terms: Sequence[str], idf: dict[str, float]) -> float:
    """Share of the query's terms, weighted by rarity, that occur in the text.

    A term the index has never seen counts as the rarest: a question about something
    the articles never mention should not look covered.
    """
    rarest = max(idf.values(), default=1.0)
    weights = {t: idf.get(t, rarest) for t in query_terms}
    total = sum(weights.values())
    present = set(text_terms)
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class _Features:
    sim: np.ndarray  # embedding similarity of sentence and query
    overlap: np.ndarray  # rarity-weighted share of query words in the sentence (and before it)
    prior: np.ndarray  # the passage's search score relative to the best passage

    def selection(self) -> np.ndarray:
        """Which sentence answers best (weights chosen on the seed question set)."""
        return 0.4 * self.sim + 0.3 * self.overlap + 0.4 * self.prior

    def confidence(self, i: int, passage_coverage: float) -> float:
        """How well the index supports sentence i; the prior is left out, as the top
        passage always has prior 1 even when it is unrelated."""
        return float(0.6 * self.sim[i] + 0.3 * self.overlap[i] + 0.5 * passage_coverage)


def sentence_features(query: str, cands: Sequence[_Sentence], encode: Encode, stemmer: Any,
                      idf: dict[str, float]) -> _Features:
    """Similarity, word overlap and passage prior of each candidate sentence."""
    import numpy as np

    vectors = encode([query] + [c.text for c in cands])
    texts = [query] + [c.text for c in cands] + [f"{c.before} {c.text}" for c in cands]
    tokens = retrieve.tokenize(texts, stemmer)
    terms, own, with_before = set(tokens[0]), tokens[1 : len(cands) + 1], tokens[len(cands) + 1 :]
    overlap = np.array([0.5 * coverage(terms, a, idf) + 0.5 * coverage(terms, b, idf)
                        for a, b in zip(own, with_before, strict=True)], dtype=np.float32)
    top = max((c.hit.score for c in cands), default=0.0)
    prior = np.array([c.hit.score / top if top > 0 else 1.0 / max(c.hit.rank, 1)
                      for c in cands], dtype=np.float32)
    return _Features(vectors[1:] @ vectors[0], overlap, prior)


def _pick(cands: Sequence[_Sentence], features: _Features, config: AnswerConfig) -> list[int]:
    """The best sentence, then up to `max_sentences - 1` close runners-up that share
    at least `extra_overlap` of the question's weighted words."""
    scores = features.selection()
    order = sorted(range(len(cands)), key=lambda i: -float(scores[i]))
    best = float(scores[order[0]])
    chosen = [order[0]]
    for i in order[1:]:
        if len(chosen) >= config.max_sentences or float(scores[i]) < best - config.margin:
            break
        if features.overlap[i] >= config.extra_overlap and \
                all(cands[i].text != cands[j].text for j in chosen):
            chosen.append(i)
    return chosen


class ExtractiveAnswerer:
    """Answers by quoting sentences of the retrieved passages; needs no language model.

    Every sentence of the top passages is scored against the question (embedding
    similarity, word overlap, passage rank); the best one to `max_sentences` are quoted
    and cited. The answerer abstains when the best sentence scores low and the
    question's rarer words are missing from its passage.
    """

    def __init__(self, encode: Encode, stemmer: Any, idf: dict[str, float],
                 before: Callable[[Hit], str] | None = None,
                 config: AnswerConfig = AnswerConfig()) -> None:
        self.encode = encode
        self.stemmer = stemmer
        self.idf = idf
        self.before = before
        self.config = config

    def __call__(self, question: str, hits: Sequence[Hit], *, query: str | None = None) -> Answer:
        """The answer to `question` from `hits`; `query` (default: the question) is matched."""
        config = self.config
        query = query or question
        top = hits[: config.passages]
        cands = candidate_sentences(top, config.min_words, self.before) or \
            candidate_sentences(top, 1, self.before)
        if not cands:
            return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), 0.0)
        features = sentence_features(query, cands, self.encode, self.stemmer, self.idf)
        chosen = _pick(cands, features, config)
        confidence = features.confidence(chosen[0], self._coverage(query, cands[chosen[0]].hit))
        if confidence < config.min_confidence:
            return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), confidence)
        return Answer(question, _cited_text(cands, chosen), _citations(cands, chosen), False,
                      tuple(hits), confidence)

    def _coverage(self, query: str, hit: Hit) -> float:
        context = self.before(hit) if self.before else ""
        terms, text = retrieve.tokenize([query, f"{hit.title}\n{context}\n{hit.text}"],
                                        self.stemmer)
        return coverage(set(terms), text, self.idf)


def _citations(cands: Sequence[_Sentence], chosen: Sequence[int]) -> tuple[Citation, ...]:
    return tuple(
        Citation(n=n, quote=cands[i].text, source=cands[i].hit.source, title=cands[i].hit.title,
                 date=cands[i].hit.date, start=cands[i].start, end=cands[i].end, hit=cands[i].hit,
                 url=cands[i].hit.url, page=cands[i].hit.page)
        for n, i in enumerate(chosen, start=1))


def _cited_text(cands: Sequence[_Sentence], chosen: Sequence[int]) -> str:
    return " ".join(f"{cands[i].text} [{n}]" for n, i in enumerate(chosen, start=1))
