"""Canonical attribute names, and how each channel and format spells them.

Readers hand the validator columns named canonically (Google's names, since
TikTok and Meta reuse them except for TikTok's ``sku_id``), whatever the feed
said: ``g:price``, ``Price`` and ``PRICE`` all become ``price``.  Publishing
(for TikTok) renames ``id`` back to ``sku_id``.
"""

from __future__ import annotations

import re

from feedcheck.rules.attributes import register

GOOGLE_NS = "http://base.google.com/ns/1.0"
GOOGLE_CUSTOM_NS = "http://base.google.com/cns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"

ID = "id"

# The attributes some channel reads: every channel's register, by the canonical name (TikTok's sku_id is id).
KNOWN_FIELDS: frozenset[str] = frozenset(
    ID if name == "sku_id" else name for channel in ("google", "tiktok", "meta") for name in register(channel))

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

# Meta's nested values as CSV headers: video[0].url, product_tags[0], applink.ios_url.
JSON_PATH = re.compile(r"(?P<base>[a-z_]+)(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*")


def json_path_base(name: str) -> str | None:
    """The attribute a JSON-path header is part of, or ``None`` when ``name`` is not one.

    >>> json_path_base("video[0].url"), json_path_base("product_tags[3]"), json_path_base("color")
    ('video', 'product_tags', None)
    """
    match = JSON_PATH.fullmatch(name)
    return match["base"] if match and match["base"] != name else None


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
