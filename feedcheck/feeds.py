"""The feeds file: which feeds to check, where their reports go, when, and whom to alert.

``feeds.toml`` has optional ``[defaults]`` (with ``[defaults.gate]`` and
``[defaults.alerts]``) and one ``[[feed]]`` table per feed::

    [defaults]
    out = "out/feeds"                 # each feed publishes to out/<name>/ (or s3://…/<name>/, sftp://…/<name>/)
    work = "state"                    # with a URL in out: each feed's reports and state in state/<name>/
    feeds_at_once = 4                 # check-all-feeds: feeds checked side by side (more on PostgreSQL)
    spread = "threads"                # or "deployments": check-all-feeds runs each feed's own deployment
    channel = "tiktok"
    format = "csv"

    [[feed]]
    name = "northwind-tiktok"
    source = "https://shop.example/feeds/tiktok.csv"
    events = ["logs/server/*.jsonl.gz"]
    event_options = { fields = { event_id = "properties.eventId" }, id_patterns = ["^myshop-(.+)$"],
                      purchase_events = ["Purchase", "Subscribe"], dedup_window_hours = 48 }
    schedule = { cron = "0 * * * *", timezone = "Europe/Berlin" }   # or { interval = "30m" }
    auth = { header_env = { Authorization = "FEED_TOKEN" } }       # or { basic_env = ["USER", "PASSWORD"] }
    gate = { max_drop = 0.1 }
    alerts = { slack_webhook = "env:FEEDCHECK_SLACK_WEBHOOK", min_match_rate = 0.9 }
    timeout = 300                     # seconds for the whole download; max_bytes caps its size
    limits = { title = 255 }          # lengths the channel does not publish

Everything is checked on load: a mistake is a :class:`~feedcheck.errors.ConfigError`
that names the feed, the key and what is allowed.  Credentials are only ever
named (an environment variable, or a Prefect block as ``block:NAME``), never
written in the file; a webhook URL in the file is refused.  Relative paths are
relative to the file.  (One module for the whole file, about 470 lines:
each key's check sits beside the others'.)
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedcheck.cluster import check_address
from feedcheck.errors import ConfigError
from feedcheck.publish.destinations import check_destination, is_remote
from feedcheck.publish.formats import FORMATS
from feedcheck.rules.channels import CHANNEL_NAMES
from feedcheck.settings import ChannelOptions, EventOptions, FetchLimits, PublishOptions, ReadLimits, share
from feedcheck.sources.fetch import Auth
from feedcheck.sources.redact import redact_url

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_INTERVAL = re.compile(r"^(\d+)\s*([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
_SECRET_REF = re.compile(r"^(env|block):[A-Za-z_][A-Za-z0-9_.-]*$")
_FEED_KEYS = {"name", "source", "channel", "events", "out", "work", "format", "currency", "countries", "schedule",
              "auth", "gate", "alerts", "timeout", "max_bytes", "limits", "dask", "event_options", "publish_reports"}
_DEFAULT_KEYS = {"out", "work", "fleet_page", "feeds_at_once", "spread", "channel", "format", "countries", "gate",
                 "alerts", "schedule", "dask", "event_options", "publish_reports"}
_EVENT_KEYS = {"fields", "id_patterns", "purchase_events", "catalog_events", "dedup_window_hours"}
_GATE_KEYS = {"max_drop", "max_error_share", "keep"}
_ALERT_KEYS = {"slack_webhook", "min_match_rate", "report_url"}


@dataclass(frozen=True)
class Schedule:
    """When a feed runs: a cron expression in a time zone, or a fixed interval in seconds."""

    cron: str | None = None
    interval: int | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Alerts:
    """Where alerts go (``env:VAR`` or ``block:NAME``, never the URL itself) and when the match rate is too low."""

    slack_webhook: str | None = None
    min_match_rate: float | None = None
    report_url: str | None = None  # where report.html is served, for links in alerts

    def __post_init__(self) -> None:
        """Refuse what alerts cannot use; the message names the option as the feeds file and the CLI do.

        Raises:
            ConfigError: a webhook written out rather than named, a rate outside 0 to 1, a report URL that is
                not http(s).
        """
        webhook = self.slack_webhook
        if webhook is not None and not (isinstance(webhook, str) and _SECRET_REF.match(webhook)):
            shown = "a URL" if isinstance(webhook, str) and "://" in webhook else repr(webhook)
            raise ConfigError("alerts.slack_webhook (--alert) names where the webhook URL is kept, \"env:VARIABLE\" "
                              "or \"block:BLOCK_NAME\" (a Prefect SlackWebhook or Secret block), never the webhook "
                              f"URL itself; got {shown}.")
        if self.min_match_rate is not None:
            share("alerts.min_match_rate (--min-match-rate)", self.min_match_rate)
        url = self.report_url
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ConfigError("alerts.report_url is the http(s) address where the feed's folder is served.")


@dataclass(frozen=True)
class FeedConfig:
    """Everything about running one feed: a ``[[feed]]`` of the feeds file with defaults applied and paths
    resolved, or the options of ``feedcheck check``.  ``publish`` off checks without publishing."""

    name: str
    source: str
    channel: str
    out: Path  # the feed's local folder: reports, history, state, and the catalog unless it goes to destination
    format: str
    destination: str | None = None  # where the catalog is published when not into out: s3://… or sftp://…
    publish_reports: bool = False  # also publish the reports to destination/reports/
    events: tuple[str, ...] = ()
    currency: str | None = None
    countries: tuple[str, ...] = ()  # as ChannelOptions reads them
    schedule: Schedule | None = None
    header_env: dict[str, str] = field(default_factory=dict)
    basic_env: tuple[str, str] | None = None
    gate: PublishOptions = PublishOptions()
    alerts: Alerts = Alerts()
    limits: dict[str, int] = field(default_factory=dict)
    fetch_limits: FetchLimits = FetchLimits()
    read_limits: ReadLimits = ReadLimits()
    event_options: EventOptions = EventOptions()
    publish: bool = True
    dask: str | None = None
    now: str | None = None  # the run's clock (see feedcheck.clock), fixed when the run starts

    @property
    def publishes_to(self) -> str:
        """Where the catalog goes, as people read it: the destination URL, or the feed's folder."""
        return self.destination or str(self.out)

    def channel_options(self) -> ChannelOptions:
        """The validation choices this feed makes."""
        return ChannelOptions(currency=self.currency, limits=self.limits, now=self.now, countries=self.countries)

    def auth(self) -> Auth | None:
        """The feed's credentials, read now from the environment variables it names.

        Raises:
            FetchError: a variable it names is not set.
        """
        return Auth.from_env(self.header_env, self.basic_env) if self.header_env or self.basic_env else None


