"""`jingyu doctor` against real parts: a migrated SQLite warehouse, Prefect's test server with
the scheduled deployments, a robot receiver and an SMTP server on 127.0.0.1 (both must see
nothing sent), the shipped roster; then each of them broken."""
from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from prefect.schedules import Cron

from collectors.replay import FeedReplayServer, Route
from flows.cli import main
from flows.schedule import SCHEDULED
from jingyu.config import config_file
from warehouse.store import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingSmtp:
    def __init__(self) -> None:
        self.mails = 0

    async def handle_DATA(self, server, session, envelope):
        self.mails += 1
        return "250 OK"


@pytest.fixture(scope="module")
def deployed() -> None:
    """The scheduled deployments, registered with the test server as `jingyu serve` does."""
    for s in SCHEDULED:
        s.flow.to_deployment(name=s.name, schedule=Cron(s.cron)).apply()


@pytest.fixture
def world(tmp_path, deployed) -> Iterator[dict]:
    smtp = CountingSmtp()
    port = _free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    with FeedReplayServer({"/robot/send": Route(b'{"errcode":0}', "application/json")}) as robot:
        config = tmp_path / "config"
        config.mkdir()
        for name in ("roster.yaml", "jurisdictions.yaml"):
            shutil.copy(config_file(name), config / name)
        (config / "sources.yaml").write_text(
            "sources:\n  - {id: a, name: A, kind: feed, url: 'http://127.0.0.1:9/a.xml'}\n",
            encoding="utf-8")
        (config / "alerts.yaml").write_text(f"""
channels:
  - {{name: log, kind: jsonl, path: "{tmp_path / 'out' / 'n.jsonl'}"}}
  - {{name: duty-ding, kind: dingtalk, url: "{robot.url('/robot/send?access_token=t0ken')}"}}
  - {{name: duty-mail, kind: email, host: 127.0.0.1, port: {port}, security: none,
      sender: jingyu@example.invalid, to: [duty@example.invalid]}}
  - {{name: ops-log, kind: jsonl, path: "{tmp_path / 'out' / 'ops.jsonl'}", audience: operators}}
""", encoding="utf-8")
        database = f"sqlite:///{tmp_path / 'w.db'}"
        Warehouse(database).close()
        try:
            yield {"config": config, "database": database, "robot": robot, "smtp": smtp,
                   "tmp": tmp_path}
        finally:
            controller.stop()


def _doctor(world, capsys, database: str | None = None) -> tuple[int, str]:
    code = main(["doctor", "--config", str(world["config"]),
                 "--database", database or world["database"]])
    return code, capsys.readouterr().out


def test_everything_ready_passes_and_sends_nothing(world, capsys) -> None:
    code, out = _doctor(world, capsys)
    assert code == 0, out
    assert "FAIL" not in out
    for name in ("configuration", "warehouse", "prefect", "channel log", "channel duty-ding",
                 "channel duty-mail", "channel ops-log", "roster", "charts font"):
        assert f"ok    {name}:" in out
    assert "ok    operators: 系统告警 go to ops-log (jsonl)" in out
    assert "ok    系统告警: none open" in out
    assert "monitor/monitor-every-5-minutes" in out
    assert "t0ken" not in out                      # the robot's token is not printed
    assert world["robot"].hits("/robot/send") == 0 and world["smtp"].mails == 0


def test_each_broken_part_fails_with_its_fix(world, capsys) -> None:
    config = world["config"]
    alerts = (config / "alerts.yaml").read_text(encoding="utf-8")
    closed = _free_port()
    (config / "alerts.yaml").write_text(
        alerts.replace(world["robot"].url("/robot/send"), f"http://127.0.0.1:{closed}/send")
        .replace("audience: operators", "audience: operators, enabled: false")
        + "  - {name: duty-wecom, kind: wecom, url_env: JINGYU_TEST_UNSET_WECOM_URL}\n",
        encoding="utf-8")
    # Nobody for 云溪 county at night, and no one above it either.
    roster = (config / "roster.yaml").read_text(encoding="utf-8")
    (config / "roster.yaml").write_text(_without_night_cover(roster), encoding="utf-8")

    code, out = _doctor(world, capsys, database="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert code == 1
    failed = {line.split(":")[0].removeprefix("FAIL  ") for line in out.splitlines()
              if line.startswith("FAIL")}
    assert failed == {"warehouse", "channel duty-ding", "channel duty-wecom", "operators",
                      "roster"}, out
    # No operators channel: said with the file, the field and the fix, and where they go.
    assert ("operators: alerts.yaml: channels: no enabled channel has 'audience: operators'"
            in out and "instead (log, duty-ding, duty-mail, duty-wecom)" in out)
    assert "entry with 'audience: operators'" in out
    assert f"cannot connect to 127.0.0.1:{closed}" in out
    assert "JINGYU_TEST_UNSET_WECOM_URL" in out
    assert "qingchuan.yunxi" in out and "20:00" in out
    assert out.count("fix:") >= 5


def test_an_old_schema_and_missing_deployments_fail(world, capsys, monkeypatch) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(world["database"])
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '0007'"))
    engine.dispose()
    import flows.doctor as doctor

    real = doctor.check_prefect
    monkeypatch.setattr(doctor, "check_prefect",
                        lambda: real([("monitor", "monitor-every-5-minutes"),
                                      ("monitor", "no-such-deployment")]))
    code, out = _doctor(world, capsys)
    assert code == 1
    assert "at revision 0007" in out and "fix: jingyu db upgrade" in out
    assert "deployments are missing: monitor/no-such-deployment" in out


def _without_night_cover(roster: str) -> str:
    """The shipped roster with the city's units and 云溪's command desk on day shifts only:
    nobody answers for 云溪 (nor for the city above it) at night."""
    import yaml

    data = yaml.safe_load(roster)
    night = [d for d in data["duty"] if d["unit"].startswith(("qc-", "yx-"))]
    data["duty"] = [d for d in data["duty"] if d not in night or d["shift"] == "day"]
    member = {person["unit"]: person["id"] for person in data["people"]}
    data["duty"] += [{"unit": unit, "shift": "day", "daily": member[unit]}
                     for unit in {d["unit"] for d in night} - {d["unit"] for d in data["duty"]}]
    data.pop("overrides", None)
    return yaml.safe_dump(data, allow_unicode=True)


def test_open_health_alerts_fail_the_doctor_until_they_recover(world, capsys) -> None:
    """A dead source is for the operator to fix: doctor lists the 系统告警 still open."""
    from datetime import timedelta

    from collectors.records import FETCH_ERROR, FetchResult, SourceConfig, SourceCursor
    from flows.watchdog import run_watchdog
    from jingyu.timeutil import utcnow

    now = utcnow()
    warehouse = Warehouse(world["database"])
    warehouse.sync_sources([SourceConfig(id="a", name="A 源", kind="feed",
                                         url="http://127.0.0.1:9/a.xml")])
    run = warehouse.start_run(now)
    for _ in range(3):
        warehouse.store_fetch(run, FetchResult(source_id="a", status=FETCH_ERROR,
                                               cursor=SourceCursor(), error="HTTP 500 from x",
                                               http_status=500), [], now)
    warehouse.finish_run(run, now, alerts_new=0, notifications_sent=0, errors=[])
    warehouse.close()
    run_watchdog(world["config"], world["database"], now=now + timedelta(minutes=1))
    code, out = _doctor(world, capsys)
    assert code == 1
    assert "FAIL  系统告警: 1 open: #1 信息源失效：A 源" in out, out
    assert "fix: see jingyu sources" in out
