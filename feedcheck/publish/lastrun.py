"""What the last run into a feed's folder left, so that the next run may skip a source that has not changed.

A folder may see runs of several sources: the README checks a good feed and a
broken one into one folder to show the gate at work, and a feed's URL can
move.  So the folder remembers only its last run, in ``.feedcheck-state.json``:
which source, channel and format it was, the source's validators (ETag,
Last-Modified), the catalog it left published, its exit code and the moments
its verdicts hold at.  A conditional request ("not modified since") is made
only when that run was this same source's, published the catalog that is
current now and judged as a check now would; then the reports in the folder
describe this source, and a skipped run can stand on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from feedcheck.clock import Window
from feedcheck.errors import ExitCode
from feedcheck.reports.write import atomic_write
from feedcheck.sources.fetch import Fetched, Validators
from feedcheck.sources.redact import redact_url

STATE_FILE = ".feedcheck-state.json"


def run_key(source: str, channel: str, fmt: str, settings: str) -> str:
    """What a skipped run must share with the last one: the source (masked), the channel, the format and
    ``settings``, a digest of everything else the check's verdicts depend on."""
    return f"{redact_url(source)} {channel} {fmt} {settings}"


def was_last(out: Path, key: str) -> bool:
    """Whether the last run into ``out`` that wrote its reports was ``key``'s, and so took its settings."""
    last = _last_run(out)
    return last is not None and last.get("key") == key


def remember(out: Path, key: str, fetched: Fetched | None, exit_code: int, catalog: str | None,
             window: Window | None) -> None:
    """Record the run that just wrote its reports into ``out``; ``catalog`` is the sha256 of the catalog it
    left published when that catalog is its source's (``None``: a later run must not skip on its account), and
    ``window`` the moments its verdicts hold at."""
    last = {
        "key": key,
        "etag": fetched.validators.etag if fetched else None,
        "last_modified": fetched.validators.last_modified if fetched else None,
        "catalog": catalog,
        "exit_code": exit_code,
        "window": asdict(window) if window else None,
    }
    atomic_write(out / STATE_FILE, (json.dumps({"last_run": last}, indent=2) + "\n").encode())


@dataclass(frozen=True)
class LastRun:
    """A last run that a "not modified" answer may stand on: the validators to send, the exit code it keeps,
    and the sha256 of the catalog it left published."""

    validators: Validators
    exit_code: int
    catalog: str
    window: Window


def skippable(out: Path, key: str, now: str, published: Callable[[], dict[str, Any] | None] | None) -> LastRun | None:
    """The last run into ``out``, when it was ``key``'s, its reports are there, its catalog is still the one
    ``published`` (the manifest its destination serves, asked last; ``None``: already known to be) and its
    verdicts hold at ``now``; else ``None`` (fetch the source whole)."""
    last = _last_run(out)
    if last is None or last.get("key") != key or not last.get("catalog"):
        return None
    if not (last.get("etag") or last.get("last_modified")):
        return None
    try:
        window = Window(**last["window"])
    except (TypeError, KeyError):
        return None
    if not window.holds_at(now):
        return None
    if not all((out / name).is_file() for name in ("report.json", "findings.csv")):
        return None
    if published is not None and (published() or {}).get("sha256") != last["catalog"]:
        return None
    validators = Validators(etag=last.get("etag"), last_modified=last.get("last_modified"))
    return LastRun(validators, int(last.get("exit_code", 0)), last["catalog"], window)


def kept_exit_code(out: Path) -> int | None:
    """The exit code of the last run into ``out`` (one skipped as unchanged keeps its check's); ``None`` when
    no run left a record, or one with no exit code feedcheck gives."""
    last = _last_run(out)
    code = last.get("exit_code") if last else None
    return code if type(code) is int and code in {int(known) for known in ExitCode} else None


def _last_run(out: Path) -> dict[str, Any] | None:
    """The last run's record; a missing, damaged or older file is none (the next run fetches in full)."""
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    last = state.get("last_run") if isinstance(state, dict) else None
    return last if isinstance(last, dict) else None
