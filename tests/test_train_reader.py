"""`qa train-reader` end to end on a tiny set of groups: real PyTorch training, a real
ONNX export and int8 quantisation, read back by the reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.models import READER_FILE, READER_INFO
from qa.reader import SentenceReader
from qa.train_reader import ReaderConfig, train_reader

pytestmark = pytest.mark.slow
TINY = ReaderConfig(steps=2, per_step=2, group=4, kept_back=2, news_repeat=2)
Groups = list[tuple[str, list[str]]]


def test_training_writes_a_reader_that_loads_and_scores(reader_groups: Groups,
                                                        tmp_path: Path) -> None:
    report = train_reader(reader_groups[:4], reader_groups[4:], tmp_path, TINY)
    assert report.groups == {"squad": 2, "news": 2, "kept_back": 2} and report.steps == 2
    assert report.loss_first > 0 and 0.0 <= report.kept_back_after <= 1.0
    info = json.loads((tmp_path / READER_INFO).read_text(encoding="utf-8"))
    assert info["digest"] == report.digest and info["config"]["steps"] == 2
    question, texts = reader_groups[1]
    scores = SentenceReader(tmp_path / READER_FILE).score(question, texts)
    assert scores.shape == (TINY.group,) and len(set(scores.tolist())) > 1


def test_training_is_reproducible(reader_groups: Groups, tiny_reader: Path,
                                  tmp_path: Path) -> None:
    train_reader(reader_groups[:4], reader_groups[4:], tmp_path, TINY)  # as tiny_reader was
    assert (tmp_path / READER_FILE).read_bytes() == tiny_reader.read_bytes()


def test_qa_train_reader_without_the_data_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train-reader", "--data", str(tmp_path / "nowhere"),
                                      "--out", str(tmp_path / "models")])
    assert result.exit_code != 0 and "missing" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "models").exists()
