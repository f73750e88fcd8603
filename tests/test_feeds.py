"""The feeds file: every entry checked on load, with a message that names the feed and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedcheck.errors import ConfigError
from feedcheck.feeds import feeds_at_once, find_feed, fleet_folder, load_feeds, spread
from feedcheck.settings import CATALOG_EVENTS, FetchLimits
from tests.conftest import FIXTURES

DEMO = FIXTURES / "demo" / "feeds.toml"


def test_the_demo_feeds_file_loads_with_defaults_applied() -> None:
    feeds = load_feeds(DEMO)
    assert [f.name for f in feeds] == ["northwind-tiktok", "northwind-google", "northwind-meta"]
    tiktok = find_feed(feeds, "northwind-tiktok")
    assert Path(tiktok.source) == FIXTURES / "events" / "northwind_catalog.csv" and Path(tiktok.source).exists()
    assert all(Path(e).exists() for e in tiktok.events) and len(tiktok.events) == 2
    assert tiktok.out == FIXTURES.parent / "out" / "feeds" / "northwind-tiktok"
    assert tiktok.schedule is not None and tiktok.schedule.interval == 3600
    google = find_feed(feeds, "northwind-google")
    assert (google.channel, google.format, google.gate.format, google.gate.max_drop) == ("google", "xml", "xml", 0.2)
    assert google.schedule is not None and (google.schedule.cron, google.schedule.timezone) == (
        "15 6 * * *", "Europe/Berlin")
    assert tiktok.alerts.slack_webhook == "env:FEEDCHECK_SLACK_WEBHOOK" and tiktok.alerts.min_match_rate == 0.9


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(body, encoding="utf-8")
    return path


FEED = '[[feed]]\nname = "shop"\nsource = "https://shop.example/feed.csv"\n'


@pytest.mark.parametrize("body, message", [
    ("", "lists no feeds"),
    ("[[feed]]\nname = 'Shop Feed'\nsource = 'x.csv'\n", "feed 1: 'name' must be lower-case"),
    ("[[feed]]\nname = 'shop'\n", "feed 'shop': 'source' is required"),
    (FEED + "channel = 'tiktokk'\n", "feed 'shop': 'channel' must be one of tiktok, google, meta"),
    (FEED + "format = 'json'\n", "feed 'shop': 'format' must be one of csv, tsv, xml, parquet"),
    (FEED + "colour = 'red'\n", "feed 1: unknown key(s) colour"),
    (FEED + "schedule = { cron = '0 * * *' }\n", "needs five fields"),
    (FEED + "schedule = { interval = '10s' }\n", "at least 60 s"),
    (FEED + "schedule = { interval = 'hourly' }\n", "interval must be seconds"),
    (FEED + "schedule = { cron = '0 * * * *', interval = '1h' }\n", "exactly one of cron"),
    (FEED + "schedule = { interval = '1h', timezone = 'Mars/Olympus' }\n", "unknown time zone"),
    (FEED + "gate = { max_drop = 20 }\n", "gate.max_drop (--max-drop) is a share between 0 and 1"),
    (FEED + "alerts = { slack_webhook = 'https://hooks.slack.com/services/T0/B0/SECRET' }\n", "got a URL"),
    (FEED + "auth = { header_env = { Authorization = 'Bearer abc123' } }\n", "never the secret itself"),
    ('[[feed]]\nname = "shop"\nsource = "https://user:pw@shop.example/feed.csv"\n', "contains credentials"),
    (FEED + FEED, "two feeds are named 'shop'"),
    (FEED + "currency = 'usd'\n", "ISO 4217 code"),
    ("[defaults]\ngate = 3\n" + FEED, "[defaults.gate] must be a table"),
    ("feeds = 1\n" + FEED, "unknown section(s) feeds"),
    ("[[feed]\nname=", "is not valid TOML"),
    (FEED + "timeout = 0\n", "'timeout' is the download's limit in seconds"),
    (FEED + "max_bytes = '2GB'\n", "'max_bytes' is the largest download accepted"),
    (FEED + "limits = { title = 'long' }\n", "'limits' maps a field to its longest length"),
])
def test_a_bad_entry_names_the_feed_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_feeds(write(tmp_path, body))
    assert message in caught.value.finding.message
    assert "SECRET" not in caught.value.finding.message and "abc123" not in caught.value.finding.message


def test_download_bounds_and_length_limits_per_feed(tmp_path: Path) -> None:
    (feed,) = load_feeds(write(tmp_path, FEED + "timeout = 120\nmax_bytes = 1_000_000\nlimits = { title = 255 }\n"))
    assert (feed.fetch_limits.deadline, feed.fetch_limits.max_bytes, feed.limits) == (120.0, 1_000_000, {"title": 255})
    (plain,) = load_feeds(write(tmp_path, FEED))
    assert plain.fetch_limits == FetchLimits() and plain.limits == {}


def test_missing_file_and_unknown_feed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No feeds file"):
        load_feeds(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="has northwind-tiktok, northwind-google, northwind-meta"):
        find_feed(load_feeds(DEMO), "acme")


@pytest.mark.parametrize(("entry", "argv", "message"), [
    ("gate = { max_drop = 5 }", ["--max-drop", "5"], "gate.max_drop (--max-drop) is a share between 0 and 1, e.g. "
                                                     "0.2 for 20%; got 5"),
    ("gate = { keep = 0 }", ["--keep", "0"], "gate.keep (--keep) is the number of published versions to keep, at "
                                             "least 1 (the published catalog itself is one); got 0."),
    ("alerts = { slack_webhook = 'FEED_HOOK' }", ["--alert", "FEED_HOOK"],
     "alerts.slack_webhook (--alert) names where the webhook URL is kept"),
    ("alerts = { min_match_rate = 90 }", ["--min-match-rate", "90"],
     "alerts.min_match_rate (--min-match-rate) is a share between 0 and 1"),
])
def test_the_feeds_file_and_the_command_line_refuse_an_option_in_the_same_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, argv: list[str], message: str) -> None:
    from feedcheck.cli import main

    with pytest.raises(ConfigError) as caught:
        load_feeds(write(tmp_path, FEED + entry + "\n"))
    assert caught.value.finding.message.startswith(f"feed 'shop': {message}")
    assert main(["check", str(FIXTURES / "feeds" / "tiktok_clean.csv"), "--out", str(tmp_path / "out"), *argv]) == 2
    assert capsys.readouterr().err.startswith(f"feedcheck: {message}")


def test_event_options_are_read_from_the_feeds_file_as_the_cli_takes_them(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text("""
[defaults.event_options]
purchase_events = ["Purchase", "Subscribe"]

