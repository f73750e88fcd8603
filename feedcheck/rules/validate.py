"""Run a channel's pandera schema over a feed, chunk by chunk, and turn failures into findings.

pandera validates each chunk lazily (every rule, every row); its
``failure_cases`` table is mapped back to the rule that failed, so each
failure becomes a finding with the registered code, the item's id and row,
and a message.  What cannot be judged within one chunk is tracked here across
chunks: duplicate ids, and which required fields never appeared.  Only the
first ``max_per_code`` findings of a code are rendered and stored; counts and
per-item verdicts are exact.
"""

from __future__ import annotations

import copy
import functools
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from feedcheck.clock import Window
from feedcheck.findings import Finding, FindingLog, HeldFindings, Severity, make_finding, truncate
from feedcheck.readers.fields import ID, KNOWN_FIELDS
from feedcheck.rules.channels import Channel, get_channel
from feedcheck.rules.checks import RULES, Rule, Turns
from feedcheck.rules.prices import PRICE_RE, parse_price, rewrite_price
from feedcheck.settings import ChannelOptions

_CURRENCY_SAMPLE = 1_000
PRICE_FIELDS = ("price", "sale_price")


@dataclass(frozen=True)
class ChunkVerdict:
    """Per item of a chunk: does it have error findings, warning findings; and the items as validated.

    ``items`` are the chunk's values trimmed, with absent schema fields added
    empty: what the channel judged, and what a cleaned catalog starts from.
    ``columns`` are the fields the chunk came with, which a cleaned catalog keeps.
    """

    index: pd.Index
    errors: np.ndarray
    warnings: np.ndarray
    items: pd.DataFrame
    columns: list[str]


@dataclass(frozen=True)
class _Kept:
    """What a stored finding shows of one item: its row, id and the failing field's value."""

    row: int
    item_id: str
    value: str


