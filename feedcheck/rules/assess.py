"""What one chunk of a feed gets from a channel's schema: the failures, as data, and its items trimmed.

:func:`assess` depends on nothing but its arguments, so chunks can be assessed side by side on other
processes (:mod:`feedcheck.cluster`); :class:`~feedcheck.rules.validate.FeedValidator` folds the
assessments, in order, into findings and counts, with what only the whole feed can tell.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.readers.fields import ID
from feedcheck.rules.channels import get_channel
from feedcheck.rules.checks import RULES, Rule, Turns
from feedcheck.rules.keys import ChunkKeys, chunk_keys
from feedcheck.rules.prices import PRICE_RE, rewrite_price

PRICE_FIELDS = ("price", "sale_price")


@dataclass(frozen=True)
class Kept:
    """What a stored finding shows of one item: its row, id and the failing field's value."""

    row: int
    item_id: str
    value: str


class KeptRows:
    """The rows of a failure, and the first ``limit`` of them as :class:`Kept`: all a stored finding shows.

    Reading one cell of an Arrow-backed frame costs far more than reading a
    slice, so the kept rows' values are sliced once.  ``limit`` is at least
    the room left for the code in the log, which slices the rest off.
    """

    def __init__(self, chunk: pd.DataFrame, rows: Any, field: str, limit: int) -> None:
        self.rows = rows
        kept = rows[:limit]
        positions = chunk.index.get_indexer(kept)
        ids = chunk[ID].iloc[positions].tolist() if ID in chunk.columns else [""] * len(kept)
        values = chunk[field].iloc[positions].tolist()
        self.kept = [Kept(int(r), str(i), str(v)) for r, i, v in zip(kept, ids, values)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, part: slice) -> list[Kept]:
        return self.kept[part]


@dataclass(frozen=True)
class Failure:
    code: str
    field: str
    rows: np.ndarray
    params: dict[str, Any]
    check: str | None = None  # the registered check's name (rules hold functions, which do not travel to workers)

    @property
    def rule(self) -> Rule | None:
        return None if self.check is None else RULES[self.check]


@dataclass(frozen=True)
class SchemaKey:
    """What a chunk's rules are built from; small and picklable, so a worker process builds the same schema."""

    channel: str
    currency: str | None
    now: str
    limits: tuple[tuple[str, int], ...]
    countries: tuple[str, ...] = ()

    def schema(self) -> pa.DataFrameSchema:
        return _schema_of(self)


@functools.lru_cache(maxsize=8)
def _schema_of(key: SchemaKey) -> pa.DataFrameSchema:
    return get_channel(key.channel).schema(currency=key.currency, now=key.now, limits=dict(key.limits),
                                           countries=key.countries)


@dataclass(frozen=True)
class _Parts:
    """A channel's schema in the two parts :func:`assess` runs: the fields with their rules, which pandera
    runs, and the rules across fields with the columns they read, which :func:`_run_across` calls directly.
    """

    fields: pa.DataFrameSchema
    across: tuple[Check, ...]
    reads: tuple[str, ...]
    clocked: tuple[tuple[str, Turns], ...]  # the fields whose rules compare with ``now``, and their turns


# The checks that can fail on an empty value; every other check passes it.
_FAIL_ON_EMPTY = frozenset({"required", "recommended"})


@functools.lru_cache(maxsize=8)
def _parts_of(key: SchemaKey, present: frozenset[str]) -> _Parts:
    """The schema's parts for chunks with the columns ``present``: the rules of a field the chunks lack are
    run only where they can fail on an empty value (a required field), since every other rule passes it, and
    a wide channel (Google's 80 checked attributes) would otherwise spend most of its time on empty columns."""
    schema = _schema_of(key)
    fields = copy.copy(schema)
    fields.checks = []
    fields.columns = {name: column for name, column in schema.columns.items()
                      if name in present or any(check.name in _FAIL_ON_EMPTY for check in column.checks)}
    across = tuple(schema.checks)
    reads = tuple(dict.fromkeys(
        name for check in schema.checks
        for name in ([check.statistics[p] for p in ("field", "when") if p in check.statistics]
                     + list(RULES[check.name].reads))))
    clocked = tuple((name, turns) for name, column in schema.columns.items() for check in column.checks
                    if (turns := RULES[check.name].turns) is not None)
    return _Parts(fields, across, reads, clocked)


@dataclass(frozen=True)
class Assessment:
    """One chunk judged by its rules alone, before any feed-wide state (duplicates, the log) is touched.

    This is the costly part of validation, and it depends on nothing but the
    chunk and the :class:`SchemaKey`: a pool of processes or a Dask cluster
    can work out many at once, and folding them into the validator in order
    gives exactly what one process gives.
    """

    columns: list[str]
    chunk: pd.DataFrame
    trims: list[tuple[str, str, KeptRows]]
    rewrites: list[tuple[str, int, str, str, str]]
    failures: list[Failure]
    turns: list[datetime]  # the turns of the clock rules' verdicts nearest to ``now``, before and after it
    keys: ChunkKeys  # what the feed-wide rules compare across chunks


