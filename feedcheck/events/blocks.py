"""JSON-lines event logs read a block at a time by Arrow, as columns of the shapes logs mostly hold.

Reading records one by one in Python costs ten times parsing them, so a log
that is plain JSON lines is cut into blocks of whole lines and each block is
parsed by ``pyarrow.json`` against a fixed schema of the fields feedcheck
reads.  The records that are Events API 2.0 bodies, Events API 1.x
``pixel/track`` or ``pixel/batch`` bodies or browser pixel events, with every
field of the expected JSON type, become columns: one row per event.  Every
other record (another shape, a ``null`` where an object belongs, a field
whose mere presence changes how it is read) keeps its line, and
:mod:`feedcheck.events.read` reads it the record-by-record way, so both ways
give the same events.

A block Arrow cannot take as a whole (a line that is not JSON, a number where
the schema says text, undecodable bytes, lines that are not one record each,
a line that is a bare ``null``) is refused: :func:`parse_block` returns
``None`` and the caller reads the log from there record by record.
Presence matters where a value does not: Arrow reads an absent key and a
``null`` alike, so a record is only read as columns when its non-null values
alone decide its shape (:func:`columns` says how each shape is told).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

_NUMBER = pa.float64()
_TEXT = pa.string()
# Fields logged as text by some senders and as numbers by others; each tries its types in turn.
_FLEXIBLE: dict[str, tuple[pa.DataType, ...]] = {
    "event_time": (_NUMBER, _TEXT),  # Events API 2.0 sends unix seconds; some loggers write ISO text
    "timestamp": (_NUMBER, _TEXT),  # the pixel's and Events API 1.x's, often ISO 8601 text
    "order_id": (_TEXT, pa.int64()),
}
_PARSE_BLOCK = 1 << 20  # records must fit in one of Arrow's parse blocks
_COLUMN_RE = re.compile(r"Column\(([^)]*)\)")
# A line that is a bare ``null`` (a logger's ``json.dumps(None)``): Arrow's JSON reader crashes the process with a
# segmentation fault (pyarrow 26) when one opens any of its parse blocks, so a block holding one is refused.  Other
# bare values are errors Arrow reports.
_NULL_FIRST = re.compile(rb"[ \t\r\n]*null")
_NULL_LINE = re.compile(rb"\n[ \t]*null")  # a search for a literal first byte: about 3 ms per 8 MB block
_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_LEADING_BLANK = re.compile(rb"[ \t\r\x0b\x0c]*\n")
# The key whose presence alone (even with a null value) makes shapes.recognise read a record as a 1.x body.
PIXEL_CODE = b'"pixel_code"'
SHAPES = ("eapi2", "pixel", "eapi1")  # Columns.shape_code indexes this


def _schema(types: dict[str, pa.DataType]) -> pa.Schema:
    content = pa.struct([("content_id", _TEXT), ("content_type", _TEXT), ("quantity", _NUMBER), ("price", _NUMBER)])
    properties = pa.struct([("value", _NUMBER), ("currency", _TEXT), ("content_type", _TEXT),
                            ("order_id", types["order_id"]), ("contents", pa.list_(content)),
                            ("content_ids", pa.list_(_TEXT)), ("content_id", _TEXT)])
    event_fields = [("event", _TEXT), ("event_id", _TEXT), ("event_time", types["event_time"]),
                    ("timestamp", types["timestamp"]), ("properties", properties)]
    return pa.schema(event_fields + [
        ("event_source", _TEXT), ("event_source_id", _TEXT), ("pixel_code", _TEXT),
        ("context", pa.struct([("pixel", pa.struct([("code", _TEXT)]))])),
        ("data", pa.list_(pa.struct(event_fields))),
        ("batch", pa.list_(pa.struct(event_fields))),
    ])


@dataclass
class BlockParser:
    """Parses blocks with the schema, remembering which type each flexible field last parsed as."""

    types: dict[str, pa.DataType] = field(default_factory=lambda: {k: v[0] for k, v in _FLEXIBLE.items()})

    def parse(self, data: bytes, longest: int) -> pa.Table | None:
        """The block as a table of records, or ``None`` when Arrow cannot read it under any schema.

        ``longest`` is the longest line's length: Arrow's parse blocks must hold whole lines.
        """
        if _NULL_FIRST.match(data) or _NULL_LINE.search(data):
            return None
        tried = 0
        while tried <= sum(len(v) for v in _FLEXIBLE.values()):
            tried += 1
            try:
                return pa_json.read_json(
                    pa.BufferReader(data),
                    read_options=pa_json.ReadOptions(use_threads=False, block_size=max(_PARSE_BLOCK, longest + 1)),
                    parse_options=pa_json.ParseOptions(explicit_schema=_schema(self.types),
                                                       unexpected_field_behavior="ignore"),
                )
            except (pa.ArrowException, ValueError) as exc:
                if not self._switch(str(exc)):
                    return None
        return None

    def _switch(self, message: str) -> bool:
        """Move the field an error names to its next type; False when no flexible field is to blame."""
        found = _COLUMN_RE.search(message)
        name = found.group(1).rsplit("/", 1)[-1] if found else ""
        if not name and "int64" in message:
            name = next((n for n, t in self.types.items() if t == pa.int64()), "")
        choices = _FLEXIBLE.get(name)
        if not choices:
            return False
        position = choices.index(self.types[name])
        if position + 1 >= len(choices):
            self.types[name] = choices[0]
            return False
        self.types[name] = choices[position + 1]
        return True


@dataclass
class Columns:
    """The events of a block's column-read records, one row each, in file order.

    ``record`` is each event's record (its index in the block); a record's
    events are consecutive.  ``columnar`` marks the records read as columns;
    the others are read record by record.  Values are Arrow arrays, ``None``
    where the log had null or nothing.
    """

    columnar: np.ndarray
    record: np.ndarray
    shape_code: np.ndarray  # each event's shape, an index into SHAPES
    name: pa.Array
    event_id: pa.Array
    event_time: pa.Array  # the time of Events API 2.0 events
    timestamp: pa.Array  # the time of the others
    value: pa.Array
    currency: pa.Array
    content_type: pa.Array
    order_id: pa.Array
    contents: pa.Array  # list<struct<content_id, content_type, quantity, price>>
    content_ids: pa.Array  # consulted only when contents is empty
    content_id: pa.Array
    # Worked out beside the parse (feedcheck.events.clean.judge_columns), for the checking thread:
    current: pa.Array | None = None  # each event's name, a legacy one as the name it became
    seconds: np.ndarray | None = None  # each event's time in unix seconds, NaN when not read as columns
    purchase: np.ndarray | None = None  # which are purchase events
    catalog_event: np.ndarray | None = None  # which are catalog events, whose content ids are matched
    clean: np.ndarray | None = None  # which events need no finding of their own

    def __len__(self) -> int:
        return len(self.record)

    def time_raw(self, i: int) -> object:
        """Event ``i``'s time as logged."""
        return (self.timestamp if self.shape_code[i] else self.event_time)[i].as_py()


