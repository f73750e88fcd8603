"""Meta (Facebook and Instagram) commerce catalog rules.

Source: Meta's catalog field reference and best practices (channel-spec §3).
Meta's title limit is stated as 150 (recommended) or 200; 200 is the hard,
configurable limit and 150 a warning.  Descriptions must be plain text.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.rules.channels import Channel, SchemaOptions

from ._common import CONDITIONS, GENDERS, enum, field, gtin, ident, price, sale, text, url

LIMITS = {"id": 100, "title": 200, "description": 9_999, "brand": 100, "item_group_id": 100}
AVAILABILITY = ["in stock", "out of stock", "preorder", "available for order", "discontinued", "pending",
                "mark_as_sold"]
AGE_GROUPS = ["adult", "all ages", "infant", "kids", "newborn", "teen", "toddler"]


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
            "mpn": field(*text(100)),
            "item_group_id": field(Check.max_length(limit=L["item_group_id"]), Check.id_chars()),
            "age_group": field(*enum(AGE_GROUPS)),
            "gender": field(*enum(GENDERS)),
        },
        checks=[
            Check.identifiers(field="brand", mode="any"),
            Check.sale_below_price(field="sale_price"),
            Check.description_not_title(field="description"),
        ],
    )


CHANNEL = Channel(name="meta", title="Meta", build=build, limits=LIMITS)
