"""Google Merchant Center product data rules.

Source: the Merchant Center product data specification (channel-spec §2):
length limits, enumerations, identifiers (GTIN / brand + MPN /
identifier_exists), availability_date for preorder and backorder.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.rules.channels import Channel, SchemaOptions

from ._common import AGE_GROUPS, CONDITIONS, GENDERS, enum, field, gtin, ident, price, sale, text, url

LIMITS = {
    "id": 50, "title": 150, "description": 5_000, "brand": 70, "mpn": 70, "item_group_id": 50,
    "color": 100, "size": 100, "material": 200, "pattern": 100, "product_type": 750, "custom_label": 100,
}
AVAILABILITY = ["in_stock", "out_of_stock", "preorder", "backorder"]


# Apparel: what Google requires of Apparel & Accessories (166), and of Clothing (1604) and Shoes (187), in free
# listings everywhere and in Shopping ads in these countries (answer 6324463, 6324487, 6324479, 6324492).
APPAREL_COUNTRIES = ("BR", "DE", "FR", "GB", "JP", "US")
APPAREL, CLOTHING, SHOES = 166, 1604, 187
# Accessories Google exempts from age_group and gender (cufflinks need a gender).
NO_AGE_GROUP = [4179, 180, 193, 1893, 5385, 1856, 2427, 5123, 175, 5841, 6277, 6460, 6170, 6870, 7471, 5207, 5114]
NO_GENDER = [c for c in NO_AGE_GROUP if c != 193]


def apparel(countries: tuple[str, ...]) -> list[Check]:
    """The apparel attributes, an error where the catalog is advertised in a country that requires them."""
    targeted = [c for c in countries if c in APPAREL_COUNTRIES]
    everywhere = ", ".join(APPAREL_COUNTRIES)
    if targeted:
        severity, consequence = "error", (f"Google disapproves the item in free listings, and in Shopping ads in "
                                          f"{', '.join(targeted)}.")
    elif countries:
        severity, consequence = "warning", (f"Google keeps the item out of free listings (Shopping ads require it "
                                            f"only in {everywhere}).")
    else:
        severity, consequence = "warning", (f"Google disapproves the item in Shopping ads in {everywhere}, and in "
                                            "free listings everywhere; say where the catalog is advertised "
                                            "(--countries) to see it as an error there.")

    def required(name: str, family: str, within: list[int], exempt: list[int]) -> Check:
        return Check.required_in_category(field=name, family=family, within=within, exempt=exempt,
                                          severity=severity, consequence=consequence)

    return [
        required("color", "Apparel & Accessories", [APPAREL], []),
        required("gender", "Apparel & Accessories", [APPAREL], NO_GENDER),
        required("age_group", "Apparel & Accessories", [APPAREL], NO_AGE_GROUP),
        required("size", "Clothing and Shoes", [CLOTHING, SHOES], []),
    ]


def build(o: SchemaOptions) -> pa.DataFrameSchema:
    L = o.limits
    labels = {f"custom_label_{i}": field(*text(L["custom_label"])) for i in range(5)}
    return pa.DataFrameSchema(
        name="google",
        columns={
            "id": field(*ident(L["id"])),
            "title": field(Check.required(), *text(L["title"])),
            "description": field(Check.required(), *text(L["description"])),
            "link": field(Check.required(), *url()),
            "image_link": field(Check.required(), *url()),
            "additional_image_link": field(Check.max_values(limit=10)),
            "availability": field(Check.required(), *enum(AVAILABILITY)),
            "availability_date": field(Check.iso_date()),
            "expiration_date": field(Check.iso_date()),
            "condition": field(*enum(CONDITIONS)),
            "price": field(Check.required(), *price(o)),
            **sale(o),
            "brand": field(*text(L["brand"])),
            "gtin": field(*gtin()),
            "mpn": field(*text(L["mpn"])),
            "identifier_exists": field(*enum(["yes", "no"], {"true": "yes", "false": "no"})),
            "item_group_id": field(Check.max_length(limit=L["item_group_id"]), Check.id_chars()),
            "age_group": field(*enum(AGE_GROUPS)),
            "gender": field(*enum(GENDERS)),
            "color": field(*text(L["color"])),
            "size": field(*text(L["size"])),
            "material": field(*text(L["material"])),
            "pattern": field(*text(L["pattern"])),
            "product_type": field(*text(L["product_type"])),
            "google_product_category": field(Check.google_category()),
            **labels,
        },
        checks=[
            Check.required_when(field="availability_date", when="availability", values=["preorder", "backorder"]),
            Check.identifiers(field="gtin", mode="gtin_or_brand_mpn"),
            Check.identifier_exists_consistent(field="identifier_exists"),
            Check.sale_below_price(field="sale_price"),
            *apparel(o.countries),
        ],
    )


CHANNEL = Channel(name="google", title="Google Merchant Center", build=build, limits=LIMITS)
