"""Plain-text tables and summaries for the terminal (times shown in Asia/Shanghai).

Titles, reasons, links, error messages and notes carry text from strangers: every piece goes
through jingyu.display.one_line (no escape sequences, carriage returns, bidi overrides or
line breaks reach the terminal)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.incidents.timers import (
    STATUS_NAMES,
    TIMER_NAMES,
    TRACKS,
    TimerSettings,
    breaches,
    sync_gaps,
)
from jingyu.display import one_line
from jingyu.timeutil import shanghai
from warehouse.records import IncidentEvent, IncidentState, TrackState


def local(value: datetime | None) -> str:
    return shanghai(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[one_line(h) for h in headers]] + [[one_line(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c + " " * (widths[i] - _width(c)) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_run(summary: dict[str, Any]) -> str:
    lines = [
        f"run {summary['run_id']}: {summary['status']}  "
        f"({local(summary['started_at'])} - {local(summary['ended_at'])} Asia/Shanghai)",
        f"  sources: {summary['sources_ok']} ok, {summary['sources_failed']} failed"
        f" of {summary['sources_total']} due",
        f"  new posts: {summary['posts_new']}",
        f"  alerts new or escalated: {summary['alerts_new']}; notifications sent:"
        f" {summary['notifications_sent']}, waiting for retry: "
        f"{summary.get('notifications_failed', 0)}",
    ]
    timings = summary.get("timings")
    if timings:
        lines.append(
            f"  time: {timings['wall_s']:.1f} s; sources {timings['sources_s']:.1f} s "
            f"(scoring {timings['score_s']:.1f} s, politeness waits "
            f"{timings['politeness_wait_s']:.1f} s), alerts "
            f"{timings['detect_s'] + timings['tend_s']:.1f} s, delivery "
            f"{timings['deliver_s']:.1f} s")
    lines += [f"  error: {one_line(e)}" for e in summary["errors"]]
    return "\n".join(lines)


def lost_warehouse_message(summary: dict[str, Any]) -> str:
    """One paragraph for the operator when a cycle lost its warehouse: why, what was stored,
    what was not, and what became of the run ledger."""
    not_stored = summary["sources_total"] - summary["sources_ok"]
    ledger = ("run {0} is marked failed in the ledger" if summary.get("ledger_closed")
              else "run {0} could not be closed (the warehouse still does not answer); the "
                   "next cycle settles it with its true counts").format(summary["run_id"])
    return (f"warehouse lost during run {summary['run_id']}: {summary['warehouse_lost']}. "
            f"Stored before the loss: {summary['sources_ok']} of {summary['sources_total']} due "
            f"sources, {summary['posts_new']} new posts; not stored: {not_stored} sources, "
            f"fetched again next cycle (none is lost). Alert detection and delivery did not "
            f"run. {ledger[0].upper()}{ledger[1:]}. Check the database, then `jingyu doctor`.")


def format_alerts(alerts: Sequence[dict[str, Any]], evidence_limit: int = 5,
                  incidents: Mapping[int, IncidentState] | None = None,
                  timers: TimerSettings | None = None, now: datetime | None = None) -> str:
    from alerts.levels import level_label

    if not alerts:
        return "no alerts"
    lines = []
    for a in alerts:
        sent = a["notifications"].get("sent", 0)
        pending = a["notifications"].get("pending", 0)
        incident = (incidents or {}).get(a.get("incident_id") or a["id"])
        status = f"  [{STATUS_NAMES.get(incident.status, incident.status)}]" if incident else ""
        joined = incident is not None and incident.id != a["id"]
        if joined:
            # Another signal of an event already handled: the number to act on is the incident's.
            status = f"  [并入事件 #{incident.id}]"
        lines.append(f"#{a['id']} 【{level_label(a['level'])}】 "
                     f"{one_line(a['title'])}{status}")
        if incident is not None and not joined and timers is not None and now is not None:
            lines += [f"    {line}" for line in incident_summary(incident, timers, now)]
        lines.append(f"    {one_line(a['reason'])}")
        lines.append(f"    first seen {local(a['first_detected_at'])}, "
                     f"last {local(a['last_detected_at'])};"
                     f" jurisdiction {one_line(a['jurisdiction'] or '-')}; "
                     f"notifications sent {sent},"
                     f" pending {pending}")
        for item in a["evidence"][:evidence_limit]:
            lines.append(f"    - {_evidence(item)}")
        if len(a["evidence"]) > evidence_limit:
            lines.append(f"    ... and {len(a['evidence']) - evidence_limit} more")
    return "\n".join(lines)


def format_sources(rows: Sequence[dict[str, Any]]) -> str:
    """The health table, then one line of advice per failing or disabled source."""
    def state(r: dict[str, Any]) -> str:
        if not r["enabled"]:
            return "off"
        if r.get("disabled_at"):
            return "DISABLED"
        if r.get("backoff_until"):
            return f"backoff to {local(r['backoff_until'])[11:]}"
        return "yes"

    table = format_table(
        ["source", "enabled", "last success", "failures", "class", "posts 24h", "last error"],
        [[r["id"], state(r), local(r["last_success_at"]), r["consecutive_failures"],
          r.get("failure_class") or "-", r["posts_24h"], (r["last_error"] or "")[:70]]
         for r in rows])
    advice = []
    for r in rows:
        if r.get("disabled_at"):
            advice.append(f"  {r['id']}: {r['disabled_reason'] or 'disabled'} — fix it, then "
                          f"`jingyu sources enable {r['id']}`")
        elif r.get("failure_class") and r["consecutive_failures"]:
            advice.append(f"  {r['id']} ({r['failure_class']}, failing since "
                          f"{local(r.get('failing_since'))}): {r['advice']}")
    return table + ("\n\nwhat to do:\n" + "\n".join(advice) if advice else "")


def format_status(incident: IncidentState) -> str:
    """One line after a change: number, level, title, status."""
    from alerts.levels import LEVELS

    return (f"#{incident.id} 【{LEVELS[incident.level]['roman']}级】{one_line(incident.title)}: "
            f"{STATUS_NAMES.get(incident.status, incident.status)}")


def _track_mark(track: TrackState) -> str:
    name = TRACKS[track.track][0]
    if track.done_at:
        return f"{name}✔"
    return f"{name}▶" if track.started_at else f"{name}—"


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if 0 <= delta.total_seconds() < 60:
        return "不到 1 分钟"        # not "超 0 分钟": a timer just past is late all the same
    return f"{minutes // 60} 小时 {minutes % 60} 分" if minutes >= 60 else f"{minutes} 分钟"


def incident_summary(incident: IncidentState, timers: TimerSettings, now: datetime) -> list[str]:
    """Two or three lines: who acknowledged, the three tracks, the statement, what is late."""
    ack = (f"{one_line(incident.acknowledged_by)} 签收于 {local(incident.acknowledged_at)}"
           if incident.acknowledged_at else "未签收")
    statement = "尚无官方发声"
    if incident.official_statement_at:
        delay = incident.official_statement_at - incident.opened_at
        statement = (f"官方发声 {local(incident.official_statement_at)}"
                     + (f"（发现后 {_minutes(delay)}）" if delay >= timedelta(0)
                        else f"（发现前 {_minutes(-delay)}，警方先发声）"))
    lines = [f"{ack}；三同步 {' '.join(_track_mark(t) for t in incident.tracks)}；{statement}"]
    late = breaches(incident, timers, now)
    if late:
        lines.append("超时：" + "、".join(f"{TIMER_NAMES[b.timer]}（超 {_minutes(b.overdue)}）"
                                         for b in late))
    gaps = sync_gaps(incident.tracks, now, timedelta(minutes=timers.sync_minutes))
    if gaps:
        lines.append(f"三同步未同步：{TRACKS[gaps[0].leader][0]}已启动 {_minutes(gaps[0].behind)}，"
                     + "、".join(TRACKS[g.lagging][0] for g in gaps) + " 未启动")
    return lines


def format_incident(incident: IncidentState, alert: Mapping[str, Any],
                    events: Sequence[IncidentEvent], outbox: Sequence[Mapping[str, Any]],
                    timers: TimerSettings, now: datetime) -> str:
    """Everything about one incident, for `jingyu alerts show`."""
    from alerts.levels import level_label

    lines = [f"#{incident.id} 【{level_label(incident.level)}】 {one_line(incident.title)}",
             f"  状态：{STATUS_NAMES.get(incident.status, incident.status)}"
             f"{'（敏感：三方互通、三同步）' if incident.sensitive else ''}",
             f"  辖区：{one_line(incident.jurisdiction or '-')}；首次发现 "
             f"{local(incident.opened_at)}；指纹 {one_line(incident.fingerprint)}",
             f"  {one_line(alert['reason'])}"]
    lines += [f"  {line}" for line in incident_summary(incident, timers, now)]
    lines += ["", "三同步 (tracks):"]
    lines.append(format_table(
        ["track", "unit", "started", "by", "done", "by", "notes"],
        [[f"{t.track} {TRACKS[t.track][0]}", t.unit or "-", local(t.started_at),
          t.started_by or "-", local(t.done_at), t.done_by or "-",
          " / ".join(str(n.get("note", "")) for n in t.notes)[:60]] for t in incident.tracks]))
    lines += ["", "时限 (timers):"]
    met = {"ack": incident.acknowledged_at, "statement": incident.official_statement_at,
           "progress": incident.progress_at,
           "closure": incident.resolved_at or incident.closed_at}
    late = {b.timer for b in breaches(incident, timers, now)}
    lines.append(format_table(
        ["timer", "due", "met", "state"],
        [[f"{name} {TIMER_NAMES[name]}", local(incident.opened_at + timers.deadline(name)),
          local(met[name]), "超时" if name in late else ("已升级" if name in incident.escalated
                                                        else "")]
         for name in ("ack", "statement", "progress", "closure")]))
    if alert["evidence"]:
        lines += ["", "相关信息 (evidence):"]
        lines += [f"  - {_evidence(e)}" for e in alert["evidence"][:10]]
    if outbox:
        lines += ["", "通知 (notifications):"]
        lines.append(format_table(
            ["channel", "status", "created", "key", "recipients"],
            [[o["channel"], o["status"], local(o["created_at"]), o["key"],
              "、".join(r["name"] for r in o["recipients"])[:40]] for o in outbox]))
    lines += ["", "记录 (audit trail):"]
    lines.append(format_table(
        ["time", "who", "action", "detail"],
        [[local(e.at), e.actor, e.action, _detail(e.detail)] for e in events]))
    return "\n".join(lines)


def _evidence(item: Mapping[str, Any]) -> str:
    """A post's title (cut) and its link, as one line of terminal text."""
    return f"{one_line(item.get('title', ''))[:50]}  {one_line(item.get('url') or '')}"


