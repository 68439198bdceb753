"""Fetching an article's address (http or https) with httpx, within limits.

One GET per address and build: a clear user agent, redirects followed (at most
`FetchLimits.max_redirects`), a timeout for each step and for the whole download, and a
size limit counted on the decoded body (so a compressed response cannot unpack past it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from .errors import IngestError

logger = logging.getLogger(__name__)

ACCEPT = ("text/html, application/xhtml+xml, application/pdf, application/rss+xml, "
          "application/atom+xml, application/xml;q=0.9, text/*;q=0.8, */*;q=0.5")


def is_url(text: str) -> bool:
    """Whether `text` is an http or https address (not a file path)."""
    return text.strip().lower().startswith(("http://", "https://"))


def user_agent() -> str:
    from .store import qa_version

    return f"qa/{qa_version()} (offline question answering; fetches only the addresses it is given)"


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Limits on one download.

    Attributes:
        timeout: seconds for each step (connect, each read) and for the whole download.
        max_bytes: largest body accepted, after decompression.
        max_redirects: most redirects followed.
    """

    timeout: float = 20.0
    max_bytes: int = 100 * 2**20
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded body, the address it finally came from and its content type."""

    url: str
    data: bytes
    content_type: str | None


def address_stem(url: str) -> str:
    """A short id for the article at `url`: the last part of its path, else its host."""
    parts = urlsplit(url)
    return PurePosixPath(parts.path).stem or parts.hostname or "page"


def check_address(url: str) -> str:
    """The address stripped; an IngestError unless it is http(s) with a host."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise IngestError(f"{url}: not an http(s) address")
    return url


def fetch(url: str, *, limits: FetchLimits | None = None) -> Fetched:
    """Download `url`, following redirects, within `limits`.

    Raises:
        IngestError: a bad address, an HTTP error status, a timeout, too many redirects,
            a body past the size limit, or a network failure; the message names the address.
    """
    import httpx

    limits = limits or FetchLimits()
    url = check_address(url)
    headers = {"User-Agent": user_agent(), "Accept": ACCEPT}
    try:
        with httpx.Client(timeout=limits.timeout, follow_redirects=True, headers=headers,
                          max_redirects=limits.max_redirects) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise IngestError(f"{url}: HTTP {response.status_code} "
                                  f"{response.reason_phrase}".rstrip())
            data = _body(url, response, limits)
            final = str(response.url)
    except httpx.TimeoutException:
        raise IngestError(f"{url}: no answer within {limits.timeout:g} s") from None
    except httpx.TooManyRedirects:
        raise IngestError(f"{url}: more than {limits.max_redirects} redirects") from None
    except httpx.HTTPError as exc:
        raise IngestError(f"{url}: cannot fetch ({type(exc).__name__}: {exc})") from None
    logger.info("fetched %s (%d bytes)", final, len(data))
    return Fetched(url=final, data=data, content_type=response.headers.get("content-type"))


def _body(url: str, response: object, limits: FetchLimits) -> bytes:
    """The decoded body, stopped past `max_bytes` or after `timeout` seconds in all."""
    headers = response.headers  # type: ignore[attr-defined]
    declared = headers.get("content-length", "")
    too_big = f"{url}: larger than the limit of {limits.max_bytes:,} bytes; refused"
    if declared.isdigit() and "content-encoding" not in headers and \
            int(declared) > limits.max_bytes:
        raise IngestError(too_big)
    deadline = time.monotonic() + limits.timeout
    body = bytearray()
    for chunk in response.iter_bytes():  # type: ignore[attr-defined]
        body += chunk
        if len(body) > limits.max_bytes:
            raise IngestError(too_big)
        if time.monotonic() > deadline:
            raise IngestError(f"{url}: download took more than {limits.timeout:g} s; stopped")
    return bytes(body)