def load_feeds(path: str | Path) -> list[FeedConfig]:
    """Read and check a feeds file.

    Raises:
        ConfigError: the file is missing, is not TOML, or an entry is wrong (the message names it).
    """
    file = Path(path)
    document, defaults = _document(file)
    _fleet_folder(defaults, file.parent)
    entries = document.get("feed")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file} lists no feeds; add a [[feed]] table with at least name and source.")
    feeds = [_feed(entry, n, defaults, file.parent) for n, entry in enumerate(entries, 1)]
    seen: set[str] = set()
    for feed in feeds:
        if feed.name in seen:
            raise ConfigError(f"{file}: two feeds are named '{feed.name}'; names must be unique.")
        seen.add(feed.name)
    places = [f.publishes_to.rstrip("/") for f in feeds]
    for place in {p for p in places if places.count(p) > 1}:
        raise ConfigError(f"{file}: two feeds publish to {redact_url(place)}; each feed needs a place of its own.")
    return feeds


def fleet_folder(path: str | Path) -> Path:
    """Where ``feedcheck run`` and ``check-all-feeds`` write the fleet page: ``[defaults].fleet_page``, else
    ``[defaults].out`` when it is a folder, else ``[defaults].work``, else ``out`` beside the file.

    Raises:
        ConfigError: as :func:`load_feeds`, or ``fleet_page`` is not a folder's path.
    """
    file = Path(path)
    return _fleet_folder(_document(file)[1], file.parent)


