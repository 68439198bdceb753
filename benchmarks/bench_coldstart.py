"""Cold start of `qa ask` from a shell, split into phases, and the index's size.

Method: the BBC index that bench_build.py wrote (benchmarks/.cache/index-bbc; built here
if missing) is asked one question in fresh processes, three rounds:
  - `qa ask QUESTION --index DIR` run as a shell user would (the console script): wall
    time from launch to exit;
  - the same steps in a child script that stamps the time after each phase: import
    (interpreter start, `qa.cli`, and the libraries the command imports on the way:
    faiss, bm25s and the encoder's: onnxruntime + tokenizers for the default ONNX backend,
    torch + sentence-transformers for the torch one), model load (`make_embedder` with the
    index's backend, ONNX graph already exported), index load (`qa.load`), answering
    (`Index.ask`). Resident memory is read after each phase.
The index files are in the page cache (the build just wrote them), so this is a cold
process, not a cold disk. Baseline in the same run: seeds/ indexed twice, with the default
backend and with `--backend torch`, and `qa ask SEED_QUESTION --index ...` timed on each,
alternately, the same number of rounds. Size: bytes of each index file, scaled to 100k passages, and
the resident memory the loaded index adds, per 100k passages.

    python benchmarks/bench_coldstart.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BBC_INDEX, ROOT, bench_file, write_result  # noqa: E402

QUESTION = "How much did Time Warner's quarterly profits rise?"
PHASES = ("import", "model load", "index load", "answering")

CHILD = r"""
import json, sys, time
t = {"start": time.time()}
import psutil
rss = {}
def stamp(name):
    t[name] = time.time()
    rss[name] = psutil.Process().memory_info().rss / 2**20
import qa.cli, qa
from pathlib import Path
from qa import store
from qa.builder import onnx_cache
from qa.embed import make_embedder
backend = store.read_manifest(Path(sys.argv[1]))["settings"].get("backend", "torch")
import faiss, bm25s
if backend == "torch":
    import torch, sentence_transformers
else:
    import onnxruntime, tokenizers
stamp("import")
qa.cli.quiet_model_loading()
embedder = make_embedder(backend=backend, cache_dir=onnx_cache(Path(sys.argv[1])))
stamp("model load")
index = qa.load(sys.argv[1], embedder=embedder)
stamp("index load")
answer = index.ask(sys.argv[2])
stamp("answering")
print(json.dumps({"t": t, "rss": rss, "passages": len(index), "abstained": answer.abstained}))
"""


def env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def shell_run(index: Path, question: str = QUESTION) -> float:
    """Wall seconds of `qa ask` run as a command."""
    script = Path(sys.executable).parent / "qa"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "qa"]
    t0 = time.time()
    subprocess.run([*cmd, "ask", question, "--index", str(index)], env=env(), cwd=ROOT,
                   check=True, capture_output=True, text=True)
    return time.time() - t0


def backend_baseline(rounds: int) -> dict[str, Any]:
    """`qa ask` wall seconds on seed indexes built with the default backend and with torch."""
    import tempfile

    import qa

    question = "How much did trade between Kazakhstan and China grow in 2022?"
    with tempfile.TemporaryDirectory() as tmp:
        indexes = {}
        for backend in ("default", "torch"):
            built = qa.build([ROOT / "seeds"], Path(tmp) / backend,
                             backend=None if backend == "default" else backend)
            indexes[built.manifest["settings"]["backend"]] = built.path
        seconds: dict[str, list[float]] = {name: [] for name in indexes}
        for _ in range(rounds):
            for name, path in indexes.items():
                seconds[name].append(shell_run(path, question))
    median = {name: statistics.median(s) for name, s in seconds.items()}
    default = next(n for n in median if n != "torch")
    return {"seconds": seconds, "median": median, "default": default,
            "torch_over_default": median["torch"] / median[default]}


def phase_run(index: Path) -> dict[str, Any]:
    """Seconds of each phase (import includes interpreter start-up) and RSS after each."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, str(index), QUESTION], env=env(),
                         cwd=ROOT, check=True, capture_output=True, text=True)
    end = time.time()
    data = json.loads(out.stdout.strip().splitlines()[-1])
    t = data["t"]
    marks = [t0, *(t[p] for p in PHASES)]
    seconds = {p: marks[i + 1] - marks[i] for i, p in enumerate(PHASES)}
    seconds["exit"] = end - t[PHASES[-1]]
    return {"seconds": seconds, "interpreter": t["start"] - t0, "rss_mb": data["rss"],
            "total": end - t0, "passages": data["passages"]}


def sizes(index: Path, passages: int) -> dict[str, Any]:
    """Bytes on disk of each part of the index, and per 100k passages."""
    parts: dict[str, int] = {}
    for f in sorted(index.rglob("*")):
        if f.is_file():
            key = f.relative_to(index).parts[0]
            parts[key] = parts.get(key, 0) + f.stat().st_size
    total = sum(parts.values())
    scale = 100_000 / passages
    return {"bytes": parts, "total_bytes": total,
            "per_100k_bytes": {k: v * scale for k, v in parts.items()},
            "total_per_100k_bytes": total * scale}


def ensure_index() -> Path | None:
    if (BBC_INDEX / "manifest.json").exists():
        return BBC_INDEX
    bbc = bench_file("news-bbc.jsonl")
    if bbc is None:
        return None
    import qa

    qa.build([bbc], BBC_INDEX)
    return BBC_INDEX


def main(argv: Sequence[str] | None = None) -> None:
    """Time `qa ask` and its phases; measure the index size; save results/coldstart.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    index = ensure_index()
    if index is None:
        write_result("coldstart", {"skipped": "news-bbc.jsonl not found"})
        return
    t0 = time.perf_counter()
    shell, phases = [], []
    for _ in range(args.rounds):
        shell.append(shell_run(index))
        phases.append(phase_run(index))
    passages = phases[0]["passages"]
    median = {p: statistics.median(r["seconds"][p] for r in phases) for p in (*PHASES, "exit")}
    rss = {p: statistics.median(r["rss_mb"][p] for r in phases) for p in PHASES}
    index_rss = rss["index load"] - rss["model load"]
    backend = json.loads((index / "manifest.json").read_text())["settings"].get("backend", "torch")
    result = {"question": QUESTION, "passages": passages, "backend": backend,
              "shell_seconds": shell,
              "shell_median": statistics.median(shell), "phase_median": median,
              "phase_runs": phases, "rss_mb": rss, "index_rss_mb": index_rss,
              "index_rss_per_100k_mb": index_rss * 100_000 / passages,
              "size": sizes(index, passages), "baseline": backend_baseline(args.rounds),
              "seconds": time.perf_counter() - t0}
    path = write_result("coldstart", result)
    print(f"coldstart: qa ask {result['shell_median']:.1f} s; phases "
          + ", ".join(f"{p} {s:.2f} s" for p, s in median.items()) + f" -> {path}")


if __name__ == "__main__":
    main()
