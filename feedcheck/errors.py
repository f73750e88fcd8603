"""Exceptions that stop a run.  Each carries the fatal :class:`Finding` that explains it.

::

    FeedcheckError            the source cannot be used, or feedcheck was misused
      FetchError              the source could not be fetched (fetch.*)
      FeedFormatError         the bytes are not a feed feedcheck can read (decode.*, feed.*, xml.*, csv.*)
      ConfigError             bad options or settings; nothing was read

Problems with individual items are never exceptions: they are findings.
"""

from __future__ import annotations

from feedcheck.findings import Finding, make_finding


class FeedcheckError(Exception):
    """Base class: a run that cannot go on.  ``finding`` says why and what to do."""

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

    def __init__(self, message: str) -> None:
        super().__init__(make_finding("config.invalid", detail=message))
