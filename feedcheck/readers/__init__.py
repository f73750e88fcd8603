"""Readers turn a stored source into a :class:`FeedInfo` and chunks of string rows.

Every chunk is a ``DataFrame`` of strings with canonical column names, indexed
by the item's row number in the source.  Chunks arrive lazily, so a feed of
any size is read in bounded memory.  There is one reader per kind of document
that :func:`~feedcheck.sources.decode.sniff` tells apart, in :data:`READERS`:
a new format is one module and one entry there, ``module:function``, imported when a feed of that kind is
opened (the readers bring pandas and lxml, which a run that reads nothing does without).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import feedcheck.readers.codes  # noqa: F401  (declares the finding codes this room raises)
from feedcheck.findings import FindingLog
from feedcheck.readers.base import FeedInfo
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import Opened, open_source

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeedInfo", "READERS", "open_feed"]

# The document's kind, its reader: (the opened source, the log, the limits, the source as shown, the charset an
# HTTP server declared) -> the feed's info and its chunks.
Reader = Callable[[Opened, FindingLog, ReadLimits, str, "str | None"], "tuple[FeedInfo, Iterator[pd.DataFrame]]"]
READERS = {"xml": "feedcheck.readers.xml:read_xml", "delimited": "feedcheck.readers.delimited:read_delimited"}


@contextmanager
def open_feed(
    path: Path,
    log: FindingLog,
    *,
    limits: ReadLimits = ReadLimits(),
    shown: str | None = None,
    charset: str | None = None,
) -> Iterator[tuple[FeedInfo, Iterator[pd.DataFrame]]]:
    """Open a feed file (plain or gzip), detect its format, and stream its items.

    Findings about the file (encoding, template rows, ragged rows…) go to
    ``log`` as they are met.  ``charset`` is what an HTTP server declared.

    Raises:
        FeedFormatError: the file is empty, not a feed, or unreadable; raised
            here or while iterating the chunks.
    """
    name = shown or str(path)
    opened = open_source(path, max_decompressed=limits.max_decompressed_bytes, shown=name,
                         max_ratio=limits.max_gzip_ratio)
    try:
        reader: Reader = pkgutil.resolve_name(READERS[opened.kind])
        yield reader(opened, log, limits, name, charset)
    finally:
        opened.close()
