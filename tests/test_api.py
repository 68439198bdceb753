"""The public import paths other code relies on."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import qa


@pytest.mark.parametrize("name", qa.__all__)
def test_public_names_import(name: str) -> None:
    assert getattr(qa, name) is not None


@pytest.mark.parametrize("cls", [qa.Hit, qa.Answer, qa.Citation, qa.Passage, qa.Article, qa.LLM])
def test_records_are_frozen_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_errors_share_one_base() -> None:
    for name in qa.__all__:
        obj = getattr(qa, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, qa.QAError)


def test_import_qa_stays_light() -> None:
    code = ("import sys, qa; heavy = [m for m in ('torch', 'faiss', 'gradio', "
            "'sentence_transformers', 'bm25s', 'openai') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
