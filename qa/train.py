"""`qa train`: fit the passage ranker, the sentence scorer and the answerability model.

Only tuning data goes in (`qa.datasets`): for every tuning question the index's hybrid
candidates are featurised (qa.features) and labelled by whether they hold the answer; the
ranker is a LightGBM lambdarank model. The sentence scorer and the answerability model
are logistic regressions trained on rankings made by a ranker that did not see the
question (two-fold cross-fitting), so they learn from the scores the shipped ranker
gives unseen questions. Answerability negatives are the tuning questions asked again with
their article removed from the index, plus the tuning sets' unanswerable questions; its
threshold is the highest that keeps false abstentions at or below `max_false_abstain` on
the (cross-fitted) tuning questions. With a sentence reader (`qa train-reader`), a
fourth model, the quotes model, is the sentence scorer fitted with the reader's features:
it picks what an answer quotes, while answerability is still judged without the reader
(fitted with it, answerability leaned on a probability calibrated on SQuAD and refused
far more news questions: docs/training.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer import (
    ANSWER_FEATURES,
    SENTENCE_FEATURES,
    Reader,
    answer_features,
    candidate_sentences,
)
from .evaluate import Question, contains_answer, is_gold
from .features import PASSAGE_FEATURES
from .models import (
    ANSWERABLE_FILE,
    QUOTES_FILE,
    RANKER_FILE,
    READER_FILE,
    SENTENCE_FILE,
    LinearModel,
    Models,
    TreeModel,
    file_digest,
    write_linear,
)

if TYPE_CHECKING:
    import numpy as np

    from .index import Index
    from .rerank import Ranking

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total)."""


@dataclass(frozen=True, slots=True)
class TuningSet:
    """Questions asked of one index; `weight` scales their examples in the logistic fits."""

    name: str
    index: Index
    questions: Sequence[Question]
    weight: float = 1.0
    removed: Index | None = None  # the index without the questions' articles


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Training settings; the defaults made the shipped models."""

    seed: int = 0
    trees: int = 300
    leaves: int = 15
    learning_rate: float = 0.05
    max_false_abstain: float = 0.05
    folds: int = 2


@dataclass
class _Asked:
    """One question's candidates: features, labels, and what is needed to rank them again."""

    set: int
    question: Question
    rows: list[int]
    ranking: Ranking
    labels: np.ndarray
    removed: bool = False
    fold: int = 0


@dataclass
class TrainReport:
    """What was trained and how it did on the tuning data (cross-fitted)."""

    questions: dict[str, int] = field(default_factory=dict)
    ranker_recall_at_1: dict[str, float] = field(default_factory=dict)
    hybrid_recall_at_1: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.0
    false_abstain: dict[str, float] = field(default_factory=dict)
    abstain_on_removed: dict[str, float] = field(default_factory=dict)
    abstain_on_unanswerable: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _ask(index: Index, q: Question) -> tuple[list[int], Ranking] | None:
    """The candidates of one question in hybrid order (the ranker is off while collecting;
    a follow-up is searched as asked within the article the previous answer quotes, else
    with the question before it everywhere, as `Index.ask` first does)."""
    from .conversation import is_follow_up, retrieval_query

    query, allowed = q.question, None
    if is_follow_up(q.question, list(q.history)):  # within the conversation's article
        allowed = index._conversation(list(q.history), None, "hybrid")
        if allowed is None:
            query = retrieval_query(q.question, list(q.history))
    vector = index.embedder.encode_query(query)
    ranking = index._rank(query, vector, allowed, 5)
    return (ranking.rows, ranking) if ranking.rows else None


def collect(sets: Sequence[TuningSet], *, removal: bool,
            progress: Progress | None = None) -> list[_Asked]:
    """Ask every question (and, with `removal`, every answerable one again without its
    article) with the indexes' ranker switched off; label the candidates."""
    import numpy as np

    out = []
    for n, s in enumerate(sets):
        indexes = [s.index] + ([s.removed] if removal and s.removed is not None else [])
        saved = [i.models for i in indexes]
        try:
            for i in indexes:
                i.models = Models()
            for done, q in enumerate(s.questions, start=1):
                for index in indexes if q.answerable and q.source else indexes[:1]:
                    found = _ask(index, q)
                    if found is None:
                        continue
                    removed = index is not s.index
                    rows, ranking = found
                    labels = np.asarray([q.answerable and not removed and
                                         is_gold(index.passages[i], q) for i in rows])
                    out.append(_Asked(n, q, rows, ranking, labels.astype(np.int8), removed))
                if progress:
                    progress(f"asking {s.name}", done, len(s.questions))
        finally:
            for i, models in zip(indexes, saved, strict=True):
                i.models = models
    return out


