"""A local folder: the published versions side by side, and one symlink that changes.

Layout::

    DIR/published/<sha12>/catalog.<ext>   one folder per published version, complete
    DIR/published/<sha12>/manifest.json   before it is made visible
    DIR/current -> published/<sha12>      the one pointer that changes (a symlink)
    DIR/catalog.<ext> -> current/catalog.<ext>
    DIR/manifest.json -> current/manifest.json

A version is written to a temporary folder, flushed and fsynced, renamed into
``published/``, and only then is ``current`` swapped with ``os.replace``: a
run killed at any moment leaves either the old or the new catalog and its
manifest, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish.destinations.manifests import newest, past_keep, readable
from feedcheck.reports.write import atomic_write


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing), waiting for any other holder:
    another thread, or another process on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class LocalDestination:
    """Publishing into the folder ``out`` on this machine (or a mounted share)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.shown = str(out)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        self.out.mkdir(parents=True, exist_ok=True)
        return exclusive(self.out / ".publish.lock")

    def prepare(self, log: FindingLog) -> str | None:
        """Remove what a killed publish left behind (only publishes, which hold the lock, make these); a reason
        to publish nothing when ``current`` is not feedcheck's."""
        for leftover in self.out.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.out.glob(".current.*.tmp"):
            leftover.unlink(missing_ok=True)
        for leftover in (self.out / "published").glob("*/.manifest.json.*.tmp"):
            leftover.unlink(missing_ok=True)
        current = self.out / "current"
        if current.exists() and not current.is_symlink():
            log.add(make_finding("publish.layout", detail=f"{current} exists and is not feedcheck's link "
                                 "to the published version; move it away, nothing was published."))
            return "current is not feedcheck's"
        return None

    def current_manifest(self, log: FindingLog) -> dict[str, Any] | None:
        path = self.out / "current" / "manifest.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.add(make_finding("publish.manifest_unreadable", detail=f"{path} cannot be read ({exc})."))
            return None
        return readable(data, str(path), log)

    def newest_published(self) -> dict[str, Any] | None:
        return newest(_bytes_or_none(path) for path in (self.out / "published").glob("*/manifest.json"))

    def has_versions(self) -> bool:
        return any((self.out / "published").glob("*/"))

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A folder on the same file system as ``published/``, so that a version is placed by a rename."""
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.out))
        os.chmod(staging, 0o755)  # served as it is, like any published folder
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def place(self, staging: Path, name: str, manifest: dict[str, Any], log: FindingLog) -> None:
        """Move the complete version to its content-addressed folder, then point ``current`` at it.

        The same catalog published before (A, B, then A again) reuses its
        folder, with this run's manifest written into it first, atomically.
        """
        _fsync_dir(staging)
        target = self.out / "published" / manifest["sha256"][:12]
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            atomic_write(target / "manifest.json", (staging / "manifest.json").read_bytes())
            _fsync_dir(target)
        else:
            staging.rename(target)
            _fsync_dir(target.parent)
        _point(self.out / "current", Path("published") / target.name)
        _fsync_dir(self.out)

    def settle(self, manifest: dict[str, Any] | None, keep: int, log: FindingLog) -> None:
        """Repair the links through ``current`` whatever the outcome, and prune old versions."""
        if not (self.out / "current").is_symlink():
            return
        name = (manifest or {}).get("file")
        for link in ([name] if name else []) + ["manifest.json"]:
            _ensure_link(self.out / link, Path("current") / link, log)
        self._prune(keep)

    def place_reports(self, files: list[Path]) -> None:
        """Nothing to do: the reports are written into this folder, beside the catalog."""

    def close(self) -> None:
        return None

    def _prune(self, keep: int) -> None:
        """Remove published versions beyond the newest ``keep`` (never the current one), and stale links."""
        current = (self.out / "current").resolve()
        versions = ((_bytes_or_none(folder / "manifest.json"), folder) for folder in (self.out / "published").iterdir())
        for folder in past_keep(versions, keep):
            if folder.resolve() != current:
                shutil.rmtree(folder, ignore_errors=True)
        for link in self.out.glob("catalog.*"):
            if link.is_symlink() and not link.exists():  # the format changed: the old name points nowhere
                link.unlink()


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target`` in one step (a temporary link renamed over it)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)


def _ensure_link(link: Path, target: Path, log: FindingLog) -> None:
    """Make ``link`` point at ``target``; a regular file in its place is kept aside, not overwritten."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.exists() and not link.is_symlink():
        aside = link.with_name(f"{link.name}.before-feedcheck")
        os.replace(link, aside)
        log.add(make_finding("publish.layout", detail=f"{link} was a regular file; it was kept as {aside.name} "
                             "and replaced by feedcheck's link to the published version."))
    _point(link, target)
