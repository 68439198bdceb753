"""Tables of articles, one per row: CSV and TSV (stdlib csv), Parquet (pyarrow).

The text is in the `text` column (or `ReadOptions.text_column`); `id`, `title`, `date`
and `url` columns are used when present, and every other column is kept as metadata.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator
from typing import Any

from ..errors import IngestError
from ..schema import Article
from . import Bad, ReadOptions, check_size

KNOWN = ("id", "title", "date", "url")


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def _csv_rows(source: str, data: bytes, delimiter: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{source}: not UTF-8 text (bad byte at offset {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise IngestError(f"{source}: not a readable table ({exc})") from None
    return header, reader


def _parquet_rows(source: str, data: bytes, options: ReadOptions
                  ) -> tuple[list[str], Iterator[dict[str, Any]]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise IngestError(f"{source}: reading Parquet needs pyarrow: "
                          "pip install 'qa[parquet]'") from None
    try:
        file = pq.ParquetFile(pa.BufferReader(data))
        meta = file.metadata
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{source}: not a readable Parquet file ({exc})") from None
    if meta.num_rows > options.max_rows or unpacked > max(options.max_chars * 4, options.max_bytes):
        raise IngestError(f"{source}: {meta.num_rows:,} rows, {unpacked:,} bytes unpacked: "
                          "past the limits; refused")
    try:
        rows = file.read().to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{source}: not a readable Parquet file ({exc})") from None
    return list(file.schema_arrow.names), iter(rows)


def read_table(source: str, data: bytes, *, fmt: str, stem: str, options: ReadOptions,
               bad: Bad) -> list[Article]:
    """One article per row of a CSV, TSV or Parquet table, sourced as "TABLE:N" (N from 1).

    Raises:
        IngestError: unreadable, no text column, or (through `bad`) a row without text.
    """
    from ..corpus import make_article

    if fmt == "parquet":
        header, rows = _parquet_rows(source, data, options)
    else:
        header, rows = _csv_rows(source, data, "\t" if fmt == "tsv" else ",")
    column = options.text_column
    if column not in header:
        raise IngestError(f"{source}: no {column!r} column (columns: {', '.join(header)[:200]}); "
                          "name the text column with --text-column")
    articles: list[Article] = []
    chars = 0
    try:
        for n, row in enumerate(rows, start=1):
            if n > options.max_rows:
                raise IngestError(f"{source}: more than {options.max_rows:,} rows; refused")
            text = row.get(column)
            if not isinstance(text, str) or not text.strip():
                bad(IngestError(f"{source}:{n}: no text in column {column!r}"))
                continue
            chars += len(text)
            check_size(source, chars, options)
            articles.append(_row_article(make_article, row, text, source=source, n=n, stem=stem,
                                         column=column, fmt=fmt))
    except csv.Error as exc:
        raise IngestError(f"{source}: not a readable table ({exc})") from None
    return articles


def _row_article(make_article: Any, row: dict[str, Any], text: str, *, source: str, n: int,
                 stem: str, column: str, fmt: str) -> Article:
    def field(name: str) -> str | None:
        value = row.get(name)
        return str(_json_safe(value)).strip() or None if value not in (None, "") else None

    meta = {k: _json_safe(v) for k, v in row.items()
            if k not in KNOWN and k != column and k is not None and v not in (None, "")}
    return make_article(text, id=field("id") or f"{stem}:{n}", source=f"{source}:{n}",
                        title=field("title"), date=field("date"), meta=meta, url=field("url"),
                        format=fmt)
