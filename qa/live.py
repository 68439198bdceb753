"""An index that follows its directory: a rebuilt index is picked up without a restart."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import QAError
from .store import MANIFEST

if TYPE_CHECKING:
    from .index import Index
    from .schema import Answer, Hit

logger = logging.getLogger(__name__)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = (path / MANIFEST).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_ino


class LiveIndex:
    """Serves `ask` and `search` from the newest good index in a directory.

    Every call first checks (at most every `interval` seconds) whether `qa build` or
    `qa add` replaced the index on disk; if so the new one is loaded with the same
    model and swapped in. A call in flight keeps the index it started with, and a
    new index that fails to load is logged and ignored, so requests are never dropped.
    """

    def __init__(self, index: Index, *, interval: float = 2.0) -> None:
        self._index = index
        self._stamp = _stamp(index.path)
        self._interval = interval
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> Index:
        """The index to use for one request."""
        now = time.monotonic()
        if now - self._checked >= self._interval and self._lock.acquire(blocking=False):
            try:
                self._checked = now
                self._reload_if_changed()
            finally:
                self._lock.release()
        return self._index

    def _reload_if_changed(self) -> None:
        from .builder import load

        stamp = _stamp(self._index.path)
        if stamp is None or stamp == self._stamp:
            return
        try:
            fresh = load(self._index.path, embedder=self._index.embedder,
                         models=self._index.models)
        except QAError as exc:
            logger.warning("kept the index in use; the new one cannot be loaded: %s", exc)
            self._stamp = stamp
            return
        logger.info("reloaded %s: %d passages", self._index.path, len(fresh))
        self._index, self._stamp = fresh, stamp

    def swap(self, index: Index) -> None:
        """Serve `index` from now on (an update of the same directory, already on disk);
        calls in flight finish on the index they started with."""
        with self._lock:
            self._index, self._stamp = index, _stamp(index.path)

    def ask(self, question: str, **options: Any) -> Answer:
        return self.current().ask(question, **options)

    def search(self, query: str, **options: Any) -> list[Hit]:
        return self.current().search(query, **options)
