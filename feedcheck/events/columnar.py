"""Events read as columns: the short path that checks together those that need no finding of their own.

Which those are is worked out where the block is parsed
(:mod:`feedcheck.events.clean`); the state they update is the
event-by-event path's (:mod:`feedcheck.events.checker`), so both paths give
the same findings (``tests/test_event_blocks.py``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedcheck.events.blocks import SHAPES, Columns
from feedcheck.events.names import MAX_NAMES, STANDARD_NAMES
from feedcheck.events.read import RecordBlock
from feedcheck.events.shapes import Event

_SHAPE_NAMES = np.array(SHAPES, dtype=object)
_ORIGINS = np.array(["browser" if shape == "pixel" else "server" for shape in SHAPES], dtype=object)


class FastEvents:
    """A block's columns as Python values, for the events :meth:`EventChecker.check_block` takes the short path."""

    def __init__(self, cols: Columns, block: RecordBlock) -> None:
        self.block = block
        self.cols = cols
        current, seconds = cols.current, cols.seconds
        self.name: list[str] = current.to_pylist()
        self.legacy = pc.fill_null(pc.not_equal(current, cols.name), False).to_numpy(zero_copy_only=False)
        self.raw_name: list[str] = cols.name.to_pylist() if self.legacy.any() else self.name
        self.event_id: list[str] = cols.event_id.to_pylist()
        self.key = list(zip(self.name, self.event_id))
        self.purchase: list[bool] = cols.purchase.tolist()
        self.catalog_event = cols.catalog_event
        self.seconds = seconds
        self.time: list[float | None] = seconds.tolist()
        self.value: list[float | None] = cols.value.to_pylist()
        self.currency: list[str] = pc.fill_null(cols.currency, "").to_pylist()
        orders = cols.order_id if pa.types.is_string(cols.order_id.type) else pc.cast(cols.order_id, pa.string())
        counted = pc.fill_null(pc.not_equal(orders, ""), False).to_numpy(zero_copy_only=False) & cols.purchase
        self.order_key: list[str | None] = pc.if_else(counted, orders, pa.scalar(None, pa.string())).to_pylist()
        self._ordered = np.flatnonzero(counted)
        self.shape = _SHAPE_NAMES[cols.shape_code].tolist()
        self.by_shape = np.zeros((len(cols) + 1, len(SHAPES)), dtype=np.int64)  # events of each shape before each
        np.cumsum(np.eye(len(SHAPES), dtype=np.int64)[cols.shape_code], axis=0, out=self.by_shape[1:])
        self.origin = _ORIGINS[cols.shape_code].tolist()
        self.record = cols.record.tolist()
        lines = pc.list_flatten(cols.contents)
        parent = pc.list_parent_indices(cols.contents).to_numpy()
        offsets = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=len(cols)))]).astype(np.int64)
        self.line_offsets, self.line_counts = offsets, np.diff(offsets)
        self.offsets = offsets.tolist()
        kind = pc.coalesce(pc.struct_field(lines, "content_type"), cols.content_type.take(pa.array(parent, pa.int64())))
        count = pc.fill_null(pc.struct_field(lines, "quantity"), 1.0).to_numpy(zero_copy_only=False)
        price = pc.struct_field(lines, "price")
        value = pc.fill_null(cols.value, 0.0).to_numpy(zero_copy_only=False)
        share = value[parent] / np.maximum(1, np.diff(offsets))[parent]
        with np.errstate(over="ignore"):  # only clean events' totals are used, and theirs are bounded
            total = pc.fill_null(price, math.nan).to_numpy(zero_copy_only=False) * count
        self.revenue = np.where(pc.is_valid(price).to_numpy(zero_copy_only=False), total, share)
        self.content_id = pc.struct_field(lines, "content_id")
        self.as_group = pc.fill_null(pc.equal(kind, "product_group"), False).to_numpy(zero_copy_only=False)

    def orders_in(self, first: int, stop: int) -> tuple[list[str], Iterable[tuple[str, float | None]]]:
        """The orders of events ``first`` to ``stop`` that count one, and each one's event_id and time."""
        at = self._ordered[np.searchsorted(self._ordered, first):np.searchsorted(self._ordered, stop)]
        orders, ids = self._order_columns
        return orders[at].tolist(), zip(ids[at].tolist(), self.seconds[at].tolist())

    @functools.cached_property
    def _order_columns(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.order_key, dtype=object), np.array(self.event_id, dtype=object)

    def lines_of(self, first: int, stop: int) -> list[int]:
        return self._numbers[self.cols.record[first:stop]].tolist()

    @functools.cached_property
    def _numbers(self) -> np.ndarray:
        return np.array(self.block.numbers, dtype=np.int64)

    def matching(self, chosen: np.ndarray) -> dict[str, np.ndarray]:
        """Events ``chosen`` (in order) and their lines as :class:`~feedcheck.events.reconcile.EventColumns`'
        arrays, to be matched with the catalog."""
        starts, counts = self.line_offsets[chosen], self.line_counts[chosen]
        lines = np.arange(counts.sum()) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        events = self._event_columns
        return {name: column[chosen] for name, column in events.items()} | {
            "lines": counts, "content_id": self.content_id.take(lines), "as_group": self.as_group[lines],
            "revenue": self.revenue[lines]}

    @functools.cached_property
    def _event_columns(self) -> dict[str, np.ndarray]:
        return {"name": np.array(self.name, dtype=object), "purchase": self.cols.purchase,
                "value": pc.fill_null(self.cols.value, math.nan).to_numpy(zero_copy_only=False),
                "currency": np.array(self.currency, dtype=object), "time": self.seconds}

    def event(self, i: int) -> Event:
        """Event ``i`` as the event-by-event path sees it, for the methods that report a finding."""
        return Event(file=self.block.file, line=self.block.numbers[self.record[i]], shape=self.shape[i],
                     origin=self.origin[i], name=self.raw_name[i], event_id=self.event_id[i], time=self.time[i],
                     time_raw=self.cols.time_raw(i), value=self.value[i], currency=self.currency[i] or None,
                     order_id=self.order_key[i])


