"""Keep credentials out of everything feedcheck writes or prints.

Feed URLs may carry ``user:password@`` or a ``?token=`` and Slack webhook URLs are
secrets in their path.  Anything that names a URL in a finding, a report, a log
line or an exception goes through :func:`redact_url` or :func:`redact_text`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_URL_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SECRET_PATH_HOSTS = ("hooks.slack.com",)


def redact_url(url: str) -> str:
    """Remove userinfo, query values and secret paths from a URL.

    >>> redact_url("https://bob:pw@shop.example/feed.xml?token=abc&lang=en")
    'https://***@shop.example/feed.xml?token=***&lang=***'
    >>> redact_url("https://hooks.slack.com/services/T0/B0/SECRET")
    'https://hooks.slack.com/***'
    >>> redact_url("fixtures/feed.csv")
    'fixtures/feed.csv'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    if any(host == h or host.endswith("." + h) for h in _SECRET_PATH_HOSTS):
        return urlunsplit((parts.scheme, netloc, f"/{MASK}", "", ""))
    query = urlencode([(k, MASK) for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """Redact every URL inside free text, such as an exception message.

    >>> redact_text("Max retries exceeded with url: https://hooks.slack.com/services/T/B/X (x)")
    'Max retries exceeded with url: https://hooks.slack.com/*** (x)'
    """
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


_HTTP_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests")


class _Hide(logging.Filter):
    """Masks secrets in log records (urllib3 logs the path and query of every request and retry)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) > 1}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, MASK)
            record.msg, record.args = text, ()
        return True


@contextlib.contextmanager
def hidden_in_http_logs(url: str, *secrets: str) -> Iterator[None]:
    """While the block runs, urllib3's and requests' log records show no secret part of ``url`` (userinfo,
    query values; the whole path of a Slack webhook) and none of ``secrets`` (credential values)."""
    parts = urlsplit(url)
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    host = parts.hostname or ""
    path = [parts.path] if any(host == h or host.endswith("." + h) for h in _SECRET_PATH_HOSTS) else []
    hide = _Hide([url, parts.query, parts.password or "", *values, *path, *secrets])
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(hide)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(hide)
