"""The steps of a feed run that read nothing, each a plain function of data; :mod:`feedcheck.pipeline` runs
them in order with those that read (:mod:`feedcheck.check`).

0. :func:`start_clock` and :func:`check_settings` — the run's ``now``, and unusable options refused before
   anything is fetched; :func:`feed_lock` — one run at a time per feed folder;
1. :func:`fetch_feed` — raises :class:`~feedcheck.errors.FetchError` (its ``transient`` flag says whether
   trying again later may help), or answers "not modified", and then :func:`unchanged_run` ends the run;
2. to 4. read, validate and clean, the events, the gate and the history: :mod:`feedcheck.check`;
5. :func:`alert` — the Slack alert on a change of state;
6. :func:`write` — the reports, and the record of the run for the next conditional request.

Nothing here imports pandas, pandera, lxml or the channels' rules, so a run that finds its feed unchanged
starts in about half the time and memory (``tests/test_imports.py`` holds it to that).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from feedcheck.clock import run_now, utc_now
from feedcheck.cluster import check_address
from feedcheck.feeds import FeedConfig
from feedcheck.findings import FindingLog, make_finding
from feedcheck.outcome import FeedReport, FeedRun
from feedcheck.publish import version
from feedcheck.publish.destinations import Destination, DestinationError, open_destination
from feedcheck.publish.destinations.local import exclusive
from feedcheck.publish.lastrun import remember, run_key, skippable, was_last
from feedcheck.reports.alerts import alert_on_change
from feedcheck.reports.write import read_findings, write_reports
from feedcheck.rules.channels import get_channel
from feedcheck.sources.fetch import Fetched, fetch
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

    The channel's options are not checked again when the last run into the feed's folder had the same
    settings (:func:`run_key_of`): that run took them, and checking them builds the channel's schema, which loads
    pandas, pandera and the channel's rules, all needless to a run that finds its feed unchanged.

    Raises:
        ConfigError: names the option and what is allowed.
    """
    if not was_last(feed.out, run_key_of(feed)):
        get_channel(feed.channel).schema(currency=feed.currency, now=run_now(feed.now), limits=feed.limits,
                                         countries=feed.countries)
    if feed.dask is not None:
        check_address(feed.dask, "dask")
    if feed.events:  # a feed with events is read whole on every run: the reading steps are loaded anyway
        from feedcheck.check import check_event_options

        check_event_options(feed.events, feed.event_options)


def fetch_feed(feed: FeedConfig, *, force: bool = False) -> Fetched:
    """Fetch the feed's source, conditionally (ETag / Last-Modified) when the last run into its folder was this
    source's and published the catalog that is current (see :mod:`feedcheck.publish.lastrun`).

    The conditional request is made only when a "not modified" answer could stand for a whole run: no events
    need the catalog read again, and neither ``force`` nor the gate's override asks for a fresh look.

    Raises:
        FetchError: the source could not be fetched (``transient`` says whether a retry may help).
    """
    conditional = not force and feed.publish and not feed.events and not feed.gate.accept_drop
    last = skippable(feed.out, run_key_of(feed), run_now(feed.now), lambda: published_manifest(feed)) \
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
    settings = (fetched.sha256, fetched.charset, redact_url(feed.source), str(feed.out), feed.destination,
                _check_settings(feed))
    return f"check-{hashlib.sha256(repr(settings).encode()).hexdigest()[:32]}"


def _check_settings(feed: FeedConfig) -> tuple[Any, ...]:
    """What a check's verdicts depend on besides the bytes read and the clock."""
    return (version(), feed.channel, feed.currency, sorted(feed.limits.items()), feed.countries, feed.read_limits,
            bool(feed.events))


def run_key_of(feed: FeedConfig) -> str:
    """What the last run into the feed's folder must share with this one for this one to stand on it: the
    source, the channel, the format, the check's settings and the gate's thresholds (an upgrade, a new limit or
    a stricter gate reads the feed again: the gate may refuse what the last run published)."""
    gate = (feed.gate.max_drop, feed.gate.max_error_share)
    settings = hashlib.sha256(repr((_check_settings(feed), gate)).encode()).hexdigest()[:16]
    return run_key(feed.source, feed.channel, feed.format, settings)


def unchanged_run(feed: FeedConfig, fetched: Fetched,
                  alert: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> FeedRun:
    """A run cut short by "not modified": the last run into the folder was this source's (the conditional
    request is made only then), so its check stands.  Its reports are written again as this run's, with the
    status ``unchanged``, and its exit code is kept.  A change of state that Slack has not taken yet is sent
    again through ``alert`` (the run's alert step), so that a recovery is not lost to an unchanged feed."""
    last = skippable(feed.out, run_key_of(feed), run_now(feed.now), None)  # the fetch asked the destination
    assert last is not None, "a conditional request is only made when the last run can be skipped"
    report = unread(feed)
    report.fetched = fetched
    previous = json.loads((feed.out / "report.json").read_text())
    pending = previous.get("alert") or {}
    if alert is not None and pending.get("changed") and not pending.get("sent"):
        previous = alert(previous)
    fetch = previous["fetch"] | {"unchanged": True}  # the bytes are those the standing check read
    summary = previous | {"status": "unchanged", "started_at": report.started_at, "now": report.now, "seconds": 0.0,
                          "checked_at": previous.get("checked_at", previous["started_at"]), "fetch": fetch}
    paths = write_reports(feed.out, summary, read_findings(feed.out / "findings.csv"))
    remember(feed.out, run_key_of(feed), fetched, last.exit_code, last.catalog, last.window)
    return FeedRun(feed, report, None, paths, last.exit_code)


def unread(feed: FeedConfig) -> FeedReport:
    """The report of a run that read no item."""
    return FeedReport(source=redact_url(feed.source), channel=feed.channel, started_at=utc_now(), now=feed.now or "",
                      log=FindingLog(max_per_code=feed.read_limits.max_findings_per_code))


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
    ours = (publish is not None and publish.outcome in ("published", "unchanged") and publish.manifest
            and not feed.events)
    remember(feed.out, run_key_of(feed), report.fetched, report.exit_code,
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