[[feed]]
name = "shop"
source = "catalog.csv"
events = ["logs/*.jsonl"]
event_options = { fields = { event_id = "properties.eventId" }, id_patterns = ["^myshop-(.+)$"], dedup_window_hours = 24 }
""")
    options = load_feeds(config)[0].event_options
    assert (options.purchase_events, options.catalog_events, options.fields, options.id_patterns,
            options.dedup_window_hours) == (frozenset({"Purchase", "Subscribe"}), CATALOG_EVENTS,
                                            {"event_id": "properties.eventId"}, ("^myshop-(.+)$",), 24)


@pytest.mark.parametrize("options, message", [
    ('purchase_events = "Purchase"', "purchase_events is a list of event names"),
    ("catalog_events = []", "catalog_events is a list of event names"),
    ('fields = ["event_id"]', "fields maps field names to dotted paths"),
    ("id_patterns = [1]", "id_patterns is a list of regular expressions"),
    ("dedup_window_hours = 0", "dedup_window_hours (--dedup-window) is a positive number"),
    ("window = 3", "unknown key"),
])
def test_wrong_event_options_name_the_feed_and_the_key(tmp_path: Path, options: str, message: str) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "shop"\nsource = "catalog.csv"\nevent_options = {{ {options} }}\n')
    with pytest.raises(ConfigError) as raised:
        load_feeds(config)
    assert "feed 'shop'" in str(raised.value) and message in str(raised.value)


def test_a_feed_publishes_to_a_url_and_keeps_its_state_in_a_local_folder(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text("""
[defaults]
out = "s3://catalogs/feeds"
work = "state"

[[feed]]
name = "bucket"
source = "catalog.csv"

[[feed]]
name = "server"
source = "catalog.csv"
out = "sftp://publisher@files.shop.example:2222/srv/catalogs/"
work = "/var/lib/feedcheck/server"

