"""The `qa` command, run as a user would: output, JSON, and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qa
from qa.cli import app

from .conftest import SEEDS

runner = CliRunner()


def qa_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m qa` in a subprocess, as a shell user would."""
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_ask_answers_with_a_citation_into_the_right_file(seed_index: qa.Index) -> None:
    result = runner.invoke(app, ["ask", "Which sectors did Tokayev and Ma Xingrui discuss?",
                                 "--index", str(seed_index.path)])
    assert result.exit_code == 0, result.output
    assert "[1]" in result.output and "000_ed18d489a2ac6f1b.txt" in result.output
    assert "2023-03-28" in result.output


def test_ask_json_is_the_answer_record(seed_index: qa.Index) -> None:
    result = runner.invoke(app, ["ask", "Who is Zhao Leji?", "--index", str(seed_index.path),
                                 "--json"])
    data = json.loads(result.output)
    assert data["abstained"] is False and data["citations"][0]["n"] == 1
    assert "Zhao Leji" in data["text"]


def test_search_modes_and_json(seed_index: qa.Index) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        result = runner.invoke(app, ["search", "trade grew 34 percent", "--index",
                                     str(seed_index.path), "-k", "2", "--mode", mode, "--json"])
        hits = json.loads(result.output)
        assert len(hits) == 2 and "34 percent" in hits[0]["text"]


def test_ask_min_confidence_refuses_or_answers_anyway(seed_index: qa.Index) -> None:
    question = "What is the capital of France?"
    index = ["--index", str(seed_index.path), "--json"]
    refused = json.loads(runner.invoke(app, ["ask", question, *index]).output)
    anyway = json.loads(runner.invoke(app, ["ask", question, *index,
                                            "--min-confidence", "0"]).output)
    assert refused["abstained"] and not anyway["abstained"] and anyway["citations"]
    assert anyway["confidence"] == refused["confidence"] > 0
    bad = runner.invoke(app, ["ask", question, *index, "--min-confidence", "2"])
    assert bad.exit_code == 2 and "min-confidence" in bad.output


def test_ask_with_a_folder_that_holds_no_trained_models_is_a_one_line_error(
        seed_index: qa.Index, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "Who is Zhao Leji?", "--index", str(seed_index.path),
                                 "--models", str(tmp_path)])
    assert result.exit_code == 1 and "holds no trained models" in result.output
    assert "Traceback" not in result.output


def test_info_describes_the_index(seed_index: qa.Index) -> None:
    result = runner.invoke(app, ["info", "--index", str(seed_index.path)])
    assert result.exit_code == 0
    assert "all-MiniLM-L6-v2" in result.output and "2 articles" in result.output
    assert "up to date" in result.output
    threshold = seed_index.answerer.threshold()
    assert f"abstains: below confidence {threshold:.3f}" in result.output


