"""Build an index of the seed articles and ask it a question, from Python.

Run from the repository root: .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import qa

index = qa.build(["seeds/"], "embeddings/")  # loads instead when already up to date
answer = index.ask("How much did trade between Kazakhstan and China grow in 2022?")
print(answer.text)
for c in answer.citations:
    print(f"[{c.n}] {c.title} ({c.date}) {c.source} chars {c.start}-{c.end}")

follow_up = index.ask("What did he say about the agreements?", history=["Who is Li Qiang?"])
print(follow_up.text)

for hit in index.search("green corridors at the border", k=3, mode="bm25"):
    print(f"{hit.rank}. {hit.score:.3f} {hit.passage_id}: {hit.text[:70]}…")
