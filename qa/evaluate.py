"""Measuring an index against questions with known answers: recall, MRR, abstention, citations.

A question file is JSONL, one question a line::

    {"question": "How much did trade grow in 2022?", "answers": ["34 percent"],
     "source": "000_ed18d489a2ac6f1b", "history": [], "context": null}

`answers` empty means the articles cannot answer it (the index should abstain);
`source` (article id, source path or file name) and `context` (the exact text of
the passage that answers it, as in SQuAD) narrow down which hits count as gold.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IngestError
from .schema import Answer, Hit

if TYPE_CHECKING:
    from .index import Index

KS = (1, 3, 5, 20)
Progress = Callable[[int, int], None]
"""Called as progress(done, total) after each question."""


@dataclass(frozen=True, slots=True)
class Question:
    """A test question; `answers` empty means the articles cannot answer it."""

    question: str
    answers: tuple[str, ...]
    source: str | None = None
    history: tuple[str, ...] = ()
    context: str | None = None
    id: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record of the question, optional fields only when set."""
        rec: dict[str, Any] = {"question": self.question, "answers": list(self.answers)}
        for name in ("source", "context", "id"):
            if getattr(self, name):
                rec[name] = getattr(self, name)
        if self.history:
            rec["history"] = list(self.history)
        return rec


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name!r} must be a list of strings")
    return tuple(value)


def parse_question(record: Any) -> Question:
    """A Question from one decoded JSON record; TypeError or KeyError if it is not one."""
    if not isinstance(record, dict):
        raise TypeError("expected a JSON object")
    text = record["question"]
    if not isinstance(text, str) or not text.strip():
        raise TypeError("'question' must be a non-empty string")
    optional = {k: record.get(k) for k in ("source", "context", "id")}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name!r} must be a string")
    return Question(text, _strings(record.get("answers"), "answers"), optional["source"],
                    _strings(record.get("history"), "history"), optional["context"],
                    optional["id"])


def load_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Questions from a JSONL file: question, answers, optional source, history, context.

    Raises:
        IngestError: the file cannot be read, a line is not a question, or it is empty.
    """
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot read questions ({exc})") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line)))
        except KeyError as exc:
            raise IngestError(f"{path}:{lineno}: not a question record (no {exc} field)") \
                from None
        except (ValueError, TypeError) as exc:
            raise IngestError(f"{path}:{lineno}: not a question record ({exc})") from None
    if not questions:
        raise IngestError(f"{path}: no questions")
    return questions


def sample_questions(questions: Sequence[Question], n: int | None, *,
                     seed: int = 0) -> list[Question]:
    """A fixed random sample of `n` questions in their original order (all if n is None)."""
    if n is None or n >= len(questions):
        return list(questions)
    keep = sorted(random.Random(seed).sample(range(len(questions)), n))
    return [questions[i] for i in keep]


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").replace("“", '"')
                    .replace("”", '"').lower().split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether `text` contains any expected answer (case, quotes and spacing ignored)."""
    norm = _norm(text)
    return any(_norm(a) in norm for a in answers)


def from_source(hit: Hit, source: str | None) -> bool:
    """Whether the hit comes from `source` (article id, source path or file name)."""
    if not source:
        return True
    path = hit.source.split(":")[0]
    return source in (hit.article_id, hit.source, path, os.path.basename(path),
                      Path(path).stem)


def is_gold(hit: Hit, q: Question) -> bool:
    """Whether the hit answers `q`: its own passage if `context` is set, else any
    passage from the right source that contains an expected answer."""
    if not from_source(hit, q.source):
        return False
    if q.context is not None:
        return hit.text.strip() == q.context.strip()
    return contains_answer(hit.text, q.answers)


def first_gold_rank(hits: Sequence[Hit], q: Question) -> int | None:
    """1-based rank of the first hit that holds an answer from the right source."""
    return next((i for i, h in enumerate(hits, start=1) if is_gold(h, q)), None)


class ArticleTexts:
    """Article texts to check citations against: the extracted text the index keeps (any
    format), else the original file read from disk (each file read once)."""

    def __init__(self, index: Any = None) -> None:
        self._files: dict[str, list[str] | None] = {}
        self._index = index

    def get(self, source: str, article_id: str | None = None) -> str | None:
        """The text of the article `article_id` as indexed, else of the article at `source`
        ("file" or "file.jsonl:line") on disk, or None."""
        if self._index is not None and article_id is not None:
            try:
                return str(self._index.article(article_id).text)
            except (KeyError, AttributeError):  # not kept (an older index), or no such method
                pass
        path, _, line = source.rpartition(":")
        if not (path and line.isdigit()):
            path, line = source, ""
        lines = self._lines(path, whole=not line)
        try:
            if not line:
                return lines[0] if lines else None
            return str(json.loads(lines[int(line) - 1])["text"]) if lines else None
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def _lines(self, path: str, *, whole: bool) -> list[str] | None:
        key = f"{whole}:{path}"
        if key not in self._files:
            try:
                text = Path(path).read_text(encoding="utf-8-sig")
                self._files[key] = [text] if whole else text.splitlines()
            except (OSError, UnicodeDecodeError):
                self._files[key] = None
        return self._files[key]


