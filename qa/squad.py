"""SQuAD JSON (v1.1 and v2.0) as qa articles and evaluation questions.

Each SQuAD article becomes one JSONL article whose text is its paragraphs joined by a
blank line, so that, indexed with `SQUAD_CHUNK`, every SQuAD paragraph is exactly one
passage. Each question keeps its paragraph as `context`: open retrieval counts a hit
as gold only when it is that paragraph.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ChunkConfig
from .errors import IngestError
from .evaluate import Question

if TYPE_CHECKING:
    from .embed import Embedder
    from .index import Index
    from .models import Models

SQUAD_CHUNK = ChunkConfig(max_words=5000)
"""Passage splitting that keeps every SQuAD paragraph whole (the longest has 629 words)."""


@dataclass(frozen=True, slots=True)
class SquadSet:
    """A SQuAD file as JSONL-ready article records and questions."""

    version: str
    articles: list[dict[str, Any]]
    questions: list[Question]
    paragraphs: int

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]


def read_squad(path: str | os.PathLike[str]) -> SquadSet:
    """Read a SQuAD JSON file into articles and questions.

    Args:
        path: a SQuAD v1.1 or v2.0 JSON file (`{"version", "data": [...]}`).

    Returns:
        The articles (id = SQuAD title, title with spaces, text = paragraphs joined by
        blank lines) and one question per SQuAD question; unanswerable SQuAD 2.0
        questions (`is_impossible`) get no answers.

    Raises:
        IngestError: the file cannot be read or is not SQuAD JSON.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        raw = data["data"]
        version = str(data.get("version", ""))
        articles, questions, paragraphs = [], [], 0
        for article in raw:
            record, qs = _article(article)
            articles.append(record)
            questions.extend(qs)
            paragraphs += len(article["paragraphs"])
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot read SQuAD file ({exc})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IngestError(f"{path}: not SQuAD JSON ({type(exc).__name__}: {exc})") from None
    if not questions:
        raise IngestError(f"{path}: no SQuAD questions")
    return SquadSet(version, articles, questions, paragraphs)


def _article(article: dict[str, Any]) -> tuple[dict[str, Any], list[Question]]:
    article_id = str(article["title"])
    contexts = [p["context"].strip() for p in article["paragraphs"]]
    record = {"id": article_id, "title": article_id.replace("_", " "),
              "text": "\n\n".join(contexts)}
    questions = [
        _question(qa, article_id, context)
        for p, context in zip(article["paragraphs"], contexts, strict=True) for qa in p["qas"]
    ]
    return record, questions


def _question(qa: dict[str, Any], article_id: str, context: str) -> Question:
    answers: list[str] = []
    if not qa.get("is_impossible", False):
        for a in qa["answers"]:
            if a["text"].strip() and a["text"].strip() not in answers:
                answers.append(a["text"].strip())
    return Question(str(qa["question"]).strip(), tuple(answers), article_id, (), context,
                    str(qa.get("id", "")) or None)


def write_squad(squad: SquadSet, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write `articles.jsonl` and `questions.jsonl` (the `qa eval` format) into `directory`.

    An existing file with the same content is left untouched, so an index built from
    it stays up to date.

    Returns:
        The paths of the articles and questions files.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    articles = out / "articles.jsonl"
    questions = out / "questions.jsonl"
    _write_if_changed(articles, [json.dumps(a, ensure_ascii=False) for a in squad.articles])
    _write_if_changed(questions, [json.dumps(q.to_dict(), ensure_ascii=False)
                                  for q in squad.questions])
    return articles, questions


def _write_if_changed(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.write_text(text, encoding="utf-8")


def build_squad_index(squad: SquadSet, directory: str | os.PathLike[str], *,
                      distractors: Sequence[str | os.PathLike[str]] = (),
                      model: str | None = None, embedder: Embedder | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      models: Models | None = None) -> Index:
    """Write the SQuAD articles into `directory` and build (or reuse) their index there.

    Args:
        squad: the SQuAD set, from `read_squad`.
        directory: holds `articles.jsonl`, `questions.jsonl` and the index in `index/`;
            a later call with the same inputs reuses the index instead of re-embedding.
        distractors: more article files or folders to index alongside, as distractors.
        model, embedder, progress, models: as for `qa.build`.

    Returns:
        The index, every SQuAD paragraph one passage.
    """
    from .index import build

    articles, _ = write_squad(squad, directory)
    return build([articles, *distractors], Path(directory) / "index", model,
                 chunk=SQUAD_CHUNK, embedder=embedder, progress=progress, models=models)
