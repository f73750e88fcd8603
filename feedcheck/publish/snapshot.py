"""What changed between two catalogs: items added, removed, re-priced, or changed in availability.

Each catalog is reduced to one row per id (price, availability, and a digest
of every other value) in an SQLite table, so two catalogs of millions of
items are compared by SQLite on disk rather than in memory.  Used by the run
history (changes since the previous run) and by ``feedcheck diff``.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.findings import FindingLog
from feedcheck.readers import open_feed
from feedcheck.readers.fields import ID
from feedcheck.settings import FetchLimits, ReadLimits
from feedcheck.sources.fetch import Auth, fetch

EXAMPLES = 10
DIGEST = "digest64"  # the digest column's name, changed whenever the digest is computed differently
_HASH_KEY = "feedcheck-items!"  # pandas' hashing key: 16 bytes
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd, so multiplying by it mixes a hash without losing any of it
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def create_table(db: sqlite3.Connection, table: str) -> None:
    """An empty snapshot table named ``table`` (replacing one of that name)."""
    _check_name(table)
    db.execute(f"DROP TABLE IF EXISTS {table}")
    db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, price TEXT, availability TEXT, {DIGEST} INTEGER) "
               "WITHOUT ROWID")


def comparable(db: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` is a snapshot whose digests this version computes the same way.

    A table from before the digest's current form (its column was ``digest``)
    cannot be compared: every item would look changed.
    """
    _check_name(table)
    return any(column[1] == DIGEST for column in db.execute(f"PRAGMA table_info({table})"))


def add_items(db: sqlite3.Connection, table: str, chunks: Iterable[pd.DataFrame]) -> int:
    """Add the items of ``chunks`` (canonical columns) to ``table``; the first item of an id wins."""
    _check_name(table)
    added = 0
    for frame in chunks:
        if ID not in frame.columns or frame.empty:
            continue
        ids = frame[ID].astype("str").str.strip()
        keep = (ids != "").to_numpy()
        columns = [ids] + [frame[c].astype("str").str.strip() if c in frame.columns
                           else pd.Series("", index=frame.index, dtype="str") for c in ("price", "availability")]
        rows = list(zip(*(column[keep].tolist() for column in columns), digests(frame)[keep].tolist()))
        db.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?, ?)", rows)
        added += len(rows)
    return added


def digests(frame: pd.DataFrame) -> np.ndarray:
    """Each item's digest of its other values (not id, price or availability), as signed 64-bit integers.

    Each non-empty value is hashed with its column's name, and the hashes are
    added up, so the order of columns, and an empty column present or absent,
    change nothing.  Hashed a column at a time (a column of few values, once
    per value) rather than as one joined string per item: a third of the time.
    """
    total = np.zeros(len(frame), dtype=np.uint64)
    for name in frame.columns:
        if name in (ID, "price", "availability"):
            continue
        values = frame[name].astype("str")
        hashed = pd.util.hash_pandas_object(values, index=False, hash_key=_HASH_KEY, categorize=True).to_numpy()
        with np.errstate(over="ignore"):  # arithmetic modulo 2**64
            tagged = (hashed ^ _column_tag(name)) * _MIX
        total += np.where((values != "").to_numpy(), tagged, np.uint64(0))
    return total.view(np.int64)


@functools.lru_cache(maxsize=256)
def _column_tag(name: str) -> np.uint64:
    return np.uint64(pd.util.hash_array(np.array([name], dtype=object), hash_key=_HASH_KEY)[0])


@dataclass
class CatalogDiff:
    """Counts of each kind of change, with a few example ids of each."""

    old_items: int = 0
    new_items: int = 0
    added: int = 0
    removed: int = 0
    price_changed: int = 0
    availability_changed: int = 0
    other_changed: int = 0
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any((self.added, self.removed, self.price_changed, self.availability_changed, self.other_changed))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(db: sqlite3.Connection, old: str, new: str) -> CatalogDiff:
    """What changed from snapshot table ``old`` to ``new``."""
    _check_name(old)
    _check_name(new)
    queries = {
        "added": f"SELECT n.id, '', n.price FROM {new} n LEFT JOIN {old} o ON o.id = n.id WHERE o.id IS NULL",
        "removed": f"SELECT o.id, o.price, '' FROM {old} o LEFT JOIN {new} n ON n.id = o.id WHERE n.id IS NULL",
        "price_changed": f"SELECT n.id, o.price, n.price FROM {old} o JOIN {new} n ON n.id = o.id "
                         "WHERE o.price <> n.price",
        "availability_changed": f"SELECT n.id, o.availability, n.availability FROM {old} o JOIN {new} n "
                                "ON n.id = o.id WHERE o.availability <> n.availability",
        "other_changed": f"SELECT n.id, '', '' FROM {old} o JOIN {new} n ON n.id = o.id "
                         f"WHERE o.{DIGEST} <> n.{DIGEST} AND o.price = n.price AND o.availability = n.availability",
    }
    diff = CatalogDiff(
        old_items=db.execute(f"SELECT COUNT(*) FROM {old}").fetchone()[0],
        new_items=db.execute(f"SELECT COUNT(*) FROM {new}").fetchone()[0],
    )
    for kind, query in queries.items():
        setattr(diff, kind, db.execute(f"SELECT COUNT(*) FROM ({query})").fetchone()[0])
        rows = db.execute(f"{query} ORDER BY 1 LIMIT {EXAMPLES}").fetchall()
        if rows:
            diff.examples[kind] = [{"id": i, "before": before, "after": after} for i, before, after in rows]
    return diff


def _check_name(table: str) -> None:
    if not _TABLE_NAME.match(table):
        raise ValueError(f"not a table name: {table!r}")


def diff_feeds(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    fetch_limits: FetchLimits = FetchLimits(),
    read_limits: ReadLimits = ReadLimits(),
    auth: Auth | None = None,
) -> tuple[CatalogDiff, FindingLog]:
    """What changed from feed ``old`` to feed ``new`` (any sources and formats), item by item.

    Items are compared by id; nothing is validated.  Findings from reading
    (encodings, ragged rows…) go to the returned log.

    Raises:
        FeedcheckError: a feed cannot be fetched or read.
    """
    log = FindingLog(max_per_code=read_limits.max_findings_per_code)
    with tempfile.TemporaryDirectory(prefix="feedcheck-diff-") as work:
        db = sqlite3.connect(Path(work) / "diff.sqlite")
        try:
            for table, source in (("old", old), ("new", new)):
                create_table(db, table)
                fetched = fetch(source, limits=fetch_limits, auth=auth)
                try:
                    assert fetched.path is not None
                    with open_feed(fetched.path, log, limits=read_limits, shown=fetched.source,
                                   charset=fetched.charset) as (_, chunks):
                        add_items(db, table, chunks)
                finally:
                    fetched.cleanup()
            return compare(db, "old", "new"), log
        finally:
            db.close()
