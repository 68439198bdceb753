"""An ONNX Runtime encoder: the bundled model exported locally, run without PyTorch.

The transformer is exported once with `torch.onnx` into a cache folder (beside the
index) and reused; tokenising (`tokenizers`), mean pooling and normalising are done
here exactly as sentence-transformers does them for all-MiniLM-L6-v2, so the vectors
match the PyTorch `Embedder` to float precision. Nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL
from .embed import Progress, resolve_model
from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

EXPORT_VERSION = 2
"""Bumped whenever the exported graph changes, so old cache files are not reused."""

OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_HASHED = ("config.json", "model.safetensors", "pytorch_model.bin")


def _read_json(path: Path) -> Any:
    """The parsed JSON file, or None when it is absent."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _check_pooling(model_dir: Path) -> None:
    """Refuse models whose sentence-transformers pipeline is not mean pooling + normalise."""
    modules = _read_json(model_dir / "modules.json") or []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling = _read_json(model_dir / "1_Pooling" / "config.json") or {}
    if kinds and kinds[:2] != ["Transformer", "Pooling"]:
        raise ModelLoadError(f"model {str(model_dir)!r} is not Transformer + Pooling: {kinds!r}")
    if pooling and not pooling.get("pooling_mode_mean_tokens"):
        raise ModelLoadError(f"model {str(model_dir)!r} does not use mean pooling")


def model_digest(model_dir: Path) -> str:
    """A short SHA-256 of the model's weights and config, naming its exported graph."""
    digest = hashlib.sha256(f"qa-onnx-v{EXPORT_VERSION}-opset{OPSET}".encode())
    found = False
    for name in _HASHED:
        path = model_dir / name
        if path.is_file():
            found = True
            digest.update(name.encode())
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    if not found:
        raise ModelLoadError(f"no model weights in {str(model_dir)!r}")
    return digest.hexdigest()[:16]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name) or "model"


def _atomic_write(target: Path, write: Any) -> None:
    """Call write(tmp_path) for a temp file beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export the transformer of `model_dir` (ids, mask, types -> last_hidden_state) to `target`."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                     attn_implementation="eager")
    bert.eval().requires_grad_(False)

    class Hidden(torch.nn.Module):  # positional inputs, one tensor out
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    sample = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {k: {0: "batch", 1: "sequence"} for k in (*_INPUTS, "last_hidden_state")}

    def write(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes
            torch.onnx.export(
                Hidden(), sample, str(tmp), input_names=list(_INPUTS),
                output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
        fuse_bert(tmp, bert.config)

    _atomic_write(target, write)


def fuse_bert(graph: Path, config: Any) -> None:
    """Rewrite `graph` in place with ONNX Runtime's BERT fusions (attention, layer norm, GELU).

    The fused graph gives the same vectors and runs faster on CPU; when the fusion
    tool fails the plain export is kept.
    """
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fused = optimize_model(str(graph), model_type="bert", opt_level=1, use_gpu=False,
                                   num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size))
        fused.save_model_to_file(str(graph))
        logger.info("fused operators: %s", fused.get_fused_operator_statistics())
    except Exception as exc:  # noqa: BLE001 - an unfused graph is still correct
        logger.warning("ONNX BERT fusion skipped: %s", exc)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Mute onnxruntime.quantization's advice, which it logs through (and would configure)
    the root logger."""
    root = logging.getLogger()
    guard, level = logging.NullHandler(), root.level
    root.addHandler(guard)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.removeHandler(guard)
        root.setLevel(level)


