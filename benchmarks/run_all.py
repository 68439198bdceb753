"""`make bench`: run every benchmark in turn, then write docs/benchmarks.md and its plots.

Each benchmark runs in its own process (so peak memory is its own) and saves its figures
as benchmarks/.cache/results/NAME.json; report.py turns them into the page. A benchmark
that fails is reported and the others still run; its section then shows its last result.

    python benchmarks/run_all.py [--only build,latency,coldstart,quality,encoder,scale,llm]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHES = ("build", "latency", "coldstart", "quality", "encoder", "scale", "ingest", "llm")
"""In this order: build writes the BBC index and caches its vectors for the others, and
scale times adding an article against that build; llm starts its own llama.cpp server."""


def run_one(name: str) -> dict[str, object]:
    """Run benchmarks/bench_NAME.py; its wall time and exit status."""
    print(f"== {name}", flush=True)
    t0 = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    code = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")], env=env,
                          check=False).returncode
    seconds = time.perf_counter() - t0
    print(f"== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s",
          flush=True)
    return {"name": name, "seconds": seconds, "exit": code}


DATA_FILES = {
    "news-bbc.jsonl": ("280f63d8b075615e2e149f453e8aa4ee743cd6e6b1e140c03929bf7c055c3c28",
                       "BBC News (Greene & Cunningham, ICML 2006), mlg.ucd.ie/datasets/bbc.html"),
    "squad-dev-v1.1.json": ("95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
                            "SQuAD v1.1 dev (Rajpurkar et al. 2016), rajpurkar.github.io/"
                            "SQuAD-explorer"),
    "squad2-dev-5articles.json": ("db71d0a19c3f656b1ebefafce642b828cfab269f0d906312dfb0efdc7173b31a",
                                  "first five articles of SQuAD 2.0 dev (Rajpurkar et al. 2018)"),
}
"""The benchmark data: sha256 and where each file comes from (../shared/bench/SOURCES.md)."""


def check_data(folder: Path) -> None:
    """Say where each data file is, where it comes from, and whether its checksum matches."""
    import hashlib

    print(f"data folder: {folder} (make bench DATA=FOLDER to use another)")
    for name, (sha, origin) in DATA_FILES.items():
        path = folder / name
        if not path.exists():
            print(f"  {name}: missing (from {origin}); benchmarks that need it are skipped")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        state = "sha256 ok" if digest == sha else f"sha256 MISMATCH ({digest[:12]}…)"
        print(f"  {name}: {state}; from {origin}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, write the report; exit 1 if any benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES),
                        help="comma-separated subset of " + ", ".join(BENCHES))
    args = parser.parse_args(argv)
    from common import BENCH

    check_data(BENCH)
    chosen = [b for b in BENCHES if b in args.only.split(",")]
    import report
    from common import CACHE, RESULTS

    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    cold = not (CACHE / "vectors").exists()
    runs = [run_one(name) for name in chosen]
    summary = {"runs": runs, "seconds": time.perf_counter() - t0,
               "load": [load_before, os.getloadavg()[0]], "cold_cache": cold,
               "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    if chosen == list(BENCHES):  # only a full run says how long `make bench` takes
        RESULTS.mkdir(parents=True, exist_ok=True)
        for name in ("run", "run-cold") if cold else ("run",):
            (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n",
                                                 encoding="utf-8")
    page = report.write_report()
    print(f"wrote {page} in {summary['seconds'] / 60:.1f} min total")
    return 1 if any(r["exit"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
