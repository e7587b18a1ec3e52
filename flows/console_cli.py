"""`jingyu console` (the duty console's web server) and `jingyu users` (its accounts): thin
wrappers over console.app and console.accounts."""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from flows.present import format_table, local
from jingyu.timeutil import utcnow


def add_commands(sub: Any) -> None:
    """Register the commands on `jingyu`'s subparsers."""
    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                       help="warehouse URL (default: $JINGYU_DATABASE_URL or "
                            "sqlite:///data/jingyu.db)")
        p.add_argument("--config", metavar="DIR", default=argparse.SUPPRESS,
                       help="configuration directory (default: $JINGYU_CONFIG_DIR or ./config)")

    help_text = ("serve the duty console (值班台): the web pages duty staff see and act on "
                 "incidents with")
    p = sub.add_parser("console", help=help_text, description=help_text)
    p.set_defaults(handler=_console)
    options(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--idle-minutes", type=int, default=30, metavar="N",
                   help="log a session out after N minutes without a click (default 30)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="send the session cookie over HTTPS only (set when served behind TLS)")

    help_text = "console accounts: add, list, disable, enable, password"
    p = sub.add_parser("users", help=help_text, description=help_text)
    p.set_defaults(handler=_users_list)
    options(p)
    actions = p.add_subparsers(metavar="ACTION")

    q = actions.add_parser("add", help="add an account (the password is read from stdin)")
    q.set_defaults(handler=_users_add)
    options(q)
    q.add_argument("name", help="the person's name, as in roster.yaml")
    q.add_argument("--role", required=True, choices=["duty", "leader", "analyst", "admin"],
                   help="duty 值班员 (acts on incidents) | leader 带班领导 (also levels and "
                        "closing) | analyst 分析员 (reads, searches) | admin 管理员 (accounts)")
    q.add_argument("--jurisdiction", metavar="ID",
                   help="a 分局 or 派出所 account sees this jurisdiction and those below it "
                        "(an id of jurisdictions.yaml; default: everything)")
    q.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input "
                        "(without it, it is asked for at the terminal)")

    q = actions.add_parser("list", help="every account: role, jurisdiction, last login")
    q.set_defaults(handler=_users_list)
    options(q)
    for name, handler, text in (
            ("disable", _users_disable,
             "stop an account logging in (its open sessions end at their next click)"),
            ("enable", _users_enable, "let a disabled account log in again"),
            ("password", _users_password,
             "set a new password (from stdin with --password-stdin)")):
        q = actions.add_parser(name, help=text, description=text)
        q.set_defaults(handler=handler)
        options(q)
        q.add_argument("name")
        if name == "password":
            q.add_argument("--password-stdin", action="store_true")


def _console(args: argparse.Namespace) -> int:
    import uvicorn

    from console.app import ConsoleSettings, create_app

    settings = ConsoleSettings(database_url=getattr(args, "database", None),
                               config_dir=getattr(args, "config", None),
                               idle_minutes=args.idle_minutes,
                               secure_cookies=args.secure_cookies)
    app = create_app(settings)
    print(f"jingyu console: http://{args.host}:{args.port}/  (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    return 0


def _store(args: argparse.Namespace):
    from warehouse.accounts import AccountStore
    from warehouse.store import Warehouse

    return AccountStore(Warehouse(getattr(args, "database", None)))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _users_add(args: argparse.Namespace) -> int:
    from console.accounts import AccountError, add_account
    from flows.settings import load_places

    known = tuple(load_places(getattr(args, "config", None)).jurisdictions)
    try:
        account = add_account(_store(args), args.name, args.role, args.jurisdiction,
                              _password(args), utcnow(), known)
    except (AccountError, ValueError) as exc:
        print(f"jingyu: {exc}", file=sys.stderr)
        return 1
    print(f"added {account.name} ({account.role}"
          f"{', ' + account.jurisdiction if account.jurisdiction else ''})")
    from alerts.incidents.roster import load_roster

    people = {p.name for p in load_roster(getattr(args, "config", None)).people.values()}
    if people and account.name not in people:
        print(f"note: {account.name} is not in roster.yaml: links in robot messages name "
              f"roster people, and theirs will not be this account")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    accounts = _store(args).accounts()
    if not accounts:
        print("no accounts yet: add one with `jingyu users add NAME --role admin "
              "--password-stdin`")
        return 0
    print(format_table(["name", "role", "jurisdiction", "state", "created", "last login"],
                       [[a.name, a.role, a.jurisdiction or "(all)",
                         "disabled" if a.disabled else "active", local(a.created_at),
                         local(a.last_login_at)] for a in accounts]))
    return 0


def _change(args: argparse.Namespace, done: str, **values: Any) -> int:
    from warehouse.accounts import NoSuchAccount

    try:
        _store(args).update(args.name, utcnow(), **values)
    except NoSuchAccount as exc:
        print(f"jingyu: {exc}: see `jingyu users list`", file=sys.stderr)
        return 1
    print(f"{args.name}: {done}")
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    return _change(args, "disabled", disabled=True)


def _users_enable(args: argparse.Namespace) -> int:
    return _change(args, "enabled", disabled=False)


def _users_password(args: argparse.Namespace) -> int:
    from console.accounts import AccountError, hash_password

    try:
        hashed = hash_password(_password(args))
    except (AccountError, ValueError) as exc:
        print(f"jingyu: {exc}", file=sys.stderr)
        return 1
    return _change(args, "password changed", password_hash=hashed)


DEMO_LOGIN = ("演示值班员", "jingyu-demo")


def demo_console(workdir: str, port: int, keep_running: bool) -> int:
    """After `jingyu demo`: a demo account (带班领导, so every button works) on the demo
    warehouse, the console's address, and with --console the console itself."""
    from pathlib import Path

    from console.accounts import add_account
    from warehouse.accounts import AccountStore
    from warehouse.store import Warehouse

    root = Path(workdir).resolve()
    database, config = f"sqlite:///{root / 'jingyu-demo.db'}", root / "config"
    warehouse = Warehouse(database)
    try:
        store = AccountStore(warehouse)
        if store.get(DEMO_LOGIN[0]) is None:
            add_account(store, DEMO_LOGIN[0], "leader", None, DEMO_LOGIN[1], utcnow())
    finally:
        warehouse.close()
    command = f"jingyu console --port {port} --database {database} --config {config}"
    print()
    print(f"Duty console (值班台): http://127.0.0.1:{port}/   "
          f"login {DEMO_LOGIN[0]} / password {DEMO_LOGIN[1]}")
    if not keep_running:
        print(f"  start it with:  {command}   (or run `jingyu demo --console`)")
        return 0
    print("  serving now; Ctrl-C stops", flush=True)
    return _console(argparse.Namespace(database=database, config=str(config), host="127.0.0.1",
                                       port=port, idle_minutes=30, secure_cookies=False))
