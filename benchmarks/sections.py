"""The sections of docs/benchmarks.md, one per benchmark, each with its plot in docs/."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DOCS  # noqa: E402

Result = dict[str, Any]


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A markdown table; the first column left-aligned, the rest right-aligned."""
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def f3(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def plot(name: str, draw: Callable[[Any], None], size: tuple[float, float] = (7, 3.6)) -> str:
    """Draw a figure with `draw(figure)`, save docs/NAME.png; the markdown image line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size, dpi=110)
    draw(fig)
    fig.tight_layout()
    fig.savefig(DOCS / f"{name}.png")
    plt.close(fig)
    return f"![{name}]({name}.png)"


def stamp(result: Result) -> str:
    m = result["machine"]
    return f"_Measured {m['date']}, load average {m['load']:.1f} at the end._"


# --- sections ------------------------------------------------------------------------------


def loads(part: Result) -> str:
    return " → ".join(f"{x:.1f}" for x in part["load"]) if "load" in part else "–"


def build_section(r: Result) -> list[str]:
    full, sub = r["full"], r["subset"]
    backend = full.get("backend", "torch")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        labels = [f"raw encode, {backend}\n(subset)", f"qa.build, {backend}\n(subset)",
                  "qa.build, torch\n(subset)", f"qa.build, {backend}\n(all BBC)"]
        values = [sub["raw_per_s"], sub["build_per_s"], sub["torch_build_per_s"],
                  full["passages_per_s"]]
        ax.barh(labels, values, color=["#999999", "#4c72b0", "#dd8452", "#4c72b0"])
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.1f}", va="center")
        ax.set_xlabel("passages per second (higher is better)")
        ax.set_title("Index build: default encoder vs raw encoding vs PyTorch")
        ax.set_xlim(0, max(values) * 1.2)
        ax.invert_yaxis()

    def secs(values: list[float]) -> str:
        return ", ".join(f"{s:.1f}" for s in values)

    return [
        "## 1. Build", "",
        f"`qa.build` of news-bbc.jsonl ({full['articles']:,} articles, {full['passages']:,} "
        f"passages at the default 120-word split) with the default encoder (`{backend}`), "
        f"timed once. Then a fixed random subset of {sub['articles']} whole articles "
        f"({sub['passages']:,} passages), timed in rounds: raw encoding (the default "
        "encoder's `encode` of the exact texts the build embeds, batch size "
        f"{r['batch_size']}), `qa.build` into a temporary folder, and `qa.build` with "
        "`backend=\"torch\"` (sentence-transformers on PyTorch); then raw again, and so on. "
        "Each build's rate is divided by the mean rate of the two raw runs around it, and "
        "by the torch build's rate in the same round; the figures given are the medians of "
        "these per-round ratios (build/raw " + ", ".join(f"{x:.2f}" for x in sub["ratios"])
        + "; build/torch " + ", ".join(f"{x:.2f}" for x in sub["speedups"]) + "). Rates "
        "in the table use median times.", "",
        *table(["", "passages", "seconds", "passages/s", "load average"], [
            [f"raw encode ({backend}), subset", f"{sub['passages']:,}",
             secs(sub["raw_seconds"]), f"{sub['raw_per_s']:.1f}", loads(sub)],
            [f"qa.build ({backend}), subset", f"{sub['passages']:,}",
             secs(sub["build_seconds"]), f"{sub['build_per_s']:.1f}", loads(sub)],
            ["qa.build (torch), subset", f"{sub['passages']:,}",
             secs(sub["torch_build_seconds"]), f"{sub['torch_build_per_s']:.1f}", loads(sub)],
            [f"qa.build ({backend}), all BBC", f"{full['passages']:,}",
             f"{full['seconds']:.1f}", f"{full['passages_per_s']:.1f}", loads(full)]]), "",
        "Load average is the machine's 1-minute load before → after (2 cores: above 2, "
        "other work was competing for the CPU).", "",
        f"- **Build throughput, default encoder / PyTorch: {sub['build_over_torch']:.2f}×** "
        "on the same passages in the same run (target: at least 2×; the quality check of "
        "the same switch is in section 5).",
        f"- **Build rate / raw encode rate: {sub['build_over_raw']:.2f}** (1.00 would mean "
        "the build costs nothing beyond encoding; load from other work on this machine "
        "moves single timings by more than that).",
        f"- In the full build {full['encode_share']:.1%} of the {full['seconds']:.0f} s went to "
        "encoding.",
        f"- Peak resident memory of the build process: {full['peak_rss_mb']:.0f} MiB "
        f"({full['rss_before_mb']:.0f} MiB with both encoders loaded, before the build).",
        f"- Encoder load: {r['model_load_seconds']:.1f} s (ONNX graph already exported).", "",
        plot("bench-build", draw), "", stamp(r), ""]


def latency_section(r: Result) -> list[str]:
    sizes = r["sizes"]
    rows = []
    for s in sizes:
        rows.append([f"{s['passages']:,}"] + [f"{ms(s[m]['p50'])} / {ms(s[m]['p95'])}" for m in (
            "hybrid", "dense", "bm25", "floor", "encode", "faiss", "bm25_bare")] +
            [f"{s['hybrid']['p50'] / s['floor']['p50']:.1f}×"])

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        xs = [s["passages"] for s in sizes]
        styles = {"hybrid": "-o", "dense": "-s", "bm25": "-^", "floor": "--k",
                  "faiss": ":", "bm25_bare": ":", "encode": "-."}
        names = {"floor": "floor: encode + bare FAISS", "faiss": "bare FAISS",
                 "bm25_bare": "bare BM25", "encode": "encode query"}
        for key, style in styles.items():
            ax.plot(xs, [s[key]["p50"] for s in sizes], style, label=names.get(key, key))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages in the index")
        ax.set_ylabel("p50 latency, ms")
        ax.set_title("Index.search latency per mode (k=5)")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)

    return [
        "## 2. Query latency", "",
        f"`Index.search(query, k={r['k']}, mode=...)` for {r['queries']} BBC article titles, "
        "query encoded live, at four sizes. Up to 10k the passages are real BBC passages; "
        "beyond, the BBC passages plus synthetic ones: random unit vectors in the FAISS flat "
        "index and, for BM25, documents of BBC terms drawn by corpus frequency with BBC "
        "passage lengths, indexed by bm25s like real text. The parts are also timed alone: "
        "encoding the query, a bare FAISS search with the vector given, and bare BM25 "
        "(tokenize, score all, top 5). The floor is encode + bare FAISS.", "",
        "p50 / p95 in milliseconds:", "",
        *table(["passages", "hybrid", "dense", "bm25", "floor", "encode", "FAISS", "BM25",
                "hybrid / floor"], rows), "",
        *latency_notes(sizes), *ann_note(r.get("ann")), "",
        *budget_table(r.get("budget")),
        plot("bench-latency", draw), "", stamp(r), ""]


def budget_table(b: Result | None) -> list[str]:
    """`Index.search` and `Index.ask` as a user calls them, against the issue's budgets."""
    if not b or "search_warm" not in b:
        return []
    rows = [[name, f"{ms(b[key]['p50'])} / {ms(b[key]['p95'])}",
             f"{ms(b[key + '_warm']['p50'])} / {ms(b[key + '_warm']['p95'])}", budget]
            for name, key, budget in (("`Index.search(q, k=5)`", "search", "15 ms"),
                                      ("`Index.ask(q, k=5)`", "ask", "100 ms"))]
    return [f"**The budgets**, on every real BBC passage ({b['passages']:,}), the first 50 "
            "BBC tuning questions as written, default settings (learned ranker on), p50 / p95 "
            "ms. *First contact*: each question on a fresh index, so the ~70 candidate "
            "passages it brings up are met for the first time (their sentences' terms are "
            "read from the index, stored at build time; the numbers, dates and names they "
            "hold are found then); *steady state*: the same questions again, as a "
            "long-running server meets passages it has seen (the memo holds 50k passages).",
            "",
            *table(["", "first contact", "steady state", "budget (p50)"], rows), ""]


def latency_notes(sizes: list[Result]) -> list[str]:
    """What the table shows at the largest size, computed from it."""
    big = sizes[-1]
    p50 = {k: big[k]["p50"] for k in ("hybrid", "dense", "bm25", "floor", "encode", "faiss",
                                      "bm25_bare")}
    notes = [f"- At {big['passages']:,} passages hybrid search takes "
             f"**{p50['hybrid'] / p50['floor']:.2f}× the floor** (encode + bare FAISS); "
             f"the flat FAISS scan is {p50['faiss'] / p50['hybrid']:.0%} of it, bare BM25 "
             f"{p50['bm25_bare'] / p50['hybrid']:.0%}, encoding the query "
             f"{p50['encode'] / p50['hybrid']:.0%}."]
    if p50["bm25"] > 2 * (p50["bm25_bare"] + 1):
        notes.append(f"- BM25 mode costs {p50['bm25'] / p50['hybrid']:.2f}× hybrid although "
                     "bare BM25 is far cheaper: `Index.search` encodes the query and runs "
                     "both rankings in every mode.")
    notes.append("- The dense index in the table is FAISS flat (exact) at every size. `qa build` "
                 "picks exact search up to 100k passages, HNSW up to 2M and IVF-PQ above "
                 "(`--index-type`); "
                 "approximate search at 100k-1M is measured in section 6.")
    return notes


def ann_note(ann: Result | None) -> list[str]:
    """The largest size again with the index `auto` picks there."""
    if not ann:
        return []
    cells = ", ".join(f"{name} {ms(ann[key]['p50'])} / {ms(ann[key]['p95'])} ms" for key, name in (
        ("hybrid", "hybrid"), ("dense", "dense"), ("bm25", "bm25"), ("encode", "encode"),
        ("faiss", "bare FAISS"), ("bm25_bare", "bare BM25")))
    return [f"- **At {ann['passages']:,} passages with the index `auto` picks there "
            f"({ann['index'].upper()}, built in {ann['build_seconds']:.0f} s), as `qa build` "
            f"makes it** (p50 / p95): {cells}. The dense step no longer dominates; "
            "BM25 is most of what is left."]


PHASES = ("import", "model load", "index load", "answering")


def _baseline_line(b: Result | None) -> list[str]:
    if not b:
        return []
    d, t = b["median"][b["default"]], b["median"]["torch"]
    return [f"- Same run, `qa ask` on an index of seeds/ built with the default backend "
            f"(`{b['default']}`): **{d:.1f} s**; built with `--backend torch`: {t:.1f} s. "
            f"**The default starts {b['torch_over_default']:.1f}× faster**: it imports "
            "onnxruntime instead of torch and sentence-transformers."]


def coldstart_section(r: Result) -> list[str]:
    med = r["phase_median"]
    total = sum(med[p] for p in PHASES) + med["exit"]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        left = 0.0
        for p in (*PHASES, "exit"):
            ax.barh(["phases"], [med[p]], left=left, label=f"{p} {med[p]:.2f} s")
            left += med[p]
        ax.barh(["qa ask"], [r["shell_median"]], color="#999999")
        ax.text(r["shell_median"], 1, f" {r['shell_median']:.1f} s", va="center")
        ax.set_xlim(0, max(left, r["shell_median"]) * 1.12)
        ax.set_xlabel("seconds (median of runs)")
        ax.set_title("Cold start of `qa ask` on the BBC index")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=5)

    rows = [[p, f"{med[p]:.2f}", pct(med[p] / total)] for p in (*PHASES, "exit")]
    return [
        "## 3. Cold start", "",
        f"`qa ask \"{r['question']}\" --index DIR` on the BBC index ({r['passages']:,} "
        f"passages, encoder backend `{r.get('backend', 'torch')}`), run as a command "
        f"{len(r['shell_seconds'])} times; and the same steps in a child process that stamps "
        "the time after each phase (import includes interpreter start-up and the libraries "
        "the command needs: faiss, bm25s, and onnxruntime + tokenizers for the ONNX backends "
        "or torch + sentence-transformers for `torch`). Medians. The index files are in the "
        "page cache: a cold process, not a cold disk.", "",
        f"- `qa ask` wall time: **{r['shell_median']:.1f} s** (runs: "
        + ", ".join(f"{s:.1f}" for s in r["shell_seconds"]) + ").",
        *_baseline_line(r.get("baseline")), "",
        *table(["phase", "seconds", "share"], rows), "",
        plot("bench-coldstart", draw, (7, 3)), "", stamp(r), ""]


