"""What every reader reports about the feed it opened."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FeedInfo:
    """The detected shape of a feed, for the report."""

    source: str
    format: str  # "csv", "tsv", "rss" or "atom"
    encoding: str
    compressed: bool
    delimiter: str | None = None
    columns: list[str] = field(default_factory=list)
    parts: int = 0  # the parts a cluster's workers read the feed in; 0 when it was read in this process
    read_whole: str = ""  # on a cluster, why (some of) the feed was read in this process (see cut_feed)
