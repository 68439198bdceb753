"""Adding and removing articles while the chat is served: uploads, addresses, permissions.

Uploads and addresses are untrusted: each file is checked against size limits, its name
is reduced to a safe file name (never used as a path as given), it must be a supported
format by its ending or content, and it is read in a limited child process
(`qa.sandbox`). Accepted files are kept in the uploads folder beside the index, under a
folder named for their content hash, so nothing is ever overwritten. The index is
updated on a copy (`Index.add`/`Index.remove`, atomic on disk) that replaces the served
one only when it is complete: the chat answers from the previous index until then, and a
failed change leaves the index and the server as they were.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import formats
from .corpus import Extracted, SourceFile
from .errors import EmptyCorpusError, IngestError, QAError
from .fetch import FetchLimits, address_stem, check_address, fetch, is_url
from .sandbox import SandboxLimits, extract

if TYPE_CHECKING:
    from .index import Index
    from .live import LiveIndex

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
"""Told what an update is doing, in words for the page ("Embedding 12 of 40 passages")."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Limits on one add request from the page or the API.

    Attributes:
        file_bytes: largest file or download.
        request_bytes: most bytes of files in one request.
        files: most files and addresses in one request.
        pdf_pages: a PDF with more pages is refused.
        seconds: time to read one file or address (in the child process).
        memory_bytes: memory the child reading a file may use.
    """

    file_bytes: int = 50 * 2**20
    request_bytes: int = 200 * 2**20
    files: int = 50
    pdf_pages: int = 500
    seconds: float = 60.0
    memory_bytes: int = 3 * 2**30

    def read_options(self, text_column: str = "text") -> formats.ReadOptions:
        return formats.ReadOptions(text_column=text_column, max_bytes=self.file_bytes,
                                   max_pdf_pages=self.pdf_pages, max_seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class ManageConfig:
    """Whether and how the page may change the corpus.

    Attributes:
        read_only: no adding or removing at all, and no controls for it in the page.
        limits: limits on each add request.
        uploads: folder for uploaded files (default: `<index>-uploads` beside the index).
    """

    read_only: bool = False
    limits: UploadLimits = field(default_factory=UploadLimits)
    uploads: Path | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What an add or remove did: sources added or removed, and those skipped with why."""

    done: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    articles: int = 0
    passages: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"source": s, "reason": r} for s, r in self.skipped]
        return data


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a bind address) only accepts connections from this machine."""
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(*, read_only: bool, host: str | None, auth: Any) -> str | None:
    """Why the corpus may not be changed on this server, or None when it may."""
    if read_only:
        return "This server is read-only: articles cannot be added or removed here."
    if auth or is_loopback(host):
        return None
    return (f"Adding and removing articles is off: this server listens on {host} without "
            "a login. Restart it with --auth USER:PASS, or bind it to 127.0.0.1.")


def safe_name(name: str) -> str:
    """A file name made from an uploaded file's name: no folders, no odd characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .") or "upload"
    stem, dot, ending = base.rpartition(".")
    return (stem[:80] + dot + ending[:12]) if dot and stem else base[:92]


def uploads_folder(index: Index, config: ManageConfig) -> Path:
    return config.uploads or index.path.absolute().parent / f"{index.path.name}-uploads"


