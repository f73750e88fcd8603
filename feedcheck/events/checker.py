"""Check purchase events: deduplicate, judge value, currency and contents, reconcile with a catalog.

:func:`check_events` reads logs with :mod:`feedcheck.events.read`, deduplicates
events the way the platforms do (same event name and ``event_id`` within
48 hours; the first one wins), checks every remaining event and, given a
:class:`~feedcheck.events.catalog.Catalog`, matches its content ids.  Everything
it finds is a :class:`~feedcheck.findings.Finding` in the same log as feed
findings, with the event id (or ``file:line``) as ``item_id`` and
``file:line`` as ``source``.

Memory stays bounded on large logs: events are streamed one at a time and the
deduplication keys are capped (``EventOptions.max_dedup_keys``, oldest
dropped first).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feedcheck.errors import exit_code_of
from feedcheck.events.blocks import Columns
from feedcheck.events.catalog import Catalog
from feedcheck.events.read import _YEAR_3000, Event, RecordBlock, expand_paths, read_events, read_records
from feedcheck.events.reconcile import Line, Reconciler
from feedcheck.findings import CODES, FindingLog, Severity, make_finding
from feedcheck.reports.write import REPORT_VERSION
from feedcheck.rules.currencies import ISO_4217, TIKTOK_EVENT_CURRENCIES
from feedcheck.rules.series import WHITESPACE
from feedcheck.settings import EventOptions

LEGACY_NAMES = {
    "CompletePayment": "Purchase",
    "SubmitForm": "Lead",
    "ClickForm": "Lead",
    "AddBilling": "AddPaymentInfo",
    "Browse": "PageView",
    "Checkout": "PlaceAnOrder",
    "ClickInDownloadPage": "ClickButton",
    "ClickToDownload": "Download",
    "Consult": "Contact",
    "ConsultByPhone": "Contact",
    "Registration": "CompleteRegistration",
    "StartCheckout": "InitiateCheckout",
    "ViewConsultationPage": "ViewContent",
    "ViewDownloadPage": "ViewContent",
    "ViewForm": "ViewContent",
}
STANDARD_NAMES = frozenset({
    "ViewContent", "AddToCart", "Purchase", "InitiateCheckout", "AddPaymentInfo", "AddToWishlist", "PlaceAnOrder",
    "Search", "CompleteRegistration", "Subscribe", "Contact", "Download", "Lead", "ClickButton", "StartTrial",
    "SubmitApplication", "ApplicationApproval", "PageView",
})
_BY_FOLDED = {name.casefold(): name for name in STANDARD_NAMES | set(LEGACY_NAMES)}
CONTENT_TYPES = ("product", "product_group")
_PLACEHOLDER_IDS = {"", "undefined", "null", "none", "nan", "[object object]", "(not set)", "false", "0"}
_TEMPLATE_ID = re.compile(r"^(\{\{.*\}\}|\$\{.*\}|%%.*%%|<.*>)$")
_CURRENCY_HINTS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "RMB": "CNY", "₹": "INR"}
_SECONDS_PER_HOUR = 3600.0
_MAX_NAMES = 1000  # distinct event names counted; a log of random names must not grow memory


@dataclass
class EventsReport:
    """What :func:`check_events` learnt: counts, the match report and the mismatch rows."""

    log: FindingLog
    summary: dict[str, Any]
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unusable(self) -> bool:
        """True when not a single event could be read from the logs."""
        return self.summary.get("total", 0) == 0

    @property
    def status(self) -> str:
        """``fatal`` (no event could be read), ``errors`` or ``ok``."""
        if self.log.fatal is not None or self.unusable:
            return "fatal"
        return "errors" if self.log.by_severity()["error"] else "ok"

    @property
    def exit_code(self) -> int:
        """0 no errors, 1 error findings, 3 no event could be read."""
        return exit_code_of(self.status)

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` structure of an events-only check (no catalog feed)."""
        fatal = self.log.fatal or next((f for f in self.log if f.code == "events.no_events"), None)
        return {
            "report_version": REPORT_VERSION,
            "status": self.status,
            "fatal": fatal.as_dict() if fatal else None,
            "findings": self.log.summary(),
            "events": self.summary,
        }


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


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _number(raw: Any) -> tuple[float | None, str]:
    """``(amount, problem)``: the amount when one can be read, and what is wrong with it, if anything.

    >>> _number(12.5), _number("12.50"), _number(-1)
    ((12.5, ''), (12.5, 'is a string; send a number'), (-1.0, 'is negative'))
    >>> _number("abc"), _number(None)
    ((None, 'is not a number'), (None, 'missing'))
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "missing"
    if isinstance(raw, bool) or isinstance(raw, (dict, list)):
        return None, f"is a JSON {type(raw).__name__}, not a number"
    if isinstance(raw, str):
        try:
            amount = float(raw.strip())
        except ValueError:
            return None, "is not a number"
        return (amount, "is a string; send a number") if math.isfinite(amount) else (None, "is not a number")
    try:
        amount = float(raw)
    except OverflowError:
        return None, "is not a finite number"
    if not math.isfinite(amount):
        return None, "is not a finite number"
    return (amount, "is negative") if amount < 0 else (amount, "")


class EventChecker:
    """Checks events one at a time, keeping what deduplication and the counts need."""

    def __init__(self, log: FindingLog, options: EventOptions, reconciler: Reconciler | None = None) -> None:
        self.log = log
        self.options = options
        self.reconciler = reconciler
        self.window = options.dedup_window_hours * _SECONDS_PER_HOUR
        self.hours = f"{options.dedup_window_hours:g} h"
        self.counts: Counter[str] = Counter()
        self.shapes: Counter[str] = Counter()
        self.names: Counter[str] = Counter()
        self.legacy: Counter[str] = Counter()
        self.miscased: Counter[str] = Counter()
        self.double_counted: defaultdict[str, float] = defaultdict(float)  # duplicates the platform drops
        self.counted_twice: defaultdict[str, float] = defaultdict(float)  # copies the platform cannot tell apart
        self._seen: dict[tuple[str, str], tuple[float | None, str, str, int]] = {}  # time, origins, file, line
        self._orders: dict[str, tuple[str, float | None]] = {}

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
        elif name not in STANDARD_NAMES and name.casefold() in _BY_FOLDED:
            self.miscased[name] += 1
        if name in self.names or len(self.names) < _MAX_NAMES:
            self.names[name] += 1
        purchase = name in self.options.purchase_events or event.name in self.options.purchase_events
        catalog_event = purchase or name in self.options.catalog_events or event.name in self.options.catalog_events
        event_id = self._event_id(event, name)
        item = event_id or event.where
        value, value_problem = _number(event.value)
        if event_id and self._duplicate(event, name, event_id, value if purchase else None, _text(event.currency)):
            return
        self.counts["unique"] += 1
        if event.time is None and event.time_raw is not None:
            self._add("events.time_invalid", event, item, field="event_time", value=str(event.time_raw))
        currency = self._currency(event, item, name, purchase, catalog_event, value)
        self._value(event, item, name, purchase, catalog_event, value, value_problem)
        if purchase and event.order_id not in (None, "") and event_id:
            self._order(event, name, str(event.order_id), event_id, value, currency)
        lines = self._contents(event, item, name, purchase, catalog_event, value)
        if self.reconciler is not None and catalog_event:
            revenue = value if value_problem != "is negative" else None
            matched = self.reconciler.add(name, lines, event.time, currency, revenue, purchase)
            self._currency_match(event, item, name, currency, matched)

    def check_block(self, block: RecordBlock) -> None:
        """Judge a block of records in file order, to the same effect as :meth:`check` on each of its events.

        An event read as columns whose values need no finding (a standard
        name, a usable id, time, value, currency and contents) takes a short
        path that only updates the state :meth:`check` would; the state can
        still call for a finding (a duplicate, an order sent twice, a currency
        the catalog does not use), and then the same methods report it.
        Every other record is read and checked event by event.
        """
        cols = block.columns
        if not len(block):
            return
        clean = clean_events(cols, self.options) if len(cols) else np.zeros(0, dtype=bool)
        record_clean = cols.columnar.copy()
        np.logical_and.at(record_clean, cols.record, clean)
        records = np.arange(len(block))
        starts = np.searchsorted(cols.record, records).tolist()
        ends = np.searchsorted(cols.record, records, side="right").tolist()
        fast = _FastEvents(cols, block, self.reconciler.catalog if self.reconciler is not None else None,
                           self.options)
        edges = np.flatnonzero(np.diff(record_clean.astype(np.int8))) + 1
        for first, stop in zip([0, *edges.tolist()], [*edges.tolist(), len(block)]):
            if record_clean[first]:
                self._check_run(fast, starts[first], ends[stop - 1])
                block.settle_many(stop - first)
                continue
            for index in range(first, stop):
                events, problem = block.record(index)
                for event in events:
                    self.check(event)
                block.settle(bool(events), problem)

    def _check_run(self, fast: _FastEvents, first: int, stop: int) -> None:
        """Clean events ``first`` to ``stop`` in order: together, except those the state may hold a finding for."""
        start = first
        for hit in [*self._hits(fast, first, stop), stop]:
            if start < hit:
                self._apply(fast, start, hit)
            if hit < stop:
                self._check_clean(fast, hit)
            start = hit + 1

    def _hits(self, fast: _FastEvents, first: int, stop: int) -> list[int]:
        """The events of a run that must be judged one by one: a key or an order seen before (in this run too),
        a line whose catalog currency differs, an id sent both as an item and as a group."""
        hits: set[int] = set()
        for store, keys in ((self._seen, fast.key[first:stop]), (self._orders, fast.order_key[first:stop])):
            earlier: set[Any] = set()
            for offset, key in enumerate(keys):
                if key is None:
                    continue
                if key in store or key in earlier:
                    hits.add(first + offset)
                earlier.add(key)
        hits.update(first + offset for offset, odd in enumerate(fast.currency_suspect[first:stop]) if odd)
        lines = slice(fast.offsets[first], fast.offsets[stop])
        sent_as: tuple[set[str], set[str]] = (set(), set())  # as an item, as a group
        for content_id, as_group in zip(fast.content_id[lines], fast.as_group[lines]):
            sent_as[as_group].add(content_id)
        both = sent_as[False] & sent_as[True]
        if both:
            hits.update(i for i in range(first, stop) if both.intersection(fast.ids_of(i)))
        return sorted(hits)

    def _apply(self, fast: _FastEvents, first: int, stop: int) -> None:
        """The effect of :meth:`_check_clean` on each of events ``first`` to ``stop``, known to find nothing."""
        count = stop - first
        self.counts["total"] += count
        self.counts["unique"] += count
        pixels = fast.pixels[stop] - fast.pixels[first]
        for shape, n in (("eapi2", count - pixels), ("pixel", pixels)):
            if n:
                self.shapes[shape] += n
        names = fast.name[first:stop]
        if len(self.names) + len(STANDARD_NAMES) <= _MAX_NAMES:
            self.names.update(names)
        else:
            for name in names:
                if name in self.names or len(self.names) < _MAX_NAMES:
                    self.names[name] += 1
        file = fast.block.file
        self._remember_all(self._seen, zip(fast.key[first:stop], zip(
            fast.time[first:stop], fast.origin[first:stop], itertools.repeat(file), fast.lines_of(first, stop))))
        self._remember_all(self._orders, ((order, (event_id, when)) for order, event_id, when in zip(
            fast.order_key[first:stop], fast.event_id[first:stop], fast.time[first:stop]) if order is not None))
        self.counts["content_lines"] += fast.offsets[stop] - fast.offsets[first]
        if self.reconciler is not None:
            self.reconciler.add_clean(fast, [i for i in range(first, stop) if fast.catalog_event[i]])

    def _remember_all(self, store: dict[Any, Any], entries: Iterable[tuple[Any, Any]]) -> None:
        """:meth:`_remember` for new keys in order, pruning exactly where it would."""
        pending = list(entries)
        while pending:
            room = self.options.max_dedup_keys + 1 - len(store)
            store.update(pending[:room])
            pending = pending[room:]
            if len(store) > self.options.max_dedup_keys:
                keep = dict(itertools.islice(store.items(), len(store) // 2, None))
                store.clear()
                store.update(keep)

    def _check_clean(self, fast: _FastEvents, i: int) -> None:
        """:meth:`check` for an event known to need no finding of its own."""
        name, event_id, when = fast.name[i], fast.event_id[i], fast.time[i]
        value, currency = fast.value[i], fast.currency[i]
        self.counts["total"] += 1
        self.shapes[fast.shape[i]] += 1
        if name in self.names or len(self.names) < _MAX_NAMES:
            self.names[name] += 1
        purchase, catalog_event = fast.purchase[i], fast.catalog_event[i]
        key = (name, event_id)
        if key in self._seen:
            if self._duplicate(fast.event(i), name, event_id, value if purchase else None, currency):
                return
        else:
            self._remember(self._seen, key, (when, fast.origin[i], fast.block.file, fast.line_of(i)))
        self.counts["unique"] += 1
        order = fast.order_key[i]
        if order is not None:
            if order in self._orders:
                self._order(fast.event(i), name, order, event_id, value, currency)
            else:
                self._remember(self._orders, order, (event_id, when))
        lines = fast.lines(i)
        self.counts["content_lines"] += len(lines)
        if self.reconciler is not None and catalog_event:
            matched = self.reconciler.add(name, lines, when, currency, value, purchase)
            if currency and any(self.reconciler.catalog.currency_for(c) not in (None, currency) for c in matched):
                self._currency_match(fast.event(i), event_id, name, currency, matched)

    def _add(self, code: str, record: Event, item: str, severity: Severity | None = None, /, **params: Any) -> None:
        """One event finding; past the log's cap it is only counted (10 M events must not render 10 M messages)."""
        self.log.add_each(code, severity or CODES[code].severity, (record,), lambda r: make_finding(
            code, severity=severity, item_id=item, row=r.line, source=r.where, **params))

    def _event_id(self, event: Event, name: str) -> str | None:
        raw = event.event_id
        text = "" if raw is None else str(raw).strip()
        if raw is None or text == "":
            self.counts["missing_event_id"] += 1
            self._add("events.missing_event_id", event, event.where, field="event_id", event=name)
            return None
        if text.casefold() in _PLACEHOLDER_IDS or _TEMPLATE_ID.match(text):
            self.counts["missing_event_id"] += 1
            self._add("events.event_id_placeholder", event, event.where, field="event_id", value=text)
            return None
        return text

    def _duplicate(self, event: Event, name: str, event_id: str, value: float | None, currency: str) -> bool:
        """True when the platform would drop this event as a copy; ``value`` is what that copy would double.

        A copy from the other side (pixel vs server) is the intended set-up and
        only information; a second copy from the same side is a warning.
        """
        key = (name, event_id)
        earlier = self._seen.get(key)
        if earlier is None:
            self._remember(self._seen, key, (event.time, event.origin, event.file, event.line))
            return False
        when, origins, file, line = earlier
        where = f"{file}:{line}"
        gap = None if when is None or event.time is None else abs(event.time - when)
        if gap is not None and gap > self.window:
            self.counts["duplicates_outside_window"] += 1
            if value:
                self.counted_twice[currency or "unknown"] += value
            self._seen[key] = (event.time, event.origin, event.file, event.line)
            self._add("events.duplicate_outside_window", event, event_id, field="event_id", event=name,
                      hours=gap / _SECONDS_PER_HOUR, hint=where, window=self.hours,
                      doubled={currency: value} if value else {})
            return False
        self.counts["duplicates"] += 1
        if value:
            self.double_counted[currency or "unknown"] += value
        pair = bool(origins) and event.origin in ("browser", "server") and event.origin not in origins
        if event.origin and event.origin not in origins:
            self._seen[key] = (when, origins + " " + event.origin, file, line)
        hint = f"at {where}" + (" (pixel and server copies of one action, as intended)" if pair else "")
        self._add("events.duplicate", event, event_id, Severity.INFO if pair else None, field="event_id",
                  event=name, hint=hint, window=self.hours,
                  doubled={currency: value} if value else {})
        return True

    def _remember(self, store: dict[Any, Any], key: Any, entry: Any) -> None:
        store[key] = entry
        if len(store) > self.options.max_dedup_keys:
            keep = dict(itertools.islice(store.items(), len(store) // 2, None))
            store.clear()
            store.update(keep)

    def _order(self, event: Event, name: str, order: str, event_id: str, value: float | None, currency: str) -> None:
        earlier = self._orders.get(order)
        if earlier is None:
            self._remember(self._orders, order, (event_id, event.time))
            return
        other, when = earlier
        within = when is None or event.time is None or abs(event.time - when) <= self.window
        if other != event_id and within:
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
                  value: float | None) -> list[Line]:
        if event.contents is None:
            if catalog_event:
                self.counts["missing_contents"] += 1
                self._add("events.missing_contents", event, item, None if purchase else Severity.WARNING,
                          field="contents", event=name)
            return []
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
        return [
            Line(cid, group, total if total is not None else share) for cid, group, total in zip(ids, groups, totals)
        ]

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
            amount, problem = _number(quantity)
            if isinstance(quantity, str) or problem or amount is None or not amount.is_integer() or amount < 1:
                self._add("events.quantity_invalid", event, item, field=f"contents[{i}].quantity", value=repr(quantity))
                count = None
            else:
                count = amount
        if price is None:
            return None
        amount, problem = _number(price)
        if problem and problem != "missing":
            self._add("events.price_invalid", event, item, field=f"contents[{i}].price",
                      value=repr(price) if isinstance(price, str) else str(price))
        if amount is None or count is None:
            return None
        return amount * count

    def _currency_match(self, event: Event, item: str, name: str, currency: str, matched: list[str]) -> None:
        if not currency or self.reconciler is None:
            return
        for content_id in matched:
            expected = self.reconciler.catalog.currency_for(content_id)
            if expected and expected != currency:
                self.counts["currency_mismatch"] += 1
                self._add("events.currency_mismatch", event, item, field=content_id, event=name,
                          value=currency, hint=expected)
                return

    def finish(self) -> None:
        """Findings that summarise the whole log: legacy names, and a log with no events."""
        for legacy, count in self.legacy.most_common():
            self.log.add(make_finding("events.legacy_name", item_id=legacy, field="event", value=legacy,
                                      hint=LEGACY_NAMES[legacy], count=count))
        for name, count in self.miscased.most_common():
            self.log.add(make_finding("events.name_case", item_id=name, field="event", value=name,
                                      hint=_BY_FOLDED[name.casefold()], count=count))
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


_MAX_EXACT = float(2 ** 53)  # larger numbers may be read differently by Arrow and by Python
_ID_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # what str.strip() removes from ASCII text
_ACCEPTED_CURRENCIES = sorted(ISO_4217 & TIKTOK_EVENT_CURRENCIES)


def clean_events(cols: Columns, options: EventOptions) -> np.ndarray:
    """Which events of ``cols`` :meth:`EventChecker.check` would judge without a finding of their own.

    Each test mirrors a check in the event-by-event path; anything it cannot
    be sure of (non-ASCII ids, numbers past 2**53, times written as text that
    need Python's parser) counts as not clean, and is then checked the slow way.
    """
    name = cols.name
    purchase = _in(name, options.purchase_events)
    catalog = purchase | _in(name, options.catalog_events)
    ok = _in(name, STANDARD_NAMES) & _event_id_ok(cols.event_id) & _time_ok(cols.time_raw)
    value = cols.value
    has_value = pc.is_valid(value).to_numpy(zero_copy_only=False)
    ok &= np.where(has_value, _amount_ok(value), ~(purchase | catalog))
    has_currency = pc.is_valid(cols.currency).to_numpy(zero_copy_only=False)
    ok &= np.where(has_currency, _in(cols.currency, _ACCEPTED_CURRENCIES), ~(purchase | (catalog & has_value)))
    lengths = pc.fill_null(pc.list_value_length(cols.contents), 0).to_numpy()
    no_ids = (pc.fill_null(pc.list_value_length(cols.content_ids), 0).to_numpy() == 0) & ~pc.is_valid(
        cols.content_id).to_numpy(zero_copy_only=False)
    ok &= np.where(lengths > 0, _contents_ok(cols, lengths, has_value, options.value_tolerance), no_ids & ~catalog)
    return ok


def _in(values: pa.Array, allowed: Iterable[str]) -> np.ndarray:
    return pc.fill_null(pc.is_in(values, value_set=pa.array(sorted(allowed), pa.string())), False).to_numpy(
        zero_copy_only=False)


def _event_id_ok(ids: pa.Array) -> np.ndarray:
    text = pc.fill_null(ids, "")
    lowered = pc.utf8_lower(text)
    ok = (pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
          & pc.equal(pc.utf8_trim(text, characters=_ID_SPACE), text).to_numpy(zero_copy_only=False)
          & (pc.utf8_length(text).to_numpy() > 0)
          & ~_in(lowered, _PLACEHOLDER_IDS)
          & ~pc.match_substring_regex(text, _TEMPLATE_ID.pattern).to_numpy(zero_copy_only=False))
    return ok


def _time_ok(raw: pa.Array) -> np.ndarray:
    if pa.types.is_floating(raw.type):
        seconds = pc.fill_null(raw, math.nan).to_numpy(zero_copy_only=False)
        seconds = np.where(seconds > 1e11, seconds / 1000, seconds)
        with np.errstate(invalid="ignore"):
            return np.isfinite(seconds) & (seconds > 0) & (seconds < _YEAR_3000)
    return np.zeros(len(raw), dtype=bool)


def _amount_ok(values: pa.Array) -> np.ndarray:
    numbers = pc.fill_null(values, math.nan).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return np.isfinite(numbers) & (numbers >= 0) & (numbers < _MAX_EXACT)


def _contents_ok(cols: Columns, lengths: np.ndarray, has_value: np.ndarray, tolerance: float) -> np.ndarray:
    """Per event: every content line has a usable id, type, quantity and price, and the lines add up to the value."""
    lines = pc.list_flatten(cols.contents)
    parent = pc.list_parent_indices(cols.contents).to_numpy()
    ids = pc.struct_field(lines, "content_id")
    line_type = pc.coalesce(pc.struct_field(lines, "content_type"), cols.content_type.take(pa.array(parent)))
    quantity = pc.struct_field(lines, "quantity")
    price = pc.struct_field(lines, "price")
    count = pc.fill_null(quantity, 1.0).to_numpy(zero_copy_only=False)
    amount = pc.fill_null(price, math.nan).to_numpy(zero_copy_only=False)
    has_price = pc.is_valid(price).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        line_ok = (pc.is_valid(lines).to_numpy(zero_copy_only=False)
                   & pc.fill_null(pc.match_substring_regex(ids, f"[^{WHITESPACE}]"), False).to_numpy(
                       zero_copy_only=False)
                   & np.where(pc.is_valid(line_type).to_numpy(zero_copy_only=False), _in(line_type, CONTENT_TYPES),
                              True)
                   & np.isfinite(count) & (count >= 1) & (count == np.floor(count)) & (count < _MAX_EXACT)
                   & np.where(has_price, _amount_ok(price), True))
    events = len(lengths)
    ok = np.ones(events, dtype=bool)
    np.logical_and.at(ok, parent, line_ok)
    all_priced = np.ones(events, dtype=bool)
    np.logical_and.at(all_priced, parent, has_price)
    total = np.zeros(events)
    np.add.at(total, parent, np.where(has_price, amount * count, 0.0))
    value = pc.fill_null(cols.value, 0.0).to_numpy(zero_copy_only=False)
    allowed = np.maximum(0.01, tolerance * np.maximum(np.abs(total), np.abs(value)))
    checked = has_value & all_priced
    gap = np.abs(value - total)
    # Near the limit, the order of the additions could tip it: leave such events to the exact path.
    ok &= ~checked | (gap < allowed * (1 - 1e-9))
    return ok


class _FastEvents:
    """A block's columns as Python values, for the events :meth:`EventChecker.check_block` takes the short path."""

    def __init__(self, cols: Columns, block: RecordBlock, catalog: Catalog | None, options: EventOptions) -> None:
        self.block = block
        self.cols = cols
        self.name: list[str] = cols.name.to_pylist()
        self.event_id: list[str] = cols.event_id.to_pylist()
        self.key = list(zip(self.name, self.event_id))
        self.purchase = [name in options.purchase_events for name in self.name]
        self.catalog_event = [p or name in options.catalog_events for p, name in zip(self.purchase, self.name)]
        self.time: list[float | None] = _seconds(cols.time_raw).tolist() if len(cols) else []
        self.value: list[float | None] = cols.value.to_pylist()
        self.currency: list[str] = pc.fill_null(cols.currency, "").to_pylist()
        orders = cols.order_id if pa.types.is_string(cols.order_id.type) else pc.cast(cols.order_id, pa.string())
        self.order_key: list[str | None] = [
            order if purchase and order not in (None, "") else None
            for order, purchase in zip(orders.to_pylist(), self.purchase)]
        self.shape = cols.shape
        self.pixels = [0, *itertools.accumulate(shape == "pixel" for shape in cols.shape)]
        self.origin = ["browser" if s == "pixel" else "server" for s in cols.shape]
        self.record = cols.record.tolist()
        lines = pc.list_flatten(cols.contents)
        parent = pc.list_parent_indices(cols.contents).to_numpy()
        offsets = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=len(cols)))]).astype(np.int64)
        self.offsets = offsets.tolist()
        kind = pc.coalesce(pc.struct_field(lines, "content_type"), cols.content_type.take(pa.array(parent, pa.int64())))
        count = pc.fill_null(pc.struct_field(lines, "quantity"), 1.0).to_numpy(zero_copy_only=False)
        price = pc.struct_field(lines, "price")
        value = pc.fill_null(cols.value, 0.0).to_numpy(zero_copy_only=False)
        share = value[parent] / np.maximum(1, np.diff(offsets))[parent]
        total = pc.fill_null(price, math.nan).to_numpy(zero_copy_only=False) * count
        self.revenue = np.where(pc.is_valid(price).to_numpy(zero_copy_only=False), total, share).tolist()
        self.content_id: list[str] = pc.struct_field(lines, "content_id").to_pylist()
        self.as_group: list[bool] = pc.fill_null(pc.equal(kind, "product_group"), False).to_pylist()
        self.currency_suspect = self._currency_suspects(catalog, parent)
        self.line_offsets = offsets
        self.line_group = np.array(self.as_group, dtype=bool)
        self.line_flags = catalog.flags(self.content_id) if catalog is not None else np.zeros(len(parent), np.int64)
        positions: dict[str, int] = {}
        self.name_code = np.array([positions.setdefault(n, len(positions)) for n in self.name], dtype=np.int64)
        self.names: list[str] = list(positions)

    def _currency_suspects(self, catalog: Catalog | None, parent: np.ndarray) -> list[bool]:
        """Events with a line whose item the catalog prices in another currency (a finding, if it matches)."""
        if catalog is None:
            return [False] * len(self.name)
        event_currency = [self.currency[p] for p in parent.tolist()]
        odd = np.array([bool(currency) and catalog.currency_for(content_id) not in (None, currency)
                        for content_id, currency in zip(self.content_id, event_currency)], dtype=bool)
        suspects = np.zeros(len(self.name), dtype=bool)
        np.logical_or.at(suspects, parent, odd)
        return (suspects & np.array(self.catalog_event, dtype=bool)).tolist()

    def ids_of(self, i: int) -> list[str]:
        return self.content_id[self.offsets[i]:self.offsets[i + 1]]

    def line_of(self, i: int) -> int:
        return self.block.numbers[self.record[i]]

    def lines_of(self, first: int, stop: int) -> list[int]:
        numbers = self.block.numbers
        return [numbers[r] for r in self.record[first:stop]]

    def lines(self, i: int) -> list[Line]:
        return [Line(self.content_id[j], self.as_group[j], self.revenue[j])
                for j in range(self.offsets[i], self.offsets[i + 1])]

    def event(self, i: int) -> Event:
        """Event ``i`` as the event-by-event path sees it, for the methods that report a finding."""
        return Event(file=self.block.file, line=self.block.numbers[self.record[i]], shape=self.shape[i],
                     origin=self.origin[i], name=self.name[i], event_id=self.event_id[i], time=self.time[i],
                     time_raw=self.cols.time_raw[i].as_py(), value=self.value[i], currency=self.currency[i] or None,
                     order_id=self.order_key[i])


