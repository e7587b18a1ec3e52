"""`jingyu detect`: run the spike detector over a `timestamp,value` CSV, write scores and alerts."""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from alerts.detection.spike import SpikeDetector, SpikeParams

OUTPUT_COLUMNS = ("timestamp", "value", "anomaly_score", "alert")


def _parse_time(text: str) -> datetime:
    """ISO 8601; aware times are compared in UTC, naive ones are taken as UTC."""
    t = datetime.fromisoformat(text.strip())
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def detect_csv(input_path: str | Path, output_path: str | Path,
               params: SpikeParams | None = None) -> int:
    """Read INPUT (`timestamp,value`, one row per time bucket, oldest first), write OUTPUT.

    OUTPUT has one row per input row: timestamp and value as given, anomaly_score in [0, 1]
    (6 decimals) and alert (0/1). Returns the number of rows written. Raises
    FileNotFoundError for a missing input and ValueError, naming the file and line, for a
    missing column, an unparseable or non-increasing timestamp, or a bad value.
    """
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        # utf-8-sig: spreadsheets often save a BOM, which would otherwise rename `timestamp`.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 CSV file: {exc}") from exc
    if not rows:
        raise ValueError(f"{path}: empty file, expected a header 'timestamp,value'")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in ("timestamp", "value") if c not in header]
    if missing:
        raise ValueError(f"{path}, line 1: missing column(s) {', '.join(map(repr, missing))} "
                         f"(header: {','.join(header)})")
    ti, vi = header.index("timestamp"), header.index("value")

    stamps: list[str] = []
    raw_values: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue  # blank lines carry no bucket
        if len(row) <= max(ti, vi):
            raise ValueError(f"{path}, line {line_no}: expected columns 'timestamp' and 'value', "
                             f"got {len(row)} field(s)")
        t_text, v_text = row[ti].strip(), row[vi].strip()
        try:
            t = _parse_time(t_text)
        except ValueError:
            raise ValueError(f"{path}, line {line_no}, column 'timestamp': cannot parse "
                             f"{t_text!r} as an ISO 8601 time") from None
        if times and t <= times[-1]:
            raise ValueError(f"{path}, line {line_no}, column 'timestamp': {t_text!r} is not "
                             f"after the previous row's time (rows must be oldest first, "
                             f"no repeats)")
        try:
            v = float(v_text)
        except ValueError:
            raise ValueError(f"{path}, line {line_no}, column 'value': {v_text!r} "
                             f"is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{path}, line {line_no}, column 'value': {v_text!r} "
                             f"is not a finite count >= 0")
        stamps.append(t_text)
        raw_values.append(v_text)
        times.append(t)
        values.append(v)

    scores, alerts = SpikeDetector(params).score_series(np.array(times, dtype="datetime64[us]"),
                                                        values)
    with Path(output_path).open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(OUTPUT_COLUMNS)
        for t_text, v_text, s, a in zip(stamps, raw_values, scores.tolist(), alerts.tolist()):
            out.writerow((t_text, v_text, f"{s:.6f}", int(a)))
    return len(stamps)
