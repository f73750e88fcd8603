"""Get a feed's bytes onto local disk, from a path, a ``file://`` URL or HTTP(S).

Downloads are bounded three ways: a connect and a between-bytes timeout, a
wall-clock deadline for the whole fetch (a server that drips one byte at a
time defeats read timeouts), and a byte cap.  Connection errors, 429 and 5xx
are retried with exponential backoff, honouring ``Retry-After`` up to a cap;
no wait runs past the deadline, no retry starts after it, and no request's
timeouts are longer than the time left.
Redirects are followed by hand so every hop is checked.  Bytes are stored as
they came over the wire (gzip stays gzip): decoding is the reader's job, with
its own cap, and never uses the charset requests would guess.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from feedcheck.errors import FetchError
from feedcheck.settings import FetchLimits
from feedcheck.sources.redact import hidden_in_http_logs, redact_text, redact_url

USER_AGENT = "feedcheck/0.1 (+product feed validator)"
_COPY_CHUNK = 1 << 16
_PASSING = frozenset({408, 425, 429, 500, 502, 503, 504})  # worth another try later
_PASSING_ERRORS = (  # a network that may be back in a minute; not a bad certificate, URL or redirect loop
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
)


@dataclass(frozen=True)
class Validators:
    """What the server said last time, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Auth:
    """Credentials for a protected feed, read from the environment, never from files.  Shown (``repr``, a
    traceback's locals) with the header names and the user only."""

    headers: Mapping[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None

    def __repr__(self) -> str:
        user = f"({self.basic[0]!r}, '***')" if self.basic else "None"
        return f"Auth(headers={ {name: '***' for name in self.headers} }, basic={user})"

    def secrets(self) -> list[str]:
        """The values to keep out of every log line: header values and the password."""
        return [*self.headers.values(), *(self.basic[1:] if self.basic else ())]

    @classmethod
    def from_env(
        cls,
        header_vars: Mapping[str, str] | None = None,
        basic_vars: tuple[str, str] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> "Auth":
        """Build credentials from environment variable *names*.

        ``header_vars`` maps a header name to the variable holding its value;
        ``basic_vars`` names the user and password variables.
        """
        missing = [v for v in [*(header_vars or {}).values(), *(basic_vars or ())] if v not in environ]
        if missing:
            raise FetchError.of(
                "fetch.failed",
                f"Environment variable(s) {', '.join(missing)} not set; export them with the "
                "feed's credentials.",
            )
        headers = {h: environ[v] for h, v in (header_vars or {}).items()}
        basic = (environ[basic_vars[0]], environ[basic_vars[1]]) if basic_vars else None
        return cls(headers=headers, basic=basic)


@dataclass(frozen=True)
class Fetched:
    """A source on local disk, or the news that it has not changed.

    ``source`` is the redacted location, safe to print.  ``path`` is ``None``
    when the server answered 304 Not Modified.  ``temporary`` files are
    removed by :meth:`cleanup`.
    """

    source: str
    path: Path | None
    sha256: str = ""
    size: int = 0
    charset: str | None = None
    validators: Validators = Validators()
    temporary: bool = False

    @property
    def unchanged(self) -> bool:
        return self.path is None

    def cleanup(self) -> None:
        if self.temporary and self.path is not None:
            self.path.unlink(missing_ok=True)


def fetch(
    source: str | os.PathLike[str],
    *,
    limits: FetchLimits = FetchLimits(),
    previous: Validators | None = None,
    auth: Auth | None = None,
    workdir: Path | None = None,
) -> Fetched:
    """Fetch ``source`` and return where its bytes are.

    Raises:
        FetchError: the source is missing, unreachable, too slow, too large or
            answered with an error; the finding says which and what to do.
    """
    text = os.fspath(source)
    scheme = urlsplit(text).scheme.lower()
    kind = SOURCES.get(scheme if len(scheme) > 1 else "")  # a one-letter scheme is a Windows drive
    if kind is None:
        raise FetchError.of(
            "fetch.blocked", f"Scheme '{scheme}' is not supported; use a path, file://, http:// or https://."
        )
    return kind(text, limits, previous, auth or Auth(), workdir)


def _path(text: str, limits: FetchLimits, previous: Validators | None, auth: Auth, workdir: Path | None) -> Fetched:
    return _local(Path(text), text, previous)


def _file_url(text: str, limits: FetchLimits, previous: Validators | None, auth: Auth,
              workdir: Path | None) -> Fetched:
    return _local(Path(unquote(urlsplit(text).path)), text, previous)


def _local(path: Path, shown: str, previous: Validators | None) -> Fetched:
    """A file, whose ETag is its content's sha256: the same bytes again are "not modified", as a server says
    it, and a run stands on the last one without reading them (nor loading what reads)."""
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise FetchError.of("fetch.not_found", f"{shown} {what}; check the path.")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    validators = Validators(etag=f'"sha256:{sha256}"')
    if previous is not None and previous.etag == validators.etag:
        return Fetched(source=shown, path=None, validators=previous)
    return Fetched(source=shown, path=path, sha256=sha256, size=path.stat().st_size, validators=validators)


class _DeadlineRetry(Retry):
    """urllib3's retries inside the fetch's deadline: a wait (backoff or ``Retry-After``) is cut to the time
    left, and no retry starts once it is gone."""

    deadline_at = float("inf")

    def new(self, **kw: object) -> _DeadlineRetry:
        retry = super().new(**kw)  # type: ignore[arg-type]
        retry.deadline_at = self.deadline_at
        return retry

    def left(self) -> float:
        return max(0.0, self.deadline_at - time.monotonic())

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.left())

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), self.left())

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.left() == 0


