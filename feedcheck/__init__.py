"""feedcheck: keep shopping catalogs and purchase-event data healthy.

The public API, for scripts and notebooks::

    import feedcheck
    report = feedcheck.check_feed("fixtures/feeds/tiktok_clean.csv", channel="tiktok")
    report.status, report.items_total          # ('ok', 8)
    [f.code for f in report.log]               # every finding, with a stable code

    # purchase events, reconciled with the feed
    report = feedcheck.check_feed("fixtures/events/northwind_catalog.csv",
                                  events=["fixtures/events/server_eapi2.jsonl"])
    report.events.summary["match_rate"], report.events.mismatches[0]["reason"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module when first used (PEP 562): ``import feedcheck`` stays light, so a
# run that finds its feed unchanged never loads pandas, pandera or the channels' rules.
_EXPORTS = {
    "ConfigError": "feedcheck.errors",
    "FeedFormatError": "feedcheck.errors",
    "FeedcheckError": "feedcheck.errors",
    "FetchError": "feedcheck.errors",
    "Catalog": "feedcheck.events.catalog",
    "check_events": "feedcheck.events.checker",
    "read_events": "feedcheck.events.read",
    "event_rows": "feedcheck.events.rows",
    "Content": "feedcheck.events.shapes",
    "Event": "feedcheck.events.shapes",
    "FeedConfig": "feedcheck.feeds",
    "find_feed": "feedcheck.feeds",
    "load_feeds": "feedcheck.feeds",
    "CODES": "feedcheck.findings",
    "Finding": "feedcheck.findings",
    "FindingLog": "feedcheck.findings",
    "Severity": "feedcheck.findings",
    "EventsReport": "feedcheck.outcome",
    "FeedReport": "feedcheck.outcome",
    "PublishResult": "feedcheck.publish.atomic",
    "publish_catalog": "feedcheck.publish.atomic",
    "CatalogSpool": "feedcheck.publish.clean",
    "diff_feeds": "feedcheck.publish.snapshot",
    "FeedInfo": "feedcheck.readers",
    "open_feed": "feedcheck.readers",
    "CHANNEL_NAMES": "feedcheck.rules.channels",
    "Channel": "feedcheck.rules.channels",
    "get_channel": "feedcheck.rules.channels",
    "FeedValidator": "feedcheck.rules.validate",
    "ChannelOptions": "feedcheck.settings",
    "EventOptions": "feedcheck.settings",
    "FetchLimits": "feedcheck.settings",
    "PublishOptions": "feedcheck.settings",
    "ReadLimits": "feedcheck.settings",
    "Auth": "feedcheck.sources.fetch",
    "Fetched": "feedcheck.sources.fetch",
    "Validators": "feedcheck.sources.fetch",
    "fetch": "feedcheck.sources.fetch",
    "check_feed": "feedcheck.check",
}

__all__ = [
    "Auth",
    "CHANNEL_NAMES",
    "CODES",
    "Catalog",
    "CatalogSpool",
    "Channel",
    "ChannelOptions",
    "ConfigError",
    "Content",
    "Event",
    "EventOptions",
    "EventsReport",
    "FeedConfig",
    "FeedFormatError",
    "FeedInfo",
    "FeedReport",
    "FeedValidator",
    "FeedcheckError",
    "FetchError",
    "FetchLimits",
    "Fetched",
    "Finding",
    "FindingLog",
    "PublishOptions",
    "PublishResult",
    "ReadLimits",
    "Severity",
    "Validators",
    "check_events",
    "check_feed",
    "diff_feeds",
    "event_rows",
    "fetch",
    "find_feed",
    "get_channel",
    "load_feeds",
    "open_feed",
    "publish_catalog",
    "read_events",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'feedcheck' has no attribute {name!r}")
    if name == "CODES":  # the registry fills as the rooms that declare codes load; the check loads them all
        importlib.import_module("feedcheck.check")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from feedcheck.check import check_feed
    from feedcheck.errors import ConfigError, FeedcheckError, FeedFormatError, FetchError
    from feedcheck.events.catalog import Catalog
    from feedcheck.events.checker import check_events
    from feedcheck.events.read import read_events
    from feedcheck.events.rows import event_rows
    from feedcheck.events.shapes import Content, Event
    from feedcheck.feeds import FeedConfig, find_feed, load_feeds
    from feedcheck.findings import CODES, Finding, FindingLog, Severity
    from feedcheck.outcome import EventsReport, FeedReport
    from feedcheck.publish.atomic import PublishResult, publish_catalog
    from feedcheck.publish.clean import CatalogSpool
    from feedcheck.publish.snapshot import diff_feeds
    from feedcheck.readers import FeedInfo, open_feed
    from feedcheck.rules.channels import CHANNEL_NAMES, Channel, get_channel
    from feedcheck.rules.validate import FeedValidator
    from feedcheck.settings import ChannelOptions, EventOptions, FetchLimits, PublishOptions, ReadLimits
    from feedcheck.sources.fetch import Auth, Fetched, Validators, fetch
