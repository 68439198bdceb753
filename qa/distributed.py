"""Embedding passages on a Ray cluster: an actor pool of model replicas behind Ray Data.

`RayEncoder` has the interface of `qa.embed.Embedder` (`name`, `dimension`, `backend`,
`encode`, `encode_query`), so `qa.build(..., embedder=RayEncoder(address=...))` embeds on
the cluster and writes the usual index. Each replica runs the chosen backend (PyTorch or
ONNX Runtime) on one CPU. Needs the optional extra: pip install 'qa[ray]'.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL
from .embed import BACKENDS, Encoder, Progress, make_embedder
from .errors import ModelLoadError, QAError, RayError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'qa[ray]'"
WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}




class _Encode:
    """Ray Data callable class: one model replica per actor, loaded once."""

    def __init__(self, model: str | None, batch_size: int, backend: str,
                 cache_dir: str | None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._embedder = make_embedder(model, backend=backend, cache_dir=_path(cache_dir),
                                       threads=1)
        self._batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import json

        import numpy as np

        texts = [str(t) for t in batch["text"]]
        if "spans" not in batch:
            return {"i": batch["i"],
                    "vector": self._embedder.encode(texts, batch_size=self._batch_size)}
        from .sentences import encode_passages

        spans = [[tuple(s) for s in json.loads(str(x))] for x in batch["spans"]]
        vectors, blocks = encode_passages(self._embedder, texts, spans,
                                          batch_size=self._batch_size)
        # Sentence blocks differ in length: each travels as the bytes of a float32 array.
        packed = np.empty(len(blocks), dtype=object)
        packed[:] = [b.astype(np.float32).tobytes() for b in blocks]
        return {"i": batch["i"], "vector": vectors, "sentences": packed}


def _path(cache_dir: str | None) -> Path | None:
    return None if cache_dir is None else Path(cache_dir)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the extra must include Ray Data
    except ImportError:
        raise RayError(f"embedding with Ray needs Ray Data: {INSTALL_HINT}") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast on a host:port nobody listens on (ray.init retries for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms are left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise RayError(f"cannot reach Ray at {address!r}: {exc.strerror or exc} "
                       f"(is the cluster up and {INSTALL_HINT} installed on it?)") from None


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> None:
    """Start or join Ray unless this process already did."""
    if ray.is_initialized():
        return
    local = address in (None, "", "local")
    if not local:
        _check_reachable(str(address))
    try:
        ray.init(address=None if local else address, num_cpus=num_cpus if local else None,
                 include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                 runtime_env={"env_vars": WORKER_ENV})
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
        where = "a local Ray instance" if local else f"Ray at {address!r}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayError(f"cannot start or reach {where}: {first} "
                       f"(is the cluster up and {INSTALL_HINT} installed on it?)") from None


@contextlib.contextmanager
def _quiet_progress(ray: Any) -> Iterator[None]:
    """Ray Data progress bars off for one job; the caller's setting is restored."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = False
    try:
        yield
    finally:
        ctx.enable_progress_bars = saved


