"""The sections of docs/benchmarks.md on speed and scale: encoder backends, index types."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sections import Result, f3, ms, plot, stamp, table  # noqa: E402

LABELS = {"torch": "PyTorch (sentence-transformers)", "onnx": "ONNX Runtime fp32",
          "onnx-int8": "ONNX Runtime int8 (default)"}
KINDS = {"flat": "flat (exact)", "hnsw": "HNSW", "ivfpq": "IVF-PQ + exact re-score"}


def _recall(data: Result | None, name: str, mode: str, k: int) -> str:
    if not data or name not in data:
        return "–"
    return f3(data[name][mode].get(f"R@{k}"))


def encoder_section(r: Result) -> list[str]:
    speed, cos = r["throughput"], r["cosine_to_torch"]
    seeds, bbc, squad = r["seeds_recall"], r.get("seeds_bbc_recall"), r.get("squad_recall")
    rows = []
    for name, s in speed.items():
        rows.append([LABELS.get(name, name), f"{s['passages_per_s']:.1f}",
                     f"{s['speedup_vs_torch']:.2f}×", f"{cos[name]['min']:.4f}",
                     f"{cos[name]['mean']:.4f}", _recall(seeds, name, "hybrid", 5),
                     _recall(bbc, name, "hybrid", 1) + " / " + _recall(bbc, name, "hybrid", 5),
                     _recall(bbc, name, "dense", 5),
                     _recall(squad, name, "hybrid", 1) + " / " + _recall(squad, name, "hybrid", 5),
                     _recall(squad, name, "dense", 5)])
    notes = []
    if bbc and squad and "onnx-int8" in squad:
        def gap(data: Result, mode: str) -> float:
            return (data["onnx-int8"][mode]["R@5"] - data["torch"][mode]["R@5"]) * 100

        worst = min(gap(d, m) for d in (bbc, squad) for m in ("hybrid", "dense"))
        notes.append(
            f"- **int8 vs PyTorch: {speed['onnx-int8']['speedup_vs_torch']:.2f}× the "
            f"throughput; recall@5 {gap(bbc, 'hybrid'):+.1f} points (hybrid) and "
            f"{gap(bbc, 'dense'):+.1f} (dense) on seeds + BBC, {gap(squad, 'hybrid'):+.1f} "
            f"and {gap(squad, 'dense'):+.1f} on SQuAD.** Targets: at least 2× and within 1 "
            f"point; worst gap here {worst:+.1f}. That is why `onnx-int8` is the default "
            "backend; `--backend torch` or `onnx` remain.")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        names = list(speed)
        values = [speed[n]["passages_per_s"] for n in names]
        ax.barh([LABELS.get(n, n) for n in names], values,
                color=["#dd8452", "#999999", "#4c72b0"][: len(names)])
        for y, (n, v) in enumerate(zip(names, values, strict=True)):
            extra = f"  SQuAD R@5 {squad[n]['hybrid']['R@5']:.3f}" if squad and n in squad else ""
            ax.text(v, y, f" {v:.0f}/s{extra}", va="center", fontsize=8)
        ax.set_xlabel("passages per second, 2 cores (higher is better)")
        ax.set_title("Encoder backends: throughput and SQuAD hybrid R@5", fontsize=10)
        ax.set_xlim(0, max(values) * 1.6)
        ax.invert_yaxis()

    m = r["method"]
    large = ""
    if bbc and squad:
        large = (f", over seeds + all BBC passages ({bbc['torch']['passages']:,} passages), and "
                 f"{squad['questions']:,} SQuAD v1.1 dev questions over its 2,067 paragraphs "
                 "(retrieval only). ONNX fp32 is not rerun on the two large sets: its vectors "
                 "equal PyTorch's")
    return [
        "## 5. Encoder backends", "",
        f"The same model (all-MiniLM-L6-v2) run three ways on {m['sample']} BBC passages "
        f"(fixed random sample, embedded with their titles as `qa build` does), batch size "
        f"{m['batch_size']}, {m['threads']} threads, {m['rounds']} interleaved rounds (the "
        "order rotates each round, so load from other work hits every backend alike); "
        "throughput is the median round, the speed-up the median per-round ratio to PyTorch. "
        "The ONNX graph is exported locally from the bundled model with `torch.onnx`, fused "
        "by ONNX Runtime's BERT optimizer, and for int8 quantised dynamically (per-channel "
        "int8 weights); the int8 graph runs one passage per call, so a vector never depends "
        "on its batch-mates. Quality: cosine of each backend's vectors to PyTorch's; recall "
        f"with an index built on each backend: seed questions over seeds/ alone{large}.", "",
        *table(["backend", "passages/s", "× torch", "cos min", "cos mean", "seeds R@5",
                "seeds+BBC R@1 / R@5", "dense R@5", "SQuAD R@1 / R@5", "dense R@5"], rows),
        "", *notes, "", plot("bench-encoder", draw, (7, 2.8)), "", stamp(r), ""]


def scale_section(r: Result, build: Result | None, latency: Result | None) -> list[str]:
    p = r["params"]
    rows = []
    for n, kinds in r["sizes"].items():
        for kind, s in kinds.items():
            rows.append([f"{int(n):,}", KINDS.get(kind, kind), f"{s['build_s']:.1f}",
                         f"{s['disk_mb']:,.1f}", f"{s['rss_mb']:,.1f}", f"{s['recall@10']:.3f}",
                         ms(s["p50_ms"]), ms(s["p95_ms"]), f"{s['load']:.1f}"])
    notes = []
    big = r["sizes"].get("1000000", {})
    if "ivfpq" in big:
        s = big["ivfpq"]
        ok = s["p95_ms"] < 20 and s["recall@10"] >= 0.95 and s["disk_mb"] < 150
        notes.append(f"- At 1M passages IVF-PQ: search p95 **{ms(s['p95_ms'])} ms** (target < 20), "
                     f"recall@10 **{s['recall@10']:.3f}** (≥ 0.95), index **{s['disk_mb']:.1f} MB**"
                     f" (< 150): {'all met' if ok else 'NOT all met'}. The raw `vectors.npy` it "
                     "re-scores from stays on disk, memory-mapped; only the ~100 candidates of "
                     "a query are read.")
    if "hnsw" in big:
        s = big["hnsw"]
        notes.append(f"- At 1M passages HNSW: p95 {ms(s['p95_ms'])} ms, recall@10 "
                     f"{s['recall@10']:.3f}, but {s['disk_mb']:,.0f} MB on disk and in memory "
                     f"and {s['build_s'] / 60:.1f} min to build on 2 cores. `--index-type "
                     "auto` picks flat up to 100k passages, HNSW up to 2M and IVF-PQ above; "
                     "pass `ivfpq` when memory is the limit.")
    if latency:
        top = latency["sizes"][-1]
        notes.append(f"- BM25 at {top['passages']:,} passages (section 2): bare "
                     f"{ms(top['bm25_bare']['p50'])} ms p50 / {ms(top['bm25_bare']['p95'])} ms "
                     "p95 for tokenize + score + top-k, so it is not the slow half of hybrid "
                     "search.")
    add = r.get("add")
    if add:
        notes.append(f"- **Adding one article** (`Index.add`, {add['passages']:,} passages "
                     f"after) to the BBC index: **{add['add_one_s']:.1f} s**, against "
                     f"{add['full_build_s']:.1f} s for the full build ({add['full_build_from']})"
                     f": **{add['ratio']:.2%}** (target < 2%; the shared host's load moves "
                     "both). Unchanged passages keep their vectors, sentence split and BM25 "
                     "tokens; BM25 and FAISS are rebuilt from them and the directory is "
                     "swapped atomically.")

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 2)
        sizes = list(r["sizes"])
        kinds = list(KINDS)
        width = 0.8 / len(sizes)
        for i, n in enumerate(sizes):
            xs = [k + i * width for k in range(len(kinds))]
            data = r["sizes"][n]
            axes[0].bar(xs, [data[k]["p95_ms"] if k in data else 0 for k in kinds], width,
                        label=f"{int(n):,}")
            axes[1].bar(xs, [data[k]["disk_mb"] if k in data else 0 for k in kinds], width,
                        label=f"{int(n):,}")
        for ax, title in zip(axes, ("search p95, ms", "index on disk, MB"), strict=True):
            ax.set_xticks([k + width * (len(sizes) - 1) / 2 for k in range(len(kinds))],
                          ["flat", "HNSW", "IVF-PQ"])
            ax.set_yscale("log")
            ax.set_title(title + " (log)")
            ax.legend(fontsize=7, title="passages", title_fontsize=7)
            ax.grid(alpha=0.3, axis="y")

    return [
        "## 6. Scale: approximate search and incremental updates", "",
        f"FAISS index types at {' and '.join(f'{int(n):,}' for n in r['sizes'])} passages: the "
        f"{r['base_vectors']:,} real BBC + seed passage vectors replicated with Gaussian noise "
        "(σ 0.05 per dimension) and re-normalised, so they keep the clustered shape of real "
        f"text. {r['queries']} queries made the same way, k = {r['k']}, one at a time, the "
        "dense search step alone (`qa.retrieve.dense_search`, as `Index.search` calls it); "
        "exact search at 1M is timed on 50 of them. Recall@10 is against exact (flat) search "
        f"on the same vectors. HNSW: M {p['hnsw_m']}, efConstruction {p['ef_construction']}, "
        f"efSearch {p['ef_search']}. IVF-PQ: nlist 4√n, {p['pq_bytes']}-byte codes, nprobe "
        f"{p['nprobe']}, its 100 candidates re-scored exactly from the memory-mapped "
        "`vectors.npy`. Resident memory is what the process grew by while building.", "",
        *table(["passages", "index", "build s", "disk MB", "resident MB", "recall@10",
                "p50 ms", "p95 ms", "load"], rows), "",
        *notes, "", plot("bench-scale", draw, (8, 3.2)), "",
        "How this extends to 100M passages (sharded IVF-PQ, BM25 per shard, Ray): "
        "[scaling.md](scaling.md).", "", stamp(r), ""]
