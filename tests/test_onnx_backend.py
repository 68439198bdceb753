"""The ONNX Runtime encoder: same vectors as the PyTorch one, cached graph, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.embed import Embedder
from qa.errors import ModelLoadError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from qa.onnx_backend import OnnxEmbedder  # noqa: E402

SENTENCES = [
    "Maine lottery ticket wins a record jackpot.",
    "Kazakhstan and China discussed cooperation in industry, transport, logistics, "
    "agriculture and tourism, and trade between the two countries grew by 34 percent in 2022. " * 8,
    "Rain.",
    "The central bank left interest rates unchanged on Thursday.",
    "",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_embedder(onnx_cache: Path) -> OnnxEmbedder:
    """The bundled model exported once for this module."""
    return OnnxEmbedder(cache_dir=onnx_cache)


def test_same_vectors_as_pytorch(onnx_embedder: OnnxEmbedder, torch_embedder: Embedder) -> None:
    ours = onnx_embedder.encode(SENTENCES)
    theirs = torch_embedder.encode(SENTENCES)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert onnx_embedder.name == torch_embedder.name
    assert onnx_embedder.dimension == torch_embedder.dimension
    assert np.all(np.sum(ours * theirs, axis=1) > 0.999)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_order_preserved_with_mixed_lengths(onnx_embedder: OnnxEmbedder) -> None:
    batched = onnx_embedder.encode(SENTENCES, batch_size=2)
    for text, row in zip(SENTENCES, batched, strict=True):
        alone = onnx_embedder.encode_query(text)
        assert float(alone @ row) > 0.9999


def test_progress_counts_every_text(onnx_embedder: OnnxEmbedder) -> None:
    seen: list[int] = []
    onnx_embedder.encode(SENTENCES, batch_size=2, progress=seen.append)
    assert sum(seen) == len(SENTENCES)


def test_query_finds_its_sentence(onnx_embedder: OnnxEmbedder) -> None:
    passages = onnx_embedder.encode(SENTENCES[:4])
    query = onnx_embedder.encode_query("who won the lottery?")
    assert int(np.argmax(passages @ query)) == 0


def test_graph_is_cached_and_reused(onnx_embedder: OnnxEmbedder, onnx_cache: Path) -> None:
    graph = onnx_embedder.graph
    assert graph.parent == onnx_cache and graph.suffix == ".onnx"
    before = graph.stat().st_mtime_ns
    again = OnnxEmbedder(cache_dir=onnx_cache)
    assert again.graph == graph and graph.stat().st_mtime_ns == before
    assert [p.name for p in onnx_cache.iterdir() if p.name.startswith(".")] == []


def test_bad_model_path_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        OnnxEmbedder(str(tmp_path / "no-such-model"), cache_dir=tmp_path)


def test_broken_model_dir_raises(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{}", encoding="utf-8")
    (broken / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        OnnxEmbedder(str(broken), cache_dir=tmp_path / "cache")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "cache").glob("*.onnx")) == []


def test_build_with_onnx_backend_and_query_with_it(tmp_path: Path, seed_index: object,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    import qa
    from qa.onnx_backend import OnnxEmbedder as Onnx

    from .conftest import SEEDS

    monkeypatch.delenv("QA_ONNX_CACHE")  # the default place: beside the index
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    index = qa.build([corpus], tmp_path / "idx", backend="onnx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["settings"]["backend"] == "onnx"
    assert list((tmp_path / ".qa-onnx").glob("*.onnx"))
    loaded = qa.load(tmp_path / "idx")
    assert isinstance(loaded.embedder, Onnx)
    question = "How much did trade between Kazakhstan and China grow in 2022?"
    assert "34 percent" in loaded.ask(question).text
    assert [h.passage_id for h in loaded.search(question)] == \
        [h.passage_id for h in index.search(question)]


def test_int8_vectors_do_not_depend_on_batch_mates(embedder: object) -> None:
    from qa.onnx_backend import OnnxEmbedder as Onnx

    assert isinstance(embedder, Onnx) and embedder.quantize  # the default backend
    alone = np.stack([embedder.encode_query(t) for t in SENTENCES])
    np.testing.assert_array_equal(embedder.encode(SENTENCES, batch_size=64), alone)
    np.testing.assert_array_equal(embedder.encode(SENTENCES[::-1], batch_size=2), alone[::-1])


def test_questions_run_on_their_own_one_thread_session(onnx_cache: Path) -> None:
    """A process that only answers questions never builds the passage session (~36 MiB),
    and a question's vector is the one the passage session gives the same text."""
    fresh = OnnxEmbedder(cache_dir=onnx_cache, quantize=True, threads=2)
    query = fresh.encode_query(SENTENCES[0])
    assert fresh._batch_session is None
    np.testing.assert_array_equal(fresh.encode(SENTENCES[:1])[0], query)
    assert fresh._batch_session is not None