def size_section(cold: Result, latency: Result | None) -> list[str]:
    size = cold["size"]
    rows = [[k, mib(size["bytes"][k]), mib(size["per_100k_bytes"][k])]
            for k in sorted(size["bytes"])]
    rows.append(["**total**", mib(size["total_bytes"]), mib(size["total_per_100k_bytes"])])
    rss = [("loaded BBC index (qa.load)", cold["index_rss_per_100k_mb"])]
    for s in (latency or {}).get("sizes", []):
        if s["passages"] >= 100_000:
            rss.append((f"FAISS + BM25 + passages at {s['passages']:,}",
                        s["rss_mb"] * 100_000 / s["passages"]))

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        left = 0.0
        for k in sorted(size["per_100k_bytes"]):
            v = size["per_100k_bytes"][k] / 2**20
            if v >= 0.5:
                ax.barh(["on disk"], [v], left=left, label=f"{k} {v:.0f}")
                left += v
        ax.text(left, 0, f" {left:.0f}", va="center")
        names = [f"resident: {name}" for name, _ in rss]
        ax.barh(names, [v for _, v in rss], color="#999999")
        for y, (_, v) in enumerate(rss, start=1):
            ax.text(v, y, f" {v:.0f}", va="center")
        ax.set_xlim(0, max([left] + [v for _, v in rss]) * 1.15)
        ax.set_xlabel("MiB per 100k passages")
        ax.set_title("Index size per 100k passages")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)

    return [
        "## 4. Size", "",
        f"Bytes on disk of the BBC index ({cold['passages']:,} passages), scaled to 100k "
        "passages; and resident memory per 100k passages: what `qa.load` adds to a process "
        "that has the model loaded, and what the latency benchmark's structures added "
        "(synthetic passages have a one-word text, so that figure is FAISS + BM25).", "",
        *table(["file", "BBC index", "per 100k passages"], rows), "",
        *table(["resident memory", "MiB per 100k passages"],
               [[name, f"{v:.0f}"] for name, v in rss]), "",
        "The FAISS flat index is exactly 384 × 4 bytes per passage (146.5 MiB per 100k); "
        "it dominates and grows linearly.", "",
        plot("bench-size", draw, (7.5, 3.4)), "", stamp(cold), ""]


