"""The shapes an event log's records come in, and how each becomes :class:`Event` records.

A record is recognised by its keys: a TikTok Events API 2.0 payload (``event_source`` + ``data[]``), a 1.x
``pixel/track`` body (``pixel_code`` + ``event``) or ``pixel/batch`` body (``batch[]``), a browser pixel event
(``event`` + ``properties`` + ``context``), or a flat record with the fields at the top.  Logs of another shape
are read through a field mapping (:class:`FieldMap`, from :class:`~feedcheck.settings.EventOptions` ``fields``).
A new shape is one more branch of :func:`recognise` and a function that builds its events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from feedcheck.errors import ConfigError
from feedcheck.findings import Finding, make_finding
from feedcheck.settings import EVENT_FIELDS, EventOptions

YEAR_3000 = 32503680000.0
_BROWSER_SOURCES = frozenset({"pixel", "browser", "web_pixel"})
_SERVER_SOURCES = frozenset({"server", "api", "eapi", "events_api"})


@dataclass(slots=True)
class Content:
    """One line of an event's ``contents``, values exactly as logged (any JSON type)."""

    content_id: Any
    content_type: Any = None
    quantity: Any = None
    price: Any = None


@dataclass(slots=True)
class Event:
    """One event as logged; checks judge the raw values, so nothing is coerced here.

    ``contents`` is ``None`` when the event carries neither ``contents`` nor
    ``content_id(s)``.  ``time`` is unix seconds, or ``None`` when the logged
    time is absent or unreadable (``time_raw`` keeps what was there).
    """

    file: str
    line: int
    shape: str
    origin: str  # "browser", "server" or "" when the shape does not say
    name: Any
    event_id: Any = None
    time: float | None = None
    time_raw: Any = None
    value: Any = None
    currency: Any = None
    content_type: Any = None
    order_id: Any = None
    contents: list[Content] | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class FieldMap:
    """Dotted paths for each event field, for logs that are not a TikTok shape."""

    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: EventOptions) -> FieldMap | None:
        """The mapping in ``options``, or ``None`` when there is none.

        Raises:
            ConfigError: a field name feedcheck does not know, or an empty path.
        """
        if not options.fields:
            return None
        paths = {}
        for name, path in options.fields.items():
            if name not in EVENT_FIELDS:
                raise ConfigError(f"Unknown event field '{name}' in the field mapping; "
                                  f"use one of {', '.join(EVENT_FIELDS)}.")
            parts = tuple(p for p in path.split(".") if p)
            if not parts:
                raise ConfigError(f"The field mapping for '{name}' is empty; "
                                  "give a dotted path such as properties.eventId.")
            paths[name] = parts
        return cls(paths)

    def get(self, record: Any, name: str, default: tuple[str, ...]) -> Any:
        return _dig(record, self.paths.get(name, default))


_FLAT = {
    "event": ("event",), "event_id": ("event_id",), "event_time": ("event_time",), "contents": ("contents",),
    "content_id": ("content_id",), "content_type": ("content_type",), "quantity": ("quantity",),
    "price": ("price",), "value": ("value",), "currency": ("currency",), "order_id": ("order_id",),
}


