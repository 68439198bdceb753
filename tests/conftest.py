"""Shared fixtures: one real model and one real seed index per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.embed import Embedder, Encoder, make_embedder
from tests.helpers import build_xss_index
from tests.stories import write_mixed_folder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def shared_onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export of the bundled model for the whole session ($QA_ONNX_CACHE),
    shared by every index the tests build and every `qa` subprocess they run."""
    path = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_ONNX_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def embedder(shared_onnx_cache: Path) -> Encoder:
    """The bundled all-MiniLM-L6-v2 on the default backend (ONNX Runtime, int8), loaded once."""
    return make_embedder()


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    """The same model on sentence-transformers + PyTorch: the reference the others match."""
    return Embedder()


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of seeds/, so no test can disturb the real files."""
    target = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seed_index(seeds_copy: Path, embedder: Encoder,
               tmp_path_factory: pytest.TempPathFactory) -> qa.Index:
    """A real index of the seed articles (read-only: copy it before changing it)."""
    return qa.build([seeds_copy], tmp_path_factory.mktemp("index") / "embeddings",
                    embedder=embedder)


@pytest.fixture()
def index_copy(seed_index: qa.Index, tmp_path: Path) -> Path:
    """A copy of the seed index directory that a test may change."""
    target = tmp_path / "embeddings"
    shutil.copytree(seed_index.path, target)
    return target


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every format: web page, PDFs, RSS and Atom feeds, CSV and Parquet."""
    return write_mixed_folder(tmp_path_factory.mktemp("formats") / "mixed")


@pytest.fixture(scope="session")
def mixed_index(mixed_folder: Path, embedder: Encoder,
                tmp_path_factory: pytest.TempPathFactory) -> qa.Index:
    """A real index of the mixed folder (read-only: copy it before changing it)."""
    return qa.build([mixed_folder], tmp_path_factory.mktemp("mixed-index") / "embeddings",
                    embedder=embedder)


@pytest.fixture(scope="session")
def xss_index(tmp_path_factory: pytest.TempPathFactory, embedder: Encoder) -> qa.Index:
    """An index of one article full of markup (tests.helpers.XSS_ARTICLE)."""
    return build_xss_index(tmp_path_factory.mktemp("xss"), embedder)


@pytest.fixture(scope="module")
def threads_as_served() -> Iterator[None]:
    """PyTorch threads as `qa serve` sets them (`share_cores`), restored afterwards."""
    import torch

    from qa import app

    before = torch.get_num_threads()
    app.share_cores(app.CONCURRENCY)
    yield
    torch.set_num_threads(before)


LLAMA_KEY = "qa-test-key-5b1f"
"""The API key the test llama.cpp server requires (tests check that it is never printed)."""


def require_llama() -> None:
    """Skip, loudly, without qa[llm]; under `make test` (QA_REQUIRE_LLM=1) or CI, fail."""
    from tests.llama_server import missing_packages

    reason = missing_packages()
    if reason is None:
        return
    if os.environ.get("CI") == "true" or os.environ.get("QA_REQUIRE_LLM") == "1":
        pytest.fail(f"the real llama.cpp server tests must run here: {reason}")
    import warnings

    warnings.warn(f"SKIPPING the real llama.cpp server tests: {reason}", stacklevel=2)
    pytest.skip(f"real llama.cpp server tests skipped: {reason}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real llama.cpp server with the Gemma 3 270M GGUF on 127.0.0.1, started once."""
    require_llama()
    from tests.llama_server import LlamaServer

    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log", api_key=LLAMA_KEY)
    with server:
        yield server


@pytest.fixture(scope="session")
def llm(llama_server: Any) -> qa.LLM:
    """The test server as `qa.LLM`, with a timeout a loaded 2-core machine can meet."""
    from tests.llama_server import MODEL_ALIAS

    return qa.LLM(llama_server.url, MODEL_ALIAS, api_key=LLAMA_KEY, timeout=120.0, max_tokens=120)


@pytest.fixture(scope="session")
def reader_groups() -> list[tuple[str, list[str]]]:
    """Six questions about the March seed article, each with its answer sentence first and
    three other sentences of the article: training groups for the sentence reader."""
    from qa.text import sentences

    text = (SEEDS / "000_ed18d489a2ac6f1b.txt").read_text(encoding="utf-8")
    every = [text[s:e] for s, e in sentences(text)]
    out = []
    for question, answer in [("How much did trade grow?", "34 percent"),
                             ("Which president visited in 2022?", "Xi Jinping"),
                             ("What is China's share of Kazakhstan's trade?", "18 percent"),
                             ("How many joint projects are there?", "52 joint"),
                             ("What did Smailov ask for cargo carriers?", "visas"),
                             ("How many check points have green corridors?", "two of the five")]:
        positive = next(s for s in every if answer in s)
        out.append((question, [positive, *[s for s in every if s != positive][:3]]))
    return out


@pytest.fixture(scope="session")
def tiny_reader(reader_groups: list[tuple[str, list[str]]],
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence reader really trained (2 steps; `qa.train_reader`) and exported to int8
    ONNX: the reader file `qa train-reader` writes (qa/models ships none)."""
    from qa.models import READER_FILE
    from qa.train_reader import ReaderConfig, train_reader

    out = tmp_path_factory.mktemp("reader")
    train_reader(reader_groups[:4], reader_groups[4:], out,
                 ReaderConfig(steps=2, per_step=2, group=4, kept_back=2, news_repeat=2))
    return out / READER_FILE
