"""Prefect flows: check one feed, or every feed of a feeds file, as tasks with retries, a cache and artifacts.

The work is :mod:`feedcheck.run`'s; these flows add what a scheduler is for.
The fetch is retried with backoff when the failure is transient; the check
(read, validate, clean) is cached by the content hash of the source, so an
unchanged feed is not read again; each run leaves artifacts under stable
keys per feed (``<feed>-summary``, ``<feed>-findings``, ``<feed>-report``);
and a feed that fails or is refused ends in a Failed state with the reason,
while :func:`check_all_feeds` runs the feeds side by side and ends in a state
that says how many failed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State as StateObject
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from feedcheck.clock import run_now, utc_now
from feedcheck.cluster import local_cluster_options, local_workers
from feedcheck.errors import ConfigError, FeedcheckError, FetchError
from feedcheck.events.read import Parsed, parse_block
from feedcheck.feeds import FeedConfig, find_feed, load_feeds
from feedcheck.reports.alerts import resolve_webhook
from feedcheck.reports.render import count, percent, render_markdown, top_codes
from feedcheck.rules.validate import Assessment, SchemaKey, assess
from feedcheck.run import (
    Checked,
    alert,
    check_events_of,
    check_fetched,
    check_settings,
    failed_check,
    feed_lock,
    fetch_feed,
    fingerprint,
    publish_and_record,
    report_link,
    start_clock,
    unchanged_run,
    write,
)
from feedcheck.sources.fetch import Fetched

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

CACHE_DIR = ".cache"  # in the feed's output folder: the check's cache records and parked items
CACHE_FOR = timedelta(days=1)
TOP_FINDINGS = 25


@dataclass
class ByContent(CachePolicy):
    """One cache entry per :func:`feedcheck.run.fingerprint`: the feed, its source's content, the check's
    settings and feedcheck's version; the run's clock is compared with the entry's window when it is read."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any],
                    **kwargs: Any) -> str | None:
        return fingerprint(inputs["feed"], inputs["fetched"])


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_task(feed: FeedConfig, force: bool) -> Fetched:
    """Fetch the source; a transient failure (network, timeout, 5xx) is retried by the task's own retries."""
    return fetch_feed(feed, force=force)


@task(name="check", persist_result=True, cache_expiration=CACHE_FOR)
def check_task(feed: FeedConfig, fetched: Fetched) -> Checked:
    """Read, validate and clean the feed; cached by content, so a feed that has not changed is not read again.

    With ``dask`` set for the feed, each chunk's rules run as an ``assess`` task on the flow's Dask cluster.
    """
    return check_fetched(feed, fetched, spool_dir=feed.out / CACHE_DIR,
                         executor=_ClusterTasks() if feed.dask else None)


@task(name="assess", cache_policy=NO_CACHE, persist_result=False)
def assess_task(key: SchemaKey, chunk: pd.DataFrame, keep: int) -> Assessment:
    """One chunk's rules, on a Dask worker; the check folds the results back in the feed's order."""
    return assess(key, chunk, keep)


@task(name="parse", cache_policy=NO_CACHE, persist_result=False)
def parse_task(data: bytes, first_line: int, max_record_bytes: int) -> Parsed | None:
    """One block of an event log read as columns, on a Dask worker; the events are checked in the log's order."""
    return parse_block(data, first_line, max_record_bytes)


class _ClusterTasks(Executor):
    """Submits the library's pure steps (a chunk's rules, an event block's parse) as tasks to the running
    flow's task runner, so that on a DaskTaskRunner each is a task run on the cluster."""

    _TASKS: dict[Callable[..., Any], Any] = {assess: assess_task, parse_block: parse_task}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        task_of = self._TASKS.get(fn)
        if task_of is None:
            raise TypeError(f"{fn!r} has no task to run it on the cluster.")
        return _TaskFuture(task_of.submit(*args, **kwargs))


class _TaskFuture:
    """A Prefect future with what the library's readers ask of one: its result, or cancel it."""

    def __init__(self, future: PrefectFuture[Any]) -> None:
        self.future = future

    def result(self) -> Any:
        return self.future.result()

    def cancel(self) -> bool:
        wrapped = getattr(self.future, "wrapped_future", None)  # a Dask future, on a DaskTaskRunner
        return bool(wrapped.cancel()) if wrapped is not None else False