[[feed]]
name = "folder"
source = "catalog.csv"
out = "public/folder"
""")
    feeds = load_feeds(config)
    assert [(f.name, f.destination, f.out) for f in feeds] == [
        ("bucket", "s3://catalogs/feeds/bucket", tmp_path / "state" / "bucket"),
        ("server", "sftp://publisher@files.shop.example:2222/srv/catalogs/", Path("/var/lib/feedcheck/server")),
        ("folder", None, tmp_path / "public" / "folder"),
    ]
    assert fleet_folder(config) == tmp_path / "state"


@pytest.mark.parametrize("out, message", [
    ("ftp://files.shop.example/catalogs/", "cannot publish to ftp://"),
    ("gs://catalogs/feeds/", "cannot publish to gs://"),
    ("sftp://files.shop.example/catalogs/", "sftp://user@host[:port]/path/"),
    ("sftp://publisher:hunter2@files.shop.example/catalogs/", "credentials"),
    ("s3://catalogs/feeds/?region=eu-west-1", "credentials or options"),
    ("s3:///feeds/", "s3://bucket/prefix/"),
])
def test_a_destination_feedcheck_cannot_publish_to_atomically_is_refused(tmp_path: Path, out: str,
                                                                         message: str) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "shop"\nsource = "catalog.csv"\nout = "{out}"\n')
    with pytest.raises(ConfigError) as raised:
        load_feeds(config)
    assert "feed 'shop': 'out'" in str(raised.value) and message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_work_is_only_for_a_feed_that_publishes_to_a_url(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text('[[feed]]\nname = "shop"\nsource = "catalog.csv"\nout = "public"\nwork = "state"\n')
    with pytest.raises(ConfigError, match="'work' is the local folder of a feed that publishes to a URL"):
        load_feeds(config)


def test_the_fleet_page_goes_to_the_shared_out_folder_or_where_fleet_page_says(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text('[defaults]\nout = "public"\n\n[[feed]]\nname = "shop"\nsource = "catalog.csv"\n')
    assert fleet_folder(config) == tmp_path / "public"
    config.write_text('[defaults]\nfleet_page = "/srv/www/feeds"\n\n[[feed]]\nname = "shop"\nsource = "c.csv"\n')
    assert fleet_folder(config) == Path("/srv/www/feeds")
    config.write_text('[defaults]\nfleet_page = "s3://x/y"\n\n[[feed]]\nname = "shop"\nsource = "c.csv"\n')
    with pytest.raises(ConfigError, match="'fleet_page' is a local folder"):
        load_feeds(config)


def test_two_feeds_that_would_publish_to_one_place_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text('[[feed]]\nname = "a"\nsource = "a.csv"\nout = "s3://catalogs/shop/"\n\n'
                      '[[feed]]\nname = "b"\nsource = "b.csv"\nout = "s3://catalogs/shop"\n')
    with pytest.raises(ConfigError, match="two feeds publish to s3://catalogs/shop; each feed needs a place"):
        load_feeds(config)


def test_event_options_of_the_wrong_shape_are_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text('[[feed]]\nname = "shop"\nsource = "c.csv"\n'
                      'event_options = { purchase_events = [["Purchase"]] }\n')
    with pytest.raises(ConfigError, match="feed 'shop': event_options takes lists"):
        load_feeds(config)


@pytest.mark.parametrize("value", ["0", "33", "2.5", "true", '"8"'])
def test_feeds_at_once_is_a_whole_number_from_1_to_32(tmp_path: Path, value: str) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(f'[defaults]\nfeeds_at_once = {value}\n\n[[feed]]\nname = "a"\nsource = "a.csv"\n')
    with pytest.raises(ConfigError, match="'feeds_at_once' must be a whole number from 1 to 32"):
        feeds_at_once(path)


def test_feeds_at_once_is_4_unless_the_file_says(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text('[[feed]]\nname = "a"\nsource = "a.csv"\n')
    assert feeds_at_once(path) == 4
    path.write_text('[defaults]\nfeeds_at_once = 12\n\n[[feed]]\nname = "a"\nsource = "a.csv"\n')
    assert feeds_at_once(path) == 12 and len(load_feeds(path)) == 1


def test_check_all_feeds_spreads_over_threads_unless_the_file_says_deployments(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text('[[feed]]\nname = "a"\nsource = "a.csv"\n')
    assert spread(path) == "threads"
    path.write_text('[defaults]\nspread = "deployments"\n\n[[feed]]\nname = "a"\nsource = "a.csv"\n')
    assert spread(path) == "deployments" and len(load_feeds(path)) == 1
    path.write_text('[defaults]\nspread = "workers"\n\n[[feed]]\nname = "a"\nsource = "a.csv"\n')
    with pytest.raises(ConfigError, match="'spread' must be one of threads, deployments, got 'workers'"):
        spread(path)
