"""Rule groups that several channels share, so each schema reads as a list of fields."""

from __future__ import annotations

from pandera.pandas import Check, Column

import feedcheck.rules.checks  # noqa: F401  (registers the checks named below)
from feedcheck.rules.channels import SchemaOptions

URL_MAX = 2000
AGE_GROUPS = ["newborn", "infant", "toddler", "kids", "adult"]
GENDERS = ["male", "female", "unisex"]
CONDITIONS = ["new", "refurbished", "used"]


def field(*checks: Check) -> Column:
    """A feed column: always a string, empty when absent, checked by ``checks``."""
    return Column(None, checks=list(checks), nullable=False, required=True)


# Each group takes ``severity=`` for an attribute the channel ignores when it is wrong (a warning), where a
# wrong value of most attributes gets the item rejected (each code's severity on the channel).

def text(limit: int | None, *extra: Check, severity: str | None = None, shown: bool = True) -> list[Check]:
    """A text attribute of at most ``limit`` characters (``None``: the channel documents none); ``shown`` to
    shoppers (a custom label is not, so "n/a" there is the merchant's own)."""
    length = [Check.max_length(limit=limit, severity=severity)] if limit is not None else []
    placeholder = [Check.no_placeholder_value(severity=severity)] if shown else []
    return [*length, Check.no_control_chars(severity=severity), Check.no_placeholder(severity=severity),
            *placeholder, *extra]


WEIGHT_UNITS = ["lb", "oz", "g", "kg"]


def weight(units: list[str] = WEIGHT_UNITS, severity: str | None = None) -> list[Check]:
    """A weight: a number and one of ``units`` (in the order the channel lists them), up to 2,000."""
    return [Check.measure(units=units, low=0, high=2000, severity=severity)]


def url(*extra: Check, severity: str | None = None) -> list[Check]:
    return [Check.http_url(severity=severity), Check.url_ascii(), Check.max_length(limit=URL_MAX, severity=severity),
            *extra]


def price(options: SchemaOptions, severity: str | None = None) -> list[Check]:
    checks = [Check.price_format(severity=severity), Check.currency_code(severity=severity),
              Check.currency_decimals()]
    if options.currency:
        checks.append(Check.catalog_currency(currency=options.currency, severity=severity))
    return checks


def enum(allowed: list[str], alternatives: dict[str, str] | None = None, severity: str | None = None) -> list[Check]:
    alts = alternatives or {}
    return [Check.one_of(allowed=allowed, alternatives=alts, severity=severity),
            Check.canonical_spelling(allowed=allowed, alternatives=alts)]


def gtin() -> list[Check]:
    return [Check.gtin_format(), Check.gtin_check_digit(), Check.gtin_prefix()]


def ident(limit: int) -> list[Check]:
    return [Check.required(), Check.max_length(limit=limit), Check.id_chars(), Check.id_not_scientific()]


def sale(options: SchemaOptions) -> dict[str, Column]:
    return {
        "sale_price": field(*price(options)),
        "sale_price_effective_date": field(Check.date_interval(), Check.not_expired(now=options.now)),
    }
