"""`jingyu score`: score the `text` column of a CSV file and write the result, streaming in
chunks (memory stays flat whatever the file's size), on one process or a pool of workers.

The output is opened in spreadsheets: its text cells are defused as `jingyu query` exports are
(jingyu.display.spreadsheet_cell: no formula, no control characters)."""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from collectors.tables import BadRow, HeaderProblem, csv_rows
from jingyu.config import config_file, load_yaml
from jingyu.display import spreadsheet_cell
from transforms.places import parse_jurisdictions
from transforms.rules import parse_rules
from transforms.scoring import SCORE_COLUMNS, Scorer, ScoringSettings, parse_scoring

CHUNK_ROWS = 5_000
# The scorer of this process: built once, by the parent before a fork (the workers inherit
# it, copy-on-write) or by each worker's initializer.
_scorer: Scorer | None = None


def load_scoring(config_dir: str | Path | None = None,
                 sentiment_model: str | None = None) -> ScoringSettings:
    """scoring.yaml (which sentiment model), with the command line's choice over it."""
    path = config_file("scoring.yaml", config_dir)
    settings = parse_scoring(load_yaml(path), path)
    return replace(settings, sentiment_model=sentiment_model) if sentiment_model else settings


def _build_scorer(config_dir: str | Path | None, sentiment_model: str | None = None) -> Scorer:
    # Not flows.settings.load_rules / load_places: importing flows.settings pulls in the
    # alerts and the warehouse, seconds of start-up a scoring process does not need.
    rules, places = (config_file(name, config_dir) for name in ("rules.yaml", "jurisdictions.yaml"))
    return Scorer(parse_rules(load_yaml(rules), rules), load_scoring(config_dir, sentiment_model),
                  places=parse_jurisdictions(load_yaml(places), places))


def _start_worker(config_dir: str | Path | None, sentiment_model: str | None = None) -> None:
    global _scorer
    if _scorer is None:
        _scorer = _build_scorer(config_dir, sentiment_model)


def _score_chunk(texts: list[str]) -> dict[str, list[Any]]:
    """SCORE_COLUMNS of each text, by column (cheaper to send between processes than rows)."""
    assert _scorer is not None, "the worker's scorer is built by _start_worker"
    rows = _scorer.score_texts(texts)
    return {column: [row[column] for row in rows] for column in SCORE_COLUMNS}


def _chunks(path: Path, chunk_rows: int, on_bad_row: Callable[[BadRow], None]
            ) -> Iterator[pd.DataFrame]:
    """The rows of the CSV, chunk_rows at a time. Read line by line (collectors.tables): a
    row longer than MAX_LINE_CHARS, a field over the csv module's limit or a quote left open
    costs its own row (reported to on_bad_row), never the file or unbounded memory."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            try:
                header, rows = csv_rows(file)
            except HeaderProblem as exc:
                raise ValueError(f"{path}: {exc}; it needs a header with a 'text' column"
                                 ) from None
            if "text" not in header:
                raise ValueError(f"{path}: no 'text' column (columns: {', '.join(header)})")
            batch: list[dict[str, str]] = []
            for _, row in rows:
                if isinstance(row, BadRow):
                    on_bad_row(row)
                    continue
                batch.append(row)
                if len(batch) == chunk_rows:
                    yield pd.DataFrame(batch, columns=header, dtype=str)
                    batch = []
            if batch:
                yield pd.DataFrame(batch, columns=header, dtype=str)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a readable UTF-8 CSV file: {exc}") from exc


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return csv_rows(file)[0]


def _joined(chunk: pd.DataFrame, scores: dict[str, list[Any]]) -> pd.DataFrame:
    kept = chunk.drop(columns=[c for c in SCORE_COLUMNS if c in chunk.columns])
    joined = kept.join(pd.DataFrame(scores, columns=list(SCORE_COLUMNS), index=chunk.index))
    joined.columns = [spreadsheet_cell(str(name)) for name in joined.columns]
    for name in joined.columns:
        if not pd.api.types.is_numeric_dtype(joined[name]):
            joined[name] = joined[name].map(spreadsheet_cell)
    return joined


def score_csv(input_path: str | Path, output_path: str | Path,
              config_dir: str | Path | None = None, workers: int = 1,
              chunk_rows: int = CHUNK_ROWS, sentiment_model: str | None = None,
              on_bad_row: Callable[[BadRow], None] | None = None,
              on_rows: Callable[[int], None] | None = None) -> int:
    """Read INPUT, add the score columns, write OUTPUT (UTF-8 with BOM so Excel reads it).

    The file is read and written `chunk_rows` at a time; with `workers` > 1 the chunks are
    scored by that many processes and written in input order. OUTPUT appears only complete:
    it is written beside and renamed at the end. A row that cannot be read (too long, a quote
    left open) is skipped and handed to on_bad_row; on_rows hears how many rows each written
    chunk held (progress). Returns the number of rows scored.
    """
    bad_row = on_bad_row or (lambda row: None)
    global _scorer
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    output = Path(output_path)
    partial = output.with_name(f".{output.name}.partial")
    # Configuration errors surface here, before any process starts; a fork then shares it.
    _scorer = _build_scorer(config_dir, sentiment_model)
    rows = 0
    try:
        with partial.open("w", encoding="utf-8-sig", newline="") as out:
            def write(chunk: pd.DataFrame, scores: dict[str, list[Any]]) -> None:
                nonlocal rows
                _joined(chunk, scores).to_csv(out, index=False, header=rows == 0)
                rows += len(chunk)
                if on_rows is not None:
                    on_rows(len(chunk))

            if workers == 1:
                for chunk in _chunks(path, chunk_rows, bad_row):
                    write(chunk, _score_chunk(list(chunk["text"])))
            else:
                _score_in_pool(path, chunk_rows, workers, (config_dir, sentiment_model), write,
                               bad_row)
            if rows == 0:  # a header and no rows: still a valid table with the new columns
                header = pd.DataFrame(columns=_header(path), dtype=str)
                _joined(header, {c: [] for c in SCORE_COLUMNS}).to_csv(out, index=False)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def _score_in_pool(path: Path, chunk_rows: int, workers: int,
                   scorer_args: tuple[str | Path | None, str | None],
                   write: Callable[[pd.DataFrame, dict[str, list[Any]]], None],
                   on_bad_row: Callable[[BadRow], None]) -> None:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending: deque[tuple[pd.DataFrame, Future]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_start_worker, initargs=scorer_args) as pool:
        for chunk in _chunks(path, chunk_rows, on_bad_row):
            pending.append((chunk, pool.submit(_score_chunk, list(chunk["text"]))))
            # Two chunks in flight per worker keep them busy; more would only fill memory.
            while len(pending) > 2 * workers:
                done, future = pending.popleft()
                write(done, future.result())
        while pending:
            done, future = pending.popleft()
            write(done, future.result())
