"""What the soak checks once the fleet has run: each check is a number in the soak's report, and holds or not.

- catalogs: every feed's current catalog is complete, matches its manifest's sha256, and is the newest
  version published (which the history's last run names too);
- leftovers: no temporary or partial file anywhere the runs write;
- history: one row per run that finished and was not skipped as unchanged or stopped by the full disk (a
  killed run, or one stopped by the full disk, may have got as far as its row), no row twice, and no run left
  Running or Pending in Prefect;
- alerts: every change of a feed's state reached Slack, at least once; repeats at most one per kill;
- schedules: each feed ran as often as its schedule implies, within one;
- memory: the long-running processes' resident memory is flat.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import requests
from lxml import etree

from bench.soak.fleet import Feed
from bench.soak.hosts import Message

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
# What a run writes for a moment and a finished run never leaves: staging folders, temporary links and files,
# downloads and unpacked feeds.
LEFTOVER = re.compile(r"^\.staging-|\.tmp$|\.download$|^feedcheck-unpacked-|^feedcheck-diff-")
UNCHANGED = "unchanged since the last run"
UNWRITABLE = "could not be written"  # a run onto the full disk: it can record nothing, and says so
FLAT = 1.25  # the last quarter's memory against the second quarter's, at most
CATALOGS = "catalogs complete, as their manifests say, the newest published"
LEFTOVERS = "no temporary or partial files"
HISTORY = "history: one row per finished run, none twice, none left running"
ALERTS = "alerts: every change reached Slack; repeats at most one per kill"
SCHEDULES = "schedules: runs per feed within one of the schedule"
MEMORY = "memory of the long-running processes is flat"
CHECKS = (CATALOGS, LEFTOVERS, HISTORY, ALERTS, SCHEDULES, MEMORY)  # in the report's order


@dataclass
class Check:
    name: str
    holds: bool
    figure: str
    details: list[str] = field(default_factory=list)


@dataclass
class Runs:
    """The flow runs of one feed's deployment, as Prefect has them."""

    feed: str
    runs: list[dict[str, Any]]

    def of(self, *states: str) -> list[dict[str, Any]]:
        return [run for run in self.runs if run["state"]["type"] in states]

    @property
    def recorded(self) -> list[dict[str, Any]]:
        """Finished runs that append to the history: all but those skipped as unchanged, and those that could
        not write to a full disk."""
        return [run for run in self.of("COMPLETED", "FAILED")
                if not any(words in (run["state"]["message"] or "") for words in (UNCHANGED, UNWRITABLE))]

    @property
    def cut_short(self) -> list[dict[str, Any]]:
        """Runs that may or may not have got as far as their history row: killed ones, and those that found the
        disk full (the row may fit where the reports did not)."""
        return self.of("CRASHED") + [run for run in self.of("FAILED") if UNWRITABLE in (run["state"]["message"] or "")]


def flow_runs(api: str, deployments: dict[str, str]) -> dict[str, Runs]:
    """Every flow run of each feed's deployment (``deployments``: feed name to deployment id)."""
    found = {}
    for name, deployment in deployments.items():
        runs: list[dict[str, Any]] = []
        while True:
            answer = requests.post(f"{api}/flow_runs/filter", timeout=60, json={
                "deployments": {"id": {"any_": [deployment]}}, "offset": len(runs), "limit": 200})
            answer.raise_for_status()
            runs += answer.json()
            if len(answer.json()) < 200:
                break
        found[name] = Runs(name, runs)
    return found


def catalogs(feeds: list[Feed], outs: dict[str, Path]) -> Check:
    problems = [f"{feed.name}: {problem}" for feed in feeds if (problem := _catalog_problem(outs[feed.name]))]
    return Check(CATALOGS, not problems,
                 f"{len(feeds) - len(problems)} of {len(feeds)} feeds", problems)


