"""The production set-up: a Prefect server whose database is PostgreSQL, both real processes on 127.0.0.1,
and feedcheck's runs going on through restarts of either."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.conftest import FEEDS
from tests.servers import Postgres, PrefectServer
from tests.test_flow_cli import BIN, env_for

CLEAN = [("tiktok", FEEDS / "tiktok_clean.csv"), ("google", FEEDS / "google_clean.xml")]


def fleet_of(tmp_path: Path, size: int) -> Path:
    """A feeds file of ``size`` feeds, each a clean feed of one of the channels."""
    config = tmp_path / "feeds.toml"
    config.write_text('[defaults]\nout = "out"\n' + "".join(
        f'\n[[feed]]\nname = "shop-{n:03d}"\nchannel = "{channel}"\nsource = "{source}"\n'
        for n, (channel, source) in ((n, CLEAN[n % len(CLEAN)]) for n in range(size))))
    return config


def run_fleet(tmp_path: Path, config: Path, server: PrefectServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "feedcheck"), "run", "--config", str(config)], capture_output=True, text=True,
                          timeout=600, env=env_for(tmp_path, PREFECT_API_URL=server.api), cwd=tmp_path)


def flow_runs(server: PrefectServer, state: str) -> int:
    answer = requests.post(f"{server.api}/flow_runs/count", timeout=30, json={
        "flows": {"name": {"any_": ["check-feed"]}}, "flow_runs": {"state": {"type": {"any_": [state]}}}})
    answer.raise_for_status()
    return int(answer.json())


def test_a_fleet_runs_on_prefect_with_postgresql_through_restarts_of_both(
        tmp_path: Path, postgres: Postgres, prefect_on_postgres: PrefectServer) -> None:
    config = fleet_of(tmp_path, 12)
    before = flow_runs(prefect_on_postgres, "COMPLETED")
    for restart in (None, postgres.restart, prefect_on_postgres.restart):
        if restart is not None:
            restart()
        done = run_fleet(tmp_path, config, prefect_on_postgres)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sum(line.startswith("OK ") for line in done.stdout.splitlines()) == 12, done.stdout
    assert flow_runs(prefect_on_postgres, "COMPLETED") - before == 36
    assert flow_runs(prefect_on_postgres, "RUNNING") == 0
    assert all((tmp_path / "out" / f"shop-{n:03d}" / "manifest.json").is_file() for n in range(12))