class _KeptRows:
    """The rows of a failure, and the first ``limit`` of them as :class:`_Kept`: all a stored finding shows.

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
        self.kept = [_Kept(int(r), str(i), str(v)) for r, i, v in zip(kept, ids, values)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, part: slice) -> list[_Kept]:
        return self.kept[part]


@dataclass(frozen=True)
class _Failure:
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

    def schema(self) -> pa.DataFrameSchema:
        return _schema_of(self)


@functools.lru_cache(maxsize=8)
def _schema_of(key: SchemaKey) -> pa.DataFrameSchema:
    return get_channel(key.channel).schema(currency=key.currency, now=key.now, limits=dict(key.limits))


@dataclass(frozen=True)
class _Parts:
    """A channel's schema in the two parts :func:`assess` runs: the fields with their rules, and the rules
    across fields with the columns they read.

    pandera reports a failed rule across fields with every column of each
    failing item, reshaped column by column.  Where most items fail one (a
    feed with no GTINs, a repeated row), that cost seconds and hundreds of MB
    per chunk of Arrow strings, which pandas transposes into one array per
    item.  So those rules see only the columns they read, as Python objects
    (one block, transposed at once); each rule reads its columns back as
    Arrow strings for its own work.
    """

    fields: pa.DataFrameSchema
    across: pa.DataFrameSchema
    reads: tuple[str, ...]
    clocked: tuple[tuple[str, Turns], ...]  # the fields whose rules compare with ``now``, and their turns


@functools.lru_cache(maxsize=8)
def _parts_of(key: SchemaKey) -> _Parts:
    schema = _schema_of(key)
    fields = copy.copy(schema)
    fields.checks = []
    across = pa.DataFrameSchema(checks=schema.checks, name=schema.name)
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
    trims: list[tuple[str, str, _KeptRows]]
    rewrites: list[tuple[str, int, str, str, str]]
    failures: list[_Failure]
    turns: list[datetime]  # the turns of the clock rules' verdicts nearest to ``now``, before and after it


def assess(key: SchemaKey, chunk: pd.DataFrame, keep: int) -> Assessment:
    """Trim, rewrite prices and run the rules over ``chunk``; keep what at most ``keep`` findings per code show."""
    schema = key.schema()
    columns = list(chunk.columns)
    chunk, trims = _trim(chunk, keep)
    chunk, rewrites = _rewrite_prices(chunk)
    missing = [name for name in schema.columns if name not in chunk.columns]
    if missing:
        chunk = chunk.assign(**{name: pd.Series("", index=chunk.index, dtype="str") for name in missing})
    parts = _parts_of(key)
    read = chunk[[name for name in parts.reads if name in chunk.columns]].astype(object)
    failures = _run(parts.fields, chunk) + _run(parts.across, read)
    return Assessment(columns, chunk, trims, rewrites, failures, _nearest_turns(parts, chunk, key.now))


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


def _run(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[_Failure]:
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as exc:
        return _failures(schema, exc.failure_cases)
    return []


def _trim(chunk: pd.DataFrame, keep: int) -> tuple[pd.DataFrame, list[tuple[str, str, _KeptRows]]]:
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
        trims.append((name, code, _KeptRows(chunk, chunk.index[changed], name, keep)))
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


def _failures(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> list[_Failure]:
    out = []
    # A rule across fields fails once per item but pandera lists every column; group it once.
    cases = cases.assign(column=cases["column"].where(cases["schema_context"] != "DataFrameSchema", ""))
    for (context, column, number), group in cases.groupby(
        ["schema_context", "column", "check_number"], dropna=False, sort=False
    ):
        frame_rule = context == "DataFrameSchema"
        check = schema.checks[int(number)] if frame_rule else schema.columns[column].checks[int(number)]
        if check.name not in RULES or group["index"].isna().any():
            raise RuntimeError(
                f"Rule {check.name!r} on {column!r} failed to run: {group['failure_case'].iloc[0]}"
            )
        params = dict(check.statistics)
        field = params.pop("field", column)
        rows = pd.unique(group["index"].to_numpy())
        rule = RULES[check.name]
        out.append(_Failure(rule.code, field, rows, params, check.name))
    return out


class FeedValidator:
    """Validates the chunks of one feed against one channel, keeping feed-wide state."""

    def __init__(self, channel: Channel, log: FindingLog, options: ChannelOptions, now: str) -> None:
        self.channel = channel
        self.log = log
        self.options = options
        self.now = now
        self.window = Window(now)
        self.currency: str | None = options.currency
        self.currency_assumed = False
        self.items_total = 0
        self.items_with_errors = 0
        self.items_with_warnings = 0
        self._key: SchemaKey | None = None
        self._first_row: dict[str, int] = {}
        self._seen_columns: set[str] = set()

    @property
    def schema(self) -> pa.DataFrameSchema | None:
        """The schema in use, once the first chunk has fixed the catalog currency."""
        return None if self._key is None else self._key.schema()

    def validate(self, chunk: pd.DataFrame) -> ChunkVerdict:
        """Check one chunk; findings go to the log, the verdict says which items failed."""
        return self._fold(assess(self._key_for(chunk), chunk, self.log.max_per_code))

    def validate_chunks(self, chunks: Iterable[pd.DataFrame], executor: Executor | None = None, ahead: int = 2,
                        held: HeldFindings | None = None) -> Iterator[ChunkVerdict]:
        """The verdicts of ``chunks`` in order; with an ``executor``, up to ``ahead`` chunks are assessed at once.

        The executor (a process pool, or :func:`feedcheck.cluster.dask_executor`)
        only runs :func:`assess`; the findings, duplicates and counts are
        folded here in the feed's order, so the result is the same as
        :meth:`validate` chunk by chunk.  ``ahead`` bounds the chunks in
        flight, and so the memory.  ``held`` is the reader's log when it runs
        ahead: its findings are released where one process would have made
        them.  When the reader fails midway, the chunks read before are
        still folded and yielded, then its error is raised.
        """
        if executor is None:
            yield from map(self.validate, chunks)
            return
        pending: deque[tuple[Future[Assessment], int | None]] = deque()

        def fold_next() -> ChunkVerdict:
            future, mark = pending.popleft()
            assessed = future.result()
            if held is not None:
                held.release(mark)
            return self._fold(assessed)

        source = iter(chunks)
        try:
            while True:
                try:
                    chunk = next(source)
                except StopIteration:
                    break
                except Exception:
                    while pending:
                        yield fold_next()
                    raise
                mark = None if held is None else held.mark()
                if self._key is None and held is not None:
                    held.release(mark)  # the first chunk: its reader findings come before the currency's
                future = executor.submit(assess, self._key_for(chunk), chunk, self.log.max_per_code)
                pending.append((future, mark))
                while len(pending) > ahead:
                    yield fold_next()
            while pending:
                yield fold_next()
        finally:
            for future, _ in pending:
                future.cancel()

    def finish(self) -> None:
        """Feed-level findings that need the whole feed: absent fields, unknown fields, no items."""
        if self.items_total == 0:
            self.log.add(make_finding("feed.no_items"))
            return
        schema = self.schema
        assert schema is not None
        for name, column in schema.columns.items():
            required = any(check.name == "required" for check in column.checks)
            if required and name not in self._seen_columns:
                self.log.add(make_finding("feed.missing_column", field=name, channel=self.channel.title))
        for name in sorted(self._seen_columns - set(schema.columns) - KNOWN_FIELDS):
            self.log.add(make_finding("feed.unknown_field", field=name, channel=self.channel.title))

    def _key_for(self, chunk: pd.DataFrame) -> SchemaKey:
        """The schema's key, fixed by the first chunk (which may tell the catalog currency)."""
        if self._key is None:
            if self.currency is None and self.channel.catalog_currency and "price" in chunk.columns:
                found = Counter(p[1] for v in chunk["price"].head(_CURRENCY_SAMPLE) if (p := parse_price(v.strip())))
                if found:
                    self.currency = found.most_common(1)[0][0]
                    self.currency_assumed = True
                    self.log.add(make_finding("feed.currency_assumed", value=self.currency))
            self._key = SchemaKey(self.channel.name, self.currency, self.now, tuple(sorted(self.options.limits.items())))
        return self._key

    def _fold(self, assessed: Assessment) -> ChunkVerdict:
        """Record an assessed chunk's findings, find its duplicate ids and count its items."""
        self._seen_columns.update(assessed.columns)
        if assessed.turns:
            self.window = self.window.around(assessed.turns)
        for name, code, rows in assessed.trims:
            severity = self.channel.severity_of(code)
            self.log.add_each(code, severity, rows, lambda kept, code=code, severity=severity, name=name: make_finding(
                code, severity=severity, item_id=kept.item_id.strip(), row=kept.row, field=name, value=kept.value))
        code = "item.price_rewritten"
        severity = self.channel.severity_of(code)
        self.log.add_each(code, severity, assessed.rewrites, lambda r: make_finding(
            code, severity=severity, item_id=r[4], row=r[1], field=r[0], value=r[2], hint=r[3]))
        chunk = assessed.chunk
        failures = assessed.failures + self._duplicates(chunk)
        errors = np.zeros(len(chunk), dtype=bool)
        warnings = np.zeros(len(chunk), dtype=bool)
        for failure in failures:
            severity = self.channel.severity_of(failure.code)
            positions = chunk.index.get_indexer(failure.rows)
            if severity is Severity.ERROR:
                errors[positions] = True
            elif severity is Severity.WARNING:
                warnings[positions] = True
            self._record(failure, severity, chunk)
        self.items_total += len(chunk)
        self.items_with_errors += int(errors.sum())
        self.items_with_warnings += int((warnings & ~errors).sum())
        return ChunkVerdict(chunk.index, errors, warnings, chunk, assessed.columns)

    def _duplicates(self, chunk: pd.DataFrame) -> list[_Failure]:
        ids = chunk[ID].tolist()
        rows = chunk.index.tolist()
        dup_rows, first_rows = [], []
        for item_id, row in zip(ids, rows):
            if not item_id:
                continue
            first = self._first_row.setdefault(item_id, row)
            if first != row:
                dup_rows.append(row)
                first_rows.append(first)
        if not dup_rows:
            return []
        params = {"_first_rows": dict(zip(dup_rows, first_rows))}
        return [_Failure("item.duplicate_id", ID, np.array(dup_rows), params)]

    def _record(self, failure: _Failure, severity: Severity, chunk: pd.DataFrame) -> None:
        frame = failure.rule is not None and failure.rule.frame

        def build(kept: _Kept) -> Finding:
            params = dict(failure.params)
            if frame:
                params["_row"] = chunk.loc[kept.row].to_dict()
            params |= self._hint(failure, kept.value, params, kept.row)
            return make_finding(
                failure.code,
                severity=severity,
                item_id=truncate(kept.item_id),
                row=kept.row,
                field=failure.field,
                value=kept.value,
                channel=self.channel.title,
                **{k: v for k, v in params.items() if not k.startswith("_")},
            )

        self.log.add_each(failure.code, severity, _KeptRows(chunk, failure.rows, failure.field, self.log.room(failure.code)),
                          build)

    @staticmethod
    def _hint(failure: _Failure, value: str, params: dict[str, Any], row: Any) -> dict[str, Any]:
        if failure.code == "item.duplicate_id":
            return {"first_row": params['_first_rows'][row]}
        if failure.rule is not None and failure.rule.hint is not None:
            return failure.rule.hint(value, params)
        return {}
