"""Run a fleet of feeds on ``feedcheck serve`` against a Prefect server on PostgreSQL for a while, through
faults, and check that nothing was lost: ``python -m bench.soak --feeds 200 --minutes 30``.

Everything runs on 127.0.0.1: PostgreSQL (Debian's, as the tests start it), the Prefect server, the feed host
and the Slack endpoint of :mod:`bench.soak.hosts`, and serve. Run as root: the soak mounts a small tmpfs to
fill up. Its report (``soak-report.json`` in the work folder, and a table on standard output) gives each
check of :mod:`bench.soak.checks` with its figure; the exit code is 0 when every check holds, 1 otherwise.
``soak-runs.json`` beside it keeps each feed's flow runs as Prefect had them, to explain a check that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench import generate
from bench.services import PrefectServer, children_of, free_port, start_postgres
from bench.soak import checks
from bench.soak.faults import KILLS, Serve, SmallDisk, rss_of, timeline
from bench.soak.fleet import Feed, event_log, feeds_file, fleet
from bench.soak.hosts import FeedHost, SlackSink

HEARTBEAT = 30  # seconds between a flow run's heartbeats (Prefect's least): a killed run is Crashed after three
TICK = 5.0  # seconds between samples of memory and additions to the event logs
EVENTS_PER_TICK = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=4.0, help="how long the fleet runs before the checks")
    parser.add_argument("--interval", type=int, default=60, help="seconds between a feed's scheduled runs")
    parser.add_argument("--items", type=int, default=300, help="items in each feed")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds the runs due get to finish at the end")
    parser.add_argument("--workdir", type=Path, default=Path(".soak"))
    parser.add_argument("--no-faults", action="store_true", help="no faults: how many runs a minute the set-up holds")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql",
                        help="the Prefect server's database (SQLite: to compare; no PostgreSQL restart then)")
    args = parser.parse_args(argv)
    # Stopped (a service manager, a test's deadline), the soak still stops the servers it started and unmounts
    # its disk: SIGTERM ends it through the same clean-up as the end of the fleet.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    report = Soak(args).run()
    print(table(report))
    return 0 if all(check["holds"] for check in report["checks"]) else 1


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = args.workdir.resolve()
        self.feeds = fleet(args.feeds, args.items)
        self.started: float | None = None
        self.faults: list[dict[str, Any]] = []
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self.lines: dict[str, Iterator[str]] = {}  # each growing event log's next lines
        self.host = FeedHost(self.feeds, self.phase)

    def phase(self) -> float:
        return 0.0 if self.started is None else (time.time() - self.started) / (self.args.minutes * 60)

    @property
    def outs(self) -> dict[str, Path]:
        return {feed.name: (self.folder / "small-disk" if feed.small_disk else self.folder / "out") / feed.name
                for feed in self.feeds}

    def run(self) -> dict[str, Any]:
        _clean(self.folder)
        slack = SlackSink()
        pg_folder = Path(tempfile.mkdtemp(prefix="feedcheck-soak-pg-"))  # a folder the postgres user may enter
        postgres = start_postgres(pg_folder) if self.args.database == "postgresql" else None
        database = postgres.url if postgres else f"sqlite+aiosqlite:///{self.folder / 'prefect.db'}"
        prefect = PrefectServer(free_port(), _server_env(self.folder, database))
        disk = SmallDisk(self.folder / "small-disk")
        serve = None
        try:
            prefect.start()
            serve = self._serve(prefect, slack)
            deployments = self._deployments(prefect.api, serve)
            faults = [] if self.args.no_faults else timeline(serve, prefect, postgres, slack, disk)
            self._soak(serve, faults, prefect)
            ended = datetime.now(timezone.utc)
            self._drain(prefect.api, deployments, ended)
            serve.stop()
            return self._report(prefect.api, deployments, slack, ended)
        finally:
            if serve is not None:
                serve.stop()
            prefect.stop()
            if postgres is not None:
                postgres.ctl("stop", "-m", "fast")
            shutil.rmtree(pg_folder, ignore_errors=True)
            disk.unmount(disk.folder)
            self.host.close()
            slack.close()

    def _serve(self, prefect: PrefectServer, slack: SlackSink) -> Serve:
        config = self.folder / "feeds.toml"
        config.write_text(feeds_file(self.feeds, self.host.url, self.folder, self.folder / "small-disk",
                                     self.args.interval))
        for feed in self.feeds:
            if feed.events:
                self._grow(feed, 500)
        (self.folder / "tmp").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
            "PREFECT_API_URL": prefect.api, "PREFECT_HOME": str(self.folder / "prefect-home"),
            "PREFECT_RUNNER_POLL_FREQUENCY": "5", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT),
            "TMPDIR": str(self.folder / "tmp"), "SOAK_SLACK_WEBHOOK": slack.url}
        serve = Serve(config, env, self.folder / "serve.log", samples=self.samples)
        serve.start()
        return serve

    def _deployments(self, api: str, serve: Serve) -> dict[str, str]:
        """The feeds' deployments, once serve has made them all."""
        deadline = time.monotonic() + 300
        names = [feed.name for feed in self.feeds]
        while time.monotonic() < deadline and serve.process is not None and serve.process.poll() is None:
            found = {}
            for start in range(0, len(names), 200):
                answer = requests.post(f"{api}/deployments/filter", timeout=30, json={
                    "deployments": {"name": {"any_": names[start:start + 200]}}, "limit": 200})
                found |= {d["name"]: d["id"] for d in answer.json()} if answer.ok else {}
            if all(feed.name in found for feed in self.feeds):
                return {feed.name: found[feed.name] for feed in self.feeds}
            time.sleep(2)
        raise RuntimeError(f"serve did not make the deployments; see {self.folder / 'serve.log'}")

    def _soak(self, serve: Serve, faults: list[Any], prefect: PrefectServer) -> None:
        self.started = time.time()
        next_tick = 0.0
        while self.phase() < 1.0:
            while faults and self.phase() >= faults[0].at:
                fault = faults.pop(0)
                at = round(time.time() - self.started, 1)
                self.faults.append({"at_s": at, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                    "fault": fault.name, "detail": fault.act()})
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK
                self._tick(serve, prefect)
            time.sleep(0.2)

    def _tick(self, serve: Serve, prefect: PrefectServer) -> None:
        serve.sample()
        if prefect.process is not None:
            tree = [prefect.process.pid, *children_of(prefect.process.pid)]
            total = sum(rss_of(pid) or 0 for pid in tree)
            self.samples.setdefault(f"prefect server (pid {prefect.process.pid})", []).append((time.time(), total))
        for feed in self.feeds:
            if feed.events:
                self._grow(feed, EVENTS_PER_TICK)

    def _grow(self, feed: Feed, count: int) -> None:
        """Append ``count`` whole lines to the feed's event log, in one write."""
        stream = self.lines.setdefault(feed.name, generate.event_lines(None, feed.items, seed=feed.number))
        path = event_log(self.folder, feed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write("".join(next(stream) for _ in range(count)))

    def _drain(self, api: str, deployments: dict[str, str], ended: datetime) -> None:
        """Give the runs due by the end, the runs serve has taken already (a late runner takes runs due after the
        end too) and the killed ones' Crashed states time to come; the runs scheduled after the end and not taken
        are deleted as the scheduler makes them (a paused deployment would not start late runs)."""
        ids = list(deployments.values())
        deadline = time.monotonic() + self.args.drain
        while True:
            for run in _runs(api, ids, ["SCHEDULED"], after=ended):
                requests.delete(f"{api}/flow_runs/{run['id']}", timeout=30)
            due = _runs(api, ids, ["SCHEDULED"], before=ended) + _runs(api, ids, ["PENDING", "RUNNING", "CANCELLING"])
            if not due or time.monotonic() > deadline:
                return
            time.sleep(3)

    def _report(self, api: str, deployments: dict[str, str], slack: SlackSink, ended: datetime) -> dict[str, Any]:
        runs = checks.flow_runs(api, deployments)
        outs = self.outs
        assert self.started is not None
        start = datetime.fromtimestamp(self.started, timezone.utc)
        until = datetime.fromtimestamp(ended.timestamp() - self.args.interval, timezone.utc)
        kills = sum(fault["fault"] in KILLS for fault in self.faults)
        found = [
            checks.catalogs(self.feeds, outs),
            checks.leftovers([self.folder / "out", self.folder / "small-disk", self.folder / "tmp"], self.feeds,
                             outs),
            checks.history(self.feeds, outs, runs),
            checks.alerts(runs, slack.messages, kills),
            checks.schedules(runs, start, until, self.args.interval),
            checks.memory(_longest(self.samples)),
        ]
        states = [run["state"]["type"] for of in runs.values() for run in of.runs
                  if datetime.fromisoformat(run["expected_start_time"]) <= ended]
        report = {
            "database": self.args.database, "feeds": len(self.feeds), "minutes": self.args.minutes,
            "interval_s": self.args.interval,
            "items_per_feed": self.args.items,
            "runs": {state: states.count(state) for state in sorted(set(states))},
            "runs_per_minute": checks.throughput(runs, start, ended),
            "late_s": checks.lateness(runs),
            "faults": self.faults, "host": dict(self.host.answers), "slack_refused": slack.refused,
            "slack_got": checks.told(slack.messages),
            "while_the_disk_was_full": self._while_full(runs),
            "checks": [vars(check) for check in found],
        }
        (self.folder / "soak-report.json").write_text(json.dumps(report, indent=2) + "\n")
        (self.folder / "soak-runs.json").write_text(json.dumps(
            {name: [_brief(run) for run in of.runs] for name, of in runs.items()}, indent=1) + "\n")
        return report

    def _while_full(self, runs: dict[str, checks.Runs]) -> list[str]:
        """How the runs of the feeds on the small file system ended while it was full."""
        at = {fault["fault"]: datetime.fromisoformat(fault["at"]) for fault in self.faults}
        if "disk full" not in at or "disk freed" not in at:
            return []
        return [f"{feed.name} {run['state']['type']}: {(run['state']['message'] or '')[:160]}"
                for feed in self.feeds if feed.small_disk for run in runs[feed.name].runs
                if run.get("start_time") and at["disk full"] <= datetime.fromisoformat(run["start_time"])
                < at["disk freed"]]


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    """What a flow run's record says of how it was scheduled and ended, to read after a soak."""
    return {key: run.get(key) for key in ("name", "expected_start_time", "start_time", "end_time", "created",
                                          "auto_scheduled", "idempotency_key")} | {
        "state": run["state"]["type"], "state_name": run["state"]["name"],
        "message": (run["state"]["message"] or "")[:200]}


def _runs(api: str, deployments: list[str], states: list[str], *, before: datetime | None = None,
          after: datetime | None = None) -> list[dict[str, Any]]:
    """The flow runs of these deployments in these states, expected to start before or after a moment."""
    expected = ({"before_": before.isoformat()} if before else {}) | ({"after_": after.isoformat()} if after else {})
    found: list[dict[str, Any]] = []
    while True:
        answer = requests.post(f"{api}/flow_runs/filter", timeout=60, json={
            "deployments": {"id": {"any_": deployments}}, "offset": len(found), "limit": 200,
            "flow_runs": {"state": {"type": {"any_": states}}, "expected_start_time": expected}})
        answer.raise_for_status()
        found += answer.json()
        if len(answer.json()) < 200:
            return found


def _longest(samples: dict[str, list[tuple[float, int]]]) -> dict[str, list[tuple[float, int]]]:
    """The longest-lived process of each kind (serve, the Prefect server): the others were restarted."""
    kinds: dict[str, str] = {}
    for name, series in samples.items():
        kind = name.split(" (")[0]
        if kind not in kinds or len(series) > len(samples[kinds[kind]]):
            kinds[kind] = name
    return {name: samples[name] for name in kinds.values()}


def _server_env(folder: Path, database: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(folder / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10",
    }


def _clean(folder: Path) -> None:
    """An empty work folder (a soak stopped midway may have left its tmpfs mounted)."""
    SmallDisk.unmount(folder / "small-disk")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def table(report: dict[str, Any]) -> str:
    lines = [f"soak on {report['database']}: {report['feeds']} feeds every {report['interval_s']} s for "
             f"{report['minutes']} min; "
             f"{report['runs_per_minute']} runs a minute; runs by state {report['runs']}; "
             f"started late by (s) {report['late_s']}", "",
             "| check | holds | figure |", "|---|---|---|"]
    for check in report["checks"]:
        lines.append(f"| {check['name']} | {'yes' if check['holds'] else 'NO'} | {check['figure']} |")
        lines += [f"|   | | {detail} |" for detail in check["details"][:10]]
    lines += ["", "faults:"] + [f"  {f['at_s']:>7} s  {f['fault']}: {f['detail']}" for f in report["faults"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
