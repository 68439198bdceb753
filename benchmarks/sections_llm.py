"""The docs/benchmarks.md section of bench_llm.py: written answers and the sentence checker."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sections import Result, pct, stamp, table  # noqa: E402


def _seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} s"


def _accuracy_rows(r: Result) -> list[list[str]]:
    rows = []
    for half, key in (("calibration", "calibration_half"), ("report", "report")):
        first, last = r["halves"][half]
        label = f"{half} half (questions {first}-{last})"
        a = r[key]
        kinds = ", ".join(f"{k} {pct(v)} of {a['false_by_kind'][k]}"
                          for k, v in a["false_removed_by_kind"].items())
        rows.append([label, a["right"], pct(a["right_kept"]), a["false"],
                     pct(a["false_removed"]), kinds])
    return rows


def llm_section(r: Result) -> list[str]:
    """Kept and removed sentences, hit rates, latency, and the checker's accuracy."""
    a, lat, cal = r["answers"], r["latency"], r["calibration"]
    lines = ["## Written answers (LLM) and the sentence checker", "",
             f"Model: {r['model']} on the llama.cpp server of `qa[llm]` "
             f"(`--chat_format {r['chat_format']}`, 1 thread), asked every question of "
             f"tests/data/seed_questions.jsonl on the seeds/ index; the model is not asked when "
             "the quoted answerer abstains. Method in `benchmarks/bench_llm.py`.", "",
             stamp(r), ""]
    lines += table(["", "value"], [
        ["questions asked of the model (answerable, not abstained)",
         f"{a['asked_model']} of {a['answerable']}"],
        ["model sentences kept / removed by the checker",
         f"{a['kept']} / {a['dropped']} ({pct(a['kept'] / a['sentences']) if a['sentences'] else '–'}"
         " kept)"],
        ["answers written by the model (the rest fell back to quoting)",
         f"{a['written_answers']} of {a['asked_model']}"],
        ["model declined (said the passages do not answer; the bot then abstains): "
         "answerable / unanswerable questions asked",
         f"{a['declined']['answerable']} of {a['asked_model']} / {a['declined']['unanswerable']}"
         f" of {a['declined']['unanswerable_asked']}" if "declined" in a else "–"],
        ["answer hit rate: final answers with the model on", pct(a["hit_rate_final"])],
        ["answer hit rate: written answers only", pct(a["hit_rate_written_only"])],
        ["answer hit rate: quoted answers (no model)", pct(a["hit_rate_quoted"])],
        ["time to first token, p50 / p95", f"{_seconds(lat['first_token_p50_s'])} / "
                                           f"{_seconds(lat['first_token_p95_s'])}"],
        ["time to the checked answer, p50 / p95", f"{_seconds(lat['checked_p50_s'])} / "
                                                  f"{_seconds(lat['checked_p95_s'])}"],
    ])
    reasons = ", ".join(f"{k} ({v})" for k, v in a["drop_reasons"].items())
    lines += ["", f"Why sentences were removed: {reasons or 'none'}; "
              f"{a.get('example_echoes', 0)} of the removed sentences repeat the prompt's worked "
              "example (a made-up harbour), which the model copies before answering.", "",
              "The checker verifies that each sentence is supported by the passage it cites, "
              "not that it answers the question: this base model (not instruction-tuned) "
              "often copies a passage sentence beside the point, so its written answers hit "
              "the expected answer less often than the quoted ones. A chat model does better; "
              "the figures above are for the small adversary the tests run.", "",
              "**Checker accuracy by perturbation.** Right sentences: the model's sentences "
              f"that cite (or are re-marked to) a passage holding all their facts, with at least "
              f"{r['right_overlap']:.0%} of their content words in it. False sentences: each "
              "right one with a number, name or date swapped for one from another seed passage "
              "(absent from the cited passage), and each right one checked against the "
              "passages of a question about the other article. Similarity threshold "
              f"calibrated on the calibration half: **{cal['threshold']:.2f}** (shipped default "
              f"{r['shipped_threshold']:.2f}); targets: right kept >= 90%, false removed >= 95%.",
              ""]
    lines += table(["half", "right", "right kept", "false", "false removed", "by kind"],
                   _accuracy_rows(r))
    return [*lines, ""]
