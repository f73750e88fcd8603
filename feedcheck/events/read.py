"""Read purchase-event logs into :class:`Event` records, streamed, whatever their shape.

A log is JSON lines, a JSON array, or pretty-printed JSON objects one after
another, plain or gzip.  Records are recognised by shape: a TikTok Events API
2.0 payload (``event_source`` + ``data[]``), a 1.x ``pixel/track`` body
(``pixel_code`` + ``event``) or ``pixel/batch`` body (``batch[]``), a browser
pixel event (``event`` + ``properties`` + ``context``), or a flat record with
the fields at the top.  Logs of another shape are read through a field
mapping (:class:`~feedcheck.settings.EventOptions` ``fields``).

Bad input is data: a line that is not JSON, a record of unknown shape, a
truncated gzip or an undecodable byte becomes a finding with its file and
line, and reading goes on with the next record.  Only one record is held in
memory at a time (plus a read-ahead buffer), however large the log.
"""

from __future__ import annotations

import codecs
import glob
import io
import json
import math
import os
import re
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import pyarrow as pa

from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.blocks import PRESENCE_KEYS, BlockParser, Columns, columns, split_lines
from feedcheck.findings import Finding, FindingLog, Severity, make_finding, truncate
from feedcheck.settings import EVENT_FIELDS, EventOptions
from feedcheck.sources.decode import GZIP_MAGIC, CappedGzipReader, DecodingReader, past_line_break

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_READ_CHARS = 1 << 20
_READ_BYTES = 1 << 20
_BLOCK_BYTES = 8 << 20  # JSON lines parsed by Arrow at a time
_SEPARATORS = re.compile(r"[\s,\[\]\ufeff]*")  # whitespace, array punctuation, stray BOMs between records
_BLANKS = re.compile(r"[ \t]*")
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
    for item in read_records(paths, log, options):
        if isinstance(item, RecordBlock):
            yield from item.events()
        else:
            yield item


def read_records(paths: Iterable[Path], log: FindingLog, options: EventOptions = EventOptions(),
                 executor: Executor | None = None) -> Iterator[Event | RecordBlock]:
    """The events of ``paths`` in file order: one by one, or a block of JSON lines at a time.

    A :class:`RecordBlock` holds whole lines read as columns where they could
    be; the consumer takes each record in turn, by its columns or by
    :meth:`RecordBlock.record`, and settles it (:meth:`RecordBlock.settle`).
    With an ``executor``, blocks are parsed there a few at a time, ahead of
    the consumer; what comes out is the same.
    """
    mapping = FieldMap.from_options(options)
    for path in paths:
        yield from _read_file(path, log, options, mapping, executor)


@dataclass
class _Tally:
    """A file's records so far: with events, without, and those only counted."""

    good: int = 0
    bad: int = 0
    quiet: int = 0


def _settle(tally: _Tally, log: FindingLog, found_events: bool, problem: Finding | None) -> None:
    """Count a record once its events are checked, and report its problem (or count it, in a file of noise)."""
    if found_events:
        tally.good += 1
    elif problem is not None:
        tally.bad += 1
    if problem is not None:
        if tally.good == 0 and tally.bad > _QUIET_AFTER:
            tally.quiet += 1
        else:
            log.add(problem)


@dataclass
class RecordBlock:
    """Whole lines of a JSON-lines log: the events Arrow read as columns, and each record's line.

    ``columns.columnar`` marks the records whose events are in ``columns``;
    every record can also be read the record-by-record way with
    :meth:`record`, which gives the same events.
    """

    file: str
    numbers: list[int]  # each record's line number
    lines: list[bytes]  # each record's text
    columns: Columns
    log: FindingLog
    max_chars: int
    tally: _Tally

    def __len__(self) -> int:
        return len(self.lines)

    def record(self, index: int) -> tuple[list[Event], Finding | None]:
        """Record ``index`` read on its own, as the record-by-record reader reads it."""
        line = self.numbers[index]
        for _, value in _Scanner(io.StringIO(self.lines[index].decode("utf-8")), self.max_chars, line):
            if isinstance(value, _Bad):
                return [], value.finding(self.file, line)
            return recognise(value, self.file, line)
        return [], None

    def settle(self, found_events: bool, problem: Finding | None = None) -> None:
        """Count a record whose events have been checked, and report its problem if it had one."""
        _settle(self.tally, self.log, found_events, problem)

    def settle_many(self, count: int) -> None:
        """Count ``count`` records with events and no problem."""
        self.tally.good += count

    def events(self) -> Iterator[Event]:
        """Every event of the block, record by record (the columns unused)."""
        for index in range(len(self)):
            events, problem = self.record(index)
            yield from events
            self.settle(bool(events), problem)


