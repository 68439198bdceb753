"""Exceptions raised by qa. Catch `QAError` to handle every expected failure."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error qa raises for bad input or a bad index."""


class IngestError(QAError):
    """A source file or JSONL record cannot be read as an article."""


class EmptyCorpusError(QAError):
    """The given paths hold no article with any text."""


class IndexNotFoundError(QAError):
    """There is no index in the given directory."""


class IndexCorruptError(QAError):
    """The index files are missing, truncated or disagree with the manifest."""


class IndexStaleError(QAError):
    """The index was built from sources that have since changed."""


class IndexMismatchError(QAError):
    """The index was built with a different model or format than asked for."""


class ModelLoadError(QAError):
    """The embedding model cannot be loaded offline."""


class QuestionError(QAError):
    """The question is empty, too long or otherwise unusable."""


class RayError(QAError):
    """Ray is not installed, or the Ray cluster cannot be reached or fails a job."""


class LLMError(QAError):
    """The LLM server is misconfigured, unreachable, too slow, refuses the key or sends an
    unusable reply; `Index.ask(llm=...)` turns it into the quoted answer with a notice."""
