"""The production set-up: a Prefect server whose database is PostgreSQL, both real processes on 127.0.0.1,
and feedcheck's runs going on through restarts of either."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from uuid import UUID

import prefect.server.models as prefect_models
import requests
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.server.database import provide_database_interface
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_API_URL, temporary_settings
from prefect.states import Pending

from feedcheck.flows import check_all_feeds, check_one_feed, outcome_of
from feedcheck.flows.serve import crash_orphaned_runs, delete_dangling_runs, deployments
from tests.conftest import FEEDS, ROOT, FeedServer
from tests.servers import Postgres, PrefectServer, flows_against, free_port
from tests.test_flow_cli import BIN, _completed_run, _deployments, _healthy, demo_copy, env_for, wait_for

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
    # The first run reads each feed; the runs after each restart find the same files, unchanged.
    for restart, status in ((None, "OK"), (postgres.restart, "UNCHANGED"), (prefect_on_postgres.restart, "UNCHANGED")):
        if restart is not None:
            restart()
        done = run_fleet(tmp_path, config, prefect_on_postgres)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sum(line.startswith(f"{status} ") for line in done.stdout.splitlines()) == 12, done.stdout
    assert flow_runs(prefect_on_postgres, "COMPLETED") - before == 36
    assert flow_runs(prefect_on_postgres, "RUNNING") == 0
    assert all((tmp_path / "out" / f"shop-{n:03d}" / "manifest.json").is_file() for n in range(12))


def test_the_procfile_serves_the_feeds_on_a_server_on_postgresql(tmp_path: Path, postgres: Postgres) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    feeds = demo_copy(tmp_path, schedule="schedule = { interval = 60 }")
    env = env_for(tmp_path, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                  PREFECT_API_DATABASE_CONNECTION_URL=postgres.create("procfile"), PREFECT_SERVER_API_PORT=str(port),
                  PREFECT_API_URL=api, FEEDCHECK_FEEDS=str(feeds),
                  PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
                  PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2", PREFECT_RUNNER_POLL_FREQUENCY="2")
    with (tmp_path / "honcho.log").open("w") as log:
        honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile")], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: _healthy(api), 180, "the Prefect server")
            names = wait_for(lambda: _deployments(api), 120, "the deployments")
            assert sorted(names) == ["all", "northwind-google", "northwind-meta", "northwind-tiktok"]
            run = wait_for(lambda: _completed_run(api), 150, "a scheduled run to complete")
            assert run["auto_scheduled"] is True
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)  # as a service manager stops it: honcho stops both processes
            honcho.wait(timeout=90)  # or the test fails: a process outlived the runner
    assert (tmp_path / "out" / run["name"] / "report.json").is_file()


def test_a_run_whose_processes_are_killed_is_marked_crashed_not_left_running(
        tmp_path: Path, postgres: Postgres, server: FeedServer) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:  # a feed that takes ten minutes to arrive
        handler.send_response(200)
        handler.send_header("Content-Length", str(1 << 20))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(b"id,title,price\n")
            for _ in range(600):
                time.sleep(1)
                handler.wfile.write(b"a")
                handler.wfile.flush()

    server.routes["/slow.csv"] = drip
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "slow"\nsource = "{server.url("/slow.csv")}"\n')
    prefect = PrefectServer(free_port(), env_for(tmp_path, PREFECT_API_DATABASE_CONNECTION_URL=postgres.create(
        "zombies"), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false"))
    prefect.start()
    serve = None
    try:
        serve = subprocess.Popen([str(BIN / "feedcheck"), "serve", "--config", str(config)], cwd=tmp_path,
                                 env=env_for(tmp_path, PREFECT_API_URL=prefect.api, PREFECT_RUNNER_POLL_FREQUENCY="2",
                                             PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: len(_names(prefect.api)) == 2, 120, "the deployments")
        run = _start(prefect.api, "slow")
        wait_for(lambda: _state(prefect.api, run) == "RUNNING", 120, "the run to start")
        time.sleep(5)  # its first heartbeat
        os.killpg(serve.pid, signal.SIGKILL)  # serve and the run's process, as when their machine is lost
        serve.wait()
        wait_for(lambda: _state(prefect.api, run) == "CRASHED", 300, "the silent run to be marked Crashed")
    finally:
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
        prefect.stop()


def test_serve_started_again_crashes_the_runs_its_killed_predecessor_left_pending(
        tmp_path: Path, prefect_on_postgres: PrefectServer) -> None:
    config = fleet_of(tmp_path, 2)
    with temporary_settings({PREFECT_API_URL: prefect_on_postgres.api}):
        for deployment in deployments(config):
            deployment.apply()
        left = [run_deployment(f"check-feed/shop-00{n}", timeout=0) for n in range(2)]
        with get_client(sync_client=True) as client:
            for run in left:
                client.set_flow_run_state(run.id, Pending(), force=True)  # as a killed serve leaves them
            other = client.create_flow_run(flow=check_one_feed, state=Pending())  # not serve's: left alone
            assert crash_orphaned_runs(["shop-000", "shop-001", "all"]) == 2
            assert [client.read_flow_run(run.id).state.type.value for run in left] == ["CRASHED", "CRASHED"]
            assert client.read_flow_run(other.id).state.type.value == "PENDING"


def _names(api: str) -> list[str]:
    answer = requests.post(f"{api}/deployments/filter", json={}, timeout=10)
    return [d["name"] for d in answer.json()] if answer.ok else []


def _start(api: str, name: str) -> str:
    deployment = requests.get(f"{api}/deployments/name/check-feed/{name}", timeout=10).json()
    answer = requests.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def _state(api: str, run: str) -> str:
    return str(requests.get(f"{api}/flow_runs/{run}", timeout=10).json()["state"]["type"])


def test_serve_deletes_the_runs_a_schedule_replaced_mid_tick_left_behind(
        tmp_path: Path, prefect_on_postgres: PrefectServer) -> None:
    """Serve re-applies its deployments each time it starts, and Prefect's server replaces their schedules.
    When its scheduler was mid-tick, it inserts the runs it made from the old schedule afterwards (Prefect
    issues 17703 and 18894): two runs of one feed at each time. The scheduler's two steps run here around the
    re-apply, as that race interleaves them."""
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "out"\n\n[[feed]]\nname = "minutely"\nchannel = "tiktok"\n'
                      f'source = "{CLEAN[0][1]}"\nschedule = {{ cron = "* * * * *" }}\n')
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=1)
    database = prefect_on_postgres.env["PREFECT_API_DATABASE_CONNECTION_URL"]
    with temporary_settings({PREFECT_API_URL: prefect_on_postgres.api,
                             PREFECT_API_DATABASE_CONNECTION_URL: database}):
        deployments(config)[0].apply()
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("check-feed/minutely").id
        made = asyncio.run(_scheduler_makes_runs(deployment, now))
        deployments(config)[0].apply()  # serve started again
        asyncio.run(_scheduler_inserts_runs(made))
        assert _minutes_of(_runs_made(deployment, made), now) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        assert delete_dangling_runs(["minutely", "all"], now=now) == 5
        assert _minutes_of(_runs_made(deployment, made), now) == [0, 6, 7, 8, 9]  # now, and past 5 minutes


def _runs_made(deployment: UUID, made: list[dict[str, object]]) -> list[FlowRun]:
    keys = {run["idempotency_key"] for run in made}
    with get_client(sync_client=True) as client:
        return [run for run in client.read_flow_runs(deployment_filter=DeploymentFilter(
            id=DeploymentFilterId(any_=[deployment]))) if run.idempotency_key in keys]


def _minutes_of(runs: list[FlowRun], now: datetime) -> list[int]:
    return sorted(int((run.expected_start_time - now).total_seconds()) // 60 for run in runs)


async def _scheduler_makes_runs(deployment: UUID, now: datetime) -> list[dict[str, object]]:
    """The first step of a tick of Prefect's scheduler: the runs of the next ten minutes, from the deployment's
    schedules as they are now."""
    db = provide_database_interface()
    async with db.session_context() as session:
        return await prefect_models.deployments._generate_scheduled_flow_runs(
            db, session=session, deployment_id=deployment, start_time=now, end_time=now + timedelta(minutes=10),
            min_time=timedelta(minutes=10), min_runs=10, max_runs=10)


async def _scheduler_inserts_runs(runs: list[dict[str, object]]) -> None:
    """The second step of the tick: insert the runs it made."""
    db = provide_database_interface()
    async with db.session_context(begin_transaction=True) as session:
        await prefect_models.deployments._insert_scheduled_flow_runs(session=session, runs=runs)


def test_check_all_feeds_spread_over_deployments_runs_each_feed_where_serve_runs_its_deployment(
        tmp_path: Path, prefect_on_postgres: PrefectServer) -> None:
    config = tmp_path / "feeds.toml"
    sources = [CLEAN[0], CLEAN[1], ("tiktok", tmp_path / "gone.csv")]
    config.write_text('[defaults]\nout = "out"\nspread = "deployments"\n' + "".join(
        f'\n[[feed]]\nname = "spread-{n}"\nchannel = "{channel}"\nsource = "{source}"\n'
        for n, (channel, source) in enumerate(sources)))
    with _serving(config, prefect_on_postgres.api, {"spread-0", "spread-1", "spread-2"}) as env:
        done = subprocess.run([str(BIN / "feedcheck"), "run", "--config", str(config)], capture_output=True,
                              text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines() if not line.startswith(" ")][:3] == [
        "OK", "OK", "FATAL"]
    assert _runs_of_deployments(prefect_on_postgres.api, "spread-") == [
        ("spread-0", "COMPLETED"), ("spread-1", "COMPLETED"), ("spread-2", "FAILED")]


def test_check_all_feeds_spread_over_deployments_keeps_the_exit_code_of_the_check_an_unchanged_feed_stands_on(
        tmp_path: Path, prefect_on_postgres: PrefectServer, server: FeedServer) -> None:
    url = server.serve_with_etag("/flawed.csv", (FEEDS / "tiktok_defects.csv").read_bytes(), '"v1"')
    config = _one_spread_feed(tmp_path, "flawed", url, "[defaults.gate]\nmax_error_share = 1.0\n")
    with _serving(config, prefect_on_postgres.api, {"flawed"}) as env:
        runs = [subprocess.run([str(BIN / "feedcheck"), "run", "--config", str(config)], capture_output=True,
                               text=True, timeout=600, env=env, cwd=tmp_path) for _ in range(2)]
    assert [(run.returncode, run.stdout.split()[0]) for run in runs] == [(1, "ERRORS"), (1, "UNCHANGED")], \
        runs[-1].stdout + runs[-1].stderr


def _one_spread_feed(tmp_path: Path, name: str, source: object, defaults: str = "") -> Path:
    """A feeds file of one TikTok feed, spread over deployments, with more of ``[defaults]`` (its tables)."""
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "out"\nspread = "deployments"\n\n{defaults}\n[[feed]]\nname = "{name}"\n'
                      f'channel = "tiktok"\nsource = "{source}"\n')
    return config


@contextlib.contextmanager
def _serving(config: Path, api: str, names: set[str]) -> Iterator[dict[str, str]]:
    """``feedcheck serve`` of ``config`` on the server at ``api``, once its deployments ``names`` are there;
    the environment to run feedcheck in beside it."""
    env = env_for(config.parent, PREFECT_API_URL=api)
    serve = subprocess.Popen([str(BIN / "feedcheck"), "serve", "--config", str(config)], cwd=config.parent, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: names <= set(_names(api)), 120, "serve's deployments")
        yield env
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)


def _runs_of_deployments(api: str, prefix: str) -> list[tuple[str, str]]:
    """Each run of the deployments whose name begins with ``prefix``: its deployment's name and its state."""
    deployments = requests.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    names = {d["id"]: d["name"] for d in deployments if d["name"].startswith(prefix)}
    runs = requests.post(f"{api}/flow_runs/filter", timeout=10, json={
        "deployments": {"id": {"any_": list(names)}}}).json()
    return sorted((names[run["deployment_id"]], run["state"]["type"]) for run in runs)


