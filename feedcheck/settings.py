"""Limits and defaults in one place, as frozen dataclasses with safe values.

Every number that bounds time, memory or output lives here, so a reader can see
what feedcheck will tolerate and a caller can change it in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from feedcheck.errors import ConfigError
from feedcheck.rules.countries import country_code


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
    max_gzip_ratio: int = 200  # past 1 MiB; feeds compress 5-20 times, a gzip bomb a thousand
    chunk_rows: int = 50_000
    max_columns: int = 1_000
    max_line_chars: int = 8 << 20  # a delimited line; rows are kilobytes, a file without line breaks is not a feed
    max_findings_per_code: int = 1_000
    processes: int = 0  # an XML feed of many chunks is read in parts by this many processes (0: one per processor);
    # 1 reads every feed in one pass, in this process

    def __post_init__(self) -> None:
        """
        Raises:
            ConfigError: a negative number of processes.
        """
        if self.processes < 0:
            raise ConfigError(f"processes (--processes) is 0 (one per processor), 1 (read in one process) or "
                              f"more; {self.processes} is not a number of processes.")


@dataclass(frozen=True)
class ChannelOptions:
    """Per-run choices for validation.

    ``currency`` is the catalog's currency (TikTok requires every price in it);
    when ``None`` it is inferred from the first items and the report says so.
    ``limits`` overrides length limits the channel does not publish officially,
    e.g. ``{"title": 255}``.  ``now`` is the moment the rules that compare
    dates judge at (``None``: when the check starts; see :mod:`feedcheck.clock`).
    ``countries`` are where the catalog is advertised (ISO 3166-1 codes; ``UK``
    is read as GB): a requirement Google makes only in some countries is an
    error there, and a warning that names them when ``countries`` is empty.
    """

    currency: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
    now: str | None = None
    countries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Read the countries as ISO 3166-1 codes, in order, each once.

        Raises:
            ConfigError: a country that is not an ISO 3166-1 alpha-2 code.
        """
        if isinstance(self.countries, str) or not all(isinstance(c, str) for c in self.countries):
            raise ConfigError(f"countries (--countries) is a list of ISO 3166-1 codes such as US or DE; "
                              f"got {self.countries!r}.")
        codes = [country_code(c) for c in self.countries]
        unknown = [c for c, code in zip(self.countries, codes) if code is None]
        if unknown:
            raise ConfigError(f"countries (--countries): {', '.join(map(repr, unknown))} is not an ISO 3166-1 "
                              "country code such as US, DE or GB.")
        object.__setattr__(self, "countries", tuple(dict.fromkeys(c for c in codes if c)))


PURCHASE_EVENTS = frozenset({"Purchase"})
CATALOG_EVENTS = frozenset({"ViewContent", "AddToCart", "Purchase"})
EVENT_FIELDS = (
    "event", "event_id", "event_time", "contents", "content_id", "content_type",
    "quantity", "price", "value", "currency", "order_id",
)


EVENT_READERS = ("blocks", "records")


