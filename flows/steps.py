"""The pipeline's steps as Prefect tasks: the fetch retried with backoff when its failure is transient, the
check cached by the content of the source (so an unchanged feed is not read again), the events, the publish,
the alert and the reports with the run's artifacts; on a Dask cluster, a chunk's rules and an event block's
parse are tasks too (:mod:`feedcheck.flows.cluster`).  The tasks that read import the reading steps when
they run (see :mod:`feedcheck.pipeline`).  :class:`TaskSteps` hands them to
:func:`feedcheck.pipeline.run_feed`, which runs them in its one order.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.client.schemas.objects import State as StateObject
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff

from feedcheck.clock import run_now
from feedcheck.errors import ConfigError, FeedcheckError, FetchError
from feedcheck.feeds import FeedConfig
from feedcheck.outcome import Checked
from feedcheck.pipeline import Steps
from feedcheck.reports.alerts import resolve_webhook
from feedcheck.reports.render import render_markdown, top_codes
from feedcheck.sources.fetch import Fetched
from feedcheck.steps import alert, fetch_feed, fingerprint, report_link, write

CACHE_DIR = ".cache"  # in the feed's output folder: the check's cache records and parked items
RESULTS_DIR = "results"  # in CACHE_DIR: the cached checks the records point to
CACHE_FOR = timedelta(days=1)
TOP_FINDINGS = 25


@dataclass
class ByContent(CachePolicy):
    """One cache entry per :func:`feedcheck.steps.fingerprint`: the feed, its source's content, the check's
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

    With ``dask`` set for the feed, each part of a feed cut into parts is read and its rules run as a
    ``read-part`` task on the flow's Dask cluster (each chunk's rules as an ``assess`` task, for a feed that is
    not cut).
    """
    from feedcheck.check import check_fetched  # the reading steps (see feedcheck.pipeline)
    from feedcheck.flows.cluster import ClusterTasks

    return check_fetched(feed, fetched, spool_dir=feed.out / CACHE_DIR,
                         executor=ClusterTasks() if feed.dask else None)


@task(name="events", cache_policy=NO_CACHE)
def events_task(feed: FeedConfig, checked: Checked, on_cluster: bool = False) -> Checked:
    """Check the feed's purchase-event logs and match their content ids against the catalog.

    ``on_cluster`` (in the Dask subflow): blocks of JSON lines are parsed as ``parse`` tasks on its cluster.
    """
    from feedcheck.check import check_events_of
    from feedcheck.flows.cluster import ClusterTasks

    check_events_of(feed, checked, executor=ClusterTasks() if on_cluster else None)
    return checked


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(feed: FeedConfig, checked: Checked) -> dict[str, Any]:
    """The quality gate, the atomic publish of the cleaned catalog, and the feed's run history."""
    from feedcheck.check import publish_and_record

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


def _check(feed: FeedConfig, fetched: Fetched, key: str | None, force: bool) -> Checked:
    """The cached check, run again when forced or when what the cache points to has since been removed."""
    cache = feed.out / CACHE_DIR
    if key and not _record_intact(cache / key):
        _forget(cache / key)
    if feed.dask:
        from feedcheck.flows.cluster import dask_runner

        on_dask = check_on_dask.with_options(task_runner=dask_runner(feed.dask),
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
    cache = feed.out / CACHE_DIR
    # The results sit beside their records, not in Prefect's home: a shell's `feedcheck run` and a worker under
    # another user share the feed's folder, and Prefect refuses to read a result outside its storage's folder.
    cached = check_task.with_options(cache_policy=ByContent().configure(key_storage=cache),
                                     result_storage=cache / RESULTS_DIR,
                                     refresh_cache=force)
    checked = cached(feed, fetched)
    if not (checked.intact() and checked.holds_at(run_now(feed.now))):
        checked = cached.with_options(refresh_cache=True)(feed, fetched)
    checked = checked.for_run(feed, fetched)
    if force:
        checked.fingerprint = None  # a fresh look: write and compare everything again
    return checked


def _record_intact(record: Path) -> bool:
    """Whether a cache record's result is still where the record says (the result storage may be gone), in the
    cache's own folder (a record of an older feedcheck points into Prefect's home)."""
    if not record.is_file():
        return True
    stored = _stored(record)
    return stored is None or (Path(stored).is_file() and _ours(record, stored))


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
    """Remove a cache record and the result it points to, when that is in the cache's folder."""
    stored = _stored(record)
    if stored is not None and _ours(record, stored):
        Path(stored).unlink(missing_ok=True)
    record.unlink(missing_ok=True)


def _ours(record: Path, stored: str) -> bool:
    """Whether a record's result is in its cache's own results folder."""
    return Path(stored).is_relative_to(record.parent / RESULTS_DIR)


def _stored(record: Path) -> str | None:
    """Where a cache record says its result is, when that is a local file."""
    try:
        stored = json.loads(record.read_text()).get("storage_key")
    except (OSError, ValueError, AttributeError):
        return None
    return stored if isinstance(stored, str) and Path(stored).is_absolute() else None


class TaskSteps(Steps):
    """Each step of :func:`feedcheck.pipeline.run_feed` as a task of the running flow.  The fetch is retried
    ``fetch_retries`` times, waiting ``retry_delay_seconds`` and longer each time, when its failure is
    transient; the check comes from the cache when the source's content and the settings are those of a
    checked run (and on the feed's Dask cluster, with the events, when it has one)."""

    def __init__(self, *, force: bool, fetch_retries: int, retry_delay_seconds: float) -> None:
        super().__init__(force=force)
        self.fetch_retries = fetch_retries
        self.retry_delay_seconds = retry_delay_seconds
        self.key: str | None = None  # the check's fingerprint, once the source's bytes are known
        self.events_checked = False  # by the Dask subflow, on the cluster that checked the chunks

    def fetch(self, feed: FeedConfig) -> Fetched:
        retried = fetch_task.with_options(retries=self.fetch_retries, retry_condition_fn=_transient,
                                          retry_delay_seconds=exponential_backoff(self.retry_delay_seconds)(
                                              self.fetch_retries))
        try:
            return retried(feed, self.force)
        except ConfigError:
            raise
        except FeedcheckError as exc:
            get_run_logger().warning("%s could not be fetched: %s", feed.name, exc.finding.message)
            raise

    def check(self, feed: FeedConfig, fetched: Fetched) -> Checked:
        self.key = fingerprint(feed, fetched)
        self.events_checked = bool(feed.dask)
        return _check(feed, fetched, self.key, self.force)

    def events(self, feed: FeedConfig, checked: Checked) -> Checked:
        return checked if self.events_checked else events_task(feed, checked)

    def publish(self, feed: FeedConfig, checked: Checked) -> dict[str, Any]:
        return publish_task(feed, checked)

    def alert(self, feed: FeedConfig, summary: dict[str, Any]) -> dict[str, Any]:
        return alert_task(feed, summary)

    def reports(self, feed: FeedConfig, checked: Checked, summary: dict[str, Any]) -> dict[str, Path]:
        return {kind: Path(path) for kind, path in reports_task(feed, checked, summary).items()}

    def release(self, feed: FeedConfig, checked: Checked) -> None:
        """Keep this run's check in the cache, and only it."""
        _prune(feed, checked, self.key)
