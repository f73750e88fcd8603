"""JSON-lines event logs read a block at a time by Arrow, as columns of the two shapes logs mostly hold.

Reading records one by one in Python costs ten times parsing them, so a log
that is plain JSON lines is cut into blocks of whole lines and each block is
parsed by ``pyarrow.json`` against a fixed schema of the fields feedcheck
reads.  The records that are Events API 2.0 bodies or browser pixel events,
with every field of the expected JSON type, become columns: one row per
event.  Every other record (another shape, a ``null`` where an object
belongs, a field whose mere presence changes how it is read) keeps its line,
and :mod:`feedcheck.events.read` reads it the record-by-record way, so both ways
give the same events.

A block Arrow cannot take as a whole (a line that is not JSON, a number where
the schema says text, undecodable bytes, lines that are not one record each,
a line that is a bare ``null``) is refused: :func:`parse_block` returns
``None`` and the caller reads the log from there record by record.
Presence matters where a value does not: Arrow reads an absent key and a
``null`` alike, so a record is only read as columns when its non-null values
alone decide its shape.
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
    "time": (_NUMBER, _TEXT),  # event_time and timestamp
    "order_id": (_TEXT, pa.int64()),
}
_FIELD_GROUP = {"event_time": "time", "timestamp": "time", "order_id": "order_id"}
_PARSE_BLOCK = 1 << 20  # records must fit in one of Arrow's parse blocks
_COLUMN_RE = re.compile(r"Column\(([^)]*)\)")
# A line that is a bare ``null`` (a logger's ``json.dumps(None)``): Arrow's JSON reader crashes the process with a
# segmentation fault (pyarrow 26) when one opens any of its parse blocks, so a block holding one is refused.  Other
# bare values are errors Arrow reports.
_NULL_FIRST = re.compile(rb"[ \t\r\n]*null")
_NULL_LINE = re.compile(rb"\n[ \t]*null")  # a search for a literal first byte: about 3 ms per 8 MB block
_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_LEADING_BLANK = re.compile(rb"[ \t\r\x0b\x0c]*\n")
# Keys whose presence alone (even with a null value) makes eventlog.recognise read a record another way.
PRESENCE_KEYS = (b'"pixel_code"', b'"batch"')


def _schema(types: dict[str, pa.DataType]) -> pa.Schema:
    content = pa.struct([("content_id", _TEXT), ("content_type", _TEXT), ("quantity", _NUMBER), ("price", _NUMBER)])
    properties = pa.struct([("value", _NUMBER), ("currency", _TEXT), ("content_type", _TEXT),
                            ("order_id", types["order_id"]), ("contents", pa.list_(content)),
                            ("content_ids", pa.list_(_TEXT)), ("content_id", _TEXT)])
    event_fields = [("event", _TEXT), ("event_id", _TEXT), ("event_time", types["time"]),
                    ("timestamp", types["time"]), ("properties", properties)]
    return pa.schema(event_fields + [
        ("event_source", _TEXT), ("event_source_id", _TEXT),
        ("context", pa.struct([("pixel", pa.struct([("code", _TEXT)]))])),
        ("data", pa.list_(pa.struct(event_fields))),
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
        name = _FIELD_GROUP.get(found.group(1).rsplit("/", 1)[-1], "") if found else ""
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
    shape: list[str]
    name: pa.Array
    event_id: pa.Array
    time_raw: pa.Array
    value: pa.Array
    currency: pa.Array
    content_type: pa.Array
    order_id: pa.Array
    contents: pa.Array  # list<struct<content_id, content_type, quantity, price>>
    content_ids: pa.Array  # consulted only when contents is empty
    content_id: pa.Array

    def __len__(self) -> int:
        return len(self.record)


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


def columns(table: pa.Table, presence_free: bool) -> Columns:
    """The events of the Events API 2.0 and pixel records of ``table``.

    ``presence_free`` says that no key of :data:`PRESENCE_KEYS` occurs in the
    block, without which no record is read as columns.
    """
    n = table.num_rows
    data = table["data"].combine_chunks()
    sources = pc.or_(pc.is_valid(table["event_source"]), pc.is_valid(table["event_source_id"]))
    entries = pc.list_flatten(data)
    parents = pc.list_parent_indices(data).to_numpy()
    lengths = pc.fill_null(pc.list_value_length(data), 0).to_numpy()
    all_entries = np.ones(n, dtype=bool)
    if len(entries):
        null_entry = pc.is_null(entries).to_numpy(zero_copy_only=False)
        np.logical_and.at(all_entries, parents, ~null_entry)
    eapi2 = (pc.is_valid(data).to_numpy(zero_copy_only=False) & pc.fill_null(sources, False).to_numpy(
        zero_copy_only=False) & (lengths > 0) & all_entries)
    pixel = (~pc.is_valid(data).to_numpy(zero_copy_only=False)
             & pc.is_valid(table["event"]).to_numpy(zero_copy_only=False)
             & pc.is_valid(table["properties"]).to_numpy(zero_copy_only=False)
             & pc.is_valid(pc.struct_field(table["context"].combine_chunks(), "pixel")).to_numpy(zero_copy_only=False))
    if not presence_free:
        eapi2[:] = False
        pixel[:] = False
    columnar = eapi2 | pixel
    from_entries = np.flatnonzero(eapi2[parents]) if len(parents) else np.array([], dtype=np.int64)
    top = table.select(["event", "event_id", "event_time", "timestamp", "properties"]).to_struct_array()
    top = top.combine_chunks() if isinstance(top, pa.ChunkedArray) else top
    pixel_rows = np.flatnonzero(pixel)
    events = pa.concat_arrays([entries.take(pa.array(from_entries, pa.int64())),
                               top.take(pa.array(pixel_rows, pa.int64()))])
    record = np.concatenate([parents[from_entries], pixel_rows]).astype(np.int64)
    order = np.argsort(record, kind="stable")
    events = events.take(pa.array(order, pa.int64()))
    record = record[order]
    is_pixel = pixel[record]
    time_raw = pc.if_else(pa.array(is_pixel), pc.struct_field(events, "timestamp"),
                          pc.struct_field(events, "event_time"))
    properties = pc.struct_field(events, "properties")
    return Columns(
        columnar=columnar,
        record=record,
        shape=["pixel" if p else "eapi2" for p in is_pixel.tolist()],
        name=pc.struct_field(events, "event"),
        event_id=pc.struct_field(events, "event_id"),
        time_raw=time_raw,
        value=pc.struct_field(properties, "value"),
        currency=pc.struct_field(properties, "currency"),
        content_type=pc.struct_field(properties, "content_type"),
        order_id=pc.struct_field(properties, "order_id"),
        contents=pc.struct_field(properties, "contents"),
        content_ids=pc.struct_field(properties, "content_ids"),
        content_id=pc.struct_field(properties, "content_id"),
    )