class RayEncoder:
    """Embeds texts on a Ray cluster with one model replica per actor.

    Args:
        model: sentence-transformers model name or path, resolved on each worker
            (default: bundled all-MiniLM-L6-v2, which every worker must have installed).
        address: Ray address ("ray://head:10001", "auto", host:port); None or "local"
            starts a private local Ray with `replicas` CPUs. Ignored when this process
            already called `ray.init`.
        replicas: model replicas (actors, 1 CPU each); default: every CPU Ray has.
        backend: "torch", "onnx" or "onnx-int8", as for `qa.build`.
        cache_dir: where the ONNX graph is kept; on a cluster, a folder every worker can
            read (a replica that finds no graph there exports one, which needs torch).
    """

    def __init__(self, model: str | None = None, *, address: str | None = None,
                 replicas: int | None = None, backend: str = "torch",
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        if replicas is not None and replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.name = model or DEFAULT_MODEL
        self.backend = backend
        self._cache_dir = None if cache_dir is None else os.fspath(os.path.abspath(cache_dir))
        self._model = model
        self._address = address
        self._replicas = replicas
        self._dimension: int | None = None
        self._local: Encoder | None = None

    @property
    def dimension(self) -> int:
        """Vector size; known after `encode`, else read from a local copy of the model."""
        if self._dimension is None:
            self._dimension = self._local_embedder().dimension
        return self._dimension

    def _local_embedder(self) -> Encoder:
        if self._local is None:
            self._local = make_embedder(self._model, backend=self.backend,
                                        cache_dir=_path(self._cache_dir))
        return self._local

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""
        return self._encode(texts, None, batch_size, progress)[0]

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                        *, batch_size: int = 64,
                        progress: Progress | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and their sentences' vectors (late chunking on the replicas, as
        `qa.sentences` does locally), in input order."""
        vectors, blocks = self._encode(texts, spans, batch_size, progress)
        return vectors, blocks or []

    def _encode(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None,
                batch_size: int, progress: Progress | None
                ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        import numpy as np

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32), \
                None if spans is None else []
        ray = _import_ray()
        if self.backend != "torch":
            self._local_embedder()  # export the ONNX graph once, before replicas look for it
        _connect(ray, self._address, self._replicas)
        replicas = self._replicas or max(1, int(ray.cluster_resources().get("CPU", 1)))
        replicas = min(replicas, len(texts))
        order, vectors, packed = self._run(ray, texts, spans, batch_size, replicas, progress)
        if not np.array_equal(np.sort(order), np.arange(len(texts))):
            raise RayError(f"Ray returned {len(order)} vectors for {len(texts)} texts")
        out = np.empty_like(vectors)
        out[order] = vectors
        self._dimension = int(out.shape[1])
        if packed is None:
            return out, None
        blocks: list[np.ndarray] = [np.zeros(0)] * len(texts)
        for i, raw in zip(order.tolist(), packed, strict=True):
            blocks[i] = np.frombuffer(raw, dtype=np.float32).reshape(-1, out.shape[1])
        return out, blocks

    def _run(self, ray: Any, texts: Sequence[str],
             spans: Sequence[Sequence[tuple[int, int]]] | None, batch_size: int, replicas: int,
             progress: Progress | None) -> tuple[np.ndarray, np.ndarray, list[bytes] | None]:
        import json

        import numpy as np

        # Small jobs are split so that every replica gets a share; the model still
        # sees at most `batch_size` texts per forward pass.
        rows = max(1, min(batch_size, -(-len(texts) // replicas)))
        blocks = min(-(-len(texts) // rows), replicas * 8)
        items = [{"i": i, "text": t} if spans is None else
                 {"i": i, "text": t, "spans": json.dumps([list(x) for x in spans[i]])}
                 for i, t in enumerate(texts)]
        order: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        packed: list[bytes] = []
        try:
            with _quiet_progress(ray):
                ds = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                    _Encode, fn_constructor_kwargs={"model": self._model, "batch_size": batch_size,
                                                    "backend": self.backend,
                                                    "cache_dir": self._cache_dir},
                    batch_size=rows, batch_format="numpy", num_cpus=1,
                    compute=ray.data.ActorPoolStrategy(size=replicas),
                    runtime_env={"env_vars": WORKER_ENV})
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    order.append(np.asarray(batch["i"], dtype=np.int64))
                    vectors.append(np.asarray(batch["vector"], dtype=np.float32))
                    if spans is not None:
                        packed.extend(bytes(b) for b in batch["sentences"])
                    if progress:
                        progress(len(order[-1]))
        except Exception as exc:  # noqa: BLE001 - Ray wraps worker errors in its own types
            raise _translate(exc) from None
        return np.concatenate(order), np.concatenate(vectors), \
            None if spans is None else packed

    def encode_query(self, text: str) -> np.ndarray:
        """One unit vector for a query, from a local copy of the model (no round trip)."""
        return self._local_embedder().encode_query(text)


def _translate(exc: BaseException) -> QAError:
    """A one-line QAError for an exception raised by a Ray Data job."""
    text = str(exc).strip()
    for line in text.splitlines():  # Ray re-raises worker errors as text in its own types
        _, found, message = line.partition("ModelLoadError: ")
        if found:
            return ModelLoadError(f"on a Ray worker: {message.strip()}")
    last = text.splitlines()[-1] if text else type(exc).__name__
    return RayError(f"the Ray embedding job failed: {last}")
