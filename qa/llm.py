"""The user's LLM server: its settings (`LLM`) and a streamed chat call with a hard deadline.

Any OpenAI-compatible server works (llama.cpp, Ollama, vLLM, LM Studio): the `openai`
client (extra `qa[llm]`) sends the messages and streams the reply. Every failure (no
server, a refused key, a timeout, a malformed or broken reply) becomes an `LLMError`
with a one-line reason, raised within `LLM.timeout` seconds: the caller never hangs.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import LLMError

logger = logging.getLogger(__name__)

Message = dict[str, str]
RETRIES = 2  # further attempts after a connection failure or a 429/5xx, before any text came
BACKOFF = 0.5  # seconds before the first retry; doubled for the next


@dataclass(frozen=True, slots=True)
class LLM:
    """An OpenAI-compatible chat server and the model to ask on it.

    Attributes:
        base_url: the API root, e.g. http://127.0.0.1:8080/v1 (llama.cpp) or
            http://127.0.0.1:11434/v1 (Ollama); "/v1" is added when the URL has no path.
        model: the model name on that server.
        api_key: sent as a bearer token when set; never shown in repr, logs or output.
        timeout: seconds for the whole reply, from the request to its last word.
        max_tokens: longest reply, in tokens.
        temperature: 0 asks for the model's most likely words.
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_tokens: int = 200
    temperature: float = 0.0

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url.strip()) if isinstance(self.base_url, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.netloc:
            raise LLMError(f"the LLM server URL must look like http://HOST:PORT/v1, "
                           f"not {self.base_url!r}")
        if url.path in ("", "/"):
            object.__setattr__(self, "base_url", f"{url.scheme}://{url.netloc}/v1")
        if not isinstance(self.model, str) or not self.model.strip():
            raise LLMError("the LLM model name is empty (--llm-model or QA_LLM_MODEL)")
        if not self.timeout > 0:
            raise LLMError(f"the LLM timeout must be positive, not {self.timeout!r}")
        if self.max_tokens < 1:
            raise LLMError(f"max_tokens must be >= 1, not {self.max_tokens!r}")

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, *,
                 timeout: float | None = None) -> LLM | None:
        """The LLM named by the arguments, else by QA_LLM_URL / QA_LLM_MODEL; None if no URL.

        The key always comes from QA_LLM_API_KEY, so it never has to be typed on a command line.

        Raises:
            LLMError: a URL without a model, a model without a URL, or a bad value.
        """
        base_url = base_url or os.environ.get("QA_LLM_URL") or None
        model = model or os.environ.get("QA_LLM_MODEL") or None
        if base_url is None and model is None:
            return None
        if base_url is None or model is None:
            missing = "--llm URL (or QA_LLM_URL)" if base_url is None else \
                "--llm-model NAME (or QA_LLM_MODEL)"
            raise LLMError(f"an LLM needs both a server URL and a model name: add {missing}")
        return cls(base_url, model, api_key=os.environ.get("QA_LLM_API_KEY") or None,
                   **({"timeout": timeout} if timeout is not None else {}))

    @property
    def host(self) -> str:
        """Where the server is, for messages: scheme, host and port, no path or credentials."""
        url = urlsplit(self.base_url)
        return f"{url.scheme}://{url.hostname}{f':{url.port}' if url.port else ''}"


