"""Run history and feed diffs: what changed since the last run, item by item."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from feedcheck.findings import FindingLog
from feedcheck.publish.history import record_run
from feedcheck.publish.snapshot import diff_feeds
from tests.conftest import FEEDS, run

CLEAN = (FEEDS / "tiktok_clean.csv").read_text(encoding="utf-8").splitlines()


def changed_feed(tmp_path: Path) -> Path:
    """The clean feed with one item re-priced, one out of stock, one removed and one added."""
    lines = list(CLEAN)
    lines[1] = lines[1].replace(",24.00 USD,19.00 USD,", ",26.00 USD,19.00 USD,")
    lines[2] = lines[2].replace(",in stock,", ",out of stock,")
    mug = next(i for i, line in enumerate(lines) if line.startswith("NW-MUG-002"))
    new_mug = lines[mug].replace("NW-MUG-002", "NW-MUG-003")
    del lines[mug]
    feed = tmp_path / "changed.csv"
    feed.write_text("\n".join(lines + [new_mug]) + "\n", encoding="utf-8")
    return feed


def test_the_second_run_reports_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out)).returncode == 0
    first = json.loads((out / "report.json").read_text())
    assert first["since_last_run"] is None and len(first["history"]) == 1
    assert run("check", str(changed_feed(tmp_path)), "--out", str(out)).returncode == 0
    report = json.loads((out / "report.json").read_text())
    items = report["since_last_run"]["items"]
    assert {k: items[k] for k in ("added", "removed", "price_changed", "availability_changed", "other_changed")} == {
        "added": 1, "removed": 1, "price_changed": 1, "availability_changed": 1, "other_changed": 0}
    assert items["examples"]["price_changed"] == [{"id": "NW-TEE-001-S", "before": "24.00 USD", "after": "26.00 USD"}]
    assert items["examples"]["added"][0]["id"] == "NW-MUG-003"
    assert [run["items_valid"] for run in report["history"]] == [8, 8]


def test_new_and_resolved_codes_and_match_rate_trend(tmp_path: Path) -> None:
    out = tmp_path / "out"
    events = FEEDS.parent / "events"
    run("check", str(events / "northwind_catalog.csv"), "--out", str(out), "--events",
        str(events / "pixel_browser.jsonl"))
    run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--accept-drop", "--events",
        str(events / "legacy_eapi1.jsonl"))
    since = json.loads((out / "report.json").read_text())["since_last_run"]
    assert "item.price_invalid" in since["codes"]["resolved"] and "events.legacy_name" in since["codes"]["new"]
    assert since["match_rate"] == {"before": 0.8333, "after": 1.0}


def test_a_damaged_history_is_set_aside_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.sqlite").write_bytes(b"this is not a database" * 100)
    done = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["findings"]["by_code"]["history.unreadable"]["count"] == 1
    assert len(list(out.glob("history.sqlite.damaged-*"))) == 1 and report["history"][0]["items_valid"] == 8


def test_diff_of_two_feeds(tmp_path: Path) -> None:
    changes, log = diff_feeds(FEEDS / "tiktok_clean.csv", changed_feed(tmp_path))
    assert (changes.added, changes.removed, changes.price_changed, changes.availability_changed) == (1, 1, 1, 1)
    assert list(log) == []
    same = run("diff", str(FEEDS / "tiktok_clean.csv"), str(FEEDS / "tiktok_clean.csv.gz"))
    assert same.returncode == 0 and "no changes" in same.stdout
    different = run("diff", str(FEEDS / "tiktok_clean.csv"), str(changed_feed(tmp_path)), "--json")
    assert different.returncode == 1 and json.loads(different.stdout)["removed"] == 1
    missing = run("diff", str(tmp_path / "nope.csv"), str(FEEDS / "tiktok_clean.csv"))
    assert missing.returncode == 3 and "does not exist" in missing.stderr


def test_a_diff_sees_other_values_change_but_not_the_order_of_columns_or_an_empty_one(tmp_path: Path) -> None:
    header, first, *rest = CLEAN
    retitled = tmp_path / "retitled.csv"
    retitled.write_text("\n".join([header, first.replace("Northwind", "Southwind", 1), *rest]) + "\n", encoding="utf-8")
    changes, _ = diff_feeds(FEEDS / "tiktok_clean.csv", retitled)
    assert (changes.other_changed, changes.examples["other_changed"][0]["id"]) == (1, "NW-TEE-001-S")
    reordered = tmp_path / "reordered.csv"
    with (FEEDS / "tiktok_clean.csv").open(encoding="utf-8", newline="") as clean, \
            reordered.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([*reversed(row), "" if k else "custom_label_0"]
                                  for k, row in enumerate(csv.reader(clean)))
    changes, _ = diff_feeds(FEEDS / "tiktok_clean.csv", reordered)
    assert not changes.changed and changes.new_items == 8


def test_a_history_from_an_older_version_is_compared_again_from_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out)).returncode == 0
    with sqlite3.connect(out / "history.sqlite") as db:  # the items as an older version kept them
        db.execute("DROP TABLE items")
        db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, price TEXT, availability TEXT, digest TEXT)")
        db.execute("INSERT INTO items VALUES ('NW-TEE-001-S', '24.00 USD', 'in stock', '00ff00ff00ff00ff')")
    db.close()
    assert run("check", str(changed_feed(tmp_path)), "--out", str(out)).returncode == 0
    report = json.loads((out / "report.json").read_text())
    assert report["since_last_run"]["items"] is None and len(report["history"]) == 2
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out)).returncode == 0
    items = json.loads((out / "report.json").read_text())["since_last_run"]["items"]
    assert (items["added"], items["removed"], items["price_changed"], items["other_changed"]) == (1, 1, 1, 0)


def test_a_locked_history_is_skipped_not_set_aside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out)).returncode == 0
    report = json.loads((out / "report.json").read_text())
    holder = sqlite3.connect(out / "history.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    log = FindingLog()
    sections = record_run(out, report, None, log, wait=0.2)
    holder.execute("ROLLBACK")
    holder.close()
    assert sections == {"since_last_run": None, "history": []}
    assert [f.code for f in log] == ["history.unreadable"] and "locked" in list(log)[0].message
    assert not list(out.glob("history.sqlite.damaged-*"))


def test_runs_at_once_all_finish_and_all_are_recorded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "feedcheck", "check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out),
               "--force"]  # each reads the feed, though the same bytes were checked a moment before
    children = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for _ in range(3)]
    results = [(child.wait(timeout=120), child.communicate()[1]) for child in children]
    assert results == [(0, "")] * 3
    with sqlite3.connect(out / "history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
