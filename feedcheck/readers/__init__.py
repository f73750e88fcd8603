"""Readers turn a stored source into a :class:`FeedInfo` and chunks of string rows.

Every chunk is a ``DataFrame`` of strings with canonical column names, indexed
by the item's row number in the source.  Chunks arrive lazily, so a feed of
any size is read in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from feedcheck.findings import FindingLog
from feedcheck.readers.base import FeedInfo
from feedcheck.readers.delimited import read_delimited
from feedcheck.readers.xml import read_xml
from feedcheck.settings import ReadLimits
from feedcheck.sources.decode import open_source

__all__ = ["FeedInfo", "open_feed"]


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
        if opened.kind == "xml":
            yield read_xml(opened, log, limits, name)
        else:
            yield read_delimited(opened, log, limits, name, charset)
    finally:
        opened.close()
