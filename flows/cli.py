"""The `jingyu` command: thin wrappers over the flows and the warehouse."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

# Before Prefect is imported anywhere: no telemetry from a closed network, and no anonymous
# usage reports from the ephemeral server.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The temporary Prefect server of `jingyu run` / `jingyu demo` needs more than Prefect's 20 s
# default to start on a busy two-core machine (seen at load 15: the demo failed to start).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from flows.console_cli import add_commands as add_console_commands  # noqa: E402
from flows.present import (  # noqa: E402
    format_alerts,
    format_duty,
    format_incident,
    format_run,
    format_search,
    format_sources,
    format_status,
    format_table,
    format_watchdog,
    local,
    lost_warehouse_message,
)
from jingyu.config import ConfigError  # noqa: E402
from jingyu.timeutil import parse_local, utcnow  # noqa: E402
from transforms.records import SENTIMENT_MODELS  # noqa: E402

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
# A statement "published" a minute ahead of this machine's clock is the clocks disagreeing.
STATEMENT_CLOCK_SKEW = timedelta(minutes=1)


# Files jingyu writes (the SQLite warehouse and its journal, exports, reports,
# notifications.jsonl, logs) hold names, phone numbers and what duty staff did: readable by
# their owner and group only, whatever umask the shell or service manager left.
PRIVATE_UMASK = 0o027


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    from warehouse.db import WarehouseUnavailable

    try:
        unknown = _unknown_jurisdiction(args)
        if unknown:
            print(f"jingyu: {unknown}", file=sys.stderr)
            return EXIT_CONFIG
        return args.handler(args) or 0
    except ConfigError as exc:
        print(f"jingyu: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except WarehouseUnavailable as exc:
        print(f"jingyu: warehouse unavailable: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (FileNotFoundError, ValueError) as exc:
        print(f"jingyu: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _unknown_jurisdiction(args: argparse.Namespace) -> str | None:
    """--jurisdiction naming no jurisdiction of jurisdictions.yaml: what to say (nearest ids
    first), instead of an empty result that looks like a quiet day."""
    wanted = getattr(args, "jurisdiction", None)
    # Filters only: `jingyu users add --jurisdiction` gives an account's scope, checked there.
    if not wanted or args.handler not in (_query, _search, _report_daily, _report_handover):
        return None
    from flows.settings import load_places
    from transforms.places import nearest_jurisdictions

    places = load_places(getattr(args, "config", None))
    if wanted in places.jurisdictions:
        return None
    near = nearest_jurisdictions(places, wanted)
    hint = (f"did you mean {', '.join(near)}?" if near
            else f"known ids: {', '.join(sorted(places.jurisdictions)[:12])}")
    return f"--jurisdiction {wanted!r} is not an id in jurisdictions.yaml: {hint}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jingyu", description="警舆 — 24-hour monitoring of public opinion about the police")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def with_database(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database", metavar="URL",
                       help="warehouse URL (default: $JINGYU_DATABASE_URL or sqlite:///data/jingyu.db)")

    def with_sentiment(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sentiment", choices=SENTIMENT_MODELS, metavar="MODEL",
                       help="sentiment model: accurate (transformer + n-grams) or fast (n-grams "
                            "alone, for very large files); default: scoring.yaml's, shipped "
                            "accurate")

    def with_drain(p: argparse.ArgumentParser) -> None:
        p.add_argument("--drain", type=float, default=600, metavar="SECONDS",
                       help="on SIGTERM, let flow runs under way finish for up to this long "
                            "before stopping (default 600)")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="DIR",
                       help="configuration directory (default: $JINGYU_CONFIG_DIR or ./config)")

    p = command("demo", _demo, "run one full cycle offline on bundled sample feeds")
    p.add_argument("--workdir", default="data/demo", help="where the demo warehouse goes")
    p.add_argument("--console", action="store_true",
                   help="then keep the duty console running on the demo warehouse (Ctrl-C stops)")
    p.add_argument("--port", type=int, default=8080, help="the console's port (default 8080)")

    p = command("run", _run, "run one monitoring cycle now, from the configuration")
    with_config(p)
    with_database(p)
    p.add_argument("--force", action="store_true",
                   help="fetch every enabled source, even those not yet due")

    p = command("doctor", _doctor, "check that this installation can run unattended: "
                                   "configuration, warehouse, Prefect server and deployments, "
                                   "channels (dry run, nothing sent), charts font, roster cover "
                                   "for the next 24 hours; exit 1 if any check fails")
    with_config(p)
    with_database(p)

    p = command("serve", _serve, "run everything scheduled unattended: the 5-minute monitor, the "
                                 "10-minute watchdog, the 08:00 daily brief (needs a Prefect "
                                 "server)")
    with_config(p)
    with_database(p)
    p.add_argument("--skip", action="append", default=[], metavar="NAME",
                   choices=["monitor", "watchdog", "daily-brief"],
                   help="leave one out (repeatable): monitor, watchdog or daily-brief, e.g. "
                        "--skip watchdog when `jingyu watchdog --serve` runs apart")
    with_drain(p)
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on this port (GET /metrics): cycles, their "
                        "duration, posts, alerts, notifications pending/failed, each source's "
                        "age of last success")
    p.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                   help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 for a "
                        "Prometheus on another machine)")

    p = command("worker", _worker, "run prefect.yaml's deployments from a work pool (after "
                                   "`prefect deploy --all`); stops cleanly on SIGTERM")
    p.add_argument("--pool", default="jingyu", help="work pool (default: jingyu)")
    p.add_argument("--limit", type=int, default=3, metavar="N",
                   help="flow runs at once (default 3: a cycle, the watchdog, the brief)")
    with_drain(p)

    p = command("score", _score, "add sentiment, polarity, police_related, topics, keywords, "
                                 "rule_hits, places and story_keys to a CSV")
    p.add_argument("input", help="CSV file with a 'text' column")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="score on N processes (default 1); the file is streamed in chunks and "
                        "written in input order either way")
    with_sentiment(p)
    with_config(p)

    p = command("rescore", _rescore,
                "recompute scores, places and stories of stored posts after a model or rule "
                "change")
    p.add_argument("--since", help="only posts seen from this date or time, Asia/Shanghai, "
                                   "e.g. 2026-11-01 (default: all)")
    p.add_argument("--batch", type=int, default=1000, metavar="N",
                   help="posts per transaction (default 1000)")
    with_sentiment(p)
    with_config(p)
    with_database(p)

    p = command("eval", None, "measure scoring quality on labelled data")
    eval_sub = p.add_subparsers(metavar="WHAT")
    ev = eval_sub.add_parser("sentiment", help="accuracy, macro-F1, ROC AUC on a label,text CSV")
    ev.add_argument("input", help="CSV with columns label (1 positive, 0 negative) and text")
    with_sentiment(ev)
    with_config(ev)
    ev.set_defaults(handler=_eval_sentiment)
    ev = eval_sub.add_parser("stance", help="stance toward the police: accuracy, macro-F1, "
                             "per-class recall on a label,text CSV")
    ev.add_argument("input", help="CSV with columns label (negative, neutral or positive "
                    "toward the police) and text, one police-related text a row")
    with_config(ev)
    ev.set_defaults(handler=_eval_stance)

    p = command("detect", _detect,
                "spike detection over a count series: timestamp,value -> anomaly_score,alert")
    p.add_argument("input", help="CSV file with columns timestamp,value (regular buckets)")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")

    _alerts_parser(command("alerts", _alerts,
                           "incidents: list, show, ack, track (三同步), resolve, close, silence"),
                   with_config, with_database)

    p = command("watchdog", _watchdog,
                "watch the watcher: alert duty staff when cycles stop or sources die")
    with_config(p)
    with_database(p)
    p.add_argument("--serve", action="store_true",
                   help="keep running, a check every --every minutes, until stopped (SIGTERM); "
                        "no Prefect needed, so it still pages when Prefect is what broke")
    p.add_argument("--every", type=float, default=10, metavar="MINUTES",
                   help="minutes between checks with --serve (default 10)")

    from flows import events_cli
    events_cli.add_parser(command("events", None, "real-world events: posts about one "
                                  "happening in any wording, biggest first; show N explains"),
                          with_database)

    from flows import evidence
    evidence.add_parser(command("evidence", None, "固证: an incident's kept pages as a bundle "
                                "(WARC files, manifest of SHA-256 and times, HTML index)"),
                        with_database)

    p = command("sources", _sources, "source health: last success, failure class and advice, "
                                     "posts in 24 h; `sources enable ID` re-enables a source "
                                     "disabled for failing")
    with_database(p)
    p.add_argument("action", nargs="?", choices=["enable"],
                   help="enable: clear the automatic disabling and back-off of SOURCE")
    p.add_argument("source", nargs="?", metavar="SOURCE", help="the source id (with enable)")

    p = command("runs", _runs, "the run ledger (巡查日志): recent monitoring cycles")
    with_database(p)
    p.add_argument("--limit", type=int, default=20)

    p = command("db", None, "warehouse schema")
    db_sub = p.add_subparsers(metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply pending migrations")
    up.set_defaults(handler=_db_upgrade)
    with_database(up)
    reader = db_sub.add_parser(
        "create-reader", help="PostgreSQL: create (or repair) the role analysts' --sql runs "
                              "under: log in, read jingyu's tables, nothing else")
    reader.set_defaults(handler=_db_create_reader)
    reader.add_argument("--role", default="jingyu_reader", help="its name (default "
                                                                "jingyu_reader)")
    reader.add_argument("--password-env", metavar="VAR",
                        help="set its password from this environment variable (default: "
                             "none set; for trust, peer or certificate authentication)")
    with_database(reader)
    archive = db_sub.add_parser(
        "archive", help="export posts seen before a date to Parquet, then delete them "
                        "(one transaction)")
    archive.set_defaults(handler=_db_archive)
    archive.add_argument("--before", required=True,
                         help="a date or time, Asia/Shanghai, e.g. 2026-09-01")
    archive.add_argument("-o", "--output", required=True, help="the .parquet file to write")
    with_database(archive)

    _query_parser(command("query", _query,
                          "analyst queries: named (see --list) or read-only --sql; "
                          "a table, or CSV / Excel / Parquet with -o"), with_config, with_database)
    _search_parser(command("search", _search,
                           "search everything collected for words (AND, OR, NOT, \"phrases\"; "
                           "side by side = AND), newest or most relevant first"),
                   with_config, with_database)
    _report_parser(command("report", None, "reports: the daily brief (舆情日报), the shift "
                                           "handover (交接班) and an incident's 专报"),
                   with_config, with_database)
    add_console_commands(sub)
    return parser


def _query_parser(p: argparse.ArgumentParser, with_config, with_database) -> None:
    p.add_argument("name", nargs="?", help="a named query (see --list)")
    p.add_argument("--list", action="store_true", help="describe the named queries")
    p.add_argument("--sql", metavar="STATEMENT",
                   help="one read-only SQL statement (timestamps are UTC, as stored); on "
                        "PostgreSQL as the reader role (jingyu db create-reader): --database "
                        "or $JINGYU_READER_DATABASE_URL")
    p.add_argument("--since", help="window start, Asia/Shanghai (default: --until minus 7 days)")
    p.add_argument("--until", help="window end, Asia/Shanghai (default: now)")
    p.add_argument("--topic", help="a topic id, e.g. police.enforcement_dispute")
    p.add_argument("--jurisdiction", help="a jurisdiction id; those under it count too")
    p.add_argument("--source", help="a source id")
    p.add_argument("--polarity", choices=["negative", "neutral", "positive"],
                   help="the post's general sentiment")
    p.add_argument("--stance", choices=["negative", "neutral", "positive"],
                   help="the post's stance toward the police (police_stance); "
                        "top_events --stance negative is the reports' 负面热点")
    p.add_argument("--by", default="day",
                   help="volume: comma-separated hour|day, topic, jurisdiction, source, polarity")
    p.add_argument("--limit", type=int, default=20, help="rows of list queries (default 20)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write .csv, .xlsx (Chinese headers, names, a 来源 sheet) or .parquet "
                        "instead of printing")
    with_config(p)
    with_database(p)


def _search_parser(p: argparse.ArgumentParser, with_config, with_database) -> None:
    p.add_argument("text", help="e.g. '滨河路 辅警' or '(袭警 OR 暴力抗法) NOT 演练'")
    p.add_argument("--since", help="posts seen from, Asia/Shanghai (default: all)")
    p.add_argument("--until", help="posts seen before, Asia/Shanghai (default: all)")
    p.add_argument("--jurisdiction", help="a jurisdiction id; those under it count too")
    p.add_argument("--topic", help="a topic id, e.g. police.enforcement_dispute")
    p.add_argument("--source", help="a source id")
    p.add_argument("--polarity", choices=["negative", "neutral", "positive"])
    p.add_argument("--order", choices=["time", "relevance"], default="time",
                   help="time: newest first (default); relevance: best match first")
    p.add_argument("--limit", type=int, default=50, help="hits to show or write (default 50)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the hits with their full text as .csv or .xlsx")
    with_config(p)
    with_database(p)


def _report_parser(p: argparse.ArgumentParser, with_config, with_database) -> None:
    kinds = p.add_subparsers(metavar="REPORT")
    daily = kinds.add_parser("daily", help="舆情日报 of one day (00:00-24:00 Asia/Shanghai)")
    daily.set_defaults(handler=_report_daily)
    daily.add_argument("--date", help="YYYY-MM-DD (default: yesterday, Asia/Shanghai)")
    handover = kinds.add_parser("handover", help="交接班记录 of one shift")
    handover.set_defaults(handler=_report_handover)
    handover.add_argument("--from", dest="since", required=True,
                          help="shift start, Asia/Shanghai, e.g. '2026-11-26 00:00'")
    handover.add_argument("--to", dest="until", help="shift end (default: now)")
    incident = kinds.add_parser("incident", help="专报 of one incident: timeline, spread, "
                                                 "sentiment, places, 三同步, timers, statement, "
                                                 "evidence")
    incident.set_defaults(handler=_report_incident)
    incident.add_argument("number", type=int, help="the incident's number (告警编号)")
    for q in (daily, handover, incident):
        if q is not incident:
            q.add_argument("--jurisdiction", help="a jurisdiction id; those under it count too")
        q.add_argument("-o", "--output", metavar="FILE",
                       help="write .html, .docx or .md (default: Markdown on the terminal)")
        with_config(q)
        with_database(q)


# ---- commands -------------------------------------------------------------------------------

def _stop_on_sigterm() -> None:
    """SIGTERM (systemctl stop, docker stop, kill) stops a cycle as Ctrl-C does: the flow
    marks its ledger entry aborted and Prefect's temporary server is shut down on the way out
    (by default SIGTERM ended the process at once and left that server running)."""
    import signal

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _flow_database(url: str | None) -> str | None:
    """The --database URL for a Prefect flow's parameters. Prefect keeps every flow run's
    parameters in its database and shows them in its UI, so a URL with a password is handed
    over through $JINGYU_DATABASE_URL instead (which the flows read when given none; flow
    runs of this process and its children see it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = bool(url and make_url(url).password)
    except ArgumentError:
        return url                # the warehouse says what is wrong with it
    if password:
        os.environ["JINGYU_DATABASE_URL"] = url
        return None
    return url


def _run(args: argparse.Namespace) -> int:
    from flows.monitor import run_cycle
    from flows.settings import load_cycle_settings

    from warehouse.store import Warehouse

    # Fail fast, before Prefect starts: bad configuration exits 2, an unreachable database 3.
    load_cycle_settings(args.config)
    Warehouse(args.database).close()
    _stop_on_sigterm()
    from flows.temporary_server import (EXIT_SERVER_LOST, TemporaryServerLost,
                                        watch_temporary_server)

    try:
        with watch_temporary_server():
            summary = run_cycle(config_dir=args.config,
                                database_url=_flow_database(args.database), force=args.force)
    except TemporaryServerLost:
        return EXIT_SERVER_LOST          # said already, when it was noticed
    print(format_run(summary))
    if summary.get("warehouse_lost"):
        print(f"jingyu: {lost_warehouse_message(summary)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0 if summary["status"] in ("ok", "partial") else 1


def _doctor(args: argparse.Namespace) -> int:
    from flows.doctor import format_checks, run_doctor

    checks = run_doctor(config_dir=args.config, database_url=args.database)
    print(format_checks(checks))
    return 0 if all(check.ok for check in checks) else 1


def _demo(args: argparse.Namespace) -> int:
    from flows.console_cli import demo_console
    from flows.demo.run_demo import run_demo

    print(run_demo(args.workdir, console_port=args.port))
    return demo_console(args.workdir, args.port, keep_running=args.console)


def _serve(args: argparse.Namespace) -> int:
    from flows.schedule import serve_scheduled

    if args.metrics_port is not None:
        from flows.metrics import serve_metrics

        try:
            serve_metrics(args.metrics_port, args.metrics_host, args.database)
        except OSError as exc:
            raise ValueError(f"--metrics-port {args.metrics_port}: cannot listen on "
                             f"{args.metrics_host}:{args.metrics_port}: {exc.strerror or exc}"
                             " (fix: choose a free port)") from None
        print(f"metrics on http://{args.metrics_host}:{args.metrics_port}/metrics", flush=True)

    serve_scheduled(config_dir=args.config, database_url=_flow_database(args.database),
                    skip=args.skip,
                    drain_s=args.drain)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from flows.service import work_until_stopped

    work_until_stopped(args.pool, args.limit, args.drain)
    return 0


def _score(args: argparse.Namespace) -> int:
    from flows.scoring import score_csv

    skipped = []

    def bad_row(row) -> None:
        skipped.append(row)
        print(f"jingyu score: {args.input} line {row.line}: {row.problem} (row skipped)",
              file=sys.stderr)

    from jingyu.progress import count_lines, progress

    # On a terminal: a bar with rate and time left, fed a chunk of 1,000 rows at a time.
    from pathlib import Path

    terminal = sys.stderr.isatty() and Path(args.input).is_file()
    total = max(count_lines(args.input) - 1, 0) if terminal else None
    with progress("scoring", total, unit="rows") as done:
        rows = score_csv(args.input, args.output, config_dir=args.config, workers=args.workers,
                         sentiment_model=args.sentiment, on_bad_row=bad_row, on_rows=done,
                         **({"chunk_rows": 1000} if total is not None else {}))
    print(f"scored {rows} rows -> {args.output}"
          + (f"; {len(skipped)} unreadable rows skipped (see above)" if skipped else ""))
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from flows.rescoring import rescore

    since = parse_local(args.since) if args.since else None
    report = rescore(config_dir=args.config, database_url=args.database, since=since,
                     batch=args.batch, sentiment_model=args.sentiment)
    print(f"rescored {report.posts} posts: {report.changed} changed, "
          f"{report.stories} stories")
    return 0


def _alerts_parser(p: argparse.ArgumentParser, with_config, with_database) -> None:
    """`jingyu alerts` alone lists; the actions below change incidents, each audited."""
    def shared(q: argparse.ArgumentParser) -> None:
        # SUPPRESS: given before the action (`jingyu alerts --database X ack 12`), the value
        # must survive the action's parser instead of being reset to its default.
        q.add_argument("--config", metavar="DIR", default=argparse.SUPPRESS,
                       help="configuration directory (default: $JINGYU_CONFIG_DIR or ./config)")
        q.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                       help="warehouse URL (default: $JINGYU_DATABASE_URL or "
                            "sqlite:///data/jingyu.db)")

    with_config(p)
    with_database(p)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--open", action="store_true", help="only incidents not yet resolved")
    actions = p.add_subparsers(metavar="ACTION")

    def action(name: str, handler, help_text: str, by: bool = True,
               incident: bool = True) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=help_text, description=help_text)
        q.set_defaults(handler=handler)
        shared(q)
        if incident:
            q.add_argument("incident", type=int, help="the number in the notification (告警编号)")
        if by:
            q.add_argument("--by", required=True, help="who does it (recorded in the audit trail)")
            q.add_argument("--note", default="", help="what was done or why")
        return q

    q = action("list", _alerts, "recent alerts and their incidents", by=False, incident=False)
    q.add_argument("--limit", type=int, default=argparse.SUPPRESS)
    q.add_argument("--open", action="store_true", default=argparse.SUPPRESS,
                   help="only incidents not yet resolved")
    action("show", _alerts_show, "one incident: tracks, timers, notifications, audit trail",
           by=False)
    action("ack", _alerts_ack, "acknowledge (签收): stops the reminders")
    q = action("track", _alerts_track, "start, finish or annotate a line of 三同步")
    q.add_argument("track", choices=["legal", "opinion", "control"],
                   help="legal 依法处理 | opinion 舆论引导 | control 社会面管控")
    q.add_argument("step", choices=["start", "done", "note"])
    q.add_argument("--unit", help="the unit that owns the track, e.g. 宣传科")
    q = action("statement", _alerts_statement,
               "record an official statement the matcher missed (first: 首次发声, then 进展)")
    q.add_argument("--url", help="link to the statement")
    q.add_argument("--at", help="when it was published, e.g. '2026-11-26 14:05' (default: now)")
    q = action("level", _alerts_level,
               "raise or lower the warning level by hand; --note gives the reason (required)")
    q.add_argument("--to", type=int, required=True, choices=[1, 2, 3, 4],
                   help="1 = I 红色 (most severe) … 4 = IV 蓝色")
    action("resolve", _alerts_resolve, "mark resolved (已处置) and notify those routed")
    action("close", _alerts_close, "close a resolved incident (or an unresolved one with --note)")
    q = action("merge", _alerts_merge, "two incidents are one happening: the earlier number "
                                       "carries on, the other closes and points to it")
    q.add_argument("other", type=int, help="the other incident's number")
    q = action("split", _alerts_split, "posts of an incident that are another happening "
                                       "become a new incident")
    q.add_argument("--posts", required=True,
                   help="post ids, comma-separated (see 'jingyu events show N')")
    q = action("silence", _alerts_silence,
               "record but do not notify alerts whose fingerprint starts with --match",
               incident=False)
    q.add_argument("--match", required=True, help="fingerprint prefix, e.g. spike:police_negative")
    q.add_argument("--until", required=True, help="e.g. 2h, 1d or '2026-12-01 08:00'")
    q.add_argument("--long", action="store_true",
                   help="allow a silence of more than 24 hours (it hides alerts from the next "
                        "shifts)")
    q = action("duty", _alerts_duty, "who is on duty (值班) now or at --at", by=False,
               incident=False)
    q.add_argument("--at", help="a time, e.g. '2026-11-30 03:00' (Asia/Shanghai)")


