"""`jingyu score`: score the `text` column of a CSV file and write the result."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from flows.settings import load_rules
from transforms.scoring import Scorer


def score_csv(input_path: str | Path, output_path: str | Path,
              config_dir: str | Path | None = None) -> int:
    """Read INPUT, add the score columns, write OUTPUT (UTF-8 with BOM so Excel reads it)."""
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable UTF-8 CSV file: {exc}") from exc
    if "text" not in frame.columns:
        raise ValueError(f"{path}: no 'text' column (columns: {', '.join(frame.columns)})")
    scored = Scorer(load_rules(config_dir)).score_frame(frame)
    scored.to_csv(output_path, index=False, encoding="utf-8-sig")
    return len(scored)