def test_build_then_rebuild_only_when_needed(tmp_path: Path) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    index = str(tmp_path / "idx")
    first = qa_cli("build", str(corpus), "--index", index)
    assert first.returncode == 0, first.stderr
    assert "indexed 2 articles" in first.stdout and "no index yet" in first.stderr
    assert "up to date" in qa_cli("build", str(corpus), "--index", index).stdout
    (corpus / "extra.md").write_text("# Extra\n\nA third article about melons.", encoding="utf-8")
    third = qa_cli("build", str(corpus), "--index", index)
    assert "sources changed" in third.stderr and "indexed 3 articles" in third.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["ask", "   "], "error: the question is empty"),
    (["ask", "x" * 5000], "error: the question is too long"),
    (["ask", "Who?", "--index", "{tmp}/missing"], "error: no index in"),
    (["build", "{tmp}/no-such-dir", "--index", "{tmp}/idx"], "no such file or directory"),
    (["build", "{tmp}/bad.txt", "--index", "{tmp}/idx"], "not UTF-8"),
    (["build", "{tmp}/bad.jsonl", "--index", "{tmp}/idx"], "bad.jsonl:2: not valid JSON"),
    (["build", "{tmp}/empty", "--index", "{tmp}/idx"], "no articles with text"),
    (["build", "", "--index", "{tmp}/idx"], "empty path"),
])
def test_bad_input_is_one_line_on_stderr(seed_index: qa.Index, tmp_path: Path,
                                         args: list[str], message: str) -> None:
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{oops\n', encoding="utf-8")
    (tmp_path / "empty").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "ask" and "--index" not in args:
        args += ["--index", str(seed_index.path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_skip_bad_warns_and_indexes_the_rest(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "good.txt").write_text("Melons grow well in Turkestan.", encoding="utf-8")
    (tmp_path / "docs" / "bad.txt").write_bytes(b"\x00\x01")
    result = qa_cli("build", str(tmp_path / "docs"), "--index", str(tmp_path / "idx"), "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert "warning: skipped" in result.stderr and "bad.txt: binary file" in result.stderr
    assert "indexed 1 articles" in result.stdout


def test_stale_index_is_refused_with_advice(tmp_path: Path, seed_index: qa.Index) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    index = tmp_path / "idx"
    assert qa_cli("build", str(corpus), "--index", str(index)).returncode == 0
    (corpus / "000_ed18d489a2ac6f1b.txt").write_text("Changed.", encoding="utf-8")
    result = runner.invoke(app, ["ask", "Who?", "--index", str(index)])
    assert result.exit_code == 1
    assert "stale" in result.stderr and "qa build" in result.stderr


def test_help_is_fast_and_lists_commands() -> None:
    result = qa_cli("--help")
    assert result.returncode == 0
    for command in ("build", "search", "ask", "info", "serve"):
        assert command in result.stdout


def test_add_remove_and_index_type_through_the_cli(tmp_path: Path) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    index = str(tmp_path / "idx")
    first = qa_cli("build", str(corpus / "000_ed18d489a2ac6f1b.txt"), "--index", index,
                   "--index-type", "hnsw")
    assert first.returncode == 0, first.stderr
    added = runner.invoke(app, ["add", str(corpus / "001_e2c74f9a2f197b54.txt"), "--index", index])
    assert added.exit_code == 0 and "2 articles" in added.output
    info = runner.invoke(app, ["info", "--index", index, "--json"])
    assert json.loads(info.output)["faiss"]["type"] == "hnsw"
    removed = runner.invoke(app, ["remove", "000_ed18d489a2ac6f1b.txt", "--index", index])
    assert removed.exit_code == 0 and "1 articles" in removed.output
    missing = runner.invoke(app, ["remove", "nope.txt", "--index", index])
    assert missing.exit_code == 1 and "is a source of this index" in missing.stderr


def test_build_a_mixed_folder_and_count_formats(mixed_folder: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "idx")
    built = qa_cli("build", str(mixed_folder), "--index", index)
    assert built.returncode == 0, built.stderr
    assert "indexed 11 articles" in built.stdout
    info = runner.invoke(app, ["info", "--index", index])
    assert "formats:  4 feed, 2 pdf, 2 csv, 2 parquet, 1 html" in info.output
    again = qa_cli("build", str(mixed_folder), "--index", index)
    assert "up to date (11 articles)" in again.stdout
    answer = runner.invoke(app, ["ask", "How much electricity did the Osterbeck wind farm "
                                        "produce in 2023?", "--index", index])
    assert "1,870" in answer.output and "osterbeck-report.pdf, page 2 [" in answer.output
    hits = runner.invoke(app, ["search", "Tarven gorge glass bridge", "-k", "1", "--index", index])
    assert "bridge.html [" in hits.output and "<https://news.example.org/2024/04/" in hits.output


def test_text_column_and_bad_files_are_one_line_errors(tmp_path: Path, mixed_folder: Path) -> None:
    from tests import stories
    from tests.writers import write_csv

    table = write_csv(tmp_path / "t.csv", [stories.TRAM], text_column="body")
    index = str(tmp_path / "idx")
    refused = qa_cli("build", str(table), "--index", index)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"error: {table}: no 'text' column (columns: id, title, date, url, body, section, "
        "words); name the "
        "text column with --text-column"]
    built = qa_cli("build", str(table), "--index", index, "--text-column", "body")
    assert built.returncode == 0 and "indexed 1 articles" in built.stdout
    locked = tmp_path / "locked.pdf"
    from tests.writers import write_pdf

    write_pdf(locked, [["Nothing to read here."]], password="pw")
    failed = qa_cli("add", str(locked), "--index", index)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1
    assert "encrypted PDF" in failed.stderr
