"""Event checks and reconciliation, on fixture logs whose numbers were worked out by hand.

The pixel + server pair (``pixel_browser.jsonl`` then ``server_eapi2.jsonl``)
against ``northwind_catalog.csv``, by hand:

* 20 events read; 4 are copies the platform drops (vc-1001 and order_5001,
  order_5002 sent by both pixel and server; order_5001 resent by the server),
  so 16 count.  Purchase copies carry 60 + 98.50 + 60 = 218.50 USD.
* ViewContent 5 events, 4 match (" NW-JKT-014 " does not): 80 %.
  AddToCart 3 of 3: 100 %.  Purchase 8 events, 2 match (5001, 5007): 25 %;
  10 content lines, 4 match (5001's two, 5007's, 5008's socks): 40 %.
  Overall 9 / 16 events = 56.25 %, 11 / 18 lines = 61.11 %.
* Revenue at risk: purchases 5002 (98.50), 5003 (24), 5004 (45), 5005 (27),
  5006 (39) and 5008 (71) = 304.50 USD.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feedcheck.check import check_feed
from feedcheck.events.catalog import Catalog
from feedcheck.events.checker import check_events
from feedcheck.events.rows import event_rows
from feedcheck.findings import FindingLog, Severity
from feedcheck.settings import EventOptions
from tests.conftest import FIXTURES

EVENTS = FIXTURES / "events"
CATALOG = EVENTS / "northwind_catalog.csv"
PAIR = [EVENTS / "pixel_browser.jsonl", EVENTS / "server_eapi2.jsonl"]
DEFECTS = EVENTS / "flat_defects.json"


def catalog() -> Catalog:
    built = Catalog(str(CATALOG))
    report = check_feed(CATALOG, "tiktok", catalog=built)
    assert report.items_with_errors == 1 and built.items_total == 10
    return built


@pytest.fixture(scope="module")
def pair() -> dict:
    report = check_feed(CATALOG, "tiktok", events=PAIR)
    assert report.events is not None
    return {"summary": report.events.summary, "rows": report.events.mismatches, "log": report.log}


@pytest.fixture(scope="module")
def defects() -> FindingLog:
    report = check_feed(CATALOG, "tiktok", events=[DEFECTS])
    return report.log


@pytest.fixture(scope="module")
def clean() -> FindingLog:
    report = check_feed(CATALOG, "tiktok", events=[EVENTS / "pixel_browser.jsonl"])
    return report.log


def found(log: FindingLog, code: str) -> list[str]:
    return [f.item_id for f in log if f.code == code]


def test_match_rates_and_revenue_at_risk_as_worked_out_by_hand(pair: dict) -> None:
    s = pair["summary"]
    assert (s["total"], s["unique"], s["duplicates"]) == (20, 16, 4)
    assert s["double_counted_value"] == {"USD": 218.5}
    assert s["match_rate"] == 0.5625 and s["match_rate_lines"] == 0.6111
    by_name = {name: (v["matched_events"], v["events"], v["matched_lines"], v["lines"])
               for name, v in s["by_name"].items()}
    assert by_name == {"AddToCart": (3, 3, 3, 3), "Purchase": (2, 8, 4, 10), "ViewContent": (4, 5, 4, 5)}
    assert s["by_name"]["Purchase"]["match_rate"] == 0.25 and s["by_name"]["ViewContent"]["match_rate"] == 0.8
    assert s["revenue_at_risk"] == {"USD": 304.5}
    assert s["catalog"] == {"source": str(CATALOG), "items": 10, "valid_items": 9, "currency": "USD"}


def test_mismatch_rows_name_the_reason_and_the_fix(pair: dict) -> None:
    rows = {r["content_id"]: r for r in pair["rows"]}
    assert {cid: (r["reason"], r["suggested_id"], r["events"], r["revenue"]) for cid, r in rows.items()} == {
        "nw-bag-007": ("case_or_whitespace", "NW-BAG-007", 1, 98.5),
        "NW-GLOVE-404": ("not_in_catalog", "", 2, 78.0),
        "wc_post_id_4638": ("id_format", "4638", 1, 45.0),
        "NW-BTL-005": ("excluded", "", 1, 27.0),
        "NW-TEE-001": ("group_id", "", 1, 24.0),
        " NW-JKT-014 ": ("case_or_whitespace", "NW-JKT-014", 1, 0.0),
        "NW-CAP-009": ("out_of_stock", "", 1, 0.0),
        "NW-TEE-001-L": ("out_of_stock", "", 1, 0.0),
    }
    glove = rows["NW-GLOVE-404"]
    assert (glove["first_seen"], glove["last_seen"]) == ("2026-11-24T09:55:00+00:00", "2026-11-24T10:40:00+00:00")
    assert [r["content_id"] for r in pair["summary"]["top_unmatched"]] == [
        "nw-bag-007", "NW-GLOVE-404", "wc_post_id_4638", "NW-BTL-005", "NW-TEE-001", " NW-JKT-014 "]


def test_pixel_and_server_copies_are_information_a_server_resend_a_warning(pair: dict) -> None:
    duplicates = [(f.item_id, f.severity, f.source.rsplit("/", 1)[-1])
                  for f in pair["log"] if f.code == "events.duplicate"]
    assert duplicates == [
        ("vc-1001", Severity.INFO, "server_eapi2.jsonl:1"),
        ("order_5001", Severity.INFO, "server_eapi2.jsonl:3"),
        ("order_5002", Severity.INFO, "server_eapi2.jsonl:4"),
        ("order_5001", Severity.WARNING, "server_eapi2.jsonl:11"),
    ]


def test_match_rate_findings_follow_tiktok_thresholds(pair: dict) -> None:
    rates = {f.item_id: f.severity for f in pair["log"] if f.code == "match.rate_low"}
    assert rates == {"Purchase": Severity.ERROR, "ViewContent": Severity.WARNING}
    all_match = check_feed(CATALOG, "tiktok", events=[EVENTS / "legacy_eapi1.jsonl"])
    assert found(all_match.log, "match.rate_low") == []


EVENT_CHECKS = {
    # code: (fixture, item_ids expected)
    "events.missing_event_name": (DEFECTS, [f"{DEFECTS}:21"]),
    "events.legacy_name": (DEFECTS, ["SubmitForm"]),
    "events.name_case": (DEFECTS, ["purchase"]),
    "events.missing_event_id": (DEFECTS, [f"{DEFECTS}:12"]),
    "events.event_id_placeholder": (DEFECTS, [f"{DEFECTS}:13"]),
    "events.duplicate_outside_window": (DEFECTS, ["order_6016"]),
    "events.order_counted_twice": (DEFECTS, ["srv-6015-retry"]),
    "events.missing_contents": (DEFECTS, ["order_6013"]),
    "events.missing_content_id": (DEFECTS, ["atc-6002"]),
    "events.content_id_not_string": (DEFECTS, ["atc-6001"]),
    "events.content_type_invalid": (DEFECTS, ["vc-6001"]),
    "events.quantity_invalid": (DEFECTS, ["atc-6003"]),
    "events.price_invalid": (DEFECTS, ["atc-6003"]),
    "events.missing_value": (DEFECTS, ["order_6002", "order_6003"]),
    "events.value_invalid": (DEFECTS, ["order_6005", "order_6006"]),
    "events.missing_currency": (DEFECTS, ["order_6004"]),
    "events.currency_invalid": (DEFECTS, ["order_6001", "order_6010"]),
    "events.currency_not_accepted": (DEFECTS, ["order_6009"]),
    "events.value_mismatch": (DEFECTS, ["order_6006", "order_6007"]),
    "events.currency_mismatch": (DEFECTS, ["order_6008", "order_6009"]),
    "events.time_invalid": (DEFECTS, ["order_6014"]),
    "match.item_id_as_group": (DEFECTS, ["NW-TEE-001-S"]),
}


@pytest.mark.parametrize("code", sorted(EVENT_CHECKS))
def test_each_event_check_fires_on_its_defect(code: str, defects: FindingLog) -> None:
    assert found(defects, code) == EVENT_CHECKS[code][1]


@pytest.mark.parametrize("code", sorted(EVENT_CHECKS) + ["events.duplicate"])
def test_no_event_check_fires_on_clean_pixel_events(code: str, clean: FindingLog) -> None:
    assert found(clean, code) == []


@pytest.mark.parametrize("code, content_id", [
    ("match.not_in_catalog", "NW-GLOVE-404"),
    ("match.case_or_whitespace", "nw-bag-007"),
    ("match.id_format", "wc_post_id_4638"),
    ("match.group_id", "NW-TEE-001"),
    ("match.excluded", "NW-BTL-005"),
    ("match.out_of_stock", "NW-TEE-001-L"),
])
def test_each_mismatch_reason_fires_and_not_when_everything_matches(code: str, content_id: str, pair: dict) -> None:
    assert content_id in found(pair["log"], code)
    matching = check_feed(CATALOG, "tiktok", events=[EVENTS / "legacy_eapi1.jsonl"])
    assert matching.events is not None and matching.events.summary["match_rate"] == 1.0
    assert found(matching.log, code) == []


def test_the_messages_say_what_to_do(pair: dict, defects: FindingLog) -> None:
    messages = {(f.code, f.item_id): f.message for f in list(defects) + list(pair["log"])}
    assert "matches catalog id '4638' after removing the WooCommerce wc_post_id_ prefix" in messages[
        ("match.id_format", "wc_post_id_4638")]
    assert "98.50 USD in purchases" in messages[("match.case_or_whitespace", "nw-bag-007")]
    assert "send 'USD'" in messages[("events.currency_invalid", "order_6001")]
    assert "send 'Lead' instead" in messages[("events.legacy_name", "SubmitForm")]
    assert "(12.00 USD twice)" in messages[("events.order_counted_twice", "srv-6015-retry")]


def test_leading_zeros_and_custom_patterns() -> None:
    built = catalog()
    assert built.classify("004638", as_group=False) == ("match.id_format", "4638", "leading zeros")
    assert built.classify("gid://shopify/ProductVariant/4638", False)[:2] == ("match.id_format", "4638")
    assert built.classify("nwtee001s", False) == ("match.id_format", "NW-TEE-001-S", "separators")
    assert built.classify("myshop:NW-MUG-002", False)[0] == "match.not_in_catalog"
    built.use_patterns([r"^myshop:(.+)$"])
    assert built.classify("myshop:NW-MUG-002", False) == (
        "match.id_format", "NW-MUG-002", r"the pattern ^myshop:(.+)$")


@pytest.mark.parametrize("patterns", [(), (r"^shop:(.+)$",)])  # the catalog's ids' cores by Arrow, or by Python
def test_ids_match_after_removing_separators_case_and_zeros_whatever_the_catalog_id_holds(
        patterns: tuple[str, ...]) -> None:
    ids = ["NW-TEE-001-S", "00-42", "\x1cAB.CD\x1f", "x_y-01", "Größe 7", "000", "gid://shopify/Product/0070", "a\x0bb"]
    built = Catalog()
    built.add(pd.DataFrame({"id": ids, "price": "10.00 USD"}), np.zeros(len(ids), dtype=bool))
    built.use_patterns(patterns)
    assert [built.classify(query, as_group=False) for query in (
        "nwtee001s", "42", "abcd", "xy01", "GRÖSSE7", "0.0.0", "70", "ab", "n-w-t-e-e-0-0-1-s", "0042")] == [
        ("match.id_format", "NW-TEE-001-S", "separators"),
        ("match.id_format", "00-42", "separators and leading zeros"),
        ("match.id_format", "\x1cAB.CD\x1f", "separators"),
        ("match.id_format", "x_y-01", "separators"),
        ("match.id_format", "Größe 7", "separators"),
        ("match.id_format", "000", "separators"),
        ("match.id_format", "gid://shopify/Product/0070", "the Shopify gid:// prefix and leading zeros"),
        ("match.id_format", "a\x0bb", "separators"),
        ("match.id_format", "NW-TEE-001-S", "separators"),
        ("match.id_format", "00-42", "leading zeros and separators"),
    ]


def test_events_without_a_catalog_are_still_checked() -> None:
    report = check_events([DEFECTS])
    assert report.summary["match_rate"] is None and report.mismatches == []
    assert report.summary["missing_value"] == 2 and report.summary["invalid_currency"] == 3
    assert found(report.log, "match.not_in_catalog") == []


def test_purchase_and_catalog_event_names_are_configurable() -> None:
    options = EventOptions(purchase_events=frozenset({"Order Completed"}), fields={
        "event_id": "properties.eventId", "contents": "properties.products", "content_id": "product_id",
        "value": "properties.revenue", "currency": "properties.currency"})
    report = check_events([EVENTS / "segment_track.jsonl"], catalog(), options=options)
    assert report.summary["by_name"]["Order Completed"]["match_rate"] == 1.0
    assert found(report.log, "events.missing_value") == []
    unmapped = check_events([EVENTS / "segment_track.jsonl"], catalog())
    assert unmapped.summary["by_name"] == {}


def test_event_rows_one_row_per_content_line_value_once_per_event() -> None:
    frames = list(event_rows(PAIR, chunk_rows=5))
    assert len(frames) > 1
    rows = pd.concat(frames, ignore_index=True)
    assert len(rows) == 24  # 20 events, four of them with two content lines
    assert rows["value"].sum() == pytest.approx(24 + 60 + 98.5 + 98.5 + 15 + 98.5 + 24 + 48 + 60 + 98.5 + 24 + 45
                                                + 27 + 39 + 24 + 189 + 32 + 60 + 98.5 + 71)
    first = rows.iloc[0]
    assert (first["event"], first["content_id"], first["file"], first["line"]) == (
        "ViewContent", "NW-TEE-001-M", str(PAIR[0]), 1)
    assert str(first["event_time"]) == "2026-11-24 09:00:00+00:00"


def test_dedup_memory_is_capped_without_losing_counts(tmp_path: Path) -> None:
    log_file = tmp_path / "many.jsonl"
    log_file.write_text("".join(
        f'{{"event": "ViewContent", "event_id": "v{n}", "event_time": {1795510800 + n}}}\n' for n in range(300)
    ) + '{"event": "ViewContent", "event_id": "v299", "event_time": 1795511100}\n')
    report = check_events([log_file], options=EventOptions(max_dedup_keys=50))
    assert report.summary["total"] == 301 and report.summary["duplicates"] == 1


def write(tmp_path: Path, *records: dict) -> Path:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def purchase(event_id: str, **extra: object) -> dict:
    return {"event": "Purchase", "event_id": event_id, "event_time": 1795510800, "currency": "USD"} | extra


def test_absurd_numbers_are_findings_not_crashes(tmp_path: Path) -> None:
    path = write(tmp_path, purchase("a", value=10**400, contents=[{"content_id": "NW-MUG-002", "quantity": 10**400,
                                                                   "price": 10**400}]))
    report = check_events([path], catalog())
    assert found(report.log, "events.value_invalid") == ["a"]
    assert found(report.log, "events.quantity_invalid") == ["a"] and found(report.log, "events.price_invalid") == ["a"]


def test_events_without_content_lines_count_as_revenue_at_risk_without_ids(tmp_path: Path) -> None:
    path = write(tmp_path, purchase("a", value=50.0),
                 purchase("b", value=20.0, contents=[{"content_id": "NW-GLOVE-404"}]))
    summary = check_events([path], catalog()).summary
    assert summary["revenue_at_risk"] == {"USD": 70.0}
    assert summary["revenue_at_risk_without_content_ids"] == {"USD": 50.0}
    assert summary["match_rate_lines"] == 0.0


def test_an_item_id_once_sent_as_a_group_keeps_missing_when_later_sent_as_an_item(tmp_path: Path) -> None:
    mug = [{"content_id": "NW-MUG-002"}]
    path = write(tmp_path, purchase("a", value=24.0, content_type="product_group", contents=mug),
                 purchase("b", value=24.0, contents=mug))
    for reader in ("records", "blocks"):
        report = check_events([path], catalog(), options=EventOptions(reader=reader))
        assert [(r["content_id"], r["reason"], r["events"]) for r in report.mismatches] == [
            ("NW-MUG-002", "item_id_as_group", 2)]


def test_checking_a_log_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    before = gc.get_threshold()
    check_events([write(tmp_path, purchase("a", value=1.0, contents=["NW-MUG-002"]))], catalog())
    assert gc.get_threshold() == before


def test_bare_ids_inside_contents_are_still_matched(tmp_path: Path) -> None:
    report = check_events([write(tmp_path, purchase("a", value=12.0, contents=["NW-MUG-002"]))], catalog())
    assert report.summary["match_rate"] == 1.0 and found(report.log, "events.missing_content_id") == []


def test_messages_follow_the_configured_window_and_the_missing_value(tmp_path: Path) -> None:
    path = write(tmp_path, purchase("a", value=1.0, contents=["NW-MUG-002"], event_time=1795510800),
                 purchase("a", value=1.0, contents=["NW-MUG-002"], event_time=1795510800 + 7200),
                 {"event": "Purchase", "event_id": "b", "contents": ["NW-MUG-002"]})
    report = check_events([path], options=EventOptions(dedup_window_hours=1))
    messages = {f.code: f.message for f in report.log}
    assert "outside the 1 h deduplication window" in messages["events.duplicate_outside_window"]
    assert messages["events.missing_currency"] == "Purchase has no currency. Send an ISO 4217 code such as USD."


def test_unmatched_ids_past_the_cap_are_counted_together(tmp_path: Path) -> None:
    path = write(tmp_path, *(purchase(f"o{n}", value=1.0, contents=[f"GONE-{n}"]) for n in range(30)))
    summary = check_events([path], catalog(), options=EventOptions(max_tracked_ids=10)).summary
    assert summary["unmatched_ids"] == 10 and summary["untracked_id_events"] == 20
    assert summary["revenue_at_risk"] == {"USD": 30.0}


def test_an_empty_event_log_does_not_fail_the_feed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    report = check_feed(CATALOG, "tiktok", events=[empty])
    assert report.status == "errors" and report.exit_code == 1
    assert report.events is not None and report.events.unusable


def test_a_log_whose_ids_mostly_miss_counts_every_missed_id_and_stores_up_to_the_cap(tmp_path: Path) -> None:
    from bench import generate

    log_path = tmp_path / "events.jsonl"
    generate.write_events(log_path, 2_000, catalog_items=500, seed=11, miss=0.9)
    feed = tmp_path / "catalog.tsv"
    generate.write_delimited(feed, 500, seed=11, delimiter="\t")
    built = Catalog(str(feed))
    check_feed(feed, "tiktok", catalog=built)
    log = FindingLog(max_per_code=5)
    report = check_events([log_path], built, log=log)
    missed = [code for code in log.counts
              if code.startswith("match.") and code not in ("match.rate_low", "match.out_of_stock")]
    assert sum(log.counts[code] for code in missed) == report.summary["unmatched_ids"] > 1_000
    assert all(len([f for f in log if f.code == code]) == min(5, log.counts[code]) for code in missed)
