"""Run one feed end to end: fetch, check, reconcile events, publish, record, alert, report.

``feedcheck check`` and the Prefect flows run the same steps, so a scheduled
run and a run on a laptop cannot drift apart.  :func:`run_feed` runs them in a
row; a flow wraps each step in a task of its own (retries on the fetch, a
cache on the check) and calls them in the same order:

0. :func:`check_settings` — refuses unusable options before anything is fetched;
1. :func:`fetch_feed` — raises :class:`~feedcheck.errors.FetchError` (its
   ``transient`` flag says whether trying again later may help);
2. :func:`check_fetched`, or :func:`failed_check` when the fetch gave up;
3. :func:`check_events_of` — the feed's purchase-event logs, if it has any;
4. :func:`publish_and_record` — the quality gate, the atomic publish and the run history;
5. :func:`alert` — the Slack alert on a change of state;
6. :func:`write` — the reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from feedcheck.check import FeedReport, check_feed
from feedcheck.clock import run_now, utc_now
from feedcheck.cluster import check_address, dask_executor
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.checker import check_events
from feedcheck.events.read import FieldMap, expand_paths
from feedcheck.events.reconcile import Catalog
from feedcheck.feeds import FeedConfig
from feedcheck.findings import FindingLog
from feedcheck.publish.atomic import exclusive, publish_catalog, version
from feedcheck.publish.clean import CatalogSpool
from feedcheck.publish.history import record_run
from feedcheck.publish.lastrun import remember, run_key, skippable
from feedcheck.reports.alerts import alert_on_change
from feedcheck.reports.write import read_findings, write_reports
from feedcheck.rules.channels import get_channel
from feedcheck.sources.fetch import Fetched, fetch
from feedcheck.sources.redact import redact_url


@dataclass
class Checked:
    """A feed read and validated: its report, its catalog index (when events need one) and its cleaned items,
    parked on disk until the quality gate decides; ``fingerprint`` names everything that decided them."""

    report: FeedReport
    catalog: Catalog | None
    spool: CatalogSpool
    fingerprint: str | None = None

    def intact(self) -> bool:
        """Whether the parked items are all still on disk (a cached check may outlive them)."""
        return all(part.is_file() for part in self.spool.parts)

    def holds_at(self, now: str) -> bool:
        """Whether a check at ``now`` would judge the items as this one did (a sale may have ended since)."""
        window = self.report.window
        return window is None or window.holds_at(now)

    def for_run(self, feed: FeedConfig, fetched: Fetched) -> Checked:
        """This check as the start of one run of ``feed``: its report is a copy, which the later steps add to
        (events, publishing, history), so that a cached check is never changed by the runs that reuse it."""
        report = replace(self.report, log=self.report.log.copy(), fetched=fetched, now=feed.now or self.report.now)
        return replace(self, report=report)


@dataclass
class FeedRun:
    """What one run of a feed produced: the report, its ``report.json`` content and where the reports are.

    When the server said the feed has not changed, nothing was read or written: ``summary`` is ``None`` and
    the exit code is the last run's.
    """

    feed: FeedConfig
    report: FeedReport
    summary: dict[str, Any] | None
    paths: dict[str, Path]
    exit_code: int


def run_feed(feed: FeedConfig, *, webhook: str | None = None, force: bool = False,
             progress: Callable[[str, int], None] | None = None) -> FeedRun:
    """Run every step for ``feed``; ``webhook`` is the Slack URL already resolved (``None``: no alert sent).

    A feed that cannot be fetched or read is a report with a fatal finding, never an exception.

    Raises:
        ConfigError: the feed's options are wrong (nothing was fetched).
    """
    feed = start_clock(feed)
    check_settings(feed)
    with feed_lock(feed), contextlib.ExitStack() as cluster:
        executor = None
        try:
            fetched = fetch_feed(feed, force=force)
        except ConfigError:
            raise
        except FeedcheckError as exc:
            checked = failed_check(feed, exc)
        else:
            try:
                if fetched.unchanged:
                    return unchanged_run(feed, fetched)
                executor = cluster.enter_context(dask_executor(feed.dask)) if feed.dask else None
                checked = check_fetched(feed, fetched, executor=executor, progress=progress)
            finally:
                fetched.cleanup()
        if force:
            checked.fingerprint = None  # a fresh look: write and compare everything again
        try:
            check_events_of(feed, checked, progress, executor)
            summary = publish_and_record(feed, checked)
        finally:
            checked.spool.cleanup()
        alert(feed, summary, webhook)
        paths = write(feed, checked.report, summary)
    return FeedRun(feed, checked.report, summary, paths, checked.report.exit_code)


@contextlib.contextmanager
def feed_lock(feed: FeedConfig) -> Iterator[None]:
    """One run at a time per feed folder (a scheduled run, an on-demand one and a second process wait for each
    other), so two runs never share the parked items, the state file or the alert state."""
    feed.out.mkdir(parents=True, exist_ok=True)
    with exclusive(feed.out / ".run.lock"):
        yield


def start_clock(feed: FeedConfig, now: str | None = None) -> FeedConfig:
    """``feed`` with its run's ``now`` fixed (``now``, the feed's own, ``$FEEDCHECK_NOW`` or the wall clock),
    so every step and every rule of the run judges at the same moment.

    Raises:
        ConfigError: the given moment is not a date or time.
    """
    return replace(feed, now=run_now(now or feed.now))


def check_settings(feed: FeedConfig) -> None:
    """Refuse options the channel or the event reader cannot use, before anything is fetched.

    Raises:
        ConfigError: names the option and what is allowed.
    """
    get_channel(feed.channel).schema(currency=feed.currency, now=run_now(feed.now), limits=feed.limits)
    if feed.dask is not None:
        check_address(feed.dask, "dask")
    if feed.events:
        expand_paths(feed.events)
        Catalog().use_patterns(feed.event_options.id_patterns)
        FieldMap.from_options(feed.event_options)


def fetch_feed(feed: FeedConfig, *, force: bool = False) -> Fetched:
    """Fetch the feed's source, conditionally (ETag / Last-Modified) when the last run into its folder was this
    source's and published the catalog that is current (see :mod:`feedcheck.publish.lastrun`).

    The conditional request is made only when a "not modified" answer could stand for a whole run: no events
    need the catalog read again, and neither ``force`` nor the gate's override asks for a fresh look.

    Raises:
        FetchError: the source could not be fetched (``transient`` says whether a retry may help).
    """
    conditional = not force and feed.publish and not feed.events and not feed.gate.accept_drop
    last = skippable(feed.out, _run_key(feed), run_now(feed.now)) if conditional else None
    return fetch(feed.source, limits=feed.fetch_limits, previous=last.validators if last else None, auth=feed.auth())


def fingerprint(feed: FeedConfig, fetched: Fetched) -> str | None:
    """What decides a check's findings and cleaned catalog, but for the clock: the source's bytes and declared
    charset, the feed's source and folder, the check's settings and feedcheck's version.  Two checks with the
    same fingerprint give the same result at any moment of the first one's :class:`~feedcheck.clock.Window`
    (see :meth:`Checked.holds_at`); ``None`` when the bytes are not known (not modified, or not fetched).
    """
    if not fetched.sha256:
        return None
    settings = (version(), fetched.sha256, fetched.charset, redact_url(feed.source), str(feed.out), feed.channel,
                feed.currency, sorted(feed.limits.items()), feed.read_limits, bool(feed.events))
    return f"check-{hashlib.sha256(repr(settings).encode()).hexdigest()[:32]}"


def check_fetched(feed: FeedConfig, fetched: Fetched, *, spool_dir: Path | None = None,
                  executor: Executor | None = None, progress: Callable[[str, int], None] | None = None) -> Checked:
    """Read and validate a fetched feed; park its cleaned items in ``spool_dir`` (a temporary folder by default).

    With an ``executor``, chunks are validated side by side there (see :func:`feedcheck.check.check_feed`).

    Raises:
        ConfigError: the channel's options are wrong (e.g. an unknown field in ``limits``).
    """
    catalog = Catalog(redact_url(feed.source)) if feed.events else None
    checked_as = fingerprint(feed, fetched)
    spool = CatalogSpool(spool_dir)
    try:
        report = check_feed(feed.source, feed.channel, options=feed.channel_options(), read_limits=feed.read_limits,
                            catalog=catalog, spool=spool, fetched=fetched, executor=executor,
                            progress=progress)
    except BaseException:
        spool.cleanup()
        raise
    if catalog is not None and report.currency:
        catalog.currency = report.currency
    return Checked(report, catalog, spool, checked_as)


def failed_check(feed: FeedConfig, error: FeedcheckError) -> Checked:
    """The check of a feed that could not be fetched: a report holding the fatal finding, and no items."""
    report = _unread(feed)
    report.log.add(error.finding)
    return Checked(report, None, CatalogSpool())


def unchanged_run(feed: FeedConfig, fetched: Fetched) -> FeedRun:
    """A run cut short by "not modified": the last run into the folder was this source's (the conditional
    request is made only then), so its check stands.  Its reports are written again as this run's, with the
    status ``unchanged``, and its exit code is kept."""
    last = skippable(feed.out, _run_key(feed), run_now(feed.now))
    assert last is not None, "a conditional request is only made when the last run can be skipped"
    report = _unread(feed)
    report.fetched = fetched
    previous = json.loads((feed.out / "report.json").read_text())
    fetch = previous["fetch"] | {"unchanged": True}  # the bytes are those the standing check read
    summary = previous | {"status": "unchanged", "started_at": report.started_at, "now": report.now, "seconds": 0.0,
                          "checked_at": previous.get("checked_at", previous["started_at"]), "fetch": fetch}
    paths = write_reports(feed.out, summary, read_findings(feed.out / "findings.csv"))
    remember(feed.out, _run_key(feed), fetched, last.exit_code, last.catalog, last.window)
    return FeedRun(feed, report, None, paths, last.exit_code)


def _unread(feed: FeedConfig) -> FeedReport:
    """The report of a run that read no item."""
    return FeedReport(source=redact_url(feed.source), channel=feed.channel, started_at=utc_now(), now=feed.now or "",
                      log=FindingLog(max_per_code=feed.read_limits.max_findings_per_code))


def check_events_of(feed: FeedConfig, checked: Checked, progress: Callable[[str, int], None] | None = None,
                    executor: Executor | None = None) -> None:
    """Check the feed's event logs and reconcile them with its catalog (only checked, when the feed failed)."""
    if not feed.events:
        return
    report = checked.report
    started = time.perf_counter()
    report.events = check_events(feed.events, None if report.fatal else checked.catalog,
                                 options=feed.event_options, log=report.log, progress=progress,
                                 executor=executor)
    report.seconds += time.perf_counter() - started


