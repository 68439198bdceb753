"""Constants and small helpers shared by the web tests (test_app, test_browser, test_mcp)."""

from __future__ import annotations

import socket
from pathlib import Path

import qa
from qa.embed import Encoder

TRADE = "How much did trade between Kazakhstan and China grow in 2022?"
# A seed question the test model (Gemma 3 270M, temperature 0) answers with a sentence the
# checker keeps, given the passages qa ranks first for it (re-checked when ranking changes).
WRITTEN = "How many joint investment projects are being implemented?"
ABSTAIN = "What is the capital of France?"

XSS_ARTICLE = "\n\n".join([
    "date 2024-05-01 The harbour of Port Velmar reopened after the storm "
    "<script>alert(1)</script> on Monday.",
    "The Port Velmar harbour master said repairs to the breakwater cost 3 million euros "
    '<script>alert("xss")</script> and took six weeks.',
    "Fishing boats returned to Port Velmar on Tuesday, and the harbour master posted the "
    "schedule at [click](javascript:alert(1)) for all crews <img src=x onerror=alert(1)>.",
    "The harbour master of Port Velmar said that ${alert(1)} and {{7*7}} and $$x^2$$ in the "
    "notice are typing errors.",
]) + "\n"
"""An article whose text carries script tags, an onerror image, a JS link and templates."""
XSS_QUESTIONS = ("How much did the breakwater repairs at Port Velmar cost?",
                 "When did fishing boats return to Port Velmar?",
                 "Which typing errors in the notice did the harbour master of Port Velmar name?")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_xss_index(root: Path, embedder: Encoder) -> qa.Index:
    """A one-article index of XSS_ARTICLE under `root`."""
    corpus = root / "xss"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(XSS_ARTICLE, encoding="utf-8")
    return qa.build([corpus], root / "idx", embedder=embedder)
