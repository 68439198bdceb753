"""The evaluation protocol's data: which questions tune the models and which only measure.

Tuning (may choose weights, thresholds, features, models):
  - SQuAD v1.1 dev articles 1-32 by position, except the five that make up the SQuAD 2.0
    subset (their paragraphs and many of their questions are held out there);
  - tests/data/seed_questions.jsonl, over the seed articles with the BBC articles;
  - benchmarks/questions/bbc_tuning.jsonl, about 60 BBC articles drawn outside the
    held-out draw (a question whose article is a copy of a held-out one is left out), and
    benchmarks/questions/bbc_tuning2.jsonl, about 80 more drawn outside both (a validation
    set: it judges changes, the models are not fitted on it).
Held out (measures only): SQuAD v1.1 dev articles 33-48, the SQuAD 2.0 subset, and
benchmarks/questions/bbc_heldout.jsonl (committed before any tuning).

BBC News holds copies: 100 articles repeat another's text and 64 more share at least half
of their paragraphs with an earlier one. `bbc_articles` drops them (keeping the first by
file order) so that a question's article is unique; question sources are mapped to the
copy that is kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .evaluate import Question, load_questions
from .squad import SquadSet, read_squad

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
QUESTIONS_DIR = ROOT / "benchmarks" / "questions"
SQUAD1 = "squad-dev-v1.1.json"
SQUAD2 = "squad2-dev-5articles.json"
BBC = "news-bbc.jsonl"
TUNING_ARTICLES = 32
"""SQuAD v1.1 dev articles 1..32 tune; 33..48 are held out."""
BBC_SETS = {"bbc-tuning": "bbc_tuning", "bbc-tuning-2": "bbc_tuning2",
            "bbc-heldout": "bbc_heldout"}
"""The hand-written BBC question sets: the protocol's name -> the file in QUESTIONS_DIR."""
VALIDATION_SETS = frozenset({"bbc-tuning-2"})
"""Tuning sets the models are never fitted on: they judge a change by news questions the
models have not seen, without touching held-out data (fitting on bbc-tuning-2 as well did
not pay: docs/training.md)."""


@dataclass(frozen=True, slots=True)
class SquadSplit:
    """SQuAD v1.1 dev, its articles as JSONL records, its questions split by the protocol."""

    squad: SquadSet
    tuning: list[Question]
    held_out: list[Question]


def squad_split(data: Path) -> SquadSplit:
    """Split SQuAD v1.1 dev questions by article position (and the SQuAD 2.0 subset)."""
    squad = read_squad(data / SQUAD1)
    held_v2 = {a["id"] for a in read_squad(data / SQUAD2).articles} \
        if (data / SQUAD2).exists() else set()
    titles = [a["id"] for a in squad.articles]
    tuning = {t for t in titles[:TUNING_ARTICLES] if t not in held_v2}
    held = set(titles[TUNING_ARTICLES:])
    return SquadSplit(squad, [q for q in squad.questions if q.source in tuning],
                      [q for q in squad.questions if q.source in held])


def bbc_articles(data: Path, out: Path) -> dict[str, str]:
    """Write BBC News without copies to `out` (JSONL, unchanged if already there); return
    every article id mapped to the id of the copy kept."""
    owner: dict[str, list[str]] = {}
    paragraphs: dict[str, set[str]] = {}
    kept: dict[str, str] = {}
    lines = []
    for line in (data / BBC).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        mine = {" ".join(p.split()) for p in record["text"].split("\n\n") if p.strip()}
        shared: dict[str, int] = {}
        for p in mine:
            for other in owner.get(p, ()):
                shared[other] = shared.get(other, 0) + 1
        copy_of = next((o for o, n in shared.items()
                        if n >= 0.5 * min(len(mine), len(paragraphs[o]))), None)
        kept[record["id"]] = copy_of or record["id"]
        if copy_of:
            continue
        paragraphs[record["id"]] = mine
        for p in mine:
            owner.setdefault(p, []).append(record["id"])
        lines.append(line)
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return kept


def bbc_questions(name: str, kept: dict[str, str]) -> list[Question]:
    """A BBC question set (bbc_tuning or bbc_heldout) with sources mapped to kept copies;
    from a tuning set, questions about (a copy of) a held-out article are left out."""
    questions = load_questions(QUESTIONS_DIR / f"{name}.jsonl")
    if name != "bbc_heldout":
        held = {kept.get(q.source) for q in load_questions(QUESTIONS_DIR / "bbc_heldout.jsonl")
                if q.source}
        questions = [q for q in questions if kept.get(q.source or "") not in held]
    return [replace(q, source=kept.get(q.source, q.source)) if q.source else q
            for q in questions]


def kinds(name: str) -> dict[str, str]:
    """Question id -> kind (direct, paraphrase, follow-up, unanswerable) of a BBC set."""
    out = {}
    for line in (QUESTIONS_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out[record["id"]] = record.get("kind", "")
    return out


def answerable(questions: Sequence[Question]) -> list[Question]:
    return [q for q in questions if q.answerable]