def _detail(detail: Mapping[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if value in (None, [], ""):
            continue
        text = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={text}")
    return "; ".join(parts)[:90]


def format_duty(duty: Sequence[Any], at: datetime) -> str:
    """Who is on duty at a moment: unit, shift, person, phone, handover."""
    if not duty:
        return f"nobody on duty at {local(at)} (roster.yaml empty or missing)"
    return f"on duty at {local(at)} Asia/Shanghai\n" + format_table(
        ["unit", "roles", "shift", "person", "phone", "handover"],
        [[d.unit.name, ",".join(d.unit.roles), d.shift.name, d.person.name, d.person.phone or "-",
          local(d.handover)] for d in duty])


def format_watchdog(report: Mapping[str, Any]) -> str:
    """What the watchdog found and what it sent."""
    lines = [f"watchdog {local(report['checked_at'])}: "
             + ("all healthy" if report["healthy"] else "PROBLEMS FOUND")]
    lines += [f"  ! 系统告警 {one_line(problem)}" for problem in report["problems"]]
    lines += [f"  + 已恢复 {one_line(title)}" for title in report.get("recovered", ())]
    lines += [f"  WARNING {one_line(warning)}" for warning in report.get("warnings", ())]
    lines.append(f"  incidents escalated {report['escalated']}, reminded {report['reminded']}; "
                 f"notifications sent {report['sent']}, waiting for retry {report['failed']}")
    return "\n".join(lines)


def cell(value: Any, chars: int = 0) -> str:
    """One clean line (post text comes from strangers: no terminal control sequences) of at
    most `chars` characters (0: any), "…" where cut: a terminal table cell."""
    text = one_line(value)
    return text if not chars or len(text) <= chars else text[:chars - 1] + "…"


def format_search(result: Any, labels: Any) -> str:
    """Search hits as a terminal table (warehouse.search.SearchResult; reports.blocks.Labels)."""
    order = "相关度" if result.query.order == "relevance" else "时间"
    head = (f"共 {result.total_text} 条，按{order}排序" + (
        f"，显示第 {result.query.offset + 1}–{result.query.offset + len(result.hits)} 条"
        if result.hits else ""))
    if not result.hits:
        return head
    rows = [(local(h.seen_at), cell(h.source_name, 16),
             cell(labels.jurisdiction(h.jurisdiction), 10),
             cell(h.snippet, 50), h.post_id, h.story_id or "-",
             "、".join(f"#{i}" for i in h.incident_ids) or "-", cell(h.url, 60))
            for h in result.hits]
    return head + "\n" + format_table(
        ["时间", "来源", "辖区", "摘要", "帖子ID", "热点编号", "事件", "链接"], rows)


STORIES_PER_EVENT = 5      # stories listed under each event on the terminal (-o has all)


def format_top_stories(records: Sequence[Mapping[str, Any]]) -> str:
    """top_stories as people read it: each event on its line (rank, E<id> and title, posts,
    the window before, growth, negative toward the police), its stories indented below."""
    rows: list[list[Any]] = []
    events: dict[int, list[Mapping[str, Any]]] = {}
    for r in records:
        events.setdefault(r["rank"], []).append(r)
    for rank, stories in events.items():
        e = stories[0]
        name = f"E{e['event_id']} " if e["event_id"] is not None else ""
        rows.append([rank, name + cell(e["event_title"] or "(无标题)", 40), e["event_posts"],
                     e["event_posts_before"], f"{e['event_growth']:+d}",
                     e["event_negative_police"], len(stories),
                     min(s["first_seen_at"] for s in stories), ""])
        for s in stories[:STORIES_PER_EVENT]:
            rows.append(["", f"  └ 热点{s['story_key']} "
                         + cell(s["title"] or s["text_start"] or "(无标题)", 36), s["posts"],
                         s["posts_before"], f"{s['growth']:+d}", s["negative_police"],
                         s["sources"], s["first_seen_at"], cell(s["url"] or "", 60)])
        if len(stories) > STORIES_PER_EVENT:
            rest = stories[STORIES_PER_EVENT:]
            rows.append(["", f"  └ 其余 {len(rest)} 个热点", sum(s["posts"] for s in rest),
                         "", "", "", "", "", ""])
    return format_table(["#", "事件 / 其中热点", "条数", "上期", "变化", "对警负面",
                         "热点数/来源数", "首次出现", "链接"], rows)


def as_markdown(text: str) -> str:
    """Terminal text as a Markdown artifact for the Prefect UI: one fenced block, fenced with
    more backticks than any run inside (error messages quote strangers' pages), so nothing in
    it is read as Markdown or HTML."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}\n"