def _session(limits: FetchLimits, deadline_at: float) -> requests.Session:
    retry = _DeadlineRetry(
        total=limits.retries,
        connect=limits.retries,
        read=limits.retries,
        status=limits.retries,
        backoff_factor=limits.backoff,
        backoff_jitter=limits.backoff / 2,
        status_forcelist={429, 500, 502, 503, 504},
        allowed_methods={"GET", "HEAD"},
        respect_retry_after_header=True,
        retry_after_max=limits.retry_after_max,
        raise_on_status=False,
        redirect=False,
    )
    retry.deadline_at = deadline_at
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _check_host(url: str) -> None:
    """Refuse link-local targets (cloud metadata endpoints live there)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return  # requests will report the unresolvable host with a clear message
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            raise FetchError.of(
                "fetch.blocked",
                f"{redact_url(url)} points at {ip}, a link-local or reserved address "
                "(cloud metadata services live there); feedcheck does not fetch from it.",
            )


def _open(session: requests.Session, url: str, limits: FetchLimits, headers: dict[str, str], auth: Auth,
          deadline_at: float) -> requests.Response:
    """GET ``url``, following redirects by hand so every hop is checked."""
    for _hop in range(limits.max_redirects + 1):
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise FetchError.of(
                "fetch.blocked", f"A redirect led to {redact_url(url)}; only http and https are followed."
            )
        _check_host(url)
        response = session.get(
            url,
            headers=headers,
            auth=auth.basic,
            timeout=_timeouts(limits, deadline_at),
            stream=True,
            allow_redirects=False,
        )
        if not response.is_redirect:
            return response
        response.close()
        url = urljoin(url, response.headers["Location"])
    raise FetchError.of(
        "fetch.too_many_redirects",
        f"More than {limits.max_redirects} redirects; open the feed URL in a browser to see where it loops.",
    )


def _fetch_http(
    url: str, limits: FetchLimits, previous: Validators | None, auth: Auth, workdir: Path | None
) -> Fetched:
    shown = redact_url(url)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", **auth.headers}
    if previous and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous and previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    deadline_at = time.monotonic() + limits.deadline
    session = _session(limits, deadline_at)
    try:
        with hidden_in_http_logs(url, *auth.secrets()):
            response = _open(session, url, limits, headers, auth, deadline_at)
        with response:
            return _receive(response, shown, limits, workdir, previous, deadline_at)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        if _timed_out(exc):
            raise FetchError.passing(
                "fetch.timeout",
                f"{shown} did not answer within " + (
                    f"the {limits.deadline:g} s deadline." if time.monotonic() >= deadline_at - 0.5
                    else f"{limits.read_timeout:g} s, after {limits.retries} retries."),
            ) from None
        passing = isinstance(exc, _PASSING_ERRORS) and not isinstance(exc, requests.exceptions.SSLError)
        raise (FetchError.passing if passing else FetchError.of)(
            "fetch.failed", f"Could not fetch {shown}: {_reason(exc)}. Check the URL and the network."
        ) from None
    finally:
        session.close()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (arguments, urllib3's ``reason``, causes), nearest first, at most 50."""
    pending: list[BaseException] = [exc]
    for _ in range(50):
        if not pending:
            return
        current = pending.pop(0)
        yield current
        pending.extend(a for a in current.args if isinstance(a, BaseException))
        pending.extend(x for x in (getattr(current, "reason", None), current.__cause__, current.__context__)
                       if isinstance(x, BaseException))


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is, or wraps, a timeout (once retries are spent, a read timeout reaches requests
    inside a retry error).  urllib3's refused connection is a kind of connect timeout: it is not one here."""
    causes = list(_chain(exc))
    return (any(isinstance(e, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)) for e in causes)
            and not any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in causes))


