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


def text(limit: int, *extra: Check) -> list[Check]:
    return [Check.max_length(limit=limit), Check.no_control_chars(), Check.no_placeholder(), *extra]


def url(*extra: Check) -> list[Check]:
    return [Check.http_url(), Check.url_ascii(), Check.max_length(limit=URL_MAX), *extra]


def price(options: SchemaOptions) -> list[Check]:
    checks = [Check.price_format(), Check.currency_code(), Check.currency_decimals()]
    if options.currency:
        checks.append(Check.catalog_currency(currency=options.currency))
    return checks


def enum(allowed: list[str], alternatives: dict[str, str] | None = None) -> list[Check]:
    alts = alternatives or {}
    return [Check.one_of(allowed=allowed, alternatives=alts), Check.canonical_spelling(allowed=allowed, alternatives=alts)]


def gtin() -> list[Check]:
    return [Check.gtin_format(), Check.gtin_check_digit(), Check.gtin_prefix()]


def ident(limit: int) -> list[Check]:
    return [Check.required(), Check.max_length(limit=limit), Check.id_chars(), Check.id_not_scientific()]


def sale(options: SchemaOptions) -> dict[str, Column]:
    return {
        "sale_price": field(*price(options)),
        "sale_price_effective_date": field(Check.date_interval(), Check.not_expired(now=options.now)),
    }
