"""FAISS index types: exact for small corpora, HNSW and IVF-PQ for large ones."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

IndexType = Literal["auto", "flat", "hnsw", "ivfpq"]
INDEX_TYPES: tuple[str, ...] = ("auto", "flat", "hnsw", "ivfpq")
FLAT_MAX = 100_000
"""Up to this many passages, "auto" picks exact search (p95 under 20 ms at 100k)."""
HNSW_MAX = 2_000_000
"""Up to this many, "auto" picks HNSW (~1.8 KB of memory per passage, 3.6 GB at 2M);
above, IVF-PQ (~63 bytes per passage in memory, raw vectors memory-mapped from disk)."""
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
IVF_NPROBE = 32
PQ_BYTES = 48
TRAIN_MAX = 100_000
"""IVF-PQ trains on a random sample of at least this many vectors (all, when fewer)."""


def resolve(kind: str, n: int) -> str:
    """The concrete index type for `n` passages."""
    if kind not in INDEX_TYPES:
        raise ValueError(f"index type must be one of {INDEX_TYPES}, got {kind!r}")
    if kind == "auto":
        return "flat" if n <= FLAT_MAX else "hnsw" if n <= HNSW_MAX else "ivfpq"
    return kind


def make(vectors: np.ndarray, kind: str) -> Any:
    """A FAISS inner-product index of type `kind` ("flat", "hnsw" or "ivfpq") over `vectors`."""
    import faiss

    n, d = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = _ivfpq(vectors)
    index.add(vectors)
    tune(index)
    return index


def _ivfpq(vectors: np.ndarray) -> Any:
    import faiss
    import numpy as np

    n, d = vectors.shape
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
    m = next(m for m in (PQ_BYTES, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1) if d % m == 0)
    nbits = 8 if n >= 256 * 39 else 4
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    want = max(TRAIN_MAX, 40 * nlist)  # FAISS asks for >= 39 training points per list
    sample = vectors if n <= want else vectors[rng.choice(n, want, replace=False)]
    index.train(np.ascontiguousarray(sample))
    return index


def tune(index: Any) -> None:
    """Set the search-time knobs (they are not all saved with the index)."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(IVF_NPROBE, index.nlist)


def search_params(index: Any, selector: Any) -> Any:
    """Search parameters restricting `index` to `selector`, of the type the index wants."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=selector)


def vectors_of(index: Any) -> np.ndarray | None:
    """The exact stored vectors, or None where the index keeps only compressed codes."""
    import faiss

    if isinstance(index, (faiss.IndexFlat, faiss.IndexHNSWFlat)):
        return index.reconstruct_n(0, index.ntotal)
    return None


def vectors_for(index: Any, ids: Sequence[int], exact: np.ndarray | None = None) -> np.ndarray:
    """The stored vectors of passages `ids`: exact ones when given, else from the index
    (flat and HNSW keep them whole; IVF-PQ only approximately)."""
    import numpy as np

    if exact is not None:
        return np.asarray(exact[np.asarray(ids, dtype=np.int64)], dtype=np.float32)
    if not len(ids):
        return np.zeros((0, index.d), dtype=np.float32)
    return np.stack([index.reconstruct(int(i)) for i in ids]).astype(np.float32)


def flat_matrix(index: Any) -> np.ndarray | None:
    """The vectors of an exact (flat) index as a numpy view without a copy, else None.

    For one query at a time a numpy matrix-vector product is several times faster here
    than FAISS's flat search, which wakes its OpenMP threads for every call.
    """
    import faiss

    if type(index) is not faiss.IndexFlatIP:
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(-1, index.d)