def citations_valid(answer: Answer, texts: ArticleTexts) -> bool:
    """Every quote equals the original article text at its span, and sits in its passage."""
    for c in answer.citations:
        original = texts.get(c.source, c.hit.article_id)
        in_passage = c.hit.start <= c.start < c.end <= c.hit.end and \
            c.hit.text[c.start - c.hit.start : c.end - c.hit.start] == c.quote
        if not in_passage or (original is not None and original[c.start : c.end] != c.quote):
            return False
    return True


def _percentile(values: Sequence[float], pct: float) -> float:
    import numpy as np

    return float(np.percentile(values, pct)) if values else 0.0


def _ratio(num: float, den: int) -> float | None:
    return num / den if den else None


@dataclass
class ModeReport:
    """Figures for one retrieval mode; a ratio is None when it has no denominator.

    Attributes:
        mode: the retrieval mode (or a label such as "hybrid-rrf").
        questions, answerable: how many questions, and how many have answers.
        recall: share of answerable questions with a gold hit in the top k, by k.
        mrr: mean reciprocal rank of the first gold hit (0 when none in the top max(k)).
        answer_hit_rate: share of answerable questions whose answer text holds an answer.
        answer_words: mean length in words of the quotes answering answerable questions (a
            longer answer holds the answer more often: the two are read together).
        abstain_precision: share of abstentions that were on unanswerable questions.
        abstain_recall: share of unanswerable questions the index abstained on.
        false_abstain_rate: share of answerable questions it abstained on.
        citation_validity: share of answers whose every quote matches its source span.
        latency_p50_ms, latency_p95_ms: time to answer one question (`Index.ask`).
        misses: answerable questions not answered from the top hit, and unanswerable
            ones that got an answer.
        confidences: `Answer.confidence` of every question, in the order asked (for
            `abstention_curve`).
    """

    mode: str
    questions: int
    answerable: int
    recall: dict[int, float | None]
    mrr: float | None
    answer_hit_rate: float | None
    answer_words: float | None
    abstain_precision: float | None
    abstain_recall: float | None
    false_abstain_rate: float | None
    citation_validity: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    misses: list[dict[str, Any]] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)

    def to_dict(self, *, misses: bool = True) -> dict[str, Any]:
        """The report as JSON-ready data, without the list of misses unless asked."""
        data = asdict(self)
        del data["confidences"]
        if not misses:
            del data["misses"]
        return data


@dataclass
class _Tally:
    ks: Sequence[int]
    found: dict[int, int] = field(default_factory=dict)
    rr: float = 0.0
    answer_hits: int = 0
    words: list[int] = field(default_factory=list)
    valid: int = 0
    abstained: int = 0
    abstain_right: int = 0
    false_abstain: int = 0
    latencies: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)

    def add(self, q: Question, ans: Answer, texts: ArticleTexts) -> None:
        self.valid += citations_valid(ans, texts)
        self.confidences.append(ans.confidence)
        self.abstained += ans.abstained
        if not q.answerable:
            self.abstain_right += ans.abstained
            if not ans.abstained:
                self.misses.append({"question": q.question, "why": "answered",
                                    "answer": ans.text})
            return
        rank = first_gold_rank(ans.hits, q)
        for k in self.ks:
            self.found[k] = self.found.get(k, 0) + (rank is not None and rank <= k)
        self.rr += 1.0 / rank if rank else 0.0
        hit = not ans.abstained and contains_answer(ans.text, q.answers)
        self.answer_hits += hit
        if not ans.abstained:
            self.words.append(sum(len(c.quote.split()) for c in ans.citations))
        self.false_abstain += ans.abstained
        if rank != 1 or not hit:
            why = "abstained" if ans.abstained else ("rank" if rank != 1 else "answer")
            self.misses.append({"question": q.question, "why": why, "gold_rank": rank,
                                "expected": list(q.answers), "answer": ans.text,
                                "top": ans.hits[0].passage_id if ans.hits else None})

    def report(self, mode: str, questions: Sequence[Question]) -> ModeReport:
        n_ans = sum(q.answerable for q in questions)
        n_un = len(questions) - n_ans
        return ModeReport(
            mode=mode, questions=len(questions), answerable=n_ans,
            recall={k: _ratio(self.found.get(k, 0), n_ans) for k in self.ks},
            mrr=_ratio(self.rr, n_ans), answer_hit_rate=_ratio(self.answer_hits, n_ans),
            answer_words=_ratio(sum(self.words), len(self.words)),
            abstain_precision=_ratio(self.abstain_right, self.abstained if n_un else 0),
            abstain_recall=_ratio(self.abstain_right, n_un),
            false_abstain_rate=_ratio(self.false_abstain, n_ans),
            citation_validity=_ratio(self.valid, len(questions)),
            latency_p50_ms=_percentile(self.latencies, 50),
            latency_p95_ms=_percentile(self.latencies, 95), misses=self.misses,
            confidences=self.confidences)


