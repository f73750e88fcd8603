"""S3 and S3-compatible stores (MinIO, R2, GCS's S3 interface), through s3fs.

``s3://bucket/prefix/``.  Credentials come from the AWS chain (environment,
``~/.aws``, an instance role), the endpoint of an S3-compatible store from
``AWS_ENDPOINT_URL``; none of them is ever written into a finding or report.
Every object feedcheck uploads carries its sha256 in its metadata, which a
server-side copy keeps: that is how a half-made switch is found.
"""

from __future__ import annotations

import importlib.util
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from feedcheck.errors import ConfigError
from feedcheck.findings import FindingLog
from feedcheck.publish.destinations import translated
from feedcheck.sources.redact import redact_url

_REFUSED = ("Check the credentials the run has (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws or the "
            "machine's role): they are wrong, or may not write under this prefix.")
_INSTALL = "publishing to s3:// needs s3fs: pip install 'feedcheck[remote]'"


def check_url(url: str, where: str) -> None:
    """Raises:
        ConfigError: no bucket, a user name in the URL, or s3fs not installed.
    """
    parts = urlsplit(url)
    if not parts.hostname or parts.username is not None:
        raise ConfigError(f"{where}: an S3 destination is s3://bucket/prefix/, got {redact_url(url)!r}.")
    if importlib.util.find_spec("s3fs") is None:
        raise ConfigError(f"{where}: {_INSTALL}.")


def open_store(url: str) -> S3Store:
    return S3Store(url)


class S3Store:
    """The objects under ``s3://bucket/prefix/``."""

    def __init__(self, url: str) -> None:
        import botocore.exceptions
        import s3fs

        parts = urlsplit(url)
        self.root = "/".join(p for p in (parts.netloc, parts.path.strip("/")) if p)
        self.shown = f"s3://{self.root}/"
        self._errors = (OSError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError)
        # A few retries with back-off, and no listing cache: each step must see what the last one did.
        self.fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                                    config_kwargs={"connect_timeout": 10, "read_timeout": 60,
                                                   "retries": {"max_attempts": 3, "mode": "standard"}})
        self.fs.retries = 2  # s3fs's own, around botocore's: a lost connection is retried, not waited out

    def read(self, key: str) -> bytes | None:
        with translated(*self._errors, refused=_REFUSED):
            try:
                return bytes(self.fs.cat_file(self._path(key)))
            except FileNotFoundError:
                return None

    def exists(self, key: str) -> bool:
        with translated(*self._errors, refused=_REFUSED):
            return bool(self.fs.exists(self._path(key)))

    def upload(self, local: Path, key: str, sha256: str) -> None:
        content_type = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
        with translated(*self._errors, refused=_REFUSED):
            self.fs.put_file(str(local), self._path(key), Metadata={"sha256": sha256}, ContentType=content_type)

    def replace(self, version_key: str, key: str, local: Path, sha256: str, log: FindingLog) -> None:
        """One server-side copy: the stable key holds the old object until the new one is whole."""
        with translated(*self._errors, refused=_REFUSED):
            self.fs.copy(self._path(version_key), self._path(key))

    def sha256(self, key: str, thorough: bool) -> str | None:
        with translated(*self._errors, refused=_REFUSED):
            try:
                return self.fs.metadata(self._path(key)).get("sha256")
            except FileNotFoundError:
                return None

    def versions(self) -> list[str]:
        with translated(*self._errors, refused=_REFUSED):
            try:
                return sorted(Path(p).name for p in self.fs.ls(self._path("published"), detail=False))
            except FileNotFoundError:
                return []

    def remove(self, key: str) -> None:
        with translated(*self._errors, refused=_REFUSED):
            self.fs.rm_file(self._path(key))

    def remove_version(self, name: str) -> None:
        with translated(*self._errors, refused=_REFUSED):
            self.fs.rm(self._path(f"published/{name}"), recursive=True)

    def tidy(self) -> None:
        """Nothing to do: an object appears whole or not at all, and s3fs aborts the multipart uploads it
        starts when they fail."""

    def close(self) -> None:
        return None

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"
