"""Sentence rows and their stored terms."""

from __future__ import annotations

from qa.sentences import Lines


def test_term_lines_keep_empty_lines_and_non_ascii_terms() -> None:
    for lines in ([], [""], ["", ""], ["trade grew", "", "almaty café"], ["x"] * 3):
        stored = Lines.of(lines)
        assert len(stored) == len(lines)
        assert stored.lines(0, len(lines)) == lines
        assert Lines(stored.data).lines(1, len(lines)) == lines[1:]
