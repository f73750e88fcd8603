"""Publish a cleaned catalog without ever leaving a half-written or worse catalog behind.

Layout of an output folder::

    DIR/published/<sha12>/catalog.<ext>   one folder per published version, complete
    DIR/published/<sha12>/manifest.json   before it is made visible
    DIR/current -> published/<sha12>      the one pointer that changes (a symlink)
    DIR/catalog.<ext> -> current/catalog.<ext>
    DIR/manifest.json -> current/manifest.json

A version is written to a temporary folder, flushed and fsynced, renamed into
``published/``, and only then is ``current`` swapped with ``os.replace``: a
run killed at any moment leaves either the old or the new catalog and its
manifest, never a mix.  The quality gate runs first and may refuse; the last
good version then stays in place.  The last ``keep`` versions are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish.clean import CatalogSpool
from feedcheck.publish.formats import FORMATS
from feedcheck.readers.fields import ID
from feedcheck.reports.write import atomic_write
from feedcheck.settings import PublishOptions

OUTPUT_NAMES = {"tiktok": {ID: "sku_id"}}  # canonical name -> the channel's own column name


@dataclass
class PublishResult:
    """What publishing did: ``published``, ``unchanged`` or ``refused``, and the manifest now current."""

    outcome: str
    manifest: dict[str, Any] | None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "current": self.manifest}


@dataclass(frozen=True)
class Candidate:
    """What the run offers for publishing: counts from validation and where the catalog came from."""

    channel: str
    source: str
    fatal: bool
    items_total: int
    items_with_errors: int
    source_sha256: str | None
    etag: str | None
    last_modified: str | None
    check: str | None = None  # the check's fingerprint (feedcheck.steps.fingerprint); None: always write


def version() -> str:
    """feedcheck's installed version, recorded in every manifest."""
    try:
        return metadata.version("feedcheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def current_manifest(out: Path, log: FindingLog) -> dict[str, Any] | None:
    """The manifest of the version now published in ``out``, or ``None``; a damaged one is a finding."""
    path = out / "current" / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.add(make_finding("publish.manifest_unreadable", detail=f"{path} cannot be read ({exc})."))
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), int):
        log.add(make_finding("publish.manifest_unreadable", detail=f"{path} is not a feedcheck manifest."))
        return None
    return manifest


def gate(candidate: Candidate, valid_items: int, previous: dict[str, Any] | None, options: PublishOptions,
         log: FindingLog) -> bool:
    """Decide whether the catalog may replace the last good one; findings say why not (or why anyway)."""
    kept = "the last good catalog stays in place" if previous else "no catalog has been published here yet"
    if candidate.fatal:
        log.add(make_finding("gate.fatal", kept=kept))
        return False
    if valid_items == 0:
        log.add(make_finding("gate.no_items", value=str(candidate.items_total), kept=kept))
        return False
    problems = []
    share = candidate.items_with_errors / candidate.items_total if candidate.items_total else 0.0
    if share > options.max_error_share:
        problems.append(make_finding("gate.error_share", share=share, limit=options.max_error_share,
                                     value=str(candidate.items_with_errors), kept=kept))
    last = previous["items"] if previous else 0
    if last and (last - valid_items) / last > options.max_drop:
        problems.append(make_finding("gate.item_drop", value=str(valid_items), previous=last,
                                     items=valid_items, drop=(last - valid_items) / last, limit=options.max_drop))
    if not problems:
        return True
    if options.accept_drop:
        for problem in problems:
            log.add(make_finding("gate.override", detail=problem.message))
        return True
    log.extend(problems)
    return False


def publish_catalog(candidate: Candidate, spool: CatalogSpool, out: Path, options: PublishOptions,
            log: FindingLog) -> PublishResult:
    """Run the gate and, if it passes, publish the spooled catalog into ``out`` atomically.

    One publish at a time per folder (a lock file); leftovers of a run that was
    killed are removed first, and the links through ``current`` are repaired
    whatever the outcome.
    """
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out / ".publish.lock"):
        _remove_leftovers(out)
        if _foreign(out / "current"):
            log.add(make_finding("publish.layout", detail=f"{out / 'current'} exists and is not feedcheck's link "
                                 "to the published version; move it away, nothing was published."))
            return PublishResult("refused", None, reason="current is not feedcheck's")
        result = _publish(candidate, spool, out, options, log)
        if (out / "current").is_symlink():
            name = (result.manifest or {}).get("file")
            for link in ([name] if name else []) + ["manifest.json"]:
                _ensure_link(out / link, Path("current") / link, log)
            _prune(out, options.keep)
        return result


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing), waiting for any other holder:
    another thread, or another process on this machine."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(out: Path) -> None:
    """What a killed publish left behind (only publishes, which hold the lock, make these)."""
    for leftover in out.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out.glob(".current.*.tmp"):
        leftover.unlink(missing_ok=True)
    for leftover in (out / "published").glob("*/.manifest.json.*.tmp"):
        leftover.unlink(missing_ok=True)