@task(name="events", cache_policy=NO_CACHE)
def events_task(feed: FeedConfig, checked: Checked, on_cluster: bool = False) -> Checked:
    """Check the feed's purchase-event logs and match their content ids against the catalog.

    ``on_cluster`` (in the Dask subflow): blocks of JSON lines are parsed as ``parse`` tasks on its cluster.
    """
    check_events_of(feed, checked, executor=_ClusterTasks() if on_cluster else None)
    return checked


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(feed: FeedConfig, checked: Checked) -> dict[str, Any]:
    """The quality gate, the atomic publish of the cleaned catalog, and the feed's run history."""
    return publish_and_record(feed, checked)


@task(name="alert", cache_policy=NO_CACHE)
def alert_task(feed: FeedConfig, summary: dict[str, Any]) -> dict[str, Any]:
    """Tell Slack when the feed's state changed; never fails the run (the outcome is in the report)."""
    alert(feed, summary, _webhook(feed))
    return summary


@task(name="reports", cache_policy=NO_CACHE)
def reports_task(feed: FeedConfig, checked: Checked, summary: dict[str, Any]) -> dict[str, str]:
    """Write the reports and the run's artifacts; return where the reports are."""
    paths = write(feed, checked.report, summary)
    _artifacts(feed, checked, summary)
    return {kind: str(path) for kind, path in paths.items()}


@flow(name="check-feed", flow_run_name="{name}", log_prints=False)
def check_feed(name: str, config: str = "feeds.toml", force: bool = False, fetch_retries: int = 3,
               retry_delay_seconds: float = 30.0, now: str | None = None) -> State:
    """Check one feed of the feeds file ``config``: fetch, check, events, publish, alert, reports.

    ``now`` is the moment the date rules judge at (default: ``$FEEDCHECK_NOW``, else when the run starts).
    Ends Completed (the reports may still hold error findings) or Failed when the feed could not be used or
    the quality gate refused it; either way the state's result is a summary with the report's location.
    """
    logger = get_run_logger()
    try:
        feed = start_clock(find_feed(load_feeds(config), name), now)
        check_settings(feed)
    except ConfigError as exc:  # nothing was fetched; the feeds file needs fixing
        return _ended(name, "invalid", 2, f"{name}: {exc.finding.message}")
    with feed_lock(feed):
        started = utc_now()
        fetch = fetch_task.with_options(retries=fetch_retries, retry_condition_fn=_transient,
                                        retry_delay_seconds=exponential_backoff(retry_delay_seconds)(fetch_retries))
        key: str | None = None  # the check's fingerprint, once the source's bytes are known
        events_checked = False  # by the Dask subflow, on the cluster that checked the chunks
        try:
            fetched = fetch(feed, force)
        except ConfigError:
            raise
        except FeedcheckError as exc:
            logger.warning("%s could not be fetched: %s", feed.name, exc.finding.message)
            checked = failed_check(feed, exc)
        else:
            try:
                if fetched.unchanged:
                    run = unchanged_run(feed, fetched)
                    return _ended(feed.name, "unchanged", run.exit_code, _headline(feed, "unchanged", None),
                                  str(run.paths["report"]))
                key = fingerprint(feed, fetched)
                checked = _check(feed, fetched, key, force)
                events_checked = bool(feed.dask)
            finally:
                fetched.cleanup()
        checked.report.started_at = started
        if not events_checked:
            checked = events_task(feed, checked)
        summary = publish_task(feed, checked)
        summary = alert_task(feed, summary)
        paths = reports_task(feed, checked, summary)
        _prune(feed, checked, key)
        return _ended(feed.name, summary["status"], checked.report.exit_code,
                      _headline(feed, summary["status"], summary), paths["report"])


