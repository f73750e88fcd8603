"""Channel schemas on real-shaped fixtures: every defect found, clean feeds pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedcheck import ChannelOptions, check_feed
from feedcheck.findings import Severity
from tests.conftest import FEEDS, TEST_NOW, tuples


def problems(report) -> list[tuple]:
    """(row, field, code) of every error and warning finding."""
    return [t for t in tuples(report.log) if report.log.severity_of[t[2]] is not Severity.INFO]


@pytest.mark.parametrize(
    ("name", "channel"),
    [("tiktok_clean.csv", "tiktok"), ("google_clean.xml", "google"), ("google_atom.xml", "google")],
)
def test_clean_feeds_have_no_errors(name: str, channel: str) -> None:
    report = check_feed(FEEDS / name, channel)
    assert report.status == "ok"
    assert report.items_with_errors == 0
    assert report.log.by_severity()["error"] == 0


def test_clean_tiktok_feed_has_no_warnings_and_counts_items() -> None:
    report = check_feed(FEEDS / "tiktok_clean.csv", "tiktok")
    assert report.items_total == 8
    assert problems(report) == []
    assert report.currency == "USD" and report.currency_assumed


def test_tiktok_defects_each_found_once_where_they_are() -> None:
    report = check_feed(FEEDS / "tiktok_defects.csv", "tiktok")
    assert problems(report) == [
        (1, "", "csv.template_row"),
        (3, "", "csv.template_row"),
        (4, "price", "item.price_rewritten"),  # decimal comma: read as 169.00 USD, the item is kept
        (5, "price", "item.price_rewritten"),  # thousands separator: read as 1450.00 USD
        (6, "price", "item.price_invalid"),  # no currency
        (7, "id", "item.id_whitespace"),
        (8, "id", "item.duplicate_id"),  # 'DF-004 ' trimmed equals 'DF-004'
        (9, "price", "item.currency_mismatch"),  # EUR in a USD catalog
        (10, "gtin", "item.gtin_check_digit"),
        (11, "title", "item.emoji"),
        (12, "description", "item.placeholder_text"),
        (14, "availability", "item.invalid_value"),  # in stok
        (15, "image_link", "item.image_format"),
        (15, "link", "item.url_invalid"),
        (16, "sale_price", "item.sale_price_above_price"),
        (16, "sale_price_effective_date", "item.sale_expired"),  # TikTok's template form, in 2017
        (17, "sale_price_effective_date", "item.date_invalid"),  # end before start
        (18, "id", "item.id_suspicious"),
        (19, "title", "item.promotional_text"),
        (20, "brand", "item.missing_required"),
        (21, "id", "item.id_invalid"),
        (22, "price", "item.currency_mismatch"),
        (22, "price", "item.price_decimals"),
        (23, "price", "item.currency_mismatch"),
        (23, "price", "item.currency_unknown"),
        (24, "condition", "item.invalid_value"),
        (24, "gtin", "item.gtin_restricted"),
        (25, "gtin", "item.gtin_format"),
        (25, "title", "item.control_chars"),
    ]
    assert report.items_total == 22
    assert report.items_with_errors == 15
    assert report.exit_code == 1


def test_explicit_catalog_currency_changes_which_prices_mismatch() -> None:
    report = check_feed(FEEDS / "tiktok_defects.csv", "tiktok", options=ChannelOptions(currency="EUR"))
    mismatched = {f.item_id for f in report.log if f.code == "item.currency_mismatch"}
    assert "DF-005" not in mismatched and "DF-006" in mismatched
    assert not report.currency_assumed


def test_configurable_limit_applies() -> None:
    strict = check_feed(FEEDS / "tiktok_clean.csv", "tiktok", options=ChannelOptions(limits={"title": 20}))
    long_titles = {f.item_id for f in strict.log if f.code == "item.too_long" and f.field == "title"}
    assert long_titles == {"NW-TEE-001-S", "NW-TEE-001-M", "NW-TEE-001-L", "NW-JKT-014", "NW-BAG-007",
                           "NW-SOCK-3PK"}


def test_google_defects() -> None:
    report = check_feed(FEEDS / "google_defects.xml", "google")
    assert problems(report) == [
        (None, "price", "feed.unprefixed_element"),
        (1, "availability_date", "item.missing_conditional"),
        (2, "gtin", "item.gtin_restricted"),
        (3, "gtin", "item.missing_identifier"),
        (4, "identifier_exists", "item.identifier_exists_conflict"),
        (5, "age_group", "item.invalid_value"),
        (6, "gtin", "item.gtin_check_digit"),  # Google's own sample GTIN 123456789123
        (7, "link", "item.url_not_ascii"),
        (7, "price", "item.missing_required"),
        (7, "title", "item.too_long"),
    ]
    hint = next(f for f in report.log if f.code == "item.invalid_value")
    assert "Did you mean 'adult'?" in hint.message


def test_google_accepts_both_availability_spellings_and_says_so_once_for_the_feed() -> None:
    report = check_feed(FEEDS / "google_clean.xml", "google")
    assert problems(report) == []
    assert report.items_with_warnings == 0
    assert [f.message for f in report.log if f.code == "feed.alternative_spelling"] == [
        "availability is written in a spelling Google Merchant Center accepts on 1 item: 'in stock' → 'in_stock' "
        "(1 item). The cleaned catalog writes Google Merchant Center's own spelling; nothing to change."]


def test_accepted_spellings_are_one_info_finding_per_field_however_many_items_use_them(tmp_path: Path) -> None:
    header = "sku_id,title,description,availability,condition,price,link,image_link,brand\n"
    row = "S{n},Linen shirt {n},A linen shirt,{stock},{condition},40.00 USD,https://shop.example/p/{n},https://shop.example/p/{n}.jpg,Northwind\n"
    feed = tmp_path / "feed.csv"
    feed.write_text(header + "".join(row.format(n=n, stock=["In Stock", "in_stock", "in stock"][n % 3],
                                                condition="New" if n == 7 else "new") for n in range(300)))
    report = check_feed(feed, "tiktok")
    assert problems(report) == []
    assert [(f.field, f.severity.value, f.message) for f in report.log if f.code == "feed.alternative_spelling"] == [
        ("availability", "info", "availability is written in a spelling TikTok accepts on 200 items: 'In Stock' → "
         "'in stock' (100 items), 'in_stock' → 'in stock' (100 items). The cleaned catalog writes TikTok's own "
         "spelling; nothing to change."),
        ("condition", "info", "condition is written in a spelling TikTok accepts on 1 item: 'New' → 'new' (1 item). "
         "The cleaned catalog writes TikTok's own spelling; nothing to change."),
    ]


def test_meta_catalog() -> None:
    report = check_feed(FEEDS / "meta_catalog.tsv", "meta")
    assert report.info is not None and report.info.format == "tsv"
    assert problems(report) == [
        (3, "description", "item.html"),
        (4, "brand", "item.missing_identifier"),
    ]
    assert report.items_total == 4 and report.items_with_errors == 1
    # a title Meta takes but would rather see shorter: advice, not a warning on the item
    assert [(f.row, f.severity.value) for f in report.log if f.code == "item.longer_than_recommended"] == [(3, "info")]


def test_feed_level_findings(tmp_path) -> None:
    feed = tmp_path / "feed.csv"
    images = ",".join(f"https://cdn.example/{i}.jpg" for i in range(12))
    feed.write_text(
        "id,title,description,availability,condition,price,link,image_link,additional_image_link,shoe_width\n"
        f'A1, Tee ,Soft.,in stock,new,9.00 USD,https://s.example/a,https://c.example/a.jpg,"{images}",wide\n'
    )
    report = check_feed(feed, "tiktok")
    assert tuples(report.log, "feed.missing_column", "feed.unknown_field", "item.too_many_values",
                  "item.whitespace_trimmed") == [
        (None, "brand", "feed.missing_column"),
        (None, "shoe_width", "feed.unknown_field"),
        (2, "additional_image_link", "item.too_many_values"),
        (2, "title", "item.whitespace_trimmed"),
    ]
    assert tuples(report.log, "item.missing_required") == [(2, "brand", "item.missing_required")]


def test_header_only_feed_has_no_items(tmp_path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("sku_id,title,price\n")
    report = check_feed(feed, "tiktok")
    assert report.items_total == 0
    assert [f.code for f in report.log] == ["feed.no_items"]
    assert report.exit_code == 1


def test_duplicates_are_found_across_chunks(tmp_path) -> None:
    from feedcheck import ReadLimits

    feed = tmp_path / "feed.csv"
    rows = "".join(f"A{i % 150},T,D,in stock,new,1.00 USD,https://s.example/a,https://c.example/a.jpg,B\n"
                   for i in range(300))
    feed.write_text("id,title,description,availability,condition,price,link,image_link,brand\n" + rows)
    report = check_feed(feed, "tiktok", read_limits=ReadLimits(chunk_rows=64))
    dups = [f for f in report.log if f.code == "item.duplicate_id"]
    assert len(dups) == 150 and report.items_with_errors == 150
    assert dups[0].item_id == "A0" and dups[0].row == 152 and "row 2;" in dups[0].message


_VALUES = st.one_of(
    st.sampled_from(["", " ", "in stock", "9.99 USD", "1,5 EUR", "https://x.example/a.jpg", "0698615070527",
                     "2026-01-01/2025-01-01", "preorder", "no", "new", "[object Object]", "🌞", "\x07", "1.2E+5"]),
    st.text(max_size=30),
)


@pytest.mark.parametrize("channel", ["tiktok", "google", "meta"])
@given(data=st.data())
def test_any_values_give_findings_never_exceptions(channel: str, data: st.DataObject) -> None:
    from feedcheck import FeedValidator, FindingLog, get_channel

    spec = get_channel(channel)
    columns = list(spec.schema(currency=None, now=TEST_NOW).columns)
    chosen = data.draw(st.lists(st.sampled_from(columns), min_size=1, unique=True))
    n = data.draw(st.integers(min_value=1, max_value=4))
    frame = pd.DataFrame({c: data.draw(st.lists(_VALUES, min_size=n, max_size=n)) for c in chosen},
                         index=range(2, 2 + n), dtype="str")
    validator = FeedValidator(spec, FindingLog(), ChannelOptions(), now=TEST_NOW)
    verdict = validator.validate(frame)
    validator.finish()
    assert len(verdict.errors) == n
    assert validator.items_total == n


@pytest.mark.parametrize("channel", ["tiktok", "google", "meta"])
def test_a_description_that_only_repeats_the_title_is_a_warning(tmp_path, channel: str) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,description\n"
        "A-1,Linen Shirt Navy,Linen Shirt Navy\n"
        "A-2,Linen Shirt Navy,  linen  shirt NAVY \n"
        "A-3,Linen Shirt Navy,A navy shirt of washed Normandy linen.\n"
        "A-4,Linen Shirt Navy,\n"
    )
    report = check_feed(feed, channel)
    assert tuples(report.log, "item.description_is_title") == [
        (2, "description", "item.description_is_title"),
        (3, "description", "item.description_is_title"),
    ]
    assert report.log.severity_of["item.description_is_title"] is Severity.WARNING


def test_a_price_message_names_its_field_and_gives_examples_in_the_feeds_currency(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title,description,availability,condition,price,sale_price,link,image_link,brand\n"
                    "E1,Linen Shirt,A linen shirt,in stock,new,24.00 EUR,EUR,https://shop.example/p/1,"
                    "https://shop.example/p/1.jpg,Northwind\n"
                    "E2,Wool Scarf,A wool scarf,in stock,new,19.5,,https://shop.example/p/2,"
                    "https://shop.example/p/2.jpg,Northwind\n")
    report = check_feed(feed, "meta")
    assert [(f.row, f.message) for f in report.log if f.code == "item.price_invalid"] == [
        (3, "price '19.5' has no currency; add the ISO 4217 code, e.g. '19.5 EUR'."),
        (2, "sale_price 'EUR' is not a number followed by a currency code; write it like '12.50 EUR'."),
    ]
