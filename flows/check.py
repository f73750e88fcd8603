"""Prefect flows: check one feed, or every feed of a feeds file, as tasks with retries, a cache and artifacts.

A feed's flow runs :func:`feedcheck.pipeline.run_feed`, the sequence every
run follows, with its steps as tasks (:mod:`feedcheck.flows.steps`): the fetch
is retried with backoff when the failure is transient; the check (read,
validate, clean) is cached by the content hash of the source, so an unchanged
feed is not read again; each run leaves artifacts under stable keys per feed
(``<feed>-summary``, ``<feed>-findings``, ``<feed>-report``); and a feed that
fails or is refused ends in a Failed state with the reason, while
:func:`check_all_feeds` runs the feeds side by side, writes the fleet page
(:mod:`feedcheck.reports.fleet`) and ends in a state that says how many
failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from prefect import flow, get_client, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture, wait
from prefect.states import Completed, Crashed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from feedcheck.clock import run_now, utc_now
from feedcheck.errors import STATUSES, ConfigError, ExitCode, OutputError, exit_code_of
from feedcheck.feeds import MOST_AT_ONCE, FeedConfig, feeds_at_once, find_feed, fleet_folder, load_feeds, spread
from feedcheck.flows.steps import TaskSteps
from feedcheck.pipeline import run_feed
from feedcheck.publish.lastrun import kept_exit_code
from feedcheck.reports.fleet import fleet, write_fleet_page
from feedcheck.reports.render import count, percent
from feedcheck.steps import check_settings, start_clock


@flow(name="check-feed", flow_run_name="{name}", log_prints=False)
def check_one_feed(name: str, config: str = "feeds.toml", force: bool = False, fetch_retries: int = 3,
                   retry_delay_seconds: float = 30.0, now: str | None = None) -> State:
    """Check one feed of the feeds file ``config``: fetch, check, events, publish, alert, reports, each a task.

    ``now`` is the moment the date rules judge at (default: ``$FEEDCHECK_NOW``, else when the run starts).
    Ends Completed (the reports may still hold error findings) or Failed when the feed could not be used or
    the quality gate refused it; either way the state's result is a summary with the report's location.
    """
    try:
        feed = start_clock(find_feed(load_feeds(config), name), now)
        check_settings(feed)
    except ConfigError as exc:  # nothing was fetched; the feeds file needs fixing
        return _ended(name, "invalid", f"{name}: {exc.finding.message}")
    try:
        run = run_feed(feed, TaskSteps(force=force, fetch_retries=fetch_retries,
                                       retry_delay_seconds=retry_delay_seconds))
    except OutputError as exc:  # the disk is full: the run says so, and the last catalog stands
        return _ended(name, "fatal", f"{name}: {exc.finding.message}")
    return _ended(feed.name, run.status, _headline(feed, run.status, run.summary), str(run.paths["report"]),
                  run.exit_code)


class FlowFailed(Exception):
    """A feed's run, or a run of every feed, that failed: the message of its Failed state, and its outcome (a
    feed's, or the list of every feed's).  A Failed state's result must be an exception: a worker running the
    flow raises it, and any other value made Prefect's engine log a TypeError for every failed feed."""

    def __init__(self, message: str, outcome: Any) -> None:
        super().__init__(message, outcome)
        self.outcome = outcome


def outcome_of(state: State) -> Any:
    """What a run of :func:`check_one_feed` or :func:`check_all_feeds` ended with, Completed or Failed: a
    feed's outcome (``feed``, ``status``, ``exit_code``, ``report``, ``message``) or the list of them."""
    result = state.result(raise_on_failure=False)
    return result.outcome if isinstance(result, FlowFailed) else result


@task(name="feed", cache_policy=NO_CACHE)
def feed_task(name: str, config: str, force: bool, fetch_retries: int, retry_delay_seconds: float,
              now: str | None) -> dict[str, Any]:
    """Run one feed's flow and hand back how it ended, whatever happened inside it."""
    state = check_one_feed(name, config, force, fetch_retries, retry_delay_seconds, now, return_state=True)
    outcome = outcome_of(state)
    if not isinstance(outcome, dict):  # the flow crashed: a bug, its exception is in the flow run's logs
        outcome = {"feed": name, "status": "crashed", "exit_code": exit_code_of("crashed"),
                   "message": state.message or ""}
    return outcome


