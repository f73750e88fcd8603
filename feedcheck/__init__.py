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
from feedcheck.steps import check_feed

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
