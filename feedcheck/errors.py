"""Exceptions that stop a run, and the exit codes of every way a run ends.

Each exception carries the fatal :class:`Finding` that explains it, and the
exit code it ends the command line with::

    FeedcheckError            the source cannot be used, or feedcheck was misused     exit 3
      FetchError              the source could not be fetched (fetch.*)               exit 3
      FeedFormatError         the bytes are not a feed feedcheck can read             exit 3
                              (decode.*, feed.*, xml.*, csv.*)
      ConfigError             bad options or settings; nothing was read               exit 2
      OutputError             the run's files could not be written (a full disk)     exit 3

Problems with individual items are never exceptions: they are findings.
"""

from __future__ import annotations

import enum
import os

from feedcheck.findings import Finding, code, declare, make_finding

declare({
    "config.invalid": code("Invalid options", "error", "{detail}", True),
    "publish.reports_unwritable": code("Reports could not be written", "error", "{detail}", True),
})


class ExitCode(enum.IntEnum):
    """The exit codes of ``feedcheck``, each the end of one kind of run."""

    OK = 0  # no error findings
    ERRORS = 1  # error findings: items the channel rejects, event ids that miss the catalog
    USAGE = 2  # an option or a setting is wrong; nothing was read
    UNUSABLE = 3  # the feed (or every event log) could not be used, or the gate refused its catalog
    INTERNAL = 4  # a bug in feedcheck
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
    BROKEN_PIPE = 141  # the program reading the output stopped early, as a shell reports SIGPIPE

    @property
    def failed(self) -> bool:
        """Whether the run failed (a flow run ends Failed): the feed was not checked, used or published."""
        return self >= ExitCode.USAGE


# A run's status (report.json's ``status``, or how a flow run of a feed ended) and its exit code; a run
# skipped as unchanged keeps the exit code of the check that stands.
_BY_STATUS = {"ok": ExitCode.OK, "unchanged": ExitCode.OK, "errors": ExitCode.ERRORS, "invalid": ExitCode.USAGE,
              "fatal": ExitCode.UNUSABLE, "refused": ExitCode.UNUSABLE, "crashed": ExitCode.INTERNAL}
STATUSES = frozenset(_BY_STATUS)  # every status a run ends with


def exit_code_of(status: str) -> ExitCode:
    """The exit code of a run that ended with ``status``."""
    return _BY_STATUS[status]


class FeedcheckError(Exception):
    """Base class: a run that cannot go on.  ``finding`` says why and what to do."""

    exit_code = ExitCode.UNUSABLE

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"[{finding.code}] {finding.message}")
        self.finding = finding

    @classmethod
    def of(cls, code: str, detail: str, **params: object) -> "FeedcheckError":
        """Build the error from a registered code and a human explanation."""
        return cls(make_finding(code, detail=detail, **params))  # type: ignore[arg-type]


class FetchError(FeedcheckError):
    """The source could not be fetched or opened.

    ``transient`` marks failures worth trying again later (the network, a
    timeout, a 5xx or 429 answer), as a scheduler's retries do; a missing file
    or a 404 is not.
    """

    transient: bool = False

    @classmethod
    def passing(cls, code: str, detail: str) -> "FetchError":
        """A transient fetch error: the same request may well work in a minute."""
        error = cls(make_finding(code, detail=detail))
        error.transient = True
        return error


class FeedFormatError(FeedcheckError):
    """The source's bytes are not a product feed feedcheck can read."""


class ConfigError(FeedcheckError):
    """Options or settings are wrong; the message names the option and what is allowed."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(make_finding("config.invalid", detail=message))


class OutputError(FeedcheckError):
    """The run's files (parked items, catalog, history, reports) could not be written to its folder (the disk
    is full, or read-only); what was published stays as it was."""

    @classmethod
    def writing(cls, folder: object, error: OSError) -> "OutputError":
        return cls(make_finding("publish.reports_unwritable", detail=(
            f"The run's files could not be written to {folder}: {_reason(error)}. The "
            "catalog published last stays in place; free some space (or make the folder writable) and run "
            "again.")))


def _reason(error: OSError) -> str:
    """What the system says of ``error``: "No space left on device" (pyarrow's own wording is longer)."""
    return os.strerror(error.errno) if error.errno else str(error)
