"""Check purchase events: deduplicate, judge value, currency and contents, reconcile with a catalog.

:func:`check_events` reads logs with :mod:`feedcheck.events.read`, deduplicates
events the way the platforms do (same event name and ``event_id`` within
48 hours; the first one is counted), checks every event, copies too (what
each carries wrong, and which copy: :mod:`feedcheck.events.copies`), and, given a
:class:`~feedcheck.events.catalog.Catalog`, matches its content ids.  Everything
it finds is a :class:`~feedcheck.findings.Finding` in the same log as feed
findings, with the event id (or ``file:line``) as ``item_id`` and
``file:line`` as ``source``.

Memory stays bounded on large logs: events are streamed one at a time and the
deduplication keys are capped (``EventOptions.max_dedup_keys``, oldest
dropped first).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

from feedcheck.events.catalog import Catalog
from feedcheck.events.columnar import BlockChecking, EventRun
from feedcheck.events.copies import Copies
from feedcheck.events.dedup import Dedup, First, Key
from feedcheck.events.names import (
    BY_FOLDED,
    CONTENT_TYPES,
    LEGACY_NAMES,
    MAX_NAMES,
    PLACEHOLDER_IDS,
    STANDARD_NAMES,
    TEMPLATE_ID,
)
from feedcheck.events.read import RecordBlock, expand_paths, read_records
from feedcheck.events.reconcile import Matching, Reconciler
from feedcheck.events.shapes import Event, read_amount
from feedcheck.findings import CODES, FindingLog, Severity, make_finding
from feedcheck.outcome import EventsReport
from feedcheck.rules.currencies import ISO_4217, TIKTOK_EVENT_CURRENCIES
from feedcheck.settings import EventOptions

_CURRENCY_HINTS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "RMB": "CNY", "₹": "INR"}
_SECONDS_PER_HOUR = 3600.0
_MATCH_EVENTS = 1 << 16  # catalog events matched together, when not read a block at a time
Lines = tuple[list[str | None], list[bool], list[float]]  # an event's content ids, as groups?, and revenue


def check_events(
    paths: Iterable[str | os.PathLike[str]],
    catalog: Catalog | None = None,
    *,
    options: EventOptions = EventOptions(),
    log: FindingLog | None = None,
    progress: Callable[[str, int], None] | None = None,
    executor: Executor | None = None,
) -> EventsReport:
    """Read, deduplicate and check the events in ``paths``; reconcile them with ``catalog`` if given.

    ``paths`` are files, folders or globs.  Findings go to ``log`` (a new one
    if ``None``), so a feed check and its events can share one report.
    ``progress`` is called with ``("events", n)`` as records are read.  With
    an ``executor`` (see :func:`feedcheck.cluster.dask_executor`), JSON-lines
    blocks are parsed there, side by side; the report is the same.

    Raises:
        ConfigError: a path matches no file, or an option is invalid.
    """
    log = log if log is not None else FindingLog()
    files = expand_paths(paths)
    reconciler = Reconciler(catalog, log, options) if catalog is not None else None
    checker = EventChecker(log, options, reconciler)
    with _fewer_collections():
        for item in read_records(files, log, options, executor):
            before = checker.counts["total"] if progress is not None else 0
            if isinstance(item, RecordBlock):
                checker.check_block(item)
            else:
                checker.check(item)
            if progress is not None:
                progress("events", checker.counts["total"] - before)
        checker.finish()
    summary = {"files": [str(f) for f in files]} | checker.summary()
    mismatches: list[dict[str, Any]] = []
    if reconciler is not None:
        reconciler.finish()
        summary |= reconciler.summary()
        mismatches = reconciler.mismatch_rows()
    return EventsReport(log=log, summary=summary, mismatches=mismatches)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, run less often while logs are checked.

    Checking keeps millions of small tuples that hold no cycles (deduplication
    keys, blocks' values); at the default thresholds the collector walks them
    again and again, about 5% of a run.
    """
    before = gc.get_threshold()
    gc.set_threshold(*(max(old, new) for old, new in zip(before, (50_000, 20, 100))))
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