@task(name="feed", cache_policy=NO_CACHE)
def feed_task(name: str, config: str, force: bool, fetch_retries: int, retry_delay_seconds: float,
              now: str | None) -> dict[str, Any]:
    """Run one feed's flow and hand back how it ended, whatever happened inside it."""
    state = check_feed(name, config, force, fetch_retries, retry_delay_seconds, now, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, dict):  # the flow crashed: a bug, its exception is in the flow run's logs
        outcome = {"feed": name, "status": "crashed", "exit_code": 4, "message": state.message or ""}
    return outcome


# Feeds checked side by side: enough to overlap downloads and reads, few enough that a temporary local
# server's database keeps up (twenty feeds at once made it answer 503 and crash the run).
FEEDS_AT_ONCE = 4


@flow(name="check-all-feeds", flow_run_name="all-feeds", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=FEEDS_AT_ONCE))
def check_all_feeds(config: str = "feeds.toml", names: list[str] | None = None, force: bool = False,
                    fetch_retries: int = 3, retry_delay_seconds: float = 30.0, now: str | None = None) -> State:
    """Check every feed of ``config`` (or those in ``names``) side by side; one failing feed stops no other.
    Each feed's fetch is retried as :func:`check_feed`'s is, and all judge at one ``now``.

    Ends Completed when every feed could be used and published, Failed otherwise, with a message that says
    how many feeds failed and which; the result lists each feed's outcome.
    """
    feeds = load_feeds(config)
    now = run_now(now)
    chosen = list(dict.fromkeys(find_feed(feeds, n).name for n in names)) if names else [f.name for f in feeds]
    futures = [feed_task.with_options(task_run_name=n).submit(n, config, force, fetch_retries,
                                                              retry_delay_seconds, now) for n in chosen]
    outcomes = [future.result() for future in futures]
    failed = [o for o in outcomes if o["exit_code"] >= 2]
    table = [{"feed": o["feed"], "status": o["status"], "message": o["message"]} for o in outcomes]
    create_table_artifact(table, key="feedcheck-all-feeds", description="The last run of every feed")
    message = f"{len(failed)} of {len(outcomes)} feeds failed" + (
        ": " + ", ".join(f"{o['feed']} ({o['status']})" for o in failed) if failed else "")
    return (Failed if failed else Completed)(message=message, data=outcomes)


def _check(feed: FeedConfig, fetched: Fetched, key: str | None, force: bool) -> Checked:
    """The cached check, run again when forced or when what the cache points to has since been removed."""
    cache = feed.out / CACHE_DIR
    if key and not _record_intact(cache / key):
        _forget(cache / key)
    if feed.dask:
        on_dask = check_on_dask.with_options(task_runner=_dask_runner(feed.dask),
                                             flow_run_name=f"{feed.name}-on-dask")
        return on_dask(feed, fetched, force)
    return _cached_check(feed, fetched, force)


@flow(name="check-on-dask", validate_parameters=False, log_prints=False)
def check_on_dask(feed: FeedConfig, fetched: Fetched, force: bool) -> Checked:
    """The cached check, its chunks validated as tasks on this flow's Dask cluster, then the events, their
    blocks parsed there too: one cluster for both."""
    return events_task(feed, _cached_check(feed, fetched, force), on_cluster=True)


def _cached_check(feed: FeedConfig, fetched: Fetched, force: bool) -> Checked:
    """This run's copy of the cached check (see :meth:`Checked.for_run`), checked again when forced, when its
    parked items are gone or when the run's clock is past the moments its verdicts hold for."""
    cached = check_task.with_options(cache_policy=ByContent().configure(key_storage=feed.out / CACHE_DIR),
                                     refresh_cache=force)
    checked = cached(feed, fetched)
    if not (checked.intact() and checked.holds_at(run_now(feed.now))):
        checked = cached.with_options(refresh_cache=True)(feed, fetched)
    checked = checked.for_run(feed, fetched)
    if force:
        checked.fingerprint = None  # a fresh look: write and compare everything again
    return checked


def _dask_runner(address: str) -> DaskTaskRunner:
    """A local cluster started for the run (``local``, ``local:N``), or the scheduler at ``address``.

    Raises:
        ConfigError: prefect-dask is not installed.
    """
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("The feed has dask set, but prefect-dask is not installed: pip install "
                          "'feedcheck[flows,dask]'.") from None
    workers = local_workers(address)
    if workers is None:
        return DaskTaskRunner(address=address)
    with get_client(sync_client=True) as client:  # the workers report to this run's server, even a temporary one
        api = str(client.api_url)
    return DaskTaskRunner(cluster_kwargs=local_cluster_options(workers) | {"env": {"PREFECT_API_URL": api}})


