"""Sentence and paragraph boundaries as character spans, so quotes stay exact."""

from __future__ import annotations

import re

Span = tuple[int, int]

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc inc ltd co corp gov sen rep gen col lt sgt capt "
    "jan feb mar apr jun jul aug sep sept oct nov dec no nos fig approx dept est "
    "u.s u.k u.n e.g i.e a.m p.m".split()
)
# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace and a capital
# letter or an opening quote; digits do not start a sentence ("Oct. 17", "No. 5").
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s+[\"“‘(\[]?[A-Z])")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of blank-line separated paragraphs of `text[start:end]`, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for sep in _BLANK_LINE.finditer(text, start, end):
        spans.append(_trim(text, cursor, sep.start()))
        cursor = sep.end()
    spans.append(_trim(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def _is_abbreviation(text: str, period_at: int, floor: int) -> bool:
    if text[period_at] != ".":
        return False
    # The run of word characters and dots just before the period (what `[\w.]+$` would
    # match), found by stepping back: a regex search would try every start in the sentence.
    # Like `$`, it may end just before a newline that precedes the period.
    end = period_at - 1 if period_at > floor and text[period_at - 1] == "\n" else period_at
    start = end
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_."):
        start -= 1
    if start == end:
        return False
    word = text[start:end].lower().strip(".")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the sentences of `text[start:end]`, whitespace trimmed; a blank line always
    ends a sentence (a markdown heading is not the start of its paragraph's first one)."""
    spans: list[Span] = []
    for p_start, p_end in paragraphs(text, start, end):
        cursor = p_start
        for match in _SENTENCE_END.finditer(text, p_start, p_end):
            if _is_abbreviation(text, match.start(), cursor):
                continue
            spans.append(_trim(text, cursor, match.end()))
            cursor = match.end()
        spans.append(_trim(text, cursor, p_end))
    return [(s, e) for s, e in spans if e > s]


def word_count(text: str) -> int:
    return len(text.split())