def fit_ranker(asked: Sequence[_Asked], config: TrainConfig) -> Any:
    """A LightGBM lambdarank booster over the candidates of the questions that have a gold
    passage among them."""
    import lightgbm
    import numpy as np

    use = [a for a in asked if not a.removed and a.labels.any()]
    x = np.concatenate([a.ranking.features for a in use])
    y = np.concatenate([a.labels for a in use])
    data = lightgbm.Dataset(x, y, group=[len(a.rows) for a in use],
                            feature_name=list(PASSAGE_FEATURES), free_raw_data=False)
    params = {"objective": "lambdarank", "learning_rate": config.learning_rate,
              "num_leaves": config.leaves, "min_data_in_leaf": 20, "bagging_fraction": 0.8,
              "bagging_freq": 1, "feature_fraction": 0.8, "seed": config.seed,
              "deterministic": True, "force_row_wise": True, "num_threads": 1,
              "lambdarank_truncation_level": 20, "verbosity": -1}
    return lightgbm.train(params, data, num_boost_round=config.trees)


def _reranked(a: _Asked, booster: Any) -> tuple[Ranking, np.ndarray]:
    """The question's ranking re-ordered by `booster`, and its labels in that order."""
    import numpy as np

    from .rerank import Ranking

    r = a.ranking
    scores = booster.predict(r.features, num_threads=1)
    order = np.argsort(-scores, kind="stable")
    ranking = Ranking(r.query, r.stage, [r.rows[i] for i in order],
                      [r.candidates[i] for i in order], r.features[order], scores[order])
    return ranking, a.labels[order]


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, features: Sequence[str],
                 seed: int, **meta: Any) -> LinearModel:
    """A standardised L2 logistic regression as a LinearModel."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000, random_state=seed)
    model.fit((x - mean) / scale, y, sample_weight=w)
    digest = f"{abs(hash(tuple(np.round(model.coef_[0], 6)))) % 10**12:012d}"
    return LinearModel(tuple(features), tuple(float(c) for c in model.coef_[0]),
                       float(model.intercept_[0]), tuple(map(float, mean)),
                       tuple(map(float, scale)), meta={"digest": digest, **meta})


def _folds(asked: Sequence[_Asked], config: TrainConfig) -> None:
    """Assign each question (and its removed twin) to a cross-fitting fold."""
    import random

    rng = random.Random(config.seed)
    by_question: dict[tuple[int, str], int] = {}
    for a in asked:
        key = (a.set, a.question.id or a.question.question + "|".join(a.question.history))
        if key not in by_question:
            by_question[key] = rng.randrange(config.folds)
        a.fold = by_question[key]


def _index_of(sets: Sequence[TuningSet], a: _Asked) -> Index:
    s = sets[a.set]
    return s.removed if a.removed and s.removed is not None else s.index


def _sentences(sets: Sequence[TuningSet], a: _Asked, ranking: Ranking,
               passages: int, reader: Reader | None) -> tuple[list[Any], np.ndarray]:
    """Candidate sentences of a ranking (read by `reader`, if given) and whether each
    holds the answer."""
    import numpy as np

    index = _index_of(sets, a)
    hits = index._hits(ranking, passages)
    cands = candidate_sentences(ranking, hits, index._terms, index._text_before, passages,
                                reader)
    q = a.question
    labels = np.asarray([q.answerable and not a.removed and is_gold(c.hit, q) and
                         contains_answer(c.text, q.answers) for c in cands], dtype=np.int8)
    return cands, labels


def _fit_sentences(rows: Sequence[tuple[list[Any], np.ndarray, float]],
                   config: TrainConfig, *, reader: bool = False) -> LinearModel:
    """A sentence scorer; it weighs the sentence reader's features only with `reader`
    (without, they are 0 in training, and so is their weight)."""
    import numpy as np

    x = np.asarray([c.features for cands, _, _ in rows for c in cands], dtype=np.float64)
    if not reader:
        x[:, [n.startswith("reader") for n in SENTENCE_FEATURES]] = 0.0
    y = np.concatenate([labels for _, labels, _ in rows])
    w = np.concatenate([np.full(len(labels), weight) for _, labels, weight in rows])
    return fit_logistic(x, y, w, SENTENCE_FEATURES, config.seed)


def _cross_fit(sets: Sequence[TuningSet], asked: Sequence[_Asked], config: TrainConfig,
               passages: int,
               progress: Progress | None) -> list[tuple[_Asked, list[float]]]:
    """Answer features of every asked question, from a ranker and a sentence scorer that
    were trained on the other folds (the judging scorer, which does not read the sentence
    reader)."""
    import numpy as np

    out = []
    for f in range(config.folds):
        train = [a for a in asked if a.fold != f]
        booster = fit_ranker(train, config)
        rows = []
        for a in train:
            if not a.removed and a.question.answerable:
                ranking, _ = _reranked(a, booster)
                cands, labels = _sentences(sets, a, ranking, passages, None)
                rows.append((cands, labels, sets[a.set].weight))
        scorer = _fit_sentences(rows, config)
        for a in (a for a in asked if a.fold == f):
            ranking, labels = _reranked(a, booster)
            cands, _ = _sentences(sets, a, ranking, passages, None)
            if not cands:
                continue
            probs = scorer.probability(np.asarray([c.features for c in cands]))
            best = int(np.argmax(probs))
            context = _index_of(sets, a).answerer.context(ranking)
            a.ranking, a.labels = ranking, labels
            out.append((a, answer_features(ranking, cands[best], float(probs[best]), context)))
        if progress:
            progress("cross-fitting", f + 1, config.folds)
    return out


def _threshold(probs: np.ndarray, positive: np.ndarray, max_false: float) -> float:
    """The highest threshold under which at most `max_false` of the positives fall."""
    import numpy as np

    pos = np.sort(probs[positive.astype(bool)])
    if not len(pos):
        return 0.5
    k = int(np.floor(max_false * len(pos)))
    return float(pos[k]) if k < len(pos) else float(pos[-1])


def train(sets: Sequence[TuningSet], out: Path, config: TrainConfig = TrainConfig(), *,
          progress: Progress | None = None) -> TrainReport:
    """Fit and save the three models into `out` (ranker.txt, sentences.json,
    answerable.json) and report how they did on the tuning data, cross-fitted. With the
    sentence reader in `out` (reader.onnx, `qa train-reader`), also quotes.json: the
    sentence scorer that reads it, which picks what an answer quotes."""
    from .reader import SentenceReader

    t0 = time.perf_counter()
    asked = collect(sets, removal=True, progress=progress)
    reader = SentenceReader(out / READER_FILE) if (out / READER_FILE).exists() else None
    report = fit_all(sets, asked, out, config, progress=progress,
                     reader=reader.score if reader else None)
    report.seconds = time.perf_counter() - t0
    (out / "training.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n",
                                       encoding="utf-8")
    return report


def fit_all(sets: Sequence[TuningSet], asked: Sequence[_Asked], out: Path,
            config: TrainConfig = TrainConfig(), *,
            progress: Progress | None = None, reader: Reader | None = None) -> TrainReport:
    """The fitting half of `train`, from questions already asked (`collect`); `reader`
    scores (question, sentence) pairs for the quotes model's features (none: no quotes
    model)."""
    import copy

    import numpy as np

    asked = [copy.copy(a) for a in asked]
    report = TrainReport(questions={s.name: len(s.questions) for s in sets})
    _folds(asked, config)
    for n, s in enumerate(sets):
        present = [a for a in asked if a.set == n and not a.removed and a.question.answerable]
        report.hybrid_recall_at_1[s.name] = float(np.mean([a.labels[0] for a in present])) \
            if present else 0.0
    passages = sets[0].index.answerer.config.passages
    features = _cross_fit(sets, asked, config, passages, progress)
    for n, s in enumerate(sets):
        present = [a for a, _ in features
                   if a.set == n and not a.removed and a.question.answerable]
        report.ranker_recall_at_1[s.name] = float(np.mean([a.labels[0] for a in present])) \
            if present else 0.0
    x = np.asarray([f for _, f in features], dtype=np.float64)
    y = np.asarray([a.question.answerable and not a.removed for a, _ in features], dtype=np.int8)
    w = np.asarray([sets[a.set].weight for a, _ in features])
    fold = np.asarray([a.fold for a, _ in features])
    oof = np.zeros(len(y))
    for f in range(config.folds):
        model = fit_logistic(x[fold != f], y[fold != f], w[fold != f], ANSWER_FEATURES,
                             config.seed)
        oof[fold == f] = model.probability(x[fold == f])
    threshold = _threshold(oof, y, config.max_false_abstain)
    report.threshold = threshold
    _abstention(report, sets, [a for a, _ in features], oof < threshold)
    _save(sets, asked, x, y, w, threshold, out, config, passages, reader)
    report.files = {name: file_digest(out / name) for name in (
        RANKER_FILE, SENTENCE_FILE, ANSWERABLE_FILE, QUOTES_FILE) if (out / name).exists()}
    return report


def _abstention(report: TrainReport, sets: Sequence[TuningSet], asked: Sequence[_Asked],
                abstains: np.ndarray) -> None:
    """Per set: abstentions on answerable questions, on them with their article removed,
    and on the set's unanswerable questions (cross-fitted)."""
    import numpy as np

    for n, s in enumerate(sets):
        groups = {"false_abstain": [], "abstain_on_removed": [], "abstain_on_unanswerable": []}
        for a, abstained in zip(asked, abstains, strict=True):
            if a.set == n:
                key = ("abstain_on_unanswerable" if not a.question.answerable else
                       "abstain_on_removed" if a.removed else "false_abstain")
                groups[key].append(bool(abstained))
        for key, values in groups.items():
            if values:
                getattr(report, key)[s.name] = float(np.mean(values))


