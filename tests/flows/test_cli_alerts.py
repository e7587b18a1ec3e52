"""The incident commands (`jingyu alerts list|show|ack|track|...`) and `jingyu watchdog`."""
from __future__ import annotations

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
from transforms.records import ScoredPost
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def setup(tmp_path, sqlite_url):
    """A warehouse with one sensitive item (an incident) and a config with roster + routing."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("routing.yaml", "roster.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    (config / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "console", "kind": "console"},
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "n.jsonl")}]}))
    now = utcnow() - timedelta(minutes=10)
    wh = Warehouse(sqlite_url)
    wh.sync_sources([SourceConfig(id="weibo", name="微博", kind="feed", url="http://x/w",
                                  jurisdiction="qingchuan.linjiang.linjiang_pcs")])
    raw = RawPost(source_id="weibo", external_id="1", url="https://weibo.com/1/1",
                  title="辅警推倒摊贩 阿姨受伤", body="", author=None, published_at=now,
                  fetched_at=now)
    post = ScoredPost(raw=raw, text=raw.title, content_hash="h1", keywords=("辅警", "摊贩"),
                      police_related=True, police_terms=("辅警",), sentiment=0.1,
                      polarity="negative", police_stance="negative", topics=("police.assault",),
                      rule_hits=(),
                      high_risk=True)
    run = wh.start_run(now)
    wh.store_fetch(run, FetchResult(source_id="weibo", status=FETCH_OK, cursor=SourceCursor(),
                                    posts=(raw,)), [post], now)
    [recorded] = raise_and_track(wh, load_desk(config), now)
    wh.close()
    return {"config": str(config), "db": sqlite_url, "id": str(recorded.alert_id)}


def run(capsys, setup, *args: str) -> tuple[int, str, str]:
    code = main(["alerts", *args, "--config", setup["config"], "--database", setup["db"]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plain_alerts_lists_incidents_with_their_state(setup, capsys):
    assert main(["alerts", "--database", setup["db"], "--config", setup["config"]]) == 0
    out = capsys.readouterr().out
    assert f"#{setup['id']} " in out and "[待签收]" in out and "weibo.com/1/1" in out
    assert "未签收" in out and "依法处理—" in out and "尚无官方发声" in out
    code, listed, _ = run(capsys, setup, "list", "--open")
    assert code == 0 and f"#{setup['id']} " in listed


def test_ack_track_resolve_close_round_trip(setup, capsys):
    incident = setup["id"]
    code, out, _ = run(capsys, setup, "ack", incident, "--by", "张三", "--note", "已通知属地")
    assert code == 0 and "已签收" in out
    code, _, err = run(capsys, setup, "ack", incident, "--by", "李四")
    assert code == 1 and "acknowledged by 张三" in err

    code, out, _ = run(capsys, setup, "track", incident, "opinion", "start", "--unit", "宣传科",
                       "--by", "李四", "--note", "起草警情通报")
    assert code == 0 and "处置中" in out
    code, _, err = run(capsys, setup, "track", incident, "legal", "done", "--by", "王五")
    assert code == 1 and "has not started" in err
    assert run(capsys, setup, "statement", incident, "--by", "李四",
               "--url", "https://weibo.com/qcga/9")[0] == 0

    code, out, _ = run(capsys, setup, "show", incident)
    assert code == 0
    assert "宣传科" in out and "起草警情通报" in out and "李四" in out
    assert "官方发声" in out and "duty-log" in out
    for action in ("acknowledged", "track_start", "official_statement"):
        assert action in out

    code, out, _ = run(capsys, setup, "level", incident, "--to", "2", "--by", "王五",
                       "--note", "已上热搜")
    assert code == 0 and "II级" in out
    code, _, err = run(capsys, setup, "level", incident, "--to", "1", "--by", "王五")
    assert code == 1 and "reason" in err
    code, _, err = run(capsys, setup, "ack", "999", "--by", "王五")
    assert code == 1 and "no incident 999: see 'jingyu alerts list'" in err

    code, _, err = run(capsys, setup, "close", incident, "--by", "王五")
    assert code == 1 and "resolve it first" in err
    assert run(capsys, setup, "resolve", incident, "--by", "王五", "--note", "已处置")[0] == 0
    code, out, _ = run(capsys, setup, "close", incident, "--by", "王五")
    assert code == 0 and "已关闭" in out

    wh = Warehouse(setup["db"])
    store = IncidentStore(wh)
    trail = [(e.actor, e.action) for e in store.events(int(incident))]
    assert trail[-2:] == [("王五", "resolved"), ("王五", "closed")]
    assert any(":resolved-" in o["key"] and o["key"].endswith("@duty-log")
               for o in store.outbox(int(incident)))
    wh.close()


def test_options_before_the_action_are_kept(setup, capsys):
    code = main(["alerts", "--database", setup["db"], "--config", setup["config"],
                 "ack", setup["id"], "--by", "张三"])
    assert code == 0 and "已签收" in capsys.readouterr().out


def test_unknown_incident_exits_1(setup, capsys):
    code, _, err = run(capsys, setup, "ack", "999", "--by", "张三")
    assert code == 1 and "no incident 999" in err


def test_silence_and_duty(setup, capsys):
    code, out, _ = run(capsys, setup, "silence", "--match", "spike:", "--until", "2h",
                       "--by", "张三", "--note", "演练")
    assert code == 0 and "silenced alerts matching 'spike:'" in out
    code, _, err = run(capsys, setup, "silence", "--match", "spike:", "--until", "someday",
                       "--by", "张三")
    assert code == 2 and "2h" in err
    # Monday 03:00 in Shanghai: still Sunday's night shift and Sunday's 08:30 带班领导.
    code = main(["alerts", "duty", "--at", "2026-11-30 03:00", "--config", setup["config"]])
    out = capsys.readouterr().out
    assert code == 0 and "李四" in out and "赵敏" in out and "夜班" in out


def test_watchdog_command(setup, capsys):
    args = ["watchdog", "--config", setup["config"], "--database", setup["db"]]
    assert main(args) == 0
    assert "all healthy" in capsys.readouterr().out
    wh = Warehouse(setup["db"])
    failure = FetchResult(source_id="weibo", status=FETCH_ERROR, cursor=SourceCursor(),
                          error="HTTP 432 from https://weibo.com", http_status=432)
    wh.store_fetch(wh.start_run(utcnow()), failure, [], utcnow())
    wh.close()
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "信息源失效：微博" in out and "被反爬拦截" in out


def test_merge_and_split_from_the_command_line(setup, capsys):
    """`alerts merge A B` keeps the earlier number; `alerts split N --posts` makes a new one."""
    wh = Warehouse(setup["db"])
    now = utcnow() - timedelta(minutes=5)
    raw = RawPost(source_id="weibo", external_id="2", url="https://weibo.com/1/2",
                  title="仓库起火 消防到场", body="", author=None, published_at=now,
                  fetched_at=now)
    post = ScoredPost(raw=raw, text=raw.title, content_hash="h2", keywords=("仓库", "起火"),
                      police_related=True, police_terms=("民警",), sentiment=0.1,
                      polarity="negative", police_stance="negative",
                      topics=("police.assault",), rule_hits=(), high_risk=True)
    wh.store_fetch(wh.start_run(now), FetchResult(source_id="weibo", status=FETCH_OK,
                                                  cursor=SourceCursor(), posts=(raw,)),
                   [post], now)
    second = next(r.alert_id for r in raise_and_track(wh, load_desk(setup["config"]), now)
                  if str(r.alert_id) != setup["id"])
    fire = next(p.id for p in wh.posts_since(now - timedelta(hours=1), utcnow())
                if p.text.startswith("仓库"))
    wh.close()
    code, out, _ = run(capsys, setup, "merge", str(second), setup["id"], "--by", "王五",
                       "--note", "同一件事")
    assert code == 0 and out.startswith(f"#{setup['id']} ")
    code, out, err = run(capsys, setup, "merge", setup["id"], str(second), "--by", "王五")
    assert code == 1 and "already merged" in err
    code, out, _ = run(capsys, setup, "split", setup["id"], "--posts", str(fire), "--by", "王五")
    assert code == 0 and "拆分：仓库起火" in out
    code, _, err = run(capsys, setup, "split", setup["id"], "--posts", "x1", "--by", "王五")
    assert code == 2 and "comma" in err
    code, out, _ = run(capsys, setup, "show", setup["id"])
    assert "merged_in" in out and "split" in out
