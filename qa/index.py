"""The `Index`: passages, their FAISS vectors and BM25 terms; build, save, load, search."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import retrieve, store
from .config import DEFAULT_MODEL, MODES, BuildConfig, ChunkConfig, Mode, SearchConfig
from .corpus import read_corpus, split_corpus
from .embed import Embedder
from .errors import IndexCorruptError, IndexMismatchError, QAError, QuestionError
from .schema import Answer, Hit, Passage

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_INDEX = "embeddings"
MAX_QUESTION_CHARS = 2000


def embedding_text(p: Passage, with_title: bool) -> str:
    """What is embedded for a passage: its text, after its title and date unless they repeat it."""
    if not with_title or p.text.startswith(p.title.rstrip("…")):
        return p.text
    head = p.title + (f" ({p.date})" if p.date else "")
    return f"{head}\n{p.text}"


def check_question(question: str) -> str:
    """The question stripped; a QuestionError if it is empty or too long."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is too long ({len(question)} characters; "
                            f"at most {MAX_QUESTION_CHARS})")
    return question.strip()


class Index:
    """A loaded index. Build one with `qa.build`, open a saved one with `qa.load`."""

    def __init__(self, *, path: Path, manifest: dict[str, Any], passages: list[Passage],
                 dense: Any, bm25: Any, embedder: Embedder) -> None:
        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.embedder = embedder
        self._dense = dense
        self._bm25 = bm25
        self.search_config = SearchConfig()
        self._stemmer = retrieve.make_stemmer()
        self._prev = retrieve.previous_passages([p.article_id for p in passages])
        from .answer import ExtractiveAnswerer

        self._position = {p.id: i for i, p in enumerate(passages)}
        self.answerer = ExtractiveAnswerer(embedder.encode, self._stemmer,
                                           retrieve.idf_weights(bm25), before=self._text_before)

    def __len__(self) -> int:
        return len(self.passages)

    def __repr__(self) -> str:
        c = self.manifest["counts"]
        return (f"<qa.Index {self.path}: {c['articles']} articles, {c['passages']} passages, "
                f"model {self.manifest['model']['name']}>")

    @property
    def model(self) -> str:
        return str(self.manifest["model"]["name"])

    def filter_mask(self, sources: Sequence[str] | None = None, date_from: str | None = None,
                    date_to: str | None = None) -> np.ndarray | None:
        """Which passages pass the filters (None when there are no filters).

        A source matches an article id, a source path, or a file name; dates are ISO
        strings compared inclusively, and undated passages fail any date filter.
        """
        import numpy as np

        if not sources and not date_from and not date_to:
            return None
        wanted = set(sources or ())
        mask = np.ones(len(self.passages), dtype=bool)
        for i, p in enumerate(self.passages):
            if wanted:
                name = os.path.basename(p.source.split(":")[0])
                mask[i] = bool({p.article_id, p.source, name, p.source.split(":")[0]} & wanted)
            if mask[i] and (date_from or date_to):
                mask[i] = p.date is not None and (not date_from or p.date >= date_from) and (
                    not date_to or p.date <= date_to)
        return mask

    def search(self, query: str, *, k: int = 5, mode: Mode = "hybrid",
               sources: Sequence[str] | None = None, date_from: str | None = None,
               date_to: str | None = None) -> list[Hit]:
        """The `k` passages that best match `query`, best first.

        Args:
            query: a question or keywords.
            k: how many hits to return.
            mode: "hybrid" (dense and BM25 scores fused, see SearchConfig), "dense", "bm25".
            sources: keep only passages of these articles (id, source path or file name).
            date_from: keep only passages dated on or after this ISO date.
            date_to: keep only passages dated on or before this ISO date.
        """
        query = check_question(query)
        return self._search(query, self.embedder.encode_query(query), k=k, mode=mode,
                            allowed=self.filter_mask(sources, date_from, date_to))

    def _search(self, query: str, vector: np.ndarray, *, k: int, mode: Mode,
                allowed: np.ndarray | None) -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        cfg = self.search_config
        depth = max(cfg.depth, k)
        bm25 = retrieve.bm25_scores(self._bm25, retrieve.tokenize([query], self._stemmer)[0],
                                    len(self.passages))
        dense_ids, dense_scores = retrieve.dense_search(self._dense, vector, depth, allowed)
        dense = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
        if mode == "dense":
            ranked = list(dense.items())
        elif mode == "bm25":
            ranked = [(i, float(bm25[i])) for i in self._lexical(bm25, depth, allowed)]
        else:
            lexical_scores = retrieve.with_context(bm25, self._prev, cfg.context_weight)
            lexical = self._lexical(lexical_scores, depth, allowed)
            ranked = (retrieve.rrf_fuse([list(dense), lexical], k=cfg.rrf_k)
                      if cfg.fusion == "rrf" else
                      retrieve.convex_fuse(dense, lexical_scores, lexical, alpha=cfg.alpha))
        return [self._hit(i, score, rank, dense.get(i), float(bm25[i]))
                for rank, (i, score) in enumerate(ranked[:k], start=1)]

    def _text_before(self, hit: Hit) -> str:
        """The last sentence of the passage before `hit` in its article, or ""."""
        from .text import sentences

        prev = int(self._prev[self._position[hit.passage_id]])
        if prev < 0:
            return ""
        text = self.passages[prev].text
        spans = sentences(text)
        return text[spans[-1][0] : spans[-1][1]] if spans else ""

    @staticmethod
    def _lexical(scores: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[int]:
        matching = scores > 0 if allowed is None else allowed & (scores > 0)
        return retrieve.top_k(scores, depth, matching).tolist()

    def _hit(self, i: int, score: float, rank: int, dense: float | None, bm25: float) -> Hit:
        p = self.passages[i]
        return Hit(text=p.text, score=float(score), source=p.source, title=p.title, date=p.date,
                   start=p.start, end=p.end, passage_id=p.id, article_id=p.article_id, rank=rank,
                   dense_score=dense, bm25_score=bm25)

    def ask(self, question: str, *, history: Sequence[str | tuple[str, str]] | None = None,
            k: int = 5, mode: Mode = "hybrid", sources: Sequence[str] | None = None,
            date_from: str | None = None, date_to: str | None = None) -> Answer:
        """Answer `question` with cited sentences quoted from the passages, or abstain.

        Args:
            question: the question.
            history: earlier turns, oldest first: question strings or (question, answer)
                pairs; used to resolve follow-ups such as "What did he say about it?".
            k: how many passages to consider and return as `hits`.
            mode, sources, date_from, date_to: as for `search`.
        """
        from .answer import retrieval_query

        question = check_question(question)
        query = retrieval_query(question, history)
        hits = self._search(query, self.embedder.encode_query(query), k=k, mode=mode,
                            allowed=self.filter_mask(sources, date_from, date_to))
        return self.answerer(question, hits, query=query)


def _refuse_foreign_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or (
            any(path.iterdir()) and not (path / store.MANIFEST).exists())):
        raise QAError(f"{path} exists and is not a qa index; refusing to overwrite it")


