"""The `qa` command: build an index, search it, ask it, serve the chat."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from .cli_llm import LLMModelOpt, LLMTimeoutOpt, LLMUrlOpt, make_llm, print_written
from .errors import QAError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Offline question answering over your articles, with cited answers.")
T = TypeVar("T")

IndexOpt = Annotated[str, typer.Option("--index", "-i", help="Index directory.",
                                       envvar="QA_INDEX")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ModelsOpt = Annotated[str | None, typer.Option(
    help="Folder of models you trained (qa train --out) to query with instead of the "
         "shipped ones.", envvar="QA_MODELS")]
TextColumnOpt = Annotated[str, typer.Option(
    help="Column of .csv/.tsv/.parquet tables that holds the article text.",
    envvar="QA_TEXT_COLUMN")]


class IndexTypeChoice(str, Enum):
    auto = "auto"
    flat = "flat"
    hnsw = "hnsw"
    ivfpq = "ivfpq"


class BackendChoice(str, Enum):
    torch = "torch"
    onnx = "onnx"
    onnx_int8 = "onnx-int8"


class ModeChoice(str, Enum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run(action: Callable[[], T]) -> T:
    """Call the library; its errors become one line on stderr and a non-zero exit."""
    try:
        return action()
    except QAError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                                       help="Log what qa is doing.")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # bm25s sets its own logger to DEBUG when imported, so filter at our handler instead.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.INFO if verbose else logging.WARNING)
    quiet_model_loading()


def quiet_model_loading() -> None:
    """Stay offline and hide transformers' weight-loading bar (the CLI draws its own)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def hide_loading_bars() -> None:
    """Turn off transformers' progress bars; called just before a model is loaded."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


@app.command()
def build(
    paths: Annotated[list[str], typer.Argument(
        help="Files, folders or http(s) addresses: .txt .md .jsonl .html .pdf, RSS/Atom feeds, "
             ".csv .tsv .parquet.")],
    index: IndexOpt = "embeddings",
    model: Annotated[str | None, typer.Option(help="sentence-transformers model name or path.",
                                              envvar="QA_MODEL")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if up to date.")] = False,
    skip_bad: Annotated[bool, typer.Option(help="Warn about and skip bad files/records.")] = False,
    max_words: Annotated[int, typer.Option(help="Longest passage, in words.")] = 120,
    overlap: Annotated[int, typer.Option(help="Sentences of overlap when splitting.")] = 0,
    index_type: Annotated[IndexTypeChoice, typer.Option(
        help="FAISS index: auto (exact up to 100k passages, HNSW up to 2M, IVF-PQ above), "
             "flat, hnsw, ivfpq."
    )] = IndexTypeChoice.auto,
    backend: Annotated[BackendChoice | None, typer.Option(
        help="Encoder: onnx-int8 (default for the bundled model: about 3x torch on CPU, same "
             "recall), onnx or torch (default for other models). See docs/benchmarks.md.",
        envvar="QA_BACKEND", show_default=False)] = None,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Embed with Ray Data (pip install 'qa[ray]'); a local Ray unless "
                      "--ray-address names a cluster.")] = False,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="QA_RAY_ADDRESS",
        help="Ray cluster for --ray (implies it): 'local', 'auto' or ray://HEAD:10001.",
    )] = None,
    text_column: TextColumnOpt = "text",
    reranker: Annotated[str | None, typer.Option(
        help="Your own CrossEncoder (a path, or a name in the local Hugging Face cache) to "
             "re-order the best 20 passages of every search, run by ONNX Runtime (int8); or "
             "a language model's .gguf file to re-order the best 5 by how likely it finds "
             "the question after each passage (seconds per question; needs qa[llm]); "
             "recorded in the manifest.", show_default=False)] = None,
) -> None:
    """Build (or refresh) the index of PATHS.  Example: qa build seeds/"""
    from tqdm import tqdm

    from . import store
    from .builder import build as build_index
    from .builder import onnx_cache, read_sources
    from .config import DEFAULT_MODEL, BuildConfig, ChunkConfig, default_backend
    from .formats import ReadOptions

    if skip_bad:
        logging.getLogger("qa").setLevel(logging.WARNING)
    chunk = run(lambda: ChunkConfig(max_words=max_words, overlap=overlap)
                ) if max_words > 0 and overlap >= 0 else None
    if chunk is None:
        raise fail("--max-words must be >= 1 and --overlap >= 0", 2)
    ray = ray or ray_address is not None
    encoder = backend.value if backend else default_backend(model)
    settings = BuildConfig(model=model or DEFAULT_MODEL, chunk=chunk, index_type=index_type.value,
                           backend=encoder, text_column=text_column).fingerprint()
    read = ReadOptions(text_column=text_column)
    corpus = run(lambda: read_sources(paths, index, skip_bad=skip_bad, read=read, force=force))
    for problem in corpus.skipped:
        typer.echo(f"warning: skipped {problem}", err=True)
    from pathlib import Path

    reason = "forced" if force else store.rebuild_reason(Path(index), corpus.files, settings)
    if reason is None:
        if reranker:
            run(lambda: build_index(corpus, index, model, chunk=chunk, read=read,
                                    index_type=index_type.value, backend=encoder,
                                    reranker=reranker))
            typer.echo(f"{index}/ is up to date; searches now re-ordered by {reranker}")
            return
        typer.echo(f"{index}/ is up to date ({len(corpus.articles)} articles); use --force to rebuild")
        return
    typer.echo(f"building {index}/: {reason}", err=True)
    graphs = onnx_cache(Path(index))
    if encoder != "torch" and not any(graphs.glob("*.onnx")):
        typer.echo(f"exporting the model to ONNX in {graphs}/ (first build only)", err=True)
    bar = tqdm(total=0, unit="passage", desc="embedding", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    hide_loading_bars()
    embedder = None
    if ray:
        from .distributed import RayEncoder

        embedder = RayEncoder(model, address=ray_address or "local", backend=encoder,
                              cache_dir=graphs)
    built = run(lambda: build_index(corpus, index, model, chunk=chunk, force=force, read=read,
                                    index_type=index_type.value, backend=encoder,
                                    skip_bad=skip_bad, progress=progress, embedder=embedder,
                                    reranker=reranker))
    bar.close()
    c = built.manifest["counts"]
    typer.echo(f"indexed {c['articles']} articles as {c['passages']} passages into {index}/")


def _load(index: str, models: str | None = None) -> Any:
    """The index, queried with the models in the folder `models` (default: the shipped)."""
    from .builder import load

    hide_loading_bars()
    trained = _trained(models)
    return run(lambda: load(index, models=trained))


def _trained(folder: str | None) -> Any:
    """The models `qa train --out FOLDER` wrote, or None (the shipped ones) without one."""
    from pathlib import Path

    from .models import Models

    return run(lambda: Models.load(Path(folder))) if folder else None


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = "embeddings",
    k: Annotated[int, typer.Option("-k", min=1, help="Number of passages.")] = 5,
    mode: Annotated[ModeChoice, typer.Option(help="Retrieval method.")] = ModeChoice.hybrid,
    source: Annotated[list[str] | None, typer.Option(help="Only these articles/files.")] = None,
    date_from: Annotated[str | None, typer.Option(help="Only passages dated on/after.")] = None,
    date_to: Annotated[str | None, typer.Option(help="Only passages dated on/before.")] = None,
    as_json: JsonOpt = False,
    models: ModelsOpt = None,
) -> None:
    """Show the passages that best match QUERY.  Example: qa search "trade in 2022" -k 3"""
    idx = _load(index, models)
    hits = run(lambda: idx.search(query, k=k, mode=mode.value, sources=source,
                                  date_from=date_from, date_to=date_to))
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        typer.echo("no matching passages")
    for h in hits:
        typer.echo(f"{h.rank}. {h.title} ({h.date or 'undated'}) {_where(h)}  score {h.score:.4f}")
        typer.echo(f"   {h.text}\n")


def _where(item: Any) -> str:
    """Source, page (PDFs), span and own address of a hit or citation, for people."""
    page = f", page {item.page}" if item.page else ""
    url = f" <{item.url}>" if item.url and item.url != item.source else ""
    return f"{item.source}{page} [{item.start}:{item.end}]{url}"


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    index: IndexOpt = "embeddings",
    k: Annotated[int, typer.Option("-k", min=1, help="Passages to consider.")] = 5,
    mode: Annotated[ModeChoice, typer.Option(help="Retrieval method.")] = ModeChoice.hybrid,
    as_json: JsonOpt = False,
    llm_url: LLMUrlOpt = None,
    llm_model: LLMModelOpt = None,
    llm_timeout: LLMTimeoutOpt = 60.0,
    min_confidence: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Abstain below this confidence (default: the trained "
        "threshold, see qa info); lower answers more, and more wrongly.")] = None,
    models: ModelsOpt = None,
) -> None:
    """Answer QUESTION from the articles, citing every sentence.
    Example: qa ask "Which sectors did Tokayev and Ma Xingrui discuss?\"
    With a model: qa ask "Who is Li Qiang?" --llm http://127.0.0.1:8080/v1 --llm-model gemma"""
    llm = run(lambda: make_llm(llm_url, llm_model, llm_timeout))
    idx = _load(index, models)
    answer = run(lambda: idx.ask(question, k=k, mode=mode.value, llm=llm,
                                 min_confidence=min_confidence))
    if as_json:
        print_json(answer.to_dict())
        return
    print_written(answer, llm)
    typer.echo(answer.text + "\n")
    for c in answer.citations:
        typer.echo(f"[{c.n}] {c.title} ({c.date or 'undated'}) {_where(c)}")
        typer.echo(f"    “{c.quote}”")
    if answer.abstained:
        typer.echo("Related reading:")
        for h in answer.hits[:3]:
            typer.echo(f"  - {h.title} ({h.date or 'undated'}) {_where(h)}")


