"""`jingyu score --workers N`: chunks scored on a process pool, written in input order,
identical to one process."""
from __future__ import annotations

import pandas as pd

from flows.cli import main
from flows.scoring import score_csv

TEXTS = [
    "男子酒后袭警，将两名民警打伤，已被刑事拘留",
    "民警跳入冰冷河水救起落水儿童，点赞人民警察！",
    "今天天气很好，适合去公园散步",
    "<p>临江派出所民警在滨河路夜市处置纠纷</p>",
    "转发微博 临江派出所民警在滨河路夜市处置纠纷",
    "",
    "青川市北湖区学府路发生一起交通事故，交警到场",
]


def test_workers_write_what_one_process_writes(tmp_path, capsys) -> None:
    source = tmp_path / "in.csv"
    rows = 230
    pd.DataFrame({"id": range(rows), "text": [TEXTS[i % len(TEXTS)] + f" 第{i}条"
                                             for i in range(rows)]}).to_csv(source, index=False)
    single, pooled = tmp_path / "one.csv", tmp_path / "pool.csv"
    assert score_csv(source, single, chunk_rows=17) == rows
    assert main(["score", str(source), "-o", str(pooled), "--workers", "2"]) == 0
    assert f"scored {rows} rows" in capsys.readouterr().out
    assert score_csv(source, tmp_path / "pool17.csv", workers=3, chunk_rows=17) == rows
    # The same rows, in input order; sentiment equal up to BLAS rounding in the batch a text
    # was scored with (its 8th decimal), every other column byte for byte.
    tables = [pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
              for path in (single, pooled, tmp_path / "pool17.csv")]
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table.drop(columns="sentiment"),
                                      tables[0].drop(columns="sentiment"))
        assert (table["sentiment"] - tables[0]["sentiment"]).abs().max() < 1e-6

    scored = tables[1]
    assert list(scored["id"]) == list(range(rows))
    assert scored.loc[3, "places"] == "qingchuan.linjiang.linjiang_pcs"
    assert set(scored.loc[3, "story_keys"].split("|")) & set(scored.loc[4, "story_keys"].split("|"))
    assert "police.assault: " in scored.loc[0, "rule_hits"]


def test_an_empty_table_keeps_its_header(tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n", encoding="utf-8")
    assert score_csv(source, tmp_path / "out.csv", workers=2) == 0
    header = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("id,text,sentiment") and header.endswith("places,story_keys")


def test_bad_worker_count_exits_2(tmp_path, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,民警\n", encoding="utf-8")
    assert main(["score", str(source), "-o", str(tmp_path / "o.csv"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