def _foreign(path: Path) -> bool:
    return path.exists() and not path.is_symlink()


def _newest_published(out: Path) -> dict[str, Any] | None:
    """The newest readable manifest of the published versions: the gate's baseline when the current one
    cannot be read."""
    manifests = []
    for path in (out / "published").glob("*/manifest.json"):
        with contextlib.suppress(OSError, ValueError):
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(manifest, dict) and isinstance(manifest.get("items"), int):
                manifests.append(manifest)
    return max(manifests, key=lambda m: str(m.get("published_at", "")), default=None)


def _publish(candidate: Candidate, spool: CatalogSpool, out: Path, options: PublishOptions,
             log: FindingLog) -> PublishResult:
    current = current_manifest(out, log)
    previous = current if current is not None else _newest_published(out)
    if previous is None and any((out / "published").glob("*/")) and not options.accept_drop:
        log.add(make_finding("gate.no_baseline"))
        return PublishResult("refused", None, reason=_refusal(log))
    if not gate(candidate, spool.items, previous, options, log):
        return PublishResult("refused", previous, reason=_refusal(log))
    if (current is not None and candidate.check is not None and current.get("check") == candidate.check
            and current.get("format") == options.format):
        log.add(make_finding("publish.unchanged", detail="The source and the check's settings are those of the "
                                                         "published catalog's run; the published catalog stands."))
        return PublishResult("unchanged", current, reason="same check as the last run")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    os.chmod(staging, 0o755)  # served as it is, like any published folder
    try:
        name = f"catalog.{FORMATS[options.format].extension}"
        digest, size = _write_catalog(spool, staging / name, options.format, candidate.channel, log)
        same = previous is not None and previous.get("sha256") == digest and previous.get("file") == name
        if same and current is not None:  # without the link, the same catalog is published again
            log.add(make_finding("publish.unchanged", detail="The cleaned catalog is byte-identical to the "
                                                             "published one; nothing was published."))
            return PublishResult("unchanged", previous, reason="same catalog")
        manifest = {
            "feedcheck_version": version(),
            "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "channel": candidate.channel,
            "source": candidate.source,
            "source_sha256": candidate.source_sha256,
            "etag": candidate.etag,
            "last_modified": candidate.last_modified,
            "format": options.format,
            "file": name,
            "sha256": digest,
            "bytes": size,
            "items": spool.items,
            "accepted_drop": any(f.code == "gate.override" for f in log),
            "previous_sha256": previous.get("sha256") if previous else None,
            "check": candidate.check,
        }
        _write_file(staging / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        _fsync_dir(staging)
        target = _place(staging, out / "published" / digest[:12], manifest)
        _point(out / "current", Path("published") / target.name)
        _fsync_dir(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.add(make_finding("publish.published", value=name, items=spool.items, hint=digest[:12]))
    return PublishResult("published", manifest)


def _refusal(log: FindingLog) -> str:
    return next((f.message for f in log if f.code.startswith("gate.")), "")


def _write_catalog(spool: CatalogSpool, path: Path, fmt: str, channel: str, log: FindingLog) -> tuple[str, int]:
    """Write the catalog in ``fmt``, fsynced; return its sha256 and size."""
    names = {c: OUTPUT_NAMES.get(channel, {}).get(c, c) for c in spool.columns}
    FORMATS[fmt].write(spool, path, names, log)
    digest = hashlib.sha256()
    with path.open("rb+") as written:
        for block in iter(lambda: written.read(1 << 20), b""):
            digest.update(block)
        os.fsync(written.fileno())
    return digest.hexdigest(), path.stat().st_size


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(staging: Path, target: Path, manifest: dict[str, Any]) -> Path:
    """Move the complete staging folder to its content-addressed place.

    The same catalog published before (A, B, then A again) reuses its folder,
    with this run's manifest written into it first, atomically.
    """
    target.parent.mkdir(exist_ok=True)
    if target.exists():
        atomic_write(target / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        _fsync_dir(target)
        return target
    staging.rename(target)
    _fsync_dir(target.parent)
    return target


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


def _prune(out: Path, keep: int) -> None:
    """Remove published versions beyond the newest ``keep`` (never the current one), and stale links."""
    current = (out / "current").resolve()
    versions = []
    for folder in (out / "published").iterdir():
        try:
            stamp = json.loads((folder / "manifest.json").read_text())["published_at"]
        except (OSError, ValueError, KeyError, TypeError):
            stamp = ""
        versions.append((stamp, folder))
    for _, folder in sorted(versions, reverse=True)[max(keep, 1):]:
        if folder.resolve() != current:
            shutil.rmtree(folder, ignore_errors=True)
    for link in out.glob("catalog.*"):
        if link.is_symlink() and not link.exists():  # the format changed: the old name points nowhere
            link.unlink()