# Feeds that check-all-feeds checks side by side unless the file says: enough to overlap downloads and reads,
# few enough that Prefect's temporary SQLite server keeps up (twenty at once made it answer 503 and crash the
# run); a server on PostgreSQL holds more (the README's "Running in production" has figures).
FEEDS_AT_ONCE = 4
MOST_AT_ONCE = 32


def feeds_at_once(path: str | Path) -> int:
    """How many feeds ``check-all-feeds`` checks side by side: ``[defaults].feeds_at_once``, else 4.

    Raises:
        ConfigError: as :func:`load_feeds`, or the value is not a whole number from 1 to 32.
    """
    value = _document(Path(path))[1].get("feeds_at_once", FEEDS_AT_ONCE)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MOST_AT_ONCE:
        raise ConfigError(f"[defaults]: 'feeds_at_once' must be a whole number from 1 to {MOST_AT_ONCE}, "
                          f"got {value!r}.")
    return value


# How check-all-feeds spreads its feeds: over threads of its own process, or over the processes that run the
# feeds' deployments (serve, or a work pool's workers on several machines), each feed a run of check-feed/<feed>.
SPREADS = ("threads", "deployments")


def spread(path: str | Path) -> str:
    """How ``check-all-feeds`` spreads the feeds: ``[defaults].spread``, else ``threads``.

    Raises:
        ConfigError: as :func:`load_feeds`, or the value is not one of :data:`SPREADS`.
    """
    value = _document(Path(path))[1].get("spread", SPREADS[0])
    if value not in SPREADS:
        raise ConfigError(f"[defaults]: 'spread' must be one of {', '.join(SPREADS)}, got {value!r}.")
    return str(value)


def _fleet_folder(defaults: dict[str, Any], base: Path) -> Path:
    shared = _text(defaults.get("out", "out"), "[defaults]", "out")
    if "fleet_page" in defaults:
        folder = _text(defaults["fleet_page"], "[defaults]", "fleet_page")
        if is_remote(folder):
            raise ConfigError("[defaults]: 'fleet_page' is a local folder; the page is not published.")
    else:
        folder = shared if not is_remote(shared) else _text(defaults.get("work", "out"), "[defaults]", "work")
    return _resolve(base, folder)


def _document(file: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The feeds file's tables, and its defaults checked for unknown keys."""
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"No feeds file at {file}; pass --config with the path of your feeds.toml.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML ({exc}).") from None
    unknown = sorted(set(document) - {"defaults", "feed"})
    if unknown:
        raise ConfigError(f"{file}: unknown section(s) {', '.join(unknown)}; use [defaults] and [[feed]].")
    return document, _table(document.get("defaults", {}), "[defaults]", _DEFAULT_KEYS)


def find_feed(feeds: list[FeedConfig], name: str) -> FeedConfig:
    """The feed called ``name``.

    Raises:
        ConfigError: no such feed (the message lists the names there are).
    """
    for feed in feeds:
        if feed.name == name:
            return feed
    raise ConfigError(f"No feed named '{name}'; the feeds file has {', '.join(f.name for f in feeds)}.")