def _save(sets: Sequence[TuningSet], asked: Sequence[_Asked], x: np.ndarray, y: np.ndarray,
          w: np.ndarray, threshold: float, out: Path, config: TrainConfig,
          passages: int, reader: Reader | None) -> None:
    """The final models, each trained on all the tuning data; with a sentence reader, the
    quotes model too (the sentence scorer that reads it, for choosing what to quote)."""
    import dataclasses

    out.mkdir(parents=True, exist_ok=True)
    booster = fit_ranker(asked, config)
    tmp = out / (RANKER_FILE + ".tmp")
    booster.save_model(str(tmp))
    tmp.replace(out / RANKER_FILE)
    TreeModel(out / RANKER_FILE, PASSAGE_FEATURES)  # the saved file loads and matches
    rows = []
    for a in asked:  # rankings by a ranker that did not see the question (`_cross_fit`)
        if not a.removed and a.question.answerable:
            cands, labels = _sentences(sets, a, a.ranking, passages, reader)
            rows.append((cands, labels, sets[a.set].weight))
    write_linear(_fit_sentences(rows, config), out / SENTENCE_FILE)
    if reader is not None:
        write_linear(_fit_sentences(rows, config, reader=True), out / QUOTES_FILE)
    else:
        (out / QUOTES_FILE).unlink(missing_ok=True)  # one fitted beside another reader
    answerable = fit_logistic(x, y, w, ANSWER_FEATURES, config.seed)
    write_linear(dataclasses.replace(answerable, threshold=threshold), out / ANSWERABLE_FILE)


