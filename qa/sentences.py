"""Sentence vectors: every sentence of every passage, embedded in its passage's context.

A passage is encoded once; its token states are mean-pooled over the whole text (the
passage vector, as before) and over each sentence's tokens (one vector per sentence,
"late chunking"). Measured on the tuning questions, the best sentence of a passage finds
a paraphrased question's passage far more often than the passage vector or BM25 do
(BBC tuning set, first hit: 0.40 against 0.35 dense and 0.20 BM25; in the top 50: 0.92
against 0.84 and 0.59), and the answerer needs no encoding at question time.

On disk (`qa.store`): `sentences.faiss` (exact float16 vectors up to 100k sentences, HNSW
or IVF-PQ above, as for passages), `sentences.npy` (int32 rows: passage position,
start, end; offsets in the passage's text) and `sentence_tokens.txt` (each sentence's BM25
tokens in order, one line per row: a question's first contact with a passage needs no
tokenising, and a passage's BM25 tokens are its lines joined, so an update re-uses them).
Indexes written before hold `sentence_terms.txt` (each sentence's distinct terms: enough
for the features, not for BM25) or neither (tokenised on first contact).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .text import sentences

if TYPE_CHECKING:
    import numpy as np

    from .schema import Passage

logger = logging.getLogger(__name__)

VECTORS_FILE = "sentences.faiss"
SPANS_FILE = "sentences.npy"
TOKENS_FILE = "sentence_tokens.txt"
OLD_TERMS_FILE = "sentence_terms.txt"  # distinct terms per sentence, written until 2026-12-02


def pool_spans(hidden: np.ndarray, offsets: np.ndarray, special: np.ndarray,
               spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Unit vectors of a whole text and of each character span, from its token states.

    Args:
        hidden: token states of one text, (tokens, dim).
        offsets: each token's (start, end) in the text.
        special: 1 for [CLS], [SEP] and padding tokens.
        spans: disjoint, sorted character spans.

    Returns:
        The text's vector (mean of every token, as the model pools), one vector per span
        (mean of the tokens inside it), and the spans no token fell in (past the model's
        window), whose rows are left zero.
    """
    import numpy as np

    whole = hidden.mean(axis=0)
    whole = whole / max(float(np.linalg.norm(whole)), 1e-12)
    out = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    if not len(spans):
        return whole.astype(np.float32), out, []
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    which = np.searchsorted(starts, offsets[:, 0], side="right") - 1
    inside = (special == 0) & (offsets[:, 1] > offsets[:, 0]) & (which >= 0)
    inside &= offsets[:, 1] <= ends[np.clip(which, 0, None)]
    np.add.at(out, which[inside], hidden[inside])
    counts = np.bincount(which[inside], minlength=len(spans))
    out[counts > 0] /= counts[counts > 0, None]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out = out / np.maximum(norms, 1e-12)
    return whole.astype(np.float32), out.astype(np.float32), np.flatnonzero(counts == 0).tolist()


