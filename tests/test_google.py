"""Google Merchant Center's rule book: every attribute of its specification known, the taxonomy, and the
attributes a category requires in the countries the catalog is advertised in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedcheck import ChannelOptions, check_feed
from feedcheck.errors import ConfigError
from feedcheck.feeds import load_feeds
from feedcheck.reports.codes import checked_line
from feedcheck.rules.channels import get_channel
from tests.conftest import FEEDS, ROOT, run, tuples

GOOGLE = get_channel("google")


def _tsv(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    """A Google text feed of ``rows``, each a complete item changed where the test says."""
    base = {"id": "", "title": "Harbor & Pine Linen Shirt", "description": "A linen shirt.",
            "link": "https://shop.example/p/1", "image_link": "https://cdn.example/1.jpg",
            "availability": "in_stock", "price": "49.00 EUR", "brand": "Harbor & Pine", "mpn": "HP-1"}
    items = [base | {"id": f"HP-{n}"} | row for n, row in enumerate(rows, start=1)]
    names = list(dict.fromkeys(name for item in items for name in item))
    path = tmp_path / "feed.tsv"
    path.write_text("\n".join(["\t".join(names)] + ["\t".join(i.get(n, "") for n in names) for i in items]) + "\n")
    return path


def test_a_feed_using_every_attribute_of_the_specification_is_clean() -> None:
    feed = FEEDS / "google_every_attribute.xml"
    report = check_feed(feed, "google")
    assert [(f.row, f.field, f.code) for f in report.log] == []
    assert report.status == "ok" and report.items_total == 3
    used = set(re.findall(r"<g:(\w+)>", feed.read_text()))
    assert set(GOOGLE.attributes) <= used  # the fixture grows with the register


def test_only_fields_outside_googles_specification_are_unknown(tmp_path: Path) -> None:
    feed = _tsv(tmp_path, [{"energy_efficiency_class": "A", "product_highlight": "Linen from Normandy",
                            "ships_from_country": "FR", "fb_product_category": "clothing", "warehouse_bin": "B7"}])
    report = check_feed(feed, "google")
    assert tuples(report.log, "feed.unknown_field") == [(None, "fb_product_category", "feed.unknown_field"),
                                                       (None, "warehouse_bin", "feed.unknown_field")]


def test_a_category_is_an_id_or_an_exact_path_and_a_near_miss_gets_a_suggestion(tmp_path: Path) -> None:
    feed = _tsv(tmp_path, [
        {"google_product_category": "2271"},
        {"google_product_category": "Apparel & Accessories > Clothing > Dresses"},
        {"google_product_category": "Food, Beverages & Tobacco>Beverages>Coffee"},
        {"google_product_category": "Apparel & Accessories > Clothing > Shirts and Tops"},
        {"google_product_category": "food, beverages & tobacco > beverages > coffee"},
        {"google_product_category": "Sauvignon Blanc"},
        {"google_product_category": "Wine"},
        {"google_product_category": "99999999"},
        {"google_product_category": ""},
    ])
    report = check_feed(feed, "google")
    found = [(f.row, f.message.split("itself. ")[1]) for f in report.log if f.code == "item.category_unknown"]
    assert found == [
        (5, "Did you mean 'Apparel & Accessories > Clothing > Shirts & Tops' (id 212)?"),
        (6, "Did you mean 'Food, Beverages & Tobacco > Beverages > Coffee' (id 1868)?"),
        (7, "No category's name contains it; find the category in the taxonomy and send its id."),
        (8, "Categories that name it: 421 'Food, Beverages & Tobacco > Beverages > Alcoholic Beverages > Wine'; "
            "5578 'Furniture > Cabinets & Storage > Wine Racks'; "
            "6357 'Furniture > Cabinets & Storage > Wine & Liquor Cabinets'."),
        (9, "No category's name contains it; find the category in the taxonomy and send its id."),
    ]
    assert {f.severity.value for f in report.log if f.code == "item.category_unknown"} == {"warning"}


APPAREL_FINDINGS = [
    (5, "color", "item.category_attribute_missing"),  # a dress
    (6, "size", "item.category_attribute_missing"),  # trainers
    (7, "age_group", "item.category_attribute_missing"),  # a kids' hoodie
    (7, "gender", "item.category_attribute_missing"),
    (8, "gender", "item.category_attribute_missing"),  # cufflinks need a gender, not an age group
    (11, "google_product_category", "item.category_unknown"),  # 'Belt' for 'Belts'
]


@pytest.mark.parametrize(("countries", "severity", "says"), [
    ((), "warning", "in Shopping ads in BR, DE, FR, GB, JP, US, and in free listings everywhere"),
    (("CA",), "warning", "keeps the item out of free listings"),
    (("UK", "DE"), "error", "in free listings, and in Shopping ads in GB, DE."),
])
def test_apparel_needs_color_gender_age_group_and_size_where_google_requires_them(
        countries: tuple[str, ...], severity: str, says: str) -> None:
    report = check_feed(FEEDS / "google_apparel.tsv", "google", options=ChannelOptions(countries=countries))
    assert tuples(report.log) == APPAREL_FINDINGS
    missing = [f for f in report.log if f.code == "item.category_attribute_missing"]
    assert {f.severity.value for f in missing} == {severity}
    assert all(says in f.message for f in missing)
    assert report.items_with_errors == (4 if severity == "error" else 0)


def test_countries_are_iso_codes_read_once_in_the_settings(tmp_path: Path) -> None:
    assert ChannelOptions(countries=("us", "UK", "GB", " de ")).countries == ("US", "GB", "DE")
    with pytest.raises(ConfigError, match="'XX' is not an ISO 3166-1"):
        ChannelOptions(countries=("US", "XX"))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "shop"\nsource = "{FEEDS / "google_apparel.tsv"}"\nchannel = "google"\n'
                     'countries = ["fr", "UK"]\n')
    assert load_feeds(feeds)[0].channel_options().countries == ("FR", "GB")
    feeds.write_text(f'[[feed]]\nname = "shop"\nsource = "{FEEDS / "google_apparel.tsv"}"\ncountries = "FR"\n')
    with pytest.raises(ConfigError, match="'countries' must be a list"):
        load_feeds(feeds)


def test_the_cli_takes_the_countries_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    args = ["check", str(FEEDS / "google_apparel.tsv"), "--channel", "google", "--no-publish"]
    done = run(*args, "--countries", "us,de", "--out", str(tmp_path / "a"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "item.category_attribute_missing" in done.stdout
    refused = run(*args, "--countries", "US,Germany", "--out", str(tmp_path / "b"))
    assert refused.returncode == 2 and "'Germany' is not an ISO 3166-1 country code" in refused.stderr


def test_the_readme_says_how_much_of_googles_specification_is_checked() -> None:
    line = checked_line(GOOGLE)
    assert re.fullmatch(r"Google Merchant Center: \d+ of 95 attributes checked", line)
    assert line in (ROOT / "README.md").read_text()


# Each rule with a value that passes and one that breaks it: (the item's values, what Google makes of them).
RULE_CASES: list[tuple[dict[str, str], list[tuple[str, str, str]]]] = [
    ({"adult": "yes", "is_bundle": "no", "pause": "ads"}, []),
    ({"adult": "Ja"}, [("adult", "item.invalid_value", "error")]),
    ({"is_bundle": "maybe"}, [("is_bundle", "item.invalid_value", "warning")]),
    ({"pause": "yes"}, [("pause", "item.invalid_value", "error")]),
    ({"multipack": "6", "energy_efficiency_class": "A++", "size_type": "petite,maternity", "size_system": "EU"}, []),
    ({"multipack": "1"}, [("multipack", "item.number_invalid", "error")]),
    ({"multipack": "six"}, [("multipack", "item.number_invalid", "error")]),
    ({"energy_efficiency_class": "A4"}, [("energy_efficiency_class", "item.invalid_value", "error")]),
    ({"size_type": "petite,slim"}, [("size_type", "item.invalid_value", "warning")]),
    ({"size_system": "XX"}, [("size_system", "item.invalid_value", "warning")]),
    ({"excluded_destination": "Display_ads,Free_listings", "shopping_ads_excluded_country": "CH,AT",
      "ships_from_country": "DE"}, []),
    ({"excluded_destination": "Display_ads,Shopping"}, [("excluded_destination", "item.invalid_value", "warning")]),
    ({"shopping_ads_excluded_country": "CH,Switzerland"},
     [("shopping_ads_excluded_country", "item.country_invalid", "warning")]),
    ({"ships_from_country": "GER"}, [("ships_from_country", "item.country_invalid", "error")]),
    ({"unit_pricing_measure": "750 ml", "unit_pricing_base_measure": "75cl", "product_length": "20 cm",
      "product_weight": "2.5 kg", "shipping_weight": "3 kg"}, []),
    ({"unit_pricing_measure": "750"}, [("unit_pricing_measure", "item.measure_invalid", "warning")]),
    ({"unit_pricing_base_measure": "3 ml"}, [("unit_pricing_base_measure", "item.measure_invalid", "warning")]),
    ({"product_length": "20 mm"}, [("product_length", "item.measure_invalid", "warning")]),
    ({"shipping_weight": "heavy"}, [("shipping_weight", "item.measure_invalid", "warning")]),
    ({"shipping": "US::Standard:4.95 USD,CA:ON:Express:12.00 CAD", "tax": "US:CA:8.75:yes"}, []),
    ({"shipping": "US:::"}, [("shipping", "item.shipping_invalid", "error")]),
    ({"shipping": "USA::Standard:4.95 USD"}, [("shipping", "item.shipping_invalid", "error")]),
    ({"tax": "US:CA:eight:yes"}, [("tax", "item.tax_invalid", "warning")]),
    ({"min_handling_time": "1", "max_handling_time": "3"}, []),
    ({"min_handling_time": "3", "max_handling_time": "1"}, [("max_handling_time", "item.handling_time_order", "error")]),
    ({"cost_of_goods_sold": "20.00 EUR", "auto_pricing_min_price": "39.00 EUR"}, []),
    ({"cost_of_goods_sold": "20 euro"}, [("cost_of_goods_sold", "item.price_invalid", "warning")]),
    ({"auto_pricing_min_price": "€39"}, [("auto_pricing_min_price", "item.price_invalid", "error")]),
    ({"title": "HARBOR PINE LINEN SHIRT NAVY"}, [("title", "item.all_caps", "warning")]),
    ({"title": "Linen Shirt!!!"}, [("title", "item.gimmicky_punctuation", "warning")]),
    ({"title": "Linen Shirt - Free Shipping"}, [("title", "item.promotional_text", "warning")]),
    ({"title": "IKEA-style Linen Shirt, 5* Stitching..."}, []),
    ({"gtin": "5901234123457"}, []),
    ({"gtin": "5901234123457", "brand": ""}, [("gtin", "item.brand_missing", "error")]),
    ({"image_link": "https://cdn.example/img?id=1", "mobile_link": "https://m.example/p/1"}, []),
    ({"image_link": "https://cdn.example/1.svg"}, [("image_link", "item.image_type_rejected", "error")]),
    ({"mobile_link": "m.example/p/1"}, [("mobile_link", "item.url_invalid", "error")]),
]


def test_each_rule_passes_a_good_value_and_finds_a_bad_one(tmp_path: Path) -> None:
    report = check_feed(_tsv(tmp_path, [changes for changes, _ in RULE_CASES]), "google")
    expected = sorted((row, field, code, severity) for row, (_, found) in enumerate(RULE_CASES, start=2)
                      for field, code, severity in found)
    assert sorted((f.row, f.field, f.code, f.severity.value) for f in report.log if f.row) == expected


def test_shipping_to_several_countries_is_read_group_by_group() -> None:
    report = check_feed(FEEDS / "google_shipping.tsv", "google")
    found = [(f.row, f.field, f.code, f.message.split(": ", 1)[1] if f.field == "shipping" else "")
             for f in report.log if f.row]
    assert found == [
        (3, "shipping", "item.shipping_invalid", "the group for DE has no price, so the channel cannot tell what "
         "shipping costs (Google disapproves the item where a shipping cost is required); write 0.00 and the "
         "currency for free shipping."),
        (4, "shipping", "item.shipping_invalid", "'AUT' is not an ISO 3166-1 country code such as US, DE or GB."),
        (5, "shipping", "item.shipping_invalid", "the price '4,90' has a decimal comma, which starts a new shipping "
         "group; write it with a dot, then its currency (such as '4.90 EUR')."),
        (5, "ships_from_country", "item.country_invalid", ""),
    ]


def test_html_written_straight_into_the_xml_is_a_finding_and_its_words_stay_apart(tmp_path: Path) -> None:
    report = check_feed(FEEDS / "google_html_export.xml", "google")
    assert [(f.code, f.field, f.value) for f in report.log] == [("xml.unescaped_html", "description", "1")]
    done = run("check", str(FEEDS / "google_html_export.xml"), "--channel", "google", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    published = (tmp_path / "catalog.csv").read_text(encoding="utf-8")
    assert "Warm without bulk\nSoft merino that breathes on long hikes.\n100% merino\nFlatlock seams\nMachine wash\n" \
           "cold." in published
    assert "<p>Cushioned wool socks.</p><p>Two pairs.</p>" in published  # CDATA and escaped HTML: as written
    assert "<p>Rib-knit cap in recycled wool.</p>" in published


EXAMPLES = [attribute for attribute in GOOGLE.attributes.values() if attribute.valid]


@pytest.mark.parametrize("attribute", EXAMPLES, ids=[a.name for a in EXAMPLES])
def test_the_registers_valid_example_passes_and_its_invalid_example_fails(tmp_path: Path, attribute) -> None:
    report = check_feed(_tsv(tmp_path, [{attribute.name: attribute.valid}, {attribute.name: attribute.invalid}]),
                        "google")
    on_it = {(f.row, f.field) for f in report.log if f.field == attribute.name and f.row}
    assert on_it == {(3, attribute.name)}, [f.message for f in report.log]


def test_every_attribute_checked_on_its_own_has_examples_in_the_register() -> None:
    schema = GOOGLE.schema(currency=None, now="2026-11-20T12:00:00+00:00")
    on_their_own = {name for name, column in schema.columns.items() if column.checks}
    assert on_their_own - {a.name for a in EXAMPLES} == set()


def test_hostile_values_in_every_checked_attribute_give_findings_not_a_crash(tmp_path: Path) -> None:
    hostile = ["9" * 5000, "²³", "NaN", "-Infinity", "::::::", ",,,", "🛒" * 300, ">" * 2000, "US:" * 2000]
    rows = [{a.name: value for a in EXAMPLES if a.name != "id"} for value in hostile]
    report = check_feed(_tsv(tmp_path, rows), "google", options=ChannelOptions(countries=("US",)))
    assert not report.fatal and report.items_total == len(hostile)
    assert report.items_with_errors == len(hostile)