Builder = Callable[..., "Index"]
"""Makes an index: called as builder(sources, directory, chunk=...)."""


def tuning_sets(data: Path, work: Path, *, builder: Builder | None = None,
                squad_weight: float = 1.0, news_weight: float = 10.0) -> list[TuningSet]:
    """The protocol's tuning sets (qa.datasets, qa.protocol) but its validation sets, with
    their indexes and their indexes without the questions' articles, built under `work`;
    plus the seed questions over the seed articles alone (a small corpus behaves
    differently).

    Args:
        data: the folder with squad-dev-v1.1.json, squad2-dev-5articles.json and
            news-bbc.jsonl (see ../shared/bench/SOURCES.md).
        work: where the article files and indexes are written (re-used when unchanged).
        builder: how to make an index (default `qa.build` with no trained models: the
            questions are asked with the ranker off, so the installed models are never
            read, and training works while they are out of date).
        squad_weight, news_weight: how much one SQuAD / one news question counts in the
            logistic fits (6,500 SQuAD questions would otherwise drown 200 news ones).
    """
    import functools

    from . import datasets
    from .builder import build
    from .evaluate import load_questions
    from .protocol import protocol_sets, reusing

    builder = builder or reusing(functools.partial(build, models=Models()))

    sets = [TuningSet(s.name, s.index, s.questions,
                      squad_weight if s.name.startswith("squad") else news_weight, s.removed)
            for s in protocol_sets(data, work, builder=builder, splits=("tuning",),
                                   validation=False)]
    alone = builder([datasets.ROOT / "seeds"], work / "seeds-index")
    return [*sets, TuningSet("seeds-alone", alone, load_questions(datasets.SEED_QUESTIONS),
                             news_weight)]