def _catalog_problem(out: Path) -> str:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        data = (out / manifest["file"]).read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        return f"no current catalog ({type(exc).__name__})"
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        return "the catalog's sha256 is not its manifest's"
    rows = _items(out / manifest["file"], manifest["format"])
    if rows != manifest["items"]:
        return f"{rows} rows, the manifest says {manifest['items']}"
    versions = [json.loads(path.read_text()) for path in (out / "published").glob("*/manifest.json")]
    newest = max(versions, key=lambda version: version["published_at"])
    if newest["sha256"] != manifest["sha256"] and newest["published_at"] != manifest["published_at"]:
        return f"the current catalog is not the newest published ({newest['published_at']})"
    last = _history(out, "SELECT published_sha256 FROM runs ORDER BY run_id DESC LIMIT 1")
    if last and last[0][0] != manifest["sha256"]:
        return "the history's last run names another catalog"
    return ""


def _items(path: Path, kind: str) -> int:
    """How many items the published catalog at ``path`` holds, read as its format's reader would."""
    if kind == "parquet":
        return int(pq.read_metadata(path).num_rows)
    if kind == "xml":
        return sum(1 for _ in etree.iterparse(str(path), tag="item"))
    with path.open(encoding="utf-8", newline="") as text:
        return sum(1 for _ in csv.reader(text, delimiter="\t" if kind == "tsv" else ",")) - 1


def leftovers(folders: Iterable[Path], feeds: list[Feed], outs: dict[str, Path]) -> Check:
    found = [str(path) for folder in folders for path in folder.rglob("*") if LEFTOVER.search(path.name)]
    for feed in feeds:
        spools = list((outs[feed.name] / ".cache").glob(".feedcheck-spool-*"))
        found += [str(path) for path in spools[1:]]  # the cached check keeps one
    return Check(LEFTOVERS, not found, f"{len(found)} found", found[:20])


def history(feeds: list[Feed], outs: dict[str, Path], runs: dict[str, Runs]) -> Check:
    problems = []
    rows_in_all = 0
    for feed in feeds:
        rows = _history(outs[feed.name], "SELECT started_at FROM runs")
        rows_in_all += len(rows)
        finished, short = len(runs[feed.name].recorded), len(runs[feed.name].cut_short)
        if not finished <= len(rows) <= finished + short:
            problems.append(f"{feed.name}: {len(rows)} rows for {finished} finished runs and {short} killed or "
                            "stopped by the full disk")
        if len({row[0] for row in rows}) != len(rows):
            problems.append(f"{feed.name}: a run recorded twice")
    stuck = [f"{name}: {run['name']} {run['state']['name']}" for name, of in runs.items()
             for run in of.of("RUNNING", "PENDING", "CANCELLING")]
    return Check(HISTORY, not problems + stuck,
                 f"{rows_in_all} rows; {sum(len(r.of('CRASHED')) for r in runs.values())} runs crashed, "
                 f"{len(stuck)} left running", problems + stuck)


