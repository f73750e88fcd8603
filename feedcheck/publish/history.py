"""The run history of an output folder, in ``DIR/history.sqlite`` (standard library only).

Every run appends its summary; the valid items of the last run are kept so
the next run can say what changed: items added, removed, re-priced or changed
in availability, finding codes that are new or resolved, and the match-rate
trend.  The store is a convenience, never a reason to fail: a missing store
is created, and a damaged one is moved aside (with a finding) and started
afresh.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from feedcheck.findings import FindingLog, make_finding
from feedcheck.publish import STORE
from feedcheck.publish.snapshot import CatalogDiff, add_items, comparable, compare, create_table

RECENT = 30
_ITEMS_CHECK = "CREATE TABLE IF NOT EXISTS items_check (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT)"
_RUNS = """CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    items_total INTEGER NOT NULL,
    items_valid INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    codes TEXT NOT NULL,
    match_rate REAL,
    published_sha256 TEXT
)"""


def record_run(out: Path, report: dict[str, Any], items: Iterable[pd.DataFrame] | None,
               log: FindingLog, wait: float = 30.0, check: str | None = None) -> dict[str, Any]:
    """Append this run to the history; return the ``since_last_run`` and ``history`` sections of its report.

    ``items`` are the run's valid items (``None`` when the feed could not be
    read: the last items stay the reference for the next run).  ``check`` is
    the fingerprint of the check that gave them: when the items recorded last
    came from the same check, they are known to be the same and are not read
    again.  Another run writing the store is waited for up to ``wait`` seconds.
    """
    out.mkdir(parents=True, exist_ok=True)
    try:
        db = _open(out / STORE, log, wait)
    except sqlite3.OperationalError as exc:  # locked or unwritable: this run goes unrecorded, nothing is lost
        return _skipped(out, exc, log)
    try:
        db.execute("BEGIN IMMEDIATE")  # one writer at a time; the item tables change with the run row or not at all
        try:
            previous = db.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
            if items is None:
                item_changes = None
            elif check is not None and _items_check(db) == check and _has_items(db):
                item_changes = _no_item_changes(db)
            else:
                item_changes = _item_changes(db, items)
                db.execute("INSERT INTO items_check (id, fingerprint) VALUES (1, ?) ON CONFLICT(id) DO UPDATE "
                           "SET fingerprint = excluded.fingerprint", (check,))
            row = _row(report)
            db.execute("INSERT INTO runs (started_at, source, channel, status, items_total, items_valid, errors, "
                       "warnings, codes, match_rate, published_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        recent = db.execute("SELECT started_at, status, items_total, items_valid, errors, warnings, match_rate "
                            "FROM runs ORDER BY run_id DESC LIMIT ?", (RECENT,)).fetchall()
    except sqlite3.OperationalError as exc:
        return _skipped(out, exc, log)
    finally:
        db.close()
    return {
        "since_last_run": _since(previous, row, item_changes),
        "history": [dict(r) for r in reversed(recent)],
    }


def _skipped(out: Path, exc: sqlite3.Error, log: FindingLog) -> dict[str, Any]:
    log.add(make_finding("history.unreadable", detail=f"{out / STORE} could not be used ({exc}); this run was not "
                                                      "recorded and the report has no comparison with the last run."))
    return {"since_last_run": None, "history": []}


def _open(path: Path, log: FindingLog, wait: float) -> sqlite3.Connection:
    """The store, created if missing; a damaged one (not a lock) is moved aside and started afresh."""
    db = sqlite3.connect(path, timeout=wait, isolation_level=None)
    try:
        _prepare(db)
        db.execute("SELECT COUNT(*) FROM runs").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        aside = path.with_name(f"{path.name}.damaged-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
        path.rename(aside)
        log.add(make_finding("history.unreadable", detail=f"{path} could not be read ({exc}); it was moved to "
                                                          f"{aside.name} and a new history started."))
        db = sqlite3.connect(path, timeout=wait, isolation_level=None)
        _prepare(db)
        return db


def _prepare(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    db.execute(_RUNS)
    db.execute(_ITEMS_CHECK)


def _item_changes(db: sqlite3.Connection, items: Iterable[pd.DataFrame]) -> dict[str, Any] | None:
    create_table(db, "new_items")
    add_items(db, "new_items", items)
    changes = compare(db, "items", "new_items").as_dict() if _has_items(db) else None
    db.execute("DROP TABLE IF EXISTS items")
    db.execute("ALTER TABLE new_items RENAME TO items")
    return changes


def _has_items(db: sqlite3.Connection) -> bool:
    """Whether an earlier run left its items to compare with (a table from an older version is not comparable:
    that run's report has no item changes, and the next one compares again)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'").fetchone() is not None \
        and comparable(db, "items")


def _items_check(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT fingerprint FROM items_check WHERE id = 1").fetchone()
    return row[0] if row else None


def _no_item_changes(db: sqlite3.Connection) -> dict[str, Any]:
    """The changes from the items kept (comparable ones: :func:`_has_items`) to the same items again."""
    count = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    return CatalogDiff(old_items=count, new_items=count).as_dict()


def _row(report: dict[str, Any]) -> tuple[Any, ...]:
    findings = report["findings"]
    codes = {code: v["count"] for code, v in findings["by_code"].items() if v["severity"] != "info"}
    published = (report.get("publish") or {}).get("current") or {}
    return (
        report["started_at"], report["source"], report["channel"], report["status"], report["items"]["total"],
        report["items"]["valid"], findings["by_severity"]["error"], findings["by_severity"]["warning"],
        json.dumps(codes, sort_keys=True), (report.get("events") or {}).get("match_rate"),
        published.get("sha256"),
    )


def _since(previous: sqlite3.Row | None, row: tuple[Any, ...], items: dict[str, Any] | None) -> dict[str, Any] | None:
    if previous is None:
        return None
    before = json.loads(previous["codes"])
    now = json.loads(row[8])
    return {
        "previous_run": {"started_at": previous["started_at"], "status": previous["status"],
                         "items_total": previous["items_total"], "items_valid": previous["items_valid"]},
        "items": items,
        "codes": {
            "new": sorted(set(now) - set(before)),
            "resolved": sorted(set(before) - set(now)),
            "changed": {c: {"before": before[c], "after": now[c]} for c in sorted(set(now) & set(before))
                        if before[c] != now[c]},
        },
        "match_rate": {"before": previous["match_rate"], "after": row[9]},
    }