@app.command()
def info(index: IndexOpt = "embeddings", as_json: JsonOpt = False) -> None:
    """Describe the index: model, settings, counts, sources."""
    from pathlib import Path

    from . import store

    manifest = run(lambda: store.read_manifest(Path(index)))
    if as_json:
        print_json(manifest)
        return
    c = manifest["counts"]
    stale = store.changed_sources(manifest)
    typer.echo(f"index:    {index}/ (format {manifest['format']}, built {manifest['created']})")
    typer.echo(f"model:    {manifest['model']['name']} ({manifest['model']['dimension']}-d)")
    typer.echo(f"settings: {json.dumps(manifest['settings'])}")
    typer.echo(f"corpus:   {c['files']} files, {c['articles']} articles, {c['passages']} passages")
    if c.get("formats"):
        typer.echo("formats:  " + ", ".join(f"{n} {kind}" for kind, n in c["formats"].items()))
    typer.echo("status:   " + ("stale: " + ", ".join(stale) if stale else "up to date"))
    _print_models(manifest)


def _print_models(manifest: dict[str, Any]) -> None:
    """Which trained models the index was built beside, which ones a query uses now, and
    the user's CrossEncoder if there is one."""
    from .models import Models

    models = Models.load()
    now = models.describe()
    built = manifest.get("models")
    typer.echo("ranking:  " + ", ".join(f"{k} {v}" for k, v in now.items()) +
               ("" if built in (None, now) else " (the index was built beside "
                + ", ".join(f"{k} {v}" for k, v in built.items()) + ")"))
    if models.answerable is not None:
        typer.echo(f"abstains: below confidence {models.answerable.threshold:.3f} (trained; "
                   "qa ask --min-confidence overrides)")
    if manifest.get("reranker"):
        from .cross import CROSS_DEPTH
        from .likelihood import LIKELIHOOD_DEPTH, is_gguf

        kind = (f"query likelihood, best {LIKELIHOOD_DEPTH}" if is_gguf(manifest["reranker"])
                else f"CrossEncoder, ONNX int8, best {CROSS_DEPTH}")
        typer.echo(f"reranker: {manifest['reranker']} ({kind})")