@flow(name="check-all-feeds", flow_run_name="all-feeds", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=MOST_AT_ONCE))
def check_all_feeds(config: str = "feeds.toml", names: list[str] | None = None, force: bool = False,
                    fetch_retries: int = 3, retry_delay_seconds: float = 30.0, now: str | None = None,
                    start_within: float = 600.0) -> State:
    """Check every feed of ``config`` (or those in ``names``) side by side, ``[defaults].feeds_at_once`` at a
    time, or, with ``[defaults] spread = "deployments"``, each as a run of its own deployment wherever those
    run (every worker of a pool); one failing feed stops no other. Each feed's fetch is retried as
    :func:`check_one_feed`'s is, and all judge at one ``now``. Spread over deployments, a feed's run that
    nothing took within ``start_within`` seconds is withdrawn, and the feed failed; one taken but still not
    started ``start_within`` seconds later is marked Crashed, and the feed crashed.

    Ends Completed when every feed could be used and published, Failed otherwise, with a message that says
    how many feeds failed and which; the result lists each feed's outcome.
    """
    feeds = load_feeds(config)
    options = {"force": force, "fetch_retries": fetch_retries, "retry_delay_seconds": retry_delay_seconds,
               "now": run_now(now)}
    chosen = list(dict.fromkeys(find_feed(feeds, n).name for n in names)) if names else [f.name for f in feeds]
    if spread(config) == "deployments":
        outcomes = _across_deployments(chosen, config, options, start_within)
    else:
        outcomes = _across_threads(chosen, config, options)
    failed = [o for o in outcomes if ExitCode(o["exit_code"]).failed]
    table = [{"feed": o["feed"], "status": o["status"], "message": o["message"]} for o in outcomes]
    page = write_fleet_page(config)["html"].resolve().as_uri()
    create_table_artifact(table, key="feedcheck-all-feeds",
                          description=f"The last run of every feed; the fleet page: [{page}]({page})")
    create_link_artifact(page, link_text="feedcheck: every feed", key="feedcheck-fleet")
    message = f"{len(failed)} of {len(outcomes)} feeds failed" + (
        ": " + ", ".join(f"{o['feed']} ({o['status']})" for o in failed) if failed else "")
    return Failed(message=message, data=FlowFailed(message, outcomes)) if failed else Completed(message=message,
                                                                                               data=outcomes)


