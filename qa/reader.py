"""The sentence reader: how likely a sentence answers a question, read as a pair.

A cross-encoder (the bundled all-MiniLM-L6-v2 fine-tuned listwise by `qa train-reader`
on tuning data) reads "question [SEP] sentence" and gives one logit; only differences
between the sentences of one question mean anything. `qa train-reader` writes it as an
int8 ONNX graph (`reader.onnx`); it shares the bundled model's tokenizer. A sentence
scorer fitted with it reads the logit as the feature "reader" (qa.answer); the shipped
scorer gives it no weight, so it is not run (docs/training.md says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

MAX_LENGTH = 96
"""Tokens of a (question, sentence) pair; longer pairs are cut, the longer side first."""


class SentenceReader:
    """Scores (question, sentence) pairs with the reader graph on CPU (ONNX Runtime).

    Each pair runs alone (no padding; with int8, whose activation scales are set per run,
    a sentence's score never depends on the others). About 4 ms a sentence on 2 cores.
    """

    def __init__(self, graph: Path, *, threads: int | None = None) -> None:
        self.graph = graph
        self.threads = threads
        self._loaded: tuple[Any, Any, list[str]] | None = None  # on first use

    def _load(self) -> tuple[Any, Any, list[str]]:
        from .embed import resolve_model
        from .onnx_backend import _session, _tokenizer, cpu_count

        if self._loaded is None:
            try:
                session = _session(self.graph, self.threads or cpu_count())
                tok = _tokenizer(Path(resolve_model(None)), MAX_LENGTH)
            except ModelLoadError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means "cannot load"
                text = str(exc).strip()
                first = text.splitlines()[0] if text else type(exc).__name__
                raise ModelLoadError(
                    f"cannot load the sentence reader {str(self.graph)!r}: {first}") from None
            self._loaded = (session, tok, [i.name for i in session.get_inputs()])
        return self._loaded

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per sentence (float64; higher = more likely the answer)."""
        import numpy as np

        session, tok, names = self._load()
        out = np.zeros(len(texts), dtype=np.float64)
        for i, text in enumerate(texts):  # one by one: a batch would be padded
            enc = tok.encode(question, text)
            arrays = {"input_ids": enc.ids, "attention_mask": enc.attention_mask,
                      "token_type_ids": enc.type_ids}
            feeds = {n: np.array([arrays[n]], dtype=np.int64) for n in names}
            out[i] = float(session.run(None, feeds)[0][0, 0])
        return out
