"""qa.likelihood: the real Gemma 3 270M GGUF scores how likely a question is after a passage."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.errors import ModelLoadError
from qa.likelihood import LIKELIHOOD_DEPTH, QueryLikelihoodReranker, is_gguf
from tests.conftest import require_llama

QUESTION = "How much did trade between Kazakhstan and China grow in 2022?"
ANSWERS = "In 2022, trade between the two countries grew by 34 percent, to 31 billion dollars."
OTHER = "The village bakery sells sourdough bread and cinnamon buns every morning."


@pytest.fixture(scope="module")
def gguf() -> Path:
    require_llama()
    from tests.llama_server import gguf_path

    return gguf_path()


@pytest.fixture(scope="module")
def reranker(gguf: Path) -> QueryLikelihoodReranker:
    return QueryLikelihoodReranker(gguf, threads=1)


def test_the_passage_that_answers_makes_the_question_likelier(
        reranker: QueryLikelihoodReranker) -> None:
    scores = reranker.score(QUESTION, [OTHER, ANSWERS, OTHER])
    assert scores.shape == (3,) and (scores < 0).all()  # mean log-probabilities
    assert scores[1] > scores[0] + 0.3
    assert scores[0] == pytest.approx(scores[2], abs=0.05)  # same text, same score


def test_scores_do_not_depend_on_the_batch(reranker: QueryLikelihoodReranker) -> None:
    """Passages scored together (one sequence each) score as they do alone, and more
    passages than fit one batch are split over several."""
    alone = [float(reranker.score(QUESTION, [t])[0]) for t in (ANSWERS, OTHER)]
    many = reranker.score(QUESTION, [ANSWERS, OTHER] * 6)  # 12 > max_sequences (8)
    assert list(many[:2]) == pytest.approx(alone, abs=0.05)
    assert list(many[-2:]) == pytest.approx(alone, abs=0.05)


def test_long_passages_and_questions_are_cut_to_fit(reranker: QueryLikelihoodReranker,
                                                   gguf: Path) -> None:
    scores = reranker.score(QUESTION + " and why?" * 200, [ANSWERS * 400, ""])
    assert scores.shape == (2,) and all(s < 0 for s in scores)
    # A small context cuts the passage from the front and keeps the prompt's first token.
    small = QueryLikelihoodReranker(gguf, threads=1, n_ctx=256)
    cut = small.score(QUESTION + " and why?" * 200, [ANSWERS * 400, OTHER])
    assert cut.shape == (2,) and all(s < 0 for s in cut)
    assert QueryLikelihoodReranker._fit([7, 1, 2, 3, 4], 3) == [7, 3, 4]
    assert QueryLikelihoodReranker._fit([7, 1], 3) == [7, 1]
    with pytest.raises(ValueError, match="n_ctx"):
        QueryLikelihoodReranker(gguf, n_ctx=100)


def test_an_empty_question_scores_nothing(reranker: QueryLikelihoodReranker) -> None:
    assert reranker.score(" \t", [ANSWERS, OTHER]).tolist() == [0.0, 0.0]
    assert reranker.score(QUESTION, []).shape == (0,)


def test_a_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    assert is_gguf("models/Gemma.GGUF") and not is_gguf("cross-encoder/ms-marco-MiniLM-L6-v2")
    with pytest.raises(ModelLoadError, match="cannot find the language model"):
        QueryLikelihoodReranker(tmp_path / "none.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF not really")
    with pytest.raises(ModelLoadError, match="cannot load the language model"):
        QueryLikelihoodReranker(broken)


def test_an_index_built_with_a_gguf_reranker_reorders_its_best_five(
        gguf: Path, seeds_copy: Path, embedder: object, tmp_path: Path) -> None:
    index = qa.build([seeds_copy], tmp_path / "idx", embedder=embedder, reranker=str(gguf))
    assert index.manifest["reranker"] == str(gguf)
    reopened = qa.load(tmp_path / "idx", embedder=embedder)
    question = "What did Li Qiang and Tokayev agree on?"
    hits = reopened.search(question, k=10)
    plain = qa.build([seeds_copy], tmp_path / "plain", embedder=embedder)
    before = plain.search(question, k=10)
    assert [h.passage_id for h in hits[LIKELIHOOD_DEPTH:]] == \
        [h.passage_id for h in before[LIKELIHOOD_DEPTH:]]  # only the best five move
    assert {h.passage_id for h in hits[:LIKELIHOOD_DEPTH]} == \
        {h.passage_id for h in before[:LIKELIHOOD_DEPTH]}
    scores = reranker_scores(gguf, question, hits[:LIKELIHOOD_DEPTH])
    assert scores == sorted(scores, reverse=True)  # in the language model's order
    answer = reopened.ask(question)  # quotes from the best three, in the new order
    assert answer.citations and answer.citations[0].hit.passage_id in {
        h.passage_id for h in hits[:3]}
    assert [h.passage_id for h in answer.hits] == [h.passage_id for h in hits[:len(answer.hits)]]
    # whether the articles answer is judged on the ranker's own order, as trained
    assert answer.confidence == plain.ask(question).confidence
    assert qa.load(tmp_path / "idx", embedder=embedder).add(
        [seeds_copy]).manifest["reranker"] == str(gguf)  # kept by updates


def test_the_command_line_builds_describes_and_asks_with_it(
        gguf: Path, seeds_copy: Path, tmp_path: Path) -> None:
    from tests.test_cli import qa_cli

    index = tmp_path / "idx"
    missing = qa_cli("build", str(seeds_copy), "--index", str(index), "--reranker",
                     str(tmp_path / "nowhere.gguf"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "cannot find the language model" in missing.stderr.strip().splitlines()[-1]
    assert "nowhere" not in (index / "manifest.json").read_text(encoding="utf-8")  # not recorded
    built = qa_cli("build", str(seeds_copy), "--index", str(index), "--reranker", str(gguf))
    assert built.returncode == 0, built.stderr
    assert "llama" not in built.stderr  # llama.cpp's own notices are kept off the terminal
    info = qa_cli("info", "--index", str(index))
    assert f"reranker: {gguf} (query likelihood, best {LIKELIHOOD_DEPTH})" in info.stdout
    asked = qa_cli("ask", "What did Li Qiang and Tokayev agree on?", "--index", str(index))
    assert asked.returncode == 0 and "[1]" in asked.stdout, asked.stderr


def reranker_scores(gguf: Path, question: str, hits: list[qa.Hit]) -> list[float]:
    scorer = QueryLikelihoodReranker(gguf, threads=1)
    return [float(s) for s in scorer.score(question, [f"{h.title}\n{h.text}" if h.title
                                                      else h.text for h in hits])]
