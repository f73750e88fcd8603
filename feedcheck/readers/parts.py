"""A feed cut into parts that parse on their own, so that a cluster's workers read them side by side.

Each part but the last holds exactly ``chunk_rows`` items, so the chunks a
worker reads, their row numbers and the order of their findings are those of
a read in one process.  Cuts are made only where they are safe, and a part
that turns out otherwise is refused by its worker (:attr:`PartRead.refused`):
the caller then reads on in one process from that part, which gives the same
findings as a read that never cut.

- XML is cut between two items, where an item's end tag is followed by the
  next item's start tag.  A part is the document's head (declaration, root
  and channel opened, namespaces declared), its items, and the document's
  tail, so it parses alone.  The cut is found by counting end tags, so an end
  tag written inside a CDATA section, comment or processing instruction puts
  it in the wrong place; the part before the cut then leaves that section
  open and fails to parse, or its items do not add up.
- Delimited text is cut after a line break outside quotes, found by a scan
  that counts quotes.  A quote inside an unquoted cell (``5" screen``) fools
  the count, but only into a cut the parts then refuse: a part read to its
  end without a quoted cell left open ends where the whole file's reader is
  between records too, and a part must hold exactly its rows.  So a part
  holding a blank line, a ragged row or bytes that are not text is refused
  as well, since pandas' reader numbers rows around those.
- gzip is unpacked once into a spool beside the feed, capped as a read is,
  and the spool is cut.  UTF-16 text is not cut: its quotes, line breaks and
  tags are not the bytes searched for.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import mmap
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.errors import FeedcheckError
from feedcheck.findings import FindingLog, HeldFindings
from feedcheck.readers.base import FeedInfo
from feedcheck.readers.delimited import Layout, arrow_chunks, delimited_chunks
from feedcheck.readers.xml import ItemNotes, xml_chunks
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import open_source, xml_encoding_override

_BLOCK = 1 << 20  # bytes counted at a time while looking for the next cut
_SCAN = 1 << 23  # bytes of delimited text scanned for line breaks outside quotes at a time
_MAX_TAIL = 1 << 16  # a document tail longer than this is not a plain closing of the channel: do not cut
# Why a feed is not cut, or not all of it (the words of the ``feed.read_whole`` finding).
READ_WHOLE = {
    "utf16": "UTF-16 text is not cut into parts; export the feed in UTF-8",
    "no_cut": "no place was found where a part could safely end",
    "refused": "the part from row {row:,} did not read on its own, so the rest was read in one process",
}
_FIRST_ITEM = {"rss": re.compile(rb"<(item)[\s>/]"), "atom": re.compile(rb"<((?:[\w.-]+:)?entry)[\s>/]")}
_READ_AS_IS = frozenset({"csv.template_row"})  # what a part's reader may find and still be read apart


@dataclass(frozen=True)
class Part:
    """What a worker needs to read its part of a feed; the bytes travel beside it (see :func:`read_part`).

    ``first_row`` counts the items (XML) or records (delimited text) before the part; ``items`` is the number
    the part must hold, ``None`` for the last part (all that is left).  ``encoding`` is lxml's override for
    XML, ``layout`` how delimited text is read.
    """

    kind: str
    first_row: int
    items: int | None
    encoding: str | None = None
    layout: Layout | None = None

    @property
    def row(self) -> int:
        """The row of the part's first item, as findings number rows (a delimited feed's header is a row)."""
        return self.first_row + 1 + (self.layout.header_row if self.layout is not None else 0)


@dataclass
class PartRead:
    """A part read: its chunks, the reader's findings and notes on them, and why it was refused, if it was."""

    chunks: list[pd.DataFrame] = field(default_factory=list)
    findings: HeldFindings | None = None
    notes: ItemNotes | None = None
    refused: str = ""


