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

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from feedcheck.channels import Channel
from feedcheck.checks import PRICE_RE, RULES, Rule, parse_price, rewrite_price
from feedcheck.config import ChannelOptions
from feedcheck.fields import ID, KNOWN_FIELDS
from feedcheck.findings import Finding, FindingLog, Severity, make_finding, truncate

_CURRENCY_SAMPLE = 1_000
PRICE_FIELDS = ("price", "sale_price")


@dataclass(frozen=True)
class ChunkVerdict:
    """Per item of a chunk: does it have error findings, warning findings; and the items as validated.

    ``items`` are the chunk's values trimmed, with absent schema fields added
    empty: what the channel judged, and what a cleaned catalog starts from.
    """

    index: pd.Index
    errors: np.ndarray
    warnings: np.ndarray
    items: pd.DataFrame


@dataclass(frozen=True)
class _Kept:
    """What a stored finding shows of one item: its row, id and the failing field's value."""

    row: int
    item_id: str
    value: str


class _KeptRows:
    """The rows of a failure as :class:`_Kept`, read from the chunk only for the findings that are stored.

    Reading one cell of an Arrow-backed frame costs far more than reading a
    slice, so the stored rows' values are sliced once.
    """

    def __init__(self, log: FindingLog, code: str, chunk: pd.DataFrame, rows: Any, field: str) -> None:
        self.rows = rows
        kept = rows[: log.room(code)]
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
    rule: Rule | None = None


class FeedValidator:
    """Validates the chunks of one feed against one channel, keeping feed-wide state."""

    def __init__(self, channel: Channel, log: FindingLog, options: ChannelOptions, now: str) -> None:
        self.channel = channel
        self.log = log
        self.options = options
        self.now = now
        self.currency: str | None = options.currency
        self.currency_assumed = False
        self.items_total = 0
        self.items_with_errors = 0
        self.items_with_warnings = 0
        self._schema: pa.DataFrameSchema | None = None
        self._first_row: dict[str, int] = {}
        self._seen_columns: set[str] = set()

    @property
    def schema(self) -> pa.DataFrameSchema | None:
        """The schema in use, once the first chunk has fixed the catalog currency."""
        return self._schema

    def validate(self, chunk: pd.DataFrame) -> ChunkVerdict:
        """Check one chunk; findings go to the log, the verdict says which items failed."""
        schema = self._schema or self._build(chunk)
        self._seen_columns.update(chunk.columns)
        chunk = self._normalise(chunk, schema)
        failures = self._run(schema, chunk) + self._duplicates(chunk)
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
        return ChunkVerdict(chunk.index, errors, warnings, chunk)

    def finish(self) -> None:
        """Feed-level findings that need the whole feed: absent fields, unknown fields, no items."""
        if self.items_total == 0:
            self.log.add(make_finding("feed.no_items"))
            return
        schema = self._schema
        assert schema is not None
        for name, column in schema.columns.items():
            required = any(check.name == "required" for check in column.checks)
            if required and name not in self._seen_columns:
                self.log.add(make_finding("feed.missing_column", field=name, channel=self.channel.title))
        for name in sorted(self._seen_columns - set(schema.columns) - KNOWN_FIELDS):
            self.log.add(make_finding("feed.unknown_field", field=name, channel=self.channel.title))

    def _build(self, chunk: pd.DataFrame) -> pa.DataFrameSchema:
        if self.currency is None and self.channel.catalog_currency and "price" in chunk.columns:
            found = Counter(p[1] for v in chunk["price"].head(_CURRENCY_SAMPLE) if (p := parse_price(v.strip())))
            if found:
                self.currency = found.most_common(1)[0][0]
                self.currency_assumed = True
                self.log.add(make_finding("feed.currency_assumed", value=self.currency))
        self._schema = self.channel.schema(currency=self.currency, now=self.now, limits=self.options.limits)
        return self._schema

    def _normalise(self, chunk: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
        """Trim every value (recording it) and add absent schema fields as empty."""
        trimmed = {}
        for name in chunk.columns:
            values = chunk[name]
            stripped = values.str.strip()
            changed = (stripped != values).to_numpy()
            if changed.any():
                self._record_trims(chunk, name, values, changed)
                trimmed[name] = stripped
        if trimmed:
            chunk = chunk.assign(**trimmed)
        chunk = self._rewrite_prices(chunk)
        missing = [name for name in schema.columns if name not in chunk.columns]
        if missing:
            chunk = chunk.assign(**{name: pd.Series("", index=chunk.index, dtype="str") for name in missing})
        return chunk

    def _rewrite_prices(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Write unambiguous prices as ``12.50 EUR`` before the rules see them, recording each rewrite."""
        code = "item.price_rewritten"
        severity = self.channel.severity_of(code)
        rewrites: list[tuple[str, Any, str, str]] = []  # field, row, as written, as rewritten
        for name in PRICE_FIELDS:
            if name not in chunk.columns:
                continue
            values = chunk[name]
            odd = values.index[((values.str.len() > 0) & ~values.str.fullmatch(PRICE_RE)).to_numpy()]
            fixed = {row: new for row in odd if (new := rewrite_price(str(values[row]))) is not None}
            if fixed:
                rewrites += [(name, row, str(values[row]), new) for row, new in fixed.items()]
                chunk = chunk.assign(**{name: values.where(~values.index.isin(list(fixed)), pd.Series(fixed))})
        ids = chunk[ID] if ID in chunk.columns else pd.Series("", index=chunk.index, dtype="str")
        self.log.add_each(code, severity, rewrites, lambda r: make_finding(
            code, severity=severity, item_id=str(ids[r[1]]), row=int(r[1]), field=r[0], value=r[2], hint=r[3]))
        return chunk

    def _record_trims(self, chunk: pd.DataFrame, name: str, values: pd.Series, changed: np.ndarray) -> None:
        if name != ID:
            # Pretty-printed XML indents values onto their own lines; that is layout, not data.
            changed = changed & ~values.str.contains("\n", regex=False).to_numpy()
            code = "item.whitespace_trimmed"
        else:
            code = "item.id_whitespace"
        severity = self.channel.severity_of(code)
        rows = chunk.index[changed]
        self.log.add_each(code, severity, _KeptRows(self.log, code, chunk, rows, name), lambda kept: make_finding(
            code, severity=severity, item_id=kept.item_id.strip(), row=kept.row, field=name, value=kept.value))

    def _run(self, schema: pa.DataFrameSchema, chunk: pd.DataFrame) -> list[_Failure]:
        try:
            schema.validate(chunk, lazy=True, inplace=True)
        except pandera.errors.SchemaErrors as exc:
            return self._failures(schema, exc.failure_cases)
        return []

    def _failures(self, schema: pa.DataFrameSchema, cases: pd.DataFrame) -> list[_Failure]:
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
            out.append(_Failure(rule.code, field, rows, params, rule))
        return out

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

        self.log.add_each(failure.code, severity, _KeptRows(self.log, failure.code, chunk, failure.rows, failure.field),
                          build)

    @staticmethod
    def _hint(failure: _Failure, value: str, params: dict[str, Any], row: Any) -> dict[str, Any]:
        if failure.code == "item.duplicate_id":
            return {"hint": f"{params['_first_rows'][row]:,}"}
        if failure.rule is not None and failure.rule.hint is not None:
            return failure.rule.hint(value, params)
        return {}
