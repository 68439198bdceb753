"""Reading an untrusted file in a child process, within a time and a memory limit.

An upload may be a PDF whose pages unpack to gigabytes, or a page built to make a parser
spin. The page's uploads and fetched addresses are therefore read by `python -m qa.sandbox`:
the child lowers its own memory and CPU limits before it reads anything, and the parent
kills it when the time is up. Either way the server gets articles or a one-line IngestError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from .errors import IngestError
from .formats import ReadOptions
from .schema import Article


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Limits on reading one untrusted source.

    Attributes:
        seconds: wall-clock time for the child (start-up included).
        memory_bytes: address space the child may use.
    """

    seconds: float = 60.0
    memory_bytes: int = 3 * 2**30


def extract(source: str, data: bytes, *, name: str, stem: str, options: ReadOptions,
            limits: SandboxLimits | None = None, url: str | None = None,
            content_type: str | None = None) -> list[Article]:
    """The articles in `data`, read as `qa.corpus.read_data` would, in a limited child.

    Raises:
        IngestError: the data is bad, or reading it ran out of time or memory.
    """
    limits = limits or SandboxLimits()
    request = {"source": source, "name": name, "stem": stem, "url": url, "content_type": content_type,
               "options": asdict(options), "memory": limits.memory_bytes,
               "cpu": int(limits.seconds) + 1}
    header = json.dumps(request).encode() + b"\n"
    try:
        done = subprocess.run([sys.executable, "-m", "qa.sandbox"], input=header + data,
                              capture_output=True, timeout=limits.seconds, check=False)
    except subprocess.TimeoutExpired:
        raise IngestError(f"{source}: reading took more than {limits.seconds:g} s; "
                          "refused") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        why = "out of memory" if b"MemoryError" in done.stderr else f"exit {done.returncode}"
        raise IngestError(f"{source}: could not be read safely ({why}); refused")
    if "error" in answer:
        raise IngestError(str(answer["error"]))
    return [Article(**{**a, "pages": tuple(a["pages"])}) for a in answer["articles"]]


def _limit(memory: int, cpu: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _strict(exc: IngestError) -> None:
    raise exc


def main() -> None:
    """The child: a JSON request line, then the bytes, on stdin; JSON articles on stdout."""
    request: dict[str, Any] = json.loads(sys.stdin.buffer.readline())
    _limit(request["memory"], request["cpu"])
    data = sys.stdin.buffer.read()
    from .corpus import read_data

    try:
        articles = read_data(request["source"], data, name=request["name"],
                             stem=request["stem"],
                             bad=_strict, options=ReadOptions(**request["options"]),
                             url=request["url"], content_type=request["content_type"])
        answer: dict[str, Any] = {"articles": [asdict(a) for a in articles]}
    except IngestError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": f"{request['source']}: needs more memory than allowed; refused"}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))


if __name__ == "__main__":
    main()
