"""Google Merchant Center product data rules.

Source: the Merchant Center product data specification; every attribute of it,
with its help page, is in ``google_attributes.tsv`` beside this file.  Severity
is Google's consequence: an error where Google disapproves the item, a warning
(``IGNORED``) where it ignores the attribute, and a requirement that holds only
in some countries depends on the countries the catalog is advertised in.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check

from feedcheck.rules.channels import Channel, SchemaOptions

from ._common import AGE_GROUPS, CONDITIONS, GENDERS, enum, field, gtin, ident, price, sale, text, url, weight

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


# What Google ignores when it is wrong (rather than disapproving the item) is a warning.
IGNORED = "warning"
YES_NO = (["yes", "no"], {"true": "yes", "false": "no"})
DESTINATIONS = ["Shopping_ads", "Display_ads", "Local_inventory_ads", "Free_listings", "Free_local_listings",
                "Cloud_retail", "Local_cloud_retail", "YouTube_affiliate", "YouTube_shopping_checkout",
                "YouTube_merchandise"]
ENERGY_CLASSES = ["A+++", "A++", "A+", "A", "B", "C", "D", "E", "F", "G"]
SIZE_TYPES = ["regular", "petite", "maternity", "big", "tall", "plus"]
SIZE_SYSTEMS = ["AU", "BR", "CN", "DE", "EU", "FR", "IT", "JP", "MEX", "UK", "US"]
UNITS = ["oz", "lb", "mg", "g", "kg", "floz", "pt", "qt", "gal", "ml", "cl", "l", "cbm", "in", "ft", "yd", "cm", "m",
         "sqft", "sqm", "ct"]
# Image types Google does not take; a link without an extension, or to a script that serves the image, passes.
NOT_IMAGES = ["svg", "pdf", "heic", "heif", "avif", "ico", "psd", "eps", "ai", "raw", "mp4", "mov", "webm", "txt",
              "zip"]
PROMOTIONAL = ["free shipping", "free delivery", "% off", "best price", "lowest price", "cheapest", "buy now",
               "limited offer", "order now", "sale ends"]


def build(o: SchemaOptions) -> pa.DataFrameSchema:
    L = o.limits
    labels = {f"custom_label_{i}": field(*text(L["custom_label"], shown=False)) for i in range(5)}
    image = Check.image_type(rejected=NOT_IMAGES, accepted="JPEG, WebP, PNG, GIF, BMP and TIFF")
    return pa.DataFrameSchema(
        name="google",
        columns={
            "id": field(*ident(L["id"])),
            "title": field(Check.required(), *text(L["title"], Check.not_all_caps(), Check.no_gimmicks(),
                                                     Check.no_promotion(phrases=PROMOTIONAL))),
            "structured_title": field(Check.structured_text(limit=L["title"], severity=IGNORED)),
            "description": field(Check.required(), *text(L["description"])),
            "structured_description": field(Check.structured_text(limit=L["description"], severity=IGNORED)),
            "link": field(Check.required(), *url()),
            "mobile_link": field(*url()),
            "canonical_link": field(*url()),
            "image_link": field(Check.required(), *url(image)),
            "additional_image_link": field(Check.max_values(limit=10)),
            "lifestyle_image_link": field(*url(image, severity=IGNORED)),
            "virtual_model_link": field(*url()),
            "availability": field(Check.required(), *enum(AVAILABILITY)),
            "availability_date": field(Check.iso_date()),
            "expiration_date": field(Check.iso_date()),
            "cost_of_goods_sold": field(*price(o, severity=IGNORED)),
            "price": field(Check.required(), *price(o)),
            **sale(o),
            "auto_pricing_min_price": field(*price(o)),
            "maximum_retail_price": field(*price(o, severity=IGNORED)),
            "installment": field(Check.group_form(parts=["months:whole", "amount:price", "downpayment:price?",
                                                         "credit_type:finance|lease?"])),
            "subscription_cost": field(Check.group_form(parts=["period:month|year|week", "period_length:whole",
                                                               "amount:price"])),
            "unit_pricing_measure": field(Check.measure(units=UNITS, low=0.001, high=1e9, severity=IGNORED)),
            "unit_pricing_base_measure": field(Check.measure(units=UNITS, low=1, high=100, steps=[1, 2, 4, 8, 10, 100],
                                                             also=["75cl", "750ml", "50kg", "1000kg"],
                                                             severity=IGNORED)),
            "condition": field(*enum(CONDITIONS)),
            "adult": field(*enum(*YES_NO)),
            "is_bundle": field(*enum(*YES_NO, severity=IGNORED)),
            "multipack": field(Check.whole_number(minimum=2)),
            "brand": field(*text(L["brand"])),
            "gtin": field(*gtin()),
            "mpn": field(*text(L["mpn"])),
            "identifier_exists": field(*enum(*YES_NO)),
            "energy_efficiency_class": field(*enum(ENERGY_CLASSES)),
            "min_energy_efficiency_class": field(*enum(ENERGY_CLASSES)),
            "max_energy_efficiency_class": field(*enum(ENERGY_CLASSES)),
            "item_group_id": field(Check.max_length(limit=L["item_group_id"]), Check.id_chars()),
            "item_group_title": field(*text(150, severity=IGNORED)),
            "age_group": field(*enum(AGE_GROUPS)),
            "gender": field(*enum(GENDERS)),
            "color": field(*text(L["color"])),
            "size": field(*text(L["size"])),
            "size_type": field(Check.each_one_of(allowed=SIZE_TYPES, alternatives={}, severity=IGNORED),
                               Check.max_values(limit=2)),
            "size_system": field(*enum(SIZE_SYSTEMS, {"GB": "UK", "MX": "MEX"}, severity=IGNORED)),
            "material": field(*text(L["material"])),
            "pattern": field(*text(L["pattern"])),
            **{name: field(Check.measure(units=["cm", "in"], low=1, high=3000, severity=IGNORED))
               for name in ("product_length", "product_width", "product_height")},
            "product_weight": field(*weight(severity=IGNORED)),
            "product_highlight": field(Check.max_values(limit=100)),
            "product_detail": field(Check.group_form(parts=["section_name:text?", "attribute_name:text",
                                                            "attribute_value:text<=1000"])),
            "certification": field(Check.group_form(parts=["certification_authority:text", "certification_name:text",
                                                           "certification_code:text"], severity=IGNORED)),
            "variant_option": field(Check.group_form(parts=["name:text<=250", "value:text<=250"], severity=IGNORED),
                                    Check.max_values(limit=30)),
            "consumer_notice": field(Check.group_form(parts=["consumer_notice_type:legal_disclaimer|safety_warning|"
                                                             "prop_65", "consumer_notice_message:text<=1000"],
                                                      severity=IGNORED)),
            "product_type": field(*text(L["product_type"])),
            "google_product_category": field(Check.google_category()),
            "short_title": field(*text(150)),
            "promotion_id": field(Check.max_values(limit=10)),
            "ads_redirect": field(*url()),
            "display_ads_id": field(*text(50, severity=IGNORED, shown=False)),
            "display_ads_similar_id": field(Check.max_values(limit=10)),
            "display_ads_link": field(*url(severity=IGNORED)),
            "display_ads_title": field(*text(150, severity=IGNORED)),
            "display_ads_value": field(Check.decimal_number()),
            "external_seller_id": field(Check.max_length(limit=50), Check.id_chars()),
            "disclosure_date": field(Check.iso_date()),
            **labels,
            "excluded_destination": field(Check.each_one_of(allowed=DESTINATIONS, alternatives={}, severity=IGNORED)),
            "included_destination": field(Check.each_one_of(allowed=DESTINATIONS, alternatives={}, severity=IGNORED)),
            "shopping_ads_excluded_country": field(Check.country_codes(severity=IGNORED), Check.max_values(limit=100)),
            "pause": field(*enum(["ads", "all"])),
            "shipping": field(Check.shipping_groups()),
            "shipping_weight": field(*weight()),
            **{name: field(Check.measure(units=["cm", "in"], low=1, high=400))
               for name in ("shipping_length", "shipping_width", "shipping_height")},
            "ships_from_country": field(Check.country_codes()),
            "free_shipping_threshold": field(Check.group_form(parts=["country:country", "price_threshold:price"],
                                                              severity=IGNORED)),
            "min_handling_time": field(Check.whole_number(minimum=0)),
            "max_handling_time": field(Check.whole_number(minimum=0)),
            **{name: field(Check.group_form(parts=["country:country?", "business_days:days"], severity=IGNORED))
               for name in ("shipping_handling_business_days", "shipping_transit_business_days")},
            "transit_time_label": field(*text(100, shown=False)),
            "shipping_label": field(*text(100, shown=False)),
            "return_policy_label": field(*text(100, shown=False)),
            "tax": field(Check.tax_groups()),
            "tax_category": field(*text(100, shown=False)),
        },
        checks=[
            Check.required_when(field="availability_date", when="availability", values=["preorder", "backorder"]),
            Check.identifiers(field="gtin", mode="gtin_or_brand_mpn"),
            Check.identifier_exists_consistent(field="identifier_exists"),
            Check.gtin_with_brand(field="gtin"),
            Check.sale_below_price(field="sale_price"),
            Check.description_not_title(field="description"),
            Check.handling_time_order(field="max_handling_time"),
            *apparel(o.countries),
        ],
    )


CHANNEL = Channel(name="google", title="Google Merchant Center", build=build, limits=LIMITS)
