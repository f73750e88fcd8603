"""Publish a cleaned catalog without ever leaving a half-written or worse catalog behind.

The quality gate runs first and may refuse; the last good version then stays
in place.  The catalog and its manifest are written and fsynced in a staging
folder, then placed at the destination by the destination's own atomic steps
(:mod:`feedcheck.publish.destinations`: a local folder, S3 or SFTP).  The last
``keep`` versions are kept there.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish import version
from feedcheck.publish.clean import CatalogSpool
from feedcheck.publish.destinations import Destination, DestinationError, open_destination
from feedcheck.publish.destinations.manifests import encode
from feedcheck.publish.formats import FORMATS
from feedcheck.readers.fields import ID
from feedcheck.settings import PublishOptions

OUTPUT_NAMES = {"tiktok": {ID: "sku_id"}}  # canonical name -> the channel's own column name


@dataclass
class PublishResult:
    """What publishing did: ``published``, ``unchanged`` or ``refused``, and the manifest now current."""

    outcome: str
    manifest: dict[str, Any] | None
    reason: str = ""
    destination: str = ""  # where, without credentials: a folder or a URL

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "current": self.manifest,
                "destination": self.destination}


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


def publish_catalog(candidate: Candidate, spool: CatalogSpool, out: str | os.PathLike[str], options: PublishOptions,
                    log: FindingLog, *, work: Path | None = None) -> PublishResult:
    """Run the gate and, if it passes, publish the spooled catalog to ``out`` atomically: a local folder, or a
    destination URL (see :mod:`feedcheck.publish.destinations`) with ``work`` the local folder of the run.

    One publish at a time per destination from this machine (a lock file);
    leftovers of a run that was killed are removed, and a half-made switch is
    completed, before anything else.  A destination that cannot be reached or
    refuses a write publishes nothing, and the version it served stays.
    """
    destination = open_destination(out, work)
    try:
        with destination.locked():
            refusal = destination.prepare(log)
            if refusal:
                return PublishResult("refused", None, refusal, destination.shown)
            result = _publish(candidate, spool, destination, options, log)
            _settle(destination, result, options, log)
            return replace(result, destination=destination.shown)
    except DestinationError as exc:
        if exc.live is not None:  # the catalog went live; only its stable manifest is behind
            log.add(make_finding("publish.incomplete", value=destination.shown,
                                 detail=f"the catalog is live, but its manifest was not replaced ({exc})"))
            return PublishResult("published", exc.live, destination=destination.shown)
        log.add(make_finding("publish.failed", value=destination.shown, detail=str(exc)))
        return PublishResult("refused", None, str(exc), destination.shown)
    finally:
        destination.close()


def _settle(destination: Destination, result: PublishResult, options: PublishOptions, log: FindingLog) -> None:
    """Tidy the destination after the outcome; what is current is already settled, so a failure here is only
    a warning."""
    try:
        destination.settle(result.manifest, options.keep, log)
    except DestinationError as exc:
        log.add(make_finding("publish.incomplete", value=destination.shown,
                             detail=f"old versions were not pruned ({exc})"))


def _publish(candidate: Candidate, spool: CatalogSpool, destination: Destination, options: PublishOptions,
             log: FindingLog) -> PublishResult:
    current = destination.current_manifest(log)
    previous = current if current is not None else destination.newest_published()
    if previous is None and destination.has_versions() and not options.accept_drop:
        log.add(make_finding("gate.no_baseline"))
        return PublishResult("refused", None, reason=_refusal(log))
    if not gate(candidate, spool.items, previous, options, log):
        return PublishResult("refused", previous, reason=_refusal(log))
    if (current is not None and candidate.check is not None and current.get("check") == candidate.check
            and current.get("format") == options.format):
        log.add(make_finding("publish.unchanged", detail="The source and the check's settings are those of the "
                                                         "published catalog's run; the published catalog stands."))
        return PublishResult("unchanged", current, reason="same check as the last run")
    with destination.staging() as staging:
        name = f"catalog.{FORMATS[options.format].extension}"
        digest, size = _write_catalog(spool, staging / name, options.format, candidate.channel, log)
        same = previous is not None and previous.get("sha256") == digest and previous.get("file") == name
        if same and current is not None:  # without the link, the same catalog is published again
            log.add(make_finding("publish.unchanged", detail="The cleaned catalog is byte-identical to the "
                                                             "published one; nothing was published."))
            return PublishResult("unchanged", previous, reason="same catalog")
        manifest = _manifest(candidate, options, name, digest, size, spool.items, previous, log)
        _write_file(staging / "manifest.json", encode(manifest))
        destination.place(staging, name, manifest, log)
    log.add(make_finding("publish.published", value=name, items=spool.items, hint=digest[:12]))
    return PublishResult("published", manifest)


def _manifest(candidate: Candidate, options: PublishOptions, name: str, digest: str, size: int, items: int,
              previous: dict[str, Any] | None, log: FindingLog) -> dict[str, Any]:
    return {
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
        "items": items,
        "accepted_drop": any(f.code == "gate.override" for f in log),
        "previous_sha256": previous.get("sha256") if previous else None,
        "check": candidate.check,
    }


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
