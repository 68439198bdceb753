"""A served index follows its directory: rebuilt indexes are picked up, broken ones ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import qa
from qa.embed import Encoder
from qa.live import LiveIndex

from .conftest import SEEDS


def test_rebuilt_index_is_picked_up_and_broken_one_ignored(tmp_path: Path,
                                                          embedder: Encoder) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    index = qa.build([corpus], tmp_path / "idx", embedder=embedder)
    live = LiveIndex(index, interval=0)
    in_flight = live.current()
    assert "melon" not in live.search("melon exports", k=1)[0].text.lower()
    (corpus / "melons.md").write_text("# Melons\n\nMelon exports to China doubled in 2023.",
                                      encoding="utf-8")
    qa.build([corpus], tmp_path / "idx", embedder=embedder)
    assert live.search("melon exports", k=1)[0].article_id == "melons"
    assert live.current() is not in_flight and len(in_flight.passages) < len(live.current())
    (tmp_path / "idx" / "passages.jsonl").write_text("garbage\n")
    (tmp_path / "idx" / "manifest.json").touch()
    answer = live.ask("How much did trade between Kazakhstan and China grow in 2022?")
    assert "34 percent" in answer.text