def _incident_action(args: argparse.Namespace, change) -> int:
    """Run one change; an unknown incident or a wrong status exits 1 with the reason."""
    from alerts.incidents.incident import IncidentError
    from flows.settings import load_desk
    from warehouse.incidents import IncidentStore, NoSuchIncident
    from warehouse.store import Warehouse

    desk = load_desk(args.config)
    warehouse = Warehouse(args.database)
    try:
        incident = change(desk, IncidentStore(warehouse), utcnow())
    except (IncidentError, NoSuchIncident) as exc:
        hint = ": see 'jingyu alerts list'" if isinstance(exc, NoSuchIncident) else ""
        print(f"jingyu: {exc.args[0]}{hint}", file=sys.stderr)
        return 1
    finally:
        warehouse.close()
    if incident is not None:
        print(format_status(incident))
    return 0


def _eval_sentiment(args: argparse.Namespace) -> int:
    from flows.evaluate import evaluate_sentiment
    from flows.scoring import load_scoring

    model = load_scoring(args.config, args.sentiment).sentiment_model
    result = evaluate_sentiment(args.input, model=model)
    print(f"sentiment model: {model}")
    print(f"{result['file']}: {result['rows']} rows ({result['positives']} positive)")
    print(f"  accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}"
          f"   ROC AUC {result['roc_auc']:.3f}   (threshold {result['threshold']})")
    return 0


