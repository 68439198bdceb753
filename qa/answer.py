"""Extractive answers: quote the sentence that answers a question, cite it, or abstain.

The sentences of the best-ranked passages are scored by a small logistic model trained on
tuning data (qa/models/sentences.json; features in SENTENCE_FEATURES: the question's
cosine with the sentence's stored vector, how much of the question's weight the sentence,
its neighbour and its passage cover, whether it holds the kind of thing asked for, the
passage's rank, and the sentence reader's reading of the pair, qa.reader).
A second logistic model (qa/models/answerable.json, ANSWER_FEATURES)
turns the evidence into the probability that the articles hold the answer at all; below
its threshold, chosen on tuning data, the bot abstains and lists the closest passages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .features import PASSAGE_FEATURES, Query, Terms
from .schema import Answer, Citation, Hit

if TYPE_CHECKING:
    import numpy as np

    from .models import Models
    from .rerank import Ranking

ABSTAIN_TEXT = ("I could not find an answer to that in the articles. "
                "The closest passages are listed as related reading.")

SENTENCE_FEATURES = ("cos", "cos_gap", "cov", "cov_before", "cov_passage", "type", "score_gap",
                     "rank", "position", "words", "novelty", "reader", "reader_gap")
ANSWER_FEATURES = ("score", "margin", "sentence", "sentence_cos", "sentence_cov", "cos",
                   "sent_cos", "cov_context", "missing", "unknown", "terms", "type",
                   "rank_dense", "rank_bm25", "rank_sentence", "same_article")


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """Knobs of the extractive answerer (chosen on tuning data, docs/training.md).

    Attributes:
        passages: how many top passages to quote from.
        max_sentences: most sentences in an answer.
        extra_ratio: a further sentence is quoted when its probability is at least this
            share of the best sentence's...
        extra_floor: ...and at least this;
        unsure: or whenever the best sentence's probability is below this: a best sentence
            more likely not to hold the answer than to hold it is not quoted alone (0.5 is
            that meaning, not a fitted value; docs/training.md).
    """

    passages: int = 3
    max_sentences: int = 2
    extra_ratio: float = 0.7
    extra_floor: float = 0.4
    unsure: float = 0.5


@dataclass(frozen=True, slots=True)
class Sentence:
    """A candidate sentence: offsets in the article text, its passage's rank among the
    top passages (0 = best), and its own features."""

    hit: Hit
    start: int
    end: int
    text: str
    rank: int
    features: tuple[float, ...]


Reader = Callable[[str, Sequence[str]], "np.ndarray"]
"""Scores (question, sentence) pairs: qa.reader.SentenceReader.score."""


def candidate_sentences(ranking: Ranking, hits: Sequence[Hit], terms: Terms,
                        before: Callable[[int], str], passages: int,
                        reader: Reader | None = None) -> list[Sentence]:
    """The sentences of the top `passages` passages, with SENTENCE_FEATURES.

    `before(row)` is the text just before passage `row` in its article (the end of the
    passage before it), which may name what "the sides" in a first sentence are.
    `reader` reads each sentence with the question (features "reader", its logit, and
    "reader_gap", that minus the best one's; both 0 without a reader).
    """
    query = ranking.query
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    top_score = float(ranking.scores[0]) if len(ranking.scores) else 0.0
    top_cos = max((max(c.sentence_cos, default=0.0) for c in ranking.candidates[:passages]),
                  default=0.0)
    out = []
    for r, (row, cand, hit) in enumerate(zip(ranking.rows[:passages],
                                             ranking.candidates[:passages], hits, strict=False)):
        spans, sent_terms = terms.sentences(cand.key, cand.text)
        previous = frozenset(terms(before(row)))
        cov_passage = float(ranking.features[r, col["cov_context"]])
        score_gap = float(ranking.scores[r]) - top_score
        for j, ((s, e), own) in enumerate(zip(spans, sent_terms, strict=True)):
            text = cand.text[s:e]
            cos = cand.sentence_cos[j] if j < len(cand.sentence_cos) else 0.0
            novelty = len(own - set(query.terms)) / len(own) if own else 0.0
            out.append(Sentence(hit, hit.start + s, hit.start + e, text, r, (
                cos, cos - top_cos, query.coverage(own), query.coverage(own | previous),
                cov_passage, terms.type_match(query.qtype, text, query.names), score_gap,
                math.log1p(r), math.log1p(j), math.log1p(len(text.split())), novelty)))
            previous = own
    read = reader(query.text, [c.text for c in out]) if reader is not None and out else None
    top_read = float(max(read)) if read is not None else 0.0
    return [Sentence(c.hit, c.start, c.end, c.text, c.rank, (
        *c.features, float(read[i]) if read is not None else 0.0,
        float(read[i]) - top_read if read is not None else 0.0)) for i, c in enumerate(out)]


def answer_features(ranking: Ranking, best: Sentence, best_prob: float,
                    context: frozenset[str]) -> list[float]:
    """ANSWER_FEATURES of a question whose best sentence is `best`; `context` are the
    terms of the top passage, its title and the passage before it."""
    query = ranking.query
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    top = ranking.features[0]
    scores = ranking.scores
    sf = dict(zip(SENTENCE_FEATURES, best.features, strict=True))
    return [float(scores[0]), float(scores[0] - scores[1]) if len(scores) > 1 else 1.0,
            math.log(max(best_prob, 1e-6) / max(1 - best_prob, 1e-6)), sf["cos"],
            sf["cov_before"], float(top[col["cos"]]), float(top[col["sent_cos"]]),
            float(top[col["cov_context"]]), largest_missing(query, context), query.unknown,
            math.log1p(len(query.terms)), sf["type"], float(top[col["rank_dense"]]),
            float(top[col["rank_bm25"]]), float(top[col["sent_rank"]]),
            sum(c.article_id == ranking.candidates[0].article_id
                for c in ranking.candidates[1:3]) / 2]


def largest_missing(query: Query, present: frozenset[str]) -> float:
    """Weight share of the rarest question term not in `present`: a rare term the top
    passage never mentions suggests the articles do not hold the answer."""
    total = query.total or 1.0
    return max((w for t, w in zip(query.terms, query.weights, strict=True) if t not in present),
               default=0.0) / total


class ExtractiveAnswerer:
    """Answers by quoting sentences of the ranked passages; needs no language model."""

    def __init__(self, terms: Terms, models: Models, before: Callable[[int], str],
                 config: AnswerConfig = AnswerConfig()) -> None:
        self.terms = terms
        self.models = models
        self.before = before
        self.config = config

    def __call__(self, question: str, ranking: Ranking, hits: Sequence[Hit],
                 top_hits: Sequence[Hit],
                 judged: tuple[Ranking, Sequence[Hit]] | None = None,
                 min_confidence: float | None = None) -> Answer:
        """The answer to `question` from `ranking`; `hits` are returned with it and
        `top_hits` are the hits of the first `config.passages` ranked passages. With
        `judged` (another ranking and its top hits), the confidence is that ranking's. It
        abstains below `min_confidence`, by default the answerability model's threshold."""
        import numpy as np

        cands = self._candidates(ranking, top_hits, read=False)
        if not cands:
            return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), 0.0)
        probs = self.sentence_probabilities(cands)
        confidence = self._judge(ranking, cands, probs) if judged is None else \
            self.confidence(*judged)
        if confidence < self.threshold(min_confidence):
            return Answer(question, ABSTAIN_TEXT, (), True, tuple(hits), confidence)
        if self.models.quotes is not None:  # it picks the quotes, reading the sentence reader
            cands = self._candidates(ranking, top_hits, read=True)
            probs = self.models.quotes.probability(
                np.asarray([c.features for c in cands], dtype=np.float64))
        chosen = self.pick(cands, probs, np.argsort(-probs, kind="stable"))
        return Answer(question, _cited_text(cands, chosen), _citations(cands, chosen), False,
                      tuple(hits), confidence)

    def threshold(self, min_confidence: float | None = None) -> float:
        """The confidence below which it abstains: `min_confidence` when given, else the
        answerability model's threshold (chosen on tuning data for at most 5% false
        abstentions; 0.0 without a model)."""
        if min_confidence is not None:
            return min_confidence
        return self.models.answerable.threshold if self.models.answerable else 0.0

    def confidence(self, ranking: Ranking, top_hits: Sequence[Hit]) -> float:
        """The probability that the articles hold the answer, judged from `ranking` alone
        (its own best sentence and evidence); 0.0 when it has no sentences."""
        cands = self._candidates(ranking, top_hits, read=False)
        return self._judge(ranking, cands, self.sentence_probabilities(cands)) if cands else 0.0

    def _candidates(self, ranking: Ranking, top_hits: Sequence[Hit], *,
                    read: bool) -> list[Sentence]:
        """The candidate sentences, read by the sentence reader when `read` (for the
        quotes model) or when the judging scorer weighs it (else the reader's features
        are 0): an abstention never waits for the reader."""
        models = self.models
        judge_reads = models.sentences is not None and models.sentences.weighs("reader")
        reader = models.reader if models.reads_reader and (read or judge_reads) else None
        return candidate_sentences(ranking, top_hits, self.terms, self.before,
                                   self.config.passages, reader.score if reader else None)

    def _judge(self, ranking: Ranking, cands: Sequence[Sentence], probs: np.ndarray) -> float:
        """The answerability of `ranking`, read with its most likely sentence."""
        best = int(probs.argmax())
        return self.answerable(ranking, cands[best], float(probs[best]))

    def sentence_probabilities(self, cands: Sequence[Sentence]) -> np.ndarray:
        """How likely each sentence holds the answer (coverage and cosine, untrained)."""
        import numpy as np

        x = np.asarray([c.features for c in cands], dtype=np.float64)
        if self.models.sentences is not None:
            return self.models.sentences.probability(x)
        col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
        return 0.5 * x[:, col["cov_before"]] + 0.5 * x[:, col["cos"]]

    def answerable(self, ranking: Ranking, best: Sentence, prob: float) -> float:
        """The probability that the articles hold the answer (1.0 without the model)."""
        if self.models.answerable is None:
            return 1.0
        import numpy as np

        x = np.asarray([answer_features(ranking, best, prob, self.context(ranking))],
                       dtype=np.float64)
        return float(self.models.answerable.probability(x)[0])

    def context(self, ranking: Ranking) -> frozenset[str]:
        """Terms of the top passage, its title and the passage before it."""
        cand = ranking.candidates[0]
        _, own = self.terms.sentences(cand.key, cand.text)
        return frozenset().union(*own, self.terms(cand.title),
                                 self.terms(self.before(ranking.rows[0])))

    def pick(self, cands: Sequence[Sentence], probs: np.ndarray,
              order: np.ndarray) -> list[int]:
        """The best sentence, then close runners-up (any runners-up when the best one is
        unsure), best first."""
        config = self.config
        best = float(probs[order[0]])
        chosen = [int(order[0])]
        for i in order[1:]:
            if len(chosen) >= config.max_sentences:
                break
            p = float(probs[i])
            if best >= config.unsure and (p < config.extra_floor or p < config.extra_ratio * best):
                break
            if all(cands[i].text != cands[j].text for j in chosen):
                chosen.append(int(i))
        return chosen


def _citations(cands: Sequence[Sentence], chosen: Sequence[int]) -> tuple[Citation, ...]:
    return tuple(
        Citation(n=n, quote=cands[i].text, source=cands[i].hit.source, title=cands[i].hit.title,
                 date=cands[i].hit.date, start=cands[i].start, end=cands[i].end, hit=cands[i].hit,
                 url=cands[i].hit.url, page=cands[i].hit.page)
        for n, i in enumerate(chosen, start=1))


def _cited_text(cands: Sequence[Sentence], chosen: Sequence[int]) -> str:
    return " ".join(f"{cands[i].text} [{n}]" for n, i in enumerate(chosen, start=1))
