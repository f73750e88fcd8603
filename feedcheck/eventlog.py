"""Read purchase-event logs into :class:`Event` records, streamed, whatever their shape.

A log is JSON lines, a JSON array, or pretty-printed JSON objects one after
another, plain or gzip.  Records are recognised by shape: a TikTok Events API
2.0 payload (``event_source`` + ``data[]``), a 1.x ``pixel/track`` body
(``pixel_code`` + ``event``) or ``pixel/batch`` body (``batch[]``), a browser
pixel event (``event`` + ``properties`` + ``context``), or a flat record with
the fields at the top.  Logs of another shape are read through a field
mapping (:class:`~feedcheck.config.EventOptions` ``fields``).

Bad input is data: a line that is not JSON, a record of unknown shape, a
truncated gzip or an undecodable byte becomes a finding with its file and
line, and reading goes on with the next record.  Only one record is held in
memory at a time (plus a read-ahead buffer), however large the log.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from feedcheck.config import EVENT_FIELDS, EventOptions
from feedcheck.decode import GZIP_MAGIC, CappedGzipReader, DecodingReader
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.findings import Finding, FindingLog, make_finding, truncate

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_READ_CHARS = 1 << 20
_SEPARATORS = re.compile(r"[\s,\[\]]*")  # whitespace and array punctuation between records
_NEAR_END = 64
_GIVE_UP_AFTER = 20  # bad records before the first good one: not an event log
_DECODER = json.JSONDecoder()


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
    has_value: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def expand_paths(patterns: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by paths, globs and directories (searched recursively for logs), in a stable order.

    Raises:
        ConfigError: a pattern matches nothing.
    """
    found: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and _is_log_name(p.name))
        elif path.exists():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matches:
            raise ConfigError(f"No event log matches '{text}'; give a file, a folder or a glob such as 'logs/*.jsonl.gz'.")
        found.extend(m for m in matches if m not in found)
    return found


def _is_log_name(name: str) -> bool:
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith(LOG_SUFFIXES)


def read_events(paths: Iterable[Path], log: FindingLog, options: EventOptions = EventOptions()) -> Iterator[Event]:
    """Yield every event in ``paths``; what cannot be read becomes findings in ``log``."""
    mapping = FieldMap.from_options(options)
    for path in paths:
        yield from _read_file(path, log, options, mapping)


def _read_file(path: Path, log: FindingLog, options: EventOptions, mapping: FieldMap | None) -> Iterator[Event]:
    shown = str(path)
    decode_findings: list[Finding] = []
    good = bad = 0
    unreadable = False
    try:
        raw = path.open("rb")
    except OSError as exc:
        log.add(make_finding("events.file_unreadable", source=shown, detail=f"{shown} cannot be opened ({exc.strerror})."))
        return
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = CappedGzipReader(raw, options.max_decompressed_bytes, shown) if compressed else raw
        text = DecodingReader(stream, "utf-8-sig", decode_findings)  # type: ignore[arg-type]
        records = _json_records(text, options.max_record_bytes)
        try:
            for line, record in records:
                _drain(decode_findings, log, shown)
                if isinstance(record, _Bad):
                    bad += 1
                    log.add(make_finding(record.code, source=f"{shown}:{line}", item_id=f"{shown}:{line}",
                                         row=line, value=record.text, detail=record.reason))
                    if good == 0 and bad >= _GIVE_UP_AFTER:
                        log.add(make_finding("events.not_json_file", source=shown, detail=(
                            f"{shown}: the first {bad} records are not JSON events; the rest of the file was "
                            "skipped. Is it an event log (JSON lines or a JSON array)?")))
                        return
                    continue
                events = recognise(record, shown, line, mapping)
                if isinstance(events, Finding):
                    bad += 1
                    log.add(events)
                    continue
                good += 1
                yield from events
        except FeedcheckError as exc:
            unreadable = True
            log.add(make_finding("events.file_unreadable", source=shown, detail=(
                f"{exc.finding.message} Events before that point were read; an incomplete last record was dropped.")))
        _drain(decode_findings, log, shown)
    if good == 0 and bad == 0 and not unreadable:
        log.add(make_finding("events.empty_file", source=shown, detail=f"{shown} holds no records."))


def _drain(pending: list[Finding], log: FindingLog, shown: str) -> None:
    for finding in pending:
        log.add(Finding(finding.code, finding.severity, f"{shown}: {finding.message}", value=finding.value, source=shown))
    pending.clear()


