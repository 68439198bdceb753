"""Checking a model's sentences against the passages it was given, before anyone sees them.

A drafted sentence is kept only if (1) it cites a passage that was given to the model:
a missing or wrong `[n]` is replaced by the given passage that supports it, if one does;
(2) every number, amount, percentage, date and proper name in it is in the cited passages
(normalised by `qa.facts`); and (3) it is close in meaning to a sentence (or two adjacent
sentences) of a cited passage: embedding similarity, with the index's own model, of at
least `CheckConfig.min_similarity`. A kept sentence cites the article sentence closest to
it, quoted verbatim with its exact span; a removed one keeps the reason why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .facts import Fact, FactSet, extract
from .schema import Hit
from .text import sentences

if TYPE_CHECKING:
    import numpy as np

Encode = Callable[[Sequence[str]], "np.ndarray"]

MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d{1,2}(?:\s*(?:,|;|and)\s*\d{1,2})*)\s*\]",
                    re.IGNORECASE)
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*" + MARKER.pattern + r")+)", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,2}[.)])\s+")
_HEADING = re.compile(r"\((?:\d{4}-\d{2}-\d{2}|undated)\)\s*$")  # "[2] Title (2023-03-28)"
_FINISHED = tuple('.!?…"”\')]')


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """Knobs of the checker.

    Attributes:
        min_similarity: least cosine similarity between a sentence and the closest sentence
            (or pair of adjacent sentences) of a passage it cites; calibrated on half of the
            seed questions by benchmarks/bench_llm.py (see docs/benchmarks.md).
        min_words: shorter drafts ("Answer:", "Sources") are not sentences.
    """

    min_similarity: float = 0.65
    min_words: int = 3


@dataclass(frozen=True, slots=True)
class Draft:
    """A sentence as the model wrote it: `text` without its markers, and the markers."""

    text: str
    markers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    """The article sentence that supports a kept sentence: `hit.text` holds `text` at
    article offsets `start`..`end`."""

    hit: Hit
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The checker's decision on one draft.

    Attributes:
        draft: the sentence as written.
        kept: whether it may be shown.
        cites: the given passages (numbered from 1) it cites once checked.
        quotes: for a kept sentence, the supporting sentence of each cited passage.
        reason: for a removed sentence, why.
        similarity: its best similarity to a sentence of the passages it cites.
    """

    draft: Draft
    kept: bool
    cites: tuple[int, ...] = ()
    quotes: tuple[Quote, ...] = ()
    reason: str = ""
    similarity: float = 0.0

    @property
    def repaired(self) -> bool:
        """Whether the checker changed the sentence's markers."""
        return self.kept and self.cites != self.draft.markers


