"""The monitor flow end to end under Prefect's test harness: SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from prefect.settings import PREFECT_API_URL
from sqlalchemy import text

from collectors.replay import Route
from flows.cli import main
from flows.demo.run_demo import seed_demo_history
from flows.monitor import monitor
from warehouse.store import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _rows(url: str) -> set[tuple[str, str, str]]:
    warehouse = Warehouse(url)
    with warehouse.engine.connect() as conn:
        rows = set(conn.execute(text("select source_id, external_id, content_hash from posts")))
        total = conn.execute(text("select count(*) from posts")).scalar()
    warehouse.close()
    assert total == len(rows), "duplicate posts stored"
    return rows


def test_one_cycle_collects_scores_stores_and_alerts(recorded_feeds, warehouse_url) -> None:
    # The week before, so that the spike detector knows an ordinary day.
    assert seed_demo_history(recorded_feeds.config_dir, warehouse_url,
                             recorded_feeds.rendered_at) > 300
    summary = monitor(config_dir=str(recorded_feeds.config_dir), database_url=warehouse_url,
                      force=True, per_host_delay_s=0.01)
    assert summary["status"] == "partial"
    assert (summary["sources_total"], summary["sources_failed"]) == (7, 1)
    assert any("HTTP 404" in e for e in summary["errors"])
    assert summary["posts_new"] > 90

    warehouse = Warehouse(warehouse_url)
    health = {h["id"]: h for h in warehouse.source_health(recorded_feeds.rendered_at)}
    assert health["qingchuan-traffic-wechat"]["consecutive_failures"] == 1
    with warehouse.engine.connect() as conn:                  # the GBK feed
        assert conn.execute(text("select count(*) from posts where source_id = 'yunxi-forum' "
                                 f"and run_id = {summary['run_id']}")).scalar() == 15
    assert "malformed" in health["beihu-media"]["last_error"]

    # Two happenings of the last hour in neighbouring districts: the night market in 临江区
    # (told in many wordings) and a truck overturned on 云溪's 城关大桥 (five forum posts in
    # their own words). The bridge is one event of its own; no event holds both.
    with warehouse.engine.connect() as conn:
        def events_of(like: str) -> list[int]:
            return [e for (e,) in conn.execute(text(
                "select e.event_id from event_posts e join posts p on p.id = e.post_id "
                f"where p.text like '%{like}%' and p.run_id = {summary['run_id']}"))]
        bridge, market = events_of("城关大桥"), events_of("滨河路")
    assert len(bridge) == 5 and len(set(bridge)) == 1
    assert len(market) >= 20 and not set(bridge) & set(market)
    main_market = max(set(market), key=market.count)
    assert market.count(main_market) * 2 > len(market)

    alerts = warehouse.alerts()
    kinds = {a["kind"] for a in alerts}
    assert kinds == {"spike", "sensitive_item"}
    spike = next(a for a in alerts if a["kind"] == "spike")
    assert spike["jurisdiction"] == "qingchuan.linjiang"
    with warehouse.engine.connect() as conn:
        evidence = set(conn.execute(text(
            "select police_related, police_stance from posts where id in "
            f"({','.join(str(e['post_id']) for e in spike['evidence'])})")))
    assert spike["evidence"] and evidence == {(True, "negative")}
    # Alerts about one real-world event share its incident, paged once: console + duty-log
    # for each incident, under the incident's number.
    incidents = {a["incident_id"] for a in alerts}
    assert None not in incidents and len(incidents) < len(alerts)
    sent = warehouse.outbox_counts()
    assert sent == {"sent": 2 * len(incidents)}
    lines = recorded_feeds.notifications.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(incidents)
    assert {json.loads(line)["alert_id"] for line in lines} == incidents
    warehouse.close()


def test_second_cycle_is_conditional_and_adds_nothing(recorded_feeds, warehouse_url) -> None:
    config, server = str(recorded_feeds.config_dir), recorded_feeds.server
    monitor(config_dir=config, database_url=warehouse_url, force=True, per_host_delay_s=0.01)
    before = _rows(warehouse_url)
    again = monitor(config_dir=config, database_url=warehouse_url, force=True,
                    per_host_delay_s=0.01)
    assert again["posts_new"] == 0 and again["alerts_new"] == 0
    assert again["notifications_sent"] == 0
    assert _rows(warehouse_url) == before
    assert "if-none-match" in {k.lower() for k in server.last_request_headers("/qingchuan_police.xml")}


def test_sources_not_due_are_skipped(recorded_feeds, sqlite_url) -> None:
    config = str(recorded_feeds.config_dir)
    monitor(config_dir=config, database_url=sqlite_url, force=True, per_host_delay_s=0.01)
    hits = recorded_feeds.server.hits("/qingchuan_police.xml")
    summary = monitor(config_dir=config, database_url=sqlite_url, per_host_delay_s=0.01)
    assert summary["sources_total"] == 0
    assert recorded_feeds.server.hits("/qingchuan_police.xml") == hits


def test_killed_cycle_rerun_gives_the_same_rows(recorded_feeds, tmp_path, sqlite_url) -> None:
    """Kill -9 a `jingyu run` half-way (one feed hangs), rerun it: same rows as a clean run."""
    config = str(recorded_feeds.config_dir)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    monitor(config_dir=config, database_url=reference, force=True, per_host_delay_s=0.01)

    server = recorded_feeds.server
    weibo = "/weibo_keyword_police.xml"
    original = _route_body(recorded_feeds, weibo)
    server.set_route(weibo, Route(body=original, content_type="application/rss+xml", delay_s=25))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--config", config, "--database", sqlite_url,
         "--force"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        stored_sources: set[str] = set()
        while time.monotonic() < deadline and len(stored_sources) < 4:
            time.sleep(0.5)
            stored_sources = _stored_sources(sqlite_url)
        assert len(stored_sources) >= 4, "the cycle never got going"
        assert "weibo-keyword-jingcha" not in stored_sources
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    server.set_route(weibo, Route(body=original, content_type="application/rss+xml"))
    monitor(config_dir=config, database_url=sqlite_url, force=True, per_host_delay_s=0.01)
    assert _rows(sqlite_url) == _rows(reference)


def _route_body(feeds, path: str) -> bytes:
    from flows.demo.data import render_demo_feeds

    return render_demo_feeds(feeds.rendered_at)[path][0]


def _stored_sources(url: str) -> set[str]:
    try:
        warehouse = Warehouse(url, migrate=False)
        with warehouse.engine.connect() as conn:
            found = {r[0] for r in conn.execute(text("select distinct source_id from posts"))}
        warehouse.close()
        return found
    except Exception:  # the killed-to-be run may not have created the schema yet
        return set()


def test_bad_config_exits_2_naming_file_and_field(recorded_feeds, tmp_path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sources.yaml").write_text(
        "sources:\n  - id: x\n    name: X\n    kind: feed\n", encoding="utf-8")
    assert main(["run", "--config", str(bad), "--database", f"sqlite:///{tmp_path}/x.db"]) == 2
    err = capsys.readouterr().err
    assert "sources.yaml" in err and "sources[0].url" in err


def test_unreachable_database_exits_3(recorded_feeds, capsys) -> None:
    code = main(["run", "--config", str(recorded_feeds.config_dir),
                 "--database", "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    assert code == 3
    assert "127.0.0.1:1" in capsys.readouterr().err


def test_cli_reports_after_a_cycle(recorded_feeds, sqlite_url, capsys) -> None:
    assert main(["run", "--config", str(recorded_feeds.config_dir), "--database", sqlite_url,
                 "--force"]) == 0
    assert "6 ok, 1 failed" in capsys.readouterr().out
    assert main(["alerts", "--database", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert "预警" in out and "weibo.com" in out
    assert main(["sources", "--database", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert "qingchuan-traffic-wechat" in out and "HTTP 404" in out
    assert main(["runs", "--database", sqlite_url]) == 0
    assert "partial" in capsys.readouterr().out


def test_failed_sources_show_in_prefect_and_every_run_leaves_a_summary(recorded_feeds,
                                                                       sqlite_url) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    config = str(recorded_feeds.config_dir)
    partial = monitor(config_dir=config, database_url=sqlite_url, force=True,
                      per_host_delay_s=0.01, return_state=True)
    assert (partial.type.value, partial.name) == ("COMPLETED", "Partial")
    assert partial.message == "1 of 7 sources failed"
    assert partial.result()["status"] == "partial"

    recorded_feeds.server.stop()          # every source fails: the cycle failed
    failed = monitor(config_dir=config, database_url=sqlite_url, force=True,
                     per_host_delay_s=0.01, return_state=True)
    assert failed.is_failed()
    summary = failed.result(raise_on_failure=False)
    assert summary["status"] == "failed" and summary["sources_ok"] == 0
    assert main(["run", "--force", "--config", config, "--database", sqlite_url]) == 1

    with get_client(sync_client=True) as client:
        for state, status in ((partial, "partial"), (failed, "failed")):
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
            assert [a.key for a in artifacts] == ["monitor-run-summary"]
            assert f": {status}" in artifacts[0].data and "sources:" in artifacts[0].data


def test_summary_artifacts_cannot_be_broken_out_of():
    from flows.present import as_markdown

    hostile = "feed: error ```\n```\n<script>alert(1)</script> ````"
    block = as_markdown(hostile)
    fence = block.splitlines()[0].removesuffix("text")
    assert fence == "`````" and block.endswith(f"\n{fence}\n")
    assert block.count(fence) == 2     # no run of backticks inside closes it
