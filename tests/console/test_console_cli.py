"""`jingyu users ...` in a real subprocess (the password comes on stdin), and `jingyu console`
serving from the command line."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.console.harness import free_port, login

JINGYU = [str(Path(sys.executable).parent / "jingyu")]


def jingyu(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*JINGYU, *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_users_add_list_disable_and_the_refusals(sqlite_url):
    db = ["--database", sqlite_url]
    added = jingyu("users", "add", "张三", "--role", "duty", "--password-stdin", *db,
                   stdin="a-good-password\n")
    assert added.returncode == 0, added.stderr
    scoped = jingyu("users", "add", "临江所", "--role", "analyst", "--jurisdiction",
                    "qingchuan.linjiang.linjiang_pcs", "--password-stdin", *db,
                    stdin="another-password\n")
    assert scoped.returncode == 0, scoped.stderr
    again = jingyu("users", "add", "张三", "--role", "duty", "--password-stdin", *db,
                   stdin="a-good-password\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = jingyu("users", "add", "李四", "--role", "duty", "--password-stdin", *db,
                   stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr
    nowhere = jingyu("users", "add", "王五", "--role", "duty", "--jurisdiction", "atlantis",
                     "--password-stdin", *db, stdin="a-good-password\n")
    assert nowhere.returncode == 1 and "unknown jurisdiction 'atlantis'" in nowhere.stderr
    role = jingyu("users", "add", "王五", "--role", "boss", "--password-stdin", *db)
    assert role.returncode == 2 and "invalid choice" in role.stderr
    listed = jingyu("users", "list", *db).stdout
    assert "张三" in listed and "qingchuan.linjiang.linjiang_pcs" in listed
    assert "李四" not in listed and "王五" not in listed
    assert jingyu("users", "disable", "张三", *db).returncode == 0
    assert "disabled" in jingyu("users", "list", *db).stdout.split("张三")[1].splitlines()[0]
    missing = jingyu("users", "disable", "nobody", *db)
    assert missing.returncode == 1 and "no account named 'nobody'" in missing.stderr


def test_jingyu_console_serves_and_logs_in(sqlite_url, tmp_path):
    db = ["--database", sqlite_url]
    assert jingyu("users", "add", "张三", "--role", "duty", "--password-stdin", *db,
                  stdin="a-good-password\n").returncode == 0
    port = free_port()
    server = subprocess.Popen([*JINGYU, "console", "--port", str(port), *db],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "jingyu console did not start"
                time.sleep(0.2)
        s = requests.Session()
        assert login(s, base, "张三", "a-good-password").url.rstrip("/") == base
        assert "在办事件" in s.get(base + "/").text
    finally:
        server.terminate()
        server.wait(timeout=20)
