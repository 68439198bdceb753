"""Ask a running `qa serve` from Python, through its `/ask` API endpoint.

    qa serve --index embeddings          # in another terminal
    python examples/ask_server.py "Who is Li Qiang?"
    python examples/ask_server.py "What did he say about it?" --history "Who is Li Qiang?"
"""

from __future__ import annotations

import argparse

from gradio_client import Client


def main() -> None:
    parser = argparse.ArgumentParser(description="Ask the articles served by `qa serve`.")
    parser.add_argument("question", nargs="?",
                        default="How much did trade between Kazakhstan and China grow in 2022?")
    parser.add_argument("--history", action="append", default=[],
                        help="an earlier question of the conversation (repeatable, oldest first)")
    parser.add_argument("--url", default="http://127.0.0.1:7860/", help="where qa serve runs")
    args = parser.parse_args()

    client = Client(args.url, verbose=False)
    answer = client.predict(args.question, args.history, api_name="/ask")

    print(answer["text"])
    for c in answer["citations"]:
        print(f"  [{c['n']}] {c['title']} ({c['date'] or 'undated'}) {c['source']} "
              f"[{c['start']}:{c['end']}]: “{c['quote']}”")
    if answer["abstained"]:
        for passage in answer["related"][:3]:
            print(f"  related (not cited): {passage['title']} ({passage['source']})")


if __name__ == "__main__":
    main()
