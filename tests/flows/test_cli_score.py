"""`jingyu score IN.csv -o OUT.csv` on real files."""
from __future__ import annotations

import csv
import subprocess
import sys

import pandas as pd
import pytest

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


def test_the_sentiment_model_is_chosen_by_scoring_yaml_and_the_command_line(tmp_path) -> None:
    from transforms.sentiment_bert import accurate_proba
    from transforms.sentiment_model import shipped_model as ngram_model
    from transforms.segment import load_tokenizer, segment
    from transforms.text import clean_text

    texts = ["派出所推诿扯皮，态度极差", "感谢民警帮我找回钱包，真心点赞", "今天天气很好，适合散步"]
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": texts}).to_csv(source, index=False)
    clean = [clean_text(t) for t in texts]          # what scoring reads: full-width -> half
    words = [segment(t, load_tokenizer()) for t in clean]
    expected = {"accurate": accurate_proba(clean, words),
                "fast": ngram_model().predict_proba(clean, words)}

    def scored(*options: str, config: str | None = None) -> list[float]:
        out = tmp_path / "out.csv"
        args = ["score", str(source), "-o", str(out), *options]
        assert main(args + (["--config", config] if config else [])) == 0
        return list(pd.read_csv(out, encoding="utf-8-sig")["sentiment"])

    # Shipped default: accurate. A deployment's scoring.yaml picks fast; --sentiment wins.
    assert scored() == pytest.approx(list(expected["accurate"]), abs=1e-9)
    config = tmp_path / "config"
    config.mkdir()
    (config / "scoring.yaml").write_text("sentiment:\n  model: fast\n", encoding="utf-8")
    assert scored(config=str(config)) == pytest.approx(list(expected["fast"]), abs=1e-9)
    assert scored("--sentiment", "accurate", config=str(config)) == pytest.approx(
        list(expected["accurate"]), abs=1e-9)
    assert expected["accurate"] != pytest.approx(expected["fast"], abs=1e-3)


@pytest.mark.parametrize("content, field", [
    ("sentiment:\n  model: bert\n", "sentiment.model"),
    ("sentiment:\n  modle: fast\n", "sentiment.modle"),
    ("sentiment: fast\n", "sentiment"),
    ("scoring:\n  model: fast\n", "scoring"),
])
def test_a_bad_scoring_yaml_is_named_and_exits_2(tmp_path, capsys, content, field) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "scoring.yaml").write_text(content, encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text("text\n民警\n", encoding="utf-8")
    assert main(["score", str(source), "-o", str(tmp_path / "o.csv"),
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "scoring.yaml" in err and f"{field}:" in err
    assert not (tmp_path / "o.csv").exists()


def _peak_rss_mb(*argv: str) -> tuple[float, subprocess.CompletedProcess]:
    """`jingyu score` in a process of its own; its peak resident memory in MB."""
    code = ("import resource, sys\nfrom flows.cli import main\ncode = main(sys.argv[1:])\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=600)
    peak = next(line for line in done.stdout.splitlines() if line.startswith("PEAK"))
    return int(peak.split()[1]) / 1024, done


def test_a_huge_field_costs_its_row_and_no_memory(tmp_path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("id,text\n1,民警到场处置\n2,辅警执勤\n", encoding="utf-8")
    huge = tmp_path / "huge.csv"
    with huge.open("w", encoding="utf-8") as out:
        out.write("id,text\n1,民警到场处置\n2,")
        for _ in range(40):                    # one 40-million-character field on one line
            out.write("民警打人" * 250_000)
        out.write("\n3,辅警执勤\n")
    base, _ = _peak_rss_mb("score", str(small), "-o", str(tmp_path / "s.csv"),
                           "--sentiment", "fast")
    peak, done = _peak_rss_mb("score", str(huge), "-o", str(tmp_path / "h.csv"),
                              "--sentiment", "fast")
    assert done.returncode == 0, done.stderr
    assert "line 3" in done.stderr and "row skipped" in done.stderr
    assert "scored 2 rows" in done.stdout and "1 unreadable rows skipped" in done.stdout
    with (tmp_path / "h.csv").open(encoding="utf-8-sig") as scored:
        assert [row["id"] for row in csv.DictReader(scored)] == ["1", "3"]
    assert peak < base + 60, f"peak {peak:.0f} MB against {base:.0f} MB for a small file"
