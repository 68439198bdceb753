"""Shared fixtures: one real model and one real seed index per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import qa
from qa.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded once."""
    return Embedder()


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of seeds/, so no test can disturb the real files."""
    target = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seed_index(seeds_copy: Path, embedder: Embedder,
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
