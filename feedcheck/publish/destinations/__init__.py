"""Where a cleaned catalog is published: a local folder, an S3 bucket or an SFTP server.

One registry, by URL scheme.  A local path publishes into a folder
(:mod:`.local`); ``s3://bucket/prefix/`` and ``sftp://user@host[:port]/path/``
publish through a store (:mod:`.s3`, :mod:`.sftp`) in the steps of
:mod:`.remote`.  Any other scheme is refused until its atomic publish is
built and tested.  Adding a destination is one module with a store and one
entry in ``SCHEMES``.

Every destination takes the same steps (:class:`Destination`), called by
:func:`feedcheck.publish.atomic.publish_catalog` under its lock::

    prepare            remove leftovers, finish a switch a crash left half-made
    current_manifest   the gate's baseline
    staging / place    the version written locally, then made current atomically
    settle             links repaired, versions beyond ``keep`` pruned
    place_reports      the run's reports beside the catalog, when asked (after the run's reports are written)

Exceptions::

    DestinationError   the destination cannot be reached or refuses a step; the message says what its
                       library said, without credentials
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from feedcheck.errors import ConfigError
from feedcheck.findings import FindingLog
from feedcheck.publish.destinations.local import LocalDestination
from feedcheck.sources.redact import redact_text

# scheme -> the module with check_url(url) and open_store(url), imported when a destination of its kind is used
SCHEMES = {"s3": "feedcheck.publish.destinations.s3", "sftp": "feedcheck.publish.destinations.sftp"}


class DestinationError(Exception):
    """A destination that cannot be reached or refuses a step.  ``live`` is the manifest of a catalog that was
    made current before the step that failed (its stable manifest was not replaced); ``None``: nothing was."""

    def __init__(self, message: str, live: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.live = live


class Destination(Protocol):
    shown: str  # where, as findings and reports name it: no credentials

    def locked(self) -> contextlib.AbstractContextManager[None]: ...
    def prepare(self, log: FindingLog) -> str | None: ...
    def current_manifest(self, log: FindingLog) -> dict[str, Any] | None: ...
    def newest_published(self) -> dict[str, Any] | None: ...
    def has_versions(self) -> bool: ...
    def staging(self) -> contextlib.AbstractContextManager[Path]: ...
    def place(self, staging: Path, name: str, manifest: dict[str, Any], log: FindingLog) -> None: ...
    def settle(self, manifest: dict[str, Any] | None, keep: int, log: FindingLog) -> None: ...
    def place_reports(self, files: list[Path]) -> None: ...
    def close(self) -> None: ...


def is_remote(out: str | os.PathLike[str]) -> bool:
    """Whether ``out`` is a URL rather than a local path."""
    return isinstance(out, str) and "://" in out


def check_destination(out: str, where: str) -> str:
    """``out`` when feedcheck can publish there; the URL's form is checked, nothing is contacted.

    Raises:
        ConfigError: an unknown scheme, credentials written into the URL, or a URL its store cannot use.
    """
    if not is_remote(out):
        return out
    parts = urlsplit(out)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"{where}: feedcheck cannot publish to {scheme}:// (only a local folder, s3:// and "
                          "sftp:// have an atomic publish); publish to one of those.")
    if parts.password is not None or parts.query:
        raise ConfigError(f"{where}: the destination URL carries credentials or options; credentials come from "
                          "the environment (see the README), never from the URL.")
    _module(scheme).check_url(out, where)
    return out


def open_destination(out: str | os.PathLike[str], work: Path | None = None) -> Destination:
    """The destination ``out`` names; ``work`` is the run's local folder (a remote destination's lock and
    staging).  Nothing is contacted until a step needs it."""
    if not is_remote(out):
        return LocalDestination(Path(out))
    from feedcheck.publish.destinations.remote import RemoteDestination

    if work is None:
        raise ValueError("a remote destination needs the run's local folder")
    scheme = urlsplit(str(out)).scheme.lower()
    return RemoteDestination(_module(scheme).open_store(str(out)), work)


@contextlib.contextmanager
def translated(*expected: type[BaseException], refused: str = "") -> Iterator[None]:
    """Raise the ``expected`` errors of a store's library as :class:`DestinationError`, with what they said;
    ``refused`` says what to check when the destination refused access."""
    try:
        yield
    except expected as exc:
        reason = f"{type(exc).__name__}: {exc}".rstrip(".") + "."
        if isinstance(exc, PermissionError) and refused:
            reason = f"{reason} {refused}"
        raise DestinationError(redact_text(reason)) from None


def _module(scheme: str) -> Any:
    return importlib.import_module(SCHEMES[scheme])
