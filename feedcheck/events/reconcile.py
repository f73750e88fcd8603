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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np

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


@dataclass
class IdStats:
    """One content_id that failed to match (or matched an out-of-stock item)."""

    code: str
    hint: str
    detail: str
    events: Counter[str] = field(default_factory=Counter)  # per currency
    revenue: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # per currency
    first_seen: float | None = None
    last_seen: float | None = None

    def seen(self, currency: str, revenue: float, when: float | None) -> None:
        self.events[currency] += 1
        self.revenue[currency] += revenue
        if when is not None:
            self.first_seen = when if self.first_seen is None else min(self.first_seen, when)
            self.last_seen = when if self.last_seen is None else max(self.last_seen, when)


class CleanColumns(Protocol):
    """A block's events as columns, for :meth:`Reconciler.add_clean`: event ``i`` has lines
    ``line_offsets[i]`` to ``line_offsets[i + 1]`` of ``content_id``, ``as_group`` and ``revenue``."""

    name: list[str]
    names: list[str]  # the distinct names; ``name_code`` is each event's position in it
    name_code: np.ndarray
    purchase: list[bool]
    value: list[float | None]
    currency: list[str]
    time: list[float | None]
    line_offsets: np.ndarray
    content_id: list[str]
    as_group: list[bool]
    line_group: np.ndarray
    line_flags: np.ndarray  # Catalog.flags of each line's id
    revenue: list[float]


@dataclass(frozen=True, slots=True)
class Line:
    """A content line ready to match: the id as a string (``None`` if unusable) and its revenue share."""

    content_id: str | None
    as_group: bool
    revenue: float


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
        self.untracked = IdStats("", "", "")  # misses past options.max_tracked_ids, counted together
        self._rows: list[dict[str, Any]] | None = None
        catalog.use_patterns(options.id_patterns)

    def add(self, name: str, lines: list[Line], when: float | None, currency: str,
            value: float | None, purchase: bool) -> list[str]:
        """Match one event's lines; return the catalog ids it matched (for the currency check)."""
        stats = self.by_name.setdefault(name, NameStats())
        stats.events += 1
        stats.lines += len(lines)
        self._rows = None
        matched_ids = []
        all_matched = bool(lines)
        for line in lines:
            if line.content_id is None:
                all_matched = False
                continue
            stats_of_id, code = self._verdict(line.content_id, line.as_group)
            if code in (MATCHED, "match.out_of_stock"):
                stats.matched_lines += 1
                matched_ids.append(line.content_id)
            else:
                all_matched = False
            if stats_of_id is not None:
                stats_of_id.seen(currency, line.revenue if purchase else 0.0, when)
        if all_matched:
            stats.matched_events += 1
        elif purchase and value is not None:
            self.revenue_at_risk[currency or "unknown"] += value
            if all(line.content_id is None for line in lines):
                self.revenue_without_ids[currency or "unknown"] += value
        return matched_ids

    def add_clean(self, cols: CleanColumns, events: list[int]) -> None:
        """:meth:`add` for each of ``events`` (positions in ``cols``) in order, all of whose lines have an id.

        The same effect in bulk: lines whose id is a valid item are plain
        matches; the others are judged one by one, in order, as :meth:`add`
        judges them, and the sums it keeps in order are kept in that order.
        """
        if not events:
            return
        self._rows = None
        chosen = np.array(events, dtype=np.int64)
        counts = cols.line_offsets[chosen + 1] - cols.line_offsets[chosen]
        before = np.cumsum(counts) - counts
        lines = np.repeat(cols.line_offsets[chosen] - before, counts) + np.arange(int(counts.sum()))
        flags = cols.line_flags[lines]
        plain = ~cols.line_group[lines] & (flags & VALID != 0) & (flags & STOCKOUT == 0)
        if self.ids:  # an item id that missed once as a group keeps that verdict
            candidates = np.flatnonzero(plain)
            plain[candidates] = [cols.content_id[j] not in self.ids for j in lines[candidates].tolist()]
        rest = np.flatnonzero(~plain).tolist()
        pairs = [(cols.content_id[j], cols.as_group[j]) for j in lines[rest].tolist()]
        verdicts = {pair: self._verdict(*pair) for pair in dict.fromkeys(pairs)}
        line_verdicts = [verdicts[pair] for pair in pairs]
        matched = plain.astype(np.int64)
        matched[rest] = [code in (MATCHED, "match.out_of_stock") for _, code in line_verdicts]
        per_event = np.add.reduceat(matched, before)
        complete = per_event == counts
        codes = cols.name_code[chosen]
        totals = [np.bincount(codes, weights=w, minlength=len(cols.names)).astype(np.int64).tolist()
                  for w in (None, counts, per_event, complete)]
        for code, (n, in_lines, matched_lines, matched_events) in enumerate(zip(*totals)):
            if n:
                stats = self.by_name.setdefault(cols.names[code], NameStats())
                stats.events += n
                stats.lines += in_lines
                stats.matched_lines += matched_lines
                stats.matched_events += matched_events
        owner = np.repeat(chosen, counts)
        for k, (stats_of_id, _) in zip(rest, line_verdicts):
            if stats_of_id is not None:
                i = int(owner[k])
                stats_of_id.seen(cols.currency[i], cols.revenue[int(lines[k])] if cols.purchase[i] else 0.0,
                                 cols.time[i])
        for i in chosen[~complete].tolist():
            if cols.purchase[i] and cols.value[i] is not None:
                self.revenue_at_risk[cols.currency[i] or "unknown"] += cols.value[i]

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
        return self.ids[content_id], code

    def finish(self) -> None:
        """Findings for every missed id (most revenue first) and for low match rates."""
        for content_id, missed in sorted(self.ids.items(), key=lambda kv: (-sum(kv[1].revenue.values()),
                                                                            -sum(kv[1].events.values()), kv[0])):
            revenue = {cur: amount for cur, amount in missed.revenue.items() if amount and cur}
            self.log.add_one(missed.code, CODES[missed.code].severity, functools.partial(  # rendered while it fits
                make_finding, missed.code, item_id=content_id, field="content_id", value=content_id,
                hint=missed.hint, detail=missed.detail, events=sum(missed.events.values()), revenue=revenue))
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


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@functools.lru_cache(maxsize=1 << 16)  # a log's events share their seconds: a row per missed id asks many times
def _iso(moment: float | None) -> str:
    return "" if moment is None else datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")
