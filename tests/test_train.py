"""`qa train` end to end on a tiny tuning set: real index, real LightGBM and scikit-learn."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qa
from qa.cli import app
from qa.errors import ModelLoadError
from qa.evaluate import load_questions
from qa.models import (
    ANSWERABLE_FILE,
    QUOTES_FILE,
    RANKER_FILE,
    READER_FILE,
    SENTENCE_FILE,
    Models,
)
from qa.train import TrainConfig, TuningSet, train

from .conftest import DATA, SEEDS

MARCH = "000_ed18d489a2ac6f1b"


@pytest.fixture(scope="module")
def tiny_sets(seed_index: qa.Index, embedder: object,
              tmp_path_factory: pytest.TempPathFactory) -> list[TuningSet]:
    """The seed questions about the March article, asked of the seed index and of an index
    without that article (every question there should be abstained on)."""
    other = tmp_path_factory.mktemp("without-march")
    for path in SEEDS.iterdir():
        if path.stem != MARCH:
            shutil.copy(path, other / path.name)
    removed = qa.build([other], other.parent / "index-without-march", embedder=embedder)
    questions = [q for q in load_questions(DATA / "seed_questions.jsonl")
                 if q.source == MARCH or not q.answerable]
    index = qa.load(seed_index.path, embedder=embedder)
    return [TuningSet("seeds", index, questions, 1.0, removed)]


def test_training_writes_models_an_index_can_use(tiny_sets: list[TuningSet], tmp_path: Path,
                                                 seed_index: qa.Index, embedder: object,
                                                 tiny_reader: Path) -> None:
    shutil.copy(tiny_reader, tmp_path / READER_FILE)  # what qa train-reader writes
    report = train(tiny_sets, tmp_path, TrainConfig(trees=20))
    for name in (RANKER_FILE, SENTENCE_FILE, ANSWERABLE_FILE, QUOTES_FILE, "training.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert report.questions == {"seeds": len(tiny_sets[0].questions)}
    assert 0.0 < report.threshold < 1.0
    assert set(report.abstain_on_removed) == {"seeds"}
    assert set(report.files) == {RANKER_FILE, SENTENCE_FILE, ANSWERABLE_FILE, QUOTES_FILE}

    models = Models.load(tmp_path)
    assert models.quotes is not None and models.quotes.weighs("reader")
    assert models.sentences is not None and not models.sentences.weighs("reader")
    assert models.reads_reader and models.describe()["reader"].startswith("onnx:")
    index = qa.load(seed_index.path, embedder=embedder, models=models)
    question = "How much did trade between Kazakhstan and China grow in 2022?"
    answer = index.ask(question)
    assert "34 percent" in answer.text and answer.citations
    assert 0.0 <= answer.confidence <= 1.0
    # The reader changes what is quoted, never whether the bot answers.
    without = qa.load(seed_index.path, embedder=embedder,
                      models=dataclasses.replace(models, quotes=None, reader=None))
    assert without.ask(question).confidence == answer.confidence
    # ...and it is run only once the bot has decided to answer.
    asked: list[str] = []

    class Counted:  # the real reader, its calls counted
        def score(self, q: str, texts: list[str]) -> object:
            asked.append(q)
            return models.reader.score(q, texts)

    counted = qa.load(seed_index.path, embedder=embedder,
                      models=dataclasses.replace(models, reader=Counted()))
    assert counted.ask(question, min_confidence=1.0).abstained and not asked
    assert counted.ask(question).text == answer.text and asked == [question]
    # The command line asks with the same models when given their folder.
    result = CliRunner().invoke(app, ["ask", question, "--index", str(seed_index.path),
                                      "--models", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["text"] == answer.text and record["confidence"] == answer.confidence


def test_training_without_a_reader_writes_no_quotes_model(tiny_sets: list[TuningSet],
                                                          tmp_path: Path) -> None:
    (tmp_path / QUOTES_FILE).write_text("{}")  # left by an earlier run with a reader
    report = train(tiny_sets, tmp_path, TrainConfig(trees=20))
    assert not (tmp_path / QUOTES_FILE).exists() and QUOTES_FILE not in report.files
    models = Models.load(tmp_path)
    assert models.quotes is None and not models.reads_reader


def test_training_is_reproducible(tiny_sets: list[TuningSet], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    train(tiny_sets, first, TrainConfig(trees=20, seed=3))
    train(tiny_sets, second, TrainConfig(trees=20, seed=3))
    for name in (RANKER_FILE, SENTENCE_FILE, ANSWERABLE_FILE):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_shipped_models_load_and_match_the_features() -> None:
    models = Models.load()
    assert models.ranker is not None and models.sentences is not None
    assert models.answerable is not None and 0.0 < models.answerable.threshold < 1.0
    assert all(v for v in models.describe().values())


def test_models_whose_sentence_scorer_reads_a_missing_reader_are_refused(
        tiny_sets: list[TuningSet], tiny_reader: Path, tmp_path: Path) -> None:
    shutil.copy(tiny_reader, tmp_path / READER_FILE)
    train(tiny_sets, tmp_path, TrainConfig(trees=20))
    (tmp_path / READER_FILE).unlink()
    with pytest.raises(ModelLoadError, match="qa train-reader"):
        Models.load(tmp_path)


def test_qa_train_without_the_train_extra_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from qa.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lightgbm" else real(name, *a))
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "models")])
    assert result.exit_code != 0
    assert "pip install 'qa[train]'" in result.output and "lightgbm" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "models").exists()
