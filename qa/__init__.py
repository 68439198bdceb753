"""qa: offline question answering over articles, with every answer sentence cited.

    import qa
    index = qa.build(["seeds/"], "embeddings/")
    answer = index.ask("How much did trade grow in 2022?")
"""

from __future__ import annotations

import logging

from .builder import build, load
from .config import BuildConfig, ChunkConfig
from .errors import (
    EmptyCorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStaleError,
    IngestError,
    LLMError,
    ModelLoadError,
    QAError,
    QuestionError,
    RayError,
)
from .index import Index
from .llm import LLM
from .models import Models
from .schema import Answer, Article, Citation, Hit, Passage

__all__ = [
    "Answer",
    "Article",
    "BuildConfig",
    "ChunkConfig",
    "Citation",
    "EmptyCorpusError",
    "Hit",
    "Index",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexStaleError",
    "IngestError",
    "LLM",
    "LLMError",
    "ModelLoadError",
    "Models",
    "Passage",
    "QAError",
    "QuestionError",
    "RayError",
    "build",
    "load",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
