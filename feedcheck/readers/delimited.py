"""CSV, TSV and the other delimited forms Meta accepts, read in chunks of strings.

Values stay exactly as written: no NA coercion (``NA`` and ``null`` are titles
too), no numbers (GTIN ``00012345678905`` keeps its zeros).  Rows are numbered
as a spreadsheet shows them, header = row 1, so a person can find them.
"""

from __future__ import annotations

import codecs
import csv
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from feedcheck.errors import FeedcheckError, FeedFormatError
from feedcheck.findings import FindingLog, Severity, make_finding
from feedcheck.readers.base import FeedInfo
from feedcheck.readers.fields import ID, canonical
from feedcheck.readers.text import TEXT
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import DecodingReader, Opened, detect_text_encoding

DELIMITERS = {"\t": "tsv", ",": "csv", ";": "csv", "|": "csv", "~": "csv"}
TEMPLATE_MARKERS = ("context", "columns", "example")
_WARNINGS = threading.Lock()  # catch_warnings is process-wide: feeds read side by side must not share it
_BAD_LINE_RE = re.compile(r"line (\d+): expected (\d+) fields, saw (\d+)")
_OPEN_QUOTE_RE = re.compile(r"EOF inside string starting at row (\d+)")
# A blank line, which pandas may skip and number the rows after it its own way.  The pattern starts with a plain
# byte, which the search looks for first: an alternation with ^ would try every byte (seconds per 70 MB).
_BLANK_LINE = re.compile(rb"\n[ \t]*\r?\n")
_BLANK_FIRST = re.compile(rb"[ \t]*\r?\n")


def sniff_delimiter(header: str) -> str:
    """The delimiter that splits the header into the most fields.

    >>> sniff_delimiter("id\\ttitle\\tprice")
    '\\t'
    >>> sniff_delimiter("id;title;price,extra")
    ';'
    """
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


@dataclass(frozen=True)
class Layout:
    """How a delimited feed's records are read, learnt from its head: what a part of it needs to be read alone."""

    encoding: str
    delimiter: str
    names: list[str]  # as the parser names the cells, hidden names for repeated columns included
    header_row: int  # the row of the header, after any template rows above it


def read_delimited(
    opened: Opened, log: FindingLog, limits: ReadLimits, shown: str, charset: str | None
) -> tuple[FeedInfo, Iterator[pd.DataFrame]]:
    """Open a delimited feed: its info now, its items as a lazy iterator of chunks.

    Raises:
        FeedFormatError: no header row, more columns than ``limits.max_columns``, a line longer than
            ``limits.max_line_chars`` or text the parser cannot split into rows, such as a quote never closed
            (raised here or while iterating the chunks).
    """
    encoding, findings = detect_text_encoding(opened.head, charset)
    log.extend(findings)
    decode_findings: list = []
    text = DecodingReader(opened.stream, encoding, decode_findings, max_line=limits.max_line_chars, shown=shown)
    header_row = 1
    header_line = text.readline()
    while header_line.lstrip().startswith("#"):
        log.add(make_finding("csv.template_row", row=header_row, value=header_line.strip()[:60]))
        header_row += 1
        header_line = text.readline()
    if not header_line.strip():
        raise FeedFormatError.of(
            "csv.no_header", f"{shown} has no header row naming the columns; the first line must list the field names."
        )
    delimiter = sniff_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    if len(header) > limits.max_columns:
        raise FeedFormatError.of(
            "csv.too_many_columns",
            f"{shown} has {len(header):,} columns; feeds have at most a few hundred, so the delimiter "
            f"or the file is wrong (limit {limits.max_columns:,}).",
        )
    names = _unique_names(header, log)
    info = FeedInfo(
        source=shown,
        format=DELIMITERS[delimiter],
        encoding=encoding,
        compressed=opened.compressed,
        delimiter=delimiter,
        columns=[n for n in names if not n.startswith("\x00")],
        layout=Layout(encoding, delimiter, names, header_row),
    )
    return info, _parsed(_chunks(text, names, delimiter, header_row, limits, log, decode_findings), header_row,
                         shown)


def _unique_names(header: list[str], log: FindingLog) -> list[str]:
    """Canonical names; repeats are renamed to hidden names and dropped later."""
    seen: dict[str, int] = {}
    names = []
    for position, raw in enumerate(header, start=1):
        name = canonical(raw) or f"column_{position}"
        if name in seen:
            log.add(
                make_finding(
                    "csv.duplicate_header", field=name, detail=f"columns {seen[name]} and {position}"
                )
            )
            name = f"\x00{position}"
        else:
            seen[name] = position
        names.append(name)
    return names


def delimited_chunks(raw: BinaryIO, layout: Layout, first: int, limits: ReadLimits,
                     log: FindingLog) -> Iterator[pd.DataFrame]:
    """The records of ``raw`` (a part of a feed, with no header), numbered as if ``first`` records came before
    them; the reader's findings go to ``log``, as the reader of the whole feed makes them."""
    decode_findings: list = []
    text = DecodingReader(raw, layout.encoding, decode_findings, max_line=limits.max_line_chars)
    return _parsed(_chunks(text, layout.names, layout.delimiter, layout.header_row + first, limits, log,
                           decode_findings), layout.header_row, "part")


