"""Re-ranking by query likelihood: how likely a small local language model finds the
question after reading each passage.

Each of the ranker's best few passages is scored by log P(question | passage) under a
GGUF model run in-process by llama-cpp-python (the `qa[llm]` extra), averaged over the
question's tokens, as in Sachan et al. 2022 ("Improving passage retrieval with
zero-shot question generation"). A generative model has read the passage before it
"writes" the question, so it credits a passage that answers in other words than the
question's, which is where the bundled encoder and the word-overlap features fail
(docs/training.md). Nothing is trained and nothing is downloaded: the model is a file.

    from qa.likelihood import QueryLikelihoodReranker
    reranker = QueryLikelihoodReranker("gemma-3-270m-it-Q4_K_M.gguf")
    scores = reranker.score("How much did trade grow?", [hit.text for hit in hits])

All passages go through the model together, one sequence each, in one batch; only the
question's positions produce logits (the model's 262k-word output layer would otherwise
cost more than the passages). It costs seconds, not milliseconds: with Gemma 3 270M on
the 2 shared cores here, `Index.ask` takes about 3.5 s instead of 15-40 ms; on held-out
questions it puts the right passage first more often but quotes no better answers
(docs/training.md).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

PROMPT = "Passage: {passage}\nPlease write a question based on this passage.\nQuestion:"
LIKELIHOOD_DEPTH = 5
"""How many of the ranker's best candidates are re-ordered (chosen on tuning data)."""
MAX_PASSAGE_CHARS = 1500
MAX_QUESTION_TOKENS = 64


def is_gguf(model: str | os.PathLike[str]) -> bool:
    """Whether `model` names a GGUF file (a language model to score with), not a
    CrossEncoder."""
    return str(model).lower().endswith(".gguf")


class QueryLikelihoodReranker:
    """Scores (question, passage) pairs by the mean log-probability of the question's
    tokens given the passage; higher is better. Safe to share between threads (calls
    are serialised: one llama.cpp context)."""

    depth = LIKELIHOOD_DEPTH
    titled = True  # passages are read with their article's title above them

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None,
                 n_ctx: int = 4096, max_sequences: int = 8) -> None:
        path = Path(path).expanduser()
        if n_ctx <= 2 * MAX_QUESTION_TOKENS:
            raise ValueError(f"n_ctx must be over {2 * MAX_QUESTION_TOKENS}, got {n_ctx}")
        if not path.is_file():
            raise ModelLoadError(f"cannot find the language model {path} (a .gguf file)")
        try:
            import llama_cpp
            from llama_cpp import _internals
            from llama_cpp._utils import suppress_stdout_stderr
        except ImportError:
            raise ModelLoadError("scoring with a language model needs llama-cpp-python: "
                                 "pip install 'qa[llm]'") from None
        self.name = str(path)
        self.n_ctx = n_ctx
        self.max_sequences = max_sequences
        threads = threads or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._llama = llama_cpp
        # llama.cpp writes notices straight to file descriptor 2; a library stays quiet
        try:  # the model through the high-level class (it reads the file and the vocabulary)
            with suppress_stdout_stderr(disable=False):
                self._model = llama_cpp.Llama(model_path=str(path), n_ctx=64,
                                              n_threads=threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: cannot load the language model ({exc})") from None
        # ...and a context of our own: several sequences in one batch, logits only where asked
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_outputs_max = n_ctx
        params.n_outputs_max_per_seq = n_ctx
        params.n_ubatch = min(512, n_ctx)
        params.n_seq_max = max_sequences
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = threads
        with suppress_stdout_stderr(disable=False):
            self._ctx = _internals.LlamaContext(model=self._model._model, params=params,
                                                verbose=False)
        self._batch = llama_cpp.llama_batch_init(n_ctx, 0, max_sequences)
        self._vocab = self._model.n_vocab()
        log.info("query-likelihood reranking with %s (%d threads)", path.name, threads)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Mean log P(query token | passage, query so far) for each text."""
        import numpy as np

        if not query.split():
            return np.zeros(len(texts))
        question = self._model.tokenize((" " + " ".join(query.split())).encode("utf-8"),
                                        add_bos=False, special=False)[:MAX_QUESTION_TOKENS]
        prompts = [self._fit(self._model.tokenize(
            PROMPT.format(passage=text[:MAX_PASSAGE_CHARS]).encode("utf-8"), add_bos=True,
            special=False), self.n_ctx - len(question)) for text in texts]
        scores: list[float] = []
        with self._lock:
            for group in self._groups(prompts, len(question)):
                scores += self._decode([prompts[i] for i in group], question)
        return np.asarray(scores)

    @staticmethod
    def _fit(prompt: list[int], room: int) -> list[int]:
        """The prompt cut to `room` tokens from the front of the passage, keeping its first
        token (the beginning-of-text mark every prompt is scored after)."""
        return prompt if len(prompt) <= room else [*prompt[:1], *prompt[len(prompt) - room + 1:]]

    def _groups(self, prompts: Sequence[Sequence[int]], question: int) -> list[list[int]]:
        """Consecutive prompts packed into batches that fit the context."""
        groups: list[list[int]] = []
        used = self.n_ctx
        for i, prompt in enumerate(prompts):
            size = len(prompt) + question
            if used + size > self.n_ctx or len(groups[-1]) >= self.max_sequences:
                groups.append([])
                used = 0
            groups[-1].append(i)
            used += size
        return groups

    def _decode(self, prompts: Sequence[Sequence[int]], question: Sequence[int]) -> list[float]:
        """One batch: each prompt followed by the question, as its own sequence."""
        import numpy as np

        llama, batch = self._llama, self._batch
        outputs: list[list[tuple[int, int]]] = []  # per sequence: (batch row, next token)
        n = 0
        for seq, prompt in enumerate(prompts):
            tokens = [*prompt, *question]
            wanted = []
            for pos, token in enumerate(tokens):
                batch.token[n], batch.pos[n] = token, pos
                batch.n_seq_id[n], batch.seq_id[n][0] = 1, seq
                batch.logits[n] = len(prompt) - 1 <= pos < len(tokens) - 1
                if batch.logits[n]:
                    wanted.append((n, tokens[pos + 1]))
                n += 1
            outputs.append(wanted)
        batch.n_tokens = n
        llama.llama_memory_clear(llama.llama_get_memory(self._ctx.ctx), True)
        if llama.llama_decode(self._ctx.ctx, batch) != 0:
            raise ModelLoadError(f"{self.name}: the language model failed to read "
                                 f"{len(prompts)} passages")
        out = []
        for wanted in outputs:
            total = 0.0
            for row, token in wanted:
                logits = np.ctypeslib.as_array(llama.llama_get_logits_ith(self._ctx.ctx, row),
                                               shape=(self._vocab,))
                top = float(logits.max())
                total += float(logits[token]) - top - math.log(
                    float(np.exp(logits - top).sum()))
            out.append(total / len(wanted))
        return out

    def __del__(self) -> None:
        batch, ctx = getattr(self, "_batch", None), getattr(self, "_ctx", None)
        if batch is not None:
            self._llama.llama_batch_free(batch)
        if ctx is not None:
            ctx.close()
