"""benchmarks/peers.py: txtai over qa's passages finds the obvious passage in every mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import qa

pytest.importorskip("txtai")

_TOPICS = [
    ("Lottery", "A Maine woman won the state lottery jackpot with a ticket bought at a gas station."),
    ("Volcano", "The volcano in Iceland erupted again, sending lava across the road to the harbour."),
    ("Chess", "The grandmaster won the chess championship after a long endgame with two rooks."),
    ("Bakery", "The village bakery sells sourdough bread and cinnamon buns every morning."),
    ("Rail", "The new high-speed railway line cuts the journey between the two cities to an hour."),
    ("Whales", "Humpback whales were seen feeding off the coast during the annual migration."),
    ("Budget", "The finance minister presented a budget that raises taxes on tobacco and fuel."),
    ("Football", "The striker scored twice as the home team won the cup final three goals to one."),
    ("Vaccine", "Researchers reported that the new malaria vaccine protected most children in trials."),
    ("Museum", "The city museum reopened with a gallery of ancient Egyptian coffins and papyri."),
]


def _peers() -> ModuleType:
    """benchmarks/peers.py, which is not a package."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
    spec = importlib.util.spec_from_file_location("peers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _passages() -> list[qa.Passage]:
    return [qa.Passage(id=f"p{i}", article_id=f"a{i}", source=f"{i}.txt", title=title,
                       date="2024-01-02", start=0, end=len(text), text=text)
            for i, (title, text) in enumerate(_TOPICS)]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_txtai_finds_the_obvious_passage(mode: str) -> None:
    queries = ["Who won the lottery jackpot in Maine?", "Which vaccine protected children from malaria?"]
    ranked = _peers().txtai_search(_passages(), queries, k=3, mode=mode)
    assert [r[0] for r in ranked] == [0, 8]
    assert all(len(r) <= 3 and len(set(r)) == len(r) for r in ranked)


def test_txtai_search_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        _peers().txtai_search(_passages(), ["x"], mode="sparse")