def _record_intact(record: Path) -> bool:
    """Whether a cache record's result is still where the record says (the result storage may be gone)."""
    if not record.is_file():
        return True
    stored = _stored(record)
    return stored is None or Path(stored).is_file()


def _transient(task: object, task_run: object, state: StateObject) -> bool:
    """Retry a fetch only when trying again may help (not a 404, a bad URL or a missing credential)."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, FetchError) and error.transient


def _webhook(feed: FeedConfig) -> str | None:
    """The Slack URL from the feed's ``env:`` variable or ``block:`` (a SlackWebhook or Secret block)."""
    reference = feed.alerts.slack_webhook
    if not reference:
        return None
    kind, _, name = reference.partition(":")
    if kind != "block":
        return resolve_webhook(reference)
    from prefect.blocks.notifications import SlackWebhook
    from prefect.blocks.system import Secret

    for block in (SlackWebhook, Secret):
        try:
            loaded = block.load(name)
        except ValueError:
            continue
        value = loaded.url.get_secret_value() if isinstance(loaded, SlackWebhook) else loaded.get()
        if isinstance(value, str) and value:
            return value
        get_run_logger().warning("The block '%s' holds no webhook URL (a Secret block must hold text); no alert "
                                 "was sent.", name)
        return None
    get_run_logger().warning("No SlackWebhook or Secret block named '%s'; create one (prefect block create "
                             "slack-webhook) or change alerts.slack_webhook. No alert was sent.", name)
    return None


def _artifacts(feed: FeedConfig, checked: Checked, summary: dict[str, Any]) -> None:
    key = feed.name.replace("_", "-")
    findings = list(checked.report.log)
    create_markdown_artifact(render_markdown(summary, findings), key=f"{key}-summary",
                             description=f"{feed.name}: {summary['status']}")
    table = [{"code": top["code"], "severity": top["severity"], "count": top["count"],
              "example item": top["examples"][0].item_id if top["examples"] else "",
              "example": top["examples"][0].message if top["examples"] else ""}
             for top in top_codes(summary, findings, limit=TOP_FINDINGS, examples=1, notes=True)]
    create_table_artifact(table, key=f"{key}-findings", description=f"{feed.name}: the most pressing findings")
    create_link_artifact(report_link(feed), link_text=f"{feed.name} report", key=f"{key}-report",
                         description="The full report: every finding, the match rate and the history")


def _prune(feed: FeedConfig, checked: Checked, key: str | None) -> None:
    """Keep one cached check per feed, the one of ``key``: remove other parked items and cache records."""
    cache = feed.out / CACHE_DIR
    for folder in cache.glob(".feedcheck-spool-*"):
        if folder != checked.spool.folder:
            shutil.rmtree(folder, ignore_errors=True)
    if key is None:  # the fetch failed: nothing was parked worth keeping
        checked.spool.cleanup()
    for record in cache.glob("check-*"):
        if record.name != key:
            _forget(record)


def _forget(record: Path) -> None:
    """Remove a cache record and the result it points to (kept in Prefect's result storage)."""
    stored = _stored(record)
    if stored is not None:
        Path(stored).unlink(missing_ok=True)
    record.unlink(missing_ok=True)


def _stored(record: Path) -> str | None:
    """Where a cache record says its result is, when that is a local file."""
    try:
        stored = json.loads(record.read_text()).get("storage_key")
    except (OSError, ValueError, AttributeError):
        return None
    return stored if isinstance(stored, str) and Path(stored).is_absolute() else None


def _ended(name: str, status: str, exit_code: int, message: str, report: str = "") -> State:
    """How a feed's run ends: Failed when the feed could not be used, was refused or is misconfigured."""
    outcome = {"feed": name, "status": status, "exit_code": exit_code, "report": report, "message": message}
    return (Failed if exit_code >= 2 else Completed)(message=message, data=outcome)


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