def _feed(entry: Any, number: int, defaults: dict[str, Any], base: Path) -> FeedConfig:
    where = f"feed {number}"
    entry = _table(entry, where, _FEED_KEYS)
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: 'name' must be lower-case letters, digits, '-' or '_' (it names the feed's "
                          f"folder and deployment), got {name!r}.")
    where = f"feed '{name}'"
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: 'source' is required: a path or an http(s) URL of the feed.")
    if "://" in source and "@" in source.split("/")[2]:
        raise ConfigError(f"{where}: 'source' contains credentials; use auth = {{ header_env = ... }} or basic_env.")
    channel = entry.get("channel", defaults.get("channel", "tiktok"))
    if channel not in CHANNEL_NAMES:
        raise ConfigError(f"{where}: 'channel' must be one of {', '.join(CHANNEL_NAMES)}, got {channel!r}.")
    fmt = entry.get("format", defaults.get("format", "csv"))
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: 'format' must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    destination, folder = _places(entry, defaults, name, where)
    events = entry.get("events", [])
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ConfigError(f"{where}: 'events' must be a path, a glob or a list of them.")
    currency = entry.get("currency")
    if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
        raise ConfigError(f"{where}: 'currency' must be an ISO 4217 code such as USD, got {currency!r}.")
    header_env, basic_env = _auth(entry.get("auth", {}), where)
    return FeedConfig(
        name=name,
        source=source if "://" in source else str(_resolve(base, source)),
        channel=channel,
        out=_resolve(base, folder),
        destination=destination,
        publish_reports=_flag(entry.get("publish_reports", defaults.get("publish_reports", False)), where,
                              "publish_reports"),
        format=fmt,
        events=tuple(str(_resolve(base, e)) for e in events),
        currency=currency,
        countries=_countries(entry.get("countries", defaults.get("countries", [])), where),
        schedule=_schedule(entry.get("schedule", defaults.get("schedule")), where),
        header_env=header_env,
        basic_env=basic_env,
        gate=_gate(_table(defaults.get("gate", {}), "[defaults.gate]", _GATE_KEYS)
                   | _table(entry.get("gate", {}), f"{where} gate", _GATE_KEYS), where, fmt),
        alerts=_alerts(_table(defaults.get("alerts", {}), "[defaults.alerts]", _ALERT_KEYS)
                       | _table(entry.get("alerts", {}), f"{where} alerts", _ALERT_KEYS), where),
        limits=_limits(entry.get("limits", {}), where),
        fetch_limits=_fetch_limits(entry, where),
        dask=_dask(entry.get("dask", defaults.get("dask")), where),
        event_options=_event_options(_table(defaults.get("event_options", {}), "[defaults.event_options]",
                                            _EVENT_KEYS)
                                     | _table(entry.get("event_options", {}), f"{where} event_options", _EVENT_KEYS),
                                     where),
    )


def _places(entry: dict[str, Any], defaults: dict[str, Any], name: str, where: str) -> tuple[str | None, str]:
    """Where the feed publishes when not into its folder (a URL), and its local folder: ``out``, or, when
    ``out`` is a URL, ``work`` (the local default ``out`` when neither names one)."""
    shared = _text(defaults.get("out", "out"), "[defaults]", "out")
    out = _text(entry["out"], where, "out") if "out" in entry else f"{shared.rstrip('/')}/{name}"
    out = check_destination(out, f"{where}: 'out'")
    if not is_remote(out):
        if "work" in entry:
            raise ConfigError(f"{where}: 'work' is the local folder of a feed that publishes to a URL; this feed "
                              "publishes into its folder, 'out'.")
        return None, out
    if "work" in entry:
        return out, _text(entry["work"], where, "work")
    local = _text(defaults["work"], "[defaults]", "work") if "work" in defaults else \
        "out" if is_remote(shared) else shared
    return out, str(Path(local) / name)


def _countries(value: Any, where: str) -> tuple[str, ...]:
    """The countries the feed is advertised in, read as :class:`ChannelOptions` reads them."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'countries' must be a list of ISO 3166-1 codes such as [\"US\", \"DE\"].")
    try:
        return ChannelOptions(countries=tuple(value)).countries
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _dask(value: Any, where: str) -> str | None:
    """Where the feed's chunks are validated: ``None`` in this process, else a Dask address."""
    if value is not None:
        check_address(value, f"{where}: 'dask'")
    return value


