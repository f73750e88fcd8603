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

import itertools
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from feedcheck.clock import Window
from feedcheck.findings import Finding, FindingLog, HeldFindings, Severity, make_finding, truncate
from feedcheck.readers.base import FeedInfo
from feedcheck.readers.parts import READ_WHOLE, Part, first_items, read_part
from feedcheck.readers.xml import ItemNotes
from feedcheck.rules.assess import Assessment, Failure, Kept, KeptRows, SchemaKey, assess
from feedcheck.rules.channels import Channel
from feedcheck.rules.feedwide import Currencies, DuplicateIds, SharedGtins, VariantFields
from feedcheck.rules.prices import parse_price
from feedcheck.settings import ChannelOptions, ReadLimits

_CURRENCY_SAMPLE = 1_000  # prices read to guess the catalog currency when none is given
_SUMMARY_EXAMPLES = 5  # the most frequent values a summarised finding names


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
class PartAssessed:
    """A part of a feed read and its chunks assessed on a worker (see :func:`assess_part`)."""

    chunks: list[Assessment]
    findings: HeldFindings | None  # the reader's, made as it read the part
    notes: ItemNotes | None
    refused: str


def assess_part(key: SchemaKey, part: Part, data: bytes, limits: ReadLimits, keep: int) -> PartAssessed:
    """Read a part of a feed from its bytes and assess its chunks: the work one worker does for a cut feed."""
    read = read_part(part, data, limits)
    return PartAssessed([assess(key, chunk, keep) for chunk in read.chunks], read.findings, read.notes, read.refused)


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
        self._currency_untold = False  # the assumed currency is told with the first chunk's findings
        self.items_total = 0
        self.items_with_errors = 0
        self.items_with_warnings = 0
        self._key: SchemaKey | None = None
        self._ids = DuplicateIds()
        self._gtins = SharedGtins()
        self._currencies = Currencies()
        self._variants = VariantFields(channel.variant_fields)
        self._seen_columns: set[str] = set()
        self._summarised: dict[tuple[str, str], tuple[Failure, Counter[str]]] = {}

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
            for chunk in chunks:
                if held is not None:
                    held.release()  # what the reader found in the chunk comes before its findings
                yield self.validate(chunk)
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

    def validate_parts(self, parts: Iterator[tuple[Part, bytes]], rest: Iterator[pd.DataFrame], executor: Executor,
                       limits: ReadLimits, info: FeedInfo, ahead: int = 2, held: HeldFindings | None = None,
                       cluster: bool = True) -> Iterator[ChunkVerdict]:
        """The verdicts of a feed cut into ``parts`` (see :mod:`feedcheck.readers.parts`), each read and assessed
        by the ``executor``, folded here in the feed's order.

        ``rest`` is the whole feed's reader, not yet started.  When a part is refused (it does not read alone),
        or the executor breaks (a worker process killed, out of memory), the chunks before it stand and the
        feed is read on from that part in this process, as :meth:`validate` reads, so the findings are those
        of a read that was never cut.  The parts read are counted in ``info.parts``; on a ``cluster``, a stop
        is told in a finding (this machine's own processes read a feed in parts only to be quicker).
        """
        if held is not None:
            held.release()  # what the reader found in the feed's head comes first
        notes = ItemNotes()
        submitted = self._submitted(parts, executor, limits)
        pending = deque(itertools.islice(submitted, ahead + 1))
        stop: Part | None = None
        try:
            while pending and stop is None:
                stop = yield from self._fold_part(*pending.popleft(), notes, info)
                pending.extend(itertools.islice(submitted, 1))
        finally:
            for _, future in pending:
                if future is not None:
                    future.cancel()
        if stop is None:
            notes.report(self.log)
            return
        if cluster:
            self.log.add(make_finding("feed.read_whole", why=READ_WHOLE["refused"].format(row=stop.row)))
        for _ in range(stop.first_row // limits.chunk_rows):  # a chunk per part folded, read again
            next(rest, None)
        if held is not None:
            held.drop()  # what the reader found again in them was told with their parts
        yield from self.validate_chunks(rest, None, ahead, held)

    def _submitted(self, parts: Iterator[tuple[Part, bytes]], executor: Executor,
                   limits: ReadLimits) -> Iterator[tuple[Part, Future[PartAssessed] | None]]:
        """Each part with its assessment to come; the last one ``None`` when the first part does not read (the
        schema's key is taken from it) or the executor is broken."""
        for part, data in parts:
            if self._key is None and not self._key_from(part, data, limits):
                yield part, None
                return
            try:
                yield part, executor.submit(assess_part, self._key, part, data, limits, self.log.max_per_code)
            except BrokenExecutor:
                yield part, None
                return

    def _key_from(self, part: Part, data: bytes, limits: ReadLimits) -> bool:
        """Fix the schema's key from the feed's first chunk, as :meth:`validate` would, reading only as much of
        it as the key needs; ``False`` when the first part does not read."""
        wanted = min(_CURRENCY_SAMPLE, limits.chunk_rows)
        first = first_items(part, data, limits, wanted)
        if first is not None and len(first) < wanted:  # rows were dropped (template rows): read the whole chunk
            first = first_items(part, data, limits, limits.chunk_rows)
        if first is not None:
            self._key_for(first)
        return first is not None

    def _fold_part(self, part: Part, future: Future[PartAssessed] | None, notes: ItemNotes,
                   info: FeedInfo) -> Generator[ChunkVerdict, None, Part | None]:
        """Fold an assessed part's chunks; return the part if it was not assessed, or was refused."""
        try:
            assessed = future.result() if future is not None else None
        except BrokenExecutor:
            assessed = None
        if assessed is None or assessed.refused:
            return part
        info.parts = (info.parts or 0) + 1
        if assessed.findings is not None:
            assessed.findings.pass_to(self.log)
        for chunk in assessed.chunks:
            info.columns.extend(name for name in chunk.columns if name not in info.columns)
            yield self._fold(chunk)
        notes.add(assessed.notes)
        return None

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
        for name in sorted(self._seen_columns - set(schema.columns)):
            if not self.channel.knows(name):
                self.log.add(make_finding("feed.unknown_field", field=name, channel=self.channel.title))
        for finding in [*self._currencies.finish(self.channel.title), *self._variants.finish(self.channel.title)]:
            self.log.add(finding)
        for (code, name), (failure, seen) in self._summarised.items():
            changes = [(value, self._hint(failure, value, dict(failure.params), None).get("hint", ""), count)
                       for value, count in seen.most_common(_SUMMARY_EXAMPLES)]
            self.log.add(make_finding(code, severity=self._severity(failure), field=name, count=seen.total(),
                                      spellings=changes, channel=self.channel.title))

    def _key_for(self, chunk: pd.DataFrame) -> SchemaKey:
        """The schema's key, fixed by the first chunk (which may tell the catalog currency)."""
        if self._key is None:
            if self.currency is None and self.channel.catalog_currency and "price" in chunk.columns:
                found = Counter(p[1] for v in chunk["price"].head(_CURRENCY_SAMPLE) if (p := parse_price(v.strip())))
                if found:
                    self.currency = found.most_common(1)[0][0]
                    self.currency_assumed = self._currency_untold = True
            self._key = SchemaKey(self.channel.name, self.currency, self.now, tuple(sorted(self.options.limits.items())),
                                  self.options.countries)
        return self._key

    def _fold(self, assessed: Assessment) -> ChunkVerdict:
        """Record an assessed chunk's findings, find its duplicate ids and count its items."""
        if self._currency_untold:
            self._currency_untold = False
            self.log.add(make_finding("feed.currency_assumed", value=self.currency))
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
        failures = assessed.failures + self._ids.failures(chunk, assessed.keys) + self._gtins.failures(assessed.keys)
        if self.currency is None:
            self._currencies.count(chunk)
        self._variants.count(chunk)
        errors = np.zeros(len(chunk), dtype=bool)
        warnings = np.zeros(len(chunk), dtype=bool)
        for failure in failures:
            if failure.rule is not None and failure.rule.summarised:
                self._tally(failure, chunk)
                continue
            severity = self._severity(failure)
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

    def _tally(self, failure: Failure, chunk: pd.DataFrame) -> None:
        """Count a summarised rule's failing values, for the one finding per field that :meth:`finish` adds."""
        _, seen = self._summarised.setdefault((failure.code, failure.field), (failure, Counter()))
        seen.update(chunk.loc[failure.rows, failure.field].value_counts().to_dict())

    def _severity(self, failure: Failure) -> Severity:
        """The code's severity on the channel, unless the check says otherwise: a requirement that holds only in
        some countries is an error where the catalog is advertised in one of them, and a warning elsewhere."""
        chosen = failure.params.get("severity")
        return Severity(chosen) if chosen else self.channel.severity_of(failure.code)

    def _record(self, failure: Failure, severity: Severity, chunk: pd.DataFrame) -> None:
        frame = failure.rule is not None and failure.rule.frame
        # What a rule across fields shows of the item: the columns it reads (not the whole row, which costs a
        # millisecond per finding on a wide feed).
        shown = [c for c in dict.fromkeys((failure.field, *failure.rule.reads)) if c in chunk.columns] if frame else []

        currency = self.currency or self._currencies.most_common  # the feed's own, for examples in messages
        titled = "title" in chunk.columns

        def build(kept: Kept) -> Finding:
            params = dict(failure.params, _currency=currency)
            if frame:
                params["_row"] = {name: chunk.at[kept.row, name] for name in shown}
            params |= self._hint(failure, kept.value, params, kept.row)
            return make_finding(
                failure.code,
                severity=severity,
                item_id=truncate(kept.item_id),
                item_title=chunk.at[kept.row, "title"] if titled else "",
                row=kept.row,
                field=failure.field,
                value=kept.value,
                channel=self.channel.title,
                **{k: v for k, v in params.items() if not k.startswith("_") and k != "severity"},
            )

        self.log.add_each(failure.code, severity, KeptRows(chunk, failure.rows, failure.field, self.log.room(failure.code)),
                          build)

    @staticmethod
    def _hint(failure: Failure, value: str, params: dict[str, Any], row: Any) -> dict[str, Any]:
        if "_per_row" in params:
            return params["_per_row"][row]
        if failure.rule is not None and failure.rule.hint is not None:
            return failure.rule.hint(value, params)
        return {}