def assess(key: SchemaKey, chunk: pd.DataFrame, keep: int) -> Assessment:
    """Trim, rewrite prices and run the rules over ``chunk``; keep what at most ``keep`` findings per code show."""
    schema = key.schema()
    columns = list(chunk.columns)
    chunk, trims = _trim(chunk, keep)
    chunk, rewrites = _rewrite_prices(chunk)
    missing = [name for name in schema.columns if name not in chunk.columns]
    if missing:
        chunk = chunk.assign(**{name: pd.Series("", index=chunk.index, dtype="str") for name in missing})
    parts = _parts_of(key, frozenset(columns))
    read = chunk[[name for name in parts.reads if name in chunk.columns]]
    failures = _run(parts.fields, chunk) + _run_across(parts.across, read)
    return Assessment(columns, chunk, trims, rewrites, failures, _nearest_turns(parts, chunk, key.now),
                      chunk_keys(chunk))


def _nearest_turns(parts: _Parts, chunk: pd.DataFrame, now: str) -> list[datetime]:
    """Where the chunk's clock rules would judge differently: the last turn at or before ``now`` and the first
    at or after it, which bound the moments that give the same verdicts (see :class:`feedcheck.clock.Window`)."""
    moment = pd.Timestamp(now)
    nearest = []
    for name, turns in parts.clocked:
        values = chunk[name]
        present = values[(values.str.len() > 0).to_numpy()]
        if present.empty:
            continue
        moments = turns(present).dropna()
        before, after = moments[moments <= moment], moments[moments >= moment]
        if not before.empty:
            nearest.append(before.max().to_pydatetime())
        if not after.empty:
            nearest.append(after.min().to_pydatetime())
    return nearest


def _run(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[Failure]:
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as exc:
        return _failures(schema, exc.failure_cases)
    return []


def _run_across(checks: tuple[Check, ...], frame: pd.DataFrame) -> list[Failure]:
    """The rules across fields, called as pandera would call them on the columns they read.  pandera itself is
    not asked: for a rule most items fail (a feed with no GTINs, apparel without a gender) it reshapes every
    column of each failing item and writes every failing value into one error message, which cost seconds and
    hundreds of MB per chunk."""
    out = []
    for check in checks:
        rule = RULES[check.name]
        assert rule.run is not None
        passed = rule.run(frame, **check.statistics).to_numpy(dtype=bool)
        if not passed.all():
            params = dict(check.statistics)
            field = params.pop("field")
            out.append(Failure(rule.code, field, frame.index[~passed].to_numpy(), params, check.name))
    return out


def _trim(chunk: pd.DataFrame, keep: int) -> tuple[pd.DataFrame, list[tuple[str, str, KeptRows]]]:
    """Every value trimmed, and per field the rows that changed (kept as written, for the findings)."""
    trimmed = {}
    trims = []
    for name in chunk.columns:
        values = chunk[name]
        stripped = values.str.strip()
        changed = (stripped != values).to_numpy()
        if not changed.any():
            continue
        trimmed[name] = stripped
        if name != ID:
            # Pretty-printed XML indents values onto their own lines; that is layout, not data.
            changed = changed & ~values.str.contains("\n", regex=False).to_numpy()
            code = "item.whitespace_trimmed"
        else:
            code = "item.id_whitespace"
        trims.append((name, code, KeptRows(chunk, chunk.index[changed], name, keep)))
    return (chunk.assign(**trimmed) if trimmed else chunk), trims


def _rewrite_prices(chunk: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, int, str, str, str]]]:
    """Unambiguous prices written as ``12.50 EUR`` before the rules see them: field, row, as written,
    as rewritten and item id of each."""
    rewrites: list[tuple[str, int, str, str, str]] = []
    ids = chunk[ID] if ID in chunk.columns else pd.Series("", index=chunk.index, dtype="str")
    for name in PRICE_FIELDS:
        if name not in chunk.columns:
            continue
        values = chunk[name]
        odd = values.index[((values.str.len() > 0) & ~values.str.fullmatch(PRICE_RE)).to_numpy()]
        fixed = {row: new for row in odd if (new := rewrite_price(str(values[row]))) is not None}
        if fixed:
            rewrites += [(name, int(row), str(values[row]), new, str(ids[row])) for row, new in fixed.items()]
            chunk = chunk.assign(**{name: values.where(~values.index.isin(list(fixed)), pd.Series(fixed))})
    return chunk, rewrites


def _failures(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> list[Failure]:
    out = []
    for (column, number), group in cases.groupby(["column", "check_number"], dropna=False, sort=False):
        check = schema.columns[column].checks[int(number)]
        if check.name not in RULES or group["index"].isna().any():
            raise RuntimeError(
                f"Rule {check.name!r} on {column!r} failed to run: {group['failure_case'].iloc[0]}"
            )
        params = dict(check.statistics)
        field = params.pop("field", column)
        rows = pd.unique(group["index"].to_numpy())
        rule = RULES[check.name]
        out.append(Failure(rule.code, field, rows, params, check.name))
    return out