def _eval_stance(args: argparse.Namespace) -> int:
    from flows.evaluate import evaluate_stance
    from jingyu.config import config_file, load_yaml
    from jingyu.display import one_line
    from transforms.rules import parse_rules

    rules = config_file("rules.yaml", args.config)
    result = evaluate_stance(args.input, parse_rules(load_yaml(rules), rules))
    counts = ", ".join(f"{n} {label}" for label, n in result["counts"].items())
    print(f"{result['file']}: {result['rows']} rows ({counts}); "
          f"{result['police_related_found']} found police-related by the relevance rule")
    print(f"  accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}"
          f"   negative vs not: accuracy {result['negative_vs_not_accuracy']:.3f}")
    print("  recall: " + "   ".join(f"{label} {result['recall_' + label]:.3f}"
                                   for label in result["counts"]))
    if len(result["groups"]) > 1:
        print(f"  by {result['group_column']}:")
        print(format_table(
            [result["group_column"], "rows", "accuracy", "macro-F1", "negative vs not"],
            [[one_line(name), g["rows"], f"{g['accuracy']:.3f}", f"{g['macro_f1']:.3f}",
              f"{g['negative_vs_not_accuracy']:.3f}"] for name, g in result["groups"].items()]))
    return 0


def _detect(args: argparse.Namespace) -> int:
    from flows.detect_cli import detect_csv

    rows = detect_csv(args.input, args.output)
    print(f"scored {rows} points -> {args.output}")
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from warehouse.incidents import IncidentStore
    from warehouse.store import Warehouse

    warehouse = Warehouse(args.database)
    alerts = warehouse.alerts(limit=args.limit)
    incidents = IncidentStore(warehouse).by_ids([a.get("incident_id") or a["id"]
                                                 for a in alerts])
    if args.open:
        alerts = [a for a in alerts if (a.get("incident_id") or a["id"]) in incidents
                  and incidents[a.get("incident_id") or a["id"]].status
                  not in ("resolved", "closed")]
    from alerts.incidents.routing import load_routing

    print(format_alerts(alerts, incidents=incidents, timers=load_routing(args.config).timers,
                        now=utcnow()))
    warehouse.close()
    return 0