def publish_and_record(feed: FeedConfig, checked: Checked) -> dict[str, Any]:
    """Put the cleaned catalog through the gate (publishing it when it passes) and append the run to the
    feed's history; return the ``report.json`` content so far.

    The check's fingerprint goes with the catalog and the items: when the published catalog and the
    history's items came from a check with the same fingerprint, neither is written or compared again,
    which makes a run on an unchanged feed cheap.
    """
    report = checked.report
    if feed.publish:
        report.publish = publish_catalog(report.candidate(checked.fingerprint), checked.spool, feed.out, feed.gate,
                                         report.log)
    summary = report.to_dict()
    items = None if report.fatal else checked.spool.chunks()
    summary |= record_run(feed.out, summary, items, report.log, check=checked.fingerprint)
    summary["findings"] = report.log.summary()  # the history may have added a finding
    return summary


def alert(feed: FeedConfig, summary: dict[str, Any], webhook: str | None) -> None:
    """Alert on a change of the feed's state, when the feed has alerts; the outcome goes in ``summary["alert"]``.

    Never raises for Slack's sake: an outage or a refusal is retried, then recorded in the report.
    """
    if feed.alerts.slack_webhook:
        summary["alert"] = alert_on_change(
            feed.out, feed.name, summary, webhook, max_error_share=feed.gate.max_error_share,
            min_match_rate=feed.alerts.min_match_rate, report_link=report_link(feed),
        )


def write(feed: FeedConfig, report: FeedReport, summary: dict[str, Any]) -> dict[str, Path]:
    """Write the reports (each file atomically) and remember the run for the next conditional request."""
    paths = write_reports(feed.out, summary, report.log, report.mismatches)
    published = report.publish is not None and report.publish.outcome in ("published", "unchanged")
    catalog = report.publish.manifest if published and report.publish is not None else None
    remember(feed.out, _run_key(feed), report.fetched, report.exit_code,
             catalog["sha256"] if catalog and not feed.events else None, report.window)  # the catalog: this source's
    return paths


def report_link(feed: FeedConfig) -> str:
    """Where people open the feed's ``report.html``: under ``alerts.report_url`` when set, else on disk."""
    if feed.alerts.report_url:
        return feed.alerts.report_url.rstrip("/") + "/report.html"
    return (feed.out / "report.html").resolve().as_uri()


def _run_key(feed: FeedConfig) -> str:
    return run_key(feed.source, feed.channel, feed.format)
