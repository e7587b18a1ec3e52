"""The `jingyu` command: thin wrappers over the flows and the warehouse."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

# Before Prefect is imported anywhere: no telemetry from a closed network, and no anonymous
# usage reports from the ephemeral server.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from flows.present import format_alerts, format_run, format_sources, format_table, local  # noqa: E402
from jingyu.config import ConfigError  # noqa: E402
from jingyu.timeutil import utcnow  # noqa: E402

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    from warehouse.db import WarehouseUnavailable

    try:
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

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="DIR",
                       help="configuration directory (default: $JINGYU_CONFIG_DIR or ./config)")

    p = command("demo", _demo, "run one full cycle offline on bundled sample feeds")
    p.add_argument("--workdir", default="data/demo", help="where the demo warehouse goes")

    p = command("run", _run, "run one monitoring cycle now, from the configuration")
    with_config(p)
    with_database(p)
    p.add_argument("--force", action="store_true",
                   help="fetch every enabled source, even those not yet due")

    p = command("serve", _serve, "run the scheduled monitor flow unattended (needs a Prefect server)")
    with_config(p)
    with_database(p)

    p = command("score", _score, "add sentiment, polarity, police_related, topics, keywords to a CSV")
    p.add_argument("input", help="CSV file with a 'text' column")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    with_config(p)

    p = command("alerts", _alerts, "list recent alerts")
    with_database(p)
    p.add_argument("--limit", type=int, default=20)

    p = command("sources", _sources, "source health: last success, errors, posts in 24 h")
    with_database(p)

    p = command("runs", _runs, "the run ledger (巡查日志): recent monitoring cycles")
    with_database(p)
    p.add_argument("--limit", type=int, default=20)

    p = command("db", None, "warehouse schema")
    db_sub = p.add_subparsers(metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply pending migrations")
    up.set_defaults(handler=_db_upgrade)
    with_database(up)
    return parser


# ---- commands -------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    from flows.monitor import monitor
    from flows.settings import load_cycle_settings

    from warehouse.store import Warehouse

    # Fail fast, before Prefect starts: bad configuration exits 2, an unreachable database 3.
    load_cycle_settings(args.config)
    Warehouse(args.database).close()
    summary = monitor(config_dir=args.config, database_url=args.database, force=args.force)
    print(format_run(summary))
    return 0 if summary["status"] in ("ok", "partial") else 1


def _demo(args: argparse.Namespace) -> int:
    from flows.demo.run_demo import run_demo

    print(run_demo(args.workdir))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from flows.schedule import serve_monitor

    serve_monitor(config_dir=args.config, database_url=args.database)
    return 0


def _score(args: argparse.Namespace) -> int:
    from flows.scoring import score_csv

    rows = score_csv(args.input, args.output, config_dir=args.config)
    print(f"scored {rows} rows -> {args.output}")
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

    print(format_alerts(Warehouse(args.database).alerts(limit=args.limit)))
    return 0


def _sources(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

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


if __name__ == "__main__":
    sys.exit(main())