@app.command()
def add(
    paths: Annotated[list[str], typer.Argument(
        help="Files, folders or http(s) addresses to add or refresh.")],
    index: IndexOpt = "embeddings",
) -> None:
    """Add articles to an existing index, embedding only new text.
    Example: qa add new.md report.pdf https://example.org/feed.xml"""
    _update(index, lambda idx: idx.add(paths))


@app.command()
def remove(
    sources: Annotated[list[str], typer.Argument(help="Source files (as listed by qa info).")],
    index: IndexOpt = "embeddings",
) -> None:
    """Remove the articles of SOURCES from the index.  Example: qa remove old.md"""
    _update(index, lambda idx: idx.remove(sources))


def _update(index: str, change: Callable[[Any], Any]) -> None:
    """Apply `change` to the loaded index and say how it grew or shrank."""
    idx = _load(index)
    before = len(idx)
    run(lambda: change(idx))
    typer.echo(f"{index}/ now holds {idx.manifest['counts']['articles']} articles, "
               f"{len(idx)} passages ({len(idx) - before:+d})")


@app.command()
def serve(
    index: IndexOpt = "embeddings",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    auth: Annotated[str | None, typer.Option(help="USER:PASS required to log in.")] = None,
    mcp: Annotated[bool, typer.Option("--mcp", help="Also serve ask/search as MCP tools.")] = False,
    read_only: Annotated[bool, typer.Option(
        "--read-only", help="No adding or removing articles from the page or the API.")] = False,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest uploaded file or "
                                                 "fetched address, in MB.")] = 50,
    max_request_mb: Annotated[float, typer.Option(min=0.001, help="Most MB of files in one "
                                                  "add request.")] = 200,
    max_pdf_pages: Annotated[int, typer.Option(min=1, help="Largest PDF accepted, in "
                                               "pages.")] = 500,
    uploads: Annotated[str | None, typer.Option(help="Folder for uploaded files (default: "
                                                "INDEX-uploads beside the index).")] = None,
    llm_url: LLMUrlOpt = None,
    llm_model: LLMModelOpt = None,
    llm_timeout: LLMTimeoutOpt = 60.0,
    models: ModelsOpt = None,
) -> None:
    """Serve the chat page (http://127.0.0.1:7860 by default). Its Articles view adds and
    removes articles when bound to 127.0.0.1 or run with --auth, unless --read-only."""
    from pathlib import Path

    from .app import serve as serve_app
    from .manage import ManageConfig, UploadLimits

    if auth is not None and ":" not in auth:
        raise fail("--auth takes USER:PASS", 2)
    credentials = tuple(auth.split(":", 1)) if auth else None
    limits = UploadLimits(file_bytes=int(max_upload_mb * 2**20),
                          request_bytes=int(max_request_mb * 2**20), pdf_pages=max_pdf_pages)
    manage = ManageConfig(read_only=read_only, limits=limits,
                          uploads=Path(uploads) if uploads else None)
    llm = run(lambda: make_llm(llm_url, llm_model, llm_timeout))
    idx = _load(index, models)
    run(lambda: serve_app(idx, host=host, port=port, auth=credentials, mcp=mcp, manage=manage,
                          llm=llm))


