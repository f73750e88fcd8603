"""The steps of a feed run, each a plain function of data; :mod:`feedcheck.pipeline` runs them in order.

0. :func:`start_clock` and :func:`check_settings` — the run's ``now``, and unusable options refused before
   anything is fetched; :func:`feed_lock` — one run at a time per feed folder;
1. :func:`fetch_feed` — raises :class:`~feedcheck.errors.FetchError` (its ``transient`` flag says whether
   trying again later may help), or answers "not modified", and then :func:`unchanged_run` ends the run;
2. :func:`check_fetched` — read, validate and clean (through :func:`check_feed`, the library's own check), or
   :func:`failed_check` when the fetch gave up;
3. :func:`check_events_of` — the feed's purchase-event logs, if it has any;
4. :func:`publish_and_record` — the quality gate, the atomic publish and the run history;
5. :func:`alert` — the Slack alert on a change of state;
6. :func:`write` — the reports, and the record of the run for the next conditional request.

:func:`check_feed` never raises for a bad feed: an unreachable or unreadable source becomes a fatal finding
in the returned :class:`~feedcheck.outcome.FeedReport`, so callers (the CLI, flows, notebooks) always get a
report to write and show.  Given event logs, it reconciles their content ids with the feed just read.

(A little over 400 lines: one short function a step, in the order of a run, which reads best in one place.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from feedcheck.clock import run_now, utc_now
from feedcheck.cluster import LOCAL_FORMATS, check_address, local_executor
from feedcheck.collector import fewer_collections
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.catalog import Catalog
from feedcheck.events.checker import check_events
from feedcheck.events.read import expand_paths
from feedcheck.events.shapes import FieldMap
from feedcheck.feeds import FeedConfig
from feedcheck.findings import FindingLog, HeldFindings, make_finding
from feedcheck.outcome import Checked, FeedReport, FeedRun
from feedcheck.publish.atomic import publish_catalog, version
from feedcheck.publish.clean import CatalogSpool, Cleaner
from feedcheck.publish.destinations import Destination, DestinationError, open_destination
from feedcheck.publish.destinations.local import exclusive
from feedcheck.publish.history import record_run
from feedcheck.publish.lastrun import remember, run_key, skippable
from feedcheck.readers import FeedInfo, open_feed
from feedcheck.readers.parts import READ_WHOLE, cut_feed
from feedcheck.reports.alerts import alert_on_change
from feedcheck.reports.write import read_findings, write_reports
from feedcheck.rules.channels import get_channel
from feedcheck.rules.validate import ChunkVerdict, FeedValidator
from feedcheck.settings import ChannelOptions, EventOptions, FetchLimits, ReadLimits
from feedcheck.sources.fetch import Auth, Fetched, Validators, fetch
from feedcheck.sources.redact import redact_url


@contextlib.contextmanager
def feed_lock(feed: FeedConfig) -> Iterator[None]:
    """One run at a time per feed folder (a scheduled run, an on-demand one and a second process wait for each
    other), so two runs never share the parked items, the state file, the alert state or the download folder
    (:func:`downloads_of`). That folder is emptied when the run starts (a run that was killed left what is in
    it) and removed when it ends."""
    feed.out.mkdir(parents=True, exist_ok=True)
    with exclusive(feed.out / ".run.lock"):
        folder = downloads_of(feed)
        _remove_downloads(folder)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        try:
            yield
        finally:
            _remove_downloads(folder)


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
    get_channel(feed.channel).schema(currency=feed.currency, now=run_now(feed.now), limits=feed.limits,
                                     countries=feed.countries)
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
    last = skippable(feed.out, _run_key(feed), run_now(feed.now), lambda: published_manifest(feed)) \
        if conditional else None
    folder = downloads_of(feed)
    return fetch(feed.source, limits=feed.fetch_limits, previous=last.validators if last else None, auth=feed.auth(),
                 workdir=folder if _ours(folder) else None)


def downloads_of(feed: FeedConfig) -> Path:
    """The feed's own folder for its download (and the feed unpacked beside it) in the system's temporary
    folder, which :func:`feed_lock` makes and removes. A name taken by something else (a link, another user's
    folder) is left alone, and the download goes to the temporary folder itself."""
    mark = hashlib.sha256(str(feed.out.resolve()).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"feedcheck-{feed.name}-{mark}"


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is a folder of this user's, not a link nor anybody else's."""
    return folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid()


def _remove_downloads(folder: Path) -> None:
    if _ours(folder):
        shutil.rmtree(folder, ignore_errors=True)


def published_manifest(feed: FeedConfig) -> dict[str, Any] | None:
    """The manifest of the catalog the feed's destination serves now; ``None`` when it has none or cannot be
    reached (the run then fetches in full, and its publish says what is wrong)."""
    destination = _destination(feed)
    try:
        return destination.current_manifest(FindingLog())
    except DestinationError:
        return None
    finally:
        destination.close()