def _read_file(path: Path, log: FindingLog, options: EventOptions, mapping: FieldMap | None,
               executor: Executor | None = None) -> Iterator[Event | RecordBlock]:
    shown = str(path)
    decode_findings: list[Finding] = []
    tally = _Tally()
    unreadable = False
    try:
        raw = path.open("rb")
    except OSError as exc:
        log.add(make_finding("events.file_unreadable", source=shown,
                             detail=f"{shown} cannot be opened ({exc.strerror})."))
        return
    with raw:
        encoding = _text_encoding(raw)
        blocks = _BlockReader(_byte_stream(raw, options, shown), options.max_record_bytes)
        if encoding == "utf-8-sig" and mapping is None:
            yield from _read_blocks(blocks, shown, log, options, tally, executor)
        if blocks.refused:
            text = DecodingReader(blocks.remainder(), encoding, decode_findings, offset=blocks.offset,
                                  lines=blocks.line - 1)
            try:
                for line, record in _Scanner(text, options.max_record_bytes, blocks.line):
                    _drain(decode_findings, log, shown)
                    events: list[Event]
                    problem: Finding | None
                    if isinstance(record, _Bad):
                        events, problem = [], record.finding(shown, line)
                    else:
                        events, problem = recognise(record, shown, line, mapping)
                    yield from events
                    _settle(tally, log, bool(events), problem)
            except FeedcheckError as exc:
                unreadable = True
                log.add(make_finding("events.file_unreadable", source=shown, detail=(
                    f"{exc.finding.message} Events before that point were read; "
                    "an incomplete last record was dropped.")))
            _drain(decode_findings, log, shown)
            if text.unreported:
                log.count_only("decode.invalid_bytes", Severity.ERROR, text.unreported)
    if tally.quiet:
        after = f"; {tally.good:,} records with events came after them" if tally.good else ""
        log.add(make_finding("events.not_json_file", source=shown, detail=(
            f"{shown}: the first {_QUIET_AFTER} records are not events, and {tally.quiet:,} more like them were "
            f"counted but not listed{after}. Is it an event log (JSON lines or a JSON array of events)?")))
    if tally.good == 0 and tally.bad == 0 and not unreadable:
        log.add(make_finding("events.empty_file", source=shown, detail=f"{shown} holds no records."))


def _read_blocks(blocks: _BlockReader, shown: str, log: FindingLog, options: EventOptions, tally: _Tally,
                 executor: Executor | None = None, ahead: int = 2) -> Iterator[RecordBlock]:
    """The log's blocks read as columns, until the end or the first block Arrow cannot take.

    With an ``executor``, up to ``ahead`` blocks beyond the one in hand are
    parsed there at once (:func:`parse_block`, each from the parser's first
    types); a block Arrow cannot take hands itself and every block read after
    it back to the record reader, as if they had never been read.
    """
    if executor is None:
        parser = BlockParser()
        while True:
            data, line = blocks.next(), blocks.line
            if data is None:
                return
            found = _split_and_parse(data, line, options.max_record_bytes, parser)
            if found is None:
                blocks.refuse(data)
                return
            blocks.consumed(data)
            yield _record_block(*found, shown, line, log, options, tally)
    pending: deque[tuple[Future[Parsed | None], bytes, int, int]] = deque()
    read_all = False  # once the reader has said "no more", asking again would lose what it handed back
    try:
        while True:
            while len(pending) <= ahead and not read_all:
                data = blocks.next()
                if data is None:
                    read_all = True
                    break
                pending.append((executor.submit(parse_block, data, blocks.line, options.max_record_bytes),
                                data, blocks.line, blocks.offset))
                blocks.consumed(data)
            if not pending:
                return
            future, data, line, offset = pending.popleft()
            parsed = future.result()
            if parsed is None:
                blocks.give_back(data + b"".join(later for _, later, _, _ in pending), line, offset)
                return
            yield _record_block(_body(data, line).split(b"\n"), parsed, shown, line, log, options, tally)
    finally:
        for future, *_ in pending:
            future.cancel()


Parsed = tuple[list[int], Columns]


def parse_block(data: bytes, first_line: int, max_record_bytes: int,
                parser: BlockParser | None = None) -> Parsed | None:
    """A block of whole lines read by Arrow: the indices of its records' lines and their events as columns.

    ``None`` when it is not plain JSON lines that Arrow reads as the record
    reader would.  Depends on nothing but its arguments (a fresh
    :class:`BlockParser` unless one is given), so other processes can parse
    blocks side by side.
    """
    found = _split_and_parse(data, first_line, max_record_bytes, parser or BlockParser())
    return None if found is None else found[1]


def _split_and_parse(data: bytes, first_line: int, max_record_bytes: int,
                     parser: BlockParser) -> tuple[list[bytes], Parsed] | None:
    """:func:`parse_block`, and the block's lines it split on the way."""
    body = _body(data, first_line)
    if codecs.BOM_UTF8 in body or body.count(b"\r") != body.count(b"\r\n"):
        return None  # a BOM between records or a lone CR: the record reader numbers such lines its own way
    try:
        pa.scalar(body, pa.binary()).cast(pa.string())
    except (pa.ArrowException, ValueError):
        return None  # undecodable bytes are reported by the record reader, with their offsets
    lines = body.split(b"\n")
    longest = max(map(len, lines))
    if longest > max_record_bytes:
        return None
    table = parser.parse(body, longest)
    if table is None or table.num_rows == 0:
        return None  # blank lines only: nothing to parse, and pyarrow 16 and 17 cannot make structs of no rows
    kept = split_lines(body, lines, table.num_rows)
    if kept is None:
        return None
    return lines, (kept, columns(table, presence_free=not any(key in body for key in PRESENCE_KEYS)))


