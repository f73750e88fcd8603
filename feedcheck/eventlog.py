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

import codecs
import glob
import json
import math
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from feedcheck.config import EVENT_FIELDS, EventOptions
from feedcheck.decode import GZIP_MAGIC, CappedGzipReader, DecodingReader
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.findings import Finding, FindingLog, Severity, make_finding, truncate

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_READ_CHARS = 1 << 20
_SEPARATORS = re.compile(r"[\s,\[\]\ufeff]*")  # whitespace, array punctuation, stray BOMs between records
_BLANKS = re.compile(r"[ \t]*")
_END_OF_LINE = re.compile(r"\r\n|\n|\r")
_NEXT_OBJECT = re.compile(r"\}\s*,\s*\{")
_SCALAR_START = frozenset('"-0123456789tfnNI')
_NEAR_END = 64
_LONG_LINE = 1 << 16  # a bad record on a longer line is in a minified array: resume at the next element
_QUIET_AFTER = 20  # bad records before the first event: the rest are counted, not listed
_DECODER = json.JSONDecoder()
_AGAIN = object()
_YEAR_3000 = 32503680000.0
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
            raise ConfigError(f"No event log matches '{text}'; "
                              "give a file, a folder or a glob such as 'logs/*.jsonl.gz'.")
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
    good = bad = quiet = 0
    unreadable = False
    try:
        raw = path.open("rb")
    except OSError as exc:
        log.add(make_finding("events.file_unreadable", source=shown,
                             detail=f"{shown} cannot be opened ({exc.strerror})."))
        return
    with raw:
        encoding = _text_encoding(raw)
        text = DecodingReader(_byte_stream(raw, options, shown), encoding, decode_findings)
        try:
            for line, record in _Scanner(text, options.max_record_bytes):
                _drain(decode_findings, log, shown)
                events: list[Event]
                problem: Finding | None
                if isinstance(record, _Bad):
                    where = f"{shown}:{line}"
                    events, problem = [], make_finding(record.code, source=where, item_id=where, row=line,
                                                       value=record.text, detail=record.reason)
                else:
                    events, problem = recognise(record, shown, line, mapping)
                if events:
                    good += 1
                    yield from events
                elif problem is not None:
                    bad += 1
                if problem is not None:
                    if good == 0 and bad > _QUIET_AFTER:
                        quiet += 1
                    else:
                        log.add(problem)
        except FeedcheckError as exc:
            unreadable = True
            log.add(make_finding("events.file_unreadable", source=shown, detail=(
                f"{exc.finding.message} Events before that point were read; an incomplete last record was dropped.")))
        _drain(decode_findings, log, shown)
        if text.unreported:
            log.count_only("decode.invalid_bytes", Severity.ERROR, text.unreported)
    if quiet:
        after = f"; {good:,} records with events came after them" if good else ""
        log.add(make_finding("events.not_json_file", source=shown, detail=(
            f"{shown}: the first {_QUIET_AFTER} records are not events, and {quiet:,} more like them were counted "
            f"but not listed{after}. Is it an event log (JSON lines or a JSON array of events)?")))
    if good == 0 and bad == 0 and not unreadable:
        log.add(make_finding("events.empty_file", source=shown, detail=f"{shown} holds no records."))


def _byte_stream(raw: BinaryIO, options: EventOptions, shown: str) -> BinaryIO:
    """The file's bytes, gunzipped (capped) when they are gzip; ``raw`` must be at its start."""
    compressed = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    if compressed:
        return CappedGzipReader(raw, options.max_decompressed_bytes, shown)  # type: ignore[return-value]
    return raw


def _text_encoding(raw: BinaryIO) -> str:
    """UTF-16 when the (decompressed) text starts with its BOM, as PowerShell writes files; else UTF-8."""
    head = raw.read(4096)
    raw.seek(0)
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 2)
        except zlib.error:
            head = b""  # reported when the file is read
    return "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"


def _drain(pending: list[Finding], log: FindingLog, shown: str) -> None:
    for finding in pending:
        log.add(Finding(finding.code, finding.severity, f"{shown}: {finding.message}", value=finding.value,
                        source=shown))
    pending.clear()


@dataclass(frozen=True, slots=True)
class _Bad:
    code: str
    text: str
    reason: str