def arrow_chunks(data: bytes, layout: Layout, first: int, limits: ReadLimits,
                 log: FindingLog) -> Iterator[pd.DataFrame] | None:
    """The records of ``data`` (a part of a feed, with no header) read by Arrow's CSV parser, in chunks as
    :func:`delimited_chunks` reads them; ``None`` where that reader might read them otherwise.

    Arrow parses several times faster than pandas, but it is trusted only
    with what both read alike: UTF-8 text, every record as long as the
    header, no blank line, no lone carriage return and no line past the
    limit.  Arrow refuses a short or long record itself; the rest is checked
    here, so a part that is anything else is read by pandas, with its findings.
    """
    if codecs.lookup(layout.encoding).name not in ("utf-8", "utf-8-sig") or not _plain_lines(data, limits):
        return None
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=layout.names, use_threads=False,
                                            block_size=max(1 << 20, len(data) + 1)),
            parse_options=pa_csv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in layout.names},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):
        return None
    frame = table.select([n for n in layout.names if not n.startswith("\x00")]).to_pandas(
        types_mapper={pa.string(): TEXT}.get)
    frame.index = np.arange(1, len(frame) + 1) + layout.header_row + first
    return (_drop_template_rows(frame.iloc[start:start + limits.chunk_rows], log)  # as asked for: the schema's
            for start in range(0, len(frame), limits.chunk_rows))  # key needs only the first of a few rows


def _plain_lines(data: bytes, limits: ReadLimits) -> bool:
    """No blank line, no lone carriage return, no line longer than the limit (in bytes, so in characters too)."""
    last = data[data.rfind(b"\n") + 1:]
    if data.count(b"\r") != data.count(b"\r\n") or _BLANK_FIRST.match(data) or _BLANK_LINE.search(data) \
            or (last and not last.strip()):
        return False
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    lengths = np.diff(breaks, prepend=-1, append=len(data))
    return not len(lengths) or int(lengths.max()) <= limits.max_line_chars


def _chunks(
    text: DecodingReader,
    names: list[str],
    delimiter: str,
    header_row: int,
    limits: ReadLimits,
    log: FindingLog,
    decode_findings: list,
) -> Iterator[pd.DataFrame]:
    reader = pd.read_csv(
        text,
        sep=delimiter,
        header=None,
        names=names,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        chunksize=limits.chunk_rows,
        engine="c",
        on_bad_lines="warn",
        index_col=False,
        skip_blank_lines=True,
    )
    skipped: list[int] = []  # record number of each skipped row, minus the skips before it
    # Bytes that are not text are told after the last chunk, not with the chunk whose read decoded them: the
    # parser reads ahead by an amount of its own, and a feed read in parts must tell them where one reader does.
    with reader:
        try:
            while True:
                with _WARNINGS, warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    chunk = next(reader, None)
                _report_bad_lines(caught, header_row, log, skipped)
                if chunk is None:
                    return
                chunk = chunk[[n for n in names if not n.startswith("\x00")]].fillna("")
                good = chunk.index.to_numpy() + 1
                chunk.index = good + np.searchsorted(skipped, good, side="right") + header_row
                yield _drop_template_rows(chunk, log)
        finally:
            log.extend(decode_findings)
            if text.unreported:
                log.count_only("decode.invalid_bytes", Severity.ERROR, text.unreported)


def _parsed(chunks: Iterator[pd.DataFrame], header_row: int, shown: str) -> Iterator[pd.DataFrame]:
    """``chunks``, with pandas' parser errors (raised from the first rows on) turned into the fatal finding."""
    try:
        yield from chunks
    except pd.errors.ParserError as exc:
        raise _malformed(exc, header_row, shown) from None


def _malformed(exc: pd.errors.ParserError, header_row: int, shown: str) -> FeedcheckError:
    """pandas' parser gave up: most often a quote opened and never closed, which would swallow the rest."""
    opened = _OPEN_QUOTE_RE.search(str(exc))
    if opened:
        row = int(opened.group(1)) + header_row + 1
        detail = (f"{shown}: the quoted cell that starts in row {row:,} is never closed, so every line after it "
                  "would be read as that one cell. The file is cut short, or a quote inside a cell is not doubled "
                  '(write "" for "); fix the export.')
    else:
        detail = f"{shown} cannot be read as delimited text ({exc}); check the export."
    return FeedFormatError.of("csv.malformed", detail)


def _report_bad_lines(
    caught: list[warnings.WarningMessage], header_row: int, log: FindingLog, skipped: list[int]
) -> None:
    """Turn pandas' skipped-line warnings into findings; remember them for row numbering."""
    for warning in caught:
        for record, expected, saw in _BAD_LINE_RE.findall(str(warning.message)):
            skipped.append(int(record) - len(skipped))
            row = int(record) + header_row
            log.add(
                make_finding(
                    "csv.ragged_row",
                    row=row,
                    detail=f"Row {row:,} has {saw} cells where the header has {expected}.",
                )
            )


def _drop_template_rows(chunk: pd.DataFrame, log: FindingLog) -> pd.DataFrame:
    """Remove TikTok template guidance rows (``#…``, context, columns, example)."""
    if ID not in chunk.columns or chunk.empty:
        return chunk
    first = chunk[ID].str.strip().str.lower()
    marker = first.isin(TEMPLATE_MARKERS) | first.str.startswith("#")
    if not marker.any():
        return chunk
    for row, value in chunk.loc[marker, ID].items():
        log.add(make_finding("csv.template_row", row=int(row), value=str(value)[:60]))
    return chunk.loc[~marker]