def _alerts_show(args: argparse.Namespace) -> int:
    def show(desk, store, now):
        incident = store.get(args.incident)
        print(format_incident(incident, store.alert(incident.alert_id),
                              store.events(incident.id), store.outbox(incident.id),
                              desk.routing.timers, now))

    return _incident_action(args, show)


def _alerts_ack(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda _d, store, now: actions.acknowledge(
        store, args.incident, args.by, now, args.note))


def _alerts_track(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda _d, store, now: actions.track(
        store, args.incident, args.track, args.step, args.by, now, unit=args.unit,
        note=args.note))


def _alerts_statement(args: argparse.Namespace) -> int:
    from alerts.incidents import actions
    from alerts.incidents.incident import IncidentError
    from jingyu.timeutil import local_minute, to_utc

    def record(_d, store, now):
        at = to_utc(parse_local(args.at)) if args.at else now
        if at > now + STATEMENT_CLOCK_SKEW:
            raise ValueError(f"alerts statement --at {args.at}: that is in the future (now "
                             f"{local_minute(now)} Asia/Shanghai); give the time the "
                             f"statement was published")
        incident = actions.record_statement(store, args.incident, at, args.by, url=args.url,
                                            note=args.note)
        if incident is None:
            raise IncidentError(f"incident {args.incident} already has its statement and progress")
        return incident

    return _incident_action(args, record)