class Manager:
    """Adds and removes articles of a served index, one change at a time."""

    def __init__(self, live: LiveIndex, config: ManageConfig) -> None:
        self.live = live
        self.config = config
        self._lock = threading.Lock()

    @property
    def uploads(self) -> Path:
        return uploads_folder(self.live.current(), self.config)

    def add(self, files: Sequence[str | os.PathLike[str]], addresses: Sequence[str], *,
            report: Report | None = None) -> Change:
        """Check, read and index uploaded `files` (paths of the uploaded copies; their file
        names are the names given) and `addresses`; only what passes every check is added.

        Raises:
            QAError: nothing given, the request is too large, or the update failed (the
                index is then unchanged).
        """
        report = report or (lambda message: None)
        limits = self.config.limits
        paths = [Path(f) for f in files]
        addresses = [a.strip() for a in addresses if a.strip()]
        if not paths and not addresses:
            raise QAError("Nothing to add: choose files or paste addresses first.")
        if len(paths) + len(addresses) > limits.files:
            raise QAError(f"Too many at once: {len(paths) + len(addresses)} files and addresses, "
                          f"at most {limits.files} a request.")
        total = sum(p.stat().st_size for p in paths)
        if total > limits.request_bytes:
            raise QAError(f"Too much at once: {total:,} bytes of files, at most "
                          f"{limits.request_bytes:,} a request.")
        with self._lock:
            return self._add(paths, addresses, report)

    def _add(self, paths: list[Path], addresses: list[str], report: Report) -> Change:
        extracted: dict[str, Extracted] = {}
        sources: list[str] = []
        skipped: list[tuple[str, str]] = []
        items = [*paths, *addresses]
        for n, item in enumerate(items, start=1):
            shown = item if isinstance(item, str) else safe_name(item.name)
            report(f"Reading {shown} ({n} of {len(items)})…")
            try:
                source, done = (self._address(item) if isinstance(item, str)
                                else self._upload(item))
            except QAError as exc:
                skipped.append((shown, str(exc)))
                continue
            extracted[done.file.path] = done
            sources.append(source)
        if not sources:
            return Change(skipped=tuple(skipped))
        indexed = {r["source"] for r in self.live.current().manifest["sources"]}
        try:
            fresh = self._updated(lambda index: index.add(
                sources, extracted=extracted, progress=_embedding(report)), report)
        except Exception:
            self._forget_uploads([s for s in sources if s not in indexed])
            raise
        counts = fresh.manifest["counts"]
        return Change(tuple(sources), tuple(skipped), counts["articles"], counts["passages"])

    def _upload(self, path: Path) -> tuple[str, Extracted]:
        """Check one uploaded file, read it in the sandbox, and keep it in the uploads folder."""
        limits = self.config.limits
        name = safe_name(path.name)
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise IngestError(f"{name}: {size:,} bytes, more than the limit of "
                              f"{limits.file_bytes:,} a file")
        data = path.read_bytes()
        sniffed = formats.sniff(data)
        if formats.suffix_format(name) is None and sniffed in (None, "archive"):
            raise IngestError(f"{name}: not a supported format (use "
                              f"{', '.join(formats.SUFFIXES)})")
        digest = hashlib.sha256(data).hexdigest()
        target = self.uploads / digest[:16] / name
        try:
            articles = extract(str(target), data, name=name, stem=Path(name).stem,
                               options=self._read_options(), limits=self._sandbox())
        except IngestError as exc:  # name the file as it was given, not where it would be kept
            raise IngestError(str(exc).replace(str(target), name)) from None
        _write_new(target, data)
        stat = target.stat()
        info = SourceFile(source=str(target), path=str(target.resolve()), sha256=digest,
                          size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        return str(target), Extracted(info, tuple(articles))

    def _address(self, url: str) -> tuple[str, Extracted]:
        limits = self.config.limits
        url = check_address(url)
        got = fetch(url, limits=FetchLimits(timeout=min(30.0, limits.seconds),
                                            max_bytes=limits.file_bytes))
        articles = extract(url, got.data, name=got.url, stem=address_stem(got.url),
                           options=self._read_options(), limits=self._sandbox(), url=got.url,
                           content_type=got.content_type)
        info = SourceFile(source=url, path=url, sha256=hashlib.sha256(got.data).hexdigest(),
                          size=len(got.data), mtime_ns=0)
        return url, Extracted(info, tuple(replace(a, url=a.url or got.url) for a in articles))

    def remove(self, sources: Sequence[str], *, report: Report | None = None) -> Change:
        """Remove every article of these sources (as listed by `qa.articles.listing`).

        Raises:
            QAError: none given, none in the index, or it would leave the index empty.
        """
        report = report or (lambda message: None)
        wanted = [s for s in dict.fromkeys(sources) if s]
        if not wanted:
            raise QAError("Nothing to remove: choose one or more articles first.")
        with self._lock:
            known = {r["source"] for r in self.live.current().manifest["sources"]}
            missing = [s for s in wanted if s not in known]
            if missing:
                raise QAError(f"Not in the index: {', '.join(missing[:3])}.")
            try:
                fresh = self._updated(lambda index: index.remove(wanted), report)
            except EmptyCorpusError:
                raise QAError("Cannot remove every article: the index would be empty.") from None
            self._forget_uploads(wanted)
        counts = fresh.manifest["counts"]
        return Change(tuple(wanted), (), counts["articles"], counts["passages"])

    def _updated(self, change: Callable[[Index], Any], report: Report) -> Index:
        """Apply `change` to a copy of the served index and serve the copy once done."""
        fresh = copy.copy(self.live.current())
        change(fresh)
        report("Switching the chat to the new index…")
        self.live.swap(fresh)
        return fresh

    def _forget_uploads(self, sources: Sequence[str]) -> None:
        root = self.uploads.resolve()
        for source in sources:
            path = Path(source).resolve() if not is_url(source) else None
            if path is not None and path.is_file() and path.parent.parent == root:
                shutil.rmtree(path.parent, ignore_errors=True)

    def _read_options(self) -> formats.ReadOptions:
        column = self.live.current().manifest["settings"].get("text_column", "text")
        return self.config.limits.read_options(column)

    def _sandbox(self) -> SandboxLimits:
        limits = self.config.limits
        return SandboxLimits(seconds=limits.seconds, memory_bytes=limits.memory_bytes)


def _embedding(report: Report) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if total:
            report(f"Embedding {done} of {total} new passages…")

    return progress


def _write_new(target: Path, data: bytes) -> None:
    """Write `data` to `target` atomically; an existing file (same content: the folder is
    named for the content's hash) is left as it is."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
