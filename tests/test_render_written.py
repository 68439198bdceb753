"""How the page shows written answers: who wrote them, the live stream, removed sentences."""

from __future__ import annotations

from qa import render
from qa.schema import Answer

EVIL = '<script>alert("x")</script>'


def written_turn(**extra: object) -> render.Turn:
    turn = render.turn_record(Answer("q", "Trade grew by 34 percent. [1]", (), False, (),
                                     generated=True, dropped=(f"{EVIL} — removed: no",)))
    return {**turn, "origin": "model", **extra}


def test_turn_and_api_records_carry_the_written_fields() -> None:
    turn = written_turn()
    assert (turn["generated"], turn["notice"]) == (True, None) and len(turn["dropped"]) == 1
    record = render.api_record(Answer("q", "t", (), False, (), notice="why"))
    assert (record["generated"], record["dropped"], record["notice"]) == (False, [], "why")


def test_written_answer_says_who_wrote_it_and_folds_removed_sentences() -> None:
    html = render.answer_html(written_turn(), 0)
    assert "Written by the model" in html and '<details class="qa-dropped">' in html
    assert EVIL not in html and "&lt;script&gt;" in html
    quoted = render.answer_html({**written_turn(), "origin": "quoted", "generated": False,
                                 "dropped": [], "notice": f"fell back {EVIL}"}, 0)
    assert "Quoted from the articles" in quoted and "fell back &lt;script&gt;" in quoted
    assert "qa-origin" not in render.answer_html({**written_turn(), "origin": None}, 0)


def test_an_answer_the_model_declined_says_so() -> None:
    from qa.answer import ABSTAIN_TEXT
    from qa.generate import REFUSED

    turn = render.turn_record(Answer("q", ABSTAIN_TEXT, (), True, (), notice=REFUSED))
    html = render.answer_html({**turn, "origin": "declined"}, 0)
    assert "Declined by the model" in html and "found no answer" in html
    assert "qa-abstained" in html and "Quoted from the articles" not in html


def test_live_answer_settles_sentences_in_order() -> None:
    live = [{"state": "checked", "text": "Trade grew. [1]", "reason": ""},
            {"state": "removed", "text": EVIL, "reason": f'"{EVIL}'},
            {"state": "pending", "text": "And then", "reason": ""}]
    html = render.answer_html(written_turn(live=live), 0)
    assert 'class="qa-answer qa-written qa-streaming"' in html
    checked, removed, pending = (html.index(c) for c in ("qa-checked", "qa-removed", "qa-pending"))
    assert checked < removed < pending
    assert EVIL not in html and "&quot;&lt;script&gt;" in html
