"""``feedcheck init``: a commented starter feeds file for one feed, so a new user does not start from the demo's.

The file is built from the same keys :mod:`feedcheck.feeds` reads, and is
read back with :func:`~feedcheck.feeds.load_feeds` before it is kept: a
starter file is always one that loads.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from feedcheck.errors import ConfigError
from feedcheck.feeds import load_feeds
from feedcheck.publish.destinations import check_destination, is_remote
from feedcheck.reports.write import atomic_write
from feedcheck.rules.channels import CHANNEL_NAMES

FORMAT_FOR = {"tiktok": "csv", "google": "xml", "meta": "csv"}  # what each channel's catalog upload takes best

_TEMPLATE = """\
# The feeds feedcheck checks and publishes, written by `feedcheck init`.
# Check it, then run every feed once:  feedcheck run --config {file}
# or serve them on their schedules:     feedcheck serve --config {file}
# Every key is described in the README, "The feeds file". Relative paths are relative to this file.
# Credentials are never written here: name an environment variable or a Prefect block.

[defaults]
# Where each feed publishes, into <out>/<name>/: a folder, s3://bucket/prefix or sftp://user@host[:port]/path
out = {out}
{work}channel = {channel}
# The published catalog's format: csv, tsv, xml or parquet
format = {format}

# The quality gate: a run that is worse than the last one leaves the last good catalog in place.
[defaults.gate]
max_drop = 0.2
max_error_share = 0.5
keep = 5

# A Slack message when a feed fails or degrades:
# [defaults.alerts]
# slack_webhook = "env:FEEDCHECK_SLACK_WEBHOOK"
# min_match_rate = 0.9

[[feed]]
name = {name}
source = {source}
# or {{ cron = "0 6 * * *", timezone = "Europe/Berlin" }}
schedule = {{ interval = "1h" }}
# A feed behind a login: the header's or the user's and password's environment variables
# auth = {{ header_env = {{ Authorization = "FEED_TOKEN" }} }}
# Where the catalog is advertised (their requirements become errors) and its currency
# countries = ["US", "DE"]
# currency = "USD"
# Purchase-event logs whose content ids must match the catalog, and how to read them
# events = ["logs/*.jsonl.gz"]
# event_options = {{ purchase_events = ["Purchase"], id_patterns = ["^myshop-(.+)$"] }}
"""


def starter_feeds(file: Path, channel: str, source: str, name: str | None = None, out: str = "out/feeds") -> str:
    """The text of a starter feeds file at ``file`` for one feed of ``channel`` read from ``source``.

    Raises:
        ConfigError: an unknown channel, or a destination feedcheck cannot publish to.
    """
    if channel not in CHANNEL_NAMES:
        raise ConfigError(f"--channel must be one of {', '.join(CHANNEL_NAMES)}, got {channel!r}.")
    check_destination(out, "--out")
    if "://" not in source:  # the feeds file reads paths relative to itself
        source = os.path.relpath(Path(source).resolve(), file.resolve().parent)
    remote = is_remote(out)
    return _TEMPLATE.format(
        file=file.name, out=_toml(out), channel=_toml(channel), format=_toml(FORMAT_FOR[channel]),
        work="# Each feed's reports, history and state, in <work>/<name>/\nwork = \"state\"\n" if remote else "",
        name=_toml(name or _name_of(source)), source=_toml(source),
    )


def write_starter(file: Path, channel: str, source: str, *, name: str | None = None, out: str = "out/feeds",
                  force: bool = False) -> Path:
    """Write :func:`starter_feeds` to ``file`` (atomically), after checking that it loads.

    Raises:
        ConfigError: ``file`` exists and ``force`` is not given, or the options are wrong.
    """
    if file.exists() and not force:
        raise ConfigError(f"{file} exists; feedcheck init does not overwrite it (use --force to replace it).")
    text = starter_feeds(file, channel, source, name, out)
    atomic_write(file, text.encode())
    try:
        load_feeds(file)
    except ConfigError:
        file.unlink()
        raise
    return file


def _name_of(source: str) -> str:
    """A feed name from its source: ``exports/TikTok Catalog.csv.gz`` gives ``tiktok-catalog``."""
    stem = Path(source.split("?")[0].rstrip("/")).name.split(".")[0]
    return re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:63] or "my-feed"


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
