"""Cited extractive answers, abstention and follow-up questions on the seed index."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import qa
from qa.answer import Sentence
from qa.conversation import retrieval_query

from .conftest import SEEDS

ORIGINAL = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.iterdir()}


def assert_cited_verbatim(answer: qa.Answer) -> None:
    assert not answer.abstained and answer.citations
    for c in answer.citations:
        assert f"{c.quote} [{c.n}]" in answer.text
        assert ORIGINAL[c.hit.article_id][c.start : c.end] == c.quote
        assert c.quote in c.hit.text and c.hit.start <= c.start < c.end <= c.hit.end
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_sectors_question_cites_the_march_article(seed_index: qa.Index) -> None:
    answer = seed_index.ask("Which sectors did Tokayev and Ma Xingrui discuss?")
    assert_cited_verbatim(answer)
    assert "tourism" in answer.citations[0].quote
    assert answer.citations[0].source.endswith("000_ed18d489a2ac6f1b.txt")
    assert answer.citations[0].date == "2023-03-28"


@pytest.mark.parametrize(("question", "expected"), [
    ("How much did trade between Kazakhstan and China grow in 2022?", "34 percent"),
    ("What trade volume with China does Kazakhstan intend to reach?", "$40 billion"),
    ("Who chairs the Standing Committee of the National People's Congress?", "Zhao Leji"),
])
def test_answers_quote_the_fact(seed_index: qa.Index, question: str, expected: str) -> None:
    answer = seed_index.ask(question)
    assert_cited_verbatim(answer)
    assert expected in answer.text


@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the 2022 FIFA World Cup?",
])
def test_unsupported_questions_abstain_with_related_reading(seed_index: qa.Index,
                                                             question: str) -> None:
    answer = seed_index.ask(question)
    assert answer.abstained and not answer.citations
    assert "could not find" in answer.text
    assert answer.hits


def test_min_confidence_moves_the_abstention_threshold(seed_index: qa.Index) -> None:
    """The same question, the same confidence: answered at or below it, refused above it;
    by default the trained threshold decides."""
    question = "How much did trade between Kazakhstan and China grow in 2022?"
    default = seed_index.ask(question)
    assert not default.abstained
    assert default.confidence >= seed_index.answerer.threshold() > 0.0
    at = seed_index.ask(question, min_confidence=default.confidence)
    above = seed_index.ask(question, min_confidence=min(1.0, default.confidence + 1e-6))
    assert not at.abstained and at.text == default.text
    assert above.abstained and not above.citations and above.confidence == default.confidence
    refused = seed_index.ask("What is the capital of France?")
    assert refused.abstained and 0.0 < refused.confidence < seed_index.answerer.threshold()
    anyway = seed_index.ask("What is the capital of France?", min_confidence=0.0)
    assert_cited_verbatim(anyway)
    with pytest.raises(ValueError, match="between 0 and 1"):
        seed_index.ask(question, min_confidence=1.5)


def test_follow_up_uses_the_previous_question(seed_index: qa.Index) -> None:
    answer = seed_index.ask("What did he say about the agreements?", history=["Who is Li Qiang?"])
    assert_cited_verbatim(answer)
    assert answer.citations[0].hit.article_id == "001_e2c74f9a2f197b54"
    assert "Li Qiang spoke about the agreements" in answer.text


def test_a_follow_up_is_searched_as_asked_within_the_article(seed_index: qa.Index,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Within the article the previous answer quotes, the previous question's words would
    only pull back to the passage that answered it (docs/training.md: BBC tuning follow-ups
    R@1 22 -> 27 of 46 without them). When what it finds there is unsure, the question is
    searched everywhere, joined to the one before."""
    searched: list[tuple[str, int]] = []
    answer_one = seed_index._answer

    def spy(question: str, query: str, allowed: Any, *args: Any, **kw: Any) -> qa.Answer:
        searched.append((query, -1 if allowed is None else int(allowed.sum())))
        return answer_one(question, query, allowed, *args, **kw)

    monkeypatch.setattr(seed_index, "_answer", spy)
    answer = seed_index.ask("What did he say about the agreements?", history=["Who is Li Qiang?"])
    li_qiang = sum(p.article_id == "001_e2c74f9a2f197b54" for p in seed_index.passages)
    assert searched == [("Who is Li Qiang?", -1),  # which article the conversation is about
                        ("What did he say about the agreements?", li_qiang),  # unsure here
                        ("Who is Li Qiang? What did he say about the agreements?", -1)]
    assert answer.citations[0].hit.article_id == "001_e2c74f9a2f197b54"


def test_history_accepts_question_answer_pairs(seed_index: qa.Index) -> None:
    first = seed_index.ask("Who is Li Qiang?")
    answer = seed_index.ask("What did he say about the agreements?",
                            history=[("Who is Li Qiang?", first.text)])
    assert answer.citations[0].hit.article_id == "001_e2c74f9a2f197b54"


def test_a_question_opening_with_and_goes_on_from_the_last_one(seed_index: qa.Index) -> None:
    history = ["Who is Li Qiang?"]
    assert retrieval_query("And which sectors were discussed?", history) == \
        "Who is Li Qiang? And which sectors were discussed?"
    answer = seed_index.ask("And which sectors were discussed?", history=history)
    assert answer.citations[0].hit.article_id == "001_e2c74f9a2f197b54"  # Li Qiang's article


def test_standalone_questions_ignore_history() -> None:
    assert retrieval_query("Which sectors did Tokayev discuss?", ["Who is Li Qiang?"]) == \
        "Which sectors did Tokayev discuss?"
    assert retrieval_query("And him?", ["Who is Li Qiang?"]) == "Who is Li Qiang? And him?"


def test_answers_are_json_ready(seed_index: qa.Index) -> None:
    question = "Who chairs the Standing Committee of the National People's Congress?"
    data = seed_index.ask(question).to_dict()
    assert set(data) >= {"text", "citations", "abstained", "hits"}
    assert set(data["citations"][0]) >= {"n", "quote", "source", "title", "date", "start", "end"}


def test_an_unsure_best_sentence_is_not_quoted_alone(seed_index: qa.Index) -> None:
    hit = seed_index.search("trade between Kazakhstan and China", k=1)[0]
    cands = [Sentence(hit, hit.start + i, hit.start + i + 1, f"sentence {i}", 0, ())
             for i in range(3)]

    def quoted(*probs: float) -> list[int]:
        p = np.asarray(probs)
        return seed_index.answerer.pick(cands, p, np.argsort(-p, kind="stable"))

    assert quoted(0.9, 0.2, 0.1) == [0]  # sure of the best, runner-up far behind
    assert quoted(0.9, 0.8, 0.1) == [0, 1]  # runner-up nearly as likely
    assert quoted(0.3, 0.05, 0.01) == [0, 1]  # best more likely wrong than right: two
    assert quoted(0.05, 0.3, 0.2) == [1, 2]  # best first; never more than max_sentences
