"""Meta (Facebook and Instagram) commerce catalog rules.

Source: Meta's catalog field reference and best practices; every field, with its page, is in
``meta_attributes.tsv`` beside this file.
Meta's title limit is stated as 150 (recommended) or 200; 200 is the hard,
configurable limit and 150 a warning.  Descriptions must be plain text.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.rules.channels import Channel, SchemaOptions

from ._common import CONDITIONS, GENDERS, enum, field, gtin, ident, price, sale, text, url, weight

LIMITS = {"id": 100, "title": 200, "description": 9_999, "brand": 100, "item_group_id": 100, "color": 200,
          "size": 200, "material": 200, "pattern": 100, "product_type": 750, "mpn": 100}
AVAILABILITY = ["in stock", "out of stock", "preorder", "available for order", "discontinued", "pending",
                "mark_as_sold"]
AGE_GROUPS = ["adult", "all ages", "infant", "kids", "newborn", "teen", "toddler"]
CUSTOM_NUMBER_MAX = 4_294_967_295
# Variants of one item_group_id are told apart by these, so each variant fills every one its group uses.
VARIANT_FIELDS = ("color", "size", "pattern", "gender")


def build(o: SchemaOptions) -> pa.DataFrameSchema:
    L = o.limits
    return pa.DataFrameSchema(
        name="meta",
        columns={
            "id": field(*ident(L["id"])),
            "title": field(Check.required(), *text(L["title"], Check.recommended_length(limit=150))),
            "description": field(Check.required(), *text(L["description"], Check.no_html())),
            "availability": field(Check.required(), *enum(AVAILABILITY)),
            "condition": field(Check.required(), *enum(CONDITIONS)),
            "price": field(Check.required(), *price(o)),
            **sale(o),
            "link": field(Check.required(), *url()),
            "image_link": field(Check.required(), *url()),
            "additional_image_link": field(Check.max_values(limit=20)),
            "brand": field(*text(L["brand"])),
            "gtin": field(*gtin()),
            "mpn": field(*text(L["mpn"])),
            "item_group_id": field(Check.max_length(limit=L["item_group_id"]), Check.id_chars()),
            "age_group": field(*enum(AGE_GROUPS)),
            "gender": field(*enum(GENDERS)),
            "color": field(*text(L["color"])),
            "size": field(*text(L["size"])),
            "material": field(*text(L["material"])),
            "pattern": field(*text(L["pattern"])),
            "product_type": field(*text(L["product_type"])),
            "google_product_category": field(Check.google_category(), Check.category_depth(minimum=2)),
            "status": field(*enum(["active", "archived"])),
            "quantity_to_sell_on_facebook": field(Check.whole_number(minimum=0)),
            "inventory": field(Check.whole_number(minimum=0)),
            "shipping": field(Check.shipping_groups()),
            "shipping_weight": field(*weight()),
            "rich_text_description": field(Check.max_length(limit=L["description"]), Check.no_control_chars(),
                                           Check.no_placeholder()),
            "mobile_link": field(*url()),
            "offer_disclaimer_url": field(*url()),
            "expiration_date": field(Check.iso_date()),
            "vendor_id": field(*text(100, shown=False)),
            "origin_country": field(Check.country_codes()),
            "wa_compliance_category": field(Check.one_of(allowed=["COUNTRY_ORIGIN_EXEMPT", "DEFAULT"],
                                                         alternatives={})),
            **{f"custom_label_{i}": field(*text(100, shown=False)) for i in range(5)},
            **{f"custom_number_{i}": field(Check.whole_number(minimum=0, maximum=CUSTOM_NUMBER_MAX)) for i in range(5)},
        },
        checks=[
            Check.identifiers(field="brand", mode="any"),
            Check.sale_below_price(field="sale_price"),
            Check.description_not_title(field="description"),
        ],
    )


CHANNEL = Channel(name="meta", title="Meta", build=build, limits=LIMITS, json_paths=True,
                  variant_fields=VARIANT_FIELDS)
