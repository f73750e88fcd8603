"""Match event content_ids with the catalog, and say why each miss misses.

The platforms report a bare match-rate percentage days later; this module
names every content_id that fails and its most likely cause, in this order:
the item exists but validation excluded it; the id is an ``item_group_id``
sent as a product (or an item id sent as a product group); it matches only
after trimming or ignoring case; it matches after removing a known id format
(a platform prefix, leading zeros, separators); or it is simply not in the
catalog.  Matched ids of out-of-stock items are reported too, as information.

Match rate follows the platforms: per event name, the share of (deduplicated)
catalog events whose content ids all match; the share of content lines is
reported beside it.  Revenue at risk is the value of purchase events with at
least one unmatched id, per currency.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feedcheck.events.catalog import MATCHED, STOCKOUT, VALID, Catalog
from feedcheck.findings import CODES, FindingLog, Severity, make_finding
from feedcheck.settings import EventOptions

RATE_TARGET = 0.9
RATE_FLOOR = 0.5


@dataclass
class NameStats:
    """Match counts for one event name."""

    events: int = 0
    matched_events: int = 0
    lines: int = 0
    matched_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "matched_events": self.matched_events,
            "match_rate": _rate(self.matched_events, self.events),
            "lines": self.lines,
            "matched_lines": self.matched_lines,
            "match_rate_lines": _rate(self.matched_lines, self.lines),
        }


class IdStats:
    """One content_id that failed to match (or matched an out-of-stock item).

    A plain class with slots: a log out of sync with its catalog makes one for
    each of hundreds of thousands of ids.
    """

    __slots__ = ("code", "hint", "detail", "events", "revenue", "first_seen", "last_seen")

    def __init__(self, code: str, hint: str, detail: str) -> None:
        self.code = code
        self.hint = hint
        self.detail = detail
        self.events: dict[str, int] = {}  # per currency
        self.revenue: dict[str, float] = {}  # per currency
        self.first_seen: float | None = None
        self.last_seen: float | None = None


class Matching:
    """Deduplicated catalog events waiting to be matched, in log order.

    Events come one at a time (:meth:`add`, kept in lists) or a run at a time
    from a block's columns (:meth:`extend`, kept as arrays); :meth:`columns`
    joins them for :meth:`Reconciler.match`.
    """

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self._added: dict[str, list[Any]] = {name: [] for name in _COLUMN_TYPES}
        self._events = 0

    def __len__(self) -> int:
        return self._events

    def add(self, name: str, purchase: bool, value: float | None, currency: str, when: float | None,
            content_ids: list[str | None], as_group: list[bool], revenue: list[float]) -> None:
        added = self._added
        for column, entry in (("name", name), ("purchase", purchase), ("value", math.nan if value is None else value),
                              ("currency", currency), ("time", math.nan if when is None else when),
                              ("lines", len(content_ids))):
            added[column].append(entry)
        added["content_id"] += content_ids
        added["as_group"] += as_group
        added["revenue"] += revenue
        self._events += 1

    def extend(self, columns: dict[str, Any]) -> None:
        """A run of events as :class:`EventColumns`' arrays (``value`` and ``time`` NaN where there is none)."""
        self._keep_added()
        self._parts.append(columns)
        self._events += len(columns["name"])

    def columns(self) -> EventColumns:
        self._keep_added()
        return EventColumns(**{name: _joined([part[name] for part in self._parts], kind)
                               for name, kind in _COLUMN_TYPES.items()})

    def _keep_added(self) -> None:
        if self._added["name"]:
            self._parts.append({name: _array(values, _COLUMN_TYPES[name]) for name, values in self._added.items()})
            self._added = {name: [] for name in _COLUMN_TYPES}


_COLUMN_TYPES: dict[str, type] = {"name": object, "purchase": bool, "value": float, "currency": object,
                                  "time": float, "lines": np.int64, "content_id": str, "as_group": bool,
                                  "revenue": float}  # str: an Arrow array, which the catalog looks up as a column


def _array(values: list[Any], kind: type) -> Any:
    return pa.array(values, pa.string()) if kind is str else np.array(values, dtype=kind)


def _joined(parts: list[Any], kind: type) -> Any:
    if not parts:
        return _array([], kind)
    return pa.concat_arrays(parts) if kind is str else np.concatenate(parts)


@dataclass(frozen=True)
class EventColumns:
    """Catalog events to match, as arrays: the first six per event, the last three per content line."""

    name: np.ndarray
    purchase: np.ndarray
    value: np.ndarray  # the value at risk when a line misses (NaN: none, or negative)
    currency: np.ndarray
    time: np.ndarray  # unix seconds, NaN when unknown
    lines: np.ndarray  # how many content lines each event has
    content_id: pa.Array  # text; null: the line has no usable id
    as_group: np.ndarray
    revenue: np.ndarray  # each line's share of the value

    def __len__(self) -> int:
        return len(self.name)


