"""The fleet page: every feed of the feeds file on one standalone page, failing feeds first, written by
``feedcheck run`` (through the check-all-feeds flow) and checked in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from feedcheck.feeds import load_feeds
from feedcheck.reports.fleet import fleet, render_fleet_html
from tests.conftest import FEEDS, FIXTURES
from tests.test_flow_cli import feedcheck
from tests.test_render import _BROWSER, CHROMIUM

EVENTS = FIXTURES / "events"


def fleet_file(tmp_path: Path) -> Path:
    config = tmp_path / "feeds.toml"
    config.write_text(f"""
[defaults]
out = "out"
channel = "tiktok"

[[feed]]
name = "clean"
source = "{FEEDS / 'tiktok_clean.csv'}"

[[feed]]
name = "defects"
source = "{FEEDS / 'tiktok_defects.csv'}"

[[feed]]
name = "gone"
source = "{tmp_path / 'no-such-feed.csv'}"

[[feed]]
name = "matched"
source = "{EVENTS / 'northwind_catalog.csv'}"
events = ["{EVENTS / 'pixel_browser.jsonl'}", "{EVENTS / 'server_eapi2.jsonl'}"]
currency = "USD"
alerts = {{ report_url = "https://feeds.shop.example/matched" }}

[[feed]]
name = "idle"
source = "{FEEDS / 'tiktok_clean.csv'}"
""")
    return config


def test_the_fleet_page_lists_every_feed_failing_ones_first(tmp_path: Path) -> None:
    config = str(fleet_file(tmp_path))
    everything = feedcheck(tmp_path, "run", "clean", "defects", "gone", "matched", "--config", config)
    assert everything.returncode == 3, everything.stdout + everything.stderr
    again = feedcheck(tmp_path, "run", "clean", "--config", config, "--force")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == f"every feed: {tmp_path / 'out' / 'index.html'}"
    fleet = json.loads((tmp_path / "out" / "index.json").read_text())
    rows = [(f["feed"], f["status"], f["items"], f["valid_share"] and round(f["valid_share"], 3),
             [c["code"] for c in f["top_codes"]], f["match_rate"], f["revenue_at_risk"], len(f["trend"]), f["report"])
            for f in fleet["feeds"]]
    assert rows == [
        ("gone", "fatal", 0, None, ["fetch.not_found", "gate.fatal"], None, {}, 1, "gone/report.html"),
        ("defects", "refused", 22, 0.318, ["item.currency_mismatch", "item.invalid_value", "gate.error_share"], None,
         {}, 1, "defects/report.html"),
        ("matched", "errors", 10, 0.9, ["match.case_or_whitespace", "match.rate_low", "item.price_invalid"], 0.5625,
         {"USD": 304.5}, 1, "https://feeds.shop.example/matched/report.html"),
        ("idle", "never run", None, None, [], None, {}, 0, "idle/report.html"),
        ("clean", "ok", 8, 1.0, [], None, {}, 2, "clean/report.html"),
    ]
    assert fleet["by_status"] == {"fatal": 1, "refused": 1, "errors": 1, "never run": 1, "ok": 1}
    page = (tmp_path / "out" / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(//|https?:(?!//feeds\.shop\.example))""", page)
    assert "<script" not in page and "304.50 USD" in page and "56.2%" in page


def test_the_fleet_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM, "Debian's chromium is needed: run sh tests/ensure-system.sh (the README's test command does)"
    config = str(fleet_file(tmp_path))
    feedcheck(tmp_path, "run", "clean", "defects", "gone", "matched", "--config", config)
    page = (tmp_path / "out" / "index.html").as_uri()
    dom = subprocess.run([CHROMIUM, *_BROWSER, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<tr class="feed">') == 5 and 'id="fleet"' in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    assert screenshot(tmp_path / "out" / "index.html", tmp_path / "fleet.png").stat().st_size > 20_000


def screenshot(page: Path, shot: Path) -> Path:
    """``page`` as headless Chromium draws it, in the PNG file ``shot``."""
    assert CHROMIUM, "Debian's chromium is needed: run sh tests/ensure-system.sh (the README's test command does)"
    done = subprocess.run([CHROMIUM, *_BROWSER, f"--screenshot={shot}", "--window-size=1400,700", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return shot


@pytest.mark.parametrize("report", [
    "[]",
    '{"status": ""}',
    '{"status": null}',
    '{"status": "ok", "items": {"total": "3"}}',
    '{"status": "ok", "findings": {"by_code": {"item.x": {"count": 1, "severity": "fatal"}}}}',
    '{"status": "ok", "history": [{"started_at": 12, "status": "ok", "items_valid": 1, "errors": 0}]}',
    '{"status": "ok", "events": {"revenue_at_risk": {"USD": "lots"}}}',
])
def test_a_report_feedcheck_did_not_write_is_one_row_that_says_so(tmp_path: Path, report: str) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "out"\n\n[[feed]]\nname = "odd"\nsource = "{FEEDS / "tiktok_clean.csv"}"\n'
                      f'\n[[feed]]\nname = "idle"\nsource = "{FEEDS / "tiktok_clean.csv"}"\n')
    odd = tmp_path / "out" / "odd" / "report.json"
    odd.parent.mkdir(parents=True)
    odd.write_text(report)
    try:
        state = fleet(load_feeds(config), tmp_path / "out", "2026-11-20T12:00:00+00:00")
    finally:
        odd.unlink()  # the suite checks every report.json left behind against the schema
    assert [(f["feed"], f["status"]) for f in state["feeds"]] == [("odd", "unreadable report"), ("idle", "never run")]
    assert 'class="feed"' in render_fleet_html(state)