class EventChecker(BlockChecking):
    """Checks events one at a time, keeping what deduplication and the counts need."""

    def __init__(self, log: FindingLog, options: EventOptions, reconciler: Reconciler | None = None) -> None:
        self.log = log
        self.options = options
        self.reconciler = reconciler
        self.dedup = Dedup(options)
        self.counts: Counter[str] = Counter()
        self.shapes: Counter[str] = Counter()
        self.names: Counter[str] = Counter()
        self.legacy: Counter[str] = Counter()
        self.miscased: Counter[str] = Counter()
        self.double_counted: defaultdict[str, float] = defaultdict(float)  # duplicates the platform drops
        self.counted_twice: defaultdict[str, float] = defaultdict(float)  # copies the platform cannot tell apart
        self.copies = Copies(log, options.max_dedup_keys)
        self.matching = Matching()  # catalog events waiting to be matched, and where each run of them was read
        self._sources: list[tuple[int, tuple[Event, str] | EventRun]] = []
        self._mismatched: list[tuple[Event, str, str, str, str, str]] = []  # stored examples of currency_mismatch

    def check(self, event: Event) -> None:
        """Judge one event; findings go to the log, matches to the reconciler."""
        self.counts["total"] += 1
        self.shapes[event.shape] += 1
        if not isinstance(event.name, str) or not event.name.strip():
            self._add("events.missing_event_name", event, event.where, field="event")
            return
        name = LEGACY_NAMES.get(event.name, event.name)
        if name != event.name:
            self.legacy[event.name] += 1
        elif name not in STANDARD_NAMES and name.casefold() in BY_FOLDED:
            self.miscased[name] += 1
        if name in self.names or len(self.names) < MAX_NAMES:
            self.names[name] += 1
        purchase = name in self.options.purchase_events or event.name in self.options.purchase_events
        catalog_event = purchase or name in self.options.catalog_events or event.name in self.options.catalog_events
        event_id = self._event_id(event, name)
        item = event_id or event.where
        value, value_problem = read_amount(event.value)
        key = (name, event_id) if event_id else None
        kept = self._duplicate(key, event, value if purchase else None, _text(event.currency)) if key else None
        copy = kept is not None
        if kept is not None:
            self._later_copy(key, event, kept)
        else:
            self.counts["unique"] += 1
            self.copies.first(event.where, event.origin)
        currency, lines = self._payload(event, item, name, purchase, catalog_event, value, value_problem, not copy)
        self.copies.done(None if copy else key)
        if copy:
            return
        if purchase and event.order_id not in (None, "") and event_id:
            self._order(event, name, str(event.order_id), event_id, value, currency)
        if self.reconciler is not None and catalog_event:
            self._sources.append((len(self.matching), (event, item)))
            self.matching.add(name, purchase, value if value_problem != "is negative" else None, currency,
                              event.time, *lines)
            self.match_when_full()

    def _payload(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                 value: float | None, value_problem: str, counted: bool) -> tuple[str, Lines]:
        """Check what one copy of an event carries: its time, currency, value and contents."""
        if event.time is None and event.time_raw is not None:
            self._add("events.time_invalid", event, item, field="event_time", value=str(event.time_raw))
        currency = self._currency(event, item, name, purchase, catalog_event, value)
        self._value(event, item, name, purchase, catalog_event, value, value_problem)
        return currency, self._contents(event, item, name, purchase, catalog_event, value, counted)

    def _later_copy(self, key: Key, event: Event, kept: First) -> None:
        """A copy the platform drops is checked next, against the ``kept`` one (see :mod:`.copies`)."""
        _, origins, file, line = kept
        self.copies.later(key, event.where, event.origin, f"{file}:{line}", origins.split()[0] if origins else "")

    def _add(self, code: str, record: Event, item: str, severity: Severity | None = None, /, **params: Any) -> None:
        """One event finding; past the log's cap it is only counted (10 M events must not render 10 M messages).
        What it says of an event's copies is :class:`~feedcheck.events.copies.Copies`' to add."""
        self.copies.add(code, severity or CODES[code].severity, params.get("field", ""), str(params.get("value", "")),
                        lambda: make_finding(code, severity=severity, item_id=item, row=record.line,
                                             source=record.where, **params))

    def _event_id(self, event: Event, name: str) -> str | None:
        raw = event.event_id
        text = "" if raw is None else str(raw).strip()
        if raw is None or text == "":
            self.counts["missing_event_id"] += 1
            self._add("events.missing_event_id", event, event.where, field="event_id", event=name)
            return None
        if text.casefold() in PLACEHOLDER_IDS or TEMPLATE_ID.match(text):
            self.counts["missing_event_id"] += 1
            self._add("events.event_id_placeholder", event, event.where, field="event_id", value=text)
            return None
        return text

    def _duplicate(self, key: Key, event: Event, value: float | None, currency: str) -> First | None:
        """The copy the platform keeps when it drops this one (``value`` is what this one would double).

        A copy from the other side (pixel vs server) is the intended set-up and
        only information; a second copy from the same side is a warning.
        """
        judged = self.dedup.judge(key, event.time, event.origin, event.file, event.line)
        if judged.earlier is None:
            return None
        name, event_id = key
        doubled = {currency: value} if value else {}
        where = f"{judged.earlier[2]}:{judged.earlier[3]}"
        if not judged.copy:
            self.counts["duplicates_outside_window"] += 1
            if value:
                self.counted_twice[currency or "unknown"] += value
            self._add("events.duplicate_outside_window", event, event_id, field="event_id", event=name,
                      hours=(judged.gap or 0.0) / _SECONDS_PER_HOUR, hint=where, window=self.dedup.hours,
                      doubled=doubled)
            return None
        self.counts["duplicates"] += 1
        if value:
            self.double_counted[currency or "unknown"] += value
        hint = f"at {where}" + (" (pixel and server copies of one action, as intended)" if judged.pair else "")
        self._add("events.duplicate", event, event_id, Severity.INFO if judged.pair else None, field="event_id",
                  event=name, hint=hint, window=self.dedup.hours, doubled=doubled)
        return judged.earlier

    def _order(self, event: Event, name: str, order: str, event_id: str, value: float | None, currency: str) -> None:
        other = self.dedup.order(order, event_id, event.time)
        if other is not None:
            self.counts["orders_counted_twice"] += 1
            if value:
                self.counted_twice[currency or "unknown"] += value
            self._add("events.order_counted_twice", event, event_id, field="order_id", value=order,
                      event=name, hint=other, doubled={currency: value} if value else {})

    def _value(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
               value: float | None, problem: str) -> None:
        if problem == "missing":
            if purchase or catalog_event:
                self.counts["missing_value"] += 1
                blank = "" if event.value is None else " (it is blank)"
                self._add("events.missing_value", event, item, None if purchase else Severity.WARNING,
                          field="value", event=name, hint=blank)
            return
        if problem:
            self.counts["invalid_value"] += 1
            self._add("events.value_invalid", event, item, field="value", event=name,
                      value=repr(event.value) if isinstance(event.value, str) else str(event.value), hint=problem)

    def _currency(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                  value: float | None) -> str:
        """The event's currency code as sent (upper-cased when it is an ISO code), after checking it."""
        raw = event.currency
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if purchase or (catalog_event and value is not None):
                self.counts["missing_currency"] += 1
                self._add("events.missing_currency", event, item, None if purchase else Severity.WARNING,
                          field="currency", event=name,
                          hint=", so the platform ignores its value" if value is not None else "")
            return ""
        text = str(raw).strip()
        if text not in ISO_4217:
            self.counts["invalid_currency"] += 1
            guess = text.upper() if text.upper() in ISO_4217 else _CURRENCY_HINTS.get(text.upper())
            self._add("events.currency_invalid", event, item, field="currency", value=text,
                      hint=f"; send '{guess}'" if guess else "")
            return guess or text
        if text not in TIKTOK_EVENT_CURRENCIES:
            self.counts["invalid_currency"] += 1
            self._add("events.currency_not_accepted", event, item, field="currency", value=text)
        return text

    def _contents(self, event: Event, item: str, name: str, purchase: bool, catalog_event: bool,
                  value: float | None, counted: bool) -> Lines:
        if event.contents is None:
            if catalog_event:
                self.counts["missing_contents"] += 1
                self._add("events.missing_contents", event, item, None if purchase else Severity.WARNING,
                          field="contents", event=name)
            return [], [], []
        if counted:  # lines the platform counts, of the copy it keeps
            self.counts["content_lines"] += len(event.contents)
        ids: list[str | None] = []
        groups: list[bool] = []
        totals: list[float | None] = []
        for i, content in enumerate(event.contents):
            ids.append(self._content_id(event, item, i, content.content_id))
            content_type = content.content_type if content.content_type is not None else event.content_type
            if content_type is not None and content_type not in CONTENT_TYPES:
                self._add("events.content_type_invalid", event, item, field=f"contents[{i}].content_type",
                          value=str(content_type))
            groups.append(content_type == "product_group")
            totals.append(self._line_total(event, item, i, content.quantity, content.price))
        if value is not None and totals and all(t is not None for t in totals):
            total = sum(t for t in totals if t is not None)
            if abs(value - total) > max(0.01, self.options.value_tolerance * max(abs(total), abs(value))):
                self._add("events.value_mismatch", event, item, field="value", event=name,
                          value=f"{value:.2f}", total=total)
        share = (value or 0.0) / max(1, len(event.contents))
        return ids, groups, [total if total is not None else share for total in totals]

    def _content_id(self, event: Event, item: str, i: int, raw: Any) -> str | None:
        where = f"contents[{i}].content_id"
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.counts["missing_content_id"] += 1
            self._add("events.missing_content_id", event, item, field=where)
            return None
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            text = str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
            self.counts["content_id_not_string"] += 1
            self._add("events.content_id_not_string", event, item, field=where, value=text, hint="number")
            return text
        self.counts["content_id_not_string"] += 1
        self._add("events.content_id_not_string", event, item, field=where, value=str(raw)[:60],
                  hint=f"JSON {type(raw).__name__}")
        return None

    def _line_total(self, event: Event, item: str, i: int, quantity: Any, price: Any) -> float | None:
        count: float | None = 1.0
        if quantity is not None:
            amount, problem = read_amount(quantity)
            if isinstance(quantity, str) or problem or amount is None or not amount.is_integer() or amount < 1:
                self._add("events.quantity_invalid", event, item, field=f"contents[{i}].quantity", value=repr(quantity))
                count = None
            else:
                count = amount
        if price is None:
            return None
        amount, problem = read_amount(price)
        if problem and problem != "missing":
            self._add("events.price_invalid", event, item, field=f"contents[{i}].price",
                      value=repr(price) if isinstance(price, str) else str(price))
        if amount is None or count is None:
            return None
        return amount * count

    def match_when_full(self) -> None:
        if len(self.matching) >= _MATCH_EVENTS:
            self.match()

    def match(self) -> None:
        """Match the catalog events waiting in :attr:`matching`; note those whose matched item the catalog
        prices in another currency."""
        if self.reconciler is None or not len(self.matching):
            return
        waiting, sources = self.matching, self._sources
        self.matching, self._sources = Matching(), []
        events, lines, expected = self.reconciler.match(waiting)
        self.counts["currency_mismatch"] += len(events)
        room = self.log.max_per_code - len(self._mismatched)
        starts = [start for start, _ in sources]
        for i, j, catalog_currency in itertools.islice(zip(events, lines, expected), room):
            start, source = sources[bisect.bisect_right(starts, i) - 1]
            event, item = source if isinstance(source, tuple) else source.event_and_item(i - start)
            self._mismatched.append((event, item, waiting.name[i], waiting.content_id[j], waiting.currency[i],
                                     catalog_currency))

    def finish(self) -> None:
        """Findings that summarise the whole log: currencies the catalog does not price in, legacy names, and a
        log with no events."""
        self.match()
        for event, item, name, content_id, currency, expected in self._mismatched:
            self._add("events.currency_mismatch", event, item, field=content_id, event=name, value=currency,
                      hint=expected)
        unstored = self.counts["currency_mismatch"] - len(self._mismatched)
        if unstored:
            self.log.count_only("events.currency_mismatch", CODES["events.currency_mismatch"].severity, unstored)
        for legacy, count in self.legacy.most_common():
            self.log.add(make_finding("events.legacy_name", item_id=legacy, field="event", value=legacy,
                                      hint=LEGACY_NAMES[legacy], count=count))
        for name, count in self.miscased.most_common():
            self.log.add(make_finding("events.name_case", item_id=name, field="event", value=name,
                                      hint=BY_FOLDED[name.casefold()], count=count))
        if self.counts["total"] == 0:
            self.log.add(make_finding("events.no_events", detail=(
                "No event could be read from the logs; see the other findings for why, "
                "and check that the paths point at the event logs.")))

    def summary(self) -> dict[str, Any]:
        """The event-check part of ``report.json``'s ``events`` section."""
        c = self.counts
        return {
            "total": c["total"],
            "unique": c["unique"],
            "duplicates": c["duplicates"],
            "duplicates_outside_window": c["duplicates_outside_window"],
            "orders_counted_twice": c["orders_counted_twice"],
            "double_counted_value": {cur: round(v, 2) for cur, v in sorted(self.double_counted.items())},
            "counted_twice_value": {cur: round(v, 2) for cur, v in sorted(self.counted_twice.items())},
            "content_lines": c["content_lines"],
            "missing_event_id": c["missing_event_id"],
            "missing_contents": c["missing_contents"],
            "missing_content_id": c["missing_content_id"],
            "content_id_not_string": c["content_id_not_string"],
            "missing_value": c["missing_value"],
            "invalid_value": c["invalid_value"],
            "missing_currency": c["missing_currency"],
            "invalid_currency": c["invalid_currency"],
            "currency_mismatch": c["currency_mismatch"],
            "names_read": dict(sorted(self.names.items())),
            "legacy_names": dict(self.legacy.most_common()),
            "shapes": dict(sorted(self.shapes.items())),
            "match_rate": None,
        }