def _table(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of keys, got {type(value).__name__}.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.")
    return value


def _flag(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' is true or false, got {value!r}.")
    return value


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be text, got {value!r}.")
    return value


def _resolve(base: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return Path(os.path.normpath(candidate if candidate.is_absolute() else base / candidate))


def _schedule(value: Any, where: str) -> Schedule | None:
    if value is None:
        return None
    table = _table(value, f"{where} schedule", {"cron", "interval", "timezone"})
    cron, interval = table.get("cron"), table.get("interval")
    if (cron is None) == (interval is None):
        raise ConfigError(f"{where}: 'schedule' needs exactly one of cron (\"0 * * * *\") or interval (\"30m\").")
    timezone = table.get("timezone", "UTC")
    try:
        ZoneInfo(_text(timezone, where, "timezone"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {timezone!r}; use an IANA name such as Europe/Berlin.") from None
    if cron is not None:
        fields = _text(cron, where, "cron").split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ConfigError(f"{where}: cron {cron!r} needs five fields: minute hour day month weekday.")
        return Schedule(cron=" ".join(fields), timezone=timezone)
    return Schedule(interval=_interval(interval, where), timezone=timezone)


def _interval(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        seconds = value
    else:
        match = _INTERVAL.match(str(value).strip())
        if not match or int(match.group(1)) == 0:
            raise ConfigError(f"{where}: interval must be seconds or like \"90s\", \"30m\", \"6h\", \"1d\"; "
                              f"got {value!r}.")
        seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if seconds < 60:
        raise ConfigError(f"{where}: an interval under a minute would hammer the feed's server; use at least 60 s.")
    return seconds


def _auth(value: Any, where: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    table = _table(value, f"{where} auth", {"header_env", "basic_env"})
    headers = table.get("header_env", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.isidentifier()
                                                for k, v in headers.items()):
        raise ConfigError(f"{where}: auth.header_env maps a header to an environment variable's name, e.g. "
                          "{ Authorization = \"FEED_TOKEN\" }; never the secret itself.")
    basic = table.get("basic_env")
    if basic is not None and not (isinstance(basic, list) and len(basic) == 2
                                  and all(isinstance(v, str) and v.isidentifier() for v in basic)):
        raise ConfigError(f"{where}: auth.basic_env is two environment variable names, e.g. [\"USER\", \"PASSWORD\"].")
    return dict(headers), (basic[0], basic[1]) if basic else None


def _limits(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                              for n in value.values()):
        raise ConfigError(f"{where}: 'limits' maps a field to its longest length, e.g. {{ title = 255 }}.")
    return dict(value)


def _fetch_limits(entry: dict[str, Any], where: str) -> FetchLimits:
    """``timeout`` bounds the whole download in seconds; ``max_bytes`` the size accepted."""
    values: dict[str, Any] = {}
    timeout, cap = entry.get("timeout"), entry.get("max_bytes")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"{where}: 'timeout' is the download's limit in seconds, e.g. 300.")
        values["deadline"] = float(timeout)
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0:
            raise ConfigError(f"{where}: 'max_bytes' is the largest download accepted, in bytes, e.g. 2_000_000_000.")
        values["max_bytes"] = cap
    return FetchLimits(**values)


def _gate(table: dict[str, Any], where: str, fmt: str) -> PublishOptions:
    try:
        return PublishOptions(format=fmt, **table)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.finding.message}") from None


def _event_options(table: dict[str, Any], where: str) -> EventOptions:
    """How the feed's event logs are read and judged; lists become the sets and tuples of the options."""
    kinds = {"purchase_events": frozenset, "catalog_events": frozenset, "id_patterns": tuple}
    try:
        return EventOptions(**{key: kinds[key](value) if key in kinds and isinstance(value, list) else value
                               for key, value in table.items()})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.finding.message}") from None
    except TypeError:  # a list of lists cannot become a set
        raise ConfigError(f"{where}: event_options takes lists of names and patterns, and a table of fields; "
                          f"got {table!r}.") from None


def _alerts(table: dict[str, Any], where: str) -> Alerts:
    try:
        return Alerts(**table)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.finding.message}") from None