class EvalMode(str, Enum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"
    all = "all"


def _squad_setup(squad: str, distractors: list[str], work: str,
                 models: Any = None) -> tuple[Any, list[Any]]:
    """The index of a SQuAD file's paragraphs (built on first use) and its questions,
    queried with `models` (default: the shipped ones)."""
    from pathlib import Path

    from tqdm import tqdm

    from .squad import build_squad_index, read_squad

    data = run(lambda: read_squad(squad))
    where = Path(work) / Path(squad).stem
    typer.echo(f"SQuAD {data.version}: {data.paragraphs} paragraphs, {len(data.questions)} "
               f"questions; index in {where}/index", err=True)
    bar = tqdm(total=0, unit="passage", desc="embedding", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    hide_loading_bars()
    idx = run(lambda: build_squad_index(data, where, distractors=distractors, progress=progress,
                                        models=models))
    bar.close()
    return idx, data.questions


def _evaluate_all(idx: Any, questions: list[Any], modes: tuple[str, ...]) -> list[Any]:
    """Every mode's report, with a progress bar per mode on a terminal."""
    from tqdm import tqdm

    from .evaluate import evaluate_mode

    reports = []
    for mode in modes:
        with tqdm(total=len(questions), desc=f"eval {mode}", unit="question", file=sys.stderr,
                  disable=None, leave=False) as bar:
            def progress(done: int, total: int, bar: Any = bar) -> None:
                bar.update(done - bar.n)

            reports.append(run(lambda m=mode, p=progress: evaluate_mode(idx, questions, m,
                                                                        progress=p)))
    return reports


@app.command("eval")
def eval_(
    questions: Annotated[str | None, typer.Argument(help="JSONL file: question, answers, "
                                                         "optional source, history.")] = None,
    index: IndexOpt = "embeddings",
    mode: Annotated[EvalMode, typer.Option(help="Retrieval method, or all three.")] = EvalMode.all,
    squad: Annotated[str | None, typer.Option(help="Evaluate on a SQuAD JSON file instead; "
                                                   "its paragraphs get their own index.")] = None,
    distractors: Annotated[list[str] | None, typer.Option(
        help="With --squad: more articles to index as distractors.")] = None,
    work: Annotated[str, typer.Option(help="With --squad: folder for its articles and index.")
                    ] = "squad-eval",
    limit: Annotated[int | None, typer.Option(min=1, help="Ask a fixed random sample of "
                                                          "this many questions.")] = None,
    misses: Annotated[bool, typer.Option("--misses", help="List each mode's misses.")] = False,
    as_json: JsonOpt = False,
    protocol: Annotated[str | None, typer.Option(
        help="Evaluate every tuning and held-out set of the protocol instead, from this "
             "data folder (../shared/bench); tables for tuning and held-out apart.")] = None,
    models: ModelsOpt = None,
) -> None:
    """Measure retrieval and answers against QUESTIONS: recall@k, MRR, answer hits,
    abstention, citation validity, latency. With --squad, the SQuAD paragraphs get their
    own index under --work instead of --index. With --protocol DATA, every tuning and
    held-out set (docs/evaluation.md), including abstention with the articles removed.
    Example: qa eval tests/data/seed_questions.jsonl --mode hybrid --misses"""
    from .config import MODES
    from .evaluate import format_misses, format_table, load_questions, sample_questions

    if protocol is not None:
        from .cli_protocol import eval_protocol

        eval_protocol(protocol, work if work != "squad-eval" else ".qa-protocol",
                      as_json=as_json, sample=limit, models=_trained(models))
        return
    if (questions is None) == (squad is None):
        raise fail("give a QUESTIONS file or --squad FILE (one of them)", 2)
    if distractors and not squad:
        raise fail("--distractors needs --squad", 2)
    if squad:
        idx, qs = _squad_setup(squad, distractors or [], work, _trained(models))
    else:
        qs = run(lambda: load_questions(questions or ""))
        idx = _load(index, models)
    qs = sample_questions(qs, limit)
    modes = MODES if mode is EvalMode.all else (mode.value,)
    reports = _evaluate_all(idx, qs, modes)
    if as_json:
        print_json({"index": str(idx.path), "passages": len(idx), "questions": len(qs),
                    "reports": [r.to_dict(misses=misses) for r in reports]})
        return
    typer.echo(f"{len(qs)} questions ({sum(q.answerable for q in qs)} answerable) "
               f"on {idx.path}/ ({len(idx)} passages)\n")
    typer.echo(format_table(reports))
    if misses:
        typer.echo("\n" + format_misses(reports))


def _register() -> None:
    from .cli_protocol import train_command, train_reader_command

    app.command("train")(train_command)
    app.command("train-reader")(train_reader_command)


_register()


def main() -> None:
    """Entry point of the `qa` console script."""
    app()