@contextlib.contextmanager
def cut_feed(path: Path, info: FeedInfo, limits: ReadLimits,
             shown: str) -> Iterator[Iterator[tuple[Part, bytes]] | str]:
    """The parts of the feed at ``path`` (as its reader found it: ``info``) with their bytes, lazily; or why the
    feed is not cut: ``small`` (no more items than a chunk) or a key of :data:`READ_WHOLE`."""
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(_unpacked(path, limits, shown))
        if plain.stat().st_size == 0:
            yield "small"
            return
        handle = stack.enter_context(plain.open("rb"))
        view = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        if view[:4].startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or info.encoding.startswith("utf-16"):
            yield "utf16"
        elif info.format in _FIRST_ITEM:
            yield _xml_parts(view, info.format, limits.chunk_rows)
        else:
            yield _delimited_parts(view, info.layout, limits.chunk_rows)


def read_part(part: Part, data: bytes, limits: ReadLimits) -> PartRead:
    """Read a part's chunks from its bytes, as the reader of the whole feed would have; never raises for the
    feed's sake: a part that does not read alone, or holds other items than its cut said, is refused."""
    notes = ItemNotes()
    found = HeldFindings(FindingLog(max_per_code=limits.max_findings_per_code))
    try:
        chunks = list(_chunks_of(part, data, limits, notes, found))
    except FeedcheckError as exc:
        return PartRead(refused=exc.finding.code)
    codes = found.codes()
    if set(codes) - _READ_AS_IS:
        return PartRead(refused=", ".join(sorted(set(codes) - _READ_AS_IS)))
    items = sum(len(chunk) for chunk in chunks) + codes["csv.template_row"]
    if part.items is not None and items != part.items:
        return PartRead(refused=f"{items} items where the cut counted {part.items}")
    return PartRead(chunks, found, notes)


def first_items(part: Part, data: bytes, limits: ReadLimits, rows: int) -> pd.DataFrame | None:
    """The first chunk of ``rows`` rows of a part (``None`` if it does not read), read in this process."""
    found = HeldFindings(FindingLog(max_per_code=limits.max_findings_per_code))
    try:
        return next(_chunks_of(part, data, replace(limits, chunk_rows=rows), ItemNotes(), found), None)
    except FeedcheckError:
        return None


def _chunks_of(part: Part, data: bytes, limits: ReadLimits, notes: ItemNotes,
               found: FindingLog) -> Iterator[pd.DataFrame]:
    if part.layout is not None:
        read = arrow_chunks(data, part.layout, part.first_row, limits, found)
        return read if read is not None else delimited_chunks(io.BytesIO(data), part.layout, part.first_row, limits,
                                                               found)
    return xml_chunks(io.BytesIO(data), part.encoding, limits, "part", notes, part.first_row)


@contextlib.contextmanager
def _unpacked(path: Path, limits: ReadLimits, shown: str) -> Iterator[Path]:
    """``path`` itself, or for gzip a spool of its unpacked bytes (capped as a read is), removed afterwards."""
    opened = open_source(path, max_decompressed=limits.max_decompressed_bytes, shown=shown,
                         max_ratio=limits.max_gzip_ratio)
    with contextlib.closing(opened):
        if not opened.compressed:
            yield path
            return
        with tempfile.TemporaryDirectory(prefix="feedcheck-unpacked-", dir=path.parent) as folder:
            spool = Path(folder) / "feed"
            with spool.open("wb") as out:
                shutil.copyfileobj(opened.stream, out, _BLOCK)
            yield spool


def _delimited_parts(view: mmap.mmap, layout: Layout, chunk_rows: int) -> Iterator[tuple[Part, bytes]] | str:
    """Cuts after every ``chunk_rows``-th line break outside quotes, from the first record on."""
    head = view[:1 << 16]
    if head.count(b"\r") != head.count(b"\r\n"):
        return "no_cut"  # pandas ends a record at a lone carriage return too, which the scan does not count
    start = 0
    for _ in range(layout.header_row):
        start = view.find(b"\n", start) + 1
        if start == 0:
            return "small"
    cuts = [cut for cut in _record_ends(view, start, chunk_rows) if cut < len(view)]
    if not cuts:
        return "small"
    return _slices(view, [start, *cuts], lambda number, last: Part(
        "delimited", number * chunk_rows, None if last else chunk_rows, layout=layout))


