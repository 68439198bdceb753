"""What the ranker's lexical features read in a text."""

from __future__ import annotations

from qa import retrieve
from qa.features import make_terms


def test_names_are_capitalised_words_not_opening_a_sentence() -> None:
    terms = make_terms(retrieve.make_stemmer())
    text = ("Officials met in Astana. Trade grew, said Tokayev's aide (Zhang) "
            "on Monday! Then talks with mid-Asia partners and xYz ended.\nNext")
    assert terms.type_match("person", text, frozenset()) == 1.0
    _, _, names = terms._kinds[text]
    assert names == {"astana", "tokayev's", "zhang", "monday", "asia"}
    # only names the question already has: nothing new to answer "who" with
    assert terms.type_match("person", "He met Tokayev in Astana.",
                            frozenset({"tokayev", "astana"})) == 0.0


def test_only_the_kind_a_question_asks_for_is_looked_for() -> None:
    terms = make_terms(retrieve.make_stemmer())
    assert terms.type_match("number", "It cost twelve pounds.", frozenset()) == 1.0
    assert terms.type_match("number", "It cost 12 pounds.", frozenset()) == 1.0
    assert terms.type_match("number", "It cost a fortune.", frozenset()) == 0.0
    assert terms.type_match("date", "They met on Monday.", frozenset()) == 1.0
    assert terms.type_match("date", "They met in Astana.", frozenset()) == 0.0
    assert terms.type_match("other", "They met in 1998 in Astana.", frozenset()) == 0.0
    assert terms._kinds["It cost a fortune."] == [False, None, None]
    assert "They met in 1998 in Astana." not in terms._kinds