@dataclass(frozen=True, slots=True)
class _Bad:
    code: str
    text: str
    reason: str


def _json_records(text: TextIO | DecodingReader, max_chars: int) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each top-level JSON value; ``_Bad`` for what does not parse.

    Values may be separated by whitespace, newlines, commas and array brackets,
    so JSON lines, a JSON array of events and concatenated pretty-printed
    objects all read the same way.  After a bad value, reading resumes on the
    next line.
    """
    buf, pos, line, eof = "", 0, 1, False
    while True:
        end = _SEPARATORS.match(buf, pos).end()  # type: ignore[union-attr]
        line += buf.count("\n", pos, end)
        pos = end
        if pos >= len(buf):
            if eof:
                return
            buf, pos, eof = _refill(text, buf, pos)
            continue
        if buf[pos] != "{":  # events are objects; anything else is read as one line and reported
            newline = buf.find("\n", pos)
            if newline < 0 and not eof and len(buf) - pos <= max_chars:
                buf, pos, eof = _refill(text, buf, pos)
                continue
            yield line, _scalar(buf[pos:newline if newline >= 0 else len(buf)])
            buf, pos, eof, skipped = _skip_line(text, buf, pos, eof)
            line += skipped
            continue
        try:
            value, end = _DECODER.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            incomplete = exc.pos >= len(buf) - _NEAR_END or exc.msg.startswith("Unterminated string")
            if incomplete and not eof and len(buf) - pos <= max_chars:
                buf, pos, eof = _refill(text, buf, pos)
                continue
            if incomplete and not eof:
                yield line, _Bad("events.too_large", truncate(buf[pos:pos + 80], 80),
                                 f"A record at line {line:,} is over {max_chars:,} characters; it was skipped.")
            else:
                yield line, _Bad("events.not_json", _line_at(buf, pos), f"{exc.msg} at character {exc.pos - pos + 1} of the record")
            buf, pos, eof, skipped = _skip_line(text, buf, pos, eof)
            line += skipped
            continue
        except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
            yield line, _Bad("events.not_json", _line_at(buf, pos), str(exc)[:120] or type(exc).__name__)
            buf, pos, eof, skipped = _skip_line(text, buf, pos, eof)
            line += skipped
            continue
        if end - pos > max_chars:
            yield line, _Bad("events.too_large", truncate(buf[pos:pos + 80], 80),
                             f"A record at line {line:,} is over {max_chars:,} characters; it was skipped.")
        else:
            yield line, value
        line += buf.count("\n", pos, end)
        pos = end


def _scalar(text: str) -> Any:
    """A line that does not start an object: a JSON value (reported as an unknown shape) or not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _Bad("events.not_json", truncate(text.strip(), 120), "the line does not start with '{'")


def _refill(text: TextIO | DecodingReader, buf: str, pos: int) -> tuple[str, int, bool]:
    chunk = text.read(_READ_CHARS)
    return buf[pos:] + chunk, 0, not chunk


def _skip_line(text: TextIO | DecodingReader, buf: str, pos: int, eof: bool) -> tuple[str, int, bool, int]:
    """Move past the end of the line ``pos`` is on; return the new buffer state and lines skipped."""
    while True:
        newline = buf.find("\n", pos)
        if newline >= 0:
            return buf, newline + 1, eof, 1
        if eof:
            return buf, len(buf), eof, 0
        chunk = text.read(_READ_CHARS)
        buf, pos, eof = chunk, 0, not chunk


def _line_at(buf: str, pos: int) -> str:
    newline = buf.find("\n", pos)
    return truncate(buf[pos:newline if newline >= 0 else len(buf)].rstrip("\r"), 120)


# Recognising shapes ---------------------------------------------------------------------------


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
                raise ConfigError(f"Unknown event field '{name}' in the field mapping; use one of {', '.join(EVENT_FIELDS)}.")
            parts = tuple(p for p in path.split(".") if p)
            if not parts:
                raise ConfigError(f"The field mapping for '{name}' is empty; give a dotted path such as properties.eventId.")
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