def _record_ends(view: mmap.mmap, start: int, every: int) -> list[int]:
    """The offset after every ``every``-th line break that an even number of quotes precedes, from ``start``.

    Quotes and line breaks are few among a block's bytes: each break's parity is the count of quotes before it,
    found by a binary search among the quotes' offsets rather than by a running count over every byte.
    """
    ends: list[int] = []
    data = np.frombuffer(view, dtype=np.uint8)
    try:
        parity, since = 0, 0
        for at in range(start, len(data), _SCAN):
            block = data[at:at + _SCAN]
            quotes = np.flatnonzero(block == ord('"'))
            breaks = np.flatnonzero(block == ord("\n"))
            breaks = breaks[(np.searchsorted(quotes, breaks) + parity) % 2 == 0]
            ends.extend((at + breaks[every - since - 1::every] + 1).tolist())
            since = (since + len(breaks)) % every
            parity = (parity + len(quotes)) % 2
            _forget(view, at, at + len(block))
    finally:
        del data  # the map cannot close while an array views it
    return ends


def _xml_parts(view: mmap.mmap, fmt: str, chunk_rows: int) -> Iterator[tuple[Part, bytes]] | str:
    """Cuts after every ``chunk_rows``-th item end tag that the next item's start tag follows."""
    head_bytes = view[:1 << 16]
    first = _FIRST_ITEM[fmt].search(view)
    if first is None:
        return "no_cut"
    tag = first.group(1)
    end_tag = b"</" + tag + b">"
    last_end = view.rfind(end_tag)
    if last_end < 0 or len(view) - last_end - len(end_tag) > _MAX_TAIL:
        return "no_cut"
    encoding, _ = xml_encoding_override(head_bytes)
    head, tail = view[:first.start()], view[last_end + len(end_tag):]
    after = _after_nth(view, end_tag, first.start(), chunk_rows)
    if after is None or after > last_end:
        return "small"
    cuts = _cuts(view, end_tag, re.compile(rb"\s*<" + re.escape(tag) + rb"[\s>/]"), after, chunk_rows)
    if not cuts:
        return "no_cut"
    return _slices(view, [0, *cuts], lambda number, last: Part(
        "xml", number * chunk_rows, None if last else chunk_rows, encoding), head, tail)


def _slices(view: mmap.mmap, starts: list[int], part: Any, head: bytes = b"",
            tail: bytes = b"") -> Iterator[tuple[Part, bytes]]:
    """Each part (``part(number, last)``) with its bytes: ``head`` (the first part has its own), its slice of
    ``view``, and ``tail`` (the last part has its own)."""
    for number, start in enumerate(starts):
        last = number == len(starts) - 1
        end = len(view) if last else starts[number + 1]
        data = b"".join((head if number else b"", view[start:end], b"" if last else tail))
        _forget(view, start, end)
        yield part(number, last), data


def _forget(view: mmap.mmap, start: int, end: int) -> None:
    """Let the pages of ``view`` between ``start`` and ``end``, read and done with, go from this process's memory
    (the file stays in the system's cache): a feed of a gigabyte would otherwise all count as this process's."""
    if hasattr(mmap, "MADV_DONTNEED"):
        start -= start % mmap.PAGESIZE
        view.madvise(mmap.MADV_DONTNEED, start, end - start)


def _cuts(view: mmap.mmap, end_tag: bytes, next_item: re.Pattern[bytes], after: int | None,
          every: int) -> list[int]:
    """Where each part after the first starts: at the start tag that follows the ``every``-th end tag after
    the last cut (the first of them just before ``after``).  Counting stops at the first end tag that no start
    tag follows (the feed's last item)."""
    cuts = []
    while after is not None:
        following = next_item.match(view, after)
        if following is None:
            break
        cuts.append(following.end() - len(following.group(0).lstrip()))
        after = _after_nth(view, end_tag, cuts[-1], every)
    return cuts


def _after_nth(view: mmap.mmap, end_tag: bytes, start: int, n: int) -> int | None:
    """The offset just after the ``n``-th ``end_tag`` from ``start``, counted a block at a time."""
    while start < len(view):
        stop = min(start + _BLOCK, len(view))
        block = view[start:stop]
        _forget(view, start, stop)
        found = block.count(end_tag)
        if found >= n:
            at = -1
            for _ in range(n):
                at = block.find(end_tag, at + 1)
            return start + at + len(end_tag)
        n -= found
        if stop == len(view):
            return None
        start = stop - len(end_tag) + 1
    return None