def evaluate_mode(index: Index, questions: Sequence[Question], mode: str,
                  ks: Sequence[int] = KS, *, label: str | None = None,
                  progress: Progress | None = None) -> ModeReport:
    """Ask every question in one mode and score retrieval, answers and abstention.

    Args:
        index: the index to ask (with its current `search_config`).
        questions: the questions, answerable or not.
        mode: "hybrid", "dense" or "bm25".
        ks: the cut-offs for recall@k; `max(ks)` passages are retrieved per question.
        label: the name of the report (default: the mode).
        progress: called as progress(done, total) after each question.
    """
    texts = ArticleTexts(index)
    tally = _Tally(ks)
    for n, q in enumerate(questions, start=1):
        t0 = time.perf_counter()
        ans = index.ask(q.question, history=list(q.history), k=max(ks), mode=mode)  # type: ignore[arg-type]
        tally.latencies.append((time.perf_counter() - t0) * 1000)
        tally.add(q, ans, texts)
        if progress:
            progress(n, len(questions))
    return tally.report(label or mode, questions)


def evaluate(index: Index, questions: Sequence[Question],
             modes: Sequence[str] = ("hybrid", "dense", "bm25"),
             ks: Sequence[int] = KS) -> list[ModeReport]:
    """One report per mode, in the order given."""
    return [evaluate_mode(index, questions, mode, ks) for mode in modes]


CURVE = tuple(i / 50 for i in range(51))
"""The thresholds `abstention_curve` reads, 0 to 1 by 0.02."""


def abstention_curve(answerable: Sequence[float], unanswerable: Sequence[float],
                     thresholds: Sequence[float] = CURVE) -> list[tuple[float, float, float]]:
    """What each `min_confidence` would do, from the confidences of answerable and of
    unanswerable questions: (threshold, share of answerable ones refused, share of
    unanswerable ones refused). A confidence of 0 (no candidate sentence) is refused at
    every threshold, as `Index.ask` does."""
    def refused(confidences: Sequence[float], t: float) -> float:
        return sum(c <= 0.0 or c < t for c in confidences) / (len(confidences) or 1)

    return [(t, refused(answerable, t), refused(unanswerable, t)) for t in thresholds]


def fmt(value: float | None, spec: str = ".3f") -> str:
    """A figure for a table: "-" when there is none."""
    return "-" if value is None else format(value, spec)


def plain_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned columns, two spaces apart, the head first."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return "\n".join("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True))
                     for row in [head, *rows])


def format_table(reports: Sequence[ModeReport]) -> str:
    """A plain-text table of the reports, one row per mode."""
    ks = list(reports[0].recall) if reports else []
    head = ["mode"] + [f"R@{k}" for k in ks] + ["MRR", "answer", "words", "abst P", "abst R",
                                               "cites ok", "p50 ms", "p95 ms"]
    rows = [[r.mode] + [fmt(r.recall[k]) for k in ks] + [
        fmt(r.mrr), fmt(r.answer_hit_rate), fmt(r.answer_words, ".0f"),
        fmt(r.abstain_precision),
        fmt(r.abstain_recall), fmt(r.citation_validity, ".0%"), f"{r.latency_p50_ms:.0f}",
        f"{r.latency_p95_ms:.0f}"] for r in reports]
    return plain_table(head, rows)


def _miss_line(miss: dict[str, Any]) -> str:
    if miss["why"] == "answered":
        return f"  answered an unanswerable question: {miss['question']}\n    -> {miss['answer']}"
    rank = miss["gold_rank"]
    where = f"gold at rank {rank}" if rank else "gold not retrieved"
    why = {"abstained": f"abstained ({where})", "rank": where,
           "answer": f"answer lacks the expected text ({where})"}[miss["why"]]
    expected = " | ".join(miss["expected"])
    return (f"  {why}: {miss['question']}\n    expected: {expected}\n"
            f"    answer:   {miss['answer']}")


def format_misses(reports: Sequence[ModeReport]) -> str:
    """Per mode, every question that missed, with the expected and the given answer."""
    blocks = []
    for r in reports:
        lines = [f"{r.mode}: {len(r.misses)} of {r.questions} questions missed"]
        lines += [_miss_line(m) for m in r.misses]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