def _across_threads(chosen: list[str], config: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Each feed as a task of this run, ``[defaults].feeds_at_once`` side by side."""
    at_once = feeds_at_once(config)
    futures: list[PrefectFuture[dict[str, Any]]] = []
    for name in chosen:
        while sum(not future.state.is_final() for future in futures) >= at_once:
            wait(futures, timeout=0.5)
        futures.append(feed_task.with_options(task_run_name=name).submit(name, config, **options))
    return [future.result() for future in futures]


POLL = 2.0  # seconds between two looks at the feeds' runs
PAGE = 200  # the most a filter of Prefect's API returns at once


def _across_deployments(chosen: list[str], config: str, options: dict[str, Any],
                        start_within: float) -> list[dict[str, Any]]:
    """Each feed as a run of its own deployment, ``check-feed/<feed>``, all asked for at once: whatever runs the
    deployments (serve, or a work pool's workers on several machines) decides how many run side by side. How
    each ended comes from its flow run's state and from the report it wrote, which its ``out`` holds (on
    storage every worker and this run reach)."""
    started = {name: _start(name, options) for name in chosen}
    ended = _ended_runs([run for run in started.values() if isinstance(run, UUID)], start_within)
    feeds = {feed.name: feed for feed in load_feeds(config)}
    statuses = {entry["feed"]: entry["status"]
                for entry in fleet(list(feeds.values()), fleet_folder(config), utc_now())["feeds"]}
    return [run if isinstance(run, dict) else
            _outcome_of_run(feeds[name], ended.get(run), statuses[name], start_within)
            for name, run in started.items()]


def _start(name: str, options: dict[str, Any]) -> UUID | dict[str, Any]:
    """Ask for a run of the feed's deployment; its id, or the feed's outcome when it has no deployment."""
    try:
        return run_deployment(f"check-feed/{name}", parameters=options, timeout=0).id
    except ObjectNotFound:
        return _outcome(name, "invalid", f"{name}: no deployment check-feed/{name} on the server; serve the "
                                         "feeds file (feedcheck serve) or deploy it (prefect deploy).")


def _ended_runs(ids: list[UUID], start_within: float) -> dict[UUID, FlowRun]:
    """These flow runs once every one has ended, looked at every :data:`POLL` seconds. A run that nothing took
    within ``start_within`` seconds is deleted (it would run some day, unasked) and left out; one that was taken
    but has not started ``start_within`` seconds later is marked Crashed (see :func:`_stalled`)."""
    deadline = time.monotonic() + start_within
    with get_client(sync_client=True) as client:
        while True:
            runs = {}
            for start in range(0, len(ids), PAGE):
                runs |= {run.id: run for run in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[start:start + PAGE])), limit=PAGE)}
            if time.monotonic() > deadline:
                for run in [run for run in runs.values() if run.state is None or run.state.is_scheduled()]:
                    client.delete_flow_run(run.id)
                    del runs[run.id]
                for run in _stalled(runs.values(), start_within):
                    client.set_flow_run_state(run.id, Crashed(message=(
                        f"Taken by a serve process or worker that had not started it {start_within:.0f} s later: "
                        "it was stopped or lost in between.")), force=True)
            if all(run.state is not None and run.state.is_final() for run in runs.values()):
                return runs
            time.sleep(POLL)


def _stalled(runs: Iterable[FlowRun], start_within: float) -> list[FlowRun]:
    """The runs Pending for more than ``start_within`` seconds. Serve or a process worker starts a run it takes
    within seconds (a worker that starts a container may take minutes: its pool needs a larger
    ``start_within``), so such a run's taker is gone; serve crashes the ones it left when it starts again
    (:func:`feedcheck.flows.serve.crash_orphaned_runs`), but one that is not started again would leave this
    run, and so :func:`check_all_feeds`, waiting for ever."""
    now = datetime.now(timezone.utc)
    return [run for run in runs if run.state is not None and run.state.is_pending()
            and (now - run.state.timestamp).total_seconds() > start_within]


def _outcome_of_run(feed: FeedConfig, run: FlowRun | None, status: str, start_within: float) -> dict[str, Any]:
    """A feed's outcome from its deployment's run: failed when the run did not end Completed, with the
    ``status`` of the report the run wrote (a run that failed before it wrote one says why in its message)."""
    if run is None or run.state is None:
        return _outcome(feed.name, "fatal", f"{feed.name}: nothing took its run of check-feed/{feed.name} within "
                                            f"{start_within:.0f} s; is feedcheck serve, or a worker of the "
                                            "deployment's pool, running?")
    state = run.state
    kept = kept_exit_code(feed.out) if status == "unchanged" else None  # as check_one_feed's own outcome says
    said = ExitCode(kept) if kept is not None else exit_code_of(status) if status in STATUSES else None
    if state.is_crashed() or state.is_cancelled():
        status, kept = "crashed", None
    elif state.is_failed() and not (said is not None and said.failed):
        status, kept = "fatal", None
    elif state.is_completed() and status not in STATUSES:
        status = "ok"
    return _outcome(feed.name, status, state.message or "", str(feed.out / "report.json"), kept)


def _ended(name: str, status: str, message: str, report: str = "", exit_code: int | None = None) -> State:
    """How a feed's run ends: Failed when the feed could not be used, was refused or is misconfigured.
    ``exit_code`` is the status's own unless given (a run skipped as unchanged keeps its check's)."""
    outcome = _outcome(name, status, message, report, exit_code)
    if ExitCode(outcome["exit_code"]).failed:
        return Failed(message=message, data=FlowFailed(message, outcome))
    return Completed(message=message, data=outcome)


def _outcome(name: str, status: str, message: str, report: str = "", exit_code: int | None = None) -> dict[str, Any]:
    """A feed's outcome: its status, its exit code (the status's own unless given), its report and message."""
    code = exit_code_of(status) if exit_code is None else exit_code
    return {"feed": name, "status": status, "exit_code": int(code), "report": report, "message": message}


def _headline(feed: FeedConfig, status: str, summary: dict[str, Any] | None) -> str:
    if summary is None:
        return f"{feed.name}: unchanged since the last run"
    if summary.get("fatal"):
        return f"{feed.name}: {summary['fatal']['message']}"
    items = summary["items"]
    text = f"{feed.name}: {status}, {items['valid']:,} of {count(items['total'], 'item')} valid"
    publish = summary.get("publish")
    if publish:
        text += f"; {publish['outcome']}" + (f" ({publish['reason']})" if publish.get("reason") else "")
    events = summary.get("events") or {}
    if events.get("match_rate") is not None:
        text += f"; match rate {percent(events['match_rate'])}"
    return text