def _body(data: bytes, first_line: int) -> bytes:
    return data[len(codecs.BOM_UTF8):] if first_line == 1 and data.startswith(codecs.BOM_UTF8) else data


def _record_block(lines: list[bytes], parsed: Parsed, shown: str, first_line: int, log: FindingLog,
                  options: EventOptions, tally: _Tally) -> RecordBlock:
    """The block whose ``lines`` (split as :func:`parse_block` splits them) were parsed as ``parsed``."""
    kept, cols = parsed
    return RecordBlock(file=shown, numbers=[first_line + k for k in kept], lines=[lines[k] for k in kept],
                       columns=cols, log=log, max_chars=options.max_record_bytes, tally=tally)


class _BlockReader:
    """Cuts a byte stream into blocks of whole lines; what it has read but not used goes back to the record reader.

    Reads are small and direct, never through a buffer that would lose the
    bytes read before a truncated gzip member's error: those bytes are read
    record by record, then the error is reported as the record reader does.
    """

    def __init__(self, stream: BinaryIO, max_line: int) -> None:
        self.stream = stream
        self.max_line = max_line
        self.offset = 0  # bytes consumed as blocks
        self.line = 1  # line number of the next unconsumed byte
        self.refused = True  # until a block reader takes over: no blocks means read record by record
        self._carry = b""
        self._head = b""
        self._error: FeedcheckError | None = None
        self._eof = False

    def next(self) -> bytes | None:
        """The next block (whole lines, at least ``_BLOCK_BYTES`` unless the file ends); ``None`` at the end."""
        self.refused = False
        parts, size = [self._carry], len(self._carry)
        self._carry = b""
        while (size < _BLOCK_BYTES or b"\n" not in parts[-1]) and not self._eof and self._error is None:
            if size > _BLOCK_BYTES + self.max_line:
                break  # a line longer than any record may be: the record reader says so
            piece = self._read()
            parts.append(piece)
            size += len(piece)
        data = b"".join(parts)
        last = data.rfind(b"\n")
        if self._error is not None or (last < 0 and not self._eof):
            self.refuse(data)
            return None
        cut = len(data) if self._eof else last + 1
        data, self._carry = data[:cut], data[cut:]
        return data or None

    def consumed(self, data: bytes) -> None:
        self.offset += len(data)
        self.line += data.count(b"\n")

    def refuse(self, data: bytes) -> None:
        """Hand ``data`` and everything after it to the record reader."""
        self.refused = True
        self._head = data + self._carry
        self._carry = b""

    def give_back(self, data: bytes, line: int, offset: int) -> None:
        """Hand blocks read ahead, starting at ``line`` and ``offset``, and everything after them to the
        record reader; anything already handed back comes after them."""
        self._head = data + (self._head if self.refused else b"") + self._carry
        self._carry = b""
        self.refused = True
        self.line, self.offset = line, offset

    def remainder(self) -> BinaryIO:
        """The bytes not consumed as blocks, then the rest of the stream (and its read error, if one came)."""
        return _Chain(self._head, self.stream, self._error)  # type: ignore[return-value]

    def _read(self) -> bytes:
        try:
            piece = self.stream.read(_READ_BYTES)
        except FeedcheckError as exc:
            self._error = exc
            return b""
        self._eof = not piece
        return piece


class _Chain(io.RawIOBase):
    """``head``, then ``rest``; ``error`` is raised where ``rest`` ended with it."""

    def __init__(self, head: bytes, rest: BinaryIO, error: FeedcheckError | None) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._error is not None:
            raise self._error
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _byte_stream(raw: BinaryIO, options: EventOptions, shown: str) -> BinaryIO:
    """The file's bytes, gunzipped (capped) when they are gzip; ``raw`` must be at its start."""
    compressed = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    if compressed:
        return CappedGzipReader(raw, options.max_decompressed_bytes, shown, options.max_gzip_ratio)  # type: ignore[return-value]
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

    def finding(self, file: str, line: int) -> Finding:
        """The finding for this unreadable record at ``file:line``."""
        where = f"{file}:{line}"
        return make_finding(self.code, source=where, item_id=where, row=line, value=self.text, detail=self.reason)


class _Scanner:
    """Splits a text stream into top-level JSON values, yielding ``(line, value)``; ``_Bad`` for what does not parse.

    Values may be separated by whitespace, newlines, commas and array brackets,
    so JSON lines, a JSON array of events and concatenated pretty-printed
    objects all read the same way.  After a bad value, reading resumes on the
    next line, or, on one long line (a minified array), at the next object
    that follows a comma; a line yields at most one ``_Bad``.
    """

    def __init__(self, text: TextIO | DecodingReader, max_chars: int, line: int = 1) -> None:
        self.text = text
        self.max_chars = max_chars
        self.buf = ""
        self.pos = 0
        self.line = line
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
            end = past_line_break(self.buf, self.pos)
            if end >= 0:
                self.pos = end
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
