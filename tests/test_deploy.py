"""deploy/: the systemd units and the compose file run commands that exist, with options the
CLI accepts; the units pass `systemd-analyze verify` (when systemd is installed); the image
gets every package; the README's "Running it for real" uses them."""
from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
VENV_BIN = "/opt/jingyu/.venv/bin/"


def _unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str            # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def _accepted(argv: list[str]) -> None:
    """The jingyu command line parses (an unknown command or option exits)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"jingyu {' '.join(argv)}: rejected by the CLI (exit {exc.code})")
    assert getattr(args, "handler", None), f"jingyu {' '.join(argv)}: not a command"


def test_every_unit_runs_a_real_command() -> None:
    names = {path.name for path in UNITS}
    assert {"jingyu-prefect.service", "jingyu-serve.service", "jingyu-watchdog.service",
            "jingyu-console.service"} <= names
    for path in UNITS:
        unit = _unit(path)
        assert unit.get("Unit", "Description")
        assert unit.get("Install", "WantedBy") == "multi-user.target"
        assert unit.get("Service", "Restart") == "always"
        for key in ("ExecStartPre", "ExecStart"):
            if not unit.has_option("Service", key):
                continue
            program, *argv = shlex.split(unit.get("Service", key))
            assert program.startswith(VENV_BIN), f"{path.name}: {key} outside the venv"
            if program.endswith("/jingyu"):
                _accepted(argv)
            else:
                assert program.endswith("/prefect") and argv[:2] == ["server", "start"]


def test_serve_unit_waits_for_the_drain() -> None:
    unit = _unit(DEPLOY / "jingyu-serve.service")
    argv = shlex.split(unit.get("Service", "ExecStart"))
    drain = float(argv[argv.index("--drain") + 1])
    assert float(unit.get("Service", "TimeoutStopSec")) > drain
    assert unit.get("Service", "KillSignal") == "SIGTERM"
    assert "--skip" in argv and argv[argv.index("--skip") + 1] == "watchdog"
    assert "jingyu-prefect.service" in unit.get("Unit", "Requires")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path) -> None:
    bin_dir = str(Path(sys.executable).parent) + "/"
    for path in UNITS:   # the programs must exist: point them at this checkout's venv
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8").replace(
            VENV_BIN, bin_dir), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *[str(tmp_path / path.name) for path in UNITS]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_compose_services_run_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "prefect", "serve", "watchdog", "console"}
    assert services["db"]["image"].startswith("postgres:15")
    for name in ("serve", "watchdog", "console"):
        command = services[name]["command"]
        assert command[0] == "jingyu"
        _accepted(command[1:])
        assert "JINGYU_DATABASE_URL" in services[name]["environment"]
    assert services["prefect"]["command"][:3] == ["prefect", "server", "start"]
    serve = services["serve"]["command"]
    grace = re.fullmatch(r"(\d+)m", services["serve"]["stop_grace_period"])
    assert grace and int(grace.group(1)) * 60 > float(serve[serve.index("--drain") + 1])
    assert services["serve"]["depends_on"]["prefect"]["condition"] == "service_healthy"


def test_image_installs_every_package() -> None:
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = set(re.findall(r"^COPY (\S+) ", (DEPLOY / "Dockerfile").read_text(), re.M))
    tops = {name.split(".")[0] for name in packages["packages"]}
    tops |= {Path(d).parts[0] for d in packages.get("package-dir", {}).values()}
    assert tops <= copied, f"not copied into the image: {sorted(tops - copied)}"


def test_readme_running_it_for_real_uses_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    for path in [*UNITS, DEPLOY / "compose.yaml"]:
        assert f"deploy/{path.name}" in section, f"README does not mention deploy/{path.name}"
    assert "jingyu doctor" in section and "--metrics-port" in section