def build(sources: Sequence[str | os.PathLike[str]], index_dir: str | os.PathLike[str] = DEFAULT_INDEX,
          model: str | None = None, *, chunk: ChunkConfig | None = None, force: bool = False,
          skip_bad: bool = False, embedder: Embedder | None = None,
          progress: Callable[[int, int], None] | None = None) -> Index:
    """Read `sources`, split, embed and index them into `index_dir`, and return the index.

    An existing index built from the same sources and settings is loaded instead of
    rebuilt unless `force`. The write is atomic: a failed build leaves the old index.

    Args:
        sources: files and folders of .txt, .md or .jsonl articles.
        index_dir: where the index is saved.
        model: sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2).
        chunk: passage splitting settings.
        force: rebuild even when the index is up to date.
        skip_bad: log and skip unreadable files and records instead of failing.
        embedder: an already loaded model to reuse (its name must match `model`).
        progress: called as progress(done, total) while passages are encoded.
    """
    path = Path(index_dir)
    config = BuildConfig(model=model or (embedder.name if embedder else DEFAULT_MODEL),
                         chunk=chunk or ChunkConfig())
    if embedder is not None and embedder.name != config.model:
        raise IndexMismatchError(f"embedder is {embedder.name!r} but model {config.model!r} was asked")
    corpus = read_corpus(sources, skip_bad=skip_bad)
    settings = config.fingerprint()
    reason = "forced" if force else store.rebuild_reason(path, corpus.files, settings)
    if reason is None:
        logger.info("index in %s is up to date", path)
        return load(path, embedder=embedder)
    _refuse_foreign_dir(path)
    logger.info("building index in %s: %s", path, reason)
    passages = split_corpus(corpus.articles, config.chunk)
    embedder = embedder or Embedder(config.model)
    texts = [embedding_text(p, config.embed_title) for p in passages]
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], len(texts))

    vectors = embedder.encode(texts, batch_size=config.batch_size, progress=tick)
    dense, bm25 = make_indexes(vectors, passages)
    with store.atomic_directory(path) as tmp:
        _save(tmp, dense, bm25, passages)
        manifest = store.make_manifest(tmp, settings=settings, dimension=embedder.dimension,
                                       files=corpus.files, passages=len(passages),
                                       articles=len(corpus.articles), faiss_type="flat")
        store.write_json(tmp / store.MANIFEST, manifest)
    return Index(path=path, manifest=manifest, passages=passages, dense=dense, bm25=bm25,
                 embedder=embedder)


