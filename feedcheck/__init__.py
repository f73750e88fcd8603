"""feedcheck: keep shopping catalogs and purchase-event data healthy.

The public API, for scripts and notebooks::

    import feedcheck
    report = feedcheck.check_feed("fixtures/feeds/tiktok_clean.csv", channel="tiktok")
    report.status, report.items_total          # ('ok', 8)
    [f.code for f in report.log]               # every finding, with a stable code
"""

from feedcheck.channels import CHANNEL_NAMES, Channel, get_channel
from feedcheck.check import FeedReport, check_feed
from feedcheck.config import ChannelOptions, FetchLimits, ReadLimits
from feedcheck.errors import ConfigError, FeedcheckError, FeedFormatError, FetchError
from feedcheck.fetch import Auth, Fetched, Validators, fetch
from feedcheck.findings import CODES, Finding, FindingLog, Severity
from feedcheck.readers import FeedInfo, open_feed
from feedcheck.validate import FeedValidator

__all__ = [
    "Auth",
    "CHANNEL_NAMES",
    "CODES",
    "Channel",
    "ChannelOptions",
    "ConfigError",
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
    "ReadLimits",
    "Severity",
    "Validators",
    "check_feed",
    "fetch",
    "get_channel",
    "open_feed",
]
