"""Publishing to a store the run reaches over the network (S3, SFTP), in steps a crash cannot mix.

Layout under the destination's prefix::

    published/<sha12>/catalog.<ext>    every version, complete, written first
    published/<sha12>/manifest.json
    catalog.<ext>                      the stable name the channel fetches
    manifest.json                      the stable manifest, replaced last

A publish uploads the version's catalog and manifest, then replaces the
stable catalog in one step (S3: a server-side copy; SFTP: an upload to a
temporary name and a rename over it), then the stable manifest.  A crash
between two steps leaves a complete catalog at the stable name: the old one,
or the new one with the old manifest beside it.  The next run finds the
second case, where the stable catalog's sha256 is not the stable manifest's,
and finishes the switch by replacing the manifest with its version's.  S3
keeps each object's sha256 in its metadata, so this needs no download; over
SFTP the run's local folder keeps a note of the switch under way, and the
stable catalog is hashed only when such a note is left.

The run's staging folder and that note are in its local folder (``work``);
two publishes to one destination from one machine wait for each other (a
lock named after the destination).  Runs on two machines must not publish to
one destination (one writer per destination).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish.destinations import DestinationError
from feedcheck.publish.destinations.local import exclusive
from feedcheck.publish.destinations.manifests import NotAManifest, newest, parsed, past_keep, readable
from feedcheck.publish.formats import FORMATS

MANIFEST = "manifest.json"
VERSIONS = "published"
SWITCH_NOTE = ".publishing.json"  # in the run's local folder, while a switch is under way


class Store(Protocol):
    """The few operations a destination's library offers for :class:`RemoteDestination`.  Keys are relative
    to the destination's prefix; each raises :class:`~feedcheck.publish.destinations.DestinationError`."""

    shown: str

    def read(self, key: str) -> bytes | None: ...  # None: there is no such key
    def exists(self, key: str) -> bool: ...
    def upload(self, local: Path, key: str, sha256: str) -> None: ...  # the key appears whole, or not at all
    def replace(self, version_key: str, key: str, local: Path, sha256: str, log: FindingLog) -> None: ...
    def sha256(self, key: str, thorough: bool) -> str | None: ...  # None: no such key, or not known cheaply
    def versions(self) -> list[str]: ...
    def remove(self, key: str) -> None: ...
    def remove_version(self, name: str) -> None: ...
    def tidy(self) -> None: ...  # temporary uploads a killed run left
    def close(self) -> None: ...


