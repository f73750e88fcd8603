"""Rules on where and how items ship: country codes, and Google's grouped ``shipping`` and ``tax`` attributes.

A text feed writes a group as its sub-attributes separated by ``:`` (``US:CA:Express:16.00 USD``), several
groups separated by ``,``; the XML reader writes a ``<g:shipping>`` element the same way, so one rule reads
both.  Sub-attributes that may be empty stay as empty slots: ``US::Standard:4.95 USD``.
"""

from __future__ import annotations

import re

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.countries import country_code
from feedcheck.rules.prices import PRICE_RE, explain_price
from feedcheck.rules.registry import rule
from feedcheck.rules.series import each_distinct

_GOOGLE = "https://support.google.com/merchants/answer/"

declare({
    "item.country_invalid": code(
        "Not an ISO 3166-1 country code",
        "error",
        "'{field}' is '{value}': {hint} is not a two-letter ISO 3166-1 country code such as US, DE or GB.",
        sources={"google": _GOOGLE + "9837936"},
    ),
    "item.shipping_invalid": code(
        "Shipping group the channel cannot read",
        "error",
        "shipping '{value}': {hint}",
        on={"meta": "warning"},  # Meta's template also separates groups with ';', which this rule does not read
        sources={"google": _GOOGLE + "6324484",
                 "meta": "https://developers.facebook.com/docs/marketing-api/catalog/reference"},
    ),
    "item.tax_invalid": code(
        "Tax group Google cannot read",
        "warning",
        "tax '{value}': {hint}",
        sources={"google": _GOOGLE + "6324454"},
    ),
})


def _first_bad_country(value: str) -> str | None:
    return next((part.strip() for part in value.split(",") if country_code(part) is None), None)


@rule("item.country_invalid", hint=lambda v, p: {"hint": f"'{_first_bad_country(v)}'"})
def country_codes(series: pd.Series) -> pd.Series:
    """Each of the comma-separated values is a country code."""
    return each_distinct(series, lambda value: _first_bad_country(value) is None)


def shipping_problem(value: str, currency: str = "USD") -> str:
    """What makes a ``shipping`` value unreadable, or ``""``: each group is country, region (or postal code),
    service and price (Google's and Meta's form), and the channel needs the country and the price.  Examples are in ``currency``,
    the feed's."""
    comma = re.search(r":([0-9]+,[0-9]{1,2})\b", value)
    if comma:
        return (f"the price '{comma[1]}' has a decimal comma, which starts a new shipping group; write it with a "
                f"dot, then its currency (such as '{comma[1].replace(',', '.')} {currency}').")
    for group in value.split(","):
        parts = group.strip().split(":")
        if not 4 <= len(parts) <= 8:  # the last four, when there, are handling and transit days
            return (f"the group '{group.strip()}' has {len(parts)} part(s); write country:region:service:price "
                    "(leave a part empty, not out: 'US::Standard:4.95 USD').")
        country, _, _, price = (part.strip() for part in parts[:4])
        if not country:
            return f"the group '{group.strip()}' has no country; write an ISO 3166-1 code such as US first."
        if country_code(country) is None:
            return f"'{country}' is not an ISO 3166-1 country code such as US, DE or GB."
        if not price:
            return (f"the group for {country} has no price, so the channel cannot tell what shipping costs (Google "
                    "disapproves the item where a shipping cost is required); write 0.00 and the currency for "
                    "free shipping.")
        if not re.fullmatch(PRICE_RE, price):
            return f"its price {explain_price(price, currency)}"
    return ""


@rule("item.shipping_invalid", hint=lambda v, p: {"hint": shipping_problem(v, p.get("_currency") or "USD")})
def shipping_groups(series: pd.Series) -> pd.Series:
    return each_distinct(series, lambda value: not shipping_problem(value))


def tax_problem(value: str) -> str:
    """What makes a ``tax`` value unreadable to Google, or ``""``: country, region (or postal code), rate and
    whether shipping is taxed; the rate is a percentage and is required."""
    for group in value.split(","):
        parts = [part.strip() for part in group.strip().split(":")]
        if len(parts) != 4:
            return f"the group '{group.strip()}' has {len(parts)} part(s); write country:region:rate:tax_ship."
        country, _, rate, tax_ship = parts
        if country and country_code(country) is None:
            return f"'{country}' is not an ISO 3166-1 country code."
        if not _is_rate(rate):
            return f"the rate '{rate}' is not a percentage such as 8.75."
        if tax_ship and tax_ship.lower() not in ("yes", "no", "true", "false"):
            return f"tax_ship '{tax_ship}' is not yes or no."
    return ""


def _is_rate(text: str) -> bool:
    try:
        return 0 <= float(text) <= 100
    except ValueError:
        return False


@rule("item.tax_invalid", hint=lambda v, p: {"hint": tax_problem(v)})
def tax_groups(series: pd.Series) -> pd.Series:
    return each_distinct(series, lambda value: not tax_problem(value))
