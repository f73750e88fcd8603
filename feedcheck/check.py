"""Check one feed end to end: fetch, read, validate, summarise; optionally its purchase events too.

:func:`check_feed` never raises for a bad feed: an unreachable or unreadable
source becomes a fatal finding in the returned :class:`FeedReport`, so callers
(the CLI, flows, notebooks) always get a report to write and show.  Given
event logs, it reconciles their content ids with the feed just read, so one
report says both what is wrong with the catalog and which events miss it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedcheck.clock import Window, run_now, utc_now
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.checker import EventsReport, check_events
from feedcheck.events.read import FieldMap, expand_paths
from feedcheck.events.reconcile import Catalog
from feedcheck.findings import FindingLog, HeldFindings, make_finding
from feedcheck.publish.atomic import Candidate, PublishResult
from feedcheck.publish.clean import CatalogSpool, Cleaner
from feedcheck.publish.snapshot import CatalogDiff, add_items, compare, create_table
from feedcheck.readers import FeedInfo, open_feed
from feedcheck.reports.write import REPORT_VERSION, exit_code_of
from feedcheck.rules.channels import get_channel
from feedcheck.rules.validate import FeedValidator
from feedcheck.settings import ChannelOptions, EventOptions, FetchLimits, ReadLimits
from feedcheck.sources.fetch import Auth, Fetched, Validators, fetch
from feedcheck.sources.redact import redact_url


@dataclass
class FeedReport:
    """Everything one check learnt: counts, findings and how the source looked."""

    source: str
    channel: str
    log: FindingLog
    info: FeedInfo | None = None
    fetched: Fetched | None = None
    items_total: int = 0
    items_with_errors: int = 0
    items_with_warnings: int = 0
    currency: str | None = None
    currency_assumed: bool = False
    started_at: str = ""
    now: str = ""  # the run's clock, which the rules that compare dates were given
    window: Window | None = None  # the moments at which the feed's items get the same verdicts
    seconds: float = 0.0
    events: EventsReport | None = None
    publish: PublishResult | None = None

    @property
    def fatal(self) -> bool:
        return self.log.fatal is not None

    @property
    def unchanged(self) -> bool:
        return self.fetched is not None and self.fetched.unchanged

    @property
    def status(self) -> str:
        """``fatal``, ``unchanged``, ``refused`` (by the quality gate), ``errors`` or ``ok``."""
        if self.fatal:
            return "fatal"
        if self.unchanged:
            return "unchanged"
        if self.publish is not None and self.publish.outcome == "refused":
            return "refused"
        return "errors" if self.log.by_severity()["error"] else "ok"

    @property
    def exit_code(self) -> int:
        """0 no errors, 1 error findings, 3 the feed could not be used or the gate refused it."""
        return exit_code_of(self.status)

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` structure (versioned by ``report_version``)."""
        fatal = self.log.fatal
        return {
            "report_version": REPORT_VERSION,
            "status": self.status,
            "source": self.source,
            "channel": self.channel,
            "started_at": self.started_at,
            "now": self.now,
            "seconds": round(self.seconds, 3),
            "fetch": {
                "sha256": self.fetched.sha256 if self.fetched else None,
                "bytes": self.fetched.size if self.fetched else None,
                "unchanged": self.unchanged,
                "etag": self.fetched.validators.etag if self.fetched else None,
                "last_modified": self.fetched.validators.last_modified if self.fetched else None,
            },
            "feed": {
                "format": self.info.format if self.info else None,
                "encoding": self.info.encoding if self.info else None,
                "compressed": self.info.compressed if self.info else None,
                "columns": self.info.columns if self.info else [],
                "currency": self.currency,
                "currency_assumed": self.currency_assumed,
            },
            "fatal": fatal.as_dict() if fatal else None,
            "items": {
                "total": self.items_total,
                "with_errors": self.items_with_errors,
                "with_warnings": self.items_with_warnings,
                "valid": self.items_total - self.items_with_errors,
            },
            "findings": self.log.summary(),
        } | ({"events": self.events.summary} if self.events is not None else {}) | (
            {"publish": self.publish.as_dict()} if self.publish is not None else {})

    def candidate(self, check: str | None = None) -> Candidate:
        """What this check offers the quality gate; ``check`` is its fingerprint, when known."""
        fetched = self.fetched
        return Candidate(
            channel=self.channel,
            source=self.source,
            fatal=self.fatal,
            items_total=self.items_total,
            items_with_errors=self.items_with_errors,
            source_sha256=fetched.sha256 if fetched else None,
            etag=fetched.validators.etag if fetched else None,
            last_modified=fetched.validators.last_modified if fetched else None,
            check=check,
        )

    @property
    def mismatches(self) -> list[dict[str, Any]] | None:
        """The ``mismatches.csv`` rows when events were checked, else ``None``."""
        return self.events.mismatches if self.events is not None else None


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
    spec.schema(currency=options.currency, now=now, limits=options.limits)  # fail fast on bad options
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
    held = HeldFindings(report.log) if executor is not None else None  # the reader runs ahead of the findings
    try:
        with open_feed(report.fetched.path, report.log if held is None else held, limits=limits, shown=report.source,
                       charset=report.fetched.charset) as (info, chunks):
            report.info = info
            for verdict in validator.validate_chunks(chunks, executor, ahead, held):
                if catalog is not None:
                    catalog.add(verdict.items, verdict.errors)
                if spool is not None:
                    spool.add(cleaner.clean(verdict))
                if progress is not None:
                    progress("items", len(verdict.index))
    finally:
        if held is not None:
            held.release()
    validator.finish()


def diff_feeds(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    fetch_limits: FetchLimits = FetchLimits(),
    read_limits: ReadLimits = ReadLimits(),
    auth: Auth | None = None,
) -> tuple[CatalogDiff, FindingLog]:
    """What changed from feed ``old`` to feed ``new`` (any sources and formats), item by item.

    Items are compared by id; nothing is validated.  Findings from reading
    (encodings, ragged rows…) go to the returned log.

    Raises:
        FeedcheckError: a feed cannot be fetched or read.
    """
    log = FindingLog(max_per_code=read_limits.max_findings_per_code)
    with tempfile.TemporaryDirectory(prefix="feedcheck-diff-") as work:
        db = sqlite3.connect(Path(work) / "diff.sqlite")
        try:
            for table, source in (("old", old), ("new", new)):
                create_table(db, table)
                fetched = fetch(source, limits=fetch_limits, auth=auth)
                try:
                    assert fetched.path is not None
                    with open_feed(fetched.path, log, limits=read_limits, shown=fetched.source,
                                   charset=fetched.charset) as (_, chunks):
                        add_items(db, table, chunks)
                finally:
                    fetched.cleanup()
            return compare(db, "old", "new"), log
        finally:
            db.close()