@dataclass(frozen=True)
class EventOptions:
    """How to read and judge purchase-event logs.

    ``purchase_events`` need a value and a currency and carry revenue;
    ``catalog_events`` are the ones whose content ids must match the catalog
    (TikTok's ViewContent, AddToCart and Purchase by default; legacy names such
    as CompletePayment count as their current name).  ``fields`` maps the
    names in :data:`EVENT_FIELDS` to dotted paths for logs of another shape,
    e.g. ``{"event_id": "properties.eventId"}``; ``content_id``, ``quantity``,
    ``price`` and ``content_type`` are read inside each ``contents`` entry when
    ``contents`` is mapped.  ``id_patterns`` are extra regular expressions whose
    first group is the core of an id (``^myshop-(.+)$``), tried when a
    content_id does not match the catalog.

    ``reader`` is how JSON lines are read: ``"blocks"`` (``block_bytes`` at a
    time, as columns by Arrow, each record Arrow cannot take on its own) or
    ``"records"`` (every record on its own: slower, the same findings; for
    diagnosis and as the reference the block reader is tested against).
    """

    purchase_events: frozenset[str] = PURCHASE_EVENTS
    catalog_events: frozenset[str] = CATALOG_EVENTS
    fields: dict[str, str] = field(default_factory=dict)
    dedup_window_hours: float = 48.0
    value_tolerance: float = 0.01  # relative; value vs Σ price × quantity
    id_patterns: tuple[str, ...] = ()
    max_record_bytes: int = 8 << 20
    max_dedup_keys: int = 2_000_000
    max_tracked_ids: int = 200_000  # unmatched ids reported one by one; the rest are counted together
    max_decompressed_bytes: int = 64 << 30
    max_gzip_ratio: int = 200  # past 1 MiB; logs compress 5-30 times, a gzip bomb a thousand
    top_unmatched: int = 20
    reader: str = "blocks"
    block_bytes: int = 8 << 20
    processes: int = 0  # that parse the blocks of a log of many, without a cluster (0: one per processor; 1: none)

    def __post_init__(self) -> None:
        """Refuse options of the wrong kind, a reader feedcheck does not have, blocks too small to hold a line,
        or a negative number of processes.  (Field names and id patterns are checked where they are used:
        :meth:`feedcheck.events.shapes.FieldMap.from_options`, :meth:`feedcheck.events.catalog.Catalog.use_patterns`.)

        Raises:
            ConfigError: names the option and what it takes.
        """
        for name in ("purchase_events", "catalog_events"):
            names = getattr(self, name)
            if not isinstance(names, frozenset) or not names or not all(isinstance(n, str) and n for n in names):
                raise ConfigError(f"events {name} is a list of event names such as [\"Purchase\"]; got {names!r}.")
        if not isinstance(self.fields, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in self.fields.items()):
            raise ConfigError(f"events fields maps field names to dotted paths, e.g. {{ event_id = "
                              f"\"properties.eventId\" }}; got {self.fields!r}.")
        if not isinstance(self.id_patterns, tuple) or not all(isinstance(p, str) for p in self.id_patterns):
            raise ConfigError(f"events id_patterns is a list of regular expressions; got {self.id_patterns!r}.")
        window = self.dedup_window_hours
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:  # also refuses nan
            raise ConfigError(f"events dedup_window_hours (--dedup-window) is a positive number of hours; "
                              f"got {window!r}.")
        if self.reader not in EVENT_READERS:
            raise ConfigError(f"events reader {self.reader!r} is not one of {', '.join(EVENT_READERS)}.")
        if isinstance(self.block_bytes, bool) or not isinstance(self.block_bytes, int) or self.block_bytes < 256:
            raise ConfigError(f"events block_bytes is the size of a block of JSON lines, at least 256; "
                              f"got {self.block_bytes!r}.")
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) or self.processes < 0:
            raise ConfigError(f"events processes (--processes) is 0 (one per processor), 1 (none) or more; "
                              f"got {self.processes!r}.")


@dataclass(frozen=True)
class PublishOptions:
    """How a cleaned catalog is published, and when the quality gate refuses it.

    The gate refuses a fatal feed and a catalog with no valid items always;
    it refuses a drop of more than ``max_drop`` in valid items against the
    last published catalog, and a feed where more than ``max_error_share`` of
    the items have errors, unless ``accept_drop`` says the change is real.
    """

    format: str = "csv"
    keep: int = 5
    max_drop: float = 0.20
    max_error_share: float = 0.50
    accept_drop: bool = False

    def __post_init__(self) -> None:
        """Refuse values the gate cannot use; the message names the option as the feeds file and the CLI do.

        Raises:
            ConfigError: a share outside 0 to 1, or fewer than one version to keep.
        """
        share("gate.max_drop (--max-drop)", self.max_drop)
        share("gate.max_error_share (--max-error-share)", self.max_error_share)
        if isinstance(self.keep, bool) or not isinstance(self.keep, int) or self.keep < 1:
            raise ConfigError(f"gate.keep (--keep) is the number of published versions to keep, at least 1 (the "
                              f"published catalog itself is one); got {self.keep!r}.")


def share(name: str, value: object) -> None:
    """Refuse a share that is not a number from 0 to 1.

    Raises:
        ConfigError: names the option and what it takes.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} is a share between 0 and 1, e.g. 0.2 for 20%; got {value!r}.")
