"""Events as frames of one row per content line, for analysis in a notebook."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from feedcheck.events.read import expand_paths, read_events
from feedcheck.events.shapes import read_amount
from feedcheck.findings import FindingLog
from feedcheck.settings import EventOptions

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
        amount, _ = read_amount(event.value)
        moment = pd.Timestamp(event.time, unit="s", tz="UTC") if event.time is not None else pd.NaT
        head = (event.name, None if event.event_id is None else str(event.event_id), moment)
        tail = (event.file, event.line, index)
        for n, content in enumerate(event.contents or [None]):  # type: ignore[list-item]
            first = n == 0
            rows.append(head + (
                None if content is None or content.content_id is None else str(content.content_id),
                None if content is None else (content.content_type or event.content_type),
                None if content is None else read_amount(content.quantity)[0],
                None if content is None else read_amount(content.price)[0],
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
