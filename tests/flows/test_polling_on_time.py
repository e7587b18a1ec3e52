"""Every source on time: a 1-minute source is fetched by every 1-minute cycle (a failing one
on its back-off schedule), through the real monitor flow with the cycle clock injected (cycles
a little early and late, as schedules run)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from flows.monitor import monitor
from jingyu.timeutil import utcnow
from warehouse.store import poll_is_due

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _poll_every_minute(config_dir) -> int:
    path = config_dir / "sources.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for source in config["sources"]:
        source["poll_minutes"] = 1
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return sum(1 for s in config["sources"] if s.get("enabled", True))


def test_every_source_every_cycle_with_one_minute_polling(recorded_feeds, warehouse_url) -> None:
    enabled = _poll_every_minute(recorded_feeds.config_dir)
    # Cycles one minute apart on the schedule's clock, each a second or two early or late;
    # storing happens in real time after each cycle's start (the old stamp).
    start = utcnow()
    offsets = [0, 59, 121, 180, 241]
    due = []
    for offset in offsets:
        summary = monitor(config_dir=str(recorded_feeds.config_dir), database_url=warehouse_url,
                          now=start + timedelta(seconds=offset), per_host_delay_s=0.01)
        due.append(summary["sources_total"])
    # Every source every cycle, but the one that answers 404: a hard failure backs off,
    # tried again after twice its interval, then four times.
    assert due == [enabled, enabled - 1, enabled, enabled - 1, enabled - 1]

    # A cycle half a minute after the last one is not a new slot: nothing is due.
    again = monitor(config_dir=str(recorded_feeds.config_dir), database_url=warehouse_url,
                    now=start + timedelta(seconds=offsets[-1] + 30), per_host_delay_s=0.01)
    assert again["sources_total"] == 0


def test_due_counts_from_the_scheduled_start_with_jitter_tolerance() -> None:
    slot = utcnow()
    assert poll_is_due(1, None, slot)
    assert poll_is_due(1, slot, slot + timedelta(seconds=55))       # a cycle 5 s early
    assert not poll_is_due(1, slot, slot + timedelta(seconds=40))   # a manual run in between
    assert poll_is_due(5, slot, slot + timedelta(minutes=4, seconds=31))
    assert not poll_is_due(5, slot, slot + timedelta(minutes=4))    # 1-minute cycles, 5-minute source
