"""`feedcheck check --events` and `feedcheck events` as an ops engineer runs them."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

from tests.conftest import FIXTURES, run

EVENTS = FIXTURES / "events"
CATALOG = EVENTS / "northwind_catalog.csv"
PAIR = [str(EVENTS / "pixel_browser.jsonl"), str(EVENTS / "server_eapi2.jsonl")]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_check_with_events_adds_the_events_section_and_mismatches(tmp_path: Path) -> None:
    done = run("check", str(CATALOG), "--events", *PAIR, "--out", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "catalog match rate 56.2% of events" in done.stdout
    assert "revenue at risk (purchases not matched to the catalog): 304.50 USD\n" in done.stdout
    assert "nw-bag-007" in done.stdout and "-> NW-BAG-007" in done.stdout
    events = json.loads((tmp_path / "report.json").read_text())["events"]
    assert {k: events[k] for k in ("total", "duplicates", "missing_value", "missing_currency", "invalid_currency",
                                   "match_rate")} == {
        "total": 20, "duplicates": 4, "missing_value": 0, "missing_currency": 0, "invalid_currency": 0,
        "match_rate": 0.5625}
    mismatches = rows(tmp_path / "mismatches.csv")
    assert list(mismatches[0]) == ["content_id", "reason", "suggested_id", "events", "revenue", "currency",
                                   "first_seen", "last_seen"]
    assert mismatches[0] == {"content_id": "nw-bag-007", "reason": "case_or_whitespace", "suggested_id": "NW-BAG-007",
                             "events": "1", "revenue": "98.5", "currency": "USD",
                             "first_seen": "2026-11-24T09:14:58+00:00", "last_seen": "2026-11-24T09:14:58+00:00"}
    findings = rows(tmp_path / "findings.csv")
    resend = next(r for r in findings if r["code"] == "events.duplicate" and r["severity"] == "warning")
    assert resend["item_id"] == "order_5001" and resend["source"].endswith("server_eapi2.jsonl:11")


def test_events_command_without_catalog_checks_events_only(tmp_path: Path) -> None:
    (tmp_path / "mismatches.csv").write_text("from an earlier run\n")
    done = run("events", str(EVENTS / "flat_defects.json"), "--out", str(tmp_path))
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "errors" and report["events"]["missing_value"] == 2
    assert report["events"]["match_rate"] is None
    assert not (tmp_path / "mismatches.csv").exists()
    assert {r["code"] for r in rows(tmp_path / "findings.csv")} >= {"events.missing_value", "events.currency_invalid"}


def test_events_command_with_catalog_reconciles(tmp_path: Path) -> None:
    done = run("events", *PAIR, "--catalog", str(CATALOG), "--out", str(tmp_path))
    assert done.returncode == 1
    assert len(rows(tmp_path / "mismatches.csv")) == 8


def test_broken_logs_give_findings_and_keep_every_good_event(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(EVENTS / "garbage.jsonl", logs / "app.jsonl")
    packed = gzip.compress((EVENTS / "server_eapi2.jsonl").read_bytes())
    (logs / "server.jsonl.gz").write_bytes(packed[: len(packed) * 2 // 3])
    (logs / "empty.jsonl").write_bytes(b"")
    done = run("events", str(logs), "--catalog", str(CATALOG), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    codes = report["findings"]["by_code"]
    assert {c: codes[c]["count"] for c in ("events.not_json", "events.unknown_shape", "events.file_unreadable",
                                            "events.empty_file")} == {
        "events.not_json": 2, "events.unknown_shape": 2, "events.file_unreadable": 1, "events.empty_file": 1}
    readable = run("events", str(EVENTS / "server_eapi2.jsonl"), "--out", str(tmp_path / "whole"))
    assert readable.returncode == 0
    kept = report["events"]["total"] - 2  # the two good events of app.jsonl
    assert 0 < kept < json.loads((tmp_path / "whole" / "report.json").read_text())["events"]["total"]


def test_no_readable_event_is_exit_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    done = run("events", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode == 3 and "Traceback" not in done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "fatal" and report["fatal"]["code"] == "events.no_events"


def test_bad_event_options_are_usage_errors(tmp_path: Path) -> None:
    missing = run("events", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path))
    assert missing.returncode == 2 and "No event log matches" in missing.stderr
    pattern = run("check", str(CATALOG), "--events", PAIR[0], "--id-pattern", "(", "--out", str(tmp_path))
    assert pattern.returncode == 2 and "not a valid regular expression" in pattern.stderr
    field = run("events", PAIR[0], "--field", "eventid", "--out", str(tmp_path))
    assert field.returncode == 2 and "--field takes NAME=PATH" in field.stderr
    assert not (tmp_path / "report.json").exists()


def test_field_mapping_from_the_command_line(tmp_path: Path) -> None:
    done = run("events", str(EVENTS / "segment_track.jsonl"), "--catalog", str(CATALOG), "--out", str(tmp_path),
               "--purchase-event", "Order Completed", "--field", "event_id=properties.eventId",
               "--field", "contents=properties.products", "--field", "content_id=product_id",
               "--field", "value=properties.revenue", "--field", "currency=properties.currency")
    events = json.loads((tmp_path / "report.json").read_text())["events"]
    assert done.returncode == 1  # the catalog's own rejected item
    assert events["by_name"]["Order Completed"]["match_rate"] == 1.0 and events["missing_event_id"] == 0


def test_events_without_any_content_id_still_print_a_summary(tmp_path: Path) -> None:
    log = tmp_path / "nocontents.jsonl"
    log.write_text(json.dumps({"event": "Purchase", "event_id": "o1", "value": 9.5, "currency": "USD"}) + "\n")
    done = run("events", str(log), "--catalog", str(CATALOG), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "catalog match rate 0.0% of events (- of content lines)" in done.stdout
    assert "of which without any content_id: 9.50 USD" in done.stdout


def test_an_empty_log_beside_a_good_feed_is_not_a_failed_feed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    done = run("check", str(CATALOG), "--events", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "FAILED" not in done.stdout
    both = run("events", str(empty), "--catalog", str(CATALOG), "--out", str(tmp_path / "out2"))
    assert both.returncode == 3


def test_half_a_surrogate_pair_in_a_log_is_a_replacement_character_not_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"event": "Purchase", "event_id": "e\\udc001", "event_time": 1795510800, "properties": '
                   '{"value": 24.0, "currency": "USD", "contents": [{"content_id": "NW-MUG\\ud800", "price": 24.0}]}}\n'
                   '{"\\ud800": 1}\n')
    done = run("events", str(log), "--catalog", str(CATALOG), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    assert [(r["content_id"], r["reason"]) for r in rows(tmp_path / "out" / "mismatches.csv")] == [
        ("NW-MUG\ufffd", "not_in_catalog")]
    unknown = [r for r in rows(tmp_path / "out" / "findings.csv") if r["code"] == "events.unknown_shape"]
    assert ["with keys \ufffd, not an event." in r["message"] for r in unknown] == [True]
