"""Score an index against a question file and print the misses.

Run from the repository root: .venv/bin/python examples/eval_questions.py
"""

from __future__ import annotations

import qa
from qa.evaluate import evaluate, format_table, load_questions

index = qa.build(["seeds/"], "embeddings/")
reports = evaluate(index, load_questions("tests/data/seed_questions.jsonl"))
print(format_table(reports))
for miss in reports[0].misses:
    print("-", miss["question"], "->", miss["why"])
