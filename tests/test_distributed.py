"""Embedding on a local 2-CPU Ray instance gives the same index as a local build.

The seed passages are split across both replicas, so the test also checks that
vectors come back in passage order.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import qa
from qa import store
from qa.embed import Embedder, Encoder

from .conftest import SEEDS

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from qa.distributed import WORKER_ENV, RayEncoder  # noqa: E402

pytestmark = pytest.mark.slow

QUESTIONS = ["How much did trade between Kazakhstan and China grow in 2022?",
             "Which sectors did Tokayev and Ma Xingrui discuss?"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A private 2-CPU Ray instance for this module."""
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": WORKER_ENV})
    yield
    ray.shutdown()


def test_unreachable_address_fails_fast_with_install_hint() -> None:
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    with pytest.raises(qa.errors.QAError, match=r"cannot reach Ray at '127\.0\.0\.1:1'.*qa\[ray\]"):
        RayEncoder(address="127.0.0.1:1").encode(["a passage"])
    assert not ray.is_initialized()


def test_cli_ray_address_error_is_one_line(tmp_path: Path) -> None:
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    from typer.testing import CliRunner

    from qa.cli import app

    result = CliRunner().invoke(app, ["build", str(SEEDS), "--index", str(tmp_path / "idx"),
                                      "--ray", "--ray-address", "127.0.0.1:1"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "cannot reach Ray at '127.0.0.1:1'" in result.output
    assert not (tmp_path / "idx").exists() and not ray.is_initialized()


def vectors(directory: Path) -> np.ndarray:
    import faiss

    dense = faiss.read_index(str(directory / store.FAISS_FILE))
    return dense.reconstruct_n(0, dense.ntotal)


def test_ray_build_matches_local_build(local_ray: None, torch_embedder: Embedder,
                                       tmp_path: Path) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    local = qa.build([corpus], tmp_path / "local", embedder=torch_embedder)
    seen: list[tuple[int, int]] = []
    remote = qa.build([corpus], tmp_path / "ray", embedder=RayEncoder(replicas=2),
                      progress=lambda done, total: seen.append((done, total)))

    assert seen[-1] == (len(local.passages), len(local.passages))

    assert remote.passages == local.passages
    assert remote.manifest["model"] == local.manifest["model"]
    assert remote.manifest["settings"]["backend"] == "torch"
    np.testing.assert_allclose(vectors(remote.path), vectors(local.path), atol=1e-5, rtol=0)
    sentences = remote.sentences.vectors, local.sentences.vectors  # late-chunked on replicas
    np.testing.assert_allclose(sentences[0].reconstruct_n(0, sentences[0].ntotal),
                               sentences[1].reconstruct_n(0, sentences[1].ntotal), atol=1e-3)
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            got, want = remote.search(question, mode=mode), local.search(question, mode=mode)
            assert [h.passage_id for h in got] == [h.passage_id for h in want]
            assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)


def test_ray_int8_build_matches_local_int8_build(local_ray: None, embedder: Encoder,
                                                 shared_onnx_cache: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    local = qa.build([corpus], tmp_path / "local", embedder=embedder)  # the default backend
    remote = qa.build([corpus], tmp_path / "ray", embedder=RayEncoder(
        replicas=2, backend="onnx-int8", cache_dir=shared_onnx_cache))
    assert remote.manifest["settings"]["backend"] == local.manifest["settings"]["backend"]
    assert remote.passages == local.passages
    np.testing.assert_allclose(vectors(remote.path), vectors(local.path), atol=1e-5, rtol=0)


def test_model_missing_on_workers_is_a_model_load_error(local_ray: None,
                                                        tmp_path: Path) -> None:
    encoder = RayEncoder(str(tmp_path / "no-such-model"), replicas=1)
    with pytest.raises(qa.errors.ModelLoadError, match="on a Ray worker"):
        encoder.encode(["a passage"])
