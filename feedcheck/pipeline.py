"""The one sequence a feed run follows: fetch, check, events, publish, alert, reports.

``feedcheck check``, ``feedcheck run`` and the Prefect flows all go through
:func:`run_feed`, so a scheduled run and a run on a laptop cannot drift apart.
How each step is carried out is a :class:`Steps` object's: this one runs them
here, one after the other; the flows' subclass runs each as a Prefect task
(retries on the fetch, a cache on the check, artifacts with the reports)
without spelling the sequence again.  The steps themselves are in
:mod:`feedcheck.steps`, and those that read the feed in :mod:`feedcheck.check`, which the methods that use
them import: it loads pandas, pandera and the channels' rules, which a run on an unchanged feed does without.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from pathlib import Path
from types import TracebackType
from typing import Any

from feedcheck.clock import utc_now
from feedcheck.cluster import dask_executor
from feedcheck.errors import ConfigError, FeedcheckError, OutputError
from feedcheck.feeds import FeedConfig
from feedcheck.outcome import Checked, FeedRun
from feedcheck.sources.fetch import Fetched
from feedcheck.steps import alert, check_settings, feed_lock, fetch_feed, start_clock, unchanged_run, write


class Steps:
    """Each step of a run, carried out in this process.  ``force`` fetches and writes everything afresh,
    ``webhook`` is the Slack URL already resolved (``None``: no alert is sent), ``progress`` is told how far
    the check has got (see :class:`feedcheck.reports.progress.Progress`).  A feed with ``dask`` set has its
    chunks and event blocks worked out on a cluster, open for the length of the run."""

    def __init__(self, *, force: bool = False, webhook: str | None = None,
                 progress: Callable[[str, int], None] | None = None) -> None:
        self.force = force
        self.webhook = webhook
        self.progress = progress
        self._cluster = contextlib.ExitStack()
        self._executor: Executor | None = None

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._cluster.close()

    def fetch(self, feed: FeedConfig) -> Fetched:
        return fetch_feed(feed, force=self.force)

    def unchanged(self, feed: FeedConfig, fetched: Fetched) -> FeedRun:
        return unchanged_run(feed, fetched, alert=lambda summary: self.alert(feed, summary))

    def check(self, feed: FeedConfig, fetched: Fetched) -> Checked:
        from feedcheck.check import check_fetched

        if feed.dask:
            self._executor = self._cluster.enter_context(dask_executor(feed.dask))
        checked = check_fetched(feed, fetched, executor=self._executor, progress=self.progress)
        if self.force:
            checked.fingerprint = None  # a fresh look: write and compare everything again
        return checked

    def events(self, feed: FeedConfig, checked: Checked) -> Checked:
        from feedcheck.check import check_events_of

        check_events_of(feed, checked, self.progress, self._executor)
        return checked

    def publish(self, feed: FeedConfig, checked: Checked) -> dict[str, Any]:
        from feedcheck.check import publish_and_record

        return publish_and_record(feed, checked)

    def alert(self, feed: FeedConfig, summary: dict[str, Any]) -> dict[str, Any]:
        alert(feed, summary, self.webhook)
        return summary

    def reports(self, feed: FeedConfig, checked: Checked, summary: dict[str, Any]) -> dict[str, Path]:
        return write(feed, checked.report, summary)

    def release(self, feed: FeedConfig, checked: Checked) -> None:
        """The run is over: its parked items go."""
        checked.spool.cleanup()


def run_feed(feed: FeedConfig, steps: Steps | None = None) -> FeedRun:
    """Run every step for ``feed``, each as ``steps`` carries it out (by default here, one after the other).

    A feed that cannot be fetched or read is a report with a fatal finding, never an exception.

    Raises:
        ConfigError: the feed's options are wrong (nothing was fetched).
    """
    steps = steps or Steps()
    feed = start_clock(feed)
    check_settings(feed)
    with feed_lock(feed), steps, _output_errors(feed):
        started = utc_now()
        try:
            fetched = steps.fetch(feed)
        except ConfigError:
            raise
        except FeedcheckError as exc:
            from feedcheck.check import failed_check

            checked = failed_check(feed, exc)
        else:
            try:
                if fetched.unchanged:
                    return steps.unchanged(feed, fetched)
                checked = steps.check(feed, fetched)
            finally:
                fetched.cleanup()
        checked.report.started_at = started
        try:
            checked = steps.events(feed, checked)
            summary = steps.publish(feed, checked)
            summary = steps.alert(feed, summary)
            paths = steps.reports(feed, checked, summary)
        finally:
            steps.release(feed, checked)
    return FeedRun(feed, checked.report, summary, paths, checked.report.exit_code)


# What makes an output folder refuse a write, whichever step meets it first (parked items, the catalog, the
# history, the reports).
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


@contextlib.contextmanager
def _output_errors(feed: FeedConfig) -> Iterator[None]:
    """A full disk (or a read-only one) under the feed's folder ends the run with :class:`OutputError`, which
    says so, rather than as a crash; every write is atomic, so what was published stays whole."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        raise OutputError.writing(feed.out, exc) from None
