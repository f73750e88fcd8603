"""SFTP servers, through paramiko.

``sftp://user@host[:port]/path/``.  Keys come from ``~/.ssh`` or the SSH
agent, and the server's host key must already be in ``~/.ssh/known_hosts``:
an unknown or changed host key is refused, never accepted.  A file is
uploaded under a temporary name beside its place, then renamed over the old
one with OpenSSH's ``posix-rename`` extension, which replaces it in one step.
A server without that extension gets the safest order left (the old file
moved aside, the new one renamed into place, the old one removed), and a
finding says the file was briefly missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import posixpath
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedcheck.errors import ConfigError
from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish.destinations import DestinationError, translated
from feedcheck.sources.redact import redact_text, redact_url

TIMEOUT = 30.0  # seconds to connect, authenticate, or wait on one answer of the server
_TEMPORARY = ".feedcheck-"
_ASIDE = f"{_TEMPORARY}old-"  # + uuid hex + "-" + the name it held: the old file moved aside without posix-rename
_REFUSED = "The server does not let this user write there: check the folder's owner and permissions, or quota."
_INSTALL = "publishing to sftp:// needs paramiko: pip install 'feedcheck[remote]'"


def check_url(url: str, where: str) -> None:
    """Raises:
        ConfigError: no user or host, a port that is not a number, or paramiko not installed.
    """
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"{where}: the port of {redact_url(url)!r} is not a number.") from None
    if not parts.hostname or not parts.username:
        raise ConfigError(f"{where}: an SFTP destination is sftp://user@host[:port]/path/, got "
                          f"{redact_url(url)!r}.")
    if importlib.util.find_spec("paramiko") is None:
        raise ConfigError(f"{where}: {_INSTALL}.")


def open_store(url: str) -> SftpStore:
    return SftpStore(url)


class SftpStore:
    """The files under ``path`` on an SFTP server; connects on first use."""

    def __init__(self, url: str) -> None:
        import paramiko

        parts = urlsplit(url)
        self.host, self.port, self.user = parts.hostname or "", parts.port or 22, parts.username or ""
        self.root = parts.path.rstrip("/")  # the path is absolute: sftp://user@host/ is the server's root
        self.shown = f"sftp://{self.user}@{self.host}:{self.port}{self.root}/"
        self._errors = (OSError, EOFError, paramiko.SSHException)
        self._client: Any = None
        self._sftp: Any = None
        self._warned = False

    def read(self, key: str) -> bytes | None:
        with translated(*self._errors, refused=_REFUSED):
            try:
                with self._session().open(self._path(key), "rb") as remote:
                    return bytes(remote.read())
            except FileNotFoundError:
                return None

    def exists(self, key: str) -> bool:
        with translated(*self._errors, refused=_REFUSED):
            try:
                self._session().stat(self._path(key))
            except FileNotFoundError:
                return False
        return True

    def upload(self, local: Path, key: str, sha256: str) -> None:
        self._put_and_rename(local, key, FindingLog())

    def replace(self, version_key: str, key: str, local: Path, sha256: str, log: FindingLog) -> None:
        """SFTP has no copy on the server: the file is uploaded again, under a temporary name, and renamed."""
        self._put_and_rename(local, key, log)

    def sha256(self, key: str, thorough: bool) -> str | None:
        if not thorough:
            return None
        digest = hashlib.sha256()
        with translated(*self._errors, refused=_REFUSED):
            try:
                with self._session().open(self._path(key), "rb") as remote:
                    remote.prefetch()
                    for block in iter(lambda: remote.read(1 << 20), b""):
                        digest.update(block)
            except FileNotFoundError:
                return None
        return digest.hexdigest()

    def versions(self) -> list[str]:
        with translated(*self._errors, refused=_REFUSED):
            try:
                return sorted(self._session().listdir(self._path("published")))
            except FileNotFoundError:
                return []

    def remove(self, key: str) -> None:
        with translated(*self._errors, refused=_REFUSED):
            self._session().remove(self._path(key))

    def remove_version(self, name: str) -> None:
        folder = self._path(f"published/{name}")
        with translated(*self._errors, refused=_REFUSED):
            sftp = self._session()
            for entry in sftp.listdir(folder):
                sftp.remove(f"{folder}/{entry}")
            sftp.rmdir(folder)

    def tidy(self) -> None:
        """Remove the temporary uploads a killed run left, beside the stable files and in the versions."""
        with translated(*self._errors, refused=_REFUSED):
            sftp = self._session()
            folders = [self.root or "/", self._path("reports")] + [self._path(f"published/{name}")
                                                                  for name in self.versions()]
            for folder in folders:
                try:
                    names = sftp.listdir(folder)
                except FileNotFoundError:
                    continue
                for name in names:
                    held = name[len(_ASIDE):].split("-", 1)[-1] if name.startswith(_ASIDE) else ""
                    if held and held not in names:  # stopped between moving it aside and renaming the new one
                        sftp.rename(f"{folder}/{name}", f"{folder}/{held}")
                    elif name.startswith(_TEMPORARY):
                        sftp.remove(f"{folder}/{name}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = self._sftp = None

    def _session(self) -> Any:
        """The SFTP session, opened on first use with the host key checked against ``~/.ssh/known_hosts``."""
        if self._sftp is None:
            import paramiko

            client = paramiko.SSHClient()
            client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                client.connect(self.host, port=self.port, username=self.user, timeout=TIMEOUT,
                               banner_timeout=TIMEOUT, auth_timeout=TIMEOUT, allow_agent=True, look_for_keys=True)
                session = client.open_sftp()
            except paramiko.SSHException as exc:
                client.close()
                raise DestinationError(_connect_reason(exc)) from None
            except (OSError, EOFError) as exc:
                client.close()
                raise DestinationError(redact_text(f"cannot connect ({getattr(exc, 'strerror', None) or exc}).")) \
                    from None
            except BaseException:
                client.close()
                raise
            session.get_channel().settimeout(TIMEOUT)
            self._client, self._sftp = client, session
        return self._sftp

    def _put_and_rename(self, local: Path, key: str, log: FindingLog) -> None:
        final = self._path(key)
        folder = posixpath.dirname(final)
        temporary = f"{folder}/{_TEMPORARY}{uuid.uuid4().hex}.tmp"
        with translated(*self._errors, refused=_REFUSED):
            sftp = self._session()
            self._makedirs(folder)
            try:
                sftp.put(str(local), temporary, confirm=True)
                self._rename_over(temporary, final, log)
            except BaseException:
                try:
                    sftp.remove(temporary)
                except (OSError, EOFError):
                    pass  # the connection is gone: the next run's tidy() removes it
                raise

    def _rename_over(self, temporary: str, final: str, log: FindingLog) -> None:
        sftp = self._session()
        try:
            sftp.posix_rename(temporary, final)
            return
        except OSError as exc:
            if "unsupported" not in str(exc).lower():
                raise
        aside = f"{posixpath.dirname(final)}/{_ASIDE}{uuid.uuid4().hex}-{posixpath.basename(final)}"
        try:
            sftp.rename(final, aside)
        except FileNotFoundError:
            aside = ""
        try:
            sftp.rename(temporary, final)
        except BaseException:
            if aside:
                sftp.rename(aside, final)  # the old file back in its place, rather than none
            raise
        if aside:
            sftp.remove(aside)
            if not self._warned:  # a file was missing for a moment: once a run is enough to say so
                log.add(make_finding("publish.no_atomic_rename", value=self.shown))
                self._warned = True

    def _makedirs(self, folder: str) -> None:
        sftp = self._session()
        missing = []
        while folder not in ("", "/", "."):
            try:
                sftp.stat(folder)
                break
            except FileNotFoundError:
                missing.append(folder)
                folder = posixpath.dirname(folder)
        for path in reversed(missing):
            sftp.mkdir(path)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"  # root "" is the server's root: /key


def _connect_reason(exc: Exception) -> str:
    import paramiko

    if isinstance(exc, paramiko.BadHostKeyException):
        return "the server's host key is not the one in ~/.ssh/known_hosts; nothing was sent."
    if isinstance(exc, paramiko.AuthenticationException):
        return "the server refused the SSH key (from ~/.ssh or the agent)."
    if "not found in known_hosts" in str(exc):
        return "the server's host key is not in ~/.ssh/known_hosts; add it (ssh-keyscan, then check it)."
    return redact_text(f"SSH failed ({type(exc).__name__}: {exc}).")
