"""TikTok's and Meta's specifications: every field of their registers known, their own rules checked, on feeds
written in the shape of a TikTok template export and a Meta Commerce Manager export."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from feedcheck import check_feed
from feedcheck.findings import Severity
from feedcheck.readers.fields import canonical
from feedcheck.reports.codes import checked_line
from feedcheck.rules.channels import get_channel
from tests.conftest import FEEDS, ROOT

TIKTOK, META = get_channel("tiktok"), get_channel("meta")
# A complete item of each channel, which each example changes in one attribute.
BASE = {
    "tiktok": {"sku_id": "", "title": "Loomwell Organic Tee", "description": "Heavyweight organic cotton tee.",
               "availability": "in stock", "condition": "new", "price": "29.00 USD",
               "link": "https://loomwell.example/p/tee", "image_link": "https://cdn.loomwell.example/tee.jpg",
               "brand": "Loomwell"},
    "meta": {"id": "", "title": "Loomwell Organic Tee", "description": "Heavyweight organic cotton tee.",
             "availability": "in stock", "condition": "new", "price": "29.00 EUR",
             "link": "https://loomwell.example/p/tee", "image_link": "https://cdn.loomwell.example/tee.jpg",
             "brand": "Loomwell"},
}
EXAMPLES = [(channel, attribute) for channel in (TIKTOK, META) for attribute in channel.attributes.values()
            if attribute.valid]


def feed(tmp_path: Path, channel, rows: list[dict[str, str]]) -> Path:
    """A CSV feed of ``channel`` whose items are its complete item changed by each of ``rows``."""
    identity = next(iter(BASE[channel.name]))
    items = [BASE[channel.name] | {identity: f"LW-{n}"} | row for n, row in enumerate(rows, start=1)]
    names = list(dict.fromkeys(name for item in items for name in item))
    path = tmp_path / "feed.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, names, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
    return path


def findings(report) -> list[tuple]:
    """(row, field, code, severity) of every error and warning, and of every feed-wide finding."""
    return sorted(((f.row, f.field, f.code, f.severity.value) for f in report.log
                   if f.severity is not Severity.INFO), key=lambda t: (t[0] or 0, t[1], t[2]))


def test_a_tiktok_template_export_is_read_with_every_column_known() -> None:
    report = check_feed(FEEDS / "tiktok_template_export.csv", "tiktok")
    header = (FEEDS / "tiktok_template_export.csv").read_text().splitlines()[0].split(",")
    assert set(header) == set(TIKTOK.attributes)  # the template's columns
    assert findings(report) == [
        (4, "ios_app_store_id", "item.number_invalid", "error"),  # 'loomwell-shop'
        (4, "shipping_weight", "item.measure_invalid", "warning"),  # '1 st'
        (4, "size", "item.placeholder_value", "warning"),  # 'N/A'
    ]


def test_a_meta_export_with_json_path_columns_is_checked_by_metas_rules() -> None:
    report = check_feed(FEEDS / "meta_commerce_export.csv", "meta")
    assert findings(report) == [
        (None, "color", "feed.variant_field_uneven", "warning"),  # LW-SCARF-2 has no colour, LW-SCARF-1 has
        (7, "custom_number_0", "item.number_invalid", "error"),  # 5.5
        (7, "google_product_category", "item.category_too_broad", "warning"),  # 'Apparel & Accessories'
        (7, "status", "item.invalid_value", "error"),  # 'hidden'
        (8, "origin_country", "item.country_invalid", "error"),  # 'Portugal'
        (8, "quantity_to_sell_on_facebook", "item.number_invalid", "error"),  # 2.5
        (8, "shipping_weight", "item.measure_invalid", "warning"),  # no unit
    ]
    messages = {f.code: f.message for f in report.log}
    assert messages["feed.variant_field_uneven"] == (
        "In 1 item group(s) some variants have color and others leave it empty (item_group_id 'LW-SCARF': row 5 "
        "has it, row 6 does not). Meta tells a group's variants apart by these fields, so every variant of a group "
        "must fill each one the group uses.")
    assert messages["item.category_too_broad"] == (
        "google_product_category 'Apparel & Accessories' is 'Apparel & Accessories', 1 level(s) deep; Meta asks "
        "for at least 2, since the category decides where and how the item is shown (and its tax on checkout). "
        "Choose the most specific category that fits.")


@pytest.mark.parametrize("column", ["video[0].url", "video[0].tag[0]", "product_tags[0]", "style[0]",
                                    "image[1].url", "applink.ios_url"])
def test_metas_json_path_columns_are_known(column: str) -> None:
    assert META.knows(column)


@pytest.mark.parametrize(("channel", "column"), [(META, "colour"), (META, "gadget[0].url"), (TIKTOK, "video[0].url"),
                                                 (TIKTOK, "fb_product_category")])
def test_a_column_outside_the_channels_specification_is_unknown(channel, column: str) -> None:
    assert not channel.knows(column)


def test_an_unknown_column_in_a_meta_feed_is_reported_once(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title,description,availability,condition,price,link,image_link,brand,video[0].url,colour\n"
                    "M1,Linen Shirt,A linen shirt.,in stock,new,24.00 EUR,https://shop.example/p/1,"
                    "https://shop.example/p/1.jpg,Loomwell,https://cdn.example/1.mp4,Blue\n")
    report = check_feed(feed, "meta")
    assert [(f.field, f.code) for f in report.log if f.code == "feed.unknown_field"] == [("colour", "feed.unknown_field")]


@pytest.mark.parametrize(("channel", "attribute"), EXAMPLES, ids=[f"{c.name}-{a.name}" for c, a in EXAMPLES])
def test_the_registers_valid_example_passes_and_its_invalid_example_fails(tmp_path: Path, channel, attribute) -> None:
    report = check_feed(feed(tmp_path, channel, [{attribute.name: attribute.valid},
                                                 {attribute.name: attribute.invalid}]), channel.name)
    column = canonical(attribute.name)
    assert {(f.row, f.field) for f in report.log if f.field == column and f.row} == {(3, column)}, [
        f.message for f in report.log]


@pytest.mark.parametrize("channel", [TIKTOK, META], ids=["tiktok", "meta"])
def test_every_attribute_checked_on_its_own_has_examples_in_the_register(channel) -> None:
    schema = channel.schema(currency=None, now="2026-11-20T12:00:00+00:00")
    on_their_own = {name for name, column in schema.columns.items() if column.checks}
    assert on_their_own - {canonical(a.name) for c, a in EXAMPLES if c is channel} == set()


@pytest.mark.parametrize("channel", [TIKTOK, META], ids=["tiktok", "meta"])
def test_the_readme_says_how_much_of_each_specification_is_checked(channel) -> None:
    line = checked_line(channel)
    assert re.fullmatch(rf"{channel.title}: \d+ of {len(channel.attributes)} attributes checked", line)
    assert line in (ROOT / "README.md").read_text()