def _alerts_level(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda _d, store, now: actions.change_level(
        store, args.incident, args.to, args.by, now, args.note))


def _alerts_resolve(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda desk, store, now: actions.resolve(
        store, desk, args.incident, args.by, now, args.note))


def _alerts_close(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda _d, store, now: actions.close(
        store, args.incident, args.by, now, args.note))


def _alerts_merge(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    return _incident_action(args, lambda _d, store, now: actions.merge(
        store, args.incident, args.other, args.by, now, args.note))


def _alerts_split(args: argparse.Namespace) -> int:
    from alerts.incidents import actions

    try:
        posts = [int(p) for p in args.posts.replace("，", ",").split(",") if p.strip()]
    except ValueError:
        print(f"jingyu: --posts takes post ids separated by commas, e.g. 12,15 "
              f"(got {args.posts!r})", file=sys.stderr)
        return 2
    return _incident_action(args, lambda _d, store, now: actions.split(
        store, args.incident, posts, args.by, now, args.note))


def _alerts_silence(args: argparse.Namespace) -> int:
    from alerts.incidents import actions
    from alerts.incidents.routing import parse_until

    def silence(_d, store, now):
        until = parse_until(args.until, now)
        made = actions.silence(store, args.match, until, args.by, now, args.note,
                               long=args.long)
        print(f"silenced alerts matching {made.match!r} until {local(made.until)} Asia/Shanghai")

    return _incident_action(args, silence)


def _alerts_duty(args: argparse.Namespace) -> int:
    from alerts.incidents.roster import load_roster
    from alerts.incidents.routing import parse_until

    at = parse_until(args.at, utcnow()) if args.at else utcnow()
    roster = load_roster(args.config)
    print(format_duty(roster.on_duty(at), at))
    return 0


def _watchdog(args: argparse.Namespace) -> int:
    if args.serve:
        from flows.watchdog import watch_forever

        watch_forever(lambda report: print(format_watchdog(report), flush=True),
                      config_dir=args.config, database_url=_flow_database(args.database),
                      every_s=args.every * 60)
        return 0
    from flows.watchdog import run_watchdog

    report = run_watchdog(config_dir=args.config, database_url=_flow_database(args.database))
    print(format_watchdog(report))
    return 0 if report["healthy"] else 1


def _sources(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

    if args.action == "enable":
        if not args.source:
            print("jingyu: sources enable needs a source id, e.g. jingyu sources enable "
                  "weibo-pingan", file=sys.stderr)
            return EXIT_CONFIG
        if not Warehouse(args.database).enable_source(args.source):
            print(f"jingyu: no source {args.source!r} in the warehouse (see jingyu sources)",
                  file=sys.stderr)
            return 1
        print(f"{args.source}: enabled; it is fetched in the next cycle")
        return 0
    print(format_sources(Warehouse(args.database).source_health(utcnow())))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

    rows = Warehouse(args.database).runs(limit=args.limit)
    print(format_table(
        ["run", "started", "ended", "status", "sources ok", "failed", "new posts", "alerts"],
        [[r["run_id"], local(r["started_at"]), local(r["ended_at"]), r["status"],
          r["sources_ok"], r["sources_failed"], r["posts_new"], r["alerts_new"]] for r in rows]))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from warehouse.db import database_url, make_engine, upgrade

    revision = upgrade(make_engine(args.database or database_url()))
    print(f"warehouse at revision {revision}")
    return 0


def _db_create_reader(args: argparse.Namespace) -> int:
    from warehouse.db import database_url, make_engine
    from warehouse.reader_role import create_reader

    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            print(f"jingyu: --password-env {args.password_env}: the variable is not set",
                  file=sys.stderr)
            return EXIT_CONFIG
    engine = make_engine(args.database or database_url())
    try:
        print(create_reader(engine, args.role, password))
    finally:
        engine.dispose()
    return 0


def _db_archive(args: argparse.Namespace) -> int:
    from warehouse.db import database_url, ensure_schema, make_engine
    from warehouse.queries import archive_posts

    engine = make_engine(args.database or database_url())
    ensure_schema(engine)
    before = parse_local(args.before)
    archived, kept = archive_posts(engine, before, args.output)
    print(f"archived {archived} posts seen before {local(before)} Asia/Shanghai to "
          f"{args.output} and deleted them" + (f"; kept {kept} an incident cites" if kept else ""))
    return 0


def _query(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from warehouse.db import database_url, ensure_schema, make_engine
    from warehouse.queries import (
        SQL_TIMEOUT_MS,
        QueryParams,
        describe,
        readonly_engine,
        run_query,
        run_sql,
    )

    if args.list:
        print(format_table(["query", "takes", "what it answers"], describe()))
        return 0
    if args.sql:
        from sqlalchemy.exc import DBAPIError

        engine = readonly_engine(args.database or os.environ.get("JINGYU_READER_DATABASE_URL")
                                 or database_url())
        try:
            result = run_sql(engine, args.sql, limit=None if args.output else 1000)
        except DBAPIError as exc:  # a write refused, a syntax error: the database's own words
            stopped = ("interrupted" in str(exc.orig) or "statement timeout" in str(exc.orig))
            print(f"jingyu: the database refused the statement: {exc.orig}"
                  + (f" (stopped after {SQL_TIMEOUT_MS // 1000} s)" if stopped else ""),
                  file=sys.stderr)
            return 1
        finally:
            engine.dispose()
    elif args.name:
        until = parse_local(args.until) if args.until else utcnow()
        since = parse_local(args.since) if args.since else until - timedelta(days=7)
        params = QueryParams(since=since, until=until, topic=args.topic,
                             jurisdiction=args.jurisdiction, source=args.source,
                             polarity=args.polarity, stance=args.stance, limit=args.limit,
                             by=tuple(b.strip() for b in args.by.split(",") if b.strip()))
        engine = make_engine(args.database or database_url())
        ensure_schema(engine)
        result = run_query(engine, args.name, params)
    else:
        print("jingyu query: give a query name, --sql or --list", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.output:
            _write_export(result, args, engine)
            print(f"{len(result.rows)} rows -> {args.output}")
        else:
            print(_format_query(result))
    finally:
        engine.dispose()
    return 0


def _write_export(result, args: argparse.Namespace, engine,
                  extra: Sequence[tuple[str, str]] = ()) -> None:
    """A table file with names for ids and, in Excel, a 来源 sheet saying what it holds."""
    from sqlalchemy.engine import make_url

    from flows.reporting import load_labels
    from reports.tables import provenance, write_table
    from warehouse.db import database_url

    labels = load_labels(args.config).with_sources(engine)
    warehouse = make_url(args.database or database_url()).render_as_string(hide_password=True)
    write_table(result, args.output, labels=labels,
                notes=provenance(result, labels, utcnow(), warehouse, extra))


def _search(args: argparse.Namespace) -> int:
    from flows.reporting import load_labels
    from reports.tables import search_provenance, search_rows
    from warehouse.db import database_url, ensure_schema, make_engine
    from warehouse.search import SearchQuery, search

    query = SearchQuery(text=args.text,
                        since=parse_local(args.since) if args.since else None,
                        until=parse_local(args.until) if args.until else None,
                        jurisdiction=args.jurisdiction, topic=args.topic, source=args.source,
                        polarity=args.polarity, order=args.order, limit=args.limit)
    engine = make_engine(args.database or database_url())
    try:
        ensure_schema(engine)
        result = search(engine, query)
        labels = load_labels(args.config).with_sources(engine)
        if args.output:
            _write_export(search_rows(result), args, engine, search_provenance(result, labels))
            print(f"{len(result.hits)} of {result.total_text} hits -> {args.output}")
            return 0
    finally:
        engine.dispose()
    print(format_search(result, labels))
    return 0


def _format_query(result) -> str:
    """A terminal table; post text loses control characters (no terminal escapes) and is cut."""
    from jingyu.display import one_line

    def cell(value) -> str:
        text = one_line(value)
        return text if len(text) <= 60 else text[:59] + "…"

    window = f" ({result.params.describe()})" if result.params else ""
    if result.name == "top_stories":
        from flows.present import format_top_stories

        records = result.records()
        return (f"{format_top_stories(records)}\n"
                f"{len({r['rank'] for r in records})} events, {len(records)} stories: "
                f"{result.name}{window} (-o FILE for every story)")
    table = format_table(result.columns, [[cell(v) for v in row] for row in result.rows])
    return f"{table}\n{len(result.rows)} rows: {result.name}{window}"


def _report_output(document, output: str | None) -> int:
    from reports.render import to_markdown, write

    if output:
        print(f"{document.title} -> {write(document, output)}")
    else:
        print(to_markdown(document))
    return 0


def _report_daily(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    from flows.reporting import daily_brief_document
    from jingyu.timeutil import shanghai

    day = (date.fromisoformat(args.date) if args.date
           else shanghai(utcnow()).date() - timedelta(days=1))
    return _report_output(daily_brief_document(day, jurisdiction=args.jurisdiction,
                                               config_dir=args.config,
                                               database_url=args.database), args.output)


def _report_handover(args: argparse.Namespace) -> int:
    from flows.reporting import handover_document

    until = parse_local(args.until) if args.until else utcnow()
    return _report_output(handover_document(parse_local(args.since), until,
                                            jurisdiction=args.jurisdiction,
                                            config_dir=args.config, database_url=args.database),
                          args.output)


def _report_incident(args: argparse.Namespace) -> int:
    """专报; an unknown incident exits 1 with the reason, as the alerts commands do."""
    from flows.reporting import incident_report_document
    from warehouse.incidents import NoSuchIncident

    try:
        document = incident_report_document(args.number, config_dir=args.config,
                                            database_url=args.database)
    except NoSuchIncident as exc:
        print(f"jingyu: {exc.args[0]}: see 'jingyu alerts list'", file=sys.stderr)
        return 1
    return _report_output(document, args.output)


if __name__ == "__main__":
    sys.exit(main())
