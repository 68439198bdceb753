"""The `Index`: passages, their FAISS vectors and BM25 terms; build, save, load, search."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import rerank, retrieve
from .answer import ExtractiveAnswerer
from .config import MODES, Mode, SearchConfig
from .conversation import is_follow_up, retrieval_query, turn_text
from .embed import Embedder
from .errors import EmptyCorpusError, QAError, QuestionError
from .features import Candidate, Query, make_query, make_terms
from .models import Models
from .rerank import FirstStage
from .schema import Answer, Article, Hit, Passage
from .sentences import SentenceIndex

if TYPE_CHECKING:
    import numpy as np

    from .corpus import Extracted
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
                 dense: Any, bm25: Any, embedder: Embedder, sentences: SentenceIndex,
                 exact: np.ndarray | None = None, models: Models | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.embedder = embedder
        self.sentences = sentences
        self._dense = dense
        self._bm25 = bm25
        self.search_config = SearchConfig()
        self._stemmer = retrieve.make_stemmer()
        self._prev = retrieve.previous_passages([p.article_id for p in passages])
        self._terms = make_terms(self._stemmer, self._stored_sentences)
        self._idf = retrieve.idf_weights(bm25)
        self._rarest = max(self._idf.values(), default=1.0)
        self._positions = rerank.article_positions(self._prev)
        self._spans, self._article_of = rerank.article_spans([p.article_id for p in passages])
        self._models = models if models is not None else Models.load()
        self._reranker: Any = None  # a user's reranker (qa.cross, qa.likelihood), loaded on first use
        self._reranker_lock = threading.Lock()  # threads serving one index load it once
        self._exact = exact
        self._position = {p.id: i for i, p in enumerate(passages)}
        self.answerer = ExtractiveAnswerer(self._terms, self._models, self._text_before)

    @property
    def models(self) -> Models:
        """The trained ranker, sentence scorer and answerability model (qa/models)."""
        return self._models

    @models.setter
    def models(self, models: Models) -> None:
        self._models = models
        self.answerer.models = models

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
            mode: "hybrid" (dense, sentence and BM25 candidates re-ordered by the trained
                ranker, see qa.rerank), "dense", "bm25".
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
        if mode == "hybrid" and self.search_config.rerank:
            ranking = self._reranked(self._rank(query, vector, allowed, k), query)
            return self._hits(ranking, k)
        stage = self._first_stage(query, vector, max(self.search_config.depth, k), allowed,
                                  mode)
        if mode == "dense":
            ranked = [(i, stage.dense[i]) for i in stage.dense_order]
        elif mode == "bm25":
            ranked = [(i, float(stage.bm25[i])) for i in stage.lexical_order]
        else:
            ranked = stage.fused
        return [self._hit(i, score, rank, stage.dense.get(i), float(stage.bm25[i]))
                for rank, (i, score) in enumerate(ranked[:k], start=1)]

    def _rank(self, query: str, vector: np.ndarray | None, allowed: np.ndarray | None,
              k: int) -> rerank.Ranking:
        """Hybrid candidates re-ordered by the trained ranker (see qa.rerank)."""
        stage = self._first_stage(query, vector, max(self.search_config.depth, k), allowed)
        rows = rerank.candidate_rows(stage, self._spans, self._article_of, k=k)
        if allowed is not None:
            rows = [i for i in rows if allowed[i]]
        q = make_query(query, self._terms, self._idf, self._rarest)
        cands, features = self._gather(stage, rows, q, vector)
        return rerank.rank(stage, rows, cands, features, q, self.models.ranker)

    def _reranked(self, ranking: rerank.Ranking, query: str) -> rerank.Ranking:
        """The ranking with its best candidates re-ordered by the index's reranker, if it
        has one (`use_reranker`)."""
        if not self.manifest.get("reranker"):
            return ranking
        return rerank.cross_rerank(ranking, self._loaded_reranker(), query)

    def use_reranker(self, model: str) -> None:
        """Re-order the ranker's best candidates with this reranker: a CrossEncoder (a path,
        or a name in the local Hugging Face cache) run by ONNX Runtime with int8 weights,
        or a language model's query likelihood (a .gguf file, qa.likelihood). `qa build
        --reranker` records it in the manifest so every later load uses it."""
        from .likelihood import QueryLikelihoodReranker, is_gguf

        if is_gguf(model):
            self._reranker = QueryLikelihoodReranker(model)
        else:
            from .builder import onnx_cache
            from .cross import CrossEncoderReranker

            self._reranker = CrossEncoderReranker(model, cache_dir=onnx_cache(self.path),
                                                  quantize=True)
        self.manifest = {**self.manifest, "reranker": model}

    def _loaded_reranker(self) -> Any:
        if self._reranker is None:
            with self._reranker_lock:
                if self._reranker is None:
                    self.use_reranker(str(self.manifest["reranker"]))
        return self._reranker

    def _gather(self, stage: FirstStage, rows: Sequence[int], query: Query,
                vector: np.ndarray | None) -> tuple[list[Candidate], np.ndarray]:
        return rerank.gather(
            stage, rows, passages=self.passages, prev=self._prev, positions=self._positions,
            query=query, terms=self._terms, vector=vector, dense_index=self._dense,
            exact=self._exact, sentences=self.sentences, spans=self._spans,
            article_of=self._article_of)

    def _hits(self, ranking: rerank.Ranking, k: int) -> list[Hit]:
        return [self._hit(i, float(score), r, c.cos, c.bm25)
                for r, (i, c, score) in enumerate(zip(ranking.rows[:k], ranking.candidates[:k],
                                                      ranking.scores[:k], strict=True), start=1)]

    def _first_stage(self, query: str, vector: np.ndarray | None, depth: int,
                     allowed: np.ndarray | None, mode: Mode = "hybrid") -> FirstStage:
        """Dense and BM25 top lists and, in hybrid mode, their fusion (see SearchConfig)."""
        cfg = self.search_config
        bm25 = retrieve.bm25_scores(self._bm25, retrieve.tokenize([query], self._stemmer)[0],
                                    len(self.passages))
        dense: dict[int, float] = {}
        if vector is not None:
            ids, scores = retrieve.dense_search(self._dense, vector, depth, allowed, self._exact)
            dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        if mode == "bm25":
            return FirstStage(bm25, dense, list(dense), self._lexical(bm25, depth, allowed), [],
                              [])
        lexical_scores = retrieve.with_context(bm25, self._prev, cfg.context_weight)
        lexical = self._lexical(lexical_scores, depth, allowed)
        fused = (retrieve.rrf_fuse([list(dense), lexical], k=cfg.rrf_k)
                 if cfg.fusion == "rrf" else
                 retrieve.convex_fuse(dense, lexical_scores, lexical, alpha=cfg.alpha))
        return FirstStage(bm25, dense, list(dense), lexical, fused,
                          self._sentence_order(vector, depth, allowed) if mode == "hybrid" else [])

    def _sentence_order(self, vector: np.ndarray | None, depth: int,
                        allowed: np.ndarray | None) -> list[int]:
        """Passages in the order of their best sentence among the `depth` passages' worth
        of sentences nearest the query (filtered by `allowed`)."""
        if vector is None:
            return []
        rows, _ = self.sentences.search(vector, 4 * depth, allowed)
        return list(dict.fromkeys(self.sentences.rows[rows, 0].tolist()))[:depth]

    def _stored_sentences(self, passage_id: str
                          ) -> tuple[list[tuple[int, int]], list[str] | None] | None:
        """A passage's sentence spans and terms as the sentence index holds them (made at
        build time, so a question's first contact with a passage does not split and
        tokenise it again)."""
        row = self._position.get(passage_id)
        if row is None:
            return None
        return self.sentences.spans(row), self.sentences.passage_terms(row)

    def _text_before(self, row: int) -> str:
        """The last sentence of the passage before passage `row` in its article, or ""."""
        prev = int(self._prev[row])
        if prev < 0:
            return ""
        spans, _ = self._terms.sentences(self.passages[prev].id, self.passages[prev].text)
        return self.passages[prev].text[spans[-1][0] : spans[-1][1]] if spans else ""

    @staticmethod
    def _lexical(scores: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[int]:
        matching = scores > 0 if allowed is None else allowed & (scores > 0)
        return retrieve.top_k(scores, depth, matching).tolist()

    def _hit(self, i: int, score: float, rank: int, dense: float | None, bm25: float) -> Hit:
        p = self.passages[i]
        return Hit(text=p.text, score=float(score), source=p.source, title=p.title, date=p.date,
                   start=p.start, end=p.end, passage_id=p.id, article_id=p.article_id, rank=rank,
                   dense_score=dense, bm25_score=bm25, url=p.url, page=p.page)

    def ask(self, question: str, *, history: Sequence[str | tuple[str, str]] | None = None,
            k: int = 5, mode: Mode = "hybrid", sources: Sequence[str] | None = None,
            date_from: str | None = None, date_to: str | None = None,
            llm: LLM | None = None, min_confidence: float | None = None) -> Answer:
        """Answer `question` with cited sentences quoted from the passages, or abstain.

        Args:
            question: the question.
            history: earlier turns, oldest first: question strings or (question, answer)
                pairs; used to resolve follow-ups such as "What did he say about it?".
            k: how many passages to return as `hits` (the answer quotes from the top
                three whatever `k` is).
            mode, sources, date_from, date_to: as for `search`.
            llm: let this model write the answer from the top passages; each sentence is
                checked against its passage (see qa.generate). Falls back to the quoted
                answer, with a `notice`, whenever that fails; an abstention stands.
            min_confidence: abstain when `Answer.confidence` is below this (0 to 1). By
                default, the answerability model's threshold (`qa info` prints it): lower
                answers more questions and more of them wrongly, higher refuses more
                (docs/benchmarks.md shows the trade on held-out questions).
        """
        question = check_question(question)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence!r}")
        answer = self._ask(question, history, self.filter_mask(sources, date_from, date_to),
                           k, mode, min_confidence)
        if llm is None:
            return answer
        from .generate import written_answer

        return written_answer(question, history, answer, llm, self.embedder.encode)

    def _ask(self, question: str, history: Sequence[str | tuple[str, str]] | None,
             allowed: np.ndarray | None, k: int, mode: Mode,
             min_confidence: float | None = None) -> Answer:
        """A follow-up is searched first within the article the previous question's answer
        quotes, as it is asked (the article already says what "he" or "it" is; the previous
        question's words would pull back to the passage that answered it); then, if nothing
        there answers it, everywhere, together with the question before it."""
        if not is_follow_up(question, history):
            return self._answer(question, question, allowed, k, mode, min_confidence)
        narrowed = self._conversation(history or [], allowed, mode, min_confidence)
        if narrowed is not None:
            answer = self._answer(question, question, narrowed, k, mode, min_confidence)
            if not answer.abstained:
                return answer
        return self._answer(question, retrieval_query(question, history), allowed, k, mode,
                            min_confidence)

    def _answer(self, question: str, query: str, allowed: np.ndarray | None, k: int,
                mode: Mode, min_confidence: float | None = None) -> Answer:
        vector = None if mode == "bm25" else self.embedder.encode_query(query)
        n = max(k, self.answerer.config.passages)
        ranking = self._ranking(query, vector, allowed, n, mode)
        quoted = self._reranked(ranking, query) \
            if mode == "hybrid" and self.search_config.rerank else ranking
        hits = self._hits(quoted, n)
        if quoted is ranking:
            return self.answerer(question, ranking, hits[:k], hits,
                                 min_confidence=min_confidence)
        # A reranker changes what is quoted; whether the articles hold the answer is judged
        # on the ranker's own order, the one the answerability model was trained on.
        judged = (ranking, self._hits(ranking, self.answerer.config.passages))
        return self.answerer(question, quoted, hits[:k], hits, judged=judged,
                             min_confidence=min_confidence)

    def _ranking(self, query: str, vector: np.ndarray | None, allowed: np.ndarray | None,
                 k: int, mode: Mode) -> rerank.Ranking:
        """The ranked candidates `ask` quotes from: reranked in hybrid mode; else the top
        of the chosen mode's own order, with the same features and the ranker's scores
        (the answer models were trained on those)."""
        import numpy as np

        if mode == "hybrid" and self.search_config.rerank:
            return self._rank(query, vector, allowed, k)
        stage = self._first_stage(query, vector, max(self.search_config.depth, k), allowed,
                                  mode)
        order = {"dense": stage.dense_order, "bm25": stage.lexical_order}.get(
            mode, [i for i, _ in stage.fused])
        rows = order[: max(k, 20)]
        q = make_query(query, self._terms, self._idf, self._rarest)
        cands, features = self._gather(stage, rows, q, vector)
        if self.models.ranker is not None and len(rows):
            scores = self.models.ranker.score(features)
        else:
            scores = np.asarray([c.cos if mode == "dense" else c.bm25 for c in cands])
        return rerank.Ranking(q, stage, rows, cands, features, np.asarray(scores, dtype=float))

    def _conversation(self, history: Sequence[str | tuple[str, str]],
                      allowed: np.ndarray | None, mode: Mode,
                      min_confidence: float | None = None) -> np.ndarray | None:
        """`allowed`, narrowed to the article the conversation is about: the one the
        previous question's answer quotes first; None when that answer abstained."""
        import numpy as np

        previous = self._ask(turn_text(history[-1]), history[-2:-1] or None, allowed, 1, mode,
                             min_confidence)
        if previous.abstained or not previous.citations:
            return None
        row = self._position[previous.citations[0].hit.passage_id]
        first, end = self._spans[self._article_of[row]]
        narrowed = np.zeros(len(self.passages), dtype=bool)
        narrowed[first:end] = True
        return narrowed if allowed is None else narrowed & allowed

    def add(self, paths: Sequence[str | os.PathLike[str]], *,
            extracted: Mapping[str, Extracted] | None = None,
            progress: Callable[[int, int], None] | None = None) -> Index:
        """Add (or refresh) the articles in `paths` (files, folders, http(s) addresses);
        only new text is embedded. Addresses already in the index are not fetched again
        unless named in `paths`; `extracted` holds sources already read (see `read_sources`);
        `progress(done, total)` follows the embedding of new passages.

        The index on disk is replaced atomically and this object is updated in place.
        """
        named = {str(p).strip() for p in paths}
        kept = {k: v for k, v in self._kept_addresses().items() if k not in named}
        return self._replace(build([*self._source_paths(), *paths], self.path, self.model,
                                   embedder=self.embedder, vector_cache=self._vectors_by_text(),
                                   extracted={**kept, **(extracted or {})}, progress=progress,
                                   models=self.models, **self._settings()))

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
                                   vector_cache=self._vectors_by_text(),
                                   extracted=self._kept_addresses(), models=self.models,
                                   **self._settings()))

    def _kept_addresses(self) -> dict[str, Extracted]:
        """The addresses in the index with the articles read from them, not to fetch again."""
        from .articles import extractions

        return extractions(self.path, self.manifest, addresses_only=True)

    def article(self, article_id: str) -> Article:
        """The article `article_id` as indexed: its whole extracted text (which every
        passage's and citation's start/end point into), title, date, url and PDF pages.

        Raises:
            KeyError: no such article, or an index built before articles were kept.
        """
        from .articles import stored

        return stored(self)[article_id]

    def _vectors_by_text(self) -> dict[str, Any]:
        """The vectors this index holds, by the text they embed, for an update to re-use."""
        from . import dense

        vectors = self._exact if self._exact is not None else dense.vectors_of(self._dense)
        return vectors_by_text(self.passages, vectors, self.sentences,
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
        from .formats import ReadOptions

        settings = self.manifest["settings"]
        return {"chunk": ChunkConfig(**settings["chunk"]),
                "index_type": settings.get("index_type", "auto"),
                "backend": settings.get("backend", "torch"),
                "read": ReadOptions(text_column=settings.get("text_column", "text"))}

    def _replace(self, other: Index) -> Index:
        self.__init__(path=other.path, manifest=other.manifest,  # type: ignore[misc]
                      passages=other.passages, dense=other._dense, bm25=other._bm25,
                      embedder=other.embedder, sentences=other.sentences, exact=other._exact,
                      models=other.models)
        return self


from .builder import (  # noqa: E402,F401
    DEFAULT_INDEX,
    build,
    embedding_text,
    load,
    make_indexes,
    vectors_by_text,
)
