"""`jingyu eval sentiment FILE.csv` on real files."""
from __future__ import annotations

import re

from flows.cli import main


def test_eval_prints_the_three_measures(tmp_path, capsys) -> None:
    data = tmp_path / "dev.csv"
    data.write_text("label,text\n"
                    "1,民警跳进冰冷的河里救起孩子，太感动了，致敬人民警察！\n"
                    "1,谢谢派出所的民警帮我找回了丢失的钱包，服务特别好\n"
                    "0,辅警推倒老人还抢手机删视频，太恶心了，必须严惩\n"
                    "0,报警两个小时没人出警，这就是你们的为人民服务？失望透顶\n",
                    encoding="utf-8")
    assert main(["eval", "sentiment", str(data)]) == 0
    out = capsys.readouterr().out
    assert "4 rows (2 positive)" in out
    values = dict(re.findall(r"(accuracy|macro-F1|ROC AUC) ([0-9.]+)", out))
    assert set(values) == {"accuracy", "macro-F1", "ROC AUC"}
    assert all(0.0 <= float(v) <= 1.0 for v in values.values())
    assert "sentiment model: accurate" in out
    assert main(["eval", "sentiment", str(data), "--sentiment", "fast"]) == 0
    assert "sentiment model: fast" in capsys.readouterr().out


def test_eval_on_a_file_without_labels_exits_2(tmp_path, capsys) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("text\n好\n", encoding="utf-8")
    assert main(["eval", "sentiment", str(data)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "label" in err
