"""Helpers shared by the benchmark scripts: data paths, cached embeddings, machine facts.

Embeddings are cached per text under benchmarks/.cache/vectors/ (git-ignored), so a
second run of a benchmark re-encodes nothing it has seen. Only quality runs read the
cache; the build and latency benchmarks time real encoding.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import qa
import qa.store
from qa.config import BuildConfig
from qa.corpus import read_corpus, split_corpus
from qa.embed import Embedder
from qa.index import Index, embedding_text, make_indexes

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("QA_BENCH_DATA", ROOT.parent / "shared" / "bench"))
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = CACHE / "results"
SEEDS = ROOT / "seeds"
QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
DOCS = ROOT / "docs"
BBC_INDEX = CACHE / "index-bbc"
"""The on-disk index of news-bbc.jsonl written by bench_build.py (cold start, size)."""
ONNX_CACHE = CACHE / "onnx"
"""Exported ONNX graphs for every benchmark (the default backend runs on them)."""
os.environ.setdefault("QA_ONNX_CACHE", str(ONNX_CACHE))


def default_embedder() -> Any:
    """The encoder `qa build` uses by default (ONNX Runtime int8), graph cached in ONNX_CACHE."""
    from qa.embed import make_embedder

    return make_embedder(cache_dir=ONNX_CACHE)


def bench_file(name: str) -> Path | None:
    """A file of the shared benchmark data, or None (with a message) when absent."""
    path = BENCH / name
    if not path.exists():
        print(f"skipped: {path} not found (benchmark data lives in ../shared/bench)")
        return None
    return path


class VectorStore:
    """Vectors of one model keyed by the SHA-1 of the text, kept as .npz shards on disk."""

    def __init__(self, model: str, dimension: int) -> None:
        self.dir = CACHE / "vectors" / model.replace("/", "__")
        self.dimension = dimension
        self._rows: dict[bytes, np.ndarray] = {}
        self._new: dict[bytes, np.ndarray] = {}
        for shard in sorted(self.dir.glob("*.npz")):
            with np.load(shard) as data:
                self._rows.update(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()

    def get(self, text: str) -> np.ndarray | None:
        k = self.key(text)
        return self._new.get(k, self._rows.get(k))

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        for text, vec in zip(texts, vectors, strict=True):
            self._new[self.key(text)] = np.asarray(vec, dtype=np.float32)

    def save(self) -> None:
        """Write the vectors added since loading as a new shard (all in one if many)."""
        if not self._new:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        shards = sorted(self.dir.glob("*.npz"))
        new_keys = list(self._new)
        self._rows.update(self._new)
        self._new = {}
        if len(shards) < 16:
            self._write_shard(new_keys)
            return
        self._write_shard(list(self._rows))
        for shard in shards:
            shard.unlink()

    def _write_shard(self, keys: list[bytes]) -> None:
        if not keys:
            return
        name = self.dir / f"{time.time_ns()}-{os.getpid()}.npz"
        tmp = name.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype="S20"),
                 vectors=np.stack([self._rows[k] for k in keys]))
        os.replace(tmp, name)


def store_for(embedder: Any) -> VectorStore:
    """The vector cache of `embedder`'s model on its backend (int8 vectors differ from fp32)."""
    backend = getattr(embedder, "backend", "torch")
    name = embedder.name if backend == "torch" else f"{embedder.name}@{backend}"
    return VectorStore(name, embedder.dimension)