def quantize_onnx(source: Path, target: Path) -> None:
    """Write an int8 (dynamic, per-channel weights) copy of the fp32 graph `source`."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root_logger():
        _atomic_write(target, lambda tmp: quantize_dynamic(
            str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
            extra_options={"DefaultTensorType": TensorProto.FLOAT}))


def cached_graph(model_dir: Path, name: str, cache_dir: Path, *, quantize: bool,
                 export: Callable[[Path, Path], None] | None = None) -> Path:
    """The path of the exported (and maybe quantised) graph, exporting it if absent with
    `export(model_dir, target)` (default `export_onnx`, the encoder's transformer)."""
    stem = f"{_slug(name)}-{model_digest(model_dir)}"
    fp32 = cache_dir / f"{stem}.onnx"
    if not fp32.exists():
        logger.info("exporting %s to %s", name, fp32)
        (export or export_onnx)(model_dir, fp32)
    if not quantize:
        return fp32
    int8 = cache_dir / f"{stem}-int8.onnx"
    if not int8.exists():
        logger.info("quantising %s to %s", fp32, int8)
        quantize_onnx(fp32, int8)
    return int8


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _session(graph: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # No busy-waiting between runs: a spinning thread steals the core that the search
    # right after a query encoding needs (hybrid search p50 21 -> 15 ms measured).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def _tokenizer(model_dir: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=max_length)
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tok


class OnnxEmbedder:
    """The model's transformer run by ONNX Runtime on CPU; a drop-in for `qa.embed.Embedder`.

    Args:
        model: sentence-transformers model name or local path (default: the bundled model).
        cache_dir: where the exported graph is kept and reused (e.g. beside the index).
        quantize: run an int8 dynamically quantised copy of the graph.
        threads: ONNX Runtime intra-op threads for passages (default: the cores this process
            may use); questions always run on one.

    Raises:
        ModelLoadError: the model cannot be found, exported or loaded.
    """

    def __init__(self, model: str | None = None, *, cache_dir: Path,
                 quantize: bool = False, threads: int | None = None) -> None:
        self.name = model or DEFAULT_MODEL
        self.quantize = quantize
        self.backend = "onnx-int8" if quantize else "onnx"
        model_dir = Path(resolve_model(model))
        if not (model_dir / "tokenizer.json").is_file():
            raise ModelLoadError(f"cannot load model {str(model_dir)!r}: no local tokenizer.json")
        try:
            _check_pooling(model_dir)
            self.graph = cached_graph(model_dir, self.name, Path(cache_dir), quantize=quantize)
            # A question is one short text: on one thread it encodes faster than on two
            # (int8 MiniLM, 100 BBC questions: p50 2.5 against 3.1 ms, the same vectors),
            # so queries get a session of their own. Passages, long and many, get `threads`
            # in a second session made on first use: a process that only answers questions
            # never holds it (each session costs ~36 MiB of prepacked weights).
            self._query_session = _session(self.graph, 1)
            self._threads = threads or cpu_count()
            self._batch_session: Any = self._query_session if self._threads == 1 else None
            config = _read_json(model_dir / "sentence_bert_config.json") or {}
            self.max_seq_length = int(config.get("max_seq_length", 256))
            self._tok = _tokenizer(model_dir, self.max_seq_length)
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot load"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"cannot export or load model {str(model_dir)!r} with ONNX: {first}") from None
        self._feeds = {i.name for i in self._query_session.get_inputs()}
        self.dimension = int(self._query_session.get_outputs()[0].shape[-1])

    @property
    def _session(self) -> Any:
        """The session for passages (all `threads`), made on first use."""
        if self._batch_session is None:
            self._batch_session = _session(self.graph, self._threads)
        return self._batch_session

    def _run(self, texts: list[str], session: Any = None) -> np.ndarray:
        import numpy as np

        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask,
                 "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        hidden = (session or self._session).run(
            None, {k: v for k, v in feeds.items() if k in self._feeds})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text.

        The int8 graph runs one text at a time: dynamic quantisation scales activations
        per run, so in a batch a text's vector would depend on its batch-mates (cosine
        down to 0.977 measured on BBC), and unpadded single texts are also faster here
        (175 vs 122 passages/s on 2 cores). `batch_size` then only paces `progress`.
        """
        import numpy as np

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        run = 1 if self.quantize else batch_size
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            for j in range(0, len(rows), run):
                out[rows[j : j + run]] = self._run([texts[r] for r in rows[j : j + run]])
            if progress:
                progress(len(rows))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One unit vector for a query, on the one-thread session."""
        return self._run([text], self._query_session)[0]

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                        *, batch_size: int = 64,
                        progress: Progress | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, as `encode` gives them, and for each passage one vector per
        character span (its sentences), pooled from the same run ("late chunking"), so
        the sentence vectors cost no extra encoder time. See `qa.sentences`."""
        import numpy as np

        from .sentences import pool_spans

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = []
        for i, (text, wanted) in enumerate(zip(texts, spans, strict=True)):
            enc = self._tok.encode(text)
            feeds = {"input_ids": np.array([enc.ids], dtype=np.int64),
                     "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
                     "token_type_ids": np.array([enc.type_ids], dtype=np.int64)}
            hidden = self._session.run(None, {k: v for k, v in feeds.items()
                                              if k in self._feeds})[0][0]
            out[i], sentence_vectors, missing = pool_spans(
                hidden, np.asarray(enc.offsets), np.asarray(enc.special_tokens_mask), wanted)
            if missing:  # spans past the model's window: encoded on their own
                sentence_vectors[missing] = self.encode([text[slice(*wanted[j])] for j in missing])
            pooled.append(sentence_vectors)
            if progress and (i + 1) % batch_size == 0:
                progress(batch_size)
        if progress and len(texts) % batch_size:
            progress(len(texts) % batch_size)
        return out, pooled
