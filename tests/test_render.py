"""The reports for people: report.md and a standalone report.html, checked in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from feedcheck.findings import make_finding
from feedcheck.reports.render import render_html, render_markdown
from tests.conftest import FEEDS, FIXTURES, run

EVENTS = FIXTURES / "events"
CHROMIUM = shutil.which("chromium")
_BROWSER = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def three_runs(out: Path) -> None:
    run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out))
    run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out))
    run("check", str(EVENTS / "northwind_catalog.csv"), "--out", str(out), "--accept-drop", "--events",
        str(EVENTS / "pixel_browser.jsonl"), str(EVENTS / "server_eapi2.jsonl"))


def test_report_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM, "Debian's chromium is needed: run sh tests/ensure-system.sh (the README's test command does)"
    out = tmp_path / "out"
    three_runs(out)
    page = (out / "report.html").as_uri()
    dom = subprocess.run([CHROMIUM, *_BROWSER, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Items the channel will reject" in dom.stdout
    for section in ("headline", "top-issues", "match-rate", "since-last-run", "history-chart"):
        assert f'id="{section}"' in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    shot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, *_BROWSER, f"--screenshot={shot}", "--window-size=1100,1900", page],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_report_html_is_standalone_and_escapes_feed_values(tmp_path: Path) -> None:
    out = tmp_path / "out"
    three_runs(out)
    page = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page) and "<script" not in page
    report = {"report_version": "1", "status": "errors", "source": "feed<script>.csv", "channel": "tiktok",
              "fatal": None, "findings": {"by_severity": {"error": 1, "warning": 0, "info": 0},
                                          "by_code": {"item.emoji": {"count": 1, "severity": "error"}},
                                          "stored": 1, "max_per_code": 1000}}
    hostile = make_finding("item.emoji", item_id="<img src=x onerror=alert(1)>", field="title", value="<b>")
    html_page = render_html(report, [hostile])
    assert "<img src=x" not in html_page and "&lt;img src=x onerror=alert(1)&gt;" in html_page
    assert "feed<script>" not in html_page
    markdown = render_markdown(report, [hostile])
    assert "<img" not in markdown and "| `item.emoji` | error | 1 |" in markdown


def test_report_md_has_the_same_sections(tmp_path: Path) -> None:
    out = tmp_path / "out"
    three_runs(out)
    markdown = (out / "report.md").read_text()
    for heading in ("# feedcheck: Items the channel will reject", "## What to fix first", "## Catalog match rate",
                    "## Since the last run", "## History"):
        assert heading in markdown
    assert "Match rate: **56.2%** of catalog events. Revenue at risk: **304.50 USD**." in markdown


def test_the_example_items_show_their_row_and_title_beside_their_id(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out), "--no-publish")
    fix_first = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("| `item.emoji`")]
    assert fix_first[0].split(" | ")[3] == "row 11, DF-007 'Sun Hat 🌞'"
    assert "row 11, DF-007 &#x27;Sun Hat 🌞&#x27;" in (out / "report.html").read_text()