def stream_reply(llm: LLM, messages: list[Message], *,
                 stop: list[str] | None = None) -> Iterator[str]:
    """The model's reply to `messages`, piece by piece as the server streams it; the reply
    ends at any of the `stop` strings (at most 4).

    The call runs in a worker thread so that the deadline (`llm.timeout`, counted from
    this call) holds however the server behaves: silent, slow, or dropping the connection.

    Raises:
        LLMError: with a one-line reason, on any failure or when the deadline passes.
    """
    deadline = time.monotonic() + llm.timeout
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
    request = {"model": llm.model, "messages": messages, "max_tokens": llm.max_tokens,
               "temperature": llm.temperature, **({"stop": stop} if stop else {})}
    halt = threading.Event()
    worker = threading.Thread(target=_pump, args=(llm, request, deadline, pieces, halt),
                              name="qa-llm", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LLMError(f"the LLM server at {llm.host} did not finish its answer "
                               f"within {llm.timeout:g} s") from None
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        halt.set()


def _pump(llm: LLM, request: dict[str, Any], deadline: float,
          out: queue.Queue[tuple[str, Any]], stop: threading.Event) -> None:
    """Worker: put ("piece", text)... then ("done", None) or ("error", LLMError)."""
    try:
        for piece in _attempts(llm, request, deadline, stop):
            out.put(("piece", piece))
        out.put(("done", None))
    except LLMError as exc:
        out.put(("error", exc))
    except Exception as exc:  # noqa: BLE001 - a broken reply must not kill the caller
        logger.info("LLM reply failed: %s: %s", type(exc).__name__, exc)
        broke = type(exc).__module__.startswith(("httpx", "httpcore"))
        what = "broke off mid-answer" if broke else "sent a malformed reply"
        out.put(("error", LLMError(f"the LLM server at {llm.host} {what} "
                                   f"({type(exc).__name__})")))


def _client(llm: LLM) -> Any:
    try:
        import openai
    except ImportError:
        raise LLMError("the openai package is missing: pip install 'qa[llm]'") from None
    return openai.OpenAI(base_url=llm.base_url, api_key=llm.api_key or "no-key",
                         max_retries=0, timeout=llm.timeout)


def _attempts(llm: LLM, request: dict[str, Any], deadline: float,
              stop: threading.Event) -> Iterator[str]:
    """The streamed pieces, retrying a failed connection while no text has come yet."""
    import openai

    client = _client(llm)
    for attempt in range(RETRIES + 1):
        started = False
        try:
            for piece in _one_stream(client, request, deadline, stop):
                started = True
                yield piece
            return
        except (openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:
            wait = BACKOFF * 2**attempt
            if started or attempt == RETRIES or time.monotonic() + wait >= deadline:
                raise LLMError(_describe(llm, exc)) from None
            logger.info("LLM server at %s: %s; retrying in %.1f s", llm.host,
                        type(exc).__name__, wait)
            time.sleep(wait)
        except openai.APIError as exc:
            raise LLMError(_describe(llm, exc)) from None


def _one_stream(client: Any, request: dict[str, Any], deadline: float,
                stop: threading.Event) -> Iterator[str]:
    stream = client.chat.completions.create(**request, stream=True,
                                            timeout=max(0.1, deadline - time.monotonic()))
    with stream:
        for chunk in stream:
            if stop.is_set():
                return
            piece = _piece(chunk)
            if piece:
                yield piece


def _piece(chunk: Any) -> str:
    """The text of one streamed chunk ("" for role-only or empty chunks)."""
    choices = getattr(chunk, "choices", None)
    if choices is None:
        raise ValueError("a streamed chunk without choices")
    if not choices:
        return ""
    content = choices[0].delta.content if choices[0].delta is not None else None
    if content is not None and not isinstance(content, str):
        raise ValueError("a streamed chunk whose content is not text")
    return content or ""


def _describe(llm: LLM, exc: Exception) -> str:
    """A one-line reason for a failed call (never the key)."""
    import openai

    where = f"the LLM server at {llm.host}"
    if isinstance(exc, openai.APITimeoutError):
        return f"{where} did not answer within {llm.timeout:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return f"{where} cannot be reached"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"{where} refused the API key (HTTP {exc.status_code}; set QA_LLM_API_KEY)"
    if isinstance(exc, openai.NotFoundError):
        return f"{where} has no model {llm.model!r} (HTTP 404)"
    if isinstance(exc, openai.APIStatusError):
        return f"{where} answered HTTP {exc.status_code}"
    return f"{where} sent a malformed reply ({type(exc).__name__})"
