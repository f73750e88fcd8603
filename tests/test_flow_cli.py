"""``feedcheck run`` and ``feedcheck serve`` as a user runs them: separate processes, Prefect's temporary local
server for ``run``, and a real ``prefect server start`` for the schedules of ``serve``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from feedcheck.feeds import load_feeds
from tests.conftest import FIXTURES

DEMO = FIXTURES / "demo" / "feeds.toml"
BIN = Path(sys.executable).parent


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's environment without any Prefect settings, with a Prefect home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {"PREFECT_HOME": str(tmp_path / "prefect-home")} | extra


def demo_copy(tmp_path: Path, schedule: str | None = None) -> Path:
    text = DEMO.read_text().replace('"../', f'"{FIXTURES}/').replace(f'"{FIXTURES}/../out/feeds"',
                                                                       f'"{tmp_path / "out"}"')
    if schedule:
        text = text.replace('schedule = { interval = "1h" }', schedule)
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    return path


def feedcheck(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "feedcheck"), *args], capture_output=True, text=True, timeout=300,
                          env=env_for(tmp_path), cwd=cwd or tmp_path)


def test_run_one_feed_prints_its_report_and_exits_with_its_code(tmp_path: Path) -> None:
    done = feedcheck(tmp_path, "run", "northwind-meta", "--config", str(demo_copy(tmp_path)))
    report = tmp_path / "out" / "northwind-meta" / "report.json"
    assert done.returncode == 1, done.stderr  # error findings, and published
    assert done.stdout.splitlines() == [
        "ERRORS    northwind-meta: errors, 3 of 4 items valid; published",
        f"          report: {report}",
        f"every feed: {tmp_path / 'out' / 'index.html'}",
    ]
    assert done.stderr == ""  # the flow's own log lines stay in Prefect, not on the terminal
    assert json.loads(report.read_text())["publish"]["outcome"] == "published"
    assert not (tmp_path / "out" / "northwind-tiktok").exists()


def test_run_refuses_unknown_feeds_and_files_before_starting_prefect(tmp_path: Path) -> None:
    config = str(demo_copy(tmp_path))
    done = feedcheck(tmp_path, "run", "northwind-pinterest", "--config", config)
    assert done.returncode == 2
    assert done.stderr == ("feedcheck: No feed named 'northwind-pinterest'; the feeds file has northwind-tiktok, "
                           "northwind-google, northwind-meta.\n")
    (tmp_path / "elsewhere").mkdir()
    done = feedcheck(tmp_path, "run", cwd=tmp_path / "elsewhere")
    assert done.returncode == 2 and "No feeds file at feeds.toml" in done.stderr
    done = feedcheck(tmp_path, "serve", "--config", config)
    assert done.returncode == 2 and "Schedules need a Prefect server" in done.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()  # type: ignore[operator]
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")


def test_serve_runs_each_feed_on_its_schedule(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    quick = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
             "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    server_log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env_for(tmp_path, **quick), stdout=server_log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    serve_log = (tmp_path / "serve.log").open("w")
    serve = None
    forced: list[subprocess.Popen[bytes]] = []  # what did not stop by itself
    try:
        wait_for(lambda: _healthy(api), 120, "the Prefect server")
        config = demo_copy(tmp_path, schedule="schedule = { interval = 60 }")
        serve = subprocess.Popen([str(BIN / "feedcheck"), "serve", "--config", str(config)],
                                 env=env_for(tmp_path, PREFECT_API_URL=api, **quick), cwd=tmp_path,
                                 stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True)
        names = wait_for(lambda: _deployments(api), 60, "the deployments")
        assert sorted(names) == ["all", "northwind-google", "northwind-meta", "northwind-tiktok"]
        run = wait_for(lambda: _completed_run(api), 150, "a scheduled run to complete")
        assert run["name"] == "northwind-tiktok" and run["auto_scheduled"] is True
        report = json.loads((tmp_path / "out" / "northwind-tiktok" / "report.json").read_text())
        assert report["events"]["match_rate"] is not None and report["publish"]["outcome"] == "published"
    finally:
        # SIGTERM, as systemd, Docker and Kubernetes stop a service. Not Ctrl-C's SIGINT: a shell starts a
        # background job with SIGINT ignored, every process under it inherits that, and a Python that starts
        # with SIGINT ignored never raises KeyboardInterrupt; a suite run in the background would hang here.
        for process in (serve, server):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    forced.append(process)
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        server_log.close()
        serve_log.close()
    # Stopped by itself, and cleanly: without Prefect's graceful shutdown, SIGTERM's status would be -15.
    assert serve is not None and serve not in forced and serve.returncode == 0, (tmp_path / "serve.log").read_text()


def _healthy(api: str) -> bool:
    try:
        return requests.get(f"{api}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _deployments(api: str) -> list[str]:
    answer = requests.post(f"{api}/deployments/filter", json={}, timeout=10)
    return [d["name"] for d in answer.json()] if answer.ok and len(answer.json()) == 4 else []


def _completed_run(api: str) -> dict | None:
    answer = requests.post(f"{api}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": [
        "COMPLETED"]}}}}, timeout=10)
    runs = [r for r in answer.json() if r.get("auto_scheduled")] if answer.ok else []
    return runs[0] if runs else None


def test_init_writes_a_starter_feeds_file_that_runs_and_is_never_overwritten(tmp_path: Path) -> None:
    source = FIXTURES / "feeds" / "google_clean.xml"
    written = feedcheck(tmp_path, "init", "--channel", "google", "--source", str(source))
    assert written.returncode == 0 and written.stdout.startswith("wrote feeds.toml")
    (feed,) = load_feeds(tmp_path / "feeds.toml")
    assert (feed.name, feed.source, feed.channel, feed.format, feed.out, feed.destination) == (
        "google_clean", str(source), "google", "xml", tmp_path / "out" / "feeds" / "google_clean", None)
    assert feed.schedule is not None and feed.schedule.interval == 3600
    text = (tmp_path / "feeds.toml").read_text()
    again = feedcheck(tmp_path, "init", "--channel", "tiktok", "--source", "other.csv")
    assert again.returncode == 2 and "exists" in again.stderr and (tmp_path / "feeds.toml").read_text() == text
    done = feedcheck(tmp_path, "run", "--config", "feeds.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out" / "feeds" / "google_clean" / "catalog.xml").is_file()
