"""Rules a single item cannot show: one GTIN on different products, prices in several currencies, placeholder
values where a product's attribute should be, and promotional wording in titles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from feedcheck import ChannelOptions, check_feed
from feedcheck.readers.fields import ID
from feedcheck.rules.feedwide import DuplicateIds
from feedcheck.rules.keys import ChunkKeys
from feedcheck.settings import ReadLimits
from tests.conftest import tuples

GOOGLE = "id\ttitle\tdescription\tlink\timage_link\tavailability\tprice\tbrand\tgtin\titem_group_id\tcolor\n"


def google_feed(tmp_path: Path, *rows: str) -> Path:
    """A Google TSV feed of ``rows``: id, title, price, gtin, item group and colour, tab-separated."""
    lines = []
    for n, row in enumerate(rows, 1):
        item_id, title, price, gtin, group, color = row.split("|")
        lines.append(f"{item_id}\t{title}\tA well made {title.lower()}.\thttps://shop.example/p/{n}\t"
                     f"https://shop.example/p/{n}.jpg\tin_stock\t{price}\tHarbor & Pine\t{gtin}\t{group}\t{color}\n")
    path = tmp_path / "feed.tsv"
    path.write_text(GOOGLE + "".join(lines))
    return path


def test_one_gtin_on_different_products_is_a_warning_on_each_later_one(tmp_path: Path) -> None:
    feed = google_feed(
        tmp_path,
        "HP-1|Linen Shirt White M|40.00 USD|4006381333931|HP-1|",
        "HP-2|Wool Scarf|35.00 USD|4006381333931||",  # another product: its title and group differ
        "HP-3|Linen Shirt White M|40.00 USD|04006381333931|HP-1|",  # the same product again, as GTIN-14
        "HP-4|Linen Shirt Blue M|40.00 USD|4006381333931|HP-1|",  # a variant of the first, with its GTIN
        "HP-5|Canvas Tote|20.00 USD|9780306406157||",
    )
    report = check_feed(feed, "google")
    assert [(f.row, f.item_id, f.severity.value, f.message) for f in report.log if f.code == "item.gtin_reused"] == [
        (3, "HP-2", "warning", "GTIN '4006381333931' is also on row 2, a different product. "
         "Google Merchant Center takes a GTIN as the product's identity, so one of the two is matched to the wrong "
         "product: give each product, and each variant, its own GTIN."),
        (5, "HP-4", "warning", "GTIN '4006381333931' is also on row 2, a different product. "
         "Google Merchant Center takes a GTIN as the product's identity, so one of the two is matched to the wrong "
         "product: give each product, and each variant, its own GTIN."),
    ]


def test_a_gtin_shared_across_chunks_is_found(tmp_path: Path) -> None:
    feed = google_feed(tmp_path, *(f"HP-{n}|Shirt {n}|40.00 USD|{'4006381333931' if n in (3, 2900) else ''}||"
                                   for n in range(1, 3001)))
    report = check_feed(feed, "google", read_limits=ReadLimits(chunk_rows=1_000))
    assert tuples(report.log, "item.gtin_reused") == [(2901, "gtin", "item.gtin_reused")]


def test_prices_in_several_currencies_are_one_warning_for_the_feed(tmp_path: Path) -> None:
    feed = google_feed(tmp_path, "HP-1|Linen Shirt|40.00 USD|||", "HP-2|Wool Scarf|35.00 EUR|||",
                       "HP-3|Canvas Tote|20.00 USD|||", "HP-4|Cap|400.00 TRY|||")
    report = check_feed(feed, "google")
    assert [(f.field, f.severity.value, f.message) for f in report.log if f.code == "feed.mixed_currencies"] == [
        ("price", "warning", "Prices are in 3 currencies: USD (2 items), EUR (1 item), TRY (1 item). A catalog "
         "sells to one country in its currency, so Google Merchant Center disapproves the prices that are not in "
         "it. Convert them, or split the feed by country; run with --currency to see each item whose price "
         "differs."),
    ]
    stated = check_feed(feed, "google", options=ChannelOptions(currency="USD"))
    assert tuples(stated.log, "feed.mixed_currencies", "item.currency_mismatch") == [
        (3, "price", "item.currency_mismatch"), (5, "price", "item.currency_mismatch")]


def test_one_currency_is_not_reported(tmp_path: Path) -> None:
    feed = google_feed(tmp_path, "HP-1|Linen Shirt|40.00 USD|||", "HP-2|Wool Scarf|35.00 USD|||")
    assert tuples(check_feed(feed, "google").log, "feed.mixed_currencies") == []


def test_placeholder_values_are_warnings_wherever_shoppers_see_them(tmp_path: Path) -> None:
    feed = google_feed(tmp_path, "HP-1|Linen Shirt|40.00 USD|||See product page", "HP-2|Wool Scarf|35.00 USD|||N/A",
                       "HP-3|TBD|20.00 USD|||-", "HP-4|Canvas Tote|20.00 USD|||Navy", "HP-5|Cap|9.00 USD|||0")
    report = check_feed(feed, "google")
    assert tuples(report.log, "item.placeholder_value") == [
        (2, "color", "item.placeholder_value"),
        (3, "color", "item.placeholder_value"),
        (4, "color", "item.placeholder_value"),
        (4, "title", "item.placeholder_value"),
    ]
    assert next(f.message for f in report.log if f.code == "item.placeholder_value" and f.row == 2) == (
        "'color' is 'See product page', a placeholder, not the product's color; Google Merchant Center shows it to "
        "shoppers and matches searches on it as written. Give the real color (an optional field may be left empty "
        "instead).")


def test_a_custom_label_may_say_n_a(tmp_path: Path) -> None:
    feed = tmp_path / "feed.tsv"
    feed.write_text("id\ttitle\tdescription\tlink\timage_link\tavailability\tprice\tbrand\tgtin\tcustom_label_0\n"
                    "HP-1\tLinen Shirt\tA linen shirt.\thttps://shop.example/p/1\thttps://shop.example/p/1.jpg\t"
                    "in_stock\t40.00 USD\tHarbor & Pine\t4006381333931\tN/A\n")
    assert tuples(check_feed(feed, "google").log, "item.placeholder_value") == []


def test_promotional_wording_in_a_tiktok_title_is_a_warning_whose_message_says_so(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("sku_id,title,description,availability,condition,price,link,image_link,brand\n"
                    "T1,Linen Shirt - Free Shipping,A linen shirt,in stock,new,24.00 USD,https://shop.example/p/1,"
                    "https://shop.example/p/1.jpg,Northwind\n"
                    "T2,Linen Shirt,A linen shirt,in stock,new,24.00 USD,https://shop.example/p/2,"
                    "https://shop.example/p/2.jpg,Northwind\n")
    report = check_feed(feed, "tiktok")
    assert [(f.row, f.severity.value, f.message) for f in report.log if f.code == "item.promotional_text"] == [
        (2, "warning", "'title' contains 'free shipping'. TikTok's rules forbid promotional wording in titles, and "
         "an item with it may be disapproved on review: take 'free shipping' out of the title (a promotion or the "
         "ad says it)."),
    ]
    assert report.items_with_errors == 0


def test_ids_whose_first_hashes_clash_are_told_apart_by_their_text() -> None:
    # Two ids with one first hash (a chance of one in 2**64 a pair, so the keys are made by hand): their second
    # hashes differ, and the second id is kept by its text, not taken for the first.
    duplicates = DuplicateIds()
    first = pd.DataFrame({ID: ["SKU-A", "SKU-B", "SKU-A"]}, index=[2, 3, 4])
    second = pd.DataFrame({ID: ["SKU-B", "SKU-C"]}, index=[5, 6])
    found = [duplicates.failures(first, _keys([2, 3, 4], [7, 7, 7], [1, 2, 1])),
             duplicates.failures(second, _keys([5, 6], [7, 9], [2, 3]))]
    assert [[(f.code, f.params["_per_row"]) for f in failures] for failures in found] == [
        [("item.duplicate_id", {4: {"first_row": 2}})],
        [("item.duplicate_id", {5: {"first_row": 3}})],
    ]


def _keys(rows: list[int], key: list[int], check: list[int]) -> ChunkKeys:
    none = np.empty(0, np.uint64)
    return ChunkKeys(np.array(rows, np.int64), np.array(key, np.uint64), np.array(check, np.uint64),
                     np.empty(0, np.int64), none, none)
