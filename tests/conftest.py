"""Shared fixtures: one real model and one real seed index per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
