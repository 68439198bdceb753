"""Sentence rows and their stored terms."""

from __future__ import annotations

import qa
from qa.sentences import Lines


def test_term_lines_keep_empty_lines_and_non_ascii_terms() -> None:
    for lines in ([], [""], ["", ""], ["trade grew", "", "almaty café"], ["x"] * 3):
        stored = Lines.of(lines)
        assert len(stored) == len(lines)
        assert stored.lines(0, len(lines)) == lines
        assert Lines(stored.data).lines(1, len(lines)) == lines[1:]
        for i in range(len(lines)):  # any run of lines, alone or amid others
            assert stored.lines(i, i + 1) == [lines[i]]
            assert stored.lines(i, len(lines) - (i > 0)) == lines[i : len(lines) - (i > 0)]


def test_cosines_of_many_passages_are_each_sentence_vector_against_the_question(
        seed_index: qa.Index) -> None:
    sentences = seed_index.sentences
    question = seed_index.embedder.encode_query("When did the mountain reopen?")
    passages = [3, 0, 3, len(seed_index.passages) - 1]
    cosines = sentences.cosines(passages, question)
    assert [len(c) for c in cosines] == [len(sentences.spans(p)) for p in passages]
    for passage, got in zip(passages, cosines, strict=True):
        first = int(sentences.first[passage])
        for j, cosine in enumerate(got):
            vector = sentences.vectors.reconstruct(first + j)
            assert abs(float(cosine) - float(vector @ question)) < 1e-5
    assert sentences.cosines([], question) == []