def _history(out: Path, query: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(f"file:{out / 'history.sqlite'}?mode=ro", uri=True) as db:
            return db.execute(query).fetchall()
    except sqlite3.Error:
        return []


def told(messages: list[Message]) -> dict[str, list[str]]:
    """The states Slack was told, by feed, in the order they arrived."""
    by_feed: dict[str, list[str]] = {}
    for message in messages:
        by_feed.setdefault(message.feed, []).append(message.state)
    return dict(sorted(by_feed.items()))


def alerts(runs: dict[str, Runs], messages: list[Message], kills: int) -> Check:
    """Each change of a feed's state, run after run, reached Slack, in order, at least once: a message may come
    twice after a kill (Slack answered, and the run died before it recorded that). A killed run's own change is
    told or not, as far as it got (and the change back from it, then): at most two messages per killed run
    beyond the finished runs' changes."""
    missing, repeats = [], 0
    by_feed = told(messages)
    for name, of in runs.items():
        changes = _changes(_states(of))
        sent = by_feed.get(name, [])
        deduplicated = [state for i, state in enumerate(sent) if i == 0 or sent[i - 1] != state]
        repeats += len(sent) - len(deduplicated)
        extra = len(deduplicated) - len(changes)
        if not _within(changes, deduplicated) or extra > 2 * len(of.of("CRASHED")):
            missing.append(f"{name}: changes {changes}, Slack got {sent}")
    holds = not missing and repeats <= kills
    return Check(ALERTS, holds,
                 f"{len(messages)} messages, {repeats} repeated ({kills} kills)", missing)


def _states(of: Runs) -> list[str]:
    """The feed's state after each of its runs that finished, in the order they started: a run skipped as
    unchanged keeps the state of the check that stands (a failed download is no check), and a run stopped by
    the full disk is left out (it may have ended before its alert step)."""
    states, standing = [], "healthy"
    for run in sorted(of.of("COMPLETED", "FAILED"), key=lambda run: run["start_time"]):
        message = run["state"]["message"] or ""
        if UNWRITABLE in message:
            continue
        if UNCHANGED not in message:
            failed_download = run["state"]["type"] == "FAILED" and "refused" not in message
            state = "failed" if failed_download else "refused" if "refused" in message else "healthy"
            standing = standing if failed_download else state
        states.append(state if UNCHANGED not in message else standing)
    return states


def _changes(states: list[str]) -> list[str]:
    changes, last = [], "healthy"
    for state in states:
        if state != last:
            changes.append(state)
        last = state
    return changes


def _within(changes: list[str], sent: list[str]) -> bool:
    """Whether every change is in ``sent``, in order (with, maybe, others between)."""
    told = iter(sent)
    return all(change in told for change in changes)


def schedules(runs: dict[str, Runs], start: datetime, end: datetime, interval: int) -> Check:
    """Runs expected in [start, end] on the interval's slots against the runs that started there."""
    slots = int(end.timestamp() // interval) - int(start.timestamp() // interval)
    problems = []
    for name, of in runs.items():
        ran = [run for run in of.of(*FINAL) if run.get("auto_scheduled")
               and start <= datetime.fromisoformat(run["expected_start_time"]) <= end]
        if abs(len(ran) - slots) > 1:
            problems.append(f"{name}: {len(ran)} runs, the schedule implies {slots}")
    return Check(SCHEDULES, not problems,
                 f"{slots} slots per feed; {len(problems)} feeds off", problems)


def throughput(runs: dict[str, Runs], start: datetime, ended: datetime) -> float:
    """Runs a minute: those that started while the fleet ran and ended (the drain's are not counted, since the
    drain's minutes are not)."""
    done = [run for of in runs.values() for run in of.of(*FINAL)
            if run.get("start_time") and start <= datetime.fromisoformat(run["start_time"]) <= ended]
    return round(len(done) / ((ended - start).total_seconds() / 60), 1)


def lateness(runs: dict[str, Runs]) -> dict[str, float]:
    """How long after its scheduled time each run started: the median, the 95th percentile and the most (in
    seconds). A fleet the machine holds starts its runs within seconds of their time."""
    late = sorted((datetime.fromisoformat(run["start_time"]) - datetime.fromisoformat(run["expected_start_time"])
                   ).total_seconds() for of in runs.values() for run in of.runs
                  if run.get("start_time") and run.get("auto_scheduled"))
    if not late:
        return {}
    return {"median": round(late[len(late) // 2], 1), "p95": round(late[int(len(late) * 0.95)], 1),
            "most": round(late[-1], 1)}


def memory(samples: dict[str, list[tuple[float, int]]]) -> Check:
    """Each long-running process's resident memory: its last quarter's median against its second quarter's
    (the first is warm-up)."""
    figures, problems = [], []
    for process, series in samples.items():
        values = [rss for _, rss in series]
        if len(values) < 8:
            problems.append(f"{process}: {len(values)} samples, too few to tell")
            continue
        quarter = len(values) // 4
        early, late = _median(values[quarter:2 * quarter]), _median(values[-quarter:])
        figures.append(f"{process} {early / 2**20:.0f} → {late / 2**20:.0f} MiB")
        if late > FLAT * early:
            problems.append(f"{process} grew from {early / 2**20:.0f} to {late / 2**20:.0f} MiB")
    return Check(MEMORY, not problems, "; ".join(figures), problems)


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[len(ordered) // 2])
