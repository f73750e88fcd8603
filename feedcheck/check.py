"""The steps of a run that read the feed: :func:`check_feed` (the library's check: read, validate, clean),
:func:`check_fetched` (it, for a fetched source), :func:`failed_check`, :func:`check_events_of` and
:func:`publish_and_record`; :mod:`feedcheck.pipeline` runs them in their order among the others.

They bring pandas, pandera, lxml and the channels' rules, about a second of a run's start, so the run's other
steps (:mod:`feedcheck.steps`) do not import this module: it is loaded when a run reads its feed, and a run
that finds its feed unchanged never loads it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pandas as pd

from feedcheck.clock import run_now, utc_now
from feedcheck.cluster import LOCAL_FORMATS, local_executor
from feedcheck.collector import fewer_collections
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.catalog import Catalog
from feedcheck.events.checker import check_events
from feedcheck.events.read import expand_paths
from feedcheck.events.shapes import FieldMap
from feedcheck.feeds import FeedConfig
from feedcheck.findings import FindingLog, HeldFindings, make_finding
from feedcheck.outcome import Checked, FeedReport
from feedcheck.publish.atomic import publish_catalog
from feedcheck.publish.clean import CatalogSpool, Cleaner
from feedcheck.publish.history import record_run
from feedcheck.readers import FeedInfo, open_feed
from feedcheck.readers.parts import READ_WHOLE, cut_feed
from feedcheck.rules.channels import get_channel
from feedcheck.rules.validate import ChunkVerdict, FeedValidator
from feedcheck.settings import ChannelOptions, EventOptions, FetchLimits, ReadLimits
from feedcheck.sources.fetch import Auth, Fetched, Validators, fetch
from feedcheck.sources.redact import redact_url
from feedcheck.steps import fingerprint, unread


def check_event_options(events: Sequence[str | os.PathLike[str]], options: EventOptions) -> list[str]:
    """The event logs' paths, expanded; refuse event options the reader cannot use.

    Raises:
        ConfigError: a pattern, a field map or a path that cannot be used.
    """
    paths = expand_paths(events)
    Catalog().use_patterns(options.id_patterns)
    FieldMap.from_options(options)
    return paths


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
    report = unread(feed)
    report.log.add(error.finding)
    return Checked(report, None, CatalogSpool())


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
        events = check_event_options(events, event_options)
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