class BlockChecking:
    """The short path of :class:`~feedcheck.events.checker.EventChecker` for blocks read as columns.

    A mixin: it updates the checker's own state (counts, deduplication keys,
    the reconciler) exactly as checking each event on its own would.
    """

    def check_block(self, block: RecordBlock) -> None:
        """Judge a block of records in file order, to the same effect as :meth:`check` on each of its events.

        An event read as columns whose values need no finding (a standard
        name, a usable id, time, value, currency and contents) takes a short
        path that only updates the state :meth:`check` would; the state can
        still call for a finding (a duplicate, an order sent twice), and then
        the same methods report it.
        Every other record is read and checked event by event.
        """
        cols = block.columns
        if not len(block):
            return
        record_clean = cols.columnar.copy()
        np.logical_and.at(record_clean, cols.record, cols.clean)
        records = np.arange(len(block))
        starts = np.searchsorted(cols.record, records).tolist()
        ends = np.searchsorted(cols.record, records, side="right").tolist()
        fast = FastEvents(cols, block)
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
        self.match()  # a block's events at once, so the block's columns are let go

    def _check_run(self, fast: FastEvents, first: int, stop: int) -> None:
        """Clean events ``first`` to ``stop`` in order: together, except those the state may hold a finding for."""
        start = first
        kept = np.ones(stop - first, dtype=bool)  # not a copy the platform drops
        repeats = self.dedup.repeats(fast.key[first:stop], fast.order_key[first:stop])
        for hit in [*(first + k for k in repeats), stop]:
            if start < hit:
                self._apply(fast, start, hit)
            if hit < stop:
                kept[hit - first] = self._check_clean(fast, hit)
            start = hit + 1
        if self.reconciler is not None:
            self._to_match(fast, first + np.flatnonzero(kept & fast.catalog_event[first:stop]))

    def _apply(self, fast: FastEvents, first: int, stop: int) -> None:
        """The effect of :meth:`_check_clean` on each of events ``first`` to ``stop``, known to find nothing."""
        count = stop - first
        self.counts["total"] += count
        self.counts["unique"] += count
        for shape, n in zip(SHAPES, (fast.by_shape[stop] - fast.by_shape[first]).tolist()):
            if n:
                self.shapes[shape] += n
        if fast.legacy[first:stop].any():
            self.legacy.update(itertools.compress(fast.raw_name[first:stop], fast.legacy[first:stop]))
        names = fast.name[first:stop]
        if len(self.names) + len(STANDARD_NAMES) <= MAX_NAMES:
            self.names.update(names)
        else:
            for name in names:
                if name in self.names or len(self.names) < MAX_NAMES:
                    self.names[name] += 1
        firsts = zip(fast.time[first:stop], fast.origin[first:stop], itertools.repeat(fast.block.file),
                     fast.lines_of(first, stop))
        self.dedup.remember_new(fast.key[first:stop], firsts, *fast.orders_in(first, stop))
        self.counts["content_lines"] += fast.offsets[stop] - fast.offsets[first]

    def _check_clean(self, fast: FastEvents, i: int) -> bool:
        """:meth:`check` for an event known to need no finding of its own, but for its matching; False for a
        copy the platform drops."""
        name, event_id = fast.name[i], fast.event_id[i]
        value, currency = fast.value[i], fast.currency[i]
        self.counts["total"] += 1
        self.shapes[fast.shape[i]] += 1
        if fast.legacy[i]:
            self.legacy[fast.raw_name[i]] += 1
        if name in self.names or len(self.names) < MAX_NAMES:
            self.names[name] += 1
        purchase = fast.purchase[i]
        key = (name, event_id)
        event = fast.event(i)
        kept = self._duplicate(key, event, value if purchase else None, currency)
        if kept is not None:
            self._later_copy(key, event, kept)  # a clean copy: the first copy's defects are its own
            self.copies.done(None)
            return False
        self.counts["unique"] += 1
        order = fast.order_key[i]
        if order is not None:
            self._order(event, name, order, event_id, value, currency)
        self.counts["content_lines"] += fast.offsets[i + 1] - fast.offsets[i]
        return True

    def _to_match(self, fast: FastEvents, chosen: np.ndarray) -> None:
        """Catalog events ``chosen`` of ``fast`` wait in the checker's ``matching`` (see its ``match``)."""
        if len(chosen):
            self._sources.append((len(self.matching), EventRun(fast, chosen)))
            self.matching.extend(fast.matching(chosen))


class EventRun:
    """Catalog events of a block read as columns, by their position among the events waiting to be matched."""

    def __init__(self, fast: FastEvents, chosen: np.ndarray) -> None:
        self.fast = fast
        self.chosen = chosen

    def event_and_item(self, k: int) -> tuple[Event, str]:
        i = int(self.chosen[k])
        return self.fast.event(i), self.fast.event_id[i]