def make_indexes(vectors: np.ndarray, passages: Sequence[Passage]) -> tuple[Any, Any]:
    """A FAISS inner-product index of `vectors` and a BM25 index of the passage texts."""
    import bm25s
    import faiss

    dense = faiss.IndexFlatIP(vectors.shape[1])
    dense.add(vectors)
    bm25 = bm25s.BM25()
    bm25.index(retrieve.tokenize([p.text for p in passages], retrieve.make_stemmer()),
               show_progress=False)
    return dense, bm25


def _save(directory: Path, dense: Any, bm25: Any, passages: Sequence[Passage]) -> None:
    import faiss

    store.write_passages(directory / store.PASSAGES, passages)
    faiss.write_index(dense, str(directory / store.FAISS_FILE))
    bm25.save(str(directory / store.BM25_DIR), show_progress=False)


def load(index_dir: str | os.PathLike[str] = DEFAULT_INDEX, *, model: str | None = None,
         embedder: Embedder | None = None, check_sources: bool = True) -> Index:
    """Open the index saved in `index_dir`.

    Args:
        index_dir: the directory `qa.build` wrote.
        model: the model the caller expects; must match the one the index was built with.
        embedder: an already loaded model to reuse.
        check_sources: refuse an index whose source files changed since it was built.

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError, IndexStaleError.
    """
    import bm25s
    import faiss

    path = Path(index_dir)
    manifest = store.read_manifest(path)
    built_with = manifest["model"]["name"]
    for wanted in (model, embedder.name if embedder else None):
        if wanted is not None and wanted != built_with:
            raise IndexMismatchError(f"index in {path}/ was built with model {built_with!r}, "
                                     f"not {wanted!r}; run `qa build --model {wanted}`")
    if check_sources:
        store.check_fresh(path, manifest)
    passages = store.read_passages(path / store.PASSAGES)
    try:
        dense = faiss.read_index(str(path / store.FAISS_FILE))
        bm25 = bm25s.BM25.load(str(path / store.BM25_DIR), show_progress=False)
    except Exception as exc:  # noqa: BLE001 - FAISS and bm25s raise assorted errors
        raise IndexCorruptError(f"{path}/: cannot read index files ({exc}); run `qa build --force`") from None
    counts = {len(passages), dense.ntotal, int(bm25.scores["num_docs"]), manifest["counts"]["passages"]}
    if len(counts) != 1:
        raise IndexCorruptError(f"{path}/: passage counts disagree ({sorted(counts)}); run `qa build --force`")
    embedder = embedder or Embedder(built_with)
    if embedder.dimension != dense.d:
        raise IndexMismatchError(f"model {built_with!r} gives {embedder.dimension}-d vectors, index has {dense.d}")
    return Index(path=path, manifest=manifest, passages=passages, dense=dense, bm25=bm25,
                 embedder=embedder)
