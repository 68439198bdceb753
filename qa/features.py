"""Features of a question against passages and sentences, for the learned ranker and answerer.

Everything here is cheap and lexical apart from the cosines handed in: the terms BM25 sees
(lower-cased, stop words out, stemmed), their rarity (BM25 idf), how much of the question's
weight a passage, its title, its best sentence or its best two-sentence window covers, and
whether it holds the kind of thing the question asks for (a number for "how many", a date
for "when", a name not already in the question for "who").
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .text import sentences

if TYPE_CHECKING:
    import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern, so terms match the index
QTYPES = ("number", "date", "person", "place", "other")
_QTYPE_RULES = (
    ("number", re.compile(r"\b(how (many|much|long|far|old|big|large|high|often|fast)|what "
                          r"(number|percentage|proportion|share|amount|price|rate|sum|size)|"
                          r"by how)\b")),
    ("date", re.compile(r"\b(when|what (year|date|day|month|time|decade|century)|which "
                        r"(year|date|day|month|decade|century))\b")),
    ("person", re.compile(r"\b(who|whom|whose|which (person|man|woman|player|actor|singer|"
                          r"minister|company|firm|team|club|band|group)|what (company|firm|"
                          r"team|club|band|group|name))\b")),
    ("place", re.compile(r"\b(where|which (country|city|town|state|region|nation|place)|"
                         r"what (country|city|town|state|region|nation|place))\b")),
)
# A number: a digit, or a number word. Two patterns, the digit looked for first: one pattern
# with both took 40 us per BBC paragraph, these two 26 (the same answer for every one).
_DIGIT = re.compile(r"\d")
_NUMBER_WORD = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                          r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|"
                          r"half|third|quarter)\b", re.IGNORECASE)
_DATE = re.compile(r"\b(1[5-9]\d\d|20\d\d|\d{1,2}(st|nd|rd|th)|January|February|March|April|"
                   r"May|June|July|August|September|October|November|December|Jan|Feb|Mar|"
                   r"Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|"
                   r"Friday|Saturday|Sunday|yesterday|today|tomorrow|century|decade)\b")
# A capitalised word not at the start of the text or of a sentence. The capital comes first
# and the look-behinds are checked from after it, so the regex engine can skip straight to
# capitals (2.4x faster than the look-behinds first; the same matches on every BBC and
# SQuAD text and on 300k random strings).
_CAPITALISED = re.compile(r"[A-Z](?<!^[A-Z])(?<![.!?]\s[A-Z])(?<=\b[A-Z])[\w'’-]+")


def _capitalised(text: str) -> frozenset[str]:
    return frozenset(m.group(0).lower() for m in _CAPITALISED.finditer(text))


_KIND_OF = {"number": 0, "date": 1, "person": 2, "place": 2}
_KIND_FINDERS: tuple[Callable[[str], Any], ...] = (
    lambda text: bool(_DIGIT.search(text) or _NUMBER_WORD.search(text)),
    lambda text: bool(_DATE.search(text)),
    _capitalised,
)

Stored = Callable[[str], tuple[list[tuple[int, int]], list[str] | None] | None]


def question_type(question: str) -> str:
    """What the question asks for: one of QTYPES."""
    lowered = question.lower()
    for name, rule in _QTYPE_RULES:
        if rule.search(lowered):
            return name
    return "other"


class Terms:
    """The terms BM25 sees in a text; a passage's sentences are tokenised once and kept.

    The memo is bounded (least recently used first out), so a long-running server over
    a large corpus does not grow without limit.
    """

    def __init__(self, stemmer: Any, stopwords: frozenset[str], *, memo: int = 50_000,
                 stored: Stored | None = None) -> None:
        import threading

        self.stemmer = stemmer
        self.stopwords = stopwords
        self._memo: OrderedDict[str, tuple[tuple[int, int], ...]] = OrderedDict()
        self._sent_terms: dict[str, list[frozenset[str]]] = {}
        self.limit = memo
        self._lock = threading.Lock()  # the chat server asks from several threads
        self._titles: dict[str, frozenset[str]] = {}
        self._kinds: dict[str, list[Any]] = {}  # text -> [number, date, names]
        self._stored = stored  # what the index stored of a passage's sentences

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _TOKEN.findall(text.lower()) if w not in self.stopwords]
        return self.stemmer.stemWords(words) if words else []

    def title(self, text: str) -> frozenset[str]:
        """The terms of a title (many passages share one), remembered."""
        found = self._titles.get(text)
        if found is None:
            found = frozenset(self(text))
            if len(self._titles) >= self.limit:
                self._titles.clear()
            self._titles[text] = found
        return found

    def type_match(self, qtype: str, text: str, names: frozenset[str]) -> float:
        """Whether `text` holds the kind of thing a question of type `qtype` asks for (a
        number, a date, a capitalised word not among the question's `names`). Only the kind
        asked for is looked for, and what was found is remembered per text."""
        kind = _KIND_OF.get(qtype)
        if kind is None:
            return 0.0
        found = self._kinds.get(text)
        if found is None:
            if len(self._kinds) >= self.limit:
                self._kinds.clear()
            found = self._kinds[text] = [None, None, None]
        if found[kind] is None:
            found[kind] = _KIND_FINDERS[kind](text)
        return float(bool(found[kind] - names)) if kind == 2 else float(found[kind])

    def sentences(self, key: str, text: str) -> tuple[list[tuple[int, int]], list[frozenset[str]]]:
        """Sentence spans of `text` and the terms of each, remembered under `key` (a
        passage id: what the index stored at build time is used when it knows the passage)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return list(self._memo[key]), self._sent_terms[key]
        stored = self._stored(key) if self._stored else None
        spans, lines = stored if stored is not None else (sentences(text), None)
        terms = [frozenset(line.split()) for line in lines] if lines is not None else \
            [frozenset(self(text[s:e])) for s, e in spans]
        with self._lock:
            self._memo[key] = tuple(spans)
            self._sent_terms[key] = terms
            if len(self._memo) > self.limit:
                old, _ = self._memo.popitem(last=False)
                self._sent_terms.pop(old, None)
        return spans, terms


def make_terms(stemmer: Any, stored: Stored | None = None) -> Terms:
    """Terms with bm25s's English stop words and the given stemmer; `stored(key)` gives
    what an index stored of a passage's sentences (spans, and their terms as space-joined
    lines, or None), or None for a text it does not know."""
    from bm25s.stopwords import STOPWORDS_EN

    return Terms(stemmer, frozenset(STOPWORDS_EN), stored=stored)


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the features see it: its terms with their rarity, and its type."""

    text: str
    terms: tuple[str, ...]
    weights: tuple[float, ...]
    qtype: str
    unknown: float  # share of the question's weight in terms the index has never seen
    names: frozenset[str]  # lower-cased capitalised words of the question
    _shares: dict[int, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> float:
        return sum(self.weights)

    def mask(self, terms: frozenset[str] | set[str]) -> int:
        """Which of the question's terms occur in `terms`, as bits (term i is bit i).
        A question has a handful of terms: looking each up is ~4x faster than a set
        intersection, and this runs for every sentence of every candidate."""
        found = 0
        for i, t in enumerate(self.terms):
            if t in terms:
                found |= 1 << i
        return found

    def share(self, mask: int) -> float:
        """Share of the question's weight in the terms of `mask` (remembered per mask)."""
        if mask not in self._shares:
            total = self.total
            self._shares[mask] = sum(w for i, w in enumerate(self.weights)
                                     if mask >> i & 1) / total if total else 0.0
        return self._shares[mask]

    def coverage(self, terms: frozenset[str] | set[str]) -> float:
        """Share of the question's weight whose terms occur in `terms`."""
        return self.share(self.mask(terms))


def make_query(text: str, terms: Terms, idf: dict[str, float],
               rarest: float | None = None) -> Query:
    """Analyse a question: unique terms, idf weights (unseen terms count as the rarest,
    `rarest`: pass it when calling often, finding it scans the vocabulary)."""
    rarest = max(idf.values(), default=1.0) if rarest is None else rarest
    unique = tuple(dict.fromkeys(terms(text)))
    weights = tuple(idf.get(t, rarest) for t in unique)
    unseen = sum(w for t, w in zip(unique, weights, strict=True) if t not in idf)
    total = sum(weights)
    names = frozenset(m.lower() for m in re.findall(r"\b[A-Z][\w'’-]+", text))
    return Query(text, unique, weights, question_type(text), unseen / total if total else 0.0,
                 names)


PASSAGE_FEATURES = (
    "cos", "cos_gap", "bm25", "bm25_log", "bm25_prev", "rank_dense", "rank_bm25",
    "cov", "cov_title", "cov_context", "cov_sentence", "cov_window", "type_sentence",
    "type_passage", "position", "words", "article_rank", "article_hits", "unknown",
    "q_number", "q_date", "q_person", "q_place",
    "sent_cos", "sent_cos2", "sent_gap", "sent_rank", "sent_cov_cos",
    "article_bm25", "article_sent", "article_cos",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the ranker is told about one candidate passage besides its text."""

    key: str  # passage id
    text: str
    title: str
    article_id: str
    position: int  # the passage's place in its article, 0 for the first
    cos: float
    bm25: float
    bm25_prev: float
    rank_dense: int  # 1-based, or 0 when the dense search did not return it
    rank_bm25: int
    rank_sentence: int  # rank of its best sentence in the sentence search, or 0
    sentence_cos: tuple[float, ...]  # cosine of the question with each of its sentences
    article_bm25: float  # the best BM25 score of any passage of its article


def best_windows(query: Query, masks: Sequence[int]) -> tuple[float, float, int]:
    """Best coverage by one sentence, by two neighbouring sentences, and the best sentence,
    from each sentence's `Query.mask`."""
    if not masks:
        return 0.0, 0.0, -1
    single = [query.share(m) for m in masks]
    best = max(range(len(single)), key=single.__getitem__)
    pairs = [query.share(masks[i] | masks[i + 1]) for i in range(len(masks) - 1)]
    return single[best], max(pairs, default=single[best]), best


def passage_features(query: Query, cands: Sequence[Candidate], terms: Terms,
                     before: Sequence[tuple[str, str] | None]) -> np.ndarray:
    """One row of PASSAGE_FEATURES per candidate; `before[i]` is the (id, text) of the
    passage before candidate i in its article (its context), or None for a first one."""
    import numpy as np

    seen: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}

    def sentence_masks(key: str, text: str) -> tuple[list[tuple[int, int]], list[int]]:
        """A passage's sentence spans and `Query.mask` of each, once per passage (the
        passage before a candidate is often a candidate too)."""
        if key not in seen:
            spans, sent_terms = terms.sentences(key, text)
            seen[key] = spans, [query.mask(t) for t in sent_terms]
        return seen[key]

    top_cos = max((c.cos for c in cands), default=0.0)
    top_sent = max((max(c.sentence_cos, default=0.0) for c in cands), default=0.0)
    top_bm25 = max((c.bm25 for c in cands), default=0.0) or 1.0
    art_order: dict[str, int] = {}
    art_count: dict[str, int] = {}
    art_sent: dict[str, float] = {}
    art_cos: dict[str, float] = {}
    for c in cands:
        art_order.setdefault(c.article_id, len(art_order) + 1)
        art_count[c.article_id] = art_count.get(c.article_id, 0) + 1
        art_sent[c.article_id] = max(art_sent.get(c.article_id, -1.0),
                                     max(c.sentence_cos, default=0.0))
        art_cos[c.article_id] = max(art_cos.get(c.article_id, -1.0), c.cos)
    qt = [float(query.qtype == t) for t in QTYPES[:4]]
    rows = []
    for c, prev in zip(cands, before, strict=True):
        spans, masks = sentence_masks(c.key, c.text)
        own = context = 0
        for m in masks:
            own |= m
        for m in sentence_masks(*prev)[1] if prev else ():
            context |= m
        title = query.mask(terms.title(c.title))
        cov_s, cov_w, best = best_windows(query, masks)
        best_text = c.text[spans[best][0] : spans[best][1]] if best >= 0 else ""
        rows.append([
            c.cos, c.cos - top_cos, c.bm25 / top_bm25, math.log1p(c.bm25),
            c.bm25_prev / top_bm25,
            math.log1p(c.rank_dense or 300), math.log1p(c.rank_bm25 or 300),
            query.share(own), query.share(title), query.share(own | title | context),
            cov_s, cov_w, terms.type_match(query.qtype, best_text, query.names),
            terms.type_match(query.qtype, c.text, query.names), math.log1p(c.position),
            math.log1p(len(c.text.split())), math.log1p(art_order[c.article_id]),
            math.log1p(art_count[c.article_id]), query.unknown, *qt,
            *_sentence_columns(c, best, top_sent),
            c.article_bm25 / top_bm25, art_sent[c.article_id] - top_sent,
            art_cos[c.article_id] - top_cos,
        ])
    return np.asarray(rows, dtype=np.float32).reshape(len(cands), len(PASSAGE_FEATURES))


def _sentence_columns(c: Candidate, best_covered: int, top: float) -> list[float]:
    """sent_cos, sent_cos2, sent_gap, sent_rank, sent_cov_cos of one candidate."""
    cos = sorted(c.sentence_cos, reverse=True)
    first = cos[0] if cos else 0.0
    covered = c.sentence_cos[best_covered] if 0 <= best_covered < len(c.sentence_cos) else first
    return [first, cos[1] if len(cos) > 1 else first, first - top,
            math.log1p(c.rank_sentence or 300), covered]
