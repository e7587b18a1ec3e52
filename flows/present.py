"""Plain-text tables and summaries for the terminal (times shown in Asia/Shanghai)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jingyu.timeutil import shanghai


def local(value: datetime | None) -> str:
    return shanghai(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
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
    lines += [f"  error: {e}" for e in summary["errors"]]
    return "\n".join(lines)


def format_alerts(alerts: Sequence[dict[str, Any]], evidence_limit: int = 5) -> str:
    from alerts.records import level_label

    if not alerts:
        return "no alerts"
    lines = []
    for a in alerts:
        sent = a["notifications"].get("sent", 0)
        pending = a["notifications"].get("pending", 0)
        lines.append(f"#{a['id']} 【{level_label(a['level'])}】 {a['title']}")
        lines.append(f"    {a['reason']}")
        lines.append(f"    first seen {local(a['first_detected_at'])}, last {local(a['last_detected_at'])};"
                     f" jurisdiction {a['jurisdiction'] or '-'}; notifications sent {sent},"
                     f" pending {pending}")
        for item in a["evidence"][:evidence_limit]:
            lines.append(f"    - {str(item.get('title', ''))[:50]}  {item.get('url') or ''}")
        if len(a["evidence"]) > evidence_limit:
            lines.append(f"    ... and {len(a['evidence']) - evidence_limit} more")
    return "\n".join(lines)


def format_sources(rows: Sequence[dict[str, Any]]) -> str:
    return format_table(
        ["source", "enabled", "last success", "failures", "posts 24h", "last error"],
        [[r["id"], "yes" if r["enabled"] else "no", local(r["last_success_at"]),
          r["consecutive_failures"], r["posts_24h"], (r["last_error"] or "")[:70]]
         for r in rows])
