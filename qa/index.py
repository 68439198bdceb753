"""The `Index`: passages, their FAISS vectors and BM25 terms; build, save, load, search."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import retrieve
from .config import MODES, Mode, SearchConfig
from .embed import Embedder
from .errors import EmptyCorpusError, QAError, QuestionError
from .schema import Answer, Hit, Passage

if TYPE_CHECKING:
    import numpy as np

    from .llm import LLM

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


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
                 dense: Any, bm25: Any, embedder: Embedder,
                 exact: np.ndarray | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.embedder = embedder
        self._dense = dense
        self._bm25 = bm25
        self.search_config = SearchConfig()
        self._stemmer = retrieve.make_stemmer()
        self._prev = retrieve.previous_passages([p.article_id for p in passages])
        self._exact = exact
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
        vector = None if mode == "bm25" else self.embedder.encode_query(query)
        return self._search(query, vector, k=k, mode=mode,
                            allowed=self.filter_mask(sources, date_from, date_to))

    def _search(self, query: str, vector: np.ndarray | None, *, k: int, mode: Mode,
                allowed: np.ndarray | None) -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        cfg = self.search_config
        depth = max(cfg.depth, k)
        bm25 = retrieve.bm25_scores(self._bm25, retrieve.tokenize([query], self._stemmer)[0],
                                    len(self.passages))
        dense: dict[int, float] = {}
        if vector is not None:
            ids, scores = retrieve.dense_search(self._dense, vector, depth, allowed, self._exact)
            dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
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
            date_from: str | None = None, date_to: str | None = None,
            llm: LLM | None = None) -> Answer:
        """Answer `question` with cited sentences quoted from the passages, or abstain.

        Args:
            question: the question.
            history: earlier turns, oldest first: question strings or (question, answer)
                pairs; used to resolve follow-ups such as "What did he say about it?".
            k: how many passages to consider and return as `hits`.
            mode, sources, date_from, date_to: as for `search`.
            llm: let this model write the answer from the top passages; each sentence is
                checked against its passage (see qa.generate). Falls back to the quoted
                answer, with a `notice`, whenever that fails; an abstention stands.
        """
        from .answer import retrieval_query

        question = check_question(question)
        query = retrieval_query(question, history)
        vector = None if mode == "bm25" else self.embedder.encode_query(query)
        hits = self._search(query, vector, k=k, mode=mode,
                            allowed=self.filter_mask(sources, date_from, date_to))
        answer = self.answerer(question, hits, query=query)
        if llm is None:
            return answer
        from .generate import written_answer

        return written_answer(question, history, answer, llm, self.embedder.encode)

    def add(self, paths: Sequence[str | os.PathLike[str]]) -> Index:
        """Add (or refresh) the articles in `paths`; only new text is embedded.

        The index on disk is replaced atomically and this object is updated in place.
        """

        return self._replace(build([*self._source_paths(), *paths], self.path, self.model,
                                   embedder=self.embedder, vector_cache=self._vectors_by_text(),
                                   **self._settings()))

    def remove(self, sources: Sequence[str]) -> Index:
        """Drop the articles of these source files (path as given, file name or stem)."""

        wanted = set(sources)
        keep = [path for path, rec in zip(self._source_paths(), self.manifest["sources"],
                                          strict=True)
                if not wanted & {rec["source"], rec["path"], Path(rec["path"]).name,
                                 Path(rec["path"]).stem}]
        if len(keep) == len(self.manifest["sources"]):
            raise QAError(f"none of {sorted(wanted)} is a source of this index (see `qa info`)")
        if not keep:
            raise EmptyCorpusError("removing these sources would leave the index empty")
        return self._replace(build(keep, self.path, self.model, embedder=self.embedder,
                                   vector_cache=self._vectors_by_text(), **self._settings()))

    def _vectors_by_text(self) -> dict[str, Any]:
        """The vectors this index holds, by the text they embed, for an update to re-use."""
        from . import dense

        vectors = self._exact if self._exact is not None else dense.vectors_of(self._dense)
        return vectors_by_text(self.passages, vectors,
                               self.manifest["settings"].get("embed_title", True))

    def _source_paths(self) -> list[str]:
        """The recorded sources, as given where that still names the same file."""
        out = []
        for rec in self.manifest["sources"]:
            same = Path(rec["source"]).resolve() == Path(rec["path"])
            out.append(rec["source"] if same else rec["path"])
        return out

    def _settings(self) -> dict[str, Any]:
        from .config import ChunkConfig

        settings = self.manifest["settings"]
        return {"chunk": ChunkConfig(**settings["chunk"]),
                "index_type": settings.get("index_type", "auto"),
                "backend": settings.get("backend", "torch")}

    def _replace(self, other: Index) -> Index:
        self.__init__(path=other.path, manifest=other.manifest,  # type: ignore[misc]
                      passages=other.passages, dense=other._dense, bm25=other._bm25,
                      embedder=other.embedder, exact=other._exact)
        return self


from .builder import (  # noqa: E402,F401
    DEFAULT_INDEX,
    build,
    embedding_text,
    load,
    make_indexes,
    vectors_by_text,
)
