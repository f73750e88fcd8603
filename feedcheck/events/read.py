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
import contextlib
import functools
import glob
import io
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from feedcheck.cluster import local_processes
from feedcheck.errors import ConfigError, FeedcheckError
from feedcheck.events.blocks import PIXEL_CODE, BlockParser, Columns, columns, split_lines
from feedcheck.events.clean import judge_columns
from feedcheck.events.scanner import Scanner, Unreadable
from feedcheck.events.shapes import Event, FieldMap, recognise
from feedcheck.events.stream import BlockReader, byte_stream, text_encoding
from feedcheck.findings import Finding, FindingLog, Severity, make_finding
from feedcheck.settings import EventOptions
from feedcheck.sources.decode import DecodingReader

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_QUIET_AFTER = 20  # bad records before the first event: the rest are counted, not listed
_PROCESS_BLOCKS = 4  # a log of more blocks than this has them parsed by other processes (see _local_parsing)


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
        for _, value in Scanner(io.StringIO(self.lines[index].decode("utf-8")), self.max_chars, line):
            if isinstance(value, Unreadable):
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
        encoding = text_encoding(raw)
        blocks = BlockReader(byte_stream(raw, options, shown), options.max_record_bytes, options.block_bytes)
        if encoding == "utf-8-sig" and mapping is None and options.reader == "blocks":
            yield from _read_blocks(blocks, shown, log, options, tally, os.fstat(raw.fileno()).st_size, executor)
        if blocks.refused:
            text = DecodingReader(blocks.remainder(), encoding, decode_findings, offset=blocks.offset,
                                  lines=blocks.line - 1, line_rows=True)
            try:
                for line, record in Scanner(text, options.max_record_bytes, blocks.line):
                    _drain(decode_findings, log, shown, upto=line)
                    events: list[Event]
                    problem: Finding | None
                    if isinstance(record, Unreadable):
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


def _read_blocks(blocks: BlockReader, shown: str, log: FindingLog, options: EventOptions, tally: _Tally, size: int,
                 executor: Executor | None = None, ahead: int = 2) -> Iterator[RecordBlock]:
    """The log's blocks read as columns, until the end or the first block Arrow cannot take.

    Up to ``ahead`` blocks beyond the one in hand are parsed at once, on the
    ``executor`` (each from the parser's first types: :func:`parse_block`) or,
    without one, by the machine's processes or a thread (:func:`_local_parsing`)
    while this one checks the block in hand.  A block Arrow cannot take hands
    itself and every block read after it back to the record reader, as if
    they had never been read.
    """
    if executor is None:
        with _local_parsing(options, size) as (parsing, parser):
            yield from _parse_ahead(blocks, shown, log, options, tally, parsing, ahead, parser)
        return
    yield from _parse_ahead(blocks, shown, log, options, tally, executor, ahead)


@contextlib.contextmanager
def _local_parsing(options: EventOptions, size: int) -> Iterator[tuple[Executor, BlockParser | None]]:
    """Where a log of ``size`` bytes has its blocks parsed without a cluster, and the parser they share if any.

    A log of many blocks goes to the machine's processes: a parsing thread
    would hold this process's GIL while it turns Arrow's output into columns,
    and the checking thread, which gives the GIL up at each Arrow call, would
    wait for it each time (1M events against the 196k-item catalog, the whole
    run with two processes: 0.89x the time with the thread).  A small log is
    parsed by one thread, whose parser remembers the types of the log's
    flexible fields from block to block.
    """
    if options.processes != 1 and size > _PROCESS_BLOCKS * options.block_bytes:
        with local_processes(options.processes) as pool:
            yield pool, None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedcheck-parse") as parsing:
        yield parsing, BlockParser()


def _parse_ahead(blocks: BlockReader, shown: str, log: FindingLog, options: EventOptions, tally: _Tally,
                 executor: Executor, ahead: int, parser: BlockParser | None = None) -> Iterator[RecordBlock]:
    """:func:`_read_blocks` on ``executor``; ``parser`` is shared by the parses (one at a time), if given."""
    parse = functools.partial(parse_block, parser=parser) if parser is not None else parse_block
    pending: deque[tuple[Future[Parsed | None], bytes, int, int]] = deque()
    read_all = False  # once the reader has said "no more", asking again would lose what it handed back
    try:
        while True:
            while len(pending) <= ahead and not read_all:
                data = blocks.next()
                if data is None:
                    read_all = True
                    break
                pending.append((executor.submit(parse, data, blocks.line, options),
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


def parse_block(data: bytes, first_line: int, options: EventOptions,
                parser: BlockParser | None = None) -> Parsed | None:
    """A block of whole lines read by Arrow: the indices of its records' lines and their events as columns,
    judged (:func:`~feedcheck.events.clean.judge_columns`).

    ``None`` when it is not plain JSON lines that Arrow reads as the record
    reader would.  Depends on nothing but its arguments (a fresh
    :class:`BlockParser` unless one is given), so other processes can parse
    blocks side by side.
    """
    body = _body(data, first_line)
    if codecs.BOM_UTF8 in body or body.count(b"\r") != body.count(b"\r\n"):
        return None  # a BOM between records or a lone CR: the record reader numbers such lines its own way
    try:
        pa.scalar(body, pa.binary()).cast(pa.string())
    except (pa.ArrowException, ValueError):
        return None  # undecodable bytes are reported by the record reader, with their offsets
    lines = body.split(b"\n")
    longest = max(map(len, lines))
    if longest > options.max_record_bytes:
        return None
    table = (parser or BlockParser()).parse(body, longest)
    if table is None or table.num_rows == 0:
        return None  # blank lines only: nothing to parse, and pyarrow 16 and 17 cannot make structs of no rows
    kept = split_lines(body, lines, table.num_rows)
    if kept is None:
        return None
    keyed = np.array([PIXEL_CODE in lines[k] for k in kept]) if PIXEL_CODE in body else None
    return kept, judge_columns(columns(table, keyed), options)


def _body(data: bytes, first_line: int) -> bytes:
    return data[len(codecs.BOM_UTF8):] if first_line == 1 and data.startswith(codecs.BOM_UTF8) else data


def _record_block(lines: list[bytes], parsed: Parsed, shown: str, first_line: int, log: FindingLog,
                  options: EventOptions, tally: _Tally) -> RecordBlock:
    """The block whose ``lines`` (split as :func:`parse_block` splits them) were parsed as ``parsed``."""
    kept, cols = parsed
    return RecordBlock(file=shown, numbers=[first_line + k for k in kept], lines=[lines[k] for k in kept],
                       columns=cols, log=log, max_chars=options.max_record_bytes, tally=tally)


def _drain(pending: list[Finding], log: FindingLog, shown: str, upto: int | None = None) -> None:
    """Log the decoding findings up to line ``upto`` (all without it): the decoder reads ahead of the records,
    and its findings belong among theirs, wherever the reading switched between blocks and records."""
    due = [f for f in pending if upto is None or f.row is None or f.row <= upto]
    for finding in due:
        log.add(Finding(finding.code, finding.severity, f"{shown}: {finding.message}", row=finding.row,
                        value=finding.value, source=shown))
    del pending[:len(due)]
