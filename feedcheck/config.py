"""Limits and defaults in one place, as frozen dataclasses with safe values.

Every number that bounds time, memory or output lives here, so a reader can see
what feedcheck will tolerate and a caller can change it in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on fetching a source over HTTP(S).

    ``read_timeout`` is the longest wait between two bytes; ``deadline`` bounds
    the whole download, which a server dripping bytes would otherwise stretch
    forever.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float = 900.0
    max_bytes: int = 4 << 30  # what is downloaded; Google's scheduled fetch stops at 4 GB
    retries: int = 3
    backoff: float = 1.0
    retry_after_max: int = 60  # urllib3 would otherwise wait up to 6 h
    max_redirects: int = 5


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on turning bytes into items."""

    max_decompressed_bytes: int = 16 << 30
    chunk_rows: int = 50_000
    max_columns: int = 1_000
    max_findings_per_code: int = 1_000


@dataclass(frozen=True)
class ChannelOptions:
    """Per-run choices for validation.

    ``currency`` is the catalog's currency (TikTok requires every price in it);
    when ``None`` it is inferred from the first items and the report says so.
    ``limits`` overrides length limits the channel does not publish officially,
    e.g. ``{"title": 255}``.
    """

    currency: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