class _Scanner:
    """Splits a text stream into top-level JSON values, yielding ``(line, value)``; ``_Bad`` for what does not parse.

    Values may be separated by whitespace, newlines, commas and array brackets,
    so JSON lines, a JSON array of events and concatenated pretty-printed
    objects all read the same way.  After a bad value, reading resumes on the
    next line, or, on one long line (a minified array), at the next object
    that follows a comma; a line yields at most one ``_Bad``.
    """

    def __init__(self, text: TextIO | DecodingReader, max_chars: int) -> None:
        self.text = text
        self.max_chars = max_chars
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.depth = 0  # inside how many top-level arrays: only there is a bare scalar an element

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        last_bad = 0
        while True:
            end = _SEPARATORS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if end > self.pos + 1 or (end > self.pos and self.buf[self.pos] in "[]"):
                between = self.buf[self.pos:end]
                self.depth = max(0, self.depth + between.count("[") - between.count("]"))
            self._advance(end)
            if self.pos >= len(self.buf):
                if self.eof:
                    return
                self._refill()
                continue
            line = self.line
            value = self._object() if self.buf[self.pos] == "{" else self._other()
            if value is _AGAIN:
                continue
            if isinstance(value, _Bad):
                if line == last_bad:
                    continue
                last_bad = line
            yield line, value

    def _object(self) -> Any:
        start = self.pos
        try:
            value, end = _DECODER.raw_decode(self.buf, start)
        except json.JSONDecodeError as exc:
            incomplete = exc.pos >= len(self.buf) - _NEAR_END or exc.msg.startswith("Unterminated string")
            if incomplete and not self.eof and len(self.buf) - start <= self.max_chars:
                self._refill()
                return _AGAIN
            if incomplete and not self.eof:
                bad = self._too_large()
            else:
                bad = _Bad("events.not_json", self._line_text(),
                           f"{exc.msg} at character {exc.pos - start + 1} of the record")
            self._resync(exc.pos)
            return bad
        except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
            bad = _Bad("events.not_json", self._line_text(), str(exc)[:120] or type(exc).__name__)
            self._resync(start + 1)
            return bad
        oversized = self._too_large() if end - start > self.max_chars else None
        self._advance(end)
        return oversized or value

    def _other(self) -> Any:
        """A JSON scalar (an array element, or a line holding one), or a line of text."""
        if self.depth and self.buf[self.pos] in _SCALAR_START:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except (ValueError, RecursionError):
                end = -1
            if end >= 0:
                after = _BLANKS.match(self.buf, end).end()  # type: ignore[union-attr]
                if after >= len(self.buf) and not self.eof:
                    self._refill()
                    return _AGAIN
                if after >= len(self.buf) or self.buf[after] in ",]\r\n":
                    self._advance(end)
                    return value
        if self.buf.find("\n", self.pos) < 0 and not self.eof and len(self.buf) - self.pos <= self.max_chars:
            self._refill()
            return _AGAIN
        text = self._line_text(limit=None)
        self._skip_line()
        try:
            return json.loads(text)  # a line holding one JSON value: reported as an unknown shape
        except (ValueError, RecursionError):
            return _Bad("events.not_json", truncate(text, 120), "the line does not start with '{'")

    def _too_large(self) -> _Bad:
        return _Bad("events.too_large", truncate(self.buf[self.pos:self.pos + 80], 80),
                    f"A record at line {self.line:,} is over {self.max_chars:,} characters; it was skipped.")

    def _advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def _refill(self) -> None:
        chunk = self.text.read(_READ_CHARS)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk

    def _resync(self, failed_at: int) -> None:
        """Skip a bad record: to the next object after a comma on a long line, else past the line."""
        newline = self.buf.find("\n", self.pos)
        if newline < 0 or newline - self.pos > _LONG_LINE:
            stop = newline if newline >= 0 else len(self.buf)
            found = _NEXT_OBJECT.search(self.buf, max(failed_at, self.pos + 1), stop)
            if found:
                self._advance(found.end() - 1)
                return
        self._skip_line()

    def _skip_line(self) -> None:
        while True:
            found = _END_OF_LINE.search(self.buf, self.pos)
            if found:
                self.pos = found.end()
                self.line += 1
                return
            if self.eof:
                self.pos = len(self.buf)
                return
            chunk = self.text.read(_READ_CHARS)
            self.buf, self.pos, self.eof = chunk, 0, not chunk

    def _line_text(self, limit: int | None = 120) -> str:
        newline = self.buf.find("\n", self.pos)
        text = self.buf[self.pos:newline if newline >= 0 else len(self.buf)].rstrip("\r")
        return text if limit is None else truncate(text, limit)


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
    return seconds if math.isfinite(seconds) and 0 < seconds < _YEAR_3000 else None