class Reconciler:
    """Matches the content lines of deduplicated catalog events and aggregates what misses."""

    def __init__(self, catalog: Catalog, log: FindingLog, options: EventOptions = EventOptions()) -> None:
        self.catalog = catalog
        self.log = log
        self.options = options
        self.by_name: dict[str, NameStats] = {}
        self.revenue_at_risk: defaultdict[str, float] = defaultdict(float)
        self.revenue_without_ids: defaultdict[str, float] = defaultdict(float)  # part of it: no usable content_id
        self.ids: dict[str, IdStats] = {}
        self._items_as_groups: set[str] = set()  # the ids in ``ids`` that are items, sent as groups
        self.untracked = IdStats("", "", "")  # misses past options.max_tracked_ids, counted together
        self._rows: list[dict[str, Any]] | None = None
        catalog.use_patterns(options.id_patterns)

    def match(self, events: EventColumns) -> tuple[list[int], list[int], list[str]]:
        """Match the lines of ``events``, in log order.

        Returns the events, for each its first line, and that line's currency
        in the catalog, that matched an item the catalog prices in another
        currency than the event's (a finding of the event's own; an
        out-of-stock item counts as matched).
        """
        self._rows = None
        lines = events.lines
        owner = np.repeat(np.arange(len(events)), lines)
        ids, group = events.content_id, events.as_group
        usable = ids.is_valid().to_numpy(zero_copy_only=False)
        flags = self.catalog.flags(ids)
        matched = usable & ~group & (flags & VALID != 0) & (flags & STOCKOUT == 0)  # plain matches, but:
        # An item id that missed as a group keeps that verdict for its later uses as an item: in earlier batches,
        # or in these lines.  Only such an id can be both (no other verdict is given to a valid item id).
        as_group_items = np.flatnonzero(usable & group & (flags & VALID != 0) & (flags & STOCKOUT == 0))
        missed = self._items_as_groups | set(ids.take(as_group_items).to_pylist())
        if missed:
            matched &= ~pc.fill_null(pc.is_in(ids, value_set=pa.array(list(missed), pa.string())), False).to_numpy(
                zero_copy_only=False)
        judged = np.flatnonzero(usable & ~matched)
        stats, holder, codes = self._verdicts(ids.take(judged).to_numpy(zero_copy_only=False), group[judged])
        matched[judged] = (codes == MATCHED) | (codes == "match.out_of_stock")
        self._count(events, lines, owner, matched, usable)
        self._seen(events, owner[judged], judged, stats, holder)
        return self._other_currency(events, owner, matched)

    def _other_currency(self, events: EventColumns, owner: np.ndarray, matched: np.ndarray
                        ) -> tuple[list[int], list[int], list[str]]:
        lines = np.flatnonzero(matched)
        currency = events.currency[owner[lines]]
        expected = np.array(self.catalog.currencies(events.content_id.take(lines)), dtype=object)
        odd = (currency != "") & (expected != None) & (expected != currency)  # noqa: E711 (element-wise)
        odd_events, first = np.unique(owner[lines[odd]], return_index=True)
        return odd_events.tolist(), lines[odd][first].tolist(), expected[odd][first].tolist()

    def _verdicts(self, ids: np.ndarray, as_group: np.ndarray) -> tuple[list[IdStats | None], np.ndarray, np.ndarray]:
        """The stats records of the lines (``None`` for a plain match), each line's holder (the index of its
        record among them) and each line's verdict code, asking the catalog once per distinct id and use.

        Lines are judged in order, as one by one: the first verdict of a missed
        id stands for its later lines.  An id sent both as an item and as a
        group may change verdict within the lines, so those go one at a time.
        """
        if not len(ids):
            return [], np.zeros(0, dtype=np.int64), np.array([], dtype=object)
        id_codes, distinct = pd.factorize(ids)
        pairs, first, inverse = np.unique(id_codes * 2 + as_group, return_index=True, return_inverse=True)
        if len(np.unique(pairs // 2)) < len(pairs):
            judged = [self._verdict(content_id, bool(g)) for content_id, g in zip(ids, as_group.tolist())]
            holder, unique = pd.factorize(np.array([id(s) for s, _ in judged], dtype=np.int64))
            stats = {id(s): s for s, _ in judged}
            return [stats[k] for k in unique], holder, np.array([c for _, c in judged], dtype=object)
        order = np.argsort(first, kind="stable")  # distinct uses in order of first appearance
        verdicts: list[tuple[IdStats | None, str]] = [(None, "")] * len(pairs)
        for k, content_id, group in zip(order.tolist(), distinct[pairs[order] // 2].tolist(),
                                        (pairs[order] % 2).astype(bool).tolist()):
            verdicts[k] = self._verdict(content_id, group)
        stats = [s for s, _ in verdicts]
        # Each distinct id has a record of its own, but the ids past max_tracked_ids share one.
        shared = np.flatnonzero([s is self.untracked for s in stats])
        holder = np.arange(len(stats))
        holder[shared] = shared[0] if len(shared) else 0
        return stats, holder[inverse], np.array([c for _, c in verdicts], dtype=object)[inverse]

    def _count(self, events: EventColumns, lines: np.ndarray, owner: np.ndarray, matched: np.ndarray,
               usable: np.ndarray) -> None:
        """Per event name, the events and lines that matched; per currency, the revenue of events that did not."""
        n = len(events)
        matched_lines = np.bincount(owner, weights=matched, minlength=n).astype(np.int64)
        complete = (lines > 0) & (matched_lines == lines)
        name_codes, names = pd.factorize(events.name)
        totals = [np.bincount(name_codes, weights=w, minlength=len(names)).astype(np.int64).tolist()
                  for w in (None, lines, matched_lines, complete)]
        for name, n_events, n_lines, n_matched_lines, n_complete in zip(names, *totals):
            stats = self.by_name.setdefault(name, NameStats())
            stats.events += n_events
            stats.lines += n_lines
            stats.matched_lines += n_matched_lines
            stats.matched_events += n_complete
        at_risk = ~complete & events.purchase & ~np.isnan(events.value)
        without_ids = at_risk & (np.bincount(owner, weights=usable, minlength=n) == 0)
        for totals, chosen in ((self.revenue_at_risk, at_risk), (self.revenue_without_ids, without_ids)):
            _add_by_currency(totals, events.currency[chosen], events.value[chosen])

    def _seen(self, events: EventColumns, owner: np.ndarray, lines: np.ndarray, stats: list[IdStats | None],
              holder: np.ndarray) -> None:
        """Add the judged lines to their ids' stats: events and revenue per currency, first and last seen
        (``stats[holder[k]]`` is line ``k``'s record)."""
        tracked = np.flatnonzero(np.array([s is not None for s in stats], dtype=bool)[holder]) if stats else []
        if not len(tracked):
            return
        who = owner[tracked]
        currency = events.currency[who]
        revenue = np.where(events.purchase[who], events.revenue[lines[tracked]], 0.0)
        when = events.time[who]
        holder = holder[tracked]
        keys, first, group = np.unique(holder * (len(tracked) + 1) + pd.factorize(currency)[0],
                                       return_index=True, return_inverse=True)
        records = [(stats[h], currency[k]) for h, k in zip(holder[first].tolist(), first.tolist())]
        totals = np.array([record.revenue.get(cur, 0.0) for record, cur in records], dtype=float)
        np.add.at(totals, group, revenue)  # in log order, as adding one line at a time would
        counts = np.bincount(group, minlength=len(keys))
        earliest, latest = np.full(len(keys), np.inf), np.full(len(keys), -np.inf)
        np.fmin.at(earliest, group, when)
        np.fmax.at(latest, group, when)
        columns = (totals.tolist(), counts.tolist(), earliest.tolist(), latest.tolist())
        for k in np.argsort(first, kind="stable").tolist():  # currencies are added as the log first shows them
            (record, cur), total, count, low, high = records[k], *(column[k] for column in columns)
            record.events[cur] = record.events.get(cur, 0) + count
            record.revenue[cur] = total
            if math.isfinite(low):
                record.first_seen = low if record.first_seen is None else min(record.first_seen, low)
                record.last_seen = high if record.last_seen is None else max(record.last_seen, high)

    def _verdict(self, content_id: str, as_group: bool) -> tuple[IdStats | None, str]:
        """The id's stats record (``None`` for a plain match) and its verdict code."""
        known = self.ids.get(content_id)
        if known is not None:
            return known, known.code
        code, hint, detail = self.catalog.classify(content_id, as_group)
        if code == MATCHED:
            return None, code
        if len(self.ids) >= self.options.max_tracked_ids:
            return self.untracked, code
        self.ids[content_id] = IdStats(code, hint, detail)
        if code == "match.item_id_as_group":
            self._items_as_groups.add(content_id)
        return self.ids[content_id], code

    def finish(self) -> None:
        """Findings for every missed id (most revenue first) and for low match rates."""
        ranked = sorted((-sum(missed.revenue.values()), -sum(missed.events.values()), content_id, missed)
                        for content_id, missed in self.ids.items())
        room = {code: self.log.room(code) for code in {missed.code for missed in self.ids.values()}}
        unstored: Counter[str] = Counter()
        for _, events, content_id, missed in ranked:
            if not room[missed.code]:
                unstored[missed.code] += 1  # counted together below: a log out of sync has hundreds of thousands
                continue
            room[missed.code] -= 1
            revenue = {cur: amount for cur, amount in missed.revenue.items() if amount and cur}
            self.log.add(make_finding(missed.code, item_id=content_id, field="content_id", value=content_id,
                                      hint=missed.hint, detail=missed.detail, events=-events, revenue=revenue))
        for code, count in unstored.items():
            self.log.count_only(code, CODES[code].severity, count)
        for name, stats in sorted(self.by_name.items()):
            rate = _rate(stats.matched_events, stats.events)
            if rate is None or rate >= RATE_TARGET:
                continue
            if rate == 0:
                detail, severity = "0% means content_id is missing or is not the catalog's id at all.", Severity.ERROR
            elif rate < RATE_FLOOR:
                detail, severity = "Under 50% usually means the catalog lacks products the site sells.", Severity.ERROR
            else:
                detail, severity = "TikTok recommends more than 90% for catalog ads.", Severity.WARNING
            self.log.add(make_finding("match.rate_low", severity=severity, item_id=name, event=name,
                                      rate=rate, events=stats.events, detail=detail))

    def summary(self) -> dict[str, Any]:
        """The match part of ``report.json``'s ``events`` section."""
        events = sum(s.events for s in self.by_name.values())
        matched = sum(s.matched_events for s in self.by_name.values())
        lines = sum(s.lines for s in self.by_name.values())
        matched_lines = sum(s.matched_lines for s in self.by_name.values())
        rows = self.mismatch_rows()
        unmatched = [r for r in rows if r["reason"] != "out_of_stock"]
        untracked = sum(self.untracked.events.values())
        return {
            "catalog": {"source": self.catalog.source, "items": self.catalog.items_total,
                        "valid_items": self.catalog.valid_items, "currency": self.catalog.currency},
            "match_rate": _rate(matched, events),
            "match_rate_lines": _rate(matched_lines, lines),
            "by_name": {name: s.as_dict() for name, s in sorted(self.by_name.items())},
            "revenue_at_risk": {cur: round(v, 2) for cur, v in sorted(self.revenue_at_risk.items())},
            "revenue_at_risk_without_content_ids": {
                cur: round(v, 2) for cur, v in sorted(self.revenue_without_ids.items())},
            "unmatched_ids": len({r["content_id"] for r in unmatched}),
            "by_reason": dict(Counter(r["reason"] for r in rows).most_common()),
            "top_unmatched": unmatched[: self.options.top_unmatched],
            "untracked_id_events": untracked,
        }

    def mismatch_rows(self) -> list[dict[str, Any]]:
        """One row per content_id and currency, most revenue first: the ``mismatches.csv`` rows."""
        if self._rows is not None:
            return self._rows
        rows: list[dict[str, Any]] = []
        for content_id, stats in self.ids.items():
            for currency, count in stats.events.items():
                rows.append({
                    "content_id": content_id,
                    "reason": stats.code.removeprefix("match."),
                    "suggested_id": stats.hint if stats.code != "match.out_of_stock" else "",
                    "events": count,
                    "revenue": round(stats.revenue[currency], 2),
                    "currency": currency,
                    "first_seen": _iso(stats.first_seen),
                    "last_seen": _iso(stats.last_seen),
                })
        rows.sort(key=lambda r: (-r["revenue"], -r["events"], r["content_id"], r["currency"]))
        self._rows = rows
        return rows


def _add_by_currency(totals: defaultdict[str, float], currency: np.ndarray, amounts: np.ndarray) -> None:
    """Add each amount to its currency's total (``unknown`` for none), one at a time in order, as a loop would."""
    if not len(amounts):
        return
    codes, currencies = pd.factorize(np.where(currency == "", "unknown", currency))
    sums = np.array([totals[c] for c in currencies], dtype=float)
    np.add.at(sums, codes, amounts)
    for c, total in zip(currencies, sums.tolist()):
        totals[c] = total


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@functools.lru_cache(maxsize=1 << 16)  # a log's events share their seconds: a row per missed id asks many times
def _iso(moment: float | None) -> str:
    return "" if moment is None else datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")