def _numbers(group: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", group))


def finished(draft: Draft) -> bool:
    """Whether a draft ends like a sentence (punctuation or a marker), not cut off."""
    return bool(draft.markers) or draft.text.rstrip().endswith(_FINISHED)


def split_reply(text: str) -> list[Draft]:
    """The sentences of a model's reply, each with the `[n]` markers it carries.

    Markers written after the full stop ("… percent. [1]") belong to the sentence before;
    list bullets are dropped; fragments with no letters are skipped.
    """
    text = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
    drafts = []
    for line in text.splitlines():
        line = _BULLET.sub("", line)
        for s, e in sentences(line):
            piece = line[s:e]
            markers = tuple(dict.fromkeys(n for m in MARKER.finditer(piece)
                                          for n in _numbers(m.group(1))))
            clean = " ".join(MARKER.sub(" ", piece).split())
            clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
            if any(ch.isalpha() for ch in clean):
                drafts.append(Draft(clean, markers))
    return drafts


@dataclass(frozen=True, slots=True)
class _Passage:
    hit: Hit
    spans: tuple[tuple[int, int], ...]  # sentence spans in hit.text
    facts: FactSet
    vectors: np.ndarray  # one row per sentence, then per pair of adjacent sentences


@dataclass(frozen=True, slots=True)
class _Support:
    ok: bool
    reason: str = ""
    similarity: float = 0.0
    used: tuple[int, ...] = ()
    quotes: tuple[Quote, ...] = ()


class Checker:
    """Checks drafts against the passages given to the model, numbered from 1 as in the prompt.

    The passages' sentences are embedded on the first check, so building a checker is free.
    """

    def __init__(self, hits: Sequence[Hit], encode: Encode,
                 config: CheckConfig = CheckConfig()) -> None:
        self.hits = tuple(hits)
        self.encode = encode
        self.config = config
        self._passages: list[_Passage] | None = None

    def _prepare(self) -> list[_Passage]:
        if self._passages is None and not self.hits:
            self._passages = []
        if self._passages is None:
            spans = [tuple(sentences(h.text)) or ((0, len(h.text)),) for h in self.hits]
            texts = []
            for hit, ss in zip(self.hits, spans, strict=True):
                texts += [hit.text[s:e] for s, e in ss]
                texts += [hit.text[a[0]:b[1]] for a, b in zip(ss, ss[1:], strict=False)]
            vectors = self.encode(texts) if texts else None
            out, row = [], 0
            for hit, ss in zip(self.hits, spans, strict=True):
                count = 2 * len(ss) - 1
                out.append(_Passage(hit, ss, FactSet.of(hit.text, hit.title, hit.date or ""),
                                    vectors[row : row + count]))
                row += count
            self._passages = out
        return self._passages

    def check(self, draft: Draft) -> Verdict:
        """Keep `draft` (with its markers fixed, if needed) or remove it, with the reason."""
        if len(draft.text.split()) < self.config.min_words:
            return Verdict(draft, False, reason="too short to be an answer sentence")
        if draft.text.rstrip().endswith("?"):
            return Verdict(draft, False, reason="a question, not an answer")
        if _HEADING.search(draft.text):
            return Verdict(draft, False, reason="repeats a passage heading, not an answer")
        passages = self._prepare()
        if not passages:
            return Verdict(draft, False, reason="no passage was given to the model")
        vector = self.encode([draft.text])[0]
        sims = [float((p.vectors @ vector).max()) for p in passages]
        facts = extract(draft.text)
        given = range(1, len(passages) + 1)
        cited = tuple(n for n in draft.markers if n in given)
        first = self._support(facts, sims, cited, vector) if cited else None
        if first is not None and first.ok:
            return self._kept(draft, first)
        for n in sorted(given, key=lambda n: -sims[n - 1]):
            if (n,) != cited and (attempt := self._support(facts, sims, (n,), vector)).ok:
                return self._kept(draft, attempt)
        return Verdict(draft, False, reason=self._reason(draft, cited, first, facts, sims),
                       similarity=max(sims, default=0.0))

    @staticmethod
    def _kept(draft: Draft, support: _Support) -> Verdict:
        return Verdict(draft, True, support.used, support.quotes, similarity=support.similarity)

    def _support(self, facts: list[Fact], sims: list[float], ns: tuple[int, ...],
                 vector: np.ndarray | None = None) -> _Support:
        """Whether the passages `ns` together support a sentence with these facts and
        similarities, and which of them do (a cited passage that adds nothing is dropped)."""
        passages = self._prepare()
        pool = FactSet()
        for n in ns:
            pool.update(passages[n - 1].facts)
        missing = [f for f in facts if not pool.supports(f)]
        best = max(sims[n - 1] for n in ns)
        if missing:
            return _Support(False, f"{_quote(missing[0].surface)} is not in {_refs(ns)}", best)
        if best < self.config.min_similarity:
            return _Support(False, f"not close in meaning to any sentence of {_refs(ns)} "
                                   f"(similarity {best:.2f} < {self.config.min_similarity:.2f})",
                            best)
        used = tuple(n for n in ns if sims[n - 1] >= self.config.min_similarity
                     or any(passages[n - 1].facts.supports(f) for f in facts if
                            f.kind != "name")) or ns
        quotes = tuple(passage_quote(p.hit, p.spans, p.vectors[: len(p.spans)], vector)
                       for p in (passages[n - 1] for n in used)) if vector is not None else ()
        return _Support(True, "", best, used, quotes)

    def _reason(self, draft: Draft, cited: tuple[int, ...], first: _Support | None,
                facts: list[Fact], sims: list[float]) -> str:
        if first is not None:
            return first.reason
        foreign = [n for n in draft.markers if n not in cited]
        best = max(range(1, len(sims) + 1), key=lambda n: sims[n - 1])
        why = self._support(facts, sims, (best,)).reason
        head = (f"cites {_refs(tuple(foreign))}, which was not given to the model" if foreign
                else "has no [n] marker")
        return f"{head}, and no given passage supports it (closest, {_refs((best,))}: {why})"


def passage_quote(hit: Hit, spans: Sequence[tuple[int, int]], vectors: np.ndarray,
                  vector: np.ndarray) -> Quote:
    """The sentence of `hit` most similar to `vector`, with its span in the article."""
    i = int((vectors @ vector).argmax())
    s, e = spans[i]
    return Quote(hit, hit.start + s, hit.start + e, hit.text[s:e])


def _refs(ns: tuple[int, ...]) -> str:
    return ("passage " if len(ns) == 1 else "passages ") + "".join(f"[{n}]" for n in ns)


def _quote(text: str) -> str:
    return f"“{text}”"
