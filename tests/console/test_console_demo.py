"""What `jingyu demo` adds for the console: a demo login on the demo warehouse and the
console's address (the cycle itself is tested in tests/flows)."""
from __future__ import annotations

from flows.console_cli import DEMO_LOGIN, demo_console
from warehouse.accounts import AccountStore
from warehouse.store import Warehouse


def test_demo_prints_the_console_and_a_login_that_works(tmp_path, capsys):
    (tmp_path / "config").mkdir()
    Warehouse(f"sqlite:///{tmp_path / 'jingyu-demo.db'}").close()
    assert demo_console(str(tmp_path), 8123, keep_running=False) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out and DEMO_LOGIN[0] in out and DEMO_LOGIN[1] in out
    assert f"jingyu console --port 8123 --database sqlite:///{tmp_path}" in out
    assert demo_console(str(tmp_path), 8123, keep_running=False) == 0     # twice is fine
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'jingyu-demo.db'}")
    try:
        account = AccountStore(warehouse).get(DEMO_LOGIN[0])
        assert account is not None and account.role == "leader"
    finally:
        warehouse.close()
