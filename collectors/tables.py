"""Read CSV and JSON Lines exports row by row; a broken row is skipped and named, never the file.

Exports from other platforms and crawlers are written by tools we do not control: a quote
left open, a field longer than the csv module accepts, a line that is not JSON. Each costs
its own row only. Rows are yielded with the physical line they start on.
"""
from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

# Longest physical line read whole; the rest of a longer line is skipped, so one huge line
# (a 200 MB cell) costs bounded memory and only its own row.
MAX_LINE_CHARS = 1 << 20


@dataclass(frozen=True)
class BadRow:
    line: int
    problem: str


class HeaderProblem(Exception):
    """The file has no usable header row."""


class _Lines:
    """Physical lines for csv.reader, remembering those of the current record so that a
    broken record can hand back all but its first line to be read again."""

    def __init__(self, file: IO[str], max_chars: int) -> None:
        self._file = file
        self._max_chars = max_chars
        self._pending: deque[tuple[int, str, bool]] = deque()
        self._read = 0
        self.taken: list[tuple[int, str, bool]] = []    # (line number, text, cut short)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pending:
            entry = self._pending.popleft()
        else:
            line = self._file.readline(self._max_chars)
            if not line:
                raise StopIteration
            self._read += 1
            cut = len(line) >= self._max_chars and line[-1] not in "\r\n"
            if cut:
                self._skip_rest_of_line()
            entry = (self._read, line, cut)
        self.taken.append(entry)
        return entry[1]

    def _skip_rest_of_line(self) -> None:
        while True:
            rest = self._file.readline(self._max_chars)
            if not rest or rest[-1] in "\r\n":
                return

    def new_record(self) -> None:
        self.taken = []

    def first_line(self) -> int:
        return self.taken[0][0] if self.taken else self._read

    def reread_all_but_first(self) -> None:
        self._pending.extendleft(reversed(self.taken[1:]))


def csv_rows(file: IO[str], max_line_chars: int = MAX_LINE_CHARS
             ) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | BadRow]]]:
    """The header and an iterator of (line, row by column name | BadRow).

    A record that spans lines is a quoted field with newlines — or a quote left open that
    swallows the rows after it. It is kept only when it parses cleanly (strict quoting) into
    as many fields as the header; otherwise its first line is reported and the lines after
    it are read again as rows of their own.
    """
    lines = _Lines(file, max_line_chars)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise HeaderProblem("the file is empty (no header row)") from None
    except csv.Error as exc:
        raise HeaderProblem(f"unreadable header row ({exc})") from None
    if any(cut for _, _, cut in lines.taken):
        raise HeaderProblem(f"header row longer than {max_line_chars} characters")
    return header, _records(reader, lines, header)


def _records(reader: Any, lines: _Lines, header: list[str]
             ) -> Iterator[tuple[int, dict[str, str] | BadRow]]:
    while True:
        lines.new_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = f"unreadable CSV ({exc})"
            if len(lines.taken) > 1:
                problem += "; a quote left open? the lines after it are read on their own"
            yield lines.first_line(), BadRow(lines.first_line(), problem)
            lines.reread_all_but_first()
            continue
        line = lines.first_line()
        if any(cut for _, _, cut in lines.taken):
            yield line, BadRow(line, f"row longer than {MAX_LINE_CHARS} characters, skipped")
            lines.reread_all_but_first()
            continue
        if not row:
            continue   # a blank line
        if len(lines.taken) > 1 and len(row) != len(header):
            yield line, BadRow(line, f"a quote left open: {len(row)} fields where the header "
                                     f"has {len(header)}; the lines after it are read on their own")
            lines.reread_all_but_first()
            continue
        yield line, dict(zip(header, row + [""] * (len(header) - len(row))))


def jsonl_rows(file: IO[str], max_line_chars: int = MAX_LINE_CHARS
               ) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    """(line, object | BadRow) for each non-blank line of a JSON Lines file."""
    lines = _Lines(file, max_line_chars)
    for line_number, text, cut in _each(lines):
        if cut:
            yield line_number, BadRow(line_number, f"line longer than {max_line_chars} "
                                                   "characters, skipped")
            continue
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line_number, BadRow(line_number, f"invalid JSON ({exc.msg})")
            continue
        if isinstance(row, dict):
            yield line_number, row
        else:
            yield line_number, BadRow(line_number, f"not a JSON object but {type(row).__name__}")


def _each(lines: _Lines) -> Iterator[tuple[int, str, bool]]:
    for _ in lines:
        yield lines.taken[-1]
        lines.new_record()
