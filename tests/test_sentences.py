"""Sentence rows and their stored terms."""

from __future__ import annotations

import numpy as np

import qa
from qa.schema import Passage
from qa.sentences import Lines, SentenceIndex


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


def test_sentence_search_is_exact_over_the_stored_float16_vectors(seed_index: qa.Index) -> None:
    sentences = seed_index.sentences
    stored = sentences.vectors.reconstruct_n(0, sentences.vectors.ntotal)
    assert stored.tolist() == stored.astype(np.float16).astype(np.float32).tolist()
    question = seed_index.embedder.encode_query("Who met the Chinese delegation?")
    cosines = stored @ question
    rows, scores = sentences.search(question, 10)
    assert rows.tolist() == sorted(range(len(stored)), key=lambda r: (-cosines[r], r))[:10]
    assert np.allclose(scores, cosines[rows], atol=1e-6)
    # only the sentences of allowed passages
    allowed = np.zeros(len(seed_index.passages), dtype=bool)
    allowed[[1, 4]] = True
    rows, _ = sentences.search(question, 100, allowed)
    assert sorted(rows.tolist()) == [r for r in range(len(stored))
                                     if sentences.rows[r, 0] in (1, 4)]


def test_equal_sentences_come_back_in_row_order() -> None:
    """A corpus with duplicate articles has many equal cosines; they must not come back
    in whatever order FAISS's heap leaves them, or the same question ranks differently."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((5, 8)).astype(np.float32)
    vectors = np.vstack([base, base, base])  # every sentence three times
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    passage = Passage(id="a#0", article_id="a", text="x", source="a.txt", title="a", date=None,
                      start=0, end=1)
    index = SentenceIndex.make([vectors], [passage], spans=[[(0, 1)] * 15],
                               terms=[["x"] * 15])
    rows, scores = index.search(vectors[2], 15)
    assert rows[:3].tolist() == [2, 7, 12]
    for i in range(14):  # best first; equal ones by row
        assert scores[i] > scores[i + 1] or (scores[i] == scores[i + 1] and rows[i] < rows[i + 1])