def split_lines(data: bytes, lines: list[bytes], rows: int) -> list[int] | None:
    """The index of each record's line in ``lines`` (``data.split(b"\\n")``); ``None`` when lines and records
    do not pair up."""
    count = len(lines) - (not lines[-1].strip())
    if count == rows and not _LEADING_BLANK.match(data) and not _BLANK_LINE.search(data):
        return list(range(rows))
    kept = [i for i, line in enumerate(lines[:count]) if line.strip()]
    if len(kept) != rows or any(not lines[i].lstrip().startswith(b"{") for i in kept):
        return None
    return kept


def columns(table: pa.Table, keyed: np.ndarray | None = None) -> Columns:
    """The events of the records of ``table`` whose shape their non-null values decide.

    ``keyed`` marks the records whose line holds the key ``"pixel_code"``
    (``None``: no line does).  In the order :func:`feedcheck.events.shapes.recognise`
    tries them, a record is read as columns when it is

    - an Events API 2.0 body: ``data`` a non-empty list of objects, and an ``event_source(_id)``;
    - a 1.x ``pixel/batch`` body: no ``data``, ``batch`` a non-empty list of objects, and a ``pixel_code``
      or ``event_source_id``;
    - a 1.x ``pixel/track`` body: no ``data`` or ``batch``, a ``pixel_code`` and an ``event``;
    - a browser pixel event: no ``data`` or ``batch``, no ``pixel_code`` key at all (a null one would make
      it a 1.x body), an ``event``, ``properties`` and ``context.pixel``.
    """
    n = table.num_rows
    has = {name: _valid(table[name]) for name in ("data", "batch", "event", "properties", "pixel_code",
                                                  "event_source", "event_source_id")}
    sources = has["event_source"] | has["event_source_id"]
    data, data_ok, data_parents = _entries(table["data"].combine_chunks(), n)
    batch, batch_ok, batch_parents = _entries(table["batch"].combine_chunks(), n)
    eapi2 = data_ok & sources
    listless = ~has["data"] & ~has["batch"]
    eapi1_batch = ~has["data"] & batch_ok & (has["pixel_code"] | has["event_source_id"])
    eapi1_track = listless & has["pixel_code"] & has["event"]
    pixel = (listless & (~keyed if keyed is not None else True) & has["event"] & has["properties"]
             & _valid(pc.struct_field(table["context"].combine_chunks(), "pixel")))
    top = table.select(["event", "event_id", "event_time", "timestamp", "properties"]).to_struct_array()
    top = top.combine_chunks() if isinstance(top, pa.ChunkedArray) else top
    code = np.select([eapi2, pixel], [0, 1], 2)
    picked = [(data, np.flatnonzero(eapi2[data_parents]), data_parents),
              (batch, np.flatnonzero(eapi1_batch[batch_parents]), batch_parents),
              (top, np.flatnonzero(eapi1_track | pixel), np.arange(n))]
    events = pa.concat_arrays([source.take(pa.array(rows, pa.int64())) for source, rows, _ in picked])
    record = np.concatenate([parents[rows] for _, rows, parents in picked]).astype(np.int64)
    order = np.argsort(record, kind="stable")
    events = events.take(pa.array(order, pa.int64()))
    record = record[order]
    shape_code = code[record].astype(np.int8)
    properties = pc.struct_field(events, "properties")
    return Columns(
        columnar=eapi2 | eapi1_batch | eapi1_track | pixel,
        record=record,
        shape_code=shape_code,
        name=pc.struct_field(events, "event"),
        event_id=pc.struct_field(events, "event_id"),
        event_time=pc.struct_field(events, "event_time"),
        timestamp=pc.struct_field(events, "timestamp"),
        value=pc.struct_field(properties, "value"),
        currency=pc.struct_field(properties, "currency"),
        content_type=pc.struct_field(properties, "content_type"),
        order_id=pc.struct_field(properties, "order_id"),
        contents=pc.struct_field(properties, "contents"),
        content_ids=pc.struct_field(properties, "content_ids"),
        content_id=pc.struct_field(properties, "content_id"),
    )


def _valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.is_valid(values).to_numpy(zero_copy_only=False)


def _entries(lists: pa.Array, n: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A list column's entries, which of the ``n`` records hold a non-empty list of objects (no null entry),
    and each entry's record."""
    entries = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy()
    ok = _valid(lists) & (pc.fill_null(pc.list_value_length(lists), 0).to_numpy() > 0)
    if len(entries):
        np.logical_and.at(ok, parents, _valid(entries))
    return entries, ok, parents
