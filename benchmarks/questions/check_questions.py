"""Check a hand-written BBC question file against the articles it is about.

    python benchmarks/questions/check_questions.py benchmarks/questions/bbc_heldout.jsonl \
        [--bbc ../shared/bench/news-bbc.jsonl]

Each line is a `qa eval` question with two more fields: `kind` (direct, paraphrase,
follow-up or unanswerable) and, for answerable ones, `source` (the BBC article id). The
check fails (exit 1) when a record is malformed, an answer string is not verbatim in its
article, or an unanswerable question uses a word the corpus never has. It prints, per
question, the share of its content words (stemmed, stopwords out) found in the paragraph
that holds the answer: the measure of how paraphrased it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from qa.retrieve import make_stemmer, tokenize  # noqa: E402

KINDS = ("direct", "paraphrase", "follow-up", "unanswerable")


def overlap(question: str, paragraph: str, stemmer: object) -> float:
    q, p = tokenize([question, paragraph], stemmer)
    terms = set(q)
    return len(terms & set(p)) / len(terms) if terms else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions")
    parser.add_argument("--bbc", default=str(ROOT.parent / "shared/bench/news-bbc.jsonl"))
    args = parser.parse_args()
    articles = {}
    for line in Path(args.bbc).read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        articles[rec["id"]] = rec
    stemmer = make_stemmer()
    vocab: set[str] = set()
    for toks in tokenize([f"{a['title']}\n{a['text']}" for a in articles.values()], stemmer):
        vocab.update(toks)
    errors, kinds, sources = [], Counter(), Counter()
    lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rec = json.loads(line)
        kind, q, answers = rec.get("kind"), rec.get("question", ""), rec.get("answers", [])
        kinds[kind] += 1
        where = f"line {n}"
        if kind not in KINDS:
            errors.append(f"{where}: kind {kind!r} not one of {KINDS}")
            continue
        if kind == "follow-up" and not rec.get("history"):
            errors.append(f"{where}: a follow-up needs a history")
        if kind == "unanswerable":
            if answers:
                errors.append(f"{where}: an unanswerable question has no answers")
            unknown = set(tokenize([q], stemmer)[0]) - vocab
            if unknown:
                errors.append(f"{where}: words never in the corpus: {sorted(unknown)}")
            print(f"{n:3d} unanswerable        {q}")
            continue
        art = articles.get(rec.get("source", ""))
        if art is None or not answers:
            errors.append(f"{where}: needs a known BBC `source` and `answers`")
            continue
        paras = [p for p in art["text"].split("\n\n") if any(a in p for a in answers)]
        if not paras:
            errors.append(f"{where}: no answer string is verbatim in {art['id']}: {answers}")
            continue
        sources[art["id"]] += 1
        many = f" (answer in {len(paras)} paragraphs)" if len(paras) > 1 else ""
        print(f"{n:3d} {kind:12s} {overlap(q, paras[0], stemmer):.2f} {q}{many}")
    print(f"\n{sum(kinds.values())} questions: " + ", ".join(f"{k} {v}" for k, v in kinds.items())
          + f"; {len(sources)} articles")
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
