"""A feed cut into parts that parse on their own, so that a cluster's workers read them side by side.

Each part but the last holds exactly ``chunks × chunk_rows`` items, so the
chunks a worker reads, their row numbers and the order of their findings are
those of a read in one process.  Cuts are made only where they are safe:

- XML is cut between two items, where an item's end tag is followed by the
  next item's start tag.  A part is the document's head (declaration, root
  and channel opened, namespaces declared), its items, and the document's
  tail, so it parses alone.  The cut is found by counting end tags, so an end
  tag written inside a CDATA section, comment or processing instruction puts
  it in the wrong place; the part before the cut then leaves that section
  open and fails to parse, or its items do not add up, and its worker says
  so (:class:`PartRefused`).  The caller then reads on in one process from
  that part, which gives the same findings as a read that never split.
- gzip is unpacked once into a spool beside the feed, capped as a read is,
  and the spool is cut.  Text that is not ASCII-compatible (UTF-16) is not
  cut: its end tags are not the bytes searched for.

Delimited text is not cut yet: a quoted cell may hold newlines, and pandas'
reader numbers rows around skipped and blank lines.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from feedcheck.errors import FeedcheckError
from feedcheck.readers.xml import ItemNotes, xml_chunks
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import open_source, xml_encoding_override

_BLOCK = 1 << 20  # bytes counted at a time while looking for the next cut
_MAX_TAIL = 1 << 16  # a document tail longer than this is not a plain closing of the channel: do not cut
# Why a feed is not cut, or not all of it (the words of the ``feed.read_whole`` finding).
READ_WHOLE = {
    "delimited": "CSV and TSV are not cut into parts yet, since a quoted cell may hold line breaks",
    "utf16": "UTF-16 text is not cut into parts; export the feed in UTF-8",
    "no_cut": "no item's end is followed by the next item's start where a part would end",
    "refused": "the part from row {row:,} did not parse on its own, so the rest was read in one process",
}
_FIRST_ITEM = {"rss": re.compile(rb"<(item)[\s>/]"), "atom": re.compile(rb"<((?:[\w.-]+:)?entry)[\s>/]")}


@dataclass(frozen=True)
class Part:
    """What a worker needs to read its part of a feed; the bytes travel beside it (see :func:`read_part`).

    ``first_row`` is the row number of the item before the part's first (0 for the feed's first part);
    ``items`` is the number the part must hold, ``None`` for the last part (all that is left).
    """

    kind: str
    first_row: int
    items: int | None
    encoding: str | None = None


@dataclass
class PartRead:
    """A part read: its chunks, what the reader noted across them, and why it could not be read, if so."""

    chunks: list[pd.DataFrame] = field(default_factory=list)
    notes: Any = None
    refused: str = ""


class PartRefused(Exception):
    """A part did not parse alone, or held other items than its cut said: read it in one process."""


@contextlib.contextmanager
def cut_feed(path: Path, fmt: str, limits: ReadLimits, shown: str) -> Iterator[Iterator[tuple[Part, bytes]] | str]:
    """The parts of the feed at ``path`` (in the format its reader found) with their bytes, lazily; or why the
    feed is not cut: ``small`` (no more items than a chunk) or a key of :data:`READ_WHOLE`."""
    if fmt not in _FIRST_ITEM:
        yield "delimited"
        return
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(_unpacked(path, limits, shown))
        if plain.stat().st_size == 0:
            yield "small"
            return
        handle = stack.enter_context(plain.open("rb"))
        view = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        yield _xml_parts(view, fmt, limits.chunk_rows)


def read_part(part: Part, data: bytes, limits: ReadLimits) -> PartRead:
    """Read a part's chunks from its bytes, as the reader of the whole feed would have; never raises for the
    feed's sake: a part that does not parse alone, or holds other items than its cut said, is refused."""
    notes = ItemNotes()
    try:
        chunks = list(xml_chunks(io.BytesIO(data), part.encoding, limits, "part", notes, part.first_row))
    except FeedcheckError as exc:
        return PartRead(refused=exc.finding.code)
    items = sum(len(chunk) for chunk in chunks)
    if part.items is not None and items != part.items:
        return PartRead(refused=f"{items} items where the cut counted {part.items}")
    return PartRead(chunks, notes)


def first_items(part: Part, data: bytes, limits: ReadLimits, rows: int) -> pd.DataFrame | None:
    """The first ``rows`` items of a part (``None`` if it does not parse), read in this process."""
    notes = ItemNotes()
    few = ReadLimits(**{**limits.__dict__, "chunk_rows": rows})
    try:
        return next(xml_chunks(io.BytesIO(data), part.encoding, few, "part", notes, part.first_row), None)
    except FeedcheckError:
        return None


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


def _xml_parts(view: mmap.mmap, fmt: str, chunk_rows: int) -> Iterator[tuple[Part, bytes]] | str:
    """Cuts after every ``chunk_rows``-th item end tag that the next item's start tag follows."""
    head_bytes = view[:1 << 16]
    if head_bytes.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf16"
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
    cuts = _cuts(view, end_tag, re.compile(rb"\s*<" + re.escape(tag) + rb"[\s>/]"), first.start(), chunk_rows)
    if not cuts:
        after = _after_nth(view, end_tag, first.start(), chunk_rows)
        return "small" if after is None or after > last_end else "no_cut"
    return _parts(view, head, tail, [first.start(), *cuts], fmt, chunk_rows, encoding)


def _parts(view: mmap.mmap, head: bytes, tail: bytes, starts: list[int], fmt: str, chunk_rows: int,
           encoding: str | None) -> Iterator[tuple[Part, bytes]]:
    for number, start in enumerate(starts):
        last = number == len(starts) - 1
        end = len(view) if last else starts[number + 1]
        data = b"".join((head if number else view[:start], view[start:end], b"" if last else tail))
        yield Part("xml", number * chunk_rows, None if last else chunk_rows, encoding), data


def _cuts(view: mmap.mmap, end_tag: bytes, next_item: re.Pattern[bytes], start: int, every: int) -> list[int]:
    """Where each part after the first starts: at the start tag that follows the ``every``-th end tag after
    the last cut.  Counting stops at the first end tag that no start tag follows (the feed's last item)."""
    cuts = []
    while (after := _after_nth(view, end_tag, start, every)) is not None:
        following = next_item.match(view, after)
        if following is None:
            break
        start = following.end() - len(following.group(0).lstrip())
        cuts.append(start)
    return cuts


def _after_nth(view: mmap.mmap, end_tag: bytes, start: int, n: int) -> int | None:
    """The offset just after the ``n``-th ``end_tag`` from ``start``, counted a block at a time."""
    while start < len(view):
        stop = min(start + _BLOCK, len(view))
        block = view[start:stop]
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
