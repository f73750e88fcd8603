"""What every reader reports about the feed it opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FeedInfo:
    """The detected shape of a feed, for the report."""

    source: str
    format: str  # "csv", "tsv", "rss" or "atom"
    encoding: str
    compressed: bool
    delimiter: str | None = None
    columns: list[str] = field(default_factory=list)
    layout: Any = field(default=None, repr=False, compare=False)  # what the reader needs to read a part alone
    parts: int | None = None  # the parts read beside the checking thread (a cluster, processes, a thread); None: none