def _dig(record: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(record, dict):
            record = record.get(part)
        elif isinstance(record, list) and part.isdigit() and int(part) < len(record):
            record = record[int(part)]
        else:
            return None
    return record


def recognise(record: Any, file: str, line: int, mapping: FieldMap | None = None) -> tuple[list[Event], Finding | None]:
    """The events in one top-level record, and a finding for what in it is not an event.

    TikTok's own shapes are recognised first; a field ``mapping`` applies to
    every other record, so one run can read server payloads and an analytics
    tool's export side by side.
    """
    where = f"{file}:{line}"
    if not isinstance(record, dict):
        return [], _unknown(where, line, f"Line {line} holds a JSON {type(record).__name__}, not an event object.")
    data = record.get("data")
    if isinstance(data, list) and ("event_source" in record or "event_source_id" in record):
        return _entries(data, "data", file, line, "eapi2", "event_time")
    batch = record.get("batch")
    if isinstance(batch, list) and ("pixel_code" in record or "event_source_id" in record):
        return _entries(batch, "batch", file, line, "eapi1", "timestamp")
    if "pixel_code" in record and "event" in record:
        return [_nested(record, file, line, "eapi1", "server", time_key="timestamp")], None
    context = record.get("context")
    browser = isinstance(context, dict) and "pixel" in context
    if browser and "event" in record and isinstance(record.get("properties"), dict):
        return [_nested(record, file, line, "pixel", "browser", time_key="timestamp")], None
    if mapping is not None:
        return [_mapped(record, file, line, mapping)], None
    if "event" in record and isinstance(record.get("properties"), dict):
        return [_nested(record, file, line, "nested", "", time_key="timestamp")], None
    if "event" in record or "event_name" in record:
        return [_flat(record, file, line)], None
    keys = ", ".join(sorted(map(str, record))[:8])
    return [], _unknown(where, line, f"Line {line} is a JSON object with keys {keys or '(none)'}, not an event.")


def _entries(entries: list[Any], key: str, file: str, line: int, shape: str, time_key: str
             ) -> tuple[list[Event], Finding | None]:
    events = [_nested(e, file, line, shape, "server", time_key=time_key) for e in entries if isinstance(e, dict)]
    where = f"{file}:{line}"
    if not entries:
        return [], _unknown(where, line, f"Line {line} is an Events API body whose {key}[] is empty.")
    if len(events) < len(entries):
        skipped = len(entries) - len(events)
        return events, _unknown(where, line, f"Line {line}: {skipped} of the {len(entries)} entries of {key}[] are "
                                             "not event objects and were skipped.")
    return events, None


def _unknown(where: str, line: int, detail: str) -> Finding:
    return make_finding("events.unknown_shape", item_id=where, row=line, source=where, detail=detail)


def _nested(e: dict[str, Any], file: str, line: int, shape: str, origin: str, time_key: str) -> Event:
    found = e.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    time_raw = e.get(time_key, e.get("event_time", e.get("timestamp")))
    event_id = e.get("event_id")
    options = e.get("options") or e.get("event_options")
    if event_id is None and isinstance(options, dict):
        event_id = options.get("event_id")  # ttq.track(name, properties, {event_id})
    return Event(
        file=file, line=line, shape=shape, origin=origin, name=e.get("event"), event_id=event_id,
        time=parse_time(time_raw), time_raw=time_raw, value=props.get("value"), currency=props.get("currency"),
        content_type=props.get("content_type"), order_id=props.get("order_id"),
        contents=_contents(props.get("contents"), props.get("content_ids", props.get("content_id"))),
    )


def _flat(r: dict[str, Any], file: str, line: int) -> Event:
    time_raw = r.get("event_time", r.get("timestamp"))
    source = str(r.get("source") or r.get("channel") or "").lower()
    origin = "browser" if source in _BROWSER_SOURCES else "server" if source in _SERVER_SOURCES else ""
    return Event(
        file=file, line=line, shape="flat", origin=origin, name=r.get("event", r.get("event_name")),
        event_id=r.get("event_id"), time=parse_time(time_raw), time_raw=time_raw, value=r.get("value"),
        currency=r.get("currency"), content_type=r.get("content_type"), order_id=r.get("order_id"),
        contents=_contents(r.get("contents"), r.get("content_ids", r.get("content_id"))),
    )


def _mapped(r: dict[str, Any], file: str, line: int, m: FieldMap) -> Event:
    time_raw = m.get(r, "event_time", _FLAT["event_time"])
    if time_raw is None and "event_time" not in m.paths:
        time_raw = r.get("timestamp")
    value = m.get(r, "value", _FLAT["value"])
    if "contents" in m.paths:
        raw = _dig(r, m.paths["contents"])
        contents = None if not isinstance(raw, list) or not raw else [
            Content(m.get(c, "content_id", _FLAT["content_id"]), m.get(c, "content_type", _FLAT["content_type"]),
                    m.get(c, "quantity", _FLAT["quantity"]), m.get(c, "price", _FLAT["price"]))
            if isinstance(c, dict) else Content(c)
            for c in raw
        ]
    else:
        contents = _contents(r.get("contents"), m.get(r, "content_id", _FLAT["content_id"]))
    return Event(
        file=file, line=line, shape="mapped", origin="", name=m.get(r, "event", _FLAT["event"]),
        event_id=m.get(r, "event_id", _FLAT["event_id"]), time=parse_time(time_raw), time_raw=time_raw, value=value,
        currency=m.get(r, "currency", _FLAT["currency"]), content_type=m.get(r, "content_type", _FLAT["content_type"]),
        order_id=m.get(r, "order_id", _FLAT["order_id"]), contents=contents,
    )


def _contents(contents: Any, ids: Any) -> list[Content] | None:
    if isinstance(contents, list) and contents:
        return [
            Content(c.get("content_id"), c.get("content_type"), c.get("quantity"), c.get("price"))
            if isinstance(c, dict) else Content(c)  # a bare id where an object belongs
            for c in contents
        ]
    if isinstance(ids, list) and ids:
        return [Content(i) for i in ids]
    if ids is not None and not isinstance(ids, list):
        return [Content(ids)]
    return None


def parse_time(raw: Any) -> float | None:
    """Unix seconds from unix seconds, milliseconds or an ISO 8601 string; ``None`` if unreadable.

    Times before 1970 or after 2999 are unreadable too: no event happened then.

    >>> parse_time(1764000000), parse_time(1764000000123), parse_time("2025-11-24T16:00:00Z")
    (1764000000.0, 1764000000.123, 1764000000.0)
    >>> parse_time("0001-01-01T00:00:00+01:00"), parse_time(10 ** 400)
    (None, None)
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        try:
            raw = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=timezone.utc)
                return _plausible(moment.timestamp())
            except (ValueError, OverflowError):
                return None
    if isinstance(raw, (int, float)):
        try:
            seconds = float(raw)
        except OverflowError:
            return None
        return _plausible(seconds / 1000 if seconds > 1e11 else seconds)
    return None


def _plausible(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) and 0 < seconds < YEAR_3000 else None


def read_amount(raw: Any) -> tuple[float | None, str]:
    """``(amount, problem)``: the amount when one can be read, and what is wrong with it, if anything.

    >>> read_amount(12.5), read_amount("12.50"), read_amount(-1)
    ((12.5, ''), (12.5, 'is a string; send a number'), (-1.0, 'is negative'))
    >>> read_amount("abc"), read_amount(None)
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
