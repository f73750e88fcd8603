"""Deduplication as the platforms do it: one event per event name and ``event_id`` within the window, and
one purchase per order.

The first copy of an event is the one counted; a later copy within the window
(48 hours from the first, by default) is dropped, and one after it starts a
new window.  :class:`Dedup` holds the keys and decides; the checker reports
what each decision costs.  The state is bounded (``EventOptions.max_dedup_keys``):
when full, the oldest half of the keys is dropped, since a log's old keys stop
mattering once their window has passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from feedcheck.settings import EventOptions

K = TypeVar("K")
V = TypeVar("V")
_SECONDS_PER_HOUR = 3600.0
Key = tuple[str, str]  # event name, event_id
First = tuple[float | None, str, str, int]  # the kept copy's time, the sides that sent it (space-separated), file, line


class Bounded(dict[K, V], Generic[K, V]):
    """A dict of at most ``limit`` keys, in arrival order; past it, the oldest half is dropped."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, entry: V) -> None:
        self[key] = entry
        if len(self) > self.limit:
            self._prune()

    def remember_all(self, keys: Sequence[K], values: Iterable[V]) -> None:
        """:meth:`remember` each of ``keys`` (none already held) with its value, in order, pruning exactly where
        it would."""
        values = iter(values)
        start = 0
        while start < len(keys):
            room = self.limit + 1 - len(self)
            self.update(zip(keys if start == 0 and room >= len(keys) else keys[start:start + room], values))
            start += room
            if len(self) > self.limit:
                self._prune()

    def _prune(self) -> None:
        keep = dict(itertools.islice(self.items(), len(self) // 2, None))
        self.clear()
        self.update(keep)


class Judged(NamedTuple):
    """What deduplication made of one copy of an event."""

    copy: bool  # the platform drops it
    earlier: First | None  # the copy before it, if any
    gap: float | None = None  # seconds since the earlier copy, when both have a time
    pair: bool = False  # a copy from the other side (pixel and server), as intended


class Dedup:
    """The keys of the events and orders seen so far, and the window that makes two of them one."""

    def __init__(self, options: EventOptions) -> None:
        self.window = options.dedup_window_hours * _SECONDS_PER_HOUR
        self.hours = f"{options.dedup_window_hours:g} h"
        self.events: Bounded[Key, First] = Bounded(options.max_dedup_keys)
        self.orders: Bounded[str, tuple[str, float | None]] = Bounded(options.max_dedup_keys)  # event_id, time

    def judge(self, key: Key, when: float | None, origin: str, file: str, line: int) -> Judged:
        """Whether the platform drops this copy of ``key``; the state then holds what the next copy is judged by."""
        earlier = self.events.get(key)
        if earlier is None:
            self.events.remember(key, (when, origin, file, line))
            return Judged(False, None)
        first_time, origins, first_file, first_line = earlier
        gap = None if first_time is None or when is None else abs(when - first_time)
        if gap is not None and gap > self.window:
            self.events[key] = (when, origin, file, line)  # a new window starts here
            return Judged(False, earlier, gap)
        pair = bool(origins) and origin in ("browser", "server") and origin not in origins
        if origin and origin not in origins:
            self.events[key] = (first_time, origins + " " + origin, first_file, first_line)
        return Judged(True, earlier, gap, pair)

    def order(self, order: str, event_id: str, when: float | None) -> str | None:
        """The other event that already counted ``order`` within the window, if one did."""
        earlier = self.orders.get(order)
        if earlier is None:
            self.orders.remember(order, (event_id, when))
            return None
        other, first_time = earlier
        within = first_time is None or when is None or abs(when - first_time) <= self.window
        return other if other != event_id and within else None

    def repeats(self, keys: Sequence[Key], orders: Sequence[str | None]) -> list[int]:
        """The positions of a run of events whose key or order was seen before (earlier in the run too):
        only those need :meth:`judge` or :meth:`order`; the others are new."""
        return sorted(set(_seen_before(self.events, keys)) | set(_seen_before(self.orders, orders)))

    def remember_new(self, keys: Sequence[Key], firsts: Iterable[First], orders: Sequence[str],
                     counted: Iterable[tuple[str, float | None]]) -> None:
        """Events and orders known to be new (see :meth:`repeats`), in log order: the events' keys and first
        copies, and the orders and what counted each (event_id, time)."""
        self.events.remember_all(keys, firsts)
        self.orders.remember_all(orders, counted)


def _seen_before(store: dict[Any, Any], run: Sequence[Any]) -> list[int]:
    """The positions of the keys of ``run`` that are in ``store`` or earlier in ``run`` (``None`` is no key).

    Most runs repeat nothing, and sets and dicts tell so without a Python
    step per key; the positions are only looked for when some key repeats.
    """
    distinct = set(run)
    distinct.discard(None)
    known = store.keys() & distinct
    if not known and len(distinct) == len(run) - run.count(None):
        return []
    first = dict(zip(reversed(run), range(len(run) - 1, -1, -1)))  # each key's first position
    return [i for i, key in enumerate(run) if key is not None and (key in known or first[key] != i)]
