"""Progress bars on long work: `jingyu score` and `jingyu rescore` show rate and time left on a
terminal (a real pseudo-terminal here) and print no bar into a pipe or a log."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from flows.cli import main

TEXTS = ["民警救起落水儿童，网友纷纷点赞。", "辅警被指暴力执法，现场视频在网上流传。",
         "北湖公园今天举办菊花展。", "男子酒后袭警，已被刑事拘留。"]


def _run(argv: list[str], terminal: bool) -> tuple[int, str]:
    """Run `jingyu ARGV` in a process whose stderr is a pseudo-terminal (or a pipe)."""
    command = [sys.executable, "-m", "flows.cli", *argv]
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    received = bytearray()
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:          # the process closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(leader)
    return process.wait(timeout=600), received.decode("utf-8", "replace")


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text("id,text\n" + "".join(f"{i},{TEXTS[i % 4]}（{i}）\n" for i in range(1200)),
                    encoding="utf-8")
    return path


def test_score_shows_rate_and_time_left_on_a_terminal(csv_file, tmp_path) -> None:
    code, err = _run(["score", str(csv_file), "-o", str(tmp_path / "out.csv"),
                      "--sentiment", "fast"], terminal=True)
    assert code == 0, err
    assert "scoring: 100%" in err and "1200/1200" in err and "rows/s" in err
    assert "<00:00" in err or "<" in err.split("1200/1200")[-1]   # time left, tqdm's "<mm:ss"


def test_score_prints_no_bar_into_a_pipe(csv_file, tmp_path) -> None:
    code, err = _run(["score", str(csv_file), "-o", str(tmp_path / "out.csv"),
                      "--sentiment", "fast"], terminal=False)
    assert code == 0 and err == ""


def test_rescore_shows_progress_on_a_terminal(tmp_path) -> None:
    from tests.flows.test_cli_rescore import SOURCE, stale

    from collectors.records import FETCH_OK, FetchResult, SourceCursor
    from warehouse.store import Warehouse

    url = f"sqlite:///{tmp_path / 'w.db'}"
    warehouse = Warehouse(url)
    warehouse.sync_sources([SOURCE])
    run = warehouse.start_run(stale(0, "").raw.fetched_at)
    scored = [stale(i, f"{TEXTS[i % 4]}（{i}）") for i in range(300)]
    warehouse.store_fetch(run, FetchResult(source_id="weibo", status=FETCH_OK,
                                           cursor=SourceCursor(),
                                           posts=tuple(p.raw for p in scored)),
                          scored, scored[-1].raw.fetched_at)
    warehouse.close()
    code, err = _run(["rescore", "--database", url, "--batch", "100", "--sentiment", "fast"],
                     terminal=True)
    assert code == 0, err
    assert "rescoring: 100%" in err and "300/300" in err and "posts/s" in err
    assert main(["rescore", "--database", url, "--sentiment", "fast"]) == 0   # not a terminal


@pytest.mark.slow
def test_an_import_in_jingyu_run_shows_progress_on_a_terminal_only(tmp_path) -> None:
    """A `kind: file` export of 600 rows imported by `jingyu run`: scored with a bar (rate,
    time left) on a terminal; in a pipe (a service's log) no bar."""
    import yaml

    from flows.demo.run_demo import prepare_config

    export = tmp_path / "export.csv"
    export.write_text("编号,内容\n" + "".join(f"{i},{TEXTS[i % 4]}（{i}）\n" for i in range(600)),
                      encoding="utf-8")
    config = prepare_config(tmp_path, "http://127.0.0.1:9/")
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": [
        {"id": "export", "name": "舆情通导出", "kind": "file", "url": str(export),
         "options": {"format": "csv", "columns": {"id": "编号", "text": "内容"}}}]},
        allow_unicode=True), encoding="utf-8")
    (config / "scoring.yaml").write_text("sentiment: {model: fast}\n", encoding="utf-8")
    for terminal in (True, False):
        db = tmp_path / f"w-{terminal}.db"
        code, err = _run(["run", "--force", "--config", str(config),
                          "--database", f"sqlite:///{db}"], terminal=terminal)
        assert code == 0, err
        if terminal:
            assert "importing export: 100%" in err and "600/600" in err and "posts/s" in err
        else:
            assert "importing export" not in err and "600/600" not in err


@pytest.mark.slow
def test_the_demo_set_up_shows_progress_on_a_terminal(tmp_path) -> None:
    code, err = _run(["demo", "--workdir", str(tmp_path / "demo")], terminal=True)
    assert code == 0, err
    assert "demo set-up: 100%" in err and "2/2" in err and "steps" in err
