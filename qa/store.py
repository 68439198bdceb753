"""The index directory on disk: manifest, passages, FAISS and BM25 files, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .corpus import SourceFile
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexStaleError
from .schema import Passage

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""2: sentence vectors (sentences.faiss, sentences.npy) and article texts (articles.jsonl)."""
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
FAISS_FILE = "faiss.index"
BM25_DIR = "bm25"


def qa_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qa")
    except PackageNotFoundError:
        return "0+unknown"


def file_sizes(directory: Path) -> dict[str, int]:
    """Byte size of every file under `directory`, by relative posix path."""
    return {p.relative_to(directory).as_posix(): p.stat().st_size
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}


def make_manifest(directory: Path, *, settings: dict[str, Any], models: dict[str, Any],
                  dimension: int,
                  files: Sequence[SourceFile], passages: int, articles: int,
                  faiss_type: str, formats: dict[str, int] | None = None) -> dict[str, Any]:
    """The manifest describing an index whose other files are already in `directory`;
    `models` names the trained ranker and answer models it was built beside (qa.models)."""
    return {
        "format": FORMAT_VERSION,
        "qa_version": qa_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {"name": settings["model"], "dimension": dimension},
        "settings": settings,
        "faiss": {"type": faiss_type},
        "models": models,
        "counts": {"files": len(files), "articles": articles, "passages": passages,
                   **({"formats": formats} if formats else {})},
        "sources": [asdict(f) for f in files],
        "files": file_sizes(directory),
    }


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_passages(path: Path, passages: Sequence[Passage]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")


def read_passages(path: Path) -> list[Passage]:
    try:
        with path.open(encoding="utf-8") as f:
            return [Passage(**json.loads(line)) for line in f if line.strip()]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(f"{path}: unreadable passages ({exc}); run `qa build`") from None


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the index in `directory`, checked against the files beside it."""
    path = directory / MANIFEST
    if not directory.is_dir() or not path.is_file():
        raise IndexNotFoundError(f"no index in {directory}/ (run `qa build PATH... --index {directory}`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        expected: dict[str, int] = manifest["files"]
        manifest["model"]["name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path}: unreadable manifest ({exc}); run `qa build --force`") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{directory}/ has index format {manifest.get('format')!r}, this qa reads "
            f"{FORMAT_VERSION}; run `qa build --force`")
    for name, size in expected.items():
        f = directory / name
        if not f.is_file():
            raise IndexCorruptError(f"{directory}/: {name} is missing; run `qa build --force`")
        if f.stat().st_size != size:
            raise IndexCorruptError(f"{directory}/: {name} is truncated or altered "
                                    f"({f.stat().st_size} bytes, expected {size}); run `qa build --force`")
    return manifest


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def changed_sources(manifest: dict[str, Any]) -> list[str]:
    """Sources recorded in the manifest that were since changed or deleted (an address is a
    snapshot taken when it was fetched: it is not checked)."""
    changed = []
    for rec in manifest["sources"]:
        if rec["path"].startswith(("http://", "https://")):
            continue
        path = Path(rec["path"])
        try:
            stat = path.stat()
        except OSError:
            changed.append(f"{rec['source']} (deleted)")
            continue
        if (stat.st_size, stat.st_mtime_ns) == (rec["size"], rec["mtime_ns"]):
            continue
        if stat.st_size != rec["size"] or _hash(path) != rec["sha256"]:
            changed.append(f"{rec['source']} (changed)")
    return changed


def check_fresh(directory: Path, manifest: dict[str, Any]) -> None:
    """Raise IndexStaleError if any recorded source changed since the build."""
    changed = changed_sources(manifest)
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise IndexStaleError(f"index in {directory}/ is stale: {shown}; run `qa build`")


def rebuild_reason(directory: Path, files: Sequence[SourceFile],
                   settings: dict[str, Any]) -> str | None:
    """Why the index in `directory` must be rebuilt for these sources and settings, or None."""
    try:
        manifest = read_manifest(directory)
    except IndexNotFoundError:
        return "no index yet"
    except (IndexCorruptError, IndexMismatchError) as exc:
        return f"existing index unusable ({exc})"
    if manifest["settings"] != settings:
        diff = sorted(k for k in settings if manifest["settings"].get(k) != settings[k])
        return "settings changed: " + ", ".join(diff)
    old = {(r["path"], r["sha256"]) for r in manifest["sources"]}
    new = {(f.path, f.sha256) for f in files}
    if old != new:
        return f"sources changed ({len(new - old)} new or changed, {len(old - new)} gone or changed)"
    return None


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory next to `target`; on success swap it into place.

    If the body raises (or the process dies), `target` is left exactly as it was.
    """
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