class CachedEmbedder(Embedder):
    """An encoder that serves vectors it has seen from a VectorStore and encodes the rest."""

    def __init__(self, inner: Any, store: VectorStore | None = None) -> None:
        self.name = inner.name
        self.dimension = inner.dimension
        self.backend = getattr(inner, "backend", "torch")
        self.inner = inner
        self.store = store or store_for(inner)
        self.late = VectorStore(self.store.dir.name + "+late", self.dimension)
        self.encoded = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Any = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            vec = self.store.get(text)
            if vec is None:
                missing.setdefault(text, []).append(i)
            else:
                out[i] = vec
        if missing:
            todo = list(missing)
            vectors = self.inner.encode(todo, batch_size=batch_size)
            self.store.put(todo, vectors)
            self.encoded += len(todo)
            for text, vec in zip(todo, vectors, strict=True):
                out[missing[text]] = vec
        if progress:
            progress(len(texts))
        return out

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                        *, batch_size: int = 64,
                        progress: Any = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage and late-chunked sentence vectors, served from the cache where seen."""
        from qa.sentences import encode_passages

        keys = [[span_key(t, s) for s in sp] for t, sp in zip(texts, spans, strict=True)]
        todo = [i for i, t in enumerate(texts) if self.store.get(t) is None
                or any(self.late.get(k) is None for k in keys[i])]
        if todo:
            vecs, blocks = encode_passages(self.inner, [texts[i] for i in todo],
                                           [spans[i] for i in todo], batch_size=batch_size)
            self.store.put([texts[i] for i in todo], vecs)
            for j, i in enumerate(todo):
                self.late.put(keys[i], blocks[j])
            self.encoded += len(todo)
        out = np.stack([self.store.get(t) for t in texts]) if texts else \
            np.zeros((0, self.dimension), dtype=np.float32)
        blocks = [np.stack([self.late.get(k) for k in ks]) if ks else
                  np.zeros((0, self.dimension), dtype=np.float32) for ks in keys]
        if progress:
            progress(len(texts))
        return out, blocks

    def save(self) -> None:
        self.store.save()
        self.late.save()


def span_key(text: str, span: tuple[int, int]) -> str:
    """The cache key of a late-chunked sentence vector: its passage text and span."""
    return f"{span[0]}:{span[1]}\x00{text}"


def cached_encode(embedder: Embedder, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Embeddings of `texts`, each computed once and kept under benchmarks/.cache/."""
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    vectors = cached.encode(texts, batch_size=batch_size)
    cached.save()
    return vectors


def memory_index(sources: Sequence[str | Path], embedder: Embedder,
                 config: BuildConfig | None = None) -> Index:
    """An index of `sources` held in memory, its embeddings cached between runs.

    Pass a CachedEmbedder to have queries and answer sentences served from the cache
    too (quality runs); its latency is then not the real one.
    """
    import dataclasses

    config = dataclasses.replace(config or BuildConfig(),
                                 backend=getattr(embedder, "backend", "torch"))
    from qa.sentences import SentenceIndex, passage_spans

    corpus = read_corpus(list(sources))
    passages = split_corpus(corpus.articles, config.chunk)
    texts = [embedding_text(p, config.embed_title) for p in passages]
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    vectors, blocks = cached.encode_passages(
        texts, [passage_spans(p, t) for p, t in zip(passages, texts, strict=True)])
    cached.save()
    dense, bm25 = make_indexes(vectors, passages)
    manifest = {"model": {"name": embedder.name, "dimension": embedder.dimension},
                "settings": config.fingerprint(),
                "counts": {"files": len(corpus.files), "articles": len(corpus.articles),
                           "passages": len(passages)}}
    return Index(path=Path("(memory)"), manifest=manifest, passages=passages, dense=dense,
                 bm25=bm25, embedder=embedder, sentences=SentenceIndex.make(blocks, passages))


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def machine() -> dict[str, Any]:
    """Where and when a benchmark ran: date, CPU, cores, memory, versions, commit, load."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=ROOT, check=False).stdout.strip()
    except OSError:
        commit = ""
    import psutil

    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "qa": qa.store.qa_version(),
            "versions": _versions(), "commit": commit, "load": os.getloadavg()[0]}


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Save one benchmark's figures as benchmarks/.cache/results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def update_result(name: str, **fields: Any) -> Path:
    """Replace some figures of a saved NAME.json (re-measured alone), stamped anew; the
    other figures stay as saved (none, when the benchmark has not been run in full)."""
    path = RESULTS / f"{name}.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    saved.pop("machine", None)
    return write_result(name, {**saved, **fields})


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of a list of milliseconds."""
    arr = np.asarray(values_ms, dtype=np.float64)
    return {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)),
            "n": len(arr)}
