"""Chat latency: `qa serve` start-up, then time to first streamed token and to the full answer.

Method: build the index of seeds/ in a temporary folder, start `python -m qa serve` on a free
127.0.0.1 port as a child process, and time how long until the page's `/ask` endpoint
answers (start-up). Then ask 20 questions from tests/data/seed_questions.jsonl, one at a time,
through gradio_client's streaming endpoint `/ask_stream` (the same chunks the chat shows):
first chunk = first token, last chunk = full answer. Prints JSON; stops the server itself.

    python benchmarks/bench_chat.py [--questions 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    """Median and 95th percentile (nearest rank) in seconds."""
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"median": round(statistics.median(ordered), 4), "p95": round(p95, 4),
            "min": round(ordered[0], 4), "max": round(ordered[-1], 4)}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               "unknown") if Path("/proc/cpuinfo").exists() else platform.processor()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT, check=False).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def start_server(index: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index),
                             "--port", str(port)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_until_answering(url: str, server: subprocess.Popen[str], limit: float = 180) -> Any:
    """A gradio_client connected to `url`, once `/ask` has answered a question."""
    from gradio_client import Client

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            raise RuntimeError(f"qa serve exited early:\n{output}")
        try:
            client = Client(url, verbose=False, analytics_enabled=False)
            client.predict("How much did trade grow in 2022?", api_name="/ask")
            return client
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {limit} s")


def time_question(client: Any, question: str) -> tuple[float, float, str]:
    """(seconds to the first chunk, seconds to the last, the answer) for one question."""
    start = time.perf_counter()
    first = None
    text = ""
    for chunk in client.submit(question, None, api_name="/ask_stream"):
        first = first if first is not None else time.perf_counter() - start
        text = chunk
    return first or 0.0, time.perf_counter() - start, text


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import qa

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()
                 if line.strip()][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        qa.build([ROOT / "seeds"], Path(tmp) / "embeddings")
        port = free_port()
        started = time.perf_counter()
        server = start_server(Path(tmp) / "embeddings", port)
        try:
            client = wait_until_answering(f"http://127.0.0.1:{port}/", server)
            startup = time.perf_counter() - started
            runs = [time_question(client, q) for q in questions]
        finally:
            stop(server)
    print(json.dumps({
        "benchmark": "chat latency through gradio_client, one client, questions in sequence",
        "machine": machine(), "questions": len(runs),
        "serve_start_to_first_answer_s": round(startup, 3),
        "first_token_s": percentiles([r[0] for r in runs]),
        "full_answer_s": percentiles([r[1] for r in runs]),
        "abstained": sum("could not find" in r[2] for r in runs),
    }, indent=2))


if __name__ == "__main__":
    main()