def passage_spans(p: Passage, embedded: str,
                  own: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The spans of `p`'s sentences inside `embedded` (its text, maybe after a title line);
    `own`: its sentence spans in its own text, when already split."""
    shift = len(embedded) - len(p.text)
    return [(s + shift, e + shift) for s, e in (sentences(p.text) if own is None else own)]


def encode_passages(embedder: Any, texts: Sequence[str],
                    spans: Sequence[Sequence[tuple[int, int]]], *, batch_size: int = 64,
                    progress: Any = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage and sentence vectors from `embedder`, late-chunked when it can; an encoder
    without `encode_passages` (a custom one) embeds each sentence on its own."""
    if hasattr(embedder, "encode_passages"):
        return embedder.encode_passages(texts, spans, batch_size=batch_size, progress=progress)
    return encode_separately(embedder, texts, spans, batch_size=batch_size, progress=progress)


def encode_separately(embedder: Any, texts: Sequence[str],
                      spans: Sequence[Sequence[tuple[int, int]]], *, batch_size: int = 64,
                      progress: Any = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage vectors, and each sentence embedded on its own (no late chunking)."""
    import numpy as np

    vectors = embedder.encode(list(texts), batch_size=batch_size, progress=progress)
    flat = [t[s:e] for t, sp in zip(texts, spans, strict=True) for s, e in sp]
    sent = embedder.encode(flat, batch_size=batch_size) if flat else \
        np.zeros((0, vectors.shape[1]), dtype=np.float32)
    out, at = [], 0
    for sp in spans:
        out.append(sent[at : at + len(sp)])
        at += len(sp)
    return vectors, out


@dataclass
class SentenceIndex:
    """The sentence vectors of an index and where each sentence sits.

    Attributes:
        vectors: a FAISS index over every sentence (exact float16, or HNSW / IVF-PQ).
        rows: (n, 3) int32: passage position, start, end (offsets in the passage text).
        first: for passage i, its sentences are rows first[i]:first[i + 1].
        terms: one line per row: the sentence's BM25 tokens in order, space-separated
            (`tokens`), or in an index written before 2026-12-02 its distinct terms; None
            for an index written before either was stored.
    """

    vectors: Any
    rows: np.ndarray
    first: np.ndarray
    terms: Lines | None = None
    tokens: bool = False  # `terms` are each sentence's tokens in order (TOKENS_FILE)

    @classmethod
    def make(cls, blocks: Sequence[np.ndarray], passages: Sequence[Passage],
             kind: str = "auto",
             spans: Sequence[Sequence[tuple[int, int]]] | None = None,
             terms: Sequence[Sequence[str]] | None = None) -> SentenceIndex:
        """From one (sentences, dim) block per passage, in passage order. `kind` is a
        FAISS index type as for passages (qa.dense), resolved by the number of sentences;
        an exact index keeps float16 vectors (half the memory, same ranking). `spans`:
        each passage's sentence spans in its text, when already split (else split here);
        `terms`: each passage's `token_lines`, when known (else computed here)."""
        import numpy as np

        from . import dense

        dim = next((b.shape[1] for b in blocks if len(b)), 0) or (
            blocks[0].shape[1] if blocks else 1)
        if spans is None:
            spans = [sentences(p.text) for p in passages]
        if terms is None:
            terms = token_lines(passages, spans)
        rows = [(i, s, e) for i, own in enumerate(spans) for s, e in own]
        lines = [line for own in terms for line in own]
        stacked = np.vstack([b for b in blocks if len(b)]).astype(np.float32) if rows else \
            np.zeros((0, dim), dtype=np.float32)
        counts = np.bincount([r[0] for r in rows], minlength=len(passages)) if rows else \
            np.zeros(len(passages), dtype=np.int64)
        if len(blocks) != len(passages) or any(len(b) != c for b, c in zip(blocks, counts,
                                                                            strict=True)):
            raise ValueError("sentence vectors do not match the passages' sentences")
        if len(lines) != len(rows):
            raise ValueError("sentence terms do not match the passages' sentences")
        kind = dense.resolve(kind, len(rows))
        if kind == "flat":  # float16, in memory as on disk: half the bytes to read per query
            index = _float16_index(dim)
            index.add(stacked)
        else:
            index = dense.make(stacked, kind)
        arr = np.asarray(rows, dtype=np.int32).reshape(-1, 3)
        return cls(_with_direct_map(index), arr, _first(arr[:, 0], len(passages)),
                   Lines.of(lines), tokens=True)

    def save(self, directory: Path) -> None:
        """Write the vectors (an exact index as float16, as it is held) and the sentence rows."""
        import faiss
        import numpy as np

        index = self.vectors
        if isinstance(index, faiss.IndexFlat):  # made by hand from float32 vectors
            index = _float16_index(index.d)
            index.add(self.vectors.reconstruct_n(0, self.vectors.ntotal))
        faiss.write_index(index, str(directory / VECTORS_FILE))
        np.save(directory / SPANS_FILE, self.rows)
        if self.terms is not None:
            name = TOKENS_FILE if self.tokens else OLD_TERMS_FILE
            (directory / name).write_bytes(self.terms.data)

    @classmethod
    def load(cls, directory: Path, passages: int) -> SentenceIndex:
        import faiss
        import numpy as np

        from . import dense

        vectors = faiss.read_index(str(directory / VECTORS_FILE))
        dense.tune(vectors)
        vectors = _with_direct_map(vectors)
        rows = np.load(directory / SPANS_FILE)
        if vectors.ntotal != len(rows):
            raise ValueError(f"{vectors.ntotal} sentence vectors, {len(rows)} sentences")
        terms, tokens = None, False
        for name in (TOKENS_FILE, OLD_TERMS_FILE):
            if (directory / name).exists():
                terms, tokens = Lines((directory / name).read_bytes()), name == TOKENS_FILE
                if len(terms) != len(rows):
                    raise ValueError(f"{len(terms)} lines of sentence terms, "
                                     f"{len(rows)} sentences")
                break
        return cls(vectors, rows, _first(rows[:, 0], passages), terms, tokens)

    def blocks(self, passage_rows: Sequence[int]) -> list[np.ndarray]:
        """The sentence vectors of each given passage, for an update to re-use."""
        import numpy as np

        out = []
        for i in passage_rows:
            a, b = int(self.first[i]), int(self.first[i + 1])
            out.append(self.vectors.reconstruct_n(a, b - a) if b > a else
                       np.zeros((0, self.vectors.d), dtype=np.float32))
        return out

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best sentences as (sentence rows, cosines), best first; with `allowed`
        (a mask over passages), only sentences of allowed passages."""
        import faiss
        import numpy as np

        from . import dense

        matrix = self._matrix()
        if matrix is not None and matrix.dtype == np.float32:  # made by hand: one product
            from .retrieve import top_k_scores

            mask = None if allowed is None else allowed[self.rows[:, 0]]
            return top_k_scores(matrix @ query.astype(np.float32), k, mask)
        params = None
        if allowed is not None:
            rows = np.flatnonzero(allowed[self.rows[:, 0]]).astype(np.int64)
            k = min(k, len(rows))
            params = dense.search_params(self.vectors, faiss.IDSelectorBatch(rows)) if k else None
        k = min(k, self.vectors.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        with _one_openmp_thread():
            scores, found = self.vectors.search(query.reshape(1, -1).astype("float32"), k,
                                                params=params)
        rows, scores = found[0][found[0] >= 0], scores[0][found[0] >= 0]
        if matrix is None:  # HNSW or IVF-PQ
            return rows, scores
        # Exact float16 vectors: the cosines `cosines` gives, equal ones in row order (a
        # corpus with duplicate articles has many; FAISS's heap leaves them in any order).
        exact = np.asarray(matrix[rows], dtype=np.float32) @ query.astype(np.float32)
        order = np.lexsort((rows, -exact))
        return rows[order], exact[order]

    def spans(self, passage: int) -> list[tuple[int, int]]:
        """The sentence spans of one passage (offsets in its text), as split at build time."""
        a, b = int(self.first[passage]), int(self.first[passage + 1])
        return list(map(tuple, self.rows[a:b, 1:].tolist()))

    def passage_terms(self, passage: int) -> list[str] | None:
        """The lines of one passage's sentences (their tokens, or in older indexes their
        distinct terms), or None when not stored."""
        if self.terms is None:
            return None
        return self.terms.lines(int(self.first[passage]), int(self.first[passage + 1]))

    def cosines(self, passages: Sequence[int], query: np.ndarray) -> list[np.ndarray]:
        """Cosine of `query` with every sentence of each passage, in order (one product for
        all of them: a question's ~70 candidates cost one call, not 70)."""
        import numpy as np

        matrix = self._matrix()
        if matrix is None:
            return [block @ query for block in self.blocks(passages)]
        if not len(passages):
            return []
        rows = np.asarray(passages, dtype=np.int64)
        starts, ends = self.first[rows], self.first[rows + 1]
        lengths = ends - starts  # every sentence row of every passage, in order:
        picked = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + \
            np.arange(int(lengths.sum()))
        return np.split(np.asarray(matrix[picked], dtype=np.float32) @ query,
                        np.cumsum(lengths)[:-1])

    def _matrix(self) -> np.ndarray | None:
        """The vectors of an exact index as a numpy view (no copy): float16 as stored, or
        float32 in an index made by hand; None for HNSW and IVF-PQ."""
        import faiss
        import numpy as np

        from .dense import flat_matrix

        index = self.vectors
        if isinstance(index, faiss.IndexScalarQuantizer) and \
                index.sq.qtype == faiss.ScalarQuantizer.QT_fp16:
            codes = faiss.rev_swig_ptr(index.codes.data(), index.ntotal * index.d * 2)
            return codes.view(np.float16).reshape(-1, index.d)
        return flat_matrix(index)


class Lines:
    """UTF-8 lines, each ended by a newline, kept as one bytes object and the lines'
    offsets: with a Python string per line the loaded BBC index took 843 MiB resident
    per 100k passages, with this 809 (792 without stored terms)."""

    def __init__(self, data: bytes) -> None:
        import numpy as np

        self.data = data
        self._ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        self._starts = np.concatenate([[0], self._ends[:-1] + 1]).astype(np.int64)[
            : len(self._ends)]

    @classmethod
    def of(cls, lines: Sequence[str]) -> Lines:
        """From strings without newlines."""
        return cls("".join(f"{line}\n" for line in lines).encode("utf-8"))

    def __len__(self) -> int:
        return len(self._starts)

    def lines(self, first: int, end: int) -> list[str]:
        """Lines first..end-1, decoded (one decode for all of them)."""
        if end <= first:
            return []
        return self.data[int(self._starts[first]) : int(self._ends[end - 1])].decode(
            "utf-8").split("\n")


def token_lines(passages: Sequence[Passage],
                spans: Sequence[Sequence[tuple[int, int]]]) -> list[list[str]]:
    """Each passage's sentences' BM25 tokens in order (qa.features.Terms: the stemmer and
    stop words of BM25 and of the question), one space-separated line per sentence.

    Sentences cover every word of a passage and split only between words, so a passage's
    lines joined are exactly the tokens `qa.retrieve.tokenize` gives its text (tested)."""
    from .features import make_terms
    from .retrieve import make_stemmer

    terms = make_terms(make_stemmer())
    return [[" ".join(terms(p.text[s:e])) for s, e in own]
            for p, own in zip(passages, spans, strict=True)]


def _first(owners: np.ndarray, passages: int) -> np.ndarray:
    import numpy as np

    counts = np.bincount(owners, minlength=passages) if len(owners) else np.zeros(passages, int)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _float16_index(dim: int) -> Any:
    """An exact inner-product index keeping float16 vectors: FAISS's search over them is
    about twice as fast here as a float32 matrix-vector product (half the bytes), with
    the same scores (float16 values are exact in float32)."""
    import faiss

    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16,
                                      faiss.METRIC_INNER_PRODUCT)


@contextmanager
def _one_openmp_thread() -> Iterator[None]:
    """FAISS runs even a one-query search in an OpenMP parallel region, and the second
    thread it wakes keeps spinning after it, on the core ONNX Runtime and numpy need next
    (`Index.ask` p50 30 ms with two threads, 16 ms with one, measured on seeds + BBC).
    OpenMP keeps the thread count per calling thread: other threads are not affected."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _with_direct_map(index: Any) -> Any:
    """IVF indexes need a direct map to give back a sentence's (approximate) vector."""
    import faiss

    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return index
