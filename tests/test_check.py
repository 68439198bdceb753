"""The sentence checker on its own: sentences built here, real passages, the real encoder."""

from __future__ import annotations

import pytest

import qa
from qa.check import Checker, Draft, split_reply
from qa.facts import FactSet, extract
from qa.schema import Hit

TRADE_SENTENCE = "In 2022, trade between the countries grew by 34 percent"


def passage_hit(index: qa.Index, words: str) -> Hit:
    """The hit of the seed passage that contains `words`."""
    hits = index.search(words, k=10)
    return next(h for h in hits if words in h.text)


@pytest.fixture(scope="module")
def checker(seed_index: qa.Index) -> Checker:
    """Passages [1] trade, [2] sectors, [3] the Oct. 17 meeting with Li Qiang."""
    hits = [passage_hit(seed_index, TRADE_SENTENCE),
            passage_hit(seed_index, "The sides discussed the advancement of interregional"),
            passage_hit(seed_index, "at an Oct. 17 meeting with Premier")]
    return Checker(hits, seed_index.embedder.encode)


def kept(checker: Checker, text: str) -> qa.check.Verdict:
    verdicts = [checker.check(d) for d in split_reply(text)]
    assert len(verdicts) == 1
    return verdicts[0]


def test_right_paraphrase_is_kept_with_a_verbatim_quote(checker: Checker) -> None:
    v = kept(checker, "Trade between Kazakhstan and China rose 34% in 2022, passing a record "
                      "of more than 24 billion dollars [1].")
    assert v.kept and v.cites == (1,) and not v.repaired, v.reason
    quote = v.quotes[0]
    assert TRADE_SENTENCE in quote.text
    assert quote.hit.text[quote.start - quote.hit.start : quote.end - quote.hit.start] == quote.text


def test_missing_marker_gets_the_supporting_passage(checker: Checker) -> None:
    v = kept(checker, "In 2022, trade between Kazakhstan and China grew by 34 percent.")
    assert v.kept and v.cites == (1,) and v.repaired and v.draft.markers == ()


def test_misplaced_marker_is_moved_to_the_supporting_passage(checker: Checker) -> None:
    v = kept(checker, "The sides discussed cooperation in industry, transport, logistics, "
                      "agriculture and tourism [3].")
    assert v.kept and v.cites == (2,) and v.repaired


@pytest.mark.parametrize(("sentence", "culprit"), [
    ("In 2022, trade between the countries grew by 43 percent [1].", "43 percent"),
    ("In 2022, trade between Kazakhstan and Russia grew by 34 percent [1].", "Russia"),
    ("Tokayev met Premier Li Qiang at an Oct. 19 meeting [3].", "Oct. 19"),
    ("Trade between the countries grew by 34 percent, exceeding a record $42 billion [1].",
     "$42 billion"),
])
def test_a_wrong_number_name_or_date_is_removed_with_the_reason(
        checker: Checker, sentence: str, culprit: str) -> None:
    v = kept(checker, sentence)
    assert not v.kept and culprit in v.reason and "is not in" in v.reason, v.reason


def test_citation_to_a_passage_not_given_is_removed(checker: Checker) -> None:
    v = kept(checker, "Kazakhstan plans to build a high-speed railway to Europe [7].")
    assert not v.kept and "[7], which was not given" in v.reason


def test_unsupported_sentence_is_removed(checker: Checker) -> None:
    v = kept(checker, "The delegations ended the day by watching a football match together [1].")
    assert not v.kept and "not close in meaning" in v.reason, v.reason


def test_questions_and_fragments_are_not_answers(checker: Checker) -> None:
    assert not kept(checker, "How much did trade grow in 2022 [1]?").kept
    assert not kept(checker, "Answer: [1]").kept


def test_split_reply_reads_markers_wherever_the_model_puts_them() -> None:
    drafts = split_reply("Trade grew by 34 percent. [1] The sides met [2][3].\n- Visas were "
                         "discussed [1, 2]\n[4]")
    assert drafts == [Draft("Trade grew by 34 percent.", (1,)), Draft("The sides met.", (2, 3)),
                      Draft("Visas were discussed", (1, 2))]


@pytest.mark.parametrize(("written", "source"), [
    ("34%", "grew by 34 percent"), ("34 per cent", "grew by 34 percent"),
    ("$24 billion", "24 billion dollars"), ("24 billion US dollars", "a record $24 billion"),
    ("Oct. 17", "on October 17"), ("17 October", "an Oct. 17 meeting"),
    ("2 of the 5", "two of the five"), ("24,000,000,000 dollars", "$24 billion"),
])
def test_facts_are_normalised(written: str, source: str) -> None:
    pool = FactSet.of(source)
    facts = extract(written)
    assert facts and all(pool.supports(f) for f in facts), [(f.surface, f.key) for f in facts]


@pytest.mark.parametrize(("written", "source"), [
    ("34%", "grew by 43 percent"), ("$24 billion", "24 million dollars"),
    ("24 percent", "$24 billion"), ("Oct. 17", "October 18"), ("Astana", "in Almaty"),
])
def test_different_facts_do_not_match(written: str, source: str) -> None:
    pool = FactSet.of(source)
    assert not all(pool.supports(f) for f in extract(written))


def test_echoed_headings_and_cut_off_sentences_are_removed(checker: Checker) -> None:
    from qa.generate import _settle

    heading = kept(checker, "[2] Kazakhstan seeks to deepen cooperation with China… (2023-03-28)")
    assert not heading.kept and "heading" in heading.reason
    reply = "In 2022, trade between the countries grew by 34 percent [1]. Trade exceeded a record $24"
    verdicts = list(_settle(checker, split_reply(reply), 0, last=True))
    assert [v.kept for v in verdicts] == [True, False] and "unfinished" in verdicts[1].reason
    assert list(_settle(checker, split_reply(reply), 0))[1].reason != verdicts[1].reason


def test_without_passages_nothing_is_kept(seed_index: qa.Index) -> None:
    verdict = Checker([], seed_index.embedder.encode).check(Draft("Trade grew by 34 percent.", (1,)))
    assert not verdict.kept and "no passage" in verdict.reason
