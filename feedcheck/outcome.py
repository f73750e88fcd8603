"""What a run of a feed learns and leaves: the report of its check, the check as the later steps take it, and
the run's outcome.  Data only: the steps in :mod:`feedcheck.steps` fill them, the report writers read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedcheck.clock import Window
from feedcheck.errors import exit_code_of
from feedcheck.findings import FindingLog
from feedcheck.reports.write import REPORT_VERSION

if TYPE_CHECKING:  # the reading and publishing rooms bring pandas: a run that reads nothing does without them
    from feedcheck.events.catalog import Catalog
    from feedcheck.feeds import FeedConfig
    from feedcheck.publish.atomic import Candidate, PublishResult
    from feedcheck.publish.clean import CatalogSpool
    from feedcheck.readers import FeedInfo
    from feedcheck.sources.fetch import Fetched


@dataclass
class EventsReport:
    """What :func:`~feedcheck.events.checker.check_events` learnt: counts, the match report and the mismatch rows."""

    log: FindingLog
    summary: dict[str, Any]
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unusable(self) -> bool:
        """True when not a single event could be read from the logs."""
        return self.summary.get("total", 0) == 0

    @property
    def status(self) -> str:
        """``fatal`` (no event could be read), ``errors`` or ``ok``."""
        if self.log.fatal is not None or self.unusable:
            return "fatal"
        return "errors" if self.log.by_severity()["error"] else "ok"

    @property
    def exit_code(self) -> int:
        """0 no errors, 1 error findings, 3 no event could be read."""
        return exit_code_of(self.status)

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` structure of an events-only check (no catalog feed)."""
        fatal = self.log.fatal or next((f for f in self.log if f.code == "events.no_events"), None)
        return {
            "report_version": REPORT_VERSION,
            "status": self.status,
            "fatal": fatal.as_dict() if fatal else None,
            "findings": self.log.summary(),
            "events": self.summary,
        }


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

    def _parts(self) -> dict[str, Any]:
        """The parts other processes read the feed in, when a cluster's or this machine's did."""
        return {} if self.info is None or self.info.parts is None else {"parts": self.info.parts}

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
            } | self._parts(),
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
        from feedcheck.publish.atomic import Candidate  # publishing's room, loaded when a run publishes

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

    When the server said the feed has not changed, nothing was read: ``summary`` is ``None``, the reports
    are the standing check's written again, and the exit code is its.
    """

    feed: FeedConfig
    report: FeedReport
    summary: dict[str, Any] | None
    paths: dict[str, Path]
    exit_code: int

    @property
    def status(self) -> str:
        return self.summary["status"] if self.summary is not None else "unchanged"
