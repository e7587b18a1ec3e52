"""`jingyu score IN.csv -o OUT.csv` on real files."""
from __future__ import annotations

import pandas as pd

from flows.cli import main


def test_score_adds_the_columns(tmp_path, capsys) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "text": [
        "男子酒后袭警，将两名民警打伤，已被刑事拘留",
        "民警跳入冰冷河水救起落水儿童，点赞人民警察！",
        "今天天气很好，适合去公园散步",
    ]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert main(["score", str(source), "-o", str(out)]) == 0
    assert "scored 3 rows" in capsys.readouterr().out
    scored = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    for column in ("sentiment", "polarity", "police_related", "topics", "keywords"):
        assert column in scored.columns
    assert list(scored["id"]) == [1, 2, 3]
    assert [bool(v) for v in scored["police_related"]] == [True, True, False]
    assert "police.assault" in scored.loc[0, "topics"].split("|")
    # Sentiment quality is measured by `jingyu eval sentiment`; here: well-formed values.
    assert all(0.0 <= v <= 1.0 for v in scored["sentiment"])
    assert set(scored["polarity"]) <= {"negative", "neutral", "positive"}


def test_score_without_text_column_exits_2(tmp_path, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,content\n1,民警\n", encoding="utf-8")
    assert main(["score", str(source), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "in.csv" in err and "'text'" in err


def test_score_missing_file_exits_2(tmp_path, capsys) -> None:
    assert main(["score", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
