"""The hostile corpus (tests/hostile.py) through every terminal command and `jingyu score`: no
escape sequence, carriage return, bidi override or zero-width character reaches the terminal,
no post forges a line of its own, and no scored cell starts a formula."""
from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from alerts.incidents.handling import raise_and_track
from collectors.records import (
    FETCH_ERROR,
    FETCH_OK,
    FetchResult,
    RawPost,
    SourceConfig,
    SourceCursor,
)
from flows.cli import main
from flows.settings import load_desk
from jingyu.timeutil import utcnow
from tests.hostile import (
    CARRIAGE_RETURN,
    FORGED_HEADING,
    FORMULAS,
    TERMINAL_ESCAPES,
    TITLES,
    assert_clean_terminal,
)
from transforms.records import ScoredPost
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def hostile(tmp_path, sqlite_url):
    """A warehouse whose posts (each a sensitive item, so an incident) carry the corpus as
    titles and text, and whose source failed with an error page full of escapes."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("routing.yaml", "roster.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    (config / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "n.jsonl")}]}))
    now = utcnow() - timedelta(minutes=10)
    wh = Warehouse(sqlite_url)
    wh.sync_sources([SourceConfig(id="weibo", name="微博", kind="feed", url="http://x/w",
                                  jurisdiction="qingchuan.linjiang.linjiang_pcs")])
    raws = [RawPost(source_id="weibo", external_id=str(n), url=f"https://weibo.com/1/{n}",
                    title=f"民警 {title}", body=f"民警 {title}", author=None, published_at=now,
                    fetched_at=now) for n, title in enumerate(TITLES)]
    posts = [ScoredPost(raw=raw, text=raw.title, content_hash=f"h{n}", keywords=("民警",),
                        police_related=True, police_terms=("民警",), sentiment=0.1,
                        polarity="negative", police_stance="negative",
                        topics=("police.assault",), rule_hits=(), high_risk=True)
             for n, raw in enumerate(raws)]
    wh.store_fetch(wh.start_run(now), FetchResult(source_id="weibo", status=FETCH_OK,
                                                  cursor=SourceCursor(), posts=tuple(raws)),
                   posts, now)
    recorded = raise_and_track(wh, load_desk(config), now)
    failure = FetchResult(source_id="weibo", status=FETCH_ERROR, cursor=SourceCursor(),
                          error="HTTP 500: " + "".join(TERMINAL_ESCAPES) + CARRIAGE_RETURN,
                          http_status=500)
    wh.store_fetch(wh.start_run(utcnow()), failure, [], utcnow())
    incidents = IncidentStore(wh).by_ids([r.alert_id for r in recorded])
    wh.close()
    assert len(incidents) == len(TITLES)
    return {"config": str(config), "db": sqlite_url,
            "incidents": [str(i.id) for i in incidents.values()]}


def terminal(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out
    assert_clean_terminal(out.replace("\n", " "))
    forged = FORGED_HEADING.splitlines()[1]
    for line in out.splitlines():
        assert not line.lstrip().startswith(("###", forged, "【已核实为谣言】")), line
    return out


def test_alerts_list_and_show(hostile, capsys):
    out = terminal(capsys, "alerts", "--limit", "50", "--config", hostile["config"],
                   "--database", hostile["db"])
    assert "伪造标题" in out and "红色" in out and "已核实为谣言" in out   # there, defused
    assert "已处置" not in out               # the window title an OSC sequence would set
    for number in hostile["incidents"]:
        out = terminal(capsys, "alerts", "show", number, "--config", hostile["config"],
                       "--database", hostile["db"])
        assert "民警" in out


def test_sources_query_and_search(hostile, capsys):
    out = terminal(capsys, "sources", "--database", hostile["db"])
    assert "HTTP 500" in out
    out = terminal(capsys, "query", "posts", "--limit", "50", "--config", hostile["config"],
                   "--database", hostile["db"])
    assert "伪造标题" in out
    out = terminal(capsys, "query", "--sql", "select title, text from posts",
                   "--database", hostile["db"])
    assert "伪造标题" in out
    out = terminal(capsys, "search", "民警", "--limit", "50", "--config", hostile["config"],
                   "--database", hostile["db"])
    assert "伪造标题" in out


def test_score_output_is_formula_safe(tmp_path, capsys):
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "=note"])
        for n, text in enumerate([*FORMULAS, *TITLES]):
            writer.writerow([f"-{n}", text, FORMULAS[n % len(FORMULAS)]])
    output = tmp_path / "out.csv"
    assert main(["score", str(source), "-o", str(output), "--sentiment", "fast"]) == 0
    with output.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][2] == "'=note"
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@", "\t", "\r"))
                or (cell.startswith("-") and not cell[1:].replace(".", "").isdigit())]
    assert "'" + FORMULAS[0] in cells
    assert [row[0] for row in rows[1:4]] == ["-0", "-1", "-2"]     # numbers stay numbers
    assert_clean_terminal(" ".join(cells))


def _no_live_markup(html_text: str) -> None:
    """HTML a browser shows: no tag or link the corpus made (every '<' of a post escaped)."""
    assert "<script>alert" not in html_text and "<img src=x" not in html_text
    assert "<at id=all>" not in html_text and 'href="javascript' not in html_text.lower()


def test_the_incident_report_in_every_format(hostile, tmp_path, capsys):
    """`jingyu report incident N` (专报) as Markdown on the terminal and as .md, .html and
    .docx files: titles without bidi overrides, zero-width characters or escapes."""
    import zipfile

    outs = {number: terminal(capsys, "report", "incident", number, "--config",
                             hostile["config"], "--database", hostile["db"])
            for number in hostile["incidents"]}
    assert all("民警" in out for out in outs.values())
    # the title that was an override (U+202E 警民冲突 U+202C), written to every file format
    [number] = [n for n, out in outs.items() if "# 专报：敏感信息：民警 警民冲突" in out]
    for suffix in (".md", ".html", ".docx"):
        path = tmp_path / f"report{suffix}"
        assert main(["report", "incident", number, "-o", str(path), "--config",
                     hostile["config"], "--database", hostile["db"]]) == 0
        capsys.readouterr()
        if suffix == ".docx":
            text = zipfile.ZipFile(path).read("word/document.xml").decode()
        else:
            text = path.read_text(encoding="utf-8")
        assert_clean_terminal(text.replace("\n", " ").replace("\t", " "))
        assert "警民冲突" in text                      # what the override hid, plain to see
        if suffix == ".html":
            _no_live_markup(text)


def test_the_evidence_index_is_clean(hostile, tmp_path, capsys):
    """`jingyu evidence export N`: the bundle's index.html shows titles, links, sources and
    errors without bidi overrides, zero-width characters or escapes, and as text."""
    import zipfile

    for number in (hostile["incidents"][0], hostile["incidents"][-1]):
        bundle = tmp_path / f"bundle-{number}.zip"
        assert main(["evidence", "export", number, "-o", str(bundle), "--folder",
                     str(tmp_path / "evidence"), "--database", hostile["db"]]) == 0
        capsys.readouterr()
        index = zipfile.ZipFile(bundle).read("index.html").decode()
        assert_clean_terminal(index.replace("\n", " "))
        _no_live_markup(index)
        assert "民警" in index