def _reason(exc: BaseException) -> str:
    """The root cause in words, without the URL (library messages embed paths and queries)."""
    for current in _chain(exc):
        if isinstance(current, socket.gaierror):
            return "the host name could not be resolved"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
    return redact_text(type(exc).__name__)


def _timeouts(limits: FetchLimits, deadline_at: float) -> tuple[float, float]:
    """Connect and between-bytes timeouts for the next request, neither past the deadline."""
    left = max(0.05, deadline_at - time.monotonic())
    return min(limits.connect_timeout, left), min(limits.read_timeout, left)


def _receive(
    response: requests.Response, shown: str, limits: FetchLimits, workdir: Path | None, previous: Validators | None,
    deadline_at: float,
) -> Fetched:
    validators = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
    if response.status_code == 304:
        if previous is None or not (previous.etag or previous.last_modified):
            raise FetchError.of(
                "fetch.status",
                f"{shown} answered HTTP 304 Not Modified to a request that sent no ETag or date to compare with, "
                "so there is no earlier copy to keep; check the server's or CDN's cache rules, then run again.",
            )
        return Fetched(source=shown, path=None, validators=previous)
    if response.status_code >= 400:
        raise (FetchError.passing if response.status_code in _PASSING else FetchError.of)(
            "fetch.status",
            f"{shown} answered HTTP {response.status_code} {response.reason}"
            + (" (check the feed's credentials)." if response.status_code in (401, 403) else "."),
        )
    declared = int(response.headers.get("Content-Length") or 0)
    if declared > limits.max_bytes:
        raise FetchError.of(
            "fetch.too_large", f"{shown} announces {declared:,} bytes, over the {limits.max_bytes:,}-byte cap."
        )
    fd, name = tempfile.mkstemp(prefix="feedcheck-", suffix=".download", dir=workdir)
    path = Path(name)
    try:
        digest, size = _spool(response, fd, shown, limits, deadline_at)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Fetched(
        source=shown,
        path=path,
        sha256=digest,
        size=size,
        charset=response.encoding if "charset" in response.headers.get("Content-Type", "").lower() else None,
        validators=validators,
        temporary=True,
    )


def _spool(response: requests.Response, fd: int, shown: str, limits: FetchLimits,
           deadline_at: float) -> tuple[str, int]:
    """Copy the body to ``fd`` under the byte cap and the wall-clock deadline."""
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := response.raw.read1(_COPY_CHUNK, decode_content=False):
            size += len(chunk)
            if size > limits.max_bytes:
                raise FetchError.of(
                    "fetch.too_large", f"{shown} sent more than the {limits.max_bytes:,}-byte cap; download stopped."
                )
            if time.monotonic() > deadline_at:
                raise FetchError.passing(
                    "fetch.timeout",
                    f"{shown} took longer than the {limits.deadline:g} s deadline ({size:,} bytes so far); "
                    "the server is too slow or stalling.",
                )
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


# Where a source's bytes come from, by its URL's scheme ("" for a plain path): a new kind of source is one
# function taking (source, limits, previous validators, credentials, work folder) and one entry here.
SOURCES: dict[str, Callable[[str, FetchLimits, Validators | None, Auth, Path | None], Fetched]] = {
    "": _path,
    "file": _file_url,
    "http": _fetch_http,
    "https": _fetch_http,
}
