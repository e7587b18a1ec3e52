"""prefect.yaml against a real `prefect server start`: deploy, list, run through a worker."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from tests.flows.prefect_server import ROOT, PrefectServer, running_prefect_server

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))["deployments"]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    with running_prefect_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


def test_every_entrypoint_loads_the_way_a_worker_loads_it():
    # A fresh interpreter, as in a worker's flow-run process: an entrypoint file named like
    # one of our packages (flows/reports.py) shadowed that package and failed to load.
    code = ("import sys\n"
            "from prefect.flows import load_flow_from_entrypoint\n"
            "for entrypoint in sys.argv[1:]:\n"
            "    print(entrypoint, load_flow_from_entrypoint(entrypoint).name)\n")
    entrypoints = [d["entrypoint"] for d in DEPLOYMENTS]
    done = subprocess.run([sys.executable, "-c", code, *entrypoints], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == len(entrypoints)


def test_prefect_cli_deploys_everything_and_lists_it(prefect_server: PrefectServer):
    env = {**prefect_server.env, "JINGYU_HOME": str(ROOT)}
    prefect_server.cli("work-pool", "create", "jingyu", "--type", "process")
    # Failed with 422 (limit: None) after the first deployment under fastapi >= 0.151.
    prefect_server.cli("deploy", "--all", env=env)

    listed = prefect_server.cli("deployment", "ls").stdout
    for deployment in DEPLOYMENTS:
        assert deployment["name"] in listed
    assert "jingyu" in prefect_server.cli("work-pool", "ls").stdout
    prefect_server.cli("flow-run", "ls")
    deployed = prefect_server.api("POST", "/deployments/filter", {"limit": None})
    assert sorted(d["name"] for d in deployed) == sorted(d["name"] for d in DEPLOYMENTS)
    for deployment in deployed:
        assert deployment["schedules"], f"{deployment['name']} has no schedule"
