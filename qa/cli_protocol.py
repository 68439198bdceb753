"""`qa train` and `qa eval --protocol`: fit the shipped models on the tuning data, and
measure tuning and held-out sets apart (see qa.datasets, qa.protocol, qa.train)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from .models import Models

DataOpt = Annotated[str, typer.Option(
    help="Folder with squad-dev-v1.1.json, squad2-dev-5articles.json and news-bbc.jsonl "
         "(sources and checksums: ../shared/bench/SOURCES.md).", envvar="QA_BENCH_DATA")]
WorkOpt = Annotated[str, typer.Option(help="Folder for the article files and indexes the "
                                           "sets need (re-used when unchanged).")]


def _check_data(data: str) -> Path:
    from .datasets import BBC, SQUAD1
    from .errors import IngestError

    folder = Path(data)
    missing = [name for name in (SQUAD1, BBC) if not (folder / name).is_file()]
    if missing:
        raise IngestError(f"{folder}: missing {', '.join(missing)} (see ../shared/bench/"
                          "SOURCES.md for where they come from)")
    return folder


def _progress() -> tuple[object, object]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in bars:
            bars[step] = tqdm(total=total, desc=step, unit="question", file=sys.stderr,
                              disable=None, leave=False)
        bars[step].update(done - bars[step].n)

    return progress, bars


def train_command(
    data: DataOpt = "../shared/bench",
    work: WorkOpt = ".qa-train",
    out: Annotated[str, typer.Option(help="Where to write the models.")] = "qa/models",
    seed: Annotated[int, typer.Option(help="Random seed (folds, bagging).")] = 0,
    trees: Annotated[int, typer.Option(min=1, help="Boosting rounds of the ranker.")] = 300,
) -> None:
    """Re-fit the ranker, the sentence scorer and the answerability model from the tuning
    data only (SQuAD v1.1 dev articles 1-32 without the SQuAD 2.0 ones, the seed questions,
    benchmarks/questions/bbc_tuning.jsonl). The sentence scorer reads the sentence reader
    if --out holds one (reader.onnx, from `qa train-reader`; the shipped models do not).
    About 20 minutes on 2 cores, 30 with the reader.
    Example: qa train --data ../shared/bench --out qa/models"""
    from .cli import hide_loading_bars, print_json, run
    from .models import READER_FILE
    from .train import TrainConfig, train, tuning_sets

    run(_check_training_libraries)
    folder = run(lambda: _check_data(data))
    t0 = time.perf_counter()
    hide_loading_bars()
    if not (Path(out) / READER_FILE).exists():
        typer.echo(f"no {READER_FILE} in {out}/: no quotes model is fitted (the sentence "
                   "reader's scorer), as in the shipped models (docs/training.md)", err=True)
    typer.echo(f"building the tuning indexes in {work}/ ...", err=True)
    sets = run(lambda: tuning_sets(folder, Path(work)))
    progress, _ = _progress()
    report = run(lambda: train(sets, Path(out), TrainConfig(seed=seed, trees=trees),
                               progress=progress))  # type: ignore[arg-type]
    report.seconds = time.perf_counter() - t0
    print_json(report.to_dict())
    typer.echo(f"models written to {out}/ in {report.seconds / 60:.1f} min", err=True)


def train_reader_command(
    data: DataOpt = "../shared/bench",
    work: WorkOpt = ".qa-train",
    out: Annotated[str, typer.Option(help="Where to write reader.onnx.")] = "qa/models",
    seed: Annotated[int, typer.Option(help="Random seed (groups, order, weights).")] = 0,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps of 4 groups.")] = 800,
) -> None:
    """Fine-tune the sentence reader (a question-sentence cross-encoder from the bundled
    MiniLM) on the tuning data only: SQuAD v1.1 dev articles 1-32 and
    benchmarks/questions/bbc_tuning.jsonl. About 30 minutes on 2 cores. Run `qa train`
    after it: the sentence scorer and answerability model read its scores.
    Example: qa train-reader --data ../shared/bench --out qa/models"""
    from .cli import hide_loading_bars, print_json, run
    from .train_reader import ReaderConfig, expected_minutes, reader_groups, train_reader

    folder = run(lambda: _check_data(data))
    config = ReaderConfig(seed=seed, steps=steps)
    hide_loading_bars()
    squad, news = run(lambda: reader_groups(folder, Path(work), config))
    typer.echo(f"{len(squad)} SQuAD and {len(news)} news groups; about "
               f"{expected_minutes(config):.0f} min", err=True)
    progress, _ = _progress()
    report = run(lambda: train_reader(squad, news, Path(out), config,
                                      progress=progress))  # type: ignore[arg-type]
    print_json(asdict(report))
    typer.echo(f"reader written to {out}/ in {report.seconds / 60:.1f} min", err=True)


def _check_training_libraries() -> None:
    """Training needs LightGBM and scikit-learn, which querying does not: say so first."""
    import importlib.util

    from .errors import QAError

    missing = [name for name in ("lightgbm", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        raise QAError(f"qa train needs {' and '.join(missing)}: pip install 'qa[train]'")


def eval_protocol(data: str, work: str, *, as_json: bool, sample: int | None,
                  models: Models | None = None) -> None:
    """Every tuning and held-out set of the protocol, printed as two tables; asked with
    `models` (qa.Models) when given, else the shipped ones."""
    import functools

    from .builder import build
    from .cli import hide_loading_bars, print_json, run
    from .protocol import evaluate_set, format_reports, protocol_sets, reusing

    folder = run(lambda: _check_data(data))
    hide_loading_bars()
    typer.echo(f"building the protocol's indexes in {work}/ ...", err=True)
    builder = None if models is None else reusing(functools.partial(build, models=models))
    sets = run(lambda: protocol_sets(folder, Path(work), builder=builder))
    reports = []
    for s in sets:
        typer.echo(f"asking {s.name} ({len(s.questions)} questions)", err=True)
        reports.append(run(lambda s=s: evaluate_set(s, sample=sample)))
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        typer.echo(format_reports(reports))