def _seconds(raw: pa.Array) -> np.ndarray:
    """Unix seconds of numeric times, as :func:`feedcheck.events.read.parse_time` reads them (text: not read here)."""
    if not pa.types.is_floating(raw.type):
        return np.full(len(raw), math.nan)
    seconds = pc.fill_null(raw, math.nan).to_numpy(zero_copy_only=False).astype(float)
    return np.where(seconds > 1e11, seconds / 1000, seconds)


ROW_COLUMNS = ("event", "event_id", "event_time", "content_id", "content_type", "quantity", "price",
               "value", "currency", "file", "line", "event_index")


def event_rows(
    paths: Iterable[str | os.PathLike[str]],
    *,
    options: EventOptions = EventOptions(),
    log: FindingLog | None = None,
    chunk_rows: int = 100_000,
) -> Iterator[pd.DataFrame]:
    """The events in ``paths`` as frames of one row per content line, for analysis in a notebook.

    An event without contents gives one row with an empty ``content_id``.
    ``value`` and ``currency`` appear on the event's first row only, so
    ``frame["value"].sum()`` is the events' total, not a multiple of it.
    Values are as logged (``content_id`` 123 becomes "123"); nothing is
    deduplicated or checked here: :func:`check_events` does that.
    """
    log = log if log is not None else FindingLog()
    rows: list[tuple[Any, ...]] = []
    for index, event in enumerate(read_events(expand_paths(paths), log, options)):
        amount, _ = _number(event.value)
        moment = pd.Timestamp(event.time, unit="s", tz="UTC") if event.time is not None else pd.NaT
        head = (event.name, None if event.event_id is None else str(event.event_id), moment)
        tail = (event.file, event.line, index)
        for n, content in enumerate(event.contents or [None]):  # type: ignore[list-item]
            first = n == 0
            rows.append(head + (
                None if content is None or content.content_id is None else str(content.content_id),
                None if content is None else (content.content_type or event.content_type),
                None if content is None else _number(content.quantity)[0],
                None if content is None else _number(content.price)[0],
                amount if first else None,
                (str(event.currency) if event.currency is not None else None) if first else None,
            ) + tail)
        if len(rows) >= chunk_rows:
            yield _frame(rows)
            rows = []
    if rows:
        yield _frame(rows)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=ROW_COLUMNS)
    for name in ("quantity", "price", "value"):
        frame[name] = pd.to_numeric(frame[name])
    return frame