class RemoteDestination:
    """The steps of :class:`~feedcheck.publish.destinations.Destination` over a :class:`Store`."""

    def __init__(self, store: Store, work: Path) -> None:
        self.store = store
        self.work = work
        self.shown = store.shown

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """One publish at a time to this destination from this machine, whichever local folder its run has."""
        key = hashlib.sha256(self.shown.encode()).hexdigest()[:24]
        return exclusive(Path(tempfile.gettempdir()) / "feedcheck-destinations" / f"{key}.lock")

    def prepare(self, log: FindingLog) -> str | None:
        """Remove leftovers, here and there, and finish a switch that a crash left half-made."""
        for leftover in self.work.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        self.store.tidy()
        note = self._switch_note()
        stable = self._stable_manifest(FindingLog())
        if note is not None:  # this machine's last switch may have stopped between the catalog and the manifest
            actual = self.store.sha256(note["file"], thorough=True)
            if actual == note["sha256"] and (stable is None or stable.get("sha256") != actual):
                self._finish_switch(note["file"], actual, log)
        elif stable is not None and isinstance(stable.get("file"), str):
            actual = self.store.sha256(stable["file"], thorough=False)
            if actual is not None and actual != stable.get("sha256"):
                self._finish_switch(stable["file"], actual, log)
        (self.work / SWITCH_NOTE).unlink(missing_ok=True)
        return None

    def current_manifest(self, log: FindingLog) -> dict[str, Any] | None:
        """The stable manifest, when the stable catalog it names is there too (else the catalog is published
        again, whatever the manifest says)."""
        manifest = self._stable_manifest(log)
        if manifest is not None and not self.store.exists(str(manifest.get("file"))):
            log.add(make_finding("publish.layout", detail=f"{self.shown}{manifest.get('file')} is missing though "
                                 "its manifest is there; the catalog is published again."))
            return None
        return manifest

    def newest_published(self) -> dict[str, Any] | None:
        return newest(self.store.read(f"{VERSIONS}/{name}/{MANIFEST}") for name in self.store.versions())

    def has_versions(self) -> bool:
        return bool(self.store.versions())

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        self.work.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.work))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def place(self, staging: Path, name: str, manifest: dict[str, Any], log: FindingLog) -> None:
        """Upload the version, then switch the stable catalog and the stable manifest to it, in that order."""
        version = f"{VERSIONS}/{manifest['sha256'][:12]}"
        manifest_sha = hashlib.sha256((staging / MANIFEST).read_bytes()).hexdigest()
        self.store.upload(staging / name, f"{version}/{name}", manifest["sha256"])
        self.store.upload(staging / MANIFEST, f"{version}/{MANIFEST}", manifest_sha)
        note = self.work / SWITCH_NOTE
        note.write_text(json.dumps({"file": name, "sha256": manifest["sha256"]}))
        self.store.replace(f"{version}/{name}", name, staging / name, manifest["sha256"], log)
        try:
            self.store.replace(f"{version}/{MANIFEST}", MANIFEST, staging / MANIFEST, manifest_sha, log)
        except DestinationError as exc:  # the catalog is live: the note stays, for the next run to finish
            raise DestinationError(str(exc), live=manifest) from None
        note.unlink()

    def settle(self, manifest: dict[str, Any] | None, keep: int, log: FindingLog) -> None:
        """Remove the versions beyond the newest ``keep`` (never the current one), and a stable catalog of
        another format than the current one's: a channel still fetching it would get an old catalog."""
        current = self._stable_manifest(FindingLog())
        if current is not None:
            for name in {f"catalog.{f.extension}" for f in FORMATS.values()} - {current.get("file")}:
                if self.store.exists(name):
                    self.store.remove(name)
        versions = ((self.store.read(f"{VERSIONS}/{name}/{MANIFEST}"), name) for name in self.store.versions())
        for name in past_keep(versions, keep):
            if not current or name != str(current.get("sha256", ""))[:12]:
                self.store.remove_version(name)

    def place_reports(self, files: list[Path]) -> None:
        """Upload the run's reports to ``reports/``, each file whole or not at all."""
        for file in files:
            self.store.upload(file, f"reports/{file.name}", hashlib.sha256(file.read_bytes()).hexdigest())

    def close(self) -> None:
        self.store.close()

    def _stable_manifest(self, log: FindingLog) -> dict[str, Any] | None:
        data = self.store.read(MANIFEST)
        return None if data is None else readable(data, f"{self.shown}{MANIFEST}", log)

    def _switch_note(self) -> dict[str, str] | None:
        try:
            note = json.loads((self.work / SWITCH_NOTE).read_text())
        except (OSError, ValueError):
            return None
        valid = isinstance(note, dict) and all(isinstance(note.get(k), str) for k in ("file", "sha256"))
        return note if valid else None

    def _finish_switch(self, name: str, sha256: str, log: FindingLog) -> None:
        """The stable catalog ``name`` is version ``sha256``'s: make the stable manifest that version's too."""
        key = f"{VERSIONS}/{sha256[:12]}/{MANIFEST}"
        data = self.store.read(key)
        try:
            matches = data is not None and parsed(data).get("sha256") == sha256
        except NotAManifest:
            matches = False
        if not matches:
            log.add(make_finding("publish.layout", detail=f"{self.shown}{name} is no version published there; "
                                 "the next publish replaces it."))
            return
        manifest_sha = hashlib.sha256(data).hexdigest()
        with tempfile.NamedTemporaryFile(dir=self.work, prefix=".staging-") as local:
            local.write(data)
            local.flush()
            self.store.replace(key, MANIFEST, Path(local.name), manifest_sha, log)
        log.add(make_finding("publish.repaired", value=f"{self.shown}{MANIFEST}", hint=sha256[:12]))