def test_check_all_feeds_spread_over_deployments_withdraws_a_run_nothing_took_and_fails_its_feed(
        tmp_path: Path, prefect_on_postgres: PrefectServer) -> None:
    config = _one_spread_feed(tmp_path, "unserved", CLEAN[0][1])
    with flows_against(prefect_on_postgres.api):
        deployments(config)[0].apply()  # and no serve, nor worker, to run it
        state = check_all_feeds(str(config), start_within=3, return_state=True)
    assert outcome_of(state) == [{
        "feed": "unserved", "status": "fatal", "exit_code": 3, "report": "",
        "message": "unserved: nothing took its run of check-feed/unserved within 3 s; is feedcheck serve, or a "
                   "worker of the deployment's pool, running?"}]
    assert _runs_of_deployments(prefect_on_postgres.api, "unserved") == []


def test_check_all_feeds_spread_over_deployments_crashes_a_run_taken_and_never_started(
        tmp_path: Path, prefect_on_postgres: PrefectServer) -> None:
    config = _one_spread_feed(tmp_path, "stranded", CLEAN[0][1])
    with flows_against(prefect_on_postgres.api):
        deployments(config)[0].apply()
        taker = threading.Thread(target=_take_and_vanish, args=(prefect_on_postgres.api, "stranded"), daemon=True)
        taker.start()
        state = check_all_feeds(str(config), start_within=10, return_state=True)
    taker.join(timeout=60)
    assert outcome_of(state) == [{
        "feed": "stranded", "status": "crashed", "exit_code": 4,
        "report": str(tmp_path / "out" / "stranded" / "report.json"),
        "message": "Taken by a serve process or worker that had not started it 10 s later: it was stopped or lost "
                   "in between."}]
    assert _runs_of_deployments(prefect_on_postgres.api, "stranded") == [("stranded", "CRASHED")]


def _take_and_vanish(api: str, feed: str) -> None:
    """What serve does when it takes a run of a feed's deployment, Pending, and then nothing: it was killed
    before it started the run, and never started again."""
    deployment = requests.get(f"{api}/deployments/name/check-feed/{feed}", timeout=10).json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for run in requests.post(f"{api}/flow_runs/filter", timeout=10, json={
                "deployments": {"id": {"any_": [deployment]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}).json():
            requests.post(f"{api}/flow_runs/{run['id']}/set_state", timeout=10,
                          json={"state": {"type": "PENDING"}}).raise_for_status()
            return
        time.sleep(0.2)
