"""The sentence reader: a real int8 cross-encoder (trained by `qa.train_reader`, exported
to ONNX) run by ONNX Runtime, one pair at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import ModelLoadError
from qa.models import READER_FILE
from qa.reader import SentenceReader


def test_a_sentence_scores_the_same_alone_or_among_others(
        tiny_reader: Path, reader_groups: list[tuple[str, list[str]]]) -> None:
    reader = SentenceReader(tiny_reader)
    question, texts = reader_groups[1]
    together = reader.score(question, texts)
    alone = [reader.score(question, [t])[0] for t in texts]
    assert together.shape == (len(texts),) and len(set(together.tolist())) > 1
    assert together.tolist() == alone
    assert len(reader.score(question, [])) == 0


def test_a_broken_reader_file_is_a_one_line_load_error(tmp_path: Path) -> None:
    broken = tmp_path / READER_FILE
    broken.write_bytes(b"not an onnx graph")
    with pytest.raises(ModelLoadError, match="cannot load the sentence reader") as err:
        SentenceReader(broken).score("a question", ["a sentence"])
    assert "\n" not in str(err.value)
