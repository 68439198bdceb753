"""Building, updating and loading an index directory; only new passage text is embedded."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import dense as dense_types
from . import retrieve, store
from .config import DEFAULT_MODEL, BuildConfig, ChunkConfig, default_backend
from .corpus import (
    SPLIT_VERSION,
    Corpus,
    Extracted,
    SourceFile,
    read_corpus,
    split_article,
    split_corpus,
)
from .embed import make_embedder
from .errors import IndexCorruptError, IndexMismatchError, QAError
from .fetch import is_url
from .formats import ReadOptions
from .models import Models
from .schema import Article, Passage
from .sentences import SentenceIndex, encode_passages, passage_spans, token_lines
from .text import sentences

if TYPE_CHECKING:
    import numpy as np

    from .index import Index

logger = logging.getLogger(__name__)

DEFAULT_INDEX = "embeddings"
VECTORS_FILE = "vectors.npy"
"""Raw vectors, kept beside compressed (IVF-PQ) indexes so updates need not re-embed."""

Progress = Callable[[int, int], None]


def onnx_cache(index_dir: Path) -> Path:
    """Where exported ONNX graphs are kept: $QA_ONNX_CACHE if set, else beside the index
    (not in it: the index directory is replaced whole on every write)."""
    shared = os.environ.get("QA_ONNX_CACHE")
    return Path(shared) if shared else index_dir.absolute().parent / ".qa-onnx"


def embedding_text(p: Passage, with_title: bool) -> str:
    """What is embedded for a passage: its text, after its title and date unless they repeat it."""
    if not with_title or p.text.startswith(p.title.rstrip("…")):
        return p.text
    head = p.title + (f" ({p.date})" if p.date else "")
    return f"{head}\n{p.text}"


def _refuse_foreign_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or (
            any(path.iterdir()) and not (path / store.MANIFEST).exists())):
        raise QAError(f"{path} exists and is not a qa index; refusing to overwrite it")


def read_sources(sources: Sequence[str | os.PathLike[str]],
                 index_dir: str | os.PathLike[str] = DEFAULT_INDEX, *, skip_bad: bool = False,
                 read: ReadOptions | None = None, extracted: Mapping[str, Extracted] | None = None,
                 force: bool = False) -> Corpus:
    """Read `sources` (files, folders, http(s) addresses) as `build` does.

    A file unchanged since the index in `index_dir` was built (by this qa version, with
    the same text column) is not extracted again: its stored articles are used. Sources in
    `extracted` (by resolved path or address) are not read again either; other addresses
    are fetched.
    """
    read = read or ReadOptions()
    known = {} if force else _previous_extractions(Path(index_dir), read)
    known.update(extracted or {})
    return read_corpus(sources, skip_bad=skip_bad, options=read, known=known)


def _previous_extractions(path: Path, read: ReadOptions) -> dict[str, Extracted]:
    from .articles import extractions

    try:
        manifest = store.read_manifest(path)
    except (QAError, OSError):
        return {}
    if manifest.get("qa_version") != store.qa_version() or \
            manifest["settings"].get("text_column", "text") != read.text_column:
        return {}
    return {k: v for k, v in extractions(path, manifest).items() if not is_url(k)}


def build(sources: Sequence[str | os.PathLike[str]] | Corpus,
          index_dir: str | os.PathLike[str] = DEFAULT_INDEX,
          model: str | None = None, *, chunk: ChunkConfig | None = None, index_type: str = "auto",
          backend: str | None = None, force: bool = False, skip_bad: bool = False, embedder: Any = None,
          progress: Progress | None = None,
          vector_cache: Mapping[str, Known] | None = None, read: ReadOptions | None = None,
          extracted: Mapping[str, Extracted] | None = None, reranker: str | None = None,
          models: Models | None = None) -> Index:
    """Read `sources`, split, embed and index them into `index_dir`, and return the index.

    An existing index built from the same sources and settings is loaded instead of
    rebuilt unless `force`. When only some articles changed, the vectors of unchanged
    passages are reused. The write is atomic: a failed build leaves the old index.

    Args:
        sources: files and folders of articles (.txt, .md, .jsonl, .html, .pdf, feeds,
            .csv, .tsv, .parquet), http(s) addresses, or a `Corpus` from `read_sources`.
        index_dir: where the index is saved.
        model: sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2).
        chunk: passage splitting settings.
        index_type: "auto", "flat", "hnsw" or "ivfpq" (see `qa.dense`).
        backend: "onnx-int8" (default), "onnx" or "torch"; the ONNX graph is exported
            once and cached in `.qa-onnx/` beside the index directory. Queries later use
            the same backend. With `embedder`, its own backend.
        force: rebuild from scratch even when the index is up to date.
        skip_bad: log and skip unreadable files and records instead of failing.
        embedder: an already loaded model (or any object with `name`, `dimension` and
            `encode`) to use; its name must match `model`.
        progress: called as progress(done, total) while passages are encoded.
        vector_cache: what earlier indexes of this model and backend hold (`Known`: passage
            and sentence vectors, sentence spans and tokens), keyed by the exact text embedded
            (`embedding_text`); used instead of reading the index being replaced
            (`Index.add` passes its own).
        reranker: a CrossEncoder of the user's (path or cached name), or a language
            model's .gguf file (qa.likelihood), recorded in the manifest; by default the
            one the index in `index_dir` already names, if any.
        read: the text column of tables and the limits on reading a source.
        extracted: sources already read, by resolved path or address (see `read_sources`).
        models: the trained ranker and answer models to query with (default: the ones
            shipped in qa/models; `qa.Models()` for none), recorded in the manifest.
    """
    read = read or ReadOptions()
    path = Path(index_dir)
    reranker = reranker or _recorded_reranker(path)
    given = getattr(embedder, "backend", None)
    name = model or (embedder.name if embedder else DEFAULT_MODEL)
    config = BuildConfig(model=name, chunk=chunk or ChunkConfig(), index_type=index_type,
                         backend=backend or given or default_backend(name),
                         text_column=read.text_column)
    dense_types.resolve(index_type, 0)
    if embedder is not None and embedder.name != config.model:
        raise IndexMismatchError(f"embedder is {embedder.name!r} but model {config.model!r} was asked")
    if given is not None and given != config.backend:
        raise IndexMismatchError(f"embedder runs on {given!r} but backend {config.backend!r} was asked")
    corpus = sources if isinstance(sources, Corpus) else read_sources(
        sources, path, skip_bad=skip_bad, read=read, extracted=extracted, force=force)
    reason = "forced" if force else store.rebuild_reason(path, corpus.files, config.fingerprint())
    if reason is None:
        logger.info("index in %s is up to date", path)
        return _with_reranker(load(path, embedder=embedder, models=models), reranker)
    _refuse_foreign_dir(path)
    logger.info("building index in %s: %s", path, reason)
    previous = None if force else _previous(path)
    passages = _split(corpus.articles, config.chunk,
                      _unchanged_passages(previous, config, corpus.files))
    embedder = embedder or make_embedder(config.model, backend=config.backend,
                                         cache_dir=onnx_cache(path))
    texts = [embedding_text(p, config.embed_title) for p in passages]
    if force:
        known: Mapping[str, Known] = {}
    elif vector_cache is not None:
        known = vector_cache
    else:
        known = _known_vectors(path, previous, config)
    reused = _reusable(passages, texts, known)
    # each passage split into sentences once, for encoding and the index (or as it was)
    own = [k.spans if k is not None else sentences(p.text)
           for p, k in zip(passages, reused, strict=True)]
    spans = [passage_spans(p, t, o) for p, t, o in zip(passages, texts, own, strict=True)]
    vectors, blocks = _encode_new(embedder, texts, spans, reused, config.batch_size, progress)
    models = models if models is not None else Models.load()
    return _with_reranker(_write(path, config, embedder, corpus, passages, vectors, blocks,
                                 own, _token_lines(passages, own, reused), models), reranker)


def _recorded_reranker(path: Path) -> str | None:
    """The reranker the index in `path` names, so a rebuild keeps it."""
    try:
        return store.read_manifest(path).get("reranker")
    except QAError:
        return None


def _with_reranker(index: Index, reranker: str | None) -> Index:
    """`index`, with a user's reranker (a CrossEncoder or a .gguf language model) recorded
    in its manifest when one is given; it is loaded first, so a missing or broken one
    raises and is never recorded."""
    if not reranker:
        return index
    recorded = index.manifest.get("reranker")
    index.use_reranker(reranker)
    if recorded != reranker:
        tmp = index.path / (store.MANIFEST + ".tmp")
        store.write_json(tmp, index.manifest)
        os.replace(tmp, index.path / store.MANIFEST)
    return index


def _file_source(source: str, files: set[str] | dict[str, Any]) -> str | None:
    """The source file of an article or passage source (a JSONL record's is "FILE:LINE")."""
    if source in files:
        return source
    head, sep, line = source.rpartition(":")
    return head if sep and line.isdigit() and head in files else None


Previous = tuple[dict[str, Any], list[Passage]]
"""The manifest and passages of the index a build replaces."""


def _previous(path: Path) -> Previous | None:
    """The manifest and passages of the index in `path`, read once; None if there is none
    or it cannot be read (then nothing is re-used)."""
    try:
        return store.read_manifest(path), store.read_passages(path / store.PASSAGES)
    except (QAError, OSError):
        return None


def _unchanged_passages(previous: Previous | None, config: BuildConfig,
                        files: Sequence[SourceFile]) -> dict[str, list[Passage]]:
    """Passages of the previous index by source file, for the files unchanged since it was
    built with the same splitting: splitting them again would give these passages."""
    if previous is None:
        return {}
    manifest, passages = previous
    try:
        if manifest["settings"].get("chunk") != config.fingerprint()["chunk"] or \
                manifest["settings"].get("split_version") != SPLIT_VERSION:
            return {}
        old = {(r["source"], r["path"], r["sha256"]) for r in manifest["sources"]}
    except (KeyError, TypeError):
        return {}
    same = {f.source for f in files if (f.source, f.path, f.sha256) in old}
    found: dict[str, list[Passage]] = {}
    for p in passages if same else ():
        file = _file_source(p.source, same)
        if file is not None:
            found.setdefault(file, []).append(p)
    return found


def _split(articles: Sequence[Article], chunk: ChunkConfig,
           unchanged: dict[str, list[Passage]]) -> list[Passage]:
    """`split_corpus(articles)`, taking the passages of unchanged files as they were,
    unless their article ids moved (ids of duplicates depend on the order files are read)."""
    if not unchanged:
        return split_corpus(articles, chunk)
    files = [_file_source(a.source, unchanged) for a in articles]
    ids: dict[str | None, list[str]] = {}
    for a, file in zip(articles, files, strict=True):
        ids.setdefault(file, []).append(a.id)
    same = {file for file, old in unchanged.items()
            if list(dict.fromkeys(p.article_id for p in old)) == ids.get(file)}
    out: list[Passage] = []
    done: set[str] = set()
    for a, file in zip(articles, files, strict=True):
        if file not in same:
            out.extend(split_article(a, chunk))
        elif file not in done:
            out.extend(unchanged[file])
            done.add(file)
    return out


class Known(NamedTuple):
    """What an index holds for one passage, for a rebuild to re-use: keyed by the text
    embedded, and used only for a passage whose own text has the same length (the embedded
    text ends with it, so it is the same passage text)."""

    vector: np.ndarray
    blocks: np.ndarray  # its sentences' vectors
    tokens: list[str] | None  # their token lines, or None where not stored (qa.sentences)
    spans: list[tuple[int, int]]  # its sentences in its own text
    length: int  # of its own text


def vectors_by_text(passages: Sequence[Passage], vectors: np.ndarray | None,
                    sentence_index: SentenceIndex | None, embed_title: bool) -> dict[str, Known]:
    """The passage and sentence vectors of an index keyed by the text embedded, for a
    rebuild to re-use; {} when there are none or they do not match the passages."""
    if vectors is None or sentence_index is None or len(vectors) != len(passages) or \
            len(sentence_index.first) != len(passages) + 1:
        return {}
    blocks = sentence_index.blocks(range(len(passages)))
    tokens = sentence_index.tokens  # older indexes store distinct terms: not re-used
    return {embedding_text(p, embed_title): Known(
                vectors[i], blocks[i], sentence_index.passage_terms(i) if tokens else None,
                sentence_index.spans(i), len(p.text))
            for i, p in enumerate(passages)}


def _known_vectors(path: Path, previous: Previous | None,
                   config: BuildConfig) -> dict[str, Known]:
    """Vectors of the previous index by embedded text, when built the same way; else {}."""
    import faiss
    import numpy as np

    if previous is None:
        return {}
    manifest, passages = previous
    try:
        old = manifest["settings"]
        same = (config.model, config.embed_title, config.backend)
        if (old["model"], old["embed_title"], old.get("backend", "torch")) != same:
            return {}
        vectors = dense_types.vectors_of(faiss.read_index(str(path / store.FAISS_FILE)))
        if vectors is None and (path / VECTORS_FILE).exists():
            vectors = np.load(path / VECTORS_FILE, mmap_mode="r")
        sentence_index = SentenceIndex.load(path, len(passages))
    except (RuntimeError, OSError, KeyError, ValueError):
        return {}
    return vectors_by_text(passages, vectors, sentence_index, config.embed_title)


def _reusable(passages: Sequence[Passage], texts: Sequence[str],
              known: Mapping[str, Known]) -> list[Known | None]:
    """What an earlier index holds for each passage, or None where it must be encoded."""
    found = [known.get(t) for t in texts]
    return [k if k is not None and k.length == len(p.text) else None
            for p, k in zip(passages, found, strict=True)]


def _encode_new(embedder: Any, texts: list[str], spans: list[list[tuple[int, int]]],
                reused: Sequence[Known | None], batch_size: int,
                progress: Progress | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage and sentence vectors for `texts`, encoding only those not `reused`."""
    import numpy as np

    todo = [i for i, k in enumerate(reused) if k is None]
    if len(todo) < len(texts):
        logger.info("reusing %d vectors, encoding %d", len(texts) - len(todo), len(todo))
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], len(todo))

    fresh, fresh_blocks = encode_passages(embedder, [texts[i] for i in todo],
                                          [spans[i] for i in todo], batch_size=batch_size,
                                          progress=tick)
    if progress and not todo:
        progress(0, 0)
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    blocks: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
    for i, k in enumerate(reused):
        if k is not None:
            vectors[i], blocks[i] = k.vector, k.blocks
    for j, i in enumerate(todo):
        vectors[i], blocks[i] = fresh[j], fresh_blocks[j]
    return vectors, blocks


def _token_lines(passages: Sequence[Passage], own: Sequence[Sequence[tuple[int, int]]],
                 reused: Sequence[Known | None]) -> list[list[str]]:
    """Each passage's sentence token lines: the earlier index's where it stored them, else
    tokenised now (qa.sentences.token_lines)."""
    out = [list(k.tokens) if k is not None and k.tokens is not None else None for k in reused]
    todo = [i for i, lines in enumerate(out) if lines is None]
    for i, lines in zip(todo, token_lines([passages[i] for i in todo], [own[i] for i in todo]),
                        strict=True):
        out[i] = lines
    return out  # type: ignore[return-value]


def _write(path: Path, config: BuildConfig, embedder: Any, corpus: Corpus,
           passages: list[Passage], vectors: np.ndarray, blocks: Sequence[np.ndarray],
           spans: Sequence[Sequence[tuple[int, int]]] | None = None,
           terms: Sequence[Sequence[str]] | None = None,
           models: Models | None = None) -> Index:
    import numpy as np

    from .articles import ARTICLES, format_counts, write_articles
    from .index import Index

    files = {f.source: f for f in corpus.files}

    kind = dense_types.resolve(config.index_type, len(passages))
    tokens = None if terms is None else [
        [t for line in lines for t in line.split()] for lines in terms]
    dense, bm25 = make_indexes(vectors, passages, kind, tokens)
    sentence_index = SentenceIndex.make(blocks, passages, config.index_type, spans, terms)
    exact = None if dense_types.vectors_of(dense) is not None else vectors
    with store.atomic_directory(path) as tmp:
        _save(tmp, dense, bm25, passages)
        sentence_index.save(tmp)
        write_articles(tmp / ARTICLES, ((_file_source(a.source, files) or a.source, a)
                                        for a in corpus.articles))
        if exact is not None:
            np.save(tmp / VECTORS_FILE, vectors)
        manifest = store.make_manifest(tmp, settings=config.fingerprint(),
                                       models=(models or Models()).describe(),
                                       dimension=embedder.dimension, files=corpus.files,
                                       passages=len(passages), articles=len(corpus.articles),
                                       faiss_type=kind, formats=format_counts(corpus.articles))
        store.write_json(tmp / store.MANIFEST, manifest)
    return Index(path=path, manifest=manifest, passages=passages, dense=dense, bm25=bm25,
                 embedder=embedder, sentences=sentence_index, exact=exact, models=models)


def make_indexes(vectors: np.ndarray, passages: Sequence[Passage], kind: str = "flat",
                 tokens: Sequence[Sequence[str]] | None = None) -> tuple[Any, Any]:
    """A FAISS inner-product index of `vectors` and a BM25 index of the passage texts
    (`tokens`: each passage's BM25 tokens, when known; else tokenised here)."""
    import bm25s

    bm25 = bm25s.BM25()
    if tokens is None:
        tokens = retrieve.tokenize([p.text for p in passages], retrieve.make_stemmer())
    bm25.index([list(t) for t in tokens], show_progress=False)
    return dense_types.make(vectors, kind), bm25


def _save(directory: Path, dense: Any, bm25: Any, passages: Sequence[Passage]) -> None:
    import faiss

    store.write_passages(directory / store.PASSAGES, passages)
    faiss.write_index(dense, str(directory / store.FAISS_FILE))
    bm25.save(str(directory / store.BM25_DIR), show_progress=False)


def load(index_dir: str | os.PathLike[str] = DEFAULT_INDEX, *, model: str | None = None,
         embedder: Any = None, check_sources: bool = True,
         models: Models | None = None) -> Index:
    """Open the index saved in `index_dir`.

    Args:
        index_dir: the directory `qa.build` wrote.
        model: the model the caller expects; must match the one the index was built with.
        embedder: an already loaded model to reuse.
        check_sources: refuse an index whose source files changed since it was built.
        models: the trained models to query with (default: the ones shipped in qa/models).

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError, IndexStaleError.
    """
    from .index import Index

    path = Path(index_dir)
    manifest = store.read_manifest(path)
    built_with = manifest["model"]["name"]
    for wanted in (model, embedder.name if embedder else None):
        if wanted is not None and wanted != built_with:
            raise IndexMismatchError(f"index in {path}/ was built with model {built_with!r}, "
                                     f"not {wanted!r}; run `qa build --model {wanted}`")
    backend = manifest["settings"].get("backend", "torch")  # indexes from before backends
    given = getattr(embedder, "backend", None)
    if given is not None and given != backend:
        raise IndexMismatchError(f"index in {path}/ was built with backend {backend!r}, "
                                 f"the embedder runs on {given!r}")
    if manifest["settings"].get("split_version") != SPLIT_VERSION:
        raise IndexMismatchError(f"index in {path}/ was split by another qa version; "
                                 "run `qa build --force`")
    if check_sources:
        store.check_fresh(path, manifest)
    passages = store.read_passages(path / store.PASSAGES)
    dense, bm25 = _read_indexes(path)
    counts = {len(passages), dense.ntotal, int(bm25.scores["num_docs"]),
              manifest["counts"]["passages"]}
    if len(counts) != 1:
        raise IndexCorruptError(
            f"{path}/: passage counts disagree ({sorted(counts)}); run `qa build --force`")
    embedder = embedder or make_embedder(built_with, backend=backend, cache_dir=onnx_cache(path))
    if embedder.dimension != dense.d:
        raise IndexMismatchError(
            f"model {built_with!r} gives {embedder.dimension}-d vectors, index has {dense.d}")
    try:
        sentence_index = SentenceIndex.load(path, len(passages))
    except (RuntimeError, OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path}/: unreadable sentence index ({exc}); "
                                "run `qa build --force`") from None
    return Index(path=path, manifest=manifest, passages=passages, dense=dense, bm25=bm25,
                 embedder=embedder, sentences=sentence_index,
                 exact=_exact_vectors(path, len(passages)), models=models)


def _exact_vectors(path: Path, n: int) -> np.ndarray | None:
    """The raw vectors saved beside a compressed index, memory-mapped, or None."""
    import numpy as np

    if not (path / VECTORS_FILE).exists():
        return None
    try:
        vectors = np.load(path / VECTORS_FILE, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path}/: unreadable {VECTORS_FILE} ({exc}); run `qa build --force`") from None
    if len(vectors) != n:
        raise IndexCorruptError(
            f"{path}/: {VECTORS_FILE} disagrees with the passages; run `qa build --force`")
    return vectors


def _read_indexes(path: Path) -> tuple[Any, Any]:
    import bm25s
    import faiss

    try:
        dense = faiss.read_index(str(path / store.FAISS_FILE))
        bm25 = bm25s.BM25.load(str(path / store.BM25_DIR), show_progress=False)
    except Exception as exc:  # noqa: BLE001 - FAISS and bm25s raise assorted errors
        raise IndexCorruptError(f"{path}/: cannot read index files ({exc}); run `qa build --force`") from None
    dense_types.tune(dense)
    return dense, bm25
