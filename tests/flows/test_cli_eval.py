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


def test_eval_stance_prints_accuracy_macro_f1_and_recall_per_class(tmp_path, capsys) -> None:
    data = tmp_path / "stance.csv"
    data.write_text("label,text\n"
                    "negative,报警有什么用，说了也白说\n"
                    "negative,某地民警殴打群众，涉事民警已停职\n"
                    "neutral,这种畜生，警察一定要严惩！\n"
                    "neutral,恳请警方尽快破案，还孩子一个公道\n"
                    "positive,民警跳入冰冷的河里救起落水儿童\n",
                    encoding="utf-8")
    assert main(["eval", "stance", str(data)]) == 0
    out = capsys.readouterr().out
    assert "5 rows (2 negative, 2 neutral, 1 positive)" in out
    assert "5 found police-related" in out
    values = dict(re.findall(r"(accuracy|macro-F1|negative|neutral|positive) ([0-9.]+)", out))
    assert set(values) == {"accuracy", "macro-F1", "negative", "neutral", "positive"}
    assert float(values["accuracy"]) == 1.0       # the issue's own cases, all right


def test_eval_stance_refuses_sentiment_labels(tmp_path, capsys) -> None:
    data = tmp_path / "wrong.csv"
    data.write_text("label,text\n1,感谢民警\n", encoding="utf-8")
    assert main(["eval", "stance", str(data)]) == 2
    err = capsys.readouterr().err
    assert "wrong.csv, line 2" in err and "negative, neutral or positive" in err


def test_eval_stance_scores_each_source_or_genre_of_the_file(tmp_path, capsys) -> None:
    """A labelled file with a genre (or group, or source) column is also scored per value:
    where the model is weak shows."""
    data = tmp_path / "genres.csv"
    data.write_text("id,genre,label,text\n"
                    "1,短视频,negative,报警有什么用，说了也白说\n"
                    "2,短视频,neutral,这种畜生，警察一定要严惩！\n"
                    "3,论坛,positive,民警跳入冰冷的河里救起落水儿童\n",
                    encoding="utf-8")
    assert main(["eval", "stance", str(data)]) == 0
    out = capsys.readouterr().out
    assert "by genre:" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.split() and line.split()[0] in ("短视频", "论坛")}
    assert rows["短视频"][0] == "2" and rows["论坛"][0] == "1"
    assert main(["eval", "stance", str(tmp_path / "plain.csv")]) == 2   # no such file
