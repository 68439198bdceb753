"""How sure is the bot? `Answer.confidence` is the answerability model's probability that
the articles hold the answer; below the model's threshold the bot abstains.

Run from the repository root: .venv/bin/python examples/confidence.py
"""

from __future__ import annotations

import qa
from qa.models import Models

index = qa.build(["seeds/"], "embeddings/")
threshold = Models.load().answerable.threshold  # chosen on tuning data: <= 5% false abstentions
for question in ("How much did trade between Kazakhstan and China grow in 2022?",
                 "What did Tokayev say about the war in Ukraine?"):
    answer = index.ask(question)
    verdict = "abstained" if answer.abstained else "answered"
    print(f"{answer.confidence:.2f} (threshold {threshold:.2f}) {verdict}: {question}")
    print("   ", answer.text)
    for hit in answer.hits[:2]:  # ranked by the trained ranker: hit.score is its score
        print(f"    {hit.rank}. {hit.score:+.2f} {hit.passage_id}")
