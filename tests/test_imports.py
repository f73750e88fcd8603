"""What a run costs before it does anything: a scheduled run is a new process, so each module it imports is paid
on every run.  A run that finds its feed unchanged reads nothing, and loads nothing that reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FEEDS, FeedServer

READING = ("pandas", "pandera", "lxml", "pyarrow", "numpy", "feedcheck.check", "feedcheck.schemas.tiktok")

RUN = """
import json, sys
import feedcheck.flows  # what a deployment's run loads first
from feedcheck.feeds import find_feed, load_feeds
from feedcheck.pipeline import run_feed

run = run_feed(find_feed(load_feeds(sys.argv[1]), "shop"))
print(json.dumps({"status": run.status, "loaded": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def _run(feeds: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", RUN, str(feeds), *READING], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"FEEDCHECK_NOW": "2026-12-01"})  # the fixture's sale is on
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_run_that_finds_its_feed_unchanged_loads_nothing_that_reads(tmp_path: Path, server: FeedServer) -> None:
    url = server.serve_with_etag("/shop.csv", (FEEDS / "tiktok_clean.csv").read_bytes(), '"v1"')
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "shop"\nsource = "{url}"\nchannel = "tiktok"\nout = "out"\n')
    assert [_run(feeds) for _ in range(2)] == [
        {"status": "ok", "loaded": list(READING)},
        {"status": "unchanged", "loaded": []},
    ]
    feeds.write_text(feeds.read_text() + "limits = { title = 28 }\n")
    # Other settings: the feed is read again under them (and the gate refuses to lose three items to them).
    assert _run(feeds) == {"status": "refused", "loaded": list(READING)}


CHECK = f"""
import json, sys
from feedcheck.cli import main

code = main(sys.argv[1:])
print(json.dumps({{"exit": code, "loaded": [m for m in {READING!r} if m in sys.modules]}}))
"""


@pytest.mark.parametrize("served", [True, False], ids=["http-etag", "file"])
def test_the_command_line_loads_nothing_that_reads_for_a_feed_that_is_unchanged(tmp_path: Path, server: FeedServer,
                                                                                served: bool) -> None:
    feed = FEEDS / "tiktok_clean.csv"
    source = server.serve_with_etag("/shop.csv", feed.read_bytes(), '"v1"') if served else str(feed)
    command = [sys.executable, "-c", CHECK, "check", source, "--out", str(tmp_path / "out"), "--now", "2026-12-01"]
    runs = [subprocess.run(command, capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [json.loads(run.stdout.splitlines()[-1]) for run in runs] == [
        {"exit": 0, "loaded": list(READING)},
        {"exit": 0, "loaded": []},
    ], runs[-1].stderr


def test_the_public_names_load_on_first_use_and_the_codes_come_whole() -> None:
    codes = {"item.too_long", "events.currency_mismatch", "fetch.unchanged"}  # a rule's, an event's, a fetch's
    script = ("import sys, feedcheck; light = 'pandas' not in sys.modules; "
              "names = [n for n in feedcheck.__all__ if getattr(feedcheck, n, None) is None]; "
              f"print(light, names, {codes!r} <= set(feedcheck.CODES))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[0] == "True [] True", done.stderr
