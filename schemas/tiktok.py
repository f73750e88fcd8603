"""TikTok catalog (catalog / Video Shopping Ads) rules.

Source: TikTok's catalog product parameters and product-issue list, and its
CSV template; every field, with its page, is in ``tiktok_attributes.tsv``
beside this file.  TikTok publishes no official length limits; the template's
are the defaults and can be overridden per run.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.rules.channels import Channel, SchemaOptions

from ._common import AGE_GROUPS, CONDITIONS, GENDERS, enum, field, gtin, ident, price, sale, text, url, weight

LIMITS = {
    "id": 100, "title": 500, "description": 10_000, "brand": 150, "item_group_id": 100,
    "color": 100, "material": 200, "pattern": 100, "product_type": 750,
}
AVAILABILITY = ["in stock", "available for order", "preorder", "out of stock", "discontinued"]
PROMOTIONAL = ["free shipping", "free delivery", "high quality", "wholesale", "best price", "lowest price",
               "cheapest", "buy now", "limited offer", "% off"]
IMAGE_EXTENSIONS = ["jpg", "jpeg", "png"]
WEIGHT_UNITS = ["lb", "oz", "kg", "g"]  # as TikTok lists them


def build(o: SchemaOptions) -> pa.DataFrameSchema:
    L = o.limits
    return pa.DataFrameSchema(
        name="tiktok",
        columns={
            "id": field(*ident(L["id"])),
            "title": field(Check.required(), *text(L["title"], Check.no_emoji(), Check.no_promotion(phrases=PROMOTIONAL))),
            "description": field(Check.required(), *text(L["description"])),
            "availability": field(Check.required(), *enum(AVAILABILITY, {"backorder": "available for order",
                                                                          "available": "available for order"})),
            "condition": field(Check.required(), *enum(CONDITIONS)),
            "price": field(Check.required(), *price(o)),
            **sale(o),
            "link": field(Check.required(), *url()),
            "image_link": field(Check.required(), *url(Check.image_extension(extensions=IMAGE_EXTENSIONS))),
            "additional_image_link": field(Check.max_values(limit=10)),
            "video_link": field(*url()),
            "brand": field(Check.required(), *text(L["brand"])),
            "gtin": field(Check.recommended(reason="TikTok lists 'GTIN missing' as a suggestion"), *gtin()),
            "mpn": field(*text(70)),
            "item_group_id": field(Check.recommended(reason="variants are grouped and matched by it"),
                                   Check.max_length(limit=L["item_group_id"]), Check.id_chars()),
            "google_product_category": field(Check.recommended(reason="it improves ad targeting"),
                                             Check.google_category()),
            "product_type": field(Check.recommended(reason="it improves ad targeting"), *text(L["product_type"])),
            "age_group": field(*enum(AGE_GROUPS)),
            "gender": field(*enum(GENDERS)),
            "color": field(*text(L["color"])),
            "material": field(*text(L["material"])),
            "pattern": field(*text(L["pattern"])),
            # TikTok documents no limit for these; what it rejects anywhere (control characters) still holds.
            "size": field(*text(None)),
            "shipping_weight": field(*weight(WEIGHT_UNITS)),
            **{f"{device}_app_store_id": field(Check.whole_number(minimum=1)) for device in ("ios", "iPhone", "iPad")},
            **{f"custom_label_{i}": field(*text(None, shown=False)) for i in range(5)},
        },
        checks=[Check.sale_below_price(field="sale_price"), Check.description_not_title(field="description")],
    )


CHANNEL = Channel(name="tiktok", title="TikTok", build=build, limits=LIMITS, catalog_currency=True)
