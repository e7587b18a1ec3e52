"""Progress of long work (`jingyu score`, `rescore`, the demo's set-up) on a terminal: a bar
with the rate and the time left (tqdm). Quiet when the output is not a terminal (a service,
a pipe, a log file), where a bar would only fill the log with carriage returns."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def progress(description: str, total: int | None = None, unit: str = "posts",
             stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """A function to call with the number of items just done. `total` (when known) gives
    the percentage and the time left; the rate is shown either way."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield lambda done: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit=f" {unit}", file=stream, dynamic_ncols=True,
              smoothing=0.1, mininterval=0.5) as bar:
        yield bar.update


def count_lines(path, chunk_bytes: int = 1 << 20) -> int:
    """Newlines in a file, read in chunks: the rows of a CSV, near enough for a time left (a
    field holding line breaks counts once per line)."""
    count = 0
    with open(path, "rb") as file:
        while chunk := file.read(chunk_bytes):
            count += chunk.count(b"\n")
    return count