def recognise(record: Any, file: str, line: int, mapping: FieldMap | None = None) -> list[Event] | Finding:
    """The events in one top-level record, or a finding saying why it is not one."""
    where = f"{file}:{line}"
    if not isinstance(record, dict):
        return _unknown(where, line, f"Line {line} holds a JSON {type(record).__name__}, not an event object.")
    if mapping is not None:
        return [_mapped(record, file, line, mapping)]
    data = record.get("data")
    if isinstance(data, list) and ("event_source" in record or "event_source_id" in record):
        return [_nested(e, file, line, "eapi2", "server", time_key="event_time") for e in data if isinstance(e, dict)]
    batch = record.get("batch")
    if isinstance(batch, list) and ("pixel_code" in record or "event_source_id" in record):
        return [_nested(e, file, line, "eapi1", "server", time_key="timestamp") for e in batch if isinstance(e, dict)]
    if "pixel_code" in record and "event" in record:
        return [_nested(record, file, line, "eapi1", "server", time_key="timestamp")]
    if "event" in record and isinstance(record.get("properties"), dict):
        context = record.get("context")
        browser = isinstance(context, dict) and ("pixel" in context or "library" in context)
        return [_nested(record, file, line, "pixel" if browser else "nested", "browser" if browser else "",
                        time_key="timestamp")]
    if "event" in record or "event_name" in record:
        return [_flat(record, file, line)]
    keys = ", ".join(sorted(map(str, record))[:8])
    return _unknown(where, line, f"Line {line} is a JSON object with keys {keys or '(none)'}, not an event.")


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
        has_value="value" in props,
    )


def _flat(r: dict[str, Any], file: str, line: int) -> Event:
    time_raw = r.get("event_time", r.get("timestamp"))
    source = str(r.get("source") or r.get("channel") or "").lower()
    origin = "browser" if source in ("pixel", "browser", "web_pixel") else "server" if source in ("server", "api", "eapi", "events_api") else ""
    return Event(
        file=file, line=line, shape="flat", origin=origin, name=r.get("event", r.get("event_name")),
        event_id=r.get("event_id"), time=parse_time(time_raw), time_raw=time_raw, value=r.get("value"),
        currency=r.get("currency"), content_type=r.get("content_type"), order_id=r.get("order_id"),
        contents=_contents(r.get("contents"), r.get("content_ids", r.get("content_id"))), has_value="value" in r,
    )


def _mapped(r: dict[str, Any], file: str, line: int, m: FieldMap) -> Event:
    time_raw = m.get(r, "event_time", _FLAT["event_time"])
    if time_raw is None and "event_time" not in m.paths:
        time_raw = r.get("timestamp")
    value = m.get(r, "value", _FLAT["value"])
    if "contents" in m.paths:
        raw = _dig(r, m.paths["contents"])
        contents = None if not isinstance(raw, list) else [
            Content(m.get(c, "content_id", _FLAT["content_id"]), m.get(c, "content_type", _FLAT["content_type"]),
                    m.get(c, "quantity", _FLAT["quantity"]), m.get(c, "price", _FLAT["price"]))
            for c in raw if isinstance(c, dict)
        ]
    else:
        contents = _contents(r.get("contents"), m.get(r, "content_id", _FLAT["content_id"]))
    return Event(
        file=file, line=line, shape="mapped", origin="", name=m.get(r, "event", _FLAT["event"]),
        event_id=m.get(r, "event_id", _FLAT["event_id"]), time=parse_time(time_raw), time_raw=time_raw, value=value,
        currency=m.get(r, "currency", _FLAT["currency"]), content_type=m.get(r, "content_type", _FLAT["content_type"]),
        order_id=m.get(r, "order_id", _FLAT["order_id"]), contents=contents, has_value=value is not None,
    )


def _contents(contents: Any, ids: Any) -> list[Content] | None:
    if isinstance(contents, list) and contents:
        return [
            Content(c.get("content_id"), c.get("content_type"), c.get("quantity"), c.get("price"))
            if isinstance(c, dict) else Content(None)
            for c in contents
        ]
    if isinstance(ids, list) and ids:
        return [Content(i) for i in ids]
    if ids is not None and not isinstance(ids, list):
        return [Content(ids)]
    return None


def parse_time(raw: Any) -> float | None:
    """Unix seconds from unix seconds, milliseconds or an ISO 8601 string; ``None`` if unreadable.

    >>> parse_time(1764000000), parse_time(1764000000123), parse_time("2025-11-24T16:00:00Z")
    (1764000000.0, 1764000000.123, 1764000000.0)
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
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    if isinstance(raw, (int, float)) and math.isfinite(raw) and raw > 0:
        seconds = float(raw) / 1000 if raw > 1e11 else float(raw)
        return seconds if seconds < 32503680000 else None  # before year 3000
    return None
