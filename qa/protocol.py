"""Evaluating by the protocol: every tuning and held-out set, each reported apart.

A set is questions asked of an index. Answerable questions with a known article are also
asked of a second index built without their articles ("unanswerable by removal"): the bot
should then abstain. `qa eval --protocol DATA` and `make bench` print the tuning sets and
the held-out sets in separate tables; only held-out figures are quoted in the README.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .evaluate import (
    KS,
    ModeReport,
    Question,
    abstention_curve,
    evaluate_mode,
    fmt,
    plain_table,
)

if TYPE_CHECKING:
    from .index import Index

Split = Literal["tuning", "held-out"]
Builder = Callable[..., "Index"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class EvalSet:
    """Questions, the index they are asked of, and the index without their articles."""

    name: str
    split: Split
    index: Index
    questions: Sequence[Question]
    removed: Index | None = None


@dataclass
class SetReport:
    """One set's figures: the usual report plus abstention when the article is removed."""

    name: str
    split: Split
    report: ModeReport
    removal_questions: int = 0
    removal_abstain: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    curve: list[tuple[float, float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures; `curve` is `evaluate.abstention_curve` of the answerable
        questions against their removal (or, without one, against the set's unanswerable
        questions)."""
        return {"name": self.name, "split": self.split,
                "report": self.report.to_dict(misses=False),
                "removal_questions": self.removal_questions,
                "removal_abstain": self.removal_abstain, **self.extra,
                "curve": [[round(x, 4) for x in point] for point in self.curve]}


def without(path: Path, drop: set[str], out: Path, *, key: str = "id") -> Path:
    """A copy of a JSONL article file without the records whose `key` is in `drop`."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line).get(key) not in drop]
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return out


def protocol_sets(data: Path, work: Path, *, builder: Builder | None = None,
                  splits: Sequence[Split] = ("tuning", "held-out"),
                  validation: bool = True) -> list[EvalSet]:
    """The protocol's sets (qa.datasets) with their indexes, built under `work`; without
    the validation sets (`datasets.VALIDATION_SETS`) unless `validation`."""
    from . import datasets
    from .builder import build
    from .evaluate import load_questions
    from .squad import SQUAD_CHUNK, read_squad, write_squad

    builder = builder or reusing(build)
    split = datasets.squad_split(data)
    articles, _ = write_squad(split.squad, work / "squad")
    squad = builder([articles], work / "squad" / "index", chunk=SQUAD_CHUNK)
    kept = datasets.bbc_articles(data, work / "bbc.jsonl")
    seeds = datasets.ROOT / "seeds"
    news = builder([seeds, work / "bbc.jsonl"], work / "news-index")
    sets = []

    def removal(kind: str, questions: Sequence[Question]) -> Index:
        drop = {q.source for q in questions if q.source}
        if kind == "squad":
            return builder([without(articles, drop, work / f"squad-{len(drop)}.jsonl")],
                           work / f"squad-without-{len(drop)}", chunk=SQUAD_CHUNK)
        kept_seeds = [p for p in sorted(seeds.iterdir()) if p.stem not in drop]
        return builder([*kept_seeds, without(work / "bbc.jsonl", drop,
                                             work / f"bbc-{len(drop)}.jsonl")],
                       work / f"news-without-{len(drop)}")

    if "tuning" in splits:
        seed_qs = load_questions(datasets.SEED_QUESTIONS)
        sets += [EvalSet("squad1-tuning", "tuning", squad, split.tuning,
                         removal("squad", split.tuning)),
                 EvalSet("seeds+bbc", "tuning", news, seed_qs, removal("news", seed_qs))]
        for label in ("bbc-tuning", "bbc-tuning-2"):
            if label in datasets.VALIDATION_SETS and not validation:
                continue
            questions = datasets.bbc_questions(datasets.BBC_SETS[label], kept)
            sets.append(EvalSet(label, "tuning", news, questions, removal("news", questions)))
    if "held-out" in splits:
        heldout = datasets.bbc_questions(datasets.BBC_SETS["bbc-heldout"], kept)
        sets += [EvalSet("bbc-heldout", "held-out", news, heldout, removal("news", heldout)),
                 EvalSet("squad1-heldout", "held-out", squad, split.held_out,
                         removal("squad", split.held_out))]
        if (data / datasets.SQUAD2).exists():
            v2 = read_squad(data / datasets.SQUAD2)
            v2_articles, _ = write_squad(v2, work / "squad2")
            sets.append(EvalSet("squad2", "held-out",
                                builder([v2_articles], work / "squad2" / "index",
                                        chunk=SQUAD_CHUNK), v2.questions))
    return sets


def reusing(build: Builder) -> Builder:
    """`build`, handing every later build the vectors of the earlier ones, so an index
    without some articles costs no encoding."""
    known: dict[str, Any] = {}

    def builder(sources: Sequence[Any], directory: Path, **options: Any) -> Index:
        index = build(sources, directory, vector_cache=dict(known) or None, **options)
        known.update(index._vectors_by_text())
        return index

    return builder


def evaluate_set(s: EvalSet, mode: str = "hybrid", *, progress: Progress | None = None,
                 sample: int | None = None) -> SetReport:
    """Ask every question of the set's index, then the answerable ones with an article of
    the index without those articles (`sample` keeps a fixed random sample)."""
    from .evaluate import sample_questions

    questions = sample_questions(s.questions, sample)
    report = evaluate_mode(s.index, questions, mode, KS, progress=progress)
    out = SetReport(s.name, s.split, report)
    asked = list(zip(questions, report.confidences, strict=True))
    moved = [(q, c) for q, c in asked if q.answerable and q.source]
    if s.removed is not None and moved:
        gone = evaluate_mode(s.removed, [_unanswerable(q) for q, _ in moved], mode, KS)
        out.removal_questions = len(moved)
        out.removal_abstain = gone.abstain_recall
        out.curve = abstention_curve([c for _, c in moved], gone.confidences)
    elif any(not q.answerable for q in questions):
        out.curve = abstention_curve([c for q, c in asked if q.answerable],
                                     [c for q, c in asked if not q.answerable])
    return out


def _unanswerable(q: Question) -> Question:
    from dataclasses import replace

    return replace(q, answers=())


def format_reports(reports: Sequence[SetReport]) -> str:
    """Tuning and held-out sets as two plain-text tables."""
    head = ["set", "questions", "R@1", "R@5", "R@20", "answer", "words", "false abst",
            "abst (unansw.)", "abst (removed)", "cites ok", "p50 ms"]
    blocks = []
    for split, title in (("tuning", "TUNING sets (these chose the models and thresholds)"),
                         ("held-out", "HELD-OUT sets (these chose nothing)")):
        rows = [[r.name, str(r.report.questions), *(fmt(r.report.recall.get(k)) for k in (1, 5, 20)),
                 fmt(r.report.answer_hit_rate), fmt(r.report.answer_words, ".0f"),
                 fmt(r.report.false_abstain_rate), fmt(r.report.abstain_recall), fmt(r.removal_abstain),
                 fmt(r.report.citation_validity), f"{r.report.latency_p50_ms:.0f}"]
                for r in reports if r.split == split]
        if rows:
            blocks.append(f"{title}\n{plain_table(head, rows)}")
    return "\n\n".join(blocks)
