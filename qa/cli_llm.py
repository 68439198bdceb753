"""The `--llm` options of `qa ask` and `qa serve`, and how `qa ask` prints a written answer."""

from __future__ import annotations

from typing import Annotated

import typer

from .llm import LLM
from .schema import Answer

LLMUrlOpt = Annotated[str | None, typer.Option(
    "--llm", envvar="QA_LLM_URL", show_default=False,
    help="OpenAI-compatible server whose model writes the answer, each sentence checked "
         "against its passage: e.g. http://127.0.0.1:8080/v1 (llama.cpp) or "
         "http://127.0.0.1:11434/v1 (Ollama). Its key, if any, is read from QA_LLM_API_KEY.")]
LLMModelOpt = Annotated[str | None, typer.Option(
    "--llm-model", envvar="QA_LLM_MODEL", show_default=False,
    help="Model name on the --llm server.")]
LLMTimeoutOpt = Annotated[float, typer.Option(
    "--llm-timeout", min=0.1, help="Seconds the model may take for a whole answer before "
                                   "the quoted answer is given instead.")]


def make_llm(url: str | None, model: str | None, timeout: float) -> LLM | None:
    """The LLM the options name (None without --llm); LLMError for a half-given one."""
    return LLM.from_env(url, model, timeout=timeout)


def print_written(answer: Answer, llm: LLM | None) -> None:
    """The lines `qa ask` adds around an answer when an LLM was asked: who wrote it,
    why it fell back, and which of the model's sentences were removed."""
    if llm is None:
        return
    if answer.generated:
        typer.echo(f"(written by {llm.model}; every sentence checked against the article "
                   "sentence it cites)")
    elif answer.notice:
        typer.echo(f"note: {answer.notice}", err=True)
    if answer.dropped:
        typer.echo(f"Removed {len(answer.dropped)} sentence(s) of the model's that the articles "
                   "do not support:")
        for line in answer.dropped:
            typer.echo(f"  - {line}")