def fingerprint(feed: FeedConfig, fetched: Fetched) -> str | None:
    """What decides a check's findings and cleaned catalog, but for the clock: the source's bytes and declared
    charset, the feed's source and folder, the check's settings and feedcheck's version.  Two checks with the
    same fingerprint give the same result at any moment of the first one's :class:`~feedcheck.clock.Window`
    (see :meth:`Checked.holds_at`); ``None`` when the bytes are not known (not modified, or not fetched).
    """
    if not fetched.sha256:
        return None
    settings = (version(), fetched.sha256, fetched.charset, redact_url(feed.source), str(feed.out),
                feed.destination, feed.channel,
                feed.currency, sorted(feed.limits.items()), feed.countries, feed.read_limits, bool(feed.events))
    return f"check-{hashlib.sha256(repr(settings).encode()).hexdigest()[:32]}"


def check_fetched(feed: FeedConfig, fetched: Fetched, *, spool_dir: Path | None = None,
                  executor: Executor | None = None, progress: Callable[[str, int], None] | None = None) -> Checked:
    """Read and validate a fetched feed; park its cleaned items in ``spool_dir`` (a temporary folder by default).

    With an ``executor``, chunks are validated side by side there (see :func:`check_feed`).

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


def unchanged_run(feed: FeedConfig, fetched: Fetched,
                  alert: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> FeedRun:
    """A run cut short by "not modified": the last run into the folder was this source's (the conditional
    request is made only then), so its check stands.  Its reports are written again as this run's, with the
    status ``unchanged``, and its exit code is kept.  A change of state that Slack has not taken yet is sent
    again through ``alert`` (the run's alert step), so that a recovery is not lost to an unchanged feed."""
    last = skippable(feed.out, _run_key(feed), run_now(feed.now), None)  # the fetch asked the destination
    assert last is not None, "a conditional request is only made when the last run can be skipped"
    report = _unread(feed)
    report.fetched = fetched
    previous = json.loads((feed.out / "report.json").read_text())
    pending = previous.get("alert") or {}
    if alert is not None and pending.get("changed") and not pending.get("sent"):
        previous = alert(previous)
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
        report.publish = publish_catalog(report.candidate(checked.fingerprint), checked.spool, feed.publishes_to,
                                         feed.gate, report.log, work=feed.out)
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
    if feed.publish and feed.publish_reports and not _reports_published(feed, paths, report.log):
        summary["findings"] = report.log.summary()
        paths = write_reports(feed.out, summary, report.log, report.mismatches)  # saying that they were not
    publish = report.publish
    # A later run may stand on this one only when the current catalog is this source's, from its items alone.
    ours = publish is not None and publish.outcome in ("published", "unchanged") and publish.manifest and not feed.events
    remember(feed.out, _run_key(feed), report.fetched, report.exit_code,
             publish.manifest["sha256"] if ours else None, report.window)
    return paths


def _reports_published(feed: FeedConfig, paths: dict[str, Path], log: FindingLog) -> bool:
    """Put the run's reports beside its catalog; a finding says when they could not be."""
    destination = _destination(feed)
    try:
        destination.place_reports(list(paths.values()))
    except DestinationError as exc:
        log.add(make_finding("publish.reports_failed", value=destination.shown, detail=str(exc)))
        return False
    finally:
        destination.close()
    return True


def _destination(feed: FeedConfig) -> Destination:
    """The feed's destination, with its folder as the run's local one; close it after use."""
    return open_destination(feed.publishes_to, feed.out)


def report_link(feed: FeedConfig) -> str:
    """Where people open the feed's ``report.html``: under ``alerts.report_url`` when set, else on disk."""
    if feed.alerts.report_url:
        return feed.alerts.report_url.rstrip("/") + "/report.html"
    return (feed.out / "report.html").resolve().as_uri()


def _run_key(feed: FeedConfig) -> str:
    return run_key(feed.source, feed.channel, feed.format)


def check_feed(
    source: str | os.PathLike[str],
    channel: str = "tiktok",
    *,
    options: ChannelOptions = ChannelOptions(),
    fetch_limits: FetchLimits = FetchLimits(),
    read_limits: ReadLimits = ReadLimits(),
    previous: Validators | None = None,
    auth: Auth | None = None,
    workdir: Path | None = None,
    events: Sequence[str | os.PathLike[str]] = (),
    event_options: EventOptions = EventOptions(),
    catalog: Catalog | None = None,
    spool: CatalogSpool | None = None,
    fetched: Fetched | None = None,
    executor: Executor | None = None,
    ahead: int = 2,
    progress: Callable[[str, int], None] | None = None,
) -> FeedReport:
    """Fetch, read and validate a feed for ``channel``; return the report.

    ``previous`` holds the ETag/Last-Modified of the last fetch: when the
    server says nothing changed, the report's status is ``unchanged`` and
    nothing is read.  ``events`` are event-log paths, folders or globs: their
    events are checked and their content ids reconciled with this feed (which
    is then always read in full, whatever ``previous`` says).  A ``catalog``
    passed in is filled with the feed's items, to reconcile more logs later
    with :func:`~feedcheck.events.checker.check_events`.  A ``spool`` receives the
    cleaned catalog (accepted items, canonical spellings) for
    :func:`feedcheck.publish.atomic.publish_catalog`.  A source already ``fetched``
    (by a scheduler's retried fetch step) is read as it is, and left for the
    caller to clean up.  With an ``executor`` (a process pool, or a Dask
    client's ``get_executor()``), up to ``ahead`` chunks are validated at
    once, in other processes; the report and the cleaned catalog are the
    same as without it.  ``progress`` is called with ``("items", n)`` for
    each chunk read and ``("events", n)`` for each batch of events (see
    :class:`feedcheck.reports.progress.Progress`).

    Raises:
        ConfigError: unknown channel or a bad option (the feed is not touched).
    """
    spec = get_channel(channel)
    log = FindingLog(max_per_code=read_limits.max_findings_per_code)
    now = run_now(options.now)
    report = FeedReport(source=redact_url(os.fspath(source)), channel=channel, log=log, started_at=utc_now(), now=now)
    started = time.perf_counter()
    validator = FeedValidator(spec, log, options, now=now)
    spec.schema(currency=options.currency, now=now, limits=options.limits, countries=options.countries)  # fail fast
    if catalog is None and events:
        catalog = Catalog(report.source)
    if events:  # fail fast on bad event options, before the feed is fetched
        events = expand_paths(events)
        Catalog().use_patterns(event_options.id_patterns)
        FieldMap.from_options(event_options)
    try:
        report.fetched = fetched if fetched is not None else fetch(
            source, limits=fetch_limits, previous=None if catalog is not None else previous, auth=auth,
            workdir=workdir)
        if report.fetched.unchanged:
            log.add(make_finding("fetch.unchanged", detail=f"{report.source} has not changed since the last check."))
        else:
            with fewer_collections():
                _read(report, validator, read_limits, catalog, spool, executor, ahead, progress)
    except ConfigError:
        raise
    except FeedcheckError as exc:
        log.add(exc.finding)
    finally:
        if report.fetched is not None and fetched is None:
            report.fetched.cleanup()
    report.items_total = validator.items_total
    report.items_with_errors = validator.items_with_errors
    report.items_with_warnings = validator.items_with_warnings
    report.currency = validator.currency
    report.currency_assumed = validator.currency_assumed
    report.window = validator.window
    if events:
        if catalog is not None and validator.currency:
            catalog.currency = validator.currency
        report.events = check_events(events, None if report.fatal else catalog, options=event_options, log=log,
                                     progress=progress, executor=executor)
    report.seconds = time.perf_counter() - started
    return report


def _read(report: FeedReport, validator: FeedValidator, limits: ReadLimits, catalog: Catalog | None,
          spool: CatalogSpool | None, executor: Executor | None, ahead: int,
          progress: Callable[[str, int], None] | None) -> None:
    assert report.fetched is not None and report.fetched.path is not None
    cleaner = Cleaner(validator)
    held = HeldFindings(report.log)  # the reader may run ahead of the findings
    try:
        with contextlib.ExitStack() as stack:
            info, chunks = stack.enter_context(open_feed(report.fetched.path, held, limits=limits,
                                                         shown=report.source, charset=report.fetched.charset))
            report.info = info
            for verdict in _verdicts(report, info, chunks, validator, limits, executor, ahead, held, stack):
                if catalog is not None:
                    catalog.add(verdict.items, verdict.errors)
                if spool is not None:
                    spool.add(cleaner.clean(verdict))
                if progress is not None:
                    progress("items", len(verdict.index))
    finally:
        held.release()
    validator.finish()


def _verdicts(report: FeedReport, info: FeedInfo, chunks: Iterator[pd.DataFrame], validator: FeedValidator,
              limits: ReadLimits, executor: Executor | None, ahead: int, held: HeldFindings,
              stack: contextlib.ExitStack) -> Iterator[ChunkVerdict]:
    """The verdicts of a feed's chunks: of its parts read side by side on the cluster (``executor``) or, for a
    feed of many chunks, on this machine (:func:`~feedcheck.cluster.local_executor`); else of the chunks read
    here, in one pass (``--processes 1``, or a feed not cut)."""
    assert report.fetched is not None and report.fetched.path is not None
    cluster = executor is not None
    local = limits.processes != 1 and info.format in LOCAL_FORMATS
    parts = stack.enter_context(cut_feed(report.fetched.path, info, limits, report.source)) if cluster or local \
        else "one process"
    if isinstance(parts, str):
        if cluster:
            info.parts = 0
            if parts != "small":
                report.log.add(make_finding("feed.read_whole", why=READ_WHOLE[parts]))
        return validator.validate_chunks(chunks, executor, ahead, held)
    if not cluster:
        executor = stack.enter_context(local_executor(info.format, limits.processes))
    return validator.validate_parts(parts, chunks, executor, limits, info, ahead, held, cluster=cluster)
