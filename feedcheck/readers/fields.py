"""Canonical attribute names, and how each channel and format spells them.

Readers hand the validator columns named canonically (Google's names, since
TikTok and Meta reuse them except for TikTok's ``sku_id``), whatever the feed
said: ``g:price``, ``Price`` and ``PRICE`` all become ``price``.  Publishing
(for TikTok) renames ``id`` back to ``sku_id``.
"""

from __future__ import annotations

from feedcheck.rules.attributes import register

GOOGLE_NS = "http://base.google.com/ns/1.0"
GOOGLE_CUSTOM_NS = "http://base.google.com/cns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"

ID = "id"

# The attributes some channel reads: Google's whole register, and those TikTok and Meta add.
KNOWN_FIELDS: frozenset[str] = frozenset(register("google")) | frozenset(
    """
    id title description link mobile_link image_link additional_image_link video_link
    availability availability_date expiration_date condition price sale_price
    sale_price_effective_date cost_of_goods_sold brand gtin mpn identifier_exists item_group_id
    google_product_category fb_product_category product_type age_group gender color size size_type
    size_system material pattern shipping shipping_weight shipping_label tax
    custom_label_0 custom_label_1 custom_label_2 custom_label_3 custom_label_4
    adult ads_redirect multipack is_bundle unit_pricing_measure unit_pricing_base_measure
    excluded_destination included_destination short_title inventory quantity_to_sell_on_facebook
    ios_url ios_app_store_id ios_app_name iPhone_url iPhone_app_store_id iPhone_app_name
    iPad_url iPad_app_store_id iPad_app_name android_url android_package android_app_name
    status rich_text_description
    """.split()
)

# TikTok's template capitalises these; canonical output keeps its casing.
_CASED = {name.lower(): name for name in KNOWN_FIELDS if name != name.lower()}

ALIASES: dict[str, str] = {
    "sku_id": ID,
    "sku": ID,
    "item_id": ID,
    "retailer_id": ID,
    "image_url": "image_link",
    "url": "link",
    "product_link": "link",
    "additional_image_links": "additional_image_link",
    "item group id": "item_group_id",
}

def canonical(name: str) -> str:
    """The canonical name for a header or element name.

    >>> canonical("g:Price")
    'price'
    >>> canonical(" SKU_ID ")
    'id'
    >>> canonical("iphone_url")
    'iPhone_url'
    >>> canonical("video[0].url")
    'video[0].url'
    """
    key = name.strip().lstrip("\ufeff").strip()
    if key.lower().startswith("g:"):
        key = key[2:]
    lowered = key.lower()
    if lowered in _CASED:
        return _CASED[lowered]
    if lowered in ALIASES:
        return ALIASES[lowered]
    return lowered.replace(" ", "_") if lowered.replace(" ", "_") in KNOWN_FIELDS else lowered
