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
            **labels,
        },
        checks=[
            Check.required_when(field="availability_date", when="availability", values=["preorder", "backorder"]),
            Check.identifiers(field="gtin", mode="gtin_or_brand_mpn"),
            Check.identifier_exists_consistent(field="identifier_exists"),
            Check.sale_below_price(field="sale_price"),
        ],
    )


CHANNEL = Channel(name="google", title="Google Merchant Center", build=build, limits=LIMITS)
