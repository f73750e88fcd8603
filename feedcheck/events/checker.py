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
import itertools
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from feedcheck.collector import fewer_collections
from feedcheck.events.catalog import Catalog
from feedcheck.events.columnar import BlockChecking, EventRun
from feedcheck.events.copies import Copies
from feedcheck.events.dedup import Dedup, First, Key
from feedcheck.events.names import (
    BY_FOLDED,
    LEGACY_NAMES,
    MAX_NAMES,
    STANDARD_NAMES,
)
from feedcheck.events.read import RecordBlock, expand_paths, read_records
from feedcheck.events.reconcile import Matching, Reconciler
from feedcheck.events.rules import EventRules
from feedcheck.events.shapes import Event, read_amount
from feedcheck.findings import CODES, FindingLog, Severity, make_finding
from feedcheck.outcome import EventsReport
from feedcheck.settings import EventOptions

_SECONDS_PER_HOUR = 3600.0
_MATCH_EVENTS = 1 << 16  # catalog events matched together, when not read a block at a time


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
    with fewer_collections():
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


class EventChecker(EventRules, BlockChecking):
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

    def _later_copy(self, key: Key, event: Event, kept: First) -> None:
        """A copy the platform drops is checked next, against the ``kept`` one (see :mod:`.copies`)."""
        _, origins, file, line = kept
        self.copies.later(key, event.where, event.origin, f"{file}:{line}", origins.split()[0] if origins else "")

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

    def match_when_full(self) -> None:
        if len(self.matching) >= _MATCH_EVENTS:
            self.match()

    def match(self) -> None:
        """Match the catalog events waiting in :attr:`matching`; note those whose matched item the catalog
        prices in another currency."""
        if self.reconciler is None or not len(self.matching):
            return
        waiting, sources = self.matching.columns(), self._sources
        self.matching, self._sources = Matching(), []
        events, lines, expected = self.reconciler.match(waiting)
        self.counts["currency_mismatch"] += len(events)
        room = self.log.max_per_code - len(self._mismatched)
        starts = [start for start, _ in sources]
        for i, j, catalog_currency in itertools.islice(zip(events, lines, expected), room):
            start, source = sources[bisect.bisect_right(starts, i) - 1]
            event, item = source if isinstance(source, tuple) else source.event_and_item(i - start)
            self._mismatched.append((event, item, waiting.name[i], waiting.content_id[j].as_py(), waiting.currency[i],
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
